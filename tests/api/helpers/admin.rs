//! Administration as a test drives it: a superadmin made the way `latchkey admin create` makes
//! one, accounts an administrator creates, and the admin operations of `docs/operations`.

use latchkey::accounts::admin::bootstrap::ensure_superadmin;
use latchkey::accounts::domain::{DisplayName, Email, PasswordPolicy};
use latchkey::audit::AuditLog;
use latchkey::auth::password::PasswordHasher;
use latchkey::webhooks::WebhookQueue;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::PASSWORD;
use super::app::TestApp;
use super::assertions::assert_no_errors;
use super::client::{Account, bearer};
use super::operations::{
    CREATE_ORGANIZATION, CREATE_ROLE, CREATE_USER, DELETE_ROLE, DELETE_USER, ORGANIZATIONS,
    Operation, REVOKE_USER_SESSIONS, ROLES, UPDATE_USER, USER, USERS,
};

/// The superadmin `TestApp::superadmin` signs in as (password `PASSWORD`).
pub const SUPERADMIN_EMAIL: &str = "root@example.com";

/// Most `createUser` requests `TestApp::create_users` has in flight at once.
const SEEDING_WAVE: usize = 16;

/// The id of the organization every fresh install has, named `default`.
pub fn default_organization_id() -> String {
    migration::DEFAULT_ORGANIZATION_ID.to_string()
}

impl TestApp {
    /// Makes `root@example.com` (password `PASSWORD`) a superadmin of the `default`
    /// organization, straight in the database as `latchkey admin create` does, and signs it in.
    /// Calling it again signs in once more.
    pub async fn superadmin(&self) -> Account {
        let db = self.db().await;
        let hasher =
            PasswordHasher::new(PasswordHasher::default_params(), 1).expect("a password hasher");
        ensure_superadmin(
            &db,
            &AuditLog::new(WebhookQueue::disabled()),
            &hasher,
            PasswordPolicy::default(),
            Email::parse(SUPERADMIN_EMAIL).expect("a valid email"),
            Some(DisplayName::parse("Root").expect("a valid name")),
            || Ok(PASSWORD.to_owned()),
        )
        .await
        .expect("the superadmin is bootstrapped");
        db.close().await.ok();
        self.login(SUPERADMIN_EMAIL, PASSWORD).await
    }

    /// Sends an admin operation with `Authorization: Bearer <token>` and returns the body.
    pub async fn operation_as(
        &self,
        token: &str,
        operation: &Operation,
        variables: Value,
    ) -> Value {
        let authorization = bearer(token);
        self.operation(operation, &[("Authorization", &authorization)], variables)
            .await
    }

    /// `createUser` with this input (a `CreateUserInput` as JSON); returns the body.
    pub async fn create_user(&self, token: &str, input: Value) -> Value {
        self.operation_as(token, &CREATE_USER, json!({ "input": input }))
            .await
    }

    /// `createUser` once per input, at most 16 at a time, and returns the created users in the
    /// order of the inputs; panics on any error. For seeding many accounts quickly.
    pub async fn create_users(&self, token: &str, inputs: Vec<Value>) -> Vec<Value> {
        let mut created = Vec::with_capacity(inputs.len());
        for wave in inputs.chunks(SEEDING_WAVE) {
            let mut requests = JoinSet::new();
            for (index, input) in wave.iter().enumerate() {
                let request = self
                    .client
                    .post(self.url("/graphql"))
                    .header("Authorization", bearer(token))
                    .json(&CREATE_USER.request(json!({ "input": input })));
                requests.spawn(async move {
                    let body: Value = request
                        .send()
                        .await
                        .expect("the server answers")
                        .json()
                        .await
                        .expect("a JSON body");
                    (index, body)
                });
            }
            let mut answers = requests.join_all().await;
            answers.sort_by_key(|(index, _)| *index);
            for (_, body) in answers {
                assert_no_errors(&body);
                created.push(body["data"]["createUser"].clone());
            }
        }
        created
    }

    /// Creates an account with `input` and the password `PASSWORD`, and signs it in.
    pub async fn user_signed_in(&self, token: &str, input: Value) -> Account {
        let mut input = input;
        input["password"] = json!(PASSWORD);
        let body = self.create_user(token, input).await;
        assert_no_errors(&body);
        let email = body["data"]["createUser"]["email"]
            .as_str()
            .expect("createUser.email");
        self.login(email, PASSWORD).await
    }

    /// A plain `admin` (not a superadmin) of this organization, created by `superadmin_token`
    /// as `email` with the password `PASSWORD`, and signed in.
    pub async fn admin_of(
        &self,
        superadmin_token: &str,
        organization_id: &str,
        email: &str,
    ) -> Account {
        let input =
            json!({ "email": email, "roles": ["admin"], "organizationId": organization_id });
        self.user_signed_in(superadmin_token, input).await
    }

    /// `users` with these variables (`filter`, `first`, `after`); returns the body.
    pub async fn users(&self, token: &str, variables: Value) -> Value {
        self.operation_as(token, &USERS, variables).await
    }

    pub async fn user(&self, token: &str, id: &str) -> Value {
        self.operation_as(token, &USER, json!({ "id": id })).await
    }

    pub async fn update_user(&self, token: &str, id: &str, input: Value) -> Value {
        self.operation_as(token, &UPDATE_USER, json!({ "id": id, "input": input }))
            .await
    }

    pub async fn delete_user(&self, token: &str, id: &str) -> Value {
        self.operation_as(token, &DELETE_USER, json!({ "id": id }))
            .await
    }

    pub async fn revoke_user_sessions(&self, token: &str, id: &str) -> Value {
        self.operation_as(token, &REVOKE_USER_SESSIONS, json!({ "id": id }))
            .await
    }

    pub async fn roles(&self, token: &str) -> Value {
        self.operation_as(token, &ROLES, json!({})).await
    }

    pub async fn create_role(&self, token: &str, code: &str, name: &str) -> Value {
        let input = json!({ "code": code, "name": name });
        self.operation_as(token, &CREATE_ROLE, json!({ "input": input }))
            .await
    }

    pub async fn delete_role(&self, token: &str, code: &str) -> Value {
        self.operation_as(token, &DELETE_ROLE, json!({ "code": code }))
            .await
    }

    /// `organizations` with these variables (`first`, `after`); returns the body.
    pub async fn organizations(&self, token: &str, variables: Value) -> Value {
        self.operation_as(token, &ORGANIZATIONS, variables).await
    }

    pub async fn create_organization(&self, token: &str, name: &str) -> Value {
        self.operation_as(token, &CREATE_ORGANIZATION, json!({ "name": name }))
            .await
    }

    /// Creates an organization and returns its id; panics on any error.
    pub async fn new_organization(&self, superadmin_token: &str, name: &str) -> String {
        let body = self.create_organization(superadmin_token, name).await;
        assert_no_errors(&body);
        body["data"]["createOrganization"]["id"]
            .as_str()
            .expect("createOrganization.id")
            .to_owned()
    }
}

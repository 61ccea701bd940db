//! The example operations of `docs/operations`, which the docs show, graphql-inspector checks and
//! the Node client suite and the benchmark send: the tests send the same files, never a copy.

use serde_json::{Value, json};

/// One documented operation: its file, sent as it is (comments too, as from a client that pastes
/// the file), under the name it declares.
pub struct Operation {
    /// The name the document declares, sent as `operationName`.
    pub name: &'static str,
    /// The file name in `docs/operations`.
    pub file: &'static str,
    pub document: &'static str,
}

macro_rules! documented {
    ($name:literal, $file:literal) => {
        Operation {
            name: $name,
            file: $file,
            document: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/docs/operations/",
                $file
            )),
        }
    };
}

pub static SIGNUP: Operation = documented!("Signup", "signup.graphql");
pub static LOGIN: Operation = documented!("Login", "login.graphql");
pub static ME: Operation = documented!("Me", "me.graphql");
pub static REFRESH_TOKEN: Operation = documented!("RefreshToken", "refresh-token.graphql");
pub static LOGOUT: Operation = documented!("Logout", "logout.graphql");
pub static FORGOT_PASSWORD: Operation = documented!("ForgotPassword", "forgot-password.graphql");
pub static RESET_PASSWORD: Operation = documented!("ResetPassword", "reset-password.graphql");
pub static UPDATE_ME: Operation = documented!("UpdateMe", "update-me.graphql");
pub static DELETE_ME: Operation = documented!("DeleteMe", "delete-me.graphql");
pub static MY_SESSIONS: Operation = documented!("MySessions", "my-sessions.graphql");
pub static REVOKE_SESSION: Operation = documented!("RevokeSession", "revoke-session.graphql");
pub static REVOKE_OTHER_SESSIONS: Operation =
    documented!("RevokeOtherSessions", "revoke-other-sessions.graphql");
pub static USERS: Operation = documented!("Users", "users.graphql");
pub static USER: Operation = documented!("User", "user.graphql");
pub static ROLES: Operation = documented!("Roles", "roles.graphql");
pub static ORGANIZATIONS: Operation = documented!("Organizations", "organizations.graphql");
pub static CREATE_USER: Operation = documented!("CreateUser", "create-user.graphql");
pub static UPDATE_USER: Operation = documented!("UpdateUser", "update-user.graphql");
pub static DELETE_USER: Operation = documented!("DeleteUser", "delete-user.graphql");
pub static REVOKE_USER_SESSIONS: Operation =
    documented!("RevokeUserSessions", "revoke-user-sessions.graphql");
pub static CREATE_ROLE: Operation = documented!("CreateRole", "create-role.graphql");
pub static DELETE_ROLE: Operation = documented!("DeleteRole", "delete-role.graphql");
pub static CREATE_ORGANIZATION: Operation =
    documented!("CreateOrganization", "create-organization.graphql");
pub static AUDIT_EVENTS: Operation = documented!("AuditEvents", "audit-events.graphql");
pub static MY_SECURITY_EVENTS: Operation =
    documented!("MySecurityEvents", "my-security-events.graphql");

pub static VERIFY_EMAIL: Operation = documented!("VerifyEmail", "verify-email.graphql");
pub static RESEND_VERIFICATION_EMAIL: Operation = documented!(
    "ResendVerificationEmail",
    "resend-verification-email.graphql"
);

/// Sent over WebSocket (`session_events`), never over HTTP.
pub static SESSION_EVENTS: Operation = documented!("SessionEvents", "session-events.graphql");

/// The subscriptions of `docs/operations`: with `ALL`, every file (a test checks that none is
/// missing).
pub static SUBSCRIPTIONS: [&Operation; 1] = [&SESSION_EVENTS];

/// Every query and mutation of `docs/operations`, sent over HTTP.
pub static ALL: [&Operation; 27] = [
    &SIGNUP,
    &LOGIN,
    &ME,
    &REFRESH_TOKEN,
    &LOGOUT,
    &FORGOT_PASSWORD,
    &RESET_PASSWORD,
    &UPDATE_ME,
    &DELETE_ME,
    &MY_SESSIONS,
    &REVOKE_SESSION,
    &REVOKE_OTHER_SESSIONS,
    &USERS,
    &USER,
    &ROLES,
    &ORGANIZATIONS,
    &CREATE_USER,
    &UPDATE_USER,
    &DELETE_USER,
    &REVOKE_USER_SESSIONS,
    &CREATE_ROLE,
    &DELETE_ROLE,
    &CREATE_ORGANIZATION,
    &VERIFY_EMAIL,
    &RESEND_VERIFICATION_EMAIL,
    &AUDIT_EVENTS,
    &MY_SECURITY_EVENTS,
];

impl Operation {
    /// The JSON body a GraphQL client POSTs for this operation.
    pub fn request(&self, variables: Value) -> Value {
        json!({ "query": self.document, "operationName": self.name, "variables": variables })
    }
}

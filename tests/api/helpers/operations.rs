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
pub static VERIFY_EMAIL: Operation = documented!("VerifyEmail", "verify-email.graphql");
pub static RESEND_VERIFICATION_EMAIL: Operation = documented!(
    "ResendVerificationEmail",
    "resend-verification-email.graphql"
);

/// Every file of `docs/operations` (a test checks that none is missing).
pub static ALL: [&Operation; 11] = [
    &SIGNUP,
    &LOGIN,
    &ME,
    &REFRESH_TOKEN,
    &LOGOUT,
    &FORGOT_PASSWORD,
    &RESET_PASSWORD,
    &UPDATE_ME,
    &DELETE_ME,
    &VERIFY_EMAIL,
    &RESEND_VERIFICATION_EMAIL,
];

impl Operation {
    /// The JSON body a GraphQL client POSTs for this operation.
    pub fn request(&self, variables: Value) -> Value {
        json!({ "query": self.document, "operationName": self.name, "variables": variables })
    }
}

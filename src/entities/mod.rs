//! sea-orm entities: the shape of each table and nothing else. Business rules live in
//! `accounts`, and no entity is ever handed to the GraphQL layer as-is.

pub mod account_guess;
pub mod audit_event;
pub mod email_verification_token;
pub mod login_attempt;
pub mod organization;
pub mod outbox;
pub mod password_reset_token;
pub mod rate_limit_counter;
pub mod refresh_token;
pub mod role;
pub mod session;
pub mod signing_key;
pub mod user;
pub mod user_role;

//! Mutations, split by area and merged into one root type.

mod account;
mod password;
mod session;
mod verification;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct Mutation(
    session::SessionMutation,
    password::PasswordMutation,
    account::AccountMutation,
    verification::VerificationMutation,
    super::my_sessions::MySessionsMutation,
    super::admin::AdminMutation,
);

//! Service errors to GraphQL errors, in one place. Each carries a stable `extensions.code`;
//! internal errors are logged with the request id and their whole chain of causes, and reach
//! the client only as a generic message, so no database or library text can leak.

use async_graphql::{Context, ErrorExtensions as _};

use super::context::RequestId;
use crate::accounts::AccountError;
use crate::throttle::RateLimited;

pub fn to_graphql(ctx: &Context<'_>, error: AccountError) -> async_graphql::Error {
    let message = error.to_string();
    match error {
        AccountError::InvalidInput(field) => bad_input(message, field.field),
        // Resolvers name these with their own fields (as `InvalidInput`); one that gets here
        // was not named, which is a bug: refuse rather than answer without the field.
        AccountError::NewPasswordRefused(_) | AccountError::CurrentPasswordRequired => {
            internal_error(
                ctx,
                "a refused input reached GraphQL without its field name",
            )
        }
        AccountError::EmailTaken => coded(message, "EMAIL_TAKEN"),
        AccountError::InvalidCredentials => coded(message, "INVALID_CREDENTIALS"),
        AccountError::Unauthenticated => unauthenticated(),
        AccountError::InvalidToken => coded(message, "INVALID_TOKEN"),
        AccountError::UnknownRole(_) => bad_input(message, "roles"),
        AccountError::RoleCodeTaken | AccountError::BuiltInRole => bad_input(message, "code"),
        AccountError::OrganizationNameTaken => bad_input(message, "name"),
        AccountError::NotFound => coded(message, "NOT_FOUND"),
        AccountError::Forbidden(_) => coded(message, "FORBIDDEN"),
        AccountError::LastAdmin => coded(message, "LAST_ADMIN"),
        AccountError::AccountDisabled => coded(message, "ACCOUNT_DISABLED"),
        AccountError::EmailNotVerified => coded(message, "EMAIL_NOT_VERIFIED"),
        AccountError::RateLimited(refusal) => rate_limited(refusal),
        AccountError::Internal(source) => internal_error(ctx, &error_chain(source.as_ref())),
    }
}

pub fn rate_limited(refusal: RateLimited) -> async_graphql::Error {
    let seconds = refusal.retry_after_seconds();
    async_graphql::Error::new(AccountError::RateLimited(refusal).to_string()).extend_with(
        |_, ext| {
            ext.set("code", "RATE_LIMITED");
            ext.set("retryAfter", seconds);
        },
    )
}

pub fn unauthenticated() -> async_graphql::Error {
    coded(AccountError::Unauthenticated.to_string(), "UNAUTHENTICATED")
}

/// Logs `detail` with the request id and returns the generic error the client sees.
pub fn internal_error(ctx: &Context<'_>, detail: &str) -> async_graphql::Error {
    let request_id = ctx
        .data_opt::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    internal_error_of(&request_id, detail)
}

/// [`internal_error`] where no context is at hand (a subscription's stream), by request id.
pub fn internal_error_of(request_id: &str, detail: &str) -> async_graphql::Error {
    let request_id = request_id.to_owned();
    tracing::error!(request_id = %request_id, error = %detail, "internal error");
    async_graphql::Error::new("Something went wrong on our side. Try again later.").extend_with(
        |_, ext| {
            ext.set("code", "INTERNAL_SERVER_ERROR");
            ext.set("requestId", request_id.clone());
        },
    )
}

/// `error` and each of its sources, outermost first, as one line for the log: the cause of a
/// failure is often only in a source. A source whose text the line already holds (libraries
/// often repeat their source's message in their own) is not repeated.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

fn bad_input(message: String, field: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| {
        ext.set("code", "BAD_USER_INPUT");
        ext.set("field", field);
    })
}

fn coded(message: String, code: &'static str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code))
}

/// `result.or_graphql(ctx)?` in resolvers.
pub trait OrGraphql<T> {
    /// # Errors
    /// The service error, converted.
    fn or_graphql(self, ctx: &Context<'_>) -> async_graphql::Result<T>;
}

impl<T> OrGraphql<T> for Result<T, AccountError> {
    fn or_graphql(self, ctx: &Context<'_>) -> async_graphql::Result<T> {
        self.map_err(|error| to_graphql(ctx, error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error whose own message does not mention its source, as many do not.
    #[derive(Debug, thiserror::Error)]
    #[error("{message}")]
    struct Layer {
        message: &'static str,
        #[source]
        source: Option<Box<Layer>>,
    }

    fn layer(message: &'static str, source: Option<Layer>) -> Layer {
        Layer {
            message,
            source: source.map(Box::new),
        }
    }

    #[test]
    fn the_chain_names_every_source_once() {
        let root = layer("disk full", None);
        let middle = layer("could not write the outbox", Some(root));
        let top = layer("signup failed", Some(middle));
        assert_eq!(
            error_chain(&top),
            "signup failed: could not write the outbox: disk full"
        );

        let repeating = layer("query failed: disk full", Some(layer("disk full", None)));
        assert_eq!(error_chain(&repeating), "query failed: disk full");
    }
}

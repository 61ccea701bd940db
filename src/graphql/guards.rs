//! Field guards: per-address rate limits, checked each time a field is executed, so aliases and
//! batches count once per attempt.

use async_graphql::{Context, Guard};

use super::errors::{internal_error, rate_limited};
use crate::throttle::{ClientAddr, Limit, RateLimiter};

pub struct Throttled(pub Limit);

impl Guard for Throttled {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let (Some(limiter), Some(client)) =
            (ctx.data_opt::<RateLimiter>(), ctx.data_opt::<ClientAddr>())
        else {
            // Every request the server executes carries both. Without them the limit cannot be
            // counted, so the field does not run: a limit that cannot be checked refuses.
            return Err(internal_error(
                ctx,
                "a throttled field ran without the rate limiter or the client address",
            ));
        };
        match limiter.hit(self.0, &client.limiter_key()).await {
            Ok(outcome) => outcome.map_err(rate_limited),
            // A limit that cannot be counted refuses, as above.
            Err(error) => Err(internal_error(
                ctx,
                &format!("the rate limit could not be counted: {error}"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use async_graphql::{EmptySubscription, Request, Schema, Value};
    use axum::http::HeaderMap;

    use super::*;
    use crate::graphql::mutation::Mutation;
    use crate::graphql::query::Query;

    /// Runs a throttled mutation on a schema that holds only `limiter`, with only `client` in
    /// the request. Neither the limit's field nor anything else may run: the schema has no
    /// `Accounts` to run it with.
    async fn forgot_password_code(
        limiter: Option<RateLimiter>,
        client: Option<ClientAddr>,
    ) -> Option<String> {
        let mut schema = Schema::build(Query::default(), Mutation::default(), EmptySubscription);
        if let Some(limiter) = limiter {
            schema = schema.data(limiter);
        }
        let mut request = Request::new(r#"mutation { forgotPassword(email: "ada@example.com") }"#);
        if let Some(client) = client {
            request = request.data(client);
        }
        let response = schema.finish().execute(request).await;
        assert_eq!(response.data, Value::Null, "{response:?}");
        match response.errors.first()?.extensions.as_ref()?.get("code")? {
            Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    fn client() -> ClientAddr {
        let peer: SocketAddr = "192.0.2.7:4000".parse().unwrap();
        ClientAddr::resolve(peer, &HeaderMap::new(), &[])
    }

    #[tokio::test]
    async fn a_throttled_field_without_its_limiter_or_client_address_is_refused() {
        for (limiter, client) in [
            (None, None),
            (Some(RateLimiter::default()), None),
            (None, Some(client())),
        ] {
            assert_eq!(
                forgot_password_code(limiter, client).await.as_deref(),
                Some("INTERNAL_SERVER_ERROR")
            );
        }
    }
}

//! Field guards: per-address rate limits, checked each time a field is executed, so aliases and
//! batches count once per attempt.

use async_graphql::{Context, Guard};

use super::errors::rate_limited;
use crate::throttle::{ClientAddr, Limit, RateLimiter};

pub struct Throttled(pub Limit);

impl Guard for Throttled {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        let (Some(limiter), Some(client)) =
            (ctx.data_opt::<RateLimiter>(), ctx.data_opt::<ClientAddr>())
        else {
            // Only the SDL printer builds a schema without these; it never executes anything.
            return Ok(());
        };
        limiter
            .hit(self.0, &client.limiter_key())
            .map_err(rate_limited)
    }
}

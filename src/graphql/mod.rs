//! The GraphQL API of `shared/spec/api.md`: schema building, thin resolvers that validate and
//! call `accounts`, and the one place where service errors become `extensions.code`s.

pub mod context;
pub mod errors;
mod guards;
mod instrumentation;
mod limits;
mod mutation;
mod query;
pub mod types;

use async_graphql::{EmptySubscription, Schema, SchemaBuilder};

pub use self::context::{Authentication, RequestId};
use self::mutation::Mutation;
use self::query::Query;
use crate::accounts::Accounts;
use crate::metrics::Metrics;
use crate::throttle::RateLimiter;

pub type LatchkeySchema = Schema<Query, Mutation, EmptySubscription>;

/// Depth and complexity bounds (security.md): deep enough for any real client query, far too
/// shallow for a denial-of-service document.
const MAX_DEPTH: usize = 10;
const MAX_COMPLEXITY: usize = 200;

fn builder() -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(limits::OperationLimits)
}

/// What the served schema needs besides its types.
pub struct SchemaDeps {
    pub accounts: Accounts,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    pub introspection: bool,
}

/// The schema served by the server, with the account service and rate limiter attached.
pub fn build_schema(deps: SchemaDeps) -> LatchkeySchema {
    let builder = builder()
        .extension(instrumentation::Instrumentation(deps.metrics))
        .data(deps.accounts)
        .data(deps.limiter);
    if deps.introspection {
        builder.finish()
    } else {
        builder.disable_introspection().finish()
    }
}

/// The SDL of the served schema: what `latchkey print-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    builder().finish().sdl()
}

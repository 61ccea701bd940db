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
/// Looser bounds for documents that only introspect: tools' standard introspection query nests
/// `ofType` a dozen levels deep, and introspection reads nothing but the schema.
const INTROSPECTION_MAX_DEPTH: usize = 20;
const INTROSPECTION_MAX_COMPLEXITY: usize = 5_000;

fn builder(depth: usize, complexity: usize) -> SchemaBuilder<Query, Mutation, EmptySubscription> {
    Schema::build(Query, Mutation::default(), EmptySubscription)
        .limit_depth(depth)
        .limit_complexity(complexity)
}

/// What the served schema needs besides its types.
pub struct SchemaDeps {
    pub accounts: Accounts,
    pub limiter: RateLimiter,
    pub metrics: Metrics,
    pub introspection: bool,
}

/// The served schema, twice: with the limits for every operation, and with looser ones for
/// introspection-only documents (when introspection is on at all).
#[derive(Clone)]
pub struct Schemas {
    operations: LatchkeySchema,
    introspection: Option<LatchkeySchema>,
}

impl Schemas {
    pub fn build(deps: SchemaDeps) -> Self {
        let finish = |builder: SchemaBuilder<Query, Mutation, EmptySubscription>| {
            let builder = builder
                .extension(instrumentation::Instrumentation(Some(deps.metrics.clone())))
                .data(deps.accounts.clone())
                .data(deps.limiter.clone());
            if deps.introspection {
                builder.finish()
            } else {
                builder.disable_introspection().finish()
            }
        };
        Self {
            operations: finish(builder(MAX_DEPTH, MAX_COMPLEXITY)),
            introspection: deps.introspection.then(|| {
                finish(builder(
                    INTROSPECTION_MAX_DEPTH,
                    INTROSPECTION_MAX_COMPLEXITY,
                ))
            }),
        }
    }

    /// The schema to run `batch` on.
    pub fn for_batch(&self, batch: &async_graphql::BatchRequest) -> &LatchkeySchema {
        let introspects_only = match batch {
            async_graphql::BatchRequest::Single(request) => {
                limits::is_introspection_only(&request.query)
            }
            async_graphql::BatchRequest::Batch(requests) => requests
                .iter()
                .all(|request| limits::is_introspection_only(&request.query)),
        };
        match (&self.introspection, introspects_only) {
            (Some(introspection), true) => introspection,
            _ => &self.operations,
        }
    }
}

/// The SDL of the served schema: what `latchkey print-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    builder(MAX_DEPTH, MAX_COMPLEXITY).finish().sdl()
}

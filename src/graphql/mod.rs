//! The GraphQL API: schema building, thin resolvers that validate and
//! call `accounts`, and the one place where service errors become `extensions.code`s.

mod admin;
mod audit;
pub mod context;
pub mod errors;
mod extension;
mod guards;
mod input;
mod limits;
mod mutation;
mod my_sessions;
mod query;
pub mod request_errors;
mod shape;
mod subscription;
mod tokens;
pub mod types;

use async_graphql::{Schema, SchemaBuilder};

pub use self::context::{Authentication, RequestId};
use self::limits::{Bounds, DocumentLimits};
use self::mutation::Mutation;
use self::query::Query;
use self::subscription::Subscription;
use crate::accounts::Accounts;
use crate::metrics::Metrics;
use crate::throttle::RateLimiter;

pub type LatchkeySchema = Schema<Query, Mutation, Subscription>;

/// The schema with async-graphql's own depth and complexity checks set to `bounds`: a backstop
/// behind `limits`, which holds documents to the same bounds (and more) before these run.
fn builder(bounds: Bounds) -> SchemaBuilder<Query, Mutation, Subscription> {
    let as_usize = |bound: u64| usize::try_from(bound).unwrap_or(usize::MAX);
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .limit_depth(as_usize(bounds.depth))
        .limit_complexity(as_usize(bounds.complexity))
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
        let finish = |bounds: Bounds| {
            let builder = builder(bounds)
                .extension(extension::SchemaExtension {
                    metrics: deps.metrics.clone(),
                    limits: DocumentLimits {
                        bounds,
                        introspection: deps.introspection,
                    },
                })
                .data(deps.accounts.clone())
                .data(deps.limiter.clone());
            if deps.introspection {
                builder.finish()
            } else {
                // Suggestions ("Did you mean ...?") would reveal the names introspection hides.
                builder
                    .disable_introspection()
                    .disable_suggestions()
                    .finish()
            }
        };
        Self {
            operations: finish(Bounds::OPERATIONS),
            introspection: deps.introspection.then(|| finish(Bounds::INTROSPECTION)),
        }
    }

    /// The schema subscriptions run on: every operation's limits.
    pub fn for_subscriptions(&self) -> &LatchkeySchema {
        &self.operations
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
    builder(Bounds::OPERATIONS).finish().sdl()
}

//! The GraphQL API: schema building, thin resolvers that validate and
//! call `accounts`, and the one place where service errors become `extensions.code`s.

mod admin;
mod audit;
mod bounded_cache;
pub mod context;
mod document_cache;
pub mod errors;
mod extension;
mod guards;
mod input;
mod limits;
mod mutation;
mod my_sessions;
pub mod persisted_queries;
mod query;
pub mod request_errors;
mod shape;
mod subscription;
mod tokens;
pub mod types;

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use async_graphql::{Schema, SchemaBuilder};

pub use self::context::{Authentication, RequestId};
use self::document_cache::DocumentCache;
/// How many documents each schema keeps parsed (docs/performance.md).
pub use self::document_cache::MAX_DOCUMENTS as MAX_CACHED_DOCUMENTS;
use self::limits::{Bounds, DocumentLimits};
use self::mutation::Mutation;
use self::persisted_queries::PersistedQueries;
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
/// introspection-only documents (when introspection is on at all). Each has its own cache of
/// admitted documents; the persisted queries are documents' text, which both share.
#[derive(Clone)]
pub struct Schemas {
    operations: LatchkeySchema,
    operation_documents: Arc<DocumentCache>,
    introspection: Option<(LatchkeySchema, Arc<DocumentCache>)>,
    persisted: Arc<PersistedQueries>,
}

impl Schemas {
    pub fn build(deps: SchemaDeps) -> Self {
        let finish = |bounds: Bounds, documents: &Arc<DocumentCache>| {
            let builder = builder(bounds)
                .extension(extension::SchemaExtension {
                    metrics: deps.metrics.clone(),
                    limits: DocumentLimits {
                        bounds,
                        introspection: deps.introspection,
                    },
                    documents: Arc::clone(documents),
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
        let operation_documents = Arc::new(DocumentCache::default());
        let introspection = deps.introspection.then(|| {
            let documents = Arc::new(DocumentCache::default());
            (finish(Bounds::INTROSPECTION, &documents), documents)
        });
        Self {
            operations: finish(Bounds::OPERATIONS, &operation_documents),
            operation_documents,
            introspection,
            persisted: Arc::new(PersistedQueries::default()),
        }
    }

    /// The store of automatic persisted queries.
    pub fn persisted_queries(&self) -> &PersistedQueries {
        &self.persisted
    }

    /// Whether `request` would run a mutation (see `document_cache::operation_type`). A
    /// document that does not parse is no mutation: it runs nothing.
    pub fn is_mutation(&self, request: &async_graphql::Request) -> bool {
        let operation_name = request.operation_name.as_deref();
        // Introspection-only documents are queries, so a mutation can only be among these.
        let operation_type = match self.operation_documents.get(&request.query) {
            Some(admitted) => admitted.operation_type(operation_name),
            None => match async_graphql::parser::parse_query(&request.query) {
                Ok(document) => document_cache::operation_type(&document, operation_name),
                Err(_) => None,
            },
        };
        operation_type == Some(OperationType::Mutation)
    }

    /// The schema subscriptions run on: every operation's limits.
    pub fn for_subscriptions(&self) -> &LatchkeySchema {
        &self.operations
    }

    /// The schema to run a request, or a batch of requests, with these documents on.
    pub fn for_documents<'q>(&self, queries: impl IntoIterator<Item = &'q str>) -> &LatchkeySchema {
        let Some((introspection, introspection_documents)) = &self.introspection else {
            return &self.operations;
        };
        // A document in a schema's cache was sent to that schema before: the same text goes
        // the same way, without the parse that `is_introspection_only` needs.
        let introspects_only = |query: &str| {
            // Most documents never name a meta field; the substring test spares them the rest.
            query.contains("__")
                && !self.operation_documents.contains(query)
                && (introspection_documents.contains(query) || limits::is_introspection_only(query))
        };
        if queries.into_iter().all(introspects_only) {
            introspection
        } else {
            &self.operations
        }
    }
}

/// The SDL of the served schema: what `latchkey print-schema` prints and `schema.graphql` holds.
pub fn sdl() -> String {
    builder(Bounds::OPERATIONS).finish().sdl()
}

//! The schema's one extension (each extension costs a boxed future per field, so there is only
//! one): document limits checked before async-graphql parses, checks or validates anything, and
//! per-operation metrics, every root field executed counted with its outcome (`ok` or its error
//! code) and timed, the same granularity as throttling.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Value, Variables};

use super::limits::{self, DocumentLimits};
use crate::metrics::Metrics;

pub struct Instrumentation {
    pub metrics: Metrics,
    pub limits: DocumentLimits,
}

impl ExtensionFactory for Instrumentation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InstrumentationExtension {
            metrics: self.metrics.clone(),
            limits: self.limits,
        })
    }
}

struct InstrumentationExtension {
    metrics: Metrics,
    limits: DocumentLimits,
}

#[async_graphql::async_trait::async_trait]
impl Extension for InstrumentationExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // `next` parses and then runs async-graphql's recursion-depth walk, which follows every
        // fragment spread again: the limits come first, on a parse of our own. A document that
        // does not parse is left to `next`, which reports it.
        limits::check_source(query)?;
        if let Ok(document) = async_graphql::parser::parse_query(query) {
            limits::check_document(&document, self.limits)?;
        }
        next.run(ctx, query, variables).await
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        // The schema's field name, not the client's alias: a closed set of label values.
        let operation = info.name.to_owned();
        let started = Instant::now();
        let result = next.run(ctx, info).await;
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(error) => error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code"))
                .and_then(|code| match code {
                    Value::String(code) => Some(code.to_ascii_lowercase()),
                    _ => None,
                })
                .unwrap_or_else(|| "error".to_owned()),
        };
        self.metrics
            .operation(&operation, &outcome, started.elapsed().as_secs_f64());
        result
    }
}

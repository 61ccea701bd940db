//! The schema's one extension (each extension costs a boxed future per field, so there is only
//! one): document limits checked right after parsing, and per-operation metrics, every root
//! field executed counted with its outcome (`ok` or its error code) and timed, the same
//! granularity as throttling.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Value, Variables};

use crate::metrics::Metrics;

/// `None` for the SDL printer's schema, which never executes anything.
pub struct Instrumentation(pub Option<Metrics>);

impl ExtensionFactory for Instrumentation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InstrumentationExtension(self.0.clone()))
    }
}

struct InstrumentationExtension(Option<Metrics>);

#[async_graphql::async_trait::async_trait]
impl Extension for InstrumentationExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        super::limits::check_document(&document)?;
        Ok(document)
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let Some(metrics) = self.0.as_ref().filter(|_| info.path_node.parent.is_none()) else {
            return next.run(ctx, info).await;
        };
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
        metrics.operation(&operation, &outcome, started.elapsed().as_secs_f64());
        result
    }
}

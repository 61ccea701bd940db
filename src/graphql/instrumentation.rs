//! Per-operation metrics: every root field executed is counted with its outcome (`ok` or its
//! error code) and timed, the same granularity as throttling.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};

use crate::metrics::Metrics;

pub struct Instrumentation(pub Metrics);

impl ExtensionFactory for Instrumentation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(InstrumentationExtension(self.0.clone()))
    }
}

struct InstrumentationExtension(Metrics);

#[async_graphql::async_trait::async_trait]
impl Extension for InstrumentationExtension {
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
        self.0
            .operation(&operation, &outcome, started.elapsed().as_secs_f64());
        result
    }
}

//! The schema's one extension (each extension costs a boxed future per field, so there is only
//! one): it holds documents to the limits and codes request errors (`request_errors`), and
//! counts and times every root field executed, with its outcome (`ok` or its error code).

use std::sync::Arc;
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use super::limits::DocumentLimits;
use super::request_errors;
use crate::metrics::Metrics;

pub struct SchemaExtension {
    pub metrics: Metrics,
    pub limits: DocumentLimits,
}

impl ExtensionFactory for SchemaExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            metrics: self.metrics.clone(),
            limits: self.limits,
        })
    }
}

struct PerRequest {
    metrics: Metrics,
    limits: DocumentLimits,
}

#[async_graphql::async_trait::async_trait]
impl Extension for PerRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        request_errors::code_operation_errors(&mut response);
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // `next` parses and then runs async-graphql's recursion-depth walk, which follows every
        // fragment spread again: the limits come first, on a parse of our own.
        request_errors::admit(query, self.limits)?;
        next.run(ctx, query, variables)
            .await
            .map_err(request_errors::refused_while_parsing)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(request_errors::validation_failure)
                .collect()
        })
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

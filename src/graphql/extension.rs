//! The schema's one extension (each extension costs a boxed future per field, so there is only
//! one): it holds documents to the limits and codes request errors (`request_errors`), serves
//! documents sent before from the schema's `DocumentCache`, and counts and times every root
//! field executed, with its outcome (`ok` or its error code).

use std::borrow::Cow;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextResolve,
    NextValidation, ResolveInfo,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Value, Variables};

use super::document_cache::{Admitted, DocumentCache};
use super::limits::DocumentLimits;
use super::request_errors;
use crate::metrics::Metrics;

pub struct SchemaExtension {
    pub metrics: Metrics,
    pub limits: DocumentLimits,
    /// This schema's own: a document admitted under one schema's limits says nothing about
    /// another's.
    pub documents: Arc<DocumentCache>,
}

impl ExtensionFactory for SchemaExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PerRequest {
            metrics: self.metrics.clone(),
            limits: self.limits,
            documents: Arc::clone(&self.documents),
            document: Mutex::new(Document::Unseen),
        })
    }
}

struct PerRequest {
    metrics: Metrics,
    limits: DocumentLimits,
    documents: Arc<DocumentCache>,
    /// What the parse step learnt, for the validation step.
    document: Mutex<Document>,
}

enum Document {
    Unseen,
    /// Served from the cache.
    Cached(Arc<Admitted>),
    /// Parsed now: kept in the cache if it validates.
    Parsed {
        query: String,
        document: ExecutableDocument,
    },
}

impl PerRequest {
    fn take_document(&self) -> Document {
        let mut slot = self.document.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, Document::Unseen)
    }

    fn set_document(&self, document: Document) {
        *self.document.lock().unwrap_or_else(PoisonError::into_inner) = document;
    }
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
        // The same text passed every check below before, under this schema's limits: its
        // parse can be copied (async-graphql changes the document while it executes it).
        if let Some(admitted) = self.documents.get(query) {
            self.metrics.document_cache(true);
            let document = admitted.document.clone();
            self.set_document(Document::Cached(admitted));
            return Ok(document);
        }
        self.metrics.document_cache(false);
        // `next` parses and then runs async-graphql's recursion-depth walk, which follows every
        // fragment spread again: the limits come first, on a parse of our own.
        request_errors::admit(query, self.limits)?;
        let document = next
            .run(ctx, query, variables)
            .await
            .map_err(request_errors::refused_while_parsing)?;
        if DocumentCache::would_keep(query) {
            self.set_document(Document::Parsed {
                query: query.to_owned(),
                document: document.clone(),
            });
        }
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let document = self.take_document();
        if let Document::Cached(admitted) = &document
            && let Some(validation) = admitted.validation
        {
            return Ok(validation);
        }
        let validation = next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(request_errors::validation_failure)
                .collect::<Vec<_>>()
        })?;
        // Only a document that validated is kept: a refused one is refused afresh each time.
        if let Document::Parsed { query, document } = document {
            self.documents
                .insert(&query, Admitted::new(document, validation));
        }
        Ok(validation)
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
        let operation = info.name;
        let started = Instant::now();
        let result = next.run(ctx, info).await;
        let outcome: Cow<'static, str> = match &result {
            Ok(_) => Cow::Borrowed("ok"),
            Err(error) => error
                .extensions
                .as_ref()
                .and_then(|extensions| extensions.get("code"))
                .and_then(|code| match code {
                    Value::String(code) => Some(Cow::Owned(code.to_ascii_lowercase())),
                    _ => None,
                })
                .unwrap_or(Cow::Borrowed("error")),
        };
        self.metrics
            .operation(operation, &outcome, started.elapsed().as_secs_f64());
        result
    }
}

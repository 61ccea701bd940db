//! Parsed documents that passed the limits and validation, one cache per schema (each schema has
//! its own limits), so that a document sent again skips the token count, the parses, the limit
//! checks and, when nothing in the request can change its outcome, validation.

use async_graphql::ValidationResult;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};

use super::bounded_cache::BoundedCache;

/// Documents kept per schema. Real clients send a few dozen distinct documents.
pub const MAX_DOCUMENTS: usize = 256;
/// The document text kept per schema, added up; the parsed form takes a few times as much.
pub const MAX_DOCUMENT_BYTES: usize = 512 * 1024;
/// A longer document is still served, just parsed each time.
pub const MAX_CACHED_DOCUMENT_LEN: usize = 16 * 1024;

/// A document that was admitted: within the limits, parsed, and valid for the schema.
pub struct Admitted {
    pub document: ExecutableDocument,
    /// async-graphql's validation verdict, when it holds for every request that sends this
    /// document: validation reads a request's variables (a value of the wrong type for an
    /// argument is refused there) and nothing else, so only a document that declares no
    /// variables may skip it.
    pub validation: Option<ValidationResult>,
}

impl Admitted {
    pub fn new(document: ExecutableDocument, validation: ValidationResult) -> Self {
        let declares_variables = document
            .operations
            .iter()
            .any(|(_, operation)| !operation.node.variable_definitions.is_empty());
        Self {
            document,
            validation: (!declares_variables).then_some(validation),
        }
    }

    /// The type of the operation a request with `operation_name` runs (see `operation_type`).
    pub fn operation_type(&self, operation_name: Option<&str>) -> Option<OperationType> {
        operation_type(&self.document, operation_name)
    }
}

/// The type of the operation `operation_name` selects in `document`; `None` when it selects
/// none (the request then fails before anything runs). A document of several operations
/// without a name runs none of them, but counts as a mutation if any of them is one, so that a
/// caller refusing mutations refuses the ambiguous case too.
pub fn operation_type(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) => operations
            .values()
            .any(|operation| operation.node.ty == OperationType::Mutation)
            .then_some(OperationType::Mutation),
    }
}

/// Keyed by the document's exact text: the same text always parses to the same document.
pub struct DocumentCache {
    documents: BoundedCache<Admitted>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            documents: BoundedCache::new(MAX_DOCUMENTS, MAX_DOCUMENT_BYTES),
        }
    }
}

impl DocumentCache {
    pub fn get(&self, query: &str) -> Option<std::sync::Arc<Admitted>> {
        self.documents.get(query)
    }

    pub fn contains(&self, query: &str) -> bool {
        self.documents.contains(query)
    }

    /// Whether `query` would be kept at all, to spare the copy of a document that would not be.
    pub fn would_keep(query: &str) -> bool {
        query.len() <= MAX_CACHED_DOCUMENT_LEN
    }

    pub fn insert(&self, query: &str, admitted: Admitted) {
        if Self::would_keep(query) {
            self.documents.insert(query, admitted, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admitted(query: &str) -> Admitted {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let validation = ValidationResult {
            cache_control: async_graphql::CacheControl::default(),
            complexity: 1,
            depth: 1,
        };
        Admitted::new(document, validation)
    }

    #[test]
    fn only_a_document_without_variables_keeps_its_validation() {
        assert!(admitted("query Me { me { id } }").validation.is_some());
        assert!(
            admitted("query A { me { id } } mutation B($t: String!) { logout(refreshToken: $t) }")
                .validation
                .is_none()
        );
    }

    #[test]
    fn the_operation_type_follows_the_operation_name() {
        let both = admitted("query A { me { id } } mutation B { logout(refreshToken: \"x\") }");
        assert_eq!(both.operation_type(Some("A")), Some(OperationType::Query));
        assert_eq!(
            both.operation_type(Some("B")),
            Some(OperationType::Mutation)
        );
        assert_eq!(both.operation_type(Some("C")), None);
        assert_eq!(both.operation_type(None), Some(OperationType::Mutation));
    }
}

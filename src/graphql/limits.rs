//! Document limits (docs/security.md), all checked before async-graphql validates or runs anything:
//! the token count before parsing, then the document as it would execute, every fragment
//! expanded wherever it is spread, however deep (`shape` measures it without expanding it).
//! async-graphql's own checks walk every spread again, which a few hundred bytes of fragments
//! can make take hours; after these limits, their walks are small.

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{ErrorExtensionValues, ServerError};

use super::shape::{self, FragmentCycle};
use super::tokens;

/// The code of every refusal of a document over a size or shape limit.
pub const TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
/// The code of a document that reads the schema while introspection is turned off.
pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";

/// Names, values and punctuators in one document; a real client document holds a few dozen.
pub const MAX_TOKENS: usize = 1_000;
/// Aliases, counted wherever their fragment is spread: each one is another copy of a field's
/// work and output (400 aliased `__schema`s answered a megabyte).
pub const MAX_ALIASES: u64 = 15;
/// Directives, counted wherever their fragment is spread.
pub const MAX_DIRECTIVES: u64 = 50;
pub const MAX_ROOT_MUTATION_FIELDS: u64 = 10;
/// Fields that verify a password or a secret token: at most one per mutation, so one request
/// is one guess.
const CREDENTIAL_FIELDS: [&str; 4] = ["login", "resetPassword", "updateMe", "deleteMe"];

/// How deep and how large one schema lets a document be.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Levels of fields; fragments add none.
    pub depth: u64,
    /// Fields, fragment spreads and inline fragments, every fragment counted wherever it is
    /// spread, summed over the operations of the document.
    pub complexity: u64,
}

impl Bounds {
    /// Deep and large enough for any real client document, far too small for a
    /// denial-of-service one.
    pub const OPERATIONS: Self = Self {
        depth: 10,
        complexity: 200,
    };
    /// Documents that only introspect: tools' standard introspection query nests `ofType`
    /// fifteen levels deep and selects about 250 fields and fragments; introspection reads
    /// nothing but the schema.
    pub const INTROSPECTION: Self = Self {
        depth: 20,
        complexity: 1_000,
    };
}

/// What the schema's extension holds a document to.
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    pub bounds: Bounds,
    /// Whether `__schema` and `__type` may be queried.
    pub introspection: bool,
}

/// Refuses a document with too many tokens, before it is parsed.
///
/// # Errors
/// The refusal, as a request error with code `QUERY_TOO_COMPLEX`.
pub fn check_source(query: &str) -> Result<(), ServerError> {
    if tokens::count(query) > MAX_TOKENS {
        return Err(too_complex(format!(
            "The document is too long: it may hold at most {MAX_TOKENS} tokens (names, values and punctuation)."
        )));
    }
    Ok(())
}

/// Refuses a parsed document that would do more than `limits` allow once its fragments are
/// expanded, or that reads the schema while introspection is off. Called from the schema's
/// extension (`request_errors::admit`) after `check_source` and before async-graphql's own
/// checks.
///
/// # Errors
/// The refusal, as a request error with code `QUERY_TOO_COMPLEX` or `INTROSPECTION_DISABLED`.
pub fn check_document(
    document: &ExecutableDocument,
    limits: DocumentLimits,
) -> Result<(), ServerError> {
    let shape = shape::measure(document, &CREDENTIAL_FIELDS).map_err(|FragmentCycle(name)| {
        too_complex(format!(
            "Fragment \"{name}\" spreads itself, so the document has no end."
        ))
    })?;
    let Bounds { depth, complexity } = limits.bounds;
    if shape.depth > depth {
        return Err(too_complex(format!(
            "Query is nested too deep: at most {depth} levels of fields."
        )));
    }
    if shape.selections > complexity {
        return Err(too_complex(format!(
            "Query is too complex: with its fragments expanded it may select at most {complexity} fields and fragments."
        )));
    }
    if shape.aliases > MAX_ALIASES {
        return Err(too_complex(format!(
            "The document may use at most {MAX_ALIASES} aliases, counting a fragment's wherever it is spread."
        )));
    }
    if shape.directives > MAX_DIRECTIVES {
        return Err(too_complex(format!(
            "The document may use at most {MAX_DIRECTIVES} directives, counting a fragment's wherever it is spread."
        )));
    }
    for operation in &shape.operations {
        if operation.ty != OperationType::Mutation {
            continue;
        }
        if operation.root_fields.all > MAX_ROOT_MUTATION_FIELDS {
            return Err(too_complex(format!(
                "A mutation may hold at most {MAX_ROOT_MUTATION_FIELDS} fields."
            )));
        }
        if operation.root_fields.credential > 1 {
            return Err(too_complex(
                "A mutation may check credentials at most once (login, resetPassword, updateMe or deleteMe).",
            ));
        }
    }
    if !limits.introspection && shape.introspection_fields > 0 {
        return Err(refusal(
            INTROSPECTION_DISABLED,
            "Introspection is turned off on this server: `__schema` and `__type` cannot be queried.",
        ));
    }
    Ok(())
}

/// Whether every operation of a document reads only `__schema`, `__type` or `__typename`.
/// Anything over the token limit, unparsable or endless is not: the operation limits refuse it.
/// A cheap substring test spares ordinary documents the parse.
pub fn is_introspection_only(query: &str) -> bool {
    if !query.contains("__") || tokens::count(query) > MAX_TOKENS {
        return false;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let Ok(shape) = shape::measure(&document, &CREDENTIAL_FIELDS) else {
        return false;
    };
    !shape.operations.is_empty()
        && shape.operations.iter().all(|operation| {
            let fields = operation.root_fields;
            operation.ty == OperationType::Query && fields.all > 0 && fields.meta == fields.all
        })
}

fn too_complex(message: impl Into<String>) -> ServerError {
    refusal(TOO_COMPLEX, message)
}

fn refusal(code: &str, message: impl Into<String>) -> ServerError {
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    let mut error = ServerError::new(message, None);
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use async_graphql::Value;

    use super::*;

    const OPERATIONS: DocumentLimits = DocumentLimits {
        bounds: Bounds::OPERATIONS,
        introspection: true,
    };

    fn refusal_code(query: &str, limits: DocumentLimits) -> Option<String> {
        let document = async_graphql::parser::parse_query(query).unwrap();
        let error = check_document(&document, limits).err()?;
        match error.extensions?.get("code")? {
            Value::String(code) => Some(code.clone()),
            _ => None,
        }
    }

    #[test]
    fn only_pure_introspection_documents_count_as_introspection() {
        assert!(is_introspection_only("{ __schema { types { name } } }"));
        assert!(is_introspection_only(
            "query A { __type(name: \"User\") { name } } fragment F on Query { __typename }"
        ));
        assert!(!is_introspection_only(
            "{ __schema { types { name } } me { email } }"
        ));
        assert!(!is_introspection_only("{ me { __typename } }"));
        assert!(!is_introspection_only("mutation { __typename }"));
        assert!(!is_introspection_only("{ __schema "));
        assert!(!is_introspection_only(
            "{ ...A } fragment A on Query { __typename ...A }"
        ));
        let too_long = format!("{{ {} }}", "__typename ".repeat(MAX_TOKENS));
        assert!(!is_introspection_only(&too_long));
    }

    #[test]
    fn an_exponential_document_is_refused_at_once() {
        let mut query = String::from("{ ...F0 }");
        for level in 0..15 {
            let next = level + 1;
            query.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} ...F{next} }}"
            ));
        }
        query.push_str(" fragment F15 on Query { __typename }");

        let started = Instant::now();
        assert!(check_source(&query).is_ok());
        let verdict = refusal_code(&query, OPERATIONS);
        let introspection = is_introspection_only(&query);

        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(verdict.as_deref(), Some(TOO_COMPLEX));
        assert!(introspection);
    }

    #[test]
    fn each_limit_refuses_just_past_it() {
        let aliases = |n: usize| {
            let fields: String = (0..n).map(|i| format!("a{i}: id ")).collect();
            format!("{{ me {{ {fields}}} }}")
        };
        assert_eq!(refusal_code(&aliases(15), OPERATIONS), None);
        assert_eq!(
            refusal_code(&aliases(16), OPERATIONS).as_deref(),
            Some(TOO_COMPLEX)
        );
        let directives = |n: usize| format!("{{ me {{ {}}} }}", "id @skip(if: false) ".repeat(n));
        assert_eq!(refusal_code(&directives(50), OPERATIONS), None);
        assert_eq!(
            refusal_code(&directives(51), OPERATIONS).as_deref(),
            Some(TOO_COMPLEX)
        );
        let nested = |n: usize| format!("{}{}", "{ a ".repeat(n), "}".repeat(n));
        assert_eq!(refusal_code(&nested(10), OPERATIONS), None);
        assert_eq!(
            refusal_code(&nested(11), OPERATIONS).as_deref(),
            Some(TOO_COMPLEX)
        );
        let wide = |n: usize| format!("{{ {} }}", "__typename ".repeat(n));
        assert_eq!(refusal_code(&wide(200), OPERATIONS), None);
        assert_eq!(
            refusal_code(&wide(201), OPERATIONS).as_deref(),
            Some(TOO_COMPLEX)
        );
        let tokens = |n: usize| format!("{{ {} }}", "__typename ".repeat(n - 2));
        assert!(check_source(&tokens(MAX_TOKENS)).is_ok());
        assert!(check_source(&tokens(MAX_TOKENS + 1)).is_err());
    }

    #[test]
    fn mutations_are_held_to_their_root_field_limits() {
        let logouts = |n: usize| -> String {
            (0..n)
                .map(|i| format!("l{i}: logout(refreshToken: \"x\") "))
                .collect()
        };
        let query = format!("mutation {{ {} }}", logouts(10));
        assert_eq!(refusal_code(&query, OPERATIONS), None);
        let query = format!("mutation {{ {} }}", logouts(11));
        assert_eq!(
            refusal_code(&query, OPERATIONS).as_deref(),
            Some(TOO_COMPLEX)
        );
        let query =
            "mutation { ...A } fragment A on Mutation { ... on Mutation { a: login b: deleteMe } }";
        assert_eq!(
            refusal_code(query, OPERATIONS).as_deref(),
            Some(TOO_COMPLEX)
        );
        // The same field count in a query is the complexity's business only.
        let query = format!("{{ {} }}", logouts(11));
        assert_eq!(refusal_code(&query, OPERATIONS), None);
    }

    #[test]
    fn with_introspection_off_the_schema_is_refused_and_typename_is_not() {
        let off = DocumentLimits {
            introspection: false,
            ..OPERATIONS
        };
        for query in [
            "{ __schema { queryType { name } } }",
            "{ __type(name: \"User\") { name } }",
            "{ me { id } ...S } fragment S on Query { ... on Query { __schema { types { name } } } }",
        ] {
            assert_eq!(
                refusal_code(query, off).as_deref(),
                Some(INTROSPECTION_DISABLED),
                "{query}"
            );
            assert_eq!(refusal_code(query, OPERATIONS), None, "{query}");
        }
        assert_eq!(refusal_code("{ __typename me { __typename } }", off), None);
    }
}

//! Request errors: why a document was refused before any field ran, each with the code
//! docs/api.md ("Errors") promises. The schema's extension calls these at each step.

use async_graphql::parser::Error as ParseError;
use async_graphql::{ErrorExtensionValues, Response, ServerError, Value};

use super::limits::{self, DocumentLimits, TOO_COMPLEX};

/// The request is not one the server can run (also the code of the HTTP layer's refusals).
pub const BAD_REQUEST: &str = "BAD_REQUEST";
/// The document is not GraphQL.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// The document does not fit the schema.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// A field's arguments did not coerce to their types (resolvers use the same code for input
/// they refuse).
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";

/// async-graphql's own depth and complexity refusals, made while it validates. `limits` holds
/// documents to the same bounds first, so these should never be seen; if they are, the
/// document was refused for its size all the same.
const ASYNC_GRAPHQL_LIMIT_MESSAGES: [&str; 2] =
    ["Query is nested too deep.", "Query is too complex."];

/// Lets a document through to async-graphql only if it is within the document limits: its
/// tokens counted before it is parsed, its shape measured on our own parse.
///
/// # Errors
/// `QUERY_TOO_COMPLEX` or `INTROSPECTION_DISABLED` from `limits`; `GRAPHQL_PARSE_FAILED` for
/// a document that does not parse, except one nested deeper than the parser follows, which is
/// `QUERY_TOO_COMPLEX`.
pub fn admit(query: &str, document_limits: DocumentLimits) -> Result<(), ServerError> {
    limits::check_source(query)?;
    let document = async_graphql::parser::parse_query(query).map_err(parse_failure)?;
    limits::check_document(&document, document_limits)
}

/// An error of async-graphql's own parse step, run after `admit` let the document through. Its
/// parse is the one `admit` already did, so what is left to fail is its recursion-depth limit
/// (selection sets, fragments included, nested more than 32 deep): a refused document.
pub fn refused_while_parsing(error: ServerError) -> ServerError {
    with_code(error, TOO_COMPLEX)
}

/// An error of async-graphql's validation.
pub fn validation_failure(error: ServerError) -> ServerError {
    let code = if ASYNC_GRAPHQL_LIMIT_MESSAGES.contains(&error.message.as_str()) {
        TOO_COMPLEX
    } else {
        VALIDATION_FAILED
    };
    with_code(error, code)
}

/// Codes the errors async-graphql makes after validation, which no hook sees:
/// - request errors: an `operationName` that names no operation of the document, or none
///   given for a document of several (`BAD_REQUEST`);
/// - errors at a field that no resolver made, since every resolver's error has its code: the
///   field's arguments did not coerce (a variable left undefined, a value of the wrong type),
///   which is the client's input (`BAD_USER_INPUT`, as Apollo Server says too).
pub fn code_operation_errors(response: &mut Response) {
    let is_request_error =
        response.data == Value::Null && response.errors.iter().all(|error| error.path.is_empty());
    let code = if is_request_error {
        BAD_REQUEST
    } else {
        BAD_USER_INPUT
    };
    for error in &mut response.errors {
        set_code_if_missing(error, code);
    }
}

fn parse_failure(error: ParseError) -> ServerError {
    if matches!(error, ParseError::RecursionLimitExceeded) {
        return with_code(
            ServerError::new("Query is nested too deep to parse.", None),
            TOO_COMPLEX,
        );
    }
    with_code(ServerError::from(error), PARSE_FAILED)
}

fn with_code(mut error: ServerError, code: &str) -> ServerError {
    set_code_if_missing(&mut error, code);
    error
}

/// A code already set (by `limits`, say) is the more precise one and stays.
fn set_code_if_missing(error: &mut ServerError, code: &str) {
    let extensions = error
        .extensions
        .get_or_insert_with(ErrorExtensionValues::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::limits::Bounds;

    const LIMITS: DocumentLimits = DocumentLimits {
        bounds: Bounds::OPERATIONS,
        introspection: false,
    };

    fn code_of(error: &ServerError) -> Option<&str> {
        match error.extensions.as_ref()?.get("code")? {
            Value::String(code) => Some(code.as_str()),
            _ => None,
        }
    }

    fn admit_code(query: &str) -> Option<String> {
        admit(query, LIMITS).err().map(|error| {
            code_of(&error)
                .expect("every refusal has a code")
                .to_owned()
        })
    }

    #[test]
    fn admit_codes_each_kind_of_refusal() {
        assert_eq!(admit_code("{ me { id } }"), None);
        assert_eq!(admit_code("{ me { id }").as_deref(), Some(PARSE_FAILED));
        let too_deep_to_parse = format!("{}{}", "{ a ".repeat(100), "}".repeat(100));
        assert_eq!(admit_code(&too_deep_to_parse).as_deref(), Some(TOO_COMPLEX));
        let nested = format!("{}{}", "{ a ".repeat(11), "}".repeat(11));
        assert_eq!(admit_code(&nested).as_deref(), Some(TOO_COMPLEX));
        assert_eq!(
            admit_code("{ __schema { queryType { name } } }").as_deref(),
            Some(limits::INTROSPECTION_DISABLED)
        );
    }

    #[test]
    fn async_graphqls_own_limits_are_too_complex_and_the_rest_of_validation_is_not() {
        for message in ASYNC_GRAPHQL_LIMIT_MESSAGES {
            let error = validation_failure(ServerError::new(message, None));
            assert_eq!(code_of(&error), Some(TOO_COMPLEX));
        }
        let unknown = validation_failure(ServerError::new(
            "Unknown field \"x\" on type \"Query\".",
            None,
        ));
        assert_eq!(code_of(&unknown), Some(VALIDATION_FAILED));
    }

    #[test]
    fn a_code_already_set_is_kept() {
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "INTROSPECTION_DISABLED");
        let mut error = ServerError::new("refused", None);
        error.extensions = Some(extensions);

        let error = refused_while_parsing(validation_failure(error));

        assert_eq!(code_of(&error), Some("INTROSPECTION_DISABLED"));
    }

    #[test]
    fn request_errors_get_bad_request_and_uncoded_field_errors_bad_user_input() {
        let mut unresolved = Response::from_errors(vec![ServerError::new(
            "Unknown operation named \"B\"",
            None,
        )]);
        code_operation_errors(&mut unresolved);
        assert_eq!(code_of(&unresolved.errors[0]), Some(BAD_REQUEST));

        let at_field = |message: &str| {
            let mut error = ServerError::new(message, None);
            error.path = vec![async_graphql::PathSegment::Field("logout".into())];
            error
        };
        let mut coded = at_field("Sign in to do this.");
        coded
            .extensions
            .get_or_insert_with(ErrorExtensionValues::default)
            .set("code", "UNAUTHENTICATED");
        let mut executed =
            Response::from_errors(vec![at_field("Variable t is not defined."), coded]);
        code_operation_errors(&mut executed);
        assert_eq!(code_of(&executed.errors[0]), Some(BAD_USER_INPUT));
        assert_eq!(code_of(&executed.errors[1]), Some("UNAUTHENTICATED"));
    }
}

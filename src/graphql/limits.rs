//! Document-level limits async-graphql has no knob for (security.md): at most 10 root fields in
//! a mutation, and at most one of them checking credentials. Without these, one request could
//! carry a hundred aliased `login`s.

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

pub const MAX_ROOT_MUTATION_FIELDS: usize = 10;
/// Fields that verify a password or a secret token.
const CREDENTIAL_FIELDS: [&str; 4] = ["login", "resetPassword", "updateMe", "deleteMe"];

/// Refuses a document whose mutations exceed the root-field limits. Called from the schema's
/// extension (`instrumentation`) right after parsing, before anything executes.
///
/// # Errors
/// The refusal, as a request error.
pub fn check_document(document: &ExecutableDocument) -> Result<(), ServerError> {
    for (_, operation) in document.operations.iter() {
        if operation.node.ty != OperationType::Mutation {
            continue;
        }
        let mut names = Vec::new();
        root_field_names(document, &operation.node.selection_set.node, &mut names, 0);
        if names.len() > MAX_ROOT_MUTATION_FIELDS {
            return Err(ServerError::new(
                format!("A mutation may hold at most {MAX_ROOT_MUTATION_FIELDS} fields."),
                None,
            ));
        }
        if names
            .iter()
            .filter(|name| CREDENTIAL_FIELDS.contains(&name.as_str()))
            .count()
            > 1
        {
            return Err(ServerError::new(
                "A mutation may check credentials at most once (login, resetPassword, updateMe or deleteMe).",
                None,
            ));
        }
    }
    Ok(())
}

/// Whether every operation of a document reads only `__schema`, `__type` or `__typename`. A
/// cheap substring test spares ordinary documents the parse.
pub fn is_introspection_only(query: &str) -> bool {
    if !query.contains("__") {
        return false;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    document.operations.iter().all(|(_, operation)| {
        let mut names = Vec::new();
        root_field_names(&document, &operation.node.selection_set.node, &mut names, 0);
        operation.node.ty == OperationType::Query
            && !names.is_empty()
            && names.iter().all(|name| name.starts_with("__"))
    })
}

/// The names of the fields a selection set executes at its own level, looking through
/// fragment spreads and inline fragments (aliases are ignored: they are what we count).
fn root_field_names(
    document: &ExecutableDocument,
    set: &SelectionSet,
    names: &mut Vec<String>,
    depth: usize,
) {
    // Fragment cycles are a validation error; the depth cap keeps this walk finite regardless.
    if depth > 16 {
        return;
    }
    for selection in &set.items {
        match &selection.node {
            Selection::Field(field) => names.push(field.node.name.node.to_string()),
            Selection::InlineFragment(fragment) => {
                root_field_names(
                    document,
                    &fragment.node.selection_set.node,
                    names,
                    depth + 1,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    root_field_names(
                        document,
                        &fragment.node.selection_set.node,
                        names,
                        depth + 1,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}

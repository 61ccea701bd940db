//! What a document does once every fragment spread in it is expanded, measured without expanding
//! it: each fragment is measured once and its measure added wherever it is spread (docs/security.md).

use std::collections::HashMap;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};

/// The fields one selection set runs at its own level, looking through fragments. Fields with
/// the same response key are counted each time: over-counting only ever refuses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LevelFields {
    pub all: u64,
    /// Fields named in the `credential_fields` given to `measure`.
    pub credential: u64,
    /// `__typename`, `__schema` and `__type`.
    pub meta: u64,
}

/// One operation of a document: its type and the fields at its root.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationShape {
    pub ty: OperationType,
    pub root_fields: LevelFields,
}

/// The whole document, every operation in it, as executed. Counts saturate instead of
/// overflowing: a document of a few hundred bytes can expand past any integer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentShape {
    /// Fields, fragment spreads and inline fragments: the work of any walk over the document.
    pub selections: u64,
    /// The deepest nesting of fields; fragments add no level.
    pub depth: u64,
    pub aliases: u64,
    pub directives: u64,
    /// `__schema` and `__type` fields.
    pub introspection_fields: u64,
    pub operations: Vec<OperationShape>,
}

/// A fragment that spreads itself, directly or through others: a document without end.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FragmentCycle(pub String);

/// Measures `document`, each fragment definition once, in time linear in its written size.
/// Recursion follows the document's nesting, so it is as deep as the document has braces.
///
/// # Errors
/// `FragmentCycle` when a fragment spreads itself.
pub fn measure(
    document: &ExecutableDocument,
    credential_fields: &[&str],
) -> Result<DocumentShape, FragmentCycle> {
    let mut measurer = Measurer {
        document,
        credential_fields,
        fragments: HashMap::new(),
    };
    // Every definition, spread or not, so that no cycle goes unnoticed.
    for name in document.fragments.keys() {
        measurer.fragment(name)?;
    }
    let mut shape = DocumentShape::default();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        let set = measurer.selection_set(&operation.selection_set.node)?;
        let variable_directives = operation
            .variable_definitions
            .iter()
            .map(|variable| variable.node.directives.len());
        let own_directives = count(operation.directives.len())
            .saturating_add(count(variable_directives.fold(0, usize::saturating_add)));
        shape.selections = shape.selections.saturating_add(set.selections);
        shape.depth = shape.depth.max(set.depth);
        shape.aliases = shape.aliases.saturating_add(set.aliases);
        shape.directives = shape
            .directives
            .saturating_add(set.directives)
            .saturating_add(own_directives);
        shape.introspection_fields = shape
            .introspection_fields
            .saturating_add(set.introspection_fields);
        shape.operations.push(OperationShape {
            ty: operation.ty,
            root_fields: set.level,
        });
    }
    Ok(shape)
}

/// The measure of one selection set, fragments included.
#[derive(Clone, Copy, Default)]
struct Measure {
    selections: u64,
    depth: u64,
    aliases: u64,
    directives: u64,
    introspection_fields: u64,
    level: LevelFields,
}

impl Measure {
    /// Both selections side by side in one selection set.
    fn beside(self, other: Self) -> Self {
        Self {
            selections: self.selections.saturating_add(other.selections),
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
            directives: self.directives.saturating_add(other.directives),
            introspection_fields: self
                .introspection_fields
                .saturating_add(other.introspection_fields),
            level: LevelFields {
                all: self.level.all.saturating_add(other.level.all),
                credential: self.level.credential.saturating_add(other.level.credential),
                meta: self.level.meta.saturating_add(other.level.meta),
            },
        }
    }

    /// This selection set wrapped in a fragment spread or inline fragment with `directives`:
    /// one more selection, its fields still at the same level.
    fn wrapped(self, directives: usize) -> Self {
        Self {
            selections: self.selections.saturating_add(1),
            directives: self.directives.saturating_add(count(directives)),
            ..self
        }
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

enum Progress {
    Measuring,
    Measured(Measure),
}

struct Measurer<'a> {
    document: &'a ExecutableDocument,
    credential_fields: &'a [&'a str],
    fragments: HashMap<&'a str, Progress>,
}

impl<'a> Measurer<'a> {
    fn fragment(&mut self, name: &'a str) -> Result<Measure, FragmentCycle> {
        match self.fragments.get(name) {
            Some(Progress::Measured(measure)) => return Ok(*measure),
            Some(Progress::Measuring) => return Err(FragmentCycle(name.to_owned())),
            None => {}
        }
        // An unknown fragment is a validation error; it adds nothing here.
        let Some(definition) = self.document.fragments.get(name) else {
            return Ok(Measure::default());
        };
        self.fragments.insert(name, Progress::Measuring);
        let mut measure = self.selection_set(&definition.node.selection_set.node)?;
        measure.directives = measure
            .directives
            .saturating_add(count(definition.node.directives.len()));
        self.fragments.insert(name, Progress::Measured(measure));
        Ok(measure)
    }

    fn selection_set(&mut self, set: &'a SelectionSet) -> Result<Measure, FragmentCycle> {
        let mut total = Measure::default();
        for selection in &set.items {
            let measure = match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let children = self.selection_set(&field.selection_set.node)?;
                    let name = field.name.node.as_str();
                    let is_introspection = name == "__schema" || name == "__type";
                    Measure {
                        selections: children.selections.saturating_add(1),
                        depth: children.depth.saturating_add(1),
                        aliases: children
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                        directives: children
                            .directives
                            .saturating_add(count(field.directives.len())),
                        introspection_fields: children
                            .introspection_fields
                            .saturating_add(u64::from(is_introspection)),
                        level: LevelFields {
                            all: 1,
                            credential: u64::from(self.credential_fields.contains(&name)),
                            meta: u64::from(name.starts_with("__")),
                        },
                    }
                }
                Selection::InlineFragment(inline) => self
                    .selection_set(&inline.node.selection_set.node)?
                    .wrapped(inline.node.directives.len()),
                Selection::FragmentSpread(spread) => self
                    .fragment(spread.node.fragment_name.node.as_str())?
                    .wrapped(spread.node.directives.len()),
            };
            total = total.beside(measure);
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use async_graphql::parser::parse_query;

    use super::*;

    fn shape(query: &str) -> DocumentShape {
        measure(&parse_query(query).unwrap(), &["login"]).unwrap()
    }

    #[test]
    fn a_plain_query_is_measured_as_written() {
        let shape = shape("query($b: Boolean! @x) @y { a: me { id @skip(if: $b) email } }");
        assert_eq!(shape.selections, 3);
        assert_eq!(shape.depth, 2);
        assert_eq!(shape.aliases, 1);
        assert_eq!(shape.directives, 3);
        assert_eq!(
            shape.operations,
            [OperationShape {
                ty: OperationType::Query,
                root_fields: LevelFields {
                    all: 1,
                    credential: 0,
                    meta: 0
                },
            }]
        );
    }

    #[test]
    fn fragments_count_wherever_they_are_spread() {
        let shape = shape(
            "mutation { ...Twice ... on Mutation { ...Twice } } \
             fragment Twice on Mutation @d { a: login { user { id } } b: logout __typename }",
        );
        // Per spread: 5 fields plus the spread; twice, plus the inline fragment.
        assert_eq!(shape.selections, 13);
        assert_eq!(shape.depth, 3);
        assert_eq!(shape.aliases, 4);
        assert_eq!(shape.directives, 2);
        assert_eq!(
            shape.operations[0].root_fields,
            LevelFields {
                all: 6,
                credential: 2,
                meta: 2
            }
        );
    }

    #[test]
    fn every_operation_adds_to_the_document() {
        let shape = shape(
            "query A { __schema { types { name } } } query B { __type(name: \"X\") { name } }",
        );
        assert_eq!(shape.selections, 5);
        assert_eq!(shape.depth, 3);
        assert_eq!(shape.introspection_fields, 2);
        assert_eq!(shape.operations.len(), 2);
    }

    #[test]
    fn a_fragment_chain_of_any_length_is_counted_through() {
        let mut query = String::from("mutation { ...F0 }");
        for level in 0..100 {
            query.push_str(&format!(
                " fragment F{level} on Mutation {{ ...F{} }}",
                level + 1
            ));
        }
        query.push_str(" fragment F100 on Mutation { a: login b: login }");
        let shape = shape(&query);
        assert_eq!(shape.operations[0].root_fields.credential, 2);
        assert_eq!(shape.selections, 103);
    }

    #[test]
    fn an_exponential_document_is_measured_at_once_and_saturates() {
        // 3^60 leaves: past any u64, and far past anything a walk could visit.
        let mut query = String::from("{ ...F0 }");
        for level in 0..60 {
            let next = level + 1;
            query.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} ...F{next} }}"
            ));
        }
        query.push_str(" fragment F60 on Query { __typename }");
        let document = parse_query(&query).unwrap();

        let started = Instant::now();
        let shape = measure(&document, &[]).unwrap();

        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(shape.selections, u64::MAX);
        assert_eq!(shape.operations[0].root_fields.all, u64::MAX);
        assert_eq!(shape.depth, 1);
    }

    #[test]
    fn a_fragment_that_spreads_itself_is_a_cycle() {
        for query in [
            "{ ...A } fragment A on Query { ...A }",
            "{ me { id } } fragment A on Query { ...B } fragment B on Query { me { ...C } } fragment C on User { ... on User { ...A } }",
        ] {
            let document = parse_query(query).unwrap();
            assert!(measure(&document, &[]).is_err(), "{query}");
        }
        let document = parse_query(
            "{ ...A ...A } fragment A on Query { ...B ...B } fragment B on Query { me { id } }",
        )
        .unwrap();
        assert!(measure(&document, &[]).is_ok());
    }
}

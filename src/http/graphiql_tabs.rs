//! The tabs GraphiQL opens with: the common operations of `docs/operations/`, compiled in, their
//! comments rewrapped to fit the editor's default width and their `# Variables:` example moved
//! into the variables editor.

use std::sync::OnceLock;

/// The operations, in the order a newcomer uses them.
const DOCUMENTS: [&str; 9] = [
    include_str!("../../docs/operations/signup.graphql"),
    include_str!("../../docs/operations/login.graphql"),
    include_str!("../../docs/operations/me.graphql"),
    include_str!("../../docs/operations/refresh-token.graphql"),
    include_str!("../../docs/operations/my-sessions.graphql"),
    include_str!("../../docs/operations/update-me.graphql"),
    include_str!("../../docs/operations/logout.graphql"),
    include_str!("../../docs/operations/users.graphql"),
    include_str!("../../docs/operations/update-user.graphql"),
];

/// Comment lines are cut to this many characters: the query editor's width at GraphiQL's
/// default layout in a 1280-pixel window, with room to spare.
pub const COMMENT_WIDTH: usize = 48;

const VARIABLES: &str = "# Variables:";

/// `[{"query": ..., "variables": ...}]` for GraphiQL's `defaultTabs`, built once.
pub fn json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        let tabs: Vec<serde_json::Value> = DOCUMENTS.iter().map(|document| tab(document)).collect();
        serde_json::Value::Array(tabs).to_string()
    })
}

fn tab(document: &str) -> serde_json::Value {
    let mut comment = Vec::new();
    let mut variables = None;
    let mut body = Vec::new();
    for line in document.lines() {
        match line.strip_prefix('#') {
            Some(_) if !body.is_empty() => body.push(line),
            Some(_) if line.starts_with(VARIABLES) => {
                variables = Some(pretty_json(line[VARIABLES.len()..].trim()));
            }
            Some(text) => comment.push(text.trim()),
            None => body.push(line),
        }
    }
    let mut query = wrap(&comment.join(" "), COMMENT_WIDTH);
    query.push_str(&body.join("\n"));
    query.push('\n');
    serde_json::json!({ "query": query, "variables": variables })
}

/// The example as a JSON document laid out over lines, or as written if it is not JSON.
fn pretty_json(example: &str) -> String {
    serde_json::from_str::<serde_json::Value>(example)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| example.to_owned())
}

/// `text` as `# ` lines of at most `width` characters (a longer word stands alone).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() > 1 && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    if line.len() > 1 {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tab_starts_with_short_comment_lines_and_keeps_its_operation() {
        let tabs: Vec<serde_json::Value> = serde_json::from_str(json()).unwrap();
        assert_eq!(tabs.len(), DOCUMENTS.len());
        for tab in &tabs {
            let query = tab["query"].as_str().unwrap();
            let first = query.lines().next().unwrap();
            assert!(first.starts_with("# "), "{query}");
            for line in query.lines().take_while(|line| line.starts_with('#')) {
                assert!(line.chars().count() <= COMMENT_WIDTH, "{line}");
            }
            assert!(
                query.contains("query ")
                    || query.contains("mutation ")
                    || query.contains("subscription "),
                "{query}"
            );
            assert!(!query.contains(VARIABLES), "{query}");
        }
    }

    #[test]
    fn the_variables_example_moves_into_the_variables_editor() {
        let login = tab(include_str!("../../docs/operations/login.graphql"));
        let variables: serde_json::Value =
            serde_json::from_str(login["variables"].as_str().unwrap()).unwrap();
        assert_eq!(variables["input"]["email"], "ada@example.com");
        let me = tab(include_str!("../../docs/operations/me.graphql"));
        assert!(me["variables"].is_null());
    }
}

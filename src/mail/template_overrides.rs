//! `LATCHKEY_TEMPLATES_DIR`: mail templates an operator replaces, checked once at start-up so
//! that a bad one stops the server there, naming its file and line, and never fails a send.

use std::path::{Path, PathBuf};

use minijinja::Environment;

use super::templates::{self, BUILTIN, FILES, MailKind, MailTemplates};

/// Tags an override may not use. `autoescape` and `filter` (as in `{% filter safe %}`) could turn
/// the HTML escaping off; `include`, `import`, `from` and `extends` pull in another template,
/// whose escaping follows that template's own file name (a `.txt` body inside an `.html` one
/// would print values unescaped).
const REFUSED_TAGS: [&str; 6] = [
    "autoescape",
    "filter",
    "include",
    "import",
    "from",
    "extends",
];
/// The one filter that prints a value unescaped.
const REFUSED_FILTER: &str = "safe";

/// The templates for a server: the built-in ones, with each file found under `dir` in its place.
///
/// # Errors
/// One message naming the setting and the file (with its line where there is one): the
/// directory cannot be read; it holds a file or folder that is not a template's name (entries
/// whose names start with `.` are skipped); an override does not compile, uses a refused tag or
/// the `safe` filter, names a variable its kind lacks, or fails to render with sample values.
pub fn load(dir: Option<&Path>) -> Result<MailTemplates, String> {
    let Some(dir) = dir else {
        return Ok(MailTemplates::builtin());
    };
    let refuse = |path: &Path, line: Option<usize>, what: &str| {
        let place = match line {
            Some(line) => format!("{}:{line}", path.display()),
            None => path.display().to_string(),
        };
        format!("LATCHKEY_TEMPLATES_DIR: {place}: {what}")
    };
    let overrides = find_overrides(dir).map_err(|(path, what)| refuse(&path, None, &what))?;

    let mut env = templates::environment();
    for (name, source) in BUILTIN {
        if !overrides.iter().any(|found| found.name == name) {
            env.add_template(name, source)
                .map_err(|error| refuse(Path::new(name), error.line(), &describe(&error)))?;
        }
    }
    for found in &overrides {
        let source = std::fs::read_to_string(&found.path)
            .map_err(|error| refuse(&found.path, None, &format!("cannot be read: {error}")))?;
        check_escaping(&source).map_err(|(line, what)| refuse(&found.path, Some(line), &what))?;
        env.add_template_owned(found.name.clone(), source)
            .map_err(|error| refuse(&found.path, error.line(), &describe(&error)))?;
        check_variables(&env, found).map_err(|(line, what)| refuse(&found.path, line, &what))?;
    }

    let templates = MailTemplates::from_environment(env);
    // Rendered once with and once without the optional values, to take both sides of
    // `{% if name %}`; an error names the file the engine was in.
    for kind in MailKind::ALL {
        for with_optional in [true, false] {
            if let Err(error) = templates.render_value(kind, &kind.sample_context(with_optional)) {
                let name = error.name().unwrap_or(kind.as_str()).to_owned();
                let path = overrides
                    .iter()
                    .find(|found| found.name == name)
                    .map_or_else(|| PathBuf::from(&name), |found| found.path.clone());
                return Err(refuse(&path, error.line(), &describe(&error)));
            }
        }
    }
    for found in &overrides {
        tracing::info!(template = %found.name, "mail template replaced from LATCHKEY_TEMPLATES_DIR");
    }
    Ok(templates)
}

/// A file under the directory that replaces the built-in template `name`.
struct Override {
    name: String,
    kind: MailKind,
    path: PathBuf,
}

/// Every `KIND/FILE` under `dir`; anything else there is refused, so that a misspelt name is
/// not silently ignored while the built-in template goes on being sent.
fn find_overrides(dir: &Path) -> Result<Vec<Override>, (PathBuf, String)> {
    let mut found = Vec::new();
    for (kind_dir, kind_name) in entries(dir)? {
        let Some(kind) = MailKind::from_name(&kind_name) else {
            return Err((kind_dir, unknown("a mail kind", &kind_names())));
        };
        if !kind_dir.is_dir() {
            return Err((kind_dir, "is not a folder of templates".to_owned()));
        }
        for (path, file) in entries(&kind_dir)? {
            if !FILES.contains(&file.as_str()) {
                return Err((path, unknown("a template file", &FILES.join(", "))));
            }
            if !path.is_file() {
                return Err((path, "is not a file".to_owned()));
            }
            found.push(Override {
                name: format!("{kind_name}/{file}"),
                kind,
                path,
            });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// The entries of `dir` with their names, hidden ones (`.gitkeep`, an editor's swap file, the
/// `..data` links of a Kubernetes volume) left out.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, String)>, (PathBuf, String)> {
    let read_error = |error: std::io::Error| (dir.to_owned(), format!("cannot be read: {error}"));
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_error)? {
        let entry = entry.map_err(read_error)?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Err((path, "is not a template's name".to_owned()));
        };
        if !name.starts_with('.') {
            entries.push((path, name));
        }
    }
    Ok(entries)
}

fn unknown(what: &str, known: &str) -> String {
    format!("is not {what}; the names are {known}")
}

fn kind_names() -> String {
    MailKind::ALL.map(MailKind::as_str).join(", ")
}

/// Refuses the constructs that could print a value unescaped (see [`REFUSED_TAGS`]). The scan
/// reads the whole source, text included, so it errs towards refusing: a body that says
/// `| safe` in plain words is refused too, and the message says why.
fn check_escaping(source: &str) -> Result<(), (usize, String)> {
    let line_of = |offset: usize| source[..offset].matches('\n').count() + 1;
    for (offset, _) in source.match_indices("{%") {
        let rest = source[offset + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start();
        let tag = identifier_at(rest);
        if REFUSED_TAGS.contains(&tag) {
            return Err((
                line_of(offset),
                format!(
                    "the `{tag}` tag is not allowed in mail templates (it could print values \
                     unescaped)"
                ),
            ));
        }
    }
    for (offset, _) in source.match_indices('|') {
        if identifier_at(source[offset + 1..].trim_start()) == REFUSED_FILTER {
            return Err((
                line_of(offset),
                "the `safe` filter is not allowed in mail templates: every value is escaped"
                    .to_owned(),
            ));
        }
    }
    Ok(())
}

fn identifier_at(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// Every variable the template reads must be one its kind gets (or one of the engine's own
/// functions, such as `range`): checked on the source, so a branch the sample values never take
/// is checked too.
fn check_variables(
    env: &Environment<'static>,
    found: &Override,
) -> Result<(), (Option<usize>, String)> {
    let template = env
        .get_template(&found.name)
        .map_err(|error| (error.line(), describe(&error)))?;
    let known = found.kind.variables();
    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|name| {
            !known.iter().any(|variable| variable.name == name)
                && env.globals().all(|(global, _)| global != name)
        })
        .collect();
    unknown.sort();
    let Some(first) = unknown.first() else {
        return Ok(());
    };
    let line = line_of_use(template.source(), first);
    let names: Vec<&str> = known.iter().map(|variable| variable.name).collect();
    Err((
        line,
        format!(
            "`{first}` is not a variable of {} mail; it has {}",
            found.kind.as_str(),
            names.join(", ")
        ),
    ))
}

/// The line of the first place `name` stands as a word inside `{{ }}` or `{% %}`.
fn line_of_use(source: &str, name: &str) -> Option<usize> {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    source.match_indices(name).find_map(|(offset, _)| {
        let before = &source[..offset];
        let after = &source[offset + name.len()..];
        let whole_word = !before.ends_with(is_word) && !after.starts_with(is_word);
        let opened = before.rfind("{{").max(before.rfind("{%"));
        let closed = before.rfind("}}").max(before.rfind("%}"));
        let in_code = opened.is_some() && opened > closed;
        (whole_word && in_code).then(|| before.matches('\n').count() + 1)
    })
}

/// The engine's error in one line, without the file and line it may append (the caller puts
/// those first).
fn describe(error: &minijinja::Error) -> String {
    match error.detail() {
        Some(detail) => format!("{}: {detail}", error.kind()),
        None => error.kind().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, source) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, source).unwrap();
        }
        dir
    }

    fn refusal(files: &[(&str, &str)]) -> String {
        let dir = dir_with(files);
        load(Some(dir.path())).expect_err("refused")
    }

    #[test]
    fn without_a_directory_the_builtin_templates_serve() {
        let templates = load(None).unwrap();
        let mail = templates
            .render_value(
                MailKind::PasswordReset,
                &MailKind::PasswordReset.sample_context(true),
            )
            .unwrap();
        assert_eq!(mail.subject, "Reset your password");
    }

    #[test]
    fn every_builtin_template_renders_with_and_without_the_optional_values() {
        let templates = MailTemplates::builtin();
        for kind in MailKind::ALL {
            for with_optional in [true, false] {
                let mail = templates
                    .render_value(kind, &kind.sample_context(with_optional))
                    .unwrap();
                assert!(!mail.html.contains("<Lovelace>"), "{kind:?}");
            }
        }
    }

    #[test]
    fn an_override_replaces_only_its_own_file() {
        let dir = dir_with(&[("password_reset/subject.txt", "Hi {{ email }}")]);
        let templates = load(Some(dir.path())).unwrap();
        let context = MailKind::PasswordReset.sample_context(true);
        let mail = templates
            .render_value(MailKind::PasswordReset, &context)
            .unwrap();
        assert_eq!(mail.subject, "Hi ada@example.com");
        assert!(
            mail.text
                .contains("https://app.example.com/path?token=sample-token&x=1")
        );
    }

    #[test]
    fn a_syntax_error_names_the_file_and_line() {
        let message = refusal(&[("invitation/body.html", "<p>\n{{ email }}\n{% if %}\n</p>")]);
        assert!(message.contains("invitation/body.html:3:"), "{message}");
    }

    #[test]
    fn an_unknown_variable_is_refused_even_in_a_branch_never_taken() {
        let message = refusal(&[(
            "password_changed/body.txt",
            "Hello\n{% if false %}{{ link }}{% endif %}",
        )]);
        assert!(
            message.contains("password_changed/body.txt:2:"),
            "{message}"
        );
        assert!(message.contains("`link`"), "{message}");
    }

    #[test]
    fn the_safe_filter_and_escape_switches_are_refused() {
        for source in [
            "{{ name|safe }}",
            "{{ name | e | safe }}",
            "{%- autoescape false %}{{ name }}{% endautoescape %}",
            "{% filter upper %}{{ name }}{% endfilter %}",
            "{% include 'signup_attempt/body.txt' %}",
            "{% extends 'signup_attempt/body.txt' %}",
        ] {
            let message = refusal(&[("signup_attempt/body.html", source)]);
            assert!(
                message.contains("signup_attempt/body.html:1:"),
                "{source}: {message}"
            );
            assert!(message.contains("not allowed"), "{source}: {message}");
        }
    }

    #[test]
    fn unknown_names_in_the_directory_are_refused_and_hidden_ones_skipped() {
        let message = refusal(&[("password_rest/body.html", "x")]);
        assert!(message.contains("password_rest"), "{message}");
        assert!(message.contains("is not a mail kind"), "{message}");
        let message = refusal(&[("password_reset/body.htm", "x")]);
        assert!(message.contains("is not a template file"), "{message}");
        let dir = dir_with(&[(".gitkeep", ""), ("password_reset/.body.html.swp", "{{")]);
        assert!(load(Some(dir.path())).is_ok());
    }

    #[test]
    fn a_render_error_with_sample_values_is_refused_at_start() {
        let message = refusal(&[("email_changed/body.txt", "a\n{{ new_email.upper() }}")]);
        assert!(message.contains("email_changed/body.txt:2:"), "{message}");
    }
}

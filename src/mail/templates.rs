//! Message templates: a subject, a text body and an HTML body per kind, under `templates/mail/`.
//! HTML bodies are auto-escaped, so a name like `<script>` arrives as text.

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    PasswordReset,
    PasswordChanged,
    EmailChanged,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct RenderedMail {
    pub kind: MailKind,
    pub subject: String,
    pub text: String,
    pub html: String,
}

macro_rules! template_files {
    ($($kind:literal),*) => {
        [$(
            (concat!($kind, "/subject.txt"), include_str!(concat!("../../templates/mail/", $kind, "/subject.txt"))),
            (concat!($kind, "/body.txt"), include_str!(concat!("../../templates/mail/", $kind, "/body.txt"))),
            (concat!($kind, "/body.html"), include_str!(concat!("../../templates/mail/", $kind, "/body.html"))),
        )*]
    };
}

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in template_files!("password_reset", "password_changed", "email_changed")
        {
            env.add_template(name, source)
                .expect("mail templates are valid");
        }
        env
    })
}

/// Renders one message. Templates are compiled into the binary and checked by the tests, so a
/// failure here is a programming error and reported as such.
///
/// # Errors
/// When a template refers to something the context lacks.
pub fn render<C: Serialize>(kind: MailKind, context: &C) -> Result<RenderedMail, minijinja::Error> {
    let env = environment();
    let name = kind.as_str();
    let subject = env
        .get_template(&format!("{name}/subject.txt"))?
        .render(context)?;
    // A subject is one header line: whatever the template produced, keep it on one line.
    let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = env
        .get_template(&format!("{name}/body.txt"))?
        .render(context)?;
    let html = env
        .get_template(&format!("{name}/body.html"))?
        .render(context)?;
    Ok(RenderedMail {
        kind,
        subject,
        text,
        html,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_bodies_escape_user_text_and_text_bodies_keep_links_whole() {
        let context = serde_json::json!({
            "name": "<script>alert(1)</script>",
            "email": "ada@example.com",
            "link": "http://app.test/reset?token=abc&x=1",
            "valid_minutes": 60,
        });
        let mail = render(MailKind::PasswordReset, &context).unwrap();
        assert_eq!(mail.subject, "Reset your password");
        assert!(!mail.html.contains("<script>"));
        assert!(mail.html.contains("&lt;script&gt;"));
        assert!(mail.text.contains("http://app.test/reset?token=abc&x=1"));
    }

    #[test]
    fn every_kind_renders() {
        let context = serde_json::json!({"name": null, "email": "a@b.co", "old_email": "a@b.co", "new_email": "c@d.co"});
        for kind in [MailKind::PasswordChanged, MailKind::EmailChanged] {
            let mail = render(kind, &context).unwrap();
            assert!(!mail.subject.is_empty() && !mail.text.is_empty() && !mail.html.is_empty());
        }
    }
}

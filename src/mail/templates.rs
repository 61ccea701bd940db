//! Message templates: a subject, a text body and an HTML body per kind, under `templates/mail/`.
//! HTML bodies are auto-escaped, so a name like `<script>` arrives as text. Text an account
//! chose goes only into mail to an address proven to be its own (see [`account_text`]).

use std::sync::OnceLock;

use minijinja::Environment;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    PasswordReset,
    PasswordChanged,
    EmailChanged,
    /// A set-password link for an account an administrator created without a password.
    Invitation,
    /// A link that confirms the account's address.
    EmailVerification,
    /// To the owner of an address someone tried to sign up with, when signup does not say so.
    SignupAttempt,
    /// A link to the address an account wants to move to; the move happens when it is opened.
    EmailChangeConfirmation,
    /// To the old address, when a move to a new one awaits the new address's confirmation.
    EmailChangeRequested,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::EmailChanged => "email_changed",
            Self::Invitation => "invitation",
            Self::EmailVerification => "email_verification",
            Self::SignupAttempt => "signup_attempt",
            Self::EmailChangeConfirmation => "email_change_confirmation",
            Self::EmailChangeRequested => "email_change_requested",
        }
    }
}

/// A message as its template rendered it. Its bodies may hold a token-bearing link, so `Debug`
/// shows only its kind and subject.
#[derive(Clone)]
pub struct RenderedMail {
    pub kind: MailKind,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl std::fmt::Debug for RenderedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderedMail")
            .field("kind", &self.kind)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
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
        for (name, source) in template_files!(
            "password_reset",
            "password_changed",
            "email_changed",
            "invitation",
            "email_verification",
            "signup_attempt",
            "email_change_confirmation",
            "email_change_requested"
        ) {
            env.add_template(name, source)
                .expect("mail templates are valid");
        }
        env
    })
}

/// Text the account chose for itself (its name, an address it moved to), for a mail to an address
/// that is or is not verified: only a verified address gets it. Anyone can sign up with a
/// stranger's address, and latchkey must not deliver their words to that stranger; without it,
/// the templates greet neutrally.
pub fn account_text<T>(text: Option<T>, address_verified: bool) -> Option<T> {
    text.filter(|_| address_verified)
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
    fn account_text_reaches_verified_addresses_only() {
        assert_eq!(account_text(Some("Ada"), true), Some("Ada"));
        assert_eq!(account_text(Some("Ada"), false), None);
        assert_eq!(account_text(None::<&str>, true), None);
    }

    #[test]
    fn without_account_text_mail_greets_neutrally_and_says_no_new_address() {
        let context = serde_json::json!({"name": null, "old_email": "a@b.co", "new_email": null});
        let mail = render(MailKind::EmailChanged, &context).unwrap();
        assert!(mail.text.starts_with("Hello,\n"), "{}", mail.text);
        assert!(
            mail.text.contains("from a@b.co to another address."),
            "{}",
            mail.text
        );
        assert!(mail.html.contains("<p>Hello,</p>"), "{}", mail.html);
        assert!(mail.html.contains("to another address."), "{}", mail.html);
    }

    #[test]
    fn every_kind_renders() {
        let context = serde_json::json!({"name": null, "email": "a@b.co", "old_email": "a@b.co", "new_email": "c@d.co", "link": "http://app.test/x?token=t", "valid_minutes": 60, "valid_days": 7, "valid_hours": 24});
        for kind in [
            MailKind::PasswordReset,
            MailKind::PasswordChanged,
            MailKind::EmailChanged,
            MailKind::Invitation,
            MailKind::EmailVerification,
            MailKind::SignupAttempt,
            MailKind::EmailChangeConfirmation,
            MailKind::EmailChangeRequested,
        ] {
            let mail = render(kind, &context).unwrap();
            assert!(!mail.subject.is_empty() && !mail.text.is_empty() && !mail.html.is_empty());
        }
    }

    #[test]
    fn the_new_kinds_escape_what_an_account_chose_in_html() {
        let hostile = "<b>x</b>@example.com";
        let context = serde_json::json!({"name": "<script>", "email": hostile, "old_email": hostile, "new_email": hostile, "link": "http://app.test/v?token=a&b=1", "valid_hours": 1});
        for kind in [
            MailKind::EmailVerification,
            MailKind::SignupAttempt,
            MailKind::EmailChangeConfirmation,
            MailKind::EmailChangeRequested,
        ] {
            let mail = render(kind, &context).unwrap();
            assert!(
                !mail.html.contains("<script>") && !mail.html.contains("<b>x</b>"),
                "{kind:?}: {}",
                mail.html
            );
            assert!(!mail.text.contains("1 hours"), "{kind:?}: {}", mail.text);
        }
    }
}

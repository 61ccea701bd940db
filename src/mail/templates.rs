//! Message templates: a subject, a text body and an HTML body per kind, under `templates/mail/`,
//! each replaceable by a file of the same name under `LATCHKEY_TEMPLATES_DIR` (`template_overrides`).
//! HTML bodies are auto-escaped, so a name like `<script>` arrives as text. Text an account
//! chose goes only into mail to an address proven to be its own (see [`account_text`]).

use std::sync::Arc;

use minijinja::{Environment, ErrorKind, UndefinedBehavior, Value};
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

/// One value a kind's templates get. An optional one is `none` when the mail must not or cannot
/// say it (see [`account_text`]), so templates test it with `{% if name %}`.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    pub name: &'static str,
    pub optional: bool,
    /// What a template is rendered with at start-up, to prove it renders.
    sample: Sample,
}

#[derive(Debug, Clone, Copy)]
enum Sample {
    Text(&'static str),
    Number(u64),
}

const fn text(name: &'static str, sample: &'static str) -> Variable {
    Variable {
        name,
        optional: false,
        sample: Sample::Text(sample),
    }
}

const fn optional(name: &'static str, sample: &'static str) -> Variable {
    Variable {
        name,
        optional: true,
        sample: Sample::Text(sample),
    }
}

const fn number(name: &'static str, sample: u64) -> Variable {
    Variable {
        name,
        optional: false,
        sample: Sample::Number(sample),
    }
}

const NAME: Variable = optional("name", "Ada <Lovelace> & Co");
const EMAIL: Variable = text("email", "ada@example.com");
const OLD_EMAIL: Variable = text("old_email", "ada@example.com");
const NEW_EMAIL: Variable = optional("new_email", "ada@example.org");
const LINK: Variable = text(
    "link",
    "https://app.example.com/path?token=sample-token&x=1",
);
const VALID_MINUTES: Variable = number("valid_minutes", 60);
const VALID_HOURS: Variable = number("valid_hours", 24);
const VALID_DAYS: Variable = number("valid_days", 7);

/// The three files of every kind, in the order a message is rendered.
pub const FILES: [&str; 3] = ["subject.txt", "body.txt", "body.html"];

impl MailKind {
    pub const ALL: [MailKind; 8] = [
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::EmailChanged,
        Self::Invitation,
        Self::EmailVerification,
        Self::SignupAttempt,
        Self::EmailChangeConfirmation,
        Self::EmailChangeRequested,
    ];

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

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// Exactly the values the services render this kind with (docs/operations.md lists them).
    pub fn variables(self) -> &'static [Variable] {
        match self {
            Self::PasswordReset => &[NAME, EMAIL, LINK, VALID_MINUTES],
            Self::PasswordChanged | Self::SignupAttempt => &[NAME, EMAIL],
            Self::EmailChanged | Self::EmailChangeRequested => &[NAME, OLD_EMAIL, NEW_EMAIL],
            Self::Invitation => &[EMAIL, LINK, VALID_DAYS],
            Self::EmailVerification | Self::EmailChangeConfirmation => &[EMAIL, LINK, VALID_HOURS],
        }
    }

    /// Sample values for every variable; optional ones present or `none`.
    pub(super) fn sample_context(self, with_optional: bool) -> Value {
        self.variables()
            .iter()
            .map(|variable| {
                let value = match variable.sample {
                    _ if variable.optional && !with_optional => Value::from(()),
                    Sample::Text(text) => Value::from(text),
                    Sample::Number(number) => Value::from(number),
                };
                (variable.name, value)
            })
            .collect()
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

macro_rules! builtin_files {
    ($($kind:literal),*) => {
        [$(
            (concat!($kind, "/subject.txt"), include_str!(concat!("../../templates/mail/", $kind, "/subject.txt"))),
            (concat!($kind, "/body.txt"), include_str!(concat!("../../templates/mail/", $kind, "/body.txt"))),
            (concat!($kind, "/body.html"), include_str!(concat!("../../templates/mail/", $kind, "/body.html"))),
        )*]
    };
}

/// The templates compiled into the binary, by name (`password_reset/body.html`).
pub(super) const BUILTIN: [(&str, &str); 24] = builtin_files!(
    "password_reset",
    "password_changed",
    "email_changed",
    "invitation",
    "email_verification",
    "signup_attempt",
    "email_change_confirmation",
    "email_change_requested"
);

/// The templates a server renders its mail with: the built-in ones, some perhaps replaced at
/// start-up. Cheap to clone.
#[derive(Clone)]
pub struct MailTemplates {
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for MailTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTemplates").finish_non_exhaustive()
    }
}

/// The engine as every template runs in it: a variable a template names but the kind lacks is
/// an error, not an empty string; `.html` templates escape what they print (minijinja picks
/// the escaping from the file name).
pub(super) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

impl MailTemplates {
    /// The built-in templates only.
    pub fn builtin() -> Self {
        let mut env = environment();
        for (name, source) in BUILTIN {
            env.add_template(name, source)
                .expect("the built-in mail templates compile (checked by the unit tests)");
        }
        Self { env: Arc::new(env) }
    }

    pub(super) fn from_environment(env: Environment<'static>) -> Self {
        Self { env: Arc::new(env) }
    }

    /// Renders one message.
    ///
    /// # Errors
    /// When `context` lacks a variable of the kind (a programming error: every template was
    /// rendered at start-up with every variable), or a template fails on a value.
    pub fn render<C: Serialize>(
        &self,
        kind: MailKind,
        context: &C,
    ) -> Result<RenderedMail, minijinja::Error> {
        let context = Value::from_serialize(context);
        for variable in kind.variables() {
            if context.get_attr(variable.name)?.is_undefined() {
                return Err(minijinja::Error::new(
                    ErrorKind::UndefinedError,
                    format!(
                        "{} mail rendered without `{}`",
                        kind.as_str(),
                        variable.name
                    ),
                ));
            }
        }
        self.render_value(kind, &context)
    }

    pub(super) fn render_value(
        &self,
        kind: MailKind,
        context: &Value,
    ) -> Result<RenderedMail, minijinja::Error> {
        let name = kind.as_str();
        let [subject, text, html] =
            FILES.map(|file| self.env.get_template(&format!("{name}/{file}")));
        // A subject is one header line: whatever the template produced, keep it on one line.
        let subject = subject?.render(context)?;
        let subject = subject.split_whitespace().collect::<Vec<_>>().join(" ");
        Ok(RenderedMail {
            kind,
            subject,
            text: text?.render(context)?,
            html: html?.render(context)?,
        })
    }
}

/// Text the account chose for itself (its name, an address it moved to), for a mail to an address
/// that is or is not verified: only a verified address gets it. Anyone can sign up with a
/// stranger's address, and latchkey must not deliver their words to that stranger; without it,
/// the templates greet neutrally.
pub fn account_text<T>(text: Option<T>, address_verified: bool) -> Option<T> {
    text.filter(|_| address_verified)
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
        let mail = MailTemplates::builtin()
            .render(MailKind::PasswordReset, &context)
            .unwrap();
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
        let mail = MailTemplates::builtin()
            .render(MailKind::EmailChanged, &context)
            .unwrap();
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
        for kind in MailKind::ALL {
            let mail = MailTemplates::builtin().render(kind, &context).unwrap();
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
            let mail = MailTemplates::builtin().render(kind, &context).unwrap();
            assert!(
                !mail.html.contains("<script>") && !mail.html.contains("<b>x</b>"),
                "{kind:?}: {}",
                mail.html
            );
            assert!(!mail.text.contains("1 hours"), "{kind:?}: {}", mail.text);
        }
    }
}

//! The domain types of accounts: validated values (`Email`, `NewPassword`, `DisplayName`) and
//! the rules that make them. Once one exists it is known to be well-formed, so nothing further in
//! has to check again.

use std::fmt;

use secrecy::SecretString;
use unicode_normalization::UnicodeNormalization as _;
use uuid::Uuid;

/// A typed id: a `Uuid` that says what it names, so a session id cannot be passed where a user
/// id belongs. Converts to and from `Uuid` where it meets the database and the token layer.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// A new random id (v4), never handed out before.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

uuid_id!(
    /// An account's id: random and never reused, so a token of a deleted account can never
    /// name a new one.
    UserId
);
uuid_id!(
    /// A session's id: one sign-in, shared by its access tokens and its chain of refresh tokens.
    SessionId
);

/// A value that failed validation, naming the input field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

pub const EMAIL_MAX_CHARS: usize = 254;
/// The default and the lowest allowed minimum password length.
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const NAME_MAX_CHARS: usize = 100;

/// An email address in one canonical spelling, so that look-alikes cannot make second accounts:
/// trimmed, NFKC-normalised (fullwidth `ａｄｍｉｎ` is `admin`), lower-cased, its domain in ASCII
/// (IDN labels as punycode), at most 254 characters. Only addresses valid under the WHATWG
/// "valid email address" rule (what `<input type=email>` accepts: an ASCII local part, no quoted
/// strings) that lettre can also deliver to are accepted, so it can never inject a mail header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// A `FieldError` for `field` saying what is wrong.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(field, "Enter an email address."));
        }
        let too_long = || FieldError::new(field, "An email address has at most 254 characters.");
        // Checked before normalising too, to bound the work a huge input can cause.
        if trimmed.chars().count() > EMAIL_MAX_CHARS {
            return Err(too_long());
        }
        let invalid =
            || FieldError::new(field, "Enter a valid email address, like name@example.com.");
        if trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
        {
            return Err(invalid());
        }
        let folded = trimmed.nfkc().collect::<String>().to_lowercase();
        let (local, domain) = folded.rsplit_once('@').ok_or_else(invalid)?;
        if !is_web_form_local_part(local) {
            return Err(invalid());
        }
        let domain = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
        // A numeric last label would make the domain an IPv4 address: no top-level domain is.
        let numeric_top = domain
            .rsplit('.')
            .next()
            .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()));
        if !domain.contains('.') || numeric_top || !domain.split('.').all(is_web_form_domain_label)
        {
            return Err(invalid());
        }
        let canonical = format!("{local}@{domain}");
        if canonical.chars().count() > EMAIL_MAX_CHARS {
            return Err(too_long());
        }
        canonical
            .parse::<lettre::Address>()
            .map_err(|_| invalid())?;
        Ok(Self(canonical))
    }

    /// An address read back from the database. It was canonical when it was stored and is not
    /// checked again: a rule tightened since must not lock its owner out of a reset or a
    /// profile change. Only for values the service itself stored, never for input.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0
            .rsplit_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The rules for a password a user is choosing (NIST 800-63B): a length in characters counted
/// after NFKC, any character allowed, no composition rules, not on the breached list, never the
/// email or its local part.
#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_chars: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_chars: PASSWORD_MIN_CHARS,
        }
    }
}

/// A password that passed the policy. It is kept exactly as typed: NFKC only decides the length
/// and the list look-up, so nothing is ever truncated or altered.
pub struct NewPassword(SecretString);

impl PasswordPolicy {
    /// # Errors
    /// A `FieldError` for `field` saying which rule the password breaks.
    pub fn check(
        self,
        field: &'static str,
        raw: &str,
        email: &Email,
    ) -> Result<NewPassword, FieldError> {
        let normalised: String = raw.nfkc().collect();
        let length = normalised.chars().count();
        if length < self.min_chars {
            return Err(FieldError::new(
                field,
                format!("Use at least {} characters.", self.min_chars),
            ));
        }
        if length > PASSWORD_MAX_CHARS {
            return Err(FieldError::new(field, "Use at most 128 characters."));
        }
        let folded = normalised.to_lowercase();
        if folded == email.as_str() || folded == email.local_part() {
            return Err(FieldError::new(
                field,
                "Choose a password that is not your email address.",
            ));
        }
        if super::common_passwords::is_common(&folded) {
            return Err(FieldError::new(
                field,
                "This password is among the most common ones and easy to guess. Choose another.",
            ));
        }
        Ok(NewPassword(SecretString::from(raw.to_owned())))
    }
}

impl NewPassword {
    pub fn into_secret(self) -> SecretString {
        self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

/// A display name: trimmed, 1 to 100 characters, no control or invisible direction-changing
/// characters (they make names lie about what they say in mails and admin screens).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// # Errors
    /// A `FieldError` for `field` saying what is wrong.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, FieldError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(FieldError::new(field, "A name cannot be empty."));
        }
        if trimmed.chars().count() > NAME_MAX_CHARS {
            return Err(FieldError::new(field, "A name has at most 100 characters."));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() || is_invisible_format(c))
        {
            return Err(FieldError::new(
                field,
                "A name cannot contain control or invisible formatting characters.",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// The local part of the WHATWG "valid email address" rule: one or more of these ASCII characters.
fn is_web_form_local_part(local: &str) -> bool {
    !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".!#$%&'*+/=?^_`{|}~-".contains(&b))
}

/// A domain label of the WHATWG rule: 1 to 63 ASCII letters, digits and inner hyphens.
fn is_web_form_domain_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes.first() != Some(&b'-')
        && bytes.last() != Some(&b'-')
}

/// Bidirectional overrides and marks, zero-width characters and the BOM: invisible characters
/// that change how text around them reads.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(raw: &str) -> Email {
        Email::parse("email", raw).unwrap()
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(email("  Ada@Example.COM ").as_str(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_refused_with_their_field() {
        for raw in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@example.com\r\nBcc: x@y.z",
            "ada\u{202E}@example.com",
        ] {
            let error = Email::parse("email", raw).unwrap_err();
            assert_eq!(error.field, "email", "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse("email", &long).is_err());
    }

    #[test]
    fn look_alike_spellings_of_an_email_are_one_address() {
        assert_eq!(
            email("\u{FF41}\u{FF44}\u{FF4D}\u{FF49}\u{FF4E}@example.com").as_str(),
            "admin@example.com"
        );
        assert_eq!(
            email("ADMIN@\u{FF45}xample.com").as_str(),
            "admin@example.com"
        );
        // The Kelvin sign folds to a plain k.
        assert_eq!(email("\u{212A}en@example.com").as_str(), "ken@example.com");
    }

    #[test]
    fn internationalised_domains_are_kept_as_punycode() {
        assert_eq!(
            email("Ada@B\u{FC}cher.Example").as_str(),
            "ada@xn--bcher-kva.example"
        );
        assert_eq!(
            email("ada@xn--bcher-kva.example").as_str(),
            "ada@xn--bcher-kva.example"
        );
    }

    #[test]
    fn only_addresses_a_web_form_accepts_are_valid() {
        for raw in [
            "o'brien+tag@example.ie",
            "first.last@sub.example.com",
            "x!#$%&*/=?^_`{|}~-@example.com",
            "user@a-b.example",
        ] {
            assert!(Email::parse("email", raw).is_ok(), "{raw:?}");
        }
        for raw in [
            "\"<b>x</b>\"@example.com",
            "\"ada\"@example.com",
            "j\u{F6}rg@example.com",
            "ada(comment)@example.com",
            "ada@-example.com",
            "ada@example-.com",
            "ada@exa_mple.com",
            "ada@example..com",
            "ada@example.com.",
            "ada@[127.0.0.1]",
            "ada@127.0.0.1",
            ".ada@example.com",
            "ada..lovelace@example.com",
        ] {
            assert!(Email::parse("email", raw).is_err(), "{raw:?}");
        }
        let label = "a".repeat(64);
        assert!(Email::parse("email", &format!("ada@{label}.com")).is_err());
    }

    fn check(raw: &str, owner: &Email) -> Result<NewPassword, FieldError> {
        PasswordPolicy::default().check("password", raw, owner)
    }

    #[test]
    fn password_length_counts_characters_not_bytes() {
        let owner = email("ada@example.com");
        assert!(check(&"🔑".repeat(128), &owner).is_ok());
        assert!(check(&"🔑".repeat(129), &owner).is_err());
        assert!(check("seven77", &owner).is_err());
        assert!(check("correct horse battery", &owner).is_ok());
    }

    #[test]
    fn a_password_may_not_be_the_email_or_its_local_part() {
        let owner = email("ada.lovelace@example.com");
        assert!(check("Ada.Lovelace@example.com", &owner).is_err());
        assert!(check("ada.lovelace", &owner).is_err());
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let owner = email("ada@example.com");
        let error = check("IloveYou", &owner).unwrap_err();
        assert!(error.message.contains("common"));
    }

    #[test]
    fn the_minimum_length_is_configurable() {
        let owner = email("ada@example.com");
        let strict = PasswordPolicy { min_chars: 15 };
        assert!(strict.check("password", "fourteen chars", &owner).is_err());
        assert!(strict.check("password", "fifteen chars!!", &owner).is_ok());
    }

    #[test]
    fn names_refuse_control_and_direction_characters() {
        assert_eq!(
            DisplayName::parse("name", "  Ada  ").unwrap().into_string(),
            "Ada"
        );
        for raw in ["", "   ", "a\u{0}b", "a\nb", "evil\u{202E}gnp.exe"] {
            assert!(DisplayName::parse("name", raw).is_err(), "{raw:?}");
        }
        assert!(DisplayName::parse("name", &"n".repeat(101)).is_err());
        assert!(DisplayName::parse("name", &"n".repeat(100)).is_ok());
    }
}

//! Validated values at the edge: once an `Email`, `NewPassword` or `DisplayName` exists it is
//! known to be well-formed, so nothing further in has to check again.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};
use unicode_normalization::UnicodeNormalization as _;

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
pub const PASSWORD_MIN_CHARS: usize = 8;
pub const PASSWORD_MAX_CHARS: usize = 128;
pub const NAME_MAX_CHARS: usize = 100;

/// An email address: trimmed, lower-cased (addresses compare case-insensitively), at most 254
/// characters, and parseable as a mailbox so it can never inject a mail header.
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
        if trimmed.chars().count() > EMAIL_MAX_CHARS {
            return Err(FieldError::new(
                field,
                "An email address has at most 254 characters.",
            ));
        }
        let normalised = trimmed.to_lowercase();
        let invalid =
            || FieldError::new(field, "Enter a valid email address, like name@example.com.");
        if normalised
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || is_invisible_format(c))
        {
            return Err(invalid());
        }
        let (local, domain) = normalised.rsplit_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || domain.is_empty()
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(invalid());
        }
        normalised
            .parse::<lettre::Address>()
            .map_err(|_| invalid())?;
        Ok(Self(normalised))
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

/// A password a user is choosing (NIST 800-63B): 8 to 128 characters counted after NFKC,
/// any character allowed, no composition rules, never the email or its local part.
/// It is stored exactly as typed; NFKC only decides the length, so nothing is ever truncated.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// # Errors
    /// A `FieldError` for `field` saying which rule the password breaks.
    pub fn parse(field: &'static str, raw: &str, email: &Email) -> Result<Self, FieldError> {
        let normalised: String = raw.nfkc().collect();
        let length = normalised.chars().count();
        if length < PASSWORD_MIN_CHARS {
            return Err(FieldError::new(field, "Use at least 8 characters."));
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
        Ok(Self(SecretString::from(raw.to_owned())))
    }

    pub fn into_secret(self) -> SecretString {
        self.0
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
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
    fn password_length_counts_characters_not_bytes() {
        let owner = email("ada@example.com");
        assert!(NewPassword::parse("password", &"🔑".repeat(128), &owner).is_ok());
        assert!(NewPassword::parse("password", &"🔑".repeat(129), &owner).is_err());
        assert!(NewPassword::parse("password", "seven77", &owner).is_err());
        assert!(NewPassword::parse("password", "correct horse battery", &owner).is_ok());
    }

    #[test]
    fn a_password_may_not_be_the_email_or_its_local_part() {
        let owner = email("ada.lovelace@example.com");
        assert!(NewPassword::parse("password", "Ada.Lovelace@example.com", &owner).is_err());
        assert!(NewPassword::parse("password", "ada.lovelace", &owner).is_err());
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

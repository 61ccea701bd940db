//! The domain types of accounts: typed ids (`UserId`, `SessionId`), and validated values
//! (`Email`, `NewPassword`, `DisplayName`) with the rules that make them. Once a value exists it
//! is known to be well-formed, so nothing further in has to check again. A refusal (`Invalid`)
//! says what is wrong but not which field: the edge that took the input names it.

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
uuid_id!(
    /// An organization's id. Every user belongs to exactly one.
    OrganizationId
);

/// A value the rules refuse, and why, in words for the person who typed it. It names no field:
/// accounts does not know what an API calls its inputs, so the edge names it ([`Invalid::on`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(String);

impl Invalid {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub fn message(&self) -> &str {
        &self.0
    }

    /// This refusal, for the input field the edge calls `field`.
    pub fn on(self, field: &'static str) -> FieldError {
        FieldError {
            field,
            message: self.0,
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A refused value with the name the edge gives its input field, as the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    /// A refusal the edge makes in its own words, such as a required field that is missing.
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
    /// `Invalid`, saying what is wrong.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("Enter an email address."));
        }
        let too_long = || Invalid::new("An email address has at most 254 characters.");
        // Checked before normalising too, to bound the work a huge input can cause.
        if trimmed.chars().count() > EMAIL_MAX_CHARS {
            return Err(too_long());
        }
        let invalid = || Invalid::new("Enter a valid email address, like name@example.com.");
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
    /// Checks `raw` as the new password of the account with `email` (the rules refuse the
    /// address itself), checking the rules in a fixed order so the first broken one is told.
    ///
    /// # Errors
    /// `Invalid`, saying which rule the password breaks.
    pub fn check(self, raw: &str, email: &Email) -> Result<NewPassword, Invalid> {
        let normalised: String = raw.nfkc().collect();
        let length = normalised.chars().count();
        if length < self.min_chars {
            return Err(Invalid::new(format!(
                "Use at least {} characters.",
                self.min_chars
            )));
        }
        if length > PASSWORD_MAX_CHARS {
            return Err(Invalid::new("Use at most 128 characters."));
        }
        let folded = normalised.to_lowercase();
        if folded == email.as_str() || folded == email.local_part() {
            return Err(Invalid::new(
                "Choose a password that is not your email address.",
            ));
        }
        if super::common_passwords::is_common(&folded) {
            return Err(Invalid::new(
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
    /// `Invalid`, saying what is wrong.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Invalid::new("A name cannot be empty."));
        }
        if trimmed.chars().count() > NAME_MAX_CHARS {
            return Err(Invalid::new("A name has at most 100 characters."));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() || is_invisible_format(c))
        {
            return Err(Invalid::new(
                "A name cannot contain control or invisible formatting characters.",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A role code: `^[a-z][a-z0-9_-]{0,31}$`, so it can travel in tokens and headers unescaped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleCode(String);

impl RoleCode {
    pub const ADMIN: &'static str = "admin";
    pub const SUPERADMIN: &'static str = "superadmin";

    /// # Errors
    /// `Invalid` unless `raw` matches the pattern exactly (no trimming, no case folding: a code
    /// is an identifier, not something typed into a form).
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let mut bytes = raw.bytes();
        let starts_with_letter = bytes.next().is_some_and(|b| b.is_ascii_lowercase());
        let rest_ok =
            bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if starts_with_letter && rest_ok && raw.len() <= 32 {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::new(
                "A role code is 1 to 32 characters: a lower-case letter, then lower-case letters, digits, '_' or '-'.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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
        Email::parse(raw).unwrap()
    }

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(email("  Ada@Example.COM ").as_str(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
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
            assert!(Email::parse(raw).is_err(), "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    #[test]
    fn a_refusal_is_named_by_the_field_the_edge_gives_it() {
        let error = Email::parse("ada").unwrap_err().on("newEmail");
        assert_eq!(error.field, "newEmail");
        assert_eq!(
            error.message,
            "Enter a valid email address, like name@example.com."
        );
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
            assert!(Email::parse(raw).is_ok(), "{raw:?}");
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
            assert!(Email::parse(raw).is_err(), "{raw:?}");
        }
        let label = "a".repeat(64);
        assert!(Email::parse(&format!("ada@{label}.com")).is_err());
    }

    fn check(raw: &str, owner: &Email) -> Result<NewPassword, Invalid> {
        PasswordPolicy::default().check(raw, owner)
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
        assert!(error.message().contains("common"));
    }

    #[test]
    fn the_minimum_length_is_configurable() {
        let owner = email("ada@example.com");
        let strict = PasswordPolicy { min_chars: 15 };
        assert!(strict.check("fourteen chars", &owner).is_err());
        assert!(strict.check("fifteen chars!!", &owner).is_ok());
    }

    #[test]
    fn names_refuse_control_and_direction_characters() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().into_string(), "Ada");
        for raw in ["", "   ", "a\u{0}b", "a\nb", "evil\u{202E}gnp.exe"] {
            assert!(DisplayName::parse(raw).is_err(), "{raw:?}");
        }
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
        assert!(DisplayName::parse(&"n".repeat(100)).is_ok());
    }

    #[test]
    fn role_codes_follow_the_pattern_exactly() {
        for good in ["a", "admin", "billing-viewer", "team_7", &"r".repeat(32)] {
            assert!(RoleCode::parse(good).is_ok(), "{good:?}");
        }
        let too_long = "r".repeat(33);
        for bad in [
            "", "Admin", "7up", "-x", "_x", "a b", "a.b", " admin", "rôle", &too_long,
        ] {
            assert!(RoleCode::parse(bad).is_err(), "{bad:?}");
        }
    }
}

//! Password hashes made by other systems (argon2, bcrypt, werkzeug, passlib, user-api), so that
//! imported users sign in with their old passwords until their first login rehashes them.
//!
//! One parser serves both ends: `latchkey import` refuses what it cannot parse or what exceeds
//! the cost caps (`caps`), and login parses the stored string again with the same caps, so a
//! hash written by other means can never make a login expensive. All comparisons are
//! constant-time. Formats: see docs/migrating.md.

mod caps;
mod encoding;
mod pbkdf2_family;

use std::fmt;
use std::str::FromStr;

use argon2::PasswordHash;

pub use caps::argon2_within_caps;
use pbkdf2_family::{Pbkdf2Hash, ScryptHash};

/// The `format` an import line may name; without one it is detected from the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Argon2,
    Bcrypt,
    Werkzeug,
    Passlib,
    UserApi,
}

impl FromStr for Format {
    type Err = Refusal;

    fn from_str(name: &str) -> Result<Self, Refusal> {
        match name {
            "argon2" => Ok(Self::Argon2),
            "bcrypt" => Ok(Self::Bcrypt),
            "werkzeug" => Ok(Self::Werkzeug),
            "passlib" => Ok(Self::Passlib),
            "user-api" => Ok(Self::UserApi),
            _ => Err(Refusal::new(
                "unknown format (argon2, bcrypt, werkzeug, passlib or user-api)",
            )),
        }
    }
}

/// Why an imported hash is refused. Never holds the hash or any part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(String);

impl Refusal {
    fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refusal {}

/// The prefix of a user-api hash as latchkey stores it: the row's separate salt has to travel
/// with the hash, so both are wrapped into one string (`$latchkey-user-api$SALT$HEX`, the
/// salt's Latin-1 bytes in base64url).
const USER_API_PREFIX: &str = "$latchkey-user-api$";

/// Checks an imported hash and returns the string to store as the account's password hash.
///
/// # Errors
/// `Refusal` for an unknown or mismatched format, a malformed hash, a salt where the format
/// carries its own (or none where it needs one), and costs over the caps.
pub fn prepare(format: Option<Format>, hash: &str, salt: Option<&str>) -> Result<String, Refusal> {
    let detected = detect(hash, salt)?;
    if let Some(declared) = format
        && declared != detected
    {
        return Err(Refusal::new(format!(
            "the hash is not in the {} format",
            format_name(declared)
        )));
    }
    let stored = match (detected, salt) {
        (Format::UserApi, Some(salt)) => user_api_stored(hash, salt)?,
        (Format::UserApi, None) => return Err(Refusal::new("a user-api hash needs its salt")),
        (_, Some(_)) => {
            return Err(Refusal::new(
                "`salt` is only for user-api hashes: this format carries its own",
            ));
        }
        (_, None) => hash.to_owned(),
    };
    StoredHash::parse(&stored)?;
    Ok(stored)
}

/// Whether `stored` is an imported hash (not one latchkey made) that `password` matches.
/// False for anything unparsable or over the caps: such a hash is never run.
pub fn verify(stored: &str, password: &str) -> bool {
    StoredHash::parse(stored).is_ok_and(|hash| hash.verify(password))
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Argon2 => "argon2",
        Format::Bcrypt => "bcrypt",
        Format::Werkzeug => "werkzeug",
        Format::Passlib => "passlib",
        Format::UserApi => "user-api",
    }
}

fn detect(hash: &str, salt: Option<&str>) -> Result<Format, Refusal> {
    let format = if hash.starts_with("$argon2") {
        Format::Argon2
    } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        Format::Bcrypt
    } else if hash.starts_with("pbkdf2:") || hash.starts_with("scrypt:") {
        Format::Werkzeug
    } else if hash.starts_with("$pbkdf2$") || hash.starts_with("$pbkdf2-") {
        Format::Passlib
    } else if salt.is_some() && hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Format::UserApi
    } else {
        return Err(Refusal::new(
            "unknown format: the hash matches none latchkey imports",
        ));
    };
    Ok(format)
}

fn user_api_stored(hash: &str, salt: &str) -> Result<String, Refusal> {
    let salt = encoding::latin1(salt)
        .ok_or_else(|| Refusal::new("a user-api salt has only Latin-1 characters"))?;
    Ok(format!(
        "{USER_API_PREFIX}{}${}",
        encoding::base64url(&salt),
        hash.to_ascii_lowercase()
    ))
}

/// A stored imported hash, parsed and within the caps.
enum StoredHash<'a> {
    Argon2,
    Bcrypt(&'a str),
    Pbkdf2(Pbkdf2Hash),
    Scrypt(ScryptHash),
}

impl<'a> StoredHash<'a> {
    fn parse(stored: &'a str) -> Result<Self, Refusal> {
        let malformed = |what: &str| Refusal::new(format!("malformed {what} hash"));
        if stored.starts_with("$argon2") {
            let parsed = PasswordHash::new(stored).map_err(|_| malformed("argon2"))?;
            if !matches!(parsed.algorithm.as_str(), "argon2id" | "argon2i") {
                return Err(Refusal::new(
                    "only argon2id and argon2i hashes are imported",
                ));
            }
            caps::check_argon2(&parsed)?;
            return Ok(Self::Argon2);
        }
        if ["$2a$", "$2b$", "$2y$"]
            .iter()
            .any(|p| stored.starts_with(p))
        {
            caps::check_bcrypt(stored)?;
            return Ok(Self::Bcrypt(stored));
        }
        if let Some(rest) = stored.strip_prefix(USER_API_PREFIX) {
            return Pbkdf2Hash::user_api(rest).map(Self::Pbkdf2);
        }
        if stored.starts_with("scrypt:") {
            return ScryptHash::werkzeug(stored).map(Self::Scrypt);
        }
        if stored.starts_with("pbkdf2:") {
            return Pbkdf2Hash::werkzeug(stored).map(Self::Pbkdf2);
        }
        if stored.starts_with("$pbkdf2") {
            return Pbkdf2Hash::passlib(stored).map(Self::Pbkdf2);
        }
        Err(Refusal::new("unknown format"))
    }

    fn verify(&self, password: &str) -> bool {
        match self {
            // latchkey's own verifier runs argon2 hashes (`password`); they never reach here.
            Self::Argon2 => false,
            // The crate compares in constant time and, like the Python libraries, uses only
            // the first 72 bytes of the password (docs/migrating.md).
            Self::Bcrypt(stored) => bcrypt::verify(password, stored).unwrap_or(false),
            Self::Pbkdf2(hash) => hash.verify(password),
            Self::Scrypt(hash) => hash.verify(password),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bcrypt_hash(password: &str) -> String {
        bcrypt::hash(password, 4).unwrap()
    }

    #[test]
    fn bcrypt_2y_is_2b_under_another_name() {
        let hash = bcrypt_hash("correct horse").replacen("$2b$", "$2y$", 1);
        let stored = prepare(None, &hash, None).unwrap();
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "correct horsE"));
    }

    #[test]
    fn a_declared_format_must_match_the_hash() {
        let hash = bcrypt_hash("correct horse");
        assert!(prepare(Some(Format::Bcrypt), &hash, None).is_ok());
        assert!(prepare(Some(Format::Werkzeug), &hash, None).is_err());
        assert!("md5".parse::<Format>().is_err());
    }

    #[test]
    fn costs_over_the_caps_are_refused_at_import_and_never_run_at_login() {
        let over = [
            format!("$2b$16${}", &bcrypt_hash("x")[7..]),
            format!("pbkdf2:sha256:2000001$salt${}", "ab".repeat(32)),
            format!("scrypt:2097152:1:1$salt${}", "ab".repeat(64)),
            format!("scrypt:1048576:8:1$salt${}", "ab".repeat(64)),
            format!("$pbkdf2-sha256$2000001$c2FsdHNhbHQ${}", "A".repeat(43)),
        ];
        for hash in over {
            assert!(prepare(None, &hash, None).is_err(), "{hash}");
            assert!(!verify(&hash, "x"), "{hash}");
        }
        let at_the_caps = format!("scrypt:131072:8:1$salt${}", "ab".repeat(64));
        assert!(prepare(None, &at_the_caps, None).is_ok());
    }

    #[test]
    fn absurd_salts_and_keys_are_refused() {
        let long_salt = format!("pbkdf2:sha256:1000${}${}", "s".repeat(257), "ab".repeat(32));
        let short_key = format!("pbkdf2:sha256:1000$salt${}", "ab".repeat(8));
        let long_key = format!("pbkdf2:sha1:1000$salt${}", "ab".repeat(32));
        for hash in [long_salt, short_key, long_key] {
            assert!(prepare(None, &hash, None).is_err(), "{hash}");
        }
    }

    #[test]
    fn user_api_needs_its_salt_and_other_formats_refuse_one() {
        let hex = "00112233445566778899aabbccddeeff";
        assert!(prepare(Some(Format::UserApi), hex, None).is_err());
        assert!(prepare(None, hex, None).is_err());
        let stored = prepare(None, hex, Some("salt")).unwrap();
        assert!(stored.starts_with(USER_API_PREFIX));
        assert!(prepare(None, &bcrypt_hash("x"), Some("salt")).is_err());
        assert!(prepare(None, hex, Some("sel €")).is_err());
    }

    #[test]
    fn werkzeug_pbkdf2_without_rounds_is_refused() {
        let hash = format!("pbkdf2:sha256$salt${}", "ab".repeat(32));
        let refusal = prepare(None, &hash, None).unwrap_err();
        assert!(refusal.to_string().contains("rounds"), "{refusal}");
    }
}

//! The master secret: the HS256 key of access tokens and the root of the keys that seal data
//! at rest (`secret_box`). Judged for strength before use; with SQLite and nothing configured,
//! generated once and kept in a `0600` file beside the database.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::config::Settings;
use crate::{db, private_files};

/// What to do about a weak or missing secret, in every message that reports one.
pub const HOW_TO_GENERATE: &str = "generate one with `latchkey secret generate`";
/// Key material an HS256 key needs: the hash's output size (RFC 7518, section 3.2).
const MIN_SECRET_BYTES: usize = 32;
/// Fewer distinct characters than this is a pattern, not randomness.
const MIN_DISTINCT_CHARS: usize = 12;

/// Why `secret` is too weak to be the master secret, or `None` when it will do. Refused: less
/// than 32 bytes of key material (see [`key_material_bytes`]), fewer than 12 distinct
/// characters, or a single kind of character (only digits, only lowercase letters, ...), which
/// is what dictionaries and brute force try first.
pub fn weakness(secret: &str) -> Option<&'static str> {
    if key_material_bytes(secret) < MIN_SECRET_BYTES {
        return Some("fewer than 32 bytes of key material once decoded");
    }
    let distinct: std::collections::HashSet<char> = secret.chars().collect();
    if distinct.len() < MIN_DISTINCT_CHARS {
        return Some("fewer than 12 distinct characters");
    }
    let kinds = [
        secret.chars().any(|c| c.is_ascii_lowercase()),
        secret.chars().any(|c| c.is_ascii_uppercase()),
        secret.chars().any(|c| c.is_ascii_digit()),
        secret.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if kinds.into_iter().filter(|&present| present).count() < 2 {
        return Some("a single kind of character, such as only digits or only lowercase letters");
    }
    None
}

/// The bytes of key material `secret` holds. Random keys are usually written as hex or base64,
/// where each character carries 4 or 6 bits, not 8: so a secret that reads as either counts
/// as its decoded length (the smallest reading wins), anything else as its length in bytes.
fn key_material_bytes(secret: &str) -> usize {
    let hex = (secret.len().is_multiple_of(2) && secret.bytes().all(|b| b.is_ascii_hexdigit()))
        .then_some(secret.len() / 2);
    [Some(secret.len()), hex, base64_decoded_len(secret)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or_default()
}

/// The decoded length of `text` read as base64 or base64url, padded or not; `None` when it is
/// neither.
fn base64_decoded_len(text: &str) -> Option<usize> {
    let data = text.trim_end_matches('=');
    let standard = data
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    let url_safe = data
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let padding = text.len() - data.len();
    if !(standard || url_safe) || padding > 2 || data.len() % 4 == 1 {
        return None;
    }
    Some(data.len() * 3 / 4)
}

/// The master secret: the configured one, or with SQLite one generated on first start and kept
/// in a `0600` file beside the database. PostgreSQL deployments run several instances, which
/// must share it, so there it has to be configured. Either way it must pass
/// [`weakness`].
pub fn load(settings: &Settings) -> Result<SecretString, String> {
    if let Some(secret) = settings.master_secret()? {
        return Ok(secret.clone());
    }
    if settings.is_postgres() {
        return Err(format!(
            "LATCHKEY_SECRET must be set when DATABASE_URL is PostgreSQL, the same for every instance; {HOW_TO_GENERATE}"
        ));
    }
    let Some(path) = db::sqlite_file(&settings.database_url) else {
        tracing::warn!(
            "LATCHKEY_SECRET is unset and the database is in memory: using a throwaway secret"
        );
        return Ok(SecretString::from(generate()));
    };
    let secret_path = secret_file_beside(&path);
    match std::fs::read_to_string(&secret_path) {
        Ok(secret) => match weakness(secret.trim()) {
            None => {
                tracing::warn!(file = %secret_path.display(), "LATCHKEY_SECRET is unset: using the secret kept in this file");
                Ok(SecretString::from(secret.trim().to_owned()))
            }
            Some(weakness) => Err(format!(
                "{} holds a weak secret ({weakness}); replace it with the output of `latchkey secret generate`, or set LATCHKEY_SECRET",
                secret_path.display()
            )),
        },
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let secret = generate();
            write_private_file(&secret_path, &secret)?;
            tracing::warn!(
                file = %secret_path.display(),
                "LATCHKEY_SECRET is unset: generated a secret and kept it in this file (mode 0600)"
            );
            Ok(SecretString::from(secret))
        }
        Err(error) => Err(format!("cannot read {}: {error}", secret_path.display())),
    }
}

/// A fresh master secret: 64 random bytes in base64url, 86 characters, far past what
/// [`weakness`] asks.
pub fn generate() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 64];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn secret_file_beside(database: &Path) -> PathBuf {
    let stem = database
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("latchkey");
    database.with_file_name(format!("{stem}.jwt-secret"))
}

/// Creates `path` holding `contents`, readable by its owner only (`0600`), and a missing folder
/// for it `0700`.
fn write_private_file(path: &Path, contents: &str) -> Result<(), String> {
    use std::io::Write as _;
    let cannot_create = |e: std::io::Error| format!("cannot create {}: {e}", path.display());
    private_files::create_parent_folder(path).map_err(cannot_create)?;
    let mut file = private_files::create_new_file(path).map_err(cannot_create)?;
    file.write_all(contents.as_bytes()).map_err(cannot_create)?;
    file.sync_all().map_err(cannot_create)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_judged_by_their_decoded_key_material_and_variety() {
        for weak in [
            "31415926535897932384626433832795", // digits: 16 bytes as hex
            "9f86d081884c7d659a2feaa0c55ad015", // 32 hex digits: 16 bytes
            "q7Xv2LmN8pRt4WzY6bHc3JkF9sDg",     // base64: 21 bytes
            "thequickbrownfoxjumpsoverthelazydogthequickbrownfox", // lowercase only
            "THEQUICKBROWNFOXJUMPSOVERTHELAZYDOGTHEQUICKBROWNFOX", // uppercase only
            "abAB12abAB12abAB12abAB12abAB12abAB12abAB12abAB12", // 6 distinct characters
            "",
        ] {
            assert!(weakness(weak).is_some(), "{weak:?} passed");
        }
        for strong in [
            "a-test-secret-that-is-at-least-32-bytes-long",
            // `openssl rand -hex 32` and `openssl rand -base64 32`
            "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
            "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=",
            "correct horse battery staple, and then some more words",
        ] {
            assert_eq!(weakness(strong), None, "{strong:?} failed");
        }
    }

    #[test]
    fn generated_secrets_are_strong_and_fresh() {
        let secrets: Vec<String> = (0..100).map(|_| generate()).collect();
        for secret in &secrets {
            assert_eq!(secret.len(), 86);
            assert_eq!(weakness(secret), None, "{secret}");
        }
        let mut unique = secrets.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), secrets.len());
    }

    #[test]
    fn the_secret_file_sits_beside_the_database() {
        assert_eq!(
            secret_file_beside(Path::new("/data/latchkey.db")),
            PathBuf::from("/data/latchkey.jwt-secret")
        );
    }
}

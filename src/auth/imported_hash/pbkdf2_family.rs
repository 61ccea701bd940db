//! The PBKDF2 and scrypt formats: werkzeug's `pbkdf2:DIGEST:N$salt$hex` and
//! `scrypt:N:r:p$salt$hex`, passlib's `$pbkdf2[-DIGEST]$N$salt$checksum`, and user-api's
//! PBKDF2-HMAC-SHA1 (1000 rounds, 16 bytes) kept as `$latchkey-user-api$SALT$HEX`.

use subtle::ConstantTimeEq as _;

use super::{Refusal, caps, encoding};

#[derive(Debug, Clone, Copy)]
enum Digest {
    Sha1,
    Sha256,
    Sha512,
}

impl Digest {
    fn named(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "sha512" => Some(Self::Sha512),
            _ => None,
        }
    }

    fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }
}

/// How the password becomes bytes: UTF-8 everywhere but user-api, whose Python library
/// (pycryptodome) encodes text as Latin-1.
#[derive(Debug, Clone, Copy)]
enum PasswordBytes {
    Utf8,
    Latin1,
}

pub(super) struct Pbkdf2Hash {
    digest: Digest,
    rounds: u32,
    salt: Vec<u8>,
    expected: Vec<u8>,
    password: PasswordBytes,
}

impl Pbkdf2Hash {
    /// `pbkdf2:sha256:600000$salt$hex`. Without the rounds werkzeug used its version's own
    /// default, which the hash does not record: refused, see docs/migrating.md.
    pub(super) fn werkzeug(stored: &str) -> Result<Self, Refusal> {
        let malformed = || Refusal::new("malformed werkzeug pbkdf2 hash");
        let [method, salt, hex] = three_fields(stored).ok_or_else(malformed)?;
        let mut method = method.split(':');
        let (Some("pbkdf2"), Some(digest), rounds, None) =
            (method.next(), method.next(), method.next(), method.next())
        else {
            return Err(malformed());
        };
        let digest = Digest::named(digest).ok_or_else(|| {
            Refusal::new("werkzeug pbkdf2 digest other than sha1, sha256, sha512")
        })?;
        let rounds = rounds.ok_or_else(|| {
            Refusal::new("werkzeug pbkdf2 hash without its rounds: write them in (pbkdf2:sha256:N)")
        })?;
        Self::checked(
            digest,
            parse_number(rounds).ok_or_else(malformed)?,
            salt.as_bytes().to_vec(),
            encoding::hex(hex).ok_or_else(malformed)?,
            PasswordBytes::Utf8,
        )
    }

    /// `$pbkdf2-sha256$29000$salt$checksum`, `$pbkdf2-sha512$…`, `$pbkdf2$…` (SHA-1), salt and
    /// checksum in passlib's adapted base64.
    pub(super) fn passlib(stored: &str) -> Result<Self, Refusal> {
        let malformed = || Refusal::new("malformed passlib pbkdf2 hash");
        let mut fields = stored.split('$');
        let (Some(""), Some(scheme), Some(rounds), Some(salt), Some(checksum), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(malformed());
        };
        let digest = match scheme {
            "pbkdf2" => Digest::Sha1,
            "pbkdf2-sha256" => Digest::Sha256,
            "pbkdf2-sha512" => Digest::Sha512,
            _ => {
                return Err(Refusal::new(
                    "passlib scheme other than pbkdf2, pbkdf2-sha256, pbkdf2-sha512",
                ));
            }
        };
        Self::checked(
            digest,
            parse_number(rounds).ok_or_else(malformed)?,
            encoding::passlib_base64(salt).ok_or_else(malformed)?,
            encoding::passlib_base64(checksum).ok_or_else(malformed)?,
            PasswordBytes::Utf8,
        )
    }

    /// The part after `$latchkey-user-api$`: `SALT$HEX`.
    pub(super) fn user_api(rest: &str) -> Result<Self, Refusal> {
        let malformed = || Refusal::new("malformed user-api hash");
        let (salt, hex) = rest.split_once('$').ok_or_else(malformed)?;
        let expected = encoding::hex(hex).ok_or_else(malformed)?;
        if expected.len() != 16 {
            return Err(Refusal::new("a user-api hash is 32 hex digits"));
        }
        Self::checked(
            Digest::Sha1,
            1000,
            encoding::from_base64url(salt).ok_or_else(malformed)?,
            expected,
            PasswordBytes::Latin1,
        )
    }

    fn checked(
        digest: Digest,
        rounds: u32,
        salt: Vec<u8>,
        expected: Vec<u8>,
        password: PasswordBytes,
    ) -> Result<Self, Refusal> {
        caps::check_pbkdf2_rounds(rounds)?;
        caps::check_salt_and_key(&salt, &expected)?;
        // Longer keys than the digest multiply the work; no library writes them.
        if expected.len() > digest.output_len() {
            return Err(Refusal::new("hash longer than its digest's output"));
        }
        Ok(Self {
            digest,
            rounds,
            salt,
            expected,
            password,
        })
    }

    pub(super) fn verify(&self, password: &str) -> bool {
        let password = match self.password {
            PasswordBytes::Utf8 => password.as_bytes().to_vec(),
            // A character outside Latin-1 could never have been hashed by user-api.
            PasswordBytes::Latin1 => match encoding::latin1(password) {
                Some(bytes) => bytes,
                None => return false,
            },
        };
        let mut derived = vec![0u8; self.expected.len()];
        let (salt, rounds) = (self.salt.as_slice(), self.rounds);
        match self.digest {
            Digest::Sha1 => {
                pbkdf2::pbkdf2_hmac::<sha1::Sha1>(&password, salt, rounds, &mut derived)
            }
            Digest::Sha256 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha256>(&password, salt, rounds, &mut derived)
            }
            Digest::Sha512 => {
                pbkdf2::pbkdf2_hmac::<sha2::Sha512>(&password, salt, rounds, &mut derived)
            }
        }
        derived.ct_eq(&self.expected).into()
    }
}

pub(super) struct ScryptHash {
    params: scrypt::Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl ScryptHash {
    /// `scrypt:32768:8:1$salt$hex`.
    pub(super) fn werkzeug(stored: &str) -> Result<Self, Refusal> {
        let malformed = || Refusal::new("malformed werkzeug scrypt hash");
        let [method, salt, hex] = three_fields(stored).ok_or_else(malformed)?;
        let mut method = method.split(':');
        let (Some("scrypt"), Some(n), Some(r), Some(p), None) = (
            method.next(),
            method.next(),
            method.next(),
            method.next(),
            method.next(),
        ) else {
            return Err(malformed());
        };
        let n: u64 = n.parse().map_err(|_| malformed())?;
        let (r, p) = (
            parse_number(r).ok_or_else(malformed)?,
            parse_number(p).ok_or_else(malformed)?,
        );
        let log_n = caps::check_scrypt(n, r, p)?;
        let salt = salt.as_bytes().to_vec();
        let expected = encoding::hex(hex).ok_or_else(malformed)?;
        caps::check_salt_and_key(&salt, &expected)?;
        let params = scrypt::Params::new(log_n, r, p, expected.len()).map_err(|_| malformed())?;
        Ok(Self {
            params,
            salt,
            expected,
        })
    }

    pub(super) fn verify(&self, password: &str) -> bool {
        let mut derived = vec![0u8; self.expected.len()];
        scrypt::scrypt(password.as_bytes(), &self.salt, &self.params, &mut derived).is_ok()
            && bool::from(derived.ct_eq(&self.expected))
    }
}

/// `METHOD$SALT$HASH`, werkzeug's layout (its salts never hold `$`).
fn three_fields(stored: &str) -> Option<[&str; 3]> {
    let mut fields = stored.split('$');
    match (fields.next(), fields.next(), fields.next(), fields.next()) {
        (Some(method), Some(salt), Some(hash), None) => Some([method, salt, hash]),
        _ => None,
    }
}

/// A decimal count as Python writes it: digits only, no sign or spaces.
fn parse_number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

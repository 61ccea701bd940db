//! The most an imported hash may cost to verify. Checked when a hash is imported and again
//! before one is run at login, so that no stored row, however it got there, can make a login
//! take seconds or gigabytes. The figures are in docs/migrating.md and docs/security.md.

use argon2::{Params, PasswordHash};

use super::Refusal;

pub(super) const BCRYPT_MAX_COST: u32 = 15;
pub(super) const PBKDF2_MAX_ROUNDS: u32 = 2_000_000;
pub(super) const SCRYPT_MAX_LOG_N: u32 = 20;
/// 128 · N · r bytes of memory: 128 MiB, werkzeug's default being 32 MiB.
pub(super) const SCRYPT_MAX_N_TIMES_R: u64 = 1 << 20;
/// N · r · p: four times the memory cap's worth of mixing.
pub(super) const SCRYPT_MAX_N_TIMES_R_TIMES_P: u64 = 1 << 22;
/// argon2 memory in KiB (128 MiB) and memory × passes (for example 64 MiB × 8).
const ARGON2_MAX_M_COST: u32 = 128 * 1024;
const ARGON2_MAX_M_TIMES_T: u64 = 512 * 1024;
const ARGON2_MAX_P_COST: u32 = 16;
/// Salts longer than this are not salts; 16 bytes is the common size.
pub(super) const MAX_SALT_BYTES: usize = 256;
/// The derived keys compared: 16 bytes (user-api) to 64 (SHA-512, scrypt).
pub(super) const KEY_BYTES: std::ops::RangeInclusive<usize> = 16..=64;

/// Whether an argon2 hash (latchkey's own included) is cheap enough to verify at login.
pub fn argon2_within_caps(hash: &PasswordHash) -> bool {
    check_argon2(hash).is_ok()
}

pub(super) fn check_argon2(hash: &PasswordHash) -> Result<(), Refusal> {
    let params = Params::try_from(hash).map_err(|_| Refusal::new("malformed argon2 hash"))?;
    let salt_len = hash.salt.as_ref().map_or(0, |salt| salt.len());
    let key_len = hash.hash.as_ref().map_or(0, |output| output.len());
    if !(8..=64).contains(&salt_len) || !KEY_BYTES.contains(&key_len) {
        return Err(Refusal::new("argon2 salt or hash length out of range"));
    }
    let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
    if params.m_cost() > ARGON2_MAX_M_COST
        || work > ARGON2_MAX_M_TIMES_T
        || params.p_cost() > ARGON2_MAX_P_COST
    {
        return Err(Refusal::new(format!(
            "argon2 cost over the caps (m ≤ {ARGON2_MAX_M_COST} KiB, m·t ≤ {ARGON2_MAX_M_TIMES_T}, p ≤ {ARGON2_MAX_P_COST})"
        )));
    }
    Ok(())
}

/// `$2b$CC$` then 53 characters of bcrypt's base64: 22 of salt, 31 of hash.
pub(super) fn check_bcrypt(stored: &str) -> Result<(), Refusal> {
    let malformed = || Refusal::new("malformed bcrypt hash");
    let bytes = stored.as_bytes();
    if bytes.len() != 60 || bytes[6] != b'$' {
        return Err(malformed());
    }
    let cost: u32 = stored
        .get(4..6)
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse().ok())
        .ok_or_else(malformed)?;
    let is_bcrypt_base64 = |b: &u8| b.is_ascii_alphanumeric() || *b == b'.' || *b == b'/';
    if !bytes[7..].iter().all(is_bcrypt_base64) {
        return Err(malformed());
    }
    if !(4..=BCRYPT_MAX_COST).contains(&cost) {
        return Err(Refusal::new(format!(
            "bcrypt cost {cost} outside 4..={BCRYPT_MAX_COST}"
        )));
    }
    Ok(())
}

pub(super) fn check_pbkdf2_rounds(rounds: u32) -> Result<(), Refusal> {
    if rounds == 0 || rounds > PBKDF2_MAX_ROUNDS {
        return Err(Refusal::new(format!(
            "PBKDF2 rounds {rounds} outside 1..={PBKDF2_MAX_ROUNDS}"
        )));
    }
    Ok(())
}

pub(super) fn check_salt_and_key(salt: &[u8], key: &[u8]) -> Result<(), Refusal> {
    if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
        return Err(Refusal::new(format!(
            "salt of {} bytes outside 1..={MAX_SALT_BYTES}",
            salt.len()
        )));
    }
    if !KEY_BYTES.contains(&key.len()) {
        return Err(Refusal::new(format!(
            "hash of {} bytes outside {}..={}",
            key.len(),
            KEY_BYTES.start(),
            KEY_BYTES.end()
        )));
    }
    Ok(())
}

/// N a power of two from 2 to 2^20, and the memory and work caps above.
pub(super) fn check_scrypt(n: u64, r: u32, p: u32) -> Result<u8, Refusal> {
    if !n.is_power_of_two() || n < 2 || r == 0 || p == 0 {
        return Err(Refusal::new("malformed scrypt parameters"));
    }
    let log_n = n.trailing_zeros();
    let n_r = n.saturating_mul(u64::from(r));
    if log_n > SCRYPT_MAX_LOG_N
        || n_r > SCRYPT_MAX_N_TIMES_R
        || n_r.saturating_mul(u64::from(p)) > SCRYPT_MAX_N_TIMES_R_TIMES_P
    {
        return Err(Refusal::new(format!(
            "scrypt cost over the caps (N ≤ 2^{SCRYPT_MAX_LOG_N}, N·r ≤ 2^20, N·r·p ≤ 2^22)"
        )));
    }
    u8::try_from(log_n).map_err(|_| Refusal::new("malformed scrypt parameters"))
}

//! The text encodings imported hashes use: hex, passlib's adapted base64 (`./` for `+/`, no
//! padding), base64url for latchkey's own wrapper, and Latin-1 for user-api's passwords.

use base64::Engine as _;
use base64::alphabet::Alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};

/// Bytes from hex of either case; `None` for anything else.
pub(super) fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digit = |b: u8| char::from(b).to_digit(16);
            u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()
        })
        .collect()
}

/// passlib's `ab64`: standard base64 with `.` in place of `+`, padding left off.
pub(super) fn passlib_base64(text: &str) -> Option<Vec<u8>> {
    let alphabet =
        Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789./").ok()?;
    let engine = GeneralPurpose::new(
        &alphabet,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    engine.decode(text).ok()
}

pub(super) fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(super) fn from_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The Latin-1 bytes of `text`, or `None` when a character lies outside Latin-1.
pub(super) fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_takes_only_the_first_256_code_points() {
        assert_eq!(latin1("café"), Some(vec![b'c', b'a', b'f', 0xE9]));
        assert_eq!(latin1("€"), None);
    }

    #[test]
    fn hex_and_passlib_base64_decode_what_python_writes() {
        assert_eq!(hex("00fF10"), Some(vec![0, 255, 16]));
        assert_eq!(hex("0g"), None);
        // Python: passlib.utils.binary.ab64_encode(b"\xfb\xff") == b"./8"
        assert_eq!(passlib_base64("./8"), Some(vec![0xfb, 0xff]));
    }
}

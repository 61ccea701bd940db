//! The breached-password list: 30,000 most common passwords, shipped in the binary
//! (`data/common-passwords.txt`; source and licence in `data/README.md`).

use std::sync::OnceLock;

const LIST: &str = include_str!("../../data/common-passwords.txt");

fn sorted() -> &'static [&'static str] {
    static SORTED: OnceLock<Vec<&'static str>> = OnceLock::new();
    SORTED.get_or_init(|| {
        let mut entries: Vec<&str> = LIST
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        entries.sort_unstable();
        entries.dedup();
        entries
    })
}

/// Whether a password, already NFKC-normalised and lower-cased, is on the list.
pub fn is_common(normalised_lowercase: &str) -> bool {
    sorted().binary_search(&normalised_lowercase).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_large_and_finds_the_classics() {
        assert!(
            sorted().len() >= 10_000,
            "security.md asks for at least 10,000"
        );
        for common in ["password", "iloveyou", "trustno1", "qwertyuiop", "1qaz2wsx"] {
            assert!(is_common(common), "{common}");
        }
        assert!(!is_common("correct horse battery staple"));
    }
}

//! Access tokens this instance has already verified, so that a request carrying one again costs
//! a hash lookup instead of a signature check (an ES256 verification costs about a hundred times
//! an HMAC). Bounded in size; an entry is never used at or past the token's `exp`; when the keys
//! change, entries of keys no longer trusted go at once, and a verification that raced with
//! the change is not remembered (the generation check).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::jwt::AccessClaims;

/// Enough for every token in use on a busy instance (tokens live minutes); at about 1 KiB
/// per entry, a few tens of MiB at most.
const CAPACITY: usize = 50_000;

struct Entry {
    claims: AccessClaims,
    /// The key that signed it; `None` for the master secret (HS256).
    kid: Option<Arc<str>>,
}

#[derive(Default)]
struct Entries {
    /// The key set's generation the entries were verified under.
    generation: u64,
    map: HashMap<Box<str>, Entry>,
}

#[derive(Default)]
pub struct VerifiedTokens {
    entries: RwLock<Entries>,
}

impl VerifiedTokens {
    /// The claims of `token` if it verified before and has not expired by `now` (Unix seconds).
    pub fn get(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.map.get(token)?;
        (entry.claims.exp > now).then(|| entry.claims.clone())
    }

    /// Remembers a token verified under key-set `generation`, unless the keys changed since.
    pub fn remember(
        &self,
        generation: u64,
        token: &str,
        claims: &AccessClaims,
        kid: Option<Arc<str>>,
        now: i64,
    ) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.generation != generation {
            return;
        }
        if entries.map.len() >= CAPACITY {
            entries.map.retain(|_, entry| entry.claims.exp > now);
            if entries.map.len() >= CAPACITY {
                // Full of live tokens: start over rather than scan for the oldest; the tokens
                // in use come back at their next request.
                entries.map.clear();
            }
        }
        entries.map.insert(
            token.into(),
            Entry {
                claims: claims.clone(),
                kid,
            },
        );
    }

    /// The keys changed to `generation`: forgets every token whose key `still_trusted` rejects.
    pub fn keys_changed(&self, generation: u64, still_trusted: impl Fn(Option<&str>) -> bool) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.generation = generation;
        entries
            .map
            .retain(|_, entry| still_trusted(entry.kid.as_deref()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.read().unwrap().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: Uuid::new_v4(),
            sid: Uuid::new_v4(),
            iat: 0,
            exp,
            nbf: None,
            iss: "latchkey".into(),
            aud: "latchkey".into(),
            jti: Uuid::new_v4(),
            org: Uuid::nil(),
            roles: Vec::new(),
            hasura: None,
        }
    }

    #[test]
    fn an_entry_is_never_used_at_or_past_its_expiry() {
        let cache = VerifiedTokens::default();
        cache.remember(0, "t", &claims(100), None, 0);
        assert!(cache.get("t", 99).is_some());
        assert!(cache.get("t", 100).is_none());
        assert!(cache.get("other", 0).is_none());
    }

    #[test]
    fn a_key_change_forgets_the_tokens_of_untrusted_keys_and_late_verifications() {
        let cache = VerifiedTokens::default();
        cache.remember(0, "kept", &claims(100), Some("a".into()), 0);
        cache.remember(0, "revoked", &claims(100), Some("b".into()), 0);
        cache.keys_changed(1, |kid| kid == Some("a"));
        assert!(cache.get("kept", 0).is_some());
        assert!(cache.get("revoked", 0).is_none());
        // Verified under the old keys, finished after the change: not remembered.
        cache.remember(0, "late", &claims(100), Some("b".into()), 0);
        assert!(cache.get("late", 0).is_none());
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..=CAPACITY {
            cache.remember(0, &i.to_string(), &claims(100), None, 0);
        }
        assert!(cache.len() <= CAPACITY);
    }
}

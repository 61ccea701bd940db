//! Live sessions and their users, held in memory for a moment so that checking an access token
//! costs no database read on the hot path.
//!
//! Correctness rules: a write that revokes a session or changes a user forgets the affected
//! entries right after it commits, so this instance refuses a revoked token at once. Entries
//! expire after `ttl` (one second), which bounds how long another instance on the same database
//! can go on accepting a token revoked elsewhere. A reader that raced with a forget does not
//! put its stale answer back (the epoch check).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::UserView;
use super::domain::{SessionId, UserId};

/// Long enough to serve a burst of requests from memory, short enough that a revocation made
/// by another instance holds here within a second.
pub const TTL: Duration = Duration::from_secs(1);
/// Bounded memory: beyond this many sessions, stale entries are swept and new ones are served
/// from the database until there is room.
const CAPACITY: usize = 100_000;

struct Entry {
    user: Arc<UserView>,
    read_at: Instant,
}

#[derive(Default)]
pub struct SessionCache {
    entries: RwLock<HashMap<SessionId, Entry>>,
    /// Bumped by every forget; a reader that started before a forget must not insert.
    epoch: AtomicU64,
}

impl SessionCache {
    /// The user of a live session, if this instance read it less than a `TTL` ago.
    pub fn user(&self, session_id: SessionId) -> Option<Arc<UserView>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = entries.get(&session_id)?;
        (entry.read_at.elapsed() < TTL).then(|| Arc::clone(&entry.user))
    }

    /// Take this before reading the database, and hand it to [`SessionCache::remember`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Remembers a session read from the database, unless a forget happened since `epoch`.
    pub fn remember(
        &self,
        epoch: u64,
        session_id: SessionId,
        user: Arc<UserView>,
        read_at: Instant,
    ) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.epoch.load(Ordering::Acquire) != epoch {
            return;
        }
        if entries.len() >= CAPACITY && !entries.contains_key(&session_id) {
            entries.retain(|_, entry| entry.read_at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(session_id, Entry { user, read_at });
    }

    /// Forgets one session (logout, refresh-token reuse).
    pub fn forget_session(&self, session_id: SessionId) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.remove(&session_id);
    }

    /// Forgets every session of a user (password change or reset, profile change, deletion).
    pub fn forget_user(&self, user_id: UserId) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, entry| entry.user.id != user_id);
    }

    /// Forgets every entry (a role definition deleted).
    pub fn forget_everyone(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::domain::Email;

    fn user(id: UserId) -> Arc<UserView> {
        let now = chrono::Utc::now();
        Arc::new(UserView {
            id,
            email: Email::from_stored("ada@example.com".into()),
            name: None,
            email_verified: false,
            pending_email: None,
            organization_id: crate::accounts::domain::OrganizationId::random(),
            active: true,
            roles: Vec::new(),
            last_login_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    #[test]
    fn a_remembered_session_is_served_until_forgotten() {
        let cache = SessionCache::default();
        let (session, owner) = (SessionId::random(), UserId::random());
        cache.remember(cache.epoch(), session, user(owner), Instant::now());
        assert!(cache.user(session).is_some());
        cache.forget_session(session);
        assert!(cache.user(session).is_none());

        cache.remember(cache.epoch(), session, user(owner), Instant::now());
        cache.forget_user(owner);
        assert!(cache.user(session).is_none());
    }

    #[test]
    fn a_read_that_raced_with_a_forget_is_not_remembered() {
        let cache = SessionCache::default();
        let session = SessionId::random();
        let before = cache.epoch();
        cache.forget_session(session); // a revocation commits while the read is in flight
        cache.remember(before, session, user(UserId::random()), Instant::now());
        assert!(cache.user(session).is_none());
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = SessionCache::default();
        let session = SessionId::random();
        let long_ago = Instant::now().checked_sub(TTL * 2).unwrap();
        cache.remember(cache.epoch(), session, user(UserId::random()), long_ago);
        assert!(cache.user(session).is_none());
    }
}

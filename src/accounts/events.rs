//! Account events for a host application that embeds latchkey: created, updated, deleted,
//! password changed, signed in. Hooks run after the change has committed, each on a task of its
//! own, so a slow, failing or panicking hook can neither undo nor hold up the change.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use super::Accounts;
use super::domain::UserId;

/// Something that happened to an account, told after it committed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AccountEvent {
    Created {
        user_id: UserId,
        email: String,
    },
    /// Name or email changed (a password change is `PasswordChanged` too).
    Updated {
        user_id: UserId,
    },
    Deleted {
        user_id: UserId,
    },
    /// Changed by the user or through a reset link.
    PasswordChanged {
        user_id: UserId,
    },
    SignedIn {
        user_id: UserId,
    },
}

/// A hook: called with every event, its future run on a task of its own.
pub type AccountHook =
    Arc<dyn Fn(AccountEvent) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

#[derive(Default)]
pub(super) struct AccountHooks {
    hooks: RwLock<Vec<AccountHook>>,
}

impl Accounts {
    /// Calls `hook` with every account event from now on.
    pub fn on_account_event(&self, hook: AccountHook) {
        self.inner
            .hooks
            .hooks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(hook);
    }

    /// Call after the change's transaction has committed.
    pub(super) fn emit(&self, event: AccountEvent) {
        let hooks = self
            .inner
            .hooks
            .hooks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for hook in hooks.iter() {
            let (hook, event) = (Arc::clone(hook), event.clone());
            // Even calling the hook happens on the task: a panic there stays there.
            tokio::spawn(async move { hook(event).await });
        }
    }
}

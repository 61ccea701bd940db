//! Writing the audit trail from the account operations: an event goes into the transaction of
//! the change it records, and is counted once that transaction has committed.

use sea_orm::{ConnectionTrait, EntityTrait as _};
use uuid::Uuid;

use super::{AccountError, Accounts, Caller};
use crate::audit::{AuditEntry, AuditRecord, AuditType, RequestMeta};
use crate::entities::user;

impl Accounts {
    /// Writes `entry` inside `txn`; hand the record to [`Accounts::audited`] after the commit.
    pub(super) async fn audit<C: ConnectionTrait>(
        &self,
        txn: &C,
        meta: &RequestMeta,
        entry: AuditEntry,
    ) -> Result<AuditRecord, AccountError> {
        Ok(self.inner.audit.record(txn, meta, entry).await?)
    }

    /// Counts events whose transaction has committed.
    pub(super) fn audited(&self, records: impl IntoIterator<Item = AuditRecord>) {
        self.inner.audit.committed(records);
    }

    /// An entry about the caller's own account, read inside `txn`: they act, on themselves.
    pub(super) async fn own_entry<C: ConnectionTrait>(
        &self,
        txn: &C,
        caller: Caller,
        kind: AuditType,
    ) -> Result<AuditEntry, AccountError> {
        let account = user::Entity::find_by_id(Uuid::from(caller.user_id))
            .one(txn)
            .await?
            .ok_or(AccountError::Unauthenticated)?;
        Ok(AuditEntry::new(kind)
            .actor(caller.user_id)
            .about(account.id, account.organization_id))
    }
}

//! Writing imported users in batches: which addresses exist already, the organizations to
//! create, then one insert of users and one of their roles per batch, inside a transaction
//! that a dry run or a refused line rolls back. Each commit records, in its transaction, one
//! `users_imported` event per organization with how many users it received.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::Utc;
use migration::DEFAULT_ORGANIZATION_ID;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait as _,
    QueryFilter as _, QuerySelect as _, Set,
};
use uuid::Uuid;

use super::line::ImportLine;
use super::{BATCH, ImportOptions, ImportReport};
use crate::accounts::AccountError;
use crate::accounts::domain::UserId;
use crate::audit::{AuditEntry, AuditLog, AuditType, RequestMeta};
use crate::db;
use crate::entities::{organization, role, user, user_role};

pub(super) struct Writer<'a> {
    db: &'a DatabaseConnection,
    audit: &'a AuditLog,
    options: ImportOptions,
    txn: Option<DatabaseTransaction>,
    roles: HashSet<String>,
    /// Organization ids by name: those that existed at the start and those created since.
    organizations: HashMap<String, Uuid>,
    pending: Vec<(u64, ImportLine)>,
    /// Imported inside the open transaction, not committed yet, by organization.
    uncommitted: BTreeMap<Uuid, u64>,
    abandoned: bool,
}

impl<'a> Writer<'a> {
    pub(super) async fn start(
        db: &'a DatabaseConnection,
        audit: &'a AuditLog,
        options: ImportOptions,
    ) -> Result<Self, AccountError> {
        let roles = role::Entity::find()
            .select_only()
            .column(role::Column::Code)
            .into_tuple::<String>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let organizations = organization::Entity::find()
            .select_only()
            .columns([organization::Column::Name, organization::Column::Id])
            .into_tuple::<(String, Uuid)>()
            .all(db)
            .await?
            .into_iter()
            .collect();
        let txn = if options.dry_run {
            None
        } else {
            Some(db::begin_write(db).await?)
        };
        Ok(Self {
            db,
            audit,
            options,
            txn,
            roles,
            organizations,
            pending: Vec::with_capacity(BATCH),
            uncommitted: BTreeMap::new(),
            abandoned: false,
        })
    }

    /// Checks what only the database knows and a line can get wrong: its roles exist.
    pub(super) fn check_references(&self, line: ImportLine) -> Result<ImportLine, String> {
        if let Some(unknown) = line
            .roles
            .iter()
            .find(|code| !self.roles.contains(code.as_str()))
        {
            return Err(format!("roles: no role `{}` is defined", unknown.as_str()));
        }
        Ok(line)
    }

    /// Nothing more will be written, and what was is rolled back at the end.
    pub(super) fn abandon(&mut self) {
        self.abandoned = true;
        self.pending.clear();
    }

    pub(super) async fn push(
        &mut self,
        number: u64,
        line: ImportLine,
        report: &mut ImportReport,
    ) -> Result<(), AccountError> {
        if self.abandoned {
            return Ok(());
        }
        self.pending.push((number, line));
        if self.pending.len() >= BATCH {
            self.flush(report).await?;
        }
        Ok(())
    }

    pub(super) async fn finish(mut self, report: &mut ImportReport) -> Result<(), AccountError> {
        self.flush(report).await?;
        let Some(txn) = self.txn.take() else {
            // A dry run: `imported` counts what would have been.
            return Ok(());
        };
        if self.abandoned {
            txn.rollback().await?;
            report.imported = 0;
            return Ok(());
        }
        self.commit(txn, report).await
    }

    /// Commits what the open transaction imported, with its events.
    async fn commit(
        &mut self,
        txn: DatabaseTransaction,
        report: &mut ImportReport,
    ) -> Result<(), AccountError> {
        let imported = std::mem::take(&mut self.uncommitted);
        let mut events = Vec::with_capacity(imported.len());
        for (organization_id, count) in &imported {
            let entry = AuditEntry::new(AuditType::UsersImported)
                .organization(*organization_id)
                .detail("count", *count);
            events.push(
                self.audit
                    .record(&txn, &RequestMeta::default(), entry)
                    .await?,
            );
        }
        txn.commit().await?;
        self.audit.committed(events);
        report.imported += imported.values().sum::<u64>();
        report.written = true;
        Ok(())
    }

    async fn flush(&mut self, report: &mut ImportReport) -> Result<(), AccountError> {
        if self.abandoned || self.pending.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.pending);
        let emails = batch.iter().map(|(_, line)| line.email.as_str().to_owned());
        let existing: HashSet<String> = {
            let query = user::Entity::find()
                .select_only()
                .column(user::Column::Email)
                .filter(user::Column::Email.is_in(emails))
                .into_tuple::<String>();
            match &self.txn {
                Some(txn) => query.all(txn).await?,
                None => query.all(self.db).await?,
            }
            .into_iter()
            .collect()
        };
        let (skipped, new): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .partition(|(_, line)| existing.contains(line.email.as_str()));
        report.skipped_existing.extend(
            skipped
                .into_iter()
                .map(|(number, line)| (number, line.email.into_string())),
        );
        let Some(txn) = &self.txn else {
            report.imported += new.len() as u64;
            return Ok(());
        };
        if new.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let mut users = Vec::with_capacity(new.len());
        let mut grants = Vec::new();
        for (_, line) in new {
            let organization_id = match &line.organization {
                None => DEFAULT_ORGANIZATION_ID,
                Some(name) => {
                    organization_id(txn, &mut self.organizations, name.clone().into_string())
                        .await?
                }
            };
            *self.uncommitted.entry(organization_id).or_default() += 1;
            let id: Uuid = UserId::random().into();
            grants.extend(line.roles.iter().map(|code| user_role::ActiveModel {
                user_id: Set(id),
                role_code: Set(code.as_str().to_owned()),
            }));
            users.push(user::ActiveModel {
                id: Set(id),
                email: Set(line.email.into_string()),
                name: Set(line.name.map(|name| name.into_string())),
                password_hash: Set(line.password_hash),
                email_verified: Set(line.email_verified),
                pending_email: Set(None),
                organization_id: Set(organization_id),
                active: Set(line.active),
                last_login_at: Set(None),
                created_at: Set(line.created_at.unwrap_or(now)),
                updated_at: Set(now),
            });
        }
        user::Entity::insert_many(users)
            .exec_without_returning(txn)
            .await?;
        if !grants.is_empty() {
            user_role::Entity::insert_many(grants)
                .exec_without_returning(txn)
                .await?;
        }
        if self.options.skip_invalid {
            // No later line can undo this batch: commit it, so that a long import does not
            // hold the database's write lock from start to end.
            if let Some(txn) = self.txn.take() {
                self.commit(txn, report).await?;
            }
            self.txn = Some(db::begin_write(self.db).await?);
        }
        Ok(())
    }
}

/// The id of the organization `name`, created when missing.
async fn organization_id(
    txn: &impl ConnectionTrait,
    known: &mut HashMap<String, Uuid>,
    name: String,
) -> Result<Uuid, AccountError> {
    if let Some(id) = known.get(&name) {
        return Ok(*id);
    }
    let id = Uuid::new_v4();
    organization::Entity::insert(organization::ActiveModel {
        id: Set(id),
        name: Set(name.clone()),
        created_at: Set(Utc::now()),
    })
    .exec_without_returning(txn)
    .await?;
    tracing::info!(organization.id = %id, "organization created by an import");
    known.insert(name, id);
    Ok(id)
}

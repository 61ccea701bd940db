//! latchkey's schema history: one file per migration, applied in order by `latchkey migrate`
//! and at the start of `latchkey serve`.

pub use sea_orm_migration::prelude::*;

mod m20261122_000001_accounts;
mod m20261122_000002_login_attempts;
mod m20261201_000003_sealed_outbox;
mod m20261201_000004_guess_slots;
mod m20261201_000005_refresh_successor;
mod m20261201_000006_administration;
mod m20261201_000007_signing_keys;
mod m20261201_000008_session_details;
mod m20261201_000009_email_verification;
mod m20261201_000010_audit_events;
mod m20261201_000012_outbox_channel;
mod m20261201_000013_rate_limits_and_successors;

pub use m20261201_000006_administration::DEFAULT_ORGANIZATION_ID;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_accounts::Migration),
            Box::new(m20261122_000002_login_attempts::Migration),
            Box::new(m20261201_000003_sealed_outbox::Migration),
            Box::new(m20261201_000004_guess_slots::Migration),
            Box::new(m20261201_000005_refresh_successor::Migration),
            Box::new(m20261201_000006_administration::Migration),
            Box::new(m20261201_000007_signing_keys::Migration),
            Box::new(m20261201_000008_session_details::Migration),
            Box::new(m20261201_000009_email_verification::Migration),
            Box::new(m20261201_000010_audit_events::Migration),
            Box::new(m20261201_000012_outbox_channel::Migration),
            Box::new(m20261201_000013_rate_limits_and_successors::Migration),
        ]
    }
}

//! Password-guess accounting in two scopes (docs/security.md, "Throttling"): consecutive failures
//! per account and client address, which lock that address out of that account, and a decaying
//! count per account from all addresses together, a higher bound on distributed guessing. The
//! per-email table of the first release locked the owner out along with the attacker; it is
//! replaced (its counters are dropped: at worst a lock ends early, once, at the upgrade).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(string_len(LoginAttempts::Email, 254))
                    // A normalised client address: IPv4, or an IPv6 /64.
                    .col(string_len(LoginAttempts::Client, 64))
                    .col(integer(LoginAttempts::Failures).default(0))
                    .col(timestamp_with_time_zone_null(LoginAttempts::LockedUntil))
                    .col(timestamp_with_time_zone(LoginAttempts::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(LoginAttempts::Email)
                            .col(LoginAttempts::Client),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AccountGuesses::Table)
                    .col(string_len(AccountGuesses::Email, 254).primary_key())
                    .col(integer(AccountGuesses::Level).default(0))
                    .col(timestamp_with_time_zone(AccountGuesses::DrainedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AccountGuesses::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .col(string_len(LoginAttempts::Email, 254).primary_key())
                    .col(integer(LoginAttempts::Failures).default(0))
                    .col(timestamp_with_time_zone_null(LoginAttempts::LockedUntil))
                    .col(timestamp_with_time_zone(LoginAttempts::UpdatedAt))
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Email,
    Client,
    Failures,
    LockedUntil,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccountGuesses {
    Table,
    Email,
    Level,
    DrainedAt,
}

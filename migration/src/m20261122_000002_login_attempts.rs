//! Failed-login counters per normalised email, shared by every instance on the database. Keyed
//! by email rather than user id so that unknown addresses lock exactly like real ones and a
//! lockout reveals nothing about which accounts exist.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginAttempts::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    Email,
    Failures,
    LockedUntil,
    UpdatedAt,
}

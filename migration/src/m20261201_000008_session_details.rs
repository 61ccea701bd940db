//! What a user sees of their sessions: when each was last used, and from which address and user
//! agent it was opened or last refreshed. Existing sessions start without them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one change per ALTER TABLE.
        for column in [
            timestamp_with_time_zone_null(Sessions::LastUsedAt),
            string_len_null(Sessions::IpAddress, 45),
            string_len_null(Sessions::UserAgent, 1024),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Sessions::UserAgent,
            Sessions::IpAddress,
            Sessions::LastUsedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    LastUsedAt,
    IpAddress,
    UserAgent,
}

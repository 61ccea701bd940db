//! The outbox carries webhook deliveries beside mail: a `channel` column (`mail` for every
//! existing row) that each delivery worker claims by, and an index for finding due rows per channel.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(string_len(Outbox::Channel, 16).default("mail"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_channel_due")
                    .table(Outbox::Table)
                    .col(Outbox::Channel)
                    .col(Outbox::SentAt)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Webhook deliveries would otherwise be taken for mail.
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Outbox::Table)
                    .and_where(Expr::col(Outbox::Channel).ne("mail"))
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_outbox_channel_due")
                    .table(Outbox::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::Channel)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Channel,
    SentAt,
    NextAttemptAt,
}

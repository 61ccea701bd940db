//! Outbox bodies sealed at rest: a nullable `sealed_body` column for the encrypted subject and
//! bodies, and the plaintext bodies of mail already delivered or given up erased.

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
                    .add_column(blob_null(Outbox::SealedBody))
                    .to_owned(),
            )
            .await?;
        // Finished mail is kept for its recipient, kind, times and attempts only; its bodies may
        // hold a link that still works. Pending mail keeps them: the worker delivers it from the
        // plaintext columns, then erases them.
        manager
            .exec_stmt(
                Query::update()
                    .table(Outbox::Table)
                    .value(Outbox::Subject, "")
                    .value(Outbox::TextBody, "")
                    .value(Outbox::HtmlBody, "")
                    .cond_where(
                        Cond::any()
                            .add(Expr::col(Outbox::SentAt).is_not_null())
                            .add(Expr::col(Outbox::FailedAt).is_not_null()),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Sealed bodies cannot be turned back into plaintext here; pending sealed mail is lost.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::SealedBody)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Subject,
    TextBody,
    HtmlBody,
    SealedBody,
    SentAt,
    FailedAt,
}

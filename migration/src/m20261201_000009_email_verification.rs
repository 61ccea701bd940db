//! Email verification: tokens of their own kind, each bound to the address it was mailed to, and
//! the address an account is moving to while the new address has not confirmed it yet.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len_null(Users::PendingEmail, 254))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EmailVerificationTokens::Table)
                    .col(pk_uuid(EmailVerificationTokens::Id))
                    .col(uuid(EmailVerificationTokens::UserId))
                    .col(string_len_uniq(EmailVerificationTokens::TokenHash, 64))
                    // The address the link was mailed to: the token proves that one, no other.
                    .col(string_len(EmailVerificationTokens::Email, 254))
                    .col(timestamp_with_time_zone(EmailVerificationTokens::CreatedAt))
                    .col(timestamp_with_time_zone(EmailVerificationTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(
                        EmailVerificationTokens::UsedAt,
                    ))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                EmailVerificationTokens::Table,
                                EmailVerificationTokens::UserId,
                            )
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_email_verification_tokens_user_id")
                    .table(EmailVerificationTokens::Table)
                    .col(EmailVerificationTokens::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(EmailVerificationTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::PendingEmail)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    PendingEmail,
}

#[derive(DeriveIden)]
enum EmailVerificationTokens {
    Table,
    Id,
    UserId,
    TokenHash,
    Email,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

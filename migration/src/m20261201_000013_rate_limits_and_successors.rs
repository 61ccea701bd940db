//! Two things for the second performance round:
//! - rate-limit counters shared by every instance on one database: one row per limit and key,
//!   the key a keyed hash (no email or client address is stored readable), counting attempts in
//!   a window that starts with the key's first attempt and ends at `window_ends_at`;
//! - an index of the refresh tokens that still hold a sealed successor. Each rotation erases the
//!   sealed successors of its session's older tokens; without it that looked at every token the
//!   session ever had (one more per refresh, for as long as the session lives).

use sea_orm_migration::{prelude::*, schema::*};

const SEALED_SUCCESSORS_INDEX: &str = "idx_refresh_tokens_sealed_successor";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitCounters::Table)
                    // HMAC-SHA256 of the limit's name and its key: 32 bytes.
                    .col(blob(RateLimitCounters::Key).primary_key())
                    .col(integer(RateLimitCounters::Count))
                    .col(timestamp_with_time_zone(RateLimitCounters::WindowEndsAt))
                    .to_owned(),
            )
            .await?;
        // The clean-up job removes ended windows by this column.
        manager
            .create_index(
                Index::create()
                    .name("idx_rate_limit_counters_window_ends_at")
                    .table(RateLimitCounters::Table)
                    .col(RateLimitCounters::WindowEndsAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SEALED_SUCCESSORS_INDEX)
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .and_where(Expr::col(RefreshTokens::SuccessorSealed).is_not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(SEALED_SUCCESSORS_INDEX)
                    .table(RefreshTokens::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimitCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RateLimitCounters {
    Table,
    Key,
    Count,
    WindowEndsAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    SessionId,
    SuccessorSealed,
}

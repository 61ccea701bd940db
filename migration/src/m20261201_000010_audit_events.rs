//! The audit trail: one row per security event, written in the transaction of the change it
//! records. Rows name users by id without a foreign key, so an account's history outlives it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(string_len(AuditEvents::Type, 64))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(uuid_null(AuditEvents::UserId))
                    .col(uuid_null(AuditEvents::OrganizationId))
                    .col(string_len_null(AuditEvents::IpAddress, 45))
                    .col(string_len_null(AuditEvents::UserAgent, 1024))
                    .col(string_len_null(AuditEvents::RequestId, 128))
                    // A JSON object, as text on both databases.
                    .col(text(AuditEvents::Details))
                    .to_owned(),
            )
            .await?;
        // Listing pages by (at, id) newest first: all events, one organization's, one user's,
        // one actor's. The first also serves retention.
        let indexes: [(&str, Option<AuditEvents>); 4] = [
            ("idx_audit_events_at", None),
            (
                "idx_audit_events_organization_at",
                Some(AuditEvents::OrganizationId),
            ),
            ("idx_audit_events_user_at", Some(AuditEvents::UserId)),
            ("idx_audit_events_actor_at", Some(AuditEvents::ActorId)),
        ];
        for (name, leading) in indexes {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            if let Some(column) = leading {
                index.col(column);
            }
            index.col(AuditEvents::At).col(AuditEvents::Id);
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditEvents {
    Table,
    Id,
    Type,
    At,
    ActorId,
    UserId,
    OrganizationId,
    IpAddress,
    UserAgent,
    RequestId,
    Details,
}

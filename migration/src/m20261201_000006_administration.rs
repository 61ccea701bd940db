//! Organizations, roles and the account status an administrator manages. Existing users join
//! the `default` organization with no roles and stay active; reset tokens learn whether they
//! are a reset or an invitation (a set-password link for an account created without one).

use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

/// The organization every account belongs to until an administrator says otherwise. Fixed, so
/// that the column default below and the server agree on it without a lookup.
pub const DEFAULT_ORGANIZATION_ID: uuid::Uuid =
    uuid::Uuid::from_u128(0x10b8_7242_a48d_4ca8_a649_4ac4_9b8b_648c);

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        create_organizations(manager).await?;
        create_roles(manager).await?;
        add_user_columns(manager).await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordResetTokens::Table)
                    .add_column(string_len(PasswordResetTokens::Purpose, 16).default("reset"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordResetTokens::Table)
                    .drop_column(PasswordResetTokens::Purpose)
                    .to_owned(),
            )
            .await?;
        for index in ["idx_users_created", "idx_users_organization_created"] {
            manager
                .drop_index(Index::drop().name(index).table(Users::Table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .drop_foreign_key(
                    ForeignKey::drop()
                        .name("fk_users_organization")
                        .table(Users::Table)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Users::LastLoginAt, Users::Active, Users::OrganizationId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            UserRoles::Table.into_iden(),
            Roles::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn create_organizations(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Organizations::Table)
                .col(pk_uuid(Organizations::Id))
                .col(string_len_uniq(Organizations::Name, 100))
                .col(timestamp_with_time_zone(Organizations::CreatedAt))
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_organizations_created")
                .table(Organizations::Table)
                .col(Organizations::CreatedAt)
                .col(Organizations::Id)
                .to_owned(),
        )
        .await?;
    manager
        .exec_stmt(
            Query::insert()
                .into_table(Organizations::Table)
                .columns([
                    Organizations::Id,
                    Organizations::Name,
                    Organizations::CreatedAt,
                ])
                .values_panic([
                    DEFAULT_ORGANIZATION_ID.into(),
                    "default".into(),
                    chrono::Utc::now().into(),
                ])
                .to_owned(),
        )
        .await
}

async fn create_roles(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(Roles::Table)
                .col(string_len(Roles::Code, 32).primary_key())
                .col(string_len(Roles::Name, 100))
                .col(boolean(Roles::BuiltIn).default(false))
                .col(timestamp_with_time_zone(Roles::CreatedAt))
                .to_owned(),
        )
        .await?;
    let now = chrono::Utc::now();
    for (code, name) in [
        ("admin", "Administrator"),
        ("superadmin", "Super administrator"),
    ] {
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(Roles::Table)
                    .columns([Roles::Code, Roles::Name, Roles::BuiltIn, Roles::CreatedAt])
                    .values_panic([code.into(), name.into(), true.into(), now.into()])
                    .to_owned(),
            )
            .await?;
    }
    manager
        .create_table(
            Table::create()
                .table(UserRoles::Table)
                .col(uuid(UserRoles::UserId))
                .col(string_len(UserRoles::RoleCode, 32))
                .primary_key(
                    Index::create()
                        .col(UserRoles::UserId)
                        .col(UserRoles::RoleCode),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(UserRoles::Table, UserRoles::UserId)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(UserRoles::Table, UserRoles::RoleCode)
                        .to(Roles::Table, Roles::Code)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
    // "Who has this role" (role filters, the last-superadmin rule) reads by role.
    manager
        .create_index(
            Index::create()
                .name("idx_user_roles_role_code")
                .table(UserRoles::Table)
                .col(UserRoles::RoleCode)
                .col(UserRoles::UserId)
                .to_owned(),
        )
        .await
}

async fn add_user_columns(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    // UUIDs are 16-byte blobs on SQLite and `uuid` on PostgreSQL; the default must match.
    let backend = manager.get_database_backend();
    let default_organization = match backend {
        DbBackend::Postgres => format!("'{DEFAULT_ORGANIZATION_ID}'::uuid"),
        _ => format!("X'{}'", DEFAULT_ORGANIZATION_ID.simple()),
    };
    // SQLite takes one change per ALTER TABLE.
    for column in [
        uuid(Users::OrganizationId)
            .default(Expr::cust(default_organization))
            .to_owned(),
        boolean(Users::Active).default(true).to_owned(),
        timestamp_with_time_zone_null(Users::LastLoginAt).to_owned(),
    ] {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(column)
                    .to_owned(),
            )
            .await?;
    }
    if backend == DbBackend::Postgres {
        // SQLite cannot add a constraint to an existing table; organizations are never
        // deleted, so the reference holds there too.
        manager
            .create_foreign_key(
                ForeignKey::create()
                    .name("fk_users_organization")
                    .from(Users::Table, Users::OrganizationId)
                    .to(Organizations::Table, Organizations::Id)
                    .to_owned(),
            )
            .await?;
    }
    // Keyset paging, newest first: across every organization, and within one.
    manager
        .create_index(
            Index::create()
                .name("idx_users_created")
                .table(Users::Table)
                .col(Users::CreatedAt)
                .col(Users::Id)
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name("idx_users_organization_created")
                .table(Users::Table)
                .col(Users::OrganizationId)
                .col(Users::CreatedAt)
                .col(Users::Id)
                .to_owned(),
        )
        .await
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Code,
    Name,
    BuiltIn,
    CreatedAt,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    RoleCode,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CreatedAt,
    OrganizationId,
    Active,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum PasswordResetTokens {
    Table,
    Purpose,
}

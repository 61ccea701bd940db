use sea_orm::entity::prelude::*;

/// One security event. `actor_id`, `user_id` and `organization_id` are plain ids, not foreign
/// keys: an account's history stays after the account is deleted.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// One of `audit::AuditType`'s names, e.g. `login_failed`.
    #[sea_orm(column_name = "type")]
    pub kind: String,
    pub at: DateTimeUtc,
    /// Who acted; `None` when anonymous.
    pub actor_id: Option<Uuid>,
    /// Whom the event concerns.
    pub user_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// A JSON object; never a password, token, hash or secret.
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

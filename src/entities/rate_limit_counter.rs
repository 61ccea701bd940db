use sea_orm::entity::prelude::*;

/// Attempts counted under one rate limit and key in the window ending at `window_ends_at`,
/// shared by every instance on the database. `key` is a keyed hash of the limit and its key
/// (an email or a client address), so neither is stored readable.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false, column_type = "Blob")]
    pub key: Vec<u8>,
    pub count: i32,
    pub window_ends_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

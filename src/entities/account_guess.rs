use sea_orm::entity::prelude::*;

/// Failed password checks for one normalised email from every address together: a leaky bucket
/// whose `level` drains at a fixed rate from `drained_at`, so a trickle never fills it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_guesses")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub email: String,
    pub level: i32,
    pub drained_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

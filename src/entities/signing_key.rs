use sea_orm::entity::prelude::*;

/// A key that signs (or signed) access tokens. `private_sealed` opens only with the master
/// secret and this row's `kid` (`auth::secret_box`, purpose `SigningKey`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    pub algorithm: String,
    pub state: String,
    #[sea_orm(column_type = "Text")]
    pub public_jwk: String,
    pub private_sealed: Vec<u8>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

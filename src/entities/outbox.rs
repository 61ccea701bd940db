use sea_orm::entity::prelude::*;

/// A message waiting for (or done with) delivery: a mail, or a webhook delivery to one receiver.
/// Written in the transaction that causes it; once done, only what operations needs stays
/// (recipient, kind, times, attempts, last error).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    /// `mail` or `webhook`: which worker delivers it (`mail::outbox::Channel`).
    pub channel: String,
    /// A mail's address, or a webhook receiver's origin (its full URL waits sealed).
    pub recipient: String,
    /// The template of a mail, or the event type of a webhook.
    pub kind: String,
    /// Plaintext subject and bodies: only mail written before bodies were sealed, while it waits;
    /// empty for everything else.
    pub subject: String,
    #[sea_orm(column_type = "Text")]
    pub text_body: String,
    #[sea_orm(column_type = "Text")]
    pub html_body: String,
    /// Subject and bodies sealed under the master secret (`mail::sealed`) while the message
    /// waits; null once it is delivered or given up.
    #[sea_orm(column_type = "Blob", nullable)]
    pub sealed_body: Option<Vec<u8>>,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub claimed_until: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub failed_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

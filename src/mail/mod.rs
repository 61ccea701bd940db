//! Mail that is never lost: services write a rendered message into the outbox inside the
//! transaction that causes it; a worker delivers it afterwards with retries.

pub mod outbox;
pub mod sealed;
pub mod template_overrides;
pub mod templates;
pub mod transport;
pub mod worker;

pub use outbox::Outbox;
pub use templates::{MailKind, MailTemplates, RenderedMail};

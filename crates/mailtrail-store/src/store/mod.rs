//! The store's traits, one per concern, and [`Store`], which is all of
//! them: a backend implements each, a caller holds an `Arc<dyn Store>` and
//! brings the methods into scope with `use mailtrail_store::prelude::*`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::StoreError;

mod accounts;
mod dashboard;
mod inbound;
mod messages;
mod sending_domains;
mod sequences;
mod tracking;
mod user_mailboxes;
mod webhooks;

pub use accounts::AccountStore;
pub use dashboard::DashboardStore;
pub use inbound::InboundStore;
pub use messages::MessageStore;
pub use sending_domains::SendingDomainStore;
pub use sequences::SequenceStore;
pub use tracking::TrackingStore;
pub use user_mailboxes::UserMailboxStore;
pub use webhooks::WebhookStore;

/// Everything mailtrail persists. Each method is one transaction: nothing is
/// ever half-written. All reads of organisation data take the organisation
/// id, so a caller cannot see another organisation's rows by mistake.
#[async_trait]
pub trait Store:
    MessageStore
    + TrackingStore
    + InboundStore
    + DashboardStore
    + AccountStore
    + SendingDomainStore
    + WebhookStore
    + UserMailboxStore
    + SequenceStore
    + 'static
{
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store named by `url` (`sqlite://path` or `postgres://...`),
/// creating a SQLite file if needed. Does not migrate.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(crate::sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(crate::postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

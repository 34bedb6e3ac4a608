//! The [`SendingDomainStore`] trait.

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreError;
use crate::sending_domain::*;

/// Sending domains and their DKIM keys (RFC 6376).
#[async_trait]
pub trait SendingDomainStore: Send + Sync {
    /// Adds a sending domain with its DKIM key; `Conflict("sending domain")`
    /// if the organisation already has this domain.
    async fn add_sending_domain(&self, domain: &NewSendingDomain) -> Result<(), StoreError>;

    /// The organisation's sending domains, by domain name.
    async fn sending_domains(&self, org_id: Uuid) -> Result<Vec<SendingDomain>, StoreError>;

    /// Every organisation's sending domains: the delivery workers load
    /// them once per batch and keep the parsed keys in memory.
    async fn all_sending_domains(&self) -> Result<Vec<SendingDomain>, StoreError>;

    /// Removes one of the organisation's sending domains (and its key);
    /// whether it was there.
    async fn delete_sending_domain(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError>;
}

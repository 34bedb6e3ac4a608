//! The [`SequenceStore`] trait.

use async_trait::async_trait;
use uuid::Uuid;

use crate::StoreError;
use crate::sequence::*;

/// Contacts and sequences (DESIGN.md section 4, flow 6).
#[async_trait]
pub trait SequenceStore: Send + Sync {
    /// Adds a contact; `Conflict("contact")` when the organisation already
    /// has one with that address.
    async fn create_contact(&self, contact: &NewContact) -> Result<(), StoreError>;

    /// Adds the contacts, or updates those whose address the organisation
    /// already has (keeping their id and creation time), all in one
    /// transaction; how many were written.
    async fn upsert_contacts(&self, contacts: &[NewContact]) -> Result<u64, StoreError>;

    /// One of the organisation's contacts.
    async fn contact(&self, org_id: Uuid, id: Uuid) -> Result<Option<Contact>, StoreError>;

    /// The organisation's contact with this (normalised) address.
    async fn contact_by_address(
        &self,
        org_id: Uuid,
        address: &str,
    ) -> Result<Option<Contact>, StoreError>;

    /// The organisation's contacts, newest first, only those with an id
    /// below `before` when given (keyset pagination).
    async fn contacts(
        &self,
        org_id: Uuid,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Contact>, StoreError>;

    /// Adds a sequence with its steps, in one transaction.
    async fn create_sequence(&self, sequence: &Sequence) -> Result<(), StoreError>;

    /// One of the organisation's sequences, with its steps.
    async fn sequence(&self, org_id: Uuid, id: Uuid) -> Result<Option<Sequence>, StoreError>;

    /// The organisation's sequences with their steps, newest first.
    async fn sequences(&self, org_id: Uuid) -> Result<Vec<Sequence>, StoreError>;
}

//! The [`AccountStore`] trait.

use async_trait::async_trait;
use mailtrail_domain::EmailAddress;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::dashboard::*;
use crate::model::*;

/// Organisations and their settings, users, sign-in sessions and API keys.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The organisation named `name`, created with default settings if absent.
    async fn ensure_organisation(&self, name: &str) -> Result<Organisation, StoreError>;

    /// An organisation by id.
    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>, StoreError>;

    /// Changes the organisation's defaults for new messages; whether the
    /// organisation exists.
    async fn set_organisation_defaults(
        &self,
        org_id: Uuid,
        read_receipt: bool,
        track_opens: bool,
        track_clicks: bool,
    ) -> Result<bool, StoreError>;

    /// Adds a user; `Conflict("user")` if the address is taken.
    async fn create_user(
        &self,
        org_id: Uuid,
        email: &EmailAddress,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User, StoreError>;

    /// A user by sign-in address (case-insensitive).
    async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// The organisation's users, by address.
    async fn users(&self, org_id: Uuid) -> Result<Vec<User>, StoreError>;

    /// Makes a user of the organisation an administrator or not. Taking
    /// the flag from the last administrator is refused
    /// ([`UserChange::LastAdmin`]): the check and the change are one
    /// transaction, so two administrators demoting each other at once
    /// cannot both succeed.
    async fn set_user_admin(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        is_admin: bool,
    ) -> Result<UserChange, StoreError>;

    /// Removes a user of the organisation, with their sessions and API
    /// keys. Their messages stay with the organisation and are recorded as
    /// sent by `heir` (a user of the same organisation, the administrator
    /// who removes them). Removing the last administrator is refused.
    async fn delete_user(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        heir: Uuid,
    ) -> Result<UserChange, StoreError>;

    /// Stores a new API key (hash only).
    async fn create_api_key(&self, key: &NewApiKey) -> Result<(), StoreError>;

    /// Resolves a key by the hex SHA-256 of its secret; revoked keys resolve
    /// to nothing. Records the time of use.
    async fn api_key_owner(&self, key_hash: &str) -> Result<Option<ApiKeyOwner>, StoreError>;

    /// Revokes a key of the organisation's users; whether a live key was
    /// revoked. A revoked key never resolves again.
    async fn revoke_api_key(&self, org_id: Uuid, key_id: Uuid) -> Result<bool, StoreError>;

    /// The API keys of the organisation's users (of `user_id` only, when
    /// given), revoked ones included, newest first.
    async fn api_keys(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Vec<ApiKeyInfo>, StoreError>;

    /// Stores a new sign-in session.
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// The live session whose id hashes to `id_hash`, with its user; an
    /// expired (at `now`) or unknown one resolves to nothing.
    async fn session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError>;

    /// Ends a session (sign-out); whether it existed. Also removes every
    /// session that expired before `now`, so the table does not grow.
    async fn delete_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// The organisation's sender networks (CIDR text, validated by the
    /// caller), in the order given.
    async fn sender_networks(&self, org_id: Uuid) -> Result<Vec<String>, StoreError>;

    /// Replaces the organisation's sender networks, in one transaction.
    async fn set_sender_networks(
        &self,
        org_id: Uuid,
        networks: &[String],
    ) -> Result<(), StoreError>;

    /// Every organisation's sender networks, `(organisation, network)`:
    /// loaded into memory at start, so that the tracking endpoints never
    /// read the database per hit.
    async fn all_sender_networks(&self) -> Result<Vec<(Uuid, String)>, StoreError>;
}

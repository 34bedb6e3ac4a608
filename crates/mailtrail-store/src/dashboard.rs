//! What the dashboard's own screens read and change beyond messages: the
//! list of API keys, the users of an organisation, the sender's networks.

use time::OffsetDateTime;
use uuid::Uuid;

/// An API key as its list shows it: never the secret, only the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyInfo {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// The owner's sign-in address.
    pub user_email: String,
    /// The label given at creation.
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub prefix: String,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last used (refreshed at most once a minute), if ever.
    pub last_used_at: Option<OffsetDateTime>,
    /// When revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// What a change to a user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    /// Done.
    Changed,
    /// No such user in the organisation.
    NotFound,
    /// Refused: the organisation would be left without an administrator.
    LastAdmin,
}

//! Each user's own mailbox connection (DESIGN.md section 2, "mailbox"):
//! what the store keeps of it. The URL holding the password is only ever
//! here sealed; sealing and opening it is the caller's, with a key the
//! database never sees.

use time::OffsetDateTime;
use uuid::Uuid;

/// A mailbox to connect (or reconnect: one per user).
#[derive(Debug, Clone)]
pub struct NewUserMailbox {
    /// The user whose mailbox it is.
    pub user_id: Uuid,
    /// The user's organisation.
    pub org_id: Uuid,
    /// The URL without any secret, to show.
    pub display: String,
    /// The whole URL, sealed for this user.
    pub sealed_url: Vec<u8>,
    /// When it was tested and connected.
    pub connected_at: OffsetDateTime,
}

/// A connected mailbox and how its last sessions went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMailbox {
    /// The user whose mailbox it is.
    pub user_id: Uuid,
    /// The user's organisation.
    pub org_id: Uuid,
    /// The URL without any secret.
    pub display: String,
    /// The whole URL, sealed for this user.
    pub sealed_url: Vec<u8>,
    /// When it was connected.
    pub connected_at: OffsetDateTime,
    /// The last session that worked.
    pub last_ok_at: Option<OffsetDateTime>,
    /// The first failure since the last session that worked.
    pub failing_since: Option<OffsetDateTime>,
    /// What the last failure was.
    pub last_error: Option<String>,
}

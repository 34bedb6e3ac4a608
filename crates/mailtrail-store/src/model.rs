//! The records the store reads and writes. Ids are UUIDv7: time-ordered, so
//! ordering by id is ordering by creation, which keyset pagination uses.

use mailtrail_domain::{EmailAddress, EventKind, MessageId, Opener, RecipientKind, Status};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

pub use mailtrail_domain::{NewEvent, StatusReason};

/// An organisation: the unit of data isolation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Organisation {
    /// Id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Whether messages ask for a read receipt unless the request says
    /// otherwise. Starts on.
    pub read_receipt_default: bool,
    /// Whether opens are tracked unless the request says otherwise.
    pub track_opens_default: bool,
    /// Whether clicks are tracked unless the request says otherwise.
    pub track_clicks_default: bool,
}

/// A person who signs in or owns API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Id.
    pub id: Uuid,
    /// Their organisation.
    pub org_id: Uuid,
    /// Sign-in address, unique across the installation.
    pub email: EmailAddress,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// Whether they administer the organisation.
    pub is_admin: bool,
    /// When created.
    pub created_at: OffsetDateTime,
}

/// How stale `api_keys.last_used_at` may get before a lookup refreshes it.
/// Writing on every request would turn each API call into a write
/// transaction, which SQLite serialises.
pub(crate) const KEY_USE_RESOLUTION_MS: i64 = 60_000;

/// What a valid API key resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyOwner {
    /// The key's id.
    pub key_id: Uuid,
    /// The user it belongs to.
    pub user_id: Uuid,
    /// Their organisation: everything the key sees is scoped to it.
    pub org_id: Uuid,
}

/// A new API key; only the SHA-256 of the secret is stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Id.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// A label.
    pub name: String,
    /// Hex SHA-256 of the whole key.
    pub key_hash: String,
    /// The first characters of the key, shown to tell keys apart.
    pub prefix: String,
}

/// An attachment as given to the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// The bytes.
    #[serde(with = "bytes_b64")]
    pub content: Vec<u8>,
}

/// Everything needed to build each recipient's copy, stored as one document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct MessageContent {
    /// Plain-text body.
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
    /// Extra headers, validated at the edge.
    pub headers: Vec<(String, String)>,
    /// Attachments.
    pub attachments: Vec<Attachment>,
}

/// A message to store, with its recipients; stored in one transaction.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Owner organisation.
    pub org_id: Uuid,
    /// The user (or key owner) who sent it.
    pub user_id: Uuid,
    /// The RFC 5322 Message-ID mailtrail generated.
    pub message_id: MessageId,
    /// Sender address.
    pub from_address: EmailAddress,
    /// Sender display name.
    pub from_name: Option<String>,
    /// Reply-To.
    pub reply_to: Option<EmailAddress>,
    /// Subject.
    pub subject: String,
    /// Bodies, headers and attachments.
    pub content: MessageContent,
    /// Whether Disposition-Notification-To is set.
    pub read_receipt: bool,
    /// Whether opens are tracked.
    pub track_opens: bool,
    /// Whether clicks are tracked.
    pub track_clicks: bool,
    /// Caller's key-value data, returned as given.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The caller's tag, to group and filter messages by.
    pub tag: Option<String>,
    /// Caller's idempotency key, unique per organisation.
    pub idempotency_key: Option<String>,
    /// When accepted.
    pub created_at: OffsetDateTime,
    /// The recipients, in order.
    pub recipients: Vec<NewRecipient>,
}

/// One recipient of a new message.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Address.
    pub address: EmailAddress,
    /// To, cc or bcc.
    pub kind: RecipientKind,
}

/// What `insert_message` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// Stored; recipients on the suppression list got `suppressed` and no job.
    Created(Uuid),
    /// The idempotency key was used before: this is the earlier message.
    Existing(Uuid),
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Id.
    pub id: Uuid,
    /// What happened.
    pub kind: EventKind,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who, for opens and clicks.
    pub opener: Option<Opener>,
    /// Why, for failures and deferrals.
    pub reason: Option<StatusReason>,
    /// The rest.
    pub data: serde_json::Value,
}

/// A recipient as shown by the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recipient {
    /// Id.
    pub id: Uuid,
    /// Address.
    pub address: EmailAddress,
    /// To, cc or bcc.
    pub kind: RecipientKind,
    /// Derived status (a cache of the fold over its events).
    pub status: Status,
    /// Why, when failed or deferred.
    pub status_reason: Option<StatusReason>,
    /// When the status last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Opens by a person (directly or through an image proxy). Kept when
    /// detailed events are purged.
    pub opens: u64,
    /// Opens by a machine (privacy prefetch, scanners): never a person's.
    pub machine_opens: u64,
    /// Link clicks by a person.
    pub clicks: u64,
    /// When a person (human or proxy opener, never a machine or the sender)
    /// first opened the copy, a click without a pixel load included.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_open_at: Option<OffsetDateTime>,
    /// Whether that first open was implied by a click with no pixel load
    /// before it (images blocked) rather than seen.
    pub first_open_implied: bool,
    /// How many of `opens` were implied by clicks.
    pub implied_opens: u64,
    /// Clicks per link, in the order first clicked (empty in list views).
    pub links: Vec<LinkClicks>,
    /// Events, oldest first (empty in list views).
    pub events: Vec<Event>,
}

/// The clicks on one link of a recipient's copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkClicks {
    /// The URL the click token signs (where the click redirected).
    pub url: String,
    /// Clicks by a person.
    pub clicks: u64,
    /// Clicks by a machine (link checkers, scanners): never a person's.
    pub machine_clicks: u64,
    /// First click (any opener but the sender).
    #[serde(with = "time::serde::rfc3339")]
    pub first_clicked_at: OffsetDateTime,
    /// Last click (any opener but the sender).
    #[serde(with = "time::serde::rfc3339")]
    pub last_clicked_at: OffsetDateTime,
}

/// A message as shown by the API.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    /// Id.
    pub id: Uuid,
    /// The RFC 5322 Message-ID, without brackets.
    pub message_id: MessageId,
    /// Sender.
    pub from_address: EmailAddress,
    /// Sender display name.
    pub from_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Whether a read receipt was asked.
    pub read_receipt: bool,
    /// Caller's metadata.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The caller's tag.
    pub tag: Option<String>,
    /// When accepted.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Recipients in the order given.
    pub recipients: Vec<Recipient>,
}

/// Everything a worker needs to build and send the copies of a message.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    /// Id.
    pub id: Uuid,
    /// Owner organisation.
    pub org_id: Uuid,
    /// Message-ID.
    pub message_id: MessageId,
    /// Sender.
    pub from_address: EmailAddress,
    /// Sender display name.
    pub from_name: Option<String>,
    /// Reply-To.
    pub reply_to: Option<EmailAddress>,
    /// Subject.
    pub subject: String,
    /// Bodies, headers, attachments.
    pub content: MessageContent,
    /// Whether to ask for a read receipt.
    pub read_receipt: bool,
    /// Whether to track opens.
    pub track_opens: bool,
    /// Whether to track clicks.
    pub track_clicks: bool,
    /// When accepted (the retry window counts from here).
    pub created_at: OffsetDateTime,
    /// All recipients (the visible To/Cc headers are built from them).
    pub recipients: Vec<(Uuid, EmailAddress, RecipientKind)>,
}

/// The delivery queue at a moment, for monitoring (`GET /metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    /// Copies waiting for delivery (jobs, due or scheduled for a retry).
    pub depth: u64,
    /// The earliest time a job in the queue was due; `None` when the
    /// queue is empty. How far this lies in the past is how long the
    /// longest-waiting copy has been overdue.
    pub earliest_due: Option<time::OffsetDateTime>,
}

/// A claimed delivery job: one recipient's copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Job id.
    pub id: Uuid,
    /// The message.
    pub message_id: Uuid,
    /// The recipient whose copy this is.
    pub recipient_id: Uuid,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// Filters for listing messages.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Messages with at least one recipient in one of these statuses.
    pub statuses: Vec<Status>,
    /// Messages with a recipient whose address contains this (case-insensitive).
    pub recipient: Option<String>,
    /// Subject contains this (case-insensitive).
    pub subject: Option<String>,
    /// Tagged exactly this.
    pub tag: Option<String>,
    /// Created at or after.
    pub since: Option<OffsetDateTime>,
    /// Created before.
    pub until: Option<OffsetDateTime>,
    /// Keyset cursor: only messages with an id below this one.
    pub before_id: Option<Uuid>,
    /// Page size (1..=200).
    pub limit: u32,
}

/// A copy captured by the sandbox transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SandboxCopy {
    /// Id.
    pub id: Uuid,
    /// The message.
    pub message_id: Uuid,
    /// The recipient.
    pub recipient_id: Uuid,
    /// The recipient's address.
    pub address: String,
    /// When captured.
    #[serde(with = "time::serde::rfc3339")]
    pub captured_at: OffsetDateTime,
    /// The RFC 5322 source as it would have gone on the wire.
    pub raw: String,
}

/// An address that must not be sent to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// Normalised address.
    pub address: String,
    /// Why: "hard_bounce", "complaint", "unsubscribe", "manual".
    pub reason: String,
    /// When added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A new dashboard sign-in session. Only the SHA-256 of the session id
/// (the cookie value) is stored: a leaked database holds no live session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Hex SHA-256 of the session id.
    pub id_hash: String,
    /// Who signed in.
    pub user_id: Uuid,
    /// The CSRF synchronizer token every form of this session must carry.
    pub csrf_token: String,
    /// When the session stops working.
    pub expires_at: OffsetDateTime,
}

/// A live session and the user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The signed-in user (their organisation scopes everything).
    pub user: User,
    /// The session's CSRF synchronizer token.
    pub csrf_token: String,
    /// When the session stops working.
    pub expires_at: OffsetDateTime,
}

/// An event as the live feed shows it: with the address and subject it
/// concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    /// The message.
    pub message_id: Uuid,
    /// Its subject.
    pub subject: String,
    /// The recipient.
    pub recipient_id: Uuid,
    /// The recipient's address.
    pub address: String,
    /// What happened.
    pub event: Event,
}

/// One day of an organisation's activity, counted in distinct recipients
/// from the detailed events (days whose events were purged count nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DayStats {
    /// The UTC day, as days since 1970-01-01.
    pub day: i64,
    /// Recipients whose copy was sent or delivered that day.
    pub sent: u64,
    /// Recipients whose copy was delivered.
    pub delivered: u64,
    /// Recipients whose delivery failed for good.
    pub failed: u64,
    /// Recipients opened by a person (directly or through an image proxy).
    pub opened: u64,
    /// Recipients opened by a machine only counted apart: never a read.
    pub machine_opened: u64,
    /// Recipients who clicked a link (a person's click).
    pub clicked: u64,
    /// Recipients who replied.
    pub replied: u64,
}

mod bytes_b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        STANDARD.decode(s).map_err(serde::de::Error::custom)
    }
}

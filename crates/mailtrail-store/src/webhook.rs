//! Webhook endpoints, deliveries and attempts as the store reads and
//! writes them (DESIGN.md section 4, flow 8), and the payload each event
//! becomes.

use mailtrail_domain::webhook::{EventSelection, WebhookSecret};
use mailtrail_domain::{EventKind, NewEvent};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A new endpoint, checked at the edge.
#[derive(Debug, Clone)]
pub struct NewWebhookEndpoint {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Owner organisation.
    pub org_id: Uuid,
    /// Target URL (checked: http or https, not private unless allowed).
    pub url: String,
    /// Which events it takes.
    pub events: EventSelection,
    /// Its signing secret.
    pub secret: WebhookSecret,
    /// A label for people.
    pub description: String,
    /// When created.
    pub created_at: OffsetDateTime,
}

/// A change to an endpoint; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointUpdate {
    /// New target URL (checked).
    pub url: Option<String>,
    /// New event filter.
    pub events: Option<EventSelection>,
    /// New label.
    pub description: Option<String>,
    /// Turn on (which forgets why it was turned off, and its failures) or
    /// off.
    pub enabled: Option<bool>,
}

/// A stored endpoint.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    /// Id.
    pub id: Uuid,
    /// Owner organisation.
    pub org_id: Uuid,
    /// Target URL.
    pub url: String,
    /// Which events it takes.
    pub events: EventSelection,
    /// Its signing secret (shown to its owner only when created).
    pub secret: WebhookSecret,
    /// A label.
    pub description: String,
    /// Whether events are queued and sent to it.
    pub enabled: bool,
    /// Why mailtrail turned it off (a 410 answer, days of failures).
    pub disabled_reason: Option<String>,
    /// When it was turned off.
    pub disabled_at: Option<OffsetDateTime>,
    /// The first failed attempt since the last success.
    pub failing_since: Option<OffsetDateTime>,
    /// When created.
    pub created_at: OffsetDateTime,
    /// When last changed.
    pub updated_at: OffsetDateTime,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt of the schedule failed, or the endpoint is gone.
    Failed,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, crate::StoreError> {
        match s {
            "pending" => Ok(Self::Pending),
            "succeeded" => Ok(Self::Succeeded),
            "failed" => Ok(Self::Failed),
            other => Err(crate::StoreError::Corrupt(format!(
                "webhook delivery state {other:?}"
            ))),
        }
    }
}

/// One try to POST a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// When it started.
    pub at: OffsetDateTime,
    /// The HTTP status, when an answer came.
    pub status_code: Option<u16>,
    /// What went wrong without an answer.
    pub error: Option<String>,
    /// The first bytes of the answer's body.
    pub response: String,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// An event queued for one endpoint, with its attempts.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    /// Id; the `webhook-id` header is derived from it.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event it carries.
    pub event_id: Uuid,
    /// The event's kind.
    pub kind: EventKind,
    /// The JSON body, as signed.
    pub payload: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts since queued or last replayed.
    pub attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The last answer's status.
    pub last_status: Option<u16>,
    /// When queued.
    pub created_at: OffsetDateTime,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<WebhookAttempt>,
}

impl WebhookDelivery {
    /// The `webhook-id` header: the same on every attempt and replay, so
    /// a receiver can tell a retry from a new event.
    pub fn webhook_id(&self) -> String {
        webhook_id(self.id)
    }
}

/// The `webhook-id` of delivery `id`.
pub fn webhook_id(id: Uuid) -> String {
    format!("msg_{}", id.simple())
}

/// A delivery claimed for an attempt, with what sending it needs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    /// Id.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The target URL.
    pub url: String,
    /// The endpoint's secret.
    pub secret: WebhookSecret,
    /// The body.
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// The endpoint's first failure since its last success.
    pub failing_since: Option<OffsetDateTime>,
}

/// What becomes of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    /// Done: a 2xx answer.
    Succeeded,
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// Give up.
    Failed,
}

/// What becomes of the endpoint after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointNext {
    /// It answered: forget its failures.
    Healthy,
    /// It failed: remember since when, if not yet.
    Failing,
    /// Turn it off, saying why.
    Disable(String),
}

/// One attempt's outcome, recorded with the attempt.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: Uuid,
    /// Its endpoint.
    pub endpoint_id: Uuid,
    /// The attempt.
    pub attempt: WebhookAttempt,
    /// The delivery's next state.
    pub delivery: DeliveryNext,
    /// The endpoint's next state.
    pub endpoint: EndpointNext,
}

/// What an event's delivery says about it: the body every endpoint
/// receives. `type` and `timestamp` follow the Standard Webhooks payload
/// structure; `data` holds the recipient, the message and the event's own
/// details.
#[derive(Debug, Serialize)]
pub(crate) struct Payload<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub data: PayloadData<'a>,
}

/// The `data` object of a [`Payload`].
#[derive(Debug, Serialize)]
pub(crate) struct PayloadData<'a> {
    pub event_id: Uuid,
    pub recipient: &'a str,
    pub recipient_id: Uuid,
    /// The RFC 5322 Message-ID, without brackets.
    pub message_id: &'a str,
    pub mailtrail_message_id: Uuid,
    pub metadata: &'a serde_json::Value,
    /// The message's tag (Postmark's `Tag`), `null` when it has none.
    pub tag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opener: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a mailtrail_domain::StatusReason>,
    pub details: &'a serde_json::Value,
}

/// The body for `ev` about (recipient, message).
pub(crate) fn payload(
    ev: &NewEvent,
    recipient: &str,
    message_id: &str,
    mailtrail_message_id: Uuid,
    metadata: &serde_json::Value,
    tag: Option<&str>,
) -> Result<String, crate::StoreError> {
    crate::columns::to_json(&Payload {
        kind: ev.kind.as_str(),
        timestamp: ev.at,
        data: PayloadData {
            event_id: ev.id,
            recipient,
            recipient_id: ev.recipient_id,
            message_id,
            mailtrail_message_id,
            metadata,
            tag,
            opener: ev.opener.map(|o| o.to_string()),
            reason: ev.reason.as_ref(),
            details: &ev.data,
        },
    })
}

/// A new event as the queueing of its deliveries needs it: the event and
/// its recipient's organisation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fact<'a> {
    pub event: &'a NewEvent,
    pub org_id: Uuid,
}

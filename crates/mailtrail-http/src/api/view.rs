//! The JSON shapes the API answers with. They are the API's contract, so
//! they are defined here rather than by serializing store records directly:
//! a column added to the store does not silently appear in responses.

use mailtrail_domain::{EmailAddress, EventKind, MessageId, Opener, RecipientKind, Status};
use mailtrail_store::{
    Event, LinkClicks, Message, Recipient, SandboxCopy, StatusReason, Suppression,
};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::openapi::schemas;

/// The answer to `POST /api/v1/messages`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    /// The message's id in this API (`GET /api/v1/messages/{id}`).
    pub id: Uuid,
    /// The Message-ID header mailtrail generated for it.
    #[schema(schema_with = schemas::message_id)]
    pub message_id: MessageId,
    /// One per distinct address of to, cc and bcc.
    pub recipients: Vec<AcceptedRecipient>,
}

/// A recipient in [`Accepted`].
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AcceptedRecipient {
    /// The recipient's id.
    pub id: Uuid,
    /// The address, as checked (the domain lower-cased).
    #[schema(schema_with = schemas::email_address)]
    pub address: EmailAddress,
    /// to, cc or bcc.
    #[schema(schema_with = schemas::recipient_kind)]
    pub kind: RecipientKind,
    /// `queued`, or `suppressed` when the address is on the suppression
    /// list (that recipient is not sent to).
    #[schema(schema_with = schemas::status)]
    pub status: Status,
}

impl From<Message> for Accepted {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            message_id: m.message_id,
            recipients: m
                .recipients
                .into_iter()
                .map(|r| AcceptedRecipient {
                    id: r.id,
                    address: r.address,
                    kind: r.kind,
                    status: r.status,
                })
                .collect(),
        }
    }
}

/// A sender or reply address with its display name.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NamedAddress {
    /// The address.
    #[schema(schema_with = schemas::email_address)]
    pub address: EmailAddress,
    /// The display name, if any.
    #[schema(required = true)]
    pub name: Option<String>,
}

/// A message in lists and in detail.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageView {
    /// The message's id in this API.
    pub id: Uuid,
    /// The Message-ID header mailtrail generated for it.
    #[schema(schema_with = schemas::message_id)]
    pub message_id: MessageId,
    /// The sender.
    pub from: NamedAddress,
    /// The subject.
    pub subject: String,
    /// Whether a read receipt (RFC 8098) was asked for.
    pub read_receipt: bool,
    /// The `metadata` sent with the message.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The message's tag, if it has one.
    pub tag: Option<String>,
    /// When it was accepted (RFC 3339).
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Every recipient with its status.
    pub recipients: Vec<RecipientView>,
}

/// A recipient with its status and engagement; per-link clicks and the
/// timeline only in the detail view.
///
/// Engagement counts only people (human or proxy openers): machine opens
/// are apart, the sender's own never counted. "Unique" follows SendGrid's
/// convention: a recipient counts once however often they opened
/// (`unique_opens` is 0 or 1), likewise for clicks; `opens` and `clicks`
/// are the totals. A click with no pixel load before it implies an open
/// (images blocked): it counts in `opens` and `unique_opens`, and
/// `implied_opens` / `first_open_implied` say so.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecipientView {
    /// The recipient's id.
    pub id: Uuid,
    /// The address.
    #[schema(schema_with = schemas::email_address)]
    pub address: EmailAddress,
    /// to, cc or bcc.
    #[schema(schema_with = schemas::recipient_kind)]
    pub kind: RecipientKind,
    /// The most advanced known state.
    #[schema(schema_with = schemas::status)]
    pub status: Status,
    /// Why it failed or was deferred; `null` otherwise.
    #[schema(schema_with = schemas::status_reason_or_null, required = true)]
    pub status_reason: Option<StatusReason>,
    /// When the status last changed.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// The first open by a person, if any.
    #[serde(with = "time::serde::rfc3339::option")]
    #[schema(required = true)]
    pub first_open_at: Option<OffsetDateTime>,
    /// Whether that first open is implied by a click (images blocked).
    pub first_open_implied: bool,
    /// Opens by people, implied ones included.
    pub opens: u64,
    /// 1 if a person opened at all, else 0.
    pub unique_opens: u64,
    /// Opens implied by a click with no pixel load before it.
    pub implied_opens: u64,
    /// Opens by machines (privacy prefetch, scanners); never in `opens`.
    pub machine_opens: u64,
    /// Clicks by people.
    pub clicks: u64,
    /// 1 if a person clicked at all, else 0.
    pub unique_clicks: u64,
    /// Clicks per link; only in `GET /api/v1/messages/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<LinkView>>,
    /// The timeline, oldest first; only in `GET /api/v1/messages/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

/// Clicks on one link of a recipient's copy.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LinkView {
    /// The link's target.
    pub url: String,
    /// Clicks by people.
    pub clicks: u64,
    /// Clicks by machines (link scanners).
    pub machine_clicks: u64,
    /// The first click.
    #[serde(with = "time::serde::rfc3339")]
    pub first_clicked_at: OffsetDateTime,
    /// The last click.
    #[serde(with = "time::serde::rfc3339")]
    pub last_clicked_at: OffsetDateTime,
}

impl From<LinkClicks> for LinkView {
    fn from(l: LinkClicks) -> Self {
        Self {
            url: l.url,
            clicks: l.clicks,
            machine_clicks: l.machine_clicks,
            first_clicked_at: l.first_clicked_at,
            last_clicked_at: l.last_clicked_at,
        }
    }
}

/// One event of a recipient's timeline.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventView {
    /// The event's id.
    pub id: Uuid,
    /// What happened.
    #[schema(schema_with = schemas::event_kind)]
    pub kind: EventKind,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// For opens and clicks: who.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schemas::opener, required = false)]
    pub opener: Option<Opener>,
    /// For failures and deferrals: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = schemas::status_reason, required = false)]
    pub reason: Option<StatusReason>,
    /// Anything else: attempt number, remote MTA, user agent, URL...
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    #[schema(value_type = Object, required = false)]
    pub data: serde_json::Value,
}

impl MessageView {
    /// The view of `m`, with each recipient's events when `with_events`.
    pub(crate) fn new(m: Message, with_events: bool) -> Self {
        Self {
            id: m.id,
            message_id: m.message_id,
            from: NamedAddress {
                address: m.from_address,
                name: m.from_name,
            },
            subject: m.subject,
            read_receipt: m.read_receipt,
            metadata: m.metadata,
            tag: m.tag,
            created_at: m.created_at,
            recipients: m
                .recipients
                .into_iter()
                .map(|r| RecipientView::new(r, with_events))
                .collect(),
        }
    }
}

impl RecipientView {
    fn new(r: Recipient, with_events: bool) -> Self {
        Self {
            id: r.id,
            address: r.address,
            kind: r.kind,
            status: r.status,
            status_reason: r.status_reason,
            updated_at: r.updated_at,
            first_open_at: r.first_open_at,
            first_open_implied: r.first_open_implied,
            opens: r.opens,
            unique_opens: u64::from(r.opens > 0),
            implied_opens: r.implied_opens,
            machine_opens: r.machine_opens,
            clicks: r.clicks,
            unique_clicks: u64::from(r.clicks > 0),
            links: with_events.then(|| r.links.into_iter().map(LinkView::from).collect()),
            events: with_events.then(|| r.events.into_iter().map(EventView::from).collect()),
        }
    }
}

impl From<Event> for EventView {
    fn from(e: Event) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            at: e.at,
            opener: e.opener,
            reason: e.reason,
            data: e.data,
        }
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Page<T> {
    /// The items.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// A list without pages.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct List<T> {
    /// The items.
    pub data: Vec<T>,
}

/// A copy captured by the sandbox.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SandboxView {
    /// The copy's id.
    pub id: Uuid,
    /// The message's id in this API.
    pub message_id: Uuid,
    /// The recipient's id.
    pub recipient_id: Uuid,
    /// The recipient's address.
    pub address: String,
    /// When the sandbox took it.
    #[serde(with = "time::serde::rfc3339")]
    pub captured_at: OffsetDateTime,
    /// The whole copy as it would have left (RFC 5322), DKIM signature
    /// and tracking included.
    pub raw: String,
}

impl From<SandboxCopy> for SandboxView {
    fn from(c: SandboxCopy) -> Self {
        Self {
            id: c.id,
            message_id: c.message_id,
            recipient_id: c.recipient_id,
            address: c.address,
            captured_at: c.captured_at,
            raw: c.raw,
        }
    }
}

/// An entry of the suppression list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SuppressionView {
    /// The address.
    pub address: String,
    /// Why: a hard bounce, a complaint, an unsubscribe.
    pub reason: String,
    /// Since when.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl From<Suppression> for SuppressionView {
    fn from(s: Suppression) -> Self {
        Self {
            address: s.address,
            reason: s.reason,
            created_at: s.created_at,
        }
    }
}

//! The JSON shapes the API answers with. They are the API's contract, so
//! they are defined here rather than by serializing store records directly:
//! a column added to the store does not silently appear in responses.

use mailtrail_domain::{EmailAddress, EventKind, MessageId, Opener, RecipientKind, Status};
use mailtrail_store::{
    Event, LinkClicks, Message, Recipient, SandboxCopy, StatusReason, Suppression,
};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The answer to `POST /api/v1/messages`.
#[derive(Debug, Serialize)]
pub(crate) struct Accepted {
    pub id: Uuid,
    pub message_id: MessageId,
    pub recipients: Vec<AcceptedRecipient>,
}

/// A recipient in [`Accepted`].
#[derive(Debug, Serialize)]
pub(crate) struct AcceptedRecipient {
    pub id: Uuid,
    pub address: EmailAddress,
    pub kind: RecipientKind,
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
#[derive(Debug, Serialize)]
pub(crate) struct NamedAddress {
    pub address: EmailAddress,
    pub name: Option<String>,
}

/// A message in lists and in detail.
#[derive(Debug, Serialize)]
pub(crate) struct MessageView {
    pub id: Uuid,
    pub message_id: MessageId,
    pub from: NamedAddress,
    pub subject: String,
    pub read_receipt: bool,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
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
#[derive(Debug, Serialize)]
pub(crate) struct RecipientView {
    pub id: Uuid,
    pub address: EmailAddress,
    pub kind: RecipientKind,
    pub status: Status,
    pub status_reason: Option<StatusReason>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_open_at: Option<OffsetDateTime>,
    pub first_open_implied: bool,
    pub opens: u64,
    pub unique_opens: u64,
    pub implied_opens: u64,
    pub machine_opens: u64,
    pub clicks: u64,
    pub unique_clicks: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub links: Option<Vec<LinkView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

/// Clicks on one link of a recipient's copy.
#[derive(Debug, Serialize)]
pub(crate) struct LinkView {
    pub url: String,
    pub clicks: u64,
    pub machine_clicks: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_clicked_at: OffsetDateTime,
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
#[derive(Debug, Serialize)]
pub(crate) struct EventView {
    pub id: Uuid,
    pub kind: EventKind,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opener: Option<Opener>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<StatusReason>,
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl MessageView {
    /// The view of `m`, with each recipient's events when `with_events`.
    pub fn new(m: Message, with_events: bool) -> Self {
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
#[derive(Debug, Serialize)]
pub(crate) struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A list without pages.
#[derive(Debug, Serialize)]
pub(crate) struct List<T> {
    pub data: Vec<T>,
}

/// A copy captured by the sandbox.
#[derive(Debug, Serialize)]
pub(crate) struct SandboxView {
    pub id: Uuid,
    pub message_id: Uuid,
    pub recipient_id: Uuid,
    pub address: String,
    #[serde(with = "time::serde::rfc3339")]
    pub captured_at: OffsetDateTime,
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
#[derive(Debug, Serialize)]
pub(crate) struct SuppressionView {
    pub address: String,
    pub reason: String,
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

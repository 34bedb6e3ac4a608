//! A message's page, `GET /messages/{id}`, and resending it to one
//! recipient.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_domain::{MessageId, RecipientKind, Status};
use mailtrail_store::{Inserted, NewMessage, NewRecipient};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::advice::advice_for;
use super::contact::contact_href;
use super::emails::kind_label;
use super::signed::{Chrome, CsrfForm, SignedForm, SignedIn};
use super::view::{EventView, StatusView, event_view, when};
use super::{DashError, html, see_other};
use crate::AppState;

struct ReasonView {
    what: &'static str,
    todo: &'static str,
    name: String,
    smtp: String,
    text: String,
}

struct RecipientDetail {
    id: String,
    address: String,
    contact: String,
    kind: &'static str,
    status: StatusView,
    reason: Option<ReasonView>,
    opens: u64,
    machine_opens: u64,
    clicks: u64,
    /// When a person first opened it, and "(implied by a click)" when that
    /// open was a click with no pixel load before it.
    first_open: Option<String>,
    implied_opens: u64,
    /// (url, person clicks, machine clicks).
    links: Vec<(String, u64, u64)>,
    events: Vec<EventView>,
}

#[derive(Template)]
#[template(path = "message.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    subject: String,
    created: String,
    headers: Vec<(String, String)>,
    recipients: Vec<RecipientDetail>,
    attachments: Vec<String>,
}

pub(super) fn parse_id(id: &str) -> Result<Uuid, DashError> {
    Uuid::parse_str(id).map_err(|_| DashError::NotFound)
}

/// `GET /messages/{id}`: every recipient's status, failure advice and
/// timeline, and the message's headers.
pub(crate) async fn detail(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    let id = parse_id(&id)?;
    let m = state
        .store
        .message(s.user.org_id, id)
        .await?
        .ok_or(DashError::NotFound)?;
    // The stored content, for the extra headers and attachments. The
    // message was just found in this organisation, so this is its own.
    let content = state
        .store
        .outbound_message(id)
        .await?
        .filter(|o| o.org_id == s.user.org_id);
    let from = match &m.from_name {
        Some(n) => format!("{n} <{}>", m.from_address.as_str()),
        None => m.from_address.as_str().to_owned(),
    };
    let mut hdrs = vec![
        ("From".to_owned(), from),
        ("Subject".to_owned(), m.subject.clone()),
        ("Message-ID".to_owned(), format!("<{}>", m.message_id)),
        ("Date".to_owned(), when(m.created_at)),
    ];
    if m.read_receipt {
        hdrs.push((
            "Disposition-Notification-To".to_owned(),
            "(read receipt requested)".to_owned(),
        ));
    }
    let mut attachments = Vec::new();
    if let Some(o) = &content {
        if let Some(r) = &o.reply_to {
            hdrs.push(("Reply-To".to_owned(), r.as_str().to_owned()));
        }
        hdrs.extend(o.content.headers.iter().cloned());
        attachments = o
            .content
            .attachments
            .iter()
            .map(|a| {
                format!(
                    "{} ({}, {} bytes)",
                    a.filename,
                    a.content_type,
                    a.content.len()
                )
            })
            .collect();
    }
    let recipients = m
        .recipients
        .iter()
        .map(|r| {
            let reason = match r.status {
                Status::Failed | Status::Deferred | Status::Suppressed => {
                    let sr = r.status_reason.clone().unwrap_or_default();
                    let name = sr.reason.clone().unwrap_or_else(|| {
                        if r.status == Status::Suppressed {
                            "suppressed".to_owned()
                        } else {
                            "undefined".to_owned()
                        }
                    });
                    let a = advice_for(Some(&name));
                    Some(ReasonView {
                        what: a.what,
                        todo: a.todo,
                        name,
                        smtp: [
                            sr.smtp_code.map(|c| c.to_string()),
                            sr.enhanced_status.clone(),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" "),
                        text: sr.text.unwrap_or_default(),
                    })
                }
                _ => None,
            };
            RecipientDetail {
                id: r.id.to_string(),
                address: r.address.as_str().to_owned(),
                contact: contact_href(r.address.as_str()),
                kind: kind_label(r.kind),
                status: r.status.into(),
                reason,
                opens: r.opens,
                machine_opens: r.machine_opens,
                clicks: r.clicks,
                first_open: r.first_open_at.map(|t| {
                    if r.first_open_implied {
                        format!("{} (implied by a click: images were blocked)", when(t))
                    } else {
                        when(t)
                    }
                }),
                implied_opens: r.implied_opens,
                links: r
                    .links
                    .iter()
                    .map(|l| (l.url.clone(), l.clicks, l.machine_clicks))
                    .collect(),
                events: r.events.iter().map(event_view).collect(),
            }
        })
        .collect();
    let page = DetailPage {
        chrome: (&s).into(),
        id: m.id.to_string(),
        subject: m.subject.clone(),
        created: when(m.created_at),
        headers: hdrs,
        recipients,
        attachments,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[derive(Deserialize)]
pub(crate) struct ResendForm {
    csrf: String,
    recipient: String,
}

/// `POST /messages/{id}/resend`: a new message with the same content, to
/// one recipient of this one.
pub(crate) async fn resend(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm(s, form): SignedForm<ResendForm>,
) -> Result<Response, DashError> {
    let id = parse_id(&id)?;
    let recipient = parse_id(&form.recipient)?;
    let o = state
        .store
        .outbound_message(id)
        .await?
        .filter(|o| o.org_id == s.user.org_id)
        .ok_or(DashError::NotFound)?;
    let (_, address, kind) = o
        .recipients
        .iter()
        .find(|(rid, _, _)| *rid == recipient)
        .cloned()
        .ok_or(DashError::NotFound)?;
    let mut metadata = serde_json::Map::new();
    metadata.insert("resent_from".to_owned(), id.to_string().into());
    let new = NewMessage {
        id: Uuid::now_v7(),
        org_id: s.user.org_id,
        user_id: s.user.id,
        message_id: MessageId::generate(o.from_address.domain()),
        from_address: o.from_address,
        from_name: o.from_name,
        reply_to: o.reply_to,
        subject: o.subject,
        content: o.content,
        read_receipt: o.read_receipt,
        track_opens: o.track_opens,
        track_clicks: o.track_clicks,
        metadata,
        idempotency_key: None,
        tag: None,
        created_at: OffsetDateTime::now_utc(),
        recipients: vec![NewRecipient {
            id: Uuid::now_v7(),
            address,
            kind: if kind == RecipientKind::Bcc {
                RecipientKind::To
            } else {
                kind
            },
        }],
    };
    let new_id = store_message(&state, &new).await?;
    Ok(see_other(&format!("/messages/{new_id}")))
}

/// Stores a message and wakes a worker, as the API's send does.
pub(super) async fn store_message(state: &AppState, new: &NewMessage) -> Result<Uuid, DashError> {
    Ok(match state.store.insert_message(new).await? {
        Inserted::Created(id) => {
            state.notify.notify_one();
            metrics::counter!("mailtrail_messages_accepted_total", "via" => "dashboard")
                .increment(1);
            tracing::info!(message.id = %id, recipients = new.recipients.len(), "message queued from the dashboard");
            id
        }
        Inserted::Existing(id) => id,
    })
}

impl CsrfForm for ResendForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

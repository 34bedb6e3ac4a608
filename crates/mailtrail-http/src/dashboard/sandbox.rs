//! The sandbox inbox: `GET /sandbox` lists the captured copies,
//! `GET /sandbox/{id}` shows one ([`super::preview`]).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::message::parse_id;
use super::preview::render_copy;
use super::signed::{Chrome, SignedIn};
use super::simulate::{Act, Original, find_copy};
use super::view::{StatusView, when};
use super::{DashError, html};
use crate::AppState;

struct CopyRow {
    id: String,
    address: String,
    subject: String,
    captured: String,
    message_id: String,
}

#[derive(Template)]
#[template(path = "sandbox.html")]
struct SandboxPage {
    chrome: Chrome,
    copies: Vec<CopyRow>,
}

#[derive(Template)]
#[template(path = "sandbox_copy.html")]
struct SandboxCopyPage {
    chrome: Chrome,
    id: String,
    address: String,
    subject: String,
    captured: String,
    message_id: String,
    srcdoc: String,
    raw: String,
    status: Option<StatusView>,
    receipt_asked: bool,
    notice: Option<String>,
}

/// How many captured copies the sandbox page lists.
const SANDBOX_LIST: u32 = 200;

fn copy_subject(raw: &str) -> String {
    mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .and_then(|m| m.subject().map(str::to_owned))
        .unwrap_or_default()
}

/// `GET /sandbox`: the copies the sandbox transport captured.
pub(crate) async fn sandbox(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
) -> Result<Response, DashError> {
    let copies = state
        .store
        .sandbox_copies(s.user.org_id, SANDBOX_LIST)
        .await?
        .into_iter()
        .map(|c| CopyRow {
            id: c.id.to_string(),
            address: c.address,
            subject: copy_subject(&c.raw),
            captured: when(c.captured_at),
            message_id: c.message_id.to_string(),
        })
        .collect();
    let page = SandboxPage {
        chrome: (&s).into(),
        copies,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

#[derive(Deserialize)]
pub(crate) struct CopyQuery {
    #[serde(default)]
    simulated: Option<String>,
    #[serde(default)]
    processed: Option<String>,
}

/// `GET /sandbox/{id}`: one captured copy, rendered in a sandboxed frame
/// as the recipient would see it but recording nothing (no pixel, links
/// straight to their targets: [`super::preview`]), with
/// the recipient's status and the buttons that play the recipient.
pub(crate) async fn sandbox_copy(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    Path(id): Path<String>,
    Query(q): Query<CopyQuery>,
) -> Result<Response, DashError> {
    let id = parse_id(&id)?;
    let copy = find_copy(&state, s.user.org_id, id).await?;
    let status = state
        .store
        .message(s.user.org_id, copy.message_id)
        .await?
        .and_then(|m| m.recipients.into_iter().find(|r| r.id == copy.recipient_id))
        .map(|r| StatusView::from(r.status));
    let receipt_asked = Original::read(&copy.raw).is_some_and(|o| o.receipt_to.is_some());
    let notice = q.simulated.as_deref().and_then(Act::parse).map(|a| {
        if q.processed.as_deref() == Some("1") {
            format!(
                "{}. The inbound path processed it; the status below is updated.",
                a.done()
            )
        } else {
            format!(
                "{}. The message is stored and still being processed; reload in a moment.",
                a.done()
            )
        }
    });
    let (subject, srcdoc) = render_copy(&copy.raw, &state.settings.public_url, &state.keyring);
    let page = SandboxCopyPage {
        chrome: (&s).into(),
        id: copy.id.to_string(),
        address: copy.address,
        subject,
        captured: when(copy.captured_at),
        message_id: copy.message_id.to_string(),
        srcdoc,
        raw: copy.raw,
        status,
        receipt_asked,
        notice,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

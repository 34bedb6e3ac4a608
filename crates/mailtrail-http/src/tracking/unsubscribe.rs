//! The unsubscribe endpoint named in every copy's `List-Unsubscribe`
//! header (RFC 2369 section 3.2) and, optionally, in its body.
//!
//! - `GET /t/u/{token}` shows a page with one button: a form that POSTs to
//!   the same URL. A GET never unsubscribes, because link scanners and
//!   prefetchers follow every URL in a message (RFC 8058 section 1).
//! - `POST /t/u/{token}` is the one-click unsubscription of RFC 8058
//!   section 3.2: the mail provider posts `List-Unsubscribe=One-Click`
//!   without cookies or login, so the signed token alone authorises it (no
//!   CSRF token is possible, and none is needed: the token is unguessable and
//!   names exactly one recipient). It records an `unsubscribed` event and
//!   puts the address on the organisation's suppression list with reason
//!   `unsubscribe`. Posting again changes nothing: the status stays
//!   `unsubscribed` and the suppression entry is refreshed.
//!
//! An invalid, forged or retired token gets a plain 404 page, and the page
//! never shows the address, so a leaked URL discloses nothing.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, REFERRER_POLICY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mailtrail_domain::{EventKind, Purpose};
use mailtrail_store::NewEvent;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::AppState;

/// Reason recorded on the suppression list.
pub const SUPPRESSION_REASON: &str = "unsubscribe";

/// The unsubscribe routes; merged outside the JSON error layer, because a
/// person or a mail provider reads these answers, not an API client.
pub fn routes() -> Router<AppState> {
    Router::new().route("/t/u/{token}", get(page).post(unsubscribe))
}

/// The recipient a valid token names.
fn recipient(state: &AppState, token: &str) -> Option<Uuid> {
    state
        .keyring
        .verify(token, Purpose::Unsubscribe, OffsetDateTime::now_utc())
        .ok()
        .map(|claims| claims.recipient)
}

async fn page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    if recipient(&state, &token).is_none() {
        return not_found();
    }
    // The token is base64url (RFC 4648 section 5): safe in an attribute as
    // is, but escaped anyway so the page never depends on that.
    let action = format!("/t/u/{}", crate::escape::escape_html(&token));
    html(
        StatusCode::OK,
        &format!(
            "<h1>Unsubscribe</h1>\
             <p>Stop receiving these emails at this address?</p>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button>\
             </form>"
        ),
    )
}

async fn unsubscribe(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let Some(recipient_id) = recipient(&state, &token) else {
        return not_found();
    };
    let contact = match state.store.recipient_ref(recipient_id).await {
        Ok(Some(c)) => c,
        // Signed by us but the recipient is gone (retention purged it):
        // nothing to unsubscribe.
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::error!(error = %e, recipient.id = %recipient_id, "unsubscribe: reading the recipient failed");
            return try_again();
        }
    };
    let event = NewEvent {
        id: Uuid::now_v7(),
        recipient_id,
        kind: EventKind::Unsubscribed,
        at: OffsetDateTime::now_utc(),
        opener: None,
        reason: None,
        data: serde_json::json!({"method": "one-click"}),
    };
    // Suppress first: if the event write then fails the address is already
    // safe from further mail, and the provider's retry records the event.
    if let Err(e) = state
        .store
        .add_suppression(contact.org_id, &contact.address, SUPPRESSION_REASON)
        .await
    {
        tracing::error!(error = %e, recipient.id = %recipient_id, "unsubscribe: suppressing the address failed");
        return try_again();
    }
    if let Err(e) = state.store.record_event(&event).await {
        tracing::error!(error = %e, recipient.id = %recipient_id, "unsubscribe: recording the event failed");
        return try_again();
    }
    tracing::info!(recipient.id = %recipient_id, message.id = %contact.message_id, "unsubscribed");
    html(
        StatusCode::OK,
        "<h1>Unsubscribed</h1><p>You will not receive these emails any more.</p>",
    )
}

fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        "<h1>Not found</h1><p>This link is not valid.</p>",
    )
}

fn try_again() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        "<h1>Please try again</h1><p>Your request could not be completed just now.</p>",
    )
}

/// A small self-contained page. `no-store`: the answer depends on a state
/// that changes; `no-referrer`: the token must not leak to other sites.
fn html(status: StatusCode, body: &str) -> Response {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"robots\" content=\"noindex\"><title>Unsubscribe</title></head>\
         <body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">{body}</body></html>"
    );
    let mut res = (status, page).into_response();
    let h = res.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    res
}

//! Compose, `GET/POST /compose`: a new message through the API's
//! validation.

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mailtrail_store::Session;

use super::message::store_message;
use super::session;
use super::signed::{Chrome, SignedIn, own_organisation};
use super::{DashError, html, see_other};
use crate::AppState;
use crate::api::{SendRequest, validate};

#[derive(Template)]
#[template(path = "compose.html")]
struct ComposePage {
    chrome: Chrome,
    error: Option<String>,
    from: String,
    to: String,
    cc: String,
    subject: String,
    body: String,
    html_body: bool,
    read_receipt: bool,
    track: bool,
}

async fn compose_page(
    state: &AppState,
    s: &Session,
    status: StatusCode,
    error: Option<String>,
    input: Option<ComposeInput>,
) -> Result<Response, DashError> {
    let org = own_organisation(state, s).await?;
    let i = input.unwrap_or_else(|| ComposeInput {
        from: s.user.email.as_str().to_owned(),
        html_body: true,
        read_receipt: org.read_receipt_default,
        track: org.track_opens_default,
        ..ComposeInput::default()
    });
    let page = ComposePage {
        chrome: s.into(),
        error,
        from: i.from,
        to: i.to,
        cc: i.cc,
        subject: i.subject,
        body: i.body,
        html_body: i.html_body,
        read_receipt: i.read_receipt,
        track: i.track,
    };
    Ok(html(status, page.render()?))
}

/// `GET /compose`.
pub(crate) async fn compose_form(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
) -> Result<Response, DashError> {
    compose_page(&state, &s, StatusCode::OK, None, None).await
}

#[derive(Default)]
struct ComposeInput {
    csrf: String,
    from: String,
    to: String,
    cc: String,
    subject: String,
    body: String,
    html_body: bool,
    read_receipt: bool,
    track: bool,
    attachments: Vec<serde_json::Value>,
}

fn addresses(s: &str) -> Vec<serde_json::Value> {
    s.split([',', ';', '\n'])
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| serde_json::Value::String(a.to_owned()))
        .collect()
}

impl ComposeInput {
    async fn read(mut mp: Multipart) -> Result<Self, String> {
        let mut i = Self::default();
        let unreadable = |e: axum::extract::multipart::MultipartError| e.body_text();
        while let Some(field) = mp.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            if name == "attachments" {
                let filename = field.file_name().unwrap_or_default().to_owned();
                let content_type = field.content_type().map(str::to_owned);
                let bytes = field.bytes().await.map_err(unreadable)?;
                if filename.is_empty() && bytes.is_empty() {
                    continue; // the file input was left empty
                }
                let mut a = serde_json::json!({
                    "filename": filename,
                    "content_base64": STANDARD.encode(&bytes),
                });
                if let Some(ct) = content_type {
                    a["content_type"] = ct.into();
                }
                i.attachments.push(a);
                continue;
            }
            let value = field.text().await.map_err(unreadable)?;
            match name.as_str() {
                "csrf" => i.csrf = value,
                "from" => i.from = value,
                "to" => i.to = value,
                "cc" => i.cc = value,
                "subject" => i.subject = value,
                "body" => i.body = value,
                "format" => i.html_body = value == "html",
                "read_receipt" => i.read_receipt = true,
                "track" => i.track = true,
                _ => {}
            }
        }
        Ok(i)
    }

    /// The same request the JSON API takes, so that it goes through the
    /// same validation.
    fn request(&self) -> Result<SendRequest, String> {
        let mut v = serde_json::json!({
            "to": addresses(&self.to),
            "cc": addresses(&self.cc),
            "subject": self.subject,
            "read_receipt": self.read_receipt,
            "track": {"opens": self.track, "clicks": self.track},
            "attachments": self.attachments,
        });
        if !self.from.trim().is_empty() {
            v["from"] = self.from.trim().into();
        }
        v[if self.html_body { "html" } else { "text" }] = self.body.clone().into();
        serde_json::from_value(v).map_err(|e| e.to_string())
    }
}

/// `POST /compose`: validates as the API does, stores, goes to the new
/// message's page.
pub(crate) async fn compose(
    State(state): State<AppState>,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, DashError> {
    let input = match ComposeInput::read(mp).await {
        Ok(i) => i,
        Err(e) => {
            let s = session::for_page(&state, &headers).await?;
            return compose_page(&state, &s, StatusCode::BAD_REQUEST, Some(e), None).await;
        }
    };
    let s = session::for_form(&state, &headers, &input.csrf).await?;
    let org = own_organisation(&state, &s).await?;
    let defaults = state.settings.message_defaults(&org);
    let valid = input
        .request()
        .and_then(|r| validate(r, &defaults).map_err(|e| e.to_string()));
    let v = match valid {
        Ok(v) => v,
        Err(e) => {
            return compose_page(&state, &s, StatusCode::BAD_REQUEST, Some(e), Some(input)).await;
        }
    };
    let new = v.into_new_message(s.user.org_id, s.user.id);
    let id = store_message(&state, &new).await?;
    Ok(see_other(&format!("/messages/{id}")))
}

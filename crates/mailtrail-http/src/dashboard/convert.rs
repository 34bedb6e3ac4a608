//! The Convert page: drop Outlook `.msg` files (or `winmail.dat`), see each
//! one's upload and conversion, download each `.eml`. The page posts each
//! file's bytes to `/convert/file` with the session's CSRF token in a
//! header; the conversion is `mailtrail_outlook::convert`, as for the CLI
//! and the API.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderMap};
use axum::response::{IntoResponse, Response};
use mailtrail_outlook::EmlOptions;

use super::session;
use super::signed::{Chrome, SignedIn};
use super::{DashError, html};
use crate::AppState;

#[derive(Template)]
#[template(path = "convert.html")]
struct ConvertPage {
    chrome: Chrome,
}

/// `GET /convert`.
pub(crate) async fn page(SignedIn(s): SignedIn) -> Result<Response, DashError> {
    let page = ConvertPage {
        chrome: Chrome::from(&s),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

fn plain(status: StatusCode, text: String) -> Response {
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response()
}

/// `POST /convert/file[?tnef=true]`: one file's bytes, the `X-CSRF-Token`
/// header; the `.eml`, or a 400 whose text says what is wrong with the file
/// (sent on in the API's JSON error shape by the router's error layer).
pub(crate) async fn file(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, DashError> {
    let csrf = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    session::for_form(&state, &headers, csrf).await?;
    let tnef = query.as_deref() == Some("tnef=true");
    if body.is_empty() {
        return Ok(plain(StatusCode::BAD_REQUEST, "The file is empty.".into()));
    }
    let converted =
        tokio::task::spawn_blocking(move || mailtrail_outlook::convert(&body, EmlOptions { tnef }))
            .await;
    Ok(match converted {
        Ok(Ok(eml)) => ([(CONTENT_TYPE, "message/rfc822")], eml).into_response(),
        Ok(Err(e)) => plain(StatusCode::BAD_REQUEST, format!("Not converted: {e}")),
        Err(_) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The converter stopped on this file.".into(),
        ),
    })
}

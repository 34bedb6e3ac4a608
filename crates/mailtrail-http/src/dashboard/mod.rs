//! The dashboard: server-rendered HTML pages (askama templates under
//! `templates/`) for people, next to the JSON API for programs.
//!
//! Every page is scoped to the signed-in user's organisation; another
//! organisation's ids answer the same 404 page as ids that do not exist.
//! Every form carries a CSRF token ([`session`]). Errors are HTML pages
//! with the right status (403, 404), never data.

mod advice;
mod api_keys;
mod compose;
mod contact;
mod convert;
mod domains;
mod emails;
mod live;
mod login;
mod message;
mod preview;
mod sandbox;
pub(crate) mod session;
mod settings;
mod signed;
mod simulate;
mod stats;
mod users;
mod view;
mod webhooks;

use askama::Template;
use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mailtrail_store::StoreError;

use crate::AppState;

/// The dashboard's routes, merged into the application router.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(emails::emails))
        .route("/login", get(login::login_form).post(login::login))
        .route("/logout", post(login::logout))
        .route("/messages/{id}", get(message::detail))
        .route("/messages/{id}/resend", post(message::resend))
        .route("/live", get(live::live))
        .route("/live/events", get(live::events))
        .route("/stats", get(stats::stats))
        .route("/convert", get(convert::page))
        .route("/convert/file", post(convert::file))
        .route("/sandbox", get(sandbox::sandbox))
        .route("/sandbox/{id}", get(sandbox::sandbox_copy))
        .route("/sandbox/{id}/simulate", post(simulate::simulate))
        .route(
            "/compose",
            get(compose::compose_form).post(compose::compose),
        )
        .route(
            "/settings",
            get(settings::settings).post(settings::save_settings),
        )
        .route("/settings/api-keys", post(api_keys::create_key))
        .route("/settings/api-keys/revoke", post(api_keys::revoke_key))
        .route(
            "/settings/sender-networks",
            post(settings::save_sender_networks),
        )
        .route("/contacts/{address}", get(contact::contact))
        .route("/admin/users", get(users::list).post(users::add))
        .route("/admin/users/admin", post(users::set_admin))
        .route("/admin/users/remove", post(users::remove))
        .route("/settings/domains", post(domains::add))
        .route("/settings/domains/remove", post(domains::remove))
        .route(
            "/settings/webhooks",
            get(webhooks::list).post(webhooks::add),
        )
        .route(
            "/settings/webhooks/{id}",
            get(webhooks::detail).post(webhooks::act),
        )
        .route("/static/dashboard.css", get(css))
        .route("/static/dashboard.js", get(js))
}

async fn css() -> Response {
    static_file(include_str!("../../static/dashboard.css"), "text/css")
}

async fn js() -> Response {
    static_file(include_str!("../../static/dashboard.js"), "text/javascript")
}

fn static_file(body: &'static str, ty: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(ty)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Why a dashboard request did not get its page.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DashError {
    /// No live session: the browser goes to the sign-in page.
    #[error("sign-in required")]
    SignIn,
    /// A form without a live session or with a wrong CSRF token.
    #[error("{0}")]
    Forbidden(&'static str),
    /// Unknown id, or another organisation's.
    #[error("not found")]
    NotFound,
    /// A form asked for something that cannot be done; the text says why.
    #[error("{0}")]
    BadRequest(&'static str),
    /// A request the page cannot answer (a malformed address), with what
    /// is wrong in words.
    #[error("invalid: {0}")]
    Invalid(String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A template failed to render.
    #[error("rendering: {0}")]
    Render(#[from] askama::Error),
    /// Too many sign-in attempts: try again after this many seconds.
    #[error("too many sign-in attempts")]
    TooManyAttempts(u64),
    /// Every password check slot stayed taken: try again in a moment.
    #[error("sign-in busy")]
    Busy,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: &'a str,
}

impl IntoResponse for DashError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::SignIn => {
                return (StatusCode::SEE_OTHER, [(LOCATION, "/login")]).into_response();
            }
            Self::Forbidden(m) => (StatusCode::FORBIDDEN, "Not allowed", *m),
            Self::BadRequest(m) => (StatusCode::BAD_REQUEST, "That cannot be done", *m),
            Self::Invalid(m) => (StatusCode::BAD_REQUEST, "Bad request", m.as_str()),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it belongs to another organisation.",
            ),
            Self::TooManyAttempts(secs) => {
                let mut res = html_error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many sign-in attempts",
                    &format!(
                        "Too many sign-in attempts for this account or from this address. Try again in {secs} seconds."
                    ),
                );
                res.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(*secs));
                return res;
            }
            Self::Busy => {
                let mut res = html_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Busy",
                    "The server is checking many sign-ins just now. Try again in a moment.",
                );
                res.headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from(BUSY_RETRY_SECS));
                return res;
            }
            Self::Store(_) | Self::Render(_) => {
                tracing::error!(error = %self, "dashboard request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The server could not answer. Try again in a moment.",
                )
            }
        };
        html_error(status, title, message)
    }
}

/// How long a sign-in turned away as busy is told to wait.
const BUSY_RETRY_SECS: u64 = 2;

fn html_error(status: StatusCode, title: &str, message: &str) -> Response {
    let body = ErrorPage { title, message }
        .render()
        .unwrap_or_else(|_| message.to_owned());
    html(status, body)
}

/// An HTML response that is never cached (pages show private data).
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// A 303 to `to`: after a form, the browser loads the result with GET.
pub(crate) fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(LOCATION, v)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(LOCATION, "/")]).into_response(),
    }
}

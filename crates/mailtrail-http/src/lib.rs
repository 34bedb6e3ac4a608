//! mailtrail's HTTP side: the JSON API under `/api/v1` and `/healthz`.
//!
//! Only this crate knows axum (DESIGN.md section 5). It turns requests into
//! typed values, calls the [`Store`], and answers JSON; every error, including
//! the ones axum and tower-http make on their own (unknown route, wrong
//! method, body too large, malformed JSON), is answered in one shape,
//! `{"error":{"code","message","field"?}}` (see [`ApiError`]).

mod api;
mod auth;
mod dashboard;
mod error;
mod escape;
mod extract;
pub mod monitoring;
mod networks;
mod openapi;
mod server;
pub mod ses;
pub mod signin;
pub mod submission;
pub mod tracking;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use mailtrail_store::prelude::*;
use tokio::sync::Notify;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use api::mailbox::Mailboxes;
pub use error::ApiError;
pub use server::ConnectionSettings;

/// The default largest request body: 25 MiB, the message size limit most
/// large mailbox providers apply.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;

/// What the HTTP layer needs to know from the configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The largest request body accepted, in bytes; larger ones get 413.
    /// Attachments travel base64-encoded inside the JSON, so the largest
    /// message is about three quarters of this.
    pub max_message_bytes: usize,
    /// The domain of the sender used when a request has no `from`: the
    /// message then comes from `noreply@<this domain>`. With `None`, `from`
    /// is required.
    pub default_from_domain: Option<String>,
    /// The public base URL of this server (scheme, host, optional path), as
    /// tracking links and API links are built on it.
    pub public_url: String,
    /// Connection limits and timeouts against slow or idle clients.
    pub connections: ConnectionSettings,
    /// The most recipients one message may have (to, cc and bcc together).
    pub max_recipients: usize,
    /// `POST /inbound/ses`'s certificate and topics; `None` turns the
    /// route off ([`ses`]).
    pub ses_sns: Option<ses::SesSns>,
    /// Whether webhook endpoints may target private, loopback and
    /// link-local addresses (`--allow-private-webhooks`).
    pub allow_private_webhooks: bool,
}

impl HttpSettings {
    /// The rules a new message is checked with: the organisation's
    /// defaults and this server's limits. The API and the dashboard's
    /// Compose both use this, so they refuse the same messages.
    pub fn message_defaults(
        &self,
        org: &mailtrail_store::Organisation,
    ) -> mailtrail_store::new_message::Defaults {
        mailtrail_store::new_message::Defaults {
            max_recipients: self.max_recipients,
            max_copy_bytes: self.max_message_bytes,
            ..mailtrail_store::new_message::Defaults::of(org, self.default_from_domain.clone())
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            default_from_domain: None,
            public_url: "http://127.0.0.1:8080".to_owned(),
            connections: ConnectionSettings::default(),
            max_recipients: mailtrail_store::new_message::DEFAULT_MAX_RECIPIENTS,
            ses_sns: None,
            allow_private_webhooks: false,
        }
    }
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Limits and defaults.
    pub settings: HttpSettings,
    /// Poked after a message is queued, so that a sleeping delivery worker
    /// wakes at once instead of at its next poll.
    pub notify: Arc<Notify>,
    /// Poked after an inbound message is stored (the sandbox inbox's
    /// simulated replies, receipts and bounces), so that the inbound
    /// processor handles it at once instead of at its next poll.
    pub inbound_wake: Arc<Notify>,
    /// Signs and verifies tracking tokens, in memory.
    pub keyring: Arc<mailtrail_domain::Keyring>,
    /// The tracking endpoints' settings, opener lists and event sink.
    pub tracking: tracking::Tracking,
    /// The sign-in form's hashing gate and attempt limits.
    pub signin: signin::SignIn,
    /// `GET /metrics`: the Prometheus registry and its bearer token.
    pub monitoring: monitoring::Monitoring,
    /// Users' own mailboxes: the key their secrets are sealed with.
    pub mailboxes: Mailboxes,
}

/// The whole HTTP application, ready to be served.
pub fn router(state: AppState) -> Router {
    let limit = state.settings.max_message_bytes;
    let body_timeout = state.settings.connections.body_timeout;
    // The API, `/healthz`, `/metrics` and `/inbound/ses`: routed and
    // described in the OpenAPI document by the same lines ([`openapi`]).
    let (documented, _) = openapi::documented().split_for_parts();
    Router::new()
        .merge(documented)
        .merge(openapi::page())
        .merge(dashboard::routes())
        .fallback(not_found)
        // Durations by route template; the tracking routes, merged below,
        // keep to counters.
        .layer(axum::middleware::from_fn(monitoring::time_request))
        // The limit is enforced once, by tower-http, for every route; axum's
        // own 2 MB default would otherwise cut in first.
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limit))
        // A body that stops arriving ends the request (slowloris on the
        // body); tracking requests have none.
        .layer(RequestBodyTimeoutLayer::new(body_timeout))
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            json_errors,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<Body>| {
                    tracing::info_span!(
                        "http",
                        http.method = %req.method(),
                        http.path = %req.uri().path(),
                        http.status = tracing::field::Empty,
                        org.id = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, span: &Span| {
                    span.record("http.status", res.status().as_u16());
                    tracing::info!(latency_ms = latency.as_millis() as u64, "response");
                })
                // Failures are logged once, by ApiError, with their cause.
                .on_failure(()),
        )
        // Outside the JSON error and trace layers: mail clients get a GIF,
        // a redirect or a plain page, and the hot pixel path stays lean.
        .merge(tracking::routes())
        .merge(tracking::unsubscribe::routes())
        .with_state(state)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then stops
/// accepting connections and lets in-flight requests finish (graceful
/// shutdown), under the connection limits and timeouts of
/// [`HttpSettings::connections`] ([`server`]). Handlers can read the peer
/// address (`ConnectInfo<SocketAddr>`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.settings.connections.clone();
    server::serve(listener, router(state), limits, shutdown).await
}

/// Health.
///
/// `GET /healthz`: 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Object, example = json!({"status": "ok"})),
        (status = 503, description = "The database does not answer", body = error::ErrorEnvelope),
    )
)]
async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await.map_err(ApiError::Unavailable)?;
    Ok(Json(serde_json::json!({ "status": "ok" })))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// Re-dresses error responses made outside the handlers (axum's 405, a
/// 413 from the body limit, a path that cannot be decoded) in the JSON
/// error shape. Responses that are already JSON pass untouched.
async fn json_errors(State(state): State<AppState>, res: Response) -> Response {
    let status = res.status();
    let is_json = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    // The dashboard's own error pages are HTML and stay so.
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge {
            limit: state.settings.max_message_bytes,
        }
    } else {
        let text = axum::body::to_bytes(body, 4096)
            .await
            .ok()
            .and_then(|b| String::from_utf8(b.to_vec()).ok())
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty() && !status.is_server_error());
        ApiError::Http {
            status,
            message: text
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase()),
        }
    };
    let fresh = error.into_response();
    // Keep headers such as `Allow` on a 405; the body's own are replaced.
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let (_, body) = fresh.into_parts();
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests;

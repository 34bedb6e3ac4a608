//! `GET /metrics`: the server's counters, gauges and request-duration
//! histograms in the Prometheus text exposition format (version 0.0.4),
//! optionally behind a bearer token (RFC 6750 section 2.1).
//!
//! Counters are kept by the `metrics` facade wherever the thing happens
//! (delivery worker, inbound processor, IMAP poller, tracking endpoints);
//! the exporter only renders them, and axum serves the text. The queue
//! gauges and the journal's fold lag are read at scrape time, so an idle
//! server does no work for them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::{ApiError, AppState};

/// The request-duration histogram's name.
const REQUEST_DURATION: &str = "mailtrail_http_request_duration_seconds";

/// Request-duration buckets, in seconds: from a cached dashboard page to
/// a large message upload.
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// How often histogram samples are folded into their buckets between
/// scrapes, so that their memory stays bounded when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// What `GET /metrics` serves, and the token it asks for.
#[derive(Clone, Default)]
pub struct Monitoring {
    handle: Option<PrometheusHandle>,
    token: Option<Arc<str>>,
}

impl std::fmt::Debug for Monitoring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitoring")
            .field("enabled", &self.handle.is_some())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Monitoring {
    /// Serves what `handle` renders; with a `token`, only to requests that
    /// carry `Authorization: Bearer <token>`.
    pub fn new(handle: PrometheusHandle, token: Option<String>) -> Self {
        Self {
            handle: Some(handle),
            token: token.filter(|t| !t.is_empty()).map(Arc::from),
        }
    }

    /// No metrics endpoint: `/metrics` answers 404.
    pub fn disabled() -> Self {
        Self::default()
    }
}

/// Installs the process-wide Prometheus recorder once and returns its
/// handle (the same handle on later calls: one process has one registry,
/// however many servers it runs). Counters made before this call go to
/// no recorder and are lost, so it runs before anything is served.
pub fn recorder() -> Result<PrometheusHandle, String> {
    static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full(REQUEST_DURATION.to_owned()),
                    &DURATION_BUCKETS,
                )
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e: BuildError| e.to_string())?;
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                // Scrapes still fold the samples; only an unscraped
                // server's histograms grow.
                tracing::warn!(error = %e, "metrics: no upkeep thread");
            }
            Ok(handle)
        })
        .clone()
}

/// The `/metrics` route.
pub(crate) fn routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(scrape))
}

/// Records how long a request took under its route template
/// (`/api/v1/messages/:id`, never the raw path), so the number of series
/// stays bounded whatever paths clients ask for.
pub(crate) async fn time_request(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| route_label(p.as_str()));
    let start = Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(REQUEST_DURATION, "route" => route).record(start.elapsed().as_secs_f64());
    res
}

/// A route template as a label value: axum's `{id}` and `{*rest}` written
/// `:id` and `*rest`, since simple text-format parsers take a `}` inside a
/// label value for the end of the label set.
fn route_label(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = &rest[open..];
            break;
        };
        let name = &after[..close];
        if !name.starts_with('*') {
            out.push(':');
        }
        out.push_str(name);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Prometheus metrics.
///
/// `GET /metrics`: counters, gauges and request-duration histograms in the
/// Prometheus text exposition format 0.0.4; behind a bearer token when
/// `--metrics-token` is set.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    security((), ("metrics_token" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "A token is set and the request does not carry it", body = crate::error::ErrorEnvelope),
        (status = 404, description = "Metrics are turned off", body = crate::error::ErrorEnvelope),
    )
)]
async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let monitoring = &state.monitoring;
    let Some(handle) = &monitoring.handle else {
        return Err(ApiError::NotFound("route"));
    };
    if let Some(token) = &monitoring.token
        && !bearer_matches(&headers, token)
    {
        return Err(ApiError::Unauthorized);
    }
    match state.store.queue_stats().await {
        Ok(q) => {
            let overdue = q.earliest_due.map_or(0.0, |due| {
                (OffsetDateTime::now_utc() - due).as_seconds_f64().max(0.0)
            });
            metrics::gauge!("mailtrail_queue_depth").set(q.depth as f64);
            metrics::gauge!("mailtrail_queue_oldest_age_seconds").set(overdue);
        }
        // The other metrics are still worth serving; the queue gauges
        // keep their last values.
        Err(e) => tracing::warn!(error = %e, "metrics: reading the queue failed"),
    }
    match state.store.pending_webhook_deliveries().await {
        Ok(n) => metrics::gauge!("mailtrail_webhook_pending_deliveries").set(n as f64),
        Err(e) => tracing::warn!(error = %e, "metrics: reading the webhook queue failed"),
    }
    metrics::gauge!("mailtrail_journal_unfolded_events")
        .set(state.tracking.unfolded_events() as f64);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        handle.render(),
    )
        .into_response())
}

/// Whether the request carries `Authorization: Bearer <token>`, compared
/// in constant time.
fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        })
        .is_some_and(|given| bool::from(given.as_bytes().ct_eq(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(auth).unwrap());
        h
    }

    #[test]
    fn route_labels_have_no_braces() {
        assert_eq!(route_label("/api/v1/messages/{id}"), "/api/v1/messages/:id");
        assert_eq!(route_label("/t/o/{*token}"), "/t/o/*token");
        assert_eq!(route_label("/a/{x}/b/{y}"), "/a/:x/b/:y");
        assert_eq!(route_label("/healthz"), "/healthz");
        assert_eq!(route_label("/odd/{"), "/odd/{");
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        assert!(bearer_matches(&with("Bearer s3cret"), "s3cret"));
        assert!(bearer_matches(&with("bearer s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer s3cre"), "s3cret"));
        assert!(!bearer_matches(&with("Basic s3cret"), "s3cret"));
        assert!(!bearer_matches(&with("Bearer"), "s3cret"));
        assert!(!bearer_matches(&HeaderMap::new(), "s3cret"));
    }
}

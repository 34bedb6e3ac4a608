//! The tracking endpoints: the open pixel `GET /t/o/{token}`, tracked links
//! `GET /t/c/{token}`, and the "this is my device" link `GET /t/self/{token}`
//! (DESIGN.md section 8).
//!
//! Tokens are verified in memory (a keyed MAC, constant-time compare) and
//! the opener is classified in memory ([`opener`]); there is no database
//! work on the request path: the event is appended to the event journal by
//! the [`sink`], answered once durable there, and folded into the store
//! right after. These paths answer mail
//! clients and scanners, not API callers, so they are outside the JSON
//! error layer: the pixel is always a GIF, a bad link a plain 404 page.

mod counters;
pub mod opener;
pub mod sender;
pub mod unsubscribe;

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE, USER_AGENT};
use axum::http::{Extensions, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use ipnet::IpNet;
use mailtrail_domain::{EventKind, Keyring, Opener, Purpose, TrackingPayload};
use mailtrail_store::NewEvent;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::Caller;
use crate::{ApiError, AppState};
use mailtrail_store::journal::EventSink;
use opener::{OpenerData, Rules, Signals, Verdict};
use sender::SenderNetworks;

/// The transparent 1×1 GIF89a: 43 bytes, the smallest widely accepted
/// image (one-entry palette, a transparency extension, one LZW pixel).
pub const PIXEL_GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// No cache may keep the pixel or a redirect, or a second open would never
/// reach us (RFC 9111 section 5.2.2).
const NO_STORE: &str = "no-store, no-cache, must-revalidate, private";

/// The cookie that marks the sender's own devices.
pub const SELF_COOKIE: &str = "mailtrail_self";

/// Five years: the cookie should outlive any campaign.
const SELF_COOKIE_MAX_AGE: u64 = 5 * 365 * 24 * 3600;

/// Settings of the tracking endpoints.
#[derive(Debug, Clone)]
pub struct TrackingSettings {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// The sender's own networks: opens from them are `self`.
    pub self_networks: Vec<IpNet>,
    /// Keep only the /24 (IPv4) or /48 (IPv6) of client addresses.
    pub truncate_ip: bool,
    /// Opens and clicks sooner than this after the copy was built are a
    /// machine's.
    pub machine_window: Duration,
    /// Distinct links of one copy clicked within `burst_window` that make a
    /// burst (a link checker).
    pub burst_links: usize,
    /// See `burst_links`.
    pub burst_window: Duration,
    /// Recipients whose recent clicks are remembered (bounded memory).
    pub burst_capacity: usize,
    /// Mark the self cookie `Secure; SameSite=None` (an https public URL),
    /// so that it also comes with images loaded inside webmail.
    pub secure_cookie: bool,
}

impl Default for TrackingSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            self_networks: Vec::new(),
            truncate_ip: false,
            machine_window: Duration::from_secs(2),
            burst_links: 3,
            burst_window: Duration::from_secs(3),
            burst_capacity: 100_000,
            secure_cookie: false,
        }
    }
}

pub use crate::networks::parse_networks;

/// Everything the tracking handlers share; cheap to clone.
#[derive(Clone)]
pub struct Tracking {
    inner: Arc<Inner>,
}

struct Inner {
    settings: TrackingSettings,
    rules: Rules,
    data: OpenerData,
    sink: EventSink,
    clicks: Mutex<RecentClicks>,
    senders: SenderNetworks,
    counters: counters::Counters,
}

impl std::fmt::Debug for Tracking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracking")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Tracking {
    /// Tracking with these settings, opener lists and event sink.
    pub fn new(settings: TrackingSettings, data: OpenerData, sink: EventSink) -> Self {
        let rules = Rules {
            self_networks: settings.self_networks.clone(),
            machine_window: settings.machine_window,
        };
        let clicks = Mutex::new(RecentClicks::new(settings.burst_capacity));
        Self {
            inner: Arc::new(Inner {
                settings,
                rules,
                data,
                sink,
                clicks,
                senders: SenderNetworks::default(),
                counters: counters::Counters::new(),
            }),
        }
    }

    /// The organisations' sender networks, in memory: the dashboard
    /// replaces an organisation's list when Settings saves it.
    pub fn sender_networks(&self) -> &SenderNetworks {
        &self.inner.senders
    }

    /// The journal's fold lag: events durable but not yet in the store.
    pub(crate) fn unfolded_events(&self) -> u64 {
        self.inner.sink.unfolded_events()
    }

    /// The client address of a request: the peer, or what a trusted
    /// reverse proxy says in `X-Forwarded-For` ([`opener::client_ip`]).
    pub(crate) fn client_ip(&self, headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        peer(extensions)
            .map(|p| opener::client_ip(p.ip(), &forwarded, &self.inner.settings.trusted_proxies))
    }
}

/// The tracking routes, to be merged outside the JSON error layer.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/t/o/{*token}", get(open_pixel))
        .route("/t/o/", get(|| async { pixel() }))
        .route("/t/c/{*token}", get(click))
        .route("/t/c/", get(|| async { not_found() }))
        .route("/t/self/{*token}", get(self_device))
}

/// The API route that hands out a "this is my device" link.
pub(crate) fn api_routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    utoipa_axum::router::OpenApiRouter::new().routes(utoipa_axum::routes!(self_link))
}

/// The answer of `POST /api/v1/tracking/self-link`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct SelfLink {
    /// Open this URL once on each of the sender's own devices: opens and
    /// clicks from a device that did are recorded as `self` and never
    /// counted.
    url: String,
}

fn pixel() -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (CACHE_CONTROL, HeaderValue::from_static(NO_STORE)),
        ],
        PIXEL_GIF,
    )
        .into_response()
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static(NO_STORE)),
        ],
        "Not found: this link is not valid.\n",
    )
        .into_response()
}

/// `GET /t/o/{token}`: always 200 and the GIF, whatever the token; a valid
/// open token also records an `opened` event, stored before the answer.
/// `HEAD` records nothing (no image is fetched by it).
///
/// The request is taken whole (not `HeaderMap` and `Extensions`, which
/// axum's extractors clone) and read by reference: a browser's ten-odd
/// headers are not copied on the hottest path.
async fn open_pixel(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    state.tracking.inner.counters.hit(EventKind::Opened);
    if req.method() == Method::GET
        && let Ok(Path(token)) = token
    {
        let now = OffsetDateTime::now_utc();
        if let Ok(claims) = state.keyring.verify(&token, Purpose::Open, now)
            && let Some(payload) = TrackingPayload::decode(&claims.payload)
        {
            let t = &state.tracking;
            let event = t.event(
                &state.keyring,
                EventKind::Opened,
                claims.recipient,
                &payload,
                req.headers(),
                peer(req.extensions()),
                now,
                None,
            );
            let opener = event.opener;
            match t.inner.sink.record(event).await {
                Ok(()) => t.inner.counters.event(EventKind::Opened, opener),
                Err(e) => tracing::error!(error = %e, "open not stored"),
            }
        }
    }
    pixel()
}

/// `GET /t/c/{token}`: 302 to exactly the http(s) URL the token signs, after
/// the `clicked` event is stored. Anything else, whatever the query string
/// says, is a plain 404: never a redirect (no open redirect). `HEAD` gets
/// the same answer and records nothing: it is a link checker asking where
/// the link goes (RFC 9110 section 9.3.2), nobody following it.
async fn click(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    state.tracking.inner.counters.hit(EventKind::Clicked);
    let Ok(Path(token)) = token else {
        return not_found();
    };
    let now = OffsetDateTime::now_utc();
    let Ok(claims) = state.keyring.verify(&token, Purpose::Click, now) else {
        return not_found();
    };
    let Some(payload) = TrackingPayload::decode(&claims.payload) else {
        return not_found();
    };
    let Some(link) = payload.link.as_deref().filter(|l| is_web_url(l)) else {
        return not_found();
    };
    let Ok(location) = HeaderValue::from_str(link) else {
        return not_found();
    };
    if req.method() != Method::HEAD {
        let t = &state.tracking;
        let event = t.event(
            &state.keyring,
            EventKind::Clicked,
            claims.recipient,
            &payload,
            req.headers(),
            peer(req.extensions()),
            now,
            Some(link),
        );
        let opener = event.opener;
        match t.inner.sink.record(event).await {
            Ok(()) => t.inner.counters.event(EventKind::Clicked, opener),
            Err(e) => tracing::error!(error = %e, "click not stored"),
        }
    }
    (
        StatusCode::FOUND,
        [
            (LOCATION, location),
            (CACHE_CONTROL, HeaderValue::from_static(NO_STORE)),
        ],
    )
        .into_response()
}

/// `GET /t/self/{token}`: marks this browser as the sender's own with a
/// long-lived `mailtrail_self` cookie holding the (signed) token, so that
/// the sender's own opens are recorded as `self` and never counted.
async fn self_device(
    State(state): State<AppState>,
    token: Result<Path<String>, PathRejection>,
) -> Response {
    let Ok(Path(token)) = token else {
        return not_found();
    };
    if state
        .keyring
        .verify(&token, Purpose::SelfDevice, OffsetDateTime::now_utc())
        .is_err()
    {
        return not_found();
    }
    let attrs = if state.tracking.inner.settings.secure_cookie {
        "Secure; SameSite=None"
    } else {
        "SameSite=Lax"
    };
    let cookie = format!(
        "{SELF_COOKIE}={token}; Max-Age={SELF_COOKIE_MAX_AGE}; Path=/t/; HttpOnly; {attrs}"
    );
    let Ok(cookie) = HeaderValue::from_str(&cookie) else {
        return not_found();
    };
    (
        [
            (SET_COOKIE, cookie),
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static(NO_STORE)),
        ],
        "<!doctype html><title>mailtrail</title><p>This device is now recognised as yours: \
         your own opens and clicks are recorded as <code>self</code> and never counted.</p>\n",
    )
        .into_response()
}

/// A "this is my device" link.
///
/// `POST /api/v1/tracking/self-link`: a "this is my device" link for the
/// caller's organisation, to open on each of the sender's devices.
#[utoipa::path(
    post,
    path = "/api/v1/tracking/self-link",
    tag = "tracking",
    security(("api_key" = [])),
    responses((status = 200, description = "The link", body = SelfLink))
)]
async fn self_link(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SelfLink>, ApiError> {
    let token = state
        .keyring
        .sign(caller.org_id, Purpose::SelfDevice, &[])
        .map_err(|_| ApiError::Http {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "token signing failed".into(),
        })?;
    let url = format!("{}/t/self/{token}", state.settings.public_url);
    Ok(Json(SelfLink { url }))
}

fn peer(extensions: &Extensions) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
}

/// Only absolute http and https URLs are redirect targets; `javascript:`,
/// `data:` and relative references never are.
fn is_web_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://"))
        && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn says_prefetch(headers: &HeaderMap) -> bool {
    ["sec-purpose", "purpose", "x-moz", "x-purpose"]
        .iter()
        .filter_map(|h| header(headers, h))
        .any(|v| v.to_ascii_lowercase().contains("prefetch") || v.eq_ignore_ascii_case("preview"))
}

/// Whether the request carries a valid "this is my device" cookie of
/// `org`, the organisation that sent the copy (signed into its token). A
/// cookie names one organisation: the device of one organisation's sender
/// never marks another organisation's recipients' opens as `self`, and a
/// token that names no organisation (issued before tokens carried it)
/// matches no cookie.
fn has_self_cookie(
    headers: &HeaderMap,
    keyring: &Keyring,
    now: OffsetDateTime,
    org: Option<Uuid>,
) -> bool {
    let Some(org) = org else {
        return false;
    };
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .any(|(name, value)| {
            name == SELF_COOKIE
                && keyring
                    .verify(value, Purpose::SelfDevice, now)
                    .is_ok_and(|claims| claims.recipient == org)
        })
}

impl Tracking {
    /// Builds the event of an open or click: classification, and the data
    /// kept with it (nothing identifying under `DNT: 1` / `Sec-GPC: 1`).
    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        keyring: &Keyring,
        kind: EventKind,
        recipient: Uuid,
        payload: &TrackingPayload,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
        now: OffsetDateTime,
        link: Option<&str>,
    ) -> NewEvent {
        let s = &self.inner.settings;
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let ip: Option<IpAddr> =
            peer.map(|p| opener::client_ip(p.ip(), &forwarded, &s.trusted_proxies));
        let user_agent = header(headers, USER_AGENT.as_str());
        let since_issued = Duration::try_from(now - payload.issued_at).unwrap_or(Duration::ZERO);
        let click_burst = match link {
            Some(l) => self.note_click(recipient, l),
            None => false,
        };
        let signals = Signals {
            user_agent,
            ip,
            prefetch: says_prefetch(headers),
            self_cookie: has_self_cookie(headers, keyring, now, payload.org),
            sender_network: payload
                .org
                .zip(ip)
                .is_some_and(|(org, ip)| self.inner.senders.contains(org, ip)),
            since_issued,
            click_burst,
        };
        let Verdict { opener, rule } =
            opener::classify(&self.inner.data, &self.inner.rules, &signals);
        let private =
            header(headers, "dnt") == Some("1") || header(headers, "sec-gpc") == Some("1");
        let mut data = Map::new();
        data.insert("rule".into(), Value::from(rule));
        if private {
            data.insert("private".into(), Value::Bool(true));
        } else {
            if let Some(ip) = ip {
                let ip = if s.truncate_ip {
                    opener::truncate_ip(ip)
                } else {
                    opener::canonical(ip)
                };
                data.insert("ip".into(), Value::from(ip.to_string()));
            }
            if let Some(ua) = user_agent {
                data.insert(
                    "user_agent".into(),
                    Value::from(ua.chars().take(512).collect::<String>()),
                );
            }
        }
        let mut kept = Map::new();
        for h in [
            "sec-purpose",
            "purpose",
            "x-moz",
            "dnt",
            "sec-gpc",
            "sec-fetch-dest",
        ] {
            if let Some(v) = header(headers, h) {
                kept.insert(
                    h.into(),
                    Value::from(v.chars().take(128).collect::<String>()),
                );
            }
        }
        if !kept.is_empty() {
            data.insert("headers".into(), Value::Object(kept));
        }
        data.insert(
            "since_issued_ms".into(),
            Value::from(u64::try_from(since_issued.as_millis()).unwrap_or(u64::MAX)),
        );
        if let Some(l) = link {
            data.insert("url".into(), Value::from(l));
        }
        NewEvent {
            id: Uuid::now_v7(),
            recipient_id: recipient,
            kind,
            at: now,
            opener: Some(opener),
            reason: None,
            data: Value::Object(data),
        }
    }

    /// Remembers a click and says whether it completes a burst: at least
    /// `burst_links` distinct links of the recipient's copy clicked within
    /// `burst_window`.
    fn note_click(&self, recipient: Uuid, link: &str) -> bool {
        let s = &self.inner.settings;
        let Ok(mut clicks) = self.inner.clicks.lock() else {
            return false;
        };
        clicks.note(recipient, link, Instant::now(), s.burst_window) >= s.burst_links.max(2)
    }

    /// Whether `opener` makes an open or click count as a person's.
    pub fn counts(opener: Opener) -> bool {
        opener.is_person()
    }
}

/// Recent clicks per recipient, in memory and bounded: when full, entries
/// past the window go first, then everything (losing only burst history,
/// never events).
struct RecentClicks {
    capacity: usize,
    by_recipient: HashMap<Uuid, VecDeque<(Instant, u64)>>,
}

impl RecentClicks {
    fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            by_recipient: HashMap::new(),
        }
    }

    /// Records a click on `link` at `now`; returns how many distinct links
    /// the recipient clicked within `window`, this one included.
    fn note(&mut self, recipient: Uuid, link: &str, now: Instant, window: Duration) -> usize {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(link);
        if self.by_recipient.len() >= self.capacity && !self.by_recipient.contains_key(&recipient) {
            self.by_recipient.retain(|_, q| {
                q.back()
                    .is_some_and(|(t, _)| now.duration_since(*t) < window)
            });
            if self.by_recipient.len() >= self.capacity {
                self.by_recipient.clear();
            }
        }
        let q = self.by_recipient.entry(recipient).or_default();
        while q
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) >= window)
        {
            q.pop_front();
        }
        // A burst is a few links; a long queue would only repeat them.
        if q.len() >= 64 {
            q.pop_front();
        }
        q.push_back((now, hash));
        let mut distinct: Vec<u64> = q.iter().map(|(_, h)| *h).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pixel_is_a_43_byte_gif() {
        assert_eq!(PIXEL_GIF.len(), 43);
        assert_eq!(&PIXEL_GIF[..6], b"GIF89a");
        assert_eq!(PIXEL_GIF[42], 0x3b);
    }

    #[test]
    fn only_web_urls_redirect() {
        assert!(is_web_url("https://example.com/a?b"));
        assert!(is_web_url("HTTP://example.com"));
        for bad in [
            "javascript:alert(1)",
            "//evil.example",
            "data:text/html,x",
            "https://a b",
            "https://a\r\nSet-Cookie: x",
        ] {
            assert!(!is_web_url(bad), "{bad}");
        }
    }

    #[test]
    fn bursts_count_distinct_links_within_the_window() {
        let mut r = RecentClicks::new(2);
        let t0 = Instant::now();
        let w = Duration::from_secs(3);
        let a = Uuid::now_v7();
        assert_eq!(r.note(a, "x", t0, w), 1);
        assert_eq!(r.note(a, "x", t0, w), 1);
        assert_eq!(r.note(a, "y", t0 + Duration::from_secs(1), w), 2);
        assert_eq!(
            r.note(a, "z", t0 + Duration::from_secs(5), w),
            1,
            "older clicks left the window"
        );
        // Bounded: a third recipient evicts the stale ones.
        r.note(Uuid::now_v7(), "x", t0, w);
        r.note(Uuid::now_v7(), "x", t0 + Duration::from_secs(10), w);
        assert!(r.by_recipient.len() <= 2);
    }
}

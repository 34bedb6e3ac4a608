//! The live feed: opens, clicks, read receipts, replies and failures as
//! they happen, pushed to the browser with Server-Sent Events (HTML
//! Living Standard, section 9.2).
//!
//! Each connection reads the store for its organisation's events newer
//! than the last one it sent (a keyset range scan of `events(org_id, id)`,
//! ids being UUIDv7). Reading the store rather than listening to one
//! writer means an event shows up whichever path recorded it: the
//! tracking endpoints' event journal (once folded into the store, a few
//! milliseconds after the hit's answer), the delivery worker or the
//! inbound processor, on this node or another one sharing the database.
//! It reads when the store signals a commit of events on this node
//! ([`mailtrail_store::TrackingStore::event_signal`]), so a hit reaches the
//! browser within milliseconds of becoming durable, and at least every
//! [`FALLBACK`] for events that other nodes write.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use mailtrail_domain::{EventKind, Opener};
use mailtrail_store::FeedEvent;
use time::OffsetDateTime;
use uuid::Uuid;

use super::session;
use super::signed::{Chrome, SignedIn};
use super::view::when;
use super::{DashError, html};
use crate::AppState;

/// How often a connection looks for new events when the store cannot
/// signal commits: well inside the 100 ms in which a hit should reach the
/// browser.
const POLL: Duration = Duration::from_millis(50);
/// How often a connection looks anyway, for events written by other
/// nodes sharing the database.
const FALLBACK: Duration = Duration::from_millis(500);
/// After a store error, wait this long before the next look.
const BACKOFF: Duration = Duration::from_secs(1);

/// What the feed shows.
const FEED_KINDS: [EventKind; 6] = [
    EventKind::Opened,
    EventKind::Clicked,
    EventKind::ReadReceipt,
    EventKind::Replied,
    EventKind::Failed,
    EventKind::Complained,
];

/// The smallest UUIDv7 of the millisecond `t`: every event recorded from
/// then on has a larger id.
pub(crate) fn uuid_floor(t: OffsetDateTime) -> Uuid {
    let ms = u64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let mut b = [0u8; 16];
    b[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    Uuid::from_bytes(b)
}

/// The words the feed uses for an event; `None` for what it leaves out:
/// the sender's own opens and clicks (never a recipient's) and machines'.
pub(crate) fn feed_label(kind: EventKind, opener: Option<Opener>) -> Option<&'static str> {
    if matches!(opener, Some(Opener::SelfOpen | Opener::Machine)) {
        return None;
    }
    Some(match kind {
        EventKind::Opened => "opened by a person",
        EventKind::Clicked => "clicked",
        EventKind::ReadReceipt => "read receipt",
        EventKind::Replied => "replied",
        EventKind::Failed => "failed",
        EventKind::Complained => "marked as spam",
        _ => return None,
    })
}

fn sse_event(f: &FeedEvent) -> Option<SseEvent> {
    let label = feed_label(f.event.kind, f.event.opener)?;
    let data = serde_json::json!({
        "kind": f.event.kind.as_str(),
        "label": label,
        "address": f.address,
        "subject": f.subject,
        "message_id": f.message_id,
        "at": when(f.event.at),
    });
    Some(
        SseEvent::default()
            .event("event")
            .id(f.event.id.to_string())
            .data(data.to_string()),
    )
}

#[derive(Template)]
#[template(path = "live.html")]
struct LivePage {
    chrome: Chrome,
}

/// `GET /live`: the page; its script connects to `/live/events`.
pub(crate) async fn live(SignedIn(s): SignedIn) -> Result<Response, DashError> {
    let page = LivePage {
        chrome: (&s).into(),
    };
    Ok(html(StatusCode::OK, page.render()?))
}

struct Tail {
    state: AppState,
    org_id: Uuid,
    after: Uuid,
    until: OffsetDateTime,
    pending: VecDeque<SseEvent>,
    /// Commits of events on this node.
    signal: tokio::sync::watch::Receiver<u64>,
    /// Whether the store was read once: the first read is at once (a
    /// reconnecting browser's missed events).
    primed: bool,
}

/// `GET /live/events`: the event stream. Without a live session, 403. A
/// reconnecting browser sends `Last-Event-ID` and misses nothing.
pub(crate) async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, DashError> {
    let s = session::current(&state, &headers)
        .await?
        .ok_or(DashError::Forbidden("Sign in to see the live feed."))?;
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Uuid::parse_str(v.trim()).ok())
        .unwrap_or_else(|| uuid_floor(OffsetDateTime::now_utc()));
    let signal = state.store.event_signal();
    let tail = Tail {
        state,
        org_id: s.user.org_id,
        after,
        until: s.expires_at,
        pending: VecDeque::new(),
        signal,
        primed: false,
    };
    let stream = futures::stream::unfold(tail, |mut t| async move {
        loop {
            if let Some(ev) = t.pending.pop_front() {
                return Some((Ok::<_, Infallible>(ev), t));
            }
            // The stream ends with the session; the browser then finds
            // itself signed out when it reconnects.
            if OffsetDateTime::now_utc() >= t.until {
                return None;
            }
            if t.primed {
                match tokio::time::timeout(FALLBACK, t.signal.changed()).await {
                    // Events were committed, or time to look anyway.
                    Ok(Ok(())) | Err(_) => {}
                    // This store cannot signal: poll.
                    Ok(Err(_)) => tokio::time::sleep(POLL).await,
                }
            }
            t.primed = true;
            match t
                .state
                .store
                .events_after(t.org_id, t.after, &FEED_KINDS, 100)
                .await
            {
                Ok(list) => {
                    for f in &list {
                        t.after = f.event.id;
                        t.pending.extend(sse_event(f));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live feed: reading events failed");
                    tokio::time::sleep(BACKOFF).await;
                }
            }
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_and_machine_opens_never_show() {
        assert_eq!(feed_label(EventKind::Opened, Some(Opener::SelfOpen)), None);
        assert_eq!(feed_label(EventKind::Clicked, Some(Opener::SelfOpen)), None);
        assert_eq!(feed_label(EventKind::Opened, Some(Opener::Machine)), None);
        assert_eq!(
            feed_label(EventKind::Opened, Some(Opener::Proxy)),
            Some("opened by a person")
        );
        assert_eq!(feed_label(EventKind::Failed, None), Some("failed"));
        assert_eq!(feed_label(EventKind::Delivered, None), None);
    }

    #[test]
    fn the_floor_is_below_every_later_id() {
        let now = OffsetDateTime::now_utc();
        let floor = uuid_floor(now);
        std::thread::sleep(Duration::from_millis(2));
        assert!(Uuid::now_v7() > floor);
        assert!(uuid_floor(now - time::Duration::seconds(1)) < floor);
    }
}

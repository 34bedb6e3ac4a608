//! What both backends share: time and text conversions, and the rule that
//! turns an event into a recipient's new cached status. Keeping the rule in
//! one place is what makes the two backends behave identically; only the SQL
//! around it differs.

use std::collections::HashMap;

use mailtrail_domain::{EmailAddress, EventKind, MessageId, Opener, RecipientKind, Status};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::model::{NewEvent, StatusReason};

/// Largest page `list_messages` returns.
pub(crate) const MAX_PAGE: u32 = 200;

/// How stale `api_keys.last_used_at` may get before a lookup refreshes it.
/// Writing on every request would turn each API call into a write
/// transaction, which SQLite serialises.
pub(crate) const KEY_USE_RESOLUTION_MS: i64 = 60_000;

/// Milliseconds since the Unix epoch, rounded down: the stored form of every
/// timestamp, identical in both backends.
pub(crate) fn to_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    // The `time` crate's range (±9999 years) fits in i64 milliseconds.
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The inverse of [`to_ms`], in UTC.
pub(crate) fn from_ms(ms: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {ms}: {e}")))
}

/// The current time, truncated to what the database keeps.
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub(crate) fn address(s: &str) -> Result<EmailAddress, StoreError> {
    EmailAddress::parse(s).map_err(|e| StoreError::Corrupt(format!("address {s:?}: {e}")))
}

pub(crate) fn message_id(s: &str) -> Result<MessageId, StoreError> {
    MessageId::parse(s).map_err(|e| StoreError::Corrupt(format!("message id {s:?}: {e}")))
}

pub(crate) fn status(s: &str) -> Result<Status, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("status: {e}")))
}

pub(crate) fn event_kind(s: &str) -> Result<EventKind, StoreError> {
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("event kind: {e}")))
}

pub(crate) fn opener(s: Option<&str>) -> Result<Option<Opener>, StoreError> {
    s.map(|s| {
        s.parse()
            .map_err(|_| StoreError::Corrupt(format!("opener {s:?}")))
    })
    .transpose()
}

pub(crate) fn recipient_kind(s: &str) -> Result<RecipientKind, StoreError> {
    RecipientKind::parse(s).ok_or_else(|| StoreError::Corrupt(format!("recipient kind {s:?}")))
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(format!("cannot encode JSON: {e}")))
}

/// Non-negative counters and attempt numbers stored as signed integers.
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Rebuilds a status reason from its columns; `None` when all are empty.
pub(crate) fn reason_from_columns(
    smtp_code: Option<i64>,
    enhanced_status: Option<String>,
    reason: Option<String>,
    text: Option<String>,
) -> Option<StatusReason> {
    if smtp_code.is_none() && enhanced_status.is_none() && reason.is_none() && text.is_none() {
        return None;
    }
    Some(StatusReason {
        smtp_code: smtp_code.and_then(|c| u16::try_from(c).ok()),
        enhanced_status,
        reason,
        text,
    })
}

/// `%text%` for `LIKE ... ESCAPE '\'`, with the caller's `%`, `_` and `\`
/// taken literally.
pub(crate) fn contains_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(crate) fn page_size(limit: u32) -> i64 {
    i64::from(limit.clamp(1, MAX_PAGE))
}

/// Maps constraint violations to the store's words: a unique violation is a
/// `Conflict(what)`, a foreign-key violation a `NotFound(parent)`.
pub(crate) fn constraint(e: sqlx::Error, what: &'static str, parent: &'static str) -> StoreError {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return StoreError::Conflict(what);
        }
        if d.is_foreign_key_violation() {
            return StoreError::NotFound(parent);
        }
    }
    StoreError::Database(e)
}

/// Whether the error is a unique violation (a concurrent insert won).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// A recipient's cached state while events are applied to it inside a
/// transaction: read once (locked), folded over the events in order,
/// written once.
#[derive(Debug, Clone)]
pub(crate) struct RecipientState {
    pub message_id: Uuid,
    pub org_id: Uuid,
    pub status: Status,
    pub reason: Option<StatusReason>,
    pub updated_at: OffsetDateTime,
    pub opens: i64,
    pub machine_opens: i64,
    pub clicks: i64,
    pub first_open_at: Option<OffsetDateTime>,
    pub first_open_implied: bool,
    pub implied_opens: i64,
}

/// Whether an open or click by `opener` is a person's: human or proxy, or
/// unknown (events recorded without classification, which `Status::apply`
/// also treats as a person's). Never a machine's, never the sender's own.
pub(crate) fn by_person(opener: Option<Opener>) -> bool {
    !matches!(opener, Some(Opener::Machine | Opener::SelfOpen))
}

/// The URL a click event followed (the one its token signs), from its data.
pub(crate) fn clicked_url(ev: &NewEvent) -> Option<&str> {
    if ev.kind != EventKind::Clicked {
        return None;
    }
    ev.data.get("url").and_then(serde_json::Value::as_str)
}

/// The id of the open implied by click `click`: one below the click's, so
/// it is the same for a retried batch (event ids make writes idempotent)
/// and sorts just before the click among events of the same millisecond.
pub(crate) fn implied_open_id(click: Uuid) -> Uuid {
    Uuid::from_u128(click.as_u128().wrapping_sub(1))
}

impl RecipientState {
    /// Applies one event with the domain rule (`Status::apply`, DESIGN.md
    /// section 3), and returns the open a person's click implies when no
    /// person had opened the copy before (its images were blocked, so no
    /// pixel loaded): an `opened` event with the click's opener, time and
    /// `data.implied = true`, already applied here, for the caller to
    /// insert beside the click.
    ///
    /// The reason columns take the event's reason, except that a deferral
    /// arriving after a permanent failure (a retry that raced the bounce)
    /// does not overwrite why the recipient failed. Counters: opens and
    /// clicks by a person ([`by_person`]), opens by a machine apart; the
    /// sender's own opens are never counted.
    pub fn apply(&mut self, ev: &NewEvent) -> Option<NewEvent> {
        let implied = (ev.kind == EventKind::Clicked && by_person(ev.opener) && self.opens == 0)
            .then(|| {
                let mut data = serde_json::Map::new();
                data.insert("implied".into(), true.into());
                data.insert("rule".into(), "click_without_open".into());
                data.insert("click_id".into(), ev.id.to_string().into());
                NewEvent {
                    id: implied_open_id(ev.id),
                    recipient_id: ev.recipient_id,
                    kind: EventKind::Opened,
                    at: ev.at,
                    opener: ev.opener,
                    reason: None,
                    data: serde_json::Value::Object(data),
                }
            });
        if let Some(open) = &implied {
            self.apply_one(open);
            self.implied_opens += 1;
            if self.first_open_at == Some(ev.at) {
                self.first_open_implied = true;
            }
        }
        self.apply_one(ev);
        implied
    }

    fn apply_one(&mut self, ev: &NewEvent) {
        let next = self.status.apply(ev.kind, ev.opener);
        let mut changed = next != self.status;
        if let Some(r) = &ev.reason
            && (ev.kind == EventKind::Failed || next != Status::Failed)
        {
            self.reason = Some(r.clone());
            changed = true;
        }
        if changed {
            self.status = next;
            self.updated_at = ev.at;
        }
        match (ev.kind, ev.opener) {
            (_, Some(Opener::SelfOpen)) => {}
            (EventKind::Opened, Some(Opener::Machine)) => self.machine_opens += 1,
            (EventKind::Opened, _) => {
                self.opens += 1;
                if self.first_open_at.is_none_or(|t| ev.at < t) {
                    self.first_open_at = Some(ev.at);
                    self.first_open_implied = false;
                }
            }
            (EventKind::Clicked, Some(Opener::Machine)) => {}
            (EventKind::Clicked, _) => self.clicks += 1,
            _ => {}
        }
    }
}

/// Per-link click counts of one batch, added to `recipient_links` with one
/// upsert per (recipient, URL) in the batch's transaction: no read.
#[derive(Debug, Default)]
pub(crate) struct LinkTally {
    /// (recipient, url) → (person clicks, machine clicks, first, last).
    pub links: HashMap<(Uuid, String), (i64, i64, i64, i64)>,
}

impl LinkTally {
    /// Counts `ev` when it is a click by anyone but the sender.
    pub fn note(&mut self, ev: &NewEvent) {
        let Some(url) = clicked_url(ev) else { return };
        if ev.opener == Some(Opener::SelfOpen) {
            return;
        }
        let at = to_ms(ev.at);
        let e = self
            .links
            .entry((ev.recipient_id, url.to_owned()))
            .or_insert((0, 0, at, at));
        if by_person(ev.opener) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        e.2 = e.2.min(at);
        e.3 = e.3.max(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ms_round_trip_truncates_below_a_millisecond() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        let back = from_ms(to_ms(t)).unwrap();
        assert_eq!(to_ms(t), 1_700_000_000_123);
        assert_eq!(
            back,
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000).unwrap()
        );
        let before_epoch = OffsetDateTime::from_unix_timestamp_nanos(-1_500_000).unwrap();
        assert_eq!(to_ms(before_epoch), -2);
    }

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(contains_pattern("a%b_c\\"), "%a\\%b\\_c\\\\%");
    }

    fn ev(kind: EventKind, opener: Option<Opener>, reason: Option<&str>) -> NewEvent {
        NewEvent {
            id: Uuid::now_v7(),
            recipient_id: Uuid::nil(),
            kind,
            at: OffsetDateTime::UNIX_EPOCH,
            opener,
            reason: reason.map(|r| StatusReason {
                reason: Some(r.into()),
                ..Default::default()
            }),
            data: serde_json::Value::Null,
        }
    }

    #[test]
    fn deferral_after_failure_keeps_the_failure_reason() {
        let mut s = RecipientState {
            message_id: Uuid::nil(),
            org_id: Uuid::nil(),
            status: Status::Queued,
            reason: None,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            opens: 0,
            machine_opens: 0,
            clicks: 0,
            first_open_at: None,
            first_open_implied: false,
            implied_opens: 0,
        };
        s.apply(&ev(EventKind::Failed, None, Some("userunknown")));
        s.apply(&ev(EventKind::Deferred, None, Some("speeding")));
        assert_eq!(s.status, Status::Failed);
        assert_eq!(
            s.reason.as_ref().and_then(|r| r.reason.as_deref()),
            Some("userunknown")
        );
        s.apply(&ev(EventKind::Opened, Some(Opener::Machine), None));
        s.apply(&ev(EventKind::Opened, Some(Opener::Human), None));
        s.apply(&ev(EventKind::Opened, Some(Opener::SelfOpen), None));
        s.apply(&ev(EventKind::Clicked, Some(Opener::Proxy), None));
        assert_eq!((s.opens, s.machine_opens, s.clicks), (1, 1, 1));
        assert_eq!(s.status, Status::Clicked);
    }
}

/// Wakes readers of the event log (the dashboard's live feed) when a
/// transaction that recorded events has committed on this node, so that
/// they need not poll the database to see a hit within milliseconds.
/// Other nodes sharing a PostgreSQL database do not see these wake-ups:
/// readers keep a slower poll for their events.
#[derive(Debug, Clone)]
pub(crate) struct EventSignal(std::sync::Arc<tokio::sync::watch::Sender<u64>>);

impl EventSignal {
    pub(crate) fn new() -> Self {
        Self(std::sync::Arc::new(tokio::sync::watch::channel(0).0))
    }

    /// Called after the commit: every receiver sees a change.
    pub(crate) fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

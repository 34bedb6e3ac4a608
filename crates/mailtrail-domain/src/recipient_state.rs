//! A recipient's cached state and the rule that folds an event into it
//! (DESIGN.md section 3). Both store backends, and anything else that keeps
//! a recipient's status, apply events through [`RecipientState::apply`], so
//! the shown status, its reason and the counters follow one rule.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::event::EventKind;
use crate::status::{Opener, Status};

/// Why a recipient is in its status: the last failure or deferral.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatusReason {
    /// SMTP reply code, e.g. 550 (RFC 5321 section 4.2).
    pub smtp_code: Option<u16>,
    /// RFC 3463 enhanced status, e.g. "5.1.1".
    pub enhanced_status: Option<String>,
    /// Reason name from the bounce vocabulary, e.g. "userunknown".
    pub reason: Option<String>,
    /// The server's text.
    pub text: Option<String>,
}

/// A fact to record about a recipient.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// The recipient.
    pub recipient_id: Uuid,
    /// What happened.
    pub kind: EventKind,
    /// When.
    pub at: OffsetDateTime,
    /// For opens and clicks: who.
    pub opener: Option<Opener>,
    /// For failures and deferrals: why (also becomes the recipient's
    /// status reason).
    pub reason: Option<StatusReason>,
    /// Anything else (attempt number, remote MTA, user agent, URL...).
    pub data: serde_json::Value,
}

impl NewEvent {
    /// The URL a click event followed (the one its token signs), from its
    /// data; `None` for any other event.
    pub fn clicked_url(&self) -> Option<&str> {
        if self.kind != EventKind::Clicked {
            return None;
        }
        self.data.get("url").and_then(serde_json::Value::as_str)
    }
}

/// Whether an open or click by `opener` is a person's: human or proxy, or
/// unknown (events recorded without classification, which `Status::apply`
/// also treats as a person's). Never a machine's, never the sender's own.
pub fn by_person(opener: Option<Opener>) -> bool {
    !matches!(opener, Some(Opener::Machine | Opener::SelfOpen))
}

/// The id of the open implied by click `click`: one below the click's, so
/// it is the same for a retried batch (event ids make writes idempotent)
/// and sorts just before the click among events of the same millisecond.
pub fn implied_open_id(click: Uuid) -> Uuid {
    Uuid::from_u128(click.as_u128().wrapping_sub(1))
}

/// A recipient's cached status, reason and counters: read once, folded over
/// events in order with [`RecipientState::apply`], written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientState {
    /// The shown status.
    pub status: Status,
    /// Why, for failures and deferrals.
    pub reason: Option<StatusReason>,
    /// When the status or reason last changed.
    pub updated_at: OffsetDateTime,
    /// Opens by a person.
    pub opens: u64,
    /// Opens by a machine (a scanner or prefetcher).
    pub machine_opens: u64,
    /// Clicks by a person.
    pub clicks: u64,
    /// The earliest open by a person.
    pub first_open_at: Option<OffsetDateTime>,
    /// Whether that earliest open was implied by a click.
    pub first_open_implied: bool,
    /// Opens implied by clicks (images blocked, so no pixel loaded).
    pub implied_opens: u64,
}

impl RecipientState {
    /// The state of a recipient nothing has happened to since `at`.
    pub fn new(status: Status, at: OffsetDateTime) -> Self {
        Self {
            status,
            reason: None,
            updated_at: at,
            opens: 0,
            machine_opens: 0,
            clicks: 0,
            first_open_at: None,
            first_open_implied: false,
            implied_opens: 0,
        }
    }

    /// Applies one event with the domain rule (`Status::apply`, DESIGN.md
    /// section 3), and returns the open a person's click implies when no
    /// person had opened the copy before (its images were blocked, so no
    /// pixel loaded): an `opened` event with the click's opener, time and
    /// `data.implied = true`, already applied here, for the caller to
    /// record beside the click.
    ///
    /// The reason takes the event's reason, except that a deferral
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut s = RecipientState::new(Status::Queued, OffsetDateTime::UNIX_EPOCH);
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

    #[test]
    fn a_click_without_an_open_implies_one_once() {
        let mut s = RecipientState::new(Status::Delivered, OffsetDateTime::UNIX_EPOCH);
        let click = ev(EventKind::Clicked, Some(Opener::Human), None);
        let open = s.apply(&click).expect("an implied open");
        assert_eq!(open.kind, EventKind::Opened);
        assert_eq!(open.id, implied_open_id(click.id));
        assert_eq!((s.opens, s.clicks, s.implied_opens), (1, 1, 1));
        assert!(s.first_open_implied);
        assert!(
            s.apply(&ev(EventKind::Clicked, Some(Opener::Human), None))
                .is_none()
        );
        // A machine's click implies nothing.
        let mut m = RecipientState::new(Status::Delivered, OffsetDateTime::UNIX_EPOCH);
        assert!(
            m.apply(&ev(EventKind::Clicked, Some(Opener::Machine), None))
                .is_none()
        );
        assert_eq!((m.opens, m.clicks), (0, 0));
    }
}

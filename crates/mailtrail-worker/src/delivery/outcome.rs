//! What a transport's [`Outcome`] means for a job: an event to record, and
//! for a temporary failure when to try again, with exponential backoff
//! until the maximum age, then `failed` as `expired` (RFC 5321 section
//! 4.5.4.1 suggests giving up after 4-5 days; the default is 3).

use std::time::Duration;

use mailtrail_domain::{EventKind, Reason};
use mailtrail_smtp::{Outcome, Reply};
use mailtrail_store::{NewEvent, StatusReason};
use time::OffsetDateTime;
use uuid::Uuid;

use super::WorkerSettings;

/// One attempt at one recipient's copy.
pub(crate) struct Attempt {
    /// The message, for the log.
    pub(crate) message_id: Uuid,
    /// The recipient whose copy it is.
    pub(crate) recipient_id: Uuid,
    /// Attempts made before this one.
    pub(crate) previous: u32,
    /// How long ago the message was accepted.
    pub(crate) age: time::Duration,
    /// When this attempt ended.
    pub(crate) now: OffsetDateTime,
}

/// What to record for an attempt.
#[derive(Debug)]
pub(crate) enum Settled {
    /// Sent, delivered or failed: the job is finished, committed with the
    /// batch's other outcomes.
    Done(NewEvent),
    /// Deferred: the job is tried again at `retry_at`.
    Retry {
        /// The `deferred` event.
        event: NewEvent,
        /// When the job is due again.
        retry_at: OffsetDateTime,
    },
}

/// Turns a transport's outcome into what to record. `transport` names the
/// transport in the event's data.
pub(crate) fn settle(
    outcome: Outcome,
    transport: &str,
    a: &Attempt,
    settings: &WorkerSettings,
) -> Settled {
    let attempt = a.previous + 1;
    match outcome {
        Outcome::Accepted {
            reply,
            remote,
            final_delivery,
        } => {
            let kind = if final_delivery {
                EventKind::Delivered
            } else {
                EventKind::Sent
            };
            let data = serde_json::json!({"attempt": attempt, "transport": transport, "remote": remote, "smtp_code": reply.code, "response": reply.text});
            tracing::info!(message.id = %a.message_id, recipient.id = %a.recipient_id, %remote, "{kind}");
            Settled::Done(event(a.recipient_id, kind, None, data))
        }
        Outcome::Permanent { reply, remote } => {
            let reason = reason_of(Some(&reply), None);
            tracing::info!(message.id = %a.message_id, recipient.id = %a.recipient_id, %remote, smtp.code = reply.code, "failed");
            let data =
                serde_json::json!({"attempt": attempt, "transport": transport, "remote": remote});
            Settled::Done(event(a.recipient_id, EventKind::Failed, Some(reason), data))
        }
        Outcome::Transient {
            reply,
            remote,
            error,
        } => {
            let data = serde_json::json!({"attempt": attempt, "transport": transport, "remote": remote, "error": error});
            let mut reason = reason_of(reply.as_ref(), Some(&error));
            if a.age >= settings.retry_max_age {
                reason.reason = Some(Reason::Expired.as_str().to_owned());
                tracing::info!(message.id = %a.message_id, recipient.id = %a.recipient_id, "failed: expired after {attempt} attempts");
                return Settled::Done(event(a.recipient_id, EventKind::Failed, Some(reason), data));
            }
            let delay = backoff(a.previous, settings.retry_initial, settings.retry_max_delay);
            let retry_at = a.now + delay;
            tracing::info!(message.id = %a.message_id, recipient.id = %a.recipient_id, retry.in_secs = delay.as_secs(), "deferred: {error}");
            let mut data = data;
            data["retry_at"] = serde_json::json!(
                retry_at
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
            );
            Settled::Retry {
                event: event(a.recipient_id, EventKind::Deferred, Some(reason), data),
                retry_at,
            }
        }
    }
}

pub(crate) fn event(
    recipient_id: Uuid,
    kind: EventKind,
    reason: Option<StatusReason>,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        recipient_id,
        kind,
        at: OffsetDateTime::now_utc(),
        opener: None,
        reason,
        data,
    }
}

/// The status reason for a reply (or, with no reply, a connection error).
fn reason_of(reply: Option<&Reply>, error: Option<&str>) -> StatusReason {
    match reply {
        Some(r) => StatusReason {
            smtp_code: Some(r.code),
            enhanced_status: r.enhanced.map(|e| e.to_string()),
            reason: Some(
                Reason::from_reply(Some(r.code), r.enhanced.as_ref(), &r.text)
                    .as_str()
                    .to_owned(),
            ),
            text: Some(r.text.clone()),
        },
        None => StatusReason {
            smtp_code: None,
            enhanced_status: None,
            reason: Some(Reason::NetworkError.as_str().to_owned()),
            text: error.map(str::to_owned),
        },
    }
}

/// Exponential backoff: `initial * 2^attempts`, capped.
pub(crate) fn backoff(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.min(20));
    initial.saturating_mul(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WorkerSettings {
        WorkerSettings {
            concurrency: 1,
            bounce_domain: None,
            public_url: "http://t.example".into(),
            retry_initial: Duration::from_secs(60),
            retry_max_delay: Duration::from_secs(3600),
            retry_max_age: Duration::from_secs(3 * 86_400),
            lease: Duration::from_secs(600),
        }
    }

    fn attempt(previous: u32, age: time::Duration) -> Attempt {
        Attempt {
            message_id: Uuid::nil(),
            recipient_id: Uuid::nil(),
            previous,
            age,
            now: time::macros::datetime!(2026-12-01 12:00 UTC),
        }
    }

    fn reply(code: u16, enhanced: &str, text: &str) -> Reply {
        Reply::synthetic(code, enhanced, text)
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_secs(60);
        let m = Duration::from_secs(3600);
        assert_eq!(backoff(0, i, m), Duration::from_secs(60));
        assert_eq!(backoff(1, i, m), Duration::from_secs(120));
        assert_eq!(backoff(3, i, m), Duration::from_secs(480));
        assert_eq!(backoff(10, i, m), m);
        assert_eq!(backoff(u32::MAX, i, m), m);
    }

    /// A smarthost's 250 is `sent`, a recipient's server's is `delivered`.
    #[test]
    fn accepted_is_sent_or_delivered() {
        for (final_delivery, kind) in [(false, EventKind::Sent), (true, EventKind::Delivered)] {
            let outcome = Outcome::Accepted {
                reply: reply(250, "2.0.0", "queued"),
                remote: "relay[127.0.0.1]:25".into(),
                final_delivery,
            };
            match settle(
                outcome,
                "smtp",
                &attempt(0, time::Duration::ZERO),
                &settings(),
            ) {
                Settled::Done(e) => {
                    assert_eq!(e.kind, kind);
                    assert_eq!(e.data["attempt"], 1);
                    assert_eq!(e.data["transport"], "smtp");
                }
                other => panic!("expected done, got {other:?}"),
            }
        }
    }

    /// A 4xx is retried after the backoff; past the maximum age it fails
    /// as `expired`.
    #[test]
    fn transient_retries_until_the_maximum_age() {
        let outcome = || Outcome::Transient {
            reply: Some(reply(451, "4.3.0", "try later")),
            remote: None,
            error: "451 4.3.0 try later".into(),
        };
        let a = attempt(2, time::Duration::hours(1));
        match settle(outcome(), "smtp", &a, &settings()) {
            Settled::Retry { event, retry_at } => {
                assert_eq!(event.kind, EventKind::Deferred);
                assert_eq!(retry_at, a.now + Duration::from_secs(240));
            }
            other => panic!("expected a retry, got {other:?}"),
        }
        match settle(
            outcome(),
            "smtp",
            &attempt(9, time::Duration::days(3)),
            &settings(),
        ) {
            Settled::Done(e) => {
                assert_eq!(e.kind, EventKind::Failed);
                assert_eq!(e.reason.and_then(|r| r.reason).as_deref(), Some("expired"));
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    /// A 5xx fails at once, with its reason.
    #[test]
    fn permanent_fails_at_once() {
        let outcome = Outcome::Permanent {
            reply: reply(550, "5.1.1", "no such user"),
            remote: "mx[127.0.0.1]:25".into(),
        };
        match settle(
            outcome,
            "mx",
            &attempt(0, time::Duration::ZERO),
            &settings(),
        ) {
            Settled::Done(e) => {
                assert_eq!(e.kind, EventKind::Failed);
                let r = e.reason.expect("a reason");
                assert_eq!(r.smtp_code, Some(550));
                assert_eq!(r.enhanced_status.as_deref(), Some("5.1.1"));
            }
            other => panic!("expected a failure, got {other:?}"),
        }
    }
}

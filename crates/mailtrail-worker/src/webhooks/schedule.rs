//! What an attempt's answer means for its delivery and its endpoint: the
//! retry schedule, `Retry-After`, `410 Gone`, and turning off an endpoint
//! that has failed for days. Pure, so every rule is tested here.

use std::time::Duration;

use mailtrail_store::webhook::{DeliveryNext, EndpointNext};
use time::OffsetDateTime;

/// The wait before each attempt, the Standard Webhooks specification's
/// schedule ("Retry schedule"): at once, then 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h, 14 h, 20 h and 24 h after each failure. After the last, the
/// delivery has failed.
pub(crate) const SCHEDULE: [Duration; 10] = [
    Duration::ZERO,
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(14 * 3600),
    Duration::from_secs(20 * 3600),
    Duration::from_secs(24 * 3600),
];

/// The longest `Retry-After` honoured: the schedule's longest wait.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// How long an endpoint may fail without one success before it is turned
/// off and its owner told.
pub(crate) const FAILING_LIMIT: time::Duration = time::Duration::days(5);

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// An HTTP answer, with its `Retry-After` when it gave one.
    Status {
        /// The status code.
        code: u16,
        /// How long the endpoint asked us to wait.
        retry_after: Option<Duration>,
    },
    /// No answer: refused target, connection failure, timeout.
    NoAnswer,
}

/// The metric label of an attempt's result.
pub(crate) fn result_label(delivery: DeliveryNext, endpoint: &EndpointNext) -> &'static str {
    match (delivery, endpoint) {
        (DeliveryNext::Succeeded, _) => "succeeded",
        (_, EndpointNext::Disable(_)) => "endpoint_disabled",
        (DeliveryNext::RetryAt(_), _) => "retrying",
        (DeliveryNext::Failed, _) => "failed",
    }
}

/// What follows an attempt that ended with `answer` at `now`, when
/// `attempts_before` attempts were made before it and the endpoint has
/// been failing since `failing_since`.
pub(crate) fn decide(
    attempts_before: u32,
    answer: &Answer,
    now: OffsetDateTime,
    failing_since: Option<OffsetDateTime>,
) -> (DeliveryNext, EndpointNext) {
    let retry_after = match answer {
        Answer::Status { code, .. } if (200..300).contains(code) => {
            return (DeliveryNext::Succeeded, EndpointNext::Healthy);
        }
        // RFC 9110 section 15.5.11: the target is gone for good; so is
        // the endpoint.
        Answer::Status { code: 410, .. } => {
            return (
                DeliveryNext::Failed,
                EndpointNext::Disable("the endpoint answered 410 Gone".into()),
            );
        }
        Answer::Status { retry_after, .. } => *retry_after,
        Answer::NoAnswer => None,
    };
    let since = failing_since.unwrap_or(now);
    let endpoint = if now - since >= FAILING_LIMIT {
        EndpointNext::Disable(format!(
            "every attempt has failed since {} (5 days)",
            since
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        ))
    } else {
        EndpointNext::Failing
    };
    let made = usize::try_from(attempts_before)
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    let delivery = match SCHEDULE.get(made) {
        None => DeliveryNext::Failed,
        Some(wait) => {
            let wait = retry_after
                .map(|r| r.min(MAX_RETRY_AFTER))
                .map_or(*wait, |r| r.max(*wait));
            DeliveryNext::RetryAt(now + wait)
        }
    };
    (delivery, endpoint)
}

/// Reads `Retry-After` (RFC 9110 section 10.2.3): a number of seconds or
/// an HTTP date, which counts from `now`. Anything else is ignored.
pub(crate) fn retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 section
    // 5.6.7), which RFC 2822's grammar reads.
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = at - now;
    Some(Duration::from_millis(
        u64::try_from(wait.whole_milliseconds()).unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + secs).unwrap()
    }

    fn failed(code: u16) -> Answer {
        Answer::Status {
            code,
            retry_after: None,
        }
    }

    #[test]
    fn follows_the_published_schedule_then_fails() {
        let waits: Vec<u64> = (0..9u32)
            .map(|n| match decide(n, &failed(500), at(0), Some(at(0))).0 {
                DeliveryNext::RetryAt(t) => u64::try_from((t - at(0)).whole_seconds()).unwrap(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            waits,
            [5, 300, 1800, 7200, 18_000, 36_000, 50_400, 72_000, 86_400]
        );
        assert_eq!(
            decide(9, &failed(500), at(0), Some(at(0))).0,
            DeliveryNext::Failed
        );
        assert_eq!(
            decide(9, &Answer::NoAnswer, at(0), None).0,
            DeliveryNext::Failed
        );
    }

    #[test]
    fn success_is_healthy_and_gone_disables() {
        assert_eq!(
            decide(3, &failed(204), at(0), Some(at(-100))),
            (DeliveryNext::Succeeded, EndpointNext::Healthy)
        );
        let (d, e) = decide(0, &failed(410), at(0), None);
        assert_eq!(d, DeliveryNext::Failed);
        assert!(matches!(e, EndpointNext::Disable(r) if r.contains("410")));
        assert_eq!(
            decide(0, &failed(404), at(0), None).1,
            EndpointNext::Failing
        );
    }

    #[test]
    fn retry_after_lengthens_never_shortens_and_is_capped() {
        let ask = |secs| Answer::Status {
            code: 503,
            retry_after: Some(Duration::from_secs(secs)),
        };
        assert_eq!(
            decide(0, &ask(120), at(0), None).0,
            DeliveryNext::RetryAt(at(120))
        );
        assert_eq!(
            decide(0, &ask(1), at(0), None).0,
            DeliveryNext::RetryAt(at(5))
        );
        assert_eq!(
            decide(0, &ask(10 * 86_400), at(0), None).0,
            DeliveryNext::RetryAt(at(86_400))
        );
    }

    #[test]
    fn an_endpoint_failing_for_five_days_is_disabled() {
        let day = 86_400;
        assert_eq!(
            decide(2, &failed(500), at(5 * day - 1), Some(at(0))).1,
            EndpointNext::Failing
        );
        let (_, e) = decide(2, &failed(500), at(5 * day), Some(at(0)));
        assert!(matches!(e, EndpointNext::Disable(r) if r.contains("5 days")));
        assert_eq!(
            decide(0, &failed(500), at(0), None).1,
            EndpointNext::Failing
        );
    }

    #[test]
    fn reads_retry_after_in_seconds_and_as_a_date() {
        assert_eq!(retry_after("120", at(0)), Some(Duration::from_secs(120)));
        let now = OffsetDateTime::from_unix_timestamp(784_111_717).unwrap();
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            retry_after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                now + time::Duration::hours(1)
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", at(0)), None);
        assert_eq!(retry_after("-5", at(0)), None);
    }
}

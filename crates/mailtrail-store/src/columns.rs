//! Column values both backends store the same way, and their conversions:
//! timestamps as milliseconds, typed values as their text, counters as
//! signed integers. A value read back that does not parse is a
//! [`StoreError::Corrupt`], never a panic.

use mailtrail_domain::{EmailAddress, EventKind, MessageId, Opener, RecipientKind, Status};
use time::OffsetDateTime;

use crate::StoreError;
use crate::model::StatusReason;

/// Columns of `messages` that [`Message`](crate::Message) is read from.
pub(crate) const MESSAGE_COLS: &str =
    "id, message_id, from_address, from_name, subject, read_receipt, metadata, tag, created_at";

/// Columns of `recipients` that [`Recipient`](crate::Recipient) is read from.
pub(crate) const RECIPIENT_COLS: &str = "id, message_id, address, kind, status, reason_smtp_code, \
     reason_enhanced_status, reason_name, reason_text, updated_at, opens, machine_opens, clicks, \
     first_open_at, first_open_implied, implied_opens";

/// Columns of `recipients` that a recipient's cached state is folded from.
pub(crate) const STATE_COLS: &str = "id, message_id, org_id, status, reason_smtp_code, \
     reason_enhanced_status, reason_name, reason_text, updated_at, opens, machine_opens, clicks, \
     first_open_at, first_open_implied, implied_opens";

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

/// The stored form of a counter ([`count`] reads it back).
pub(crate) fn stored_count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
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
    fn counters_survive_the_round_trip() {
        assert_eq!(count(stored_count(42)), 42);
        assert_eq!(count(-1), 0);
        assert_eq!(stored_count(u64::MAX), i64::MAX);
    }
}

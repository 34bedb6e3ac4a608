//! The on-disk format of the tracking events' journal (see [`super`]
//! for how it is written, folded and replayed).
//!
//! The journal is two segment files, `PATH.0` and `PATH.1`. Each use of a
//! segment starts with a 16-byte header, then records back to back:
//!
//! ```text
//! header: b"MTJRNL01"  first_seq: u64 LE
//! record: len: u32 LE  crc: u32 LE  seq: u64 LE  payload: [u8; len]
//! ```
//!
//! `payload` is the event as JSON; `crc` is the CRC-32 (IEEE 802.3, the
//! polynomial of zlib and Ethernet) of `payload` followed by `seq`'s eight
//! bytes. `seq` is the record's sequence number: it grows by one per record
//! within a run of the server, so a record is part of the segment's current
//! use only if its sequence number is at least the header's `first_seq` and
//! greater than the previous record's. Reading stops at the first record
//! that is not: zero bytes (preallocated space), a torn write (short or
//! CRC-invalid), or an older use of the segment left behind its new tail.
//! A segment is reused from its start once everything in it is folded into
//! the store, so stale records behind the tail are expected and harmless.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{NewEvent, StatusReason};
use mailtrail_domain::{EventKind, Opener};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// First bytes of a segment in use.
pub const MAGIC: [u8; 8] = *b"MTJRNL01";
/// Bytes of a segment header.
pub const HEADER_LEN: usize = 16;
/// Bytes before a record's payload.
pub const FRAME_HEAD: usize = 16;
/// Largest payload accepted when reading back: an event is a few hundred
/// bytes, so a longer length is a torn or foreign record.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// The two segment files of the journal at `base`.
pub fn segment_paths(base: &Path) -> [PathBuf; 2] {
    let with = |suffix: &str| {
        let mut s: OsString = base.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    [with(".0"), with(".1")]
}

/// The event as written: the same fields as [`NewEvent`], borrowed.
#[derive(Serialize)]
struct WireRef<'a> {
    id: &'a Uuid,
    recipient_id: &'a Uuid,
    kind: EventKind,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    opener: Option<Opener>,
    reason: Option<&'a StatusReason>,
    data: &'a serde_json::Value,
}

/// The event as read back.
#[derive(Deserialize)]
struct Wire {
    id: Uuid,
    recipient_id: Uuid,
    kind: EventKind,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    opener: Option<Opener>,
    reason: Option<StatusReason>,
    data: serde_json::Value,
}

/// The payload of `event`.
pub fn encode(event: &NewEvent) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&WireRef {
        id: &event.id,
        recipient_id: &event.recipient_id,
        kind: event.kind,
        at: event.at,
        opener: event.opener,
        reason: event.reason.as_ref(),
        data: &event.data,
    })
}

/// The event of a payload.
pub fn decode(payload: &[u8]) -> Result<NewEvent, serde_json::Error> {
    let w: Wire = serde_json::from_slice(payload)?;
    Ok(NewEvent {
        id: w.id,
        recipient_id: w.recipient_id,
        kind: w.kind,
        at: w.at,
        opener: w.opener,
        reason: w.reason,
        data: w.data,
    })
}

/// The CRC state over a payload; [`push_frame`] adds the sequence number.
pub fn payload_crc(payload: &[u8]) -> crc32fast::Hasher {
    let mut h = crc32fast::Hasher::new();
    h.update(payload);
    h
}

/// Appends the record `seq` with `payload` (whose CRC state is `crc`, from
/// [`payload_crc`]) to `out`.
pub fn push_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8], crc: crc32fast::Hasher) {
    let mut crc = crc;
    crc.update(&seq.to_le_bytes());
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.reserve(FRAME_HEAD + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// A segment's header for a use starting at record `first_seq`.
pub fn header(first_seq: u64) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&first_seq.to_le_bytes());
    h
}

/// Why reading a segment stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The segment is empty or has no header.
    Empty,
    /// At the end of the file or at zeroed (preallocated) space.
    Clean,
    /// At bytes that are not a record of this use: a write torn by a crash
    /// (it was never acknowledged) or an older use's records.
    Torn {
        /// Offset of the first byte not read.
        offset: usize,
        /// What was wrong there.
        why: &'static str,
    },
}

/// The records of one segment, in order.
#[derive(Debug)]
pub struct Scan<'a> {
    /// The header's first sequence number (0 without a header).
    pub first_seq: u64,
    /// `(seq, payload)` of each complete, CRC-valid record.
    pub records: Vec<(u64, &'a [u8])>,
    /// Why reading stopped.
    pub end: End,
}

/// Reads the records of a segment's current use.
pub fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut out = Scan {
        first_seq: 0,
        records: Vec::new(),
        end: End::Empty,
    };
    if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
        if bytes.iter().any(|b| *b != 0) {
            out.end = End::Torn {
                offset: 0,
                why: "no segment header",
            };
        }
        return out;
    }
    out.first_seq = u64_at(bytes, 8);
    let mut prev: Option<u64> = None;
    let mut at = HEADER_LEN;
    out.end = loop {
        let rest = &bytes[at..];
        if rest.len() < FRAME_HEAD {
            if rest.iter().all(|b| *b == 0) {
                break End::Clean;
            }
            break End::Torn {
                offset: at,
                why: "short record head",
            };
        }
        let len = u32_at(rest, 0) as usize;
        let crc = u32_at(rest, 4);
        let seq = u64_at(rest, 8);
        if len == 0 && crc == 0 && seq == 0 {
            break End::Clean;
        }
        if len > MAX_PAYLOAD || len > rest.len() - FRAME_HEAD {
            break End::Torn {
                offset: at,
                why: "record longer than the file",
            };
        }
        let payload = &rest[FRAME_HEAD..FRAME_HEAD + len];
        let mut h = crc32fast::Hasher::new();
        h.update(payload);
        h.update(&seq.to_le_bytes());
        if h.finalize() != crc {
            break End::Torn {
                offset: at,
                why: "CRC mismatch",
            };
        }
        if seq < out.first_seq || prev.is_some_and(|p| seq <= p) {
            break End::Torn {
                offset: at,
                why: "record of an earlier use of the segment",
            };
        }
        out.records.push((seq, payload));
        prev = Some(seq);
        at += FRAME_HEAD + len;
    };
    out
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(n: u128) -> NewEvent {
        NewEvent {
            id: Uuid::from_u128(n),
            recipient_id: Uuid::from_u128(7),
            kind: EventKind::Opened,
            at: OffsetDateTime::from_unix_timestamp_nanos(1_764_547_200_123_456_789).expect("time"),
            opener: Some(Opener::Human),
            reason: None,
            data: json!({"user_agent": "Mozilla/5.0", "n": n as u64}),
        }
    }

    fn segment(first_seq: u64, events: &[NewEvent]) -> Vec<u8> {
        let mut out = header(first_seq).to_vec();
        for (i, e) in events.iter().enumerate() {
            let p = encode(e).expect("encode");
            push_frame(&mut out, first_seq + i as u64, &p, payload_crc(&p));
        }
        out
    }

    fn decoded(s: &Scan<'_>) -> Vec<Uuid> {
        s.records
            .iter()
            .map(|(_, p)| decode(p).expect("decode").id)
            .collect()
    }

    #[test]
    fn framing_round_trips_every_field() {
        let mut e = event(1);
        e.kind = EventKind::Failed;
        e.opener = None;
        e.reason = Some(StatusReason {
            smtp_code: Some(550),
            enhanced_status: Some("5.1.1".into()),
            reason: Some("userunknown".into()),
            text: Some("no such user".into()),
        });
        let bytes = segment(5, &[e.clone(), event(2)]);
        let s = scan(&bytes);
        assert_eq!(s.end, End::Clean);
        assert_eq!(s.first_seq, 5);
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[0].0, 5);
        assert_eq!(s.records[1].0, 6);
        let back = decode(s.records[0].1).expect("decode");
        assert_eq!(back.id, e.id);
        assert_eq!(back.recipient_id, e.recipient_id);
        assert_eq!(back.kind, e.kind);
        assert_eq!(back.at, e.at);
        assert_eq!(back.opener, e.opener);
        assert_eq!(back.reason, e.reason);
        assert_eq!(back.data, e.data);
        let back = decode(s.records[1].1).expect("decode");
        assert_eq!(back.opener, Some(Opener::Human));
        assert_eq!(back.data, event(2).data);
    }

    #[test]
    fn zeroed_space_after_the_records_is_a_clean_end() {
        let mut bytes = segment(1, &[event(1), event(2)]);
        bytes.extend(std::iter::repeat_n(0u8, 4096));
        let s = scan(&bytes);
        assert_eq!(decoded(&s), vec![Uuid::from_u128(1), Uuid::from_u128(2)]);
        assert_eq!(s.end, End::Clean);
        assert_eq!(scan(&[]).end, End::Empty);
        assert_eq!(scan(&[0u8; 100]).end, End::Empty);
    }

    #[test]
    fn a_torn_tail_is_ignored_at_every_cut() {
        let full = segment(1, &[event(1), event(2), event(3)]);
        let two = segment(1, &[event(1), event(2)]).len();
        // Every cut inside the third record keeps exactly the first two.
        for cut in two + 1..full.len() {
            let s = scan(&full[..cut]);
            assert_eq!(s.records.len(), 2, "cut at {cut}");
            assert!(matches!(s.end, End::Torn { offset, .. } if offset == two));
        }
        assert_eq!(scan(&full).records.len(), 3);
    }

    #[test]
    fn a_corrupt_record_stops_reading_there() {
        let mut bytes = segment(1, &[event(1), event(2), event(3)]);
        let one = segment(1, &[event(1)]).len();
        // Flip one payload byte of the second record.
        bytes[one + FRAME_HEAD + 3] ^= 0x20;
        let s = scan(&bytes);
        assert_eq!(decoded(&s), vec![Uuid::from_u128(1)]);
        assert_eq!(
            s.end,
            End::Torn {
                offset: one,
                why: "CRC mismatch"
            }
        );
        // A length running past the end of the file.
        let mut bytes = segment(1, &[event(1), event(2)]);
        bytes[one..one + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(scan(&bytes).records.len(), 1);
    }

    #[test]
    fn records_of_an_earlier_use_behind_the_tail_are_not_read() {
        // First use: records 1..=4. Reused from its start at record 10 with
        // two (shorter) records: the old third and fourth remain behind.
        let old = segment(1, &[event(1), event(2), event(3), event(4)]);
        let mut short = event(10);
        short.data = json!({});
        let new = segment(10, &[short.clone(), short]);
        let mut bytes = old.clone();
        bytes[..new.len()].copy_from_slice(&new);
        let s = scan(&bytes);
        assert_eq!(s.first_seq, 10);
        assert_eq!(s.records.len(), 2);
        assert!(matches!(s.end, End::Torn { .. }));
        // Even when an old record starts exactly at the new tail.
        let two_old = segment(1, &[event(1), event(2)]).len();
        let mut bytes = old;
        let new = segment(10, &[event(5), event(6)]);
        assert_eq!(new.len(), two_old);
        bytes[..new.len()].copy_from_slice(&new);
        let s = scan(&bytes);
        assert_eq!(s.records.iter().map(|r| r.0).collect::<Vec<_>>(), [10, 11]);
        assert_eq!(
            s.end,
            End::Torn {
                offset: two_old,
                why: "record of an earlier use of the segment"
            }
        );
    }

    #[test]
    fn segment_paths_extend_the_base() {
        let [a, b] = segment_paths(Path::new("/data/events.journal"));
        assert_eq!(a, Path::new("/data/events.journal.0"));
        assert_eq!(b, Path::new("/data/events.journal.1"));
    }
}

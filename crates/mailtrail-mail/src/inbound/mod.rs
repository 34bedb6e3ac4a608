//! Reading what comes back: a pure classifier of inbound messages into
//! bounces, delays, delivery reports, read receipts, complaints, replies and
//! automatic replies (DESIGN.md section 4, flow 3).
//!
//! [`classify`] is a function of the message bytes only: no I/O, no clock, no
//! panics, and bounded work on any input (the input, each text and each list
//! is capped), so the inbound listener, the IMAP poller, the offline
//! `mailtrail classify` command and the benchmarks all call it directly.
//!
//! The machine-readable reports come first (RFC 5965 ARF, RFC 8098 MDN,
//! RFC 3464 DSN); the human-readable notices of mail servers without them
//! second ([`vendors`]); then automatic replies (RFC 3834) and replies
//! (RFC 5322 section 3.6.4). Only the first two can make a bounce, so a
//! message that is not a bounce is never called one.

pub mod arf;
pub mod autoreply;
pub(crate) mod fields;
mod mime;
mod phrases;
mod reader;
pub mod reason;
pub mod ses;
pub(crate) mod text;
mod tnef;
pub mod vendors;

use std::borrow::Cow;

use mail_parser::{Message, MimeHeaders};
use mailtrail_domain::Reason;
use serde::Serialize;

pub use dsn::Action;

use crate::dsn::read as dsn;
use crate::mdn::read as mdn;
use crate::reply::read as reply;
use reader::Reader;

/// Inputs beyond this size are cut: no bounce, receipt or reply needs more
/// to be understood, and the cut keeps the work bounded.
pub const MAX_INPUT: usize = 8 * 1024 * 1024;

/// Human-readable text beyond this size is not scanned.
const MAX_TEXT: usize = 512 * 1024;

/// What an inbound message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// At least one recipient failed permanently.
    Bounce,
    /// Delivery to the recipients is delayed and still being retried.
    Delay,
    /// A success report (RFC 3461 NOTIFY=SUCCESS): delivered, relayed or
    /// expanded.
    DeliveryReport,
    /// A read receipt: an RFC 8098 MDN or a client's informal receipt.
    ReadReceipt,
    /// An RFC 5965 feedback report (spam complaint and friends).
    Complaint,
    /// A person's reply to a message (`In-Reply-To` / `References`).
    Reply,
    /// An automatic reply (RFC 3834): vacation, out of office.
    AutoReply,
    /// Anything else.
    #[default]
    Other,
}

impl Kind {
    /// The name of the kind in the JSON contract (its serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bounce => "bounce",
            Kind::Delay => "delay",
            Kind::DeliveryReport => "delivery_report",
            Kind::ReadReceipt => "read_receipt",
            Kind::Complaint => "complaint",
            Kind::Reply => "reply",
            Kind::AutoReply => "auto_reply",
            Kind::Other => "other",
        }
    }
}

/// What the inbound message says about one recipient of the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecipientReport {
    /// The recipient's address, when the message names it.
    pub address: Option<String>,
    /// RFC 3464 section 2.3.3 action.
    pub action: Option<Action>,
    /// RFC 3463 enhanced status, e.g. `5.1.1`.
    pub status: Option<String>,
    /// RFC 5321 reply code, e.g. `550`.
    pub reply_code: Option<String>,
    /// Why, in Sisimai's vocabulary.
    pub reason: Reason,
    /// A hard bounce: the address will keep failing, suppress it.
    pub hard: bool,
    /// What the remote server said (Diagnostic-Code or scraped text).
    pub diagnostic: Option<String>,
    /// RFC 3464 section 2.3.5 Remote-MTA, when given.
    #[serde(skip)]
    pub remote_mta: Option<String>,
}

/// The classification of one inbound message; its JSON form is the
/// `mailtrail classify --json` contract (without the `file` key, which the
/// command adds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Classification {
    /// What the message is.
    pub kind: Kind,
    /// One entry per recipient the message reports on.
    pub recipients: Vec<RecipientReport>,
    /// The Message-ID (without brackets) of the message this one is about:
    /// `X-Original-Message-ID`, MDN `Original-Message-ID`, or the returned
    /// message's own header.
    pub original_message_id: Option<String>,
    /// For read receipts, the RFC 8098 disposition type (`displayed`, ...).
    pub disposition: Option<String>,
    /// For complaints, the RFC 5965 feedback type (`abuse`, ...).
    pub feedback_type: Option<String>,
    /// The Message-IDs of `In-Reply-To` then `References`.
    pub in_reply_to: Vec<String>,
    /// The sender of this message (who replied, who complained).
    #[serde(skip)]
    pub from: Option<String>,
    /// The VERP token: the local part after `bounces+` of the address this
    /// message was delivered to, when present.
    #[serde(skip)]
    pub verp_token: Option<String>,
}

/// Walks `raw` with the classifier's MIME walk and with mail-parser and
/// panics where they part ways: for the fuzzer (feature `differential`),
/// which runs it on whatever it finds.
#[cfg(feature = "differential")]
pub fn check_mime_walk(raw: &[u8]) {
    mime::differential::check(raw, "fuzzed input");
}

/// Builds the classifier's phrase tables now rather than at their first
/// use, which costs nothing more (each is built once either way).
///
/// For callers that classify on several threads: started together, the
/// threads reach the same table at the same moment, and all but the one
/// building it sleep on its lock and must be woken, a round trip through
/// the kernel that costs tens of microseconds on a VM, a few times a run.
/// The offline command calls this on its main thread once its workers
/// are started (2% faster over the bounce corpus on a 2-vCPU VM). A table
/// added and not listed here is still built, at its first use.
pub fn build_tables() {
    reason::build_tables();
    vendors::build_tables();
    autoreply::build_tables();
}

/// What identifies a message however a mailbox numbers it: its own
/// Message-ID (RFC 5322 section 3.6.4), without brackets, else the SHA-256
/// digest of its bytes (up to [`MAX_INPUT`], all that is read of any
/// message). The IMAP poller keeps it with each message, because a
/// UIDVALIDITY change (RFC 3501 section 2.3.1.1) makes it read the whole
/// mailbox again and the UIDs can no longer tell what it has seen.
///
/// The two kinds are told apart by their prefix (`id:`, `sha256:`), and a
/// Message-ID longer than a header line may be (998 octets, RFC 5322
/// section 2.1.1) counts as none.
pub fn fingerprint(raw: &[u8]) -> String {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let id = mail_parser::MessageParser::new()
        .parse_headers(raw)
        .and_then(|m| m.message_id().map(|id| id.trim().to_owned()))
        .filter(|id| !id.is_empty() && id.len() <= 998);
    match id {
        Some(id) => format!("id:{id}"),
        None => {
            use sha2::Digest as _;
            format!("sha256:{:x}", sha2::Sha256::digest(raw))
        }
    }
}

/// Classifies one raw message (RFC 5322 bytes, any line ends).
pub fn classify(raw: &[u8]) -> Classification {
    let raw = &raw[..raw.len().min(MAX_INPUT)];
    let raw = normalise_line_ends(raw);
    let mut messages = mbox_messages(&raw);
    let mut c = classify_one(messages.next().unwrap_or(&raw));
    // An mbox file (RFC 4155) holding several bounces, as a mailbox
    // exported whole: each later bounce adds its recipients.
    for more in messages.take(100) {
        if !matches!(c.kind, Kind::Bounce | Kind::Delay) {
            break;
        }
        let m = classify_one(more);
        if matches!(m.kind, Kind::Bounce | Kind::Delay) {
            if m.kind == Kind::Bounce {
                c.kind = Kind::Bounce;
            }
            c.recipients.extend(m.recipients);
        }
    }
    c
}

/// The messages of an mbox file (RFC 4155: each starts with a `From `
/// line), or the whole input when it is not one.
fn mbox_messages(raw: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mbox = raw.starts_with(b"From ");
    let mut rest = raw;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = rest.len();
        if mbox {
            let mut from = 1;
            while let Some(i) = memchr::memmem::find(&rest[from..], b"\nFrom ").map(|i| i + from) {
                if from_line(&rest[i + 1..]) {
                    end = i + 1;
                    break;
                }
                from = i + 1;
            }
        }
        let (m, r) = rest.split_at(end);
        rest = r;
        Some(m)
    })
}

/// Whether `line` starts with an mbox `From ` separator: `From`, the
/// envelope sender, then the date in asctime form (`Thu Jul  2 12:05:05
/// 2020`). Writers do not all leave the blank line RFC 4155 asks for
/// before it, so the date's weekday is what tells it from body text.
fn from_line(line: &[u8]) -> bool {
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    let line = text::lossy(&line[..end.min(200)]);
    let mut words = line.split_whitespace();
    words.next() == Some("From")
        && words.next().is_some()
        && words
            .next()
            .is_some_and(|d| ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&d))
}

/// Classifies one message whose line ends are LF or CRLF.
fn classify_one(raw: &[u8]) -> Classification {
    // Outlook's winmail.dat carries the real body: read that instead.
    let unpacked = tnef::unpack(raw);
    let raw = unpacked.as_deref().unwrap_or(raw);
    let Some(parsed) = mime::parse(raw) else {
        return Classification::default();
    };
    Reader::new(&parsed).classify()
}

/// `text.to_ascii_lowercase()` when `text` is ASCII (then it is also
/// `text.to_lowercase()`), else nothing.
fn ascii_lower(text: &str) -> Option<String> {
    text.is_ascii().then(|| text.to_ascii_lowercase())
}

/// The MIME walk, like mail-parser whose rules it follows, reads LF and
/// CRLF line ends; messages that went through old Mac tools end lines with
/// CR alone, so those CRs become LFs.
fn normalise_line_ends(raw: &[u8]) -> Cow<'_, [u8]> {
    if !has_lone_cr(raw) {
        return Cow::Borrowed(raw);
    }
    // Copied whole, then each lone CR (found by memchr) replaced.
    let mut out = raw.to_vec();
    for i in memchr::memchr_iter(b'\r', raw) {
        if raw.get(i + 1) != Some(&b'\n') {
            out[i] = b'\n';
        }
    }
    Cow::Owned(out)
}

/// Whether some CR in `raw` is not followed by an LF. In a CRLF message
/// every line has a CR, so from the first CR on the byte pairs are checked
/// a block at a time, without an early exit inside a block (so that the
/// compiler may compare many bytes at once), not with one search per line
/// (1.5% of the corpus's instructions went to those searches; a third of
/// that now).
fn has_lone_cr(raw: &[u8]) -> bool {
    const BLOCK: usize = 64;
    let Some(first) = memchr::memchr(b'\r', raw) else {
        return false;
    };
    let rest = &raw[first..];
    // A CR that ends the input has no LF after it.
    if rest.last() == Some(&b'\r') {
        return true;
    }
    let (heads, nexts) = (&rest[..rest.len() - 1], &rest[1..]);
    heads.chunks(BLOCK).zip(nexts.chunks(BLOCK)).any(|(h, n)| {
        h.iter()
            .zip(n)
            .fold(false, |lone, (&a, &b)| lone | ((a == b'\r') & (b != b'\n')))
    })
}

/// The raw value of the first top-level header `name` (case-insensitive),
/// unfolded, decoded lossily when it is not UTF-8.
fn header(msg: &Message<'_>, name: &str) -> Option<String> {
    let raw = msg.raw_message();
    msg.root_part().headers.iter().find_map(|h| {
        if !h.name.as_str().eq_ignore_ascii_case(name) {
            return None;
        }
        let bytes = raw.get(h.offset_start as usize..h.offset_end as usize)?;
        let s = text::lossy(bytes);
        Some(text::squash(&s, 16 * 1024))
    })
}

/// The top-level header fields the classifier reads: the first of each
/// is found in one pass over the header block ([`TopHeaders`]), not in a
/// pass per question.
const TOP_HEADERS: usize = 22;

/// The slot of a (lower-case) name among [`TOP_HEADERS`].
fn top_slot(lower: &[u8]) -> Option<usize> {
    Some(match lower {
        b"from" => 0,
        b"in-reply-to" => 1,
        b"references" => 2,
        b"x-apple-unsubscribe" => 3,
        b"return-path" => 4,
        b"precedence" => 5,
        b"auto-submitted" => 6,
        b"x-autoreply" => 7,
        b"x-autorespond" => 8,
        b"x-autoresponder" => 9,
        b"x-auto-response-suppress-reply" => 10,
        b"x-mailer-autoreply" => 11,
        b"x-ms-exchange-inbox-rules-loop" => 12,
        b"x-ms-exchange-generated-message-source" => 13,
        b"to" => 14,
        b"x-failed-recipients" => 15,
        b"x-mlserver" => 16,
        b"delivered-to" => 17,
        b"x-original-to" => 18,
        b"envelope-to" => 19,
        b"x-envelope-to" => 20,
        b"x-mailer" => 21,
        _ => return None,
    })
}

/// Where the first field of each name the classifier reads sits among
/// the message's top-level headers.
struct TopHeaders {
    at: [u32; TOP_HEADERS],
}

impl TopHeaders {
    fn new(msg: &Message<'_>) -> Self {
        let mut at = [u32::MAX; TOP_HEADERS];
        let mut buf = [0u8; 40];
        for (i, h) in msg.root_part().headers.iter().enumerate() {
            let name = h.name.as_str().as_bytes();
            let Some(lower) = buf.get_mut(..name.len()) else {
                continue;
            };
            for (d, s) in lower.iter_mut().zip(name) {
                *d = s.to_ascii_lowercase();
            }
            if let Some(k) = top_slot(lower)
                && at[k] == u32::MAX
            {
                at[k] = i as u32;
            }
        }
        Self { at }
    }

    /// [`header`] for a name among [`TOP_HEADERS`] (any other is looked
    /// up the slow way).
    fn get(&self, msg: &Message<'_>, name: &str) -> Option<String> {
        let Some(k) = top_slot(name.as_bytes()) else {
            return header(msg, name);
        };
        let h = msg.root_part().headers.get(*self.at.get(k)? as usize)?;
        let bytes = msg
            .raw_message()
            .get(h.offset_start as usize..h.offset_end as usize)?;
        Some(text::squash(&text::lossy(bytes), 16 * 1024))
    }
}

/// The first header `name` read straight from the raw header block, for
/// when the header parser lost it: a field read as a structure can swallow
/// the next one on malformed input (mail-parser's date parser did after an
/// obsolete zone such as `UT`, which RFC 5322 section 4.3 still allows,
/// when dates were parsed; they are now skipped).
fn raw_header(msg: &Message<'_>, name: &str) -> Option<String> {
    let raw = msg.raw_message();
    let end = (msg.root_part().offset_body as usize).min(raw.len());
    let block = text::lossy(&raw[..end]);
    for line in fields::lines(&block) {
        let Some((n, v)) = line.split_once(':') else {
            continue;
        };
        if n.trim().eq_ignore_ascii_case(name) && !n.starts_with([' ', '\t']) {
            return Some(text::squash(v, 16 * 1024));
        }
    }
    None
}

#[cfg(test)]
mod tests;

//! Bounces that carry no `message/delivery-status` part: the human-readable
//! notices of qmail ("Hi. This is the qmail-send program"), Exim ("This
//! message was created automatically by mail delivery software"), Sendmail,
//! Postfix without DSN, Courier, Exchange / Office 365, Gmail, Yahoo,
//! Outlook.com, Domino, GroupWise, Amazon SES and the long tail.
//!
//! Every one of them lists the failed recipients at the start of a line
//! (`<bob@example.com>:`, `  bob@example.com`, `'bob@example.com' on ...`)
//! or in an SMTP transcript (`RCPT TO:<bob@example.com>`), before the copy of
//! the returned message. That shape, not a list of product names, is what is
//! read here, with the product markers as evidence that the message is a
//! bounce at all.

use std::sync::LazyLock;

use super::phrases::PhraseSet;
use super::text;

mod wording;
use wording::{GENERIC, STRONG, SUBJECTS};

static STRONG_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(STRONG));
static GENERIC_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(GENERIC));
static SUBJECT_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(SUBJECTS));
static RETURNED_COPY_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(RETURNED_COPY));
static KEY_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(KEYS));
static DELAY_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(DELAY));

/// Builds this module's tables now ([`super::build_tables`]).
pub(super) fn build_tables() {
    for t in [
        &STRONG_SET,
        &GENERIC_SET,
        &SUBJECT_SET,
        &RETURNED_COPY_SET,
        &KEY_SET,
        &DELAY_SET,
        &INLINE_SET,
    ] {
        LazyLock::force(t);
    }
}

/// Senders that only machines use for bounces.
pub(crate) fn mailer_sender(from: &str) -> bool {
    let f = from.to_ascii_lowercase();
    // `From: <>`: the null reverse-path that RFC 5321 section 4.5.5 requires
    // for delivery notifications, copied into the header by some MTAs.
    if f.trim() == "<>" {
        return true;
    }
    // The local part of the address, also inside "Name <local@domain>".
    let local = f.split('@').next().unwrap_or_default();
    let local = local
        .rsplit(['<', ' ', '"'])
        .next()
        .unwrap_or_default()
        .trim();
    // "NDR" (non-delivery report) in a display name such as Verizon's
    // "MMSC NDR Administrator".
    let display_ndr = f.split_once('<').is_some_and(|(name, _)| {
        name.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| w == "ndr")
    });
    display_ndr
        || matches!(
            local,
            "mailer-daemon"
                | "mailer_daemon"
                | "mailerdaemon"
                | "postmaster"
                | "post_master"
                | "mail-daemon"
                | "mail.daemon"
                | "maildaemon"
                | "mdaemon"
                | "mail-delivery"
                | "bounce"
                | "bounces"
                | "mailadmin"
                | "mailer"
                | "daemon"
                | "root"
                | "nobody"
                | "administrator"
                | "mail-system"
                | "mailsystem"
                | "mmdf"
                | "smtp"
                | "noreply-dmarc-support"
        )
        || f.contains("mailer-daemon")
        || f.contains("mail delivery")
        || f.contains("postmaster")
}

/// The senders only a mail system uses (`MAILER-DAEMON`, `postmaster`,
/// the null address): unlike "root" or "administrator", never a person
/// forwarding a message as an attachment.
pub(crate) fn daemon_sender(from: &str) -> bool {
    let f = from.to_ascii_lowercase();
    f.trim() == "<>"
        || f.contains("mailer-daemon")
        || f.contains("mailer_daemon")
        || f.contains("postmaster")
        || f.contains("post_master")
}

/// How sure we are that a message without a DSN part is a bounce.
pub(crate) fn looks_like_bounce(from: &str, subject: &str, body_lower: &str) -> bool {
    // (strong wording and a mail system's sender or subject) or (a mail
    // system's sender and its subject or generic wording): the sender and
    // subject first, the body's two scans only when they decide.
    let by_sender = mailer_sender(from);
    let by_subject = SUBJECT_SET.any(&subject.to_lowercase());
    match (by_sender, by_subject) {
        (true, true) => true,
        (false, false) => false,
        (true, false) => STRONG_SET.any(body_lower) || GENERIC_SET.any(body_lower),
        (false, true) => STRONG_SET.any(body_lower),
    }
}

/// Wording written only by mail systems reporting a failed delivery.
pub(crate) fn strong_notice(body_lower: &str) -> bool {
    STRONG_SET.any(body_lower)
}

/// Lines that start the copy of the returned message: nothing after them is
/// about the failure, and addresses there must not be read as recipients.
const RETURNED_COPY: &[&str] = &[
    "below this line is a copy of the message",
    "this is a copy of the message",
    "original message follows",
    "original message ----",
    "original message --",
    "returned message follows",
    "unsent message below",
    "the header of the original message is following",
    "the original message headers follow",
    "original message headers",
    "message headers follow",
    "headers of the original message",
    "------ returned message",
    "--- returned mail follows",
    "----- included message",
    "a copy of the original message",
    "copy of the message you sent",
    "---------- forwarded message",
    "original-message",
    "the text you sent follows",
    "your message reads",
    "--- original message",
    // Verizon's MMS gateway: "Original Message:" then the original's
    // From, To, Subject and Date as plain lines.
    "original message:",
];

/// One recipient read from the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    pub address: String,
    pub diagnostic: String,
}

/// The part of the notice before the copy of the returned message.
pub(crate) fn notice_region(body: &str) -> &str {
    notice_region_in(body, &body.to_ascii_lowercase())
}

/// [`notice_region`] given `lower`, which must be
/// `body.to_ascii_lowercase()` (a caller that has it makes no new copy).
pub(crate) fn notice_region_in<'a>(body: &'a str, lower: &str) -> &'a str {
    let line_start = |at: usize| lower[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
    // The first line holding a marker of the returned copy, after a line
    // with text (one pass over the whole body finds every marker).
    let first_text = lower
        .find(|c: char| !c.is_whitespace())
        .unwrap_or(lower.len());
    let mut end = RETURNED_COPY_SET
        .first_start(lower, |s| line_start(s) > first_text)
        .map(line_start)
        .unwrap_or(body.len());
    let mut seen_text = false;
    for line in super::fields::lines(body) {
        let start = line.as_ptr() as usize - body.as_ptr() as usize;
        if start >= end {
            break;
        }
        if !seen_text {
            seen_text = !line.trim_start().is_empty();
            continue;
        }
        // A header line starts with its name, at the start of the line.
        if line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let t = &lower[start..start + line.len()];
            if t.starts_with("return-path:")
                || t.starts_with("received: from")
                || t.starts_with("received: by")
            {
                end = start;
                break;
            }
        }
    }
    &body[..end]
}

/// The recipients named by the `To` field of a copy of the returned
/// message's headers quoted as plain text after the notice (`after` is
/// the body after [`notice_region`]), for notices that return it inline
/// rather than as a `message/rfc822` part.
pub(crate) fn inline_copy_to(after: &str) -> Vec<String> {
    let Some(first) = super::fields::first_group_with(after, "to") else {
        return Vec::new();
    };
    if is_list_copy(|n| super::fields::get(&first, n)) {
        return Vec::new();
    }
    super::fields::get(&first, "to")
        .map(text::addresses)
        .unwrap_or_default()
}

/// Whether the returned message was a mailing list's copy (RFC 2919
/// `List-Id`, Mailman's `X-BeenThere`, `Precedence: list` or `bulk`): its
/// `To` names the list, not the member whose delivery failed. `get` reads
/// one of its header fields by lower-case name.
pub(crate) fn is_list_copy<'a>(get: impl Fn(&'static str) -> Option<&'a str>) -> bool {
    get("list-id").is_some()
        || get("x-beenthere").is_some()
        || get("x-mailman-version").is_some()
        || get("precedence").is_some_and(|p| {
            let p = p.trim().to_ascii_lowercase();
            p == "list" || p == "bulk"
        })
}

/// fml, the Japanese mailing list manager, answers a post it refuses or
/// a loop it detects with a notice from `<list>-admin@` carrying its
/// `X-MLServer: fml ...` header and a `Message-ID` with `.FML` in it. The
/// address concerned (the list, or the address of the looping copy) ends
/// a sentence in brackets: "You are not a member of this mailing list
/// <list@example.org>.", "Duplicated Message-ID in <list@example.org>."
pub(crate) fn fml_notice(
    ml_server: Option<&str>,
    from: &str,
    message_id: Option<&str>,
    region: &str,
) -> Option<Found> {
    let fml = ml_server.is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("fml"))
        && from.to_ascii_lowercase().contains("-admin@")
        && message_id.is_some_and(|m| m.contains(".FML"));
    if !fml {
        return None;
    }
    super::fields::lines(region).find_map(|line| {
        let t = line.trim().strip_suffix(">.")?;
        let open = t.rfind('<')?;
        let a = text::addresses(&t[open + 1..]).into_iter().next()?;
        (t.len() - open - 1 == a.len()).then(|| Found {
            address: a,
            diagnostic: text::squash(line, 1024),
        })
    })
}

/// Exim lists the failed addresses after "The following address(es)
/// failed:", each at the start of a line: those are the failed recipients
/// even when one of them is also the address the bounce goes back to (a
/// message sent to oneself). `region` is the notice.
pub(crate) fn exim_failed_list(region: &str) -> Vec<Found> {
    let lower = region.to_ascii_lowercase();
    let Some(i) = lower
        .find("address(es)\nfailed:")
        .or_else(|| lower.find("address(es) failed:"))
    else {
        return Vec::new();
    };
    let after = &region[i..];
    let start = after.find(':').map_or(after.len(), |c| c + 1);
    scrape(&after[start..], &[])
}

/// AOL's notice lists screen names, the local parts of their aol.com
/// addresses, one per indented line after "Your mail to the following
/// recipients could not be delivered ...:".
pub(crate) fn aol_screen_names(from: &str, region: &str) -> Vec<Found> {
    if !from.to_ascii_lowercase().contains("@aol.com") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut listing = false;
    for line in super::fields::lines(region) {
        let t = line.trim();
        if t.to_ascii_lowercase().contains("following recipients") {
            listing = true;
            continue;
        }
        if !listing {
            continue;
        }
        if t.is_empty() {
            if !out.is_empty() {
                break;
            }
            continue;
        }
        if line.starts_with([' ', '\t'])
            && !t.is_empty()
            && t.len() <= 64
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        {
            out.push(Found {
                address: format!("{}@aol.com", t.to_ascii_lowercase()),
                diagnostic: String::new(),
            });
        } else if !line.starts_with([' ', '\t']) {
            // The sentence continues on the next line before the list.
            if !out.is_empty() {
                break;
            }
        }
    }
    out
}

/// Lower-cased keys that introduce a failed address in `Key: address` lines.
const KEYS: &[&str] = &[
    "could not be delivered to",
    "delivery failed",
    "recipient",
    "rcpt",
    "failed",
    "unknown",
    "invalid",
    "original",
    "undeliverable",
    "addressee",
    "bad address",
    "destinatario",
    "empfänger",
    // L-Soft's LSMTP / LISTSERV notices: "Error-for:  bob@example.com".
    "error-for",
];

/// Header names whose value is an address but never a failed recipient.
const HEADER_KEYS: &[&str] = &[
    "to",
    "from",
    "cc",
    "bcc",
    "sender",
    "reply-to",
    "return-path",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "errors-to",
];

fn recipient_on_line(line: &str) -> Option<(String, String)> {
    // Every form below names an address.
    memchr::memchr(b'@', line.as_bytes())?;
    // Words spaced out for alignment ("undeliverable  to bob@...").
    let squashed;
    let line = if text::contains_pair(line.trim().as_bytes(), *b"  ") {
        squashed = text::squash(line, 2000);
        squashed.as_str()
    } else {
        line
    };
    if let Some((a, rest)) = text::leading_address(line) {
        return Some((a, rest.to_owned()));
    }
    let lower = line.to_ascii_lowercase();
    // One pass tells whether any of the inline forms below can apply.
    if !INLINE_SET.any(&lower) {
        return key_value_recipient(line);
    }
    // SMTP transcripts: ">>> RCPT To:<bob@example.com>" and Exim's
    // "SMTP error from remote mail server after RCPT TO:<bob@example.com>:".
    if let Some(i) = lower.find("rcpt to:") {
        let after = &line[i + 8..];
        if let Some(at) = after.find('@')
            && let Some(a) = text::address_around(after, at)
        {
            let rest_start = after.find(&a).map_or(after.len(), |p| p + a.len());
            return Some((a, after[rest_start..].to_owned()));
        }
    }
    // "Your message to bob@example.com couldn't be delivered."
    for key in INLINE_KEYS {
        if let Some(i) = lower.find(key) {
            let after = &line[i + key.len()..];
            let after_t = after.trim_start_matches(['<', '"', '\'', ' ']);
            if let Some((a, rest)) = text::leading_address(after_t) {
                return Some((a, rest.to_owned()));
            }
        }
    }
    // Exchange's X.400 form: "c=US;a= ;p=ORG;dda:SMTP=bob@example.com;".
    if let Some(i) = lower.find("smtp=") {
        let after = &line[i + 5..];
        if let Some((a, rest)) = text::leading_address(after) {
            return Some((a, rest.trim_start_matches(';').to_owned()));
        }
    }
    key_value_recipient(line)
}

/// Words after which a line names the failed address, in the order tried.
const INLINE_KEYS: &[&str] = &[
    "your message to ",
    "message to ",
    "delivery to ",
    "deliver to ",
    "mail to ",
    // Exim, for an address reached through an alias.
    "(generated from ",
    // Exim, for a pipe or file delivery ("pipe to |/usr/bin/x" then
    // "generated by bob@example.com"): the address whose alias or
    // filter named the pipe is the one that failed.
    "generated by ",
    // "SMTP Server <mx> rejected recipient <bob@example.com>".
    "rejected recipient ",
    // "(Originally addressed to bob@example.com)" after a local alias.
    "originally addressed to ",
    // Exim's local_scan text: "Local mailbox bob@example.com is
    // unavailable".
    "local mailbox ",
    "undeliverable to ",
    // "The following message, addressed to 'bob@example.com', failed"
    // (Demon Internet), "The address to which your message was
    // addressed, bob@example.com, did not match" (LLNL).
    "addressed to ",
    "was addressed, ",
    // Zoho Mail: "[Status: Error, Address: <bob@example.com>,
    // ResponseCode 421, , Host not reachable.]".
    ", address: ",
];

/// Every marker of an inline form of [`recipient_on_line`].
static INLINE_SET: LazyLock<PhraseSet> =
    LazyLock::new(|| PhraseSet::new([&["rcpt to:", "smtp="][..], INLINE_KEYS]));

/// `Statement: <address>` and `Key: address` lines.
fn key_value_recipient(line: &str) -> Option<(String, String)> {
    let (key, value) = line.split_once(':')?;
    // "User's mailbox is full: <bob@example.com>": a statement (words with
    // spaces) about one bracketed address, not a header of the returned
    // message (header names have no spaces).
    let v = value.trim();
    if v.starts_with('<')
        && key.trim().contains(' ')
        && v.ends_with('>')
        && !HEADER_KEYS.contains(&key.trim().to_ascii_lowercase().as_str())
        && let Some((a, _)) = text::leading_address(v)
        && v.len() == a.len() + 2
    {
        return Some((a, key.trim().to_owned()));
    }
    // The same statement with a bare address ("User mailbox exceeds allowed
    // size: bob@example.com", IMail): a sentence of four words or more, not
    // a short label such as "target mail address:".
    if key.trim().matches(' ').count() >= 3
        && !key.contains(['<', '@', '"'])
        && let Some((a, rest)) = text::leading_address(v)
        && rest.trim().is_empty()
        && v.len() == a.len()
    {
        return Some((a, key.trim().to_owned()));
    }
    let k = key.trim().to_lowercase();
    // Long enough for "The following recipients returned permanent errors".
    if k.len() > 64 || !KEY_SET.any(&k) {
        return None;
    }
    // MailEnable and Exchange write the address with its type:
    // "Recipient: [SMTP:bob@example.com]".
    let v = value.trim_start();
    let v = match v.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("[smtp:") => &v[6..],
        _ => match v.get(..5) {
            Some(p) if p.eq_ignore_ascii_case("smtp:") => &v[5..],
            _ => value,
        },
    };
    let (a, rest) = text::leading_address(v)?;
    Some((a, rest.trim_start_matches(']').to_owned()))
}

/// Reads the failed recipients and what was said about each from the
/// notice text. `exclude` holds addresses that are certainly not failed
/// recipients (the bounce's own sender and recipient).
pub(crate) fn scrape(region: &str, exclude: &[String]) -> Vec<Found> {
    // Sized once (a line a line end, about): collecting lines of unknown
    // number would grow the vector a doubling at a time.
    let mut lines: Vec<&str> = Vec::with_capacity(
        memchr::memchr_iter(b'\n', region.as_bytes())
            .count()
            .min(5000)
            + 1,
    );
    lines.extend(super::fields::lines(region).take(5000));
    let mut hits: Vec<(usize, String, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.len() > 2000 {
            continue;
        }
        let Some((addr, rest)) = recipient_on_line(line) else {
            continue;
        };
        let local = addr
            .split('@')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if matches!(
            local.as_str(),
            "postmaster" | "mailer-daemon" | "abuse" | "hostmaster" | "webmaster"
        ) || exclude.iter().any(|e| e.eq_ignore_ascii_case(&addr))
        {
            continue;
        }
        // A folded continuation line (RFC 5322 style indentation, as
        // Postfix folds a long reply) that quotes the address of the
        // entry it continues ("said: 554 5.7.1\n    <bob@...>: Recipient
        // address rejected: ...") is that entry's text, not a new entry.
        if line.starts_with([' ', '\t'])
            && hits
                .last()
                .is_some_and(|h| h.1.eq_ignore_ascii_case(&addr) && i - h.0 < 16)
        {
            continue;
        }
        hits.push((i, addr, rest));
        if hits.len() >= 1000 {
            break;
        }
    }
    let mut out: Vec<Found> = Vec::new();
    for (n, (i, addr, rest)) in hits.iter().enumerate() {
        let next = hits.get(n + 1).map_or(lines.len(), |h| h.0);
        let mut diag = String::new();
        diag.push_str(rest.trim_start_matches(['>', ':', '"', '\'', '.', ' ']));
        let mut blank_run = 0;
        for line in lines.iter().take(next.min(i + 16)).skip(i + 1) {
            let t = line.trim();
            if t.is_empty() {
                blank_run += 1;
                if blank_run >= 2 {
                    break;
                }
                continue;
            }
            if t.starts_with("---") || t.starts_with("===") {
                break;
            }
            blank_run = 0;
            diag.push(' ');
            diag.push_str(t);
        }
        let diag = text::squash(&diag, 4096);
        // Sendmail names the alias the sender used: "bob@mail.example.net
        // (expanded from: bob@example.net)". Both addresses failed; the
        // alias is the one the message was sent to.
        let alias = text::find_ascii_ci(diag.as_bytes(), b"(expanded from:")
            .and_then(|i| text::addresses(&diag[i..]).into_iter().next())
            .filter(|a| {
                !a.eq_ignore_ascii_case(addr) && !exclude.iter().any(|e| e.eq_ignore_ascii_case(a))
            });
        if let Some(f) = out
            .iter_mut()
            .find(|f| f.address.eq_ignore_ascii_case(addr))
        {
            if f.diagnostic.is_empty() || (!has_code(&f.diagnostic) && has_code(&diag)) {
                f.diagnostic = diag.clone();
            }
        } else {
            out.push(Found {
                address: addr.clone(),
                diagnostic: diag.clone(),
            });
        }
        if let Some(a) = alias
            && !out.iter().any(|f| f.address.eq_ignore_ascii_case(&a))
        {
            out.push(Found {
                address: a,
                diagnostic: diag,
            });
        }
    }
    out
}

fn has_code(s: &str) -> bool {
    text::find_reply_code(s).is_some() || text::find_status(s).is_some()
}

/// Wording of warnings (the message is still queued) rather than failures.
const DELAY: &[&str] = &[
    "this is a warning message only",
    "will continue trying",
    "will keep trying",
    "will be retried",
    "will retry",
    "still trying",
    "has not yet been delivered",
    "has been delayed",
    "not been delivered yet",
    "delivery attempts will continue",
    "no action is required on your part",
    "message is delayed",
    "delivery delayed",
    "delayed mail",
    "temporarily deferred",
    "your message is still in the queue",
];

/// Whether the notice says delivery is still being retried.
pub(crate) fn is_delay(lower_region: &str, subject: &str) -> bool {
    let s = subject.to_lowercase();
    let permanent = lower_region.contains("permanent error")
        || lower_region.contains("permanent fatal")
        || lower_region.contains("i've given up")
        || lower_region.contains("giving up")
        || lower_region.contains("failed permanently");
    !permanent && (DELAY_SET.any(lower_region) || s.contains("delayed") || s.contains("warning"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmail() {
        let body = "Hi. This is the qmail-send program at mx.example.jp.\n\
I'm afraid I wasn't able to deliver your message to the following addresses.\n\
This is a permanent error; I've given up. Sorry it didn't work out.\n\n\
<bob@example.net>:\n\
192.0.2.1 does not like recipient.\n\
Remote host said: 550 5.1.1 <bob@example.net>... User Unknown\n\
Giving up on 192.0.2.1.\n\n\
--- Below this line is a copy of the message.\n\n\
Return-Path: <alice@example.org>\nTo: bob@example.net\n";
        let lower = body.to_lowercase();
        assert!(looks_like_bounce(
            "MAILER-DAEMON@mx.example.jp",
            "failure notice",
            &lower
        ));
        let region = notice_region(body);
        assert!(!region.contains("Return-Path"));
        let found = scrape(region, &["alice@example.org".to_owned()]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].address, "bob@example.net");
        assert!(found[0].diagnostic.contains("550 5.1.1"));
        assert!(!is_delay(&region.to_lowercase(), "failure notice"));
    }

    #[test]
    fn exim() {
        let body = "This message was created automatically by mail delivery software.\n\n\
A message that you sent could not be delivered to one or more of its\n\
recipients. This is a permanent error. The following address(es) failed:\n\n\
  bob@example.net\n\
    host mx.example.net [192.0.2.20]\n\
    SMTP error from remote mail server after RCPT TO:<bob@example.net>:\n\
    550 5.1.1 User unknown\n\n\
------ This is a copy of the message, including all the headers. ------\n\n\
From: alice@example.org\n";
        let found = scrape(notice_region(body), &[]);
        assert_eq!(found.len(), 1);
        assert!(found[0].diagnostic.contains("550 5.1.1 User unknown"));
    }

    #[test]
    fn a_person_is_not_a_mailer() {
        let body = "hi, the meeting could not be delivered on time, sorry";
        assert!(!looks_like_bounce("alice@example.org", "Re: meeting", body));
    }

    #[test]
    fn a_folded_line_quoting_the_address_continues_its_entry() {
        let region = "<bob@example.com>: host mx.example.com[192.0.2.1] said: 554 5.7.1\n    \
<bob@example.com>: Recipient address rejected: user bob@example.com does\n    \
not exist (in reply to RCPT TO command)\n";
        let found = scrape(region, &[]);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].diagnostic.contains("does not exist"),
            "{}",
            found[0].diagnostic
        );
    }
}

//! Why a delivery failed: the diagnostic text first (what the remote server
//! actually said), then the RFC 3463 enhanced status code, then the RFC 5321
//! reply code, as Sisimai does with its per-reason phrase lists.
//!
//! This extends `mailtrail_domain::Reason::from_reply` with a much larger
//! phrase table and Sisimai's newer reasons (authfailure, requireptr,
//! notcompliantrfc, badreputation, speeding, failedstarttls); the domain
//! crate keeps its small table for callers that only have one SMTP reply.

use std::sync::LazyLock;

use mailtrail_domain::{EnhancedStatus, Reason};

use super::phrases::PhraseSet;

mod table;
use table::{COMMANDS, DIRECTORY_UNKNOWN, PHRASES, PRIORITY, WEAK};

/// One entry per phrase, in table order (the first listed wins).
fn one_group_each<T>(table: &'static [(&'static str, T)]) -> PhraseSet {
    PhraseSet::new(table.iter().map(|(p, _)| std::slice::from_ref(p)))
}

static WEAK_SET: LazyLock<PhraseSet> = LazyLock::new(|| one_group_each(WEAK));
static DIRECTORY_SET: LazyLock<PhraseSet> = LazyLock::new(|| PhraseSet::flat(DIRECTORY_UNKNOWN));
static COMMAND_SET: LazyLock<PhraseSet> = LazyLock::new(|| one_group_each(COMMANDS));

/// Builds this module's tables now ([`super::build_tables`]).
pub(super) fn build_tables() {
    for t in [&WEAK_SET, &DIRECTORY_SET, &COMMAND_SET, &DIAGNOSTIC_SET] {
        LazyLock::force(t);
    }
}

/// The tables [`decide`] reads a diagnostic with, in one table so that the
/// diagnostic is scanned once: PRIORITY's phrases, then PHRASES' groups,
/// then DIRECTORY_UNKNOWN as one group, then COMMANDS' phrases.
static DIAGNOSTIC_SET: LazyLock<PhraseSet> = LazyLock::new(|| {
    PhraseSet::new(
        PRIORITY
            .iter()
            .map(|(p, _)| std::slice::from_ref(p))
            .chain(PHRASES.iter().map(|(_, p)| *p))
            .chain([DIRECTORY_UNKNOWN])
            .chain(COMMANDS.iter().map(|(p, _)| std::slice::from_ref(p))),
    )
});

/// What the tables of [`DIAGNOSTIC_SET`] find in one diagnostic: the first
/// PRIORITY phrase and the first PHRASES group (in table order) occurring
/// anywhere, whether a DIRECTORY_UNKNOWN phrase occurs, and the command of
/// the COMMANDS phrase starting earliest (as [`command`]).
struct Found {
    priority: Option<Reason>,
    phrase: Option<Reason>,
    directory: bool,
    command: Option<Command>,
}

impl Found {
    fn of(lower: &str) -> Self {
        let (p, n) = (PRIORITY.len(), PHRASES.len());
        let mut priority: Option<usize> = None;
        let mut phrase: Option<usize> = None;
        let mut directory = false;
        let mut command: Option<(usize, usize)> = None;
        DIAGNOSTIC_SET.each(lower, |start, g| {
            if g < p {
                priority = Some(priority.map_or(g, |b| b.min(g)));
            } else if g < p + n {
                let g = g - p;
                phrase = Some(phrase.map_or(g, |b| b.min(g)));
            } else if g == p + n {
                directory = true;
            } else {
                let key = (start, g - p - n - 1);
                command = Some(command.map_or(key, |b| b.min(key)));
            }
            true
        });
        Self {
            priority: priority.map(|g| PRIORITY[g].1),
            phrase: phrase.map(|g| PHRASES[g].0),
            directory,
            command: command.map(|(_, g)| COMMANDS[g].1),
        }
    }
}

/// A bare "Recipient address rejected" names the address as the problem;
/// followed by an explanation ("Recipient address rejected: On hold")
/// the explanation is the reason, and when it names none of the known
/// reasons, no guess is made.
fn weak(lower: &str) -> Option<Reason> {
    let g = WEAK_SET.first_group(lower)?;
    let (phrase, reason) = WEAK[g];
    let at = lower.find(phrase)?;
    let rest = lower[at + phrase.len()..].trim_start();
    let explained = rest
        .strip_prefix(':')
        .is_some_and(|r| r.trim_start().starts_with(|c: char| c.is_alphabetic()));
    (!explained).then_some(reason)
}

/// RFC 3463 section 3 subject and detail codes, with the later registrations
/// (RFC 7372 for 5.7.23-5.7.25 and RFC 7505 for 5.1.10, RFC 8689 for TLS).
/// Codes whose detail is 0 say too little and give `None`.
pub(crate) fn from_status(es: &EnhancedStatus) -> Option<Reason> {
    let r = match (es.subject, es.detail) {
        (1, 1) | (1, 3) => Reason::UserUnknown,
        (1, 2) => Reason::HostUnknown,
        (1, 4) => Reason::Filtered,
        (1, 6) => Reason::HasMoved,
        (1, 7) | (1, 8) => Reason::Rejected,
        (1, 9) => Reason::SystemError,
        (1, 10) => Reason::NotAccept,
        (2, 0) | (2, 1) => Reason::Filtered,
        (2, 2) => Reason::MailboxFull,
        (2, 3) => Reason::ExceedLimit,
        (2, 4) => Reason::Filtered,
        (3, 1) => Reason::SystemFull,
        (3, 2) => Reason::NotAccept,
        (3, 3) | (3, 5) => Reason::SystemError,
        (3, 4) => Reason::MesgTooBig,
        (4, 1) | (4, 2) | (4, 4) | (4, 6) => Reason::NetworkError,
        (4, 3) => Reason::SystemError,
        (4, 5) => Reason::SystemFull,
        (4, 7) => Reason::Expired,
        (5, 3) => Reason::TooManyConn,
        (5, 4) | (5, 5) => Reason::SystemError,
        (5, 1) | (5, 2) => Reason::SyntaxError,
        (6, _) => Reason::ContentError,
        (7, 1) if es.class == 4 => Reason::Blocked,
        (7, 1) => Reason::Rejected,
        (7, 2) => Reason::Blocked,
        (7, 13) => Reason::Suspend,
        (7, 16) => Reason::MesgTooBig,
        (7, 17) | (7, 18) => Reason::HasMoved,
        (7, 10) | (7, 11) => Reason::FailedStartTls,
        (7, 23) | (7, 24) | (7, 26) => Reason::AuthFailure,
        (7, 25) => Reason::RequirePtr,
        (7, 27) => Reason::NotAccept,
        (7, 28) => Reason::SpamDetected,
        (3, 0) => Reason::SystemError,
        // "Other address status" (RFC 3463 section 3.2), permanent: the
        // address was refused, as Sisimai reads it.
        (1, 0) if es.class == 5 => Reason::UserUnknown,
        (7, 0) | (1, 0) | (4, 0) | (5, 0) | (0, _) => return None,
        (7, _) => Reason::SecurityError,
        _ => return None,
    };
    Some(r)
}

/// Where a report comes from, for the last-resort rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// The recipient's action was `failed` or unknown.
    Failed,
    /// The recipient's action was `delayed` (a warning).
    Delayed,
    /// The diagnostic came from a local delivery program (`X-Unix;`).
    Mailer,
    /// The notice states the result of the reporting server's own
    /// delivery to its mailboxes (Ipswitch IMail's "Unknown user:
    /// bob@example.com"), not a remote server's reply to a command.
    Local,
}

/// The SMTP command a rejection answered (RFC 5321 section 4.1), when the
/// notice says so: it separates an unknown user (refused at `RCPT`) from a
/// message refused by a recipient's filter after `DATA`, which Sisimai calls
/// `filtered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    /// Before the envelope: connection, `EHLO` / `HELO`.
    Connect,
    /// `MAIL FROM`.
    Mail,
    /// `RCPT TO`.
    Rcpt,
    /// `DATA` or the end of the data.
    Data,
}

/// Finds which SMTP command the diagnostic answered.
pub(crate) fn command(lower: &str) -> Option<Command> {
    COMMAND_SET.earliest_group(lower).map(|g| COMMANDS[g].1)
}

/// The rest of a notice (lower-case), as [`decide_with`] reads it for each
/// recipient: what it says is searched once per message, not once per
/// recipient.
pub(crate) struct Around<'a> {
    text: &'a str,
    /// The same text as written, for the verbs quoted in capitals.
    raw: &'a str,
    directory: std::cell::OnceCell<bool>,
    command: std::cell::OnceCell<Option<Command>>,
}

impl<'a> Around<'a> {
    /// `text` must be lower-case.
    pub(crate) fn new(text: &'a str) -> Self {
        Self::with_raw(text, "")
    }

    /// `text` lower-case, `raw` the same text as written.
    pub(crate) fn with_raw(text: &'a str, raw: &'a str) -> Self {
        Self {
            text,
            raw,
            directory: std::cell::OnceCell::new(),
            command: std::cell::OnceCell::new(),
        }
    }

    /// Whether the notice uses a directory lookup's wording.
    fn directory(&self) -> bool {
        *self.directory.get_or_init(|| DIRECTORY_SET.any(self.text))
    }

    /// The SMTP command the notice says was answered, in words or as a
    /// verb quoted in capitals.
    fn command(&self) -> Option<Command> {
        *self
            .command
            .get_or_init(|| command(self.text).or_else(|| named_command(self.raw)))
    }
}

/// Decides the reason: the text first (what the server said is the most
/// specific evidence), then the enhanced status, then context and the
/// reply code. `around` (the rest of the notice) must be lower-case.
pub(crate) fn decide(
    diagnostic: &str,
    around: &str,
    status: Option<&str>,
    reply_code: Option<&str>,
    ctx: Context,
) -> Reason {
    decide_with(diagnostic, &Around::new(around), status, reply_code, ctx)
}

/// [`decide`] with the rest of the notice read once for all recipients.
pub(crate) fn decide_with(
    diagnostic: &str,
    around: &Around<'_>,
    status: Option<&str>,
    reply_code: Option<&str>,
    ctx: Context,
) -> Reason {
    let lower = join_continuations(diagnostic.to_lowercase());
    let es = status.and_then(EnhancedStatus::parse);
    if let Some(es) = es
        && es.class == 2
    {
        return Reason::Delivered;
    }
    let by_status = es.as_ref().and_then(from_status);
    // A precise status about the mailbox beats generic wording such as
    // "rejected" or "policy".
    let found = Found::of(&lower);
    let priority = found.priority;
    // A named block list (Spamhaus, "blocked using") refuses the sending
    // host, whatever address status the server attached to the refusal.
    if matches!(priority, Some(Reason::Blocked)) {
        return Reason::Blocked;
    }
    let mut by_text = priority.or(found.phrase);
    // IMail gave up retrying: "Delivery failed 20 attempts".
    if by_text.is_none() && retries_ran_out(&lower) {
        by_text = Some(Reason::Expired);
    }
    // "553 mx.example.com does not exist": what does not exist is a
    // domain, not a mailbox.
    if by_text == Some(Reason::UserUnknown) && names_missing_domain(&lower) {
        by_text = Some(Reason::HostUnknown);
    }
    // "user bob@example.com does not exist", "RCPT (bob@...) doesn't
    // exist": the words around the address differ from server to server,
    // the statement does not.
    if by_text.is_none() && says_missing(&lower) {
        by_text = Some(if names_missing_domain(&lower) {
            Reason::HostUnknown
        } else {
            Reason::UserUnknown
        });
    }
    // 5.4.4 "unable to route" (RFC 3463 section 3.5) said permanently
    // about a domain whose mail exchanger cannot be found: the domain
    // accepts no mail (Sisimai's notaccept), not a passing network error.
    if es
        .as_ref()
        .is_some_and(|e| e.class == 5 && e.subject == 4 && e.detail == 4)
        && by_text.is_none()
    {
        by_text = Some(Reason::NotAccept);
    }
    // A temporary DNS failure is a network problem, not a missing domain.
    if by_text == Some(Reason::HostUnknown) && es.as_ref().is_some_and(|e| e.class == 4) {
        by_text = Some(Reason::NetworkError);
    }
    // "User unknown" said after DATA, or without saying when, with a
    // status that does not name the mailbox: the recipient's filter
    // refused the message (Sisimai's `filtered`).
    // Wording only a directory lookup produces (Exchange's "recipient name
    // is not recognized", Microsoft's RecipientNotFound, Yahoo's "dd"
    // notice): the mailbox does not exist whatever the command.
    // Which SMTP command was answered: looked up once, when needed.
    let cmd: std::cell::OnceCell<Option<Command>> = std::cell::OnceCell::new();
    // The rest of the notice counts when the diagnostic names no other
    // reason.
    let directory_says_unknown = found.directory
        || (matches!(by_text, None | Some(Reason::UserUnknown)) && around.directory());
    if directory_says_unknown {
        by_text = Some(Reason::UserUnknown);
    }
    if by_text == Some(Reason::UserUnknown)
        && by_status != Some(Reason::UserUnknown)
        && !directory_says_unknown
    {
        let cmd = *cmd.get_or_init(|| {
            found
                .command
                .or_else(|| named_command(diagnostic))
                .or_else(|| around.command())
        });
        match (cmd, by_status) {
            (Some(Command::Rcpt), _) => {}
            (_, Some(Reason::Filtered)) => by_text = Some(Reason::Filtered),
            (_, Some(Reason::Suspend)) => by_text = Some(Reason::Suspend),
            // RFC 3463 X.1.6: the mailbox has moved.
            (_, Some(Reason::HasMoved)) => by_text = Some(Reason::HasMoved),
            (Some(Command::Connect | Command::Mail), _) => by_text = None,
            // The server looked its own mailbox up and found none.
            (None, _) if ctx == Context::Local && reply_code.is_none() => {}
            (Some(Command::Data) | None, _) => by_text = Some(Reason::Filtered),
        }
    }
    // The refusal answered MAIL FROM, or says the sender was refused: it is
    // about the sender, not the recipient's address, whatever an address
    // status (RFC 3463 X.1.x: 5.1.0, 5.1.7 bad sender's mailbox) or words
    // such as "no such domain" say about some address.
    let mut by_status = by_status;
    let about_the_address = |r: Option<Reason>| {
        matches!(
            r,
            Some(Reason::UserUnknown | Reason::HostUnknown | Reason::Filtered)
        )
    };
    let about_sender = (about_the_address(by_text) || about_the_address(by_status))
        && (lower.contains("sender rejected")
            || lower.contains("sender address rejected")
            || *cmd.get_or_init(|| {
                found
                    .command
                    .or_else(|| named_command(diagnostic))
                    .or_else(|| around.command())
            }) == Some(Command::Mail));
    if about_sender {
        if matches!(
            by_text,
            Some(Reason::UserUnknown | Reason::HostUnknown | Reason::Filtered)
        ) {
            by_text = Some(Reason::Rejected);
        }
        if matches!(
            by_status,
            Some(Reason::UserUnknown | Reason::HostUnknown | Reason::Filtered)
        ) {
            by_status = Some(Reason::Rejected);
        }
    }
    // RFC 5321 section 4.2.2: 551 "User not local; please try
    // <forward-path>": the mailbox has moved, when no status says otherwise.
    if reply_code == Some("551") && es.is_none() {
        by_text = Some(Reason::HasMoved);
    }
    if by_text.is_none() && by_status.is_none() {
        by_text = weak(&lower);
    }
    // A local delivery program failed (RFC 3464 Diagnostic-Type X-Unix):
    // what it printed names no reason, and the status is the MTA's guess
    // at its exit code.
    if ctx == Context::Mailer && by_text.is_none() {
        return Reason::MailerError;
    }
    match (by_text, by_status) {
        (Some(t), Some(s)) => return prefer(t, s),
        (Some(t), None) => return t,
        (None, Some(s)) => return s,
        (None, None) => {}
    }
    if ctx == Context::Delayed {
        return Reason::Expired;
    }
    if ctx == Context::Mailer {
        return Reason::MailerError;
    }
    if let Some(es) = es {
        match (es.subject, es.class) {
            (7, _) => return Reason::SecurityError,
            (6, _) => return Reason::ContentError,
            (4, 4) => return Reason::Expired,
            // RFC 3463 section 3.5: X.4.0 "other or undefined network or
            // routing status", given up on.
            (4, _) => return Reason::NetworkError,
            _ => {}
        }
    }
    // Postfix: the server's greeting was a refusal ("refused to talk to
    // me: 554 ..."), before any address was given, and what it said names
    // no other reason.
    if lower.contains("refused to talk to me") {
        return Reason::Blocked;
    }
    // "Recipient address rejected: On hold": the server explained its
    // refusal in words that name no known reason; the code is no better.
    let explained = WEAK_SET.first_group(&lower).is_some();
    let cmd = *cmd.get_or_init(|| {
        found
            .command
            .or_else(|| named_command(diagnostic))
            .or_else(|| around.command())
    });
    by_reply_code(reply_code, cmd)
        .filter(|_| !explained)
        .unwrap_or(if lower.trim().is_empty() {
            Reason::Undefined
        } else {
            Reason::OnHold
        })
}

/// What the RFC 5321 reply code alone says (section 4.2.2, 4.2.3), given
/// the command it answered: the last evidence, used when neither the words
/// nor an enhanced status name a reason.
fn by_reply_code(reply_code: Option<&str>, cmd: Option<Command>) -> Option<Reason> {
    Some(match (reply_code?, cmd) {
        ("500" | "501" | "502" | "503" | "504", _) => Reason::SyntaxError,
        ("421", _) => Reason::TooManyConn,
        ("452", _) => Reason::SystemFull,
        // "Requested action aborted: local error in processing".
        ("451", _) => Reason::SystemError,
        ("552", _) => Reason::MailboxFull,
        ("553", _) => Reason::Rejected,
        // "Requested action not taken: mailbox unavailable", said to the
        // recipient's address.
        ("550", Some(Command::Rcpt)) => Reason::UserUnknown,
        // Said to the sender's address.
        ("550" | "554", Some(Command::Mail)) => Reason::Rejected,
        // Said before any address: the connecting host is refused (RFC
        // 5321 section 3.1, a 554 greeting).
        ("550" | "554", Some(Command::Connect)) => Reason::Blocked,
        _ => return None,
    })
}

/// An SMTP command named in capitals in a server's reply ("554 RCPT
/// (bob@example.com) doesn't exist", "550 ... at DATA"): RFC 5321 section
/// 4.1 spells the verbs so, and servers quote them so. When several are
/// named, the latest in a transaction's order is the one that failed.
fn named_command(diagnostic: &str) -> Option<Command> {
    const VERBS: &[(&str, Command)] = &[
        ("DATA", Command::Data),
        ("BDAT", Command::Data),
        ("RCPT", Command::Rcpt),
        ("MAIL FROM", Command::Mail),
        ("EHLO", Command::Connect),
        ("HELO", Command::Connect),
    ];
    let b = diagnostic.as_bytes();
    VERBS.iter().find_map(|&(verb, cmd)| {
        diagnostic.match_indices(verb).find_map(|(i, _)| {
            let before = i.checked_sub(1).map(|j| b[j]);
            let after = b.get(i + verb.len()).copied();
            let word = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_alphanumeric());
            (!word(before) && !word(after)).then_some(cmd)
        })
    })
}

/// Whether the text says that something does not exist ("does not
/// exist", "doesn't exist", "not exist"), however the server spelt the
/// words around it.
fn says_missing(lower: &str) -> bool {
    lower.contains("not exist") || lower.contains("n't exist") || lower.contains("nt exist")
}

/// A multi-line SMTP reply (RFC 5321 section 4.2.1) repeats its code on
/// every line ("550-5.7.1 Messages with multiple 550-5.7.1 addresses in
/// From: ..."); once joined into one line those repeats split the
/// server's sentences. They are removed after the first.
fn join_continuations(lower: String) -> String {
    let b = lower.as_bytes();
    // The first "ddd-" of the text: a multi-line reply's code (each `-`,
    // found with memchr, is looked back from).
    let Some(i) = memchr::memchr_iter(b'-', b)
        .filter(|&j| j >= 3)
        .map(|j| j - 3)
        .find(|&i| {
            matches!(b[i], b'4' | b'5')
                && b[i..i + 3].iter().all(u8::is_ascii_digit)
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        })
    else {
        return lower;
    };
    let code = &lower[i..i + 3];
    let after = &lower[i + 4..];
    let status: String = after
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut prefixes = Vec::new();
    if super::text::is_status(&status) {
        prefixes.push(format!("{code}-{status} "));
        prefixes.push(format!("{code} {status} "));
    }
    prefixes.push(format!("{code}-"));
    let head = &lower[..i + 4];
    let mut rest = after.to_owned();
    for p in &prefixes {
        rest = rest.replace(&format!(" {p}"), " ");
    }
    format!("{head}{rest}")
}

/// IMail's "Delivery failed 20 attempts": it gave up after retrying.
fn retries_ran_out(lower: &str) -> bool {
    lower.match_indices("delivery failed ").any(|(i, p)| {
        let rest = &lower[i + p.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with(" attempts")
    })
}

/// Whether the word before "does not exist" is a domain name (dotted,
/// no `@`, an alphabetic top-level label), as in Exim's "553 example.com
/// does not exist".
fn names_missing_domain(lower: &str) -> bool {
    let Some(i) = lower.find(" does not exist") else {
        return false;
    };
    let word = lower[..i]
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or_default()
        .trim_matches(['<', '>', '"', '\'']);
    let tld = word.rsplit('.').next().unwrap_or_default();
    word.contains('.')
        && !word.contains('@')
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// When the text and the status disagree, keep the text unless it is one of
/// the broad words that many servers use loosely and the status is precise.
fn prefer(text: Reason, status: Reason) -> Reason {
    use Reason::*;
    match (text, status) {
        (t, s) if t == s => t,
        (Rejected | Blocked | PolicyViolation | SecurityError | SystemError | Expired, s)
            if matches!(
                s,
                UserUnknown | MailboxFull | HostUnknown | HasMoved | Suspend | MesgTooBig
            ) =>
        {
            s
        }
        (UserUnknown, Suspend) => Suspend,
        // RFC 3463 X.2.3: the message exceeds the mailbox's own
        // administrative limit, not the system's size limit.
        (MesgTooBig, ExceedLimit) => ExceedLimit,
        (UserUnknown, MailboxFull) => MailboxFull,
        (t, _) => t,
    }
}

/// Hard or soft, by Sisimai's rule (`Sisimai::SMTP::Error::soft_or_hard`):
/// the address itself is wrong (userunknown, hostunknown, hasmoved), or the
/// domain accepts no mail at all (notaccept) and the error is permanent.
pub(crate) fn is_hard(reason: Reason, status: Option<&str>, reply_code: Option<&str>) -> bool {
    match reason {
        Reason::UserUnknown | Reason::HostUnknown | Reason::HasMoved => true,
        Reason::NotAccept => {
            let class = status
                .and_then(|s| s.chars().next())
                .or_else(|| reply_code.and_then(|c| c.chars().next()));
            class != Some('4')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;

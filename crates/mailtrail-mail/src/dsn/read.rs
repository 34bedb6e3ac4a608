//! RFC 3464 delivery status notifications: the `message/delivery-status`
//! part (and RFC 6533's `message/global-delivery-status`).
//!
//! Section 2.1: one group of per-message fields, then one group per
//! recipient. Section 2.3 defines the per-recipient fields read here:
//! `Original-Recipient`, `Final-Recipient`, `Action`, `Status`,
//! `Remote-MTA`, `Diagnostic-Code`. `X-Original-Message-ID` is a common
//! extension (section 2.2 allows `X-` fields) naming the returned message.

use crate::inbound::fields::{self, Field};
use crate::inbound::text;

/// What RFC 3464 section 2.3.3 says happened to one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The message could not be delivered and will not be retried.
    Failed,
    /// Delivery has been delayed; the reporting MTA will keep trying.
    Delayed,
    /// The message was delivered to the recipient's mailbox.
    Delivered,
    /// Relayed to a system that sends no further DSNs.
    Relayed,
    /// Delivered and forwarded to several other addresses (a list).
    Expanded,
}

impl Action {
    /// The action's name in the JSON contract (its serde name), as RFC
    /// 3464 writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Failed => "failed",
            Action::Delayed => "delayed",
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Expanded => "expanded",
        }
    }

    /// Reads an `Action` value; RFC 3464 section 2.3.3 allows a comment
    /// after the keyword, and some servers write `expired` or `failure`.
    pub fn parse(value: &str) -> Option<Self> {
        let word: String = value
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match word.as_str() {
            "failed" | "failure" | "fail" | "expired" => Self::Failed,
            "delayed" | "delay" | "deferred" => Self::Delayed,
            "delivered" | "deliverable" => Self::Delivered,
            "relayed" => Self::Relayed,
            "expanded" => Self::Expanded,
            _ => return None,
        })
    }
}

/// One per-recipient group of a DSN, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DsnRecipient {
    pub final_recipient: Option<String>,
    pub original_recipient: Option<String>,
    pub action: Option<Action>,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub diagnostic_type: Option<String>,
    pub remote_mta: Option<String>,
    /// The comment after the code in `Status` (RFC 3464 section 2.3.4
    /// allows one): `5.0.0 (recipient reached disk quota)`.
    pub status_comment: Option<String>,
}

impl DsnRecipient {
    /// The address this report is about: the address the sender gave
    /// (`Original-Recipient`, RFC 3464 section 2.3.1, the `ORCPT` of RFC
    /// 3461) when there is one, since that is the address that was sent
    /// to; else the final recipient after aliases and forwarding (section
    /// 2.3.2), which some MTAs fill with a local name.
    pub(crate) fn address(&self) -> Option<&str> {
        let looks = |a: &&String| {
            a.split_once('@')
                .is_some_and(|(l, d)| !l.is_empty() && d.contains('.'))
        };
        self.original_recipient
            .as_ref()
            .filter(looks)
            .or(self.final_recipient.as_ref().filter(looks))
            .or(self.final_recipient.as_ref())
            .map(String::as_str)
    }
}

/// A parsed `message/delivery-status` part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Dsn {
    pub reporting_mta: Option<String>,
    pub original_message_id: Option<String>,
    pub recipients: Vec<DsnRecipient>,
}

/// At most this many recipients are kept from one report.
const MAX_RECIPIENTS: usize = 1000;

/// Parses the body of a delivery-status part. Never fails: a group without
/// any per-recipient field is taken as per-message fields, and a group
/// holding several `Final-Recipient` fields (blank lines lost in transit) is
/// split at each one.
pub(crate) fn parse(text: &str) -> Dsn {
    let mut dsn = Dsn::default();
    for group in fields::groups(text) {
        let mut current: Option<DsnRecipient> = None;
        // The current recipient had an address and then its Status: a
        // further address field belongs to the next recipient.
        let mut closed = false;
        for Field { name, value } in &group {
            match name.as_bytes() {
                b"reporting-mta" => {
                    dsn.reporting_mta
                        .get_or_insert_with(|| strip_type(value).to_owned());
                }
                b"x-original-message-id" | b"original-message-id"
                    if dsn.original_message_id.is_none() =>
                {
                    dsn.original_message_id = message_id(value);
                }
                b"final-recipient" | b"original-recipient" | b"x-actual-recipient" => {
                    let addr = fields::typed_address(value);
                    let is_final = name == "final-recipient";
                    // A second recipient starts at a repeated address field,
                    // or at an address field after the first one's Status
                    // (blank lines lost in transit). `Action` alone does not
                    // end a recipient: Amazon SES writes it first.
                    let start_new = match &current {
                        None => true,
                        Some(r) => {
                            (closed && name != "x-actual-recipient")
                                || (is_final && r.final_recipient.is_some())
                                || (name == "original-recipient" && r.original_recipient.is_some())
                        }
                    };
                    if start_new {
                        closed = false;
                        if let Some(r) = current.take() {
                            push(&mut dsn, r);
                        }
                        current = Some(DsnRecipient::default());
                    }
                    if let Some(r) = current.as_mut() {
                        match name.as_bytes() {
                            b"final-recipient" => r.final_recipient = addr,
                            b"original-recipient" => r.original_recipient = addr,
                            _ => {
                                if r.final_recipient.is_none() {
                                    r.final_recipient = addr;
                                }
                            }
                        }
                    }
                }
                b"action" | b"status" | b"diagnostic-code" | b"remote-mta" => {
                    let r = current.get_or_insert_with(DsnRecipient::default);
                    match name.as_bytes() {
                        b"action" => r.action = r.action.or(Action::parse(value)),
                        b"status" => {
                            if r.final_recipient.is_some() || r.original_recipient.is_some() {
                                closed = true;
                            }
                            if r.status.is_none() {
                                r.status = status_value(value);
                                r.status_comment = text::split_once_ascii(value, b'(')
                                    .map(|(_, c)| {
                                        c.trim_end().trim_end_matches(')').trim().to_owned()
                                    })
                                    .filter(|c| !c.is_empty());
                            }
                        }
                        b"diagnostic-code" => {
                            if r.diagnostic.is_none() {
                                let (ty, text) = match text::split_once_ascii(value, b';') {
                                    Some((ty, text)) if ty.len() < 20 && !ty.contains(' ') => {
                                        (Some(ty.trim().to_owned()), text.trim())
                                    }
                                    _ => (None, value.trim()),
                                };
                                r.diagnostic_type = ty;
                                r.diagnostic = Some(text.to_owned()).filter(|t| !t.is_empty());
                            }
                        }
                        _ => r.remote_mta = Some(strip_type(value).to_owned()),
                    }
                }
                _ => {}
            }
        }
        if let Some(r) = current {
            push(&mut dsn, r);
        }
    }
    dsn
}

fn push(dsn: &mut Dsn, r: DsnRecipient) {
    let useful = r.final_recipient.is_some()
        || r.original_recipient.is_some()
        || r.action.is_some()
        || r.status.is_some();
    if useful && dsn.recipients.len() < MAX_RECIPIENTS {
        dsn.recipients.push(r);
    }
}

/// A delivery-status report written into the text of a message rather than
/// in its own `message/delivery-status` part: the part's boundary was lost or
/// mangled on the way (a `multipart/report` whose boundary line does not
/// match its `Content-Type`), or an old Sendmail wrote the report without
/// MIME at all. RFC 3464 section 2.1's field groups are still there, at the
/// start of lines, and they are read when a `Final-Recipient` (or
/// `Original-Recipient`) line and an `Action` or `Status` line are both
/// present. Quoted text (`> Final-Recipient:`) never matches, so a person
/// forwarding or quoting a report does not make one.
pub(crate) fn in_text(text: &str) -> Option<Dsn> {
    let mut start = None;
    let mut has_rcpt = false;
    let mut has_state = false;
    for line in fields::lines(text).take(20_000) {
        // Field names compared in place, without a lower-cased copy of
        // every line.
        let l = |name: &str| {
            line.as_bytes()
                .get(..name.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(name.as_bytes()))
        };
        let at = line.as_ptr() as usize - text.as_ptr() as usize;
        if l("reporting-mta:") {
            start.get_or_insert(at);
        }
        if l("final-recipient:") || l("original-recipient:") {
            start.get_or_insert(at);
            has_rcpt = true;
        }
        if start.is_some() && (l("action:") || l("status:")) {
            has_state = true;
        }
        if has_rcpt && has_state && line.starts_with("--") {
            return Some(parse(&text[start?..at])).filter(|d| !d.recipients.is_empty());
        }
    }
    if !(has_rcpt && has_state) {
        return None;
    }
    Some(parse(&text[start?..])).filter(|d| !d.recipients.is_empty())
}

/// `dns; mx.example.org` → `mx.example.org` (RFC 3464 section 2.2.2).
fn strip_type(value: &str) -> &str {
    text::split_once_ascii(value, b';')
        .map_or(value, |(_, v)| v)
        .trim()
}

/// RFC 3464 section 2.3.4: the status is `class.subject.detail`, possibly
/// followed by a comment (`5.1.1 (bad destination mailbox)`).
fn status_value(value: &str) -> Option<String> {
    let tok = value
        .trim()
        .split(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or_default();
    text::is_status(tok).then(|| tok.to_owned())
}

/// A Message-ID with its angle brackets removed.
pub(crate) fn message_id(value: &str) -> Option<String> {
    let v = value.trim();
    let v = match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v,
    };
    let v = v.trim();
    (!v.is_empty() && v.len() <= 998 && !v.contains(char::is_whitespace)).then(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSN: &str = "Reporting-MTA: dns; mx.example.org\r\n\
X-Postfix-Queue-ID: 1234\r\n\
X-Original-Message-ID: <abc@mailtrail.example>\r\n\
\r\n\
Final-Recipient: rfc822; bob@example.com\r\n\
Original-Recipient: rfc822;Bob@example.com\r\n\
Action: failed\r\n\
Status: 5.1.1\r\n\
Remote-MTA: dns; mx.example.com\r\n\
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>: Recipient address\r\n\
\trejected: User unknown in virtual mailbox table\r\n\
\r\n\
Final-Recipient: rfc822; carol@example.com\r\n\
Action: delayed\r\n\
Status: 4.4.1 (connection timed out)\r\n";

    #[test]
    fn reads_every_recipient() {
        let d = parse(DSN);
        assert_eq!(d.reporting_mta.as_deref(), Some("mx.example.org"));
        assert_eq!(
            d.original_message_id.as_deref(),
            Some("abc@mailtrail.example")
        );
        assert_eq!(d.recipients.len(), 2);
        let bob = &d.recipients[0];
        // Original-Recipient, as the sender wrote it, is the address.
        assert_eq!(bob.address(), Some("Bob@example.com"));
        assert_eq!(bob.action, Some(Action::Failed));
        assert_eq!(bob.status.as_deref(), Some("5.1.1"));
        assert_eq!(bob.remote_mta.as_deref(), Some("mx.example.com"));
        assert_eq!(bob.diagnostic_type.as_deref(), Some("smtp"));
        assert!(
            bob.diagnostic
                .as_deref()
                .unwrap()
                .ends_with("virtual mailbox table")
        );
        assert_eq!(d.recipients[1].action, Some(Action::Delayed));
        assert_eq!(d.recipients[1].status.as_deref(), Some("4.4.1"));
    }

    #[test]
    fn lost_blank_lines_still_split() {
        let d = parse(
            "Final-Recipient: rfc822; a@example.com\nAction: failed\nStatus: 5.0.0\n\
             Final-Recipient: rfc822; b@example.com\nAction: failed\nStatus: 5.0.0\n",
        );
        assert_eq!(d.recipients.len(), 2);
        assert_eq!(d.recipients[1].address(), Some("b@example.com"));
    }

    #[test]
    fn action_before_the_address_stays_with_it() {
        // Amazon SES's order: Action, Final-Recipient, Original-Recipient.
        let d = parse(
            "Reporting-MTA: dns; inbound-smtp.example.com\n\n\
             Action: failed\nFinal-Recipient: rfc822; a@example.com\n\
             Original-Recipient: rfc822; a@example.com\n\
             Diagnostic-Code: smtp; 550 5.1.1 Mailbox does not exist\nStatus: 5.1.1\n",
        );
        assert_eq!(d.recipients.len(), 1);
        assert_eq!(d.recipients[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(d.recipients[0].action, Some(Action::Failed));
    }

    #[test]
    fn actions() {
        assert_eq!(Action::parse("Failed (bad)"), Some(Action::Failed));
        assert_eq!(Action::parse("relayed"), Some(Action::Relayed));
        assert_eq!(Action::parse("nonsense"), None);
    }
}

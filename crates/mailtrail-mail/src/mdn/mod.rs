//! Building read receipts: RFC 8098 message disposition notifications
//! (MDNs), as a recipient's mail client sends them when a message asking
//! for one (`Disposition-Notification-To`, RFC 8098 section 2.1) is shown.
//!
//! The sandbox inbox uses this to play the recipient; the receipt responder
//! (DESIGN.md section 4, flow 4) uses it to answer for our own users. The
//! classifier in [`crate::inbound`] reads what this writes with the `read`
//! submodule.
//!
//! The shape (RFC 8098 section 3, with RFC 6522 for the container):
//!
//! ```text
//! Content-Type: multipart/report; report-type=disposition-notification
//!   1. text/plain                          a human-readable explanation
//!   2. message/disposition-notification    the machine-readable fields
//!   3. text/rfc822-headers                 the original's header section
//! ```

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::MimePart;
use mailtrail_domain::{EmailAddress, MessageId};
use time::OffsetDateTime;

use crate::MailError;

/// Reading MDNs, for the classifier in [`crate::inbound`].
pub(crate) mod read;

/// Who or what caused the disposition (RFC 8098 section 3.2.6.1, the
/// first half of `disposition-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionMode {
    /// The user's explicit action (`manual-action`).
    Manual,
    /// Software acting without the user (`automatic-action`).
    Automatic,
}

/// How the MDN itself was sent (RFC 8098 section 3.2.6.1, the second half
/// of `disposition-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendingMode {
    /// The user explicitly agreed to send it (`MDN-sent-manually`).
    Manual,
    /// Sent by policy, without asking (`MDN-sent-automatically`).
    Automatic,
}

/// What happened to the message (RFC 8098 section 3.2.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispositionType {
    /// Shown to the user. It says nothing of whether it was read.
    Displayed,
    /// Deleted, seen or not.
    Deleted,
    /// Sent somewhere else (printed, faxed, forwarded) without being shown.
    Dispatched,
    /// Processed by some software without being shown.
    Processed,
}

impl DispositionType {
    /// The token written in the `Disposition` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Displayed => "displayed",
            Self::Deleted => "deleted",
            Self::Dispatched => "dispatched",
            Self::Processed => "processed",
        }
    }
}

/// The `Disposition` field (RFC 8098 section 3.2.6):
/// `action-mode/sending-mode; disposition-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disposition {
    /// Who caused it.
    pub action: ActionMode,
    /// How the MDN went out.
    pub sending: SendingMode,
    /// What happened.
    pub kind: DispositionType,
}

impl Disposition {
    /// A person opened the message and chose to send the receipt:
    /// `manual-action/MDN-sent-manually; displayed`.
    pub const DISPLAYED_MANUALLY: Self = Self {
        action: ActionMode::Manual,
        sending: SendingMode::Manual,
        kind: DispositionType::Displayed,
    };

    /// The field's value.
    pub fn field_value(&self) -> String {
        let action = match self.action {
            ActionMode::Manual => "manual-action",
            ActionMode::Automatic => "automatic-action",
        };
        let sending = match self.sending {
            SendingMode::Manual => "MDN-sent-manually",
            SendingMode::Automatic => "MDN-sent-automatically",
        };
        format!("{action}/{sending}; {}", self.kind.as_str())
    }
}

/// One read receipt to build.
#[derive(Debug, Clone)]
pub struct Receipt<'a> {
    /// The host name of the reporting user agent (`Reporting-UA`, RFC 8098
    /// section 3.2.1).
    pub reporting_ua: &'a str,
    /// The person the receipt is for: the MDN's `From` (RFC 8098 section
    /// 3, "MUST contain the address of the person for whom the message
    /// disposition notification is being issued") and its
    /// `Final-Recipient` (section 3.2.4).
    pub final_recipient: &'a EmailAddress,
    /// Where the receipt goes: the original's `Disposition-Notification-To`
    /// (RFC 8098 section 2.1).
    pub notify: &'a EmailAddress,
    /// The original's Message-ID (`Original-Message-ID`, section 3.2.5),
    /// which correlation joins on.
    pub original_message_id: &'a MessageId,
    /// The original's subject, for the human-readable part and the
    /// receipt's own subject.
    pub original_subject: &'a str,
    /// The original's header section, returned as `text/rfc822-headers`
    /// (RFC 8098 section 3: the third part is optional; it helps a reader
    /// that lost the Message-ID). Empty to leave the part out.
    pub original_headers: &'a [u8],
    /// What happened.
    pub disposition: Disposition,
    /// The receipt's own Message-ID.
    pub message_id: &'a MessageId,
    /// When it was sent.
    pub date: OffsetDateTime,
}

/// Builds the receipt as RFC 5322 bytes with CRLF line ends. It goes out
/// with a null envelope sender (`MAIL FROM:<>`, RFC 8098 section 3), so it
/// can never cause a receipt or bounce loop.
pub fn build(r: &Receipt<'_>) -> Result<Vec<u8>, MailError> {
    for (name, value) in [
        ("Reporting-UA", r.reporting_ua),
        ("Subject", r.original_subject),
    ] {
        if value.chars().any(char::is_control) {
            return Err(MailError::HeaderInjection { name: name.into() });
        }
    }
    let human = format!(
        "The message sent to {rcpt} with the subject \"{subject}\" ({id}) was \
         {kind}.\r\n\r\nThis is no guarantee that the message has been read or \
         understood.\r\n",
        rcpt = r.final_recipient.as_str(),
        kind = r.disposition.kind.as_str(),
        subject = r.original_subject,
        id = r.original_message_id.bracketed(),
    );
    // RFC 8098 section 3.1: one field per line; Reporting-UA and
    // Original-Message-ID are optional but "SHOULD" be given,
    // Final-Recipient and Disposition are required.
    let fields = format!(
        "Content-Type: message/disposition-notification\r\n\r\n\
         Reporting-UA: {ua}; mailtrail\r\n\
         Final-Recipient: rfc822; {rcpt}\r\n\
         Original-Message-ID: {id}\r\n\
         Disposition: {disp}\r\n",
        ua = r.reporting_ua,
        rcpt = r.final_recipient.as_str(),
        id = r.original_message_id.bracketed(),
        disp = r.disposition.field_value(),
    );
    let mut parts = vec![
        MimePart::new(
            ContentType::new("text/plain").attribute("charset", "utf-8"),
            human,
        ),
        MimePart::raw(fields.into_bytes()),
    ];
    if !r.original_headers.is_empty() {
        parts.push(MimePart::raw(rfc822_headers_part(r.original_headers)));
    }
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "disposition-notification"),
        parts,
    );
    let subject = format!("Read: {}", r.original_subject);
    let mut builder = MessageBuilder::new()
        .from(Address::new_address(
            None::<&str>,
            r.final_recipient.as_str(),
        ))
        .to(Address::new_address(None::<&str>, r.notify.as_str()))
        .subject(subject)
        .date(Date::new(r.date.unix_timestamp()))
        .message_id(r.message_id.as_str());
    if let Some(value) = auto_submitted(r.disposition) {
        builder = builder.header("Auto-Submitted", Raw::new(value));
    }
    builder
        .body(body)
        .write_to_vec()
        .map_err(|e| MailError::Build(e.to_string()))
}

/// A receipt sent by policy, without the user, is an automatic response:
/// `Auto-Submitted: auto-replied` (RFC 3834 section 5), so that no
/// responder answers it. One the user chose to send carries no such mark.
fn auto_submitted(d: Disposition) -> Option<&'static str> {
    match d.sending {
        SendingMode::Automatic => Some("auto-replied"),
        SendingMode::Manual => None,
    }
}

/// A `text/rfc822-headers` part (RFC 6522 section 4) holding a header
/// section: CRLF line ends, the terminating empty line dropped, and a
/// `Return-Path` (added at final delivery, RFC 5321 section 4.4, not part
/// of what was sent) left out.
pub(crate) fn rfc822_headers_part(headers: &[u8]) -> Vec<u8> {
    let mut out = b"Content-Type: text/rfc822-headers\r\n\r\n".to_vec();
    let mut skipping = false;
    for line in headers.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let continuation = line[0] == b' ' || line[0] == b'\t';
        if !continuation {
            skipping = line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"return-path:");
        }
        if skipping {
            continue;
        }
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::{Kind, classify};

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn a_built_receipt_classifies_as_a_read_receipt_for_the_original() {
        let original = MessageId::parse("abc123@sender.test").unwrap();
        let own = MessageId::parse("mdn1@recipient.test").unwrap();
        let rcpt = addr("bob@recipient.test");
        let notify = addr("ann@sender.test");
        let headers = b"Return-Path: <bounces+x@sender.test>\r\nFrom: ann@sender.test\r\nTo: bob@recipient.test\r\nSubject: Hello\r\nMessage-ID: <abc123@sender.test>\r\n\r\nbody\r\n";
        let raw = build(&Receipt {
            reporting_ua: "mail.recipient.test",
            final_recipient: &rcpt,
            notify: &notify,
            original_message_id: &original,
            original_subject: "Hello",
            original_headers: headers,
            disposition: Disposition::DISPLAYED_MANUALLY,
            message_id: &own,
            date: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        })
        .unwrap();
        let text = String::from_utf8(raw.clone()).unwrap();
        // RFC 8098 section 3: the container and its fields.
        assert!(
            text.contains("report-type=disposition-notification")
                || text.contains("report-type=\"disposition-notification\""),
            "{text}"
        );
        assert!(text.contains("multipart/report"));
        assert!(text.contains("Disposition: manual-action/MDN-sent-manually; displayed\r\n"));
        assert!(text.contains("Original-Message-ID: <abc123@sender.test>\r\n"));
        assert!(text.contains("Final-Recipient: rfc822; bob@recipient.test\r\n"));
        assert!(text.contains("Subject: Read: Hello\r\n"));
        // The returned headers leave out the delivery agent's Return-Path
        // and stop at the header section.
        assert!(!text.contains("bounces+x"));
        assert!(!text.contains("\r\nbody\r\n"));

        let c = classify(&raw);
        assert_eq!(c.kind, Kind::ReadReceipt);
        assert_eq!(c.disposition.as_deref(), Some("displayed"));
        assert_eq!(c.original_message_id.as_deref(), Some("abc123@sender.test"));
        assert_eq!(
            c.recipients[0].address.as_deref(),
            Some("bob@recipient.test")
        );
        assert_eq!(c.from.as_deref(), Some("bob@recipient.test"));
    }

    #[test]
    fn other_dispositions_are_written_as_rfc_8098_says() {
        let d = Disposition {
            action: ActionMode::Automatic,
            sending: SendingMode::Automatic,
            kind: DispositionType::Deleted,
        };
        assert_eq!(
            d.field_value(),
            "automatic-action/MDN-sent-automatically; deleted"
        );
        assert_eq!(auto_submitted(d), Some("auto-replied"));
    }

    #[test]
    fn control_characters_in_a_subject_are_refused() {
        let id = MessageId::parse("a@b.test").unwrap();
        let a = addr("a@b.test");
        let err = build(&Receipt {
            reporting_ua: "x.test",
            final_recipient: &a,
            notify: &a,
            original_message_id: &id,
            original_subject: "Hi\r\nBcc: evil@x.test",
            original_headers: b"",
            disposition: Disposition::DISPLAYED_MANUALLY,
            message_id: &id,
            date: OffsetDateTime::UNIX_EPOCH,
        })
        .unwrap_err();
        assert!(matches!(err, MailError::HeaderInjection { .. }));
    }
}

//! Building bounces: RFC 3464 delivery status notifications (DSNs), as the
//! recipient's mail server sends them when it cannot deliver a copy.
//!
//! The sandbox inbox uses this to play a recipient whose address does not
//! exist; the classifier in [`crate::inbound`] reads what this writes
//! with the `read` submodule.
//!
//! The shape (RFC 3464 section 2, RFC 6522 for the container):
//!
//! ```text
//! Content-Type: multipart/report; report-type=delivery-status
//!   1. text/plain                 a human-readable explanation
//!   2. message/delivery-status    per-message then per-recipient fields
//!   3. text/rfc822-headers        the returned header section (RET=HDRS)
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
use crate::mdn::rfc822_headers_part;

/// Reading DSNs, for the classifier in [`crate::inbound`].
pub(crate) mod read;

/// One permanent failure to report.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    /// The reporting MTA's host name (`Reporting-MTA: dns; ...`, RFC 3464
    /// section 2.2.2); the DSN comes from `MAILER-DAEMON@` it.
    pub reporting_mta: &'a str,
    /// Where the DSN goes: the original's envelope sender, its VERP return
    /// path (RFC 3464 section 2: a DSN is sent to the envelope return
    /// address).
    pub return_path: &'a str,
    /// The recipient that failed (`Final-Recipient: rfc822; ...`, section
    /// 2.3.2).
    pub recipient: &'a EmailAddress,
    /// The enhanced status code (`Status`, section 2.3.4; RFC 3463), e.g.
    /// `5.1.1`. Must start with 5: this builds failures only.
    pub status: &'a str,
    /// The remote server's reply (`Diagnostic-Code: smtp; ...`, section
    /// 2.3.6), e.g. `550 5.1.1 <bob@x>: Recipient address rejected: User
    /// unknown`.
    pub smtp_diagnostic: &'a str,
    /// The original's header section, returned as `text/rfc822-headers`.
    pub original_headers: &'a [u8],
    /// The original's envelope id (`Original-Envelope-Id`, section 2.2.1),
    /// when the sender gave one.
    pub envelope_id: Option<&'a str>,
    /// The DSN's own Message-ID.
    pub message_id: &'a MessageId,
    /// When it was sent (and the last attempt).
    pub date: OffsetDateTime,
}

/// Builds the DSN as RFC 5322 bytes with CRLF line ends. It goes out with
/// a null envelope sender (`MAIL FROM:<>`, RFC 5321 section 4.5.5) so that
/// it can never bounce in turn.
pub fn build(f: &Failure<'_>) -> Result<Vec<u8>, MailError> {
    for (name, value) in [
        ("Reporting-MTA", f.reporting_mta),
        ("Status", f.status),
        ("Diagnostic-Code", f.smtp_diagnostic),
        ("Original-Envelope-Id", f.envelope_id.unwrap_or_default()),
        ("To", f.return_path),
    ] {
        if value.chars().any(char::is_control) {
            return Err(MailError::HeaderInjection { name: name.into() });
        }
    }
    // RFC 3463 section 2: class.subject.detail, class 5 for a permanent
    // failure (the only kind this builds).
    let status_ok = f.status.starts_with("5.")
        && f.status.split('.').count() == 3
        && f.status.split('.').all(|p| !p.is_empty() && p.len() <= 3)
        && f.status.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !status_ok {
        return Err(MailError::Build(format!(
            "{:?} is not a permanent-failure status (5.x.y, RFC 3463)",
            f.status
        )));
    }
    let date = Date::new(f.date.unix_timestamp()).to_rfc822();
    let human = format!(
        "This is the mail system at host {host}.\r\n\r\n\
         I'm sorry to have to inform you that your message could not\r\n\
         be delivered to one or more recipients. It's attached below.\r\n\r\n\
         <{rcpt}>: host {host} said: {diag}\r\n",
        host = f.reporting_mta,
        rcpt = f.recipient.as_str(),
        diag = f.smtp_diagnostic,
    );
    // RFC 3464 section 2.1: the per-message fields, an empty line, then one
    // group of per-recipient fields per recipient.
    let mut fields = String::from("Content-Type: message/delivery-status\r\n\r\n");
    fields.push_str(&format!("Reporting-MTA: dns; {}\r\n", f.reporting_mta));
    if let Some(envid) = f.envelope_id {
        fields.push_str(&format!("Original-Envelope-Id: {envid}\r\n"));
    }
    fields.push_str(&format!("Arrival-Date: {date}\r\n\r\n"));
    fields.push_str(&format!(
        "Final-Recipient: rfc822; {rcpt}\r\n\
         Original-Recipient: rfc822; {rcpt}\r\n\
         Action: failed\r\n\
         Status: {status}\r\n\
         Remote-MTA: dns; {host}\r\n\
         Diagnostic-Code: smtp; {diag}\r\n\
         Last-Attempt-Date: {date}\r\n",
        rcpt = f.recipient.as_str(),
        status = f.status,
        host = f.reporting_mta,
        diag = f.smtp_diagnostic,
    ));
    let mut parts = vec![
        MimePart::new(
            ContentType::new("text/plain").attribute("charset", "us-ascii"),
            human,
        ),
        MimePart::raw(fields.into_bytes()),
    ];
    if !f.original_headers.is_empty() {
        parts.push(MimePart::raw(rfc822_headers_part(f.original_headers)));
    }
    let body = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "delivery-status"),
        parts,
    );
    MessageBuilder::new()
        .from(Address::new_address(
            Some("Mail Delivery System"),
            format!("MAILER-DAEMON@{}", f.reporting_mta),
        ))
        .to(Address::new_address(None::<&str>, f.return_path))
        .subject("Undelivered Mail Returned to Sender")
        .date(Date::new(f.date.unix_timestamp()))
        .message_id(f.message_id.as_str())
        // RFC 3834 section 5: a DSN is an automatic response.
        .header("Auto-Submitted", Raw::new("auto-replied"))
        .body(body)
        .write_to_vec()
        .map_err(|e| MailError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::{Action, Kind, classify};
    use mailtrail_domain::Reason;

    fn failure<'a>(
        rcpt: &'a EmailAddress,
        id: &'a MessageId,
        headers: &'a [u8],
        status: &'a str,
    ) -> Failure<'a> {
        Failure {
            reporting_mta: "mx.recipient.test",
            return_path: "bounces+TOKEN123@sender.test",
            recipient: rcpt,
            status,
            smtp_diagnostic: "550 5.1.1 <bob@recipient.test>: Recipient address rejected: User unknown",
            original_headers: headers,
            envelope_id: Some("0123abcd"),
            message_id: id,
            date: OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap(),
        }
    }

    #[test]
    fn a_built_bounce_classifies_as_a_hard_userunknown_failure() {
        let rcpt = EmailAddress::parse("bob@recipient.test").unwrap();
        let id = MessageId::parse("dsn1@mx.recipient.test").unwrap();
        let headers = b"Return-Path: <bounces+TOKEN123@sender.test>\r\nFrom: ann@sender.test\r\nTo: bob@recipient.test\r\nSubject: Hello\r\nMessage-ID: <orig1@sender.test>\r\n\r\n";
        let raw = build(&failure(&rcpt, &id, headers, "5.1.1")).unwrap();
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(text.contains("multipart/report"), "{text}");
        assert!(text.contains("delivery-status"));
        assert!(
            text.contains("To: <bounces+TOKEN123@sender.test>")
                || text.contains("To: bounces+TOKEN123@sender.test"),
            "{text}"
        );
        assert!(text.contains("Status: 5.1.1\r\n"));
        assert!(text.contains("Action: failed\r\n"));
        assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1"));
        assert!(text.contains("Original-Envelope-Id: 0123abcd\r\n"));
        assert!(text.contains("Content-Type: text/rfc822-headers\r\n"));

        let c = classify(&raw);
        assert_eq!(c.kind, Kind::Bounce);
        assert_eq!(c.original_message_id.as_deref(), Some("orig1@sender.test"));
        assert_eq!(c.verp_token.as_deref(), Some("TOKEN123"));
        assert_eq!(c.recipients.len(), 1);
        let r = &c.recipients[0];
        assert_eq!(r.address.as_deref(), Some("bob@recipient.test"));
        assert_eq!(r.action, Some(Action::Failed));
        assert_eq!(r.status.as_deref(), Some("5.1.1"));
        assert_eq!(r.reply_code.as_deref(), Some("550"));
        assert_eq!(r.reason, Reason::UserUnknown);
        assert!(r.hard);
    }

    #[test]
    fn only_permanent_statuses_and_clean_values_are_built() {
        let rcpt = EmailAddress::parse("bob@recipient.test").unwrap();
        let id = MessageId::parse("dsn1@mx.recipient.test").unwrap();
        for bad in ["4.2.2", "5.1", "5.x.1", "", "5.1.1\r\nX: y"] {
            assert!(build(&failure(&rcpt, &id, b"", bad)).is_err(), "{bad:?}");
        }
        let mut f = failure(&rcpt, &id, b"", "5.1.1");
        f.smtp_diagnostic = "550 no\r\nBcc: evil@x.test";
        assert!(matches!(build(&f), Err(MailError::HeaderInjection { .. })));
    }
}

//! Complaints: RFC 5965 Abuse Reporting Format feedback reports, read
//! through `mail_auth::report::Feedback`.
//!
//! The feedback type is also taken verbatim from the `Feedback-Type` field
//! (section 3.1), because mail-auth maps the registered types it does not
//! model (`opt-out`, RFC 6650's `not-spam` spelling variants) to "other".

use mail_auth::report::Feedback;

use super::{fields, text};

/// What a feedback report says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Report {
    pub feedback_type: Option<String>,
    /// Every `Original-Rcpt-To` (RFC 5965 section 3.2: "optional, may
    /// appear more than once", one per recipient the report is about).
    pub original_rcpt_to: Vec<String>,
    pub original_mail_from: Option<String>,
}

/// Parses the body of a `message/feedback-report` part.
pub(crate) fn parse(part: &[u8]) -> Report {
    let text = text::lossy(part);
    let groups = fields::groups(&text);
    let raw_type = groups
        .iter()
        .find_map(|g| fields::get(g, "feedback-type"))
        .map(|t| t.trim().to_ascii_lowercase());
    let parsed = Feedback::parse_arf(part);
    let feedback_type = raw_type.or_else(|| {
        parsed.as_ref().map(|f| {
            use mail_auth::report::FeedbackType::*;
            match f.feedback_type() {
                Abuse => "abuse",
                AuthFailure => "auth-failure",
                Fraud => "fraud",
                NotSpam => "not-spam",
                Virus => "virus",
                Other => "other",
            }
            .to_owned()
        })
    });
    let addr = |v: Option<&str>| v.and_then(fields::typed_address);
    let mut rcpt: Vec<String> = groups
        .iter()
        .flat_map(|g| {
            g.iter()
                .filter(|f| f.name == "original-rcpt-to" || f.name == "removal-recipient")
                .filter_map(|f| fields::typed_address(&f.value))
        })
        .collect();
    rcpt.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    if rcpt.is_empty()
        && let Some(a) = parsed.as_ref().and_then(|f| addr(f.original_rcpt_to()))
    {
        rcpt.push(a);
    }
    Report {
        feedback_type,
        original_rcpt_to: rcpt,
        original_mail_from: parsed.as_ref().and_then(|f| addr(f.original_mail_from())),
    }
}

/// Microsoft's Junk Mail Reporting Program (JMRP, Outlook.com / Hotmail)
/// sends its complaints without a `message/feedback-report` part: the
/// subject is "complaint about message from <IP>" and the attached copy of
/// the reported message carries `X-HmXmrOriginalRecipient`, the Outlook.com
/// user who marked it as junk. `recipient` is that header's address.
pub(crate) fn jmrp(subject: &str, recipient: Option<String>) -> Option<Report> {
    let subject = subject.trim_start().to_ascii_lowercase();
    let subject = subject
        .strip_prefix("fw:")
        .or_else(|| subject.strip_prefix("fwd:"))
        .unwrap_or(&subject)
        .trim_start();
    if !subject.starts_with("complaint about message from") {
        return None;
    }
    Some(Report {
        feedback_type: Some("abuse".to_owned()),
        original_rcpt_to: vec![recipient?],
        original_mail_from: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_and_addresses() {
        let r = parse(
            b"Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n\
              Original-Mail-From: <somespammer@example.net>\r\n\
              Original-Rcpt-To: <user@example.com>\r\n",
        );
        assert_eq!(r.feedback_type.as_deref(), Some("abuse"));
        assert_eq!(r.original_rcpt_to, vec!["user@example.com".to_owned()]);
        assert_eq!(
            r.original_mail_from.as_deref(),
            Some("somespammer@example.net")
        );
        let r = parse(
            b"Feedback-Type: abuse\nVersion: 1\nOriginal-Rcpt-To: a@example.com\n\
              Original-Rcpt-To: b@example.net\n",
        );
        assert_eq!(r.original_rcpt_to, vec!["a@example.com", "b@example.net"]);
        let r = parse(b"Feedback-Type: opt-out\nVersion: 1\n");
        assert_eq!(r.feedback_type.as_deref(), Some("opt-out"));
    }
}

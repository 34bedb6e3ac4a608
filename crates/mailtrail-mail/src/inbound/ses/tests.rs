//! Synthetic notifications written from AWS's documented shape ("Amazon
//! SNS notification contents for Amazon SES"), not copied from any mail.

use super::*;
use crate::inbound::classify;

const MAIL: &str = r#""mail": {
    "timestamp": "2026-01-02T03:04:05.000Z",
    "source": "news@mailtrail.example",
    "messageId": "0100018c-ses-own-id-000000",
    "destination": ["ann@example.com", "bob@example.org"],
    "headersTruncated": false,
    "headers": [
      {"name": "From", "value": "news@mailtrail.example"},
      {"name": "Message-ID", "value": "<m42@mailtrail.example>"}
    ],
    "commonHeaders": {"from": ["news@mailtrail.example"], "messageId": "<m42@mailtrail.example>"}
  }"#;

fn bounce(kind: &str, sub: &str, recipients: &str) -> String {
    format!(
        r#"{{"notificationType": "Bounce",
  "bounce": {{"bounceType": "{kind}", "bounceSubType": "{sub}",
    "bouncedRecipients": [{recipients}],
    "timestamp": "2026-01-02T03:04:06.000Z", "feedbackId": "0100-feedback",
    "remoteMtaIp": "192.0.2.1", "reportingMTA": "dsn; a1-2.smtp-out.amazonses.com"}},
  {MAIL}}}"#
    )
}

fn as_mail(body: &str) -> Vec<u8> {
    format!(
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\r\n\
         To: bounces@mailtrail.example\r\n\
         Subject: AWS Notification Message\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\r\n{body}"
    )
    .into_bytes()
}

#[test]
fn a_permanent_bounce_with_two_recipients() {
    let n = bounce(
        "Permanent",
        "General",
        r#"{"emailAddress": "ann@example.com", "action": "failed", "status": "5.1.1",
            "diagnosticCode": "smtp; 550 5.1.1 <ann@example.com>: user unknown"},
           {"emailAddress": "bob@example.org", "action": "failed", "status": "5.7.1",
            "diagnosticCode": "smtp; 550 5.7.1 Message rejected as spam"}"#,
    );
    let c = classify(&as_mail(&n));
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(
        c.original_message_id.as_deref(),
        Some("m42@mailtrail.example")
    );
    assert_eq!(c.recipients.len(), 2);
    let ann = &c.recipients[0];
    assert_eq!(ann.address.as_deref(), Some("ann@example.com"));
    assert_eq!(ann.reason, Reason::UserUnknown);
    assert!(ann.hard);
    assert_eq!(ann.status.as_deref(), Some("5.1.1"));
    assert_eq!(ann.reply_code.as_deref(), Some("550"));
    assert_eq!(ann.action, Some(Action::Failed));
    let bob = &c.recipients[1];
    assert_eq!(bob.reason, Reason::SpamDetected);
    assert!(!bob.hard);
}

#[test]
fn the_subtype_decides_when_no_dsn_was_returned() {
    let cases = [
        ("Permanent", "NoEmail", Reason::UserUnknown, true),
        ("Permanent", "Suppressed", Reason::Suppressed, false),
        (
            "Permanent",
            "OnAccountSuppressionList",
            Reason::Suppressed,
            false,
        ),
        ("Transient", "MailboxFull", Reason::MailboxFull, false),
        ("Transient", "MessageTooLarge", Reason::MesgTooBig, false),
        ("Transient", "ContentRejected", Reason::ContentError, false),
        (
            "Transient",
            "AttachmentRejected",
            Reason::ContentError,
            false,
        ),
        ("Undetermined", "Undetermined", Reason::Undefined, false),
    ];
    for (kind, sub, reason, hard) in cases {
        let n = bounce(kind, sub, r#"{"emailAddress": "ann@example.com"}"#);
        let c = read(&n).unwrap_or_else(|| panic!("{kind}/{sub} not read"));
        assert_eq!(c.kind, Kind::Bounce);
        assert_eq!(c.recipients[0].reason, reason, "{kind}/{sub}");
        assert_eq!(c.recipients[0].hard, hard, "{kind}/{sub}");
    }
}

#[test]
fn a_complaint_names_its_feedback_type() {
    let n = format!(
        r#"{{"notificationType": "Complaint",
  "complaint": {{"userAgent": "ExampleCorp Feedback Loop (V0.01)",
    "complainedRecipients": [{{"emailAddress": "ann@example.com"}}],
    "complaintFeedbackType": "abuse", "arrivalDate": "2026-01-02T03:04:07.000Z",
    "timestamp": "2026-01-02T03:04:08.000Z", "feedbackId": "0100-feedback"}},
  {MAIL}}}"#
    );
    let c = classify(&as_mail(&n));
    assert_eq!(c.kind, Kind::Complaint);
    assert_eq!(c.feedback_type.as_deref(), Some("abuse"));
    assert_eq!(c.recipients[0].address.as_deref(), Some("ann@example.com"));
    assert_eq!(c.recipients[0].reason, Reason::Feedback);
}

#[test]
fn a_delivery_and_event_publishing_names() {
    let n = format!(
        r#"{{"eventType": "Delivery",
  "delivery": {{"timestamp": "2026-01-02T03:04:09.000Z", "processingTimeMillis": 546,
    "recipients": ["bob@example.org"], "smtpResponse": "250 ok", "reportingMTA": "a8-70.smtp-out.amazonses.com"}},
  {MAIL}}}"#
    );
    let c = read(&n).expect("read");
    assert_eq!(c.kind, Kind::DeliveryReport);
    assert_eq!(c.recipients[0].reason, Reason::Delivered);
}

#[test]
fn sns_envelope_of_an_email_json_subscription() {
    let inner = bounce(
        "Permanent",
        "General",
        r#"{"emailAddress": "ann@example.com", "action": "failed", "status": "5.1.1", "diagnosticCode": "smtp; 550 5.1.1 no such user"}"#,
    );
    let envelope = serde_json::json!({
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-bounces",
        "Message": inner,
        "Timestamp": "2026-01-02T03:04:10.000Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
    })
    .to_string();
    let c = classify(&as_mail(&envelope));
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients[0].reason, Reason::UserUnknown);
    assert_eq!(
        c.original_message_id.as_deref(),
        Some("m42@mailtrail.example")
    );
}

#[test]
fn other_json_and_broken_json_are_not_notifications() {
    assert!(read(r#"{"mail": 1}"#).is_none());
    assert!(read(r#"{"notificationType": "Bounce", "mail": {}"#).is_none());
    assert!(read(r#"{"Type": "SubscriptionConfirmation", "Message": "x"}"#).is_none());
    assert!(read(r#"{"notificationType": "Bounce", "mail": {}}"#).is_none());
    assert!(read("Hello, see {\"mail\": 1}").is_none());
}

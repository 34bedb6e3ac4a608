//! SNS signature verification against a configured certificate. The
//! fixtures in `tests/sns/` are synthetic: a self-signed test certificate
//! (`openssl req -x509 -newkey rsa:2048 -subj /CN=sns.test.invalid`) and
//! two messages in SNS's documented shape, each signed with that
//! certificate's key over SNS's string to sign (`openssl dgst -sha256
//! -sign` for SignatureVersion 2, `-sha1` for 1). The key is not kept.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use mailtrail_mail::inbound::ses::{SnsError, SnsMessage, verify};
use mailtrail_mail::inbound::{Kind, classify};

const CERT: &str = include_str!("sns/test-cert.pem");
const NOTIFICATION: &str = include_str!("sns/notification.json");
const CONFIRMATION: &str = include_str!("sns/confirmation.json");

#[test]
fn a_signed_notification_verifies_and_its_message_is_read() {
    let m = verify(NOTIFICATION.as_bytes(), CERT).expect("verifies");
    let SnsMessage::Notification { topic_arn, message } = m else {
        panic!("not a notification: {m:?}");
    };
    assert_eq!(topic_arn, "arn:aws:sns:us-east-1:123456789012:ses-bounces");
    // The same JSON read as a mailed notification body.
    let mail = format!("From: no-reply@sns.amazonaws.com\r\nSubject: x\r\n\r\n{message}");
    let c = classify(mail.as_bytes());
    assert_eq!(c.kind, Kind::Bounce);
    assert_eq!(c.recipients[0].address.as_deref(), Some("ann@example.com"));
    assert_eq!(
        c.original_message_id.as_deref(),
        Some("m5@mailtrail.example")
    );
}

#[test]
fn a_signed_subscription_confirmation_names_its_url() {
    let m = verify(CONFIRMATION.as_bytes(), CERT).expect("verifies (SignatureVersion 1)");
    let SnsMessage::SubscriptionConfirmation { subscribe_url, .. } = m else {
        panic!("not a confirmation: {m:?}");
    };
    assert!(
        subscribe_url
            .starts_with("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription")
    );
}

#[test]
fn any_change_breaks_the_signature() {
    let forged = NOTIFICATION.replace("ann@example.com", "eve@example.com");
    assert_eq!(verify(forged.as_bytes(), CERT), Err(SnsError::BadSignature));
    let retyped = NOTIFICATION.replace(
        "\"Type\": \"Notification\"",
        "\"Type\": \"UnsubscribeConfirmation\"",
    );
    assert!(verify(retyped.as_bytes(), CERT).is_err());
}

#[test]
fn bad_input_gets_a_specific_error() {
    assert!(matches!(
        verify(b"not json", CERT),
        Err(SnsError::Malformed(_))
    ));
    assert!(matches!(
        verify(br#"{"Type": "Notification"}"#, CERT),
        Err(SnsError::Malformed(_))
    ));
    assert!(matches!(
        verify(br#"{"Type": "Other"}"#, CERT),
        Err(SnsError::UnknownType(_))
    ));
    let v3 = NOTIFICATION.replace("\"SignatureVersion\": \"2\"", "\"SignatureVersion\": \"3\"");
    assert!(matches!(
        verify(v3.as_bytes(), CERT),
        Err(SnsError::UnknownVersion(_))
    ));
    assert!(matches!(
        verify(NOTIFICATION.as_bytes(), "not a certificate"),
        Err(SnsError::Certificate(_))
    ));
}

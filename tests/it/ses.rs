//! `POST /inbound/ses` against the real server: SNS messages signed with
//! a certificate made here (openssl command line), an SES bounce for a
//! message sent through the sandbox, and the refusals (forged signature,
//! malformed JSON, a SubscribeURL that is not SNS's, no certificate).

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::support::{Db, TestApp};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ses-bounces";

/// Runs the openssl command line with `stdin`; its output.
fn openssl(dir: &Path, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("this test needs the openssl command (Debian package openssl; scripts/test.sh installs it)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A self-signed certificate (`cert.pem`) and its key (`key.pem`) in
/// `dir`, standing for the one SNS signs with.
fn signing_certificate(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=sns.test.invalid",
        ],
        b"",
    );
}

/// An SNS message of `fields`, signed as SNS signs (SignatureVersion 2:
/// RSA PKCS #1 v1.5 over SHA-256 of `Name\nvalue\n` for the signed
/// fields in order).
fn signed(dir: &Path, fields: &[(&str, &str)]) -> Value {
    let kind = fields.iter().find(|(n, _)| *n == "Type").unwrap().1;
    let order: &[&str] = if kind == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    let mut to_sign = String::new();
    for name in order {
        if let Some((_, v)) = fields.iter().find(|(n, _)| n == name) {
            to_sign.push_str(&format!("{name}\n{v}\n"));
        }
    }
    let sig = openssl(
        dir,
        &["dgst", "-sha256", "-sign", "key.pem"],
        to_sign.as_bytes(),
    );
    let mut m: serde_json::Map<String, Value> = fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), json!(v)))
        .collect();
    m.insert("SignatureVersion".into(), json!("2"));
    m.insert(
        "Signature".into(),
        json!(base64::engine::general_purpose::STANDARD.encode(sig)),
    );
    m.insert(
        "SigningCertURL".into(),
        json!("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"),
    );
    Value::Object(m)
}

async fn post_sns(app: &TestApp, kind: &str, body: &str) -> (u16, Value) {
    let r = app
        .client
        .post(app.url("/inbound/ses"))
        .header("content-type", "text/plain; charset=UTF-8")
        .header("x-amz-sns-message-type", kind)
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn bounce_for(message_id: &str, address: &str) -> String {
    json!({
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [{
                "emailAddress": address,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown"
            }]
        },
        "mail": {
            "messageId": "0100018c-ses-own-id",
            "commonHeaders": {"messageId": format!("<{message_id}>")}
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_ses_bounces_and_complaints_over_sns_reach_the_recipient() {
    ses_over_sns(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_ses_bounces_and_complaints_over_sns_reach_the_recipient_on_postgres() {
    ses_over_sns(Db::Postgres).await;
}

async fn ses_over_sns(db: Db) {
    let keys = tempfile::tempdir().unwrap();
    signing_certificate(keys.path());
    let cert = keys.path().join("cert.pem");
    let app = TestApp::spawn_with(db, |s| {
        s.ses_sns_certificate = Some(cert);
        s.ses_sns_topic_arns = vec![TOPIC.to_owned()];
    })
    .await;

    let (code, sent) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["bob@example.test"],
                    "subject": "Through SES", "text": "Hi"}),
        )
        .await;
    assert_eq!(code, 202, "{sent}");
    let id = sent["id"].as_str().unwrap().to_owned();
    let message_id = sent["message_id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;

    let message = bounce_for(message_id.trim_matches(['<', '>']), "bob@example.test");
    let notification = signed(
        keys.path(),
        &[
            ("Type", "Notification"),
            ("MessageId", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b"),
            ("TopicArn", TOPIC),
            ("Subject", "Amazon SES Email Event Notification"),
            ("Message", &message),
            ("Timestamp", "2026-12-05T08:00:00.000Z"),
        ],
    );

    // Tampered: the signed Message altered after signing. 403, nothing
    // stored, no event.
    let mut forged = notification.clone();
    forged["Message"] = json!(message.replace("\"failed\"", "\"delayed\""));
    let (code, body) = post_sns(&app, "Notification", &forged.to_string()).await;
    assert_eq!(code, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Signature does not verify"),
        "{body}"
    );

    // Malformed: not JSON, a field of the wrong type, a signed field
    // missing. Each a 400 naming the field.
    let (code, body) = post_sns(&app, "Notification", "{\"Type\": ").await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["field"], "body", "{body}");
    let mut wrong = notification.clone();
    wrong["MessageId"] = json!(42);
    let (code, body) = post_sns(&app, "Notification", &wrong.to_string()).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["field"], "MessageId", "{body}");
    let mut missing = notification.clone();
    missing.as_object_mut().unwrap().remove("TopicArn");
    let (code, body) = post_sns(&app, "Notification", &missing.to_string()).await;
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["field"], "TopicArn", "{body}");

    // Another topic, signed with the same certificate (SNS signs every
    // account's topics with it): refused.
    let elsewhere = signed(
        keys.path(),
        &[
            ("Type", "Notification"),
            ("MessageId", "00000000-0000-0000-0000-000000000001"),
            ("TopicArn", "arn:aws:sns:us-east-1:999999999999:not-ours"),
            ("Message", &message),
            ("Timestamp", "2026-12-05T08:00:00.000Z"),
        ],
    );
    let (code, body) = post_sns(&app, "Notification", &elsewhere.to_string()).await;
    assert_eq!(code, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--ses-sns-topic-arn"),
        "{body}"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
    assert_eq!(msg["recipients"][0]["status"], "delivered", "{msg}");

    // The genuine one: stored, processed as mailed SES notifications are.
    let (code, body) = post_sns(&app, "Notification", &notification.to_string()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "stored", "{body}");
    let msg = app
        .wait_for(&id, Duration::from_secs(10), |s| s == "failed")
        .await;
    let bob = &msg["recipients"][0];
    assert_eq!(bob["status_reason"]["reason"], "userunknown", "{bob}");
    assert_eq!(bob["status_reason"]["enhanced_status"], "5.1.1", "{bob}");
    let bounces: Vec<&Value> = bob["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "failed")
        .collect();
    assert_eq!(bounces.len(), 1, "{bob}");
    assert_eq!(bounces[0]["data"]["source"], "sns", "{bob}");
    let (_, supp) = app.get("/api/v1/suppressions").await;
    assert!(
        supp["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["address"] == "bob@example.test"),
        "{supp}"
    );

    // Delivered again (SNS retries when our answer was lost): the same
    // MessageId is stored once, so the recipient keeps one bounce.
    let (code, body) = post_sns(&app, "Notification", &notification.to_string()).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["status"], "duplicate", "{body}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
    let bob = &msg["recipients"][0];
    let failed = bob["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "failed")
        .count();
    assert_eq!(failed, 1, "{bob}");
    assert_eq!(bob["status_reason"]["reason"], "userunknown", "{bob}");

    // A complaint for another message: `complained`, with the feedback
    // type, and the address suppressed.
    let (code, sent) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["carol@example.test"],
                    "subject": "Through SES again", "text": "Hi"}),
        )
        .await;
    assert_eq!(code, 202, "{sent}");
    let second = sent["id"].as_str().unwrap().to_owned();
    app.wait_for(&second, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let complaint = json!({
        "notificationType": "Complaint",
        "complaint": {
            "complainedRecipients": [{"emailAddress": "carol@example.test"}],
            "complaintFeedbackType": "abuse"
        },
        "mail": {"headers": [{"name": "Message-ID", "value": sent["message_id"]}]}
    })
    .to_string();
    let complaint = signed(
        keys.path(),
        &[
            ("Type", "Notification"),
            ("MessageId", "00000000-0000-0000-0000-000000000003"),
            ("TopicArn", TOPIC),
            ("Message", &complaint),
            ("Timestamp", "2026-12-05T08:01:00.000Z"),
        ],
    );
    let (code, body) = post_sns(&app, "Notification", &complaint.to_string()).await;
    assert_eq!(code, 200, "{body}");
    let msg = app
        .wait_for(&second, Duration::from_secs(10), |s| s == "complained")
        .await;
    let carol = &msg["recipients"][0];
    let event = carol["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "complained")
        .unwrap_or_else(|| panic!("no complained event: {carol}"));
    assert_eq!(event["data"]["feedback_type"], "abuse", "{carol}");
    assert_eq!(event["data"]["source"], "sns", "{carol}");
    let (_, supp) = app.get("/api/v1/suppressions").await;
    assert!(
        supp["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["address"] == "carol@example.test"),
        "{supp}"
    );

    // A subscription confirmation whose SubscribeURL is not SNS's host
    // is not visited: 403, and the would-be target sees no connection.
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://{}/?Action=ConfirmSubscription&Token=t",
        target.local_addr().unwrap()
    );
    let confirmation = signed(
        keys.path(),
        &[
            ("Type", "SubscriptionConfirmation"),
            ("MessageId", "00000000-0000-0000-0000-000000000002"),
            ("Token", "t"),
            ("TopicArn", TOPIC),
            ("Message", "You have chosen to subscribe to the topic."),
            ("SubscribeURL", &url),
            ("Timestamp", "2026-12-05T08:00:00.000Z"),
        ],
    );
    let (code, body) = post_sns(&app, "SubscriptionConfirmation", &confirmation.to_string()).await;
    assert_eq!(code, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sns.us-east-1.amazonaws.com"),
        "{body}"
    );
    let connected = tokio::time::timeout(Duration::from_millis(500), target.accept()).await;
    assert!(connected.is_err(), "the SubscribeURL was visited");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_certificate_the_route_says_what_to_configure() {
    let app = TestApp::spawn().await;
    let (code, body) = post_sns(&app, "Notification", "{}").await;
    assert_eq!(code, 404, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--ses-sns-certificate"),
        "{body}"
    );
    app.stop().await;
}

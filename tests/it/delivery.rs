//! Delivery through a real Postfix smarthost on loopback: a local user's
//! copy lands in its Maildir, an unknown user is refused at RCPT, a stopped
//! relay defers and the copy goes out once it is back.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::support::postfix::Postfix;
use crate::support::{Db, TestApp};

/// An RSA-2048 key in PEM, made with the openssl command line.
fn rsa_key(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("dkim.pem");
    let out = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out"])
        .arg(&path)
        .output()
        .expect("this test needs the openssl command (Debian package openssl; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "openssl genpkey: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

async fn postfix_delivery(db: Db) {
    let postfix = Postfix::start(&["alice"]).expect("Postfix");
    let keydir = tempfile::tempdir().unwrap();
    let key = rsa_key(keydir.path());
    let relay = postfix.relay_url();
    let app = TestApp::spawn_with(db, |s| {
        s.relay = relay;
        s.dkim_domain = Some("example.test".into());
        s.dkim_selector = Some("mt".into());
        s.dkim_key = Some(key);
        s.bounce_domain = Some("bounce.example.test".into());
    })
    .await;

    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "sender@example.test", "to": ["alice@example.test", "nobody@example.test"], "subject": "Via Postfix", "text": "hello", "read_receipt": true}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let mid = body["message_id"].as_str().unwrap();
    let msg = app
        .wait_for(id, Duration::from_secs(30), |s| {
            s == "sent" || s == "failed"
        })
        .await;

    let alice = &msg["recipients"][0];
    assert_eq!(alice["status"], "sent", "{msg:#}");
    let nobody = &msg["recipients"][1];
    assert_eq!(nobody["status"], "failed", "{msg:#}");
    assert_eq!(nobody["status_reason"]["smtp_code"], 550, "{msg:#}");
    assert_eq!(
        nobody["status_reason"]["enhanced_status"], "5.1.1",
        "{msg:#}"
    );
    assert_eq!(nobody["status_reason"]["reason"], "userunknown", "{msg:#}");

    let copies = postfix
        .wait_for_maildir("alice", 1, Duration::from_secs(30))
        .expect("alice's copy");
    let raw = String::from_utf8_lossy(&copies[0]).into_owned();
    let parsed = mail_parser::MessageParser::default()
        .parse(copies[0].as_slice())
        .expect("parse");
    assert_eq!(parsed.message_id(), Some(mid));
    assert!(
        raw.contains("DKIM-Signature:") && raw.contains("d=example.test") && raw.contains("s=mt"),
        "{raw}"
    );
    assert!(raw.contains("Disposition-Notification-To:"), "{raw}");
    let rp = crate::support::return_path(&raw);
    assert!(
        rp.starts_with("bounces+") && rp.ends_with("@bounce.example.test"),
        "VERP return path, got {rp:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn postfix_smarthost_sqlite() {
    postfix_delivery(Db::Sqlite).await;
}

#[tokio::test]
async fn postfix_smarthost_postgres() {
    postfix_delivery(Db::Postgres).await;
}

#[tokio::test]
async fn stopped_relay_defers_then_sends() {
    let postfix = Postfix::start(&["alice"]).expect("Postfix");
    let relay = postfix.relay_url();
    postfix.stop().expect("stop postfix");
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.relay = relay;
        s.retry_initial_secs = 1;
        s.retry_max_delay_secs = 1;
    })
    .await;
    let (code, body) = app
        .post("/api/v1/messages", &json!({"from": "s@example.test", "to": ["alice@example.test"], "subject": "Later", "text": "t"}))
        .await;
    assert_eq!(code, 202);
    let id = body["id"].as_str().unwrap();
    let msg = app
        .wait_for(id, Duration::from_secs(20), |s| s == "deferred")
        .await;
    let reason = &msg["recipients"][0]["status_reason"];
    assert_eq!(reason["reason"], "networkerror", "{msg:#}");

    postfix.restart().expect("restart postfix");
    let msg = app
        .wait_for(id, Duration::from_secs(30), |s| s == "sent")
        .await;
    let kinds: Vec<&str> = msg["recipients"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"queued"));
    assert!(kinds.contains(&"deferred"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"sent"));
    postfix
        .wait_for_maildir("alice", 1, Duration::from_secs(30))
        .expect("copy arrives after the relay is back");
    app.stop().await;
}

#[tokio::test]
async fn expired_after_max_age() {
    let postfix = Postfix::start(&["alice"]).expect("Postfix");
    let relay = postfix.relay_url();
    postfix.stop().expect("stop postfix");
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.relay = relay;
        s.retry_initial_secs = 1;
        s.retry_max_delay_secs = 1;
        s.retry_max_age_secs = 2;
    })
    .await;
    let (_, body) = app
        .post("/api/v1/messages", &json!({"from": "s@example.test", "to": ["alice@example.test"], "subject": "Never", "text": "t"}))
        .await;
    let msg = app
        .wait_for(body["id"].as_str().unwrap(), Duration::from_secs(30), |s| {
            s == "failed"
        })
        .await;
    assert_eq!(
        msg["recipients"][0]["status_reason"]["reason"], "expired",
        "{msg:#}"
    );
    app.stop().await;
}

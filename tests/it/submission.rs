//! SMTP submission with real clients: `swaks` (STARTTLS, AUTH PLAIN) and
//! Python's `smtplib` (implicit TLS, AUTH LOGIN, a multipart message with
//! an attachment and a Bcc); every refusal with its RFC 3463 code and
//! nothing stored for it; AUTH refused before STARTTLS off loopback.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mailtrail_domain::EmailAddress;
use mailtrail_domain::credentials::hash_api_key;
use serde_json::Value;

use crate::support::{Db, TestApp};

/// A self-signed certificate and key made with the `openssl` command.
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

async fn app_with(
    bind: IpAddr,
    configure: impl FnOnce(&mut mailtrail::config::Settings),
) -> TestApp {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.smtp_submission = Some(SocketAddr::new(bind, 0));
        s.smtps_submission = Some(SocketAddr::new(bind, 0));
        s.submission_cert = Some(cert);
        s.submission_key = Some(key);
        configure(s);
    })
    .await;
    // The files were read at start-up.
    drop(certs);
    app
}

fn swaks(args: &[&str]) -> (bool, String) {
    let out = Command::new("swaks")
        .args(args)
        .output()
        .expect("swaks (Debian packages swaks libnet-ssleay-perl libio-socket-ssl-perl; scripts/test.sh installs them)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The stored message's id from a `250 2.0.0 queued as <id> <message-id>`.
fn queued_id(transcript: &str) -> String {
    let at = transcript
        .find("queued as ")
        .unwrap_or_else(|| panic!("no queued reply in:\n{transcript}"));
    transcript[at + 10..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

async fn message_count(app: &TestApp) -> usize {
    let (code, page) = app.get("/api/v1/messages").await;
    assert_eq!(code, 200, "{page}");
    page["data"].as_array().map_or(0, Vec::len)
}

async fn copies_of(app: &TestApp, id: &str) -> Vec<Value> {
    let (code, copies) = app.get("/api/v1/sandbox/messages").await;
    assert_eq!(code, 200, "{copies}");
    copies["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["message_id"] == id)
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn swaks_with_starttls_and_auth_plain_sends_with_bcc_and_settings_removed() {
    let app = app_with("127.0.0.1".parse().unwrap(), |_| {}).await;
    let server = app.submission.unwrap().to_string();
    let (ok, out) = swaks(&[
        "--server",
        &server,
        "--tls",
        "--auth",
        "PLAIN",
        "--auth-user",
        "anyone",
        "--auth-password",
        &app.key,
        "--from",
        "app@example.test",
        "--to",
        "ann@example.test,hidden@example.test",
        "--header",
        "From: Shop <app@example.test>",
        "--header",
        "To: Ann <ann@example.test>",
        "--header",
        "Subject: Your order",
        "--header",
        "X-Mailtrail-Metadata-Order: 1042",
        "--header",
        "X-Mailtrail-Tag: orders",
        "--header",
        "X-Mailtrail-Track-Opens: false",
        "--header",
        "X-Campaign: spring",
        "--body",
        "Thanks for your order.",
    ]);
    assert!(ok, "swaks failed:\n{out}");
    assert!(out.contains("250 2.0.0 queued as"), "{out}");
    let id = queued_id(&out);
    let msg = app
        .wait_for(&id, Duration::from_secs(30), |s| s == "delivered")
        .await;
    assert_eq!(msg["from"]["address"], "app@example.test", "{msg:#}");
    assert_eq!(msg["subject"], "Your order");
    assert_eq!(msg["metadata"]["Order"], "1042");
    assert_eq!(msg["tag"], "orders", "{msg:#}");
    let kinds: Vec<(String, String)> = msg["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("ann@example.test".to_owned(), "to".to_owned()),
            ("hidden@example.test".to_owned(), "bcc".to_owned())
        ]
    );
    let copies = copies_of(&app, &id).await;
    assert_eq!(copies.len(), 2, "{copies:#?}");
    let message_id = msg["message_id"].as_str().unwrap();
    for c in &copies {
        let raw = c["raw"].as_str().unwrap();
        assert!(!raw.to_ascii_lowercase().contains("x-mailtrail"), "{raw}");
        assert!(
            !raw.contains("hidden@example.test")
                || c["address"] == "hidden@example.test" && !raw.contains("To: hidden"),
            "{raw}"
        );
        assert!(raw.contains(message_id.trim_matches(['<', '>'])), "{raw}");
        assert!(raw.contains("X-Campaign: spring"), "{raw}");
        assert!(raw.contains("Thanks for your order."), "{raw}");
    }
    let ann = copies
        .iter()
        .find(|c| c["address"] == "ann@example.test")
        .unwrap();
    assert!(
        !ann["raw"].as_str().unwrap().contains("hidden@"),
        "a Bcc shows in a copy"
    );
    app.stop().await;
}

const SMTPLIB_MULTIPART: &str = r#"
import smtplib, ssl, sys
from email.message import EmailMessage
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
m = EmailMessage()
m["From"] = "Shop <app@example.test>"
m["To"] = "ann@example.test"
m["Subject"] = "Invoice"
m["X-Mailtrail-Track-Clicks"] = "true"
m.set_content("Your invoice is attached.")
m.add_alternative('<p>Your invoice: <a href="https://shop.example/i/7">view</a></p>', subtype="html")
m.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf", filename="invoice.pdf")
ctx = ssl._create_unverified_context()
with smtplib.SMTP_SSL(host, port, context=ctx) as s:
    s.ehlo()
    s.esmtp_features["auth"] = "LOGIN"
    s.login("whoever", key)
    refused = s.send_message(m, to_addrs=["ann@example.test", "boss@example.test"])
    print(s.noop())
    print("refused", refused)
"#;

#[tokio::test(flavor = "multi_thread")]
async fn smtplib_over_implicit_tls_sends_a_multipart_message_with_an_attachment() {
    let app = app_with("127.0.0.1".parse().unwrap(), |_| {}).await;
    let addr = app.submissions.unwrap();
    let out = python(
        SMTPLIB_MULTIPART,
        &[&addr.ip().to_string(), &addr.port().to_string(), &app.key],
    );
    assert!(out.contains("refused {}"), "{out}");
    let (_, page) = app.get("/api/v1/messages").await;
    let id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let msg = app
        .wait_for(&id, Duration::from_secs(30), |s| s == "delivered")
        .await;
    let kinds: Vec<&str> = msg["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["to", "bcc"], "{msg:#}");
    let copies = copies_of(&app, &id).await;
    assert_eq!(copies.len(), 2);
    for c in copies {
        let raw = c["raw"].as_str().unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(parsed.attachment_count(), 1, "{raw}");
        let att = parsed.attachment(0).unwrap();
        assert_eq!(att.contents(), b"%PDF-1.4 invoice");
        assert_eq!(
            mail_parser::MimeHeaders::attachment_name(att),
            Some("invoice.pdf")
        );
        let html = parsed.body_html(0).unwrap();
        // Only the HTML is instrumented: its link goes through mailtrail.
        assert!(
            !html.contains("href=\"https://shop.example/i/7\""),
            "{html}"
        );
        assert!(html.contains(&format!("http://{}/", app.addr)), "{html}");
        assert!(
            parsed
                .body_text(0)
                .unwrap()
                .contains("Your invoice is attached.")
        );
        assert!(!raw.to_ascii_lowercase().contains("x-mailtrail"), "{raw}");
    }
    app.stop().await;
}

/// Each refusal, sent over loopback without TLS (allowed there), with the
/// code the issue lists; only the one good message is stored.
const SMTPLIB_REFUSALS: &str = r#"
import smtplib, sys
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def show(name, reply):
    print(name, reply[0], reply[1].decode().split(" ")[0])
s = smtplib.SMTP(host, port)
s.ehlo()
show("size", (s.ehlo_resp and 0, b"") if False else (0, ("SIZE=" + str(s.esmtp_features.get("size"))).encode()))
show("mail-without-auth", s.docmd("MAIL", "FROM:<app@example.test>"))
show("bad-key", s.docmd("AUTH", "PLAIN AHVzZXIAbm90LWEta2V5"))
s.login("u", key)
show("too-big-declared", s.docmd("MAIL", "FROM:<app@example.test> SIZE=99999999"))
show("mail", s.docmd("MAIL", "FROM:<app@example.test>"))
show("suppressed", s.docmd("RCPT", "TO:<gone@example.test>"))
show("bad-address", s.docmd("RCPT", "TO:<not an address>"))
show("rcpt", s.docmd("RCPT", "TO:<ann@example.test>"))
show("data", s.docmd("DATA"))
s.send(b"From: app@example.test\r\nSubject: =?utf-8?q?hi=0D=0ABcc:_evil@example.test?=\r\n\r\ninjected\r\n.\r\n")
show("injection", s.getreply())
s.docmd("MAIL", "FROM:<app@example.test>"); s.docmd("RCPT", "TO:<ann@example.test>"); s.docmd("DATA")
s.send(b"From: app@example.test\r\nSubject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 80 + b".\r\n")
show("too-big", s.getreply())
s.docmd("MAIL", "FROM:<app@example.test>"); s.docmd("RCPT", "TO:<ann@example.test>"); s.docmd("DATA")
s.send(b"Subject: no sender\r\n\r\nbody\r\n.\r\n")
show("no-from", s.getreply())
s.docmd("MAIL", "FROM:<app@example.test>"); s.docmd("RCPT", "TO:<ann@example.test>"); s.docmd("DATA")
s.send(b"From: app@example.test\r\nSubject: fine\r\n\r\nbody\r\n.\r\n")
show("good", s.getreply())
show("rate", s.docmd("MAIL", "FROM:<app@example.test>"))
"#;

#[tokio::test(flavor = "multi_thread")]
async fn refusals_carry_their_enhanced_codes_and_store_nothing() {
    let app = app_with("127.0.0.1".parse().unwrap(), |s| {
        s.max_message_bytes = 64 * 1024;
        // Four MAIL commands pass; the fifth is over the limit.
        s.submission_rate_per_minute = 4;
    })
    .await;
    let owner = app
        .store
        .api_key_owner(&hash_api_key(&app.key))
        .await
        .unwrap()
        .unwrap();
    app.store
        .add_suppression(
            owner.org_id,
            &EmailAddress::parse("gone@example.test").unwrap(),
            "hard_bounce",
        )
        .await
        .unwrap();
    let addr = app.submission.unwrap();
    let out = python(
        SMTPLIB_REFUSALS,
        &[&addr.ip().to_string(), &addr.port().to_string(), &app.key],
    );
    let reply = |name: &str| -> String {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
            .to_owned()
    };
    assert_eq!(reply("size"), "0 SIZE=65536", "{out}");
    assert_eq!(reply("mail-without-auth"), "530 5.7.0", "{out}");
    assert_eq!(reply("bad-key"), "535 5.7.8", "{out}");
    assert_eq!(reply("too-big-declared"), "552 5.3.4", "{out}");
    assert_eq!(reply("suppressed"), "550 5.1.1", "{out}");
    assert_eq!(reply("bad-address"), "501 5.5.4", "{out}");
    assert_eq!(reply("rcpt"), "250 2.1.5", "{out}");
    assert_eq!(reply("injection"), "554 5.6.0", "{out}");
    assert_eq!(reply("too-big"), "552 5.3.4", "{out}");
    assert_eq!(
        reply("no-from"),
        "250 2.0.0",
        "MAIL FROM stands in for a missing From: {out}"
    );
    assert_eq!(reply("good"), "250 2.0.0", "{out}");
    assert_eq!(reply("rate"), "421 4.7.0", "{out}");
    assert_eq!(
        message_count(&app).await,
        2,
        "only the two good messages are stored"
    );
    app.stop().await;
}

/// The machine's own non-loopback address: the one a UDP socket would
/// use towards a public address (no packet is sent).
fn non_loopback_ip() -> IpAddr {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.connect("192.0.2.1:9")
        .or_else(|_| s.connect("8.8.8.8:53"))
        .expect("a non-loopback IPv4 route is needed to test AUTH before STARTTLS off loopback");
    let ip = s.local_addr().unwrap().ip();
    assert!(
        !ip.is_loopback(),
        "no non-loopback IPv4 address on this machine: the test needs one"
    );
    ip
}

const SMTPLIB_STARTTLS: &str = r#"
import smtplib, ssl, sys
host, port, key = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = smtplib.SMTP(host, port)
s.ehlo()
print("auth-offered-in-clear", s.has_extn("auth"))
r = s.docmd("AUTH", "PLAIN AHUA" )
print("auth-in-clear", r[0], r[1].decode().split(" ")[0])
s.starttls(context=ssl._create_unverified_context())
s.ehlo()
print("auth-offered-over-tls", s.has_extn("auth"))
print("login", s.login("u", key)[0])
"#;

#[tokio::test(flavor = "multi_thread")]
async fn auth_needs_starttls_off_loopback() {
    let ip = non_loopback_ip();
    let app = app_with(ip, |_| {}).await;
    let addr = app.submission.unwrap();
    let out = python(
        SMTPLIB_STARTTLS,
        &[&ip.to_string(), &addr.port().to_string(), &app.key],
    );
    assert!(out.contains("auth-offered-in-clear False"), "{out}");
    assert!(out.contains("auth-in-clear 530 5.7.0"), "{out}");
    assert!(out.contains("auth-offered-over-tls True"), "{out}");
    assert!(out.contains("login 235"), "{out}");
    app.stop().await;
}

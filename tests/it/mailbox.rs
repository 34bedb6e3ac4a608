//! `/api/v1/mailbox`: a user's own mailbox against a real Dovecot, tested
//! before it is saved, each failure a specific 400 that stores nothing;
//! the password sealed at rest, so that the database file alone does not
//! reveal it, and never shown again.

use serde_json::{Value, json};

use crate::support::dovecot::Dovecot;
use crate::support::{Db, TestApp};

const USER: &str = "alice@example.test";
const PASSWORD: &str = "Unguessable-Pass-8472";

async fn put(app: &TestApp, url: &str) -> (u16, Value) {
    let r = app
        .client
        .put(app.url("/api/v1/mailbox"))
        .bearer_auth(&app.key)
        .json(&json!({ "url": url }))
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> (&str, &str) {
    (
        body["error"]["code"].as_str().unwrap_or(""),
        body["error"]["field"].as_str().unwrap_or(""),
    )
}

/// Every byte of the SQLite database and its write-ahead log.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(app.dir.path().join("data")).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with("mailtrail.db") {
            all.extend(std::fs::read(e.path()).unwrap());
        }
    }
    assert!(!all.is_empty(), "no database file");
    all
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn a_mailbox_is_tested_before_it_is_saved_and_its_password_sealed() {
    let dovecot = Dovecot::start(&[(USER, PASSWORD)])
        .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    let app = TestApp::spawn().await;

    // Nothing connected yet.
    let (status, body) = app.get("/api/v1/mailbox").await;
    assert_eq!((status, code(&body).0), (404, "not_found"), "{body}");

    // A wrong password: refused, named, nothing stored.
    let (status, body) = put(&app, &dovecot.url(USER, "wrong-password")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), ("wrong_credentials", "url"), "{body}");
    assert!(!body.to_string().contains("wrong-password"), "{body}");

    // A folder that does not exist.
    let no_folder = dovecot.url(USER, PASSWORD).replace("/INBOX", "/Nowhere");
    let (status, body) = put(&app, &no_folder).await;
    assert_eq!(
        (status, code(&body)),
        (400, ("no_such_mailbox", "url")),
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Nowhere")
    );

    // A port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (status, body) = put(&app, &format!("imap://u:p@127.0.0.1:{port}/INBOX")).await;
    assert_eq!(
        (status, code(&body)),
        (400, ("unreachable", "url")),
        "{body}"
    );

    // Plain IMAP to another machine would send the password in the clear.
    let (status, body) = put(&app, "imap://u:p@imap.example.com/INBOX").await;
    assert_eq!(
        (status, code(&body)),
        (400, ("invalid_url", "url")),
        "{body}"
    );
    let (status, body) = app.get("/api/v1/mailbox").await;
    assert_eq!(status, 404, "nothing was stored by the failures: {body}");

    // The right password: connected; the answer has no secret.
    let (status, body) = put(&app, &dovecot.url(USER, PASSWORD)).await;
    assert_eq!(status, 200, "{body}\n{}", dovecot.log());
    assert!(!body.to_string().contains(PASSWORD), "{body}");
    let shown = body["mailbox"].as_str().unwrap();
    assert!(
        shown.starts_with("imap://alice@example.test@127.0.0.1:"),
        "{shown}"
    );
    assert!(body["failing_since"].is_null() && body["connected_at"].is_string());
    let (status, again) = app.get("/api/v1/mailbox").await;
    assert_eq!((status, &again["mailbox"]), (200, &body["mailbox"]));
    assert!(!again.to_string().contains(PASSWORD), "{again}");

    // The database file alone reveals no password, though the row is
    // there; the key is a separate file only its owner can read.
    let stored = app
        .store
        .user_mailbox(
            app.store
                .user_by_email(
                    &mailtrail_domain::EmailAddress::parse("admin@example.test").unwrap(),
                )
                .await
                .unwrap()
                .unwrap()
                .id,
        )
        .await
        .unwrap()
        .expect("the mailbox row");
    assert!(!stored.sealed_url.is_empty());
    let dump = database_bytes(&app);
    assert!(
        contains(&dump, "alice@example.test"),
        "the row is in the file"
    );
    assert!(
        !contains(&dump, PASSWORD),
        "the password is in the database file"
    );
    let key = app.dir.path().join("data").join("mailbox-key");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", key.display());

    // A failed reconnection keeps the mailbox that worked.
    let (status, _) = put(&app, &dovecot.url(USER, "wrong-again")).await;
    assert_eq!(status, 400);
    let (status, kept) = app.get("/api/v1/mailbox").await;
    assert_eq!(
        (status, &kept["connected_at"]),
        (200, &body["connected_at"])
    );

    // Disconnected: gone.
    let r = app
        .client
        .delete(app.url("/api/v1/mailbox"))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (status, _) = app.get("/api/v1/mailbox").await;
    assert_eq!(status, 404);
}

/// An IMAP server whose certificate the server does not trust: a
/// `tls_failure`, nothing stored; with the private CA configured
/// (`tls_ca_file`), connected.
#[tokio::test]
async fn a_mailbox_whose_certificate_is_not_trusted_is_a_tls_failure() {
    let pki = tempfile::tempdir().unwrap();
    crate::inbound::private_ca_and_server_cert(pki.path());
    let dovecot = Dovecot::start_tls(
        &[(USER, PASSWORD)],
        &pki.path().join("server.pem"),
        &pki.path().join("server.key"),
    )
    .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    let url = dovecot.url(USER, PASSWORD);

    let app = TestApp::spawn().await;
    let (status, body) = put(&app, &url).await;
    assert_eq!(
        (status, code(&body)),
        (400, ("tls_failure", "url")),
        "{body}"
    );
    let (status, _) = app.get("/api/v1/mailbox").await;
    assert_eq!(status, 404);
    drop(app);

    let ca_file = pki.path().join("ca.pem");
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.tls_ca_file = Some(ca_file)).await;
    let (status, body) = put(&app, &url).await;
    assert_eq!(status, 200, "{body}\n{}", dovecot.log());
}

//! Router tests: real requests through the whole axum stack (layers,
//! extractors, error handling) against the real SQLite store on a temporary
//! file. Both backends are tested by the store's conformance suite and the
//! end-to-end tests.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mailtrail_domain::{EmailAddress, EventKind};
use mailtrail_store::prelude::*;
use mailtrail_store::sqlite::SqliteStore;
use mailtrail_store::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tower::ServiceExt;
use uuid::Uuid;

use crate::{AppState, HttpSettings, router};
use mailtrail_domain::credentials::hash_api_key;

mod dashboard;
mod sink;

// ---------------------------------------------------------------------------
// A temporary SQLite store
// ---------------------------------------------------------------------------

/// The real SQLite backend on a file in `dir`, migrated: the router is
/// tested against the store's own rules (org scoping, idempotency,
/// suppression, keyset pages, the status rule), not a copy of them.
async fn temp_store(dir: &Path) -> (Arc<SqliteStore>, String) {
    let url = format!("sqlite://{}", dir.join("mailtrail.db").display());
    let store = SqliteStore::connect(&url).await.expect("sqlite store");
    store.migrate().await.expect("migrate");
    (Arc::new(store), url)
}

/// The organisation's messages (without their events), newest first.
async fn messages_of(store: &SqliteStore, org_id: Uuid) -> Vec<Message> {
    store
        .list_messages(
            org_id,
            &MessageFilter {
                limit: 200,
                ..Default::default()
            },
        )
        .await
        .expect("list messages")
}

/// The recipient's recorded events of `kind`, in the order recorded.
async fn events_of(store: &SqliteStore, rid: Uuid, kind: EventKind) -> Vec<Event> {
    let Some(r) = store.recipient_ref(rid).await.expect("recipient") else {
        return Vec::new();
    };
    let m = store
        .message(r.org_id, r.message_id)
        .await
        .expect("message")
        .expect("the recipient's message");
    m.recipients
        .into_iter()
        .filter(|x| x.id == rid)
        .flat_map(|x| x.events)
        .filter(|e| e.kind == kind)
        .collect()
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

struct TestApp {
    store: Arc<SqliteStore>,
    /// The store's URL, for a second pool on the same file.
    db_url: String,
    notify: Arc<Notify>,
    settings: HttpSettings,
    /// Key of organisation A (read receipts on by default).
    key_a: String,
    /// Key of organisation B (read receipts and tracking off by default).
    key_b: String,
    org_a: Uuid,
    org_b: Uuid,
    /// The tracking endpoints' event sink, on a journal in `_journal`.
    sink: mailtrail_store::journal::EventSink,
    _sink_task: mailtrail_store::journal::SinkHandle,
    _journal: tempfile::TempDir,
    _db: tempfile::TempDir,
}

impl TestApp {
    async fn new() -> Self {
        Self::with_settings(HttpSettings::default()).await
    }

    async fn with_settings(settings: HttpSettings) -> Self {
        let db = tempfile::tempdir().expect("database dir");
        let (store, db_url) = temp_store(db.path()).await;
        let org_a = store.ensure_organisation("a").await.expect("org a");
        let org_b = store.ensure_organisation("b").await.expect("org b");
        assert!(
            store
                .set_organisation_defaults(org_b.id, false, false, false)
                .await
                .expect("org b defaults")
        );
        let mut keys = Vec::new();
        for (org, email) in [(&org_a, "admin@a.example"), (&org_b, "admin@b.example")] {
            let email = EmailAddress::parse(email).expect("email");
            let user = store
                .create_user(org.id, &email, "x", true)
                .await
                .expect("user");
            let (key, prefix) = mailtrail_domain::credentials::generate_api_key();
            store
                .create_api_key(&NewApiKey {
                    id: Uuid::now_v7(),
                    user_id: user.id,
                    name: "test".into(),
                    key_hash: hash_api_key(&key),
                    prefix,
                })
                .await
                .expect("key");
            keys.push(key);
        }
        let key_b = keys.pop().expect("key b");
        let key_a = keys.pop().expect("key a");
        let journal = tempfile::tempdir().expect("journal dir");
        let (sink, sink_task) = mailtrail_store::journal::EventSink::spawn(
            store.clone(),
            &journal.path().join("events.journal"),
            Default::default(),
        )
        .expect("event sink");
        Self {
            store,
            db_url,
            notify: Arc::new(Notify::new()),
            settings,
            key_a,
            key_b,
            org_a: org_a.id,
            org_b: org_b.id,
            sink,
            _sink_task: sink_task,
            _journal: journal,
            _db: db,
        }
    }

    /// How many messages both organisations have.
    async fn message_count(&self) -> usize {
        messages_of(&self.store, self.org_a).await.len()
            + messages_of(&self.store, self.org_b).await.len()
    }

    /// What the store keeps of message `id` for its delivery, and the
    /// message as the API reads it.
    async fn stored(&self, id: Uuid) -> (OutboundMessage, Message) {
        let out = self
            .store
            .outbound_message(id)
            .await
            .expect("outbound message")
            .expect("stored message");
        let m = self
            .store
            .message(out.org_id, id)
            .await
            .expect("message")
            .expect("stored message");
        (out, m)
    }

    fn router(&self) -> axum::Router {
        let keyring = mailtrail_domain::Keyring::new(vec![
            mailtrail_domain::TokenKey::new(1, b"0123456789abcdef0123", None).expect("key"),
        ])
        .expect("keyring");
        router(AppState {
            store: self.store.clone(),
            settings: self.settings.clone(),
            notify: self.notify.clone(),
            inbound_wake: Arc::new(tokio::sync::Notify::new()),
            keyring: Arc::new(keyring),
            tracking: crate::tracking::Tracking::new(
                Default::default(),
                crate::tracking::opener::OpenerData::builtin(),
                self.sink.clone(),
            ),
            signin: Default::default(),
            monitoring: crate::monitoring::Monitoring::disabled(),
            mailboxes: crate::Mailboxes::new(
                mailtrail_domain::sealed::SealingKey::new(&[7; 32]).expect("key"),
            ),
        })
    }

    async fn request(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router().oneshot(req).await.expect("infallible");
        let status = res.status();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        if bytes.is_empty() {
            return (status, Value::Null);
        }
        assert_eq!(
            ct.as_deref(),
            Some("application/json"),
            "every body is JSON"
        );
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.request(b.body(body).expect("request")).await
    }

    async fn get(&self, uri: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, Some(key), None).await
    }

    async fn send(&self, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/v1/messages", Some(key), Some(body))
            .await
    }
}

fn minimal(to: &str) -> Value {
    json!({"from": "app@send.example", "to": [to], "subject": "Hi", "text": "Hello"})
}

fn assert_error(
    status: StatusCode,
    body: &Value,
    want_status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    match field {
        Some(f) => assert_eq!(body["error"]["field"], f, "{body}"),
        None => assert!(body["error"].get("field").is_none(), "{body}"),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn healthz_reflects_the_database() {
    let app = TestApp::new().await;
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"status": "ok"}));

    // The database goes away: every connection closed.
    app.store.close().await;
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_error(s, &b, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    assert!(
        !b.to_string().contains("database is down"),
        "internals leak: {b}"
    );

    // A store failure inside the API is a generic 500.
    let (s, b) = app.get("/api/v1/messages", &app.key_a).await;
    assert_error(s, &b, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
    assert_eq!(b["error"]["message"], "internal server error");
    assert!(!b.to_string().contains("secret"), "internals leak: {b}");
}

#[tokio::test]
async fn api_needs_a_valid_key() {
    let app = TestApp::new().await;
    for uri in [
        "/api/v1/messages",
        "/api/v1/sandbox/messages",
        "/api/v1/suppressions",
    ] {
        let (s, b) = app.call(Method::GET, uri, None, None).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);
        let (s, b) = app
            .call(Method::GET, uri, Some("mt_not-a-real-key"), None)
            .await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);
    }
    let req = Request::get("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Basic {}", app.key_a))
        .body(Body::empty())
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);

    // Sending without a key stores nothing.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/messages",
            None,
            Some(minimal("x@y.example")),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(app.message_count().await, 0);

    let (s, _) = app.get("/api/v1/messages", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn send_answers_202_with_the_recipients_and_wakes_workers() {
    let app = TestApp::new().await;
    let (s, b) = app
        .send(
            &app.key_a,
            json!({
                "from": {"name": "App", "address": "app@Send.Example"},
                "to": ["one@x.example", {"name": "Two", "address": "two@x.example"}],
                "cc": ["ONE@x.example"],
                "bcc": "three@x.example",
                "subject": "Hello",
                "html": "<p>Hi</p>",
                "headers": {"X-Campaign": "spring"},
                "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content_base64": "aGVs\nbG8="}],
                "metadata": {"order": "42"}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id: Uuid = b["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(id.get_version_num(), 7);
    assert!(
        b["message_id"]
            .as_str()
            .expect("message_id")
            .ends_with("@send.example")
    );
    let recipients = b["recipients"].as_array().expect("recipients");
    // ONE@x.example in cc is the same mailbox as one@x.example in to.
    let got: Vec<(&str, &str, &str)> = recipients
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or(""),
                r["kind"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("one@x.example", "to", "queued"),
            ("two@x.example", "to", "queued"),
            ("three@x.example", "bcc", "queued"),
        ]
    );
    assert!(recipients.iter().all(|r| r["id"].as_str().is_some()));

    // The worker wake-up left a permit.
    tokio::time::timeout(Duration::from_secs(1), app.notify.notified())
        .await
        .expect("workers were notified");

    let (stored, message) = app.stored(id).await;
    assert_eq!(stored.org_id, app.org_a);
    assert_eq!(stored.from_name.as_deref(), Some("App"));
    assert_eq!(
        stored.content.headers,
        vec![("X-Campaign".to_owned(), "spring".to_owned())]
    );
    assert_eq!(stored.content.attachments[0].content, b"hello");
    assert_eq!(message.metadata["order"], "42");
    // Organisation A's defaults: receipts and tracking on.
    assert!(stored.read_receipt && stored.track_opens && stored.track_clicks);
}

#[tokio::test]
async fn defaults_come_from_the_organisation_unless_the_request_says() {
    let app = TestApp::new().await;
    let (s, b) = app.send(&app.key_b, minimal("x@y.example")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (m, _) = app
        .stored(b["id"].as_str().expect("id").parse().expect("uuid"))
        .await;
    assert!(!m.read_receipt && !m.track_opens && !m.track_clicks);

    let mut body = minimal("x@y.example");
    body["read_receipt"] = json!(true);
    body["track"] = json!({"opens": true});
    let (_, b) = app.send(&app.key_b, body).await;
    let (m, _) = app
        .stored(b["id"].as_str().expect("id").parse().expect("uuid"))
        .await;
    assert!(m.read_receipt && m.track_opens && !m.track_clicks);

    let mut body = minimal("x@y.example");
    body["read_receipt"] = json!(false);
    let (_, b) = app.send(&app.key_a, body).await;
    let (m, _) = app
        .stored(b["id"].as_str().expect("id").parse().expect("uuid"))
        .await;
    assert!(!m.read_receipt && m.track_opens);
}

#[tokio::test]
async fn idempotency_key_returns_the_earlier_message_with_200() {
    let app = TestApp::new().await;
    let mut body = minimal("x@y.example");
    body["idempotency_key"] = json!("order-42");
    let (s1, b1) = app.send(&app.key_a, body.clone()).await;
    assert_eq!(s1, StatusCode::ACCEPTED);
    let (s2, b2) = app.send(&app.key_a, body.clone()).await;
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(b1, b2);
    assert_eq!(app.message_count().await, 1);

    // Keys are per organisation.
    let (s3, b3) = app.send(&app.key_b, body).await;
    assert_eq!(s3, StatusCode::ACCEPTED);
    assert_ne!(b3["id"], b1["id"]);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_store_nothing() {
    let app = TestApp::new().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "text": "t", "bc": []}),
            "invalid_field",
            "bc",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example", "y@y.example", "not an address"], "text": "t"}),
            "invalid_address",
            "to[2]",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "text": "t", "headers": {"X-A": "1\r\nBcc: v@w.example"}}),
            "invalid_header",
            "headers.X-A",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "subject": "a\r\nb", "text": "t"}),
            "invalid_value",
            "subject",
        ),
        (
            json!({"from": "a@b.example", "to": [], "text": "t"}),
            "missing_recipient",
            "to",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "subject": "s"}),
            "missing_body",
            "text",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "text": "t",
                   "attachments": [{"filename": "a", "content_type": "text/plain", "content_base64": "!!"}]}),
            "invalid_base64",
            "attachments[0].content_base64",
        ),
    ];
    for (body, code, field) in cases {
        let (s, b) = app.send(&app.key_a, body).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, code, Some(field));
    }

    // Malformed JSON gets the JSON error shape too.
    let req = Request::post("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"from": "a@b.example", "to": ["#))
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_json", Some("to"));

    let req = Request::post("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(minimal("x@y.example").to_string()))
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );

    assert_eq!(app.message_count().await, 0);
    let due = app
        .store
        .claim_jobs(
            "test",
            OffsetDateTime::now_utc() + time::Duration::days(1),
            time::Duration::minutes(1),
            100,
        )
        .await
        .expect("claim");
    assert!(due.is_empty(), "{due:?}");
}

#[tokio::test]
async fn oversize_bodies_get_413_in_json() {
    let app = TestApp::with_settings(HttpSettings {
        max_message_bytes: 1024,
        ..HttpSettings::default()
    })
    .await;
    let mut body = minimal("x@y.example");
    body["text"] = json!("x".repeat(2000));
    // With a Content-Length (tower-http refuses before reading).
    let (s, b) = app.send(&app.key_a, body.clone()).await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
    // Streamed without a length: refused while reading.
    let stream = futures_body(body.to_string().into_bytes());
    let req = Request::post("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .header(header::CONTENT_TYPE, "application/json")
        .body(stream)
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
    assert_eq!(app.message_count().await, 0);

    // Just under the limit is fine.
    let (s, _) = app.send(&app.key_a, minimal("x@y.example")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
}

/// A body with no known length, sent in chunks.
fn futures_body(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = bytes
        .chunks(100)
        .map(|c| Ok(axum::body::Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(futures::stream::iter(chunks))
}

/// Sends `n` messages as organisation A, oldest first; returns their ids.
async fn send_many(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = minimal(&format!("r{i}@y.example"));
        body["subject"] = json!(format!("Subject {i}"));
        let (s, b) = app.send(&app.key_a, body).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        ids.push(b["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test]
async fn listing_is_newest_first_with_a_keyset_cursor() {
    let app = TestApp::new().await;
    let ids = send_many(&app, 5).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut uri = "/api/v1/messages?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (s, b) = app.get(&uri, &app.key_a).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        pages += 1;
        let data = b["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        for m in data {
            seen.push(m["id"].as_str().expect("id").to_owned());
            // List views carry statuses but no timelines.
            assert_eq!(m["recipients"][0]["status"], "queued");
            assert!(m["recipients"][0].get("events").is_none());
        }
        match b["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/messages?limit=2&cursor={c}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3);

    let (_, b) = app.get("/api/v1/messages", &app.key_a).await;
    assert_eq!(b["data"].as_array().expect("data").len(), 5);
    assert_eq!(b["next_cursor"], Value::Null);
    // Too large a page is read as the largest one.
    let (s, b) = app.get("/api/v1/messages?limit=500", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"].as_array().expect("data").len(), 5);
}

#[tokio::test]
async fn list_filters_and_their_errors() {
    let app = TestApp::new().await;
    let ids = send_many(&app, 3).await;
    // Fail the first message's recipient.
    let (m, _) = app.stored(ids[0].parse().expect("uuid")).await;
    app.store
        .record_event(&NewEvent {
            id: Uuid::now_v7(),
            recipient_id: m.recipients[0].0,
            kind: EventKind::Failed,
            at: OffsetDateTime::now_utc(),
            opener: None,
            reason: Some(StatusReason {
                smtp_code: Some(550),
                enhanced_status: Some("5.1.1".into()),
                reason: Some("userunknown".into()),
                text: Some("no such user".into()),
            }),
            data: Value::Null,
        })
        .await
        .expect("event");

    let ids_of = |b: &Value| -> Vec<String> {
        b["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let (s, b) = app.get("/api/v1/messages?status=failed", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids_of(&b), vec![ids[0].clone()]);
    let (_, b) = app
        .get("/api/v1/messages?status=failed,queued", &app.key_a)
        .await;
    assert_eq!(ids_of(&b).len(), 3);
    let (_, b) = app
        .get("/api/v1/messages?status=sent&status=failed", &app.key_a)
        .await;
    assert_eq!(ids_of(&b), vec![ids[0].clone()]);
    let (_, b) = app
        .get("/api/v1/messages?recipient=R1%40Y", &app.key_a)
        .await;
    assert_eq!(ids_of(&b), vec![ids[1].clone()]);
    let (_, b) = app.get("/api/v1/messages?q=subject+2", &app.key_a).await;
    assert_eq!(ids_of(&b), vec![ids[2].clone()]);
    let (_, b) = app
        .get(
            "/api/v1/messages?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00+00:00",
            &app.key_a,
        )
        .await;
    assert_eq!(ids_of(&b).len(), 3);
    let (_, b) = app
        .get("/api/v1/messages?since=2999-01-01T00:00:00Z", &app.key_a)
        .await;
    assert!(ids_of(&b).is_empty());

    for (query, field) in [
        ("status=bogus", "status"),
        ("status=sent,bogus", "status"),
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=@@@", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (s, b) = app
            .get(&format!("/api/v1/messages?{query}"), &app.key_a)
            .await;
        assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some(field),
        );
    }
}

#[tokio::test]
async fn message_detail_has_timelines_and_reasons() {
    let app = TestApp::new().await;
    let (_, sent) = app.send(&app.key_a, minimal("x@y.example")).await;
    let id = sent["id"].as_str().expect("id");
    let rid: Uuid = sent["recipients"][0]["id"]
        .as_str()
        .expect("rid")
        .parse()
        .expect("uuid");
    app.store
        .record_event(&NewEvent {
            id: Uuid::now_v7(),
            recipient_id: rid,
            kind: EventKind::Failed,
            at: OffsetDateTime::now_utc(),
            opener: None,
            reason: Some(StatusReason {
                smtp_code: Some(550),
                enhanced_status: Some("5.1.1".into()),
                reason: Some("userunknown".into()),
                text: Some("no such user".into()),
            }),
            data: json!({"attempt": 1}),
        })
        .await
        .expect("event");

    let (s, b) = app.get(&format!("/api/v1/messages/{id}"), &app.key_a).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["id"], id);
    assert_eq!(b["from"]["address"], "app@send.example");
    assert_eq!(b["subject"], "Hi");
    let r = &b["recipients"][0];
    assert_eq!(r["status"], "failed");
    assert_eq!(
        r["status_reason"],
        json!({"smtp_code": 550, "enhanced_status": "5.1.1", "reason": "userunknown", "text": "no such user"})
    );
    let kinds: Vec<&str> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, vec!["queued", "failed"]);
    assert_eq!(r["events"][1]["data"]["attempt"], 1);

    // Not a UUID, unknown, or another organisation's: all plain 404s.
    for (uri, key) in [
        ("/api/v1/messages/not-a-uuid".to_owned(), &app.key_a),
        (format!("/api/v1/messages/{}", Uuid::now_v7()), &app.key_a),
        (format!("/api/v1/messages/{id}"), &app.key_b),
    ] {
        let (s, b) = app.get(&uri, key).await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    }
}

#[tokio::test]
async fn organisations_see_only_their_own_data() {
    let app = TestApp::new().await;
    let ids = send_many(&app, 2).await;
    let (_, b) = app.get("/api/v1/messages", &app.key_b).await;
    assert_eq!(b["data"], json!([]));
    assert_eq!(b["next_cursor"], Value::Null);

    let first: Uuid = ids[0].parse().expect("uuid");
    let m = app.store.message(app.org_a, first).await;
    let rid = m.expect("ok").expect("message").recipients[0].id;
    app.store
        .insert_sandbox_copy(
            rid,
            b"Subject: Hi\r\n\r\nHello\r\n",
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("copy");
    let (s, b) = app.get("/api/v1/sandbox/messages", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    let copies = b["data"].as_array().expect("data");
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["recipient_id"], rid.to_string());
    assert_eq!(copies[0]["address"], "r0@y.example");
    assert!(
        copies[0]["raw"]
            .as_str()
            .expect("raw")
            .starts_with("Subject: Hi")
    );
    assert!(copies[0]["captured_at"].as_str().is_some());
    let (_, b) = app
        .get("/api/v1/sandbox/messages?limit=10", &app.key_b)
        .await;
    assert_eq!(b["data"], json!([]));
    let (s, b) = app
        .get("/api/v1/sandbox/messages?limit=nope", &app.key_a)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        Some("limit"),
    );

    let addr = EmailAddress::parse("gone@y.example").expect("addr");
    app.store
        .add_suppression(app.org_a, &addr, "hard_bounce")
        .await
        .expect("add");
    let (_, b) = app.get("/api/v1/suppressions", &app.key_b).await;
    assert_eq!(b["data"], json!([]));
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/gone@y.example",
            Some(&app.key_b),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.store.suppressions(app.org_a).await.expect("list").len(),
        1
    );
    assert!(
        app.store
            .suppressions(app.org_b)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn suppressions_are_listed_applied_and_deleted() {
    let app = TestApp::new().await;
    let addr = EmailAddress::parse("gone@y.example").expect("addr");
    app.store
        .add_suppression(app.org_a, &addr, "hard_bounce")
        .await
        .expect("add");

    let (s, b) = app.get("/api/v1/suppressions", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"][0]["address"], "gone@y.example");
    assert_eq!(b["data"][0]["reason"], "hard_bounce");

    let (s, b) = app
        .send(
            &app.key_a,
            json!({"from": "a@b.example", "to": ["Gone@y.example", "ok@y.example"], "text": "t"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["recipients"][0]["status"], "suppressed");
    assert_eq!(b["recipients"][1]["status"], "queued");

    let (s, b) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/gone%40y.example",
            Some(&app.key_a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/gone@y.example",
            Some(&app.key_a),
            None,
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let (s, b) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/not-an-address",
            Some(&app.key_a),
            None,
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_address",
        Some("address"),
    );
}

#[tokio::test]
async fn framework_errors_are_json_too() {
    let app = TestApp::new().await;
    let (s, b) = app.call(Method::GET, "/nope", None, None).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let req = Request::put("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .body(Body::empty())
        .expect("request");
    let res = app.router().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().get(header::ALLOW).is_some(), "Allow is kept");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let b: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(b["error"]["code"], "method_not_allowed");
}

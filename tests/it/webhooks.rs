//! Webhooks end to end: a real HTTP receiver in the test, on 127.0.0.1:0,
//! verifies every request by the Standard Webhooks rules (its own HMAC,
//! not the server's code) and answers as each case scripts it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use sqlx::Row;

use crate::support::binary::spawn_server;
use crate::support::{Db, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    body: Value,
    /// Whether the signature verified by the specification's rules.
    valid: bool,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    got: Vec<Received>,
    /// Answers to give, in order (status, Retry-After); then 200.
    script: VecDeque<(u16, Option<&'static str>)>,
}

/// A webhook receiver.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

/// Verifies a request as the Standard Webhooks specification says a
/// receiver must: the key is the base64 after `whsec_`; the signed content
/// is `id.timestamp.body`; the header holds space-separated `v1,<base64>`
/// signatures, one of which must equal HMAC-SHA256 exactly; the timestamp
/// must be within five minutes of now.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (Some(id), Some(ts), Some(sigs)) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    ) else {
        return false;
    };
    let Ok(ts_num) = ts.parse::<i64>() else {
        return false;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if (now - ts_num).abs() > 300 {
        return false;
    }
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .expect("secret base64");
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    sigs.split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = r.inner.lock().unwrap();
    let valid = inner
        .secret
        .as_deref()
        .is_some_and(|s| verify(s, &headers, &body));
    inner.got.push(Received {
        id: headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        valid,
    });
    let (status, retry_after) = inner.script.pop_front().unwrap_or((200, None));
    let status = StatusCode::from_u16(status).unwrap();
    match retry_after {
        Some(r) => (status, [("retry-after", r)], "busy").into_response(),
        None => (status, "thanks").into_response(),
    }
}

impl Receiver {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Self {
            addr: listener.local_addr().unwrap(),
            inner: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn set_secret(&self, s: &str) {
        self.inner.lock().unwrap().secret = Some(s.to_owned());
    }

    fn script(&self, answers: &[(u16, Option<&'static str>)]) {
        self.inner
            .lock()
            .unwrap()
            .script
            .extend(answers.iter().copied());
    }

    fn got(&self) -> Vec<Received> {
        self.inner.lock().unwrap().got.clone()
    }

    /// The requests once `done` holds of them (or after `secs`).
    async fn wait(&self, secs: u64, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.got();
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "timed out; received: {got:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn of_kind<'a>(got: &'a [Received], kind: &str) -> Vec<&'a Received> {
    got.iter().filter(|r| r.body["type"] == kind).collect()
}

/// `POST /api/v1/webhooks`; the answer (asserted 201).
async fn add_endpoint(app: &TestApp, url: &str, events: Value) -> Value {
    let (code, body) = app
        .post("/api/v1/webhooks", &json!({"url": url, "events": events}))
        .await;
    assert_eq!(code, 201, "{body}");
    body
}

async fn send(app: &TestApp, to: &[&str]) -> Value {
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": to, "subject": "Order 17",
                    "text": "Hi", "html": "<p>Hi</p>",
                    "metadata": {"order": "A-17", "customer": "42"}}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    body
}

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// The pixel path of the first sandbox copy.
async fn pixel_path(app: &TestApp) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, copies) = app.get("/api/v1/sandbox/messages").await;
        if let Some(raw) = copies["data"][0]["raw"].as_str() {
            let parsed = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .unwrap();
            let html = parsed.body_html(0).unwrap().into_owned();
            let start = html.find("/t/o/").expect("a pixel");
            let end = html[start..].find('"').unwrap() + start;
            return html[start..end].to_owned();
        }
        assert!(Instant::now() < deadline, "no sandbox copy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A message to the sandbox, its pixel loaded: `queued`, `delivered` and
/// `opened` arrive signed, with the recipient, the Message-ID and the
/// metadata; the secret is shown once; the log records each attempt.
#[tokio::test]
async fn events_arrive_signed_with_the_message_and_its_metadata() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.allow_private_webhooks = true;
        s.machine_window_secs = 0;
    })
    .await;
    let endpoint = add_endpoint(&app, &receiver.url(), json!(["*"])).await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{endpoint}");
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24);
    receiver.set_secret(secret);
    let id = endpoint["id"].as_str().unwrap();
    let (code, shown) = app.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(code, 200);
    assert!(
        shown.get("secret").is_none(),
        "the secret is shown once: {shown}"
    );
    assert_eq!(shown["events"], json!(["*"]));
    let (_, list) = app.get("/api/v1/webhooks").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let msg = send(&app, &["bob@example.test"]).await;
    receiver
        .wait(20, |g| !of_kind(g, "delivered").is_empty())
        .await;
    let pixel = pixel_path(&app).await;
    let r = reqwest::Client::new()
        .get(app.url(&pixel))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let got = receiver
        .wait(20, |g| !of_kind(g, "opened").is_empty())
        .await;
    assert!(got.iter().all(|r| r.valid), "a signature failed: {got:#?}");
    for kind in ["queued", "delivered", "opened"] {
        let events = of_kind(&got, kind);
        assert_eq!(events.len(), 1, "{kind}: {got:#?}");
        let data = &events[0].body["data"];
        assert_eq!(data["recipient"], "bob@example.test");
        assert_eq!(data["mailtrail_message_id"], msg["id"]);
        assert_eq!(data["message_id"], msg["message_id"]);
        assert_eq!(data["metadata"], json!({"order": "A-17", "customer": "42"}));
        assert!(events[0].id.starts_with("msg_"));
        assert!(events[0].body["timestamp"].as_str().is_some());
    }
    assert_eq!(of_kind(&got, "opened")[0].body["data"]["opener"], "human");
    let ids: HashSet<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), got.len(), "each event has its own webhook-id");

    let (code, log) = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(code, 200, "{log}");
    let log = log["data"].as_array().unwrap();
    assert!(log.len() >= 3);
    let opened = log.iter().find(|d| d["type"] == "opened").unwrap();
    assert_eq!(opened["state"], "succeeded");
    assert_eq!(opened["attempts"], 1);
    assert_eq!(opened["attempt_log"][0]["status_code"], 200);
    assert_eq!(opened["attempt_log"][0]["response"], "thanks");
    assert_eq!(opened["payload"]["data"]["recipient"], "bob@example.test");

    // Replay one delivery: it comes again, under the same webhook-id.
    let before = receiver.got().len();
    let (code, body) = app
        .post(
            &format!(
                "/api/v1/webhooks/{id}/deliveries/{}/replay",
                opened["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let got = receiver.wait(10, |g| g.len() > before).await;
    assert_eq!(got[before].id, opened["webhook_id"].as_str().unwrap());
    assert!(got[before].valid);
    // Replay everything since a time.
    let (code, body) = app
        .post(
            &format!("/api/v1/webhooks/{id}/replay"),
            &json!({"since": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let n = body["replayed"].as_u64().unwrap() as usize;
    assert!(n >= 3, "{body}");
    receiver.wait(10, |g| g.len() >= before + 1 + n).await;
    let (code, body) = app
        .post(
            &format!("/api/v1/webhooks/{id}/replay"),
            &json!({"since": "yesterday"}),
        )
        .await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (400, Some("since")),
        "{body}"
    );

    // The attempts are counted by result.
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let succeeded = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "mailtrail_webhook_deliveries_total"
                && s.labels.get("result") == Some("succeeded")
        })
        .unwrap_or_else(|| panic!("no webhook counter in {text}"));
    match succeeded.value {
        prometheus_parse::Value::Counter(n) => assert!(n >= 3.0, "{n}"),
        ref other => panic!("{other:?}"),
    }
    assert!(
        scrape
            .samples
            .iter()
            .any(|s| s.metric == "mailtrail_webhook_pending_deliveries"),
        "{text}"
    );

    let (code, _) = app
        .client
        .delete(app.url(&format!("/api/v1/webhooks/{id}")))
        .bearer_auth(&app.key)
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(code, 204);
    let (code, _) = app.get(&format!("/api/v1/webhooks/{id}")).await;
    assert_eq!(code, 404);
    app.stop().await;
}

/// A receiver that answers 500 then 200 gets the event twice, with the
/// same webhook-id, the second after the schedule's 5 s (clock advanced);
/// one that answers 503 with `Retry-After: 120` is not asked again before
/// 120 s have passed.
#[tokio::test]
async fn retries_keep_the_webhook_id_and_honour_retry_after() {
    let receiver = Receiver::start().await;
    let clock = mailtrail_worker::webhooks::Clock::default();
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.allow_private_webhooks = true;
        s.webhook_clock = clock.clone();
    })
    .await;
    let endpoint = add_endpoint(&app, &receiver.url(), json!(["delivered"])).await;
    receiver.set_secret(endpoint["secret"].as_str().unwrap());
    let id = endpoint["id"].as_str().unwrap().to_owned();
    receiver.script(&[(500, None)]);
    send(&app, &["bob@example.test"]).await;
    receiver.wait(20, |g| g.len() == 1).await;
    // The retry is due 5 s later by the dispatcher's clock.
    let log = delivery_log_when(&app, &id, |l| l[0]["attempts"] == 1).await;
    let first = &log[0];
    assert_eq!(first["attempts"], 1);
    assert_eq!(first["state"], "pending");
    let at = rfc3339(&first["attempt_log"][0]["at"]);
    let next = rfc3339(&first["next_attempt_at"]);
    assert_eq!((next - at).whole_seconds(), 5, "{first:#}");
    clock.advance(Duration::from_secs(5));
    let got = receiver.wait(10, |g| g.len() == 2).await;
    assert_eq!(got[0].id, got[1].id, "the same webhook-id on the retry");
    assert!(got.iter().all(|r| r.valid));
    let log = delivery_log_when(&app, &id, |l| l[0]["state"] == "succeeded").await;
    assert_eq!(log[0]["attempt_log"].as_array().unwrap().len(), 2);
    // Succeeded: nothing more comes, even much later.
    clock.advance(Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.got().len(),
        2,
        "a succeeded delivery was sent again"
    );

    // Retry-After: 120 makes the 5 s retry wait 120 s.
    receiver.script(&[(503, Some("120"))]);
    send(&app, &["carol@example.test"]).await;
    receiver.wait(20, |g| g.len() == 3).await;
    let log = delivery_log_when(&app, &id, |l| l[0]["attempts"] == 1).await;
    let d = &log[0];
    let at = rfc3339(&d["attempt_log"][0]["at"]);
    let next = rfc3339(&d["next_attempt_at"]);
    assert_eq!((next - at).whole_seconds(), 120, "{d:#}");
    clock.advance(Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(receiver.got().len(), 3, "retried before Retry-After");
    clock.advance(Duration::from_secs(111));
    let got = receiver.wait(10, |g| g.len() == 4).await;
    assert_eq!(got[2].id, got[3].id);
    app.stop().await;
}

fn rfc3339(v: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("not a time: {v}")),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

async fn delivery_log(app: &TestApp, id: &str) -> Vec<Value> {
    let (code, log) = app.get(&format!("/api/v1/webhooks/{id}/deliveries")).await;
    assert_eq!(code, 200, "{log}");
    log["data"].as_array().unwrap().clone()
}

/// The delivery log once `done` holds of it: an attempt is recorded just
/// after the receiver has answered it.
async fn delivery_log_when(app: &TestApp, id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = delivery_log(app, id).await;
        if done(&log) {
            return log;
        }
        assert!(Instant::now() < deadline, "timed out: {log:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A 410 answer turns the endpoint off and says why; later events queue
/// nothing for it until it is turned on again.
#[tokio::test]
async fn gone_disables_the_endpoint() {
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.allow_private_webhooks = true).await;
    let endpoint = add_endpoint(&app, &receiver.url(), json!(["queued"])).await;
    receiver.set_secret(endpoint["secret"].as_str().unwrap());
    let id = endpoint["id"].as_str().unwrap().to_owned();
    receiver.script(&[(410, None)]);
    send(&app, &["bob@example.test"]).await;
    receiver.wait(20, |g| g.len() == 1).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let (_, shown) = app.get(&format!("/api/v1/webhooks/{id}")).await;
        if shown["enabled"] == false || Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shown["enabled"], false, "{shown}");
    assert!(
        shown["disabled_reason"].as_str().unwrap().contains("410"),
        "{shown}"
    );
    delivery_log_when(&app, &id, |l| l[0]["state"] == "failed").await;
    send(&app, &["carol@example.test"]).await;
    assert_eq!(
        delivery_log(&app, &id).await.len(),
        1,
        "queued for a disabled endpoint"
    );
    // Turned on again, it takes new events.
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/webhooks/{id}")))
        .bearer_auth(&app.key)
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let shown: Value = r.json().await.unwrap();
    assert_eq!(shown["enabled"], true);
    assert!(shown["disabled_reason"].is_null());
    send(&app, &["dave@example.test"]).await;
    let got = receiver.wait(20, |g| g.len() == 2).await;
    assert_eq!(got[1].body["data"]["recipient"], "dave@example.test");
    assert!(got.iter().all(|r| r.valid));
    app.stop().await;
}

/// Without `--allow-private-webhooks`, loopback, private and link-local
/// targets are refused with a 400 naming `url`, whether given as an
/// address or as a name that resolves to one; so are other schemes and
/// unknown event kinds.
#[tokio::test]
async fn private_targets_and_bad_input_are_refused() {
    let app = TestApp::spawn().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.0.0.7/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "not a url",
    ] {
        let (code, body) = app
            .post("/api/v1/webhooks", &json!({"url": url, "events": ["*"]}))
            .await;
        assert_eq!(code, 400, "{url}: {body}");
        assert_eq!(body["error"]["field"], "url", "{url}: {body}");
    }
    let (code, body) = app
        .post(
            "/api/v1/webhooks",
            &json!({"url": "https://hooks.example.com/x", "events": ["opened", "bogus"]}),
        )
        .await;
    assert_eq!(
        (code, body["error"]["field"].as_str()),
        (400, Some("events")),
        "{body}"
    );
    let (code, body) = app
        .post(
            "/api/v1/webhooks",
            &json!({"url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        app.get("/api/v1/webhooks").await.1["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

/// kill -9 of the real server during a burst: after a restart on the same
/// data dir, every event has its delivery (queued in the event's own
/// transaction) and every delivery reaches the receiver.
#[tokio::test]
async fn kill_9_during_a_burst_loses_no_delivery() {
    let receiver = Receiver::start().await;
    let cwd = tempfile::tempdir().unwrap();
    let key = crate::support::binary::admin_key(cwd.path());
    let env = [
        ("MAILTRAIL_ALLOW_PRIVATE_WEBHOOKS", "true"),
        ("MAILTRAIL_WORKERS", "8"),
    ];
    let (server, base) = spawn_server(cwd.path(), &env);
    let client = reqwest::Client::new();
    let endpoint: Value = client
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"url": receiver.url(), "events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    receiver.set_secret(endpoint["secret"].as_str().unwrap());
    let to: Vec<String> = (0..300).map(|i| format!("r{i}@example.test")).collect();
    let r = client
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"from": "admin@example.test", "to": to, "subject": "burst", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    receiver.wait(30, |g| g.len() >= 20).await;
    Command::new("kill")
        .args(["-KILL", &server.id().to_string()])
        .status()
        .unwrap();
    let mut server = server;
    let _ = server.wait();
    let at_kill = receiver.got().len();
    assert!(
        at_kill < 600,
        "every delivery was made before the kill: the test proves nothing"
    );

    let (mut server, _) = spawn_server(cwd.path(), &env);
    let path = cwd.path().join("mailtrail-data").join("mailtrail.db");
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM events) AS events, \
             (SELECT COUNT(*) FROM webhook_deliveries) AS deliveries, \
             (SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'succeeded') AS done, \
             (SELECT COUNT(*) FROM jobs) AS jobs",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        let (events, deliveries, done, jobs): (i64, i64, i64, i64) = (
            row.get("events"),
            row.get("deliveries"),
            row.get("done"),
            row.get("jobs"),
        );
        assert_eq!(events, deliveries, "an event without its delivery");
        if jobs == 0 && done == deliveries {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{done} of {deliveries} deliveries done, {jobs} jobs left (killed after {at_kill})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ids: HashSet<String> = sqlx::query("SELECT id FROM webhook_deliveries")
        .fetch_all(&db)
        .await
        .unwrap()
        .iter()
        .map(|r| format!("msg_{}", r.get::<uuid::Uuid, _>("id").simple()))
        .collect();
    assert_eq!(ids.len(), 600, "300 queued and 300 delivered");
    let got = receiver.got();
    let received: HashSet<String> = got.iter().map(|r| r.id.clone()).collect();
    assert_eq!(received, ids, "every delivery reached the receiver");
    assert!(got.iter().all(|r| r.valid));
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}

/// Two nodes share one PostgreSQL database: every delivery is sent by
/// exactly one of them, once.
#[tokio::test]
async fn two_nodes_on_postgres_never_send_the_same_attempt_twice() {
    let receiver = Receiver::start().await;
    let (db_url, _) = crate::support::fresh_pg_database().await;
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let env = [
        ("MAILTRAIL_DB", db_url.as_str()),
        ("MAILTRAIL_ALLOW_PRIVATE_WEBHOOKS", "true"),
        ("MAILTRAIL_WORKERS", "8"),
    ];
    let (mut a, base_a) = spawn_server(dir_a.path(), &env);
    let (mut b, _) = spawn_server(dir_b.path(), &env);
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let store = mailtrail_store::connect(&db_url).await.unwrap();
    let key = crate::support::create_admin(&store, "admin@example.test").await;
    let client = reqwest::Client::new();
    let endpoint: Value = client
        .post(format!("{base_a}/api/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({"url": receiver.url(), "events": ["*"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    receiver.set_secret(endpoint["secret"].as_str().unwrap());
    for m in 0..2 {
        let to: Vec<String> = (0..200).map(|i| format!("r{m}-{i}@example.test")).collect();
        let r = client
            .post(format!("{base_a}/api/v1/messages"))
            .bearer_auth(&key)
            .json(&json!({"from": "admin@example.test", "to": to, "subject": "two", "text": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE state = 'succeeded') AS done \
             FROM webhook_deliveries",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        let (n, done): (i64, i64) = (row.get("n"), row.get("done"));
        if n == 800 && done == 800 {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of {n} deliveries done");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let got = receiver.got();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for r in &got {
        *per_id.entry(r.id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = per_id.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(per_id.len(), 800);
    assert!(got.iter().all(|r| r.valid));
    let attempts: i64 = sqlx::query("SELECT COUNT(*) AS n FROM webhook_attempts")
        .fetch_one(&db)
        .await
        .unwrap()
        .get("n");
    assert_eq!(attempts, 800);
    for child in [&mut a, &mut b] {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(child.wait().unwrap().success());
    }
}

/// Settings → Webhooks in the dashboard: a refused URL is shown beside
/// the form; an endpoint added there shows its secret once, delivers, and
/// its page shows the log, replays a delivery, and tells why mailtrail
/// turned it off after a 410.
#[tokio::test]
async fn dashboard_adds_lists_logs_and_replays() {
    use crate::dashboard::{client, csrf_in, page, session};
    use reqwest::header::COOKIE;

    let receiver = Receiver::start().await;
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.allow_private_webhooks = true).await;
    let c = client();
    let cookie = session(&app, &c).await;
    let (code, settings) = page(&app, &c, &cookie, "/settings").await;
    assert_eq!(code, 200);
    assert!(settings.contains("href=\"/settings/webhooks\""));
    let (code, list) = page(&app, &c, &cookie, "/settings/webhooks").await;
    assert_eq!(code, 200);
    let csrf = csrf_in(&list);
    let post = |path: &str, form: Vec<(&str, String)>| {
        c.post(app.url(path))
            .header(COOKIE, &cookie)
            .form(&form)
            .send()
    };
    let res = post(
        "/settings/webhooks",
        vec![
            ("csrf", csrf.clone()),
            ("url", "gopher://example.com/".into()),
            ("events", "*".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("scheme must be http or https")
    );
    let res = post(
        "/settings/webhooks",
        vec![
            ("csrf", csrf.clone()),
            ("url", receiver.url()),
            ("events", "queued, delivered".into()),
            ("description", "orders".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let added = res.text().await.unwrap();
    let at = added
        .find("id=\"webhook-secret\">")
        .expect("the secret is shown");
    let secret = &added[at + "id=\"webhook-secret\">".len()..];
    let secret = &secret[..secret.find('<').unwrap()];
    assert!(secret.starts_with("whsec_"));
    receiver.set_secret(secret);
    let (_, list) = page(&app, &c, &cookie, "/settings/webhooks").await;
    assert!(!list.contains(secret), "the secret is shown once");
    let endpoints = app.get("/api/v1/webhooks").await.1;
    let id = endpoints["data"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        endpoints["data"][0]["events"],
        json!(["queued", "delivered"])
    );

    send(&app, &["bob@example.test"]).await;
    let got = receiver.wait(20, |g| g.len() == 2).await;
    assert!(got.iter().all(|r| r.valid));
    let path = format!("/settings/webhooks/{id}");
    let detail = loop {
        let (code, detail) = page(&app, &c, &cookie, &path).await;
        assert_eq!(code, 200);
        if detail.matches("HTTP 200").count() == 2 {
            break detail;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        detail.contains("delivered") && detail.contains("succeeded"),
        "{detail}"
    );
    let log = delivery_log(&app, &id).await;
    let delivery = log[0]["id"].as_str().unwrap().to_owned();
    let res = post(
        &path,
        vec![
            ("csrf", csrf.clone()),
            ("action", "replay".into()),
            ("delivery", delivery),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("sent again"));
    let got = receiver.wait(10, |g| g.len() == 3).await;
    assert_eq!(got[2].id, log[0]["webhook_id"].as_str().unwrap());

    // A 410 turns it off; the pages say why.
    receiver.script(&[(410, None)]);
    send(&app, &["carol@example.test"]).await;
    receiver.wait(20, |g| g.len() == 4).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, list) = page(&app, &c, &cookie, "/settings/webhooks").await;
        if list.contains("mailtrail turned off the endpoint") {
            assert!(list.contains("410 Gone"), "{list}");
            break;
        }
        assert!(Instant::now() < deadline, "{list}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let res = post(
        &path,
        vec![("csrf", csrf.clone()), ("action", "enable".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Turned on"));
    let res = post(
        &path,
        vec![("csrf", "wrong".into()), ("action", "delete".into())],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 403);
    let res = post(&path, vec![("csrf", csrf), ("action", "delete".into())])
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        app.get("/api/v1/webhooks").await.1["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

/// An endpoint whose every attempt fails for five days is turned off, and
/// says so; the clock is advanced instead of waited for.
#[tokio::test]
async fn an_endpoint_failing_for_five_days_is_turned_off() {
    let receiver = Receiver::start().await;
    let clock = mailtrail_worker::webhooks::Clock::default();
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.allow_private_webhooks = true;
        s.webhook_clock = clock.clone();
    })
    .await;
    let endpoint = add_endpoint(&app, &receiver.url(), json!(["queued"])).await;
    receiver.set_secret(endpoint["secret"].as_str().unwrap());
    let id = endpoint["id"].as_str().unwrap().to_owned();
    receiver.script(&[(500, None), (500, None), (500, None)]);
    send(&app, &["bob@example.test"]).await;
    receiver.wait(20, |g| g.len() == 1).await;
    delivery_log_when(&app, &id, |l| l[0]["attempts"] == 1).await;
    let (_, shown) = app.get(&format!("/api/v1/webhooks/{id}")).await;
    assert!(shown["failing_since"].is_string(), "{shown}");
    assert_eq!(shown["enabled"], true);
    // The retry 5 s later fails too, but within the five days.
    clock.advance(Duration::from_secs(5));
    receiver.wait(10, |g| g.len() == 2).await;
    delivery_log_when(&app, &id, |l| l[0]["attempts"] == 2).await;
    assert_eq!(
        app.get(&format!("/api/v1/webhooks/{id}")).await.1["enabled"],
        true
    );
    // Five days later the next failure turns it off.
    clock.advance(Duration::from_secs(5 * 86_400));
    receiver.wait(10, |g| g.len() == 3).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let (_, shown) = app.get(&format!("/api/v1/webhooks/{id}")).await;
        if shown["enabled"] == false || Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shown["enabled"], false, "{shown}");
    assert!(
        shown["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("5 days"),
        "{shown}"
    );
    assert!(receiver.got().iter().all(|r| r.valid));
    app.stop().await;
}

//! The REST API against the real server: sending, validation, listing,
//! isolation, on SQLite and PostgreSQL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Db, TestApp, api_key_for};

fn simple(to: &str) -> Value {
    json!({"from": "sender@example.test", "to": [to], "subject": "Hello", "text": "Hi there"})
}

async fn send_and_deliver_in_sandbox(db: Db) {
    let app = TestApp::spawn_with(db, |_| {}).await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({
                "from": {"name": "Ann Sender", "address": "ann@example.test"},
                "to": ["bob@example.test", "Bob@Example.test"],
                "cc": ["carol@example.test"],
                "bcc": ["dave@example.test"],
                "subject": "Quarterly report",
                "text": "See the numbers.",
                "html": "<p>See the <a href=\"https://example.com/n\">numbers</a>.</p>",
                "headers": {"X-Campaign": "q3"},
                "metadata": {"customer": "42"},
                "read_receipt": true
            }),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mid = body["message_id"].as_str().unwrap().to_owned();
    let rs = body["recipients"].as_array().unwrap();
    assert_eq!(rs.len(), 3, "duplicate address collapsed: {body}");
    assert_eq!(rs[0]["kind"], "to");
    assert_eq!(rs[1]["kind"], "cc");
    assert_eq!(rs[2]["kind"], "bcc");
    // The answer carries each recipient's status as stored when it was
    // read back; a fast worker may already have delivered the copy.
    assert!(
        rs.iter()
            .all(|r| r["status"] == "queued" || r["status"] == "delivered"),
        "{body}"
    );

    let msg = app
        .wait_for(&id, Duration::from_secs(20), |s| s == "delivered")
        .await;
    for r in msg["recipients"].as_array().unwrap() {
        let kinds: Vec<&str> = r["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["queued", "delivered"], "{r}");
    }
    assert_eq!(msg["metadata"]["customer"], "42");

    let (code, copies) = app.get("/api/v1/sandbox/messages").await;
    assert_eq!(code, 200);
    let copies = copies["data"].as_array().unwrap();
    assert_eq!(copies.len(), 3);
    for c in copies {
        let raw = c["raw"].as_str().unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        assert_eq!(
            parsed.message_id(),
            Some(mid.as_str()),
            "one Message-ID for every copy"
        );
        assert!(
            !raw.to_ascii_lowercase().contains("dave@example.test"),
            "a Bcc recipient is never shown: {raw}"
        );
        assert!(
            !raw.contains("\nBcc:") && !raw.starts_with("Bcc:"),
            "no Bcc header: {raw}"
        );
        assert!(raw.contains("Disposition-Notification-To:"), "{raw}");
        assert!(raw.contains("X-Campaign: q3"), "{raw}");
        let rp = crate::support::return_path(raw);
        assert!(
            rp.starts_with("bounces+") && rp.ends_with("@example.test"),
            "VERP return path: {rp:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn sandbox_send_sqlite() {
    send_and_deliver_in_sandbox(Db::Sqlite).await;
}

#[tokio::test]
async fn sandbox_send_postgres() {
    send_and_deliver_in_sandbox(Db::Postgres).await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"from": "a@example.test", "to": [], "subject": "s", "text": "t"}),
            400,
            "to",
        ),
        (
            json!({"from": "not-an-address", "to": ["b@example.test"], "subject": "s", "text": "t"}),
            400,
            "from",
        ),
        (
            json!({"from": "a@example.test", "to": ["b@example.test", "bad@"], "subject": "s", "text": "t"}),
            400,
            "to[1]",
        ),
        (
            json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s\r\nBcc: x@y.test", "text": "t"}),
            400,
            "subject",
        ),
        (
            json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "text": "t", "headers": {"X-A": "v\r\nBcc: x@y.test"}}),
            400,
            "headers.X-A",
        ),
        (
            json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "text": "t", "bogus": 1}),
            400,
            "bogus",
        ),
        (
            json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s"}),
            400,
            "text",
        ),
        (
            json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "text": "t", "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content_base64": "%%%"}]}),
            400,
            "attachments[0].content_base64",
        ),
    ];
    for (body, status, field) in cases {
        let (code, err) = app.post("/api/v1/messages", &body).await;
        assert_eq!(code, status, "{body} -> {err}");
        let f = err["error"]["field"].as_str().unwrap_or("");
        assert!(
            f.contains(field),
            "expected field {field:?} for {body}, got {err}"
        );
        assert!(
            err["error"]["code"].is_string() && err["error"]["message"].is_string(),
            "{err}"
        );
    }
    // Malformed JSON is answered in the same shape.
    let r = app
        .client
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let err: Value = r.json().await.unwrap();
    assert!(err["error"]["message"].is_string(), "{err}");
    let (_, list) = app.get("/api/v1/messages").await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "nothing stored: {list}"
    );
    app.stop().await;
}

#[tokio::test]
async fn oversize_is_413() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.max_message_bytes = 10_000).await;
    let body = json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "text": "x".repeat(20_000)});
    let (code, err) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 413, "{err}");
    app.stop().await;
}

#[tokio::test]
async fn from_as_name_addr_keeps_the_display_name() {
    let app = TestApp::spawn().await;
    for (from, want_name) in [
        ("Sales <sales@example.test>", "Sales"),
        (r#""Doe, Jane" <jane@example.test>"#, "Doe, Jane"),
        ("Zoë Müller <zoe@example.test>", "Zoë Müller"),
    ] {
        let body = json!({
            "from": from, "to": ["Bob <bob@example.test>"],
            "reply_to": "Help Desk <help@example.test>", "subject": "s", "text": "t"
        });
        let (code, msg) = app.post("/api/v1/messages", &body).await;
        assert_eq!(code, 202, "{from}: {msg}");
        let id = msg["id"].as_str().unwrap().to_owned();
        app.wait_for(&id, Duration::from_secs(20), |s| s == "delivered")
            .await;
        let (_, copies) = app.get("/api/v1/sandbox/messages?limit=500").await;
        let raw = copies["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["raw"].as_str().unwrap().to_owned())
            .find(|raw| raw.contains(&msg["message_id"].as_str().unwrap().to_string()))
            .expect("the copy");
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .unwrap();
        let sender = parsed.from().and_then(|a| a.first()).expect("From");
        assert_eq!(sender.name(), Some(want_name), "{raw}");
        let (_, addr) = from.rsplit_once('<').unwrap();
        assert_eq!(sender.address(), Some(addr.trim_end_matches('>')), "{raw}");
        assert!(
            raw.is_ascii(),
            "non-ASCII names are RFC 2047 encoded: {raw}"
        );
        let reply_to = parsed.reply_to().and_then(|a| a.first()).expect("Reply-To");
        assert_eq!(reply_to.address(), Some("help@example.test"));
    }
    // Header injection through the name is still refused, naming the field.
    for (field, value) in [
        (
            "from",
            "Sales\r\nBcc: victim@example.test <sales@example.test>",
        ),
        ("reply_to", "Help\n <help@example.test>"),
    ] {
        let mut body = json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "text": "t"});
        body[field] = json!(value);
        let (code, err) = app.post("/api/v1/messages", &body).await;
        assert_eq!(code, 400, "{err}");
        assert_eq!(err["error"]["field"], field, "{err}");
    }
    let body = json!({"from": "Sales <sales@example.test", "to": ["b@example.test"], "text": "t"});
    let (code, err) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 400, "{err}");
    assert_eq!(err["error"]["field"], "from", "{err}");
    app.stop().await;
}

#[tokio::test]
async fn more_than_1000_recipients_is_400_naming_to() {
    let app = TestApp::spawn().await;
    let to: Vec<String> = (0..1_001).map(|i| format!("r{i}@example.test")).collect();
    let body = json!({"from": "a@example.test", "to": to, "subject": "s", "text": "t"});
    let (code, err) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 400, "{err}");
    assert_eq!(err["error"]["field"], "to", "{err}");
    assert_eq!(err["error"]["code"], "too_many_recipients", "{err}");
    // Exactly the cap is accepted, spread over to, cc and bcc.
    let body = json!({
        "from": "a@example.test", "to": &to[..500], "cc": &to[500..900], "bcc": &to[900..1000],
        "subject": "s", "text": "t"
    });
    let (code, msg) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 202, "{msg}");
    app.stop().await;
}

#[tokio::test]
async fn auth_and_organisation_isolation() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(app.url("/api/v1/messages"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .client
        .get(app.url("/api/v1/messages"))
        .bearer_auth("mt_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let err: Value = r.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unauthorized");

    let (code, body) = app
        .post("/api/v1/messages", &simple("x@example.test"))
        .await;
    assert_eq!(code, 202);
    let id = body["id"].as_str().unwrap();

    // A user of another organisation sees none of it.
    let org = app.store.ensure_organisation("other").await.unwrap();
    let email = mailtrail_domain::EmailAddress::parse("eve@other.test").unwrap();
    let user = app
        .store
        .create_user(org.id, &email, "x", false)
        .await
        .unwrap();
    let other_key = api_key_for(&app.store, user.id).await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/messages/{id}")))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let list: Value = app
        .client
        .get(app.url("/api/v1/messages"))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"].as_array().unwrap().len(), 0);
    let copies: Value = app
        .client
        .get(app.url("/api/v1/sandbox/messages"))
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(copies["data"].as_array().unwrap().len(), 0);
    app.stop().await;
}

#[tokio::test]
async fn idempotency_and_listing() {
    let app = TestApp::spawn().await;
    let mut body = simple("p@example.test");
    body["idempotency_key"] = json!("order-1");
    let (c1, b1) = app.post("/api/v1/messages", &body).await;
    let (c2, b2) = app.post("/api/v1/messages", &body).await;
    assert_eq!(c1, 202);
    assert_eq!(c2, 200, "a repeat returns the earlier message");
    assert_eq!(b1["id"], b2["id"]);

    let mut ids = vec![b1["id"].as_str().unwrap().to_owned()];
    for i in 0..4 {
        let mut m = simple(&format!("r{i}@example.test"));
        m["subject"] = json!(format!("Invoice {i}"));
        if i % 2 == 0 {
            m["tag"] = json!("invoices");
        }
        let (_, b) = app.post("/api/v1/messages", &m).await;
        ids.push(b["id"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        app.wait_for(id, Duration::from_secs(20), |s| s == "delivered")
            .await;
    }
    // Newest first, two at a time.
    let (_, p1) = app.get("/api/v1/messages?limit=2").await;
    let got: Vec<&str> = p1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[4].as_str(), ids[3].as_str()]);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2) = app
        .get(&format!("/api/v1/messages?limit=2&cursor={cursor}"))
        .await;
    let got: Vec<&str> = p2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[2].as_str(), ids[1].as_str()]);

    let (_, q) = app.get("/api/v1/messages?q=invoice%202").await;
    assert_eq!(q["data"].as_array().unwrap().len(), 1);
    let (_, r) = app.get("/api/v1/messages?recipient=r3@").await;
    assert_eq!(r["data"][0]["id"], ids[4]);
    let (_, s) = app.get("/api/v1/messages?status=delivered,failed").await;
    assert_eq!(s["data"].as_array().unwrap().len(), 5);
    let (_, s) = app.get("/api/v1/messages?status=failed").await;
    assert_eq!(s["data"].as_array().unwrap().len(), 0);
    // The tag: exact match, shown on the message.
    let (_, t) = app.get("/api/v1/messages?tag=invoices").await;
    let tagged: Vec<&str> = t["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(tagged, [ids[3].as_str(), ids[1].as_str()], "{t}");
    let (_, m) = app.get(&format!("/api/v1/messages/{}", ids[1])).await;
    assert_eq!(m["tag"], "invoices", "{m}");
    let (_, t) = app.get("/api/v1/messages?tag=invoice").await;
    assert_eq!(t["data"].as_array().unwrap().len(), 0, "{t}");
    let mut bad = simple("t@example.test");
    bad["tag"] = json!("a\nb");
    let (code, e) = app.post("/api/v1/messages", &bad).await;
    assert_eq!(code, 400, "{e}");
    assert_eq!(e["error"]["field"], "tag", "{e}");

    let (code, e) = app.get("/api/v1/messages?status=bogus").await;
    assert_eq!(code, 400);
    assert_eq!(e["error"]["field"], "status");
    let (code, e) = app.get("/api/v1/messages?since=yesterday").await;
    assert_eq!(code, 400);
    assert_eq!(e["error"]["field"], "since");
    app.stop().await;
}

#[tokio::test]
async fn healthz() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;
}

/// Two nodes on one PostgreSQL database share the queue: every copy is
/// delivered exactly once.
#[tokio::test]
async fn two_nodes_share_one_postgres_queue() {
    let a = TestApp::spawn_with(Db::Postgres, |_| {}).await;
    let db = a.db_url().expect("postgres url");
    let data = a.dir.path().join("data");
    let b = TestApp::spawn_with(Db::Sqlite, |s| {
        s.db = Some(mailtrail::config::Secret::new(db.clone()));
        // Same token secret, as nodes of one installation must share it.
        s.data_dir = data.clone();
    })
    .await;
    let mut ids = Vec::new();
    for i in 0..30 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (code, body) = app
            .post("/api/v1/messages", &json!({"from": "s@example.test", "to": [format!("a{i}@example.test"), format!("b{i}@example.test"), format!("c{i}@example.test")], "subject": "multi", "text": "t"}))
            .await;
        assert_eq!(code, 202, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // Both nodes see the same organisation's data (the first admin key works on both).
    for id in &ids {
        a.wait_for(id, Duration::from_secs(30), |s| s == "delivered")
            .await;
    }
    let (_, copies) = a.get("/api/v1/sandbox/messages?limit=500").await;
    let copies = copies["data"].as_array().unwrap();
    assert_eq!(copies.len(), 90, "each copy delivered exactly once");
    let mut rids: Vec<&str> = copies
        .iter()
        .map(|c| c["recipient_id"].as_str().unwrap())
        .collect();
    rids.sort();
    rids.dedup();
    assert_eq!(rids.len(), 90);
    b.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn a_copy_over_the_size_limit_is_refused_naming_the_part() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| s.max_message_bytes = 100_000).await;
    // 60 kB of HTML fits the request limit, but tracked it may grow to
    // 124 kB and base64 makes that ~170 kB: refused at send time.
    let html = format!(
        "<p>{}</p>",
        "<a href=\"https://e.example/\">x</a>".repeat(1_700)
    );
    assert!(html.len() < 70_000);
    let body = json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s",
        "html": html, "track": {"opens": true, "clicks": true}});
    let (code, err) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 400, "{err}");
    assert_eq!(err["error"]["code"], "message_too_large", "{err}");
    assert_eq!(err["error"]["field"], "html", "{err}");
    // A small one still goes.
    let body = json!({"from": "a@example.test", "to": ["b@example.test"], "subject": "s", "html": "<p>hi</p>"});
    let (code, msg) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 202, "{msg}");
    app.stop().await;
}

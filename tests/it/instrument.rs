//! Instrumented copies through the sandbox: the open pixel, rewritten
//! links in HTML and text, List-Unsubscribe (RFC 2369) with one-click
//! (RFC 8058), and the unsubscribe endpoint, on SQLite and PostgreSQL.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Db, TestApp};

const PUBLIC: &str = "https://mail.example.test";

const HTML: &str = r##"<html><head><title>T</title></head><body>
<p><a href="https://example.com/a?x=1&amp;y=2">tracked a</a></p>
<p><a href="http://example.org/b">tracked b</a></p>
<p><a href="mailto:help@example.test">mail us</a></p>
<p><a href="tel:+4412345">call us</a></p>
<p><a href="#section">jump</a></p>
<p><a href="https://example.com/private" data-mailtrail-notrack>not tracked</a></p>
<p><a href="mailtrail:unsubscribe">unsubscribe</a></p>
</body></html>"##;

const TEXT: &str =
    "Read https://example.com/a?x=1&y=2. Or (see http://example.org/b) or mail help@example.test";

async fn spawn(db: Db) -> TestApp {
    TestApp::spawn_with(db, |s| s.public_url = Some(PUBLIC.to_owned())).await
}

async fn send(app: &TestApp, body: Value) -> Value {
    let (code, res) = app.post("/api/v1/messages", &body).await;
    assert_eq!(code, 202, "{res}");
    app.wait_for(res["id"].as_str().unwrap(), Duration::from_secs(20), |s| {
        s != "queued"
    })
    .await
}

/// The sandbox copies whose raw text contains `needle`, with their
/// recipient's address.
async fn copies_for(app: &TestApp, needle: &str) -> Vec<(String, String)> {
    let (code, list) = app.get("/api/v1/sandbox/messages?limit=500").await;
    assert_eq!(code, 200, "{list}");
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_owned(),
                c["raw"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(_, raw)| raw.contains(needle))
        .collect()
}

/// The sandbox copies whose raw text contains `needle`.
async fn copies(app: &TestApp, needle: &str) -> Vec<String> {
    copies_for(app, needle)
        .await
        .into_iter()
        .map(|(_, raw)| raw)
        .collect()
}

/// A header's unfolded value (RFC 5322 section 2.2.3).
fn header(raw: &str, name: &str) -> Option<String> {
    let head = raw.split("\r\n\r\n").next().unwrap_or("");
    let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
    unfolded.split("\r\n").find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
    })
}

/// Every token that follows `prefix` (base64url characters).
fn tokens(s: &str, prefix: &str) -> Vec<String> {
    s.match_indices(prefix)
        .map(|(i, _)| {
            s[i + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                .collect()
        })
        .collect()
}

struct Parts {
    html: String,
    text: String,
}

fn parts(raw: &str) -> Parts {
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("parsable copy");
    Parts {
        html: parsed.body_html(0).expect("html part").into_owned(),
        text: parsed.body_text(0).expect("text part").into_owned(),
    }
}

async fn instrumented_copies(db: Db) {
    let app = spawn(db).await;
    let msg = send(
        &app,
        json!({"from": "sender@example.test", "to": ["ann@example.test", "bob@example.test"],
               "subject": "Links", "html": HTML, "text": TEXT}),
    )
    .await;
    assert!(
        msg["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "delivered"),
        "{msg:#}"
    );
    let raws = copies(&app, "Subject: Links").await;
    assert_eq!(raws.len(), 2, "one copy per recipient");
    let mut seen_tokens = HashSet::new();
    for raw in &raws {
        let Parts { html, text } = parts(raw);

        // The pixel: once, hidden, just before </body>.
        let pixels = tokens(&html, &format!("{PUBLIC}/t/o/"));
        assert_eq!(pixels.len(), 1, "{html}");
        let img_at = html.find("<img").expect("pixel img");
        let body_end = html.find("</body>").expect("body end");
        assert!(img_at < body_end, "{html}");
        let img = &html[img_at..];
        let img = &img[..img.find('>').unwrap() + 1];
        assert!(
            img.contains(r#"width="1""#) && img.contains(r#"height="1""#),
            "{img}"
        );
        assert!(img.contains("display:none"), "{img}");
        assert_eq!(
            html[img_at + img.len()..body_end].trim(),
            "",
            "pixel is the last thing in the body: {html}"
        );

        // Links: two tracked, the rest as written.
        let clicks = tokens(&html, &format!("{PUBLIC}/t/c/"));
        assert_eq!(clicks.len(), 2, "{html}");
        assert!(!html.contains("https://example.com/a?"), "{html}");
        assert!(!html.contains("http://example.org/b"), "{html}");
        assert!(
            html.contains(r#"href="mailto:help@example.test""#),
            "{html}"
        );
        assert!(html.contains(r#"href="tel:+4412345""#), "{html}");
        assert!(html.contains(r##"href="#section""##), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.com/private">not tracked</a>"#),
            "notrack link kept, attribute removed: {html}"
        );
        assert!(!html.contains("data-mailtrail-notrack"), "{html}");

        // The unsubscribe placeholder became this recipient's page.
        let body_unsub = tokens(&html, &format!("{PUBLIC}/t/u/"));
        assert_eq!(body_unsub.len(), 1, "{html}");

        // Text: both URLs rewritten, the sentence punctuation kept.
        let text_clicks = tokens(&text, &format!("{PUBLIC}/t/c/"));
        assert_eq!(text_clicks.len(), 2, "{text}");
        assert!(!text.contains("example.com/a"), "{text}");
        assert!(text.starts_with(&format!("Read {PUBLIC}/t/c/")), "{text}");
        assert!(text.contains(". Or (see "), "{text}");
        assert!(text.contains(") or mail help@example.test"), "{text}");

        // List-Unsubscribe: https (one-click) and mailto.
        let lu = header(raw, "List-Unsubscribe").expect("List-Unsubscribe");
        let https = tokens(&lu, &format!("<{PUBLIC}/t/u/"));
        assert_eq!(https.len(), 1, "{lu}");
        assert_eq!(https[0], body_unsub[0], "{lu}");
        assert!(lu.contains("<mailto:unsubscribe+"), "{lu}");
        assert!(lu.contains("@example.test>"), "{lu}");
        assert_eq!(
            header(raw, "List-Unsubscribe-Post").as_deref(),
            Some("List-Unsubscribe=One-Click")
        );

        for t in pixels.iter().chain(&clicks).chain(&https) {
            assert!(
                seen_tokens.insert(t.clone()),
                "tokens differ per copy and per link: {t}"
            );
        }
    }

    // The unsubscribe page: a form that posts to the same URL.
    let raw = &raws[0];
    let lu = header(raw, "List-Unsubscribe").unwrap();
    let token = tokens(&lu, &format!("<{PUBLIC}/t/u/"))[0].clone();
    let page = app
        .client
        .get(app.url(&format!("/t/u/{token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains(r#"<form method="post""#), "{page}");
    assert!(
        page.contains(&format!(r#"action="/t/u/{token}""#)),
        "{page}"
    );

    // A forged token: a plain 404 page, no unsubscription.
    let mut forged = token.clone().into_bytes();
    let last = forged.len() - 3;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    for method in ["GET", "POST"] {
        let r = app
            .client
            .request(method.parse().unwrap(), app.url(&format!("/t/u/{forged}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method}");
        assert!(
            r.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let (_, list) = app.get("/api/v1/suppressions").await;
    assert!(!list.to_string().contains("ann@example.test"), "{list}");

    // One-click POST, as a mail provider sends it (RFC 8058 section 3.2):
    // no cookie, no login; twice, to show it is idempotent.
    let to = copies_for(&app, "Subject: Links")
        .await
        .into_iter()
        .find(|(_, r)| r == raw)
        .map(|(a, _)| a)
        .expect("the copy's recipient");
    for _ in 0..2 {
        let r = reqwest::Client::new()
            .post(app.url(&format!("/t/u/{token}")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.text().await.unwrap().contains("Unsubscribed"));
    }
    let id = msg["id"].as_str().unwrap();
    let (_, after) = app.get(&format!("/api/v1/messages/{id}")).await;
    let me = after["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == to.as_str())
        .unwrap_or_else(|| panic!("{to} in {after:#}"));
    assert_eq!(me["status"], "unsubscribed", "{after:#}");
    let unsubscribed = me["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "unsubscribed")
        .count();
    assert_eq!(
        unsubscribed, 1,
        "a repeated one-click POST adds no second event: {me:#}"
    );
    let other = after["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] != to.as_str())
        .unwrap();
    assert_eq!(
        other["status"], "delivered",
        "only that recipient: {after:#}"
    );

    let (code, list) = app.get("/api/v1/suppressions").await;
    assert_eq!(code, 200, "{list}");
    let entry = list["data"]
        .as_array()
        .or(list.as_array())
        .expect("suppression list")
        .iter()
        .find(|s| s["address"] == to.as_str())
        .unwrap_or_else(|| panic!("{to} suppressed: {list:#}"))
        .clone();
    assert_eq!(entry["reason"], "unsubscribe", "{entry}");

    // The next message to that address is not sent.
    let again = send(
        &app,
        json!({"from": "sender@example.test", "to": [to], "subject": "Again", "text": "hello"}),
    )
    .await;
    assert_eq!(again["recipients"][0]["status"], "suppressed", "{again:#}");
    assert!(copies(&app, "Subject: Again").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn instrumented_copies_sqlite() {
    instrumented_copies(Db::Sqlite).await;
}

#[tokio::test]
async fn instrumented_copies_postgres() {
    instrumented_copies(Db::Postgres).await;
}

#[tokio::test]
async fn tracking_off_leaves_the_body_alone() {
    let app = spawn(Db::Sqlite).await;
    send(
        &app,
        json!({"from": "sender@example.test", "to": ["ann@example.test"], "subject": "Quiet",
               "html": HTML, "text": TEXT, "track": {"opens": false, "clicks": false}}),
    )
    .await;
    let raws = copies(&app, "Subject: Quiet").await;
    assert_eq!(raws.len(), 1);
    let Parts { html, text } = parts(&raws[0]);
    assert_eq!(
        html.replace("\r\n", "\n").trim_end(),
        HTML,
        "HTML untouched"
    );
    assert_eq!(
        text.replace("\r\n", "\n").trim_end(),
        TEXT,
        "text untouched"
    );
    assert!(!html.contains("/t/o/") && !html.contains("/t/c/"));
    // Unsubscribing is always offered.
    assert!(header(&raws[0], "List-Unsubscribe").is_some());
    assert!(header(&raws[0], "List-Unsubscribe-Post").is_some());

    // Opens only: the pixel, links as written.
    send(
        &app,
        json!({"from": "sender@example.test", "to": ["ann@example.test"], "subject": "Opens",
               "html": HTML, "track": {"opens": true, "clicks": false}}),
    )
    .await;
    let raws = copies(&app, "Subject: Opens").await;
    let html = mail_parser::MessageParser::default()
        .parse(raws[0].as_bytes())
        .unwrap()
        .body_html(0)
        .unwrap()
        .into_owned();
    assert_eq!(tokens(&html, &format!("{PUBLIC}/t/o/")).len(), 1, "{html}");
    assert!(!html.contains("/t/c/"), "{html}");
    assert!(html.contains("https://example.com/a?x=1&amp;y=2"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn plain_http_public_url_offers_mailto_only() {
    // RFC 8058 section 3.1 requires https for one-click; a local http
    // public URL still gets a mailto List-Unsubscribe, without the Post.
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.public_url = Some("http://localhost:8080".to_owned())
    })
    .await;
    send(
        &app,
        json!({"from": "sender@example.test", "to": ["ann@example.test"], "subject": "Local", "text": "hi"}),
    )
    .await;
    let raws = copies(&app, "Subject: Local").await;
    let lu = header(&raws[0], "List-Unsubscribe").expect("List-Unsubscribe");
    assert!(lu.starts_with("<mailto:unsubscribe+"), "{lu}");
    assert!(!lu.contains("http"), "{lu}");
    assert!(header(&raws[0], "List-Unsubscribe-Post").is_none());
    app.stop().await;
}

//! `GET /metrics` against the real server: a message through the sandbox
//! and its pixel move the counters, request durations are labelled by
//! route template, and the text parses as the Prometheus exposition
//! format. With a token set, a scrape without it gets 401.

use std::time::Duration;

use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::{Value, json};

use crate::support::{Db, TestApp};

/// Scrapes `/metrics` with `token` and parses the answer.
async fn scrape(app: &TestApp, token: Option<&str>) -> Scrape {
    let mut req = app.client.get(app.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("scrape");
    assert_eq!(res.status(), 200);
    let ctype = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let text = res.text().await.expect("body");
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("Prometheus text format")
}

/// The value of a counter or gauge with these labels (0 when absent: a
/// counter that never moved is not rendered).
fn value(s: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == name && has(x, labels))
        .map(|x| match x.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => v,
            ref other => panic!("{name} is not a counter or gauge: {other:?}"),
        })
        .sum()
}

fn has(x: &Sample, labels: &[(&str, &str)]) -> bool {
    labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v))
}

/// The tracked pixel's path in a sandbox copy.
fn pixel_path(raw: &str) -> String {
    let raw = raw.replace("=\r\n", "");
    let start = raw.find("/t/o/").expect("a tracking pixel in the copy");
    raw[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_./~".contains(*c))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_and_opened_message_moves_the_counters() {
    let app = TestApp::spawn().await;
    let before = scrape(&app, None).await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["bob@example.test"],
                    "subject": "Metrics", "track": {"opens": true},
                    "html": "<p>Hello</p>"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (_, copies) = app.get("/api/v1/sandbox/messages").await;
    let pixel = pixel_path(copies["data"][0]["raw"].as_str().unwrap());
    let res = app
        .client
        .get(app.url(&pixel))
        .header(
            "user-agent",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/gif");

    let after = scrape(&app, None).await;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    assert!(moved("mailtrail_messages_accepted_total", &[("via", "api")]) >= 1.0);
    assert!(
        moved(
            "mailtrail_copies_total",
            &[("outcome", "delivered"), ("transport", "sandbox")]
        ) >= 1.0
    );
    assert!(moved("mailtrail_tracking_hits_total", &[("kind", "open")]) >= 1.0);
    assert!(moved("mailtrail_tracking_events_total", &[("kind", "opened")]) >= 1.0);
    // The gauges are there, read at scrape time.
    for gauge in [
        "mailtrail_queue_depth",
        "mailtrail_queue_oldest_age_seconds",
        "mailtrail_journal_unfolded_events",
    ] {
        assert!(
            after.samples.iter().any(|s| s.metric == gauge),
            "{gauge} missing"
        );
    }

    // Durations are labelled by route template, never by raw path, and the
    // tracking routes keep to counters.
    let routes: Vec<&str> = after
        .samples
        .iter()
        .filter(|s| s.metric == "mailtrail_http_request_duration_seconds")
        .map(|s| {
            assert!(
                matches!(s.value, Metric::Histogram(_)),
                "a histogram: {s:?}"
            );
            s.labels.get("route").expect("a route label")
        })
        .collect();
    assert!(routes.contains(&"/api/v1/messages"), "{routes:?}");
    assert!(routes.contains(&"/api/v1/messages/:id"), "{routes:?}");
    assert!(!routes.iter().any(|r| r.contains(&id)), "{routes:?}");
    assert!(!routes.iter().any(|r| r.starts_with("/t/")), "{routes:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_token_a_scrape_without_it_is_refused() {
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.metrics_token = Some(mailtrail::config::Secret::new("s3cret-token"));
    })
    .await;
    for auth in [None, Some("Bearer wrong"), Some("Basic s3cret-token")] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        let body: Value = res.json().await.expect("a JSON error");
        assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    }
    let ok = scrape(&app, Some("s3cret-token")).await;
    assert!(!ok.samples.is_empty());
    app.stop().await;
}

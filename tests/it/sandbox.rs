//! The sandbox inbox's "play the recipient" buttons against the real
//! server: each builds the real reply / MDN / DSN, stores it as inbound
//! mail, and the real inbound processor turns it into the recipient's
//! status (replied, read, failed with userunknown and suppressed).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::{Value, json};

use crate::dashboard::{client, csrf_in, other_org_message, page, session};
use crate::support::{Db, TestApp};

/// Presses one button of the copy's page; the answer's status and
/// `Location`.
async fn press(
    app: &TestApp,
    c: &reqwest::Client,
    cookie: &str,
    copy: &str,
    csrf: &str,
    action: &str,
) -> (StatusCode, String, Duration) {
    let started = Instant::now();
    let res = c
        .post(app.url(&format!("/sandbox/{copy}/simulate")))
        .header(COOKIE, cookie)
        .form(&[("csrf", csrf), ("action", action)])
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let to = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (res.status(), to, took)
}

fn recipient<'a>(msg: &'a Value, address: &str) -> &'a Value {
    msg["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == address)
        .unwrap_or_else(|| panic!("no recipient {address} in {msg}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_receipt_and_bounce_buttons_go_through_the_inbound_path() {
    buttons(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reply_receipt_and_bounce_buttons_go_through_the_inbound_path_on_postgres() {
    buttons(Db::Postgres).await;
}

async fn buttons(db: Db) {
    let app = TestApp::spawn_with(db, |_| {}).await;
    let c = client();
    let cookie = session(&app, &c).await;

    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test",
                    "to": ["bob@example.test", "carol@example.test", "dave@example.test"],
                    "subject": "Sandbox buttons", "text": "Hi", "read_receipt": true}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (_, copies) = app.get("/api/v1/sandbox/messages").await;
    let copy_of = |address: &str| -> String {
        copies["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no copy for {address}: {copies}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let (status, copy_page) = page(
        &app,
        &c,
        &cookie,
        &format!("/sandbox/{}", copy_of("bob@example.test")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(copy_page.contains("value=\"reply\""), "{copy_page}");
    assert!(copy_page.contains("value=\"receipt\""));
    assert!(copy_page.contains("value=\"bounce\""));
    assert!(copy_page.contains("status-delivered"));
    let csrf = csrf_in(&copy_page);

    // Without the CSRF token: 403, nothing stored.
    let bob = copy_of("bob@example.test");
    let (status, _, _) = press(&app, &c, &cookie, &bob, "forged", "reply").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An unknown action: a 400 page.
    let (status, _, _) = press(&app, &c, &cookie, &bob, &csrf, "forward").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let msg = app.get(&format!("/api/v1/messages/{id}")).await.1;
    assert_eq!(recipient(&msg, "bob@example.test")["status"], "delivered");

    // Reply.
    let (status, to, took) = press(&app, &c, &cookie, &bob, &csrf, "reply").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/sandbox/{bob}?simulated=reply&processed=1"));
    eprintln!("reply button: processed in {took:?}");
    let (_, after) = page(&app, &c, &cookie, &to).await;
    assert!(after.contains("The recipient replied"), "{after}");
    assert!(after.contains("status-replied"), "{after}");

    // Read receipt.
    let carol = copy_of("carol@example.test");
    let (status, to, took) = press(&app, &c, &cookie, &carol, &csrf, "receipt").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.ends_with("processed=1"), "{to}");
    eprintln!("receipt button: processed in {took:?}");

    // Bounce.
    let dave = copy_of("dave@example.test");
    let (status, to, took) = press(&app, &c, &cookie, &dave, &csrf, "bounce").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(to.ends_with("processed=1"), "{to}");
    eprintln!("bounce button: processed in {took:?}");

    let msg = app.get(&format!("/api/v1/messages/{id}")).await.1;
    let bob = recipient(&msg, "bob@example.test");
    assert_eq!(bob["status"], "replied", "{bob}");
    let replied = bob["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "replied")
        .expect("replied event");
    assert_eq!(replied["data"]["source"], "sandbox");

    let carol = recipient(&msg, "carol@example.test");
    assert_eq!(carol["status"], "read", "{carol}");
    let receipt = carol["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "read_receipt")
        .expect("read_receipt event");
    assert_eq!(receipt["data"]["disposition"], "displayed");

    let dave = recipient(&msg, "dave@example.test");
    assert_eq!(dave["status"], "failed", "{dave}");
    assert_eq!(dave["status_reason"]["reason"], "userunknown", "{dave}");
    assert_eq!(dave["status_reason"]["enhanced_status"], "5.1.1", "{dave}");
    assert_eq!(dave["status_reason"]["smtp_code"], 550, "{dave}");
    let (_, supp) = app.get("/api/v1/suppressions").await;
    assert!(
        supp["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["address"] == "dave@example.test"),
        "{supp}"
    );

    // A message without a read-receipt request: the button is disabled,
    // and pressing it anyway is a clear 400 page.
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["erin@example.test"],
                    "subject": "No receipt", "text": "Hi", "read_receipt": false}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let plain = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&plain, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (_, copies) = app.get("/api/v1/sandbox/messages").await;
    let erin = copies["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "erin@example.test")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, erin_page) = page(&app, &c, &cookie, &format!("/sandbox/{erin}")).await;
    assert!(
        erin_page.contains("asked for no read receipt"),
        "{erin_page}"
    );
    let res = c
        .post(app.url(&format!("/sandbox/{erin}/simulate")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("action", "receipt")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("no read receipt"));

    // Another organisation's copy: the page and the buttons are 404 pages.
    let (other_key, other_msg) = other_org_message(&app, "Secret").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let other_copy = loop {
        let list: Value = app
            .client
            .get(app.url("/api/v1/sandbox/messages"))
            .bearer_auth(&other_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(c) = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["message_id"] == other_msg.as_str())
        {
            break c["id"].as_str().unwrap().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the other organisation's copy never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, nf) = page(&app, &c, &cookie, &format!("/sandbox/{other_copy}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!nf.contains("Secret"));
    let (status, _, _) = press(&app, &c, &cookie, &other_copy, &csrf, "bounce").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    app.stop().await;
}

/// Looking at a copy in the sandbox inbox is not the recipient opening
/// it: the preview has no tracking pixel and its links go straight to
/// their targets, so nothing is recorded (the browser flow checks the
/// same in Chromium, with the live feed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_preview_of_a_copy_records_nothing() {
    let app = TestApp::spawn().await;
    let c = client();
    let cookie = session(&app, &c).await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["bob@example.test"],
                    "subject": "Preview", "track": {"opens": true, "clicks": true},
                    "html": "<p>Hello <a href=\"https://example.org/offer?x=1\">offer</a></p>"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (_, copies) = app.get("/api/v1/sandbox/messages").await;
    let copy = copies["data"][0]["id"].as_str().unwrap().to_owned();
    let raw = copies["data"][0]["raw"]
        .as_str()
        .unwrap()
        .replace("=\r\n", "");
    assert!(raw.contains("/t/o/"), "the copy itself is tracked: {raw}");

    let (status, html) = page(&app, &c, &cookie, &format!("/sandbox/{copy}")).await;
    assert_eq!(status, StatusCode::OK);
    let start = html.find("srcdoc=\"").expect("a srcdoc frame") + "srcdoc=\"".len();
    let srcdoc = &html[start..start + html[start..].find('"').unwrap()];
    assert!(srcdoc.contains("Hello"), "{srcdoc}");
    assert!(
        !srcdoc.contains("/t/o/"),
        "the preview loads the pixel: {srcdoc}"
    );
    assert!(
        !srcdoc.contains("/t/c/"),
        "the preview's links are tracked: {srcdoc}"
    );
    assert!(srcdoc.contains("https://example.org/offer?x=1"), "{srcdoc}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    let msg = app.get(&format!("/api/v1/messages/{id}")).await.1;
    let bob = recipient(&msg, "bob@example.test");
    assert_eq!(bob["status"], "delivered", "{msg}");
    assert_eq!(bob["opens"], 0, "{msg}");
    assert_eq!(bob["machine_opens"], 0, "{msg}");
    assert_eq!(bob["clicks"], 0, "{msg}");
    app.stop().await;
}

//! The dashboard against the real server: sign-in, sessions, CSRF, 403 and
//! 404 pages, the Emails page and its filters, Compose, and the browser
//! flow in Chromium (tests/browser/dashboard.mjs).

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::support::{TestApp, api_key_for};

const EMAIL: &str = "admin@example.test";
/// The password `support::create_admin` gives the admin.
const PASSWORD: &str = "correct horse battery";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of a hidden `csrf` input in a page.
pub(crate) fn csrf_in(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .unwrap_or_else(|| panic!("no csrf field in the page:\n{page}"));
    let rest = &page[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_owned()
}

/// `name=value` of a `Set-Cookie` header named `name`, and the whole header.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap_or("").to_owned(), v.to_owned()))
}

/// Signs in; returns the session cookie (`mailtrail_session=...`).
async fn sign_in(
    app: &TestApp,
    c: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let res = c.get(app.url("/login")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (login_cookie, _) = set_cookie(&res, "mailtrail_login_csrf").expect("login CSRF cookie");
    let page = res.text().await.unwrap();
    let csrf = csrf_in(&page);
    c.post(app.url("/login"))
        .header(COOKIE, login_cookie)
        .form(&[("email", email), ("password", password), ("csrf", &csrf)])
        .send()
        .await
        .unwrap()
}

pub(crate) async fn session(app: &TestApp, c: &reqwest::Client) -> String {
    let res = sign_in(app, c, EMAIL, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/");
    let (cookie, header) = set_cookie(&res, "mailtrail_session").expect("session cookie");
    assert!(header.contains("HttpOnly"), "{header}");
    assert!(header.contains("SameSite=Lax"), "{header}");
    // The test server's public URL is http: no Secure attribute.
    assert!(!header.contains("Secure"), "{header}");
    cookie
}

pub(crate) async fn page(
    app: &TestApp,
    c: &reqwest::Client,
    cookie: &str,
    path: &str,
) -> (StatusCode, String) {
    let res = c
        .get(app.url(path))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sessions_csrf_and_isolation() {
    let app = TestApp::spawn().await;
    let c = client();

    // No session: pages go to the sign-in page.
    let res = c.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login");
    // A made-up session cookie is no better.
    let (status, _) = page(&app, &c, "mailtrail_session=forged", "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);

    // Wrong password: 401 and the form again, no session.
    let res = sign_in(&app, &c, EMAIL, "wrong password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(set_cookie(&res, "mailtrail_session").is_none());
    assert!(res.text().await.unwrap().contains("do not match"));
    // Unknown address: the same answer.
    let res = sign_in(&app, &c, "nobody@example.test", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A sign-in form without its CSRF cookie is refused.
    let res = c
        .post(app.url("/login"))
        .form(&[("email", EMAIL), ("password", PASSWORD), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("sign-in form has expired")
    );

    let cookie = session(&app, &c).await;

    // A message sent through the API shows on the Emails page.
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["bob@example.test"],
                    "subject": "Dashboard <hello>", "text": "Hi"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (status, emails) = page(&app, &c, &cookie, "/").await;
    assert_eq!(status, StatusCode::OK);
    // Escaped, with its status icon and label.
    assert!(
        emails.contains("Dashboard &#60;hello&#62;") || emails.contains("Dashboard &lt;hello&gt;"),
        "{emails}"
    );
    assert!(emails.contains("status-delivered"), "{emails}");
    assert!(emails.contains(">delivered</span>"), "{emails}");
    // Filters: by status, by recipient, by subject, by dates.
    let (_, failed) = page(&app, &c, &cookie, "/?status=failed").await;
    assert!(!failed.contains("Dashboard &"), "{failed}");
    assert!(failed.contains("No emails match"));
    let (_, both) = page(&app, &c, &cookie, "/?status=failed&status=delivered").await;
    assert!(both.contains("Dashboard &"));
    let (_, r) = page(&app, &c, &cookie, "/?recipient=BOB@").await;
    assert!(r.contains("Dashboard &"));
    let (_, r) = page(&app, &c, &cookie, "/?subject=nothing-like-it").await;
    assert!(!r.contains("Dashboard &"));
    let (_, r) = page(&app, &c, &cookie, "/?since=2000-01-01&until=2000-01-02").await;
    assert!(!r.contains("Dashboard &"));
    let (status, r) = page(&app, &c, &cookie, "/?since=nonsense").await;
    assert_eq!(status, StatusCode::OK);
    assert!(r.contains("must be a date"));

    // The detail page, and 404 pages for nonsense and unknown ids.
    let (status, detail) = page(&app, &c, &cookie, &format!("/messages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("bob@example.test"));
    assert!(detail.contains("Timeline"));
    let (status, nf) = page(&app, &c, &cookie, "/messages/not-an-id").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(nf.contains("<h1>Not found</h1>"), "{nf}");
    let (status, _) = page(
        &app,
        &c,
        &cookie,
        &format!("/messages/{}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Another organisation's message is a 404 page, never its data.
    let other = app.store.ensure_organisation("other").await.unwrap();
    let hash = mailtrail::password::hash("other password").unwrap();
    let user = app
        .store
        .create_user(
            other.id,
            &mailtrail_domain::EmailAddress::parse("eve@other.test").unwrap(),
            &hash,
            true,
        )
        .await
        .unwrap();
    let other_key = api_key_for(&app.store, user.id).await;
    let res = app
        .client
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&other_key)
        .json(&json!({"from": "eve@other.test", "to": ["x@other.test"], "subject": "Secret plans", "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let other_id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, nf) = page(&app, &c, &cookie, &format!("/messages/{other_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!nf.contains("Secret plans"));
    let (_, emails) = page(&app, &c, &cookie, "/").await;
    assert!(!emails.contains("Secret plans"));

    // CSRF: a form with another token is a 403 page; without a session, too.
    let csrf = csrf_in(&emails);
    let res = c
        .post(app.url("/settings"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", "not-the-token"), ("read_receipt", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("This form has expired"));
    let res = c
        .post(app.url("/settings"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("session has ended"));
    // With the right token the defaults change.
    let res = c
        .post(app.url("/settings"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("track_opens", "on")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let org = app.store.ensure_organisation("default").await.unwrap();
    assert!(!org.read_receipt_default);
    assert!(org.track_opens_default);
    assert!(!org.track_clicks_default);

    // Resend to a recipient: a new message, same content.
    let detail_csrf = csrf_in(&detail);
    let rid = app.get(&format!("/api/v1/messages/{id}")).await.1["recipients"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = c
        .post(app.url(&format!("/messages/{id}/resend")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", detail_csrf.as_str()), ("recipient", rid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(to.starts_with("/messages/") && !to.ends_with(&id), "{to}");
    let (status, resent) = page(&app, &c, &cookie, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(resent.contains("Dashboard &"));
    // Resending another organisation's message is not found.
    let res = c
        .post(app.url(&format!("/messages/{other_id}/resend")))
        .header(COOKIE, &cookie)
        .form(&[("csrf", detail_csrf.as_str()), ("recipient", rid.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Compose (multipart) goes through the API's validation.
    let boundary = "XyZzyBoundary";
    let part = |name: &str, value: &str| {
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
    };
    let mut body = String::new();
    for (k, v) in [
        ("csrf", csrf.as_str()),
        ("from", "ann@example.test"),
        ("to", "not an address"),
        ("subject", "Composed"),
        ("format", "html"),
        ("body", "<p>Hi</p>"),
    ] {
        body.push_str(&part(k, v));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let res = c
        .post(app.url("/compose"))
        .header(COOKIE, &cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("to[0]"));
    let good = body.replace("not an address", "carol@example.test");
    let good = good.replacen(
        &format!("--{boundary}--\r\n"),
        &format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nsome notes\r\n--{boundary}--\r\n"
        ),
        1,
    );
    let res = c
        .post(app.url("/compose"))
        .header(COOKIE, &cookie)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
    let (_, composed) = page(&app, &c, &cookie, &to).await;
    assert!(composed.contains("carol@example.test"));
    assert!(composed.contains("notes.txt"));

    // Stats: the delivered copy is counted, with the chart.
    let (status, stats) = page(&app, &c, &cookie, "/stats?days=7").await;
    assert_eq!(status, StatusCode::OK);
    assert!(stats.contains("<svg class=\"chart\""), "{stats}");
    assert!(stats.contains("Opened by a machine"));

    // Settings offers the "this is my device" link of the tracking
    // endpoints; opening it sets the signed mailtrail_self cookie.
    let (status, settings) = page(&app, &c, &cookie, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    let at = settings.find("/t/self/").expect("self-device link");
    let start = settings[..at].rfind('"').expect("href start") + 1;
    let end = at + settings[at..].find('"').expect("href end");
    let res = c.get(&settings[start..end]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(set_cookie(&res, "mailtrail_self").is_some());

    // The sandbox lists the captured copies.
    let (status, sandbox) = page(&app, &c, &cookie, "/sandbox").await;
    assert_eq!(status, StatusCode::OK);
    assert!(sandbox.contains("bob@example.test"), "{sandbox}");

    // Sign-out ends the session for good.
    let res = c
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, cleared) = set_cookie(&res, "mailtrail_session").expect("cleared cookie");
    assert!(cleared.contains("Max-Age=0"));
    let (status, _) = page(&app, &c, &cookie, "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    app.stop().await;
}

/// The whole flow in a real browser: Debian's Chromium driven by
/// playwright-core (tests/browser/dashboard.mjs). Screenshots land in
/// target/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_flow() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/tests/browser/dashboard.mjs");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium package (scripts/test.sh does)"
    );
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node is missing: install Node.js (scripts/test.sh checks for it)"
    );
    assert!(
        std::path::Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is missing: run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let app = TestApp::spawn().await;
    let base = app.url("");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .arg(base)
            .arg(EMAIL)
            .arg(PASSWORD)
            .env("SCREENSHOT_DIR", format!("{root}/target/screenshots"))
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the browser flow failed: {:?}",
        out.status
    );
    app.stop().await;
}

/// A live feed never ends by itself: shutdown must not wait for it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_does_not_hang_on_an_open_live_feed() {
    let app = TestApp::spawn().await;
    let c = client();
    let cookie = session(&app, &c).await;
    let feed = c
        .get(app.url("/live/events"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(feed.status(), StatusCode::OK);
    assert!(
        feed.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let started = std::time::Instant::now();
    tokio::time::timeout(std::time::Duration::from_secs(30), app.stop())
        .await
        .expect("the server stopped although a live feed was open");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    drop(feed);
}

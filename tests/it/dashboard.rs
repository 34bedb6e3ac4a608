//! The dashboard against the real server: sign-in, sessions, CSRF, 403 and
//! 404 pages, the Emails page and its filters, Compose, and the browser
//! flow in Chromium (tests/browser/dashboard.mjs).

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

use crate::support::{TestApp, api_key_for};

pub(crate) const EMAIL: &str = "admin@example.test";
/// The password `support::create_admin` gives the admin.
pub(crate) const PASSWORD: &str = "correct horse battery";

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

/// A message of another organisation ("other", user eve@other.test) sent
/// through the API: its sender's API key and the message's id, for tests
/// that must never see it.
pub(crate) async fn other_org_message(app: &TestApp, subject: &str) -> (String, String) {
    let other = app.store.ensure_organisation("other").await.unwrap();
    let hash = mailtrail_domain::credentials::hash_password("other password").unwrap();
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
    let key = api_key_for(&app.store, user.id).await;
    let res = app
        .client
        .post(app.url("/api/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"from": "eve@other.test", "to": ["x@other.test"], "subject": subject, "text": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, id)
}

/// Signs in; returns the session cookie (`mailtrail_session=...`).
pub(crate) async fn sign_in(
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
                    "subject": "Dashboard <hello>", "text": "Hi", "tag": "welcome"}),
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
    let (_, r) = page(&app, &c, &cookie, "/?tag=welcome").await;
    assert!(
        r.contains("Dashboard &") && r.contains("value=\"welcome\""),
        "{r}"
    );
    let (_, r) = page(&app, &c, &cookie, "/?tag=welcom").await;
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
    let (_, other_id) = other_org_message(&app, "Secret plans").await;
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

/// Sender networks saved in Settings reach the tracking endpoints at once
/// (no database read per hit), and a node that starts later loads them
/// from the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_networks_from_settings_mark_opens_as_the_senders() {
    const UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    let f = crate::tracking::Fixture::new(|_| {}).await;
    let c = client();
    let cookie = session(&f.app, &c).await;
    // The fixture trusts X-Forwarded-For from 127.0.0.1.
    let from = [("x-forwarded-for", "198.51.100.7"), ("user-agent", UA)];
    let (opener, rule, _) = f.open_as(3600, &from).await;
    assert_eq!((opener.as_str(), rule.as_str()), ("human", "human"));

    let (_, settings) = page(&f.app, &c, &cookie, "/settings").await;
    let csrf = csrf_in(&settings);
    let res = c
        .post(f.app.url("/settings/sender-networks"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("networks", "198.51.100.0/24\n10.0.0.300"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("Line 2"));
    let res = c
        .post(f.app.url("/settings/sender-networks"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("networks", "198.51.100.0/24")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (opener, rule, _) = f.open_as(3600, &from).await;
    assert_eq!((opener.as_str(), rule.as_str()), ("self", "sender_network"));
    let (opener, _, _) = f
        .open_as(
            3600,
            &[("x-forwarded-for", "192.0.2.1"), ("user-agent", UA)],
        )
        .await;
    assert_eq!(opener, "human");

    // A second node on the same database has them from its start.
    let data_dir = f.app.dir.path().join("data");
    let second = TestApp::spawn_with(crate::support::Db::Sqlite, |s| {
        s.data_dir = data_dir;
        s.trusted_proxies = vec!["127.0.0.1/32".into()];
    })
    .await;
    let before = f.tracking_events().await.len();
    let res = c
        .get(second.url(&format!("/t/o/{}", f.open_token(3600))))
        .header("x-forwarded-for", "198.51.100.200")
        .header("user-agent", UA)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let events = f.tracking_events_at_least(before + 1).await;
    assert_eq!(events.len(), before + 1);
    let last = events.last().unwrap();
    assert_eq!(last["opener"], "self", "{last}");
    assert_eq!(last["data"]["rule"], "sender_network", "{last}");
    second.stop().await;
    f.app.stop().await;
}

/// The Contact page and the users page on the real server (SQLite).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_and_users_pages_on_the_real_server() {
    let app = TestApp::spawn().await;
    let c = client();
    let cookie = session(&app, &c).await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["Zoe+news@example.test"],
                    "subject": "For Zoe", "text": "Hi"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (_, emails) = page(&app, &c, &cookie, "/").await;
    assert!(
        emails.contains("href=\"/contacts/Zoe+news@example.test\""),
        "{emails}"
    );
    let (status, contact) = page(&app, &c, &cookie, "/contacts/zoe%2Bnews@EXAMPLE.test").await;
    assert_eq!(status, StatusCode::OK);
    assert!(contact.contains("For Zoe"), "{contact}");
    assert!(contact.contains("<strong>delivered</strong>"), "{contact}");
    assert!(contact.contains(&format!("/messages/{id}")));
    let (status, bad) = page(&app, &c, &cookie, "/contacts/zoe@@example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("is not an email address"));

    let (status, users) = page(&app, &c, &cookie, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_in(&users);
    let res = c
        .post(app.url("/admin/users"))
        .header(COOKIE, &cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("email", "colleague@example.test"),
            ("password", "colleague password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The new user signs in with that password and is not an administrator.
    let res = sign_in(&app, &c, "colleague@example.test", "colleague password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (colleague, _) = set_cookie(&res, "mailtrail_session").expect("session");
    let (status, forbidden) = page(&app, &c, &colleague, "/admin/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(forbidden.contains("Only an administrator"));
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

//! Settings → sending domains against the real server: an admin adds a
//! domain through the dashboard, mailtrail makes its DKIM key and shows the
//! TXT record; copies sent from that domain carry a signature that
//! mail-auth verifies against exactly that published record; other domains
//! and removed domains are not signed with it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::json;

use crate::dashboard::{client, csrf_in, page, session, sign_in};
use crate::support::{Db, TestApp};

/// Answers DKIM key lookups from the records the Settings page showed.
#[derive(Default)]
struct Published(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for Published {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// The text of the first `<code class="{class}">` after `after`.
fn code_after(page: &str, after: &str, class: &str) -> String {
    let start = page
        .find(after)
        .unwrap_or_else(|| panic!("{after} not in\n{page}"));
    let tag = format!("<code class=\"{class}\">");
    let at = start + page[start..].find(&tag).expect("code tag") + tag.len();
    let end = at + page[at..].find("</code>").expect("end of code");
    page[at..end]
        .replace("&#43;", "+")
        .replace("&#61;", "=")
        .replace("&#47;", "/")
        .replace("&#x2f;", "/")
}

async fn add_domain(
    app: &TestApp,
    c: &reqwest::Client,
    cookie: &str,
    csrf: &str,
    domain: &str,
    selector: &str,
    algorithm: &str,
) -> reqwest::Response {
    c.post(app.url("/settings/domains"))
        .header(COOKIE, cookie)
        .form(&[
            ("csrf", csrf),
            ("domain", domain),
            ("selector", selector),
            ("algorithm", algorithm),
        ])
        .send()
        .await
        .unwrap()
}

/// Sends one message from `from` and returns its sandbox copy.
async fn copy_from(app: &TestApp, from: &str, to: &str) -> String {
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": from, "to": [to], "subject": "Signed?", "html": "<p>Hello</p>"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    app.wait_for(&id, Duration::from_secs(10), |s| s == "delivered")
        .await;
    let (_, copies) = app.get("/api/v1/sandbox/messages").await;
    copies["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["message_id"] == id.as_str())
        .expect("the copy")["raw"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn verify(raw: &str, published: &Published) -> Vec<DkimResult> {
    let authenticator = MessageAuthenticator::new_cloudflare().unwrap();
    let message = AuthenticatedMessage::parse(raw.as_bytes()).unwrap();
    authenticator
        .verify_dkim(Parameters::new(&message).with_txt_cache(published))
        .await
        .into_iter()
        .map(|o| o.result().clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_added_in_settings_signs_its_copies_with_the_published_key() {
    domain_keys(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_added_in_settings_signs_its_copies_with_the_published_key_on_postgres() {
    domain_keys(Db::Postgres).await;
}

async fn domain_keys(db: Db) {
    let app = TestApp::spawn_with(db, |_| {}).await;
    let c = client();
    let cookie = session(&app, &c).await;
    let (_, settings) = page(&app, &c, &cookie, "/settings").await;
    assert!(settings.contains("No sending domain yet"), "{settings}");
    let csrf = csrf_in(&settings);

    // Ed25519 for one domain, RSA-2048 for another.
    let published = Published::default();
    for (domain, selector, algorithm, k) in [
        ("ed.example.test", "mt1", "ed25519", "ed25519"),
        ("Rsa.Example.Test.", "", "rsa", "rsa"),
    ] {
        let started = Instant::now();
        let res = add_domain(&app, &c, &cookie, &csrf, domain, selector, algorithm).await;
        eprintln!("adding a {algorithm} domain took {:?}", started.elapsed());
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let to = res.headers()[LOCATION].to_str().unwrap().to_owned();
        assert!(to.starts_with("/settings?domain_added="), "{to}");
        let (status, shown) = page(&app, &c, &cookie, &to).await;
        assert_eq!(status, StatusCode::OK);
        assert!(shown.contains("Domain added"), "{shown}");
        // The private key never reaches a page.
        assert!(!shown.contains("PRIVATE KEY"));
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        let selector = if selector.is_empty() {
            "mailtrail"
        } else {
            selector
        };
        let name = code_after(&shown, &format!("<h3>{domain} "), "dns-name");
        assert_eq!(name, format!("{selector}._domainkey.{domain}"));
        let record = code_after(&shown, &format!("<h3>{domain} "), "dns-record");
        assert!(
            record.starts_with(&format!("v=DKIM1; k={k}; p=")),
            "{record}"
        );
        published.insert(
            format!("{name}.").into_boxed_str(),
            Txt::from(DomainKey::parse(record.as_bytes()).unwrap()),
            Instant::now() + Duration::from_secs(3600),
        );
    }

    // Bad input gets a clear page, and nothing is stored.
    let res = add_domain(&app, &c, &cookie, &csrf, "ed.example.test", "x", "ed25519").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("already has that sending domain")
    );
    let res = add_domain(&app, &c, &cookie, &csrf, "not a domain.test", "x", "rsa").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("not a domain name"));
    let res = add_domain(
        &app,
        &c,
        &cookie,
        &csrf,
        "ok.example.test",
        "bad selector",
        "rsa",
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("selector cannot be used")
    );
    let res = add_domain(&app, &c, &cookie, &csrf, "ok.example.test", "s", "dsa").await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = add_domain(&app, &c, &cookie, "forged", "ok.example.test", "s", "rsa").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, settings) = page(&app, &c, &cookie, "/settings").await;
    assert!(!settings.contains("ok.example.test"));

    // Copies from each domain verify against the record that was shown.
    let raw = copy_from(&app, "ann@ed.example.test", "bob@example.test").await;
    assert!(raw.contains("a=ed25519-sha256"), "{raw}");
    assert!(
        raw.contains("d=ed.example.test") && raw.contains("s=mt1"),
        "{raw}"
    );
    assert_eq!(verify(&raw, &published).await, vec![DkimResult::Pass]);
    let raw = copy_from(&app, "ann@rsa.example.test", "bob@example.test").await;
    assert!(raw.contains("a=rsa-sha256"), "{raw}");
    assert_eq!(verify(&raw, &published).await, vec![DkimResult::Pass]);
    // A tampered copy does not.
    let tampered = raw.replace("Hello", "Hellx");
    assert_ne!(verify(&tampered, &published).await, vec![DkimResult::Pass]);
    // Another domain is not signed with these keys (no key is configured).
    let raw = copy_from(&app, "ann@elsewhere.test", "bob@example.test").await;
    assert!(!raw.contains("DKIM-Signature"), "{raw}");

    // Removing a domain: its copies are no longer signed with its key.
    let (_, settings) = page(&app, &c, &cookie, "/settings").await;
    let at = settings.find("<h3>ed.example.test ").unwrap();
    let id_at = at + settings[at..].find("name=\"domain_id\" value=\"").unwrap() + 24;
    let domain_id = settings[id_at..id_at + 36].to_owned();
    let res = c
        .post(app.url("/settings/domains/remove"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("domain_id", domain_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, settings) = page(&app, &c, &cookie, "/settings?domain_removed=1").await;
    assert!(settings.contains("Domain removed"));
    assert!(!settings.contains("<h3>ed.example.test "));
    let res = c
        .post(app.url("/settings/domains/remove"))
        .header(COOKIE, &cookie)
        .form(&[("csrf", csrf.as_str()), ("domain_id", domain_id.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let raw = copy_from(&app, "ann@ed.example.test", "bob@example.test").await;
    assert!(!raw.contains("DKIM-Signature"), "{raw}");

    // A user who is not an administrator sees the records but no forms,
    // and the forms refuse them.
    let org = app.store.ensure_organisation("default").await.unwrap();
    let hash = mailtrail_domain::credentials::hash_password("a plain user's password").unwrap();
    app.store
        .create_user(
            org.id,
            &mailtrail_domain::EmailAddress::parse("plain@example.test").unwrap(),
            &hash,
            false,
        )
        .await
        .unwrap();
    let res = sign_in(&app, &c, "plain@example.test", "a plain user's password").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let plain = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("mailtrail_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let (_, settings) = page(&app, &c, &plain, "/settings").await;
    assert!(settings.contains("rsa.example.test"), "{settings}");
    assert!(settings.contains("Only an administrator can add or remove sending domains"));
    assert!(!settings.contains("action=\"/settings/domains\""));
    let plain_csrf = csrf_in(&settings);
    let res = add_domain(
        &app,
        &c,
        &plain,
        &plain_csrf,
        "mine.example.test",
        "s",
        "rsa",
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    app.stop().await;
}

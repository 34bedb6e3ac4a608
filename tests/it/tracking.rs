//! The tracking endpoints against the real server: token checks, no open
//! redirect, durable events, and every opener rule through real HTTP
//! requests.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use mailtrail::config::Settings;
use mailtrail_domain::{Keyring, Purpose, TokenKey, TrackingPayload};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::support::{Db, TestApp};

const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const GMAIL_PROXY: &str =
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";

/// A running server, one sent message with one recipient, and the server's
/// own keyring (read from its data dir) to sign tokens as the worker does.
pub struct Fixture {
    pub app: TestApp,
    pub keyring: Keyring,
    /// The sending organisation, signed into tokens as the worker does.
    pub org: Uuid,
    pub message: String,
    pub recipient: Uuid,
    pub http: reqwest::Client,
}

/// The keyring of a server whose secret was generated into `data_dir`.
pub fn server_keyring(data_dir: &std::path::Path) -> Keyring {
    let path = data_dir.join("token-secret");
    let secret = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Keyring::new(vec![
        TokenKey::new(1, secret.trim().as_bytes(), None).unwrap(),
    ])
    .unwrap()
}

pub fn sign(
    keyring: &Keyring,
    recipient: Uuid,
    purpose: Purpose,
    age_secs: i64,
    link: Option<&str>,
) -> String {
    sign_for_org(keyring, recipient, None, purpose, age_secs, link)
}

/// A token as the worker signs it, naming the sending organisation.
pub fn sign_for_org(
    keyring: &Keyring,
    recipient: Uuid,
    org: Option<Uuid>,
    purpose: Purpose,
    age_secs: i64,
    link: Option<&str>,
) -> String {
    let payload = TrackingPayload {
        issued_at: OffsetDateTime::now_utc() - time::Duration::seconds(age_secs),
        org,
        link: link.map(str::to_owned),
    };
    keyring.sign(recipient, purpose, &payload.encode()).unwrap()
}

impl Fixture {
    pub async fn new(configure: impl FnOnce(&mut Settings)) -> Self {
        let app = TestApp::spawn_with(Db::Sqlite, |s| {
            s.trusted_proxies = vec!["127.0.0.1/32".into()];
            s.self_networks = vec!["203.0.113.0/24".into()];
            configure(s);
        })
        .await;
        let (code, body) = app
            .post(
                "/api/v1/messages",
                &json!({"from": "ann@example.test", "to": ["bob@example.test"],
                        "subject": "Hello", "text": "Hi",
                        "html": "<p>Hi <a href=\"https://example.com/a\">a</a></p>"}),
            )
            .await;
        assert_eq!(code, 202, "{body}");
        let message = body["id"].as_str().unwrap().to_owned();
        let recipient = Uuid::parse_str(body["recipients"][0]["id"].as_str().unwrap()).unwrap();
        let keyring = server_keyring(&app.dir.path().join("data"));
        let org = app
            .store
            .user_by_email(&mailtrail_domain::EmailAddress::parse("admin@example.test").unwrap())
            .await
            .unwrap()
            .expect("the test admin")
            .org_id;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            app,
            keyring,
            org,
            message,
            recipient,
            http,
        }
    }

    pub fn open_token(&self, age_secs: i64) -> String {
        sign_for_org(
            &self.keyring,
            self.recipient,
            Some(self.org),
            Purpose::Open,
            age_secs,
            None,
        )
    }

    pub fn click_token(&self, link: &str, age_secs: i64) -> String {
        sign_for_org(
            &self.keyring,
            self.recipient,
            Some(self.org),
            Purpose::Click,
            age_secs,
            Some(link),
        )
    }

    /// GETs `path` with `headers`; asserts the pixel came back.
    pub async fn pixel(&self, path: &str, headers: &[(&str, &str)]) {
        let mut req = self.http.get(self.app.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.expect("pixel request");
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "image/gif");
        assert_eq!(
            res.headers()["cache-control"],
            "no-store, no-cache, must-revalidate, private"
        );
        assert_eq!(res.bytes().await.unwrap().len(), 43, "{path}");
    }

    /// The recipient as the API shows it.
    pub async fn recipient_view(&self) -> Value {
        let (code, m) = self
            .app
            .get(&format!("/api/v1/messages/{}", self.message))
            .await;
        assert_eq!(code, 200, "{m}");
        m["recipients"][0].clone()
    }

    /// The recipient's opened and clicked events, oldest first.
    pub async fn tracking_events(&self) -> Vec<Value> {
        let r = self.recipient_view().await;
        r["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "opened" || e["kind"] == "clicked")
            .cloned()
            .collect()
    }

    /// The recipient's clicked events, oldest first.
    pub async fn clicks(&self) -> Vec<Value> {
        let mut events = self.tracking_events().await;
        events.retain(|e| e["kind"] == "clicked");
        events
    }

    /// The recipient's opened and clicked events once there are at least
    /// `n` (or after 10 s). A hit is answered once its event is durable in
    /// the event journal; the store (and so the API) has it a few
    /// milliseconds later, when the journal is folded into it. Folding
    /// keeps the journal's order, so once the `n`th event is visible every
    /// event recorded before it is too.
    pub async fn tracking_events_at_least(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let events = self.tracking_events().await;
            if events.len() >= n || tokio::time::Instant::now() > deadline {
                return events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// The recipient's clicked events once there are at least `n` (see
    /// [`Fixture::tracking_events_at_least`]).
    pub async fn clicks_at_least(&self, n: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let clicks = self.clicks().await;
            if clicks.len() >= n || tokio::time::Instant::now() > deadline {
                return clicks;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Opens with `headers` and returns the (opener, rule, data) recorded:
    /// exactly one more event than before the hit.
    pub async fn open_as(
        &self,
        age_secs: i64,
        headers: &[(&str, &str)],
    ) -> (String, String, Value) {
        let before = self.tracking_events().await.len();
        self.pixel(&format!("/t/o/{}", self.open_token(age_secs)), headers)
            .await;
        let events = self.tracking_events_at_least(before + 1).await;
        assert_eq!(events.len(), before + 1, "one event per open: {events:#?}");
        let e = events.last().unwrap().clone();
        (
            e["opener"].as_str().unwrap().to_owned(),
            e["data"]["rule"].as_str().unwrap().to_owned(),
            e["data"].clone(),
        )
    }
}

#[tokio::test]
async fn bad_tokens_get_the_pixel_and_record_nothing() {
    let f = Fixture::new(|_| {}).await;
    let good = f.open_token(60);
    let other = Keyring::new(vec![
        TokenKey::new(1, b"another-secret-of-enough-length", None).unwrap(),
    ])
    .unwrap();
    // A standard-alphabet, padded re-encoding of a valid token's bytes (it
    // always differs: the padding). A `/` of the standard alphabet is sent
    // percent-encoded so that it stays inside the path segment.
    let reencoded = {
        let raw = URL_SAFE_NO_PAD.decode(&good).unwrap();
        STANDARD.encode(raw).replace('/', "%2F")
    };
    assert_ne!(reencoded, good);
    let mut tampered = good.clone().into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let bad = [
        "garbage".to_owned(),
        good[..good.len() - 2].to_owned(),
        format!("{good}="),
        reencoded,
        String::from_utf8(tampered).unwrap(),
        sign(&other, f.recipient, Purpose::Open, 60, None),
        f.click_token("https://example.com/a", 60),
        sign(&f.keyring, f.recipient, Purpose::Unsubscribe, 60, None),
        format!("{good}/extra"),
    ];
    for token in &bad {
        f.pixel(&format!("/t/o/{token}"), &[("user-agent", CHROME)])
            .await;
    }
    f.pixel("/t/o/%ff%fe", &[]).await;
    assert!(
        f.tracking_events().await.is_empty(),
        "bad tokens recorded events"
    );

    // HEAD answers like GET but records nothing.
    let res = f
        .http
        .head(f.app.url(&format!("/t/o/{good}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        f.tracking_events().await.is_empty(),
        "HEAD recorded an event"
    );

    // The valid token records exactly one event, durable when the 200 came.
    // It is the first event the store holds: folding keeps the journal's
    // order, so an event a bad token or HEAD had recorded would show too.
    let (opener, rule, data) = f.open_as(60, &[("user-agent", CHROME)]).await;
    assert_eq!(f.tracking_events().await.len(), 1);
    assert_eq!((opener.as_str(), rule.as_str()), ("human", "human"));
    assert_eq!(data["user_agent"], CHROME);
    assert_eq!(data["ip"], "127.0.0.1");
    let r = f.recipient_view().await;
    assert_eq!(r["opens"], 1, "{r}");
}

#[tokio::test]
async fn clicks_redirect_exactly_and_never_openly() {
    let f = Fixture::new(|_| {}).await;
    let link = "https://example.com/path/ü?a=1&b=%20x#frag";
    let link = link.replace('ü', "%C3%BC");
    let res = f
        .http
        .get(f.app.url(&format!(
            "/t/c/{}?url=https://evil.example/",
            f.click_token(&link, 60)
        )))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()["location"],
        link.as_str(),
        "the signed URL, not the query's"
    );
    let events = f.clicks_at_least(1).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["kind"], "clicked");
    assert_eq!(events[0]["opener"], "human");
    assert_eq!(events[0]["data"]["url"], link.as_str());

    let other = Keyring::new(vec![
        TokenKey::new(1, b"another-secret-of-enough-length", None).unwrap(),
    ])
    .unwrap();
    let good = f.click_token("https://example.com/x", 60);
    let attempts = [
        "/t/c/bad?url=https://evil.example".to_owned(),
        "/t/c/?url=https://evil.example".to_owned(),
        format!("/t/c/{}?url=https://evil.example", f.open_token(60)),
        format!(
            "/t/c/{}",
            sign(
                &other,
                f.recipient,
                Purpose::Click,
                60,
                Some("https://evil.example")
            )
        ),
        format!("/t/c/{}", &good[..good.len() - 3]),
        format!("/t/c/{}", f.click_token("javascript:alert(1)", 60)),
        format!("/t/c/{}", f.click_token("//evil.example/", 60)),
        "/t/c/https://evil.example".to_owned(),
        "/t/c/%2F%2Fevil.example".to_owned(),
    ];
    for path in &attempts {
        let res = f.http.get(f.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.headers().get("location").is_none(), "{path} redirected");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain"),
            "{path}: a plain page"
        );
    }
    // HEAD (a link checker asking where it goes) gets the redirect and
    // records nothing.
    let res = f
        .http
        .head(f.app.url(&format!("/t/c/{good}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "https://example.com/x");
    assert_eq!(
        f.clicks().await.len(),
        1,
        "failed clicks or HEAD recorded events"
    );
    // A valid click after them is the second: folding keeps the journal's
    // order, so a click a failed attempt had recorded would show first.
    f.click_as("https://example.com/y", CHROME).await;
    let events = f.clicks().await;
    assert_eq!(
        events.len(),
        2,
        "failed clicks or HEAD recorded events: {events:#?}"
    );
    assert_eq!(events[1]["data"]["url"], "https://example.com/y");
}

/// Request headers, token age in seconds, expected opener and rule.
type Case = (
    &'static [(&'static str, &'static str)],
    i64,
    &'static str,
    &'static str,
);

#[tokio::test]
async fn each_opener_rule_through_real_requests() {
    let f = Fixture::new(|_| {}).await;
    let cases: &[Case] = &[
        (&[("user-agent", CHROME)], 60, "human", "human"),
        (
            &[("user-agent", GMAIL_PROXY)],
            60,
            "proxy",
            "gmail_image_proxy",
        ),
        (
            &[("user-agent", "YahooMailProxy; https://help.yahoo.com")],
            60,
            "proxy",
            "yahoo_image_proxy",
        ),
        (&[("user-agent", "Mozilla/5.0")], 60, "machine", "apple_mpp"),
        (
            &[("user-agent", CHROME), ("x-forwarded-for", "17.58.1.2")],
            60,
            "machine",
            "apple_mpp",
        ),
        (
            &[(
                "user-agent",
                "Google-Safety; +http://www.google.com/bot.html",
            )],
            60,
            "machine",
            "gmail_prefetch",
        ),
        (
            &[("user-agent", "Mozilla/5.0 BingPreview/1.0b")],
            60,
            "machine",
            "microsoft_safe_links",
        ),
        (
            &[("user-agent", CHROME), ("x-forwarded-for", "40.107.3.4")],
            60,
            "machine",
            "microsoft_safe_links",
        ),
        (
            &[("user-agent", CHROME), ("x-forwarded-for", "148.163.130.1")],
            60,
            "machine",
            "proofpoint",
        ),
        (
            &[("user-agent", "Mimecast Link Scanner")],
            60,
            "machine",
            "mimecast",
        ),
        (
            &[("user-agent", CHROME), ("x-forwarded-for", "64.235.150.1")],
            60,
            "machine",
            "barracuda",
        ),
        (
            &[
                ("user-agent", CHROME),
                ("sec-purpose", "prefetch;prerender"),
            ],
            60,
            "machine",
            "prefetch_header",
        ),
        (
            &[("user-agent", CHROME), ("purpose", "prefetch")],
            60,
            "machine",
            "prefetch_header",
        ),
        (&[("user-agent", CHROME)], 0, "machine", "too_soon"),
        (
            &[("user-agent", CHROME), ("x-forwarded-for", "203.0.113.77")],
            60,
            "self",
            "self_network",
        ),
    ];
    for (headers, age, opener, rule) in cases {
        let (o, r, data) = f.open_as(*age, headers).await;
        assert_eq!(
            (o.as_str(), r.as_str()),
            (*opener, *rule),
            "{headers:?} -> {data}"
        );
    }
    let r = f.recipient_view().await;
    assert_eq!(
        r["opens"], 3,
        "human + Gmail proxy + Yahoo proxy count as a person's: {r}"
    );
    assert_eq!(r["machine_opens"], 11, "{r}");

    // The IP a trusted proxy forwarded is the one recorded.
    let (_, _, data) = f
        .open_as(
            60,
            &[
                ("user-agent", CHROME),
                ("x-forwarded-for", "6.6.6.6, 198.51.100.9"),
            ],
        )
        .await;
    assert_eq!(data["ip"], "198.51.100.9");

    // DNT / GPC: counted, but nothing identifying kept.
    for h in [("dnt", "1"), ("sec-gpc", "1")] {
        let (o, _, data) = f.open_as(60, &[("user-agent", CHROME), h]).await;
        assert_eq!(o, "human");
        assert_eq!(data["private"], true, "{data}");
        assert!(
            data.get("ip").is_none() && data.get("user_agent").is_none(),
            "{data}"
        );
    }

    // Self cookie from the "this is my device" link.
    let (code, body) = f.app.post("/api/v1/tracking/self-link", &json!({})).await;
    assert_eq!(code, 200, "{body}");
    let url = body["url"].as_str().unwrap();
    let res = f.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("mailtrail_self=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_owned();
    let (o, r, _) = f
        .open_as(60, &[("user-agent", CHROME), ("cookie", &pair)])
        .await;
    assert_eq!((o.as_str(), r.as_str()), ("self", "self_cookie"));
    // Another organisation's device cookie (a valid one, as its own
    // "this is my device" link sets it) does not make this organisation's
    // recipient's open `self`.
    let other_org = format!(
        "mailtrail_self={}",
        f.keyring
            .sign(Uuid::now_v7(), Purpose::SelfDevice, &[])
            .unwrap()
    );
    let (o, r, _) = f
        .open_as(60, &[("user-agent", CHROME), ("cookie", &other_org)])
        .await;
    assert_eq!((o.as_str(), r.as_str()), ("human", "human"));
    // A token naming no organisation (issued before tokens carried it)
    // matches no cookie, not even the right one.
    let legacy = sign(&f.keyring, f.recipient, Purpose::Open, 60, None);
    let events_before_legacy = f.tracking_events().await.len();
    f.pixel(
        &format!("/t/o/{legacy}"),
        &[("user-agent", CHROME), ("cookie", &pair)],
    )
    .await;
    let before = events_before_legacy;
    let events = f.tracking_events_at_least(before + 1).await;
    assert_eq!(events.len(), before + 1, "{events:#?}");
    assert_eq!(events.last().unwrap()["opener"], "human", "{events:#?}");
    // A forged cookie is not the sender's.
    let (o, _, _) = f
        .open_as(
            60,
            &[("user-agent", CHROME), ("cookie", "mailtrail_self=forged")],
        )
        .await;
    assert_eq!(o, "human");
    let bad = f
        .http
        .get(f.app.url("/t/self/forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);
    assert!(bad.headers().get("set-cookie").is_none());
}

impl Fixture {
    /// Follows a click token with `user_agent`; asserts the redirect and
    /// waits until the store has the click.
    pub async fn click_as(&self, link: &str, user_agent: &str) {
        let before = self.clicks().await.len();
        let res = self
            .http
            .get(
                self.app
                    .url(&format!("/t/c/{}", self.click_token(link, 60))),
            )
            .header("user-agent", user_agent)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers()["location"], link);
        let clicks = self.clicks_at_least(before + 1).await;
        assert_eq!(clicks.len(), before + 1, "one event per click: {clicks:#?}");
    }
}

#[tokio::test]
async fn engagement_counts_people_apart_from_machines_per_link() {
    let f = Fixture::new(|_| {}).await;
    let (a, b) = ("https://example.com/a", "https://example.com/b?x=1");
    let (o, _, _) = f.open_as(60, &[("user-agent", "Mozilla/5.0")]).await;
    assert_eq!(o, "machine", "Apple MPP prefetch");
    let (o, _, _) = f.open_as(60, &[("user-agent", CHROME)]).await;
    assert_eq!(o, "human");
    let (o, _, _) = f.open_as(60, &[("user-agent", GMAIL_PROXY)]).await;
    assert_eq!(o, "proxy");
    f.click_as(a, CHROME).await;
    f.click_as(b, CHROME).await;
    f.click_as(a, CHROME).await;

    let r = f.recipient_view().await;
    assert_eq!(r["opens"], 2, "two opens by a person: {r:#}");
    assert_eq!(r["unique_opens"], 1, "{r:#}");
    assert_eq!(r["machine_opens"], 1, "{r:#}");
    assert_eq!(r["implied_opens"], 0, "{r:#}");
    assert_eq!(r["clicks"], 3, "{r:#}");
    assert_eq!(r["unique_clicks"], 1, "{r:#}");
    assert_eq!(r["first_open_implied"], false, "{r:#}");
    let first_human = f
        .tracking_events()
        .await
        .into_iter()
        .find(|e| e["opener"] == "human")
        .unwrap();
    assert_eq!(r["first_open_at"], first_human["at"], "{r:#}");
    let links = r["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{r:#}");
    assert_eq!(
        (links[0]["url"].as_str(), links[0]["clicks"].as_u64()),
        (Some(a), Some(2))
    );
    assert_eq!(
        (links[1]["url"].as_str(), links[1]["clicks"].as_u64()),
        (Some(b), Some(1))
    );
    assert_eq!(links[0]["machine_clicks"], 0);

    // The dashboard's message page shows the same.
    let c = crate::dashboard::client();
    let cookie = crate::dashboard::session(&f.app, &c).await;
    let (status, page) =
        crate::dashboard::page(&f.app, &c, &cookie, &format!("/messages/{}", f.message)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Clicks per link"), "{page}");
    assert!(page.contains("First opened by a person"), "{page}");
    assert!(
        page.contains("</code></td><td>2</td><td>0</td>"),
        "two clicks by a person on the first link: {page}"
    );
}

#[tokio::test]
async fn a_click_without_a_pixel_load_implies_a_persons_open() {
    let f = Fixture::new(|_| {}).await;
    // A machine's prefetch does not make the later click's open seen.
    let (o, _, _) = f.open_as(60, &[("user-agent", "Mozilla/5.0")]).await;
    assert_eq!(o, "machine");
    f.click_as("https://example.com/a", CHROME).await;
    let r = f.recipient_view().await;
    assert_eq!(r["status"], "clicked", "{r:#}");
    assert_eq!(r["opens"], 1, "the implied open is a person's: {r:#}");
    assert_eq!(r["unique_opens"], 1, "{r:#}");
    assert_eq!(r["implied_opens"], 1, "{r:#}");
    assert_eq!(r["first_open_implied"], true, "{r:#}");
    assert_eq!(r["machine_opens"], 1, "{r:#}");
    let events = f.tracking_events().await;
    let implied: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "opened" && e["data"]["implied"] == true)
        .collect();
    assert_eq!(implied.len(), 1, "{events:#?}");
    assert_eq!(implied[0]["opener"], "human");
    let click = events.iter().find(|e| e["kind"] == "clicked").unwrap();
    assert_eq!(implied[0]["at"], click["at"]);
    assert_eq!(implied[0]["data"]["click_id"], click["id"]);
    assert_eq!(r["first_open_at"], click["at"]);
    // A second click implies nothing more.
    f.click_as("https://example.com/b", CHROME).await;
    let r = f.recipient_view().await;
    assert_eq!(
        (r["opens"].as_u64(), r["implied_opens"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(r["clicks"], 2);
}

#[tokio::test]
async fn a_burst_of_distinct_links_is_a_link_checker() {
    let f = Fixture::new(|_| {}).await;
    let mut openers = Vec::new();
    let mut recorded = 0;
    for link in [
        "https://example.com/1",
        "https://example.com/2",
        "https://example.com/3",
    ] {
        let res = f
            .http
            .get(f.app.url(&format!("/t/c/{}", f.click_token(link, 60))))
            .header("user-agent", CHROME)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 302);
        recorded += 1;
        let clicks = f.clicks_at_least(recorded).await;
        assert_eq!(clicks.len(), recorded, "{clicks:#?}");
        let e = clicks.last().unwrap();
        openers.push((
            e["opener"].as_str().unwrap().to_owned(),
            e["data"]["rule"].as_str().unwrap().to_owned(),
        ));
    }
    assert_eq!(
        openers[2],
        ("machine".to_owned(), "click_burst".to_owned()),
        "{openers:?}"
    );
}

#[tokio::test]
async fn forwarded_for_from_an_untrusted_peer_is_ignored_and_ips_truncate() {
    let f = Fixture::new(|s| {
        s.trusted_proxies = vec!["10.0.0.0/8".into()];
        s.truncate_ip = true;
    })
    .await;
    let (o, r, data) = f
        .open_as(
            60,
            &[("user-agent", CHROME), ("x-forwarded-for", "17.58.1.2")],
        )
        .await;
    assert_eq!((o.as_str(), r.as_str()), ("human", "human"), "{data}");
    assert_eq!(
        data["ip"], "127.0.0.0",
        "the peer, truncated to its /24: {data}"
    );
}

#[tokio::test]
async fn opener_lists_are_replaced_from_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("user_agents.tsv"),
        "machine\tacme_scanner\tcontains\tAcmeScan\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("networks.tsv"), "# none\n").unwrap();
    let path = dir.path().to_owned();
    let f = Fixture::new(move |s| s.opener_data = Some(path)).await;
    let (o, r, _) = f.open_as(60, &[("user-agent", "AcmeScan/2")]).await;
    assert_eq!((o.as_str(), r.as_str()), ("machine", "acme_scanner"));
    let (o, _, _) = f.open_as(60, &[("user-agent", "Mozilla/5.0")]).await;
    assert_eq!(o, "human", "the built-in list was replaced");
}

/// kill -9 while the pixel endpoint is under concurrent load: after a
/// restart, every request that got its 200 has its `opened` event (each
/// request carries a distinct user agent to find it by).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_answered_open() {
    use std::process::Command;
    use std::sync::{Arc, Mutex};

    let cwd = tempfile::tempdir().unwrap();
    let key = crate::support::binary::admin_key(cwd.path());
    let spawn = || crate::support::binary::spawn_server(cwd.path(), &[("RUST_LOG", "warn")]);

    let (mut server, base) = spawn();
    let client = reqwest::Client::new();
    let sent: Value = client
        .post(format!("{base}/api/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"from": "admin@example.test", "to": ["r@example.test"], "subject": "s", "text": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = sent["id"].as_str().unwrap().to_owned();
    let recipient = Uuid::parse_str(sent["recipients"][0]["id"].as_str().unwrap()).unwrap();
    let keyring = Arc::new(server_keyring(&cwd.path().join("mailtrail-data")));

    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for worker in 0..32 {
        let (keyring, answered, base, client) = (
            keyring.clone(),
            answered.clone(),
            base.clone(),
            client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..100_000u32 {
                let ua = format!("load-{worker}-{i}");
                let token = sign(&keyring, recipient, Purpose::Open, 60, None);
                let Ok(res) = client
                    .get(format!("{base}/t/o/{token}"))
                    .header("user-agent", &ua)
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() != 200 {
                    return;
                }
                match res.bytes().await {
                    Ok(b) if b.len() == 43 => answered.lock().unwrap().push(ua),
                    _ => return,
                }
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    Command::new("kill")
        .args(["-KILL", &server.id().to_string()])
        .status()
        .unwrap();
    let _ = server.wait();
    for t in tasks {
        t.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 100,
        "too little load before the kill: {}",
        answered.len()
    );

    let (mut server, base) = spawn();
    let m: Value = client
        .get(format!("{base}/api/v1/messages/{message}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stored: std::collections::HashSet<&str> = m["recipients"][0]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "opened")
        .filter_map(|e| e["data"]["user_agent"].as_str())
        .collect();
    let lost: Vec<&String> = answered
        .iter()
        .filter(|ua| !stored.contains(ua.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} answered opens lost after kill -9, e.g. {:?}",
        lost.len(),
        answered.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "{} opens answered before kill -9, all stored",
        answered.len()
    );
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(server.wait().unwrap().success());
}

/// A sandbox copy opened in a real browser (Debian's Chromium driven by
/// playwright-core, tests/browser/tracking.mjs): the pixel load is recorded
/// as a person's open, and the tracked link lands on the original URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_copy_in_chromium_is_a_human_open_and_a_click() {
    let root = env!("CARGO_MANIFEST_DIR");
    let script = format!("{root}/tests/browser/tracking.mjs");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "/usr/bin/chromium is missing: install Debian's chromium package (scripts/test.sh does)"
    );
    assert!(
        std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok(),
        "node is missing: install Node.js (scripts/test.sh does)"
    );
    assert!(
        std::path::Path::new(&format!(
            "{root}/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is missing: run `npm ci` in tests/browser (scripts/test.sh does)"
    );
    let app = TestApp::spawn_with(Db::Sqlite, |_| {}).await;
    // The original URL: a page of this server, so the landing is checkable
    // without the network.
    let original = app.url("/healthz?from=mail");
    let html = format!(
        "<html><body><p>Hello Bob,</p><p><a href=\"{original}\">Read the report</a></p></body></html>"
    );
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "ann@example.test", "to": ["bob@example.test"],
                    "subject": "Report", "html": html, "text": "Hello Bob"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let message = body["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let raw = loop {
        let (code, copies) = app.get("/api/v1/sandbox/messages").await;
        assert_eq!(code, 200, "{copies}");
        if let Some(raw) = copies["data"]
            .as_array()
            .and_then(|c| c.first())
            .and_then(|c| c["raw"].as_str())
        {
            break raw.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no sandbox copy: {copies}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let parsed = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .expect("the sandbox copy parses");
    let copy_html = parsed.body_html(0).expect("an HTML part").into_owned();
    assert!(
        copy_html.contains("/t/o/") && copy_html.contains("/t/c/"),
        "the sandbox copy is not instrumented (pixel and tracked link expected): {copy_html}"
    );
    // A person reads the mail after it arrived, not within the machine
    // window of its being built.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let file = app.dir.path().join("copy.html");
    std::fs::write(&file, &copy_html).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(script)
            .arg(&file)
            .arg(&original)
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

    // Both hits were answered once durable in the event journal; the store
    // has them once it is folded, a few milliseconds later.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let m = loop {
        let (_, m) = app.get(&format!("/api/v1/messages/{message}")).await;
        let kinds: Vec<&str> = m["recipients"][0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["kind"].as_str())
            .collect();
        if (kinds.contains(&"opened") && kinds.contains(&"clicked"))
            || tokio::time::Instant::now() > deadline
        {
            break m;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    let events = m["recipients"][0]["events"].as_array().unwrap();
    let opened: Vec<&Value> = events.iter().filter(|e| e["kind"] == "opened").collect();
    let clicked: Vec<&Value> = events.iter().filter(|e| e["kind"] == "clicked").collect();
    assert_eq!(opened.len(), 1, "{events:#?}");
    assert_eq!(opened[0]["opener"], "human", "{:#}", opened[0]);
    assert_eq!(clicked.len(), 1, "{events:#?}");
    assert_eq!(clicked[0]["opener"], "human", "{:#}", clicked[0]);
    assert_eq!(
        clicked[0]["data"]["url"],
        app.url("/healthz?from=mail").as_str()
    );
    assert_eq!(m["recipients"][0]["opens"], 1, "{m:#}");
    assert_eq!(m["recipients"][0]["clicks"], 1, "{m:#}");
    app.stop().await;
}

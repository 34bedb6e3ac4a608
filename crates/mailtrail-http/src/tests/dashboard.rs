//! The dashboard's API key list, Contact page, user management and sender
//! networks, through the whole router: sessions, CSRF, 403/404/400 pages
//! and organisation isolation.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use mailtrail_domain::{Opener, Purpose, TrackingPayload};

use super::*;
use crate::dashboard::session::{SESSION_COOKIE, hash_session_id};

/// A page answer: status, `Location` (for 303s), body.
struct Page {
    status: StatusCode,
    location: Option<String>,
    body: String,
}

/// One router for the whole test (the tracking endpoints' in-memory
/// sender networks live in it).
struct Dash {
    app: TestApp,
    router: axum::Router,
}

/// A signed-in browser: its session cookie and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

impl Dash {
    async fn new() -> Self {
        let app = TestApp::new().await;
        let keyring = mailtrail_domain::Keyring::new(vec![
            mailtrail_domain::TokenKey::new(1, b"0123456789abcdef0123", None).expect("key"),
        ])
        .expect("keyring");
        let router = router(AppState {
            store: app.store.clone(),
            settings: app.settings.clone(),
            notify: app.notify.clone(),
            inbound_wake: Arc::new(tokio::sync::Notify::new()),
            keyring: Arc::new(keyring),
            tracking: crate::tracking::Tracking::new(
                Default::default(),
                crate::tracking::opener::OpenerData::builtin(),
                app.sink.clone(),
            ),
            signin: Default::default(),
            monitoring: crate::monitoring::Monitoring::disabled(),
            mailboxes: crate::Mailboxes::new(
                mailtrail_domain::sealed::SealingKey::new(&[7; 32]).expect("key"),
            ),
        });
        Self { app, router }
    }

    /// A session for `email` straight in the store.
    async fn sign_in(&self, email: &str) -> Browser {
        let user = self
            .app
            .store
            .user_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
            .expect("user");
        let id = format!("session-{}", Uuid::now_v7());
        let csrf = format!("csrf-{}", Uuid::now_v7());
        self.app
            .store
            .create_session(&NewSession {
                id_hash: hash_session_id(&id),
                user_id: user.id,
                csrf_token: csrf.clone(),
                expires_at: OffsetDateTime::now_utc() + time::Duration::hours(1),
            })
            .await
            .unwrap();
        Browser {
            cookie: format!("{SESSION_COOKIE}={id}"),
            csrf,
        }
    }

    /// A user of organisation A who is not an administrator.
    async fn plain_user(&self, email: &str) -> User {
        self.app
            .store
            .create_user(
                self.app.org_a,
                &EmailAddress::parse(email).unwrap(),
                "x",
                false,
            )
            .await
            .unwrap()
    }

    async fn user(&self, email: &str) -> Option<User> {
        self.app
            .store
            .user_by_email(&EmailAddress::parse(email).unwrap())
            .await
            .unwrap()
    }

    async fn request(&self, req: Request<Body>) -> Page {
        let res = self.router.clone().oneshot(req).await.expect("infallible");
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        Page {
            status,
            location,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, uri: &str, b: Option<&Browser>) -> Page {
        let mut req = Request::builder().uri(uri);
        if let Some(b) = b {
            req = req.header(header::COOKIE, &b.cookie);
        }
        self.request(req.body(Body::empty()).unwrap()).await
    }

    /// Posts a form; the browser's CSRF token is added unless the fields
    /// carry one.
    async fn post(&self, uri: &str, b: &Browser, fields: &[(&str, &str)]) -> Page {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if !fields.iter().any(|(k, _)| *k == "csrf") {
            all.push(("csrf", &b.csrf));
        }
        let body = serde_urlencoded::to_string(&all).unwrap();
        self.request(
            Request::builder()
                .method(Method::POST)
                .uri(uri)
                .header(header::COOKIE, &b.cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
    }
}

// ------------------------------------------------------------ API keys

#[tokio::test]
async fn settings_lists_keys_and_revokes_from_the_list() {
    let d = Dash::new().await;
    let admin = d.sign_in("admin@a.example").await;
    let ann = d.plain_user("ann@a.example").await;
    let ann_b = d.sign_in("ann@a.example").await;
    // Ann makes a key of her own from Settings.
    let p = d
        .post("/settings/api-keys", &ann_b, &[("name", "Ann CRM <sync>")])
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("shown only this once"));
    let keys = d.app.store.api_keys(d.app.org_a, None).await.unwrap();
    let ann_key = keys.iter().find(|k| k.user_id == ann.id).unwrap().clone();
    let admin_key = keys.iter().find(|k| k.user_id != ann.id).unwrap().clone();

    // The administrator sees every key of the organisation, with owner,
    // prefix, dates and state; never organisation B's.
    let p = d.get("/settings", Some(&admin)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("<title>Settings"), "a plain title");
    assert_eq!(
        p.body
            .matches("<h2>Sending domains and DKIM keys</h2>")
            .count(),
        1,
        "each section once"
    );
    assert!(p.body.contains("Keys of everyone in the organisation"));
    assert!(
        p.body.contains("Ann CRM &lt;sync&gt;") || p.body.contains("Ann CRM &#60;sync&#62;"),
        "{}",
        p.body
    );
    assert!(p.body.contains(&ann_key.prefix));
    assert!(p.body.contains(&admin_key.prefix));
    assert!(p.body.contains("ann@a.example"));
    assert!(
        p.body.contains("<td class=\"when\">never</td>"),
        "last used: never"
    );
    let b_keys = d.app.store.api_keys(d.app.org_b, None).await.unwrap();
    assert!(!p.body.contains(&b_keys[0].prefix));

    // Ann sees only her own, and may not revoke the administrator's.
    let p = d.get("/settings", Some(&ann_b)).await;
    assert!(p.body.contains("Your keys"));
    assert!(p.body.contains(&ann_key.prefix));
    assert!(!p.body.contains(&admin_key.prefix));
    let p = d
        .post(
            "/settings/api-keys/revoke",
            &ann_b,
            &[("key_id", &admin_key.id.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("owner or an administrator"), "{}", p.body);
    // A forged form is refused before anything happens.
    let p = d
        .post(
            "/settings/api-keys/revoke",
            &admin,
            &[("csrf", "forged"), ("key_id", &ann_key.id.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("This form has expired"));
    let keys = d.app.store.api_keys(d.app.org_a, None).await.unwrap();
    assert!(keys.iter().all(|k| k.revoked_at.is_none()));

    // The administrator revokes Ann's key from the list.
    let p = d
        .post(
            "/settings/api-keys/revoke",
            &admin,
            &[("key_id", &ann_key.id.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("The key is revoked."));
    assert!(p.body.contains("revoked 20"), "the list shows when");
    // Organisation B's administrator cannot revoke A's keys.
    let admin_b = d.sign_in("admin@b.example").await;
    let p = d
        .post(
            "/settings/api-keys/revoke",
            &admin_b,
            &[("key_id", &admin_key.id.to_string())],
        )
        .await;
    assert!(
        p.body
            .contains("No live key of this organisation has that id.")
    );
    let (s, _) = d.app.get("/api/v1/messages", &d.app.key_a).await;
    assert_eq!(s, StatusCode::OK, "A's key still works");
}

// ------------------------------------------------------------ contacts

#[tokio::test]
async fn contact_page_is_one_timeline_of_the_organisation() {
    let d = Dash::new().await;
    let admin = d.sign_in("admin@a.example").await;
    let (s, first) = d
        .app
        .send(
            &d.app.key_a,
            json!({"from": "app@send.example", "to": ["Carol@x.example", "dave@x.example"],
                   "subject": "First <offer>", "text": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (_, second) = d
        .app
        .send(
            &d.app.key_a,
            json!({"from": "app@send.example", "to": ["carol@x.example"], "subject": "Second", "text": "x"}),
        )
        .await;
    let (_, hidden) = d
        .app
        .send(
            &d.app.key_b,
            json!({"from": "app@send.example", "to": ["carol@x.example"],
                   "subject": "Organisation B secret", "text": "x"}),
        )
        .await;
    let rid = |v: &Value| -> Uuid { v["recipients"][0]["id"].as_str().unwrap().parse().unwrap() };
    for (r, opener) in [
        (rid(&first), Opener::Machine),
        (rid(&second), Opener::Human),
        (rid(&hidden), Opener::Human),
    ] {
        d.app
            .store
            .record_event(&NewEvent {
                id: Uuid::now_v7(),
                recipient_id: r,
                kind: EventKind::Opened,
                at: OffsetDateTime::now_utc(),
                opener: Some(opener),
                reason: None,
                data: json!({"rule": "test", "user_agent": "Thunderbird/115"}),
            })
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    // Rows and details link to the contact.
    let p = d.get("/", Some(&admin)).await;
    assert!(
        p.body.contains("href=\"/contacts/Carol@x.example\""),
        "{}",
        p.body
    );
    let first_id = first["id"].as_str().unwrap();
    let p = d.get(&format!("/messages/{first_id}"), Some(&admin)).await;
    assert!(p.body.contains("href=\"/contacts/dave@x.example\""));

    let p = d.get("/contacts/CAROL@x.example", Some(&admin)).await;
    assert_eq!(p.status, StatusCode::OK);
    let b = &p.body;
    assert!(b.contains("across 2 emails"), "{b}");
    assert!(b.contains("opened by a person"));
    assert!(b.contains("opened by a machine (not a read)"));
    assert!(
        b.contains("First &lt;offer&gt;") || b.contains("First &#60;offer&#62;"),
        "{b}"
    );
    let second_id = second["id"].as_str().unwrap();
    assert!(b.contains(&format!("href=\"/messages/{second_id}\"")));
    assert!(
        b.contains("Thunderbird on unknown system"),
        "client from the user agent"
    );
    assert!(
        !b.contains("Organisation B secret"),
        "never another organisation's"
    );
    // Newest first: the second message's open before the first's.
    assert!(b.find("opened by a person").unwrap() < b.find("opened by a machine").unwrap());
    assert!(!b.contains("dave@"), "{b}");

    // Unknown address: an empty page, not an error. Malformed: a 400 page.
    let p = d.get("/contacts/nobody@x.example", Some(&admin)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("Nothing yet"));
    let p = d.get("/contacts/not%20an%20address", Some(&admin)).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("is not an email address"), "{}", p.body);
    assert!(p.body.contains("<h1>Bad request</h1>"));
    // Organisation B sees only its own message to Carol.
    let admin_b = d.sign_in("admin@b.example").await;
    let p = d.get("/contacts/carol@x.example", Some(&admin_b)).await;
    assert!(p.body.contains("Organisation B secret"));
    assert!(!p.body.contains("Second"));
    // Without a session: the sign-in page.
    let p = d.get("/contacts/carol@x.example", None).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/login"));
}

// ------------------------------------------------------------ users

#[tokio::test]
async fn administrators_manage_users_and_nobody_else_does() {
    let d = Dash::new().await;
    let admin = d.sign_in("admin@a.example").await;
    let ann = d.plain_user("ann@a.example").await;
    let ann_b = d.sign_in("ann@a.example").await;
    let ann_id = ann.id.to_string();

    // Not an administrator: 403 pages, for the page and every form; no
    // Users link.
    let p = d.get("/admin/users", Some(&ann_b)).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("Only an administrator"));
    let home = d.get("/", Some(&ann_b)).await;
    assert!(!home.body.contains("href=\"/admin/users\""));
    for (uri, fields) in [
        (
            "/admin/users",
            vec![("email", "x@a.example"), ("password", "long enough pw")],
        ),
        (
            "/admin/users/admin",
            vec![("user_id", ann_id.as_str()), ("admin", "1")],
        ),
        ("/admin/users/remove", vec![("user_id", ann_id.as_str())]),
    ] {
        let p = d.post(uri, &ann_b, &fields).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{uri}");
    }
    assert!(!d.user("ann@a.example").await.unwrap().is_admin);
    assert!(d.user("x@a.example").await.is_none());

    // The administrator's page lists the organisation's users only.
    let p = d.get("/admin/users", Some(&admin)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("ann@a.example"));
    assert!(p.body.contains("admin@a.example <small>(you)</small>"));
    assert!(!p.body.contains("admin@b.example"));
    let home = d.get("/", Some(&admin)).await;
    assert!(home.body.contains("href=\"/admin/users\""));

    // Adding: bad input gets the form again with what is wrong, and
    // nothing is stored.
    let pw = ("password", "long enough pw");
    let p = d
        .post("/admin/users", &admin, &[("email", "not an address"), pw])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("is not an email address"));
    let p = d
        .post(
            "/admin/users",
            &admin,
            &[("email", "bob@a.example"), ("password", "short")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("at least 8 characters"));
    assert!(
        p.body.contains("value=\"bob@a.example\""),
        "the address is kept"
    );
    let p = d
        .post("/admin/users", &admin, &[("email", "ADMIN@b.example"), pw])
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("already has an account"));
    let p = d
        .post(
            "/admin/users",
            &admin,
            &[("csrf", "forged"), ("email", "bob@a.example"), pw],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(d.app.store.users(d.app.org_a).await.unwrap().len(), 2);
    // A good one: argon2-hashed, as `mailtrail user add` stores it.
    let p = d
        .post(
            "/admin/users",
            &admin,
            &[
                ("email", "bob@a.example"),
                ("password", "bob's password"),
                ("admin", "on"),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/admin/users?done=added"));
    let bob = d.user("bob@a.example").await.unwrap();
    assert!(bob.is_admin);
    assert_eq!(bob.org_id, d.app.org_a);
    assert!(bob.password_hash.starts_with("$argon2id$"));
    assert!(mailtrail_domain::credentials::verify_password(
        &bob.password_hash,
        "bob's password"
    ));
    let p = d.get("/admin/users?done=added", Some(&admin)).await;
    assert!(p.body.contains("The user is added"));

    // The administrator flag: another organisation's user is not found;
    // nonsense is a 400.
    let b_admin = d.user("admin@b.example").await.unwrap();
    let b_id = b_admin.id.to_string();
    let p = d
        .post(
            "/admin/users/admin",
            &admin,
            &[("user_id", &b_id), ("admin", "0")],
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(d.user("admin@b.example").await.unwrap().is_admin);
    let p = d
        .post(
            "/admin/users/admin",
            &admin,
            &[("user_id", &ann_id), ("admin", "yes")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    let p = d
        .post(
            "/admin/users/admin",
            &admin,
            &[("user_id", &ann_id), ("admin", "1")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(d.user("ann@a.example").await.unwrap().is_admin);
    // Ann, now an administrator, steps down herself: she lands on a page
    // that is still hers.
    let p = d
        .post(
            "/admin/users/admin",
            &ann_b,
            &[("user_id", &ann_id), ("admin", "0")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/settings"));
    assert!(!d.user("ann@a.example").await.unwrap().is_admin);

    // Removing: never oneself; another organisation's user is not found.
    let me = d.user("admin@a.example").await.unwrap();
    let me_id = me.id.to_string();
    let p = d
        .post("/admin/users/remove", &admin, &[("user_id", &me_id)])
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("cannot remove yourself"));
    let p = d
        .post("/admin/users/remove", &admin, &[("user_id", &b_id)])
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(d.user("admin@b.example").await.is_some());
    let p = d
        .post(
            "/admin/users/remove",
            &admin,
            &[("user_id", &bob.id.to_string())],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(d.user("bob@a.example").await.is_none());
    let p = d
        .post("/admin/users/remove", &admin, &[("user_id", &ann_id)])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    // Ann's session ended with her account.
    assert_eq!(d.get("/", Some(&ann_b)).await.status, StatusCode::SEE_OTHER);

    // Now the last administrator: the flag stays.
    let p = d
        .post(
            "/admin/users/admin",
            &admin,
            &[("user_id", &me_id), ("admin", "0")],
        )
        .await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("last administrator"));
    assert!(d.user("admin@a.example").await.unwrap().is_admin);
}

// ------------------------------------------------------------ sender networks

#[tokio::test]
async fn sender_networks_are_validated_saved_and_used_by_tracking() {
    let d = Dash::new().await;
    let admin = d.sign_in("admin@a.example").await;
    d.plain_user("ann@a.example").await;
    let ann_b = d.sign_in("ann@a.example").await;
    let form = "/settings/sender-networks";

    // A bad line: the form again, naming the line; nothing saved.
    let p = d
        .post(
            form,
            &admin,
            &[("networks", "203.0.113.0/24\n\nnot-a-network\n")],
        )
        .await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(
        p.body
            .contains("Line 3: “not-a-network” is not an IP network"),
        "{}",
        p.body
    );
    assert!(p.body.contains("Nothing was saved."));
    assert!(
        p.body.contains("not-a-network\n</textarea>"),
        "the text is kept"
    );
    assert!(
        d.app
            .store
            .sender_networks(d.app.org_a)
            .await
            .unwrap()
            .is_empty()
    );
    let p = d.post(form, &admin, &[("networks", "10.0.0.0/33")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert!(p.body.contains("Line 1: “10.0.0.0/33”"));
    // Not an administrator, or a forged form: 403.
    let p = d
        .post(form, &ann_b, &[("networks", "203.0.113.0/24")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = d
        .post(
            form,
            &admin,
            &[("csrf", "forged"), ("networks", "203.0.113.0/24")],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(
        d.app
            .store
            .sender_networks(d.app.org_a)
            .await
            .unwrap()
            .is_empty()
    );

    // An open from 203.0.113.5 before the networks are saved: a person.
    let (_, sent) = d.app.send(&d.app.key_a, minimal("carol@x.example")).await;
    let rid: Uuid = sent["recipients"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let keyring = mailtrail_domain::Keyring::new(vec![
        mailtrail_domain::TokenKey::new(1, b"0123456789abcdef0123", None).unwrap(),
    ])
    .unwrap();
    // Tokens name the organisation that sent the copy; networks are
    // matched against that organisation's only.
    let token_of = |org: Option<Uuid>| {
        let payload = TrackingPayload {
            issued_at: OffsetDateTime::now_utc() - time::Duration::hours(1),
            org,
            link: None,
        };
        keyring.sign(rid, Purpose::Open, &payload.encode()).unwrap()
    };
    let token = token_of(Some(d.app.org_a));
    let open_with = |token: &str, ip: &str| {
        let mut req = Request::builder()
            .uri(format!("/t/o/{token}"))
            .header(
                header::USER_AGENT,
                "Mozilla/5.0 (Windows NT 10.0) Thunderbird/115.0",
            )
            .body(Body::empty())
            .unwrap();
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
        req
    };
    let open_from = |ip: &str| open_with(&token, ip);
    let hit = |ip: &'static str| open_and_read(&d, rid, open_from(ip));
    assert_eq!(
        hit("203.0.113.5").await,
        (Some(Opener::Human), "human".to_owned())
    );

    // Saved: normalised, in the store and at once in the tracking path.
    let p = d
        .post(
            form,
            &admin,
            &[(
                "networks",
                " 203.0.113.77/24\r\n2001:db8::/48\r\n198.51.100.9\r\n",
            )],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        d.app.store.sender_networks(d.app.org_a).await.unwrap(),
        ["203.0.113.0/24", "2001:db8::/48", "198.51.100.9/32"]
    );
    let p = d.get("/settings?saved=1", Some(&admin)).await;
    assert!(
        p.body
            .contains("203.0.113.0/24\n2001:db8::/48\n198.51.100.9/32</textarea>"),
        "{}",
        p.body
    );
    assert_eq!(
        hit("203.0.113.5").await,
        (Some(Opener::SelfOpen), "sender_network".to_owned())
    );
    assert_eq!(
        hit("192.0.2.1").await,
        (Some(Opener::Human), "human".to_owned())
    );
    // A token naming another organisation, or none (made before tokens
    // carried it), is not matched against A's networks.
    for other in [Some(d.app.org_b), None] {
        let req = open_with(&token_of(other), "203.0.113.5");
        assert_eq!(
            open_and_read(&d, rid, req).await,
            (Some(Opener::Human), "human".to_owned())
        );
    }
    // A non-administrator sees them, without a form.
    let p = d.get("/settings", Some(&ann_b)).await;
    assert!(p.body.contains("198.51.100.9/32"));
    assert!(!p.body.contains("action=\"/settings/sender-networks\""));
    // Emptied: no longer the sender's.
    let p = d.post(form, &admin, &[("networks", "")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(
        hit("203.0.113.5").await,
        (Some(Opener::Human), "human".to_owned())
    );
}

/// Sends an open pixel request for `rid`, asserts the pixel, and returns the
/// opener and rule of the one `opened` event it recorded. The hit is
/// answered once its event is durable in the event journal; the store has
/// it a few milliseconds later, when the journal is folded into it.
async fn open_and_read(d: &Dash, rid: Uuid, req: Request<Body>) -> (Option<Opener>, String) {
    let opened = async |d: &Dash| -> Vec<(Option<Opener>, String)> {
        events_of(&d.app.store, rid, EventKind::Opened)
            .await
            .into_iter()
            .map(|e| (e.opener, e.data["rule"].as_str().unwrap_or("").to_owned()))
            .collect()
    };
    let before = opened(d).await.len();
    assert_eq!(d.request(req).await.status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = opened(d).await;
        if now.len() > before || tokio::time::Instant::now() > deadline {
            assert_eq!(now.len(), before + 1, "one event per open: {now:?}");
            return now[before].clone();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

//! Returned mail into events, with real peers: a private Postfix is the
//! smarthost; it accepts a copy for an unknown user, bounces it, and sends a
//! success DSN (RFC 3461 NOTIFY=SUCCESS) for a delivered one, both to the
//! VERP return path `bounces+TOKEN@bounce.test`, which its transport table
//! routes to mailtrail's inbound SMTP listener.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::postfix::{Postfix, PostfixOptions};
use crate::support::{Db, TestApp};

/// A free loopback port for the inbound listener: Postfix must know where
/// to send before mailtrail starts, and mailtrail must know the relay.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn events(recipient: &Value) -> Vec<String> {
    recipient["events"]
        .as_array()
        .map(|es| {
            es.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn bounce_and_success_dsn(db: Db) {
    let smtp_in = free_port();
    let postfix = Postfix::start_with(PostfixOptions {
        mailboxes: vec!["alice".into()],
        transports: vec![("bounce.test".into(), format!("smtp:[127.0.0.1]:{smtp_in}"))],
        // Accept any local part at RCPT: the unknown user is found at
        // delivery, and Postfix bounces afterwards (a DSN, not a 550).
        main_cf: vec![("smtpd_reject_unlisted_recipient".into(), "no".into())],
    })
    .expect("Postfix (Debian package postfix; scripts/test.sh installs it)");
    let relay = postfix.relay_url();
    let app = TestApp::spawn_with(db, |s| {
        s.relay = relay;
        s.bounce_domain = Some("bounce.test".into());
        s.hostname = Some("mx.bounce.test".into());
        s.smtp_in = Some(format!("127.0.0.1:{smtp_in}").parse().unwrap());
    })
    .await;

    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "sender@example.test", "to": ["alice@example.test", "ghost@example.test"], "subject": "Coming back", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let msg = loop {
        let (code, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(code, 200, "{msg}");
        let st = |i: usize| {
            msg["recipients"][i]["status"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        };
        if st(0) == "delivered" && st(1) == "failed" {
            break msg;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "alice should be delivered (success DSN) and ghost failed (bounce): {msg:#}\n\
                 Postfix log:\n{}",
                postfix.maillog()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let alice = &msg["recipients"][0];
    assert!(events(alice).contains(&"delivered".to_owned()), "{alice:#}");
    let ghost = &msg["recipients"][1];
    // The smarthost accepted the copy first: sent, then failed by the bounce.
    let ghost_events = events(ghost);
    assert!(ghost_events.contains(&"sent".to_owned()), "{ghost:#}");
    assert!(ghost_events.contains(&"failed".to_owned()), "{ghost:#}");
    assert_eq!(ghost["status_reason"]["reason"], "userunknown", "{ghost:#}");
    assert_eq!(
        ghost["status_reason"]["enhanced_status"], "5.1.1",
        "{ghost:#}"
    );
    let failed = ghost["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "failed")
        .unwrap();
    assert_eq!(failed["data"]["source"], "smtp", "{failed:#}");
    assert_eq!(failed["data"]["hard"], true, "{failed:#}");

    // A hard bounce suppresses the address: the next send is not attempted.
    let (code, list) = app.get("/api/v1/suppressions").await;
    assert_eq!(code, 200, "{list}");
    assert!(list.to_string().contains("ghost@example.test"), "{list}");
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": "sender@example.test", "to": ["ghost@example.test"], "subject": "Again", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let again = app
        .wait_for(body["id"].as_str().unwrap(), Duration::from_secs(10), |s| {
            s == "suppressed"
        })
        .await;
    assert_eq!(again["recipients"][0]["status"], "suppressed", "{again:#}");

    // Everything the listener accepted was processed.
    assert!(
        app.store.pending_inbound(10).await.unwrap().is_empty(),
        "inbound messages left unprocessed"
    );
    app.stop().await;
}

#[tokio::test]
async fn postfix_bounce_and_success_dsn_sqlite() {
    bounce_and_success_dsn(Db::Sqlite).await;
}

#[tokio::test]
async fn postfix_bounce_and_success_dsn_postgres() {
    bounce_and_success_dsn(Db::Postgres).await;
}

/// A private Dovecot with one user, and mailtrail (SQLite) polling that
/// user's INBOX every second.
async fn app_reading_mailbox(
    user: &str,
    password: &str,
) -> (crate::support::dovecot::Dovecot, TestApp) {
    let dovecot = crate::support::dovecot::Dovecot::start(&[(user, password)])
        .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    let url = dovecot.url(user, password);
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.imap_mailboxes = vec![mailtrail::config::Secret::new(url)];
        s.imap_poll_secs = 1;
    })
    .await;
    (dovecot, app)
}

/// A reply from a colleague and an out-of-office notice wait in the
/// sender's own mailbox on a private Dovecot; the IMAP poller reads them
/// (read-only) and the recipients get `replied` and `auto_replied`.
#[tokio::test]
async fn imap_poller_reads_replies_from_dovecot_without_changing_flags() {
    const USER: &str = "sender@example.test";
    const PASSWORD: &str = "secret-pass";
    let (dovecot, app) = app_reading_mailbox(USER, PASSWORD).await;

    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": USER, "to": ["bob@example.test", "dave@example.test"], "subject": "Proposal", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mid = body["message_id"].as_str().unwrap().to_owned();

    // A colleague of bob's answers (not a recipient), then dave's
    // out-of-office notice (RFC 3834).
    let reply = format!(
        "From: Carol <carol@example.test>\r\nTo: {USER}\r\nSubject: Re: Proposal\r\n\
         Message-ID: <reply-1@example.test>\r\nIn-Reply-To: <{mid}>\r\nReferences: <{mid}>\r\n\
         Date: Sun, 22 Nov 2026 07:00:00 +0000\r\n\r\nSounds good, Bob asked me to answer.\r\n"
    );
    dovecot
        .deliver(USER, "1.reply", reply.as_bytes())
        .expect("deliver the reply");
    let ooo = format!(
        "From: Dave <dave@example.test>\r\nTo: {USER}\r\nSubject: Out of office: Proposal\r\n\
         Message-ID: <ooo-1@example.test>\r\nIn-Reply-To: <{mid}>\r\nAuto-Submitted: auto-replied\r\n\
         Date: Sun, 22 Nov 2026 07:00:01 +0000\r\n\r\nI am away until Monday.\r\n"
    );
    dovecot
        .deliver(USER, "2.ooo", ooo.as_bytes())
        .expect("deliver the out-of-office");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let msg = loop {
        let (code, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(code, 200, "{msg}");
        let bob = events(&msg["recipients"][0]);
        let dave = events(&msg["recipients"][1]);
        if bob.contains(&"replied".to_owned()) && dave.contains(&"auto_replied".to_owned()) {
            break msg;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "bob should be replied and dave auto_replied: {msg:#}\nDovecot log:\n{}",
                dovecot.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let bob = &msg["recipients"][0];
    assert_eq!(bob["status"], "replied", "{bob:#}");
    let replied = bob["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "replied")
        .unwrap();
    assert_eq!(
        replied["data"]["replier"], "carol@example.test",
        "{replied:#}"
    );
    assert_eq!(replied["data"]["source"], "imap", "{replied:#}");
    let dave = &msg["recipients"][1];
    assert!(
        !events(dave).contains(&"replied".to_owned()),
        "an out-of-office is never a reply: {dave:#}"
    );
    assert_ne!(dave["status"], "replied", "{dave:#}");

    // The poller changed nothing: no message got \Seen (Maildir flag S).
    let flags = dovecot.flags(USER).expect("read the Maildir");
    assert_eq!(flags.len(), 2, "{flags:?}");
    assert!(
        flags.iter().all(|(_, f)| !f.contains('S')),
        "the poller must read with BODY.PEEK and EXAMINE: {flags:?}"
    );
    app.stop().await;
}

/// Runs the openssl command line; the error says what is missing.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("this test needs the openssl command (Debian package openssl; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private CA (`ca.pem`) and a certificate it signed for the IP address
/// 127.0.0.1 (`server.pem`, key `server.key`), in `dir`.
pub(crate) fn private_ca_and_server_cert(dir: &std::path::Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec![
        "req",
        "-x509",
        "-days",
        "2",
        "-subj",
        "/CN=mailtrail test CA",
    ];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(dir.join("san.ext"), "subjectAltName = IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    // Dovecot's master reads them as root; the rest of the directory is
    // the test's.
    for f in ["server.pem", "server.key"] {
        assert!(dir.join(f).exists(), "{f} was not written");
    }
}

/// An IMAP server with a private CA (implicit TLS, RFC 8314): without the
/// CA the certificate is refused and nothing is read; with `tls_ca_file`
/// naming it, the poller reads the reply waiting there.
#[tokio::test]
async fn imap_over_tls_trusts_only_the_configured_private_ca() {
    const USER: &str = "seller@example.test";
    const PASSWORD: &str = "tls-secret-pass";
    let pki = tempfile::tempdir().unwrap();
    private_ca_and_server_cert(pki.path());
    let dovecot = crate::support::dovecot::Dovecot::start_tls(
        &[(USER, PASSWORD)],
        &pki.path().join("server.pem"),
        &pki.path().join("server.key"),
    )
    .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    let url = dovecot.url(USER, PASSWORD);
    assert!(url.starts_with("imaps://"), "{url}");

    // Without the CA: the Web PKI roots do not know it; refused.
    let mut config = mailtrail_imap::MailboxConfig::parse(&url).unwrap();
    let refused = mailtrail_imap::Client::connect(&config, Duration::from_secs(10)).await;
    let Err(e) = refused else {
        panic!("a certificate from an unknown CA was accepted");
    };
    assert!(
        e.to_string().contains("certificate"),
        "the error says why: {e}"
    );
    // With it: signed in.
    config.extra_ca_pem = Some(std::fs::read(pki.path().join("ca.pem")).unwrap().into());
    mailtrail_imap::Client::connect(&config, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("with the private CA: {e}\n{}", dovecot.log()));

    // The whole server, configured with tls_ca_file.
    let ca_file = pki.path().join("ca.pem");
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.imap_mailboxes = vec![mailtrail::config::Secret::new(url)];
        s.imap_poll_secs = 1;
        s.tls_ca_file = Some(ca_file);
    })
    .await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": USER, "to": ["erin@example.test"], "subject": "Offer", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mid = body["message_id"].as_str().unwrap().to_owned();
    let reply = format!(
        "From: Erin <erin@example.test>\r\nTo: {USER}\r\nSubject: Re: Offer\r\n\
         Message-ID: <tls-reply-1@example.test>\r\nIn-Reply-To: <{mid}>\r\n\
         Date: Tue, 01 Dec 2026 04:00:00 +0000\r\n\r\nYes, please.\r\n"
    );
    dovecot
        .deliver(USER, "1.reply", reply.as_bytes())
        .expect("deliver the reply");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(code, 200, "{msg}");
        if events(&msg["recipients"][0]).contains(&"replied".to_owned()) {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "erin should be replied over TLS: {msg:#}\nDovecot log:\n{}",
                dovecot.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.stop().await;
}

/// What a poller stored, for [`imap_poller_reads_a_large_mailbox_in_bounded_batches`].
#[derive(Default)]
struct Kept {
    messages: std::sync::Mutex<Vec<(u32, Vec<u8>)>>,
}

#[async_trait::async_trait]
impl mailtrail_imap::Sink for Kept {
    async fn cursor(&self, _key: &str) -> Result<Option<(u32, u32)>, String> {
        Ok(None)
    }

    async fn store(
        &self,
        _key: &str,
        _v: u32,
        uid: u32,
        _arrived: Option<time::OffsetDateTime>,
        raw: Vec<u8>,
    ) -> Result<(), String> {
        self.messages.lock().unwrap().push((uid, raw));
        Ok(())
    }

    async fn horizon(&self) -> Result<Option<time::OffsetDateTime>, String> {
        Ok(None)
    }

    async fn skip_to(&self, _key: &str, _v: u32, uid: u32) -> Result<(), String> {
        Err(format!(
            "nothing is left unread here, yet the poller skipped to UID {uid}"
        ))
    }
}

/// A mailbox holding more messages than one FETCH batch, and one message
/// larger than any IMAP literal the client accepts (a 70 MB attachment):
/// every message is stored once, in UID order, the large one cut to what
/// the classifier reads. Before partial fetches, that message failed every
/// session ("literal of N octets") and the poller never got past it.
#[tokio::test]
async fn imap_poller_reads_a_large_mailbox_in_bounded_batches() {
    const USER: &str = "big@example.test";
    const PASSWORD: &str = "secret-pass";
    assert_eq!(
        mailtrail_imap::client::FETCH_OCTETS as usize,
        mailtrail_mail::inbound::MAX_INPUT,
        "the poller reads what the classifier looks at"
    );
    let dovecot = crate::support::dovecot::Dovecot::start(&[(USER, PASSWORD)])
        .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    let message = |k: usize, body: &str| {
        format!(
            "From: Someone <s{k}@example.test>\r\nTo: {USER}\r\nSubject: m{k}\r\n\
             Message-ID: <m{k}@example.test>\r\n\r\n{body}\r\n"
        )
    };
    // 900,000 lines of 76 octets: 70 MB.
    let mut big = message(0, "").into_bytes();
    let line: Vec<u8> = [b'x'; 76].into_iter().chain(*b"\r\n").collect();
    for _ in 0..900_000 {
        big.extend_from_slice(&line);
    }
    assert!(big.len() > 64 * 1024 * 1024);
    dovecot.deliver(USER, "000.big", &big).expect("deliver");
    for k in 1..=60 {
        dovecot
            .deliver(
                USER,
                &format!("{k:03}.small"),
                message(k, "hello").as_bytes(),
            )
            .expect("deliver");
    }

    let config = mailtrail_imap::MailboxConfig::parse(&dovecot.url(USER, PASSWORD)).unwrap();
    let kept = std::sync::Arc::new(Kept::default());
    let mut poller = mailtrail_imap::Poller::new(config, kept.clone());
    poller.poll_interval = Duration::from_millis(200);
    poller.retry_pause = Duration::from_millis(200);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(poller.run(stopped));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while kept.messages.lock().unwrap().len() < 61 {
        if tokio::time::Instant::now() > deadline {
            panic!(
                "stored {} of 61 messages\nDovecot log:\n{}",
                kept.messages.lock().unwrap().len(),
                dovecot.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A poll more, to see that nothing is read twice.
    tokio::time::sleep(Duration::from_millis(600)).await;
    stop.send(true).unwrap();
    task.await.unwrap();

    let messages = kept.messages.lock().unwrap();
    assert_eq!(messages.len(), 61, "each message once");
    assert!(messages.windows(2).all(|w| w[0].0 < w[1].0), "in UID order");
    let (_, first) = &messages[0];
    assert_eq!(first.len(), mailtrail_mail::inbound::MAX_INPUT, "cut");
    assert!(first.starts_with(b"From: Someone <s0@example.test>"));
    for (k, (_, raw)) in messages.iter().enumerate().skip(1) {
        assert_eq!(raw, &message(k, "hello").into_bytes(), "message {k}");
    }
}

/// How many inbound messages the app's SQLite database holds, processed
/// or not.
async fn inbound_rows(app: &TestApp) -> i64 {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}?mode=ro",
        app.dir.path().join("data").join("mailtrail.db").display()
    );
    let mut db = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("open the app's database");
    sqlx::query_scalar("SELECT COUNT(*) FROM inbound_messages")
        .fetch_one(&mut db)
        .await
        .expect("count inbound messages")
}

/// A mailbox connected after the fact holds old mail: a bounce for erin
/// from more than a year ago (no VERP token, no Message-ID of ours, so
/// only her address could tie it to a send), and another from an hour
/// before mailtrail's first send. Neither can be about a send, so both are
/// left unread: not stored, and erin is not marked failed nor suppressed.
/// (Were they read, correlation would still refuse them: it looks only at
/// the sends of the 30 days before a message arrived.) Her out-of-office
/// arriving now still counts, and the position is past all three.
#[tokio::test]
async fn old_mail_in_a_connected_mailbox_is_left_unread() {
    const USER: &str = "late@example.test";
    const PASSWORD: &str = "secret-pass";
    let (dovecot, app) = app_reading_mailbox(USER, PASSWORD).await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": USER, "to": ["erin@example.test"], "subject": "Today", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();

    let old_bounce = |n: u32| {
        format!(
            "From: MAILER-DAEMON@mx.example.test\r\nTo: {USER}\r\nSubject: failure notice\r\n\
             Message-ID: <old-bounce-{n}@mx.example.test>\r\n\r\n\
             Hi. This is the qmail-send program at mx.example.test.\r\n\
             I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\
             This is a permanent error; I've given up. Sorry it didn't work out.\r\n\r\n\
             <erin@example.test>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n"
        )
    };
    let now = std::time::SystemTime::now();
    for (n, ago) in [(1, 400 * 86_400), (2, 3_600)] {
        dovecot
            .deliver_at(
                USER,
                &format!("{n}.old-bounce"),
                old_bounce(n).as_bytes(),
                now - Duration::from_secs(ago),
            )
            .expect("deliver an old bounce");
    }
    let ooo = format!(
        "From: Erin <erin@example.test>\r\nTo: {USER}\r\nSubject: Out of office\r\n\
         Message-ID: <ooo-erin@example.test>\r\nAuto-Submitted: auto-replied\r\n\r\n\
         I am away until Monday.\r\n"
    );
    dovecot
        .deliver(USER, "3.ooo", ooo.as_bytes())
        .expect("deliver the out-of-office");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let erin = loop {
        let (code, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(code, 200, "{msg}");
        let erin = msg["recipients"][0].clone();
        if events(&erin).contains(&"auto_replied".to_owned()) {
            break erin;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "erin should be auto_replied: {msg:#}\nDovecot log:\n{}",
                dovecot.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        !events(&erin).contains(&"failed".to_owned()),
        "a bounce from before the send is not about it: {erin:#}"
    );
    let (code, sup) = app.get("/api/v1/suppressions").await;
    assert_eq!(code, 200, "{sup}");
    assert_eq!(sup["data"].as_array().map(Vec::len), Some(0), "{sup:#}");
    assert_eq!(
        inbound_rows(&app).await,
        1,
        "only the out-of-office is stored"
    );
    let key = mailtrail_imap::MailboxConfig::parse(&dovecot.url(USER, PASSWORD))
        .unwrap()
        .key();
    let cursor = app.store.mailbox_cursor(&key).await.unwrap();
    assert_eq!(cursor.map(|c| c.last_uid), Some(3), "{cursor:?}");
    app.stop().await;
}

/// Who replied to the message `id` (its first recipient's `replied`
/// events), once there are at least `want`.
async fn repliers(
    app: &TestApp,
    id: &str,
    want: usize,
    dovecot: &crate::support::dovecot::Dovecot,
) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (code, msg) = app.get(&format!("/api/v1/messages/{id}")).await;
        assert_eq!(code, 200, "{msg}");
        let got: Vec<String> = msg["recipients"][0]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "replied")
            .map(|e| e["data"]["replier"].as_str().unwrap_or("").to_owned())
            .collect();
        if got.len() >= want {
            return got;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "{want} replies expected, got {got:?}\nDovecot log:\n{}",
                dovecot.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The server renumbers the mailbox (a new UIDVALIDITY: here Dovecot's
/// index and UID list are deleted, as a rebuild or a restore does), so the
/// poller must read it all again (RFC 3501 section 2.3.1.1). The reply it
/// had already read is recognised and not stored again: bob gets one
/// `replied` for it, not two. A reply that arrived meanwhile still counts.
#[tokio::test]
async fn a_renumbered_mailbox_gives_no_event_twice() {
    const USER: &str = "renumbered@example.test";
    const PASSWORD: &str = "secret-pass";
    let app = TestApp::spawn().await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": USER, "to": ["bob@example.test"], "subject": "Offer", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mid = body["message_id"].as_str().unwrap().to_owned();
    let reply = |who: &str| {
        format!(
            "From: {who}@example.test\r\nTo: {USER}\r\nSubject: Re: Offer\r\n\
             Message-ID: <reply-{who}@example.test>\r\nIn-Reply-To: <{mid}>\r\n\r\nYes.\r\n"
        )
    };
    let dovecot = crate::support::dovecot::Dovecot::start(&[(USER, PASSWORD)])
        .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    dovecot
        .deliver(USER, "1.bob", reply("bob").as_bytes())
        .expect("deliver bob's reply");
    let config = mailtrail_imap::MailboxConfig::parse(&dovecot.url(USER, PASSWORD)).unwrap();
    let key = config.key();
    // A poller of the app's store, started and stopped by the test; the
    // app's processor turns what it stores into events.
    let poll = || {
        let sink = std::sync::Arc::new(mailtrail_worker::inbound::ImapSink::new(
            app.store.clone(),
            std::sync::Arc::new(tokio::sync::Notify::new()),
            time::Duration::days(30),
        ));
        let mut poller = mailtrail_imap::Poller::new(config.clone(), sink);
        poller.poll_interval = Duration::from_millis(200);
        poller.retry_pause = Duration::from_millis(200);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        (stop, tokio::spawn(poller.run(stopped)))
    };
    let (stop, task) = poll();
    assert_eq!(repliers(&app, &id, 1, &dovecot).await, ["bob@example.test"]);
    stop.send(true).unwrap();
    task.await.unwrap();
    let before = app.store.mailbox_cursor(&key).await.unwrap().unwrap();
    assert_eq!(before.last_uid, 1);

    // Renumber: without its index and UID list Dovecot gives the folder a
    // new UIDVALIDITY and the messages new UIDs.
    let md = dovecot.maildir(USER);
    for f in std::fs::read_dir(&md).unwrap() {
        let f = f.unwrap();
        let name = f.file_name().to_string_lossy().into_owned();
        if name.starts_with("dovecot-uidlist") || name.starts_with("dovecot.index") {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    dovecot
        .deliver(USER, "2.carol", reply("carol").as_bytes())
        .expect("deliver carol's reply");

    let (stop, task) = poll();
    let got = repliers(&app, &id, 2, &dovecot).await;
    let after = app.store.mailbox_cursor(&key).await.unwrap().unwrap();
    assert_ne!(
        after.uid_validity, before.uid_validity,
        "the test must renumber the mailbox: {before:?} {after:?}"
    );
    assert_eq!(after.last_uid, 2, "{after:?}");
    // Read in UID order and processed in the order stored: with carol's
    // reply counted, a second copy of bob's would be too.
    assert_eq!(got, ["bob@example.test", "carol@example.test"]);
    assert_eq!(inbound_rows(&app).await, 2);
    stop.send(true).unwrap();
    task.await.unwrap();
    app.stop().await;
}

/// A minimal OAuth 2.0 authorisation server for the XOAUTH2 tests.
/// - `POST /introspect` (Dovecot's token introspection, RFC 7662) with
///   `token=...` answers `{"active": true, "username": USER}` for a valid
///   token and `{"active": false}` for any other.
/// - `POST /token` (the refresh token grant, RFC 6749 section 6) with
///   `refresh_token=REFRESH`, `client_id=mailtrail` and
///   `client_secret=s3cret` issues a new valid access token; anything else
///   is `400 {"error": "invalid_grant"}`.
struct AuthServer {
    url: String,
    valid: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    introspected: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

const REFRESH: &str = "1//refresh-me";

async fn auth_server(user: &'static str, valid: &[&str]) -> AuthServer {
    use std::sync::atomic::Ordering::SeqCst;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = AuthServer {
        url: format!("http://{}", listener.local_addr().unwrap()),
        valid: std::sync::Arc::new(std::sync::Mutex::new(
            valid.iter().map(|t| t.to_string()).collect(),
        )),
        introspected: Default::default(),
    };
    let (tokens, introspected) = (server.valid.clone(), server.introspected.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (tokens, introspected) = (tokens.clone(), introspected.clone());
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                // Headers, then as much body as Content-Length says.
                let (head, body) = loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&req).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break (head.to_owned(), body.to_owned());
                        }
                    }
                };
                let form: std::collections::HashMap<String, String> =
                    serde_urlencoded::from_str(&body).unwrap_or_default();
                let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
                let (status, answer) = if head.starts_with("POST /token ") {
                    if field("grant_type") == "refresh_token"
                        && field("refresh_token") == REFRESH
                        && field("client_id") == "mailtrail"
                        && field("client_secret") == "s3cret"
                    {
                        let mut valid = tokens.lock().unwrap();
                        let token = format!("issued-{}", valid.len());
                        valid.push(token.clone());
                        let answer = json!({"access_token": token, "token_type": "Bearer", "expires_in": 3599});
                        ("200 OK", answer)
                    } else {
                        let answer = json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."});
                        ("400 Bad Request", answer)
                    }
                } else {
                    introspected.fetch_add(1, SeqCst);
                    let active = tokens.lock().unwrap().iter().any(|t| t == field("token"));
                    let answer = if active {
                        json!({"active": true, "username": user})
                    } else {
                        json!({"active": false})
                    };
                    ("200 OK", answer)
                };
                let answer = answer.to_string();
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = conn.write_all(reply.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    server
}

/// A mailbox read with an OAuth 2.0 access token (`?xoauth2`: the
/// password of the URL is the token, sent with `AUTHENTICATE XOAUTH2`)
/// on a Dovecot that checks tokens with an authorisation server: the
/// poller signs in and reads a reply. A token the server rejects is a
/// prompt, clear refusal: the server's error challenge is answered (as
/// the XOAUTH2 exchange requires) instead of waiting for the timeout.
#[tokio::test]
async fn imap_xoauth2_signs_in_with_a_bearer_token() {
    const USER: &str = "oauth@example.test";
    const TOKEN: &str = "ya29.good-token";
    let auth = auth_server(USER, &[TOKEN]).await;
    let dovecot = crate::support::dovecot::Dovecot::start_oauth2(
        &[(USER, "not-the-token")],
        &format!("{}/introspect", auth.url),
    )
    .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");

    // A rejected token: refused at once, with the server's reason.
    let bad = format!("{}?xoauth2", dovecot.url(USER, "expired-token"));
    let config = mailtrail_imap::MailboxConfig::parse(&bad).unwrap();
    let started = std::time::Instant::now();
    let refused = mailtrail_imap::Client::connect(&config, Duration::from_secs(30)).await;
    match refused {
        Err(mailtrail_imap::Error::Refused { command, text }) => {
            assert_eq!(command, "AUTHENTICATE");
            assert!(!text.contains("expired-token"), "{text}");
        }
        Err(e) => panic!(
            "a rejected token must be refused, not {e}\n{}",
            dovecot.log()
        ),
        Ok(_) => panic!("signed in with a token the server rejects"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the refusal took {:?}",
        started.elapsed()
    );
    assert!(auth.introspected.load(std::sync::atomic::Ordering::SeqCst) >= 1);

    // The good token: the app's poller reads a reply.
    let url = format!("{}?xoauth2", dovecot.url(USER, TOKEN));
    a_reply_is_read(url, USER, "frank@example.test", &dovecot).await;
}

/// A mailbox read with a refresh token (`&token_url=...&client_id=...
/// &client_secret=...&refresh_token=...`, no access token in the URL):
/// before signing in, the poller asks the token endpoint for an access
/// token (RFC 6749 section 6), and reads a reply with it. A revoked refresh
/// token is a clear error naming the endpoint and what it said, with no
/// secret in it.
#[tokio::test]
async fn imap_xoauth2_gets_its_access_token_with_a_refresh_token() {
    const USER: &str = "refresh@example.test";
    let auth = auth_server(USER, &[]).await;
    let dovecot = crate::support::dovecot::Dovecot::start_oauth2(
        &[(USER, "not-the-token")],
        &format!("{}/introspect", auth.url),
    )
    .expect("Dovecot (Debian package dovecot-imapd; scripts/test.sh installs it)");
    let url = |refresh: &str| {
        let base = dovecot.url(USER, "x");
        let (scheme, rest) = base.split_once("://").unwrap();
        let (_, host) = rest.rsplit_once('@').unwrap();
        format!(
            "{scheme}://{}@{host}?xoauth2&token_url={}/token&client_id=mailtrail\
             &client_secret=s3cret&refresh_token={}",
            USER.replace('@', "%40"),
            auth.url,
            refresh.replace('/', "%2F")
        )
    };

    let revoked = mailtrail_imap::MailboxConfig::parse(&url("1//revoked")).unwrap();
    match mailtrail_imap::Client::connect(&revoked, Duration::from_secs(30)).await {
        Err(e @ mailtrail_imap::Error::OAuth(_)) => {
            let e = e.to_string();
            assert!(e.contains("invalid_grant") && e.contains(&auth.url), "{e}");
            assert!(!e.contains("s3cret") && !e.contains("1//"), "{e}");
        }
        Err(e) => panic!("a revoked refresh token must be an OAuth error, not {e}"),
        Ok(_) => panic!("signed in with a revoked refresh token"),
    }
    assert!(auth.valid.lock().unwrap().is_empty(), "no token issued");

    a_reply_is_read(url(REFRESH), USER, "gina@example.test", &dovecot).await;
    assert!(
        !auth.valid.lock().unwrap().is_empty(),
        "the access token came from the token endpoint"
    );
}

/// An app polling the mailbox `url` (of `user`, on `dovecot`) sends a
/// message, `replier` answers it there, and the app marks it replied.
async fn a_reply_is_read(
    url: String,
    user: &str,
    replier: &str,
    dovecot: &crate::support::dovecot::Dovecot,
) {
    let app = TestApp::spawn_with(Db::Sqlite, |s| {
        s.imap_mailboxes = vec![mailtrail::config::Secret::new(url)];
        s.imap_poll_secs = 1;
    })
    .await;
    let (code, body) = app
        .post(
            "/api/v1/messages",
            &json!({"from": user, "to": [replier], "subject": "Terms", "text": "hello"}),
        )
        .await;
    assert_eq!(code, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let mid = body["message_id"].as_str().unwrap().to_owned();
    let reply = format!(
        "From: {replier}\r\nTo: {user}\r\nSubject: Re: Terms\r\n\
         Message-ID: <reply@example.test>\r\nIn-Reply-To: <{mid}>\r\n\r\nAgreed.\r\n"
    );
    dovecot
        .deliver(user, "1.reply", reply.as_bytes())
        .expect("deliver the reply");
    assert_eq!(repliers(&app, &id, 1, dovecot).await, [replier]);
    app.stop().await;
}

//! The client and transports against a scripted SMTP server on loopback.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

mod support;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use mailtrail_domain::{EmailAddress, Reason};
use mailtrail_smtp::{
    Envelope, Error, Mx, MxAnswer, MxOptions, MxResolver, Outcome, Smarthost, SmarthostOptions,
    Timeouts, Transport,
};
use support::{Behaviour, start};

const MESSAGE: &[u8] = b"From: a@b.test\r\nTo: bob@x.test\r\nSubject: hi\r\n\r\nHello.\r\n";

fn env(to: &str) -> Envelope {
    Envelope {
        return_path: "bounces+tok@b.test".into(),
        recipient: EmailAddress::parse(to).unwrap(),
        envid: Some("env id+1".into()),
    }
}

fn config() -> SmarthostOptions {
    SmarthostOptions {
        helo_name: "client.test".into(),
        timeouts: Timeouts::uniform(Duration::from_secs(5)),
        ..SmarthostOptions::default()
    }
}

fn relay(url: &str) -> Smarthost {
    Smarthost::from_url(url, config()).unwrap()
}

fn accepted(o: &Outcome) -> &mailtrail_smtp::Reply {
    match o {
        Outcome::Accepted { reply, .. } => reply,
        other => panic!("expected Accepted, got {other:?}"),
    }
}

#[tokio::test]
async fn sends_with_dsn_parameters_when_offered() {
    let server = start(Behaviour {
        extensions: vec!["PIPELINING", "SIZE 10240000", "DSN", "8BITMIME"],
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    let reply = accepted(&out);
    assert_eq!(reply.code, 250);
    assert_eq!(reply.enhanced.unwrap().to_string(), "2.0.0");
    assert!(matches!(
        out,
        Outcome::Accepted {
            final_delivery: false,
            ..
        }
    ));
    assert_eq!(out.reason(), Reason::Delivered);
    assert!(out.remote().unwrap().contains("127.0.0.1"));

    assert_eq!(server.commands("EHLO"), ["EHLO client.test"]);
    assert_eq!(
        server.commands("MAIL"),
        [format!(
            "MAIL FROM:<bounces+tok@b.test> SIZE={} RET=HDRS ENVID=env+20id+2B1",
            MESSAGE.len()
        )]
    );
    assert_eq!(
        server.commands("RCPT"),
        ["RCPT TO:<bob@x.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;bob@x.test"]
    );
    assert_eq!(server.messages(), [MESSAGE.to_vec()]);
}

#[tokio::test]
async fn plain_server_gets_plain_commands_and_normalised_content() {
    let server = start(Behaviour {
        extensions: vec![],
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    let msg = b"Subject: dots\n\n.leading dot\nmid.dle\n..two\r\n.\nend";
    let out = t.send(&env("bob@x.test"), msg).await;
    accepted(&out);
    assert_eq!(server.commands("MAIL"), ["MAIL FROM:<bounces+tok@b.test>"]);
    assert_eq!(server.commands("RCPT"), ["RCPT TO:<bob@x.test>"]);
    // The server removed the stuffing: what arrives is the message with
    // CRLF line ends, dots intact.
    assert_eq!(
        server.messages(),
        [b"Subject: dots\r\n\r\n.leading dot\r\nmid.dle\r\n..two\r\n.\r\nend\r\n".to_vec()]
    );
}

#[tokio::test]
async fn null_sender_is_sent_as_empty_path() {
    let server = start(Behaviour::default()).await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    let mut e = env("bob@x.test");
    e.return_path = String::new();
    accepted(&t.send(&e, MESSAGE).await);
    assert!(server.commands("MAIL")[0].starts_with("MAIL FROM:<> "));
}

#[tokio::test]
async fn helo_fallback_when_ehlo_is_refused() {
    let server = start(Behaviour {
        refuse_ehlo: true,
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    assert_eq!(server.commands("HELO"), ["HELO client.test"]);
    // No extensions known: no parameters.
    assert_eq!(server.commands("MAIL"), ["MAIL FROM:<bounces+tok@b.test>"]);
}

#[tokio::test]
async fn auth_plain_and_login() {
    for (mechs, expect) in [("PLAIN LOGIN", "AUTH PLAIN "), ("LOGIN", "AUTH LOGIN")] {
        let server = start(Behaviour {
            auth: Some(("api@org".into(), "p:ss@w rd".into())),
            auth_mechanisms: mechs,
            ..Behaviour::default()
        })
        .await;
        let t = relay(&format!(
            "smtp://api%40org:p%3Ass%40w%20rd@127.0.0.1:{}",
            server.port()
        ));
        accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
        let auth = server.commands("AUTH");
        assert_eq!(auth.len(), 1);
        assert!(auth[0].starts_with(expect), "{mechs}: {auth:?}");
    }
}

#[tokio::test]
async fn wrong_password_is_transient_with_the_reply() {
    let server = start(Behaviour {
        auth: Some(("u".into(), "right".into())),
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://u:wrong@127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    match &out {
        Outcome::Transient {
            reply: Some(r),
            error,
            ..
        } => {
            assert_eq!(r.code, 535);
            assert!(error.contains("AUTH"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.commands("MAIL").is_empty());
}

#[tokio::test]
async fn credentials_without_auth_offered_fail() {
    let server = start(Behaviour::default()).await;
    let t = relay(&format!("smtp://u:p@127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { reply: None, error, .. } if error.contains("AUTH")),
        "{out:?}"
    );
}

fn rcpt_policy(addr: &str) -> String {
    match addr.split('@').next().unwrap_or("") {
        "unknown" => "550 5.1.1 <unknown@x.test>: Recipient address rejected: User unknown in local recipient table".into(),
        "grey" => "450 4.2.0 <grey@x.test>: Recipient address rejected: Greylisted".into(),
        _ => "250 2.1.5 Ok".into(),
    }
}

#[tokio::test]
async fn rcpt_5xx_is_permanent_4xx_transient_and_the_session_is_reused() {
    let server = start(Behaviour {
        rcpt: rcpt_policy,
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));

    let out = t.send(&env("unknown@x.test"), MESSAGE).await;
    match &out {
        Outcome::Permanent { reply, .. } => {
            assert_eq!(reply.code, 550);
            assert_eq!(reply.enhanced.unwrap().to_string(), "5.1.1");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out.reason(), Reason::UserUnknown);
    assert!(out.is_permanent());

    let out = t.send(&env("grey@x.test"), MESSAGE).await;
    match &out {
        Outcome::Transient {
            reply: Some(r),
            remote: Some(_),
            ..
        } => assert_eq!(r.code, 450),
        other => panic!("{other:?}"),
    }

    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    // One session for all three; RSET after each refusal.
    assert_eq!(server.connections(), 1);
    assert_eq!(server.commands("RSET").len(), 2);
    assert_eq!(server.commands("DATA").len(), 1);
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn data_end_5xx_is_permanent_without_rset() {
    let server = start(Behaviour {
        data_end: "552 5.3.4 Message size exceeds fixed limit".into(),
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(out.is_permanent(), "{out:?}");
    assert_eq!(out.reason(), Reason::MesgTooBig);
    assert!(server.commands("RSET").is_empty());
    assert_eq!(t.idle_connections(), 1, "the session stays usable");
}

#[tokio::test]
async fn two_copies_reuse_one_connection_and_close_quits() {
    let server = start(Behaviour::default()).await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    accepted(&t.send(&env("carol@x.test"), MESSAGE).await);
    assert_eq!(server.connections(), 1);
    assert_eq!(server.commands("EHLO").len(), 1);
    assert_eq!(server.commands("MAIL").len(), 2);
    assert_eq!(t.idle_connections(), 1);
    t.close().await;
    assert_eq!(t.idle_connections(), 0);
    assert_eq!(server.commands("QUIT").len(), 1);
}

#[tokio::test]
async fn concurrent_sends_open_sessions_and_pool_them() {
    let server = start(Behaviour::default()).await;
    let t = Arc::new(relay(&format!("smtp://127.0.0.1:{}", server.port())));
    let mut tasks = Vec::new();
    for i in 0..6 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            t.send(&env(&format!("user{i}@x.test")), MESSAGE).await
        }));
    }
    for task in tasks {
        accepted(&task.await.unwrap());
    }
    assert_eq!(server.messages().len(), 6);
    assert!(t.idle_connections() <= config().pool_size);
}

#[tokio::test]
async fn concurrent_sends_never_open_more_sessions_than_the_pool() {
    // Ten copies at once through a pool of two: they queue for the two
    // sessions instead of opening (and quitting) eight extra ones.
    let server = start(Behaviour::default()).await;
    let options = SmarthostOptions {
        pool_size: 2,
        ..config()
    };
    let url = format!("smtp://127.0.0.1:{}", server.port());
    let t = Arc::new(Smarthost::from_url(&url, options).unwrap());
    let mut tasks = Vec::new();
    for i in 0..10 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            t.send(&env(&format!("user{i}@x.test")), MESSAGE).await
        }));
    }
    for task in tasks {
        accepted(&task.await.unwrap());
    }
    assert_eq!(server.messages().len(), 10);
    assert_eq!(server.connections(), 2);
    assert_eq!(server.commands("QUIT").len(), 0);
    assert_eq!(t.idle_connections(), 2);
}

#[tokio::test]
async fn stale_pooled_connection_is_replaced_once() {
    // The server silently closes after each transaction: the pooled session
    // is dead when the second copy comes.
    let server = start(Behaviour {
        close_after: Some(1),
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    // Give the server's close time to arrive.
    tokio::time::sleep(Duration::from_millis(50)).await;
    accepted(&t.send(&env("carol@x.test"), MESSAGE).await);
    assert_eq!(server.connections(), 2);
    assert_eq!(server.messages().len(), 2);
}

#[tokio::test]
async fn idle_timeout_421_on_pooled_connection_is_retried() {
    let server = start(Behaviour {
        mail_421_after: Some(1),
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    accepted(&t.send(&env("carol@x.test"), MESSAGE).await);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn connection_drop_is_transient() {
    for at in ["RCPT", "DATA", "DATAEND"] {
        let server = start(Behaviour {
            drop_at: Some(at),
            ..Behaviour::default()
        })
        .await;
        let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
        let out = t.send(&env("bob@x.test"), MESSAGE).await;
        match &out {
            Outcome::Transient {
                reply: None,
                error,
                remote,
            } => {
                assert!(error.contains("closed"), "{at}: {error}");
                assert!(remote.is_some());
            }
            other => panic!("{at}: {other:?}"),
        }
        assert_eq!(out.reason(), Reason::NetworkError);
        // A fresh session failed: no retry (and never after the content).
        assert_eq!(server.connections(), 1, "{at}");
        assert_eq!(t.idle_connections(), 0);
    }
}

#[tokio::test]
async fn nothing_listening_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let t = relay(&format!("smtp://127.0.0.1:{port}"));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { reply: None, error, .. } if error.contains("connect")),
        "{out:?}"
    );
}

#[tokio::test]
async fn greeting_timeout_is_transient() {
    let server = start(Behaviour {
        silent: true,
        ..Behaviour::default()
    })
    .await;
    let t = Smarthost::from_url(
        &format!("smtp://127.0.0.1:{}", server.port()),
        SmarthostOptions {
            timeouts: Timeouts::uniform(Duration::from_millis(300)),
            ..config()
        },
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(
        matches!(&out, Outcome::Transient { reply: None, error, .. } if error.contains("greeting") && error.contains("no answer")),
        "{out:?}"
    );
}

#[tokio::test]
async fn greeting_554_is_transient_with_reply() {
    let server = start(Behaviour {
        greeting: "554 5.7.1 go away".into(),
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { reply: Some(r), .. } if r.code == 554),
        "{out:?}"
    );
}

#[tokio::test]
async fn pipelining_sends_mail_rcpt_data_in_one_go() {
    // This server answers MAIL and RCPT only once DATA has arrived: a client
    // that waits for each reply would time out.
    let server = start(Behaviour {
        extensions: vec!["PIPELINING", "DSN"],
        strict_pipelining: true,
        rcpt: rcpt_policy,
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    // A refused recipient in a pipelined group: DATA is refused too, the
    // RCPT reply decides, and the session carries on.
    let out = t.send(&env("unknown@x.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Permanent { reply, .. } if reply.code == 550),
        "{out:?}"
    );
    accepted(&t.send(&env("carol@x.test"), MESSAGE).await);
    assert_eq!(server.connections(), 1);
    assert_eq!(server.messages().len(), 2);
}

#[tokio::test]
async fn size_limit_is_checked_before_sending() {
    let server = start(Behaviour {
        extensions: vec!["SIZE 10"],
        ..Behaviour::default()
    })
    .await;
    let t = relay(&format!("smtp://127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(out.is_permanent(), "{out:?}");
    assert_eq!(out.reason(), Reason::MesgTooBig);
    assert!(server.commands("MAIL").is_empty());
}

#[tokio::test]
async fn starttls_required_upgrades_and_ehlos_again() {
    let (acceptor, ca_pem) = support::tls_acceptor();
    let server = start(Behaviour {
        starttls: Some(acceptor),
        auth: Some(("u".into(), "p".into())),
        auth_needs_tls: true,
        ..Behaviour::default()
    })
    .await;
    // Trust the test CA; the certificate names "localhost".
    let t = Smarthost::from_url(
        &format!("smtp+starttls://u:p@localhost:{}", server.port()),
        SmarthostOptions {
            extra_ca_pem: Some(ca_pem),
            ..config()
        },
    )
    .unwrap();
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    accepted(&out);
    let log = server.log();
    let verbs: Vec<&str> = log
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .take(4)
        .collect();
    // AUTH was only offered after TLS, so the second EHLO must have happened.
    assert_eq!(verbs, ["EHLO", "STARTTLS", "EHLO", "AUTH"]);
}

#[tokio::test]
async fn starttls_with_an_untrusted_certificate_fails_unless_insecure() {
    let (acceptor, _) = support::tls_acceptor();
    let server = start(Behaviour {
        starttls: Some(acceptor),
        ..Behaviour::default()
    })
    .await;
    let url = format!("smtp+starttls://localhost:{}", server.port());
    let out = relay(&url).send(&env("bob@x.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { error, .. } if error.contains("TLS")),
        "{out:?}"
    );
    let insecure = Smarthost::from_url(
        &url,
        SmarthostOptions {
            tls_insecure: true,
            ..config()
        },
    )
    .unwrap();
    accepted(&insecure.send(&env("bob@x.test"), MESSAGE).await);
}

#[tokio::test]
async fn starttls_required_but_not_offered() {
    let server = start(Behaviour::default()).await;
    let t = relay(&format!("smtp+starttls://127.0.0.1:{}", server.port()));
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { error, .. } if error.contains("STARTTLS")),
        "{out:?}"
    );
    assert!(server.commands("MAIL").is_empty());
}

#[tokio::test]
async fn smtps_implicit_tls_with_sni() {
    let (acceptor, ca_pem) = support::tls_acceptor();
    let server = start(Behaviour {
        implicit_tls: Some(acceptor),
        ..Behaviour::default()
    })
    .await;
    // Connect by IP, check the certificate against "localhost" via SNI.
    let t = Smarthost::from_url(
        &format!("smtps://127.0.0.1:{}", server.port()),
        SmarthostOptions {
            extra_ca_pem: Some(ca_pem),
            sni: Some("localhost".into()),
            ..config()
        },
    )
    .unwrap();
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    assert!(server.commands("STARTTLS").is_empty());
    assert_eq!(server.messages().len(), 1);
}

#[tokio::test]
async fn bad_extra_ca_is_a_configuration_error() {
    let err = Smarthost::from_url(
        "smtps://relay.test",
        SmarthostOptions {
            extra_ca_pem: Some(b"not a pem".to_vec()),
            ..config()
        },
    )
    .unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err}");
}

/// DNS from a table, so MX ordering and fallback run without a network.
#[derive(Default)]
struct FakeDns {
    mx: HashMap<String, MxAnswer>,
    ips: HashMap<String, Vec<IpAddr>>,
}

#[async_trait]
impl MxResolver for FakeDns {
    async fn mx(&self, domain: &str) -> Result<MxAnswer, Error> {
        self.mx
            .get(domain)
            .cloned()
            .ok_or_else(|| Error::Dns(format!("SERVFAIL for {domain}")))
    }

    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, Error> {
        Ok(self.ips.get(host).cloned().unwrap_or_default())
    }
}

fn mx_transport(dns: FakeDns, port: u16) -> Mx {
    Mx::with_resolver(
        Arc::new(dns),
        MxOptions {
            helo_name: "client.test".into(),
            timeouts: Timeouts::uniform(Duration::from_secs(5)),
            port,
            ..MxOptions::default()
        },
    )
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn mx_tries_hosts_in_preference_order() {
    let server = start(Behaviour {
        extensions: vec!["DSN"],
        ..Behaviour::default()
    })
    .await;
    let mut dns = FakeDns::default();
    dns.mx.insert(
        "x.test".into(),
        MxAnswer::Records(vec![
            (20, "mx2.x.test".into()),
            (10, "mx1.x.test".into()),
            (30, "mx3.x.test".into()),
        ]),
    );
    // mx1 has no address; mx2 is an address where nothing listens on the
    // port (the server is bound to 127.0.0.1 only); mx3 answers.
    dns.ips.insert("mx2.x.test".into(), vec![ip("127.0.0.2")]);
    dns.ips.insert("mx3.x.test".into(), vec![ip("127.0.0.1")]);
    let t = mx_transport(dns, server.port());
    let out = t.send(&env("bob@x.test"), MESSAGE).await;
    match &out {
        Outcome::Accepted {
            remote,
            final_delivery,
            ..
        } => {
            assert!(*final_delivery);
            assert!(remote.starts_with("mx3.x.test[127.0.0.1]"), "{remote}");
        }
        other => panic!("{other:?}"),
    }
    // DSN parameters go to MX hosts as well.
    assert!(server.commands("RCPT")[0].contains("NOTIFY=SUCCESS,FAILURE,DELAY"));
}

#[tokio::test]
async fn mx_falls_back_to_the_domain_and_uses_opportunistic_tls() {
    let (acceptor, _) = support::tls_acceptor();
    let server = start(Behaviour {
        starttls: Some(acceptor),
        rcpt: rcpt_policy,
        ..Behaviour::default()
    })
    .await;
    let mut dns = FakeDns::default();
    dns.mx.insert("x.test".into(), MxAnswer::NoRecords);
    dns.ips.insert("x.test".into(), vec![ip("127.0.0.1")]);
    let t = mx_transport(dns, server.port());
    accepted(&t.send(&env("bob@x.test"), MESSAGE).await);
    // The certificate is for "localhost", not "x.test": opportunistic TLS
    // uses it anyway.
    assert_eq!(server.commands("STARTTLS").len(), 1);
    let out = t.send(&env("unknown@x.test"), MESSAGE).await;
    assert!(out.is_permanent(), "{out:?}");
    assert_eq!(out.reason(), Reason::UserUnknown);
}

#[tokio::test]
async fn mx_refusals_from_dns() {
    let mut dns = FakeDns::default();
    dns.mx.insert(
        "nomail.test".into(),
        MxAnswer::Records(vec![(0, String::new())]),
    );
    dns.mx.insert("gone.test".into(), MxAnswer::NoDomain);
    dns.mx.insert("bare.test".into(), MxAnswer::NoRecords);
    let t = mx_transport(dns, 25);

    let out = t.send(&env("a@nomail.test"), MESSAGE).await;
    match &out {
        Outcome::Permanent { reply, .. } => {
            assert_eq!(reply.code, 556);
            assert_eq!(reply.enhanced.unwrap().to_string(), "5.1.10");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out.reason(), Reason::NotAccept);

    let out = t.send(&env("a@gone.test"), MESSAGE).await;
    assert!(out.is_permanent(), "{out:?}");
    assert_eq!(out.reason(), Reason::HostUnknown);

    // No MX and no address either: the domain has no mail server.
    let out = t.send(&env("a@bare.test"), MESSAGE).await;
    assert!(out.is_permanent(), "{out:?}");
    assert_eq!(out.reason(), Reason::HostUnknown);

    // A DNS failure that may pass is transient.
    let out = t.send(&env("a@servfail.test"), MESSAGE).await;
    assert!(
        matches!(&out, Outcome::Transient { reply: None, error, .. } if error.contains("SERVFAIL")),
        "{out:?}"
    );
}

#[tokio::test]
async fn mx_all_hosts_down_is_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut dns = FakeDns::default();
    dns.mx.insert(
        "x.test".into(),
        MxAnswer::Records(vec![(10, "a.x.test".into()), (20, "b.x.test".into())]),
    );
    dns.ips.insert("a.x.test".into(), vec![ip("127.0.0.1")]);
    dns.ips.insert("b.x.test".into(), vec![ip("127.0.0.1")]);
    let out = mx_transport(dns, port)
        .send(&env("bob@x.test"), MESSAGE)
        .await;
    match &out {
        Outcome::Transient {
            reply: None, error, ..
        } => {
            assert!(
                error.contains("a.x.test") && error.contains("b.x.test"),
                "{error}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn mx_4xx_greeting_moves_to_the_next_host() {
    let busy = start(Behaviour {
        greeting: "421 4.3.2 busy, try later".into(),
        ..Behaviour::default()
    })
    .await;
    // The second host must listen on the same port: bind it on 127.0.0.3.
    let good = support::start_on(&format!("127.0.0.3:{}", busy.port()), Behaviour::default()).await;
    let mut dns = FakeDns::default();
    dns.mx.insert(
        "x.test".into(),
        MxAnswer::Records(vec![(10, "busy.x.test".into()), (20, "good.x.test".into())]),
    );
    dns.ips.insert("busy.x.test".into(), vec![ip("127.0.0.1")]);
    dns.ips.insert("good.x.test".into(), vec![ip("127.0.0.3")]);
    let out = mx_transport(dns, busy.port())
        .send(&env("bob@x.test"), MESSAGE)
        .await;
    accepted(&out);
    assert_eq!(busy.connections(), 1);
    assert_eq!(good.messages().len(), 1);
}

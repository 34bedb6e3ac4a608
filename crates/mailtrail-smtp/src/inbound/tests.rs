//! The listener against a scripted client on a real socket.

use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::*;

#[derive(Default)]
struct Memory {
    kept: Mutex<Vec<(Envelope, Vec<u8>)>>,
    fail: bool,
}

#[async_trait]
impl MessageSink for Memory {
    async fn store(&self, envelope: &Envelope, raw: Vec<u8>) -> Result<(), SinkError> {
        if self.fail {
            return Err(SinkError("disk full".into()));
        }
        self.kept
            .lock()
            .expect("sink lock")
            .push((envelope.clone(), raw));
        Ok(())
    }
}

struct Client {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Self {
        let (r, w) = TcpStream::connect(addr)
            .await
            .expect("connect")
            .into_split();
        Self {
            reader: BufReader::new(r),
            writer: w,
        }
    }

    /// One whole (possibly multi-line) reply.
    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(Duration::from_secs(10), self.reader.read_line(&mut line))
                .await
                .expect("reply in time")
                .expect("read");
            if n == 0 {
                return all;
            }
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn say(&mut self, line: &str) -> String {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write");
        self.reply().await
    }
}

async fn start(options: InboundOptions, sink: Arc<Memory>) -> (SocketAddr, watch::Sender<bool>) {
    let listener = Listener::bind("127.0.0.1:0".parse().unwrap(), options, sink)
        .await
        .expect("bind");
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = watch::channel(false);
    tokio::spawn(listener.run(rx));
    (addr, tx)
}

fn options() -> InboundOptions {
    InboundOptions::new("mx.bounce.test", vec!["Bounce.test".into()])
}

#[tokio::test]
async fn accepts_a_bounce_for_our_domain_and_keeps_it_before_250() {
    let sink = Arc::new(Memory::default());
    let (addr, _stop) = start(options(), sink.clone()).await;
    let mut c = Client::connect(addr).await;
    assert!(c.reply().await.starts_with("220 mx.bounce.test"));
    let ehlo = c.say("EHLO mta.example").await;
    assert!(ehlo.contains("250-ENHANCEDSTATUSCODES"), "{ehlo}");
    assert!(ehlo.contains("SIZE 26214400"), "{ehlo}");
    assert!(
        !ehlo.contains("STARTTLS"),
        "no certificate, no STARTTLS: {ehlo}"
    );
    assert!(c.say("MAIL FROM:<>").await.starts_with("250 2.1.0"));
    assert!(
        c.say("RCPT TO:<bounces+tok@BOUNCE.test>")
            .await
            .starts_with("250 2.1.5")
    );
    assert!(
        c.say("RCPT TO:<victim@elsewhere.test>")
            .await
            .starts_with("550 5.7.1")
    );
    assert!(c.say("DATA").await.starts_with("354"));
    let reply = c
        .say("Subject: failed\r\n\r\n..leading dot\r\nbody\r\n.")
        .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    {
        let kept = sink.kept.lock().unwrap();
        assert_eq!(kept.len(), 1);
        let (env, raw) = &kept[0];
        assert_eq!(env.mail_from, None);
        assert_eq!(env.rcpt_to, vec!["bounces+tok@BOUNCE.test".to_owned()]);
        assert_eq!(env.helo, "mta.example");
        let text = String::from_utf8_lossy(raw);
        assert!(
            text.starts_with("Return-Path: <>\r\nReceived: from mta.example"),
            "{text}"
        );
        assert!(
            text.ends_with("Subject: failed\r\n\r\n.leading dot\r\nbody\r\n"),
            "{text}"
        );
    }
    assert!(c.say("QUIT").await.starts_with("221 2.0.0"));
}

#[tokio::test]
async fn sequence_syntax_and_unknown_commands() {
    let sink = Arc::new(Memory::default());
    let (addr, _stop) = start(options(), sink.clone()).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    assert!(c.say("MAIL FROM:<a@b.test>").await.starts_with("503 5.5.1"));
    assert!(c.say("HELO x.test").await.starts_with("250 "));
    assert!(
        c.say("RCPT TO:<a@bounce.test>")
            .await
            .starts_with("503 5.5.1")
    );
    assert!(c.say("DATA").await.starts_with("503 5.5.1"));
    assert!(c.say("MAIL FROM:a@b.test").await.starts_with("501 5.5.4"));
    assert!(c.say("FROB").await.starts_with("500 5.5.1"));
    assert!(c.say("AUTH PLAIN AAAA").await.starts_with("502 5.5.1"));
    assert!(c.say("STARTTLS").await.starts_with("502 5.5.1"));
    assert!(c.say(&"X".repeat(10_000)).await.starts_with("500 5.5.2"));
    assert!(c.say("MAIL FROM:<a@b.test>").await.starts_with("250 2.1.0"));
    assert!(c.say("MAIL FROM:<a@b.test>").await.starts_with("503 5.5.1"));
    assert!(c.say("DATA").await.starts_with("554 5.5.1"));
    assert!(c.say("RSET").await.starts_with("250 2.0.0"));
    assert!(c.say("NOOP").await.starts_with("250 2.0.0"));
    assert!(c.say("VRFY someone").await.starts_with("252 2.5.2"));
    assert!(sink.kept.lock().unwrap().is_empty());
}

#[tokio::test]
async fn size_limit_declared_and_actual() {
    let sink = Arc::new(Memory::default());
    let opts = InboundOptions {
        max_message_bytes: 100,
        ..options()
    };
    let (addr, _stop) = start(opts, sink.clone()).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    c.say("EHLO x.test").await;
    assert!(
        c.say("MAIL FROM:<> SIZE=101")
            .await
            .starts_with("552 5.3.4")
    );
    assert!(c.say("MAIL FROM:<> SIZE=50").await.starts_with("250"));
    assert!(c.say("RCPT TO:<b@bounce.test>").await.starts_with("250"));
    assert!(c.say("DATA").await.starts_with("354"));
    let body = format!("Subject: big\r\n\r\n{}\r\n.", "y".repeat(200));
    assert!(c.say(&body).await.starts_with("552 5.3.4"));
    // the session goes on after the refusal
    assert!(c.say("NOOP").await.starts_with("250"));
    assert!(sink.kept.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_sink_failure_is_a_temporary_refusal() {
    let sink = Arc::new(Memory {
        fail: true,
        ..Memory::default()
    });
    let (addr, _stop) = start(options(), sink).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    c.say("EHLO x.test").await;
    c.say("MAIL FROM:<>").await;
    c.say("RCPT TO:<b@bounce.test>").await;
    c.say("DATA").await;
    assert!(c.say("x\r\n.").await.starts_with("451 4.3.0"));
}

#[tokio::test]
async fn connection_and_command_limits() {
    let sink = Arc::new(Memory::default());
    let opts = InboundOptions {
        max_connections: 1,
        max_commands: 3,
        ..options()
    };
    let (addr, _stop) = start(opts, sink).await;
    let mut first = Client::connect(addr).await;
    assert!(first.reply().await.starts_with("220"));
    let mut second = Client::connect(addr).await;
    assert!(second.reply().await.starts_with("421 4.3.2"));
    assert!(first.say("NOOP").await.starts_with("250"));
    assert!(first.say("NOOP").await.starts_with("250"));
    assert!(first.say("NOOP").await.starts_with("250"));
    assert!(first.say("NOOP").await.starts_with("421 4.7.0"));
}

#[tokio::test]
async fn idle_clients_time_out_and_shutdown_says_421() {
    let sink = Arc::new(Memory::default());
    let opts = InboundOptions {
        command_timeout: Duration::from_millis(200),
        ..options()
    };
    let (addr, stop) = start(opts, sink.clone()).await;
    let mut idle = Client::connect(addr).await;
    idle.reply().await;
    assert!(idle.reply().await.starts_with("421 4.4.2"));

    let (addr, stop2) = start(options(), sink).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    stop2.send(true).unwrap();
    assert!(c.reply().await.starts_with("421 4.3.2"));
    drop(stop);
}

#[tokio::test]
async fn starttls_when_a_certificate_is_configured() {
    let cert = rcgen::generate_simple_self_signed(vec!["mx.bounce.test".into()]).unwrap();
    let config = tls_config(
        cert.cert.pem().as_bytes(),
        cert.signing_key.serialize_pem().as_bytes(),
    )
    .expect("server TLS config");
    let sink = Arc::new(Memory::default());
    let opts = InboundOptions {
        tls: Some(config),
        ..options()
    };
    let (addr, _stop) = start(opts, sink.clone()).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tcp = BufReader::new(tcp);
    let mut line = String::new();
    tcp.read_line(&mut line).await.unwrap();
    tcp.get_mut().write_all(b"EHLO c.test\r\n").await.unwrap();
    let mut ehlo = String::new();
    loop {
        let mut l = String::new();
        tcp.read_line(&mut l).await.unwrap();
        ehlo.push_str(&l);
        if l.as_bytes()[3] == b' ' {
            break;
        }
    }
    assert!(
        ehlo.contains("250-STARTTLS") || ehlo.contains("250 STARTTLS"),
        "{ehlo}"
    );
    tcp.get_mut().write_all(b"STARTTLS\r\n").await.unwrap();
    line.clear();
    tcp.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("220 2.0.0"), "{line}");
    let client = crate::TlsOptions {
        insecure: true,
        extra_ca_pem: None,
    }
    .client_config()
    .unwrap();
    let tls = tokio_rustls::TlsConnector::from(client)
        .connect(
            rustls::pki_types::ServerName::try_from("mx.bounce.test").unwrap(),
            tcp.into_inner(),
        )
        .await
        .expect("TLS handshake");
    let (r, w) = tokio::io::split(tls);
    let mut r = BufReader::new(r);
    let mut w = w;
    for (cmd, want) in [
        ("EHLO c.test", "250"),
        ("MAIL FROM:<>", "250 2.1.0"),
        ("RCPT TO:<x@bounce.test>", "250 2.1.5"),
        ("DATA", "354"),
        ("Subject: over TLS\r\n\r\nhi\r\n.", "250 2.0.0"),
    ] {
        w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
        let mut got;
        loop {
            got = String::new();
            r.read_line(&mut got).await.unwrap();
            if got.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
        assert!(got.starts_with(want), "{cmd}: {got}");
    }
    let kept = sink.kept.lock().unwrap();
    assert!(String::from_utf8_lossy(&kept[0].1).contains("with ESMTPS"));
}

/// Reads replies until the server closes the connection.
async fn rest_of_session(c: &mut Client) -> String {
    let mut all = String::new();
    loop {
        let r = c.reply().await;
        if r.is_empty() {
            return all;
        }
        all.push_str(&r);
    }
}

#[tokio::test]
async fn smuggling_with_cr_lf_dot_lf_stores_nothing_and_closes() {
    let sink = Arc::new(Memory::default());
    let (addr, _stop) = start(options(), sink.clone()).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    c.say("EHLO mta.example").await;
    // One write, as a pipelining attacker sends it: the first message ends
    // in <CR><LF>.<LF>, then a second transaction hides behind it.
    let attack = "MAIL FROM:<a@mta.example>\r\nRCPT TO:<x@bounce.test>\r\nDATA\r\n\
        Subject: first\r\n\r\nhello\r\n.\n\
        MAIL FROM:<ceo@bank.example>\r\nRCPT TO:<y@bounce.test>\r\nDATA\r\n\
        Subject: smuggled\r\n\r\npay now\r\n.\r\nQUIT\r\n";
    c.writer.write_all(attack.as_bytes()).await.unwrap();
    let replies = rest_of_session(&mut c).await;
    let codes: Vec<&str> = replies.lines().map(|l| &l[..l.len().min(9)]).collect();
    assert_eq!(
        codes,
        ["250 2.1.0", "250 2.1.5", "354 end d", "554 5.6.0"],
        "{replies}"
    );
    assert!(sink.kept.lock().unwrap().is_empty(), "nothing stored");
}

#[tokio::test]
async fn a_bare_lf_inside_data_refuses_the_message_and_the_session_goes_on() {
    let sink = Arc::new(Memory::default());
    let (addr, _stop) = start(options(), sink.clone()).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    c.say("EHLO mta.example").await;
    c.say("MAIL FROM:<>").await;
    c.say("RCPT TO:<x@bounce.test>").await;
    c.say("DATA").await;
    // A lax reader would take <CR>.<CR> for the end; here the whole text
    // up to <CR><LF>.<CR><LF> is one refused message.
    let reply = c
        .say("Subject: a\r\n\r\nline\nmore\r\nx\r.\r\nRCPT TO:<y@bounce.test>\r\n.")
        .await;
    assert!(reply.starts_with("554 5.6.0"), "{reply}");
    assert!(c.say("NOOP").await.starts_with("250 2.0.0"));
    // An honest message after it goes through.
    c.say("MAIL FROM:<>").await;
    c.say("RCPT TO:<x@bounce.test>").await;
    c.say("DATA").await;
    let reply = c.say("Subject: ok\r\n\r\nfine\r\n.").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let kept = sink.kept.lock().unwrap();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].1.ends_with(b"Subject: ok\r\n\r\nfine\r\n"));
}

#[tokio::test]
async fn a_bare_lf_command_is_refused() {
    let sink = Arc::new(Memory::default());
    let (addr, _stop) = start(options(), sink.clone()).await;
    let mut c = Client::connect(addr).await;
    c.reply().await;
    c.writer.write_all(b"EHLO mta.example\n").await.unwrap();
    let reply = c.reply().await;
    assert!(reply.starts_with("500 5.5.2"), "{reply}");
    assert!(c.say("EHLO mta.example").await.starts_with("250"));
}

/// Connects from `local` (any 127.0.0.0/8 address: Linux routes them all
/// to the loopback interface).
async fn connect_from(local: &str, addr: SocketAddr) -> Client {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind(format!("{local}:0").parse().unwrap())
        .expect("bind a loopback source address");
    let (r, w) = socket.connect(addr).await.expect("connect").into_split();
    Client {
        reader: BufReader::new(r),
        writer: w,
    }
}

#[tokio::test]
async fn one_address_holding_idle_connections_cannot_lock_others_out() {
    let sink = Arc::new(Memory::default());
    // The defaults: 100 connections in all, 10 per client address.
    let opts = options();
    assert_eq!(opts.max_connections_per_client, 10);
    let (addr, _stop) = start(opts, sink.clone()).await;
    let mut idle = Vec::new();
    let (mut greeted, mut refused) = (0, 0);
    for _ in 0..100 {
        let mut c = Client::connect(addr).await;
        let first = c.reply().await;
        if first.starts_with("220 ") {
            greeted += 1;
        } else {
            assert!(first.starts_with("421 4.7.0"), "{first}");
            // Refused connections are closed by the server.
            assert_eq!(c.reply().await, "");
            refused += 1;
        }
        idle.push(c);
    }
    assert_eq!((greeted, refused), (10, 90));

    // Another client still gets a session and delivers.
    let mut other = connect_from("127.0.0.2", addr).await;
    assert!(other.reply().await.starts_with("220 "));
    other.say("EHLO mta.example").await;
    assert!(other.say("MAIL FROM:<>").await.starts_with("250"));
    assert!(
        other
            .say("RCPT TO:<b@bounce.test>")
            .await
            .starts_with("250")
    );
    assert!(other.say("DATA").await.starts_with("354"));
    let reply = other.say("Subject: bounce\r\n\r\nx\r\n.").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    assert_eq!(sink.kept.lock().unwrap().len(), 1);
    assert_eq!(
        sink.kept.lock().unwrap()[0].0.peer.ip().to_string(),
        "127.0.0.2"
    );

    // Once the hoarder lets go, its address is served again.
    drop(idle);
    let mut back = None;
    for _ in 0..100 {
        let mut c = Client::connect(addr).await;
        if c.reply().await.starts_with("220 ") {
            back = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back.is_some(), "the per-address count was released");
}

#[tokio::test]
async fn a_client_silent_after_the_greeting_is_dropped_early() {
    let sink = Arc::new(Memory::default());
    let opts = InboundOptions {
        greeting_timeout: Duration::from_millis(200),
        ..options()
    };
    let (addr, _stop) = start(opts, sink).await;
    let mut idle = Client::connect(addr).await;
    idle.reply().await;
    let started = std::time::Instant::now();
    assert!(idle.reply().await.starts_with("421 4.4.2"));
    assert!(started.elapsed() < Duration::from_secs(5));
    // After the first command the longer command timeout applies.
    let mut talker = Client::connect(addr).await;
    talker.reply().await;
    assert!(talker.say("EHLO x.test").await.starts_with("250"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(talker.say("NOOP").await.starts_with("250"));
}

//! A small scripted SMTP server on 127.0.0.1:0 for the client tests. It
//! logs every command line it receives, keeps every message (un-stuffed),
//! and misbehaves on request: refuses EHLO, drops the connection at a given
//! command, holds replies back until DATA (strict PIPELINING), closes idle
//! sessions, offers STARTTLS or speaks implicit TLS.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// How the server behaves.
#[derive(Clone)]
pub struct Behaviour {
    pub greeting: String,
    /// Never greet (for timeout tests).
    pub silent: bool,
    /// Extension lines offered in EHLO (STARTTLS and AUTH are added as set below).
    pub extensions: Vec<&'static str>,
    /// Answer EHLO with 502 (an RFC 821 server), so the client must HELO.
    pub refuse_ehlo: bool,
    /// Offer STARTTLS with this acceptor.
    pub starttls: Option<TlsAcceptor>,
    /// Speak TLS from the first byte with this acceptor.
    pub implicit_tls: Option<TlsAcceptor>,
    /// Require AUTH with this user and password; offered mechanisms.
    pub auth: Option<(String, String)>,
    pub auth_mechanisms: &'static str,
    /// Only offer AUTH once TLS is on (as Postfix usually does).
    pub auth_needs_tls: bool,
    /// Reply to RCPT TO for an address.
    pub rcpt: fn(&str) -> String,
    /// Reply after the final dot.
    pub data_end: String,
    /// Close the connection (without a reply) when this verb arrives:
    /// "MAIL", "RCPT", "DATA", or "DATAEND" (after the content).
    pub drop_at: Option<&'static str>,
    /// Close silently after this many transactions on a connection.
    pub close_after: Option<usize>,
    /// Answer MAIL with 421 on a connection that has already done this many
    /// transactions (an idle-timed-out session).
    pub mail_421_after: Option<usize>,
    /// Hold MAIL and RCPT replies until DATA: a client that waits for each
    /// reply never gets one.
    pub strict_pipelining: bool,
}

fn ok_rcpt(_: &str) -> String {
    "250 2.1.5 Ok".into()
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            greeting: "220 mx.test ESMTP scripted".into(),
            silent: false,
            extensions: vec!["SIZE 10240000", "8BITMIME", "ENHANCEDSTATUSCODES"],
            refuse_ehlo: false,
            starttls: None,
            implicit_tls: None,
            auth: None,
            auth_mechanisms: "PLAIN LOGIN",
            auth_needs_tls: false,
            rcpt: ok_rcpt,
            data_end: "250 2.0.0 Ok: queued as ABC123".into(),
            drop_at: None,
            close_after: None,
            mail_421_after: None,
            strict_pipelining: false,
        }
    }
}

/// A running server and what it has seen.
pub struct Server {
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
    pub messages: Arc<Mutex<Vec<Vec<u8>>>>,
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every command line received, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Lines starting with `verb`.
    pub fn commands(&self, verb: &str) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|l| l.to_ascii_uppercase().starts_with(verb))
            .collect()
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.messages.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct Shared {
    b: Arc<Behaviour>,
    log: Arc<Mutex<Vec<String>>>,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
}

pub async fn start(b: Behaviour) -> Server {
    start_on("127.0.0.1:0", b).await
}

pub async fn start_on(addr: &str, b: Behaviour) -> Server {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = Shared {
        b: Arc::new(b),
        log: Arc::default(),
        messages: Arc::default(),
    };
    let connections = Arc::new(AtomicUsize::new(0));
    let server = Server {
        addr,
        log: shared.log.clone(),
        messages: shared.messages.clone(),
        connections: connections.clone(),
    };
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            connections.fetch_add(1, Ordering::SeqCst);
            let shared = shared.clone();
            tokio::spawn(handle(tcp, shared));
        }
    });
    server
}

async fn handle(tcp: TcpStream, s: Shared) {
    if let Some(acceptor) = s.b.implicit_tls.clone() {
        if let Ok(tls) = acceptor.accept(tcp).await {
            let _ = run(BufReader::new(tls), &s, true, true).await;
        }
        return;
    }
    if let Flow::StartTls(reader) = run(BufReader::new(tcp), &s, false, true).await {
        assert!(reader.buffer().is_empty(), "client pipelined past STARTTLS");
        let tcp = reader.into_inner();
        let Some(acceptor) = s.b.starttls.clone() else {
            return;
        };
        if let Ok(tls) = acceptor.accept(tcp).await {
            let _ = run(BufReader::new(tls), &s, true, false).await;
        }
    }
}

enum Flow<S> {
    StartTls(S),
    Done,
}

async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut r: BufReader<S>,
    s: &Shared,
    tls: bool,
    greet: bool,
) -> Flow<BufReader<S>> {
    let b = &s.b;
    if greet {
        if b.silent {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
        if write(&mut r, &format!("{}\r\n", b.greeting)).await.is_err() {
            return Flow::Done;
        }
    }
    let mut transactions = 0usize;
    let mut rcpt_ok = 0usize;
    let mut pending = String::new();
    loop {
        let mut line = String::new();
        match r.read_line(&mut line).await {
            Ok(0) | Err(_) => return Flow::Done,
            Ok(_) => {}
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        s.log.lock().unwrap().push(line.clone());
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if b.drop_at == Some(verb.as_str()) {
            return Flow::Done;
        }
        let reply: String = match verb.as_str() {
            "EHLO" if b.refuse_ehlo => "502 5.5.2 Error: command not recognized\r\n".into(),
            "EHLO" => {
                let mut lines = vec!["mx.test".to_owned()];
                lines.extend(b.extensions.iter().map(|e| e.to_string()));
                if b.starttls.is_some() && !tls {
                    lines.push("STARTTLS".into());
                }
                if b.auth.is_some() && (tls || !b.auth_needs_tls) {
                    lines.push(format!("AUTH {}", b.auth_mechanisms));
                }
                let n = lines.len();
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}\r\n", if i + 1 == n { ' ' } else { '-' }))
                    .collect()
            }
            "HELO" => "250 mx.test\r\n".into(),
            "STARTTLS" => {
                if write(&mut r, "220 2.0.0 Ready to start TLS\r\n")
                    .await
                    .is_err()
                {
                    return Flow::Done;
                }
                return Flow::StartTls(r);
            }
            "AUTH" => {
                let mut words = line.split_whitespace().skip(1);
                let mech = words.next().unwrap_or("").to_ascii_uppercase();
                let (user, pass) = match mech.as_str() {
                    "PLAIN" => {
                        let token = words.next().unwrap_or("");
                        let raw = BASE64.decode(token).unwrap_or_default();
                        let parts: Vec<&[u8]> = raw.split(|&c| c == 0).collect();
                        let get = |i: usize| {
                            String::from_utf8_lossy(parts.get(i).copied().unwrap_or(b""))
                                .into_owned()
                        };
                        (get(1), get(2))
                    }
                    "LOGIN" => {
                        let mut got = Vec::new();
                        for prompt in ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"] {
                            if write(&mut r, &format!("334 {prompt}\r\n")).await.is_err() {
                                return Flow::Done;
                            }
                            let mut l = String::new();
                            if r.read_line(&mut l).await.unwrap_or(0) == 0 {
                                return Flow::Done;
                            }
                            s.log.lock().unwrap().push(l.trim_end().to_owned());
                            let raw = BASE64.decode(l.trim_end()).unwrap_or_default();
                            got.push(String::from_utf8_lossy(&raw).into_owned());
                        }
                        (got[0].clone(), got[1].clone())
                    }
                    _ => (String::new(), String::new()),
                };
                match &b.auth {
                    Some((u, p)) if *u == user && *p == pass => {
                        "235 2.7.0 Authentication successful\r\n".into()
                    }
                    _ => "535 5.7.8 Error: authentication failed\r\n".into(),
                }
            }
            "MAIL" => {
                if b.mail_421_after.is_some_and(|n| transactions >= n) {
                    let _ = write(&mut r, "421 4.4.2 mx.test Error: timeout exceeded\r\n").await;
                    return Flow::Done;
                }
                rcpt_ok = 0;
                "250 2.1.0 Ok\r\n".into()
            }
            "RCPT" => {
                let addr = line
                    .split('<')
                    .nth(1)
                    .and_then(|x| x.split('>').next())
                    .unwrap_or("");
                let reply = (b.rcpt)(addr);
                if reply.starts_with('2') {
                    rcpt_ok += 1;
                }
                format!("{reply}\r\n")
            }
            "DATA" => {
                if rcpt_ok == 0 {
                    "554 5.5.1 Error: no valid recipients\r\n".into()
                } else {
                    pending.push_str("354 End data with <CR><LF>.<CR><LF>\r\n");
                    if write(&mut r, &std::mem::take(&mut pending)).await.is_err() {
                        return Flow::Done;
                    }
                    let mut content = Vec::new();
                    loop {
                        let mut l = Vec::new();
                        match r.read_until(b'\n', &mut l).await {
                            Ok(0) | Err(_) => return Flow::Done,
                            Ok(_) => {}
                        }
                        if l == b".\r\n" {
                            break;
                        }
                        assert!(l.ends_with(b"\r\n"), "content line without CRLF: {l:?}");
                        let l = if l.starts_with(b".") { &l[1..] } else { &l[..] };
                        content.extend_from_slice(l);
                    }
                    s.messages.lock().unwrap().push(content);
                    if b.drop_at == Some("DATAEND") {
                        return Flow::Done;
                    }
                    transactions += 1;
                    rcpt_ok = 0;
                    if write(&mut r, &format!("{}\r\n", b.data_end)).await.is_err() {
                        return Flow::Done;
                    }
                    if b.close_after.is_some_and(|n| transactions >= n) {
                        return Flow::Done;
                    }
                    continue;
                }
            }
            "RSET" => {
                rcpt_ok = 0;
                "250 2.0.0 Ok\r\n".into()
            }
            "NOOP" => "250 2.0.0 Ok\r\n".into(),
            "QUIT" => {
                let _ = write(&mut r, "221 2.0.0 Bye\r\n").await;
                return Flow::Done;
            }
            _ => "502 5.5.2 Error: command not recognized\r\n".into(),
        };
        if b.strict_pipelining && matches!(verb.as_str(), "MAIL" | "RCPT") {
            pending.push_str(&reply);
            continue;
        }
        pending.push_str(&reply);
        if write(&mut r, &std::mem::take(&mut pending)).await.is_err() {
            return Flow::Done;
        }
    }
}

async fn write<S: AsyncRead + AsyncWrite + Unpin>(
    r: &mut BufReader<S>,
    s: &str,
) -> std::io::Result<()> {
    let w = r.get_mut();
    w.write_all(s.as_bytes()).await?;
    w.flush().await
}

/// Reads everything a client sends until it closes (for raw tests).
pub async fn drain<S: AsyncRead + Unpin>(mut s: S) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    out
}

/// A test CA and a certificate for "localhost" it signed, as a server-side
/// acceptor plus the CA's PEM (to trust it as an extra CA).
pub fn tls_acceptor() -> (TlsAcceptor, Vec<u8>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "mailtrail test CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    (
        TlsAcceptor::from(Arc::new(config)),
        ca_cert.pem().into_bytes(),
    )
}

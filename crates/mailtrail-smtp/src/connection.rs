//! One client SMTP session (RFC 5321): connect, greeting, EHLO, STARTTLS,
//! AUTH, then any number of mail transactions, then QUIT.
//!
//! A [`Connection`] is always between transactions when the caller holds it:
//! [`Connection::send`] runs a whole transaction and leaves the session ready
//! for the next one (sending RSET after a refused one), or marks it broken.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::command::{self, MessageTraits};
use crate::data;
use crate::error::{Error, Stage};
use crate::extensions::{AuthMechanism, Extensions};
use crate::reply::{ParseError, Reply};
use crate::tls;
use crate::transport::Envelope;

/// How long to wait at each step. The defaults are RFC 5321 section
/// 4.5.3.2's minimums for a client; servers are allowed to be that slow
/// (e.g. while running content filters at end of data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection (and the implicit-TLS handshake). Not set
    /// by the RFC; 30 s is what MTAs commonly use.
    pub connect: Duration,
    /// The 220 greeting: 5 minutes (section 4.5.3.2.1).
    pub greeting: Duration,
    /// EHLO, STARTTLS, AUTH, RSET, QUIT and their replies: 5 minutes, the
    /// same as MAIL.
    pub command: Duration,
    /// MAIL FROM's reply: 5 minutes (section 4.5.3.2.2).
    pub mail: Duration,
    /// Each RCPT TO's reply: 5 minutes (section 4.5.3.2.3).
    pub rcpt: Duration,
    /// DATA's 354: 2 minutes (section 4.5.3.2.4).
    pub data_init: Duration,
    /// Each write of message content: 3 minutes (section 4.5.3.2.5).
    pub data_block: Duration,
    /// The reply after the final dot: 10 minutes (section 4.5.3.2.6).
    pub data_end: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            greeting: Duration::from_secs(300),
            command: Duration::from_secs(300),
            mail: Duration::from_secs(300),
            rcpt: Duration::from_secs(300),
            data_init: Duration::from_secs(120),
            data_block: Duration::from_secs(180),
            data_end: Duration::from_secs(600),
        }
    }
}

impl Timeouts {
    /// Every timeout set to `d`: handy for tests and for callers that want
    /// one knob.
    pub fn uniform(d: Duration) -> Self {
        Self {
            connect: d,
            greeting: d,
            command: d,
            mail: d,
            rcpt: d,
            data_init: d,
            data_block: d,
            data_end: d,
        }
    }

    /// The longest one delivery attempt can take before a timeout ends it:
    /// a new connection (TCP, then the STARTTLS handshake under the same
    /// limit), the greeting, EHLO, STARTTLS, EHLO again and AUTH, then MAIL,
    /// RCPT, DATA, one stalled content block and the reply after the final
    /// dot (RFC 5321 section 4.5.3.2). A job's lease must outlast it: a
    /// shorter lease lets another node send a copy that a slow but working
    /// server is still accepting. With the defaults this is 51 minutes.
    pub fn longest_attempt(&self) -> Duration {
        self.connect * 2
            + self.greeting
            + self.command * 4
            + self.mail
            + self.rcpt
            + self.data_init
            + self.data_block
            + self.data_end
    }
}

/// Whether and how the session is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// Plain text, even if the server offers STARTTLS.
    None,
    /// STARTTLS when the server offers it, plain text otherwise (RFC 7435).
    Opportunistic,
    /// STARTTLS is required: no mail is sent if it is missing or fails
    /// (RFC 3207 section 4).
    StartTls,
    /// TLS from the first byte (RFC 8314 section 3.3, "smtps", port 465).
    Implicit,
}

/// A user name and password for AUTH (RFC 4954). The password never
/// appears in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user (authentication identity).
    pub user: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Everything needed to open a session with one server.
#[derive(Clone)]
pub struct Session {
    /// The server's host name (or IP literal): used to connect when no
    /// address is given, for SNI and certificate checks, and in `remote`.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// Plain, opportunistic STARTTLS, required STARTTLS or implicit TLS.
    pub security: Security,
    /// Our name in EHLO/HELO (RFC 5321 section 4.1.1.1: the client's FQDN).
    pub helo_name: String,
    /// Timeouts for every step.
    pub timeouts: Timeouts,
    /// The TLS configuration (see [`crate::TlsOptions::client_config`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// The name sent as SNI and checked in the certificate, when it is not
    /// `host` (e.g. connecting to an IP address).
    pub sni: Option<String>,
    /// AUTH credentials, if the server wants them.
    pub credentials: Option<Credentials>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("helo_name", &self.helo_name)
            .field("sni", &self.sni)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// The result of one transaction that got a reply from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The final reply after the content was 2xx.
    Accepted(Reply),
    /// The server said no (4xx, 5xx, or a reply that makes no sense there)
    /// at this stage.
    Rejected {
        /// The command that was refused.
        stage: Stage,
        /// The server's reply.
        reply: Reply,
    },
}

/// The socket, plain or inside TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// Only during the STARTTLS switch, or after it failed.
    Gone,
}

fn gone() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotConnected, "connection is gone")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Content is written in blocks this big, each under the data-block timeout.
const DATA_BLOCK: usize = 64 * 1024;

/// A replies buffer larger than this means the server is not speaking SMTP.
const MAX_BUFFER: usize = 1 << 20;

/// An open, greeted (and, as configured, encrypted and authenticated) SMTP
/// session.
pub struct Connection {
    stream: Stream,
    buf: Vec<u8>,
    ext: Extensions,
    remote: String,
    timeouts: Timeouts,
    tls: bool,
    broken: bool,
    transactions: u64,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("remote", &self.remote)
            .field("tls", &self.tls)
            .field("broken", &self.broken)
            .field("extensions", &self.ext)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a session: TCP (to `addr` if given, else to `session.host`),
    /// the greeting, EHLO (HELO if EHLO is refused, RFC 5321 section
    /// 4.1.4), STARTTLS and a second EHLO (RFC 3207 section 4.2), AUTH.
    pub async fn open(session: &Session, addr: Option<IpAddr>) -> Result<Self, Error> {
        let t = session.timeouts;
        let host = session.host.trim_start_matches('[').trim_end_matches(']');
        let connect = async {
            match addr {
                Some(ip) => TcpStream::connect(SocketAddr::new(ip, session.port)).await,
                None => TcpStream::connect((host, session.port)).await,
            }
        };
        let tcp = tokio::time::timeout(t.connect, connect)
            .await
            .map_err(|_| Error::Timeout {
                stage: Stage::Connect,
                timeout: t.connect,
            })?
            .map_err(|source| Error::Io {
                stage: Stage::Connect,
                source,
            })?;
        // Commands are small and we wait for their replies: no Nagle delay.
        let _ = tcp.set_nodelay(true);
        let remote = match tcp.peer_addr() {
            Ok(peer) if peer.ip().to_string() == host => format!("[{}]:{}", peer.ip(), peer.port()),
            Ok(peer) => format!("{host}[{}]:{}", peer.ip(), peer.port()),
            Err(_) => format!("{host}:{}", session.port),
        };
        let mut conn = Connection {
            stream: Stream::Plain(tcp),
            buf: Vec::with_capacity(1024),
            ext: Extensions::default(),
            remote,
            timeouts: t,
            tls: false,
            broken: false,
            transactions: 0,
        };
        if session.security == Security::Implicit {
            conn.handshake(session).await?;
        }
        let greeting = conn.read_reply(Stage::Greeting, t.greeting).await?;
        if greeting.code != 220 {
            return Err(Error::Refused {
                stage: Stage::Greeting,
                reply: greeting,
            });
        }
        conn.ehlo(&session.helo_name).await?;
        let want_tls = match session.security {
            Security::None | Security::Implicit => false,
            Security::Opportunistic => conn.ext.starttls,
            Security::StartTls if !conn.ext.starttls => return Err(Error::StartTlsUnavailable),
            Security::StartTls => true,
        };
        if want_tls {
            conn.write(Stage::StartTls, b"STARTTLS\r\n").await?;
            let reply = conn.read_reply(Stage::StartTls, t.command).await?;
            if reply.code == 220 {
                // RFC 3207 section 5: anything the server sent after its 220
                // and before the handshake was not protected; someone in the
                // middle may have injected it (CVE-2011-0411). Refuse.
                if !conn.buf.is_empty() {
                    return Err(Error::Protocol {
                        stage: Stage::StartTls,
                        reason: "data after the STARTTLS reply, before the handshake",
                    });
                }
                conn.handshake(session).await?;
                // Section 4.2: forget everything learnt before TLS.
                conn.ehlo(&session.helo_name).await?;
            } else if session.security == Security::StartTls || reply.code == 421 {
                return Err(Error::Refused {
                    stage: Stage::StartTls,
                    reply,
                });
            } else {
                tracing::debug!(remote = %conn.remote, %reply, "STARTTLS refused, continuing in plain text");
            }
        }
        if let Some(creds) = &session.credentials {
            conn.auth(creds).await?;
        }
        Ok(conn)
    }

    /// What the server offered in its last EHLO reply.
    pub fn extensions(&self) -> &Extensions {
        &self.ext
    }

    /// `host[ip]:port` of the server, for logs and delivery records.
    pub fn remote(&self) -> &str {
        &self.remote
    }

    /// Whether the session is encrypted.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Whether another transaction may be run on this session: false after
    /// an I/O error, a timeout, a 421 (RFC 5321 section 3.8: the server is
    /// closing) or a failed RSET.
    pub fn is_reusable(&self) -> bool {
        !self.broken
    }

    /// How many transactions were completed on this session (accepted or
    /// refused).
    pub fn transactions(&self) -> u64 {
        self.transactions
    }

    /// Runs one mail transaction for one recipient: MAIL FROM, RCPT TO, DATA,
    /// the content and the final reply (RFC 5321 section 3.3). With
    /// PIPELINING (RFC 2920) the three commands go out in one write.
    ///
    /// `Ok` means the server answered; `Err` means the session failed and
    /// [`Error::stage`] says where: at [`Stage::DataEnd`] the server may have
    /// taken the message without us hearing so.
    pub async fn send(&mut self, envelope: &Envelope, message: &[u8]) -> Result<Delivery, Error> {
        if self.broken {
            return Err(Error::Closed { stage: Stage::Mail });
        }
        let result = self.transaction(envelope, message).await;
        match &result {
            // Refused before anything was written: the session is fine.
            Err(Error::InvalidInput(_)) => {}
            Err(_) => self.broken = true,
            Ok(Delivery::Accepted(_)) => self.transactions += 1,
            Ok(Delivery::Rejected { stage, .. }) => {
                self.transactions += 1;
                // After the final reply the transaction is over either way
                // (section 4.1.1.4); before it, RSET clears the half-built
                // one (section 4.1.1.5).
                if *stage != Stage::DataEnd && !self.broken && self.rset().await.is_err() {
                    self.broken = true;
                }
            }
        }
        result
    }

    async fn transaction(
        &mut self,
        envelope: &Envelope,
        message: &[u8],
    ) -> Result<Delivery, Error> {
        let t = self.timeouts;
        let (size, eight_bit) = data::measure(message);
        // RFC 1870 section 6.1: do not send what the server already said it
        // will refuse.
        if let Some(limit) = self.ext.size
            && limit > 0
            && size as u64 > limit
        {
            return Ok(Delivery::Rejected {
                stage: Stage::Mail,
                reply: Reply::synthetic(
                    552,
                    "5.3.4",
                    &format!("message size {size} exceeds the server's limit of {limit}"),
                ),
            });
        }
        let recipient = envelope.recipient.as_str();
        let utf8 = !envelope.return_path.is_ascii() || !recipient.is_ascii();
        let traits = MessageTraits { size, eight_bit };
        let mail = command::mail_from(
            &envelope.return_path,
            envelope.envid.as_deref(),
            &self.ext,
            traits,
            utf8,
        )?;
        let rcpt = command::rcpt_to(recipient, &self.ext)?;

        let (mail_reply, rcpt_reply, data_reply) = if self.ext.pipelining {
            let mut batch = Vec::with_capacity(mail.len() + rcpt.len() + 6);
            batch.extend_from_slice(mail.as_bytes());
            batch.extend_from_slice(rcpt.as_bytes());
            batch.extend_from_slice(b"DATA\r\n");
            self.write(Stage::Mail, &batch).await?;
            let m = self.read_reply(Stage::Mail, t.mail).await?;
            let r = self.read_reply(Stage::Rcpt, t.rcpt).await?;
            let d = self.read_reply(Stage::Data, t.data_init).await?;
            (m, r, d)
        } else {
            self.write(Stage::Mail, mail.as_bytes()).await?;
            let m = self.read_reply(Stage::Mail, t.mail).await?;
            if !m.is_positive() {
                return Ok(Delivery::Rejected {
                    stage: Stage::Mail,
                    reply: m,
                });
            }
            self.write(Stage::Rcpt, rcpt.as_bytes()).await?;
            let r = self.read_reply(Stage::Rcpt, t.rcpt).await?;
            if !r.is_positive() {
                return Ok(Delivery::Rejected {
                    stage: Stage::Rcpt,
                    reply: r,
                });
            }
            self.write(Stage::Data, b"DATA\r\n").await?;
            let d = self.read_reply(Stage::Data, t.data_init).await?;
            (m, r, d)
        };

        let refusal = if !mail_reply.is_positive() {
            Some((Stage::Mail, mail_reply))
        } else if !rcpt_reply.is_positive() {
            Some((Stage::Rcpt, rcpt_reply))
        } else if data_reply.code != 354 {
            Some((Stage::Data, data_reply.clone()))
        } else {
            None
        };
        if let Some((stage, reply)) = refusal {
            if data_reply.code == 354 {
                // RFC 2920 section 3.1: a server that answers DATA with 354
                // although no recipient was accepted must be sent an empty
                // message, which it then refuses.
                self.write(Stage::DataEnd, b".\r\n").await?;
                let _ = self.read_reply(Stage::DataEnd, t.data_end).await?;
            }
            return Ok(Delivery::Rejected { stage, reply });
        }

        let content = data::dot_stuff(message);
        for block in content.chunks(DATA_BLOCK) {
            self.write_with(Stage::DataEnd, block, t.data_block).await?;
        }
        let reply = self.read_reply(Stage::DataEnd, t.data_end).await?;
        if reply.is_positive() {
            Ok(Delivery::Accepted(reply))
        } else {
            Ok(Delivery::Rejected {
                stage: Stage::DataEnd,
                reply,
            })
        }
    }

    /// RSET (RFC 5321 section 4.1.1.5): abandons a half-built transaction.
    pub async fn rset(&mut self) -> Result<(), Error> {
        self.write(Stage::Rset, b"RSET\r\n").await?;
        let reply = self.read_reply(Stage::Rset, self.timeouts.command).await?;
        if reply.is_positive() {
            Ok(())
        } else {
            self.broken = true;
            Err(Error::Refused {
                stage: Stage::Rset,
                reply,
            })
        }
    }

    /// QUIT (RFC 5321 section 4.1.1.10) and close. Errors do not matter at
    /// this point: the mail is already handed over.
    pub async fn quit(mut self) {
        if !self.broken {
            let wait = self.timeouts.command.min(Duration::from_secs(10));
            if self
                .write_with(Stage::Quit, b"QUIT\r\n", wait)
                .await
                .is_ok()
            {
                let _ = self.read_reply(Stage::Quit, wait).await;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.stream.shutdown()).await;
    }

    async fn ehlo(&mut self, helo_name: &str) -> Result<(), Error> {
        if helo_name.bytes().any(|b| b.is_ascii_control() || b == b' ') || helo_name.is_empty() {
            return Err(Error::InvalidInput("EHLO name"));
        }
        let t = self.timeouts.command;
        self.write(Stage::Ehlo, format!("EHLO {helo_name}\r\n").as_bytes())
            .await?;
        let reply = self.read_reply(Stage::Ehlo, t).await?;
        if reply.is_positive() {
            self.ext = Extensions::from_ehlo(&reply);
            return Ok(());
        }
        // RFC 5321 section 4.1.4: an old server answers 500/502 to EHLO;
        // HELO then works, without extensions. A 4xx is not that.
        if !reply.is_permanent() {
            return Err(Error::Refused {
                stage: Stage::Ehlo,
                reply,
            });
        }
        self.write(Stage::Ehlo, format!("HELO {helo_name}\r\n").as_bytes())
            .await?;
        let reply = self.read_reply(Stage::Ehlo, t).await?;
        if !reply.is_positive() {
            return Err(Error::Refused {
                stage: Stage::Ehlo,
                reply,
            });
        }
        self.ext = Extensions::default();
        Ok(())
    }

    async fn handshake(&mut self, session: &Session) -> Result<(), Error> {
        let name = session.sni.as_deref().unwrap_or(&session.host);
        let server_name = tls::server_name(name)?;
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(tcp) => tcp,
            other => {
                self.stream = other;
                return Err(Error::Tls("TLS is already active".into()));
            }
        };
        let connector = TlsConnector::from(session.tls.clone());
        let t = self.timeouts.connect;
        let tls = tokio::time::timeout(t, connector.connect(server_name, tcp))
            .await
            .map_err(|_| Error::Timeout {
                stage: Stage::StartTls,
                timeout: t,
            })?
            .map_err(|e| Error::Tls(e.to_string()))?;
        self.stream = Stream::Tls(Box::new(tls));
        self.tls = true;
        Ok(())
    }

    async fn auth(&mut self, creds: &Credentials) -> Result<(), Error> {
        let t = self.timeouts.command;
        let mechanism = self
            .ext
            .auth
            .first()
            .copied()
            .ok_or(Error::AuthUnavailable)?;
        if !self.tls {
            tracing::warn!(remote = %self.remote, "sending SMTP AUTH credentials without TLS");
        }
        let reply = match mechanism {
            AuthMechanism::Plain => {
                // RFC 4616 section 2: authzid NUL authcid NUL passwd.
                let token = BASE64.encode(format!("\0{}\0{}", creds.user, creds.password));
                self.write(Stage::Auth, format!("AUTH PLAIN {token}\r\n").as_bytes())
                    .await?;
                self.read_reply(Stage::Auth, t).await?
            }
            AuthMechanism::Login => {
                self.write(Stage::Auth, b"AUTH LOGIN\r\n").await?;
                let mut reply = self.read_reply(Stage::Auth, t).await?;
                for secret in [&creds.user, &creds.password] {
                    if reply.code != 334 {
                        break;
                    }
                    let line = format!("{}\r\n", BASE64.encode(secret));
                    self.write(Stage::Auth, line.as_bytes()).await?;
                    reply = self.read_reply(Stage::Auth, t).await?;
                }
                reply
            }
        };
        // RFC 4954 section 6 names 235 for success; some servers (Postfix's
        // smtp-sink among them) say 250, which RFC 5321 section 4.2.1 makes
        // a positive completion as well.
        if reply.is_positive() {
            Ok(())
        } else {
            Err(Error::Refused {
                stage: Stage::Auth,
                reply,
            })
        }
    }

    async fn write(&mut self, stage: Stage, bytes: &[u8]) -> Result<(), Error> {
        self.write_with(stage, bytes, self.timeouts.command).await
    }

    async fn write_with(&mut self, stage: Stage, bytes: &[u8], t: Duration) -> Result<(), Error> {
        let io = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        };
        match tokio::time::timeout(t, io).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => {
                self.broken = true;
                Err(Error::Io { stage, source })
            }
            Err(_) => {
                self.broken = true;
                Err(Error::Timeout { stage, timeout: t })
            }
        }
    }

    /// Reads one whole reply; `t` bounds the whole reply, not each read.
    async fn read_reply(&mut self, stage: Stage, t: Duration) -> Result<Reply, Error> {
        let deadline = Instant::now() + t;
        let mut chunk = [0u8; 4096];
        loop {
            match Reply::parse(&self.buf) {
                Ok((reply, used)) => {
                    self.buf.drain(..used);
                    if reply.code == 421 {
                        self.broken = true;
                    }
                    tracing::trace!(remote = %self.remote, %stage, %reply, "SMTP reply");
                    return Ok(reply);
                }
                Err(ParseError::Invalid(reason)) => {
                    self.broken = true;
                    return Err(Error::Protocol { stage, reason });
                }
                Err(ParseError::Incomplete) => {}
            }
            if self.buf.len() > MAX_BUFFER {
                self.broken = true;
                return Err(Error::Protocol {
                    stage,
                    reason: "reply too large",
                });
            }
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Ok(Ok(n)) => n,
                Ok(Err(source)) => {
                    self.broken = true;
                    return Err(Error::Io { stage, source });
                }
                Err(_) => {
                    self.broken = true;
                    return Err(Error::Timeout { stage, timeout: t });
                }
            };
            if n == 0 {
                self.broken = true;
                return Err(Error::Closed { stage });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default lease of a delivery job is built on this figure.
    #[test]
    fn longest_attempt_sums_every_step() {
        assert_eq!(
            Timeouts::default().longest_attempt(),
            Duration::from_secs(51 * 60)
        );
        assert_eq!(
            Timeouts::uniform(Duration::from_secs(1)).longest_attempt(),
            Duration::from_secs(12)
        );
    }
}

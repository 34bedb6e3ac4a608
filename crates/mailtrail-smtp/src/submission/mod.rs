//! The SMTP submission listener (RFC 6409): where an application points its
//! SMTP settings to send through mailtrail, on port 587 with STARTTLS
//! (RFC 3207) or 465 with implicit TLS (RFC 8314 section 3.3).
//!
//! A client authenticates with `AUTH PLAIN` or `AUTH LOGIN` (RFC 4954)
//! whose password is an API key. Credentials never travel in clear text
//! except on loopback: elsewhere `AUTH` before STARTTLS is refused with
//! `530 5.7.0` (RFC 3207 section 4, RFC 8314 section 3) and not even
//! offered. Every reply carries an RFC 3463 enhanced status code.
//!
//! What a message means (its recipients, its tracking, whether it is
//! acceptable) is the [`Submitter`]'s to decide, through the same rules as
//! the API; this module only speaks the protocol. The message text is read
//! by the inbound listener's [`DataReader`](crate::inbound::DataReader), so
//! only `<CR><LF>.<CR><LF>` ends it and a bare CR or LF refuses it.

mod auth;
mod rate;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use auth::SaslError;

/// One submitted message's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The client's peer address.
    pub peer: SocketAddr,
    /// `MAIL FROM`, `None` for `<>`.
    pub mail_from: Option<String>,
    /// The accepted `RCPT TO` addresses: every recipient, Bcc included.
    pub rcpt_to: Vec<String>,
}

/// A refusal: the whole reply line, code and RFC 3463 enhanced code first
/// (`550 5.1.1 ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

/// Decides what submission accepts; implemented over the store by the
/// server, with the rules of `POST /api/v1/messages`.
#[async_trait]
pub trait Submitter: Send + Sync + 'static {
    /// Who sent: the API key's owner.
    type Account: Send + Sync + 'static;

    /// The account whose API key is `password` (any `user`), `Ok(None)`
    /// for a wrong key; `Err` is a temporary failure (`454 4.7.0`).
    async fn authenticate(
        &self,
        user: &str,
        password: &str,
    ) -> Result<Option<Self::Account>, Refusal>;

    /// A stable name of the account for the rate limit.
    fn rate_key(&self, account: &Self::Account) -> String;

    /// Checks one `RCPT TO` before it is accepted (address syntax, the
    /// suppression list).
    async fn check_recipient(&self, account: &Self::Account, rcpt: &str) -> Result<(), Refusal>;

    /// Validates and stores one message; `Ok` carries the text of the
    /// `250` reply (the queued message's id). Nothing may be stored when it
    /// answers `Err`.
    async fn submit(
        &self,
        account: &Self::Account,
        envelope: &Envelope,
        raw: Vec<u8>,
    ) -> Result<String, Refusal>;
}

/// How the listener behaves.
#[derive(Clone)]
pub struct SubmissionOptions {
    /// Our name, in the greeting and EHLO reply.
    pub hostname: String,
    /// Largest message, in bytes (announced with RFC 1870 SIZE).
    pub max_message_bytes: usize,
    /// Recipients per transaction.
    pub max_recipients: usize,
    /// Connections served at once; more are told `421 4.3.2`.
    pub max_connections: usize,
    /// Messages per account per minute; more get `421 4.7.0`. 0: no limit.
    pub max_messages_per_minute: u32,
    /// Failed AUTH attempts per connection before it is closed.
    pub max_auth_failures: usize,
    /// How long to wait for a command or a chunk of data.
    pub command_timeout: Duration,
    /// Longest a connection may last.
    pub session_timeout: Duration,
    /// The certificate: STARTTLS is offered with it (or, with
    /// `implicit_tls`, every connection starts with TLS).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte (RFC 8314 section 3.3, port 465).
    pub implicit_tls: bool,
}

impl std::fmt::Debug for SubmissionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubmissionOptions")
            .field("hostname", &self.hostname)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .finish_non_exhaustive()
    }
}

impl SubmissionOptions {
    /// Options with the usual limits.
    pub fn new(hostname: impl Into<String>) -> Self {
        Self {
            hostname: hostname.into(),
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 1000,
            max_connections: 100,
            max_messages_per_minute: 600,
            max_auth_failures: 3,
            command_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(1800),
            tls: None,
            implicit_tls: false,
        }
    }
}

/// A bound submission listener, not yet serving.
pub struct Listener<S: Submitter> {
    listener: TcpListener,
    options: Arc<SubmissionOptions>,
    submitter: Arc<S>,
    rate: Arc<rate::RateLimit>,
}

impl<S: Submitter> Listener<S> {
    /// Binds `addr` (port 0 picks a free port). Implicit TLS needs a
    /// certificate.
    pub async fn bind(
        addr: SocketAddr,
        options: SubmissionOptions,
        submitter: Arc<S>,
    ) -> std::io::Result<Self> {
        if options.implicit_tls && options.tls.is_none() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "implicit TLS submission needs a certificate and key",
            ));
        }
        let rate = Arc::new(rate::RateLimit::new(options.max_messages_per_minute));
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
            options: Arc::new(options),
            submitter,
            rate,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` turns true, then lets open sessions end at their
    /// next command.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let slots = Arc::new(tokio::sync::Semaphore::new(
            self.options.max_connections.max(1),
        ));
        let mut sessions = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = stop.wait_for(|s| *s) => break,
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "submission: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            while sessions.try_join_next().is_some() {}
            let slot = slots.clone().try_acquire_owned();
            let options = self.options.clone();
            let submitter = self.submitter.clone();
            let rate = self.rate.clone();
            let stop = stop.clone();
            sessions.spawn(async move {
                match slot {
                    Ok(_slot) => {
                        session::serve(stream, peer, options, submitter, rate, stop).await;
                    }
                    Err(_) => session::refuse(stream, &options).await,
                }
            });
        }
        while sessions.join_next().await.is_some() {}
    }
}

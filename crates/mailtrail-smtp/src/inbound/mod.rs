//! The inbound SMTP listener (RFC 5321 server side): where bounces, delay
//! notices, delivery reports, read receipts and replies sent to mailtrail's
//! bounce and receipt domains arrive.
//!
//! It is never an open relay: a recipient outside the configured domains is
//! refused with `550 5.7.1`. A message is handed to a [`MessageSink`],
//! which must keep it durably, before the listener answers `250`; so once
//! the sending server has been told "accepted", a crash cannot lose it
//! (RFC 5321 section 6.1: accepting a message takes responsibility for it).
//!
//! Every reply carries an RFC 3463 enhanced status code as RFC 2034
//! section 3 asks, except where it excludes them: the greeting and the
//! replies to EHLO/HELO (and the 354 go-ahead, which is not a 2xx/4xx/5xx).

mod command;
pub mod data;
pub(crate) mod session;
mod slots;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use command::{Command, ParseError, parse};
pub use data::{DataFault, DataReader, Progress};

/// What the listener received in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The client's peer address.
    pub peer: SocketAddr,
    /// The EHLO/HELO name the client gave.
    pub helo: String,
    /// `MAIL FROM`, `None` for the null reverse-path of a bounce.
    pub mail_from: Option<String>,
    /// The accepted `RCPT TO` addresses (all within the configured domains).
    pub rcpt_to: Vec<String>,
}

/// Why a sink could not keep a message: the client gets `451 4.3.0` and
/// tries again later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError(pub String);

/// Where accepted messages go. `store` must return only once the message is
/// durable: the `250` is sent after it.
#[async_trait]
pub trait MessageSink: Send + Sync + 'static {
    /// Keeps one message with its envelope.
    async fn store(&self, envelope: &Envelope, raw: Vec<u8>) -> Result<(), SinkError>;
}

/// How the listener behaves.
#[derive(Clone)]
pub struct InboundOptions {
    /// Our name, in the greeting and EHLO reply.
    pub hostname: String,
    /// The domains we accept mail for (lower case); everything else is
    /// relaying and refused.
    pub domains: Vec<String>,
    /// Largest message, in bytes (RFC 1870 SIZE).
    pub max_message_bytes: usize,
    /// Connections served at once; more are told `421 4.3.2` and closed.
    pub max_connections: usize,
    /// Connections served at once for one client address; more are told
    /// `421 4.7.0` and closed, and take none of the `max_connections`
    /// slots. Real MTAs open a few connections per destination (Postfix:
    /// `default_destination_concurrency_limit` = 20 per domain, spread
    /// over its addresses), so one address holding more is hoarding.
    pub max_connections_per_client: usize,
    /// How long a new client has to send its first command (EHLO/HELO):
    /// an idle connection holds a slot, and a real MTA speaks at once.
    pub greeting_timeout: Duration,
    /// Commands per connection before `421 4.7.0` (stops a client that
    /// keeps a connection busy forever).
    pub max_commands: usize,
    /// Recipients per transaction (RFC 5321 section 4.5.3.1.8 asks for at
    /// least 100).
    pub max_recipients: usize,
    /// How long to wait for a command or a chunk of data (RFC 5321 section
    /// 4.5.3.2.7 suggests 5 minutes).
    pub command_timeout: Duration,
    /// Longest a connection may last in total.
    pub session_timeout: Duration,
    /// When set, STARTTLS is offered (RFC 3207).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for InboundOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboundOptions")
            .field("hostname", &self.hostname)
            .field("domains", &self.domains)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_client",
                &self.max_connections_per_client,
            )
            .field("starttls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl InboundOptions {
    /// Options with the usual limits for `hostname` and `domains`.
    pub fn new(hostname: impl Into<String>, domains: Vec<String>) -> Self {
        Self {
            hostname: hostname.into(),
            domains: domains
                .into_iter()
                .map(|d| d.to_ascii_lowercase())
                .collect(),
            max_message_bytes: 25 * 1024 * 1024,
            max_connections: 100,
            max_connections_per_client: 10,
            greeting_timeout: Duration::from_secs(30),
            max_commands: 1000,
            max_recipients: 100,
            command_timeout: Duration::from_secs(300),
            session_timeout: Duration::from_secs(1800),
            tls: None,
        }
    }

    /// Whether `address` is in one of our domains (case-insensitive, RFC
    /// 5321 section 2.4: domains are not case-sensitive).
    pub fn accepts(&self, address: &str) -> bool {
        match address.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() => {
                let domain = domain.trim_end_matches('.');
                self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
            }
            _ => false,
        }
    }
}

/// Builds a STARTTLS server configuration from PEM files.
pub fn tls_config(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, crate::Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| crate::Error::Tls(format!("certificate: {e}")))?;
    if certs.is_empty() {
        return Err(crate::Error::Tls(
            "certificate: no certificate in the PEM".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| crate::Error::Tls(format!("private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| crate::Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| crate::Error::Tls(e.to_string()))?;
    Ok(Arc::new(config))
}

/// A bound listener, not yet serving.
pub struct Listener {
    listener: TcpListener,
    options: Arc<InboundOptions>,
    sink: Arc<dyn MessageSink>,
}

impl Listener {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(
        addr: SocketAddr,
        options: InboundOptions,
        sink: Arc<dyn MessageSink>,
    ) -> std::io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
            options: Arc::new(options),
            sink,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `stop` turns true, then stops accepting and lets the
    /// open sessions finish their current transaction (each ends with a
    /// `421 4.3.2` at its next command).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let slots = slots::Slots::new(
            self.options.max_connections,
            self.options.max_connections_per_client,
        );
        let mut sessions = JoinSet::new();
        loop {
            let accepted = tokio::select! {
                a = self.listener.accept() => a,
                _ = stop.wait_for(|s| *s) => break,
            };
            let (stream, peer) = match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "smtp-in: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            while sessions.try_join_next().is_some() {}
            let slot = slots.take(peer.ip());
            let options = self.options.clone();
            let sink = self.sink.clone();
            let stop = stop.clone();
            sessions.spawn(async move {
                match slot {
                    Ok(_slot) => session::serve(stream, peer, options, sink, stop).await,
                    Err(why) => {
                        tracing::debug!(peer = %peer, refusal = ?why, "smtp-in: connection refused");
                        session::refuse(stream, &options, why).await;
                    }
                }
            });
        }
        while sessions.join_next().await.is_some() {}
    }
}

#[cfg(test)]
mod tests;

//! Relaying through a smarthost (a "relay" in mailtrail's settings): every
//! copy goes to one configured server, which delivers it onwards.
//!
//! Connections are kept open between copies (DESIGN.md section 7: sending
//! reuses connections). `pool_size` bounds the sessions open to the relay
//! at once, not only the idle ones: a copy waits for a session rather than
//! opening one more. Otherwise every burst of sends wider than the pool
//! opened extra sessions and closed them again right after one message
//! (connect, greeting, EHLO, QUIT for a single transaction), which cost the
//! relay and us more than the message itself; a relay also limits
//! concurrent sessions per client (Postfix's `smtpd_client_connection_count_limit`).

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use percent_encoding::percent_decode_str;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::connection::{Connection, Credentials, Delivery, Security, Session, Timeouts};
use crate::error::{Error, Stage};
use crate::tls::TlsOptions;
use crate::transport::{Envelope, Outcome, Transport};

/// A relay given as a URL:
///
/// - `smtp://[user:pass@]host[:port]`: port 25, STARTTLS when offered;
/// - `smtp+starttls://…`: port 587, STARTTLS required (RFC 3207);
/// - `smtps://…`: port 465, implicit TLS (RFC 8314 section 3.3).
///
/// User and password are percent-decoded (RFC 3986 section 2.1), so a
/// password may hold `@` or `:` written as `%40` and `%3A`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmarthostUrl {
    /// How the session is encrypted.
    pub security: Security,
    /// The relay's host name, or an IP literal (IPv6 in brackets).
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// AUTH credentials, if the URL has them.
    pub credentials: Option<Credentials>,
}

impl fmt::Debug for SmarthostUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmarthostUrl")
            .field("security", &self.security)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl fmt::Display for SmarthostUrl {
    /// The URL without the password, safe to log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.security {
            Security::Implicit => "smtps",
            Security::StartTls => "smtp+starttls",
            Security::None | Security::Opportunistic => "smtp",
        };
        write!(f, "{scheme}://")?;
        if let Some(c) = &self.credentials {
            write!(f, "{}:***@", c.user)?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl FromStr for SmarthostUrl {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (scheme, rest) = s.split_once("://").ok_or(Error::Url("missing scheme://"))?;
        let (security, default_port) = match scheme.to_ascii_lowercase().as_str() {
            "smtp" => (Security::Opportunistic, 25),
            "smtp+starttls" => (Security::StartTls, 587),
            "smtps" => (Security::Implicit, 465),
            _ => return Err(Error::Url("scheme must be smtp, smtp+starttls or smtps")),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains(['/', '?', '#']) {
            return Err(Error::Url("a relay URL has no path, query or fragment"));
        }
        // The last '@' ends the user info: the host part cannot hold one.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let (user, password) = u.split_once(':').unwrap_or((u, ""));
                let decode = |v: &str| {
                    percent_decode_str(v)
                        .decode_utf8()
                        .map(|c| c.into_owned())
                        .map_err(|_| Error::Url("user or password is not UTF-8 once decoded"))
                };
                let user = decode(user)?;
                if user.is_empty() {
                    return Err(Error::Url("empty user name"));
                }
                Some(Credentials {
                    user,
                    password: decode(password)?,
                })
            }
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6.split_once(']').ok_or(Error::Url("unclosed [ in host"))?;
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(Error::Url("bad IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or(Error::Url("junk after ]"))?),
            };
            (format!("[{addr}]"), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), Some(p)),
                None => (hostport.to_owned(), None),
            }
        };
        if host.is_empty() {
            return Err(Error::Url("missing host"));
        }
        if !host.starts_with('[')
            && !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
        {
            return Err(Error::Url("bad host name"));
        }
        let port = match port {
            None => default_port,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or(Error::Url("bad port"))?,
        };
        Ok(SmarthostUrl {
            security,
            host: host.to_ascii_lowercase(),
            port,
            credentials,
        })
    }
}

/// Settings of a [`Smarthost`] beside its URL.
#[derive(Clone)]
pub struct SmarthostOptions {
    /// Our name in EHLO.
    pub helo_name: String,
    /// Timeouts for every step.
    pub timeouts: Timeouts,
    /// Accept any certificate: only for tests or a relay you trust on a
    /// private network (the relay receives our password).
    pub tls_insecure: bool,
    /// Extra trusted CA certificates in PEM (a private relay's own CA).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// The name to expect in the relay's certificate, if not its host.
    pub sni: Option<String>,
    /// How many sessions may be open to the relay at once; they stay open
    /// for reuse while idle.
    pub pool_size: usize,
    /// Idle sessions older than this are not reused: servers drop idle
    /// clients (Postfix after 300 s), and a reused dead session costs a
    /// failed round trip.
    pub max_idle: Duration,
}

impl fmt::Debug for SmarthostOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmarthostOptions")
            .field("helo_name", &self.helo_name)
            .field("timeouts", &self.timeouts)
            .field("tls_insecure", &self.tls_insecure)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(Vec::len))
            .field("sni", &self.sni)
            .field("pool_size", &self.pool_size)
            .field("max_idle", &self.max_idle)
            .finish()
    }
}

impl Default for SmarthostOptions {
    fn default() -> Self {
        Self {
            helo_name: "localhost".into(),
            timeouts: Timeouts::default(),
            tls_insecure: false,
            extra_ca_pem: None,
            sni: None,
            pool_size: 4,
            max_idle: Duration::from_secs(30),
        }
    }
}

/// The smarthost transport: each copy goes to one relay, over pooled
/// sessions. Accepted copies are `final_delivery: false` (only the next hop
/// has them).
pub struct Smarthost {
    session: Session,
    url: SmarthostUrl,
    pool: Mutex<Vec<(Connection, Instant)>>,
    pool_size: usize,
    /// One permit per session that may be open; held for the whole send.
    sessions: Semaphore,
    max_idle: Duration,
}

impl fmt::Debug for Smarthost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smarthost")
            .field("url", &self.url.to_string())
            .field("pool_size", &self.pool_size)
            .finish_non_exhaustive()
    }
}

impl Smarthost {
    /// A transport for `url` (see [`SmarthostUrl`]).
    pub fn new(url: SmarthostUrl, config: SmarthostOptions) -> Result<Self, Error> {
        let session = Session {
            host: url.host.clone(),
            port: url.port,
            security: url.security,
            helo_name: config.helo_name,
            timeouts: config.timeouts,
            tls: TlsOptions {
                insecure: config.tls_insecure,
                extra_ca_pem: config.extra_ca_pem,
            }
            .client_config()?,
            sni: config.sni,
            credentials: url.credentials.clone(),
        };
        Ok(Self {
            session,
            url,
            pool: Mutex::new(Vec::new()),
            pool_size: config.pool_size.max(1),
            sessions: Semaphore::new(config.pool_size.max(1)),
            max_idle: config.max_idle,
        })
    }

    /// Parses `url` and builds the transport.
    pub fn from_url(url: &str, config: SmarthostOptions) -> Result<Self, Error> {
        Self::new(url.parse()?, config)
    }

    /// The relay, without its password.
    pub fn url(&self) -> &SmarthostUrl {
        &self.url
    }

    /// How many idle sessions are pooled right now.
    pub fn idle_connections(&self) -> usize {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    fn take_idle(&self) -> Option<Connection> {
        let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        // Newest first: the least likely to have been timed out by the server.
        while let Some((conn, since)) = pool.pop() {
            if since.elapsed() <= self.max_idle && conn.is_reusable() {
                return Some(conn);
            }
        }
        None
    }

    /// Returns a session to the pool, or closes it if the pool is full
    /// (it cannot be while the permits bound the open sessions; kept so a
    /// change there never leaks sessions).
    async fn give_back(&self, conn: Connection) {
        if !conn.is_reusable() {
            return;
        }
        let overflow = {
            let mut pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
            if pool.len() < self.pool_size {
                pool.push((conn, Instant::now()));
                None
            } else {
                Some(conn)
            }
        };
        if let Some(conn) = overflow {
            conn.quit().await;
        }
    }

    async fn send_on(
        &self,
        mut conn: Connection,
        envelope: &Envelope,
        message: &[u8],
    ) -> (Result<Delivery, Error>, String) {
        let remote = conn.remote().to_owned();
        let result = conn.send(envelope, message).await;
        self.give_back(conn).await;
        (result, remote)
    }
}

/// Whether a failure on a reused session says the session had gone stale
/// rather than anything about this copy: the server dropped or timed out the
/// idle connection (an error, or 421 "closing", before the content was
/// sent). Then one retry on a fresh session is safe: the server cannot have
/// taken the message.
fn stale_session(result: &Result<Delivery, Error>) -> bool {
    match result {
        Err(e) => e.stage().is_some_and(|s| s < Stage::DataEnd),
        Ok(Delivery::Rejected { stage, reply }) => reply.code == 421 && *stage < Stage::DataEnd,
        Ok(Delivery::Accepted(_)) => false,
    }
}

#[async_trait]
impl Transport for Smarthost {
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Outcome {
        // The semaphore is never closed, so acquiring only waits.
        let _session = self.sessions.acquire().await;
        if let Some(conn) = self.take_idle() {
            let (result, remote) = self.send_on(conn, envelope, message).await;
            if !stale_session(&result) {
                return Outcome::from_result(result, &remote, false);
            }
            tracing::debug!(%remote, "pooled SMTP session went stale; retrying on a new one");
        }
        let conn = match Connection::open(&self.session, None).await {
            Ok(c) => c,
            Err(e) => {
                let remote = format!("{}:{}", self.url.host, self.url.port);
                return Outcome::from_error(&e, Some(&remote));
            }
        };
        let (result, remote) = self.send_on(conn, envelope, message).await;
        Outcome::from_result(result, &remote, false)
    }

    async fn close(&self) {
        let idle: Vec<_> =
            std::mem::take(&mut *self.pool.lock().unwrap_or_else(PoisonError::into_inner));
        for (conn, _) in idle {
            conn.quit().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> SmarthostUrl {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn schemes_and_default_ports() {
        let u = url("smtp://relay.example.test");
        assert_eq!(
            (u.security, u.host.as_str(), u.port),
            (Security::Opportunistic, "relay.example.test", 25)
        );
        assert_eq!(u.credentials, None);
        let u = url("smtp+starttls://relay.example.test/");
        assert_eq!((u.security, u.port), (Security::StartTls, 587));
        let u = url("SMTPS://Relay.Example.Test:2465");
        assert_eq!(
            (u.security, u.host.as_str(), u.port),
            (Security::Implicit, "relay.example.test", 2465)
        );
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let u = url("smtp://apikey%40org:p%3Ass%40w%2Fd@127.0.0.1:2525");
        let c = u.credentials.clone().unwrap();
        assert_eq!(c.user, "apikey@org");
        assert_eq!(c.password, "p:ss@w/d");
        assert_eq!((u.host.as_str(), u.port), ("127.0.0.1", 2525));
        // Display and Debug never show the password.
        assert_eq!(u.to_string(), "smtp://apikey@org:***@127.0.0.1:2525");
        assert!(!format!("{u:?}").contains("p:ss"));
        let u = url("smtp://user@host");
        assert_eq!(u.credentials.unwrap().password, "");
        // An unencoded '@' in the password still works: the last one counts.
        let u = url("smtp://user:a@b@host");
        assert_eq!(u.credentials.unwrap().password, "a@b");
    }

    #[test]
    fn ipv6_hosts() {
        let u = url("smtp://[::1]:2525");
        assert_eq!((u.host.as_str(), u.port), ("[::1]", 2525));
        let u = url("smtps://[2001:db8::1]");
        assert_eq!((u.host.as_str(), u.port), ("[2001:db8::1]", 465));
    }

    #[test]
    fn refuses_bad_urls() {
        for bad in [
            "relay.example.test",
            "http://relay",
            "smtp://",
            "smtp://host:0",
            "smtp://host:99999",
            "smtp://host:x",
            "smtp://host/path",
            "smtp://host?q",
            "smtp://[::1",
            "smtp://[nope]:25",
            "smtp://:pw@host",
            "smtp://ho st",
            "smtp://user:%FF@host",
        ] {
            assert!(
                bad.parse::<SmarthostUrl>().is_err(),
                "{bad} should be refused"
            );
        }
    }
}

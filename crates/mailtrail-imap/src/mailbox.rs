//! A connected mailbox's settings, from a URL:
//! `imap://user:password@host:port/INBOX` (plain, or upgraded with
//! STARTTLS when `imap+starttls://`), `imaps://...` (implicit TLS, RFC 8314
//! section 3.3). A `?xoauth2` query makes the password an OAuth 2.0 access
//! token sent with `AUTHENTICATE XOAUTH2`.

use std::fmt;
use std::sync::Arc;

use percent_encoding::percent_decode_str;

use crate::Error;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text (tests, loopback).
    None,
    /// Plain, then `STARTTLS` (RFC 3501 section 6.2.1), required.
    StartTls,
    /// TLS from the first byte (port 993).
    Implicit,
}

/// How to sign in.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// `LOGIN user password`.
    Password(String),
    /// `AUTHENTICATE XOAUTH2` with this access token.
    XOAuth2(String),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Password(_) => "Password([redacted])",
            Self::XOAuth2(_) => "XOAuth2([redacted])",
        })
    }
}

/// One connected mailbox.
#[derive(Clone, PartialEq, Eq)]
pub struct MailboxConfig {
    /// Server host.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Plain, STARTTLS or implicit TLS.
    pub tls: TlsMode,
    /// User name.
    pub user: String,
    /// Password or token.
    pub auth: Auth,
    /// Folder to read, e.g. `INBOX`.
    pub folder: String,
    /// Extra trusted CA certificates in PEM, on top of the Web PKI roots:
    /// a self-hosted server's private CA. Not part of the URL.
    pub extra_ca_pem: Option<Arc<[u8]>>,
}

impl fmt::Debug for MailboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailboxConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("folder", &self.folder)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|p| p.len()))
            .finish()
    }
}

impl MailboxConfig {
    /// Parses a mailbox URL (see the module documentation).
    pub fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::Config(format!(
                "{why} (expected imap[s]://user:password@host[:port][/folder])"
            ))
        };
        let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let (tls, default_port) = match scheme {
            "imap" => (TlsMode::None, 143),
            "imap+starttls" => (TlsMode::StartTls, 143),
            "imaps" => (TlsMode::Implicit, 993),
            _ => return Err(bad("unknown scheme")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (userinfo, hostpart) = rest.rsplit_once('@').ok_or_else(|| bad("no user"))?;
        let (user, secret) = userinfo.split_once(':').ok_or_else(|| bad("no password"))?;
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("not UTF-8 after percent-decoding"))
        };
        let (hostport, folder) = hostpart.split_once('/').unwrap_or((hostpart, "INBOX"));
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse().map_err(|_| bad("bad port"))?)
            }
            _ => (hostport, default_port),
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let secret = decode(secret)?;
        let auth = if query.split('&').any(|q| q.eq_ignore_ascii_case("xoauth2")) {
            Auth::XOAuth2(secret)
        } else {
            Auth::Password(secret)
        };
        Ok(Self {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned(),
            port,
            tls,
            user: decode(user)?,
            auth,
            folder: if folder.is_empty() {
                "INBOX".into()
            } else {
                decode(folder)?
            },
            extra_ca_pem: None,
        })
    }

    /// The key its position is stored under: no secret in it.
    pub fn key(&self) -> String {
        format!(
            "imap://{}@{}:{}/{}",
            self.user, self.host, self.port, self.folder
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let m = MailboxConfig::parse("imap://bob%40x.test:p%3Ass@127.0.0.1:1143/INBOX").unwrap();
        assert_eq!(m.user, "bob@x.test");
        assert_eq!(m.auth, Auth::Password("p:ss".into()));
        assert_eq!(m.port, 1143);
        assert_eq!(m.tls, TlsMode::None);
        assert_eq!(m.key(), "imap://bob@x.test@127.0.0.1:1143/INBOX");
        let m = MailboxConfig::parse("imaps://u:tok@imap.example.com?xoauth2").unwrap();
        assert_eq!((m.port, m.tls), (993, TlsMode::Implicit));
        assert_eq!(m.auth, Auth::XOAuth2("tok".into()));
        assert_eq!(m.folder, "INBOX");
        assert!(!format!("{m:?}").contains("tok"));
        assert!(MailboxConfig::parse("pop3://u:p@h").is_err());
        assert!(MailboxConfig::parse("imap://h").is_err());
    }
}

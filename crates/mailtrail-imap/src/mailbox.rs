//! A connected mailbox's settings, from a URL:
//! `imap://user:password@host:port/INBOX` (plain, or upgraded with
//! STARTTLS when `imap+starttls://`), `imaps://...` (implicit TLS, RFC 8314
//! section 3.3). A `?xoauth2` query makes the password an OAuth 2.0 access
//! token sent with `AUTHENTICATE XOAUTH2`.
//!
//! Access tokens expire within the hour at the big providers (Gmail,
//! Microsoft 365), so a poller that reconnects needs a fresh one: with
//! `&token_url=...&client_id=...&client_secret=...&refresh_token=...` (the
//! client secret optional, for public clients; the password then not
//! needed) an access token is asked for before each connection with the
//! refresh token grant (RFC 6749 section 6).

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
    /// `AUTHENTICATE XOAUTH2` with an access token asked for before each
    /// connection with this refresh token.
    XOAuth2Refresh(Refresh),
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Password(_) => f.write_str("Password([redacted])"),
            Self::XOAuth2(_) => f.write_str("XOAuth2([redacted])"),
            Self::XOAuth2Refresh(r) => write!(
                f,
                "XOAuth2Refresh {{ token_url: {:?}, client_id: {:?}, [secrets redacted] }}",
                r.token_url, r.client_id
            ),
        }
    }
}

/// An OAuth 2.0 client's refresh token grant (RFC 6749 section 6).
#[derive(Clone, PartialEq, Eq)]
pub struct Refresh {
    /// The authorisation server's token endpoint (`https://`, or `http://`
    /// on a loopback address).
    pub token_url: String,
    /// The client id registered with the authorisation server.
    pub client_id: String,
    /// The client secret, for confidential clients.
    pub client_secret: Option<String>,
    /// The refresh token the user's consent gave.
    pub refresh_token: String,
}

/// Whether `url` may carry a refresh token and client secret: `https://`,
/// or `http://` to this machine (a local test server, a sidecar).
fn safe_token_url(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(host, "127.0.0.1" | "[::1]" | "localhost")
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
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("not UTF-8 after percent-decoding"))
        };
        let mut xoauth2 = false;
        let (mut token_url, mut client_id, mut client_secret, mut refresh_token) =
            (None, None, None, None);
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = param.split_once('=').unwrap_or((param, ""));
            let slot = match name.to_ascii_lowercase().as_str() {
                "xoauth2" => {
                    xoauth2 = true;
                    continue;
                }
                "token_url" => &mut token_url,
                "client_id" => &mut client_id,
                "client_secret" => &mut client_secret,
                "refresh_token" => &mut refresh_token,
                // A misspelt parameter would otherwise be ignored in
                // silence, and the mailbox fail later for no clear reason.
                _ => return Err(bad(&format!("unknown parameter {name:?}"))),
            };
            *slot = Some(decode(value)?);
        }
        let refresh = match (token_url, client_id, refresh_token) {
            (None, None, None) if client_secret.is_none() => None,
            (Some(token_url), Some(client_id), Some(refresh_token)) if xoauth2 => {
                if !safe_token_url(&token_url) {
                    return Err(bad(
                        "token_url must be https:// (or http:// to this machine): it is sent the refresh token",
                    ));
                }
                Some(Refresh {
                    token_url,
                    client_id,
                    client_secret,
                    refresh_token,
                })
            }
            _ => {
                return Err(bad(
                    "a refresh token needs xoauth2, token_url, client_id and refresh_token together",
                ));
            }
        };
        let (user, secret) = match (userinfo.split_once(':'), &refresh) {
            (Some((user, secret)), _) => (user, secret),
            (None, Some(_)) => (userinfo, ""),
            (None, None) => return Err(bad("no password")),
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
        let auth = match refresh {
            Some(r) => Auth::XOAuth2Refresh(r),
            None if xoauth2 => Auth::XOAuth2(secret),
            None => Auth::Password(secret),
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

    /// A refresh token grant: all its parts, percent-decoded, no password
    /// needed, nothing secret in the debug form; incomplete, over plain
    /// HTTP to another machine, or misspelt, a clear error.
    #[test]
    fn refresh_token_urls() {
        let m = MailboxConfig::parse(
            "imaps://me%40gmail.com@imap.gmail.com/INBOX?xoauth2\
             &token_url=https%3A%2F%2Foauth2.googleapis.com%2Ftoken\
             &client_id=123.apps&client_secret=s%26cret&refresh_token=1%2F%2Fr3fr",
        )
        .unwrap();
        let Auth::XOAuth2Refresh(r) = &m.auth else {
            panic!("{:?}", m.auth)
        };
        assert_eq!(r.token_url, "https://oauth2.googleapis.com/token");
        assert_eq!(r.client_id, "123.apps");
        assert_eq!(r.client_secret.as_deref(), Some("s&cret"));
        assert_eq!(r.refresh_token, "1//r3fr");
        assert_eq!(m.user, "me@gmail.com");
        let debug = format!("{m:?}");
        assert!(
            !debug.contains("s&cret") && !debug.contains("r3fr"),
            "{debug}"
        );
        // A public client: no secret.
        let m = MailboxConfig::parse(
            "imap://u@127.0.0.1:1143?xoauth2&token_url=http://127.0.0.1:8080/token&client_id=c&refresh_token=r",
        )
        .unwrap();
        assert!(matches!(&m.auth, Auth::XOAuth2Refresh(r) if r.client_secret.is_none()));

        let err = |url: &str| MailboxConfig::parse(url).unwrap_err().to_string();
        assert!(
            err("imap://u@h?xoauth2&client_id=c&refresh_token=r").contains("token_url"),
            "incomplete"
        );
        assert!(
            err("imap://u@h?token_url=https://a/t&client_id=c&refresh_token=r").contains("xoauth2"),
            "without xoauth2"
        );
        assert!(
            err("imap://u@h?xoauth2&token_url=http://auth.example/t&client_id=c&refresh_token=r")
                .contains("https"),
            "plain HTTP to another machine"
        );
        assert!(err("imap://u:p@h?xoauth2&refresh=r").contains("\"refresh\""));
        assert!(err("imap://u@h?xoauth2").contains("no password"));
    }
}

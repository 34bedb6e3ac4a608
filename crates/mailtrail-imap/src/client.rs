//! A minimal IMAP4rev1 client (RFC 3501): greeting, CAPABILITY, STARTTLS,
//! LOGIN / AUTHENTICATE XOAUTH2, EXAMINE, UID FETCH of UIDs and of bodies
//! (`BODY.PEEK[]`, partial), IDLE
//! (RFC 2177), NOOP, LOGOUT. Responses are read whole, literals included
//! (section 4.3: `{N}` then exactly N octets).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::Error;
use crate::mailbox::{Auth, MailboxConfig, TlsMode};

/// Longest response line segment (between literals) accepted.
const MAX_LINE: usize = 256 * 1024;

/// Largest literal (message) accepted.
const MAX_LITERAL: usize = 64 * 1024 * 1024;

/// Octets of each message read ([`Client::fetch`]): the classifier's own
/// limit (`mailtrail_mail::inbound::MAX_INPUT`, checked equal by a test of
/// the server crate), well under [`MAX_LITERAL`].
pub const FETCH_OCTETS: u32 = 8 * 1024 * 1024;

/// One message waiting to be read, as [`Client::uids_after`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    /// Its UID in the folder.
    pub uid: u32,
    /// Its size in octets (RFC822.SIZE); [`FETCH_OCTETS`] when the server
    /// leaves it out.
    pub size: u32,
    /// When it arrived in the mailbox (INTERNALDATE), if the server says.
    pub arrived: Option<time::OffsetDateTime>,
}

/// One message read by [`Client::fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Its UID in the folder.
    pub uid: u32,
    /// When the message arrived in the mailbox (its INTERNALDATE, RFC 3501
    /// section 2.3.3), if the server gave a date that reads.
    pub arrived: Option<time::OffsetDateTime>,
    /// The message, up to [`FETCH_OCTETS`].
    pub raw: Vec<u8>,
}

impl Waiting {
    /// The UID, size and arrival of an untagged `FETCH` response line
    /// (`* 12 FETCH (UID 345 RFC822.SIZE 2048 INTERNALDATE "...")`);
    /// `None` for any other line or one without a UID. A server's text,
    /// so it is fuzzed with [`read_response_line`].
    pub fn of_fetch_line(text: &str) -> Option<Self> {
        if !text.contains(" FETCH (") {
            return None;
        }
        Some(Self {
            uid: fetched_uid(text)?,
            size: fetched_size(text),
            arrived: internal_date(text),
        })
    }
}

/// The INTERNALDATE of an untagged `FETCH` response line: RFC 3501's
/// `date-time`, `"dd-Mon-yyyy hh:mm:ss +zzzz"` (section 9; the day may be
/// one digit after a space).
fn internal_date(text: &str) -> Option<time::OffsetDateTime> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let value = text.split_once("INTERNALDATE \"")?.1.split('"').next()?;
    let mut parts = value.split_ascii_whitespace();
    let (date, clock, zone) = (parts.next()?, parts.next()?, parts.next()?);
    let mut d = date.split('-');
    let day: u8 = d.next()?.parse().ok()?;
    let month = d.next()?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == month)? as u8 + 1;
    let year: i32 = d.next()?.parse().ok()?;
    let mut c = clock.split(':').map(|n| n.parse::<u8>().ok());
    let (h, m, s) = (c.next()??, c.next()??, c.next()??);
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (zh, zm): (i8, i8) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
    let offset = time::UtcOffset::from_hms(sign * zh, sign * zm, 0).ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let clock = time::Time::from_hms(h, m, s).ok()?;
    // `checked_`: "31-Dec-9999 23:59:59 -1200" is past the last date
    // `time` can hold once moved to UTC, and a server's answer must not
    // panic the poller.
    time::PrimitiveDateTime::new(date, clock)
        .assume_offset(offset)
        .checked_to_offset(time::UtcOffset::UTC)
}

/// The UID of an untagged `FETCH` response line (`* 12 FETCH (UID 345
/// ...`).
fn fetched_uid(text: &str) -> Option<u32> {
    number_after(text, "UID ")
}

/// The `RFC822.SIZE` of an untagged `FETCH` response line, else
/// [`FETCH_OCTETS`].
fn fetched_size(text: &str) -> u32 {
    number_after(text, "RFC822.SIZE ").unwrap_or(FETCH_OCTETS)
}

/// The number right after the first `item` in `text`.
fn number_after(text: &str, item: &str) -> Option<u32> {
    text.split_once(item)?
        .1
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One server response line with its literals: the text has each literal
/// replaced by its `{N}` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The text, without the final CRLF.
    pub text: String,
    /// The literals, in order.
    pub literals: Vec<Vec<u8>>,
}

/// A tagged command's result with the untagged responses before it.
#[derive(Debug, Clone)]
pub struct Response {
    /// Untagged (`* ...`) responses.
    pub untagged: Vec<Line>,
    /// The tagged completion text after `OK`.
    pub text: String,
}

/// A connected, signed-in client.
pub struct Client {
    conn: BufReader<Box<dyn Io>>,
    tag: u32,
    capabilities: Vec<String>,
    timeout: Duration,
}

impl Client {
    /// Connects, upgrades to TLS as configured, and signs in.
    pub async fn connect(config: &MailboxConfig, wait: Duration) -> Result<Self, Error> {
        let tcp = timeout(
            wait,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        .map_err(|_| Error::Timeout(wait))??;
        let stream: Box<dyn Io> = match config.tls {
            TlsMode::Implicit => Box::new(tls(tcp, config).await?),
            _ => Box::new(tcp),
        };
        let mut client = Self {
            conn: BufReader::new(stream),
            tag: 0,
            capabilities: Vec::new(),
            timeout: wait,
        };
        let greeting = client.read_line().await?;
        if !greeting.text.starts_with("* OK") && !greeting.text.starts_with("* PREAUTH") {
            return Err(Error::Protocol(format!("greeting {:?}", greeting.text)));
        }
        client.capability().await?;
        if config.tls == TlsMode::StartTls {
            if !client.has("STARTTLS") {
                return Err(Error::Tls("the server does not offer STARTTLS".into()));
            }
            client.command("STARTTLS", "STARTTLS").await?;
            // RFC 3501 section 6.2.1: nothing read before the handshake is
            // trusted, so the buffer goes with the plain stream.
            let plain = std::mem::replace(
                &mut client.conn,
                BufReader::new(Box::new(tokio::io::duplex(1).0)),
            );
            let inner = plain.into_inner();
            client.conn = BufReader::new(Box::new(tls(inner, config).await?));
            client.capability().await?;
        }
        match &config.auth {
            Auth::Password(pw) => {
                let args = format!("LOGIN {} {}", quoted(&config.user)?, quoted(pw)?);
                client.command("LOGIN", &args).await?;
            }
            Auth::XOAuth2(token) => client.xoauth2(&config.user, token).await?,
            Auth::XOAuth2Refresh(r) => {
                let token =
                    crate::oauth::access_token(r, config.extra_ca_pem.as_deref(), wait).await?;
                client.xoauth2(&config.user, &token).await?;
            }
        }
        // Capabilities may change after sign-in (RFC 3501 section 6.2.3).
        client.capability().await?;
        Ok(client)
    }

    /// `AUTHENTICATE XOAUTH2` with an initial response (RFC 4959): the
    /// user and the bearer token (Google's XOAUTH2 format).
    async fn xoauth2(&mut self, user: &str, token: &str) -> Result<(), Error> {
        let ir = STANDARD.encode(format!("user={user}\x01auth=Bearer {token}\x01\x01"));
        self.command("AUTHENTICATE", &format!("AUTHENTICATE XOAUTH2 {ir}"))
            .await
            .map(|_| ())
    }

    /// Whether the server announced `capability`.
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(capability))
    }

    async fn capability(&mut self) -> Result<(), Error> {
        let r = self.command("CAPABILITY", "CAPABILITY").await?;
        self.capabilities = r
            .untagged
            .iter()
            .filter_map(|l| l.text.strip_prefix("* CAPABILITY "))
            .flat_map(|t| t.split_whitespace().map(str::to_owned))
            .collect();
        Ok(())
    }

    /// Opens `folder` read-only (EXAMINE, RFC 3501 section 6.3.2) and
    /// returns its UIDVALIDITY.
    pub async fn examine(&mut self, folder: &str) -> Result<u32, Error> {
        let r = self
            .command("EXAMINE", &format!("EXAMINE {}", quoted(folder)?))
            .await?;
        r.untagged
            .iter()
            .find_map(|l| {
                let i = l.text.find("[UIDVALIDITY ")?;
                let rest = &l.text[i + "[UIDVALIDITY ".len()..];
                rest.split(']').next()?.trim().parse().ok()
            })
            .ok_or_else(|| Error::Protocol("EXAMINE gave no UIDVALIDITY".into()))
    }

    /// The messages above UID `after`, in increasing UID order, with each
    /// one's size and arrival: `UID FETCH after+1:* (UID RFC822.SIZE
    /// INTERNALDATE)`, one short line a message however many there are (a
    /// `UID SEARCH` answers on one line, which for a large mailbox would
    /// exceed the longest line accepted).
    pub async fn uids_after(&mut self, after: u32) -> Result<Vec<Waiting>, Error> {
        let from = after.saturating_add(1);
        let r = self
            .command(
                "UID FETCH",
                &format!("UID FETCH {from}:* (UID RFC822.SIZE INTERNALDATE)"),
            )
            .await?;
        let mut waiting: Vec<Waiting> = r
            .untagged
            .iter()
            .filter_map(|l| Waiting::of_fetch_line(&l.text))
            // `N:*` includes the highest UID even when it is below N
            // (RFC 3501 section 6.4.8).
            .filter(|w| w.uid > after)
            .collect();
        waiting.sort_unstable_by_key(|w| w.uid);
        waiting.dedup_by_key(|w| w.uid);
        Ok(waiting)
    }

    /// The messages `uids` (a batch: they are held in memory together),
    /// oldest first, each read with `BODY.PEEK[]<0.N>`: not setting
    /// `\Seen`, and only its first [`FETCH_OCTETS`] octets (partial fetch,
    /// RFC 3501 section 6.4.5), all that the classifier reads. A larger
    /// message (a video attachment) costs no more, and can no longer stop
    /// the poller on a literal too large to accept. Each comes with its
    /// INTERNALDATE, when the server says when it arrived. A message
    /// expunged meanwhile is left out.
    pub async fn fetch(&mut self, uids: &[u32]) -> Result<Vec<Fetched>, Error> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let set = uids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let r = self
            .command(
                "UID FETCH",
                &format!("UID FETCH {set} (UID INTERNALDATE BODY.PEEK[]<0.{FETCH_OCTETS}>)"),
            )
            .await?;
        let mut out: Vec<Fetched> = r
            .untagged
            .into_iter()
            .filter(|l| l.text.contains(" FETCH ("))
            .filter_map(|mut l| {
                let uid = fetched_uid(&l.text)?;
                if l.literals.is_empty() {
                    return None;
                }
                Some(Fetched {
                    uid,
                    arrived: internal_date(&l.text),
                    raw: l.literals.swap_remove(0),
                })
            })
            .filter(|f| uids.contains(&f.uid))
            .collect();
        out.sort_by_key(|f| f.uid);
        Ok(out)
    }

    /// Waits in IDLE (RFC 2177) until the server reports a change or `wait`
    /// passes; whether something changed.
    pub async fn idle(&mut self, wait: Duration) -> Result<bool, Error> {
        self.tag += 1;
        let tag = format!("m{}", self.tag);
        self.write(&format!("{tag} IDLE\r\n")).await?;
        let first = self.read_line().await?;
        if !first.text.starts_with('+') {
            return Err(Error::Refused {
                command: "IDLE",
                text: first.text,
            });
        }
        let changed = match timeout(wait, self.read_line_untimed()).await {
            Ok(line) => {
                let line = line?;
                line.text.contains("EXISTS") || line.text.contains("RECENT")
            }
            Err(_) => false,
        };
        self.write("DONE\r\n").await?;
        self.finish(&tag, "IDLE").await?;
        Ok(changed)
    }

    /// NOOP: lets the server report new messages (RFC 3501 section 6.1.2).
    pub async fn noop(&mut self) -> Result<(), Error> {
        self.command("NOOP", "NOOP").await.map(|_| ())
    }

    /// Signs out politely.
    pub async fn logout(mut self) -> Result<(), Error> {
        self.command("LOGOUT", "LOGOUT").await.map(|_| ())
    }

    async fn command(&mut self, name: &'static str, line: &str) -> Result<Response, Error> {
        self.tag += 1;
        let tag = format!("m{}", self.tag);
        self.write(&format!("{tag} {line}\r\n")).await?;
        self.finish(&tag, name).await
    }

    async fn finish(&mut self, tag: &str, name: &'static str) -> Result<Response, Error> {
        let mut untagged = Vec::new();
        // What a server said in a challenge of a failed AUTHENTICATE.
        let mut challenge = String::new();
        loop {
            let line = self.read_line().await?;
            // A SASL exchange that fails: XOAUTH2 servers (Gmail,
            // Outlook.com, Dovecot) answer a rejected token with a
            // continuation carrying a JSON error (base64) and wait for an
            // empty response before the tagged NO (RFC 3501 section
            // 6.2.2; Google's XOAUTH2 protocol). Unanswered, the exchange
            // would hang until the timeout.
            if name == "AUTHENTICATE"
                && let Some(data) = line.text.strip_prefix('+')
            {
                let data = data.trim();
                challenge = STANDARD
                    .decode(data)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .unwrap_or_else(|| data.to_owned())
                    .chars()
                    .take(300)
                    .collect();
                self.write("\r\n").await?;
                continue;
            }
            if let Some(rest) = line
                .text
                .strip_prefix(tag)
                .and_then(|r| r.strip_prefix(' '))
            {
                let (status, text) = rest.split_once(' ').unwrap_or((rest, ""));
                return if status.eq_ignore_ascii_case("OK") {
                    Ok(Response {
                        untagged,
                        text: text.to_owned(),
                    })
                } else if challenge.is_empty() {
                    Err(Error::Refused {
                        command: name,
                        text: text.to_owned(),
                    })
                } else {
                    Err(Error::Refused {
                        command: name,
                        text: format!("{text} ({})", challenge.trim()),
                    })
                };
            }
            if line.text.starts_with("* BYE") && name != "LOGOUT" {
                return Err(Error::Closed);
            }
            untagged.push(line);
        }
    }

    async fn write(&mut self, s: &str) -> Result<(), Error> {
        let w = self.conn.get_mut();
        timeout(self.timeout, async {
            w.write_all(s.as_bytes()).await?;
            w.flush().await
        })
        .await
        .map_err(|_| Error::Timeout(self.timeout))??;
        Ok(())
    }

    async fn read_line(&mut self) -> Result<Line, Error> {
        let wait = self.timeout;
        timeout(wait, self.read_line_untimed())
            .await
            .map_err(|_| Error::Timeout(wait))?
    }

    async fn read_line_untimed(&mut self) -> Result<Line, Error> {
        read_response_line(&mut self.conn).await
    }
}

/// Reads one server response line with its literals (RFC 3501 section
/// 4.3: a segment ending in `{N}` is followed by N octets, then the line
/// goes on). A segment longer than 256 KiB or a literal over 64 MiB is a
/// protocol error, so a hostile server cannot make the poller buffer
/// without bound. Public as the narrow entry point the fuzz target drives
/// (over a byte slice); [`Client`] reads every response through it.
pub async fn read_response_line<R: AsyncBufRead + Unpin>(conn: &mut R) -> Result<Line, Error> {
    let mut text = Vec::new();
    let mut literals = Vec::new();
    loop {
        let mut seg = Vec::new();
        let n = (&mut *conn)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut seg)
            .await?;
        if n == 0 {
            return Err(Error::Closed);
        }
        if !seg.ends_with(b"\n") {
            return Err(Error::Protocol("response line too long".into()));
        }
        let seg = seg.strip_suffix(b"\n").unwrap_or(&seg);
        let seg = seg.strip_suffix(b"\r").unwrap_or(seg);
        text.extend_from_slice(seg);
        match literal_size(seg) {
            Some(size) if size <= MAX_LITERAL => {
                // Grown as the octets arrive, not allocated up front: an
                // announced size costs nothing until the server sends it.
                let mut lit = Vec::with_capacity(size.min(LITERAL_PREALLOC));
                (&mut *conn).take(size as u64).read_to_end(&mut lit).await?;
                if lit.len() < size {
                    return Err(Error::Closed);
                }
                literals.push(lit);
            }
            Some(size) => {
                return Err(Error::Protocol(format!("literal of {size} octets")));
            }
            None => {
                return Ok(Line {
                    text: String::from_utf8_lossy(&text).into_owned(),
                    literals,
                });
            }
        }
    }
}

/// Octets reserved for a literal before any of it has arrived.
const LITERAL_PREALLOC: usize = 64 * 1024;

/// The size of the literal announced at the end of a line segment,
/// `{N}` (RFC 3501 section 4.3) or `{N+}` (RFC 7888).
fn literal_size(seg: &[u8]) -> Option<usize> {
    let inner = seg.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = &inner[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// An IMAP quoted string (RFC 3501 section 4.3); CR and LF cannot be quoted.
fn quoted(s: &str) -> Result<String, Error> {
    if s.contains(['\r', '\n', '\0']) {
        return Err(Error::Config(
            "line breaks in a user name, password or folder".into(),
        ));
    }
    Ok(format!(
        "\"{}\"",
        s.replace('\\', "\\\\").replace('"', "\\\"")
    ))
}

/// The certificates a server's chain may end in: the Web PKI roots, plus
/// those of `extra_ca_pem` (a self-hosted server's private CA). A PEM that
/// holds no certificate, or a bad one, is an error that says so.
pub fn trusted_roots(extra_ca_pem: Option<&[u8]>) -> Result<rustls::RootCertStore, Error> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(pem) = extra_ca_pem {
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| Error::Tls(format!("extra CA: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| Error::Tls(format!("extra CA: {e}")))?;
            added += 1;
        }
        if added == 0 {
            return Err(Error::Tls("extra CA: no certificate in the PEM".into()));
        }
    }
    Ok(roots)
}

/// TLS to the server, its certificate checked against [`trusted_roots`]
/// and the configured host name (RFC 8314 section 3.3; an IP address host
/// must be in the certificate's IP SANs).
async fn tls<S: AsyncRead + AsyncWrite + Unpin + Send>(
    stream: S,
    mailbox: &MailboxConfig,
) -> Result<tokio_rustls::client::TlsStream<S>, Error> {
    let host = mailbox.host.as_str();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = trusted_roots(mailbox.extra_ca_pem.as_deref())?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| Error::Tls(format!("bad server name {host:?}")))?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| Error::Tls(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_quoting() {
        assert_eq!(literal_size(b"* 1 FETCH (UID 4 BODY[] {120}"), Some(120));
        assert_eq!(literal_size(b"a {5+}"), Some(5));
        assert_eq!(literal_size(b"* OK {x}"), None);
        assert_eq!(literal_size(b"* OK done"), None);
        assert_eq!(quoted("a\"b\\c").unwrap(), "\"a\\\"b\\\\c\"");
        assert!(quoted("a\r\nb").is_err());
    }

    /// A literal is read whole, then the line goes on; one the server
    /// announces but does not send ends the read as a closed connection,
    /// without reserving the announced size first.
    #[tokio::test]
    async fn literals_are_read_as_they_arrive() {
        let mut ok: &[u8] = b"* 1 FETCH (BODY[] {5}\r\nhello)\r\n";
        let line = read_response_line(&mut ok).await.unwrap();
        assert_eq!(line.text, "* 1 FETCH (BODY[] {5})");
        assert_eq!(line.literals, vec![b"hello".to_vec()]);

        let mut short: &[u8] = b"* 1 FETCH (BODY[] {67108864}\r\nonly this";
        assert!(matches!(
            read_response_line(&mut short).await,
            Err(Error::Closed)
        ));
        let mut huge: &[u8] = b"* 1 FETCH (BODY[] {67108865}\r\n";
        assert!(matches!(
            read_response_line(&mut huge).await,
            Err(Error::Protocol(_))
        ));
    }

    /// RFC 3501 `date-time`s, with a space-padded day and any zone, read
    /// as instants; anything else is no date.
    #[test]
    fn internal_dates() {
        let at = |s: &str| {
            internal_date(&format!(
                "* 1 FETCH (UID 4 INTERNALDATE \"{s}\" BODY[]<0> {{12}}"
            ))
        };
        let utc = time::macros::datetime!(2026-12-01 15:28:19 UTC);
        assert_eq!(at("01-Dec-2026 15:28:19 +0000"), Some(utc));
        assert_eq!(at(" 1-Dec-2026 16:28:19 +0100"), Some(utc));
        assert_eq!(at("01-DEC-2026 10:58:19 -0430"), Some(utc));
        assert_eq!(
            at("17-Jul-1996 02:44:25 -0700"),
            Some(time::macros::datetime!(1996-07-17 09:44:25 UTC))
        );
        for bad in [
            "31-Feb-2026 00:00:00 +0000",
            "01-Foo-2026 00:00:00 +0000",
            "01-Dec-2026 25:00:00 +0000",
            "01-Dec-2026 15:28:19",
            "01-Dec-2026 15:28:19 0000",
            "01-Dec-2026 15:28:19 +00x0",
            // valid, but after the last instant `time` holds once in UTC
            "31-Dec-9999 23:59:59 -1200",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
        assert_eq!(internal_date("* 1 FETCH (UID 4)"), None);
    }

    /// The UID and size of a FETCH line, in either order; a size left out
    /// counts as all that is read of a message.
    #[test]
    fn uid_and_size_of_a_fetch_line() {
        let l = "* 3 FETCH (RFC822.SIZE 1234 UID 42)";
        assert_eq!((fetched_uid(l), fetched_size(l)), (Some(42), 1234));
        let l = "* 3 FETCH (UID 7 RFC822.SIZE 99)";
        assert_eq!((fetched_uid(l), fetched_size(l)), (Some(7), 99));
        let l = "* 3 FETCH (UID 8)";
        assert_eq!((fetched_uid(l), fetched_size(l)), (Some(8), FETCH_OCTETS));
        assert_eq!(fetched_uid("* 3 FETCH (FLAGS ())"), None);
    }
}

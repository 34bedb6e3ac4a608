//! One submission session: RFC 5321 commands, STARTTLS (RFC 3207), AUTH
//! (RFC 4954) and the message text, for one authenticated account.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;

use super::auth::{self, SaslError};
use super::rate::RateLimit;
use super::{Envelope, SubmissionOptions, Submitter};
use crate::inbound::session::{Conn, Line, MAX_COMMAND_LINE, MAX_DATA_LINE, read_line, send};
use crate::inbound::{Command, DataReader, ParseError, Progress, parse};

/// Tells a client over the connection limit to come back later.
pub(super) async fn refuse(mut stream: TcpStream, options: &SubmissionOptions) {
    let text = format!(
        "421 4.3.2 {} too many connections, try again later\r\n",
        options.hostname
    );
    let _ = timeout(std::time::Duration::from_secs(5), async {
        stream.write_all(text.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves one connection until QUIT, a limit, the client leaving or
/// shutdown.
pub(super) async fn serve<S: Submitter>(
    stream: TcpStream,
    peer: SocketAddr,
    options: Arc<SubmissionOptions>,
    submitter: Arc<S>,
    rate: Arc<RateLimit>,
    stop: watch::Receiver<bool>,
) {
    let run = async {
        let (conn, tls_active): (Conn, bool) = match (&options.tls, options.implicit_tls) {
            (Some(config), true) => {
                let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                match timeout(options.command_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => (BufReader::new(Box::new(tls)), true),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(()),
                }
            }
            _ => (BufReader::new(Box::new(stream)), false),
        };
        let mut session = Session {
            conn,
            peer,
            options: &options,
            submitter: submitter.as_ref(),
            rate: &rate,
            tls_active,
            helo: false,
            account: None,
            auth_failures: 0,
            from: None,
            rcpts: Vec::new(),
        };
        session.run(stop).await
    };
    match timeout(options.session_timeout, run).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "submission: session ended"),
        Err(_) => tracing::info!(peer = %peer, "submission: session time limit reached"),
    }
}

struct Session<'a, S: Submitter> {
    conn: Conn,
    peer: SocketAddr,
    options: &'a SubmissionOptions,
    submitter: &'a S,
    rate: &'a RateLimit,
    tls_active: bool,
    helo: bool,
    account: Option<S::Account>,
    auth_failures: usize,
    /// `Some(None)` after `MAIL FROM:<>`.
    from: Option<Option<String>>,
    rcpts: Vec<String>,
}

/// Whether the session goes on after a command.
enum Next {
    Go,
    Close,
}

impl<S: Submitter> Session<'_, S> {
    /// Credentials may be sent: over TLS, or on loopback where nothing
    /// crosses a network (RFC 8314 section 3 wants TLS for anything else).
    fn may_auth(&self) -> bool {
        self.tls_active || self.peer.ip().is_loopback()
    }

    async fn reply(&mut self, text: &str) -> std::io::Result<()> {
        send(&mut self.conn, text).await
    }

    async fn run(&mut self, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
        let host = self.options.hostname.clone();
        self.reply(&format!("220 {host} ESMTP mailtrail submission"))
            .await?;
        let mut line = Vec::with_capacity(512);
        loop {
            let read = tokio::select! {
                r = timeout(self.options.command_timeout, read_line(&mut self.conn, &mut line, MAX_COMMAND_LINE)) => r,
                _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                    self.reply(&format!("421 4.3.2 {host} shutting down")).await?;
                    return Ok(());
                }
            };
            match read {
                Err(_) => {
                    self.reply(&format!("421 4.4.2 {host} timeout, closing"))
                        .await?;
                    return Ok(());
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Line::Closed)) => return Ok(()),
                Ok(Ok(Line::TooLong)) => {
                    self.reply("500 5.5.2 line too long").await?;
                    continue;
                }
                Ok(Ok(Line::Complete)) => {}
            }
            let next = if is_auth(&line) {
                self.auth(&line).await?
            } else {
                match parse(&line) {
                    Ok(cmd) => self.command(cmd).await?,
                    Err(e) => self.parse_error(e).await?,
                }
            };
            if let Next::Close = next {
                return Ok(());
            }
        }
    }

    async fn parse_error(&mut self, e: ParseError) -> std::io::Result<Next> {
        let text = match e {
            ParseError::Incomplete => return Ok(Next::Close),
            ParseError::BareLineEnd => {
                "500 5.5.2 bare CR or LF in the command; lines must end in CRLF (RFC 5321 2.3.8)"
                    .to_owned()
            }
            ParseError::Unknown => "500 5.5.1 command not recognised".to_owned(),
            ParseError::NotImplemented => "502 5.5.1 command not implemented".to_owned(),
            ParseError::BadArguments(why) => format!("501 5.5.4 syntax error: {why}"),
        };
        self.reply(&text).await?;
        Ok(Next::Go)
    }

    async fn command(&mut self, cmd: Command) -> std::io::Result<Next> {
        let host = self.options.hostname.clone();
        match cmd {
            Command::Ehlo(name) => {
                self.reset();
                self.helo = true;
                let mut lines = vec![
                    format!("{host} greets {name}"),
                    "PIPELINING".to_owned(),
                    format!("SIZE {}", self.options.max_message_bytes),
                    "8BITMIME".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                ];
                if self.may_auth() && self.account.is_none() {
                    lines.push("AUTH PLAIN LOGIN".to_owned());
                }
                if self.options.tls.is_some() && !self.tls_active {
                    lines.push("STARTTLS".to_owned());
                }
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                self.reply(&text.join("\r\n")).await?;
            }
            Command::Helo(name) => {
                self.reset();
                self.helo = true;
                self.reply(&format!("250 {host} greets {name}")).await?;
            }
            Command::StartTls => {
                let Some(config) = self.options.tls.clone().filter(|_| !self.tls_active) else {
                    self.reply("502 5.5.1 STARTTLS not available").await?;
                    return Ok(Next::Go);
                };
                self.reply("220 2.0.0 ready to start TLS").await?;
                // RFC 3207 section 4.2: everything before is forgotten,
                // including what the client pipelined after STARTTLS.
                let conn = std::mem::replace(
                    &mut self.conn,
                    BufReader::new(Box::new(tokio::io::duplex(1).0)),
                );
                let plain = conn.into_inner();
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                match timeout(self.options.command_timeout, acceptor.accept(plain)).await {
                    Ok(Ok(tls)) => self.conn = BufReader::new(Box::new(tls)),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(Next::Close),
                }
                self.tls_active = true;
                self.helo = false;
                self.account = None;
                self.reset();
            }
            Command::Mail { from, size } => {
                if !self.helo {
                    self.reply("503 5.5.1 say EHLO or HELO first").await?;
                } else if self.account.is_none() {
                    self.reply("530 5.7.0 authentication required").await?;
                } else if self.from.is_some() {
                    self.reply("503 5.5.1 nested MAIL command").await?;
                } else if size.is_some_and(|s| s > self.options.max_message_bytes as u64) {
                    self.reply("552 5.3.4 message size exceeds fixed maximum message size")
                        .await?;
                } else if !self.within_rate() {
                    self.reply(&format!(
                        "421 4.7.0 {host} message rate limit reached for this API key, try again later"
                    ))
                    .await?;
                    return Ok(Next::Close);
                } else {
                    self.from = Some(from);
                    self.reply("250 2.1.0 sender ok").await?;
                }
            }
            Command::Rcpt(to) => {
                let Some(account) = self.account.as_ref() else {
                    self.reply("530 5.7.0 authentication required").await?;
                    return Ok(Next::Go);
                };
                if self.from.is_none() {
                    self.reply("503 5.5.1 need MAIL before RCPT").await?;
                } else if self.rcpts.len() >= self.options.max_recipients {
                    self.reply("452 4.5.3 too many recipients").await?;
                } else {
                    match self.submitter.check_recipient(account, &to).await {
                        Ok(()) => {
                            self.rcpts.push(to);
                            self.reply("250 2.1.5 recipient ok").await?;
                        }
                        Err(refusal) => self.reply(&refusal.0).await?,
                    }
                }
            }
            Command::Data => {
                if self.account.is_none() {
                    self.reply("530 5.7.0 authentication required").await?;
                } else if self.from.is_none() {
                    self.reply("503 5.5.1 need MAIL before DATA").await?;
                } else if self.rcpts.is_empty() {
                    self.reply("554 5.5.1 no valid recipients").await?;
                } else {
                    return self.data().await;
                }
            }
            Command::Rset => {
                self.reset();
                self.reply("250 2.0.0 reset").await?;
            }
            Command::Noop => self.reply("250 2.0.0 ok").await?,
            Command::Help => self.reply("214 2.0.0 see RFC 6409").await?,
            Command::Vrfy => {
                self.reply("252 2.5.2 cannot verify, send a message and see")
                    .await?;
            }
            Command::Quit => {
                self.reply(&format!("221 2.0.0 {host} closing")).await?;
                return Ok(Next::Close);
            }
        }
        Ok(Next::Go)
    }

    fn reset(&mut self) {
        self.from = None;
        self.rcpts.clear();
    }

    fn within_rate(&self) -> bool {
        let Some(account) = self.account.as_ref() else {
            return false;
        };
        let key = self.submitter.rate_key(account);
        self.rate.allow(&key, Instant::now())
    }

    /// `AUTH mechanism [initial-response]` (RFC 4954 section 4).
    async fn auth(&mut self, line: &[u8]) -> std::io::Result<Next> {
        let Some(text) = std::str::from_utf8(line)
            .ok()
            .and_then(|l| l.strip_suffix("\r\n"))
        else {
            self.reply("500 5.5.2 AUTH lines must be UTF-8 and end in CRLF")
                .await?;
            return Ok(Next::Go);
        };
        let mut words = text.split_whitespace().skip(1);
        let mechanism = words.next().unwrap_or_default().to_ascii_uppercase();
        let initial = words.next().map(str::to_owned);
        if !self.helo {
            self.reply("503 5.5.1 say EHLO first").await?;
            return Ok(Next::Go);
        }
        if self.account.is_some() {
            self.reply("503 5.5.1 already authenticated").await?;
            return Ok(Next::Go);
        }
        if !self.may_auth() {
            self.reply("530 5.7.0 must issue a STARTTLS command first")
                .await?;
            return Ok(Next::Go);
        }
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(r) => r,
                    None => match self.challenge("").await? {
                        Some(r) => r,
                        None => return Ok(Next::Close),
                    },
                };
                auth::decode(&response).and_then(|raw| auth::plain(&raw))
            }
            "LOGIN" => {
                // "Username:" and "Password:" in base64.
                let user = match initial {
                    Some(r) => Some(r),
                    None => self.challenge("VXNlcm5hbWU6").await?,
                };
                let Some(user) = user else {
                    return Ok(Next::Close);
                };
                let user = auth::decode(&user).and_then(|u| auth::login_text(&u));
                match user {
                    Err(e) => Err(e),
                    Ok(user) => match self.challenge("UGFzc3dvcmQ6").await? {
                        None => return Ok(Next::Close),
                        Some(pass) => auth::decode(&pass)
                            .and_then(|p| auth::login_text(&p))
                            .map(|p| (user, p)),
                    },
                }
            }
            _ => {
                self.reply("504 5.5.4 unrecognised authentication mechanism, use PLAIN or LOGIN")
                    .await?;
                return Ok(Next::Go);
            }
        };
        let (user, password) = match credentials {
            Ok(c) => c,
            Err(e @ (SaslError::Cancelled | SaslError::Malformed)) => {
                self.reply(e.reply()).await?;
                return Ok(Next::Go);
            }
        };
        match self.submitter.authenticate(&user, &password).await {
            Ok(Some(account)) => {
                self.account = Some(account);
                self.reply("235 2.7.0 authentication successful").await?;
            }
            Ok(None) => {
                self.auth_failures += 1;
                tracing::info!(peer = %self.peer, "submission: authentication failed");
                self.reply("535 5.7.8 authentication credentials invalid")
                    .await?;
                if self.auth_failures >= self.options.max_auth_failures {
                    self.reply("421 4.7.0 too many failed authentications, closing")
                        .await?;
                    return Ok(Next::Close);
                }
            }
            Err(refusal) => self.reply(&refusal.0).await?,
        }
        Ok(Next::Go)
    }

    /// Sends a `334` challenge and reads the response line; `None` when the
    /// client went away.
    async fn challenge(&mut self, challenge: &str) -> std::io::Result<Option<String>> {
        self.reply(&format!("334 {challenge}")).await?;
        let mut line = Vec::with_capacity(256);
        match timeout(
            self.options.command_timeout,
            read_line(&mut self.conn, &mut line, MAX_COMMAND_LINE),
        )
        .await
        {
            Ok(Ok(Line::Complete)) => {
                let text = String::from_utf8_lossy(&line);
                Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
            }
            Ok(Ok(Line::TooLong)) => Ok(Some("!".to_owned())),
            Ok(Ok(Line::Closed)) | Err(_) => Ok(None),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Reads the text up to `<CR><LF>.<CR><LF>` and hands it to the
    /// submitter.
    async fn data(&mut self) -> std::io::Result<Next> {
        self.reply("354 end data with <CR><LF>.<CR><LF>").await?;
        let envelope = Envelope {
            peer: self.peer,
            mail_from: self.from.take().flatten(),
            rcpt_to: std::mem::take(&mut self.rcpts),
        };
        let mut reader = DataReader::new(Vec::new(), self.options.max_message_bytes);
        let mut line = Vec::with_capacity(1024);
        loop {
            match timeout(
                self.options.command_timeout,
                read_line(&mut self.conn, &mut line, MAX_DATA_LINE),
            )
            .await
            {
                Err(_) => {
                    let host = self.options.hostname.clone();
                    self.reply(&format!("421 4.4.2 {host} timeout, closing"))
                        .await?;
                    return Ok(Next::Close);
                }
                Ok(Err(e)) => return Err(e),
                Ok(Ok(Line::Closed)) => return Ok(Next::Close),
                Ok(Ok(Line::TooLong)) => reader.line_too_long(),
                Ok(Ok(Line::Complete)) => match reader.line(&line) {
                    Progress::More => {}
                    Progress::End => break,
                    Progress::AmbiguousEnd => {
                        let reply = crate::inbound::DataFault::BareLineEnd.reply();
                        self.reply(reply).await?;
                        return Ok(Next::Close);
                    }
                },
            }
        }
        let raw = match reader.finish() {
            Ok(m) => m,
            Err(fault) => {
                self.reply(fault.reply()).await?;
                return Ok(Next::Go);
            }
        };
        let Some(account) = self.account.as_ref() else {
            self.reply("530 5.7.0 authentication required").await?;
            return Ok(Next::Go);
        };
        let reply = match self.submitter.submit(account, &envelope, raw).await {
            Ok(text) => format!("250 2.0.0 {text}"),
            Err(refusal) => refusal.0,
        };
        self.reply(&reply).await?;
        Ok(Next::Go)
    }
}

/// `AUTH` is the one command the inbound parser does not take.
fn is_auth(line: &[u8]) -> bool {
    line.len() >= 5
        && line[..4].eq_ignore_ascii_case(b"AUTH")
        && (line[4] == b' ' || line[4] == b'\r')
}

//! One inbound SMTP session: the RFC 5321 state machine (section 4.1.4
//! ordering, section 3.3 transactions), STARTTLS (RFC 3207) and the limits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout;

use super::command::{Command, ParseError, parse};
use super::data::{DataFault, DataReader, Progress};
use super::slots::Refusal;
use super::{Envelope, InboundOptions, MessageSink};

/// Longest command line accepted. RFC 5321 section 4.5.3.1.4 allows 512
/// octets, ESMTP parameters may add more (section 4.5.3.1.5).
pub(crate) const MAX_COMMAND_LINE: usize = 4096;

/// Longest text line in DATA. RFC 5322 section 2.1.1 caps lines at 998
/// characters; real bounces sometimes carry longer ones, so this is lax.
pub(crate) const MAX_DATA_LINE: usize = 1024 * 1024;

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub(crate) type Conn = BufReader<Box<dyn Io>>;

pub(crate) enum Line {
    /// A whole line, its end included.
    Complete,
    /// Longer than allowed; the rest up to the line end was read and dropped.
    TooLong,
    /// The client closed the connection.
    Closed,
}

/// Reads one line into `buf` (cleared first), at most `max` bytes kept.
pub(crate) async fn read_line(
    conn: &mut Conn,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    loop {
        let avail = conn.fill_buf().await?;
        if avail.is_empty() {
            return Ok(Line::Closed);
        }
        let (take, done) = match avail.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&avail[..take]);
            }
        }
        conn.consume(take);
        if done {
            return Ok(if too_long {
                Line::TooLong
            } else {
                Line::Complete
            });
        }
    }
}

pub(crate) async fn send(conn: &mut Conn, text: &str) -> std::io::Result<()> {
    let w = conn.get_mut();
    w.write_all(text.as_bytes()).await?;
    w.write_all(b"\r\n").await?;
    w.flush().await
}

/// Tells a client over a connection limit to come back later (RFC 5321
/// section 3.8: 421 may be sent instead of the greeting). The reply is
/// short and the wait for it bounded, so a refused client that never reads
/// holds nothing for long.
pub(super) async fn refuse(mut stream: TcpStream, options: &InboundOptions, why: Refusal) {
    let host = &options.hostname;
    let text = match why {
        Refusal::PerClient => {
            format!("421 4.7.0 {host} too many connections from your address, try again later\r\n")
        }
        Refusal::Full => format!("421 4.3.2 {host} too many connections, try again later\r\n"),
    };
    let wait = options.greeting_timeout.min(Duration::from_secs(5));
    let _ = timeout(wait, async {
        stream.write_all(text.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// Serves one connection until QUIT, a limit, the client leaving, or
/// shutdown.
pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    options: Arc<InboundOptions>,
    sink: Arc<dyn MessageSink>,
    stop: watch::Receiver<bool>,
) {
    let conn: Conn = BufReader::new(Box::new(stream));
    let limit = options.session_timeout;
    match timeout(limit, session(conn, peer, &options, sink.as_ref(), stop)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "smtp-in: session ended"),
        Err(_) => tracing::info!(peer = %peer, "smtp-in: session time limit reached"),
    }
}

/// The transaction state (RFC 5321 section 3.3).
#[derive(Default)]
struct Transaction {
    /// `Some(None)` after `MAIL FROM:<>`.
    from: Option<Option<String>>,
    rcpts: Vec<String>,
}

async fn session(
    mut conn: Conn,
    peer: SocketAddr,
    options: &InboundOptions,
    sink: &dyn MessageSink,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let host = options.hostname.as_str();
    send(&mut conn, &format!("220 {host} ESMTP mailtrail")).await?;
    let mut helo: Option<String> = None;
    let mut tx = Transaction::default();
    let mut tls_active = false;
    let mut commands = 0usize;
    let mut line = Vec::with_capacity(512);
    loop {
        // Until the first command the wait is short (RFC 5321 section
        // 4.5.3.2 sets no greeting-to-command timeout; a real MTA answers
        // the greeting at once, an idle connection only holds a slot).
        let wait = if commands == 0 {
            options.greeting_timeout.min(options.command_timeout)
        } else {
            options.command_timeout
        };
        let read = tokio::select! {
            r = timeout(wait, read_line(&mut conn, &mut line, MAX_COMMAND_LINE)) => r,
            _ = async { let _ = stop.wait_for(|s| *s).await; } => {
                send(&mut conn, &format!("421 4.3.2 {host} shutting down")).await?;
                return Ok(());
            }
        };
        match read {
            Err(_) => {
                send(&mut conn, &format!("421 4.4.2 {host} timeout, closing")).await?;
                return Ok(());
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Closed)) => return Ok(()),
            Ok(Ok(Line::TooLong)) => {
                send(&mut conn, "500 5.5.2 line too long").await?;
                continue;
            }
            Ok(Ok(Line::Complete)) => {}
        }
        commands += 1;
        if commands > options.max_commands {
            send(
                &mut conn,
                &format!("421 4.7.0 {host} too many commands, closing"),
            )
            .await?;
            return Ok(());
        }
        let cmd = match parse(&line) {
            Ok(c) => c,
            Err(ParseError::Incomplete) => return Ok(()),
            Err(ParseError::BareLineEnd) => {
                send(
                    &mut conn,
                    "500 5.5.2 bare CR or LF in the command; lines must end in CRLF (RFC 5321 2.3.8)",
                )
                .await?;
                continue;
            }
            Err(ParseError::Unknown) => {
                send(&mut conn, "500 5.5.1 command not recognised").await?;
                continue;
            }
            Err(ParseError::NotImplemented) => {
                send(&mut conn, "502 5.5.1 command not implemented").await?;
                continue;
            }
            Err(ParseError::BadArguments(why)) => {
                send(&mut conn, &format!("501 5.5.4 syntax error: {why}")).await?;
                continue;
            }
        };
        match cmd {
            Command::Ehlo(name) => {
                tx = Transaction::default();
                helo = Some(name);
                let mut lines = vec![
                    format!("{host} greets {}", helo.as_deref().unwrap_or_default()),
                    "PIPELINING".to_owned(),
                    format!("SIZE {}", options.max_message_bytes),
                    "8BITMIME".to_owned(),
                    "ENHANCEDSTATUSCODES".to_owned(),
                    "SMTPUTF8".to_owned(),
                ];
                if options.tls.is_some() && !tls_active {
                    lines.push("STARTTLS".to_owned());
                }
                let last = lines.len() - 1;
                let text: Vec<String> = lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
                    .collect();
                send(&mut conn, &text.join("\r\n")).await?;
            }
            Command::Helo(name) => {
                tx = Transaction::default();
                send(&mut conn, &format!("250 {host} greets {name}")).await?;
                helo = Some(name);
            }
            Command::StartTls => {
                let Some(config) = options.tls.clone().filter(|_| !tls_active) else {
                    send(&mut conn, "502 5.5.1 STARTTLS not available").await?;
                    continue;
                };
                send(&mut conn, "220 2.0.0 ready to start TLS").await?;
                // RFC 3207 section 4.2 and the 2011 command-injection
                // attacks: anything the client sent after STARTTLS in clear
                // text is dropped with the buffer, and the session starts
                // over (no HELO, no transaction).
                let plain = conn.into_inner();
                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                let tls = match timeout(options.command_timeout, acceptor.accept(plain)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => return Err(e),
                    Err(_) => return Ok(()),
                };
                conn = BufReader::new(Box::new(tls));
                tls_active = true;
                helo = None;
                tx = Transaction::default();
            }
            Command::Mail { from, size } => {
                if helo.is_none() {
                    send(&mut conn, "503 5.5.1 say EHLO or HELO first").await?;
                } else if tx.from.is_some() {
                    send(&mut conn, "503 5.5.1 nested MAIL command").await?;
                } else if size.is_some_and(|s| s > options.max_message_bytes as u64) {
                    send(
                        &mut conn,
                        "552 5.3.4 message size exceeds fixed maximum message size",
                    )
                    .await?;
                } else {
                    tx.from = Some(from);
                    send(&mut conn, "250 2.1.0 sender ok").await?;
                }
            }
            Command::Rcpt(to) => {
                if tx.from.is_none() {
                    send(&mut conn, "503 5.5.1 need MAIL before RCPT").await?;
                } else if !options.accepts(&to) {
                    send(&mut conn, "550 5.7.1 relaying denied").await?;
                } else if tx.rcpts.len() >= options.max_recipients {
                    send(&mut conn, "452 4.5.3 too many recipients").await?;
                } else {
                    tx.rcpts.push(to);
                    send(&mut conn, "250 2.1.5 recipient ok").await?;
                }
            }
            Command::Data => {
                if tx.from.is_none() {
                    send(&mut conn, "503 5.5.1 need MAIL before DATA").await?;
                    continue;
                }
                if tx.rcpts.is_empty() {
                    send(&mut conn, "554 5.5.1 no valid recipients").await?;
                    continue;
                }
                send(&mut conn, "354 end data with <CR><LF>.<CR><LF>").await?;
                let envelope = Envelope {
                    peer,
                    helo: helo.clone().unwrap_or_default(),
                    mail_from: tx.from.take().flatten(),
                    rcpt_to: std::mem::take(&mut tx.rcpts),
                };
                let Some((reply, next)) =
                    receive_data(&mut conn, &envelope, options, sink, tls_active).await?
                else {
                    return Ok(());
                };
                send(&mut conn, &reply).await?;
                if next == Continue::Close {
                    return Ok(());
                }
            }
            Command::Rset => {
                tx = Transaction::default();
                send(&mut conn, "250 2.0.0 reset").await?;
            }
            Command::Noop => send(&mut conn, "250 2.0.0 ok").await?,
            Command::Help => send(&mut conn, "214 2.0.0 see RFC 5321").await?,
            Command::Vrfy => {
                send(&mut conn, "252 2.5.2 cannot verify, send a message and see").await?;
            }
            Command::Quit => {
                send(&mut conn, &format!("221 2.0.0 {host} closing")).await?;
                return Ok(());
            }
        }
    }
}

/// Reads the message text up to `<CR><LF>.<CR><LF>` with a
/// [`DataReader`] (which removes stuffed dots, RFC 5321 section 4.5.2, and
/// refuses bare CR or LF), hands it to the sink and says what to answer and
/// whether the session may go on; `None` when the client went away
/// mid-message.
async fn receive_data(
    conn: &mut Conn,
    envelope: &Envelope,
    options: &InboundOptions,
    sink: &dyn MessageSink,
    tls_active: bool,
) -> std::io::Result<Option<(String, Continue)>> {
    let prefix = trace_header(envelope, options, tls_active).into_bytes();
    let mut reader = DataReader::new(prefix, options.max_message_bytes);
    let mut line = Vec::with_capacity(1024);
    loop {
        match timeout(
            options.command_timeout,
            read_line(conn, &mut line, MAX_DATA_LINE),
        )
        .await
        {
            Err(_) => {
                send(
                    conn,
                    &format!("421 4.4.2 {} timeout, closing", options.hostname),
                )
                .await?;
                return Ok(None);
            }
            Ok(Err(e)) => return Err(e),
            Ok(Ok(Line::Closed)) => return Ok(None),
            Ok(Ok(Line::TooLong)) => reader.line_too_long(),
            Ok(Ok(Line::Complete)) => match reader.line(&line) {
                Progress::More => {}
                Progress::End => break,
                Progress::AmbiguousEnd => {
                    tracing::info!(peer = %envelope.peer, "smtp-in: bare line end at the end of data, closing");
                    let reply = DataFault::BareLineEnd.reply().to_owned();
                    return Ok(Some((reply, Continue::Close)));
                }
            },
        }
    }
    let message = match reader.finish() {
        Ok(m) => m,
        Err(fault) => return Ok(Some((fault.reply().to_owned(), Continue::Go))),
    };
    let reply = match sink.store(envelope, message).await {
        Ok(()) => "250 2.0.0 message accepted".into(),
        Err(e) => {
            tracing::error!(error = %e.0, "smtp-in: storing a message failed; the client will retry");
            "451 4.3.0 cannot store the message now, try again later".into()
        }
    };
    Ok(Some((reply, Continue::Go)))
}

/// Whether the session reads another command after a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Continue {
    Go,
    Close,
}

/// The `Received:` trace field an SMTP server adds when it accepts a
/// message (RFC 5321 section 4.4), and `Return-Path:`, which the final
/// delivery adds so the envelope sender stays with the message.
fn trace_header(envelope: &Envelope, options: &InboundOptions, tls_active: bool) -> String {
    let date = OffsetDateTime::now_utc()
        .format(&Rfc2822)
        .unwrap_or_default();
    let helo: String = envelope
        .helo
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let with = if tls_active { "ESMTPS" } else { "ESMTP" };
    let for_clause = match envelope.rcpt_to.as_slice() {
        [one] => format!("\r\n\tfor <{one}>"),
        _ => String::new(),
    };
    format!(
        "Return-Path: <{}>\r\nReceived: from {helo} ([{}])\r\n\tby {} with {with}{for_clause};\r\n\t{date}\r\n",
        envelope.mail_from.as_deref().unwrap_or_default(),
        envelope.peer.ip(),
        options.hostname,
    )
}

//! The one error type of this crate.

use std::fmt;
use std::time::Duration;

use crate::reply::Reply;

/// What went wrong talking SMTP. Replies that are answers (a 550 at RCPT)
/// are not errors: they come back as [`crate::Outcome`]s. These are the
/// failures to have a conversation at all, or a server refusing the session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TCP connection or a read or write on it failed.
    #[error("{stage}: {source}")]
    Io {
        /// What the client was doing.
        stage: Stage,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The server did not answer in time (RFC 5321 section 4.5.3.2).
    #[error("{stage}: no answer within {timeout:?}")]
    Timeout {
        /// What the client was waiting for.
        stage: Stage,
        /// How long it waited.
        timeout: Duration,
    },
    /// The server closed the connection.
    #[error("{stage}: connection closed by the server")]
    Closed {
        /// What the client was waiting for.
        stage: Stage,
    },
    /// The server sent something that is not an SMTP reply.
    #[error("{stage}: invalid reply from the server: {reason}")]
    Protocol {
        /// What the client was waiting for.
        stage: Stage,
        /// What was wrong with it.
        reason: &'static str,
    },
    /// The server refused the session (greeting, EHLO, STARTTLS, AUTH) with
    /// this reply.
    #[error("{stage}: {reply}")]
    Refused {
        /// The command that was refused.
        stage: Stage,
        /// The server's answer.
        reply: Reply,
    },
    /// STARTTLS was required but the server does not offer it.
    #[error("the server does not offer STARTTLS, which this relay requires")]
    StartTlsUnavailable,
    /// The TLS handshake or configuration failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// Credentials were configured but the server offers no mechanism we know.
    #[error("the server offers no AUTH mechanism we support (PLAIN, LOGIN)")]
    AuthUnavailable,
    /// A relay URL that cannot be used.
    #[error("invalid relay URL: {0}")]
    Url(&'static str),
    /// A value that cannot be put in an SMTP command.
    #[error("invalid {0}")]
    InvalidInput(&'static str),
    /// A DNS lookup failed (for direct MX delivery).
    #[error("DNS: {0}")]
    Dns(String),
}

impl Error {
    /// Where in the session it happened, when it happened on a connection.
    pub fn stage(&self) -> Option<Stage> {
        match self {
            Self::Io { stage, .. }
            | Self::Timeout { stage, .. }
            | Self::Closed { stage }
            | Self::Protocol { stage, .. }
            | Self::Refused { stage, .. } => Some(*stage),
            Self::StartTlsUnavailable | Self::Tls(_) => Some(Stage::StartTls),
            Self::AuthUnavailable => Some(Stage::Auth),
            Self::Url(_) | Self::InvalidInput(_) | Self::Dns(_) => None,
        }
    }

    /// The server's reply, when the failure is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::Refused { reply, .. } => Some(reply),
            _ => None,
        }
    }
}

/// The steps of an SMTP session, in order (RFC 5321 section 3), so that an
/// error or refusal says where it happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Opening the TCP connection.
    Connect,
    /// Waiting for the 220 greeting (section 3.1).
    Greeting,
    /// EHLO or its HELO fallback (section 4.1.1.1).
    Ehlo,
    /// STARTTLS and the TLS handshake (RFC 3207), or implicit TLS.
    StartTls,
    /// AUTH (RFC 4954).
    Auth,
    /// MAIL FROM (section 4.1.1.2).
    Mail,
    /// RCPT TO (section 4.1.1.3).
    Rcpt,
    /// DATA and its 354 (section 4.1.1.4).
    Data,
    /// Sending the content and waiting for the final reply. A failure here
    /// leaves open whether the server took the message (RFC 1047).
    DataEnd,
    /// RSET after a failed transaction (section 4.1.1.5).
    Rset,
    /// QUIT (section 4.1.1.10).
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connect => "connect",
            Self::Greeting => "greeting",
            Self::Ehlo => "EHLO",
            Self::StartTls => "STARTTLS",
            Self::Auth => "AUTH",
            Self::Mail => "MAIL FROM",
            Self::Rcpt => "RCPT TO",
            Self::Data => "DATA",
            Self::DataEnd => "end of data",
            Self::Rset => "RSET",
            Self::Quit => "QUIT",
        })
    }
}

//! The one error type of this crate.

/// What went wrong talking IMAP.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection or a read or write on it failed.
    #[error("IMAP I/O: {0}")]
    Io(#[from] std::io::Error),
    /// TLS could not be set up.
    #[error("IMAP TLS: {0}")]
    Tls(String),
    /// The server did not answer in time.
    #[error("IMAP: no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The server closed the connection (or said BYE).
    #[error("IMAP: connection closed by the server")]
    Closed,
    /// The server sent something that is not an IMAP response.
    #[error("IMAP protocol error: {0}")]
    Protocol(String),
    /// The server answered NO or BAD to a command.
    #[error("IMAP {command} refused: {text}")]
    Refused {
        /// The command (without arguments, so no password is logged).
        command: &'static str,
        /// The server's text.
        text: String,
    },
    /// No access token could be had from the OAuth 2.0 token endpoint.
    #[error("IMAP OAuth 2.0: {0}")]
    OAuth(String),
    /// The mailbox URL or settings are wrong.
    #[error("IMAP mailbox: {0}")]
    Config(String),
    /// The sink could not keep a message.
    #[error("storing a message: {0}")]
    Sink(String),
}

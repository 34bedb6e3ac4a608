//! mailtrail's IMAP side (RFC 3501 IMAP4rev1): a poller that reads new
//! messages of connected mailboxes (the user's own inbox, where replies,
//! read receipts and bounces sent to the From address arrive) and hands
//! each to a [`Sink`], which keeps it and the mailbox position together.
//!
//! It changes nothing in the mailbox: the folder is opened with `EXAMINE`
//! (read-only, RFC 3501 section 6.3.2) and messages are read with
//! `BODY.PEEK[]`, which does not set `\Seen` (section 6.4.5), partially
//! (the first 8 MiB) and in batches, so that memory stays bounded on any
//! mailbox. It waits with IDLE (RFC 2177) when the server offers it, else
//! polls.
//!
//! Module names follow the protocol: [`client`] speaks the commands and
//! reads responses (literals included), [`poller`] runs the loop.

pub mod client;
mod error;
pub mod mailbox;
mod oauth;
pub mod poller;

pub use client::Client;
pub use error::Error;
pub use mailbox::{Auth, MailboxConfig, TlsMode};
pub use poller::{Poller, Sink};

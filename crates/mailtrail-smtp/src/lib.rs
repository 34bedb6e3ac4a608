//! mailtrail's outbound SMTP (RFC 5321): a client that speaks ESMTP with
//! PIPELINING, STARTTLS, AUTH and DSN requests, and the transports the send
//! worker uses: a pooled [`Smarthost`] relay and direct [`Mx`] delivery.
//!
//! The worker hands over one copy at a time through [`Transport::send`] and
//! gets an [`Outcome`]: accepted, transient (retry later) or permanent.
//!
//! Module names follow the protocol's words: [`reply`] parses what servers
//! say, `command` builds what we say, `data` encodes the content,
//! [`connection`] runs a session.

mod command;
pub mod connection;
mod data;
mod error;
mod extensions;
pub mod inbound;
pub mod mx;
pub mod reply;
pub mod smarthost;
pub mod submission;
mod tls;
pub mod transport;

pub use command::xtext;
pub use connection::{Connection, Credentials, Delivery, Security, Session, Timeouts};
pub use data::dot_stuff;
pub use error::{Error, Stage};
pub use extensions::{AuthMechanism, Extensions};
pub use mx::{DnsResolver, Mx, MxAnswer, MxOptions, MxResolver, Route};
pub use reply::{ParseError, Reply};
pub use smarthost::{Smarthost, SmarthostOptions, SmarthostUrl};
pub use tls::TlsOptions;
pub use transport::{Envelope, Outcome, Transport};

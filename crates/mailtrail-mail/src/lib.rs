//! Pure mail formats for mailtrail: composing one recipient's copy of a
//! message (RFC 5322, RFC 2045-2047 via mail-builder), signing it with DKIM
//! (RFC 6376, RFC 8463) and the VERP return path that lets a bounce name the
//! recipient it is about; reading what comes back ([`inbound`]); and
//! the formats a recipient's side sends, each built and read in one module
//! so that the writer and the reader of a protocol change together: read
//! receipts ([`mdn`], RFC 8098), bounces ([`dsn`], RFC 3464) and replies
//! ([`reply`]).
//!
//! Nothing here opens a socket or touches a database: every function takes
//! bytes or typed values and returns bytes or typed values, so the send path,
//! the tests and the benchmarks all exercise the same code (DESIGN.md
//! sections 5 and 6). The one exception is [`batch`], the classifier over
//! files and directories behind `mailtrail classify`, which reads files.

pub mod batch;
pub mod compose;
pub mod dkim;
pub mod dsn;
mod error;
pub mod inbound;
pub mod instrument;
pub mod mdn;
pub mod reply;
pub mod verp;

pub use compose::{
    AttachmentRef, Draft, ListUnsubscribe, compose, validate_attachment, validate_extra_header,
};
pub use dkim::{DkimKey, KeyAlgorithm, Signer};
pub use error::MailError;

//! Outlook files for mailtrail: `.msg` (MS-OXMSG on a Compound File) and
//! TNEF (MS-OXTNEF, `winmail.dat`) read into one MAPI model, and written
//! out as RFC 5322 / MIME messages, optionally with the MAPI properties kept
//! in an `application/ms-tnef` part.
//!
//! The conversions are pure: bytes in, bytes out (only [`batch`], behind
//! `mailtrail convert`, reads and writes files). Bad input is an
//! [`OutlookError`] naming the stream or offset, never a panic.

pub mod batch;
pub mod codepage;
mod error;
pub mod message;
pub mod msg;
pub mod property;

pub use error::{OutlookError, Result};
pub use message::{Attachment, Message};
pub use msg::read_msg;
pub mod eml;
pub mod rtf;
pub mod tnef;

pub use eml::{EmlOptions, convert, mime_entity, msg_to_eml, tnef_to_eml, to_eml};

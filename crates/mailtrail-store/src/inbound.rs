//! Records for inbound mail: raw messages kept before they are processed,
//! the recipients a returned message may be about, and IMAP positions.

use mailtrail_domain::{EmailAddress, RecipientKind};
use time::OffsetDateTime;
use uuid::Uuid;

/// How an inbound message reached mailtrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundSource {
    /// The inbound SMTP listener (bounce and receipt domains).
    Smtp,
    /// The IMAP poller (a connected mailbox).
    Imap,
    /// The sandbox inbox's "simulate the recipient" buttons: the message a
    /// recipient's side would send (reply, read receipt, bounce), handed to
    /// the same processing as real mail.
    Sandbox,
    /// An Amazon SNS HTTP(S) delivery of an SES notification
    /// (`POST /inbound/ses`), signature verified.
    Sns,
}

impl InboundSource {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Smtp => "smtp",
            Self::Imap => "imap",
            Self::Sandbox => "sandbox",
            Self::Sns => "sns",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, crate::StoreError> {
        match s {
            "smtp" => Ok(Self::Smtp),
            "imap" => Ok(Self::Imap),
            "sandbox" => Ok(Self::Sandbox),
            "sns" => Ok(Self::Sns),
            other => Err(crate::StoreError::Corrupt(format!(
                "inbound source {other:?}"
            ))),
        }
    }
}

/// The IMAP position of a mailbox: UIDs mean something only with their
/// UIDVALIDITY (RFC 3501 section 2.3.1.1); when it changes, every UID is
/// new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxCursor {
    /// The mailbox's UIDVALIDITY.
    pub uid_validity: u32,
    /// The highest UID already stored.
    pub last_uid: u32,
}

/// Where an inbound message came from: an IMAP mailbox, whose position is
/// saved in the same transaction as the message so that a message is
/// neither lost nor read twice, or a source without a position (an SNS
/// topic) whose messages carry their own id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromMailbox {
    /// The mailbox key (`imap://user@host:port/folder`), or `sns:TOPIC_ARN`
    /// for notifications Amazon SNS posts.
    pub key: String,
    /// The mailbox position after this message; `None` for a source that
    /// has no position (an SNS topic).
    pub cursor: Option<MailboxCursor>,
    /// What identifies the message however the server numbers it: its
    /// Message-ID, else a digest of its bytes. A message the mailbox has
    /// already given (read again after a UIDVALIDITY change, RFC 3501
    /// section 2.3.1.1) is not stored again: only the position moves.
    pub fingerprint: String,
}

/// An inbound message to keep.
#[derive(Debug, Clone)]
pub struct NewInbound {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// Listener or poller.
    pub source: InboundSource,
    /// SMTP `MAIL FROM` (empty for bounces, RFC 5321 section 4.5.5).
    pub mail_from: Option<String>,
    /// SMTP `RCPT TO` addresses: a VERP token may be only here.
    pub rcpt_to: Vec<String>,
    /// For IMAP: the mailbox it was read from and where the poller stands
    /// after it; for an SNS notification: its topic and MessageId, so that
    /// a redelivery is stored once.
    pub mailbox: Option<FromMailbox>,
    /// The message as received.
    pub raw: Vec<u8>,
    /// When received.
    pub received_at: OffsetDateTime,
}

/// A stored inbound message waiting to be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// Id.
    pub id: Uuid,
    /// Listener or poller.
    pub source: InboundSource,
    /// SMTP `MAIL FROM`.
    pub mail_from: Option<String>,
    /// SMTP `RCPT TO` addresses.
    pub rcpt_to: Vec<String>,
    /// The IMAP mailbox key, for messages read by the poller, or
    /// `sns:TOPIC_ARN` for SES notifications posted by Amazon SNS.
    pub mailbox: Option<String>,
    /// The message as received.
    pub raw: Vec<u8>,
    /// When received.
    pub received_at: OffsetDateTime,
}

/// A recipient an inbound message may be about, with what correlation
/// needs: across organisations, since a bounce names no organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientRef {
    /// Recipient id.
    pub id: Uuid,
    /// Its message.
    pub message_id: Uuid,
    /// Its organisation (for the suppression list).
    pub org_id: Uuid,
    /// Its address.
    pub address: EmailAddress,
    /// To, cc or bcc.
    pub kind: RecipientKind,
    /// When its message was accepted.
    pub sent_at: OffsetDateTime,
}

/// What processing an inbound message concluded, stored in one transaction
/// with the message marked processed: a crash before the commit leaves the
/// message pending with nothing recorded, so it is processed again and its
/// events are never recorded twice.
#[derive(Debug, Clone, Default)]
pub struct InboundOutcome {
    /// A line for the log and the operator ("bounce: 1 event").
    pub summary: String,
    /// The events it causes.
    pub events: Vec<crate::model::NewEvent>,
    /// Addresses it puts on their organisation's suppression list: (org,
    /// address, why).
    pub suppressions: Vec<(Uuid, EmailAddress, String)>,
}

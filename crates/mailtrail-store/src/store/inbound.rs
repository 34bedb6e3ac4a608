//! The [`InboundStore`] trait.

use async_trait::async_trait;
use mailtrail_domain::EmailAddress;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::inbound::*;

/// Inbound mail: messages accepted by the SMTP listener or read by the IMAP
/// poller, kept until processed, the poller's mailbox positions, and the
/// lookups that correlate a message with what was sent (DESIGN.md section 4,
/// flow 3).
#[async_trait]
pub trait InboundStore: Send + Sync {
    /// Keeps an inbound message (and, for IMAP, the mailbox position after
    /// it) in one transaction. The SMTP listener answers 250 only after
    /// this returns, so an accepted message is never lost. `false` when
    /// the message's mailbox already holds one with the same fingerprint:
    /// then only the position moves.
    async fn insert_inbound(&self, msg: &NewInbound) -> Result<bool, StoreError>;

    /// Moves the position of `mailbox` without storing a message: past
    /// messages the poller skips.
    async fn set_mailbox_cursor(
        &self,
        mailbox: &str,
        cursor: MailboxCursor,
    ) -> Result<(), StoreError>;

    /// When the first message still stored was accepted, if any: mail that
    /// arrived before it cannot be about any send.
    async fn first_send_at(&self) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Up to `limit` stored messages not yet processed, oldest first.
    async fn pending_inbound(&self, limit: u32) -> Result<Vec<InboundMessage>, StoreError>;

    /// Records what processing a message concluded (its events and
    /// suppressions) and marks it processed, in one transaction;
    /// `NotFound` if there is no such message (and nothing is recorded).
    async fn finish_inbound(&self, id: Uuid, outcome: &InboundOutcome) -> Result<(), StoreError>;

    /// Where the poller stopped in `mailbox`.
    async fn mailbox_cursor(&self, mailbox: &str) -> Result<Option<MailboxCursor>, StoreError>;

    /// A recipient by id, across organisations (a VERP token names it).
    async fn recipient_ref(&self, id: Uuid) -> Result<Option<RecipientRef>, StoreError>;

    /// The recipients, in order, of the messages whose RFC 5322 Message-ID
    /// (without brackets) is `message_id`, across organisations.
    async fn recipients_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Vec<RecipientRef>, StoreError>;

    /// Up to `limit` recipients with this address whose messages were
    /// accepted from `since` to `until` (both included), newest first: the
    /// last resort of correlation, for bounces that quote nothing of the
    /// original. `until` is when the inbound message arrived: a send after
    /// it cannot be what it answers.
    async fn recent_recipients(
        &self,
        address: &EmailAddress,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<RecipientRef>, StoreError>;

    /// Deletes the processed inbound messages received before `before`:
    /// once its events are written, a message's raw copy (a bounce, or any
    /// mail of a user's connected mailbox) is not needed, and keeping it
    /// for ever would keep a copy of that mailbox. Messages not yet
    /// processed stay, however old. Returns how many went.
    async fn purge_inbound(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

//! The [`Store`] trait: every read and write mailtrail makes.

use std::sync::Arc;

use async_trait::async_trait;
use mailtrail_domain::{EmailAddress, EventKind};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::dashboard::*;
use crate::inbound::*;
use crate::model::*;
use crate::sending_domain::*;

/// Everything mailtrail persists. Each method is one transaction: nothing is
/// ever half-written. All reads of organisation data take the organisation
/// id, so a caller cannot see another organisation's rows by mistake.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Changes after every commit of this store value that recorded events
    /// (on this node only), so that the live feed reads new events at once
    /// instead of polling. A store that cannot tell returns a receiver
    /// whose sender is gone; callers then poll.
    fn event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        tokio::sync::watch::channel(0).1
    }

    // -- organisations, users, keys --

    /// The organisation named `name`, created with default settings if absent.
    async fn ensure_organisation(&self, name: &str) -> Result<Organisation, StoreError>;

    /// An organisation by id.
    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>, StoreError>;

    /// Adds a user; `Conflict("user")` if the address is taken.
    async fn create_user(
        &self,
        org_id: Uuid,
        email: &EmailAddress,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User, StoreError>;

    /// A user by sign-in address (case-insensitive).
    async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError>;

    /// Stores a new API key (hash only).
    async fn create_api_key(&self, key: &NewApiKey) -> Result<(), StoreError>;

    /// Resolves a key by the hex SHA-256 of its secret; revoked keys resolve
    /// to nothing. Records the time of use.
    async fn api_key_owner(&self, key_hash: &str) -> Result<Option<ApiKeyOwner>, StoreError>;

    /// Revokes a key of the organisation's users; whether a live key was
    /// revoked. A revoked key never resolves again.
    async fn revoke_api_key(&self, org_id: Uuid, key_id: Uuid) -> Result<bool, StoreError>;

    // -- sending --

    /// Stores a message, its recipients, a `queued` event and a delivery job
    /// per recipient, in one transaction. Recipients whose address is on the
    /// suppression list get a `suppressed` event and status instead, and no
    /// job. A repeated idempotency key returns the earlier message.
    async fn insert_message(&self, msg: &NewMessage) -> Result<Inserted, StoreError>;

    /// Claims up to `limit` due jobs for `lease` (a crashed worker's jobs
    /// come back when the lease ends). On PostgreSQL this uses
    /// `FOR UPDATE SKIP LOCKED` so that several nodes can share the queue.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;

    /// What a worker needs to build the copies of a message.
    async fn outbound_message(&self, id: Uuid) -> Result<Option<OutboundMessage>, StoreError>;

    /// Finishes a job: records the event (sent, delivered or failed) and
    /// deletes the job, in one transaction.
    async fn complete_job(&self, job_id: Uuid, event: &NewEvent) -> Result<(), StoreError>;

    /// Finishes many jobs in one transaction (group commit of delivery
    /// outcomes: one fsync for a batch instead of one per copy). A job that
    /// is gone, or belongs to another recipient (its lease ran out and
    /// another worker took it), is skipped. Returns how many were finished.
    async fn complete_jobs(&self, done: &[(Uuid, NewEvent)]) -> Result<usize, StoreError>;

    /// Records a `deferred` event and schedules the job again at `retry_at`,
    /// with its attempt count increased, in one transaction.
    async fn retry_job(
        &self,
        job_id: Uuid,
        event: &NewEvent,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Records an event and updates the recipient's derived status (and its
    /// reason, when the event has one).
    async fn record_event(&self, event: &NewEvent) -> Result<(), StoreError>;

    /// Records many events in one transaction (group commit).
    async fn record_events(&self, events: &[NewEvent]) -> Result<(), StoreError>;

    // -- reading --

    /// A message of the organisation with its recipients and their events.
    async fn message(&self, org_id: Uuid, id: Uuid) -> Result<Option<Message>, StoreError>;

    /// Messages of the organisation, newest first, with their recipients
    /// (without events).
    async fn list_messages(
        &self,
        org_id: Uuid,
        filter: &MessageFilter,
    ) -> Result<Vec<Message>, StoreError>;

    // -- sandbox --

    /// Stores a copy captured by the sandbox transport.
    async fn insert_sandbox_copy(
        &self,
        recipient_id: Uuid,
        raw: &[u8],
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The organisation's captured copies, newest first.
    async fn sandbox_copies(
        &self,
        org_id: Uuid,
        limit: u32,
    ) -> Result<Vec<SandboxCopy>, StoreError>;

    /// One of the organisation's captured copies by id; another
    /// organisation's copy is `None`, as an unknown id is.
    async fn sandbox_copy(&self, org_id: Uuid, id: Uuid)
    -> Result<Option<SandboxCopy>, StoreError>;

    // -- suppressions --

    /// Adds (or refreshes) an address on the organisation's suppression list.
    async fn add_suppression(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
        reason: &str,
    ) -> Result<(), StoreError>;

    /// The organisation's suppression list.
    async fn suppressions(&self, org_id: Uuid) -> Result<Vec<Suppression>, StoreError>;

    /// Removes an address; whether it was there.
    async fn delete_suppression(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
    ) -> Result<bool, StoreError>;

    // -- inbound --

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

    // -- dashboard sessions and settings --

    /// Stores a new sign-in session.
    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError>;

    /// The live session whose id hashes to `id_hash`, with its user; an
    /// expired (at `now`) or unknown one resolves to nothing.
    async fn session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError>;

    /// Ends a session (sign-out); whether it existed. Also removes every
    /// session that expired before `now`, so the table does not grow.
    async fn delete_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// Changes the organisation's defaults for new messages; whether the
    /// organisation exists.
    async fn set_organisation_defaults(
        &self,
        org_id: Uuid,
        read_receipt: bool,
        track_opens: bool,
        track_clicks: bool,
    ) -> Result<bool, StoreError>;

    /// The organisation's events of the given kinds with an id above
    /// `after` (ids are UUIDv7: time-ordered), oldest first, at most
    /// `limit`. The live feed reads this when [`Store::event_signal`] changes.
    async fn events_after(
        &self,
        org_id: Uuid,
        after: Uuid,
        kinds: &[EventKind],
        limit: u32,
    ) -> Result<Vec<FeedEvent>, StoreError>;

    /// Per UTC day in `[since, until)`, how many recipients of the
    /// organisation were sent, delivered, failed, opened by a person,
    /// opened by a machine, clicked and replied (days without events are
    /// left out), oldest first.
    async fn daily_stats(
        &self,
        org_id: Uuid,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<DayStats>, StoreError>;

    // -- dashboard: API key list, contacts, users, sender networks --

    /// The API keys of the organisation's users (of `user_id` only, when
    /// given), revoked ones included, newest first.
    async fn api_keys(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Vec<ApiKeyInfo>, StoreError>;

    /// Every kept event of every recipient of the organisation's messages
    /// whose address is `address` (compared normalised, as suppressions
    /// are), newest first, at most `limit`: one contact's timeline across
    /// messages.
    async fn contact_events(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
        limit: u32,
    ) -> Result<Vec<FeedEvent>, StoreError>;

    /// The organisation's users, by address.
    async fn users(&self, org_id: Uuid) -> Result<Vec<User>, StoreError>;

    /// Makes a user of the organisation an administrator or not. Taking
    /// the flag from the last administrator is refused
    /// ([`UserChange::LastAdmin`]): the check and the change are one
    /// transaction, so two administrators demoting each other at once
    /// cannot both succeed.
    async fn set_user_admin(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        is_admin: bool,
    ) -> Result<UserChange, StoreError>;

    /// Removes a user of the organisation, with their sessions and API
    /// keys. Their messages stay with the organisation and are recorded as
    /// sent by `heir` (a user of the same organisation, the administrator
    /// who removes them). Removing the last administrator is refused.
    async fn delete_user(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        heir: Uuid,
    ) -> Result<UserChange, StoreError>;

    /// The organisation's sender networks (CIDR text, validated by the
    /// caller), in the order given.
    async fn sender_networks(&self, org_id: Uuid) -> Result<Vec<String>, StoreError>;

    /// Replaces the organisation's sender networks, in one transaction.
    async fn set_sender_networks(
        &self,
        org_id: Uuid,
        networks: &[String],
    ) -> Result<(), StoreError>;

    /// Every organisation's sender networks, `(organisation, network)`:
    /// loaded into memory at start, so that the tracking endpoints never
    /// read the database per hit.
    async fn all_sender_networks(&self) -> Result<Vec<(Uuid, String)>, StoreError>;

    // -- sending domains and DKIM keys --

    /// Adds a sending domain with its DKIM key; `Conflict("sending domain")`
    /// if the organisation already has this domain.
    async fn add_sending_domain(&self, domain: &NewSendingDomain) -> Result<(), StoreError>;

    /// The organisation's sending domains, by domain name.
    async fn sending_domains(&self, org_id: Uuid) -> Result<Vec<SendingDomain>, StoreError>;

    /// Every organisation's sending domains: the delivery workers load
    /// them once per batch and keep the parsed keys in memory.
    async fn all_sending_domains(&self) -> Result<Vec<SendingDomain>, StoreError>;

    /// Removes one of the organisation's sending domains (and its key);
    /// whether it was there.
    async fn delete_sending_domain(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError>;

    // -- retention --

    /// Deletes detailed events older than `before`; recipients keep their
    /// derived status and counts. Returns how many events went.
    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Deletes the processed inbound messages received before `before`:
    /// once its events are written, a message's raw copy (a bounce, or any
    /// mail of a user's connected mailbox) is not needed, and keeping it
    /// for ever would keep a copy of that mailbox. Messages not yet
    /// processed stay, however old. Returns how many went.
    async fn purge_inbound(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// Opens the store named by `url` (`sqlite://path` or `postgres://...`),
/// creating a SQLite file if needed. Does not migrate.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(crate::sqlite::SqliteStore::connect(url).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(crate::postgres::PgStore::connect(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

//! The [`MessageStore`] trait.

use async_trait::async_trait;
use mailtrail_domain::EmailAddress;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::model::*;

/// Messages and their delivery queue: storing a message with its recipients
/// and jobs, claiming and finishing jobs, reading messages back, the
/// sandbox's captured copies and the suppression list that decides who gets
/// no copy.
#[async_trait]
pub trait MessageStore: Send + Sync {
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

    /// The queue's depth and earliest due time: one aggregate over the
    /// jobs table (its `run_at` index answers the minimum), cheap enough
    /// for every metrics scrape.
    async fn queue_stats(&self) -> Result<QueueStats, StoreError>;

    /// Ends now the leases held by `worker`, so that its jobs can be claimed
    /// again at once. A node calls it at start with its own identity: jobs
    /// its previous life claimed before a crash need not wait out their
    /// lease. Returns how many jobs were released.
    async fn release_leases(&self, worker: &str) -> Result<u64, StoreError>;

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

    /// Files a copy in the sandbox and finishes its job with `event`, in one
    /// transaction, so that a crash leaves either both or neither: each
    /// recipient gets exactly one sandbox copy. Fails with `NotFound` when
    /// the job is gone or belongs to another recipient.
    async fn complete_sandbox_job(
        &self,
        job_id: Uuid,
        event: &NewEvent,
        raw: &[u8],
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// Records a `deferred` event and schedules the job again at `retry_at`,
    /// with its attempt count increased, in one transaction.
    async fn retry_job(
        &self,
        job_id: Uuid,
        event: &NewEvent,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// A message of the organisation with its recipients and their events.
    async fn message(&self, org_id: Uuid, id: Uuid) -> Result<Option<Message>, StoreError>;

    /// Messages of the organisation, newest first, with their recipients
    /// (without events).
    async fn list_messages(
        &self,
        org_id: Uuid,
        filter: &MessageFilter,
    ) -> Result<Vec<Message>, StoreError>;

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
}

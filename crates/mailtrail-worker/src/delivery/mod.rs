//! Delivery workers: claim jobs from the durable queue, build each
//! recipient's copy, hand it to the transport, and record what happened
//! (DESIGN.md section 4, flow 1).
//!
//! A job is one recipient's copy. It is claimed with a lease, so a crash
//! never loses it: an unfinished job comes back when its lease ends.
//! What an outcome means (an event, a retry with backoff, expiry) is
//! [`outcome`]'s; building a copy is [`copy`]'s.

mod copy;
mod outcome;
mod sandbox;
mod signers;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use mailtrail_domain::{Keyring, Purpose};
use mailtrail_mail::dkim::Signer;
use mailtrail_smtp::{Envelope, Transport};
use mailtrail_store::prelude::*;
use mailtrail_store::{Job, NewEvent};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

use copy::{Prepared, build_copy};
use outcome::{Attempt, Settled, settle};
pub use sandbox::Sandbox;
use signers::DomainSigners;

/// Tunables of the delivery loop.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Copies in flight at once.
    pub concurrency: usize,
    /// VERP domain; `None` uses the sender's domain.
    pub bounce_domain: Option<String>,
    /// Base of tracking links.
    pub public_url: String,
    /// First retry delay.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max_delay: Duration,
    /// Give up after this long since acceptance.
    pub retry_max_age: Duration,
    /// How long a claimed job stays ours before another worker may take it.
    pub lease: Duration,
}

/// The delivery loop.
pub struct Worker {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    /// The configured (`--dkim-*`) key, for copies whose From domain is
    /// none of their organisation's sending domains.
    signer: Option<Arc<Signer>>,
    domain_signers: DomainSigners,
    keyring: Arc<Keyring>,
    notify: Arc<Notify>,
    settings: WorkerSettings,
    name: String,
}

/// How often the queue is polled when nobody pokes the worker.
const POLL: Duration = Duration::from_secs(1);

impl Worker {
    /// A worker over `store`, sending through `transport`.
    pub fn new(
        store: Arc<dyn Store>,
        transport: Arc<dyn Transport>,
        signer: Option<Arc<Signer>>,
        keyring: Arc<Keyring>,
        notify: Arc<Notify>,
        settings: WorkerSettings,
    ) -> Self {
        let name = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
        Self {
            store,
            transport,
            signer,
            domain_signers: DomainSigners::default(),
            keyring,
            notify,
            settings,
            name,
        }
    }

    /// Claims jobs in the name of `node`, this node's lasting identity
    /// (kept in its data dir), so that the node can release at its next
    /// start what it held when it died ([`Worker::release_previous_life`]).
    /// Without it the worker's name is new at every start.
    pub fn on_node(mut self, node: &str) -> Self {
        node.clone_into(&mut self.name);
        self
    }

    /// Releases the jobs claimed under this worker's name before it started:
    /// after a crash they would otherwise wait out their lease. Call it
    /// before [`Worker::run`], while no job of this life is claimed yet.
    pub async fn release_previous_life(&self) -> anyhow::Result<u64> {
        let n = self
            .store
            .release_leases(&self.name)
            .await
            .context("releasing the jobs of this node's previous life")?;
        if n > 0 {
            tracing::info!(
                jobs = n,
                node = %self.name,
                "released the jobs this node held when it stopped"
            );
        }
        Ok(n)
    }

    /// Claims and delivers jobs until `stop` turns true; the batch in hand
    /// is finished and its outcomes committed first, so a shutdown never
    /// leaves a copy half-recorded.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::channel(COMPLETION_QUEUE);
        let flusher = tokio::spawn(flush_completions(
            self.store.clone(),
            self.settings.lease,
            done_rx,
        ));
        self.claim_loop(&mut stop, &done_tx).await;
        drop(done_tx);
        if let Err(e) = flusher.await {
            tracing::error!(error = %e, "completion flusher failed");
        }
        self.transport.close().await;
    }

    async fn claim_loop(&self, stop: &mut watch::Receiver<bool>, done: &Completions) {
        let batch = (self.settings.concurrency * 4).clamp(16, 500) as u32;
        loop {
            if *stop.borrow() {
                return;
            }
            let lease = time::Duration::try_from(self.settings.lease)
                .unwrap_or(time::Duration::minutes(10));
            let jobs = match self
                .store
                .claim_jobs(&self.name, OffsetDateTime::now_utc(), lease, batch)
                .await
            {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::error!(error = %e, "claiming jobs failed; retrying");
                    Vec::new()
                }
            };
            if jobs.is_empty() {
                tokio::select! {
                    _ = self.notify.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
                continue;
            }
            self.process_batch(jobs, done).await;
        }
    }

    async fn process_batch(&self, jobs: Vec<Job>, done: &Completions) {
        self.domain_signers.refresh(self.store.as_ref()).await;
        let mut messages: HashMap<Uuid, Option<Arc<Prepared>>> = HashMap::new();
        for job in &jobs {
            if messages.contains_key(&job.message_id) {
                continue;
            }
            let loaded = match persist(self.settings.lease, "loading the message", || {
                self.store.outbound_message(job.message_id)
            })
            .await
            {
                Ok(m) => m.map(|m| Arc::new(Prepared::new(m, &self.settings.public_url))),
                Err(e) => {
                    tracing::error!(error = %e, message.id = %job.message_id, "loading message failed; job will be retried after its lease");
                    None
                }
            };
            messages.insert(job.message_id, loaded);
        }
        futures::stream::iter(jobs)
            .for_each_concurrent(self.settings.concurrency, |job| {
                let msg = messages.get(&job.message_id).cloned().flatten();
                async move {
                    if let Some(msg) = msg
                        && let Err(e) = self.deliver(&job, &msg, done).await
                    {
                        tracing::error!(error = %format!("{e:#}"), job.id = %job.id, recipient.id = %job.recipient_id, "delivery bookkeeping failed; job will be retried after its lease");
                    }
                }
            })
            .await;
    }

    /// Builds one copy, sends it, and records the outcome.
    async fn deliver(
        &self,
        job: &Job,
        prepared: &Arc<Prepared>,
        done: &Completions,
    ) -> anyhow::Result<()> {
        let msg = &prepared.msg;
        let Some((_, rcpt, _)) = msg
            .recipients
            .iter()
            .find(|(id, _, _)| *id == job.recipient_id)
        else {
            anyhow::bail!("recipient {} not in message {}", job.recipient_id, msg.id);
        };
        // Instrumenting, composing and DKIM-signing a copy is CPU work (an
        // RSA-2048 signature alone is about a millisecond): it runs on the
        // blocking pool so that copies are built on every core, not on the
        // one thread that drives this batch.
        let raw = {
            let public_url = self.settings.public_url.clone();
            let bounce_domain = self.settings.bounce_domain.clone();
            let keyring = self.keyring.clone();
            // The organisation's own key for its From domain, else the
            // configured one.
            let signer = self
                .domain_signers
                .lookup(msg.org_id, msg.from_address.domain())
                .or_else(|| self.signer.clone());
            let prepared = prepared.clone();
            let recipient_id = job.recipient_id;
            tokio::task::spawn_blocking(move || {
                build_copy(
                    &public_url,
                    bounce_domain.as_deref(),
                    &keyring,
                    signer.as_deref(),
                    &prepared,
                    recipient_id,
                )
            })
            .await
            .context("copy builder task")?
            .context("building the copy")?
        };
        let bounce_domain = self
            .settings
            .bounce_domain
            .as_deref()
            .unwrap_or(msg.from_address.domain());
        let token = self
            .keyring
            .sign_for_address(job.recipient_id, Purpose::Bounce);
        let envelope = Envelope {
            return_path: mailtrail_mail::verp::return_path(&token, bounce_domain),
            recipient: rcpt.clone(),
            envid: Some(job.recipient_id.simple().to_string()),
        };
        if self.transport.name() == sandbox::NAME {
            return self.keep_in_sandbox(job, msg, &envelope, &raw).await;
        }
        let outcome = self.transport.send(&envelope, &raw).await;
        let now = OffsetDateTime::now_utc();
        let attempt = Attempt {
            message_id: msg.id,
            recipient_id: job.recipient_id,
            previous: job.attempts,
            age: now - msg.created_at,
            now,
        };
        let settled = settle(outcome, self.transport.name(), &attempt, &self.settings);
        let (Settled::Done(event) | Settled::Retry { event, .. }) = &settled;
        metrics::counter!(
            "mailtrail_copies_total",
            "outcome" => event.kind.as_str(),
            "transport" => self.transport.name()
        )
        .increment(1);
        match settled {
            Settled::Done(event) => done.send((job.id, event)).await?,
            Settled::Retry { event, retry_at } => {
                persist(self.settings.lease, "scheduling the retry", || {
                    self.store.retry_job(job.id, &event, retry_at)
                })
                .await?;
            }
        }
        Ok(())
    }
}

impl Worker {
    /// Files a sandbox copy and its `delivered` event in one transaction:
    /// a crash leaves both or neither, so no recipient gets two copies.
    async fn keep_in_sandbox(
        &self,
        job: &Job,
        msg: &mailtrail_store::OutboundMessage,
        envelope: &Envelope,
        raw: &[u8],
    ) -> anyhow::Result<()> {
        let now = OffsetDateTime::now_utc();
        let attempt = Attempt {
            message_id: msg.id,
            recipient_id: job.recipient_id,
            previous: job.attempts,
            age: now - msg.created_at,
            now,
        };
        let copy = sandbox::filed_copy(envelope, raw);
        let settled = settle(sandbox::kept(), sandbox::NAME, &attempt, &self.settings);
        let (Settled::Done(event) | Settled::Retry { event, .. }) = &settled;
        metrics::counter!(
            "mailtrail_copies_total",
            "outcome" => event.kind.as_str(),
            "transport" => sandbox::NAME
        )
        .increment(1);
        match settled {
            Settled::Done(event) => {
                match persist(self.settings.lease, "filing the sandbox copy", || {
                    self.store.complete_sandbox_job(job.id, &event, &copy, now)
                })
                .await
                {
                    Ok(()) => {}
                    Err(mailtrail_store::StoreError::NotFound(_)) => tracing::info!(
                        job.id = %job.id,
                        "the job was taken by another worker after its lease ran out"
                    ),
                    Err(e) => return Err(e).context("filing the sandbox copy"),
                }
            }
            Settled::Retry { event, retry_at } => {
                persist(self.settings.lease, "scheduling the retry", || {
                    self.store.retry_job(job.id, &event, retry_at)
                })
                .await?;
            }
        }
        Ok(())
    }
}

/// Runs a store operation again while it fails for a reason that may pass
/// (the database restarting, a connection lost), with doubling pauses up to
/// [`PERSIST_MAX_PAUSE`], for at most half the lease. A job whose outcome
/// could not be written would otherwise stay claimed for the whole lease
/// (51 minutes by default) although the database came back in seconds;
/// past half the lease, giving up is safe because the lease brings the job
/// back anyway.
async fn persist<T, F, Fut>(
    lease: Duration,
    what: &'static str,
    mut op: F,
) -> Result<T, mailtrail_store::StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, mailtrail_store::StoreError>>,
{
    let deadline = tokio::time::Instant::now() + lease / 2;
    let mut pause = PERSIST_FIRST_PAUSE;
    loop {
        match op().await {
            Err(e) if e.is_transient() && tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "{what} failed; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(PERSIST_MAX_PAUSE);
            }
            result => return result,
        }
    }
}

/// First pause before a failed store write is tried again.
const PERSIST_FIRST_PAUSE: Duration = Duration::from_millis(100);
/// Longest pause between two tries of a store write.
const PERSIST_MAX_PAUSE: Duration = Duration::from_secs(5);

/// Finished jobs on their way to the database.
type Completions = mpsc::Sender<(Uuid, NewEvent)>;

/// Outcomes waiting to be committed at most; beyond it, senders wait.
const COMPLETION_QUEUE: usize = 1024;
/// Outcomes committed in one transaction at most.
const COMPLETION_BATCH: usize = 512;

/// Commits delivery outcomes in batches (group commit): one transaction,
/// one fsync, for whatever finished meanwhile. If a commit fails the jobs
/// stay claimed and come back after their lease, so an outcome is never
/// lost, at worst a copy is sent twice (SMTP is at-least-once anyway).
async fn flush_completions(
    store: Arc<dyn Store>,
    lease: Duration,
    mut rx: mpsc::Receiver<(Uuid, NewEvent)>,
) {
    let mut batch = Vec::with_capacity(COMPLETION_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < COMPLETION_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        match persist(lease, "committing delivery outcomes", || {
            store.complete_jobs(&batch)
        })
        .await
        {
            Ok(n) if n < batch.len() => tracing::info!(
                jobs.skipped = batch.len() - n,
                "some jobs were taken by another worker after their lease ran out"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, jobs = batch.len(), "committing delivery outcomes failed; the jobs come back after their lease")
            }
        }
        batch.clear();
    }
}

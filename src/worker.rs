//! Delivery workers: claim jobs from the durable queue, build each
//! recipient's copy, hand it to the transport, and record what happened
//! (DESIGN.md section 4, flow 1).
//!
//! A job is one recipient's copy. It is claimed with a lease, so a crash
//! never loses it: an unfinished job comes back when its lease ends.
//! Temporary failures retry with exponential backoff until the maximum age,
//! then fail as `expired` (RFC 5321 section 4.5.4.1 suggests giving up after
//! 4-5 days; we default to 3).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use mailtrail_domain::{EventKind, Keyring, Purpose, Reason, RecipientKind, TrackingPayload};
use mailtrail_mail::compose::{AttachmentRef, Draft, ListUnsubscribe};
use mailtrail_mail::dkim::{DkimKey, Signer};
use mailtrail_mail::instrument::{Fill, HtmlTemplate, Options, TextTemplate};
use mailtrail_smtp::{Envelope, Outcome, Reply, Transport};
use mailtrail_store::{Job, NewEvent, OutboundMessage, StatusReason, Store};
use time::OffsetDateTime;
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

use crate::config::Settings;

/// Where copies go.
pub enum Delivery {
    /// The built-in inbox: the copy is stored and counts as delivered.
    Sandbox,
    /// An SMTP transport (smarthost or direct MX).
    Smtp(Arc<dyn Transport>),
}

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

/// The organisations' own DKIM keys (Settings → sending domains), parsed
/// once and kept in memory: the worker re-reads the list once per batch of
/// jobs (one query, never one per copy) and parses only keys it has not
/// seen, so an added or removed domain takes effect at the next batch.
#[derive(Default)]
struct DomainSigners {
    /// By sending-domain id: the organisation, the domain and its signer
    /// (`None` for a key that could not be used; logged once).
    by_id: std::sync::Mutex<HashMap<Uuid, DomainSigner>>,
}

/// A sending domain's organisation, lower-case name and signer.
type DomainSigner = (Uuid, String, Option<Arc<Signer>>);

impl DomainSigners {
    async fn refresh(&self, store: &dyn Store) {
        let domains = match store.all_sending_domains().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "reading sending domains failed; keeping the keys in memory");
                return;
            }
        };
        let mut map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|id, _| domains.iter().any(|d| d.id == *id));
        for d in domains {
            if map.contains_key(&d.id) {
                continue;
            }
            let signer = DkimKey::from_pem(d.private_key.expose())
                .and_then(|k| Signer::new(&d.domain, &d.selector, k));
            let signer = match signer {
                Ok(s) => Some(Arc::new(s)),
                Err(e) => {
                    tracing::error!(error = %e, sending_domain.id = %d.id, domain = %d.domain, "sending domain key unusable; its copies fall back to the configured key");
                    None
                }
            };
            map.insert(d.id, (d.org_id, d.domain.to_ascii_lowercase(), signer));
        }
    }

    /// The signer of the organisation's domain `from_domain`, if it has one.
    fn lookup(&self, org_id: Uuid, from_domain: &str) -> Option<Arc<Signer>> {
        let map = self.by_id.lock().unwrap_or_else(|p| p.into_inner());
        map.values()
            .find(|(org, domain, _)| *org == org_id && domain.eq_ignore_ascii_case(from_domain))
            .and_then(|(_, _, s)| s.clone())
    }
}

/// The delivery loop.
pub struct Worker {
    store: Arc<dyn Store>,
    delivery: Delivery,
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
    /// A worker over `store`, sending through `delivery`.
    pub fn new(
        store: Arc<dyn Store>,
        delivery: Delivery,
        signer: Option<Arc<Signer>>,
        keyring: Arc<Keyring>,
        notify: Arc<Notify>,
        settings: WorkerSettings,
    ) -> Self {
        let name = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
        Self {
            store,
            delivery,
            signer,
            domain_signers: DomainSigners::default(),
            keyring,
            notify,
            settings,
            name,
        }
    }

    /// Claims and delivers jobs until `stop` turns true; the batch in hand
    /// is finished and its outcomes committed first, so a shutdown never
    /// leaves a copy half-recorded.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let (done_tx, done_rx) = mpsc::channel(COMPLETION_QUEUE);
        let flusher = tokio::spawn(flush_completions(self.store.clone(), done_rx));
        self.claim_loop(&mut stop, &done_tx).await;
        drop(done_tx);
        if let Err(e) = flusher.await {
            tracing::error!(error = %e, "completion flusher failed");
        }
        if let Delivery::Smtp(t) = &self.delivery {
            t.close().await;
        }
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
            let loaded = match self.store.outbound_message(job.message_id).await {
                Ok(m) => m.map(|m| Arc::new(self.prepare(m))),
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

    /// Parses a message's bodies once for every copy of this batch: the
    /// HTML goes through one lol_html pass here, and each recipient's copy
    /// is then rendered by filling in its tokens.
    fn prepare(&self, msg: OutboundMessage) -> Prepared {
        let prefix = format!("{}/t/u/", self.settings.public_url);
        let options = Options {
            track_opens: msg.track_opens,
            track_clicks: msg.track_clicks,
            unsubscribe_prefix: Some(&prefix),
        };
        let html = msg.content.html.as_deref().map(|html| {
            HtmlTemplate::prepare(html, &options).unwrap_or_else(|e| {
                tracing::warn!(error = %e, message.id = %msg.id, "HTML not instrumented; sending it untracked");
                HtmlTemplate::literal(html)
            })
        });
        let text = msg
            .content
            .text
            .as_deref()
            .map(|t| TextTemplate::prepare(t, &options));
        Prepared { msg, html, text }
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
        let attempt = job.attempts + 1;
        let now = OffsetDateTime::now_utc();
        let outcome = match &self.delivery {
            Delivery::Sandbox => {
                // As a final delivery agent would, record the envelope
                // sender in Return-Path (RFC 5321 section 4.4).
                let mut stored =
                    format!("Return-Path: <{}>\r\n", envelope.return_path).into_bytes();
                stored.extend_from_slice(&raw);
                self.store
                    .insert_sandbox_copy(job.recipient_id, &stored, now)
                    .await?;
                let event = event(
                    job.recipient_id,
                    EventKind::Delivered,
                    None,
                    serde_json::json!({"attempt": attempt, "transport": "sandbox"}),
                );
                done.send((job.id, event)).await?;
                return Ok(());
            }
            Delivery::Smtp(t) => t.send(&envelope, &raw).await,
        };
        match outcome {
            Outcome::Accepted {
                reply,
                remote,
                final_delivery,
            } => {
                let kind = if final_delivery {
                    EventKind::Delivered
                } else {
                    EventKind::Sent
                };
                let data = serde_json::json!({"attempt": attempt, "remote": remote, "smtp_code": reply.code, "response": reply.text});
                tracing::info!(message.id = %msg.id, recipient.id = %job.recipient_id, %remote, "{kind}");
                done.send((job.id, event(job.recipient_id, kind, None, data)))
                    .await?;
            }
            Outcome::Permanent { reply, remote } => {
                let reason = reason_of(Some(&reply), None);
                tracing::info!(message.id = %msg.id, recipient.id = %job.recipient_id, %remote, smtp.code = reply.code, "failed");
                let data = serde_json::json!({"attempt": attempt, "remote": remote});
                done.send((
                    job.id,
                    event(job.recipient_id, EventKind::Failed, Some(reason), data),
                ))
                .await?;
            }
            Outcome::Transient {
                reply,
                remote,
                error,
            } => {
                let age = now - msg.created_at;
                let data =
                    serde_json::json!({"attempt": attempt, "remote": remote, "error": error});
                if age >= self.settings.retry_max_age {
                    let mut reason = reason_of(reply.as_ref(), Some(&error));
                    reason.reason = Some(Reason::Expired.as_str().to_owned());
                    tracing::info!(message.id = %msg.id, recipient.id = %job.recipient_id, "failed: expired after {attempt} attempts");
                    done.send((
                        job.id,
                        event(job.recipient_id, EventKind::Failed, Some(reason), data),
                    ))
                    .await?;
                } else {
                    let delay = backoff(
                        job.attempts,
                        self.settings.retry_initial,
                        self.settings.retry_max_delay,
                    );
                    let retry_at = now + delay;
                    let reason = reason_of(reply.as_ref(), Some(&error));
                    tracing::info!(message.id = %msg.id, recipient.id = %job.recipient_id, retry.in_secs = delay.as_secs(), "deferred: {error}");
                    let mut data = data;
                    data["retry_at"] = serde_json::json!(
                        retry_at
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default()
                    );
                    self.store
                        .retry_job(
                            job.id,
                            &event(job.recipient_id, EventKind::Deferred, Some(reason), data),
                            retry_at,
                        )
                        .await?;
                }
            }
        }
        Ok(())
    }
}

/// One recipient's copy: bodies instrumented with its tokens (when the
/// message tracks opens or clicks), its List-Unsubscribe URLs, then the
/// DKIM signature over the final bytes (RFC 6376 section 5).
fn build_copy(
    base: &str,
    bounce_domain: Option<&str>,
    keyring: &Keyring,
    signer: Option<&Signer>,
    prepared: &Prepared,
    recipient_id: Uuid,
) -> anyhow::Result<Vec<u8>> {
    {
        let msg = &prepared.msg;
        let now = OffsetDateTime::now_utc();
        let plain = TrackingPayload {
            issued_at: now,
            org: Some(msg.org_id),
            link: None,
        }
        .encode();
        let unsubscribe_token = keyring
            .sign(recipient_id, Purpose::Unsubscribe, &plain)
            .context("signing the unsubscribe token")?;
        let unsubscribe_url = format!("{base}/t/u/{unsubscribe_token}");
        let mut click = |url: &str| -> Option<String> {
            let payload = TrackingPayload {
                issued_at: now,
                org: Some(msg.org_id),
                link: Some(url.to_owned()),
            }
            .encode();
            // Too long to sign: the link stays untracked rather than broken.
            let token = keyring.sign(recipient_id, Purpose::Click, &payload).ok()?;
            Some(format!("{base}/t/c/{token}"))
        };
        let html = match &prepared.html {
            Some(t) if !t.slots().is_empty() => {
                let pixel = if msg.track_opens {
                    let token = keyring
                        .sign(recipient_id, Purpose::Open, &plain)
                        .context("signing the open token")?;
                    format!("{base}/t/o/{token}")
                } else {
                    String::new()
                };
                Some(t.render(&mut Fill {
                    pixel: &pixel,
                    unsubscribe: &unsubscribe_url,
                    click: &mut click,
                }))
            }
            _ => None,
        };
        let text = prepared.text.as_ref().map(|t| t.render(&mut click));
        // RFC 8058 section 3.1: the one-click URL must be https; with a
        // plain-http public URL (local testing) only the mailto form is sent.
        let https = base
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            .then_some(unsubscribe_url.as_str());
        let bounce_domain = bounce_domain.unwrap_or(msg.from_address.domain());
        let mailto = format!(
            "mailto:unsubscribe+{}@{bounce_domain}",
            keyring.sign_for_address(recipient_id, Purpose::Unsubscribe)
        );
        let visible = |k: RecipientKind| -> Vec<_> {
            msg.recipients
                .iter()
                .filter(|(_, _, kind)| *kind == k)
                .map(|(_, a, _)| a.clone())
                .collect()
        };
        let to = visible(RecipientKind::To);
        let cc = visible(RecipientKind::Cc);
        let attachments: Vec<AttachmentRef<'_>> = msg
            .content
            .attachments
            .iter()
            .map(|a| AttachmentRef {
                filename: &a.filename,
                content_type: &a.content_type,
                content: &a.content,
            })
            .collect();
        let draft = Draft {
            message_id: &msg.message_id,
            from: &msg.from_address,
            from_name: msg.from_name.as_deref(),
            reply_to: msg.reply_to.as_ref(),
            to: &to,
            cc: &cc,
            subject: &msg.subject,
            text: text.as_deref().or(msg.content.text.as_deref()),
            html: html.as_deref().or(msg.content.html.as_deref()),
            headers: &msg.content.headers,
            attachments: &attachments,
            date: msg.created_at,
            read_receipt: msg.read_receipt,
            list_unsubscribe: Some(ListUnsubscribe {
                mailto: Some(&mailto),
                https,
            }),
        };
        let raw = mailtrail_mail::compose::compose(&draft)?;
        match signer {
            Some(s) => Ok(s.sign(&raw)?),
            None => Ok(raw),
        }
    }
}

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
async fn flush_completions(store: Arc<dyn Store>, mut rx: mpsc::Receiver<(Uuid, NewEvent)>) {
    let mut batch = Vec::with_capacity(COMPLETION_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < COMPLETION_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        match store.complete_jobs(&batch).await {
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

/// A message with its bodies parsed once for all of its copies.
struct Prepared {
    msg: OutboundMessage,
    html: Option<HtmlTemplate>,
    text: Option<TextTemplate>,
}

fn event(
    recipient_id: Uuid,
    kind: EventKind,
    reason: Option<StatusReason>,
    data: serde_json::Value,
) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        recipient_id,
        kind,
        at: OffsetDateTime::now_utc(),
        opener: None,
        reason,
        data,
    }
}

/// The status reason for a reply (or, with no reply, a connection error).
fn reason_of(reply: Option<&Reply>, error: Option<&str>) -> StatusReason {
    match reply {
        Some(r) => StatusReason {
            smtp_code: Some(r.code),
            enhanced_status: r.enhanced.map(|e| e.to_string()),
            reason: Some(
                Reason::from_reply(Some(r.code), r.enhanced.as_ref(), &r.text)
                    .as_str()
                    .to_owned(),
            ),
            text: Some(r.text.clone()),
        },
        None => StatusReason {
            smtp_code: None,
            enhanced_status: None,
            reason: Some(Reason::NetworkError.as_str().to_owned()),
            text: error.map(str::to_owned),
        },
    }
}

/// Exponential backoff: `initial * 2^attempts`, capped.
pub fn backoff(attempts: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 2u32.saturating_pow(attempts.min(20));
    initial.saturating_mul(factor).min(max)
}

/// The smarthost transport for `url`.
pub fn smarthost(url: &str, settings: &Settings) -> anyhow::Result<Arc<dyn Transport>> {
    let opts = mailtrail_smtp::SmarthostOptions {
        pool_size: settings.relay_pool,
        tls_insecure: settings.relay_tls_insecure,
        extra_ca_pem: settings.tls_ca_pem()?.map(|pem| pem.to_vec()),
        helo_name: helo_name(settings),
        ..Default::default()
    };
    Ok(Arc::new(
        mailtrail_smtp::Smarthost::from_url(url, opts).context("relay")?,
    ))
}

/// The direct-to-MX transport.
pub fn mx(settings: &Settings) -> anyhow::Result<Arc<dyn Transport>> {
    let opts = mailtrail_smtp::MxOptions {
        helo_name: helo_name(settings),
        ..Default::default()
    };
    Ok(Arc::new(mailtrail_smtp::Mx::new(opts).context("relay mx")?))
}

/// The name we give in EHLO: the configured one, else this machine's host
/// name (RFC 5321 section 4.1.1.1 asks for the client's primary host name;
/// receivers check it, and "localhost" gets mail refused).
fn helo_name(settings: &Settings) -> String {
    settings
        .hostname
        .clone()
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The DKIM signer for the configured key.
pub fn dkim_signer(domain: &str, selector: &str, key_file: &Path) -> anyhow::Result<Signer> {
    let pem = std::fs::read_to_string(key_file)
        .with_context(|| format!("dkim_key: reading {}", key_file.display()))?;
    let key =
        DkimKey::from_pem(&pem).with_context(|| format!("dkim_key: {}", key_file.display()))?;
    Signer::new(domain, selector, key).context("dkim")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let i = Duration::from_secs(60);
        let m = Duration::from_secs(3600);
        assert_eq!(backoff(0, i, m), Duration::from_secs(60));
        assert_eq!(backoff(1, i, m), Duration::from_secs(120));
        assert_eq!(backoff(3, i, m), Duration::from_secs(480));
        assert_eq!(backoff(10, i, m), m);
        assert_eq!(backoff(u32::MAX, i, m), m);
    }
}

//! Webhook dispatch (DESIGN.md section 4, flow 8): claims due deliveries
//! from the durable queue, POSTs each signed per Standard Webhooks, and
//! records the attempt with what follows from it (retry on the
//! specification's schedule, success, failure, the endpoint turned off).
//!
//! Deliveries are queued by the store in the transaction of their event,
//! so none is lost to a crash; a claimed delivery is leased, so a node
//! that dies mid-attempt hands it on when the lease ends (or at once when
//! it starts again), and two nodes never send the same attempt. A delivery
//! may reach its endpoint twice only when a node dies between the answer
//! and its record: at least once, never silently dropped.

mod clock;
mod schedule;
mod send;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use mailtrail_store::prelude::*;
use mailtrail_store::webhook::{AttemptRecord, ClaimedDelivery, WebhookAttempt};
use tokio::sync::watch;
use uuid::Uuid;

pub use clock::Clock;
use schedule::{decide, result_label};
use send::Sender;

/// Tunables of the dispatcher.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Whether targets on private, loopback and link-local addresses are
    /// allowed (`--allow-private-webhooks`).
    pub allow_private: bool,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// How long a claimed delivery stays this node's: longer than one
    /// attempt can last, so that no other node sends it meanwhile.
    pub lease: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            concurrency: 8,
            lease: Duration::from_secs(60),
        }
    }
}

/// Why the idle dispatcher woke.
enum Wake {
    /// Look for due deliveries.
    Work,
    /// The store's event signal is gone; poll from now on.
    SignalGone,
    /// Shut down.
    Stop,
}

/// How often the queue is read when nothing wakes the dispatcher.
const POLL: Duration = Duration::from_secs(1);

/// The webhook dispatch loop.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    sender: Sender,
    clock: Clock,
    settings: WebhookSettings,
    name: String,
}

impl Dispatcher {
    /// A dispatcher over `store`, telling time by `clock`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        settings: WebhookSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            sender: Sender::new(settings.allow_private).context("building the webhook client")?,
            clock,
            settings,
            name: format!("{}-{}", std::process::id(), Uuid::new_v4().simple()),
        })
    }

    /// Claims in the name of `node`, this node's lasting identity, so that
    /// [`Dispatcher::release_previous_life`] can free at the next start
    /// what the node held when it died.
    pub fn on_node(mut self, node: &str) -> Self {
        node.clone_into(&mut self.name);
        self
    }

    /// Releases the deliveries claimed under this name before this start.
    pub async fn release_previous_life(&self) -> anyhow::Result<u64> {
        let n = self
            .store
            .release_webhook_leases(&self.name)
            .await
            .context("releasing the webhook deliveries of this node's previous life")?;
        if n > 0 {
            tracing::info!(deliveries = n, node = %self.name, "released the webhook deliveries this node held when it stopped");
        }
        Ok(n)
    }

    /// Dispatches until `stop` turns true; the attempts in hand are
    /// finished and recorded first.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut events = Some(self.store.event_signal());
        // One round of attempts per claim: every attempt of the batch starts
        // at once and ends within the timeout, far inside the lease, so no
        // claimed delivery waits in hand while its lease runs out (another
        // node would then send it too).
        let batch = u32::try_from(self.settings.concurrency.clamp(1, 256)).unwrap_or(8);
        let lease =
            time::Duration::try_from(self.settings.lease).unwrap_or(time::Duration::minutes(1));
        loop {
            if *stop.borrow() {
                return;
            }
            let claimed = match self
                .store
                .claim_webhook_deliveries(&self.name, self.clock.now(), lease, batch)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming webhook deliveries failed; retrying");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                let signal = async {
                    match events.as_mut() {
                        Some(e) => e.changed().await.is_ok(),
                        None => std::future::pending::<bool>().await,
                    }
                };
                let wake = tokio::select! {
                    alive = signal => if alive { Wake::Work } else { Wake::SignalGone },
                    _ = self.clock.moved() => Wake::Work,
                    _ = tokio::time::sleep(POLL) => Wake::Work,
                    _ = stop.wait_for(|s| *s) => Wake::Stop,
                };
                match wake {
                    Wake::Stop => return,
                    // This store cannot signal: poll.
                    Wake::SignalGone => events = None,
                    Wake::Work => {}
                }
                continue;
            }
            let this = &self;
            futures::stream::iter(claimed)
                .for_each_concurrent(self.settings.concurrency.max(1), |d| async move {
                    if let Err(e) = this.attempt(&d).await {
                        tracing::error!(error = %format!("{e:#}"), webhook.delivery = %d.id, "recording a webhook attempt failed; it is retried after its lease");
                    }
                })
                .await;
        }
    }

    /// One attempt: send, decide, record.
    async fn attempt(&self, d: &ClaimedDelivery) -> anyhow::Result<()> {
        let at = self.clock.now();
        // Signed with the wall clock: the receiver checks the timestamp
        // against its own.
        let sent = self.sender.send(d, time::OffsetDateTime::now_utc()).await;
        let (delivery, endpoint) = decide(d.attempts, &sent.answer, at, d.failing_since);
        let label = result_label(delivery, &endpoint);
        if let mailtrail_store::webhook::EndpointNext::Disable(why) = &endpoint {
            tracing::warn!(webhook.endpoint = %d.endpoint_id, reason = %why, "webhook endpoint turned off");
        }
        let record = AttemptRecord {
            delivery_id: d.id,
            endpoint_id: d.endpoint_id,
            attempt: WebhookAttempt {
                at,
                status_code: sent.status_code,
                error: sent.error,
                response: sent.response,
                duration_ms: u64::try_from(sent.duration.as_millis()).unwrap_or(u64::MAX),
            },
            delivery,
            endpoint,
        };
        let recorded = self
            .store
            .record_webhook_attempt(&self.name, &record)
            .await
            .context("recording the attempt")?;
        if recorded {
            metrics::counter!("mailtrail_webhook_deliveries_total", "result" => label).increment(1);
        } else {
            tracing::warn!(webhook.delivery = %d.id, "the lease on a webhook delivery ran out before its attempt was recorded");
        }
        Ok(())
    }
}

//! The poll loop for one mailbox: connect, EXAMINE, read what is new since
//! the stored position, hand each message to the [`Sink`] (which stores it
//! with the new position in one transaction), then wait with IDLE or a
//! poll interval. Connection failures are retried with a pause.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::{Client, Error, MailboxConfig};

/// Where read messages go.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// The stored position of the mailbox `key`: (UIDVALIDITY, last UID).
    async fn cursor(&self, key: &str) -> Result<Option<(u32, u32)>, String>;

    /// Keeps one message and moves the mailbox position to it, together.
    async fn store(
        &self,
        key: &str,
        uid_validity: u32,
        uid: u32,
        raw: Vec<u8>,
    ) -> Result<(), String>;
}

/// Reads one mailbox until stopped.
pub struct Poller {
    config: MailboxConfig,
    sink: Arc<dyn Sink>,
    /// Pause between checks when the server has no IDLE.
    pub poll_interval: Duration,
    /// Longest IDLE before it is renewed (RFC 2177 asks clients to
    /// re-issue it at least every 29 minutes).
    pub idle_renew: Duration,
    /// Wait for any one answer.
    pub timeout: Duration,
    /// Pause after a failed session.
    pub retry_pause: Duration,
}

impl Poller {
    /// A poller for `config` with the usual timings.
    pub fn new(config: MailboxConfig, sink: Arc<dyn Sink>) -> Self {
        Self {
            config,
            sink,
            poll_interval: Duration::from_secs(60),
            idle_renew: Duration::from_secs(25 * 60),
            timeout: Duration::from_secs(60),
            retry_pause: Duration::from_secs(30),
        }
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let key = self.config.key();
        loop {
            let outcome = tokio::select! {
                r = self.session(&key) => r,
                _ = stop.wait_for(|s| *s) => return,
            };
            if let Err(e) = outcome {
                tracing::warn!(mailbox = %key, error = %e, "imap: session failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.retry_pause) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// One connection: reads new messages and waits for more, until an
    /// error ends it.
    pub async fn session(&self, key: &str) -> Result<(), Error> {
        let mut client = Client::connect(&self.config, self.timeout).await?;
        let uid_validity = client.examine(&self.config.folder).await?;
        let mut last = match self.sink.cursor(key).await.map_err(Error::Sink)? {
            // A new UIDVALIDITY means the old UIDs mean nothing: start over
            // (RFC 3501 section 2.3.1.1).
            Some((v, uid)) if v == uid_validity => uid,
            _ => 0,
        };
        let idle = client.has("IDLE");
        loop {
            for (uid, raw) in client.fetch_after(last).await? {
                self.sink
                    .store(key, uid_validity, uid, raw)
                    .await
                    .map_err(Error::Sink)?;
                last = uid;
            }
            if idle {
                client.idle(self.idle_renew).await?;
            } else {
                tokio::time::sleep(self.poll_interval).await;
                client.noop().await?;
            }
        }
    }
}

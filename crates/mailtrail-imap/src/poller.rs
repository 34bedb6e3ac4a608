//! The poll loop for one mailbox: connect, EXAMINE, read what is new since
//! the stored position, hand each message to the [`Sink`] (which stores it
//! with the new position in one transaction), then wait with IDLE or a
//! poll interval. Connection failures are retried with a pause.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::{Client, Error, MailboxConfig};

/// Most messages read by one FETCH.
const BATCH_MESSAGES: usize = 50;

/// Most octets read by one FETCH: they are held in memory together.
const BATCH_OCTETS: u64 = 16 * 1024 * 1024;

/// The UIDs of `waiting` (UID and size, in order) in batches of at most
/// [`BATCH_MESSAGES`] and [`BATCH_OCTETS`], each message counted up to
/// what is read of it ([`crate::client::FETCH_OCTETS`]).
fn batches(waiting: &[(u32, u32)]) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut octets = 0;
    for &(uid, size) in waiting {
        let size = u64::from(size.min(crate::client::FETCH_OCTETS));
        match out.last_mut() {
            Some(b) if b.len() < BATCH_MESSAGES && octets + size <= BATCH_OCTETS => {
                b.push(uid);
                octets += size;
            }
            _ => {
                out.push(vec![uid]);
                octets = size;
            }
        }
    }
    out
}

/// Where read messages go.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// The stored position of the mailbox `key`: (UIDVALIDITY, last UID).
    async fn cursor(&self, key: &str) -> Result<Option<(u32, u32)>, String>;

    /// Keeps one message and moves the mailbox position to it, together;
    /// `arrived` is when the message reached the mailbox, as the server
    /// says (INTERNALDATE), if it says.
    async fn store(
        &self,
        key: &str,
        uid_validity: u32,
        uid: u32,
        arrived: Option<time::OffsetDateTime>,
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
            // A batch at a time: a first connection may find thousands of
            // messages waiting, and the position moves after each.
            let waiting = client.uids_after(last).await?;
            for batch in batches(&waiting) {
                for m in client.fetch(&batch).await? {
                    self.sink
                        .store(key, uid_validity, m.uid, m.arrived, m.raw)
                        .await
                        .map_err(Error::Sink)?;
                    last = m.uid;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::FETCH_OCTETS;

    /// Batches keep the UID order and stay within both bounds, a message
    /// counted as what is read of it (however large it is).
    #[test]
    fn batches_are_bounded_by_count_and_octets() {
        let small: Vec<(u32, u32)> = (1..=120).map(|u| (u, 1000)).collect();
        let b = batches(&small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
        assert_eq!(b.concat(), (1..=120).collect::<Vec<_>>());

        let big = [
            (1, 1000),
            (2, u32::MAX),
            (3, 1000),
            (4, FETCH_OCTETS),
            (5, 5),
        ];
        // 1000 + 8 MiB fit, a second 8 MiB message does not.
        assert_eq!(batches(&big), [vec![1, 2, 3], vec![4, 5]]);
        assert!(batches(&[]).is_empty());
    }
}

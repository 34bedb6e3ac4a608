//! The poll loop for one mailbox: connect, EXAMINE, list what is new since
//! the stored position, leave unread what arrived before the sink's
//! horizon, hand each other message to the [`Sink`] (which stores it with
//! the new position in one transaction), then wait with IDLE or a poll
//! interval. Connection failures are retried with a pause.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::client::Waiting;
use crate::{Client, Error, MailboxConfig};

/// Most messages read by one FETCH.
const BATCH_MESSAGES: usize = 50;

/// Most octets read by one FETCH: they are held in memory together.
const BATCH_OCTETS: u64 = 16 * 1024 * 1024;

/// The UIDs of `waiting` (in UID order) in batches of at most
/// [`BATCH_MESSAGES`] and [`BATCH_OCTETS`], each message counted up to
/// what is read of it ([`crate::client::FETCH_OCTETS`]).
fn batches(waiting: &[Waiting]) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut octets = 0;
    for w in waiting {
        let size = u64::from(w.size.min(crate::client::FETCH_OCTETS));
        match out.last_mut() {
            Some(b) if b.len() < BATCH_MESSAGES && octets + size <= BATCH_OCTETS => {
                b.push(w.uid);
                octets += size;
            }
            _ => {
                out.push(vec![w.uid]);
                octets = size;
            }
        }
    }
    out
}

/// The messages of `waiting` to read: those that arrived at or after
/// `horizon`, and those whose arrival the server did not give.
fn to_read(waiting: &[Waiting], horizon: Option<time::OffsetDateTime>) -> Vec<Waiting> {
    waiting
        .iter()
        .filter(|w| match (horizon, w.arrived) {
            (Some(h), Some(a)) => a >= h,
            _ => true,
        })
        .copied()
        .collect()
}

/// Where read messages go.
#[async_trait]
pub trait Sink: Send + Sync + 'static {
    /// The stored position of the mailbox `key`: (UIDVALIDITY, last UID).
    async fn cursor(&self, key: &str) -> Result<Option<(u32, u32)>, String>;

    /// Keeps one message (unless the mailbox gave the same one before,
    /// under other UIDs) and moves the mailbox position to it, together;
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

    /// Mail that arrived before this instant is left unread, because it
    /// cannot be about any send on record: before the first send, or
    /// before what is kept of the past. This is what keeps a first
    /// connection to a mailbox of 30,000 messages, or the full re-read
    /// that a UIDVALIDITY change forces, from passing years of mail
    /// through the database. `None` reads everything.
    async fn horizon(&self) -> Result<Option<time::OffsetDateTime>, String>;

    /// Moves the mailbox position to `uid` without keeping a message: past
    /// messages left unread.
    async fn skip_to(&self, key: &str, uid_validity: u32, uid: u32) -> Result<(), String>;
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
                metrics::counter!("mailtrail_mailbox_poll_failures_total").increment(1);
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
            let Some(top) = waiting.last().map(|w| w.uid) else {
                self.wait(&mut client, idle).await?;
                continue;
            };
            let horizon = self.sink.horizon().await.map_err(Error::Sink)?;
            let read = to_read(&waiting, horizon);
            if read.len() < waiting.len() {
                tracing::info!(
                    mailbox = %key,
                    unread = waiting.len() - read.len(),
                    "imap: messages that arrived before the first send or the retention period are left unread"
                );
            }
            for batch in batches(&read) {
                for m in client.fetch(&batch).await? {
                    self.sink
                        .store(key, uid_validity, m.uid, m.arrived, m.raw)
                        .await
                        .map_err(Error::Sink)?;
                    last = m.uid;
                }
            }
            // Past what was left unread (or expunged meanwhile), so that
            // the next listing starts after it.
            if top > last {
                self.sink
                    .skip_to(key, uid_validity, top)
                    .await
                    .map_err(Error::Sink)?;
                last = top;
            }
            self.wait(&mut client, idle).await?;
        }
    }

    /// Waits for news: IDLE when the server has it, else a pause and a
    /// NOOP (which is also when a server reports new mail, RFC 3501
    /// section 6.1.2).
    async fn wait(&self, client: &mut Client, idle: bool) -> Result<(), Error> {
        if idle {
            client.idle(self.idle_renew).await.map(|_| ())
        } else {
            tokio::time::sleep(self.poll_interval).await;
            client.noop().await
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
        let w = |uid, size| Waiting {
            uid,
            size,
            arrived: None,
        };
        let small: Vec<Waiting> = (1..=120).map(|u| w(u, 1000)).collect();
        let b = batches(&small);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
        assert_eq!(b.concat(), (1..=120).collect::<Vec<_>>());

        let big = [
            w(1, 1000),
            w(2, u32::MAX),
            w(3, 1000),
            w(4, FETCH_OCTETS),
            w(5, 5),
        ];
        // 1000 + 8 MiB fit, a second 8 MiB message does not.
        assert_eq!(batches(&big), [vec![1, 2, 3], vec![4, 5]]);
        assert!(batches(&[]).is_empty());
    }

    /// Messages that arrived before the horizon are left unread; one at
    /// the horizon, or without a date, is read; no horizon reads all.
    #[test]
    fn messages_before_the_horizon_are_left_unread() {
        let h = time::macros::datetime!(2026-12-01 12:00 UTC);
        let w = |uid, arrived| Waiting {
            uid,
            size: 10,
            arrived,
        };
        let waiting = [
            w(1, Some(h - time::Duration::days(400))),
            w(2, Some(h)),
            w(3, None),
            w(4, Some(h - time::Duration::seconds(1))),
            w(5, Some(h + time::Duration::days(1))),
        ];
        let uids = |v: Vec<Waiting>| v.iter().map(|w| w.uid).collect::<Vec<_>>();
        assert_eq!(uids(to_read(&waiting, Some(h))), [2, 3, 5]);
        assert_eq!(uids(to_read(&waiting, None)), [1, 2, 3, 4, 5]);
    }
}

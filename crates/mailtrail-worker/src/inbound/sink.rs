//! Where received mail is kept before processing: the SMTP listener's and
//! the IMAP poller's sinks write it to the store, then wake the processor.

use std::sync::Arc;

use async_trait::async_trait;
use mailtrail_mail::inbound::fingerprint;
use mailtrail_smtp::inbound::{Envelope, MessageSink, SinkError};
use mailtrail_store::inbound::{FromMailbox, InboundSource, MailboxCursor, NewInbound};
use mailtrail_store::prelude::*;
use time::OffsetDateTime;
use tokio::sync::Notify;
use uuid::Uuid;

use super::CLOCK_SKEW;

/// Keeps what the SMTP listener accepts in the store, then wakes the
/// processor. The listener answers 250 only after `store` returns.
pub struct StoreSink {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
}

impl StoreSink {
    /// A sink writing to `store` and waking `wake`.
    pub fn new(store: Arc<dyn Store>, wake: Arc<Notify>) -> Self {
        Self { store, wake }
    }
}

#[async_trait]
impl MessageSink for StoreSink {
    async fn store(&self, envelope: &Envelope, raw: Vec<u8>) -> Result<(), SinkError> {
        let id = Uuid::now_v7();
        self.store
            .insert_inbound(&NewInbound {
                id,
                source: InboundSource::Smtp,
                mail_from: envelope.mail_from.clone(),
                rcpt_to: envelope.rcpt_to.clone(),
                mailbox: None,
                raw,
                received_at: OffsetDateTime::now_utc(),
            })
            .await
            .map_err(|e| SinkError(e.to_string()))?;
        tracing::info!(inbound.id = %id, peer = %envelope.peer, "smtp-in: message stored");
        self.wake.notify_one();
        Ok(())
    }
}

/// Keeps what the IMAP poller reads, with the mailbox position, in one
/// transaction, then wakes the processor.
pub struct ImapSink {
    store: Arc<dyn Store>,
    wake: Arc<Notify>,
    /// How long detailed events are kept (`--retention-days`).
    retention: time::Duration,
    /// The first send, once there is one: it never moves later while
    /// messages are kept, so it is asked for until found, then remembered.
    first_send: std::sync::Mutex<Option<OffsetDateTime>>,
}

impl ImapSink {
    /// A sink writing to `store` and waking `wake`; mail older than
    /// `retention` (the events' retention period) is left unread.
    pub fn new(store: Arc<dyn Store>, wake: Arc<Notify>, retention: time::Duration) -> Self {
        Self {
            store,
            wake,
            retention,
            first_send: std::sync::Mutex::new(None),
        }
    }

    fn remembered_first_send(&self) -> Option<OffsetDateTime> {
        *self
            .first_send
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The poller's horizon: mail that arrived before it is left unread. That
/// is mail from before the first send (allowing for the IMAP server's
/// clock), which cannot answer one, and mail older than the retention
/// period: its events would be purged within the hour, and after a
/// UIDVALIDITY change it is mail already read, whose raw copy (and so its
/// fingerprint) has been purged and would otherwise give its events a
/// second time. With no send at all yet, nothing already in the mailbox
/// can be about one.
fn horizon(
    first_send: Option<OffsetDateTime>,
    now: OffsetDateTime,
    retention: time::Duration,
) -> OffsetDateTime {
    match first_send {
        Some(first) => (first - CLOCK_SKEW).max(now - retention),
        None => now,
    }
}

#[async_trait]
impl mailtrail_imap::Sink for ImapSink {
    async fn cursor(&self, key: &str) -> Result<Option<(u32, u32)>, String> {
        let c = self
            .store
            .mailbox_cursor(key)
            .await
            .map_err(|e| e.to_string())?;
        Ok(c.map(|c| (c.uid_validity, c.last_uid)))
    }

    async fn store(
        &self,
        key: &str,
        uid_validity: u32,
        uid: u32,
        arrived: Option<OffsetDateTime>,
        raw: Vec<u8>,
    ) -> Result<(), String> {
        let id = Uuid::now_v7();
        // When it reached the mailbox (correlation by address looks at the
        // sends before that), never later than now.
        let now = OffsetDateTime::now_utc();
        let received_at = arrived.map_or(now, |a| a.min(now));
        let stored = self
            .store
            .insert_inbound(&NewInbound {
                id,
                source: InboundSource::Imap,
                mail_from: None,
                rcpt_to: Vec::new(),
                mailbox: Some(FromMailbox {
                    key: key.to_owned(),
                    cursor: Some(MailboxCursor {
                        uid_validity,
                        last_uid: uid,
                    }),
                    fingerprint: fingerprint(&raw),
                }),
                raw,
                received_at,
            })
            .await
            .map_err(|e| e.to_string())?;
        if stored {
            tracing::info!(inbound.id = %id, mailbox = %key, imap.uid = uid, "imap: message stored");
            self.wake.notify_one();
        } else {
            tracing::info!(
                mailbox = %key,
                imap.uid = uid,
                "imap: message already read from this mailbox (renumbered by the server); not stored again"
            );
        }
        Ok(())
    }

    async fn horizon(&self) -> Result<Option<OffsetDateTime>, String> {
        let first = match self.remembered_first_send() {
            Some(first) => Some(first),
            None => {
                let first = self
                    .store
                    .first_send_at()
                    .await
                    .map_err(|e| e.to_string())?;
                *self
                    .first_send
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = first;
                first
            }
        };
        Ok(Some(horizon(
            first,
            OffsetDateTime::now_utc(),
            self.retention,
        )))
    }

    async fn skip_to(&self, key: &str, uid_validity: u32, uid: u32) -> Result<(), String> {
        self.store
            .set_mailbox_cursor(
                key,
                MailboxCursor {
                    uid_validity,
                    last_uid: uid,
                },
            )
            .await
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The horizon is the first send less the clock skew, but never before
    /// the retention period; with no send, now.
    #[test]
    fn the_horizon_is_the_first_send_within_retention() {
        let now = time::macros::datetime!(2026-12-01 12:00 UTC);
        let days = time::Duration::days;
        assert_eq!(
            horizon(Some(now - days(3)), now, days(30)),
            now - days(3) - CLOCK_SKEW
        );
        assert_eq!(
            horizon(Some(now - days(300)), now, days(30)),
            now - days(30)
        );
        assert_eq!(horizon(None, now, days(30)), now);
    }
}

//! The dispatcher's clock: the system's time plus an offset that only a
//! test moves. Retries are hours apart (the schedule ends at 24 h), so a
//! test of the schedule or of `Retry-After` advances this clock instead of
//! waiting; the server under test is otherwise untouched.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::OffsetDateTime;
use tokio::sync::Notify;

/// A clock that can be moved forward. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    moved: Arc<Notify>,
}

impl Clock {
    /// The current time: the system's plus the offset.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
            + time::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }

    /// Moves the clock forward by `by` and wakes whoever waits on it.
    pub fn advance(&self, by: std::time::Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::SeqCst);
        self.moved.notify_waiters();
    }

    /// Resolves when the clock is next moved.
    pub async fn moved(&self) {
        self.moved.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_clone() {
        let c = Clock::default();
        let other = c.clone();
        let before = other.now();
        c.advance(std::time::Duration::from_secs(3600));
        let gap = other.now() - before;
        assert!(
            gap >= time::Duration::hours(1)
                && gap < time::Duration::hours(1) + time::Duration::seconds(5)
        );
    }
}

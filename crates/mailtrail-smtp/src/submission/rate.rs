//! Per-account message rate limit of the submission listener: a fixed
//! one-minute window per account. A client over it is told `421 4.7.0`
//! (RFC 3463: a temporary security or policy refusal) and retries later,
//! as every SMTP client does with a 4xx.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts messages per account per minute.
#[derive(Debug)]
pub(super) struct RateLimit {
    per_minute: u32,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

const WINDOW: Duration = Duration::from_secs(60);

impl RateLimit {
    /// At most `per_minute` messages per account in any one window; 0
    /// means no limit.
    pub(super) fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            windows: Mutex::default(),
        }
    }

    /// Counts one message for `account` at `now`; false when it is over the
    /// limit (and then it is not counted).
    pub(super) fn allow(&self, account: &str, now: Instant) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Forget finished windows now and then, so the map stays small.
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = windows.entry(account.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_per_account() {
        let limit = RateLimit::new(2);
        let t = Instant::now();
        assert!(limit.allow("a", t));
        assert!(limit.allow("a", t));
        assert!(!limit.allow("a", t));
        assert!(limit.allow("b", t));
        assert!(limit.allow("a", t + WINDOW));
        assert!(RateLimit::new(0).allow("a", t));
    }
}

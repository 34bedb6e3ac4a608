//! Bounded password hashing: a semaphore sized to the cores (one fewer),
//! a pool of Argon2 working memories, and a short wait before giving up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailtrail_domain::credentials::{HashMemory, dummy_hash, verify_password_in};
use tokio::sync::Semaphore;

/// The longest password that is hashed; longer ones match nothing. Argon2
/// accepts up to 4 GiB, and hashing a body-sized password costs time for
/// nothing: no password manager makes one this long.
const MAX_PASSWORD_BYTES: usize = 4096;

/// Every password check slot stayed taken for the whole wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Runs Argon2 checks on the blocking pool, at most `permits` at once.
pub(crate) struct PasswordGate {
    permits: Arc<Semaphore>,
    /// At most one memory per permit: a check takes one out and puts it
    /// back, so the pool never holds more than `permits` of them.
    memory: Arc<Mutex<Vec<HashMemory>>>,
    wait: Duration,
    dummy_checks: Arc<AtomicU64>,
}

impl PasswordGate {
    pub(crate) fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            memory: Arc::new(Mutex::new(Vec::new())),
            wait,
            dummy_checks: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Whether `password` matches `hash`; with no hash, it is checked
    /// against the dummy hash (as slow) and matches nothing.
    pub(crate) async fn verify(
        &self,
        hash: Option<String>,
        password: String,
    ) -> Result<bool, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let pool = self.memory.clone();
        let dummy_checks = self.dummy_checks.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut memory = pool
                .lock()
                .map(|mut p| p.pop())
                .ok()
                .flatten()
                .unwrap_or_default();
            let password = if password.len() > MAX_PASSWORD_BYTES {
                ""
            } else {
                password.as_str()
            };
            let matched = match &hash {
                Some(h) => verify_password_in(h, password, &mut memory) && !password.is_empty(),
                None => {
                    dummy_checks.fetch_add(1, Ordering::Relaxed);
                    let _ = verify_password_in(dummy_hash(), password, &mut memory);
                    false
                }
            };
            if let Ok(mut p) = pool.lock() {
                p.push(memory);
            }
            matched
        })
        .await
        .map_err(|_| Busy)
    }

    pub(crate) fn dummy_checks(&self) -> u64 {
        self.dummy_checks.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checks_wait_their_turn_and_give_up_after_the_wait() {
        let h = mailtrail_domain::credentials::hash_password("secret pw").unwrap();
        let gate = PasswordGate::new(1, Duration::from_millis(1));
        assert_eq!(
            gate.verify(Some(h.clone()), "secret pw".into()).await,
            Ok(true)
        );
        assert_eq!(
            gate.verify(Some(h.clone()), "wrong".into()).await,
            Ok(false)
        );
        assert_eq!(gate.verify(None, "secret pw".into()).await, Ok(false));
        assert_eq!(gate.dummy_checks(), 1);
        assert_eq!(
            gate.memory.lock().unwrap().len(),
            1,
            "one memory per permit, reused"
        );
        // The only slot is held: the next check gives up after the wait.
        let held = gate.permits.clone().acquire_owned().await.unwrap();
        assert_eq!(gate.verify(Some(h), "secret pw".into()).await, Err(Busy));
        drop(held);
    }

    #[tokio::test]
    async fn overlong_passwords_match_nothing() {
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        let h = mailtrail_domain::credentials::hash_password(&long).unwrap();
        let gate = PasswordGate::new(1, Duration::from_secs(5));
        assert_eq!(gate.verify(Some(h), long).await, Ok(false));
    }
}

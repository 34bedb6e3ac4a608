//! Sign-in attempts per account and per client address, with exponential
//! back-off, in bounded memory.
//!
//! An attempt is counted when it starts, before its password is checked,
//! so that a burst of concurrent guesses cannot all slip in before the
//! first failure is recorded. The first `free` attempts of a key pass at
//! once; from then on each attempt sets a wait of `base × 2^(n − free)`
//! (capped at `max`) before the next one is heard. A correct password
//! clears its account's count and takes its own attempt back from its
//! address's (so people behind one address signing in are not held back,
//! while one's own account cannot reset the count of guesses at others'). A key quiet for `forget`
//! starts over.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The limits.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Attempts per account that pass without waiting.
    pub account_free: u32,
    /// Attempts per client address that pass without waiting; higher than
    /// per account, as many people can share one address (NAT).
    pub address_free: u32,
    /// The first wait; each further attempt doubles it.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
    /// Keys remembered at once; the least recently seen go first.
    pub capacity: usize,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            account_free: 5,
            address_free: 20,
            base: Duration::from_secs(1),
            max: Duration::from_secs(15 * 60),
            capacity: 100_000,
        }
    }
}

/// What attempts are counted under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Key {
    /// The account's address as typed, lower-cased and trimmed (also when
    /// no such account exists, so that refusals do not tell).
    Account(String),
    /// The client's address; an IPv6 client by its /64, the block one
    /// subscriber usually holds.
    Address(IpAddr),
}

/// The keys of an attempt: the account first, then the address if known.
pub(crate) fn keys(account: &str, client: Option<IpAddr>) -> Vec<Key> {
    let mut keys = vec![Key::Account(account.trim().to_lowercase())];
    if let Some(ip) = client {
        keys.push(Key::Address(match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        }));
    }
    keys
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    attempts: u32,
    /// Set once the free attempts are used up. (Not "now" before that:
    /// attempts racing for the lock carry instants a little apart, and an
    /// earlier one must not see a later one's "now" as a wait.)
    next_allowed: Option<Instant>,
    last_seen: Instant,
}

pub(crate) struct Limiter {
    settings: LimitSettings,
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Limiter {
    pub(crate) fn new(settings: LimitSettings) -> Self {
        Self {
            settings,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// A key quiet this long starts over: twice the longest wait.
    fn forget(&self) -> Duration {
        self.settings.max * 2
    }

    fn free(&self, key: &Key) -> u32 {
        match key {
            Key::Account(_) => self.settings.account_free,
            Key::Address(_) => self.settings.address_free,
        }
    }

    /// Counts an attempt under every key, or refuses it with how long to
    /// wait (the longest wait among the keys); a refused attempt is not
    /// counted, so waiting as told is never punished.
    pub(crate) fn attempt(&self, keys: &[Key], now: Instant) -> Result<(), Duration> {
        let Ok(mut entries) = self.entries.lock() else {
            return Ok(());
        };
        let forget = self.forget();
        let wait = keys
            .iter()
            .filter_map(|k| entries.get(k))
            .filter(|e| now.saturating_duration_since(e.last_seen) < forget)
            .filter_map(|e| e.next_allowed)
            .map(|t| t.saturating_duration_since(now))
            .max()
            .unwrap_or(Duration::ZERO);
        if !wait.is_zero() {
            // Whole seconds, rounded up: Retry-After has no fractions.
            return Err(Duration::from_secs(
                wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            ));
        }
        if entries.len() + keys.len() > self.settings.capacity {
            self.evict(&mut entries, now);
        }
        for key in keys {
            let free = self.free(key);
            let e = entries.entry(key.clone()).or_insert(Entry {
                attempts: 0,
                next_allowed: None,
                last_seen: now,
            });
            if now.saturating_duration_since(e.last_seen) >= forget {
                e.attempts = 0;
            }
            e.attempts = e.attempts.saturating_add(1);
            e.last_seen = now;
            e.next_allowed = (e.attempts >= free).then(|| now + self.backoff(e.attempts - free));
        }
        Ok(())
    }

    /// `base × 2^n`, at most `max`.
    fn backoff(&self, n: u32) -> Duration {
        self.settings
            .base
            .checked_mul(1u32.checked_shl(n).unwrap_or(u32::MAX))
            .map_or(self.settings.max, |d| d.min(self.settings.max))
    }

    /// A correct password: the account starts over, and the attempt is
    /// taken back from the address (people sharing an address signing in
    /// are not guessing; failures there still count in full).
    pub(crate) fn succeeded(&self, keys: &[Key]) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        for key in keys {
            match key {
                Key::Account(_) => {
                    entries.remove(key);
                }
                Key::Address(_) => {
                    let free = self.free(key);
                    if let Some(e) = entries.get_mut(key) {
                        e.attempts = e.attempts.saturating_sub(1);
                        if e.attempts < free {
                            e.next_allowed = None;
                        }
                    }
                }
            }
        }
    }

    /// Makes room: drops keys quiet for `forget` and, if still more than
    /// nine tenths full, the least recently seen down to nine tenths, so
    /// that this scan runs once per many inserts.
    fn evict(&self, entries: &mut HashMap<Key, Entry>, now: Instant) {
        let forget = self.forget();
        entries.retain(|_, e| now.saturating_duration_since(e.last_seen) < forget);
        let keep = self.settings.capacity / 10 * 9;
        if entries.len() > keep {
            let mut seen: Vec<Instant> = entries.values().map(|e| e.last_seen).collect();
            seen.sort_unstable();
            let cut = seen[entries.len() - keep];
            entries.retain(|_, e| e.last_seen >= cut);
            // Ties at the cut may keep a few more; never fewer than allowed.
            if entries.len() > keep {
                let extra: Vec<Key> = entries
                    .iter()
                    .filter(|(_, e)| e.last_seen == cut)
                    .map(|(k, _)| k.clone())
                    .take(entries.len() - keep)
                    .collect();
                for k in extra {
                    entries.remove(&k);
                }
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(capacity: usize) -> Limiter {
        Limiter::new(LimitSettings {
            account_free: 3,
            address_free: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            capacity,
        })
    }

    #[test]
    fn attempts_past_the_free_ones_back_off_exponentially() {
        let l = limiter(100);
        let t0 = Instant::now();
        let k = keys("Bob@Example.test ", Some("203.0.113.9".parse().unwrap()));
        assert_eq!(k[0], Key::Account("bob@example.test".into()));
        assert!(l.attempt(&k, t0).is_ok());
        assert!(l.attempt(&k, t0).is_ok());
        // The third attempt passes and sets a wait of 1 s.
        assert!(l.attempt(&k, t0).is_ok());
        assert_eq!(l.attempt(&k, t0), Err(Duration::from_secs(1)));
        assert_eq!(
            l.attempt(&k, t0 + Duration::from_millis(400)),
            Err(Duration::from_secs(1))
        );
        // After the wait: one more, and the wait doubles, then doubles again.
        let t1 = t0 + Duration::from_secs(1);
        assert!(l.attempt(&k, t1).is_ok());
        assert_eq!(l.attempt(&k, t1), Err(Duration::from_secs(2)));
        let t2 = t1 + Duration::from_secs(2);
        assert!(l.attempt(&k, t2).is_ok());
        assert_eq!(l.attempt(&k, t2), Err(Duration::from_secs(4)));
        // Capped at max.
        let mut t = t2;
        for _ in 0..20 {
            t += Duration::from_secs(61);
            assert!(l.attempt(&k, t).is_ok());
        }
        assert_eq!(l.attempt(&k, t), Err(Duration::from_secs(60)));
    }

    #[test]
    fn success_clears_the_account_but_not_the_address() {
        let l = limiter(100);
        let t0 = Instant::now();
        let ip = Some("203.0.113.9".parse().unwrap());
        for i in 0..5 {
            let k = keys(&format!("user{i}@example.test"), ip);
            assert!(l.attempt(&k, t0).is_ok(), "attempt {i}");
        }
        // The address has had its five: another account from it waits.
        let k = keys("mine@example.test", ip);
        assert_eq!(l.attempt(&k, t0), Err(Duration::from_secs(1)));
        // A correct password for one of them takes back only its own
        // attempt: the address is below its free count again, by one.
        l.succeeded(&keys("user0@example.test", ip));
        assert!(l.attempt(&k, t0).is_ok());
        assert_eq!(l.attempt(&k, t0), Err(Duration::from_secs(1)));
        // Another address is not held back by this one.
        assert!(
            l.attempt(
                &keys("mine@example.test", Some("198.51.100.1".parse().unwrap())),
                t0
            )
            .is_ok()
        );
    }

    #[test]
    fn attempts_racing_for_the_lock_do_not_wait_on_each_other() {
        let l = limiter(100);
        let t0 = Instant::now();
        let k = keys("bob@example.test", None);
        assert!(l.attempt(&k, t0 + Duration::from_millis(5)).is_ok());
        // An attempt that took its instant earlier but got the lock later.
        assert!(l.attempt(&k, t0).is_ok());
    }

    #[test]
    fn sign_ins_that_succeed_do_not_use_up_the_address() {
        let l = limiter(100);
        let t0 = Instant::now();
        let ip = Some("203.0.113.9".parse().unwrap());
        for i in 0..50 {
            let k = keys(&format!("user{i}@example.test"), ip);
            assert!(l.attempt(&k, t0).is_ok(), "sign-in {i}");
            l.succeeded(&k);
        }
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let a = keys("x", Some("2001:db8:1:2:aaaa::1".parse().unwrap()));
        let b = keys("x", Some("2001:db8:1:2:bbbb::2".parse().unwrap()));
        assert_eq!(a, b);
        let c = keys("x", Some("2001:db8:1:3::1".parse().unwrap()));
        assert_ne!(a, c);
    }

    #[test]
    fn memory_stays_bounded_and_quiet_keys_are_forgotten() {
        let l = limiter(1_000);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            let _ = l.attempt(
                &keys(&format!("u{i}"), Some(ip)),
                t0 + Duration::from_millis(u64::from(i)),
            );
            assert!(l.len() <= 1_000, "{} keys at {i}", l.len());
        }
        let k = keys("old@example.test", None);
        for _ in 0..10 {
            let _ = l.attempt(&k, t0);
        }
        assert!(l.attempt(&k, t0).is_err());
        assert!(
            l.attempt(&k, t0 + Duration::from_secs(121)).is_ok(),
            "quiet for twice max: forgotten"
        );
    }
}

//! Guarding the sign-in form against floods and guessing.
//!
//! Two defences, both in memory and bounded:
//!
//! - [`gate`]: Argon2 runs on the blocking pool, at most a few at once (one
//!   fewer than the cores, so that one is left to the async runtime), each
//!   in working memory kept between checks; a request that cannot start
//!   within the wait gets 503 with `Retry-After` (RFC 9110 section 10.2.3). Memory under a flood stays at `permits × m` (19 MiB
//!   with the default parameters) instead of growing with the flood.
//! - [`limiter`]: attempts per account and per client address, free up to
//!   a small count and then with exponential back-off; a refused attempt
//!   gets 429 with `Retry-After` (RFC 6585 section 4), even with the right
//!   password, until the back-off has passed.
//!
//! An address without an account is checked against a fixed dummy hash
//! ([`mailtrail_domain::credentials::dummy_hash`]), so both take the same
//! time and the answer does not tell which accounts exist.

pub mod gate;
pub mod limiter;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

pub use gate::Busy;
pub use limiter::LimitSettings;

/// The sign-in guard's settings.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// Password checks running at once; further ones wait. Default: one
    /// fewer than the cores, at least one.
    pub hash_concurrency: usize,
    /// How long a check may wait for its turn before the answer is 503.
    pub hash_wait: Duration,
    /// The attempt limits.
    pub limits: LimitSettings,
}

impl Default for SignInSettings {
    fn default() -> Self {
        Self {
            // One core is left to the async runtime, so that the tracking
            // endpoints and /healthz keep answering while passwords hash.
            hash_concurrency: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).max(1)),
            hash_wait: Duration::from_secs(2),
            limits: LimitSettings::default(),
        }
    }
}

/// The sign-in guard: the hashing gate and the attempt limiter, shared by
/// every request (cheap to clone).
#[derive(Clone)]
pub struct SignIn {
    inner: Arc<Inner>,
}

struct Inner {
    gate: gate::PasswordGate,
    limiter: limiter::Limiter,
}

impl Default for SignIn {
    fn default() -> Self {
        Self::new(&SignInSettings::default())
    }
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn").finish_non_exhaustive()
    }
}

/// Why an attempt was not checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Too many attempts for the account or the address: try again after
    /// this long.
    RateLimited(Duration),
    /// Every password check slot stayed taken for the whole wait.
    Busy,
}

impl SignIn {
    /// A guard with these settings.
    pub fn new(settings: &SignInSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                gate: gate::PasswordGate::new(settings.hash_concurrency, settings.hash_wait),
                limiter: limiter::Limiter::new(settings.limits.clone()),
            }),
        }
    }

    /// One sign-in attempt for `account` (the address as typed, or `None`
    /// when it is not an address at all) from `client`: counted against
    /// both limits, then the password checked against `hash`, the stored
    /// hash of the account, or the dummy hash when there is none. Returns
    /// whether the password matched. A match clears the account's count and
    /// takes the attempt back from the address's.
    pub async fn attempt(
        &self,
        account: &str,
        client: Option<IpAddr>,
        hash: Option<String>,
        password: String,
    ) -> Result<bool, Refused> {
        let keys = limiter::keys(account, client);
        if let Err(wait) = self.inner.limiter.attempt(&keys, std::time::Instant::now()) {
            tracing::warn!(
                signin.account = account,
                client.ip = ?client,
                retry_after.secs = wait.as_secs(),
                "sign-in refused: too many attempts"
            );
            return Err(Refused::RateLimited(wait));
        }
        let matched = self
            .inner
            .gate
            .verify(hash, password)
            .await
            .map_err(|Busy| Refused::Busy)?;
        if matched {
            self.inner.limiter.succeeded(&keys);
        }
        Ok(matched)
    }

    /// Password checks that ran against the dummy hash (an address with
    /// no account); tests use it to see that the slow path was taken.
    pub fn dummy_checks(&self) -> u64 {
        self.inner.gate.dummy_checks()
    }
}

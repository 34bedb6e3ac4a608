//! mailtrail's background flows (DESIGN.md section 4), one module each:
//! each reads the store, builds or reads mail and talks to SMTP or IMAP.
//!
//! - [`delivery`]: claims queued copies, builds and signs each recipient's
//!   copy, hands it to the transport (the sandbox is one, written over the
//!   store) and records the outcome, with backoff and expiry (flow 1).
//! - [`inbound`]: keeps what the SMTP listener and the IMAP poller receive,
//!   then classifies and correlates it into events (flow 3).
//! - [`retention`]: purges detailed history past the retention period.
//! - [`webhooks`]: POSTs each queued event to the endpoints that take it,
//!   signed, with retries on a schedule (flow 8).

pub mod delivery;
pub mod inbound;
pub mod retention;
pub mod webhooks;

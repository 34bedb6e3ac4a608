//! SQL that is the same on SQLite and PostgreSQL, written once.
//!
//! Both sqlx drivers take `$1`-style parameters, and both backends store
//! timestamps as milliseconds and ids as UUIDs, so most statements read the
//! same on both. Each macro here expands, inside a backend's module, to the
//! implementation of one store trait for that backend's type; the queries
//! are then compiled for the backend's own pool, with no dynamic dispatch
//! and no extra round trip. What differs (the delivery queue, folding
//! events, locking, JSON columns, retention in chunks) is written twice,
//! side by side under the same names in `sqlite/` and `postgres/`, and the
//! expansion calls it from the backend's module:
//!
//! - fields `pool` and `signal` ([`EventSignal`](crate::signal::EventSignal));
//! - `write()`, the start of a write transaction (`BEGIN IMMEDIATE` on
//!   SQLite, a plain `BEGIN` on PostgreSQL, whose row locks do the rest);
//! - `apply_events`, the row readers ([`rows!`] defines those that decode
//!   the same on both), and the `*_impl` methods whose SQL differs;
//! - `check_job` and `attach_recipients`;
//! - `delete_events_before` and `delete_processed_inbound_before`;
//! - the [`MessageStore`](crate::MessageStore) methods of the delivery
//!   queue and of storing and reading messages, as inherent methods of
//!   the same names.

mod accounts;
mod dashboard;
mod inbound;
mod messages;
mod rows;
mod sending_domains;
mod sequences;
mod tracking;
mod user_mailboxes;
mod webhooks;

pub(crate) use accounts::account_store;
pub(crate) use dashboard::dashboard_store;
pub(crate) use inbound::inbound_store;
pub(crate) use messages::message_store;
pub(crate) use rows::rows;
pub(crate) use sending_domains::sending_domain_store;
pub(crate) use sequences::sequence_store;
pub(crate) use tracking::tracking_store;
pub(crate) use user_mailboxes::user_mailbox_store;
pub(crate) use webhooks::webhook_store;

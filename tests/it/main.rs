//! The integration tests: one binary, the real server on port 0, real
//! peers (PostgreSQL, Postfix) where users have them.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

#[path = "../support/mod.rs"]
mod support;

mod api;
mod classify;
mod cli;
mod convert;
mod dashboard;
mod delivery;
mod domains;
mod inbound;
mod instrument;
mod mailbox;
mod metrics;
mod openapi;
mod pg_restart;
mod recovery;
mod sandbox;
mod ses;
mod signin;
mod slow_clients;
mod submission;
mod tracking;
mod webhooks;

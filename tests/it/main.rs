//! The integration tests: one binary, the real server on port 0, real
//! peers (PostgreSQL, Postfix) where users have them.

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
mod metrics;
mod openapi;
mod pg_restart;
mod recovery;
mod sandbox;
mod ses;
mod signin;
mod slow_clients;
mod tracking;
mod webhooks;

//! The PostgreSQL backend (DESIGN.md section 9): several mailtrail nodes
//! share one database.
//!
//! Concurrency rests on row locks, not on a single writer: the job queue is
//! claimed with `FOR UPDATE SKIP LOCKED` (two nodes never take the same job
//! and never wait for each other), and every status update first locks the
//! recipient rows it changes (`SELECT ... FOR UPDATE`, in id order so that
//! two batches cannot deadlock), so concurrent events fold one after the
//! other instead of overwriting each other.

mod dashboard;
mod events;
mod inbound;
mod messages;
mod rows;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use async_trait::async_trait;
use mailtrail_domain::{EmailAddress, EventKind, RecipientState, Status};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::columns::{self, MESSAGE_COLS, RECIPIENT_COLS, STATE_COLS, from_ms, to_ms};
use crate::fold::Folding;
use crate::model::*;
use crate::prelude::*;
use events::apply_events;
use messages::{attach_recipients, check_job};
use rows::*;

/// A [`Store`] on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    signal: crate::signal::EventSignal,
}

impl PgStore {
    /// Connects to the database named by a `postgres://` URL. Does not
    /// migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(PgConnectOptions::from_str(url)?).await
    }

    /// Connects with options built by the caller (e.g. a test that created
    /// a fresh database). Does not migrate.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(options.application_name("mailtrail"))
            .await?;
        Ok(Self {
            pool,
            signal: crate::signal::EventSignal::new(),
        })
    }

    /// The connection pool, for tools and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction. Concurrent writers are ordered by the
    /// row locks each statement takes, not by the transaction's start.
    async fn write(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Deletes the events recorded before `before`.
    /// Webhook deliveries that are no longer waiting go with them (their
    /// attempts cascade); pending ones stay until they are done.
    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1 AND state <> 'pending'")
            .bind(to_ms(before))
            .execute(&self.pool)
            .await?;
        let done = sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(to_ms(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Deletes the processed inbound messages received before `before`.
    async fn delete_processed_inbound_before(
        &self,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM inbound_messages WHERE processed AND received_at < $1")
            .bind(to_ms(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

crate::portable::account_store!(PgStore);
crate::portable::dashboard_store!(PgStore, sqlx::Postgres);
crate::portable::inbound_store!(PgStore);
crate::portable::message_store!(PgStore);
crate::portable::sending_domain_store!(PgStore, sqlx::Postgres);
crate::portable::user_mailbox_store!(PgStore, sqlx::Postgres);
crate::portable::tracking_store!(PgStore);
crate::portable::sequence_store!(PgStore, sqlx::Postgres);
crate::portable::webhook_store!(
    PgStore,
    sqlx::Postgres,
    lock = "FOR UPDATE OF d SKIP LOCKED",
    metadata = "m.metadata::text"
);

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

//! The embedded SQLite backend (DESIGN.md section 9: the default).
//!
//! One file in WAL mode, so readers never wait for the writer. SQLite has a
//! single writer: every transaction that writes starts with
//! `BEGIN IMMEDIATE`, which takes the write lock up front and waits for it
//! (busy timeout) instead of failing with `SQLITE_BUSY` when a read
//! transaction tries to upgrade. That is also what makes `claim_jobs` safe
//! with several workers in one process.

mod dashboard;
mod events;
mod inbound;
mod messages;
mod rows;
mod search;

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use mailtrail_domain::{EmailAddress, EventKind, RecipientState, Status};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
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
use search::messages_query;

/// How long a statement waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows per `IN (...)` list: far below SQLite's bound-parameter limit.
const IN_CHUNK: usize = 500;

/// Events deleted per purge transaction, so that retention never holds the
/// single write lock for long.
const PURGE_CHUNK: i64 = 5_000;

/// A [`Store`] on a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    signal: crate::signal::EventSignal,
}

impl SqliteStore {
    /// Opens (creating if missing) the database named by a `sqlite://PATH`
    /// URL, in WAL mode with foreign keys enforced. Does not migrate.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged message or event survives power loss,
            // not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let pool = if in_memory {
            // Each connection to `:memory:` is its own database: keep one,
            // forever.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?
        } else {
            SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await?
        };
        Ok(Self {
            pool,
            signal: crate::signal::EventSignal::new(),
        })
    }

    /// The connection pool, for tools and tests.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection (checkpointing the WAL).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

crate::portable::account_store!(SqliteStore);
crate::portable::dashboard_store!(SqliteStore, sqlx::Sqlite);
crate::portable::inbound_store!(SqliteStore);
crate::portable::message_store!(SqliteStore);
crate::portable::sending_domain_store!(SqliteStore, sqlx::Sqlite);
crate::portable::user_mailbox_store!(SqliteStore, sqlx::Sqlite);
crate::portable::tracking_store!(SqliteStore);
crate::portable::sequence_store!(SqliteStore, sqlx::Sqlite);
crate::portable::webhook_store!(
    SqliteStore,
    sqlx::Sqlite,
    lock = "",
    metadata = "m.metadata"
);

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

impl SqliteStore {
    /// Deletes the events recorded before `before`, in chunks.
    /// Webhook deliveries that are no longer waiting go with them (their
    /// attempts cascade); pending ones stay until they are done.
    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.purge_in_chunks(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries \
             WHERE created_at < ? AND state <> 'pending' LIMIT ?)",
            before,
        )
        .await?;
        self.purge_in_chunks(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? LIMIT ?)",
            before,
        )
        .await
    }

    /// Deletes the processed inbound messages received before `before`, in
    /// chunks.
    async fn delete_processed_inbound_before(
        &self,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        // Found through the (processed, id) index, filtered by arrival.
        self.purge_in_chunks(
            "DELETE FROM inbound_messages WHERE id IN (SELECT id FROM inbound_messages \
             WHERE processed = 1 AND received_at < ? ORDER BY processed, id LIMIT ?)",
            before,
        )
        .await
    }

    /// Runs `delete` (binding `before` in milliseconds, then the chunk
    /// size) until it deletes less than a chunk: each round a short write
    /// transaction, so a large purge never holds the single writer for
    /// long. Returns how many rows went.
    async fn purge_in_chunks(
        &self,
        delete: &'static str,
        before: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let before = to_ms(before);
        let mut total = 0;
        loop {
            let done = sqlx::query(delete)
                .bind(before)
                .bind(PURGE_CHUNK)
                .execute(&self.pool)
                .await?;
            total += done.rows_affected();
            if done.rows_affected() < u64::try_from(PURGE_CHUNK).unwrap_or(u64::MAX) {
                return Ok(total);
            }
        }
    }
}

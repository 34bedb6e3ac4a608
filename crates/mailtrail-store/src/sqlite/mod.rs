//! The embedded SQLite backend (DESIGN.md section 9: the default).
//!
//! One file in WAL mode, so readers never wait for the writer. SQLite has a
//! single writer: every transaction that writes starts with
//! `BEGIN IMMEDIATE`, which takes the write lock up front and waits for it
//! (busy timeout) instead of failing with `SQLITE_BUSY` when a read
//! transaction tries to upgrade. That is also what makes `claim_jobs` safe
//! with several workers in one process.

mod dashboard;
mod inbound;

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

fn organisation_row(r: &SqliteRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        read_receipt_default: r.try_get("read_receipt_default")?,
        track_opens_default: r.try_get("track_opens_default")?,
        track_clicks_default: r.try_get("track_clicks_default")?,
    })
}

fn user_row(r: &SqliteRow) -> Result<User, StoreError> {
    Ok(User {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        email: columns::address(r.try_get("email")?)?,
        password_hash: r.try_get("password_hash")?,
        is_admin: r.try_get("is_admin")?,
        created_at: from_ms(r.try_get("created_at")?)?,
    })
}

/// A `sandbox_copies` row (id, message_id, recipient_id, address,
/// captured_at, raw).
fn sandbox_copy_row(r: &SqliteRow) -> Result<SandboxCopy, StoreError> {
    let raw: Vec<u8> = r.try_get("raw")?;
    Ok(SandboxCopy {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        recipient_id: r.try_get("recipient_id")?,
        address: r.try_get("address")?,
        captured_at: from_ms(r.try_get("captured_at")?)?,
        raw: String::from_utf8_lossy(&raw).into_owned(),
    })
}

fn message_row(r: &SqliteRow) -> Result<Message, StoreError> {
    Ok(Message {
        id: r.try_get("id")?,
        message_id: columns::message_id(r.try_get("message_id")?)?,
        from_address: columns::address(r.try_get("from_address")?)?,
        from_name: r.try_get("from_name")?,
        subject: r.try_get("subject")?,
        read_receipt: r.try_get("read_receipt")?,
        metadata: columns::json(r.try_get("metadata")?, "metadata")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        recipients: Vec::new(),
    })
}

/// A recipient and the id of its message.
fn recipient_row(r: &SqliteRow) -> Result<(Uuid, Recipient), StoreError> {
    let recipient = Recipient {
        id: r.try_get("id")?,
        address: columns::address(r.try_get("address")?)?,
        kind: columns::recipient_kind(r.try_get("kind")?)?,
        status: columns::status(r.try_get("status")?)?,
        status_reason: columns::reason_from_columns(
            r.try_get("reason_smtp_code")?,
            r.try_get("reason_enhanced_status")?,
            r.try_get("reason_name")?,
            r.try_get("reason_text")?,
        ),
        updated_at: from_ms(r.try_get("updated_at")?)?,
        opens: columns::count(r.try_get("opens")?),
        machine_opens: columns::count(r.try_get("machine_opens")?),
        clicks: columns::count(r.try_get("clicks")?),
        first_open_at: r
            .try_get::<Option<i64>, _>("first_open_at")?
            .map(from_ms)
            .transpose()?,
        first_open_implied: r.try_get("first_open_implied")?,
        implied_opens: columns::count(r.try_get("implied_opens")?),
        links: Vec::new(),
        events: Vec::new(),
    };
    Ok((r.try_get("message_id")?, recipient))
}

/// An event and the id of its recipient.
fn event_row(r: &SqliteRow) -> Result<(Uuid, Event), StoreError> {
    let reason: Option<String> = r.try_get("reason")?;
    let event = Event {
        id: r.try_get("id")?,
        kind: columns::event_kind(r.try_get("kind")?)?,
        at: from_ms(r.try_get("at")?)?,
        opener: columns::opener(r.try_get("opener")?)?,
        reason: reason
            .map(|s| columns::json(&s, "event reason"))
            .transpose()?,
        data: columns::json(r.try_get("data")?, "event data")?,
    };
    Ok((r.try_get("recipient_id")?, event))
}

fn state_row(r: &SqliteRow) -> Result<(Uuid, Folding), StoreError> {
    let state = RecipientState {
        status: columns::status(r.try_get("status")?)?,
        reason: columns::reason_from_columns(
            r.try_get("reason_smtp_code")?,
            r.try_get("reason_enhanced_status")?,
            r.try_get("reason_name")?,
            r.try_get("reason_text")?,
        ),
        updated_at: from_ms(r.try_get("updated_at")?)?,
        opens: columns::count(r.try_get("opens")?),
        machine_opens: columns::count(r.try_get("machine_opens")?),
        clicks: columns::count(r.try_get("clicks")?),
        first_open_at: r
            .try_get::<Option<i64>, _>("first_open_at")?
            .map(from_ms)
            .transpose()?,
        first_open_implied: r.try_get("first_open_implied")?,
        implied_opens: columns::count(r.try_get("implied_opens")?),
    };
    let folding = Folding {
        message_id: r.try_get("message_id")?,
        org_id: r.try_get("org_id")?,
        state,
    };
    Ok((r.try_get("id")?, folding))
}

/// Most rows per multi-row event INSERT (9 parameters each, far below
/// SQLite's 32766-parameter limit). A power of two: see [`insert_chunks`].
const EVENT_INSERT_CHUNK: usize = 256;

/// Most recipients per `SELECT … WHERE id IN (…)` of their state when
/// folding events; a power of two (see [`chunk_lengths`]).
const STATE_CHUNK: usize = 512;

/// The lengths `n` rows are inserted in: as many full chunks of
/// `EVENT_INSERT_CHUNK` as fit, then the rest as descending powers of two.
///
/// Each length is its own SQL text, prepared by SQLite and kept in the
/// connection's statement cache. With any remainder as one statement, a
/// fold of 137 events prepared an INSERT of 137 rows that no later fold
/// reused (parsing and planning about a thousand parameters each time);
/// with these lengths there are only nine texts, all cached after the first
/// few folds, at the price of at most eight statements for the remainder.
fn insert_chunks(n: usize) -> impl Iterator<Item = usize> {
    chunk_lengths(n, EVENT_INSERT_CHUNK)
}

/// `n` split into chunks of `max` (a power of two), then descending powers
/// of two; see [`insert_chunks`].
fn chunk_lengths(n: usize, max: usize) -> impl Iterator<Item = usize> {
    debug_assert!(max.is_power_of_two());
    let full = n / max;
    let rest = n % max;
    std::iter::repeat_n(max, full).chain(
        (0..usize::BITS)
            .rev()
            .map(|b| 1usize << b)
            .filter(move |bit| rest & bit != 0),
    )
}

/// Records `events` and folds them into their recipients' cached status,
/// inside the caller's write transaction. An event id seen before is
/// ignored, so a batch retried after an unclear commit counts nothing twice.
/// With `skip_missing`, events for unknown recipients are dropped (logged);
/// otherwise they fail the whole transaction.
async fn apply_events(
    conn: &mut SqliteConnection,
    events: &[NewEvent],
    skip_missing: bool,
) -> Result<(), StoreError> {
    let mut ids: Vec<Uuid> = events.iter().map(|e| e.recipient_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut states: HashMap<Uuid, Folding> = HashMap::with_capacity(ids.len());
    // Lengths from `chunk_lengths`: each `IN (…)` list length is its own
    // cached statement, as for the inserts.
    let mut rest = ids.as_slice();
    for len in chunk_lengths(ids.len(), STATE_CHUNK) {
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {STATE_COLS} FROM recipients WHERE id IN ("
        ));
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        for row in qb.build().fetch_all(&mut *conn).await? {
            let (id, state) = state_row(&row)?;
            states.insert(id, state);
        }
    }
    // Events of known recipients, inserted with one multi-row statement per
    // chunk (a statement per event made group commit CPU-bound); RETURNING
    // says which ids were new, so a retried batch counts nothing twice.
    let mut known: Vec<&NewEvent> = Vec::with_capacity(events.len());
    for ev in events {
        if states.contains_key(&ev.recipient_id) {
            known.push(ev);
        } else if skip_missing {
            tracing::warn!(
                recipient.id = %ev.recipient_id,
                event.kind = %ev.kind,
                "event for an unknown recipient dropped"
            );
        } else {
            return Err(StoreError::NotFound("recipient"));
        }
    }
    let mut inserted = insert_events(&mut *conn, &known, &states).await?;
    let mut touched: HashSet<Uuid> = HashSet::with_capacity(states.len());
    let mut implied: Vec<NewEvent> = Vec::new();
    let mut links = crate::fold::LinkTally::default();
    for ev in known {
        // `remove`: an id repeated inside the batch is applied once.
        if inserted.remove(&ev.id)
            && let Some(state) = states.get_mut(&ev.recipient_id)
        {
            implied.extend(state.state.apply(ev));
            links.note(ev);
            touched.insert(ev.recipient_id);
        }
    }
    // Opens implied by clicks, inserted in the same transaction; already
    // counted by `apply`.
    let implied: Vec<&NewEvent> = implied.iter().collect();
    insert_events(&mut *conn, &implied, &states).await?;
    for ((recipient_id, url), (clicks, machine, first, last)) in links.links {
        sqlx::query(
            "INSERT INTO recipient_links (recipient_id, url, clicks, machine_clicks, \
             first_clicked_at, last_clicked_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (recipient_id, url) DO UPDATE SET \
             clicks = clicks + excluded.clicks, machine_clicks = machine_clicks + excluded.machine_clicks, \
             first_clicked_at = min(first_clicked_at, excluded.first_clicked_at), \
             last_clicked_at = max(last_clicked_at, excluded.last_clicked_at)",
        )
        .bind(recipient_id)
        .bind(url)
        .bind(clicks)
        .bind(machine)
        .bind(first)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    }
    for id in touched {
        let Some(s) = states.get(&id).map(|f| &f.state) else {
            continue;
        };
        let r = s.reason.clone().unwrap_or_default();
        sqlx::query(
            "UPDATE recipients SET status = ?, reason_smtp_code = ?, reason_enhanced_status = ?, \
             reason_name = ?, reason_text = ?, updated_at = ?, opens = ?, machine_opens = ?, \
             clicks = ?, first_open_at = ?, first_open_implied = ?, implied_opens = ? WHERE id = ?",
        )
        .bind(s.status.as_str())
        .bind(r.smtp_code.map(i64::from))
        .bind(r.enhanced_status)
        .bind(r.reason)
        .bind(r.text)
        .bind(to_ms(s.updated_at))
        .bind(columns::stored_count(s.opens))
        .bind(columns::stored_count(s.machine_opens))
        .bind(columns::stored_count(s.clicks))
        .bind(s.first_open_at.map(to_ms))
        .bind(s.first_open_implied)
        .bind(columns::stored_count(s.implied_opens))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Inserts events of known recipients with one multi-row statement per
/// chunk (a statement per event made group commit CPU-bound). Returns the
/// ids that were new: an id seen before, or a second `unsubscribed` event
/// of a recipient (a unique index), inserts nothing, so a retried batch or
/// a repeated one-click POST counts nothing twice.
async fn insert_events(
    conn: &mut SqliteConnection,
    events: &[&NewEvent],
    states: &HashMap<Uuid, Folding>,
) -> Result<HashSet<Uuid>, StoreError> {
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(events.len());
    // Rows of known recipients only, so that each chunk has its planned
    // length (and its cached statement).
    let events: Vec<(&NewEvent, &Folding)> = events
        .iter()
        .filter_map(|ev| Some((*ev, states.get(&ev.recipient_id)?)))
        .collect();
    let mut rest = events.as_slice();
    for len in insert_chunks(events.len()) {
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (id, recipient_id, message_id, org_id, kind, at, opener, reason, data) ",
        );
        let mut rows = Vec::with_capacity(chunk.len());
        for &(ev, state) in chunk {
            let reason = ev
                .reason
                .as_ref()
                .map(crate::columns::to_json)
                .transpose()?;
            rows.push((
                ev,
                state.message_id,
                state.org_id,
                reason,
                columns::to_json(&ev.data)?,
            ));
        }
        qb.push_values(rows, |mut b, (ev, message_id, org_id, reason, data)| {
            b.push_bind(ev.id)
                .push_bind(ev.recipient_id)
                .push_bind(message_id)
                .push_bind(org_id)
                .push_bind(ev.kind.as_str())
                .push_bind(to_ms(ev.at))
                .push_bind(ev.opener.map(|o| o.to_string()))
                .push_bind(reason)
                .push_bind(data);
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING id");
        for row in qb.build().fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get::<Uuid, _>(0)?);
        }
    }
    Ok(inserted)
}

/// The recipient of a job, or `NotFound("job")` when the job is gone or
/// belongs to another recipient than the event.
async fn job_recipient(
    conn: &mut SqliteConnection,
    job_id: Uuid,
    event: &NewEvent,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT recipient_id FROM jobs WHERE id = ?")
        .bind(job_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound("job"))?;
    let recipient: Uuid = row.try_get("recipient_id")?;
    if recipient != event.recipient_id {
        return Err(StoreError::NotFound("job"));
    }
    Ok(())
}

/// Matches the trigram indexes may return before a search is left to the
/// plain scan: text that common is found within the first rows walked.
const SEARCH_CANDIDATES: usize = 5_000;

/// What the trigram indexes (migration 0011) narrowed a search to: the
/// rowids of messages whose subject, and the ids of messages with a
/// recipient whose address, may contain the searched text. `None` where
/// the index does not help: text shorter than a trigram, or so common that
/// walking the newest messages finds a page at once.
#[derive(Debug, Default)]
struct Narrowed {
    subject: Option<Vec<i64>>,
    recipient: Option<Vec<Uuid>>,
}

/// An FTS5 phrase holding `text` literally (double quotes doubled). With
/// the trigram tokenizer a phrase matches any value containing the text,
/// ignoring case; the caller's LIKE then decides exactly.
fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `SELECT … FROM messages m WHERE m.org_id = ?` with every filter but the
/// statuses and the cursor, ready for more conditions.
fn messages_query(
    org_id: Uuid,
    filter: &MessageFilter,
    narrowed: &Narrowed,
) -> QueryBuilder<'static, Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {MESSAGE_COLS} FROM messages m WHERE m.org_id = "
    ));
    qb.push_bind(org_id);
    if let Some(since) = filter.since {
        qb.push(" AND m.created_at >= ").push_bind(to_ms(since));
    }
    if let Some(until) = filter.until {
        qb.push(" AND m.created_at < ").push_bind(to_ms(until));
    }
    if let Some(subject) = &filter.subject {
        // SQLite's LIKE ignores case (for ASCII letters).
        qb.push(" AND m.subject LIKE ")
            .push_bind(crate::search::contains_pattern(subject))
            .push(" ESCAPE '\\'");
    }
    if let Some(rowids) = &narrowed.subject {
        qb.push(" AND m.rowid IN (");
        let mut sep = qb.separated(", ");
        for r in rowids {
            sep.push_bind(*r);
        }
        qb.push(")");
    }
    if let Some(ids) = &narrowed.recipient {
        qb.push(" AND m.id IN (");
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        qb.push(")");
    }
    if let Some(recipient) = &filter.recipient {
        qb.push(
            " AND EXISTS (SELECT 1 FROM recipients ra WHERE ra.message_id = m.id \
             AND ra.address_norm LIKE ",
        )
        .push_bind(crate::search::contains_pattern(&recipient.to_lowercase()))
        .push(" ESCAPE '\\')");
    }
    qb
}

/// Candidate messages read from the status index per round of a status
/// filter: enough for a page when most candidates pass the other filters.
const STATUS_CANDIDATES: i64 = 200;

impl SqliteStore {
    /// Asks the trigram indexes for the messages a subject or recipient
    /// search can match (see [`Narrowed`]).
    async fn narrow(&self, filter: &MessageFilter) -> Result<Narrowed, StoreError> {
        let mut narrowed = Narrowed::default();
        let wanted = |text: &Option<String>| {
            text.as_deref()
                .filter(|t| t.chars().count() >= 3)
                .map(fts_phrase)
        };
        let limit = SEARCH_CANDIDATES as i64 + 1;
        if let Some(phrase) = wanted(&filter.subject) {
            let rowids: Vec<i64> = sqlx::query_scalar(
                "SELECT rowid FROM messages_subject_fts WHERE messages_subject_fts MATCH ? LIMIT ?",
            )
            .bind(phrase)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            if rowids.len() <= SEARCH_CANDIDATES {
                narrowed.subject = Some(rowids);
            }
        }
        if let Some(phrase) = wanted(&filter.recipient.as_ref().map(|r| r.to_lowercase())) {
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "SELECT message_id FROM recipients WHERE rowid IN (SELECT rowid FROM \
                 recipients_address_fts WHERE recipients_address_fts MATCH ? LIMIT ?)",
            )
            .bind(phrase)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            if ids.len() <= SEARCH_CANDIDATES {
                narrowed.recipient = Some(ids);
            }
        }
        Ok(narrowed)
    }

    /// A page of messages having a recipient in one of `filter.statuses`.
    ///
    /// Walking `messages` newest first and probing each one's recipients
    /// costs time in inverse proportion to how common the status is: a
    /// status held by one message in 100,000 (complaints) or by none would
    /// read the whole table. This walks `recipients(org_id, status,
    /// message_id)` instead: for each wanted status the newest distinct
    /// message ids below the cursor (a backward range scan that stops after
    /// `STATUS_CANDIDATES`), merged; then those messages are read by key
    /// with the other filters applied. The newest page is in the union of
    /// each status's newest candidates, so rounds continue below the oldest
    /// candidate only while the other filters reject too many.
    async fn list_by_status(
        &self,
        org_id: Uuid,
        filter: &MessageFilter,
        limit: i64,
        narrowed: &Narrowed,
    ) -> Result<Vec<Message>, StoreError> {
        let mut statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        let mut out = Vec::new();
        let mut cursor = filter.before_id;
        loop {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT message_id FROM (");
            for (i, status) in statuses.iter().enumerate() {
                if i > 0 {
                    qb.push(" UNION SELECT message_id FROM (");
                }
                qb.push("SELECT DISTINCT message_id FROM recipients WHERE org_id = ")
                    .push_bind(org_id)
                    .push(" AND status = ")
                    .push_bind(*status);
                if let Some(before) = cursor {
                    qb.push(" AND message_id < ").push_bind(before);
                }
                qb.push(" ORDER BY message_id DESC LIMIT ")
                    .push_bind(STATUS_CANDIDATES)
                    .push(")");
            }
            qb.push(" ORDER BY message_id DESC LIMIT ")
                .push_bind(STATUS_CANDIDATES);
            let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(&self.pool).await?;
            let Some(&oldest) = ids.last() else {
                break;
            };
            let mut qb = messages_query(org_id, filter, narrowed);
            qb.push(" AND m.id IN (");
            let mut sep = qb.separated(", ");
            for id in &ids {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY m.id DESC LIMIT ")
                .push_bind(limit - out.len() as i64);
            let rows = qb.build().fetch_all(&self.pool).await?;
            for r in &rows {
                out.push(message_row(r)?);
            }
            if out.len() as i64 >= limit || (ids.len() as i64) < STATUS_CANDIDATES {
                break;
            }
            cursor = Some(oldest);
        }
        Ok(out)
    }
}

/// Loads the recipients of `messages` into them, in order.
async fn attach_recipients(pool: &SqlitePool, messages: &mut [Message]) -> Result<(), StoreError> {
    let mut by_id: HashMap<Uuid, usize> = HashMap::with_capacity(messages.len());
    for (i, m) in messages.iter().enumerate() {
        by_id.insert(m.id, i);
    }
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
    for chunk in ids.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {RECIPIENT_COLS} FROM recipients WHERE message_id IN ("
        ));
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(") ORDER BY message_id, position");
        for row in qb.build().fetch_all(pool).await? {
            let (message_id, recipient) = recipient_row(&row)?;
            if let Some(i) = by_id.get(&message_id) {
                messages[*i].recipients.push(recipient);
            }
        }
    }
    Ok(())
}

fn lease_ms(lease: time::Duration) -> i64 {
    i64::try_from(lease.whole_milliseconds()).unwrap_or(i64::MAX)
}

crate::portable::account_store!(SqliteStore);
crate::portable::dashboard_store!(SqliteStore, sqlx::Sqlite);
crate::portable::inbound_store!(SqliteStore);
crate::portable::sending_domain_store!(SqliteStore, sqlx::Sqlite);
crate::portable::tracking_store!(SqliteStore);

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

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_message(&self, msg: &NewMessage) -> Result<Inserted, StoreError> {
        let mut tx = self.write().await?;
        if let Some(key) = &msg.idempotency_key
            && let Some(row) =
                sqlx::query("SELECT id FROM messages WHERE org_id = ? AND idempotency_key = ?")
                    .bind(msg.org_id)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?
        {
            return Ok(Inserted::Existing(row.try_get("id")?));
        }
        let created = to_ms(msg.created_at);
        sqlx::query(
            "INSERT INTO messages (id, org_id, user_id, message_id, from_address, from_name, \
             reply_to, subject, content, read_receipt, track_opens, track_clicks, metadata, \
             idempotency_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(msg.id)
        .bind(msg.org_id)
        .bind(msg.user_id)
        .bind(msg.message_id.as_str())
        .bind(msg.from_address.as_str())
        .bind(&msg.from_name)
        .bind(msg.reply_to.as_ref().map(|a| a.as_str().to_owned()))
        .bind(&msg.subject)
        .bind(columns::to_json(&msg.content)?)
        .bind(msg.read_receipt)
        .bind(msg.track_opens)
        .bind(msg.track_clicks)
        .bind(columns::to_json(&msg.metadata)?)
        .bind(&msg.idempotency_key)
        .bind(created)
        .execute(&mut *tx)
        .await
        .map_err(|e| crate::error::constraint(e, "message", "organisation or user"))?;

        let norms: Vec<String> = msg
            .recipients
            .iter()
            .map(|r| r.address.normalized())
            .collect();
        let mut suppressed: HashSet<String> = HashSet::new();
        for chunk in norms.chunks(IN_CHUNK) {
            let mut qb =
                QueryBuilder::<Sqlite>::new("SELECT address FROM suppressions WHERE org_id = ");
            qb.push_bind(msg.org_id).push(" AND address IN (");
            let mut sep = qb.separated(", ");
            for a in chunk {
                sep.push_bind(a.clone());
            }
            qb.push(")");
            for row in qb.build().fetch_all(&mut *tx).await? {
                suppressed.insert(row.try_get("address")?);
            }
        }

        for (position, (r, norm)) in msg.recipients.iter().zip(norms).enumerate() {
            let is_suppressed = suppressed.contains(&norm);
            let kind = if is_suppressed {
                EventKind::Suppressed
            } else {
                EventKind::Queued
            };
            let status = Status::Queued.apply(kind, None);
            sqlx::query(
                "INSERT INTO recipients (id, message_id, org_id, position, address, address_norm, \
                 kind, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(r.id)
            .bind(msg.id)
            .bind(msg.org_id)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(r.address.as_str())
            .bind(&norm)
            .bind(r.kind.as_str())
            .bind(status.as_str())
            .bind(created)
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::error::constraint(e, "recipient", "message"))?;
            sqlx::query(
                "INSERT INTO events (id, recipient_id, message_id, org_id, kind, at, data) \
                 VALUES (?, ?, ?, ?, ?, ?, '{}')",
            )
            .bind(Uuid::now_v7())
            .bind(r.id)
            .bind(msg.id)
            .bind(msg.org_id)
            .bind(kind.as_str())
            .bind(created)
            .execute(&mut *tx)
            .await?;
            if !is_suppressed {
                sqlx::query(
                    "INSERT INTO jobs (id, recipient_id, message_id, run_at) VALUES (?, ?, ?, ?)",
                )
                .bind(Uuid::now_v7())
                .bind(r.id)
                .bind(msg.id)
                .bind(created)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        self.signal.bump();
        Ok(Inserted::Created(msg.id))
    }

    async fn claim_jobs(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = to_ms(now);
        let mut tx = self.write().await?;
        let rows = sqlx::query(
            "UPDATE jobs SET locked_by = ?, locked_until = ? WHERE id IN ( \
               SELECT id FROM jobs WHERE run_at <= ? \
               AND (locked_until IS NULL OR locked_until <= ?) \
               ORDER BY run_at, id LIMIT ?) \
             RETURNING id, message_id, recipient_id, attempts, run_at",
        )
        .bind(worker)
        .bind(now.saturating_add(lease_ms(lease)))
        .bind(now)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let run_at: i64 = r.try_get("run_at")?;
            let attempts: i64 = r.try_get("attempts")?;
            let job = Job {
                id: r.try_get("id")?,
                message_id: r.try_get("message_id")?,
                recipient_id: r.try_get("recipient_id")?,
                attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
            };
            jobs.push((run_at, job));
        }
        jobs.sort_by_key(|(run_at, job)| (*run_at, job.id));
        Ok(jobs.into_iter().map(|(_, j)| j).collect())
    }

    async fn outbound_message(&self, id: Uuid) -> Result<Option<OutboundMessage>, StoreError> {
        let Some(m) = sqlx::query("SELECT * FROM messages WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT id, address, kind FROM recipients WHERE message_id = ? ORDER BY position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut recipients = Vec::with_capacity(rows.len());
        for r in rows {
            recipients.push((
                r.try_get("id")?,
                columns::address(r.try_get("address")?)?,
                columns::recipient_kind(r.try_get("kind")?)?,
            ));
        }
        let reply_to: Option<String> = m.try_get("reply_to")?;
        Ok(Some(OutboundMessage {
            id,
            org_id: m.try_get("org_id")?,
            message_id: columns::message_id(m.try_get("message_id")?)?,
            from_address: columns::address(m.try_get("from_address")?)?,
            from_name: m.try_get("from_name")?,
            reply_to: reply_to
                .as_deref()
                .map(crate::columns::address)
                .transpose()?,
            subject: m.try_get("subject")?,
            content: columns::json(m.try_get("content")?, "content")?,
            read_receipt: m.try_get("read_receipt")?,
            track_opens: m.try_get("track_opens")?,
            track_clicks: m.try_get("track_clicks")?,
            created_at: from_ms(m.try_get("created_at")?)?,
            recipients,
        }))
    }

    async fn complete_job(&self, job_id: Uuid, event: &NewEvent) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        job_recipient(&mut tx, job_id, event).await?;
        apply_events(&mut tx, std::slice::from_ref(event), false).await?;
        sqlx::query("DELETE FROM jobs WHERE id = ?")
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.signal.bump();
        Ok(())
    }

    async fn complete_jobs(&self, done: &[(Uuid, NewEvent)]) -> Result<usize, StoreError> {
        if done.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let mut kept = Vec::with_capacity(done.len());
        for (job_id, event) in done {
            match job_recipient(&mut tx, *job_id, event).await {
                Ok(()) => kept.push((*job_id, event.clone())),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let events: Vec<NewEvent> = kept.iter().map(|(_, e)| e.clone()).collect();
        apply_events(&mut tx, &events, false).await?;
        for (job_id, _) in &kept {
            sqlx::query("DELETE FROM jobs WHERE id = ?")
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.signal.bump();
        Ok(kept.len())
    }

    async fn retry_job(
        &self,
        job_id: Uuid,
        event: &NewEvent,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        job_recipient(&mut tx, job_id, event).await?;
        apply_events(&mut tx, std::slice::from_ref(event), false).await?;
        sqlx::query(
            "UPDATE jobs SET run_at = ?, attempts = attempts + 1, locked_by = NULL, \
             locked_until = NULL WHERE id = ?",
        )
        .bind(to_ms(retry_at))
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.signal.bump();
        Ok(())
    }

    async fn message(&self, org_id: Uuid, id: Uuid) -> Result<Option<Message>, StoreError> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE id = ? AND org_id = ?"
        ))
        .bind(id)
        .bind(org_id)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut message = message_row(&row)?;
        attach_recipients(&self.pool, std::slice::from_mut(&mut message)).await?;
        let rows = sqlx::query(
            "SELECT id, recipient_id, kind, at, opener, reason, data FROM events \
             WHERE recipient_id IN (SELECT id FROM recipients WHERE message_id = ?) \
             ORDER BY at, id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let index: HashMap<Uuid, usize> = message
            .recipients
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id, i))
            .collect();
        for r in rows {
            let (recipient_id, event) = event_row(&r)?;
            if let Some(i) = index.get(&recipient_id) {
                message.recipients[*i].events.push(event);
            }
        }
        let links = sqlx::query(
            "SELECT recipient_id, url, clicks, machine_clicks, first_clicked_at, last_clicked_at \
             FROM recipient_links \
             WHERE recipient_id IN (SELECT id FROM recipients WHERE message_id = ?) \
             ORDER BY first_clicked_at, url",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        for r in links {
            let recipient_id: Uuid = r.try_get("recipient_id")?;
            if let Some(i) = index.get(&recipient_id) {
                message.recipients[*i].links.push(LinkClicks {
                    url: r.try_get("url")?,
                    clicks: columns::count(r.try_get("clicks")?),
                    machine_clicks: columns::count(r.try_get("machine_clicks")?),
                    first_clicked_at: from_ms(r.try_get("first_clicked_at")?)?,
                    last_clicked_at: from_ms(r.try_get("last_clicked_at")?)?,
                });
            }
        }
        Ok(Some(message))
    }

    async fn list_messages(
        &self,
        org_id: Uuid,
        filter: &MessageFilter,
    ) -> Result<Vec<Message>, StoreError> {
        let limit = crate::search::page_size(filter.limit);
        let narrowed = self.narrow(filter).await?;
        let mut messages = if filter.statuses.is_empty() {
            let mut qb = messages_query(org_id, filter, &narrowed);
            if let Some(before) = filter.before_id {
                qb.push(" AND m.id < ").push_bind(before);
            }
            qb.push(" ORDER BY m.id DESC LIMIT ").push_bind(limit);
            let rows = qb.build().fetch_all(&self.pool).await?;
            rows.iter()
                .map(message_row)
                .collect::<Result<Vec<_>, _>>()?
        } else {
            self.list_by_status(org_id, filter, limit, &narrowed)
                .await?
        };
        attach_recipients(&self.pool, &mut messages).await?;
        Ok(messages)
    }

    async fn insert_sandbox_copy(
        &self,
        recipient_id: Uuid,
        raw: &[u8],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO sandbox_copies (id, recipient_id, message_id, org_id, address, raw, captured_at) \
             SELECT ?, id, message_id, org_id, address, ?, ? FROM recipients WHERE id = ?",
        )
        .bind(Uuid::now_v7())
        .bind(raw)
        .bind(to_ms(at))
        .bind(recipient_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("recipient"));
        }
        Ok(())
    }

    async fn sandbox_copies(
        &self,
        org_id: Uuid,
        limit: u32,
    ) -> Result<Vec<SandboxCopy>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, message_id, recipient_id, address, captured_at, raw FROM sandbox_copies \
             WHERE org_id = ? ORDER BY captured_at DESC, id DESC LIMIT ?",
        )
        .bind(org_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(sandbox_copy_row).collect()
    }

    async fn sandbox_copy(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<SandboxCopy>, StoreError> {
        let row = sqlx::query(
            "SELECT id, message_id, recipient_id, address, captured_at, raw FROM sandbox_copies \
             WHERE org_id = ? AND id = ?",
        )
        .bind(org_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(sandbox_copy_row).transpose()
    }

    async fn add_suppression(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
        reason: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO suppressions (org_id, address, reason, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (org_id, address) DO UPDATE SET reason = excluded.reason, \
             created_at = excluded.created_at",
        )
        .bind(org_id)
        .bind(address.normalized())
        .bind(reason)
        .bind(to_ms(columns::now()))
        .execute(&self.pool)
        .await
        .map_err(|e| crate::error::constraint(e, "suppression", "organisation"))?;
        Ok(())
    }

    async fn suppressions(&self, org_id: Uuid) -> Result<Vec<Suppression>, StoreError> {
        let rows = sqlx::query(
            "SELECT address, reason, created_at FROM suppressions WHERE org_id = ? ORDER BY address",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Suppression {
                    address: r.try_get("address")?,
                    reason: r.try_get("reason")?,
                    created_at: from_ms(r.try_get("created_at")?)?,
                })
            })
            .collect()
    }

    async fn delete_suppression(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM suppressions WHERE org_id = ? AND address = ?")
            .bind(org_id)
            .bind(address.normalized())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

impl SqliteStore {
    /// Deletes the events recorded before `before`, in chunks.
    async fn delete_events_before(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_chunks_cover_every_row_in_few_distinct_lengths() {
        let mut lengths = HashSet::new();
        for n in 0..2000 {
            let chunks: Vec<usize> = insert_chunks(n).collect();
            assert_eq!(chunks.iter().sum::<usize>(), n, "{n}: {chunks:?}");
            assert!(chunks.iter().all(|c| (1..=EVENT_INSERT_CHUNK).contains(c)));
            assert!(chunks.windows(2).all(|w| w[0] >= w[1]), "{chunks:?}");
            lengths.extend(chunks);
        }
        // 256, 128, ..., 1: one cached statement each.
        assert_eq!(lengths.len(), 9, "{lengths:?}");
        assert_eq!(insert_chunks(0).count(), 0);
        assert_eq!(
            insert_chunks(600).collect::<Vec<_>>(),
            [256, 256, 64, 16, 8]
        );
        assert_eq!(
            chunk_lengths(1030, 512).collect::<Vec<_>>(),
            [512, 512, 4, 2]
        );
    }
}

//! Messages and their delivery queue on PostgreSQL: [`MessageStore`](crate::MessageStore).

use super::*;

/// Locks the job and checks that it belongs to the event's recipient;
/// `NotFound("job")` when it is gone (another node finished it after our
/// lease ran out) or belongs to someone else.
pub(super) async fn check_job(
    conn: &mut PgConnection,
    job_id: Uuid,
    event: &NewEvent,
) -> Result<(), StoreError> {
    let row = sqlx::query("SELECT recipient_id FROM jobs WHERE id = $1 FOR UPDATE")
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

/// Loads the recipients of `messages` into them, in order.
pub(super) async fn attach_recipients(
    pool: &PgPool,
    messages: &mut [Message],
) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let by_id: HashMap<Uuid, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    let ids: Vec<Uuid> = messages.iter().map(|m| m.id).collect();
    let rows = sqlx::query(&format!(
        "SELECT {RECIPIENT_COLS} FROM recipients WHERE message_id = ANY($1) \
         ORDER BY message_id, position"
    ))
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    for row in rows {
        let (message_id, recipient) = recipient_row(&row)?;
        if let Some(i) = by_id.get(&message_id) {
            messages[*i].recipients.push(recipient);
        }
    }
    Ok(())
}

pub(super) fn lease_ms(lease: time::Duration) -> i64 {
    i64::try_from(lease.whole_milliseconds()).unwrap_or(i64::MAX)
}

impl PgStore {
    /// The body of `insert_message`; a unique violation on the idempotency
    /// key (a concurrent request with the same key won) comes back as the
    /// raw error so the caller can look the winner up.
    async fn try_insert_message(&self, msg: &NewMessage) -> Result<Inserted, InsertError> {
        let mut tx = self.pool.begin().await?;
        if let Some(key) = &msg.idempotency_key
            && let Some(row) =
                sqlx::query("SELECT id FROM messages WHERE org_id = $1 AND idempotency_key = $2")
                    .bind(msg.org_id)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?
        {
            return Ok(Inserted::Existing(row.try_get("id")?));
        }
        let created = to_ms(msg.created_at);
        let inserted = sqlx::query(
            "INSERT INTO messages (id, org_id, user_id, message_id, from_address, from_name, \
             reply_to, subject, content, read_receipt, track_opens, track_clicks, metadata, \
             idempotency_key, created_at, tag) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(msg.id)
        .bind(msg.org_id)
        .bind(msg.user_id)
        .bind(msg.message_id.as_str())
        .bind(msg.from_address.as_str())
        .bind(&msg.from_name)
        .bind(msg.reply_to.as_ref().map(|a| a.as_str().to_owned()))
        .bind(&msg.subject)
        .bind(Json(&msg.content))
        .bind(msg.read_receipt)
        .bind(msg.track_opens)
        .bind(msg.track_clicks)
        .bind(Json(&msg.metadata))
        .bind(&msg.idempotency_key)
        .bind(created)
        .bind(&msg.tag)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            return Err(
                if msg.idempotency_key.is_some() && crate::error::is_unique_violation(&e) {
                    InsertError::Raced(e)
                } else {
                    InsertError::Store(crate::error::constraint(
                        e,
                        "message",
                        "organisation or user",
                    ))
                },
            );
        }

        let norms: Vec<String> = msg
            .recipients
            .iter()
            .map(|r| r.address.normalized())
            .collect();
        let mut suppressed: HashSet<String> = HashSet::new();
        let rows =
            sqlx::query("SELECT address FROM suppressions WHERE org_id = $1 AND address = ANY($2)")
                .bind(msg.org_id)
                .bind(&norms)
                .fetch_all(&mut *tx)
                .await?;
        for row in rows {
            suppressed.insert(row.try_get("address")?);
        }

        // The queued (or suppressed) events, whose webhook deliveries are
        // queued in this transaction too.
        let mut queued: Vec<NewEvent> = Vec::with_capacity(msg.recipients.len());
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
                 kind, status, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(r.id)
            .bind(msg.id)
            .bind(msg.org_id)
            .bind(i32::try_from(position).unwrap_or(i32::MAX))
            .bind(r.address.as_str())
            .bind(&norm)
            .bind(r.kind.as_str())
            .bind(status.as_str())
            .bind(created)
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::error::constraint(e, "recipient", "message"))?;
            let event_id = Uuid::now_v7();
            queued.push(NewEvent {
                id: event_id,
                recipient_id: r.id,
                kind,
                at: msg.created_at,
                opener: None,
                reason: None,
                data: serde_json::Value::Object(serde_json::Map::new()),
            });
            sqlx::query(
                "INSERT INTO events (id, recipient_id, message_id, org_id, kind, at, data) \
                 VALUES ($1, $2, $3, $4, $5, $6, '{}'::jsonb)",
            )
            .bind(event_id)
            .bind(r.id)
            .bind(msg.id)
            .bind(msg.org_id)
            .bind(kind.as_str())
            .bind(created)
            .execute(&mut *tx)
            .await?;
            if !is_suppressed {
                sqlx::query(
                    "INSERT INTO jobs (id, recipient_id, message_id, run_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(Uuid::now_v7())
                .bind(r.id)
                .bind(msg.id)
                .bind(created)
                .execute(&mut *tx)
                .await?;
            }
        }
        let facts: Vec<crate::webhook::Fact<'_>> = queued
            .iter()
            .map(|event| crate::webhook::Fact {
                event,
                org_id: msg.org_id,
            })
            .collect();
        super::portable_webhooks::queue_webhooks(&mut tx, &facts).await?;
        tx.commit().await?;
        Ok(Inserted::Created(msg.id))
    }
}

/// Why `try_insert_message` stopped.
enum InsertError {
    /// Another transaction stored the same idempotency key first.
    Raced(sqlx::Error),
    /// Anything else.
    Store(StoreError),
}

impl From<sqlx::Error> for InsertError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<StoreError> for InsertError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The [`MessageStore`](crate::MessageStore) methods whose SQL is this
/// backend's own; `portable::message_store!` implements the trait with them.
impl PgStore {
    pub(super) async fn insert_message(&self, msg: &NewMessage) -> Result<Inserted, StoreError> {
        match self.try_insert_message(msg).await {
            Ok(inserted) => Ok(inserted),
            Err(InsertError::Store(e)) => Err(e),
            Err(InsertError::Raced(e)) => {
                let row = sqlx::query(
                    "SELECT id FROM messages WHERE org_id = $1 AND idempotency_key = $2",
                )
                .bind(msg.org_id)
                .bind(&msg.idempotency_key)
                .fetch_optional(&self.pool)
                .await?;
                match row {
                    Some(row) => Ok(Inserted::Existing(row.try_get("id")?)),
                    // The violation was on the id, not the key.
                    None => Err(crate::error::constraint(
                        e,
                        "message",
                        "organisation or user",
                    )),
                }
            }
        }
    }

    pub(super) async fn claim_jobs(
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
        let rows = sqlx::query(
            "WITH due AS ( \
               SELECT id FROM jobs WHERE run_at <= $3 \
               AND (locked_until IS NULL OR locked_until <= $3) \
               ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
             UPDATE jobs j SET locked_by = $1, locked_until = $2 FROM due WHERE j.id = due.id \
             RETURNING j.id, j.message_id, j.recipient_id, j.attempts, j.run_at",
        )
        .bind(worker)
        .bind(now.saturating_add(lease_ms(lease)))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for r in rows {
            let run_at: i64 = r.try_get("run_at")?;
            let attempts: i32 = r.try_get("attempts")?;
            let job = Job {
                id: r.try_get("id")?,
                message_id: r.try_get("message_id")?,
                recipient_id: r.try_get("recipient_id")?,
                attempts: u32::try_from(attempts).unwrap_or(0),
            };
            jobs.push((run_at, job));
        }
        jobs.sort_by_key(|(run_at, job)| (*run_at, job.id));
        Ok(jobs.into_iter().map(|(_, j)| j).collect())
    }

    pub(super) async fn complete_jobs(
        &self,
        done: &[(Uuid, NewEvent)],
    ) -> Result<usize, StoreError> {
        if done.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let mut kept = Vec::with_capacity(done.len());
        // Lock in id order so that two batches can never deadlock.
        let mut ordered: Vec<&(Uuid, NewEvent)> = done.iter().collect();
        ordered.sort_by_key(|(id, _)| *id);
        for (job_id, event) in ordered {
            match check_job(&mut tx, *job_id, event).await {
                Ok(()) => kept.push((*job_id, event.clone())),
                Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let events: Vec<NewEvent> = kept.iter().map(|(_, e)| e.clone()).collect();
        apply_events(&mut tx, &events, false).await?;
        for (job_id, _) in &kept {
            sqlx::query("DELETE FROM jobs WHERE id = $1")
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.signal.bump();
        Ok(kept.len())
    }

    pub(super) async fn list_messages(
        &self,
        org_id: Uuid,
        filter: &MessageFilter,
    ) -> Result<Vec<Message>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {MESSAGE_COLS} FROM messages m WHERE m.org_id = "
        ));
        qb.push_bind(org_id);
        if let Some(before) = filter.before_id {
            qb.push(" AND m.id < ").push_bind(before);
        }
        if let Some(since) = filter.since {
            qb.push(" AND m.created_at >= ").push_bind(to_ms(since));
        }
        if let Some(until) = filter.until {
            qb.push(" AND m.created_at < ").push_bind(to_ms(until));
        }
        if let Some(tag) = &filter.tag {
            qb.push(" AND m.tag = ").push_bind(tag.clone());
        }
        if let Some(subject) = &filter.subject {
            qb.push(" AND m.subject ILIKE ")
                .push_bind(crate::search::contains_pattern(subject))
                .push(" ESCAPE '\\'");
        }
        if let Some(recipient) = &filter.recipient {
            qb.push(
                " AND EXISTS (SELECT 1 FROM recipients ra WHERE ra.message_id = m.id \
                 AND ra.address_norm LIKE ",
            )
            .push_bind(crate::search::contains_pattern(&recipient.to_lowercase()))
            .push(" ESCAPE '\\')");
        }
        if !filter.statuses.is_empty() {
            let statuses: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect();
            qb.push(
                " AND EXISTS (SELECT 1 FROM recipients rs WHERE rs.message_id = m.id \
                 AND rs.status = ANY(",
            )
            .push_bind(statuses)
            .push("))");
        }
        qb.push(" ORDER BY m.id DESC LIMIT ")
            .push_bind(crate::search::page_size(filter.limit));
        let rows = qb.build().fetch_all(&self.pool).await?;
        let mut messages = rows
            .iter()
            .map(message_row)
            .collect::<Result<Vec<_>, _>>()?;
        attach_recipients(&self.pool, &mut messages).await?;
        Ok(messages)
    }
}

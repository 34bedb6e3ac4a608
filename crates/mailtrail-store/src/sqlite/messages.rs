//! Messages and their delivery queue on SQLite: [`MessageStore`](crate::MessageStore).

use super::*;

/// The recipient of a job, or `NotFound("job")` when the job is gone or
/// belongs to another recipient than the event.
pub(super) async fn check_job(
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

/// Loads the recipients of `messages` into them, in order.
pub(super) async fn attach_recipients(
    pool: &SqlitePool,
    messages: &mut [Message],
) -> Result<(), StoreError> {
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

pub(super) fn lease_ms(lease: time::Duration) -> i64 {
    i64::try_from(lease.whole_milliseconds()).unwrap_or(i64::MAX)
}

/// The [`MessageStore`](crate::MessageStore) methods whose SQL is this
/// backend's own; `portable::message_store!` implements the trait with them.
impl SqliteStore {
    pub(super) async fn insert_message(&self, msg: &NewMessage) -> Result<Inserted, StoreError> {
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
             idempotency_key, created_at, tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .bind(&msg.tag)
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
                 VALUES (?, ?, ?, ?, ?, ?, '{}')",
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
        let facts: Vec<crate::webhook::Fact<'_>> = queued
            .iter()
            .map(|event| crate::webhook::Fact {
                event,
                org_id: msg.org_id,
            })
            .collect();
        super::portable_webhooks::queue_webhooks(&mut tx, &facts).await?;
        tx.commit().await?;
        self.signal.bump();
        Ok(Inserted::Created(msg.id))
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

    pub(super) async fn complete_jobs(
        &self,
        done: &[(Uuid, NewEvent)],
    ) -> Result<usize, StoreError> {
        if done.is_empty() {
            return Ok(0);
        }
        let mut tx = self.write().await?;
        let mut kept = Vec::with_capacity(done.len());
        for (job_id, event) in done {
            match check_job(&mut tx, *job_id, event).await {
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

    pub(super) async fn list_messages(
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
}

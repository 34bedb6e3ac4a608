//! Messages and their delivery queue on SQLite: [`MessageStore`](crate::MessageStore).

use super::*;

/// The recipient of a job, or `NotFound("job")` when the job is gone or
/// belongs to another recipient than the event.
pub(super) async fn job_recipient(
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

    async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS depth, MIN(run_at) AS earliest FROM jobs")
            .fetch_one(&self.pool)
            .await?;
        let depth: i64 = row.try_get("depth")?;
        let earliest: Option<i64> = row.try_get("earliest")?;
        Ok(QueueStats {
            depth: u64::try_from(depth).unwrap_or(0),
            earliest_due: earliest.map(from_ms).transpose()?,
        })
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

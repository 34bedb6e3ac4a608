//! [`MessageStore`](crate::MessageStore): reading a message, finishing or
//! retrying one job, the sandbox's copies and the suppression list in the
//! same SQL on both backends; storing messages, claiming jobs, finishing a
//! batch of them and listing messages in each backend's own.

/// Implements [`MessageStore`](crate::MessageStore) for `$store`, inside
/// the backend's module (see [`crate::portable`]): the methods whose SQL
/// differs are the backend's inherent methods of the same names.
macro_rules! message_store {
    ($store:ident) => {
        mod portable_messages {
            use super::*;

            #[async_trait::async_trait]
            impl MessageStore for super::$store {
                async fn insert_message(&self, msg: &NewMessage) -> Result<Inserted, StoreError> {
                    Self::insert_message(self, msg).await
                }

                async fn claim_jobs(
                    &self,
                    worker: &str,
                    now: OffsetDateTime,
                    lease: time::Duration,
                    limit: u32,
                ) -> Result<Vec<Job>, StoreError> {
                    Self::claim_jobs(self, worker, now, lease, limit).await
                }

                async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
                    let row = sqlx::query(
                        "SELECT COUNT(*) AS depth, MIN(run_at) AS earliest FROM jobs",
                    )
                    .fetch_one(&self.pool)
                    .await?;
                    let depth: i64 = row.try_get("depth")?;
                    let earliest: Option<i64> = row.try_get("earliest")?;
                    Ok(QueueStats {
                        depth: u64::try_from(depth).unwrap_or(0),
                        earliest_due: earliest.map(from_ms).transpose()?,
                    })
                }

                async fn release_leases(&self, worker: &str) -> Result<u64, StoreError> {
                    let mut tx = self.write().await?;
                    let done = sqlx::query(
                        "UPDATE jobs SET locked_by = NULL, locked_until = NULL WHERE locked_by = $1",
                    )
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    if done.rows_affected() > 0 {
                        self.signal.bump();
                    }
                    Ok(done.rows_affected())
                }

                async fn outbound_message(
                    &self,
                    id: Uuid,
                ) -> Result<Option<OutboundMessage>, StoreError> {
                    let Some(m) = sqlx::query("SELECT * FROM messages WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                    else {
                        return Ok(None);
                    };
                    let rows = sqlx::query(
                        "SELECT id, address, kind FROM recipients WHERE message_id = $1 ORDER BY position",
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
                        content: json_column(&m, "content")?,
                        read_receipt: m.try_get("read_receipt")?,
                        track_opens: m.try_get("track_opens")?,
                        track_clicks: m.try_get("track_clicks")?,
                        created_at: from_ms(m.try_get("created_at")?)?,
                        recipients,
                    }))
                }

                async fn complete_job(
                    &self,
                    job_id: Uuid,
                    event: &NewEvent,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    check_job(&mut tx, job_id, event).await?;
                    apply_events(&mut tx, std::slice::from_ref(event), false).await?;
                    sqlx::query("DELETE FROM jobs WHERE id = $1")
                        .bind(job_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    self.signal.bump();
                    Ok(())
                }

                async fn complete_jobs(&self, done: &[(Uuid, NewEvent)]) -> Result<usize, StoreError> {
                    Self::complete_jobs(self, done).await
                }

                async fn complete_sandbox_job(
                    &self,
                    job_id: Uuid,
                    event: &NewEvent,
                    raw: &[u8],
                    at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    check_job(&mut tx, job_id, event).await?;
                    sqlx::query(
                        "INSERT INTO sandbox_copies (id, recipient_id, message_id, org_id, address, raw, captured_at) \
                         SELECT $1, id, message_id, org_id, address, $2, $3 FROM recipients WHERE id = $4",
                    )
                    .bind(Uuid::now_v7())
                    .bind(raw)
                    .bind(to_ms(at))
                    .bind(event.recipient_id)
                    .execute(&mut *tx)
                    .await?;
                    apply_events(&mut tx, std::slice::from_ref(event), false).await?;
                    sqlx::query("DELETE FROM jobs WHERE id = $1")
                        .bind(job_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    self.signal.bump();
                    Ok(())
                }

                async fn retry_job(
                    &self,
                    job_id: Uuid,
                    event: &NewEvent,
                    retry_at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    check_job(&mut tx, job_id, event).await?;
                    apply_events(&mut tx, std::slice::from_ref(event), false).await?;
                    sqlx::query(
                        "UPDATE jobs SET run_at = $1, attempts = attempts + 1, locked_by = NULL, \
                         locked_until = NULL WHERE id = $2",
                    )
                    .bind(to_ms(retry_at))
                    .bind(job_id)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    self.signal.bump();
                    Ok(())
                }

                async fn message(
                    &self,
                    org_id: Uuid,
                    id: Uuid,
                ) -> Result<Option<Message>, StoreError> {
                    let Some(row) = sqlx::query(&format!(
                        "SELECT {MESSAGE_COLS} FROM messages WHERE id = $1 AND org_id = $2"
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
                         WHERE recipient_id IN (SELECT id FROM recipients WHERE message_id = $1) \
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
                         WHERE recipient_id IN (SELECT id FROM recipients WHERE message_id = $1) \
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
                    Self::list_messages(self, org_id, filter).await
                }

                async fn insert_sandbox_copy(
                    &self,
                    recipient_id: Uuid,
                    raw: &[u8],
                    at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    let done = sqlx::query(
                        "INSERT INTO sandbox_copies (id, recipient_id, message_id, org_id, address, raw, captured_at) \
                         SELECT $1, id, message_id, org_id, address, $2, $3 FROM recipients WHERE id = $4",
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
                         WHERE org_id = $1 ORDER BY captured_at DESC, id DESC LIMIT $2",
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
                         WHERE org_id = $1 AND id = $2",
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
                        "INSERT INTO suppressions (org_id, address, reason, created_at) \
                         VALUES ($1, $2, $3, $4) \
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
                        "SELECT address, reason, created_at FROM suppressions WHERE org_id = $1 \
                         ORDER BY address",
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
                    let done = sqlx::query("DELETE FROM suppressions WHERE org_id = $1 AND address = $2")
                        .bind(org_id)
                        .bind(address.normalized())
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }
            }
        }
    };
}
pub(crate) use message_store;

//! [`MessageStore`](crate::MessageStore): the sandbox's copies and the
//! suppression list in the same SQL on both backends; the queue, storing
//! and reading messages in each backend's own.

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

                async fn outbound_message(&self, id: Uuid) -> Result<Option<OutboundMessage>, StoreError> {
                    Self::outbound_message(self, id).await
                }

                async fn complete_job(&self, job_id: Uuid, event: &NewEvent) -> Result<(), StoreError> {
                    Self::complete_job(self, job_id, event).await
                }

                async fn complete_jobs(&self, done: &[(Uuid, NewEvent)]) -> Result<usize, StoreError> {
                    Self::complete_jobs(self, done).await
                }

                async fn retry_job(
                    &self,
                    job_id: Uuid,
                    event: &NewEvent,
                    retry_at: OffsetDateTime,
                ) -> Result<(), StoreError> {
                    Self::retry_job(self, job_id, event, retry_at).await
                }

                async fn message(&self, org_id: Uuid, id: Uuid) -> Result<Option<Message>, StoreError> {
                    Self::message(self, org_id, id).await
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

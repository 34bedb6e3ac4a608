//! [`InboundStore`](crate::InboundStore): the same SQL on both backends.

/// Implements [`InboundStore`](crate::InboundStore) for `$store`, inside the
/// backend's module, with its helpers (see [`crate::portable`]).
macro_rules! inbound_store {
    ($store:ident) => {
        mod portable_inbound {
            use super::*;

            #[async_trait::async_trait]
            impl InboundStore for super::$store {
                async fn insert_inbound(
                    &self,
                    msg: &crate::inbound::NewInbound,
                ) -> Result<bool, StoreError> {
                    self.insert_inbound_impl(msg).await
                }

                async fn set_mailbox_cursor(
                    &self,
                    mailbox: &str,
                    cursor: crate::inbound::MailboxCursor,
                ) -> Result<(), StoreError> {
                    self.set_mailbox_cursor_impl(mailbox, cursor).await
                }

                async fn first_send_at(&self) -> Result<Option<OffsetDateTime>, StoreError> {
                    let first: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM messages")
                        .fetch_one(&self.pool)
                        .await?;
                    first.map(from_ms).transpose()
                }

                async fn pending_inbound(
                    &self,
                    limit: u32,
                ) -> Result<Vec<crate::inbound::InboundMessage>, StoreError> {
                    self.pending_inbound_impl(limit).await
                }

                async fn finish_inbound(
                    &self,
                    id: Uuid,
                    outcome: &crate::inbound::InboundOutcome,
                ) -> Result<(), StoreError> {
                    self.finish_inbound_impl(id, outcome).await?;
                    if !outcome.events.is_empty() {
                        self.signal.bump();
                    }
                    Ok(())
                }

                async fn mailbox_cursor(
                    &self,
                    mailbox: &str,
                ) -> Result<Option<crate::inbound::MailboxCursor>, StoreError> {
                    let row =
                        sqlx::query("SELECT uid_validity, last_uid FROM mailbox_cursors WHERE mailbox = $1")
                            .bind(mailbox)
                            .fetch_optional(&self.pool)
                            .await?;
                    row.map(|r| {
                        let v: i64 = r.try_get("uid_validity")?;
                        let u: i64 = r.try_get("last_uid")?;
                        Ok(crate::inbound::MailboxCursor {
                            uid_validity: u32::try_from(v)
                                .map_err(|_| StoreError::Corrupt(format!("uid_validity {v}")))?,
                            last_uid: u32::try_from(u)
                                .map_err(|_| StoreError::Corrupt(format!("last_uid {u}")))?,
                        })
                    })
                    .transpose()
                }

                async fn recipient_ref(
                    &self,
                    id: Uuid,
                ) -> Result<Option<crate::inbound::RecipientRef>, StoreError> {
                    let row = sqlx::query(&format!("{REF_SELECT} WHERE r.id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(ref_row).transpose()
                }

                async fn recipients_by_message_id(
                    &self,
                    message_id: &str,
                ) -> Result<Vec<crate::inbound::RecipientRef>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "{REF_SELECT} WHERE m.message_id = $1 ORDER BY m.id, r.position"
                    ))
                    .bind(message_id)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(ref_row).collect()
                }

                async fn recent_recipients(
                    &self,
                    address: &EmailAddress,
                    since: OffsetDateTime,
                    until: OffsetDateTime,
                    limit: u32,
                ) -> Result<Vec<crate::inbound::RecipientRef>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "{REF_SELECT} WHERE r.address_norm = $1 AND m.created_at >= $2 \
                         AND m.created_at <= $3 ORDER BY m.created_at DESC, r.id DESC LIMIT $4"
                    ))
                    .bind(address.normalized())
                    .bind(to_ms(since))
                    .bind(to_ms(until))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(ref_row).collect()
                }

                async fn purge_inbound(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
                    self.delete_processed_inbound_before(before).await
                }
            }
        }
    };
}
pub(crate) use inbound_store;

//! PostgreSQL SQL for inbound mail and IMAP positions.

use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;

use super::PgStore;
use crate::StoreError;
use crate::columns::{self, from_ms, to_ms};
use crate::inbound::*;

impl PgStore {
    pub(super) async fn insert_inbound_impl(&self, msg: &NewInbound) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let seen = match &msg.mailbox {
            Some(m) => {
                // One writer per mailbox at a time, so that two servers
                // polling the same mailbox cannot both find a message new.
                sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                    .bind(&m.key)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "SELECT 1 FROM inbound_messages WHERE mailbox = $1 AND fingerprint = $2 LIMIT 1",
                )
                .bind(&m.key)
                .bind(&m.fingerprint)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
            }
            None => false,
        };
        if !seen {
            sqlx::query(
                "INSERT INTO inbound_messages \
                 (id, source, mail_from, rcpt_to, mailbox, fingerprint, raw, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(msg.id)
            .bind(msg.source.as_str())
            .bind(msg.mail_from.as_deref())
            .bind(Json(&msg.rcpt_to))
            .bind(msg.mailbox.as_ref().map(|m| m.key.as_str()))
            .bind(msg.mailbox.as_ref().map(|m| m.fingerprint.as_str()))
            .bind(&msg.raw)
            .bind(to_ms(msg.received_at))
            .execute(&mut *tx)
            .await?;
        }
        if let Some((key, cursor)) = msg.mailbox.as_ref().and_then(|m| Some((&m.key, m.cursor?))) {
            save_cursor(&mut tx, key, cursor).await?;
        }
        tx.commit().await?;
        Ok(!seen)
    }

    pub(super) async fn set_mailbox_cursor_impl(
        &self,
        mailbox: &str,
        cursor: MailboxCursor,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        save_cursor(&mut tx, mailbox, cursor).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn pending_inbound_impl(
        &self,
        limit: u32,
    ) -> Result<Vec<InboundMessage>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, source, mail_from, rcpt_to, mailbox, raw, received_at FROM inbound_messages \
             WHERE NOT processed ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(InboundMessage {
                    id: r.try_get("id")?,
                    source: InboundSource::parse(r.try_get("source")?)?,
                    mail_from: r.try_get("mail_from")?,
                    rcpt_to: r.try_get::<Json<Vec<String>>, _>("rcpt_to")?.0,
                    mailbox: r.try_get("mailbox")?,
                    raw: r.try_get("raw")?,
                    received_at: from_ms(r.try_get("received_at")?)?,
                })
            })
            .collect()
    }

    pub(super) async fn finish_inbound_impl(
        &self,
        id: Uuid,
        outcome: &InboundOutcome,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done =
            sqlx::query("UPDATE inbound_messages SET processed = TRUE, outcome = $1 WHERE id = $2")
                .bind(&outcome.summary)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("inbound message"));
        }
        super::apply_events(&mut tx, &outcome.events, true).await?;
        for (org_id, address, why) in &outcome.suppressions {
            sqlx::query(
                "INSERT INTO suppressions (org_id, address, reason, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (org_id, address) DO UPDATE SET reason = excluded.reason, \
                 created_at = excluded.created_at",
            )
            .bind(org_id)
            .bind(address.normalized())
            .bind(why)
            .bind(to_ms(columns::now()))
            .execute(&mut *tx)
            .await
            .map_err(|e| crate::error::constraint(e, "suppression", "organisation"))?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn save_cursor(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    mailbox: &str,
    cursor: MailboxCursor,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mailbox_cursors (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3) \
         ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, \
         last_uid = excluded.last_uid",
    )
    .bind(mailbox)
    .bind(i64::from(cursor.uid_validity))
    .bind(i64::from(cursor.last_uid))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

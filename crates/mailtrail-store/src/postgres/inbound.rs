//! PostgreSQL SQL for inbound mail and IMAP positions.

use mailtrail_domain::EmailAddress;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::StoreError;
use crate::columns::{self, from_ms, to_ms};
use crate::inbound::*;

const REF_SELECT: &str = "SELECT r.id, r.message_id, r.org_id, r.address, r.kind, m.created_at \
     FROM recipients r JOIN messages m ON m.id = r.message_id";

fn ref_row(r: &PgRow) -> Result<RecipientRef, StoreError> {
    Ok(RecipientRef {
        id: r.try_get("id")?,
        message_id: r.try_get("message_id")?,
        org_id: r.try_get("org_id")?,
        address: columns::address(r.try_get("address")?)?,
        kind: columns::recipient_kind(r.try_get("kind")?)?,
        sent_at: from_ms(r.try_get("created_at")?)?,
    })
}

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
        if let Some(m) = &msg.mailbox {
            save_cursor(&mut tx, &m.key, m.cursor).await?;
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

    pub(super) async fn first_send_at_impl(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        let first: Option<i64> = sqlx::query_scalar("SELECT MIN(created_at) FROM messages")
            .fetch_one(&self.pool)
            .await?;
        first.map(from_ms).transpose()
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

    pub(super) async fn mailbox_cursor_impl(
        &self,
        mailbox: &str,
    ) -> Result<Option<MailboxCursor>, StoreError> {
        let row =
            sqlx::query("SELECT uid_validity, last_uid FROM mailbox_cursors WHERE mailbox = $1")
                .bind(mailbox)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            let v: i64 = r.try_get("uid_validity")?;
            let u: i64 = r.try_get("last_uid")?;
            Ok(MailboxCursor {
                uid_validity: u32::try_from(v)
                    .map_err(|_| StoreError::Corrupt(format!("uid_validity {v}")))?,
                last_uid: u32::try_from(u)
                    .map_err(|_| StoreError::Corrupt(format!("last_uid {u}")))?,
            })
        })
        .transpose()
    }

    pub(super) async fn recipient_ref_impl(
        &self,
        id: Uuid,
    ) -> Result<Option<RecipientRef>, StoreError> {
        let row = sqlx::query(&format!("{REF_SELECT} WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ref_row).transpose()
    }

    pub(super) async fn recipients_by_message_id_impl(
        &self,
        message_id: &str,
    ) -> Result<Vec<RecipientRef>, StoreError> {
        let rows = sqlx::query(&format!(
            "{REF_SELECT} WHERE m.message_id = $1 ORDER BY m.id, r.position"
        ))
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ref_row).collect()
    }

    pub(super) async fn recent_recipients_impl(
        &self,
        address: &EmailAddress,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<RecipientRef>, StoreError> {
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

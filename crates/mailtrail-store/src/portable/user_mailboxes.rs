//! [`UserMailboxStore`](crate::UserMailboxStore): the same SQL on both
//! backends.

/// Implements [`UserMailboxStore`](crate::UserMailboxStore) for `$store`,
/// a backend on database `$db` with a `pool` field.
macro_rules! user_mailbox_store {
    ($store:ident, $db:ty) => {
        mod portable_user_mailboxes {
            use $crate::StoreError;
            use $crate::columns::{from_ms, to_ms};
            use $crate::prelude::*;
            use $crate::user_mailbox::*;
            use sqlx::Row;
            use time::OffsetDateTime;
            use uuid::Uuid;

            const SELECT: &str = "SELECT user_id, org_id, display, sealed_url, connected_at, \
                 last_ok_at, failing_since, last_error FROM user_mailboxes";

            fn mailbox_row(r: &<$db as ::sqlx::Database>::Row) -> Result<UserMailbox, StoreError> {
                let opt = |ms: Option<i64>| ms.map(from_ms).transpose();
                Ok(UserMailbox {
                    user_id: r.try_get("user_id")?,
                    org_id: r.try_get("org_id")?,
                    display: r.try_get("display")?,
                    sealed_url: r.try_get("sealed_url")?,
                    connected_at: from_ms(r.try_get("connected_at")?)?,
                    last_ok_at: opt(r.try_get("last_ok_at")?)?,
                    failing_since: opt(r.try_get("failing_since")?)?,
                    last_error: r.try_get("last_error")?,
                })
            }

            #[async_trait::async_trait]
            impl UserMailboxStore for super::$store {
                async fn put_user_mailbox(&self, m: &NewUserMailbox) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO user_mailboxes \
                         (user_id, org_id, display, sealed_url, connected_at, last_ok_at) \
                         VALUES ($1, $2, $3, $4, $5, $5) \
                         ON CONFLICT (user_id) DO UPDATE SET org_id = excluded.org_id, \
                         display = excluded.display, sealed_url = excluded.sealed_url, \
                         connected_at = excluded.connected_at, last_ok_at = excluded.last_ok_at, \
                         failing_since = NULL, last_error = NULL",
                    )
                    .bind(m.user_id)
                    .bind(m.org_id)
                    .bind(&m.display)
                    .bind(&m.sealed_url)
                    .bind(to_ms(m.connected_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::error::constraint(e, "mailbox", "user"))?;
                    Ok(())
                }

                async fn user_mailbox(&self, user_id: Uuid) -> Result<Option<UserMailbox>, StoreError> {
                    let row = sqlx::query(&format!("{SELECT} WHERE user_id = $1"))
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(mailbox_row).transpose()
                }

                async fn all_user_mailboxes(&self) -> Result<Vec<UserMailbox>, StoreError> {
                    let rows = sqlx::query(&format!("{SELECT} ORDER BY user_id"))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(mailbox_row).collect()
                }

                async fn delete_user_mailbox(&self, user_id: Uuid) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM user_mailboxes WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn record_user_mailbox_session(
                    &self,
                    user_id: Uuid,
                    at: OffsetDateTime,
                    error: Option<&str>,
                ) -> Result<(), StoreError> {
                    let q = match error {
                        None => sqlx::query(
                            "UPDATE user_mailboxes SET last_ok_at = $2, failing_since = NULL, \
                             last_error = NULL WHERE user_id = $1",
                        )
                        .bind(user_id)
                        .bind(to_ms(at)),
                        Some(e) => sqlx::query(
                            "UPDATE user_mailboxes SET failing_since = COALESCE(failing_since, $2), \
                             last_error = $3 WHERE user_id = $1",
                        )
                        .bind(user_id)
                        .bind(to_ms(at))
                        .bind(e.to_owned()),
                    };
                    q.execute(&self.pool).await?;
                    Ok(())
                }
            }
        }
    };
}
pub(crate) use user_mailbox_store;

//! SQLite SQL for the dashboard's own screens: API key list, contact
//! timeline, users, sender networks.

use sqlx::Row;
use uuid::Uuid;

use super::{SqliteStore, key_row};
use crate::StoreError;
use crate::dashboard::*;

impl SqliteStore {
    pub(super) async fn api_keys_impl(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.id, k.user_id, u.email, k.name, k.prefix, k.created_at, k.last_used_at, \
             k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE u.org_id = ? AND (? IS NULL OR k.user_id = ?) \
             ORDER BY k.created_at DESC, k.id DESC",
        )
        .bind(org_id)
        .bind(user_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_row).collect()
    }

    /// Whether `user_id` is in the organisation, and whether it is the
    /// only administrator there, inside the caller's write transaction.
    async fn admin_state(
        conn: &mut sqlx::SqliteConnection,
        org_id: Uuid,
        user_id: Uuid,
    ) -> Result<Option<(bool, bool)>, StoreError> {
        let Some(row) = sqlx::query("SELECT is_admin FROM users WHERE id = ? AND org_id = ?")
            .bind(user_id)
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?
        else {
            return Ok(None);
        };
        let is_admin: bool = row.try_get("is_admin")?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE org_id = ? AND is_admin AND id <> ?",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
        Ok(Some((is_admin, is_admin && others == 0)))
    }

    pub(super) async fn set_user_admin_impl(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        is_admin: bool,
    ) -> Result<UserChange, StoreError> {
        // BEGIN IMMEDIATE: the count and the change see the same users.
        let mut tx = self.write().await?;
        let Some((_, last)) = Self::admin_state(&mut tx, org_id, user_id).await? else {
            return Ok(UserChange::NotFound);
        };
        if last && !is_admin {
            return Ok(UserChange::LastAdmin);
        }
        sqlx::query("UPDATE users SET is_admin = ? WHERE id = ? AND org_id = ?")
            .bind(is_admin)
            .bind(user_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserChange::Changed)
    }

    pub(super) async fn delete_user_impl(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        heir: Uuid,
    ) -> Result<UserChange, StoreError> {
        let mut tx = self.write().await?;
        let Some((_, last)) = Self::admin_state(&mut tx, org_id, user_id).await? else {
            return Ok(UserChange::NotFound);
        };
        if last {
            return Ok(UserChange::LastAdmin);
        }
        let heir_here: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM users WHERE id = ? AND org_id = ? AND id <> ?")
                .bind(heir)
                .bind(org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if heir_here.is_none() {
            return Err(StoreError::NotFound("user to hand the messages to"));
        }
        sqlx::query("UPDATE messages SET user_id = ? WHERE user_id = ?")
            .bind(heir)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Sessions and API keys go with the user (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = ? AND org_id = ?")
            .bind(user_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserChange::Changed)
    }
}

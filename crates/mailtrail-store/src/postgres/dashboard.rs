//! PostgreSQL SQL for the dashboard's own screens: API key list, contact
//! timeline, users, sender networks.

use sqlx::PgConnection;
use uuid::Uuid;

use super::{PgStore, key_row};
use crate::StoreError;
use crate::dashboard::*;

/// Locks the organisation's administrators (`FOR UPDATE`), then says
/// whether `user_id` is in the organisation and whether it is the only
/// administrator. The lock makes two concurrent demotions wait for each
/// other, so that they cannot both see "another admin is left".
async fn admin_state(
    conn: &mut PgConnection,
    org_id: Uuid,
    user_id: Uuid,
) -> Result<Option<(bool, bool)>, StoreError> {
    let admins: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM users WHERE org_id = $1 AND is_admin ORDER BY id FOR UPDATE",
    )
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let found: Option<bool> =
        sqlx::query_scalar("SELECT is_admin FROM users WHERE id = $1 AND org_id = $2 FOR UPDATE")
            .bind(user_id)
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(found.map(|is_admin| {
        let last = is_admin && admins.iter().all(|a| *a == user_id);
        (is_admin, last)
    }))
}

impl PgStore {
    pub(super) async fn api_keys_impl(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.id, k.user_id, u.email, k.name, k.prefix, k.created_at, k.last_used_at, \
             k.revoked_at FROM api_keys k JOIN users u ON u.id = k.user_id \
             WHERE u.org_id = $1 AND ($2::uuid IS NULL OR k.user_id = $2) \
             ORDER BY k.created_at DESC, k.id DESC",
        )
        .bind(org_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(key_row).collect()
    }

    pub(super) async fn set_user_admin_impl(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        is_admin: bool,
    ) -> Result<UserChange, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some((_, last)) = admin_state(&mut tx, org_id, user_id).await? else {
            return Ok(UserChange::NotFound);
        };
        if last && !is_admin {
            return Ok(UserChange::LastAdmin);
        }
        sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2 AND org_id = $3")
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
        let mut tx = self.pool.begin().await?;
        let Some((_, last)) = admin_state(&mut tx, org_id, user_id).await? else {
            return Ok(UserChange::NotFound);
        };
        if last {
            return Ok(UserChange::LastAdmin);
        }
        let heir_here: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM users WHERE id = $1 AND org_id = $2 AND id <> $3")
                .bind(heir)
                .bind(org_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if heir_here.is_none() {
            return Err(StoreError::NotFound("user to hand the messages to"));
        }
        sqlx::query("UPDATE messages SET user_id = $1 WHERE user_id = $2")
            .bind(heir)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        // Sessions and API keys go with the user (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = $1 AND org_id = $2")
            .bind(user_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(UserChange::Changed)
    }
}

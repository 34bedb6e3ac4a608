//! [`AccountStore`](crate::AccountStore): the same SQL on both backends.

/// Implements [`AccountStore`](crate::AccountStore) for `$store`, inside the
/// backend's module, with its helpers (see [`crate::portable`]).
macro_rules! account_store {
    ($store:ident) => {
        mod portable_accounts {
            use super::*;

            #[async_trait::async_trait]
            impl AccountStore for super::$store {
                async fn ensure_organisation(&self, name: &str) -> Result<Organisation, StoreError> {
                    sqlx::query(
                        "INSERT INTO organisations (id, name, created_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (name) DO NOTHING",
                    )
                    .bind(Uuid::now_v7())
                    .bind(name)
                    .bind(to_ms(columns::now()))
                    .execute(&self.pool)
                    .await?;
                    let row = sqlx::query("SELECT * FROM organisations WHERE name = $1")
                        .bind(name)
                        .fetch_one(&self.pool)
                        .await?;
                    organisation_row(&row)
                }

                async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>, StoreError> {
                    sqlx::query("SELECT * FROM organisations WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .as_ref()
                        .map(organisation_row)
                        .transpose()
                }

                async fn set_organisation_defaults(
                    &self,
                    org_id: Uuid,
                    read_receipt: bool,
                    track_opens: bool,
                    track_clicks: bool,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE organisations SET read_receipt_default = $1, track_opens_default = $2, \
                         track_clicks_default = $3 WHERE id = $4",
                    )
                    .bind(read_receipt)
                    .bind(track_opens)
                    .bind(track_clicks)
                    .bind(org_id)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn create_user(
                    &self,
                    org_id: Uuid,
                    email: &EmailAddress,
                    password_hash: &str,
                    is_admin: bool,
                ) -> Result<User, StoreError> {
                    let user = User {
                        id: Uuid::now_v7(),
                        org_id,
                        email: email.clone(),
                        password_hash: password_hash.to_owned(),
                        is_admin,
                        created_at: from_ms(to_ms(columns::now()))?,
                    };
                    sqlx::query(
                        "INSERT INTO users (id, org_id, email, email_norm, password_hash, is_admin, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(user.id)
                    .bind(org_id)
                    .bind(email.as_str())
                    .bind(email.normalized())
                    .bind(password_hash)
                    .bind(is_admin)
                    .bind(to_ms(user.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::error::constraint(e, "user", "organisation"))?;
                    Ok(user)
                }

                async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
                    sqlx::query("SELECT * FROM users WHERE email_norm = $1")
                        .bind(email.normalized())
                        .fetch_optional(&self.pool)
                        .await?
                        .as_ref()
                        .map(user_row)
                        .transpose()
                }

                async fn users(&self, org_id: Uuid) -> Result<Vec<User>, StoreError> {
                    let rows = sqlx::query("SELECT * FROM users WHERE org_id = $1 ORDER BY email_norm")
                        .bind(org_id)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(user_row).collect()
                }

                async fn set_user_admin(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                    is_admin: bool,
                ) -> Result<crate::dashboard::UserChange, StoreError> {
                    self.set_user_admin_impl(org_id, user_id, is_admin).await
                }

                async fn delete_user(
                    &self,
                    org_id: Uuid,
                    user_id: Uuid,
                    heir: Uuid,
                ) -> Result<crate::dashboard::UserChange, StoreError> {
                    self.delete_user_impl(org_id, user_id, heir).await
                }

                async fn create_api_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO api_keys (id, user_id, name, key_hash, prefix, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(key.id)
                    .bind(key.user_id)
                    .bind(&key.name)
                    .bind(&key.key_hash)
                    .bind(&key.prefix)
                    .bind(to_ms(columns::now()))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::error::constraint(e, "api key", "user"))?;
                    Ok(())
                }

                async fn api_key_owner(&self, key_hash: &str) -> Result<Option<ApiKeyOwner>, StoreError> {
                    let Some(row) = sqlx::query(
                        "SELECT k.id, k.user_id, u.org_id, k.last_used_at FROM api_keys k \
                         JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                    )
                    .bind(key_hash)
                    .fetch_optional(&self.pool)
                    .await?
                    else {
                        return Ok(None);
                    };
                    let owner = ApiKeyOwner {
                        key_id: row.try_get("id")?,
                        user_id: row.try_get("user_id")?,
                        org_id: row.try_get("org_id")?,
                    };
                    let last: Option<i64> = row.try_get("last_used_at")?;
                    let now = to_ms(columns::now());
                    if last.is_none_or(|l| now.saturating_sub(l) >= crate::model::KEY_USE_RESOLUTION_MS) {
                        sqlx::query("UPDATE api_keys SET last_used_at = $1 WHERE id = $2")
                            .bind(now)
                            .bind(owner.key_id)
                            .execute(&self.pool)
                            .await?;
                    }
                    Ok(Some(owner))
                }

                async fn revoke_api_key(&self, org_id: Uuid, key_id: Uuid) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL \
                         AND user_id IN (SELECT id FROM users WHERE org_id = $3)",
                    )
                    .bind(to_ms(columns::now()))
                    .bind(key_id)
                    .bind(org_id)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn api_keys(
                    &self,
                    org_id: Uuid,
                    user_id: Option<Uuid>,
                ) -> Result<Vec<crate::dashboard::ApiKeyInfo>, StoreError> {
                    self.api_keys_impl(org_id, user_id).await
                }

                async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&session.id_hash)
                    .bind(session.user_id)
                    .bind(&session.csrf_token)
                    .bind(to_ms(columns::now()))
                    .bind(to_ms(session.expires_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| crate::error::constraint(e, "session", "user"))?;
                    Ok(())
                }

                async fn session(
                    &self,
                    id_hash: &str,
                    now: OffsetDateTime,
                ) -> Result<Option<Session>, StoreError> {
                    let Some(row) = sqlx::query(
                        "SELECT u.*, s.csrf_token, s.expires_at FROM sessions s \
                         JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2",
                    )
                    .bind(id_hash)
                    .bind(to_ms(now))
                    .fetch_optional(&self.pool)
                    .await?
                    else {
                        return Ok(None);
                    };
                    Ok(Some(Session {
                        user: user_row(&row)?,
                        csrf_token: row.try_get("csrf_token")?,
                        expires_at: from_ms(row.try_get("expires_at")?)?,
                    }))
                }

                async fn delete_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                        .bind(id_hash)
                        .execute(&self.pool)
                        .await?;
                    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                        .bind(to_ms(now))
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn sender_networks(&self, org_id: Uuid) -> Result<Vec<String>, StoreError> {
                    Ok(sqlx::query_scalar(
                        "SELECT network FROM sender_networks WHERE org_id = $1 ORDER BY position",
                    )
                    .bind(org_id)
                    .fetch_all(&self.pool)
                    .await?)
                }

                async fn set_sender_networks(
                    &self,
                    org_id: Uuid,
                    networks: &[String],
                ) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    sqlx::query("DELETE FROM sender_networks WHERE org_id = $1")
                        .bind(org_id)
                        .execute(&mut *tx)
                        .await?;
                    for (i, n) in networks.iter().enumerate() {
                        sqlx::query(
                            "INSERT INTO sender_networks (org_id, position, network) VALUES ($1, $2, $3)",
                        )
                        .bind(org_id)
                        .bind(i64::try_from(i).unwrap_or(i64::MAX))
                        .bind(n)
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| crate::error::constraint(e, "sender network", "organisation"))?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn all_sender_networks(&self) -> Result<Vec<(Uuid, String)>, StoreError> {
                    let rows =
                        sqlx::query("SELECT org_id, network FROM sender_networks ORDER BY org_id, position")
                            .fetch_all(&self.pool)
                            .await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("org_id")?, r.try_get("network")?)))
                        .collect()
                }
            }
        }
    };
}
pub(crate) use account_store;

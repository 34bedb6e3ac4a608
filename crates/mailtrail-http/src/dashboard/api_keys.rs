//! API keys in Settings: listing, `POST /settings/api-keys` (a new key,
//! shown once) and `POST /settings/api-keys/revoke`.

use axum::extract::State;
use axum::response::Response;
use mailtrail_domain::credentials::{generate_api_key, hash_api_key};
use mailtrail_store::{NewApiKey, Session};
use serde::Deserialize;
use uuid::Uuid;

use super::DashError;
use super::settings::{SettingsNotice, settings_page};
use super::signed::{CsrfForm, SignedForm};
use super::view::when;
use crate::AppState;

/// One key in the Settings page's table.
pub(crate) struct KeyRow {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) owner: String,
    pub(crate) created: String,
    pub(crate) last_used: String,
    pub(crate) revoked: Option<String>,
}

/// The keys `s` may see: an administrator every key of the organisation
/// (and may revoke them), anyone else their own.
pub(super) async fn key_rows(state: &AppState, s: &Session) -> Result<Vec<KeyRow>, DashError> {
    let owner = if s.user.is_admin {
        None
    } else {
        Some(s.user.id)
    };
    Ok(state
        .store
        .api_keys(s.user.org_id, owner)
        .await?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id.to_string(),
            name: k.name,
            prefix: k.prefix,
            owner: k.user_email,
            created: when(k.created_at),
            last_used: k
                .last_used_at
                .map(when)
                .unwrap_or_else(|| "never".to_owned()),
            revoked: k.revoked_at.map(when),
        })
        .collect())
}

#[derive(Deserialize)]
pub(crate) struct KeyForm {
    csrf: String,
    name: String,
}

/// `POST /settings/api-keys`: a new key, shown this once.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<KeyForm>,
) -> Result<Response, DashError> {
    let (key, prefix) = generate_api_key();
    let id = Uuid::now_v7();
    let name = form.name.trim();
    state
        .store
        .create_api_key(&NewApiKey {
            id,
            user_id: s.user.id,
            name: if name.is_empty() { "dashboard" } else { name }.to_owned(),
            key_hash: hash_api_key(&key),
            prefix,
        })
        .await?;
    settings_page(
        &state,
        &s,
        SettingsNotice {
            new_key: Some((id.to_string(), key)),
            ..SettingsNotice::default()
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct RevokeForm {
    csrf: String,
    key_id: String,
}

/// `POST /settings/api-keys/revoke`: a revoked key never works again.
pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<RevokeForm>,
) -> Result<Response, DashError> {
    let revoked = match Uuid::parse_str(form.key_id.trim()) {
        Ok(id) => {
            // Anyone may revoke their own keys; an administrator any key of
            // the organisation (the store keeps it to the organisation).
            let allowed = s.user.is_admin
                || state
                    .store
                    .api_keys(s.user.org_id, Some(s.user.id))
                    .await?
                    .iter()
                    .any(|k| k.id == id);
            if !allowed {
                return Err(DashError::Forbidden(
                    "Only the key's owner or an administrator of the organisation can revoke it.",
                ));
            }
            state.store.revoke_api_key(s.user.org_id, id).await?
        }
        Err(_) => false,
    };
    settings_page(
        &state,
        &s,
        SettingsNotice {
            revoked: Some(revoked),
            ..SettingsNotice::default()
        },
    )
    .await
}

/// Parses the sender networks form: one network per line (CIDR, or a bare
/// address for one host), blank lines ignored. The error names the first
/// bad line; nothing is saved then.
impl CsrfForm for KeyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for RevokeForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

//! Settings, `GET/POST /settings`: the organisation's defaults, its API
//! keys ([`super::api_keys`]), sender networks and sending domains.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_store::Session;
use serde::Deserialize;
use uuid::Uuid;

use super::api_keys::{KeyRow, key_rows};
use super::domains::DomainRow;
use super::signed::{Chrome, CsrfForm, SignedForm, SignedIn, own_organisation};
use super::{DashError, html, see_other};
use crate::AppState;
use crate::networks::parse_network_lines;

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    chrome: Chrome,
    org_name: String,
    read_receipt: bool,
    track_opens: bool,
    track_clicks: bool,
    saved: bool,
    new_key: Option<(String, String)>,
    revoked: Option<bool>,
    self_link: Option<String>,
    keys: Vec<KeyRow>,
    /// Whether the key list shows every user's keys (an administrator).
    all_keys: bool,
    /// The sender networks, one per line, as stored or as just entered.
    networks: String,
    /// Why the networks just entered were not saved.
    networks_error: Option<String>,
    /// The organisation's sending domains with their DNS records.
    domains: Vec<DomainRow>,
    domain_flash: Option<DomainFlash>,
    default_selector: &'static str,
}

/// What the sending-domain section says after its forms.
pub(crate) enum DomainFlash {
    /// A domain was added (its id): its record is highlighted.
    Added(String),
    /// A domain was removed.
    Removed,
}

/// What a settings page shows beyond the stored settings.
#[derive(Default)]
pub(super) struct SettingsNotice {
    pub(super) saved: bool,
    pub(super) new_key: Option<(String, String)>,
    pub(super) revoked: Option<bool>,
    /// Sender networks entered but refused: the text and why.
    pub(super) networks: Option<(String, String)>,
    /// A sending domain just added or removed.
    pub(super) domain_flash: Option<DomainFlash>,
}

pub(super) async fn settings_page(
    state: &AppState,
    s: &Session,
    notice: SettingsNotice,
) -> Result<Response, DashError> {
    let org = own_organisation(state, s).await?;
    // The tracking endpoints' "this is my device" link (GET /t/self/...):
    // opening it sets the signed `mailtrail_self` cookie that marks this
    // browser's opens and clicks as the sender's own.
    let self_link = state
        .keyring
        .sign(s.user.org_id, mailtrail_domain::Purpose::SelfDevice, &[])
        .ok()
        .map(|t| format!("{}/t/self/{t}", state.settings.public_url));
    let keys = key_rows(state, s).await?;
    let (networks, networks_error, status) = match notice.networks {
        Some((text, error)) => (text, Some(error), StatusCode::BAD_REQUEST),
        None => (
            state.store.sender_networks(s.user.org_id).await?.join("\n"),
            None,
            StatusCode::OK,
        ),
    };
    let page = SettingsPage {
        chrome: s.into(),
        self_link,
        org_name: org.name,
        read_receipt: org.read_receipt_default,
        track_opens: org.track_opens_default,
        track_clicks: org.track_clicks_default,
        saved: notice.saved,
        new_key: notice.new_key,
        revoked: notice.revoked,
        keys,
        all_keys: s.user.is_admin,
        networks,
        networks_error,
        domains: super::domains::rows(state, s.user.org_id).await?,
        domain_flash: notice.domain_flash,
        default_selector: super::domains::DEFAULT_SELECTOR,
    };
    Ok(html(status, page.render()?))
}

/// `GET /settings`.
pub(crate) async fn settings(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    RawQuery(raw): RawQuery,
) -> Result<Response, DashError> {
    let saved = raw.as_deref() == Some("saved=1");
    let domain_flash = match raw.as_deref() {
        Some("domain_removed=1") => Some(DomainFlash::Removed),
        Some(q) => q
            .strip_prefix("domain_added=")
            .and_then(|id| Uuid::parse_str(id).ok())
            .map(|id| DomainFlash::Added(id.to_string())),
        None => None,
    };
    settings_page(
        &state,
        &s,
        SettingsNotice {
            saved,
            domain_flash,
            ..SettingsNotice::default()
        },
    )
    .await
}

#[derive(Deserialize)]
pub(crate) struct SettingsForm {
    csrf: String,
    #[serde(default)]
    read_receipt: Option<String>,
    #[serde(default)]
    track_opens: Option<String>,
    #[serde(default)]
    track_clicks: Option<String>,
}

/// `POST /settings`: the organisation's defaults for new messages.
pub(crate) async fn save_settings(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<SettingsForm>,
) -> Result<Response, DashError> {
    if !s.user.is_admin {
        return Err(DashError::Forbidden(
            "Only an administrator of the organisation can change its defaults.",
        ));
    }
    state
        .store
        .set_organisation_defaults(
            s.user.org_id,
            form.read_receipt.is_some(),
            form.track_opens.is_some(),
            form.track_clicks.is_some(),
        )
        .await?;
    Ok(see_other("/settings?saved=1"))
}

#[derive(Deserialize)]
pub(crate) struct NetworksForm {
    csrf: String,
    #[serde(default)]
    networks: String,
}

/// `POST /settings/sender-networks`: the organisation's sender networks,
/// all valid or none saved; the tracking endpoints use them at once.
pub(crate) async fn save_sender_networks(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<NetworksForm>,
) -> Result<Response, DashError> {
    if !s.user.is_admin {
        return Err(DashError::Forbidden(
            "Only an administrator of the organisation can change its sender networks.",
        ));
    }
    let nets = match parse_network_lines(&form.networks) {
        Ok(n) => n,
        Err(e) => {
            let notice = SettingsNotice {
                networks: Some((form.networks, e)),
                ..SettingsNotice::default()
            };
            return settings_page(&state, &s, notice).await;
        }
    };
    let text: Vec<String> = nets.iter().map(ToString::to_string).collect();
    state
        .store
        .set_sender_networks(s.user.org_id, &text)
        .await?;
    state.tracking.sender_networks().set(s.user.org_id, nets);
    tracing::info!(org.id = %s.user.org_id, networks = text.len(), "sender networks changed");
    Ok(see_other("/settings?saved=1"))
}

impl CsrfForm for SettingsForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for NetworksForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

//! Settings → Webhooks: add an endpoint (its secret shown once), see each
//! endpoint's state (and why mailtrail turned it off), its delivery log,
//! and replay one delivery or everything since a time. The same use cases
//! as `/api/v1/webhooks` ([`crate::api::webhooks`]).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use mailtrail_store::webhook::{WebhookDelivery, WebhookEndpoint};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use super::signed::{Chrome, CsrfForm, SignedForm, SignedIn};
use super::{DashError, html, see_other};
use crate::api::webhooks::{WebhookPatch, WebhookRequest, create_endpoint, update_endpoint};
use crate::{ApiError, AppState};

/// Deliveries shown on an endpoint's page.
const LOG_LIMIT: u32 = 50;

fn when(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// An endpoint as the pages show it.
pub(crate) struct EndpointRow {
    id: String,
    url: String,
    events: String,
    description: String,
    enabled: bool,
    disabled_reason: Option<String>,
    failing_since: Option<String>,
}

impl From<WebhookEndpoint> for EndpointRow {
    fn from(e: WebhookEndpoint) -> Self {
        Self {
            id: e.id.to_string(),
            url: e.url,
            events: e.events.names().join(", "),
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            failing_since: e.failing_since.map(when),
        }
    }
}

/// One attempt in the log.
pub(crate) struct AttemptRow {
    at: String,
    outcome: String,
    response: String,
}

/// One delivery in the log.
pub(crate) struct DeliveryRow {
    id: String,
    webhook_id: String,
    kind: &'static str,
    state: &'static str,
    created_at: String,
    next_attempt_at: Option<String>,
    attempts: Vec<AttemptRow>,
}

impl From<WebhookDelivery> for DeliveryRow {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            webhook_id: d.webhook_id(),
            id: d.id.to_string(),
            kind: d.kind.as_str(),
            state: d.state.as_str(),
            created_at: when(d.created_at),
            next_attempt_at: d.next_attempt_at.map(when),
            attempts: d
                .attempt_log
                .into_iter()
                .map(|a| AttemptRow {
                    at: when(a.at),
                    outcome: match (a.status_code, a.error) {
                        (Some(code), _) => format!("HTTP {code} in {} ms", a.duration_ms),
                        (None, Some(e)) => e,
                        (None, None) => "no answer".to_owned(),
                    },
                    response: a.response,
                })
                .collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    endpoints: Vec<EndpointRow>,
    /// The endpoint just added and its secret, shown this once.
    created: Option<(String, String)>,
    error: Option<String>,
    url: String,
    events: String,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    chrome: Chrome,
    endpoint: EndpointRow,
    deliveries: Vec<DeliveryRow>,
    notice: Option<String>,
}

async fn list_page(
    state: &AppState,
    s: &mailtrail_store::Session,
    created: Option<(String, String)>,
    error: Option<String>,
    (url, events): (String, String),
) -> Result<Response, DashError> {
    let endpoints = state
        .store
        .webhook_endpoints(s.user.org_id)
        .await?
        .into_iter()
        .map(EndpointRow::from)
        .collect();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = WebhooksPage {
        chrome: Chrome::from(s),
        endpoints,
        created,
        error,
        url,
        events,
    };
    Ok(html(status, page.render()?))
}

/// `GET /settings/webhooks`.
pub(crate) async fn list(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
) -> Result<Response, DashError> {
    list_page(&state, &s, None, None, (String::new(), "*".to_owned())).await
}

#[derive(Deserialize)]
pub(crate) struct AddForm {
    csrf: String,
    url: String,
    events: String,
    #[serde(default)]
    description: String,
}

/// `POST /settings/webhooks`: adds the endpoint and shows its secret once;
/// a refused URL or event list is shown beside the form.
pub(crate) async fn add(
    State(state): State<AppState>,
    SignedForm(s, form): SignedForm<AddForm>,
) -> Result<Response, DashError> {
    let events: Vec<String> = form
        .events
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect();
    let req = WebhookRequest {
        url: form.url.clone(),
        events,
        description: Some(form.description).filter(|d| !d.trim().is_empty()),
        enabled: None,
    };
    match create_endpoint(&state, s.user.org_id, req).await {
        Ok(e) => {
            let created = Some((e.url.clone(), e.secret.expose().to_owned()));
            list_page(&state, &s, created, None, (String::new(), "*".to_owned())).await
        }
        Err(ApiError::Invalid { message, .. }) => {
            list_page(&state, &s, None, Some(message), (form.url, form.events)).await
        }
        Err(e) => Err(dash_error(e)),
    }
}

fn dash_error(e: ApiError) -> DashError {
    match e {
        ApiError::NotFound(_) => DashError::NotFound,
        ApiError::Store(e) | ApiError::Unavailable(e) => DashError::Store(e),
        other => DashError::Invalid(other.to_string()),
    }
}

fn endpoint_id(id: &str) -> Result<Uuid, DashError> {
    Uuid::parse_str(id.trim()).map_err(|_| DashError::NotFound)
}

async fn detail_page(
    state: &AppState,
    s: &mailtrail_store::Session,
    id: Uuid,
    notice: Option<String>,
) -> Result<Response, DashError> {
    let org = s.user.org_id;
    let endpoint = state
        .store
        .webhook_endpoint(org, id)
        .await?
        .ok_or(DashError::NotFound)?;
    let deliveries = state
        .store
        .webhook_deliveries(org, id, None, LOG_LIMIT)
        .await?
        .ok_or(DashError::NotFound)?;
    let page = WebhookPage {
        chrome: Chrome::from(s),
        endpoint: EndpointRow::from(endpoint),
        deliveries: deliveries.into_iter().map(DeliveryRow::from).collect(),
        notice,
    };
    Ok(html(StatusCode::OK, page.render()?))
}

/// `GET /settings/webhooks/{id}`: the endpoint and its delivery log.
pub(crate) async fn detail(
    State(state): State<AppState>,
    SignedIn(s): SignedIn,
    Path(id): Path<String>,
) -> Result<Response, DashError> {
    detail_page(&state, &s, endpoint_id(&id)?, None).await
}

#[derive(Deserialize)]
pub(crate) struct ActionForm {
    csrf: String,
    /// `enable`, `disable`, `delete`, `replay` (with `delivery`) or
    /// `replay_since` (with `since`).
    action: String,
    #[serde(default)]
    delivery: String,
    #[serde(default)]
    since: String,
}

/// `POST /settings/webhooks/{id}`: one of the page's buttons.
pub(crate) async fn act(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm(s, form): SignedForm<ActionForm>,
) -> Result<Response, DashError> {
    let id = endpoint_id(&id)?;
    let org = s.user.org_id;
    let now = OffsetDateTime::now_utc();
    let notice = match form.action.as_str() {
        "enable" | "disable" => {
            let patch = WebhookPatch {
                url: None,
                events: None,
                description: None,
                enabled: Some(form.action == "enable"),
            };
            update_endpoint(&state, org, id, patch)
                .await
                .map_err(dash_error)?;
            if form.action == "enable" {
                "Turned on: new events are sent to it, and what waited is sent now."
            } else {
                "Turned off: events are not sent to it until it is turned on."
            }
            .to_owned()
        }
        "delete" => {
            if !state.store.delete_webhook_endpoint(org, id).await? {
                return Err(DashError::NotFound);
            }
            return Ok(see_other("/settings/webhooks"));
        }
        "replay" => {
            let delivery =
                Uuid::parse_str(form.delivery.trim()).map_err(|_| DashError::NotFound)?;
            if !state
                .store
                .replay_webhook_delivery(org, id, delivery, now)
                .await?
            {
                return Err(DashError::NotFound);
            }
            "The delivery is sent again now.".to_owned()
        }
        "replay_since" => {
            let since = OffsetDateTime::parse(form.since.trim(), &Rfc3339).map_err(|_| {
                DashError::Invalid("since: give a time such as 2026-12-05T09:30:00Z".to_owned())
            })?;
            let n = state
                .store
                .replay_webhook_deliveries_since(org, id, since, now)
                .await?
                .ok_or(DashError::NotFound)?;
            format!("{n} deliveries are sent again now.")
        }
        _ => return Err(DashError::BadRequest("Unknown action.")),
    };
    detail_page(&state, &s, id, Some(notice)).await
}

impl CsrfForm for AddForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl CsrfForm for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

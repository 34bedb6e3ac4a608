//! `/api/v1/webhooks`: an organisation's webhook endpoints, their delivery
//! log and replay (DESIGN.md section 4, flow 8). The secret of an endpoint
//! is in the answer that creates it and never again.
//!
//! A target is checked here, after resolving its host, and again by the
//! dispatcher at every delivery (a name may resolve elsewhere later).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use mailtrail_domain::webhook::{EventSelection, WebhookSecret, WebhookUrl};
use mailtrail_store::webhook::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ErrorEnvelope;
use crate::extract::{JsonBody, parse_limit, query_pairs};
use crate::{ApiError, AppState};

/// The routes of this module, each described in the OpenAPI document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, replace, remove))
        .routes(routes!(deliveries))
        .routes(routes!(replay_one))
        .routes(routes!(replay_since))
}

/// The body of `POST /api/v1/webhooks` and of `PUT`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookRequest {
    /// Where to POST: `http` or `https`.
    pub url: String,
    /// Event kinds, or `["*"]` for all.
    pub events: Vec<String>,
    /// A label.
    #[serde(default)]
    pub description: Option<String>,
    /// On or off (`PUT` only; a new endpoint is on).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The body of `PATCH /api/v1/webhooks/{id}`: what to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookPatch {
    /// New target.
    #[serde(default)]
    pub url: Option<String>,
    /// New event kinds.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// New label.
    #[serde(default)]
    pub description: Option<String>,
    /// On (forgetting why it was turned off) or off.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// The body of `POST /api/v1/webhooks/{id}/replay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayRequest {
    /// Replay every delivery queued at or after this RFC 3339 time.
    pub since: String,
}

/// An endpoint as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: Uuid,
    url: String,
    events: Vec<String>,
    description: String,
    enabled: bool,
    /// Why mailtrail turned it off.
    disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    disabled_at: Option<OffsetDateTime>,
    /// Every attempt since this time has failed.
    #[serde(with = "time::serde::rfc3339::option")]
    failing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    /// The signing secret: only in the answer that creates the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookView {
    pub(crate) fn new(e: WebhookEndpoint, with_secret: bool) -> Self {
        Self {
            id: e.id,
            url: e.url,
            events: e.events.names(),
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            disabled_at: e.disabled_at,
            failing_since: e.failing_since,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: with_secret.then(|| e.secret.expose().to_owned()),
        }
    }
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AttemptView {
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    status_code: Option<u16>,
    error: Option<String>,
    /// The first bytes of the answer.
    response: String,
    duration_ms: u64,
}

/// One delivery in the log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: Uuid,
    /// The `webhook-id` header, the same on every attempt.
    webhook_id: String,
    event_id: Uuid,
    #[serde(rename = "type")]
    kind: String,
    #[schema(value_type = String, example = "pending")]
    state: DeliveryState,
    attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    next_attempt_at: Option<OffsetDateTime>,
    last_status: Option<u16>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// The body sent.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
    attempt_log: Vec<AttemptView>,
}

impl From<WebhookDelivery> for DeliveryView {
    fn from(d: WebhookDelivery) -> Self {
        Self {
            webhook_id: d.webhook_id(),
            id: d.id,
            event_id: d.event_id,
            kind: d.kind.as_str().to_owned(),
            state: d.state,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status: d.last_status,
            created_at: d.created_at,
            payload: serde_json::from_str(&d.payload).unwrap_or(serde_json::Value::Null),
            attempt_log: d
                .attempt_log
                .into_iter()
                .map(|a| AttemptView {
                    at: a.at,
                    status_code: a.status_code,
                    error: a.error,
                    response: a.response,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

/// A list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList<T> {
    data: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The answer of a replay.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Replayed {
    /// How many deliveries were queued again.
    replayed: u64,
}

/// The longest description.
const MAX_DESCRIPTION_CHARS: usize = 500;

/// Checks a target URL: its form, then (unless private targets are
/// allowed) every address its host resolves to. Errors name `field`.
pub(crate) async fn check_target(
    url: &str,
    allow_private: bool,
    field: &str,
) -> Result<WebhookUrl, ApiError> {
    let bad = |e: &dyn std::fmt::Display| {
        ApiError::invalid("invalid_url", field, format!("{field}: {e}"))
    };
    let parsed = WebhookUrl::parse(url).map_err(|e| bad(&e))?;
    if allow_private {
        return Ok(parsed);
    }
    let ips: Vec<std::net::IpAddr> = match parsed.ip_literal() {
        Some(ip) => vec![ip],
        None => tokio::net::lookup_host((parsed.host(), parsed.port()))
            .await
            .map(|a| a.map(|s| s.ip()).collect())
            .unwrap_or_default(),
    };
    parsed.check_addrs(&ips).map_err(|e| bad(&e))?;
    Ok(parsed)
}

fn selection(names: &[String], field: &str) -> Result<EventSelection, ApiError> {
    EventSelection::parse(names)
        .map_err(|e| ApiError::invalid("invalid_events", field, format!("{field}: {e}")))
}

fn description(d: Option<String>) -> Result<Option<String>, ApiError> {
    match d {
        Some(d) if d.chars().count() > MAX_DESCRIPTION_CHARS => Err(ApiError::invalid(
            "invalid_field",
            "description",
            format!("description: at most {MAX_DESCRIPTION_CHARS} characters"),
        )),
        other => Ok(other.map(|d| d.trim().to_owned())),
    }
}

/// Adds an endpoint for the organisation: the one use case behind the
/// API's `POST` and the dashboard's form. The answer holds the secret.
pub(crate) async fn create_endpoint(
    state: &AppState,
    org_id: Uuid,
    req: WebhookRequest,
) -> Result<WebhookEndpoint, ApiError> {
    let events = selection(&req.events, "events")?;
    let description = description(req.description)?.unwrap_or_default();
    let allow = state.settings.allow_private_webhooks;
    let url = check_target(&req.url, allow, "url").await?;
    let now = OffsetDateTime::now_utc();
    let new = NewWebhookEndpoint {
        id: Uuid::now_v7(),
        org_id,
        url: url.as_str().to_owned(),
        events,
        secret: WebhookSecret::generate(),
        description,
        created_at: now,
    };
    state.store.create_webhook_endpoint(&new).await?;
    tracing::info!(webhook.endpoint = %new.id, "webhook endpoint added");
    state
        .store
        .webhook_endpoint(org_id, new.id)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

/// Changes an endpoint: the use case behind `PATCH`, `PUT` and the
/// dashboard's buttons.
pub(crate) async fn update_endpoint(
    state: &AppState,
    org_id: Uuid,
    id: Uuid,
    patch: WebhookPatch,
) -> Result<WebhookEndpoint, ApiError> {
    let url = match &patch.url {
        Some(u) => Some(
            check_target(u, state.settings.allow_private_webhooks, "url")
                .await?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    let update = WebhookEndpointUpdate {
        url,
        events: patch
            .events
            .as_deref()
            .map(|e| selection(e, "events"))
            .transpose()?,
        description: description(patch.description)?,
        enabled: patch.enabled,
    };
    state
        .store
        .update_webhook_endpoint(org_id, id, &update, OffsetDateTime::now_utc())
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}

fn webhook_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::NotFound("webhook"))
}

/// `POST /api/v1/webhooks`: 201 with the endpoint and its secret.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks",
    operation_id = "create_webhook",
    tag = "webhooks",
    security(("api_key" = [])),
    request_body = WebhookRequest,
    responses(
        (status = 201, description = "The endpoint, with its signing secret (shown this once)", body = WebhookView),
        (status = 400, description = "A bad or private `url`, an unknown event kind in `events`", body = ErrorEnvelope),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<WebhookRequest>,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let e = create_endpoint(&state, caller.org_id, req).await?;
    Ok((StatusCode::CREATED, Json(WebhookView::new(e, true))))
}

/// `GET /api/v1/webhooks`.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks",
    operation_id = "list_webhooks",
    tag = "webhooks",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The organisation's endpoints, without secrets", body = WebhookList<WebhookView>),
    )
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<WebhookList<WebhookView>>, ApiError> {
    let all = state.store.webhook_endpoints(caller.org_id).await?;
    Ok(Json(WebhookList {
        data: all
            .into_iter()
            .map(|e| WebhookView::new(e, false))
            .collect(),
        next_cursor: None,
    }))
}

/// `GET /api/v1/webhooks/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}",
    operation_id = "show_webhook",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, description = "The endpoint, without its secret", body = WebhookView),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let e = state
        .store
        .webhook_endpoint(caller.org_id, webhook_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok(Json(WebhookView::new(e, false)))
}

/// `PATCH /api/v1/webhooks/{id}`: changes the fields given.
#[utoipa::path(
    patch,
    path = "/api/v1/webhooks/{id}",
    operation_id = "update_webhook",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = WebhookPatch,
    responses(
        (status = 200, description = "The endpoint as changed", body = WebhookView),
        (status = 400, description = "A bad field, named in `field`", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
    )
)]
async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(patch): JsonBody<WebhookPatch>,
) -> Result<Json<WebhookView>, ApiError> {
    let e = update_endpoint(&state, caller.org_id, webhook_id(&id)?, patch).await?;
    Ok(Json(WebhookView::new(e, false)))
}

/// `PUT /api/v1/webhooks/{id}`: replaces the URL, events and description.
#[utoipa::path(
    put,
    path = "/api/v1/webhooks/{id}",
    operation_id = "replace_webhook",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = WebhookRequest,
    responses(
        (status = 200, description = "The endpoint as replaced", body = WebhookView),
        (status = 400, description = "A bad field, named in `field`", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
    )
)]
async fn replace(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<WebhookRequest>,
) -> Result<Json<WebhookView>, ApiError> {
    let patch = WebhookPatch {
        url: Some(req.url),
        events: Some(req.events),
        description: Some(req.description.unwrap_or_default()),
        enabled: req.enabled,
    };
    let e = update_endpoint(&state, caller.org_id, webhook_id(&id)?, patch).await?;
    Ok(Json(WebhookView::new(e, false)))
}

/// `DELETE /api/v1/webhooks/{id}`: 204; its deliveries go with it.
#[utoipa::path(
    delete,
    path = "/api/v1/webhooks/{id}",
    operation_id = "delete_webhook",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 204, description = "Deleted, with its deliveries"),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
    )
)]
async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state
        .store
        .delete_webhook_endpoint(caller.org_id, webhook_id(&id)?)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("webhook"))
    }
}

/// `GET /api/v1/webhooks/{id}/deliveries`: newest first, with attempts;
/// `limit` and `cursor` as in the message list.
#[utoipa::path(
    get,
    path = "/api/v1/webhooks/{id}/deliveries",
    operation_id = "list_webhook_deliveries",
    tag = "webhooks",
    security(("api_key" = [])),
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (default 50)", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page; opaque"),
    ),
    responses(
        (status = 200, description = "Deliveries, newest first, with their attempts", body = WebhookList<DeliveryView>),
        (status = 400, description = "An unknown or malformed query parameter, named in `field`", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
    )
)]
async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<WebhookList<DeliveryView>>, ApiError> {
    let mut limit = None;
    let mut before = None;
    for (k, v) in query_pairs(query.as_deref())? {
        match k.as_str() {
            "limit" => limit = Some(v),
            "cursor" => before = Some(super::decode_cursor(&v)?),
            _ => return Err(super::unknown_parameter(&k)),
        }
    }
    let limit = parse_limit(limit.as_deref(), 50, 200)?;
    let list = state
        .store
        .webhook_deliveries(caller.org_id, webhook_id(&id)?, before, limit)
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    let next_cursor = match list.last() {
        Some(last) if list.len() >= limit as usize => Some(super::encode_cursor(last.id)),
        _ => None,
    };
    Ok(Json(WebhookList {
        data: list.into_iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

/// `POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay`: 202; the
/// delivery is sent again at once with a fresh schedule, under the same
/// `webhook-id`.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/deliveries/{delivery}/replay",
    operation_id = "replay_webhook_delivery",
    tag = "webhooks",
    security(("api_key" = [])),
    params(
        ("id" = Uuid, Path, description = "The endpoint's id"),
        ("delivery" = Uuid, Path, description = "The delivery's id"),
    ),
    responses(
        (status = 202, description = "Queued again under the same `webhook-id`", body = Replayed),
        (status = 404, description = "No such endpoint or delivery", body = ErrorEnvelope),
    )
)]
async fn replay_one(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let delivery = Uuid::parse_str(&delivery).map_err(|_| ApiError::NotFound("delivery"))?;
    if state
        .store
        .replay_webhook_delivery(
            caller.org_id,
            webhook_id(&id)?,
            delivery,
            OffsetDateTime::now_utc(),
        )
        .await?
    {
        Ok((StatusCode::ACCEPTED, Json(Replayed { replayed: 1 })))
    } else {
        Err(ApiError::NotFound("delivery"))
    }
}

/// `POST /api/v1/webhooks/{id}/replay` with `{"since": time}`: 202; every
/// delivery queued since then that is not already waiting is sent again.
#[utoipa::path(
    post,
    path = "/api/v1/webhooks/{id}/replay",
    operation_id = "replay_webhook_deliveries_since",
    tag = "webhooks",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The endpoint's id")),
    request_body = ReplayRequest,
    responses(
        (status = 202, description = "How many deliveries were queued again", body = Replayed),
        (status = 400, description = "`since` is not an RFC 3339 time", body = ErrorEnvelope),
        (status = 404, description = "No such endpoint", body = ErrorEnvelope),
    )
)]
async fn replay_since(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ReplayRequest>,
) -> Result<(StatusCode, Json<Replayed>), ApiError> {
    let since = super::parse_time(&req.since, "since")?;
    let n = state
        .store
        .replay_webhook_deliveries_since(
            caller.org_id,
            webhook_id(&id)?,
            since,
            OffsetDateTime::now_utc(),
        )
        .await?
        .ok_or(ApiError::NotFound("webhook"))?;
    Ok((StatusCode::ACCEPTED, Json(Replayed { replayed: n })))
}

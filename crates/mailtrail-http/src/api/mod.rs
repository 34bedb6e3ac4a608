//! The JSON API under `/api/v1`: sending, reading messages and their
//! statuses, the sandbox inbox and the suppression list. Every handler is
//! scoped to the caller's organisation.

pub(crate) mod contacts;
pub(crate) mod convert;
pub(crate) mod mailbox;
mod send;
pub(crate) mod sequences;
mod view;
pub(crate) mod webhooks;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mailtrail_domain::{EmailAddress, Status};
use mailtrail_store::{Inserted, MessageFilter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ErrorEnvelope;
use crate::extract::{JsonBody, parse_limit, query_pairs};
use crate::{ApiError, AppState};

pub(crate) use send::{SendRequest, validate};
use view::{Accepted, List, MessageView, Page, SandboxView, SuppressionView};

/// The routes under `/api/v1`, each in the OpenAPI document by the same
/// line that routes it ([`crate::openapi`]).
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages, send_message))
        .routes(routes!(get_message))
        .routes(routes!(sandbox_messages))
        .routes(routes!(list_suppressions))
        .routes(routes!(delete_suppression))
        .routes(routes!(convert::convert))
}

/// Default page size of lists.
const DEFAULT_LIMIT: u32 = 50;
/// Largest page of messages.
const MAX_LIMIT: u32 = 200;
/// Largest list of sandbox copies: the sandbox is a test inbox, and a test
/// run wants to see all of its copies at once.
const MAX_SANDBOX_LIMIT: u32 = 1000;

/// Send a message.
///
/// `POST /api/v1/messages`: validate, store the message, its recipients and
/// their jobs in one transaction, wake the workers, answer 202. A repeated
/// idempotency key answers 200 with the message stored the first time.
/// Nothing is stored for a refused request.
#[utoipa::path(
    post,
    path = "/api/v1/messages",
    tag = "messages",
    security(("api_key" = [])),
    request_body = SendRequest,
    responses(
        (status = 202, description = "Stored and queued; one copy per recipient", body = Accepted),
        (status = 200, description = "The idempotency key was used before: the message stored then", body = Accepted),
        (status = 400, description = "Refused; `field` names what to fix (`to[2]`, `attachments[0].content_base64`)", body = ErrorEnvelope),
        (status = 409, description = "Another request with the same idempotency key is being stored", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than the server's limit", body = ErrorEnvelope),
        (status = 415, description = "The body is not declared as JSON", body = ErrorEnvelope),
    )
)]
pub(crate) async fn send_message(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<SendRequest>,
) -> Result<Response, ApiError> {
    let org = state
        .store
        .organisation(caller.org_id)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let defaults = state.settings.message_defaults(&org);
    let new = validate(req, &defaults)?.into_new_message(caller.org_id, caller.user_id);
    let (id, status) = match state.store.insert_message(&new).await? {
        Inserted::Created(id) => {
            // Stored: a sleeping worker may pick it up now rather than at
            // its next poll. notify_one keeps a permit if none is waiting.
            state.notify.notify_one();
            metrics::counter!("mailtrail_messages_accepted_total", "via" => "api").increment(1);
            tracing::info!(message.id = %id, recipients = new.recipients.len(), "message queued");
            (id, StatusCode::ACCEPTED)
        }
        Inserted::Existing(id) => (id, StatusCode::OK),
    };
    let stored = state
        .store
        .message(caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    Ok((status, Json(Accepted::from(stored))).into_response())
}

/// List messages.
///
/// `GET /api/v1/messages`: newest first, keyset pagination, filters.
#[utoipa::path(
    get,
    path = "/api/v1/messages",
    tag = "messages",
    security(("api_key" = [])),
    params(
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 200 (default 50)", minimum = 1, maximum = 200),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page; opaque"),
        ("status" = Option<String>, Query, description = "Only messages with a recipient in one of these statuses; comma-separated, or repeated", example = "failed,deferred"),
        ("recipient" = Option<String>, Query, description = "Only messages to this address (or part of one)"),
        ("q" = Option<String>, Query, description = "Only messages whose subject contains this text"),
        ("tag" = Option<String>, Query, description = "Only messages with exactly this tag"),
        ("since" = Option<String>, Query, format = DateTime, description = "Created at or after this RFC 3339 time"),
        ("until" = Option<String>, Query, format = DateTime, description = "Created before this RFC 3339 time"),
    ),
    responses(
        (status = 200, description = "A page of messages, newest first, without timelines", body = Page<MessageView>),
        (status = 400, description = "An unknown or malformed query parameter, named in `field`", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list_messages(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<MessageView>>, ApiError> {
    let filter = parse_message_filter(query.as_deref())?;
    let limit = filter.limit as usize;
    let messages = state.store.list_messages(caller.org_id, &filter).await?;
    let next_cursor = match messages.last() {
        Some(last) if messages.len() >= limit => Some(encode_cursor(last.id)),
        _ => None,
    };
    Ok(Json(Page {
        data: messages
            .into_iter()
            .map(|m| MessageView::new(m, false))
            .collect(),
        next_cursor,
    }))
}

/// One message with every recipient's timeline.
///
/// `GET /api/v1/messages/{id}`: one message with every recipient's
/// timeline. An id that is not a UUID, or another organisation's, is simply
/// not found.
#[utoipa::path(
    get,
    path = "/api/v1/messages/{id}",
    tag = "messages",
    security(("api_key" = [])),
    params(("id" = uuid::Uuid, Path, description = "The message's `id`, as `POST /api/v1/messages` answered it")),
    responses(
        (status = 200, description = "The message, its recipients, their links and timelines", body = MessageView),
        (status = 404, description = "No such message in the caller's organisation", body = ErrorEnvelope),
    )
)]
pub(crate) async fn get_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("message"))?;
    let message = state
        .store
        .message(caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("message"))?;
    Ok(Json(MessageView::new(message, true)))
}

/// The sandbox inbox.
///
/// `GET /api/v1/sandbox/messages`: what the sandbox transport captured,
/// newest first, each copy as it would have left.
#[utoipa::path(
    get,
    path = "/api/v1/sandbox/messages",
    tag = "sandbox",
    security(("api_key" = [])),
    params(("limit" = Option<u32>, Query, description = "How many copies, 1 to 1000 (default 50)", minimum = 1, maximum = 1000)),
    responses(
        (status = 200, description = "The captured copies", body = List<SandboxView>),
        (status = 400, description = "An unknown or malformed query parameter, named in `field`", body = ErrorEnvelope),
    )
)]
pub(crate) async fn sandbox_messages(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(query): RawQuery,
) -> Result<Json<List<SandboxView>>, ApiError> {
    let mut limit = None;
    for (k, v) in query_pairs(query.as_deref())? {
        match k.as_str() {
            "limit" => limit = Some(v),
            _ => return Err(unknown_parameter(&k)),
        }
    }
    let limit = parse_limit(limit.as_deref(), DEFAULT_LIMIT, MAX_SANDBOX_LIMIT)?;
    let copies = state.store.sandbox_copies(caller.org_id, limit).await?;
    Ok(Json(List {
        data: copies.into_iter().map(SandboxView::from).collect(),
    }))
}

/// The suppression list.
///
/// `GET /api/v1/suppressions`: addresses that are never sent to (hard
/// bounces, complaints, unsubscribes), with why.
#[utoipa::path(
    get,
    path = "/api/v1/suppressions",
    tag = "suppressions",
    security(("api_key" = [])),
    responses((status = 200, description = "Every suppressed address", body = List<SuppressionView>))
)]
pub(crate) async fn list_suppressions(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<List<SuppressionView>>, ApiError> {
    let list = state.store.suppressions(caller.org_id).await?;
    Ok(Json(List {
        data: list.into_iter().map(SuppressionView::from).collect(),
    }))
}

/// Send to an address again.
///
/// `DELETE /api/v1/suppressions/{address}`: sends to the address again;
/// 204, or 404 when it was not on the list.
#[utoipa::path(
    delete,
    path = "/api/v1/suppressions/{address}",
    tag = "suppressions",
    security(("api_key" = [])),
    params(("address" = String, Path, format = Email, description = "The suppressed address, percent-encoded")),
    responses(
        (status = 204, description = "Removed from the list"),
        (status = 400, description = "Not an email address", body = ErrorEnvelope),
        (status = 404, description = "The address was not on the list", body = ErrorEnvelope),
    )
)]
pub(crate) async fn delete_suppression(
    State(state): State<AppState>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    let address = EmailAddress::parse(&address)
        .map_err(|e| ApiError::invalid("invalid_address", "address", format!("address: {e}")))?;
    if state
        .store
        .delete_suppression(caller.org_id, &address)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("suppression"))
    }
}

fn unknown_parameter(name: &str) -> ApiError {
    ApiError::invalid(
        "invalid_parameter",
        name,
        format!("unknown query parameter {name:?}"),
    )
}

/// The query of `GET /api/v1/messages` as a store filter. `status` may
/// repeat and may hold comma-separated names.
pub(crate) fn parse_message_filter(query: Option<&str>) -> Result<MessageFilter, ApiError> {
    let mut filter = MessageFilter::default();
    let mut limit = None;
    for (k, v) in query_pairs(query)? {
        match k.as_str() {
            "limit" => limit = Some(v),
            "cursor" => filter.before_id = Some(decode_cursor(&v)?),
            "status" => {
                for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let status = name.parse::<Status>().map_err(|_| {
                        let known: Vec<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
                        ApiError::invalid(
                            "invalid_parameter",
                            "status",
                            format!(
                                "unknown status {name:?}; expected one of {}",
                                known.join(", ")
                            ),
                        )
                    })?;
                    if !filter.statuses.contains(&status) {
                        filter.statuses.push(status);
                    }
                }
            }
            "recipient" => filter.recipient = Some(v).filter(|s| !s.is_empty()),
            "q" => filter.subject = Some(v).filter(|s| !s.is_empty()),
            "tag" => filter.tag = Some(v).filter(|s| !s.is_empty()),
            "since" => filter.since = Some(parse_time(&v, "since")?),
            "until" => filter.until = Some(parse_time(&v, "until")?),
            _ => return Err(unknown_parameter(&k)),
        }
    }
    filter.limit = parse_limit(limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    Ok(filter)
}

/// An RFC 3339 timestamp. A `+` offset sent unencoded arrives as a space
/// (form encoding), so a space is read back as `+`.
fn parse_time(v: &str, field: &str) -> Result<OffsetDateTime, ApiError> {
    OffsetDateTime::parse(v.trim(), &Rfc3339)
        .or_else(|e| {
            if v.contains(' ') {
                OffsetDateTime::parse(&v.trim().replace(' ', "+"), &Rfc3339)
            } else {
                Err(e)
            }
        })
        .map_err(|_| {
            ApiError::invalid(
                "invalid_parameter",
                field,
                format!("{field} must be an RFC 3339 time such as 2025-01-31T09:30:00Z"),
            )
        })
}

/// The cursor of the page after the one ending with `last`: the id,
/// base64url. Clients must treat it as opaque.
pub(crate) fn encode_cursor(last: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(last.as_bytes())
}

fn decode_cursor(s: &str) -> Result<Uuid, ApiError> {
    URL_SAFE_NO_PAD
        .decode(s.trim())
        .ok()
        .and_then(|b| Uuid::from_slice(&b).ok())
        .ok_or_else(|| {
            ApiError::invalid(
                "invalid_parameter",
                "cursor",
                "cursor is not one this API returned",
            )
        })
}

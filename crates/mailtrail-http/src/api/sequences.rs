//! `/api/v1/sequences`: follow-up sequences and their steps (DESIGN.md
//! section 4, flow 6). Every template is checked when the sequence is
//! saved, so an unknown variable or a missing fallback is refused with the
//! step and the variable named, before anything is sent.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use mailtrail_domain::EmailAddress;
use mailtrail_domain::sequence::{MAX_STEPS, SendWindow, Template, TimeZoneName, Wait};
use mailtrail_store::sequence::{Sequence, Step};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::ErrorEnvelope;
use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// The routes of this module, each described in the OpenAPI document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
}

/// Sends per rolling 24 hours of a sending user, unless the sequence says.
const DEFAULT_DAILY_LIMIT: u32 = 200;
/// The most a sequence may set.
const MAX_DAILY_LIMIT: u32 = 10_000;
/// The longest subject or name.
const MAX_LINE_CHARS: usize = 500;

/// A step of `POST /api/v1/sequences`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StepRequest {
    /// The subject, with `{{variables}}`. A reply step (the default from
    /// step 2) is sent as `Re:` the first step's subject instead.
    pub subject: String,
    /// The HTML body, with `{{variables}}` (values are HTML-escaped).
    #[serde(default)]
    pub html: Option<String>,
    /// The text body, with `{{variables}}`.
    #[serde(default)]
    pub text: Option<String>,
    /// The wait after the previous step (or the enrolment):
    /// `{"minutes"|"hours"|"days"|"business_days": N}`. Step 1 defaults to
    /// none; later steps must say.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"business_days": 3}))]
    pub wait: Option<Wait>,
    /// Send as a new thread instead of a reply to the previous step.
    #[serde(default)]
    pub new_thread: bool,
}

/// The body of `POST /api/v1/sequences`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SequenceRequest {
    /// A name for people.
    pub name: String,
    /// The From address.
    pub from: String,
    /// The From display name.
    #[serde(default)]
    pub from_name: Option<String>,
    /// When it may send: `{"days": ["mon", ...], "from_hour": 9,
    /// "to_hour": 17}`, read in the contact's time zone, else the
    /// sequence's. Without one it sends at any time.
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"days": ["mon", "tue", "wed", "thu", "fri"], "from_hour": 9, "to_hour": 17}))]
    pub window: Option<SendWindow>,
    /// The IANA zone of the window for contacts without one (default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Sends per rolling 24 hours of the sending user (default 200).
    #[serde(default)]
    pub daily_limit: Option<u32>,
    /// The steps, in order.
    pub steps: Vec<StepRequest>,
}

/// A step as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StepView {
    id: Uuid,
    position: u32,
    subject: String,
    html: Option<String>,
    text: Option<String>,
    #[schema(value_type = Object)]
    wait: Wait,
    new_thread: bool,
}

/// A sequence as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SequenceView {
    id: Uuid,
    name: String,
    from: String,
    from_name: Option<String>,
    #[schema(value_type = Option<Object>)]
    window: Option<SendWindow>,
    time_zone: String,
    daily_limit: u32,
    paused: bool,
    steps: Vec<StepView>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl From<Sequence> for SequenceView {
    fn from(s: Sequence) -> Self {
        Self {
            id: s.id,
            name: s.name,
            from: s.from_address,
            from_name: s.from_name,
            window: s.window,
            time_zone: s.time_zone,
            daily_limit: s.daily_limit,
            paused: s.paused,
            steps: s
                .steps
                .into_iter()
                .map(|st| StepView {
                    id: st.id,
                    position: st.position,
                    subject: st.subject,
                    html: st.html,
                    text: st.text,
                    wait: st.wait,
                    new_thread: st.new_thread,
                })
                .collect(),
            created_at: s.created_at,
        }
    }
}

/// The sequences of an organisation.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SequenceList {
    data: Vec<SequenceView>,
}

fn line(value: &str, field: &str) -> Result<String, ApiError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(ApiError::invalid(
            "invalid_field",
            field,
            format!("{field}: required"),
        ));
    }
    if v.chars().count() > MAX_LINE_CHARS || v.contains(['\r', '\n']) {
        return Err(ApiError::invalid(
            "invalid_field",
            field,
            format!("{field}: one line of at most {MAX_LINE_CHARS} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn template(source: &str, field: &str) -> Result<(), ApiError> {
    Template::parse(source)
        .map(|_| ())
        .map_err(|e| ApiError::invalid("invalid_template", field, format!("{field}: {e}")))
}

/// Checks a step: its templates, its wait, that it has a body.
fn check_step(i: usize, s: StepRequest) -> Result<Step, ApiError> {
    let at = |f: &str| format!("steps[{i}].{f}");
    let subject = line(&s.subject, &at("subject"))?;
    template(&subject, &at("subject"))?;
    for (body, f) in [(&s.html, "html"), (&s.text, "text")] {
        if let Some(b) = body {
            template(b, &at(f))?;
        }
    }
    let nonempty = |b: &Option<String>| b.as_deref().is_some_and(|b| !b.trim().is_empty());
    if !nonempty(&s.html) && !nonempty(&s.text) {
        return Err(ApiError::invalid(
            "invalid_field",
            at("text"),
            format!("{}: a step needs html or text", at("text")),
        ));
    }
    let wait = match (s.wait, i) {
        (Some(w), _) => w.check().map_err(|e| {
            ApiError::invalid("invalid_wait", at("wait"), format!("{}: {e}", at("wait")))
        })?,
        (None, 0) => Wait::Minutes(0),
        (None, _) => {
            return Err(ApiError::invalid(
                "invalid_wait",
                at("wait"),
                format!(
                    "{}: required from the second step, e.g. {{\"business_days\": 3}}",
                    at("wait")
                ),
            ));
        }
    };
    Ok(Step {
        id: Uuid::now_v7(),
        position: u32::try_from(i + 1).unwrap_or(u32::MAX),
        subject,
        html: s.html,
        text: s.text,
        wait,
        new_thread: s.new_thread,
    })
}

/// Checks and stores a sequence: the use case behind the API and the
/// dashboard. `user_id` is the sending user, whose daily limit applies.
pub(crate) async fn create_sequence(
    state: &AppState,
    org_id: Uuid,
    user_id: Uuid,
    req: SequenceRequest,
) -> Result<Sequence, ApiError> {
    let name = line(&req.name, "name")?;
    let from = EmailAddress::parse(req.from.trim())
        .map_err(|e| ApiError::invalid("invalid_address", "from", format!("from: {e}")))?;
    let from_name = match req.from_name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(line(n, "from_name")?),
    };
    let window = req
        .window
        .map(SendWindow::check)
        .transpose()
        .map_err(|e| ApiError::invalid("invalid_window", "window", format!("window: {e}")))?;
    let time_zone = TimeZoneName::parse(req.time_zone.as_deref().unwrap_or("UTC"))
        .map_err(|e| ApiError::invalid("invalid_time_zone", "time_zone", e.to_string()))?;
    let daily_limit = req.daily_limit.unwrap_or(DEFAULT_DAILY_LIMIT);
    if daily_limit == 0 || daily_limit > MAX_DAILY_LIMIT {
        return Err(ApiError::invalid(
            "invalid_field",
            "daily_limit",
            format!("daily_limit: from 1 to {MAX_DAILY_LIMIT}"),
        ));
    }
    if req.steps.is_empty() || req.steps.len() > MAX_STEPS {
        return Err(ApiError::invalid(
            "invalid_field",
            "steps",
            format!("steps: from 1 to {MAX_STEPS}"),
        ));
    }
    let steps = req
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, s)| check_step(i, s))
        .collect::<Result<Vec<_>, _>>()?;
    let now = OffsetDateTime::now_utc();
    let seq = Sequence {
        id: Uuid::now_v7(),
        org_id,
        user_id,
        name,
        from_address: from.as_str().to_owned(),
        from_name,
        window,
        time_zone: time_zone.as_str().to_owned(),
        daily_limit,
        paused: false,
        steps,
        created_at: now,
        updated_at: now,
    };
    state.store.create_sequence(&seq).await?;
    tracing::info!(sequence.id = %seq.id, "sequence added");
    state
        .store
        .sequence(org_id, seq.id)
        .await?
        .ok_or(ApiError::NotFound("sequence"))
}

/// `POST /api/v1/sequences`: 201 with the sequence.
#[utoipa::path(
    post,
    path = "/api/v1/sequences",
    operation_id = "create_sequence",
    tag = "sequences",
    security(("api_key" = [])),
    request_body = SequenceRequest,
    responses(
        (status = 201, description = "The sequence with its steps", body = SequenceView),
        (status = 400, description = "A bad field; for a template, `field` names the step (`steps[1].html`) and the message the variable", body = ErrorEnvelope),
    )
)]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<SequenceRequest>,
) -> Result<(StatusCode, Json<SequenceView>), ApiError> {
    let s = create_sequence(&state, caller.org_id, caller.user_id, req).await?;
    Ok((StatusCode::CREATED, Json(s.into())))
}

/// `GET /api/v1/sequences`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/sequences",
    operation_id = "list_sequences",
    tag = "sequences",
    security(("api_key" = [])),
    responses((status = 200, description = "The organisation's sequences", body = SequenceList))
)]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<SequenceList>, ApiError> {
    let all = state.store.sequences(caller.org_id).await?;
    Ok(Json(SequenceList {
        data: all.into_iter().map(Into::into).collect(),
    }))
}

/// `GET /api/v1/sequences/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/sequences/{id}",
    operation_id = "show_sequence",
    tag = "sequences",
    security(("api_key" = [])),
    params(("id" = Uuid, Path, description = "The sequence's id")),
    responses(
        (status = 200, description = "The sequence with its steps", body = SequenceView),
        (status = 404, description = "No such sequence", body = ErrorEnvelope),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SequenceView>, ApiError> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::NotFound("sequence"))?;
    let s = state
        .store
        .sequence(caller.org_id, id)
        .await?
        .ok_or(ApiError::NotFound("sequence"))?;
    Ok(Json(s.into()))
}

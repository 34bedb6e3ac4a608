//! The one error type of the HTTP API (DESIGN.md section 6).
//!
//! Every error leaves the server as `{"error":{"code","message","field"?}}`
//! so that a client can branch on `code` and show `message`, and `field`
//! names the exact place in the request to fix (`to[2]`,
//! `attachments[0].content_base64`, `status`). Server errors (5xx) never show
//! their cause: it may hold SQL, paths or addresses. They are logged here,
//! once, where the response is made.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailtrail_store::StoreError;
use serde::Serialize;

/// Why a request failed, and so which status and body it gets.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header, or a key that is unknown or revoked
    /// (RFC 6750 section 3.1).
    #[error("a valid API key is required: send `Authorization: Bearer <key>`")]
    Unauthorized,
    /// The resource does not exist, or belongs to another organisation
    /// (which the caller must not be able to tell apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request is well-formed HTTP but its content is refused: a 400
    /// naming the field when there is one.
    #[error("{message}")]
    Invalid {
        /// Stable machine-readable code, e.g. `invalid_address`.
        code: &'static str,
        /// Where in the request: a JSON path (`to[2]`) or a query parameter.
        field: Option<String>,
        /// What is wrong, for a person.
        message: String,
    },
    /// The request body is larger than the configured limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is declared as something other than JSON.
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// A unique constraint was hit (for example two requests with the same
    /// idempotency key racing each other).
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// An error response made by the HTTP layer itself (unknown route, wrong
    /// method, a body limit hit before any handler ran), re-dressed in the
    /// JSON shape.
    #[error("{message}")]
    Http {
        /// The status the layer chose.
        status: StatusCode,
        /// Its explanation (already safe to show: never used for 5xx).
        message: String,
    },
    /// The database does not answer; the service cannot work right now.
    #[error("the service is unavailable")]
    Unavailable(#[source] StoreError),
    /// The store failed: a bug, corrupt data or a lost connection.
    #[error("internal server error")]
    Store(#[source] StoreError),
}

impl ApiError {
    /// A 400 with a code, the field it is about and an explanation.
    pub fn invalid(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            code,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Invalid { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Http { status, .. } => *status,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Invalid { code, .. } => code,
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Conflict(_) => "conflict",
            Self::Http { status, .. } => code_for_status(*status),
            Self::Unavailable(_) => "unavailable",
            Self::Store(_) => "internal",
        }
    }

    /// The field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Invalid { field, .. } => field.as_deref(),
            _ => None,
        }
    }
}

/// A code for an error status that the HTTP layer produced on its own.
fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal",
        _ => "error",
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Self::Conflict(what),
            StoreError::NotFound(what) => Self::NotFound(what),
            other => Self::Store(other),
        }
    }
}

/// The body of every error response: `{"error": {...}}`. The OpenAPI
/// document describes errors with this very type, so the document and the
/// wire cannot disagree.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "invalid_address", "message": "to[2]: missing @", "field": "to[2]"}}))]
pub(crate) struct ErrorEnvelope {
    error: ErrorBody,
}

/// What went wrong.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable machine-readable code to branch on, e.g. `invalid_address`,
    /// `missing_field`, `unauthorized`, `not_found`, `payload_too_large`.
    code: &'static str,
    /// What is wrong, for a person. 5xx errors never show their cause.
    message: String,
    /// Where in the request: a JSON path (`to[2]`,
    /// `attachments[0].content_base64`) or a query parameter (`status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status.is_server_error() {
            // Log the cause once, here; the client gets no internals.
            match &self {
                Self::Unavailable(e) => tracing::warn!(error = %e, "database unavailable"),
                other => tracing::error!(error = %error_chain(other), "request failed"),
            }
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the service is temporarily unavailable".to_owned()
                }
                _ => "internal server error".to_owned(),
            }
        } else {
            self.to_string()
        };
        let body = ErrorEnvelope {
            error: ErrorBody {
                code: self.code(),
                message,
                field: self.field().map(str::to_owned),
            },
        };
        (status, Json(body)).into_response()
    }
}

/// The error and all its sources, `: `-separated, for the one log line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

//! `POST /api/v1/convert`: an Outlook `.msg` (or a TNEF `winmail.dat`) in
//! the request body, the `.eml` back as `message/rfc822`. `?tnef=true`
//! keeps every MAPI property in an `application/ms-tnef` part. A file that
//! cannot be read is a 400 naming the body and what is wrong in it.

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use mailtrail_outlook::EmlOptions;

use crate::ApiError;
use crate::auth::Caller;
use crate::extract::query_pairs;

/// Convert an Outlook `.msg` to `.eml`.
///
/// The body is the `.msg` file's bytes (or a TNEF `winmail.dat`); the
/// answer is the message as `message/rfc822` (RFC 5322).
#[utoipa::path(
    post,
    path = "/api/v1/convert",
    operation_id = "convert_outlook",
    tag = "convert",
    security(("api_key" = [])),
    params(("tnef" = Option<bool>, Query, description = "Also keep every MAPI property in an `application/ms-tnef` part")),
    request_body(content = String, content_type = "application/vnd.ms-outlook", description = "The .msg file's bytes"),
    responses(
        (status = 200, description = "The converted message", content_type = "message/rfc822", body = String),
        (status = 400, description = "An empty body or a file that cannot be read (`field` is `body`), or a bad query parameter", body = crate::error::ErrorEnvelope),
    )
)]
pub(crate) async fn convert(
    _caller: Caller,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut tnef = false;
    for (key, value) in query_pairs(query.as_deref())? {
        match key.as_str() {
            "tnef" => {
                tnef = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(ApiError::invalid(
                            "invalid_query",
                            "tnef",
                            "tnef must be true or false",
                        ));
                    }
                }
            }
            other => {
                return Err(ApiError::invalid(
                    "invalid_query",
                    other.to_owned(),
                    format!("unknown query parameter {other}"),
                ));
            }
        }
    }
    if body.is_empty() {
        return Err(ApiError::invalid(
            "invalid_outlook_file",
            "body",
            "the body is empty: send the .msg file's bytes",
        ));
    }
    // Parsing is CPU work on the request's bytes: off the async workers.
    let converted =
        tokio::task::spawn_blocking(move || mailtrail_outlook::convert(&body, EmlOptions { tnef }))
            .await
            .map_err(|_| {
                ApiError::invalid(
                    "invalid_outlook_file",
                    "body",
                    "the file could not be converted",
                )
            })?;
    match converted {
        Ok(eml) => Ok(([(CONTENT_TYPE, "message/rfc822")], eml).into_response()),
        Err(e) => Err(ApiError::invalid(
            "invalid_outlook_file",
            "body",
            e.to_string(),
        )),
    }
}

//! Request extractors whose failures are [`ApiError`]s, so that a bad body
//! or query string gets the same JSON error shape as every other error
//! (axum's own rejections are plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

use crate::{ApiError, AppState};

/// A JSON request body, deserialized with the path of any error kept, so
/// that `"field"` can say `to[2]` or `attachments[0].filename`.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // A missing Content-Type is read as JSON (this API takes nothing
        // else); a different one is refused rather than guessed at.
        if let Some(ct) = req.headers().get(CONTENT_TYPE)
            && !is_json_content_type(ct.to_str().unwrap_or(""))
        {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: state.settings.max_message_bytes,
                }
            } else {
                ApiError::Invalid {
                    code: "invalid_body",
                    field: None,
                    message: rejection.body_text(),
                }
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// `application/json` or any `+json` type (RFC 8259 section 11, RFC 6839
/// section 3.1), parameters ignored.
fn is_json_content_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes `bytes` as one JSON value of type `T`. Syntax errors give
/// `invalid_json`; well-formed JSON of the wrong shape (unknown field, wrong
/// type, missing field) gives `invalid_field`; both name the path.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde's derived structs also accept a JSON array, by position; every
    // body of this API is an object, so an array is refused up front.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::Invalid {
            code: "invalid_field",
            field: None,
            message: "the body must be a JSON object".to_owned(),
        });
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&inner, path)
    })?;
    de.end().map_err(|e| json_error(&e, ".".to_owned()))?;
    Ok(value)
}

fn json_error(e: &serde_json::Error, path: String) -> ApiError {
    // serde_path_to_error writes `?` for a segment it could not name (an
    // error inside a key, or at the end of input): drop those.
    let path = path.trim_end_matches(".?").to_owned();
    let field = (path != "." && path != "?").then_some(path);
    let code = if e.is_data() {
        "invalid_field"
    } else {
        "invalid_json"
    };
    let message = match &field {
        Some(f) if e.is_data() => format!("{f}: {e}"),
        _ => e.to_string(),
    };
    ApiError::Invalid {
        code,
        field,
        message,
    }
}

/// The query string as ordered `(name, value)` pairs, percent-decoded, so
/// that a parameter may repeat (`status=a&status=b`), which serde's struct
/// form cannot express.
pub(crate) fn query_pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(raw.unwrap_or("")).map_err(|e| {
        ApiError::Invalid {
            code: "invalid_parameter",
            field: None,
            message: format!("the query string cannot be decoded: {e}"),
        }
    })
}

/// A `limit` parameter: `default` when absent, a larger one than `max` is
/// read as `max` (a page is never bigger, and a client asking for "all"
/// still gets a valid page), zero or a non-number is refused.
pub(crate) fn parse_limit(value: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    let Some(v) = value else {
        return Ok(default);
    };
    match v.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(u32::try_from(n).unwrap_or(max).min(max)),
        _ => Err(ApiError::invalid(
            "invalid_parameter",
            "limit",
            "limit must be a positive whole number",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type("application/json"));
        assert!(is_json_content_type("Application/JSON; charset=utf-8"));
        assert!(is_json_content_type("application/merge-patch+json"));
        assert!(!is_json_content_type("text/plain"));
        assert!(!is_json_content_type("application/x-www-form-urlencoded"));
    }

    #[test]
    fn trailing_garbage_is_a_syntax_error() {
        let e = parse_json::<serde_json::Value>(b"{} x").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        assert_eq!(e.field(), None);
    }

    #[test]
    fn limits() {
        assert_eq!(parse_limit(None, 50, 200).unwrap(), 50);
        assert_eq!(parse_limit(Some("200"), 50, 200).unwrap(), 200);
        assert_eq!(parse_limit(Some("7"), 50, 200).unwrap(), 7);
        assert_eq!(parse_limit(Some("201"), 50, 200).unwrap(), 200);
        assert_eq!(parse_limit(Some("99999999999999"), 50, 200).unwrap(), 200);
        for bad in ["0", "-1", "x", "", "1.5"] {
            let e = parse_limit(Some(bad), 50, 200).unwrap_err();
            assert_eq!(e.field(), Some("limit"), "{bad}");
        }
    }

    #[test]
    fn repeated_query_parameters_are_kept() {
        let q = query_pairs(Some("status=sent&status=failed%2Cqueued&q=a+b")).unwrap();
        assert_eq!(
            q,
            vec![
                ("status".to_owned(), "sent".to_owned()),
                ("status".to_owned(), "failed,queued".to_owned()),
                ("q".to_owned(), "a b".to_owned()),
            ]
        );
    }
}

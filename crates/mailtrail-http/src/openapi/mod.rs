//! The OpenAPI 3.1 document of the HTTP API and the page that reads it.
//!
//! The document is generated from the handlers and their types (utoipa),
//! never written by hand: `GET /api/v1/openapi.json` serves it, and
//! `/api/docs` serves Swagger UI, whose assets are compiled into the binary
//! (utoipa-swagger-ui's `vendored` feature: nothing is fetched at build or
//! at run time, no CDN).
//!
//! # Documenting a new route
//!
//! 1. Annotate the handler with `#[utoipa::path(...)]`: method, `path`,
//!    `tag`, `security(("api_key" = []))` when it takes a [`Caller`]
//!    (`crate::auth::Caller`), its `params(...)`, `request_body = T` and
//!    `responses(...)`, with its own errors as
//!    `(status = 400, body = ErrorEnvelope, ...)`. A 401 for secured
//!    operations and a `default` error answer are added to every operation
//!    by [`CommonResponses`]; the doc comment becomes the summary.
//! 2. Derive `utoipa::ToSchema` on its request and response types; a
//!    field of a domain type takes `#[schema(schema_with = ...)]` from
//!    [`schemas`] (or `value_type = String`).
//! 3. Register it with `.routes(routes!(handler))` on the `OpenApiRouter`
//!    of [`documented`] (or of a module's router merged there, like
//!    [`crate::api::routes`]) instead of `Router::route`: the router and
//!    the document then come from the same line.
//!
//! `tests/it/openapi.rs` fails for any `/api/v1` route, or any method of
//! one, that the served document does not describe.

pub(crate) mod schemas;

use std::sync::OnceLock;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::ErrorEnvelope;
use crate::{ApiError, AppState};

/// Where the document is served.
pub(crate) const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where its page is served.
pub(crate) const PAGE_PATH: &str = "/api/docs";

/// The document's fixed parts: title, security schemes, tags.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mailtrail",
        description = "Send mail and read, recipient by recipient, what became of it: sent, \
                       delivered, failed (and why), opened (and by whom: a person, a proxy \
                       or a machine), clicked, read, replied, complained, unsubscribed.\n\n\
                       Authenticate with an API key made in the dashboard (Settings → API \
                       keys): `Authorization: Bearer <key>`. Every error is answered as \
                       `{\"error\": {\"code\", \"message\", \"field\"?}}`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorEnvelope)),
    tags(
        (name = "messages", description = "Send messages and read their recipients' statuses and timelines"),
        (name = "sandbox", description = "The built-in test inbox of the `sandbox` transport"),
        (name = "suppressions", description = "Addresses that are never sent to"),
        (name = "tracking", description = "The sender's own devices, whose opens never count"),
        (name = "convert", description = "Outlook .msg and TNEF to .eml"),
        (name = "webhooks", description = "Endpoints that receive every event, signed per Standard Webhooks, with their delivery log and replay"),
        (name = "mailbox", description = "The key owner's own mailbox over IMAP, tested before it is saved, its secret sealed at rest"),
        (name = "sequences", description = "Contacts and follow-up sequences that stop when someone answers"),
        (name = "inbound", description = "Reports pushed by mail providers"),
        (name = "operations", description = "Health, metrics and this document"),
    )
)]
struct Fixed;

/// The bearer schemes: API keys (RFC 6750) and the optional token of
/// `GET /metrics`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key from the dashboard's Settings → API keys, as \
                         `Authorization: Bearer <key>` (RFC 6750 section 2.1)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "metrics_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The token set with `--metrics-token`, when one is set",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds what every operation can answer, so that no handler has to repeat
/// it: a 401 where a key is required, and a `default` error answer (405,
/// 413, 500, 503...) in the one error shape.
pub(crate) struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, doc: &mut Document) {
        let error = || {
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                .build()
        };
        for item in doc.paths.paths.values_mut() {
            let operations: [&mut Option<Operation>; 5] = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let needs_key = op.security.as_ref().is_some_and(|s| {
                    !s.is_empty()
                        && serde_json::to_value(s)
                            .is_ok_and(|v| v.to_string().contains("\"api_key\""))
                });
                let responses = &mut op.responses.responses;
                if needs_key && !responses.contains_key("401") {
                    responses.insert(
                        "401".to_owned(),
                        ResponseBuilder::new()
                            .description("No API key, or one that is unknown or revoked")
                            .content("application/json", error())
                            .into(),
                    );
                }
                responses.entry("default".to_owned()).or_insert_with(|| {
                    ResponseBuilder::new()
                        .description(
                            "Any other error (405, 413, 415, 500, 503...), in the one error shape",
                        )
                        .content("application/json", error())
                        .into()
                });
            }
        }
    }
}

/// Every documented route, with the document they make. Routes registered
/// here are in the document by construction.
pub(crate) fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Fixed::openapi())
        .merge(crate::api::routes())
        .merge(crate::api::webhooks::routes())
        .merge(crate::api::mailbox::routes())
        .merge(crate::api::contacts::routes())
        .merge(crate::api::sequences::routes())
        .merge(crate::tracking::api_routes())
        .merge(crate::monitoring::routes())
        .routes(routes!(crate::ses::inbound_ses))
        .routes(routes!(crate::healthz))
        .routes(routes!(openapi_json))
}

/// The generated document. [`Modify`] runs on the fixed parts only, before
/// the routes are merged in, so the common responses are added here, to
/// the whole.
pub(crate) fn document() -> Document {
    let mut doc = documented().into_openapi();
    CommonResponses.modify(&mut doc);
    doc
}

/// The document as JSON, made once.
fn document_json() -> Result<&'static str, ApiError> {
    static JSON: OnceLock<Result<String, String>> = OnceLock::new();
    JSON.get_or_init(|| document().to_pretty_json().map_err(|e| e.to_string()))
        .as_deref()
        .map_err(|e| {
            tracing::error!(error = %e, "openapi: the document does not serialize");
            ApiError::Http {
                status: axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                message: "the document could not be made".to_owned(),
            }
        })
}

/// `GET /api/v1/openapi.json`: this document (OpenAPI 3.1).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
async fn openapi_json() -> Result<Response, ApiError> {
    Ok(([(CONTENT_TYPE, "application/json")], document_json()?).into_response())
}

/// The documentation page at `/api/docs/` and its assets, reading the
/// document from [`DOCUMENT_PATH`].
pub(crate) fn page() -> Router<AppState> {
    Router::from(SwaggerUi::new(PAGE_PATH).config(Config::new([DOCUMENT_PATH])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secured_operations_answer_401_and_all_have_a_default() {
        let doc = document();
        let send = doc
            .paths
            .get_path_operation("/api/v1/messages", utoipa::openapi::HttpMethod::Post)
            .expect("POST /api/v1/messages");
        assert!(send.responses.responses.contains_key("401"));
        assert!(send.responses.responses.contains_key("default"));
        let health = doc
            .paths
            .get_path_operation("/healthz", utoipa::openapi::HttpMethod::Get)
            .expect("GET /healthz");
        assert!(!health.responses.responses.contains_key("401"));
        assert!(health.responses.responses.contains_key("default"));
    }
}

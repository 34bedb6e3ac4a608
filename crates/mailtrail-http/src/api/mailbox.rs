//! `/api/v1/mailbox`: the key owner's own mailbox, connected over IMAP
//! (DESIGN.md section 2, "mailbox"), where replies, read receipts and
//! receipt requests arrive.
//!
//! A mailbox is tested before it is saved: the server is reached, TLS
//! set up, the user signed in and the folder opened read-only (RFC 3501
//! section 6.3.2), and each failure is a 400 saying which step failed.
//! The URL, with its password or OAuth 2.0 secrets, is then kept only
//! sealed ([`mailtrail_domain::sealed`]) under a key outside the database,
//! and is never shown again: answers show it without any secret.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mailtrail_domain::sealed::SealingKey;
use mailtrail_imap::{MailboxConfig, TlsMode};
use mailtrail_store::user_mailbox::{NewUserMailbox, UserMailbox};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Caller;
use crate::error::ErrorEnvelope;
use crate::extract::JsonBody;
use crate::{ApiError, AppState};

/// What the server needs to test and keep users' mailboxes: the sealing
/// key, extra trusted CAs, and how long a test may wait for the server.
#[derive(Debug, Clone)]
pub struct Mailboxes {
    /// Seals and opens the stored URLs.
    pub key: Arc<SealingKey>,
    /// Extra trusted CA certificates in PEM (a self-hosted server's CA).
    pub extra_ca_pem: Option<Arc<[u8]>>,
    /// The longest wait for each step of the test.
    pub wait: Duration,
}

impl Mailboxes {
    /// With this key, the Web PKI roots only, and a 10-second wait.
    pub fn new(key: SealingKey) -> Self {
        Self {
            key: Arc::new(key),
            extra_ca_pem: None,
            wait: Duration::from_secs(10),
        }
    }
}

/// The routes of this module, each described in the OpenAPI document.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, connect, disconnect))
}

/// The body of `PUT /api/v1/mailbox`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MailboxRequest {
    /// `imaps://user:password@host[:port]/FOLDER` (implicit TLS, RFC 8314),
    /// `imap+starttls://...`, or `imap://` to this machine only; user and
    /// password percent-encoded. `?xoauth2` makes the password an OAuth 2.0
    /// access token; `&token_url=&client_id=&client_secret=&refresh_token=`
    /// adds a refresh token grant (the same form as `--imap-mailbox`).
    #[schema(example = "imaps://alice%40example.com:secret@imap.example.com/INBOX")]
    pub url: String,
}

/// A connected mailbox as the API shows it: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MailboxView {
    /// The URL without password or tokens.
    #[schema(example = "imaps://alice@example.com@imap.example.com:993/INBOX")]
    mailbox: String,
    #[serde(with = "time::serde::rfc3339")]
    connected_at: OffsetDateTime,
    /// The last session that worked.
    #[serde(with = "time::serde::rfc3339::option")]
    last_ok_at: Option<OffsetDateTime>,
    /// Every session since this time has failed.
    #[serde(with = "time::serde::rfc3339::option")]
    failing_since: Option<OffsetDateTime>,
    /// Why the last session failed.
    last_error: Option<String>,
}

impl From<UserMailbox> for MailboxView {
    fn from(m: UserMailbox) -> Self {
        Self {
            mailbox: m.display,
            connected_at: m.connected_at,
            last_ok_at: m.last_ok_at,
            failing_since: m.failing_since,
            last_error: m.last_error,
        }
    }
}

/// Whether `host` is this machine, where plain IMAP exposes nothing.
fn loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Parses a mailbox URL; a password never travels in the clear to
/// another machine.
pub(crate) fn parse_url(url: &str, field: &str) -> Result<MailboxConfig, ApiError> {
    let config = MailboxConfig::parse(url.trim())
        .map_err(|e| ApiError::invalid("invalid_url", field, format!("{field}: {e}")))?;
    if config.tls == TlsMode::None && !loopback(&config.host) {
        return Err(ApiError::invalid(
            "invalid_url",
            field,
            format!(
                "{field}: plain imap:// is only for this machine; use imaps:// (TLS) or imap+starttls://"
            ),
        ));
    }
    Ok(config)
}

/// Tests a mailbox the way the poller will use it: connect, TLS, sign
/// in, open the folder read-only. Each failure is a 400 naming `field`
/// with a code for the step that failed.
pub(crate) async fn test_mailbox(
    config: &MailboxConfig,
    wait: Duration,
    field: &str,
) -> Result<(), ApiError> {
    use mailtrail_imap::Error as E;
    let fail = |code: &'static str, message: String| ApiError::invalid(code, field, message);
    let where_ = format!("{}:{}", config.host, config.port);
    let classify = |e: E| match e {
        E::Refused {
            command: "LOGIN" | "AUTHENTICATE",
            text,
        } => fail(
            "wrong_credentials",
            format!("{where_} refused the user name or password: {text}"),
        ),
        E::Refused {
            command: "EXAMINE",
            text,
        } => fail(
            "no_such_mailbox",
            format!("{where_} has no folder {:?}: {text}", config.folder),
        ),
        E::Tls(why) => fail("tls_failure", format!("TLS with {where_} failed: {why}")),
        E::OAuth(why) => fail("oauth_failure", format!("no OAuth 2.0 access token: {why}")),
        E::Io(e) => fail("unreachable", format!("cannot reach {where_}: {e}")),
        E::Timeout(d) => fail(
            "unreachable",
            format!("{where_} did not answer within {} seconds", d.as_secs()),
        ),
        other => fail(
            "not_imap",
            format!("{where_} does not speak IMAP as expected: {other}"),
        ),
    };
    let mut client = mailtrail_imap::Client::connect(config, wait)
        .await
        .map_err(classify)?;
    client.examine(&config.folder).await.map_err(classify)?;
    // The test is done; a failed LOGOUT changes nothing.
    let _ = client.logout().await;
    Ok(())
}

/// Tests and connects `user_id`'s mailbox: the one use case behind the
/// API's `PUT` and the dashboard's form. Nothing is stored unless the
/// test passed.
pub(crate) async fn connect_mailbox(
    state: &AppState,
    caller: Caller,
    url: &str,
    field: &str,
) -> Result<UserMailbox, ApiError> {
    let mut config = parse_url(url, field)?;
    config.extra_ca_pem = state.mailboxes.extra_ca_pem.clone();
    test_mailbox(&config, state.mailboxes.wait, field).await?;
    let sealed_url = state
        .mailboxes
        .key
        .seal(caller.user_id.as_bytes(), url.trim().as_bytes());
    let new = NewUserMailbox {
        user_id: caller.user_id,
        org_id: caller.org_id,
        display: config.key(),
        sealed_url,
        connected_at: OffsetDateTime::now_utc(),
    };
    state
        .store
        .put_user_mailbox(&new)
        .await
        .map_err(ApiError::Store)?;
    tracing::info!(user.id = %caller.user_id, mailbox = %new.display, "mailbox connected");
    state
        .store
        .user_mailbox(caller.user_id)
        .await
        .map_err(ApiError::Store)?
        .ok_or(ApiError::NotFound("mailbox"))
}

/// The key owner's mailbox, without its secret.
#[utoipa::path(
    get,
    path = "/api/v1/mailbox",
    operation_id = "show_mailbox",
    tag = "mailbox",
    security(("api_key" = [])),
    responses(
        (status = 200, description = "The connected mailbox and how its last sessions went", body = MailboxView),
        (status = 404, description = "No mailbox is connected", body = ErrorEnvelope),
    )
)]
async fn show(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<MailboxView>, ApiError> {
    let m = state
        .store
        .user_mailbox(caller.user_id)
        .await
        .map_err(ApiError::Store)?
        .ok_or(ApiError::NotFound("mailbox"))?;
    Ok(Json(m.into()))
}

/// Connect the key owner's mailbox.
///
/// `PUT /api/v1/mailbox`: tested first (reached, TLS, signed in, folder
/// opened read-only); saved only if that worked, replacing the mailbox
/// connected before. The secret is never shown again.
#[utoipa::path(
    put,
    path = "/api/v1/mailbox",
    operation_id = "connect_mailbox",
    tag = "mailbox",
    security(("api_key" = [])),
    request_body = MailboxRequest,
    responses(
        (status = 200, description = "Tested and connected", body = MailboxView),
        (status = 400, description = "Not connected; `code` says which step failed: `invalid_url`, `unreachable`, `tls_failure`, `wrong_credentials`, `oauth_failure`, `no_such_mailbox`, `not_imap`", body = ErrorEnvelope),
    )
)]
async fn connect(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(req): JsonBody<MailboxRequest>,
) -> Result<Json<MailboxView>, ApiError> {
    let m = connect_mailbox(&state, caller, &req.url, "url").await?;
    Ok(Json(m.into()))
}

/// Disconnect the key owner's mailbox: its sealed secret is deleted.
#[utoipa::path(
    delete,
    path = "/api/v1/mailbox",
    operation_id = "disconnect_mailbox",
    tag = "mailbox",
    security(("api_key" = [])),
    responses(
        (status = 204, description = "Disconnected"),
        (status = 404, description = "No mailbox is connected", body = ErrorEnvelope),
    )
)]
async fn disconnect(State(state): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    if state
        .store
        .delete_user_mailbox(caller.user_id)
        .await
        .map_err(ApiError::Store)?
    {
        tracing::info!(user.id = %caller.user_id, "mailbox disconnected");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("mailbox"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_imap_only_to_this_machine() {
        assert!(parse_url("imap://u:p@127.0.0.1:1143/INBOX", "url").is_ok());
        assert!(parse_url("imap://u:p@localhost/INBOX", "url").is_ok());
        assert!(parse_url("imaps://u:p@imap.example.com/INBOX", "url").is_ok());
        assert!(parse_url("imap+starttls://u:p@imap.example.com", "url").is_ok());
        let e = parse_url("imap://u:p@imap.example.com/INBOX", "url").unwrap_err();
        assert_eq!((e.code(), e.field()), ("invalid_url", Some("url")));
        assert!(e.to_string().contains("imaps://"), "{e}");
        let e = parse_url("pop3://u:p@h", "url").unwrap_err();
        assert_eq!(e.code(), "invalid_url");
    }
}

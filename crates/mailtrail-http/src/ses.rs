//! `POST /inbound/ses`: Amazon SES bounce and complaint notifications
//! delivered by an Amazon SNS HTTP(S) subscription, the same JSON a
//! mailed (`email-json`) subscription carries (issue 22).
//!
//! SNS posts its JSON with `Content-Type: text/plain; charset=UTF-8` and
//! the header `x-amz-sns-message-type` (SNS Developer Guide, "Parsing
//! message formats"). Every message must carry a signature that verifies
//! with the certificate the operator configured (`--ses-sns-certificate`,
//! [`mailtrail_mail::inbound::ses::verify`]); the certificate a message
//! names in `SigningCertURL` is never fetched, since a forged message
//! would name the forger's. SNS signs every topic of every AWS account
//! with the same certificate, so `--ses-sns-topic-arn` narrows what is
//! accepted to the operator's own topics.
//!
//! - `Notification`: the SES JSON inside is stored as an inbound message
//!   (source `sns`) and handed to the inbound processor, exactly as a
//!   notification arriving by mail: the same classification, correlation
//!   by our Message-ID in `mail.headers`/`mail.commonHeaders` or the
//!   address, the same events and suppressions. The answer (200) comes
//!   after the message is stored, so SNS retries one that was not.
//! - `SubscriptionConfirmation`: the `SubscribeURL` is visited (HTTPS
//!   GET, no redirects) only when its host is `sns.<region>.amazonaws.com`
//!   for the region of the signed `TopicArn`; any other URL would make this
//!   server a request-forgery relay and is refused (403). The URL is
//!   logged either way, so the operator can open it by hand.
//! - `UnsubscribeConfirmation`: logged.
//!
//! With no certificate configured the route answers 404 saying which flag
//! turns it on: the endpoint does not exist until the operator sets it up
//! (503 would say it will come back by itself). SNS retries a delivery
//! only after a 5xx or no answer; a 4xx is final, so a refused message is
//! logged. A store failure is a 5xx, and SNS delivers again.
//!
//! A notification SNS delivers twice (its answer lost, then retried) is
//! stored twice; its second failure or complaint event for the recipient
//! repeats the first and changes no status.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use mailtrail_mail::inbound::ses::{SnsError, SnsMessage, check_certificate, verify};
use mailtrail_store::inbound::{FromMailbox, InboundSource, NewInbound};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{ApiError, AppState};

/// The fields of SNS's JSON that are strings when present (the signed
/// ones, and the signature's own).
const STRING_FIELDS: &[&str] = &[
    "Type",
    "MessageId",
    "Token",
    "TopicArn",
    "Subject",
    "Message",
    "SubscribeURL",
    "Timestamp",
    "SignatureVersion",
    "Signature",
    "SigningCertURL",
    "UnsubscribeURL",
];

/// How long visiting a `SubscribeURL` may take.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// The operator's SNS set-up: the certificate SNS signs with and, when
/// given, the topics accepted.
#[derive(Clone)]
pub struct SesSns {
    inner: Arc<Inner>,
}

struct Inner {
    certificate: String,
    topics: Vec<String>,
    client: reqwest::Client,
}

impl std::fmt::Debug for SesSns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SesSns")
            .field("topics", &self.inner.topics)
            .finish_non_exhaustive()
    }
}

impl SesSns {
    /// Reads and checks the certificate at `path`, so that a wrong file
    /// stops the start instead of refusing every notification.
    pub fn from_file(path: &std::path::Path, topics: Vec<String>) -> Result<Self, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("ses_sns_certificate: reading {}: {e}", path.display()))?;
        Self::new(pem, topics).map_err(|e| format!("ses_sns_certificate {}: {e}", path.display()))
    }

    /// The set-up from the PEM `certificate` (checked here, so a wrong
    /// file stops the server at start) and the accepted topic ARNs (empty:
    /// any topic signed with the certificate).
    pub fn new(certificate: String, topics: Vec<String>) -> Result<Self, String> {
        check_certificate(&certificate).map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(CONFIRM_TIMEOUT)
            .build()
            .map_err(|e| format!("building the HTTPS client: {e}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                certificate,
                topics,
                client,
            }),
        })
    }
}

fn forbidden(message: String) -> ApiError {
    ApiError::Http {
        status: StatusCode::FORBIDDEN,
        message,
    }
}

/// Amazon SES notifications by SNS.
///
/// `POST /inbound/ses`: an Amazon SNS HTTP(S) subscription delivers SES
/// bounce and complaint notifications here; each must verify with the
/// certificate set by `--ses-sns-certificate`. 404 until it is set.
#[utoipa::path(
    post,
    path = "/inbound/ses",
    tag = "inbound",
    params(("x-amz-sns-message-type" = String, Header, description = "`Notification`, `SubscriptionConfirmation` or `UnsubscribeConfirmation`")),
    request_body(content = Object, content_type = "text/plain", description = "The SNS message, JSON as SNS sends it (with `Content-Type: text/plain`)"),
    responses(
        (status = 200, description = "Stored (`{\"status\": \"stored\", \"inbound_id\"}`), or a subscription handled", body = Object),
        (status = 400, description = "Not an SNS message, or a malformed one", body = crate::error::ErrorEnvelope),
        (status = 403, description = "The signature does not verify, or the topic or SubscribeURL is not allowed", body = crate::error::ErrorEnvelope),
        (status = 404, description = "No certificate configured: the route is off", body = crate::error::ErrorEnvelope),
    )
)]
pub(crate) async fn inbound_ses(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let Some(sns) = state.settings.ses_sns.clone() else {
        return Err(ApiError::Http {
            status: StatusCode::NOT_FOUND,
            message: "POST /inbound/ses is off: start the server with --ses-sns-certificate \
                      PATH (the PEM certificate Amazon SNS signs with) to receive SES \
                      notifications here"
                .to_owned(),
        });
    };
    check_shape(&body, &headers)?;
    let message = verify(&body, &sns.inner.certificate).map_err(|e| {
        if e == SnsError::BadSignature {
            // After AWS rotates its certificate every message lands here;
            // the URL the message names is where the new one is (never
            // fetched: a forged message names the forger's).
            let cert_url = string_field(&body, "SigningCertURL").unwrap_or_default();
            tracing::warn!(sns.signing_cert_url = %cert_url, "inbound/ses: SNS signature does not verify with --ses-sns-certificate; refused");
        }
        refusal(e)
    })?;
    let topic = match &message {
        SnsMessage::Notification { topic_arn, .. }
        | SnsMessage::SubscriptionConfirmation { topic_arn, .. }
        | SnsMessage::UnsubscribeConfirmation { topic_arn } => topic_arn,
    };
    if !sns.inner.topics.is_empty() && !sns.inner.topics.iter().any(|t| t == topic) {
        tracing::warn!(sns.topic = %topic, "inbound/ses: message from a topic not in --ses-sns-topic-arn refused");
        return Err(forbidden(format!(
            "TopicArn {topic} is not one of the topics configured with --ses-sns-topic-arn"
        )));
    }
    let sns_id = string_field(&body, "MessageId").unwrap_or_default();
    match message {
        SnsMessage::Notification { topic_arn, message } => {
            let id = Uuid::now_v7();
            let now = OffsetDateTime::now_utc();
            // SNS delivers at least once: a notification whose answer was
            // lost comes again with the same MessageId, and is stored once
            // (the topic is its source, the MessageId its fingerprint).
            let stored = state
                .store
                .insert_inbound(&NewInbound {
                    id,
                    source: InboundSource::Sns,
                    mail_from: None,
                    rcpt_to: Vec::new(),
                    mailbox: (!sns_id.is_empty()).then(|| FromMailbox {
                        key: format!("sns:{topic_arn}"),
                        cursor: None,
                        fingerprint: sns_id.clone(),
                    }),
                    raw: as_mail(&sns_id, &topic_arn, &message, now),
                    received_at: now,
                })
                .await?;
            if !stored {
                tracing::info!(sns.message_id = %sns_id, sns.topic = %topic_arn, "inbound/ses: notification delivered again; already stored");
                return Ok(Json(json!({ "status": "duplicate" })));
            }
            state.inbound_wake.notify_one();
            tracing::info!(inbound.id = %id, sns.message_id = %sns_id, sns.topic = %topic_arn, "inbound/ses: notification stored");
            Ok(Json(json!({ "status": "stored", "inbound_id": id })))
        }
        SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url,
        } => confirm(&sns, &topic_arn, &subscribe_url).await,
        SnsMessage::UnsubscribeConfirmation { topic_arn } => {
            tracing::warn!(sns.topic = %topic_arn, "inbound/ses: SNS reports this endpoint unsubscribed from the topic");
            Ok(Json(json!({ "status": "unsubscribed" })))
        }
    }
}

/// Refuses what is not SNS's JSON with a 400 naming the field, before
/// the signature is looked at.
fn check_shape(body: &[u8], headers: &HeaderMap) -> Result<(), ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid("invalid_json", "body", format!("the body is not JSON: {e}"))
    })?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid(
            "invalid_json",
            "body",
            "the body must be SNS's JSON object",
        ));
    };
    for &name in STRING_FIELDS {
        if object.get(name).is_some_and(|v| !v.is_string()) {
            return Err(ApiError::invalid(
                "invalid_field",
                name,
                format!("{name} must be a string"),
            ));
        }
    }
    let kind = object.get("Type").and_then(Value::as_str);
    if let (Some(header), Some(kind)) = (headers.get("x-amz-sns-message-type"), kind)
        && header.as_bytes() != kind.as_bytes()
    {
        return Err(ApiError::invalid(
            "invalid_field",
            "x-amz-sns-message-type",
            format!("the header x-amz-sns-message-type does not match Type {kind:?}"),
        ));
    }
    Ok(())
}

/// What [`verify`] refused, as an HTTP answer: a malformed message is a
/// 400 naming its field, a signature that does not verify a 403.
fn refusal(e: SnsError) -> ApiError {
    match e {
        SnsError::Malformed(m) => {
            let field = m
                .split_once(' ')
                .map(|(f, _)| f)
                .filter(|f| STRING_FIELDS.contains(f))
                .unwrap_or("body")
                .to_owned();
            ApiError::invalid("invalid_field", field, m)
        }
        SnsError::UnknownType(t) => ApiError::invalid(
            "invalid_field",
            "Type",
            format!("unknown SNS message Type {t:?}"),
        ),
        SnsError::UnknownVersion(v) => ApiError::invalid(
            "invalid_field",
            "SignatureVersion",
            format!("unsupported SignatureVersion {v:?} (1 and 2 are)"),
        ),
        SnsError::BadSignature => forbidden(
            "Signature does not verify with the certificate configured by \
             --ses-sns-certificate"
                .to_owned(),
        ),
        // Checked at start; only reachable if the file was valid then
        // and the check and the use ever disagree.
        SnsError::Certificate(why) => ApiError::Http {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: why.to_owned(),
        },
    }
}

fn string_field(body: &[u8], name: &str) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

/// The SES notification as the mail an `email` subscription would have
/// brought, so that the inbound processor reads it as it reads mail: the
/// JSON is the body ([`mailtrail_mail::inbound::classify`] reads it
/// there). The SNS message id and topic go into headers, for the
/// operator reading the stored message.
fn as_mail(sns_id: &str, topic: &str, message: &str, now: OffsetDateTime) -> Vec<u8> {
    let clean = |s: &str| -> String { s.chars().filter(|c| !c.is_control()).collect() };
    let date = now
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap_or_default();
    format!(
        "From: no-reply@sns.amazonaws.com\r\n\
         Subject: Amazon SES notification\r\n\
         Date: {date}\r\n\
         X-Amz-Sns-Message-Id: {}\r\n\
         X-Amz-Sns-Topic-Arn: {}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {message}\r\n",
        clean(sns_id),
        clean(topic),
    )
    .into_bytes()
}

/// The host a genuine `SubscribeURL` for `topic_arn` has:
/// `sns.<region>.amazonaws.com`, the region being the fourth part of the
/// ARN (`arn:aws:sns:REGION:ACCOUNT:NAME`).
fn expected_host(topic_arn: &str) -> Option<String> {
    let mut parts = topic_arn.split(':');
    let (Some("arn"), Some(_partition), Some("sns"), Some(region)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let valid = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| format!("sns.{region}.amazonaws.com"))
}

/// Whether `url` is a `SubscribeURL` this server may visit for
/// `topic_arn`: HTTPS, SNS's host for the topic's region, default port,
/// no credentials. `Err` says why not.
fn allowed_subscribe_url(url: &str, topic_arn: &str) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = expected_host(topic_arn)
        .ok_or_else(|| format!("TopicArn {topic_arn:?} is not an SNS topic ARN"))?;
    if parsed.scheme() != "https" {
        return Err("not HTTPS".to_owned());
    }
    if parsed.host_str() != Some(host.as_str()) {
        return Err(format!("its host is not {host}"));
    }
    if parsed.port().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("it names a port or credentials".to_owned());
    }
    Ok(parsed)
}

/// Confirms the subscription by visiting its `SubscribeURL`, when that is
/// SNS's own.
async fn confirm(sns: &SesSns, topic_arn: &str, url: &str) -> Result<Json<Value>, ApiError> {
    tracing::warn!(sns.topic = %topic_arn, subscribe_url = %url, "inbound/ses: SNS asks to confirm a subscription");
    let target = allowed_subscribe_url(url, topic_arn).map_err(|why| {
        tracing::warn!(subscribe_url = %url, why = %why, "inbound/ses: SubscribeURL not visited");
        forbidden(format!(
            "SubscribeURL is not visited: {why}; if the subscription is yours, open it by hand"
        ))
    })?;
    match sns.inner.client.get(target).send().await {
        Ok(r) if r.status().is_success() => {
            tracing::info!(sns.topic = %topic_arn, "inbound/ses: subscription confirmed");
            Ok(Json(json!({ "status": "confirmed" })))
        }
        outcome => {
            let why = match outcome {
                Ok(r) => format!("SNS answered {}", r.status()),
                Err(e) => e.to_string(),
            };
            tracing::warn!(subscribe_url = %url, why = %why, "inbound/ses: confirming the subscription failed; open the SubscribeURL by hand");
            Err(ApiError::Http {
                status: StatusCode::BAD_GATEWAY,
                message: "confirming the subscription failed".to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailtrail_mail::inbound::{Kind, classify};

    #[test]
    fn a_file_that_is_not_a_certificate_is_refused_at_start() {
        let e = SesSns::new("not a certificate".into(), Vec::new()).unwrap_err();
        assert!(e.contains("certificate"), "{e}");
    }

    #[test]
    fn subscribe_urls_are_visited_only_on_the_topics_sns_host() {
        let arn = "arn:aws:sns:eu-west-1:123456789012:ses";
        assert!(
            allowed_subscribe_url(
                "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=x",
                arn
            )
            .is_ok()
        );
        for bad in [
            "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.eu-west-1.amazonaws.com.evil.example/",
            "https://evil.example/?sns.eu-west-1.amazonaws.com",
            "https://127.0.0.1/",
            "https://sns.eu-west-1.amazonaws.com:8443/",
            "https://user@sns.eu-west-1.amazonaws.com/",
            "not a url",
        ] {
            assert!(allowed_subscribe_url(bad, arn).is_err(), "{bad}");
        }
        assert!(allowed_subscribe_url("https://sns..amazonaws.com/", "arn:aws:sns::1:t").is_err());
        assert!(allowed_subscribe_url("https://sns.x.amazonaws.com/", "nonsense").is_err());
    }

    #[test]
    fn the_stored_mail_reads_as_the_ses_notification() {
        let ses = json!({
            "notificationType": "Bounce",
            "mail": {"commonHeaders": {"messageId": "<m1@mailtrail.test>"}},
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
                "bouncedRecipients": [{"emailAddress": "ann@example.test",
                    "status": "5.1.1", "action": "failed",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}
        })
        .to_string();
        let raw = as_mail("id\r\nX-Evil: 1", "arn", &ses, OffsetDateTime::UNIX_EPOCH);
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(
            text.contains("X-Amz-Sns-Message-Id: idX-Evil: 1\r\n"),
            "{text}"
        );
        let c = classify(&raw);
        assert_eq!(c.kind, Kind::Bounce);
        assert_eq!(c.original_message_id.as_deref(), Some("m1@mailtrail.test"));
        assert_eq!(c.recipients[0].address.as_deref(), Some("ann@example.test"));
        assert_eq!(
            c.recipients[0].reason,
            mailtrail_domain::Reason::UserUnknown
        );
    }

    #[test]
    fn malformed_messages_name_their_field() {
        let h = HeaderMap::new();
        let e = check_shape(b"{not json", &h).unwrap_err();
        assert_eq!(e.field(), Some("body"));
        let e = check_shape(br#"{"Type": 3}"#, &h).unwrap_err();
        assert_eq!(e.field(), Some("Type"));
        let mut h = HeaderMap::new();
        h.insert("x-amz-sns-message-type", "Notification".parse().unwrap());
        let e = check_shape(br#"{"Type": "SubscriptionConfirmation"}"#, &h).unwrap_err();
        assert_eq!(e.field(), Some("x-amz-sns-message-type"));
        assert_eq!(
            refusal(SnsError::Malformed("TopicArn is missing".into())).field(),
            Some("TopicArn")
        );
        assert_eq!(
            refusal(SnsError::BadSignature).status(),
            StatusCode::FORBIDDEN
        );
    }
}

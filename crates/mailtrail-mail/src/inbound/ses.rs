//! Amazon SES notifications: the JSON that SES publishes to an Amazon SNS
//! topic for each bounce, complaint and delivery, which a user who sends
//! through SES receives by mail when the topic has an email subscription.
//!
//! The shape is AWS's "Amazon SNS notification contents for Amazon SES"
//! (SES Developer Guide, `notification-contents`): a top-level object with
//! `notificationType` (`eventType` when the notification comes from event
//! publishing) naming `Bounce`, `Complaint` or `Delivery`, a `mail` object
//! describing the original message (its `headers` and `commonHeaders`
//! carry our Message-ID), and one of `bounce`, `complaint`, `delivery`.
//! An `email-json` subscription wraps that object in SNS's own envelope
//! (`"Type": "Notification"`, the notification as the string `Message`);
//! an `email` subscription sends the notification alone. Both are read.
//!
//! A bounce gives `bounceType` (`Permanent`, `Transient`, `Undetermined`),
//! `bounceSubType` and `bouncedRecipients`, each with `emailAddress` and,
//! when the receiving server returned a DSN, `action`, `status` and
//! `diagnosticCode` (RFC 3464 fields). The reason comes from those as for
//! any DSN; the subtype decides only when they name none (SES's
//! `MailboxFull`, `MessageTooLarge`, `Suppressed`, ...). A complaint gives
//! `complainedRecipients` and `complaintFeedbackType` (an RFC 5965
//! feedback type).

use mailtrail_domain::Reason;
use serde::Deserialize;

use super::dsn::Action;
use super::reason::{self, Context};
use super::{Classification, Kind, RecipientReport, text};

/// SNS's envelope (`email-json` subscriptions and HTTP endpoints).
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Message")]
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Notification {
    notification_type: Option<String>,
    event_type: Option<String>,
    mail: Mail,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
    delivery: Option<Delivery>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Mail {
    headers: Vec<Header>,
    common_headers: CommonHeaders,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Header {
    name: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct CommonHeaders {
    message_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: String,
    bounced_recipients: Vec<BouncedRecipient>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct BouncedRecipient {
    email_address: String,
    action: Option<String>,
    status: Option<String>,
    diagnostic_code: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Complaint {
    complained_recipients: Vec<Addressee>,
    complaint_feedback_type: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Delivery {
    recipients: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Addressee {
    email_address: String,
}

/// Reads `body` as an SES notification (bare or in SNS's envelope): `None`
/// when it is not one, so that any other message is read as before.
pub(crate) fn read(body: &str) -> Option<Classification> {
    let json = body.trim();
    if !json.starts_with('{') || !json.contains("\"mail\"") && !json.contains("\"Message\"") {
        return None;
    }
    let n: Notification = match serde_json::from_str::<Envelope>(json) {
        Ok(env) if env.kind == "Notification" => serde_json::from_str(&env.message).ok()?,
        Ok(_) => return None,
        Err(_) => serde_json::from_str(json).ok()?,
    };
    let kind = n.notification_type.as_deref().or(n.event_type.as_deref())?;
    let mut c = Classification {
        original_message_id: original_id(&n.mail),
        ..Classification::default()
    };
    match kind {
        "Bounce" => {
            let b = n.bounce?;
            c.kind = Kind::Bounce;
            c.recipients = b
                .bounced_recipients
                .iter()
                .map(|r| bounced(&b, r))
                .collect();
        }
        "Complaint" => {
            let m = n.complaint?;
            c.kind = Kind::Complaint;
            c.feedback_type = m.complaint_feedback_type;
            c.recipients = m
                .complained_recipients
                .into_iter()
                .map(|r| report(Some(r.email_address), Reason::Feedback))
                .collect();
        }
        "Delivery" => {
            let d = n.delivery?;
            c.kind = Kind::DeliveryReport;
            c.recipients = d
                .recipients
                .into_iter()
                .map(|r| RecipientReport {
                    action: Some(Action::Delivered),
                    ..report(Some(r), Reason::Delivered)
                })
                .collect();
        }
        _ => return None,
    }
    Some(c)
}

/// Our Message-ID: SES's own `messageId` is its id, not ours; the
/// original's header is in `headers` or `commonHeaders`.
fn original_id(mail: &Mail) -> Option<String> {
    let header = mail
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("message-id"))
        .map(|h| h.value.as_str());
    let v = header.or(mail.common_headers.message_id.as_deref())?;
    let id = v
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!id.is_empty()).then(|| id.to_owned())
}

fn report(address: Option<String>, reason: Reason) -> RecipientReport {
    RecipientReport {
        address: address.filter(|a| !a.is_empty()),
        action: None,
        status: None,
        reply_code: None,
        reason,
        hard: false,
        diagnostic: None,
        remote_mta: None,
    }
}

/// One bounced recipient: the RFC 3464 fields SES passes on decide, then
/// the bounce subtype.
fn bounced(b: &Bounce, r: &BouncedRecipient) -> RecipientReport {
    let diagnostic = r.diagnostic_code.as_deref().map(|d| {
        // "smtp; 550 5.1.1 ...": the diagnostic type (RFC 3464 section
        // 2.3.6) is not part of what the server said.
        let d = d.split_once(';').map_or(d, |(ty, rest)| {
            if ty.trim().eq_ignore_ascii_case("smtp") {
                rest
            } else {
                d
            }
        });
        text::squash(d, 16 * 1024)
    });
    let status = r.status.clone().filter(|s| text::is_status(s));
    let reply_code = diagnostic.as_deref().and_then(reply_code);
    let permanent = b.bounce_type == "Permanent";
    // SES sends a bounce notification once it has given up on the
    // recipient, transient or not; only a DSN's own "delayed" says more
    // tries are coming.
    let delayed = r.action.as_deref() == Some("delayed");
    let ctx = if delayed {
        Context::Delayed
    } else {
        Context::Failed
    };
    let by_dsn = reason::decide(
        diagnostic.as_deref().unwrap_or_default(),
        "",
        status.as_deref(),
        reply_code.as_deref(),
        ctx,
    );
    let by_subtype = match b.bounce_sub_type.as_str() {
        // The address is on SES's suppression list: nothing was sent.
        "Suppressed" | "OnAccountSuppressionList" => Some(Reason::Suppressed),
        "NoEmail" => Some(Reason::UserUnknown),
        "MailboxFull" => Some(Reason::MailboxFull),
        "MessageTooLarge" => Some(Reason::MesgTooBig),
        "ContentRejected" | "AttachmentRejected" => Some(Reason::ContentError),
        _ => None,
    };
    let reason = match (by_dsn, by_subtype) {
        // SES suppressed the address itself; no server was asked.
        (_, Some(Reason::Suppressed)) => Reason::Suppressed,
        (Reason::OnHold | Reason::Undefined | Reason::Expired, Some(s)) => s,
        (r, _) => r,
    };
    let hard = permanent && reason::is_hard(reason, status.as_deref(), reply_code.as_deref());
    RecipientReport {
        address: Some(r.email_address.clone()).filter(|a| !a.is_empty()),
        action: Some(if delayed {
            Action::Delayed
        } else {
            Action::Failed
        }),
        status,
        reply_code,
        reason,
        hard,
        diagnostic,
        remote_mta: None,
    }
}

/// The RFC 5321 reply code a diagnostic starts with.
fn reply_code(d: &str) -> Option<String> {
    let code: String = d.trim_start().chars().take(3).collect();
    (code.len() == 3
        && code.starts_with(['2', '4', '5'])
        && code.bytes().all(|b| b.is_ascii_digit()))
    .then_some(code)
}

mod sns;
pub use sns::{SnsError, SnsMessage, check_certificate, verify};

#[cfg(test)]
mod tests;

//! The sandbox inbox's "simulate the recipient" buttons: reply, send a
//! read receipt, bounce.
//!
//! Each builds the real message the recipient's side would send (an RFC
//! 5322 reply, an RFC 8098 MDN, an RFC 3464 DSN from the recipient's mail
//! server, all from [`mailtrail_mail`]) and stores it with
//! [`InboundStore::insert_inbound`](mailtrail_store::InboundStore::insert_inbound), as
//! the inbound SMTP listener stores what it accepts, with the envelope the
//! real message would carry. The inbound processor then classifies,
//! correlates and records it exactly as it does real returned mail; nothing
//! here writes an event. The button waits (briefly) for the processor's
//! event so that the page it returns to already shows the outcome.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::Response;
use mailtrail_domain::{EmailAddress, MessageId};
use mailtrail_mail::mdn::Disposition;
use mailtrail_store::SandboxCopy;
use mailtrail_store::inbound::{InboundSource, NewInbound};
use serde::Deserialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::signed::{CsrfForm, SignedForm};
use super::{DashError, see_other};
use crate::AppState;

/// How long a button waits for the processor's event before answering
/// anyway (the page then says the message is still being processed).
const WAIT: Duration = Duration::from_secs(3);

/// What the recipient does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    /// Answers the message.
    Reply,
    /// Sends the read receipt the message asked for.
    Receipt,
    /// Their mail server refuses the address: user unknown.
    Bounce,
}

impl Act {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "reply" => Some(Self::Reply),
            "receipt" => Some(Self::Receipt),
            "bounce" => Some(Self::Bounce),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Reply => "reply",
            Self::Receipt => "receipt",
            Self::Bounce => "bounce",
        }
    }

    /// What the notice after the button says was sent.
    pub(crate) fn done(self) -> &'static str {
        match self {
            Self::Reply => "The recipient replied",
            Self::Receipt => "The recipient sent a read receipt",
            Self::Bounce => "The recipient's mail server bounced the copy (550 5.1.1 user unknown)",
        }
    }
}

/// The parts of a captured copy a recipient's side answers with.
pub(crate) struct Original {
    pub(crate) message_id: MessageId,
    pub(crate) subject: String,
    /// `Reply-To`, else `From` (RFC 5322 section 3.6.3).
    pub(crate) reply_target: Option<EmailAddress>,
    pub(crate) references: Vec<MessageId>,
    /// `Disposition-Notification-To` (RFC 8098 section 2.1), when asked.
    pub(crate) receipt_to: Option<EmailAddress>,
    /// The envelope sender, recorded by the sandbox as `Return-Path`.
    pub(crate) return_path: Option<String>,
    /// The header section, for the returned headers of a DSN or MDN.
    pub(crate) headers: Vec<u8>,
}

/// The address inside `<...>`, or the trimmed text.
fn angle_address(raw: &str) -> String {
    let raw = raw.trim();
    match (raw.find('<'), raw.rfind('>')) {
        (Some(a), Some(b)) if a < b => raw[a + 1..b].trim().to_owned(),
        _ => raw.to_owned(),
    }
}

impl Original {
    /// Reads a captured copy; `None` when it cannot be parsed or has no
    /// Message-ID (mailtrail's own copies always have one).
    pub(crate) fn read(raw: &str) -> Option<Self> {
        let m = mail_parser::MessageParser::default().parse(raw.as_bytes())?;
        let message_id = MessageId::parse(m.message_id()?).ok()?;
        let first = |a: Option<&mail_parser::Address<'_>>| {
            a.and_then(|a| a.first())
                .and_then(|a| a.address())
                .and_then(|a| EmailAddress::parse(a).ok())
        };
        let reply_target = first(m.reply_to()).or_else(|| first(m.from()));
        let references = match m.references() {
            mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
            mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
            _ => Vec::new(),
        }
        .iter()
        .filter_map(|r| MessageId::parse(r).ok())
        .collect();
        let receipt_to = m
            .header_raw("Disposition-Notification-To")
            .and_then(|v| EmailAddress::parse(&angle_address(v)).ok());
        let return_path = m
            .header_raw("Return-Path")
            .map(angle_address)
            .filter(|r| !r.is_empty());
        let end = raw
            .find("\r\n\r\n")
            .map(|i| i + 2)
            .or_else(|| raw.find("\n\n").map(|i| i + 1))
            .unwrap_or(raw.len());
        Some(Self {
            message_id,
            subject: m.subject().unwrap_or_default().to_owned(),
            reply_target,
            references,
            receipt_to,
            return_path,
            headers: raw.as_bytes()[..end].to_vec(),
        })
    }
}

/// The inbound message (with its SMTP envelope) that the recipient's side
/// sends for `act`, or why it cannot.
pub(crate) fn inbound_for(
    act: Act,
    copy: &SandboxCopy,
    original: &Original,
    now: OffsetDateTime,
) -> Result<NewInbound, &'static str> {
    let recipient = EmailAddress::parse(&copy.address)
        .map_err(|_| "This copy's recipient address is not valid.")?;
    let domain = recipient.domain().to_owned();
    let own_id = MessageId::generate(&domain);
    let (raw, mail_from, rcpt_to) = match act {
        Act::Reply => {
            let to = original
                .reply_target
                .as_ref()
                .ok_or("This copy has no From or Reply-To address to reply to.")?;
            let raw = mailtrail_mail::reply::build(&mailtrail_mail::reply::Reply {
                from: &recipient,
                to,
                original_message_id: &original.message_id,
                original_references: &original.references,
                original_subject: &original.subject,
                text: "Thanks, got it. Let's talk tomorrow.\r\n\r\n(A reply simulated from mailtrail's sandbox inbox.)\r\n",
                message_id: &own_id,
                date: now,
            })
            .map_err(|_| "The reply could not be built from this copy.")?;
            (
                raw,
                Some(recipient.as_str().to_owned()),
                vec![to.as_str().to_owned()],
            )
        }
        Act::Receipt => {
            let notify = original.receipt_to.as_ref().ok_or(
                "This copy asked for no read receipt (it has no Disposition-Notification-To), so a recipient's mail program would not send one.",
            )?;
            let raw = mailtrail_mail::mdn::build(&mailtrail_mail::mdn::Receipt {
                reporting_ua: &domain,
                final_recipient: &recipient,
                notify,
                original_message_id: &original.message_id,
                original_subject: &original.subject,
                original_headers: &original.headers,
                disposition: Disposition::DISPLAYED_MANUALLY,
                message_id: &own_id,
                date: now,
            })
            .map_err(|_| "The read receipt could not be built from this copy.")?;
            // RFC 8098 section 3: an MDN's envelope sender is null.
            (raw, None, vec![notify.as_str().to_owned()])
        }
        Act::Bounce => {
            let return_path = original
                .return_path
                .as_deref()
                .ok_or("This copy has no return path to bounce to.")?;
            let host = format!("mx.{domain}");
            let diagnostic = format!(
                "550 5.1.1 <{}>: Recipient address rejected: User unknown in local recipient table",
                recipient.as_str()
            );
            let envid = copy.recipient_id.simple().to_string();
            let raw = mailtrail_mail::dsn::build(&mailtrail_mail::dsn::Failure {
                reporting_mta: &host,
                return_path,
                recipient: &recipient,
                status: "5.1.1",
                smtp_diagnostic: &diagnostic,
                original_headers: &original.headers,
                envelope_id: Some(&envid),
                message_id: &own_id,
                date: now,
            })
            .map_err(|_| "The bounce could not be built from this copy.")?;
            // RFC 5321 section 4.5.5: a bounce has a null reverse-path.
            (raw, None, vec![return_path.to_owned()])
        }
    };
    Ok(NewInbound {
        id: Uuid::now_v7(),
        source: InboundSource::Sandbox,
        mail_from,
        rcpt_to,
        mailbox: None,
        raw,
        received_at: now,
    })
}

/// A copy of the organisation by id.
pub(crate) async fn find_copy(
    state: &AppState,
    org_id: Uuid,
    id: Uuid,
) -> Result<SandboxCopy, DashError> {
    state
        .store
        .sandbox_copy(org_id, id)
        .await?
        .ok_or(DashError::NotFound)
}

#[derive(Deserialize)]
pub(crate) struct SimulateForm {
    csrf: String,
    action: String,
}

/// `POST /sandbox/{id}/simulate`: the recipient replies, sends a read
/// receipt, or their server bounces the copy.
pub(crate) async fn simulate(
    State(state): State<AppState>,
    Path(id): Path<String>,
    SignedForm(s, form): SignedForm<SimulateForm>,
) -> Result<Response, DashError> {
    let id = Uuid::parse_str(&id).map_err(|_| DashError::NotFound)?;
    let copy = find_copy(&state, s.user.org_id, id).await?;
    let act = Act::parse(&form.action).ok_or(DashError::BadRequest(
        "Unknown action: the buttons are reply, read receipt and bounce.",
    ))?;
    let original = Original::read(&copy.raw).ok_or(DashError::BadRequest(
        "This copy cannot be read (no Message-ID), so nothing can answer it.",
    ))?;
    let inbound = inbound_for(act, &copy, &original, OffsetDateTime::now_utc())
        .map_err(DashError::BadRequest)?;
    let inbound_id = inbound.id;
    state.store.insert_inbound(&inbound).await?;
    state.inbound_wake.notify_one();
    tracing::info!(inbound.id = %inbound_id, sandbox.copy = %id, recipient.id = %copy.recipient_id, action = act.as_str(), "sandbox: simulated recipient message stored");
    let processed = wait_for_event(&state, s.user.org_id, &copy, inbound_id).await?;
    Ok(see_other(&format!(
        "/sandbox/{id}?simulated={}&processed={}",
        act.as_str(),
        u8::from(processed)
    )))
}

/// Waits until the recipient has an event made from `inbound_id` (the
/// processor records it in the event's data), for at most [`WAIT`].
async fn wait_for_event(
    state: &AppState,
    org_id: Uuid,
    copy: &SandboxCopy,
    inbound_id: Uuid,
) -> Result<bool, DashError> {
    let deadline = tokio::time::Instant::now() + WAIT;
    let wanted = serde_json::Value::String(inbound_id.to_string());
    loop {
        let found = state
            .store
            .message(org_id, copy.message_id)
            .await?
            .and_then(|m| m.recipients.into_iter().find(|r| r.id == copy.recipient_id))
            .is_some_and(|r| {
                r.events
                    .iter()
                    .any(|e| e.data.get("inbound_id") == Some(&wanted))
            });
        if found {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl CsrfForm for SimulateForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailtrail_mail::inbound::{Kind, classify};

    fn copy(raw: &str) -> SandboxCopy {
        SandboxCopy {
            id: Uuid::now_v7(),
            message_id: Uuid::now_v7(),
            recipient_id: Uuid::now_v7(),
            address: "bob@recipient.test".into(),
            captured_at: OffsetDateTime::UNIX_EPOCH,
            raw: raw.into(),
        }
    }

    const COPY: &str = "Return-Path: <bounces+TOKEN@bounce.test>\r\nFrom: Ann <ann@sender.test>\r\nReply-To: sales@sender.test\r\nTo: bob@recipient.test\r\nSubject: Offer\r\nMessage-ID: <m1@sender.test>\r\nDisposition-Notification-To: ann@sender.test\r\nContent-Type: text/plain\r\n\r\nHello\r\n";

    #[test]
    fn each_action_builds_the_message_and_envelope_a_recipient_would_send() {
        let c = copy(COPY);
        let o = Original::read(&c.raw).unwrap();
        assert_eq!(o.return_path.as_deref(), Some("bounces+TOKEN@bounce.test"));
        assert!(o.headers.ends_with(b"text/plain\r\n"));
        let now = OffsetDateTime::now_utc();

        let reply = inbound_for(Act::Reply, &c, &o, now).unwrap();
        assert_eq!(reply.mail_from.as_deref(), Some("bob@recipient.test"));
        assert_eq!(reply.rcpt_to, vec!["sales@sender.test"]);
        let k = classify(&reply.raw);
        assert_eq!(k.kind, Kind::Reply);
        assert_eq!(k.in_reply_to, vec!["m1@sender.test"]);

        let mdn = inbound_for(Act::Receipt, &c, &o, now).unwrap();
        assert_eq!(mdn.mail_from, None);
        assert_eq!(mdn.rcpt_to, vec!["ann@sender.test"]);
        let k = classify(&mdn.raw);
        assert_eq!(k.kind, Kind::ReadReceipt);
        assert_eq!(k.original_message_id.as_deref(), Some("m1@sender.test"));

        let dsn = inbound_for(Act::Bounce, &c, &o, now).unwrap();
        assert_eq!(dsn.mail_from, None);
        assert_eq!(dsn.rcpt_to, vec!["bounces+TOKEN@bounce.test"]);
        let k = classify(&dsn.raw);
        assert_eq!(k.kind, Kind::Bounce);
        assert_eq!(k.verp_token.as_deref(), Some("TOKEN"));
        assert_eq!(k.recipients[0].status.as_deref(), Some("5.1.1"));
        assert_eq!(dsn.source, InboundSource::Sandbox);
    }

    #[test]
    fn a_copy_without_a_receipt_request_gets_no_receipt() {
        let raw = COPY.replace("Disposition-Notification-To: ann@sender.test\r\n", "");
        let c = copy(&raw);
        let o = Original::read(&c.raw).unwrap();
        let err = inbound_for(Act::Receipt, &c, &o, OffsetDateTime::now_utc()).unwrap_err();
        assert!(err.contains("no read receipt"), "{err}");
        assert!(Original::read("Subject: no id\r\n\r\nx").is_none());
        assert_eq!(Act::parse("forward"), None);
    }
}

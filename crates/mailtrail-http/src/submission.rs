//! SMTP submission's side of "send a message": a message an application
//! hands to the submission listener ([`mailtrail_smtp::submission`]) is
//! read into the same [`Draft`] as a `POST /api/v1/messages` body and goes
//! through [`mailtrail_store::new_message::validate`] and
//! [`ValidMessage::into_new_message`](mailtrail_store::new_message::ValidMessage::into_new_message)
//! like the API and Compose, so the three refuse and store the same
//! messages.
//!
//! The envelope decides who gets a copy (RFC 5321 section 3.3, RFC 6409
//! section 1): every `RCPT TO`; those named in the To or Cc header are
//! shown there, the others are Bcc. Per-message settings come from
//! `X-Mailtrail-*` headers, which never leave: `X-Mailtrail-Track-Opens`,
//! `-Track-Clicks`, `-Read-Receipt` (true/false), `-Metadata-<name>` and
//! `-Tag`.
//!
//! The message's text and HTML bodies and its other parts (attachments,
//! inline images) are taken as the sender made them; the copy is then
//! built by the same composer as the API's, so the HTML is instrumented
//! and the parts are sent as attachments of a new `multipart/mixed`.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use mail_parser::{MessageParser, MimeHeaders};
use mailtrail_domain::EmailAddress;
use mailtrail_domain::credentials::hash_api_key;
use mailtrail_mail::MailError;
use mailtrail_smtp::submission::{Envelope, Refusal, Submitter};
use mailtrail_store::Inserted;
use mailtrail_store::new_message::{AttachmentDraft, Draft, Mailbox};
use uuid::Uuid;

use crate::AppState;

/// The prefix of the per-message setting headers.
const PREFIX: &str = "x-mailtrail-";

/// The API key's owner a submission session acts for.
#[derive(Debug, Clone)]
pub struct Account {
    org_id: Uuid,
    user_id: Uuid,
    key_hash: String,
}

/// Submits over the store, with the API's rules.
#[derive(Clone)]
pub struct StoreSubmitter {
    state: AppState,
}

impl StoreSubmitter {
    /// A submitter that stores into `state`'s store and wakes its workers.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

fn refused(code: &'static str, reply: String) -> Refusal {
    metrics::counter!("mailtrail_submission_refused_total", "code" => code).increment(1);
    Refusal(reply)
}

fn temporary(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "submission: the store failed");
    refused(
        "451",
        "451 4.3.0 cannot store the message now, try again later".to_owned(),
    )
}

#[async_trait]
impl Submitter for StoreSubmitter {
    type Account = Account;

    async fn authenticate(&self, _user: &str, password: &str) -> Result<Option<Account>, Refusal> {
        let key_hash = hash_api_key(password);
        let owner = self
            .state
            .store
            .api_key_owner(&key_hash)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "submission: reading API keys failed");
                Refusal("454 4.7.0 temporary authentication failure".to_owned())
            })?;
        if owner.is_none() {
            metrics::counter!("mailtrail_submission_refused_total", "code" => "535").increment(1);
        }
        Ok(owner.map(|o| Account {
            org_id: o.org_id,
            user_id: o.user_id,
            key_hash,
        }))
    }

    fn rate_key(&self, account: &Account) -> String {
        account.key_hash.clone()
    }

    async fn check_recipient(&self, account: &Account, rcpt: &str) -> Result<(), Refusal> {
        let address = EmailAddress::parse(rcpt).map_err(|e| {
            refused(
                "553",
                format!("553 5.1.3 <{rcpt}> is not a valid address: {e}"),
            )
        })?;
        let normalized = address.normalized();
        let suppressed = self
            .state
            .store
            .suppressions(account.org_id)
            .await
            .map_err(temporary)?
            .into_iter()
            .find(|s| s.address == normalized);
        match suppressed {
            // RFC 3463 5.1.1 is the class of "this mailbox is not to be
            // sent to"; the reason tells the application why.
            Some(s) => Err(refused(
                "550",
                format!(
                    "550 5.1.1 <{rcpt}> is on the suppression list ({}); remove it with DELETE /api/v1/suppressions/{{address}}",
                    s.reason
                ),
            )),
            None => Ok(()),
        }
    }

    async fn submit(
        &self,
        account: &Account,
        envelope: &Envelope,
        raw: Vec<u8>,
    ) -> Result<String, Refusal> {
        let draft = draft_from_mime(&raw, envelope)
            .map_err(|why| refused("554", format!("554 5.6.0 {why}")))?;
        let org = self
            .state
            .store
            .organisation(account.org_id)
            .await
            .map_err(temporary)?
            .ok_or_else(|| refused("535", "535 5.7.8 the key's organisation is gone".to_owned()))?;
        let defaults = self.state.settings.message_defaults(&org);
        let valid = mailtrail_store::new_message::validate(draft, &defaults).map_err(|e| {
            let class = if e.code == "message_too_large" {
                "552 5.3.4"
            } else {
                "554 5.6.0"
            };
            refused(
                if class.starts_with("552") {
                    "552"
                } else {
                    "554"
                },
                format!("{class} {}: {}", e.field, e.message),
            )
        })?;
        let new = valid.into_new_message(account.org_id, account.user_id);
        let message_id = new.message_id.to_string();
        match self
            .state
            .store
            .insert_message(&new)
            .await
            .map_err(temporary)?
        {
            Inserted::Created(id) | Inserted::Existing(id) => {
                self.state.notify.notify_one();
                metrics::counter!("mailtrail_messages_accepted_total", "via" => "smtp")
                    .increment(1);
                tracing::info!(message.id = %id, recipients = new.recipients.len(), "message queued by submission");
                Ok(format!("queued as {id} {message_id}"))
            }
        }
    }
}

/// Reads a submitted message into a [`Draft`]: recipients from the
/// envelope, settings from the `X-Mailtrail-*` headers, the bodies and
/// parts as sent. The error says what is wrong, for the `554 5.6.0` reply.
pub(crate) fn draft_from_mime(raw: &[u8], envelope: &Envelope) -> Result<Draft, String> {
    let message = MessageParser::default()
        .parse(raw)
        .filter(|m| !m.headers().is_empty())
        .ok_or_else(|| "the message has no RFC 5322 header section".to_owned())?;

    let mailbox = |a: &mail_parser::Addr<'_>| {
        a.address().map(|address| Mailbox {
            name: a.name().map(str::to_owned),
            address: address.to_owned(),
        })
    };
    let from = match message.from().and_then(|f| f.first()) {
        Some(a) => Some(mailbox(a).ok_or("the From header has no address")?),
        None => envelope.mail_from.clone().map(|address| Mailbox {
            name: None,
            address,
        }),
    };
    let reply_to = message.reply_to().and_then(|r| r.first()).and_then(mailbox);

    // Who gets a copy is the envelope's; the headers only say who is shown.
    let key = |a: &str| a.trim().to_ascii_lowercase();
    let shown = |list: Option<&mail_parser::Address<'_>>| -> Vec<Mailbox> {
        list.map(|l| l.iter().filter_map(mailbox).collect())
            .unwrap_or_default()
    };
    let header_to = shown(message.to());
    let header_cc = shown(message.cc());
    let mut to = Vec::new();
    let mut cc = Vec::new();
    let mut bcc = Vec::new();
    for rcpt in &envelope.rcpt_to {
        let k = key(rcpt);
        if let Some(m) = header_to.iter().find(|m| key(&m.address) == k) {
            to.push(Mailbox {
                name: m.name.clone(),
                address: rcpt.clone(),
            });
        } else if let Some(m) = header_cc.iter().find(|m| key(&m.address) == k) {
            cc.push(Mailbox {
                name: m.name.clone(),
                address: rcpt.clone(),
            });
        } else {
            bcc.push(Mailbox {
                name: None,
                address: rcpt.clone(),
            });
        }
    }

    let mut track_opens = None;
    let mut track_clicks = None;
    let mut read_receipt = None;
    let mut tag = None;
    let mut metadata = BTreeMap::new();
    let mut headers = Vec::new();
    let mut seen = HashSet::new();
    let mut asks_receipt = false;
    for (name, value) in message.headers_raw() {
        let value = unfold(value);
        let lower = name.to_ascii_lowercase();
        if let Some(setting) = lower.strip_prefix(PREFIX) {
            let original = &name[PREFIX.len()..];
            match setting {
                "track-opens" => track_opens = Some(flag(name, &value)?),
                "track-clicks" => track_clicks = Some(flag(name, &value)?),
                "read-receipt" => read_receipt = Some(flag(name, &value)?),
                "tag" => tag = Some(value.clone()),
                _ => match original
                    .get(.."metadata-".len())
                    .filter(|p| p.eq_ignore_ascii_case("metadata-"))
                {
                    Some(p) if original.len() > p.len() => {
                        if value.chars().any(char::is_control) {
                            return Err(format!("{name} must be one line of text"));
                        }
                        metadata.insert(original[p.len()..].to_owned(), value);
                    }
                    _ => {
                        return Err(format!(
                            "unknown header {name}: the X-Mailtrail headers are Track-Opens, Track-Clicks, Read-Receipt, Tag and Metadata-<name>"
                        ));
                    }
                },
            }
            continue;
        }
        if lower == "disposition-notification-to" {
            asks_receipt = true;
        }
        match mailtrail_mail::compose::validate_extra_header(name, &value) {
            // Written by mailtrail itself from the fields read above.
            Err(MailError::ReservedHeader { .. }) => {}
            Err(e) => return Err(e.to_string()),
            Ok(()) => {
                if seen.insert(lower) {
                    headers.push((name.to_owned(), value));
                }
            }
        }
    }
    if read_receipt.is_none() && asks_receipt {
        read_receipt = Some(true);
    }

    let text = message
        .text_bodies()
        .find(|p| p.is_text() && !p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(str::to_owned);
    let html = message
        .html_bodies()
        .find(|p| p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(str::to_owned);
    let attachments = message
        .attachments()
        .enumerate()
        .map(|(i, part)| {
            let content_type = part.content_type().map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{}", ct.ctype(), sub),
                None => ct.ctype().to_owned(),
            });
            AttachmentDraft {
                filename: part
                    .attachment_name()
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("part-{}", i + 1)),
                content_type,
                content: part.contents().to_vec(),
            }
        })
        .collect();

    Ok(Draft {
        from,
        to,
        cc,
        bcc,
        subject: message.subject().map(str::to_owned),
        text,
        html,
        reply_to,
        headers,
        attachments,
        read_receipt,
        track_opens,
        track_clicks,
        metadata,
        idempotency_key: None,
        tag,
    })
}

/// A raw header value as one line: RFC 5322 section 2.2.3 unfolding (a
/// CRLF followed by white space is removed), then trimmed.
fn unfold(raw: &str) -> String {
    raw.replace("\r\n ", " ")
        .replace("\r\n\t", "\t")
        .trim()
        .to_owned()
}

fn flag(name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(format!("{name} must be true or false, not {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(rcpts: &[&str]) -> Envelope {
        Envelope {
            peer: "127.0.0.1:1".parse().unwrap(),
            mail_from: Some("app@example.com".into()),
            rcpt_to: rcpts.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn envelope_decides_recipients_and_settings_are_taken_out() {
        let raw = b"From: App <app@example.com>\r\nTo: A <a@x.example>, never@x.example\r\nCc: c@x.example\r\nSubject: Hi\r\nX-Mailtrail-Track-Opens: false\r\nX-Mailtrail-Read-Receipt: yes\r\nX-Mailtrail-Metadata-Order: 1042\r\nX-Campaign: spring\r\n folded\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nbody\r\n";
        let d = draft_from_mime(
            raw,
            &envelope(&["A@x.example", "c@x.example", "hidden@x.example"]),
        )
        .expect("draft");
        assert_eq!(
            d.from.as_ref().map(|m| m.name.as_deref()),
            Some(Some("App"))
        );
        let addrs = |l: &[Mailbox]| l.iter().map(|m| m.address.clone()).collect::<Vec<_>>();
        assert_eq!(addrs(&d.to), ["A@x.example"]);
        assert_eq!(d.to[0].name.as_deref(), Some("A"));
        assert_eq!(addrs(&d.cc), ["c@x.example"]);
        assert_eq!(addrs(&d.bcc), ["hidden@x.example"]);
        assert_eq!(d.track_opens, Some(false));
        assert_eq!(d.track_clicks, None);
        assert_eq!(d.read_receipt, Some(true));
        assert_eq!(d.metadata["Order"], "1042");
        assert_eq!(
            d.headers,
            vec![("X-Campaign".to_owned(), "spring folded".to_owned())]
        );
        assert_eq!(d.text.as_deref(), Some("body\r\n"));
        assert_eq!(d.html, None);
    }

    #[test]
    fn bad_settings_and_garbage_are_refused() {
        let env = envelope(&["a@x.example"]);
        let bad = b"From: a@example.com\r\nX-Mailtrail-Track-Opens: maybe\r\n\r\nx\r\n";
        assert!(
            draft_from_mime(bad, &env)
                .unwrap_err()
                .contains("Track-Opens")
        );
        let unknown = b"From: a@example.com\r\nX-Mailtrail-Colour: red\r\n\r\nx\r\n";
        assert!(
            draft_from_mime(unknown, &env)
                .unwrap_err()
                .contains("unknown header")
        );
        assert!(draft_from_mime(b"", &env).is_err());
    }

    #[test]
    fn parts_are_kept() {
        let raw = b"From: a@example.com\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\nContent-Type: text/plain\r\n\r\nplain\r\n--c\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--c--\r\n--b\r\nContent-Type: application/pdf; name=r.pdf\r\nContent-Disposition: attachment; filename=r.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--b--\r\n";
        let d = draft_from_mime(raw, &envelope(&["a@x.example"])).expect("draft");
        assert_eq!(d.text.as_deref().map(str::trim), Some("plain"));
        assert_eq!(d.html.as_deref().map(str::trim), Some("<p>html</p>"));
        assert_eq!(d.attachments.len(), 1);
        assert_eq!(d.attachments[0].filename, "r.pdf");
        assert_eq!(d.attachments[0].content, b"%PDF");
        assert_eq!(
            d.attachments[0].content_type.as_deref(),
            Some("application/pdf")
        );
    }
}

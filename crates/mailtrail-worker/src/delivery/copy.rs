//! Building one recipient's copy: the message's bodies are parsed once per
//! batch ([`Prepared`]), then each copy fills in its own tokens, is
//! composed (RFC 5322, MIME) and DKIM-signed (RFC 6376).

use anyhow::Context;
use mailtrail_domain::{Keyring, Purpose, RecipientKind, TrackingPayload};
use mailtrail_mail::compose::{AttachmentRef, Draft, ListUnsubscribe};
use mailtrail_mail::dkim::Signer;
use mailtrail_mail::instrument::{Fill, HtmlTemplate, Options, TextTemplate};
use mailtrail_store::OutboundMessage;
use time::OffsetDateTime;
use uuid::Uuid;

/// A message with its bodies parsed once for all of its copies.
pub(crate) struct Prepared {
    pub(crate) msg: OutboundMessage,
    html: Option<HtmlTemplate>,
    text: Option<TextTemplate>,
}

impl Prepared {
    /// Parses a message's bodies once for every copy of this batch: the
    /// HTML goes through one lol_html pass here, and each recipient's copy
    /// is then rendered by filling in its tokens.
    pub(crate) fn new(msg: OutboundMessage, public_url: &str) -> Self {
        let prefix = format!("{public_url}/t/u/");
        let options = Options {
            track_opens: msg.track_opens,
            track_clicks: msg.track_clicks,
            unsubscribe_prefix: Some(&prefix),
        };
        let html = msg.content.html.as_deref().map(|html| {
            HtmlTemplate::prepare(html, &options).unwrap_or_else(|e| {
                tracing::warn!(error = %e, message.id = %msg.id, "HTML not instrumented; sending it untracked");
                HtmlTemplate::literal(html)
            })
        });
        let text = msg
            .content
            .text
            .as_deref()
            .map(|t| TextTemplate::prepare(t, &options));
        Self { msg, html, text }
    }
}

/// One recipient's copy: bodies instrumented with its tokens (when the
/// message tracks opens or clicks), its List-Unsubscribe URLs, then the
/// DKIM signature over the final bytes (RFC 6376 section 5).
pub(crate) fn build_copy(
    base: &str,
    bounce_domain: Option<&str>,
    keyring: &Keyring,
    signer: Option<&Signer>,
    prepared: &Prepared,
    recipient_id: Uuid,
) -> anyhow::Result<Vec<u8>> {
    {
        let msg = &prepared.msg;
        let now = OffsetDateTime::now_utc();
        let plain = TrackingPayload {
            issued_at: now,
            org: Some(msg.org_id),
            link: None,
        }
        .encode();
        let unsubscribe_token = keyring
            .sign(recipient_id, Purpose::Unsubscribe, &plain)
            .context("signing the unsubscribe token")?;
        let unsubscribe_url = format!("{base}/t/u/{unsubscribe_token}");
        let mut click = |url: &str| -> Option<String> {
            let payload = TrackingPayload {
                issued_at: now,
                org: Some(msg.org_id),
                link: Some(url.to_owned()),
            }
            .encode();
            // Too long to sign: the link stays untracked rather than broken.
            let token = keyring.sign(recipient_id, Purpose::Click, &payload).ok()?;
            Some(format!("{base}/t/c/{token}"))
        };
        let html = match &prepared.html {
            Some(t) if !t.slots().is_empty() => {
                let pixel = if msg.track_opens {
                    let token = keyring
                        .sign(recipient_id, Purpose::Open, &plain)
                        .context("signing the open token")?;
                    format!("{base}/t/o/{token}")
                } else {
                    String::new()
                };
                Some(t.render(&mut Fill {
                    pixel: &pixel,
                    unsubscribe: &unsubscribe_url,
                    click: &mut click,
                }))
            }
            _ => None,
        };
        let text = prepared.text.as_ref().map(|t| t.render(&mut click));
        // RFC 8058 section 3.1: the one-click URL must be https; with a
        // plain-http public URL (local testing) only the mailto form is sent.
        let https = base
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
            .then_some(unsubscribe_url.as_str());
        let bounce_domain = bounce_domain.unwrap_or(msg.from_address.domain());
        let mailto = format!(
            "mailto:unsubscribe+{}@{bounce_domain}",
            keyring.sign_for_address(recipient_id, Purpose::Unsubscribe)
        );
        let visible = |k: RecipientKind| -> Vec<_> {
            msg.recipients
                .iter()
                .filter(|(_, _, kind)| *kind == k)
                .map(|(_, a, _)| a.clone())
                .collect()
        };
        let to = visible(RecipientKind::To);
        let cc = visible(RecipientKind::Cc);
        let attachments: Vec<AttachmentRef<'_>> = msg
            .content
            .attachments
            .iter()
            .map(|a| AttachmentRef {
                filename: &a.filename,
                content_type: &a.content_type,
                content: &a.content,
            })
            .collect();
        let draft = Draft {
            message_id: &msg.message_id,
            from: &msg.from_address,
            from_name: msg.from_name.as_deref(),
            reply_to: msg.reply_to.as_ref(),
            to: &to,
            cc: &cc,
            subject: &msg.subject,
            text: text.as_deref().or(msg.content.text.as_deref()),
            html: html.as_deref().or(msg.content.html.as_deref()),
            headers: &msg.content.headers,
            attachments: &attachments,
            date: msg.created_at,
            read_receipt: msg.read_receipt,
            list_unsubscribe: Some(ListUnsubscribe {
                mailto: Some(&mailto),
                https,
            }),
        };
        let raw = mailtrail_mail::compose::compose(&draft)?;
        match signer {
            Some(s) => Ok(s.sign(&raw)?),
            None => Ok(raw),
        }
    }
}

//! A new message, as every entry point submits it (the API, the
//! dashboard's Compose, SMTP submission): one set of rules that checks what
//! was given, applies the organisation's defaults, and makes the ids and
//! the Message-ID (RFC 5322 section 3.6.4) that everything returned is
//! later joined on. The shape of a request (JSON, a form, a MIME message)
//! is its entry point's; what it means is decided here, once.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use mailtrail_domain::{EmailAddress, RecipientKind};
use mailtrail_mail::MailError;
use uuid::Uuid;

use crate::{Attachment, MessageContent};

/// An address as given, with its display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name, if any.
    pub name: Option<String>,
    /// The address as written (checked by [`validate`]).
    pub address: String,
}

/// An attachment as given, already decoded from its transfer form.
#[derive(Debug, Clone)]
pub struct AttachmentDraft {
    /// The file name the recipient sees.
    pub filename: String,
    /// Its MIME type; `application/octet-stream` when absent.
    pub content_type: Option<String>,
    /// The bytes.
    pub content: Vec<u8>,
}

/// A message as submitted, before any check. Absent settings take the
/// organisation's [`Defaults`].
#[derive(Debug, Clone, Default)]
pub struct Draft {
    /// The sender; absent, `noreply@` the default sender domain.
    pub from: Option<Mailbox>,
    /// To recipients.
    pub to: Vec<Mailbox>,
    /// Cc recipients.
    pub cc: Vec<Mailbox>,
    /// Bcc recipients.
    pub bcc: Vec<Mailbox>,
    /// The subject.
    pub subject: Option<String>,
    /// The plain-text body.
    pub text: Option<String>,
    /// The HTML body.
    pub html: Option<String>,
    /// Where replies go.
    pub reply_to: Option<Mailbox>,
    /// Extra headers, in the order to write them.
    pub headers: Vec<(String, String)>,
    /// Attachments.
    pub attachments: Vec<AttachmentDraft>,
    /// Whether to ask for a read receipt.
    pub read_receipt: Option<bool>,
    /// Whether to track opens.
    pub track_opens: Option<bool>,
    /// Whether to track clicks.
    pub track_clicks: Option<bool>,
    /// The caller's own key/value data.
    pub metadata: BTreeMap<String, String>,
    /// Makes a repeated submission return the first message.
    pub idempotency_key: Option<String>,
    /// A tag to group and filter messages by.
    pub tag: Option<String>,
}

/// Why a draft was refused: a stable code, the field it is about (named as
/// the API names it) and a message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// A stable, machine-readable code (`invalid_address`, ...).
    pub code: &'static str,
    /// The field, e.g. `to[2]` or `attachments[0].filename`.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl Invalid {
    fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// What applies when the request does not say.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The organisation's read-receipt default.
    pub read_receipt: bool,
    /// The organisation's open-tracking default.
    pub track_opens: bool,
    /// The organisation's click-tracking default.
    pub track_clicks: bool,
    /// Domain of the sender used when `from` is omitted.
    pub from_domain: Option<String>,
    /// The most recipients (to, cc and bcc together, before duplicates are
    /// merged) one message may have; more is refused naming `to`.
    pub max_recipients: usize,
    /// The largest copy, in octets, a message may build into (the same
    /// limit as a request's; `max_message_bytes`).
    pub max_copy_bytes: usize,
}

/// The default size limit of a copy: 25 MiB, what most large mailbox
/// providers accept.
pub const DEFAULT_MAX_COPY_BYTES: usize = 25 * 1024 * 1024;

/// The default cap on recipients per message, as the large providers set
/// theirs (Postmark and Mailgun batch limits): a 25 MiB request could
/// otherwise name about a million, each a copy, a job and rows.
pub const DEFAULT_MAX_RECIPIENTS: usize = 1_000;

impl Defaults {
    /// The organisation's defaults, plus the server's `from` domain.
    pub fn of(org: &crate::Organisation, from_domain: Option<String>) -> Self {
        Self {
            read_receipt: org.read_receipt_default,
            track_opens: org.track_opens_default,
            track_clicks: org.track_clicks_default,
            from_domain,
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_copy_bytes: DEFAULT_MAX_COPY_BYTES,
        }
    }
}

/// A request that passed every check, ready to be stored.
#[derive(Debug, Clone)]
pub struct ValidMessage {
    /// The sender.
    pub from: EmailAddress,
    /// The sender's display name.
    pub from_name: Option<String>,
    /// Where replies go, when not to the sender.
    pub reply_to: Option<EmailAddress>,
    /// The subject (may be empty).
    pub subject: String,
    /// Bodies, extra headers and attachments.
    pub content: MessageContent,
    /// Whether a read receipt is asked for (RFC 8098).
    pub read_receipt: bool,
    /// Whether opens are tracked.
    pub track_opens: bool,
    /// Whether clicks are tracked.
    pub track_clicks: bool,
    /// The caller's own key/value data, returned with the message.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// Makes a repeated submission return the first message.
    pub idempotency_key: Option<String>,
    /// The tag, trimmed, when one was given.
    pub tag: Option<String>,
    /// Distinct recipients, in the order to, cc, bcc.
    pub recipients: Vec<(EmailAddress, RecipientKind)>,
}

impl ValidMessage {
    /// The message to store for `user_id` of `org_id`, accepted now, with a
    /// fresh Message-ID at the sender's domain and fresh (time-ordered) ids.
    /// The API and the dashboard's Compose both go through here.
    pub fn into_new_message(self, org_id: uuid::Uuid, user_id: uuid::Uuid) -> crate::NewMessage {
        crate::NewMessage {
            id: Uuid::now_v7(),
            org_id,
            user_id,
            message_id: mailtrail_domain::MessageId::generate(self.from.domain()),
            from_address: self.from,
            from_name: self.from_name,
            reply_to: self.reply_to,
            subject: self.subject,
            content: self.content,
            read_receipt: self.read_receipt,
            track_opens: self.track_opens,
            track_clicks: self.track_clicks,
            metadata: self.metadata,
            idempotency_key: self.idempotency_key,
            tag: self.tag,
            created_at: time::OffsetDateTime::now_utc(),
            recipients: self
                .recipients
                .into_iter()
                .map(|(address, kind)| crate::NewRecipient {
                    id: Uuid::now_v7(),
                    address,
                    kind,
                })
                .collect(),
        }
    }
}

/// The longest display name accepted: more is never a real name, and it must
/// fit a folded header line once encoded (RFC 5322 section 2.1.1).
const MAX_NAME: usize = 256;
/// The longest subject accepted (mail-builder folds it; this only bounds
/// abuse).
const MAX_SUBJECT: usize = 2_000;
/// The longest idempotency key.
const MAX_IDEMPOTENCY_KEY: usize = 255;
/// The longest tag (Postmark's limit).
const MAX_TAG: usize = 1_000;
/// The longest attachment file name (a common file-system limit).
const MAX_FILENAME: usize = 255;

/// Checks everything and turns the request into typed values.
pub fn validate(req: Draft, defaults: &Defaults) -> Result<ValidMessage, Invalid> {
    let (from, from_name) = match &req.from {
        Some(a) => parse_address(a, "from")?,
        None => match &defaults.from_domain {
            Some(domain) => (
                EmailAddress::parse(&format!("noreply@{domain}"))
                    .map_err(|e| Invalid::new("invalid_address", "from", format!("from: {e}")))?,
                None,
            ),
            None => {
                return Err(Invalid::new(
                    "missing_field",
                    "from",
                    "from is required (no default sender domain is configured)",
                ));
            }
        },
    };
    let reply_to = match &req.reply_to {
        Some(a) => Some(parse_address(a, "reply_to")?.0),
        None => None,
    };

    // Counted before any address is parsed, so an oversized list costs
    // nothing beyond reading it.
    let given = req.to.len() + req.cc.len() + req.bcc.len();
    if given > defaults.max_recipients {
        return Err(Invalid::new(
            "too_many_recipients",
            "to",
            format!(
                "at most {} recipients per message (to, cc and bcc together); {given} were given: send several messages",
                defaults.max_recipients
            ),
        ));
    }
    let mut recipients = Vec::new();
    let mut seen = HashSet::new();
    for (list, kind) in [
        (&req.to, RecipientKind::To),
        (&req.cc, RecipientKind::Cc),
        (&req.bcc, RecipientKind::Bcc),
    ] {
        for (i, a) in list.iter().enumerate() {
            let field = format!("{}[{i}]", kind.as_str());
            let (address, _) = parse_address(a, &field)?;
            // The same mailbox twice gets one copy, under its first mention.
            if seen.insert(address.normalized()) {
                recipients.push((address, kind));
            }
        }
    }
    if recipients.is_empty() {
        return Err(Invalid::new(
            "missing_recipient",
            "to",
            "at least one recipient is required in to, cc or bcc",
        ));
    }

    let subject = req.subject.clone().unwrap_or_default();
    if has_line_break_or_control(&subject) {
        return Err(Invalid::new(
            "invalid_value",
            "subject",
            "subject must not contain line breaks or control characters",
        ));
    }
    if subject.chars().count() > MAX_SUBJECT {
        return Err(Invalid::new(
            "invalid_value",
            "subject",
            format!("subject must be at most {MAX_SUBJECT} characters"),
        ));
    }

    let text = req.text.filter(|t| !t.is_empty());
    let html = req.html.filter(|h| !h.is_empty());
    if text.is_none() && html.is_none() {
        return Err(Invalid::new(
            "missing_body",
            "text",
            "give text, html or both",
        ));
    }

    let headers = validate_headers(req.headers)?;
    let attachments = req
        .attachments
        .into_iter()
        .enumerate()
        .map(|(i, a)| validate_attachment(i, a))
        .collect::<Result<Vec<_>, _>>()?;

    let track_opens = req.track_opens.unwrap_or(defaults.track_opens);
    let track_clicks = req.track_clicks.unwrap_or(defaults.track_clicks);
    check_copy_size(
        text.as_deref(),
        html.as_deref(),
        &attachments,
        track_opens || track_clicks,
        defaults.max_copy_bytes,
    )?;

    let mut metadata = serde_json::Map::new();
    for (k, v) in req.metadata {
        if k.is_empty() {
            return Err(Invalid::new(
                "invalid_value",
                "metadata",
                "metadata keys must not be empty",
            ));
        }
        metadata.insert(k, serde_json::Value::String(v));
    }

    let idempotency_key = match req.idempotency_key {
        Some(k)
            if k.is_empty()
                || k.chars().count() > MAX_IDEMPOTENCY_KEY
                || k.chars().any(char::is_control) =>
        {
            return Err(Invalid::new(
                "invalid_value",
                "idempotency_key",
                format!(
                    "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} characters without control characters"
                ),
            ));
        }
        other => other,
    };

    let tag = match req.tag.map(|t| t.trim().to_owned()) {
        Some(t) if t.is_empty() => None,
        Some(t) if t.chars().count() > MAX_TAG || t.chars().any(char::is_control) => {
            return Err(Invalid::new(
                "invalid_value",
                "tag",
                format!("tag must be at most {MAX_TAG} characters without control characters"),
            ));
        }
        other => other,
    };

    Ok(ValidMessage {
        from,
        from_name,
        reply_to,
        subject,
        content: MessageContent {
            text,
            html,
            headers,
            attachments,
        },
        read_receipt: req.read_receipt.unwrap_or(defaults.read_receipt),
        track_opens,
        track_clicks,
        metadata,
        idempotency_key,
        tag,
        recipients,
    })
}

/// The most octets a body part of `n` octets takes in a copy: base64 (RFC
/// 2045 section 6.8, 4 octets per 3, CRLF every 76 characters), the
/// largest encoding mail-builder picks for text it cannot send as is.
fn encoded_len(n: usize) -> usize {
    let b64 = n.div_ceil(3) * 4;
    b64 + b64.div_ceil(76) * 2
}

/// Refuses a message whose copies would be larger than the limit: the
/// request's size is not the copy's (attachments travel base64-encoded in
/// both, but HTML grows with tracking, up to
/// [`mailtrail_mail::instrument::max_instrumented_len`], and every body is
/// encoded again). The estimate bounds the encoded bodies and attachments
/// from above, so a copy passes the limit by its header at most (a few
/// KiB); the error names the largest part, the one to shrink.
fn check_copy_size(
    text: Option<&str>,
    html: Option<&str>,
    attachments: &[Attachment],
    tracked: bool,
    max: usize,
) -> Result<(), Invalid> {
    let html_len = html.map_or(0, |h| {
        if tracked {
            mailtrail_mail::instrument::max_instrumented_len(h.len())
        } else {
            h.len()
        }
    });
    let mut parts: Vec<(String, usize)> = vec![
        ("text".to_owned(), encoded_len(text.map_or(0, str::len))),
        ("html".to_owned(), encoded_len(html_len)),
    ];
    for (i, a) in attachments.iter().enumerate() {
        parts.push((format!("attachments[{i}]"), encoded_len(a.content.len())));
    }
    let total = parts.iter().map(|(_, n)| n).sum::<usize>();
    if total <= max {
        return Ok(());
    }
    let (field, _) = parts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .unwrap_or_else(|| ("text".to_owned(), 0));
    Err(Invalid::new(
        "message_too_large",
        field,
        format!(
            "each copy of this message would be up to {total} octets once encoded (tracked HTML may grow to twice its size), over the limit of {max}; shrink the largest part or send it untracked"
        ),
    ))
}

/// An address and its display name; errors name `field` (for the name,
/// `field.name`). The address may be written `Name <addr>` (RFC 5322
/// section 3.4 `name-addr`, as Postmark, Mailgun and Resend accept it); a
/// name given apart (`{"name", "address"}`) wins over one written there.
fn parse_address(a: &Mailbox, field: &str) -> Result<(EmailAddress, Option<String>), Invalid> {
    let split = mailtrail_domain::parse_name_addr(&a.address)
        .map_err(|e| Invalid::new("invalid_address", field, format!("{field}: {e}")))?;
    let address = EmailAddress::parse(split.address)
        .map_err(|e| Invalid::new("invalid_address", field, format!("{field}: {e}")))?;
    let name = match a.name.as_deref().or(split.name.as_deref()).map(str::trim) {
        None | Some("") => None,
        Some(n) if has_line_break_or_control(n) || n.chars().count() > MAX_NAME => {
            return Err(Invalid::new(
                "invalid_value",
                format!("{field}.name"),
                format!(
                    "{field}.name must be at most {MAX_NAME} characters without line breaks or control characters"
                ),
            ));
        }
        Some(n) => Some(n.to_owned()),
    };
    Ok((address, name))
}

/// CR or LF would end a header line and start a new one (header injection,
/// RFC 5322 section 2.2); other control characters are not allowed in an
/// unstructured field body either (RFC 5322 section 3.2.5, VCHAR and WSP).
fn has_line_break_or_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control() && c != '\t')
}

/// Extra headers: each checked by the mail crate's rules (RFC 5322 section
/// 2.2 field names, no CR/LF, none of the headers mailtrail writes itself),
/// and no name twice.
fn validate_headers(headers: Vec<(String, String)>) -> Result<Vec<(String, String)>, Invalid> {
    let mut seen = HashSet::new();
    for (name, value) in &headers {
        let field = format!("headers.{name}");
        if let Err(e) = mailtrail_mail::compose::validate_extra_header(name, value) {
            let code = match e {
                MailError::ReservedHeader { .. } => "reserved_header",
                _ => "invalid_header",
            };
            return Err(Invalid::new(code, field, e.to_string()));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(Invalid::new(
                "invalid_header",
                field,
                format!("header {name} is given twice"),
            ));
        }
    }
    Ok(headers)
}

/// A file name, a MIME type and the decoded bytes.
fn validate_attachment(i: usize, a: AttachmentDraft) -> Result<Attachment, Invalid> {
    let field = |f: &str| format!("attachments[{i}].{f}");
    let filename = a.filename.trim().to_owned();
    if filename.is_empty()
        || filename.chars().count() > MAX_FILENAME
        || filename.chars().any(char::is_control)
        || filename.contains(['/', '\\'])
    {
        return Err(Invalid::new(
            "invalid_attachment",
            field("filename"),
            format!(
                "filename must be 1 to {MAX_FILENAME} characters, without control characters or slashes"
            ),
        ));
    }
    let content_type = a
        .content_type
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    if !is_mime_type(&content_type) {
        return Err(Invalid::new(
            "invalid_attachment",
            field("content_type"),
            format!(
                "content_type {content_type:?} is not a MIME type like application/pdf (RFC 2045 section 5.1)"
            ),
        ));
    }
    Ok(Attachment {
        filename,
        content_type,
        content: a.content,
    })
}

/// `type/subtype` with optional `; parameter=value` (RFC 2045 section 5.1):
/// the type and subtype are tokens, parameters carry no control characters.
fn is_mime_type(s: &str) -> bool {
    let is_token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    let mut parts = s.splitn(2, ';');
    let essence = parts.next().unwrap_or("").trim();
    let params_ok = parts
        .next()
        .is_none_or(|p| !p.chars().any(char::is_control));
    match essence.split_once('/') {
        Some((t, sub)) => is_token(t) && is_token(sub) && params_ok,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mime_types() {
        for ok in [
            "text/plain",
            "application/pdf; name=\"a b.pdf\"",
            "application/vnd.ms-excel",
        ] {
            assert!(is_mime_type(ok), "{ok}");
        }
        for bad in [
            "",
            "text",
            "text/",
            "/plain",
            "te xt/plain",
            "text/pl@in",
            "a/b; x=\u{7}",
        ] {
            assert!(!is_mime_type(bad), "{bad}");
        }
    }
}

//! The body of `POST /api/v1/messages`: its JSON shape and its validation.
//!
//! Input is parsed once into typed values ([`EmailAddress`], checked
//! headers, decoded attachments) before anything is stored, so a refused
//! request leaves nothing behind (DESIGN.md sections 4 and 6). Every refusal
//! names the field to fix, as a JSON path: `to[2]`, `headers.X-Campaign`,
//! `attachments[0].content_base64`.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use mailtrail_domain::{EmailAddress, RecipientKind};
use mailtrail_mail::MailError;
use mailtrail_store::{Attachment, MessageContent};
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use crate::ApiError;

/// The request as sent. Unknown fields are refused so that a typo
/// (`"bc"` for `"bcc"`) is an error instead of a silently dropped recipient.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SendRequest {
    #[serde(default)]
    from: Option<AddressInput>,
    #[serde(default)]
    to: AddressList,
    #[serde(default)]
    cc: AddressList,
    #[serde(default)]
    bcc: AddressList,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    html: Option<String>,
    #[serde(default)]
    reply_to: Option<AddressInput>,
    #[serde(default)]
    headers: HeaderList,
    #[serde(default)]
    attachments: Vec<AttachmentInput>,
    #[serde(default)]
    read_receipt: Option<bool>,
    #[serde(default)]
    track: Option<TrackInput>,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// `"a@b.example"` or `{"name": "A", "address": "a@b.example"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddressInput {
    name: Option<String>,
    address: String,
}

impl<'de> Deserialize<'de> for AddressInput {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddressInput;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"an address string or {"name", "address"}"#)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AddressInput, E> {
                Ok(AddressInput {
                    name: None,
                    address: v.to_owned(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AddressInput, A::Error> {
                let mut name: Option<Option<String>> = None;
                let mut address: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" if name.is_none() => name = Some(map.next_value()?),
                        "address" if address.is_none() => address = Some(map.next_value()?),
                        "name" | "address" => {
                            return Err(de::Error::custom(format!("duplicate field `{key}`")));
                        }
                        // Refused while reading its value, so that the error
                        // path ends with the key: `to[0].email`.
                        other => return map.next_value_seed(UnknownField(other)),
                    }
                }
                let address = address.ok_or_else(|| de::Error::missing_field("address"))?;
                Ok(AddressInput {
                    name: name.flatten(),
                    address,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Refuses the value of an unknown key of an address object.
struct UnknownField<'a>(&'a str);

impl<'de> de::DeserializeSeed<'de> for UnknownField<'_> {
    type Value = AddressInput;
    fn deserialize<D: de::Deserializer<'de>>(self, _d: D) -> Result<AddressInput, D::Error> {
        Err(de::Error::unknown_field(self.0, &["name", "address"]))
    }
}

/// A list of addresses; a single address alone is taken as a list of one,
/// and `null` as an empty list.
#[derive(Debug, Default)]
pub(crate) struct AddressList(Vec<AddressInput>);

impl<'de> Deserialize<'de> for AddressList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AddressList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of addresses")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AddressList, E> {
                Ok(AddressList(vec![AddressInput {
                    name: None,
                    address: v.to_owned(),
                }]))
            }
            fn visit_unit<E: de::Error>(self) -> Result<AddressList, E> {
                Ok(AddressList::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddressList, A::Error> {
                let mut out = Vec::new();
                while let Some(a) = seq.next_element::<AddressInput>()? {
                    out.push(a);
                }
                Ok(AddressList(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AddressList, A::Error> {
                let one = AddressInput::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(AddressList(vec![one]))
            }
        }
        d.deserialize_any(V)
    }
}

/// Extra headers as a JSON object, in the order given (the order they are
/// written in).
#[derive(Debug, Default)]
pub(crate) struct HeaderList(Vec<(String, String)>);

impl<'de> Deserialize<'de> for HeaderList {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = HeaderList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names to string values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<HeaderList, E> {
                Ok(HeaderList::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderList, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    out.push((k, v));
                }
                Ok(HeaderList(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One attachment as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttachmentInput {
    filename: String,
    #[serde(default)]
    content_type: Option<String>,
    content_base64: String,
}

/// Tracking switches; an absent one takes the organisation's default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TrackInput {
    #[serde(default)]
    opens: Option<bool>,
    #[serde(default)]
    clicks: Option<bool>,
}

/// What applies when the request does not say.
#[derive(Debug, Clone)]
pub(crate) struct Defaults {
    /// The organisation's read-receipt default.
    pub read_receipt: bool,
    /// The organisation's open-tracking default.
    pub track_opens: bool,
    /// The organisation's click-tracking default.
    pub track_clicks: bool,
    /// Domain of the sender used when `from` is omitted.
    pub from_domain: Option<String>,
}

impl Defaults {
    /// The organisation's defaults, plus the server's `from` domain.
    pub fn of(org: &mailtrail_store::Organisation, from_domain: Option<String>) -> Self {
        Self {
            read_receipt: org.read_receipt_default,
            track_opens: org.track_opens_default,
            track_clicks: org.track_clicks_default,
            from_domain,
        }
    }
}

/// A request that passed every check, ready to be stored.
#[derive(Debug, Clone)]
pub(crate) struct ValidSend {
    pub from: EmailAddress,
    pub from_name: Option<String>,
    pub reply_to: Option<EmailAddress>,
    pub subject: String,
    pub content: MessageContent,
    pub read_receipt: bool,
    pub track_opens: bool,
    pub track_clicks: bool,
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub idempotency_key: Option<String>,
    /// Distinct recipients, in the order to, cc, bcc.
    pub recipients: Vec<(EmailAddress, RecipientKind)>,
}

impl ValidSend {
    /// The message to store for `user_id` of `org_id`, accepted now, with a
    /// fresh Message-ID at the sender's domain and fresh (time-ordered) ids.
    /// The API and the dashboard's Compose both go through here.
    pub fn into_new_message(
        self,
        org_id: uuid::Uuid,
        user_id: uuid::Uuid,
    ) -> mailtrail_store::NewMessage {
        use uuid::Uuid;
        mailtrail_store::NewMessage {
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
            created_at: time::OffsetDateTime::now_utc(),
            recipients: self
                .recipients
                .into_iter()
                .map(|(address, kind)| mailtrail_store::NewRecipient {
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
/// The longest attachment file name (a common file-system limit).
const MAX_FILENAME: usize = 255;

/// Base64 as clients send it: the standard alphabet, padding optional.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Checks everything and turns the request into typed values.
pub(crate) fn validate(req: SendRequest, defaults: &Defaults) -> Result<ValidSend, ApiError> {
    let (from, from_name) = match &req.from {
        Some(a) => parse_address(a, "from")?,
        None => match &defaults.from_domain {
            Some(domain) => (
                EmailAddress::parse(&format!("noreply@{domain}")).map_err(|e| {
                    ApiError::invalid("invalid_address", "from", format!("from: {e}"))
                })?,
                None,
            ),
            None => {
                return Err(ApiError::invalid(
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

    let mut recipients = Vec::new();
    let mut seen = HashSet::new();
    for (list, kind) in [
        (&req.to, RecipientKind::To),
        (&req.cc, RecipientKind::Cc),
        (&req.bcc, RecipientKind::Bcc),
    ] {
        for (i, a) in list.0.iter().enumerate() {
            let field = format!("{}[{i}]", kind.as_str());
            let (address, _) = parse_address(a, &field)?;
            // The same mailbox twice gets one copy, under its first mention.
            if seen.insert(address.normalized()) {
                recipients.push((address, kind));
            }
        }
    }
    if recipients.is_empty() {
        return Err(ApiError::invalid(
            "missing_recipient",
            "to",
            "at least one recipient is required in to, cc or bcc",
        ));
    }

    let subject = req.subject.clone().unwrap_or_default();
    if has_line_break_or_control(&subject) {
        return Err(ApiError::invalid(
            "invalid_value",
            "subject",
            "subject must not contain line breaks or control characters",
        ));
    }
    if subject.chars().count() > MAX_SUBJECT {
        return Err(ApiError::invalid(
            "invalid_value",
            "subject",
            format!("subject must be at most {MAX_SUBJECT} characters"),
        ));
    }

    let text = req.text.filter(|t| !t.is_empty());
    let html = req.html.filter(|h| !h.is_empty());
    if text.is_none() && html.is_none() {
        return Err(ApiError::invalid(
            "missing_body",
            "text",
            "give text, html or both",
        ));
    }

    let headers = validate_headers(req.headers.0)?;
    let attachments = req
        .attachments
        .into_iter()
        .enumerate()
        .map(|(i, a)| validate_attachment(i, a))
        .collect::<Result<Vec<_>, _>>()?;

    let mut metadata = serde_json::Map::new();
    for (k, v) in req.metadata {
        if k.is_empty() {
            return Err(ApiError::invalid(
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
            return Err(ApiError::invalid(
                "invalid_value",
                "idempotency_key",
                format!(
                    "idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY} characters without control characters"
                ),
            ));
        }
        other => other,
    };

    let track = req.track.unwrap_or_default();
    Ok(ValidSend {
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
        track_opens: track.opens.unwrap_or(defaults.track_opens),
        track_clicks: track.clicks.unwrap_or(defaults.track_clicks),
        metadata,
        idempotency_key,
        recipients,
    })
}

/// An address and its display name; errors name `field` (for the name,
/// `field.name`).
fn parse_address(
    a: &AddressInput,
    field: &str,
) -> Result<(EmailAddress, Option<String>), ApiError> {
    let address = EmailAddress::parse(&a.address)
        .map_err(|e| ApiError::invalid("invalid_address", field, format!("{field}: {e}")))?;
    let name = match a.name.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) if has_line_break_or_control(n) || n.chars().count() > MAX_NAME => {
            return Err(ApiError::invalid(
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
fn validate_headers(headers: Vec<(String, String)>) -> Result<Vec<(String, String)>, ApiError> {
    let mut seen = HashSet::new();
    for (name, value) in &headers {
        let field = format!("headers.{name}");
        if let Err(e) = mailtrail_mail::compose::validate_extra_header(name, value) {
            let code = match e {
                MailError::ReservedHeader { .. } => "reserved_header",
                _ => "invalid_header",
            };
            return Err(ApiError::invalid(code, field, e.to_string()));
        }
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(ApiError::invalid(
                "invalid_header",
                field,
                format!("header {name} is given twice"),
            ));
        }
    }
    Ok(headers)
}

/// A file name, a MIME type and the decoded bytes.
fn validate_attachment(i: usize, a: AttachmentInput) -> Result<Attachment, ApiError> {
    let field = |f: &str| format!("attachments[{i}].{f}");
    let filename = a.filename.trim().to_owned();
    if filename.is_empty()
        || filename.chars().count() > MAX_FILENAME
        || filename.chars().any(char::is_control)
        || filename.contains(['/', '\\'])
    {
        return Err(ApiError::invalid(
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
        return Err(ApiError::invalid(
            "invalid_attachment",
            field("content_type"),
            format!(
                "content_type {content_type:?} is not a MIME type like application/pdf (RFC 2045 section 5.1)"
            ),
        ));
    }
    // Clients often wrap base64 at 76 columns (RFC 2045 section 6.8).
    let compact: Vec<u8> = a
        .content_base64
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let content = LENIENT_BASE64.decode(&compact).map_err(|e| {
        ApiError::invalid(
            "invalid_base64",
            field("content_base64"),
            format!("content_base64 is not valid base64: {e}"),
        )
    })?;
    Ok(Attachment {
        filename,
        content_type,
        content,
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
    use serde_json::json;

    use super::*;
    use crate::extract::parse_json;

    fn defaults() -> Defaults {
        Defaults {
            read_receipt: true,
            track_opens: true,
            track_clicks: false,
            from_domain: None,
        }
    }

    fn check(body: serde_json::Value) -> Result<ValidSend, ApiError> {
        let req: SendRequest = parse_json(body.to_string().as_bytes())?;
        validate(req, &defaults())
    }

    fn base() -> serde_json::Value {
        json!({"from": "a@b.example", "to": ["x@y.example"], "subject": "s", "text": "t"})
    }

    fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
        let mut b = base();
        b[key] = value;
        b
    }

    fn without(key: &str) -> serde_json::Value {
        let mut b = base();
        b.as_object_mut().map(|o| o.remove(key));
        b
    }

    /// Every refusal: the code and the exact field.
    #[test]
    fn refusals_name_the_field() {
        let att = |f: serde_json::Value| {
            with(
                "attachments",
                json!([{"filename": "ok.pdf", "content_base64": ""}, f]),
            )
        };
        let cases: Vec<(serde_json::Value, &str, &str)> = vec![
            (with("bcc_list", json!([])), "invalid_field", "bcc_list"),
            (
                with("to", json!(["x@y.example", 7])),
                "invalid_field",
                "to[1]",
            ),
            (
                with("to", json!([{"address": "x@y.example", "email": "z"}])),
                "invalid_field",
                "to[0].email",
            ),
            (
                with("to", json!([{"name": "no address"}])),
                "invalid_field",
                "to[0]",
            ),
            (
                with("track", json!({"opens": true, "views": true})),
                "invalid_field",
                "track.views",
            ),
            (
                with("read_receipt", json!("yes")),
                "invalid_field",
                "read_receipt",
            ),
            (
                with("metadata", json!({"n": 1})),
                "invalid_field",
                "metadata.n",
            ),
            (
                with("headers", json!({"X-N": 1})),
                "invalid_field",
                "headers.X-N",
            ),
            (
                with("from", json!("not-an-address")),
                "invalid_address",
                "from",
            ),
            (
                with("from", json!({"name": "A", "address": "a@b..example"})),
                "invalid_address",
                "from",
            ),
            (
                with(
                    "from",
                    json!({"name": "A\r\nBcc: x@y.example", "address": "a@b.example"}),
                ),
                "invalid_value",
                "from.name",
            ),
            (without("from"), "missing_field", "from"),
            (
                with("reply_to", json!("nope")),
                "invalid_address",
                "reply_to",
            ),
            (
                with("to", json!(["x@y.example", "y@y.example", "z@y example"])),
                "invalid_address",
                "to[2]",
            ),
            (
                with("cc", json!(["x@y.example\r\nBcc: evil@z.example"])),
                "invalid_address",
                "cc[0]",
            ),
            (
                with("bcc", json!({"name": "B", "address": "b"})),
                "invalid_address",
                "bcc[0]",
            ),
            (with("to", json!([])), "missing_recipient", "to"),
            (
                with("to", serde_json::Value::Null),
                "missing_recipient",
                "to",
            ),
            (with("subject", json!("a\nb")), "invalid_value", "subject"),
            (with("subject", json!("a\rb")), "invalid_value", "subject"),
            (
                with("subject", json!("x".repeat(2001))),
                "invalid_value",
                "subject",
            ),
            (without("text"), "missing_body", "text"),
            (with("text", json!("")), "missing_body", "text"),
            (
                with("headers", json!({"X-A": "1\r\nBcc: v@w.example"})),
                "invalid_header",
                "headers.X-A",
            ),
            (
                with("headers", json!({"X-A": "1\nB"})),
                "invalid_header",
                "headers.X-A",
            ),
            (
                with("headers", json!({"Bad Name": "1"})),
                "invalid_header",
                "headers.Bad Name",
            ),
            (
                with("headers", json!({"X:Colon": "1"})),
                "invalid_header",
                "headers.X:Colon",
            ),
            (
                with("headers", json!({"Bcc": "v@w.example"})),
                "reserved_header",
                "headers.Bcc",
            ),
            (
                with("headers", json!({"content-type": "text/html"})),
                "reserved_header",
                "headers.content-type",
            ),
            (
                with("headers", json!({"List-Unsubscribe-Post": "x"})),
                "reserved_header",
                "headers.List-Unsubscribe-Post",
            ),
            (
                with("headers", json!({"Message-ID": "<a@b>"})),
                "reserved_header",
                "headers.Message-ID",
            ),
            (
                with("headers", json!({"X-A": "1", "x-a": "2"})),
                "invalid_header",
                "headers.x-a",
            ),
            (
                att(json!({"filename": "a", "content_base64": "!!"})),
                "invalid_base64",
                "attachments[1].content_base64",
            ),
            (
                att(json!({"filename": "a", "content_base64": "aGVsbG8=x"})),
                "invalid_base64",
                "attachments[1].content_base64",
            ),
            (
                att(json!({"filename": "", "content_base64": ""})),
                "invalid_attachment",
                "attachments[1].filename",
            ),
            (
                att(json!({"filename": "a\r\n.pdf", "content_base64": ""})),
                "invalid_attachment",
                "attachments[1].filename",
            ),
            (
                att(json!({"filename": "../a", "content_base64": ""})),
                "invalid_attachment",
                "attachments[1].filename",
            ),
            (
                att(json!({"filename": "a", "content_type": "pdf", "content_base64": ""})),
                "invalid_attachment",
                "attachments[1].content_type",
            ),
            (
                att(
                    json!({"filename": "a", "content_type": "text/plain\r\nX: y", "content_base64": ""}),
                ),
                "invalid_attachment",
                "attachments[1].content_type",
            ),
            (
                att(json!({"filename": "a", "content_base64": "", "size": 1})),
                "invalid_field",
                "attachments[1].size",
            ),
            (
                att(json!({"filename": "a"})),
                "invalid_field",
                "attachments[1]",
            ),
            (
                with("metadata", json!({"": "x"})),
                "invalid_value",
                "metadata",
            ),
            (
                with("idempotency_key", json!("")),
                "invalid_value",
                "idempotency_key",
            ),
            (
                with("idempotency_key", json!("k".repeat(256))),
                "invalid_value",
                "idempotency_key",
            ),
            (
                with("idempotency_key", json!("a\nb")),
                "invalid_value",
                "idempotency_key",
            ),
        ];
        for (body, code, field) in cases {
            let err = check(body.clone()).expect_err(&format!("{body} must be refused"));
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(
                (err.code(), err.field()),
                (code, Some(field)),
                "{body}: {err}"
            );
        }
    }

    #[test]
    fn syntax_errors_are_invalid_json() {
        for raw in [
            "",
            "{",
            "{\"from\": }",
            "{\"to\": [\"a@b.example\",",
            "{} {}",
            "nul",
        ] {
            let err = parse_json::<SendRequest>(raw.as_bytes()).expect_err(raw);
            assert_eq!(err.code(), "invalid_json", "{raw:?}");
        }
        let err = parse_json::<SendRequest>(b"[]").expect_err("array");
        assert_eq!(err.code(), "invalid_field");
    }

    #[test]
    fn accepted_request_is_typed_and_deduplicated() {
        // A raw string: serde_json's own map would sort the header names.
        let body = r#"{
            "from": {"name": " Sender ", "address": "Me@Example.COM"},
            "to": ["a@x.example", {"name": "B", "address": "b@x.example"}],
            "cc": ["A@X.example", "c@x.example"],
            "bcc": ["b@x.example", "d@x.example"],
            "reply_to": {"name": "R", "address": "r@x.example"},
            "subject": "Tab\tis fine",
            "html": "<p>x</p>",
            "headers": {"X-Z": "1", "X-A": "2"},
            "attachments": [{"filename": "r.pdf", "content_type": "application/pdf; name=r.pdf", "content_base64": "JVBE\r\nRg"}],
            "track": {"clicks": true},
            "metadata": {"k": "v"},
            "idempotency_key": "abc"
        }"#;
        let req: SendRequest = parse_json(body.as_bytes()).expect("parse");
        let v = validate(req, &defaults()).expect("valid");
        assert_eq!(v.from.as_str(), "Me@example.com");
        assert_eq!(v.from_name.as_deref(), Some("Sender"));
        assert_eq!(
            v.reply_to.map(|r| r.to_string()).as_deref(),
            Some("r@x.example")
        );
        let r: Vec<(String, RecipientKind)> = v
            .recipients
            .iter()
            .map(|(a, k)| (a.to_string(), *k))
            .collect();
        assert_eq!(
            r,
            vec![
                ("a@x.example".to_owned(), RecipientKind::To),
                ("b@x.example".to_owned(), RecipientKind::To),
                ("c@x.example".to_owned(), RecipientKind::Cc),
                ("d@x.example".to_owned(), RecipientKind::Bcc),
            ]
        );
        assert_eq!(v.content.text, None);
        assert_eq!(v.content.html.as_deref(), Some("<p>x</p>"));
        // Headers keep the caller's order.
        assert_eq!(
            v.content.headers,
            vec![
                ("X-Z".to_owned(), "1".to_owned()),
                ("X-A".to_owned(), "2".to_owned())
            ]
        );
        assert_eq!(v.content.attachments[0].content, b"%PDF");
        assert_eq!(
            v.content.attachments[0].content_type,
            "application/pdf; name=r.pdf"
        );
        assert!(v.read_receipt && v.track_opens && v.track_clicks);
        assert_eq!(v.metadata["k"], "v");
        assert_eq!(v.idempotency_key.as_deref(), Some("abc"));
    }

    #[test]
    fn missing_from_uses_the_default_domain_when_configured() {
        let req: SendRequest = parse_json(without("from").to_string().as_bytes()).expect("parse");
        let d = Defaults {
            from_domain: Some("mail.example".into()),
            ..defaults()
        };
        let v = validate(req, &d).expect("valid");
        assert_eq!(v.from.as_str(), "noreply@mail.example");
    }

    #[test]
    fn attachment_content_type_defaults_to_octet_stream() {
        let v = check(with(
            "attachments",
            json!([{"filename": "blob", "content_base64": "AAE="}]),
        ))
        .expect("valid");
        assert_eq!(
            v.content.attachments[0].content_type,
            "application/octet-stream"
        );
        assert_eq!(v.content.attachments[0].content, vec![0, 1]);
    }

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

//! The body of `POST /api/v1/messages`: its JSON shape and its validation.
//!
//! Input is parsed once into typed values (checked addresses and
//! headers, decoded attachments) before anything is stored, so a refused
//! request leaves nothing behind (DESIGN.md sections 4 and 6). Every refusal
//! names the field to fix, as a JSON path: `to[2]`, `headers.X-Campaign`,
//! `attachments[0].content_base64`.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use mailtrail_store::new_message::{AttachmentDraft, Draft, Mailbox};
use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::ApiError;

/// The request as sent. Unknown fields are refused so that a typo
/// (`"bc"` for `"bcc"`) is an error instead of a silently dropped recipient.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "from": {"name": "Ada", "address": "ada@example.com"},
    "to": ["grace@example.org"],
    "subject": "The report",
    "html": "<p>Here it is: <a href=\"https://example.com/r\">report</a></p>",
    "read_receipt": true,
    "metadata": {"order": "1042"}
}))]
pub(crate) struct SendRequest {
    /// The sender; without it, `noreply@` the server's default domain when
    /// one is configured.
    #[serde(default)]
    from: Option<AddressInput>,
    /// Recipients; one address alone is a list of one. At least one of
    /// to, cc and bcc.
    #[serde(default)]
    to: AddressList,
    /// Carbon-copy recipients.
    #[serde(default)]
    cc: AddressList,
    /// Blind carbon-copy recipients: no copy reveals them.
    #[serde(default)]
    bcc: AddressList,
    /// One line, at most 2000 characters.
    #[serde(default)]
    subject: Option<String>,
    /// The plain-text body; `text` or `html` is required.
    #[serde(default)]
    text: Option<String>,
    /// The HTML body; opens and clicks are tracked in it.
    #[serde(default)]
    html: Option<String>,
    /// Where replies go.
    #[serde(default)]
    reply_to: Option<AddressInput>,
    /// Extra headers, written in the order given.
    #[serde(default)]
    headers: HeaderList,
    /// Files to attach.
    #[serde(default)]
    attachments: Vec<AttachmentInput>,
    /// Ask for a read receipt (RFC 8098 Disposition-Notification-To);
    /// the organisation's default when absent.
    #[serde(default)]
    read_receipt: Option<bool>,
    /// Tracking switches.
    #[serde(default)]
    track: Option<TrackInput>,
    /// Your own keys and values, returned with the message and its events.
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    /// A tag to group messages by (at most 1000 characters); the messages
    /// list filters on it with `?tag=`.
    #[serde(default)]
    tag: Option<String>,
    /// A repeated key answers the message stored the first time (200)
    /// instead of sending again.
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

impl PartialSchema for AddressInput {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("An address (RFC 5322 addr-spec)"))
                    .examples(["grace@example.org"]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property(
                        "name",
                        ObjectBuilder::new()
                            .schema_type(SchemaType::from_iter([Type::String, Type::Null])),
                    )
                    .property("address", ObjectBuilder::new().schema_type(Type::String))
                    .required("address")
                    .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(false)))
                    .examples([
                        serde_json::json!({"name": "Grace", "address": "grace@example.org"}),
                    ]),
            )
            .description(Some("An address, as a string or with a display name"))
            .into()
    }
}

impl ToSchema for AddressInput {
    fn name() -> std::borrow::Cow<'static, str> {
        "Address".into()
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

impl PartialSchema for AddressList {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(ArrayBuilder::new().items(AddressInput::schema()))
            .item(AddressInput::schema())
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .description(Some(
                "A list of addresses; one address alone is a list of one, `null` an empty list",
            ))
            .into()
    }
}

impl ToSchema for AddressList {
    fn name() -> std::borrow::Cow<'static, str> {
        "AddressList".into()
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

impl PartialSchema for HeaderList {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
            .description(Some(
                "Header names to values, one line each; headers mailtrail writes itself \
                 (From, To, Message-ID, Content-Type...) are refused",
            ))
            .examples([serde_json::json!({"X-Campaign": "spring"})])
            .into()
    }
}

impl ToSchema for HeaderList {
    fn name() -> std::borrow::Cow<'static, str> {
        "Headers".into()
    }
}

/// One attachment as sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Attachment)]
pub(crate) struct AttachmentInput {
    /// The file name the recipient sees.
    filename: String,
    /// The media type; `application/octet-stream` when absent.
    #[serde(default)]
    content_type: Option<String>,
    /// The content, base64 (RFC 4648; padding optional, line breaks
    /// ignored).
    #[schema(content_encoding = "base64")]
    content_base64: String,
}

/// Tracking switches; an absent one takes the organisation's default.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Track)]
pub(crate) struct TrackInput {
    /// Add an open-tracking pixel to the HTML.
    #[serde(default)]
    opens: Option<bool>,
    /// Rewrite the HTML's links to count clicks.
    #[serde(default)]
    clicks: Option<bool>,
}

pub(crate) use mailtrail_store::new_message::{Defaults, ValidMessage};

/// Base64 as clients send it: the standard alphabet, padding optional.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Checks the request by the rules every entry point shares
/// ([`mailtrail_store::new_message`]), after decoding what is the JSON
/// shape's own: the attachments' base64.
pub(crate) fn validate(req: SendRequest, defaults: &Defaults) -> Result<ValidMessage, ApiError> {
    let attachments = req
        .attachments
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            // Clients often wrap base64 at 76 columns (RFC 2045 section 6.8).
            let compact: Vec<u8> = a
                .content_base64
                .bytes()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            let content = LENIENT_BASE64.decode(&compact).map_err(|e| {
                ApiError::invalid(
                    "invalid_base64",
                    format!("attachments[{i}].content_base64"),
                    format!("content_base64 is not valid base64: {e}"),
                )
            })?;
            Ok(AttachmentDraft {
                filename: a.filename,
                content_type: a.content_type,
                content,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let track = req.track.unwrap_or_default();
    let draft = Draft {
        from: req.from.map(AddressInput::into_mailbox),
        to: req.to.into_mailboxes(),
        cc: req.cc.into_mailboxes(),
        bcc: req.bcc.into_mailboxes(),
        subject: req.subject,
        text: req.text,
        html: req.html,
        reply_to: req.reply_to.map(AddressInput::into_mailbox),
        headers: req.headers.0,
        attachments,
        read_receipt: req.read_receipt,
        track_opens: track.opens,
        track_clicks: track.clicks,
        metadata: req.metadata,
        idempotency_key: req.idempotency_key,
        tag: req.tag,
    };
    mailtrail_store::new_message::validate(draft, defaults)
        .map_err(|e| ApiError::invalid(e.code, e.field, e.message))
}

impl AddressInput {
    fn into_mailbox(self) -> Mailbox {
        Mailbox {
            name: self.name,
            address: self.address,
        }
    }
}

impl AddressList {
    fn into_mailboxes(self) -> Vec<Mailbox> {
        self.0.into_iter().map(AddressInput::into_mailbox).collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::extract::parse_json;
    use mailtrail_domain::RecipientKind;

    fn defaults() -> Defaults {
        Defaults {
            read_receipt: true,
            track_opens: true,
            track_clicks: false,
            from_domain: None,
            max_recipients: 1_000,
            max_copy_bytes: 25 * 1024 * 1024,
        }
    }

    fn check(body: serde_json::Value) -> Result<ValidMessage, ApiError> {
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
    fn the_recipient_cap_counts_to_cc_and_bcc_together() {
        let list = |n: usize| {
            json!(
                (0..n)
                    .map(|i| format!("r{i}@y.example"))
                    .collect::<Vec<_>>()
            )
        };
        let d = Defaults {
            max_recipients: 3,
            ..defaults()
        };
        let mut body = with("to", list(2));
        body["bcc"] = json!(["z@y.example"]);
        let req: SendRequest = parse_json(body.to_string().as_bytes()).expect("parse");
        assert!(validate(req, &d).is_ok());
        body["cc"] = json!(["w@y.example"]);
        let req: SendRequest = parse_json(body.to_string().as_bytes()).expect("parse");
        let err = validate(req, &d).expect_err("four is over three");
        assert!(format!("{err:?}").contains("\"to\""), "{err:?}");
    }
}

//! Schemas of the domain's types, as the API writes them. The domain and
//! store crates know nothing of OpenAPI, so their types are described here,
//! by `#[schema(schema_with = ...)]` on the fields that hold them. Enum
//! values are read from the types themselves (their `ALL` lists and their
//! serde names), so a new status or event kind appears in the document
//! without anyone editing it.

use mailtrail_domain::{EventKind, Opener, RecipientKind, Status};
use serde::Serialize;
use utoipa::openapi::schema::{
    KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{RefOr, Schema};

/// The wire names of `values`, as serde writes them.
fn names<T: Serialize>(values: &[T]) -> Vec<String> {
    values
        .iter()
        .filter_map(|v| match serde_json::to_value(v) {
            Ok(serde_json::Value::String(s)) => Some(s),
            _ => None,
        })
        .collect()
}

fn string_enum(description: &str, values: Vec<String>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
}

/// An addr-spec (RFC 5322 section 3.4.1), as the API writes it.
pub(crate) fn email_address() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .examples(["ada@example.com"])
}

/// A `msg-id` without its angle brackets (RFC 5322 section 3.6.4).
pub(crate) fn message_id() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "The Message-ID header's value without its angle brackets (RFC 5322 section 3.6.4); \
             replies, bounces and receipts are joined on it",
        ))
        .examples(["0193a4b2-7c1e-7d2a-9f00-3c2b1a0d9e8f@mail.example.com"])
}

/// A recipient's derived status (DESIGN.md section 3).
pub(crate) fn status() -> ObjectBuilder {
    string_enum(
        "The most advanced known state, lowest rank first in this list; engagement outranks \
         delivery, `failed` is terminal for delivery",
        names(&Status::ALL),
    )
}

/// The header a recipient was addressed in (RFC 5322 section 3.6.3).
pub(crate) fn recipient_kind() -> ObjectBuilder {
    string_enum(
        "The header the recipient was addressed in",
        names(&[RecipientKind::To, RecipientKind::Cc, RecipientKind::Bcc]),
    )
}

/// An event's kind.
pub(crate) fn event_kind() -> ObjectBuilder {
    string_enum(
        "What happened to the recipient's copy",
        names(&EventKind::ALL),
    )
}

/// Every opener kind. The match makes a new variant a compile error here
/// rather than a value the document does not list.
fn all_openers() -> [Opener; 4] {
    let all = [
        Opener::Human,
        Opener::Proxy,
        Opener::Machine,
        Opener::SelfOpen,
    ];
    for o in all {
        match o {
            Opener::Human | Opener::Proxy | Opener::Machine | Opener::SelfOpen => {}
        }
    }
    all
}

/// Who made an open or a click (DESIGN.md section 2, "opener").
pub(crate) fn opener() -> ObjectBuilder {
    string_enum(
        "Who opened or clicked: a person (`human`), a provider's image proxy acting for a \
         person (`proxy`), a machine such as a privacy prefetch or a link scanner \
         (`machine`), or the sender (`self`, never counted)",
        names(&all_openers()),
    )
}

fn nullable_string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some(description))
}

/// Why a recipient failed or was deferred.
fn status_reason_object() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "Why the recipient failed or was deferred: the remote server's reply",
        ))
        .property(
            "smtp_code",
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                .description(Some("SMTP reply code, e.g. 550 (RFC 5321 section 4.2)")),
        )
        .property(
            "enhanced_status",
            nullable_string("Enhanced status code, e.g. `5.1.1` (RFC 3463)"),
        )
        .property(
            "reason",
            nullable_string("Reason name from the bounce vocabulary, e.g. `userunknown`"),
        )
        .property("text", nullable_string("The remote server's text"))
}

/// A status reason that is `null` when there is none.
pub(crate) fn status_reason_or_null() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(status_reason_object())
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// A status reason, present only when there is one.
pub(crate) fn status_reason() -> ObjectBuilder {
    status_reason_object()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_list_the_wire_names() {
        assert_eq!(names(&[Opener::SelfOpen, Opener::Human]), ["self", "human"]);
        assert_eq!(names(&Status::ALL).len(), Status::ALL.len());
        assert!(names(&EventKind::ALL).contains(&"read_receipt".to_owned()));
    }
}

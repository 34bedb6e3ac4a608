//! TNEF reader and writer on streams built here.

use super::{attr, read, read_attributes, write};
use crate::error::OutlookError;
use crate::message::{Attachment, Message, NamedProperty, PropertyName};
use crate::property::{Property, PropertyBag, Value, id, kind};

fn prop(id: u16, ty: u16, value: Value) -> Property {
    Property {
        tag: (u32::from(id) << 16) | u32::from(ty),
        value,
    }
}

fn sample() -> Message {
    let mut inner = Message::default();
    inner.props.props.push(prop(
        id::SUBJECT,
        kind::UNICODE,
        Value::Unicode("inner".into()),
    ));
    let mut m = Message::default();
    m.props.props = vec![
        prop(
            id::SUBJECT,
            kind::STRING8,
            Value::String8(b"caf\xe9".to_vec()),
        ),
        prop(
            id::CLIENT_SUBMIT_TIME,
            kind::TIME,
            Value::Time(132_000_000_000_000_000),
        ),
        prop(id::MESSAGE_CODEPAGE, kind::I32, Value::I32(1252)),
        prop(0x8001, kind::BOOL, Value::Bool(true)),
        prop(
            0x8002,
            kind::UNICODE | kind::MULTI,
            Value::Multi(vec![
                Value::Unicode("a".into()),
                Value::Unicode("bc".into()),
            ]),
        ),
    ];
    m.named = vec![
        (
            0x8001,
            NamedProperty {
                guid: [7; 16],
                name: PropertyName::Id(0x8503),
            },
        ),
        (
            0x8002,
            NamedProperty {
                guid: [8; 16],
                name: PropertyName::Name("Keywords".into()),
            },
        ),
    ];
    m.recipients.push(PropertyBag {
        props: vec![
            prop(
                id::DISPLAY_NAME,
                kind::UNICODE,
                Value::Unicode("Ann".into()),
            ),
            prop(
                id::SMTP_ADDRESS,
                kind::UNICODE,
                Value::Unicode("ann@example.com".into()),
            ),
            prop(id::RECIPIENT_TYPE, kind::I32, Value::I32(1)),
        ],
        ..PropertyBag::default()
    });
    m.attachments.push(Attachment {
        props: PropertyBag {
            props: vec![
                prop(
                    id::ATTACH_LONG_FILENAME,
                    kind::UNICODE,
                    Value::Unicode("a.bin".into()),
                ),
                prop(
                    id::ATTACH_DATA,
                    kind::BINARY,
                    Value::Binary(vec![1, 2, 3, 4, 5]),
                ),
            ],
            ..PropertyBag::default()
        },
        embedded: None,
    });
    m.attachments.push(Attachment {
        props: PropertyBag {
            props: vec![prop(id::ATTACH_METHOD, kind::I32, Value::I32(5))],
            ..PropertyBag::default()
        },
        embedded: Some(Box::new(inner)),
    });
    m
}

#[test]
fn written_tnef_reads_back_with_every_property() {
    let bytes = write(&sample()).expect("write");
    let m = read(&bytes).expect("read");
    assert_eq!(m.props.string(id::SUBJECT).as_deref(), Some("café"));
    assert_eq!(
        m.props.get(id::CLIENT_SUBMIT_TIME),
        Some(&Value::Time(132_000_000_000_000_000))
    );
    let keywords = m
        .named
        .iter()
        .find(|(_, n)| n.name == PropertyName::Name("Keywords".into()))
        .map(|(i, _)| *i)
        .expect("named property kept");
    assert_eq!(
        m.props.get(keywords),
        Some(&Value::Multi(vec![
            Value::Unicode("a".into()),
            Value::Unicode("bc".into())
        ]))
    );
    assert_eq!(
        m.recipients[0].string(id::SMTP_ADDRESS).as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(
        m.attachments[0].props.binary(id::ATTACH_DATA),
        Some(&[1u8, 2, 3, 4, 5][..])
    );
    let inner = m.attachments[1]
        .embedded
        .as_ref()
        .expect("embedded message");
    assert_eq!(inner.props.string(id::SUBJECT).as_deref(), Some("inner"));
}

#[test]
fn checksum_mismatch_names_attribute_and_offset() {
    let mut bytes = write(&sample()).expect("write");
    let (_, attrs) = read_attributes(&bytes).expect("attributes");
    let class = attrs
        .iter()
        .find(|a| a.id == attr::MESSAGE_CLASS)
        .expect("class");
    let offset = class.offset;
    bytes[offset + 9] ^= 0x20;
    match read(&bytes) {
        Err(OutlookError::TnefChecksum {
            attribute,
            offset: at,
            ..
        }) => {
            assert_eq!(attribute, attr::MESSAGE_CLASS);
            assert_eq!(at, offset);
        }
        Err(other) => panic!("wrong error {other}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn truncation_anywhere_is_an_error_never_a_panic() {
    let bytes = write(&sample()).expect("write");
    for cut in 0..bytes.len() {
        // A cut on an attribute boundary is a shorter valid stream.
        let _ = read(&bytes[..cut]);
    }
    assert!(read(&bytes[..bytes.len() - 1]).is_err());
    assert!(read(b"not tnef").is_err());
}

#[test]
fn lying_lengths_are_errors() {
    let mut bytes = write(&sample()).expect("write");
    // The first attribute's length field, set far beyond the stream.
    bytes[6 + 5..6 + 9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        read(&bytes),
        Err(OutlookError::Tnef { offset: 6, .. })
    ));
}

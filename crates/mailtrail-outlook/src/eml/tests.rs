//! `.eml` output checked by parsing it back with mail-parser.

use mail_parser::{MessageParser, MimeHeaders};

use super::{EmlOptions, to_eml};
use crate::message::{Attachment, Message};
use crate::property::{Property, PropertyBag, Value, id, kind, unix_to_filetime};

fn prop(id: u16, ty: u16, value: Value) -> Property {
    Property {
        tag: (u32::from(id) << 16) | u32::from(ty),
        value,
    }
}

fn text(id: u16, s: &str) -> Property {
    prop(id, kind::UNICODE, Value::Unicode(s.into()))
}

fn recipient(kind_: i32, name: &str, addr: &str, ex: bool) -> PropertyBag {
    let mut props = vec![
        prop(id::RECIPIENT_TYPE, kind::I32, Value::I32(kind_)),
        text(id::DISPLAY_NAME, name),
    ];
    if ex {
        props.push(text(id::ADDRTYPE, "EX"));
        props.push(text(
            id::EMAIL_ADDRESS,
            "/O=ORG/OU=EXCHANGE/CN=RECIPIENTS/CN=X",
        ));
        props.push(text(id::SMTP_ADDRESS, addr));
    } else {
        props.push(text(id::ADDRTYPE, "SMTP"));
        props.push(text(id::EMAIL_ADDRESS, addr));
    }
    PropertyBag {
        props,
        ..PropertyBag::default()
    }
}

fn attachment(name: &str, mime: &str, data: &[u8], cid: Option<&str>) -> Attachment {
    let mut props = vec![
        text(id::ATTACH_LONG_FILENAME, name),
        text(id::ATTACH_MIME_TAG, mime),
        prop(id::ATTACH_DATA, kind::BINARY, Value::Binary(data.to_vec())),
    ];
    if let Some(cid) = cid {
        props.push(text(id::ATTACH_CONTENT_ID, cid));
    }
    Attachment {
        props: PropertyBag {
            props,
            ..PropertyBag::default()
        },
        embedded: None,
    }
}

fn sample() -> Message {
    let mut m = Message::default();
    m.props.props = vec![
        text(id::SUBJECT, "Quarterly report — Q3"),
        text(id::SENDER_NAME, "Bob Exchange"),
        text(id::SENDER_ADDRTYPE, "EX"),
        text(id::SENDER_EMAIL, "/O=ORG/OU=EXCHANGE/CN=RECIPIENTS/CN=BOB"),
        text(id::SENDER_SMTP_ADDRESS, "bob@example.com"),
        prop(
            id::CLIENT_SUBMIT_TIME,
            kind::TIME,
            Value::Time(unix_to_filetime(1_600_000_000)),
        ),
        text(id::INTERNET_MESSAGE_ID, "<m1@example.com>"),
        text(id::IN_REPLY_TO_ID, "<m0@example.com>"),
        text(id::INTERNET_REFERENCES, "<a@example.com> <m0@example.com>"),
        text(id::BODY, "Hello plain"),
        prop(
            id::HTML,
            kind::BINARY,
            Value::Binary(b"<p>Hello <img src=\"cid:img1@x\"></p>".to_vec()),
        ),
    ];
    m.recipients = vec![
        recipient(1, "Ann To", "ann@example.com", true),
        recipient(2, "Carl Cc", "carl@example.com", false),
        recipient(3, "Dora Bcc", "dora@example.com", false),
    ];
    m.attachments = vec![
        attachment(
            "a very long file name.pdf",
            "application/pdf",
            b"%PDF-1.4 x",
            None,
        ),
        attachment("logo.png", "image/png", b"\x89PNG....", Some("img1@x")),
    ];
    let mut inner = Message::default();
    inner.props.props = vec![text(id::SUBJECT, "Inner"), text(id::BODY, "inner body")];
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
fn headers_come_from_the_properties() {
    let eml = to_eml(&sample(), EmlOptions::default()).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    let from = parsed.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.address(), Some("bob@example.com"));
    assert_eq!(from.name(), Some("Bob Exchange"));
    let to = parsed.to().and_then(|a| a.first()).expect("to");
    assert_eq!(
        (to.name(), to.address()),
        (Some("Ann To"), Some("ann@example.com"))
    );
    assert_eq!(
        parsed
            .cc()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("carl@example.com")
    );
    assert_eq!(
        parsed
            .bcc()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("dora@example.com")
    );
    assert_eq!(parsed.subject(), Some("Quarterly report — Q3"));
    assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(1_600_000_000));
    assert_eq!(parsed.message_id(), Some("m1@example.com"));
    assert_eq!(parsed.in_reply_to().as_text(), Some("m0@example.com"));
    let refs = parsed.references().as_text_list().expect("references");
    assert_eq!(refs, vec!["a@example.com", "m0@example.com"]);
}

#[test]
fn bodies_attachments_inline_images_and_embedded_messages() {
    let eml = to_eml(&sample(), EmlOptions::default()).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    assert_eq!(parsed.body_text(0).as_deref(), Some("Hello plain"));
    assert!(
        parsed
            .body_html(0)
            .is_some_and(|h| h.contains("cid:img1@x"))
    );
    let raw = String::from_utf8_lossy(&eml);
    assert!(raw.contains("multipart/related"), "{raw}");
    let names: Vec<_> = parsed
        .attachments()
        .map(|a| a.attachment_name().unwrap_or("").to_owned())
        .collect();
    assert!(
        names.contains(&"a very long file name.pdf".to_owned()),
        "{names:?}"
    );
    let logo = parsed
        .attachments()
        .find(|a| a.content_id() == Some("img1@x"))
        .expect("inline image with its Content-ID");
    assert_eq!(logo.contents(), b"\x89PNG....");
    let inner = parsed
        .attachments()
        .find_map(|a| a.message())
        .expect("message/rfc822 part");
    assert_eq!(inner.subject(), Some("Inner"));
    assert_eq!(inner.body_text(0).as_deref(), Some("inner body"));
}

#[test]
fn transport_headers_are_kept_and_mime_headers_rebuilt() {
    let mut m = sample();
    m.props.props.push(text(
        id::TRANSPORT_MESSAGE_HEADERS,
        "Received: from a by b;\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\nFrom: Orig <orig@example.org>\r\nSubject: original\r\nContent-Type: text/plain;\r\n\tcharset=us-ascii\r\nMIME-Version: 1.0\r\n\r\n",
    ));
    let eml = to_eml(&m, EmlOptions::default()).expect("eml");
    let raw = String::from_utf8_lossy(&eml);
    assert!(
        raw.starts_with("Received: from a by b;\r\n\tMon, 1 Jan 2024"),
        "{raw}"
    );
    assert!(!raw.contains("charset=us-ascii"));
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    assert_eq!(parsed.subject(), Some("original"));
    assert_eq!(parsed.body_text(0).as_deref(), Some("Hello plain"));
}

#[test]
fn html_comes_from_encapsulated_rtf_and_plain_rtf_is_kept() {
    let mut m = Message::default();
    let rtf = r"{\rtf1\ansi\ansicpg1252\fromhtml1 {\*\htmltag64 <p>}caf\'e9{\*\htmltag72 </p>}}";
    let packed = compressed_rtf::compress_rtf(rtf).expect("compress");
    m.props.props = vec![prop(
        id::RTF_COMPRESSED,
        kind::BINARY,
        Value::Binary(packed),
    )];
    let eml = to_eml(&m, EmlOptions::default()).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    assert_eq!(parsed.body_html(0).as_deref(), Some("<p>café</p>"));

    let plain = compressed_rtf::compress_rtf(r"{\rtf1\ansi {\b bold}}").expect("compress");
    m.props.props = vec![prop(id::RTF_COMPRESSED, kind::BINARY, Value::Binary(plain))];
    let eml = to_eml(&m, EmlOptions::default()).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    let rtf_part = parsed
        .attachments()
        .find(|a| a.attachment_name() == Some("body.rtf"))
        .expect("RTF kept");
    assert_eq!(rtf_part.contents(), br"{\rtf1\ansi {\b bold}}");
}

#[test]
fn tnef_option_adds_a_winmail_dat_that_reads_back() {
    let eml = to_eml(&sample(), EmlOptions { tnef: true }).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    let part = parsed
        .attachments()
        .find(|a| a.attachment_name() == Some("winmail.dat"))
        .expect("TNEF part");
    assert_eq!(part.content_type().map(|c| c.ctype()), Some("application"));
    let back = crate::tnef::read(part.contents()).expect("TNEF reads");
    assert_eq!(
        back.props.string(id::SUBJECT).as_deref(),
        Some("Quarterly report — Q3")
    );
    assert_eq!(back.recipients.len(), 3);
    assert_eq!(back.attachments.len(), 3);
    assert!(back.attachments[2].embedded.is_some());
}

#[test]
fn convert_tells_tnef_from_msg() {
    let tnef = crate::tnef::write(&sample()).expect("tnef");
    let eml = super::convert(&tnef, EmlOptions::default()).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    assert_eq!(parsed.subject(), Some("Quarterly report — Q3"));
    assert!(super::convert(b"neither", EmlOptions::default()).is_err());
}

#[test]
fn exchange_sender_without_smtp_property_falls_back_and_dates_fall_back_to_creation() {
    let mut m = sample();
    m.props
        .props
        .retain(|p| p.id() != id::SENDER_SMTP_ADDRESS && p.id() != id::CLIENT_SUBMIT_TIME);
    m.props
        .props
        .push(text(id::CREATOR_SMTP_ADDRESS, "bob.creator@example.com"));
    m.props.props.push(prop(
        id::CREATION_TIME,
        kind::TIME,
        Value::Time(unix_to_filetime(1_500_000_000)),
    ));
    let eml = to_eml(&m, EmlOptions::default()).expect("eml");
    let parsed = MessageParser::default().parse(&eml).expect("parse");
    let from = parsed.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.address(), Some("bob.creator@example.com"));
    assert_eq!(from.name(), Some("Bob Exchange"));
    assert_eq!(parsed.date().map(|d| d.to_timestamp()), Some(1_500_000_000));
}

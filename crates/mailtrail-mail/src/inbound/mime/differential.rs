//! The walk checked against mail-parser itself: every part must start and
//! end where mail-parser's does, carry the same headers, and read (kind and
//! bytes) as mail-parser's decoded part. The unit tests run it over the
//! corpus and random messages; the fuzzer (the `differential` feature) over
//! whatever it finds.

use mail_parser::{HeaderName, Message, MessageParser, PartType};

use super::{
    Parsed, View, deferred_value, is_deferred, parse, plain_address, plain_id, plain_text,
};

/// mail-parser configured as [`parse`] documents.
fn reference() -> MessageParser {
    use mail_parser::HeaderName as H;
    MessageParser::new()
        .with_mime_headers()
        .header_address(H::From)
        .header_address(H::To)
        .header_text(H::Subject)
        .header_id(H::MessageId)
        .default_header_ignore()
}

fn same(ours: &Parsed<'_>, theirs: &Message<'_>, depth: usize, what: &str) {
    assert_eq!(
        ours.msg.parts.len(),
        theirs.parts.len(),
        "{what}: part count at depth {depth}"
    );
    assert_eq!(
        ours.msg.raw_message(),
        theirs.raw_message(),
        "{what}: raw message at depth {depth}"
    );
    for (i, (o, t)) in ours.msg.parts.iter().zip(&theirs.parts).enumerate() {
        let at = format!("{what}: part {i} at depth {depth}");
        // The headers the walk parses when read, read now.
        let headers: Vec<_> = o
            .headers
            .iter()
            .map(|h| {
                let mut h = h.clone();
                if is_deferred(&h.name) {
                    h.value = deferred_value(&ours.msg.raw_message, &h);
                    // A field written plainly is read without mail-parser:
                    // it must read as mail-parser reads it. A subject or
                    // an id, its text:
                    let raw = &ours.msg.raw_message[h.offset_start as usize..h.offset_end as usize];
                    let text = match h.name {
                        HeaderName::Subject => plain_text(raw),
                        HeaderName::MessageId => plain_id(raw),
                        _ => None,
                    };
                    if let Some(text) = text {
                        assert_eq!(h.value.as_text(), Some(text), "{at}: plain text {raw:?}");
                    }
                    // an address field, its one address.
                    let address_field = matches!(h.name, HeaderName::From | HeaderName::To);
                    if let Some(plain) = plain_address(raw).filter(|_| address_field) {
                        let theirs: Vec<_> = h
                            .value
                            .as_address()
                            .map(|a| a.iter().map(|x| x.address()).collect())
                            .unwrap_or_default();
                        assert_eq!(theirs, [Some(plain)], "{at}: plain address {raw:?}");
                    }
                }
                h
            })
            .collect();
        assert_eq!(headers, t.headers, "{at}: headers");
        if i == 0 {
            for name in [
                "list-id",
                "Precedence",
                "X-HmXmrOriginalRecipient",
                "subject",
            ] {
                assert_eq!(
                    ours.header_raw(name),
                    theirs.header_raw(name),
                    "{at}: raw {name}"
                );
            }
        }
        assert_eq!(
            (o.offset_header, o.offset_body, o.offset_end),
            (t.offset_header, t.offset_body, t.offset_end),
            "{at}: offsets"
        );
        match (ours.view(i), &t.body) {
            (View::Multipart, PartType::Multipart(_)) => {}
            (View::Text(a), PartType::Text(b)) => assert_eq!(a, *b, "{at}: text"),
            (View::Html(a), PartType::Html(b)) => assert_eq!(a, *b, "{at}: html"),
            (View::Binary(a), PartType::Binary(b) | PartType::InlineBinary(b)) => {
                assert_eq!(a, *b, "{at}: binary")
            }
            (View::Message(a), PartType::Message(b)) => same(a, b, depth + 1, what),
            // mail-parser leaves a placeholder on a multipart it never
            // closed; so does the walk.
            (View::Text(a), PartType::Multipart(_)) if a.is_empty() => {}
            (o, t) => panic!("{at}: ours {} theirs {t:?}", kind(&o)),
        }
        let html = matches!(t.body, PartType::Html(_));
        assert_eq!(ours.is_html(i), html, "{at}: is_html");
        assert_eq!(&*ours.contents(i), t.contents(), "{at}: contents");
    }
}

fn kind(v: &View<'_>) -> &'static str {
    match v {
        View::Multipart => "multipart",
        View::Text(_) => "text",
        View::Html(_) => "html",
        View::Binary(_) => "binary",
        View::Message(_) => "message",
    }
}

/// Panics, naming `what`, when the walk and mail-parser part ways on
/// `raw`.
pub(crate) fn check(raw: &[u8], what: &str) {
    let ours = parse(raw);
    // mail-parser subtracts without a check when a quoted-printable part
    // ends in a soft line break right before its boundary: built with
    // overflow checks (as tests are) it panics, in release it wraps and
    // keeps the bytes, which is what the walk does. There is nothing to
    // compare with then; the walk must still not panic (it did not).
    let Ok(theirs) = std::panic::catch_unwind(|| reference().parse(raw)) else {
        if let Some(p) = &ours {
            for i in 0..p.msg.parts.len() {
                let _ = p.view(i);
                let _ = p.is_html(i);
            }
        }
        return;
    };
    match (ours, theirs) {
        (None, None) => {}
        (Some(o), Some(t)) => same(&o, &t, 0, what),
        (o, t) => panic!(
            "{what}: ours parsed {}, theirs {}",
            o.is_some(),
            t.is_some()
        ),
    }
}

//! Outlook's `winmail.dat` (an `application/ms-tnef` part, MS-OXTNEF) in
//! mail that arrives: a reply or a bounce from Outlook can carry its real
//! body and attachments only there. Each such part is replaced by the MIME
//! entity it unpacks to, so the classifier and the reply tracker read what
//! the sender wrote. A part that is not valid TNEF stays as it was.

use mail_parser::{MessageParser, MimeHeaders, PartType};

/// The message with its TNEF parts unpacked, or `None` when it has none
/// (the common case, decided by a byte scan before any parsing).
pub(super) fn unpack(raw: &[u8]) -> Option<Vec<u8>> {
    if !contains_ignore_case(raw, b"ms-tnef") && !contains_ignore_case(raw, b"winmail.dat") {
        return None;
    }
    let message = MessageParser::default().parse(raw)?;
    let mut spans = Vec::new();
    for part in &message.parts {
        let (PartType::Binary(data) | PartType::InlineBinary(data)) = &part.body else {
            continue;
        };
        let is_tnef = part.content_type().is_some_and(|c| {
            c.ctype().eq_ignore_ascii_case("application")
                && c.subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("ms-tnef"))
        }) || part
            .attachment_name()
            .is_some_and(|n| n.eq_ignore_ascii_case("winmail.dat"));
        if !is_tnef {
            continue;
        }
        let Ok(unpacked) =
            mailtrail_outlook::tnef::read(data).and_then(|m| mailtrail_outlook::mime_entity(&m))
        else {
            continue;
        };
        let (start, end) = (part.offset_header as usize, part.offset_end as usize);
        if start < end && end <= raw.len() {
            spans.push((start, end, unpacked));
        }
    }
    if spans.is_empty() {
        return None;
    }
    spans.sort_by_key(|s| s.0);
    let mut out = Vec::with_capacity(raw.len() * 2);
    let mut at = 0;
    for (start, end, entity) in spans {
        if start < at {
            continue;
        }
        out.extend_from_slice(&raw[at..start]);
        out.extend_from_slice(&entity);
        at = end;
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// ASCII case-insensitive substring search; `needle` is lower case.
fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some(&first) = needle.first() else {
        return true;
    };
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay).any(|i| {
        hay.get(i..i + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailtrail_outlook::message::Message;
    use mailtrail_outlook::property::{Property, Value, id, kind};

    fn winmail(body: &str) -> Vec<u8> {
        let mut m = Message::default();
        m.props.props.push(Property {
            tag: (u32::from(id::BODY) << 16) | u32::from(kind::UNICODE),
            value: Value::Unicode(body.into()),
        });
        mailtrail_outlook::tnef::write(&m).expect("tnef")
    }

    fn base64(data: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    #[test]
    fn tnef_part_is_replaced_by_its_content() {
        let raw = format!(
            "From: a@example.com\r\nSubject: Re: hi\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\r\n--b\r\nContent-Type: application/ms-tnef; name=\"winmail.dat\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            base64(&winmail("I will be out of the office until Monday"))
        );
        let out = unpack(raw.as_bytes()).expect("unpacked");
        let parsed = MessageParser::default().parse(&out).expect("parse");
        assert_eq!(parsed.subject(), Some("Re: hi"));
        let texts: Vec<String> = (0..4)
            .filter_map(|i| parsed.body_text(i).map(|t| t.into_owned()))
            .collect();
        assert!(
            texts
                .iter()
                .any(|t| t.contains("out of the office until Monday")),
            "{texts:?}"
        );
    }

    #[test]
    fn mail_without_tnef_or_with_broken_tnef_is_left_alone() {
        assert!(unpack(b"Subject: hi\r\n\r\nhello\r\n").is_none());
        let raw = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n";
        assert!(unpack(raw.as_bytes()).is_none());
    }
}

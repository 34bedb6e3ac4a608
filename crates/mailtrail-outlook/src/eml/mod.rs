//! A [`Message`] written as an RFC 5322 / MIME message through mail-builder.
//!
//! When the message keeps the headers it arrived with
//! (PidTagTransportMessageHeaders, MS-OXPROPS 2.1078) they are written as
//! they were, minus the MIME structure headers that describe the original
//! body rather than the one rebuilt here (RFC 2045 §3); otherwise the
//! header is built from the MAPI properties (MS-OXCMSG 2.2.1).

mod address;
mod body;
mod types;

use mail_builder::MessageBuilder;
use mail_builder::headers::message_id::MessageId;

use crate::error::{OutlookError, Result};
use crate::message::Message;
use crate::property::id;

/// How to write the `.eml`.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmlOptions {
    /// Keep every MAPI property in an `application/ms-tnef` part
    /// (`winmail.dat`, MS-OXTNEF), as Outlook itself does for rich mail.
    pub tnef: bool,
}

/// Writes `message` as a MIME message.
pub fn to_eml(message: &Message, options: EmlOptions) -> Result<Vec<u8>> {
    let mut root = body::build(message)?;
    if options.tnef {
        let tnef = crate::tnef::write(message)?;
        root = body::with_tnef(root, tnef);
    }
    let props = &message.props;
    let transport = props
        .string(id::TRANSPORT_MESSAGE_HEADERS)
        .filter(|h| h.contains(':'));
    // Submitted, else delivered; a draft has neither, and its creation
    // time (MS-OXCMSG 2.2.2.3) beats the converter's clock.
    let date = props
        .unix_time(id::CLIENT_SUBMIT_TIME)
        .or_else(|| props.unix_time(id::MESSAGE_DELIVERY_TIME))
        .or_else(|| props.unix_time(id::CREATION_TIME))
        .or_else(|| props.unix_time(id::LAST_MODIFICATION_TIME));
    if let Some(headers) = transport {
        let mut out = transport_headers(&headers);
        // A draft's headers (X-Unsent) have no Date; RFC 5322 §3.6 wants one.
        let has_date = headers.lines().any(|l| {
            l.as_bytes()
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"date:"))
        });
        if let (false, Some(date)) = (has_date, date) {
            let date = mail_builder::headers::date::Date::new(date).to_rfc822();
            out.extend_from_slice(format!("Date: {date}\r\n").as_bytes());
        }
        out.extend_from_slice(b"MIME-Version: 1.0\r\n");
        // Serialised straight into the Vec (which it sizes first), not
        // through an io::Write adapter that buffers and copies each part.
        MessageBuilder::new().body(root).serialize_body(&mut out);
        return Ok(out);
    }

    let mut builder = MessageBuilder::new();
    if let Some(from) = address::sender(props) {
        builder = builder.from(from);
    }
    for (kind, list) in address::recipients(&message.recipients) {
        if list.is_empty() {
            continue;
        }
        let list = mail_builder::headers::address::Address::new_list(list);
        builder = match kind {
            address::Kind::To => builder.to(list),
            address::Kind::Cc => builder.cc(list),
            address::Kind::Bcc => builder.bcc(list),
        };
    }
    if let Some(subject) = props.string(id::SUBJECT) {
        builder = builder.subject(subject);
    }
    if let Some(date) = date {
        builder = builder.date(date);
    }
    if let Some(mid) = props.string(id::INTERNET_MESSAGE_ID) {
        builder = builder.message_id(strip_angles(&mid));
    }
    if let Some(irt) = props.string(id::IN_REPLY_TO_ID) {
        builder = builder.in_reply_to(strip_angles(&irt));
    }
    if let Some(refs) = props.string(id::INTERNET_REFERENCES) {
        let ids: Vec<String> = refs.split_whitespace().map(strip_angles).collect();
        if !ids.is_empty() {
            builder = builder.references(MessageId::new_list(ids.into_iter()));
        }
    }
    builder
        .body(root)
        .write_to_vec()
        .map_err(|e| OutlookError::Write(e.to_string()))
}

/// Reads a `.msg` and writes it as a MIME message.
pub fn msg_to_eml(bytes: &[u8], options: EmlOptions) -> Result<Vec<u8>> {
    to_eml(&crate::msg::read_msg(bytes)?, options)
}

/// The body of `message` as one MIME entity (its Content-Type header and
/// content, RFC 2045 §2.4) without RFC 5322 headers: what replaces a
/// `winmail.dat` part inside the message that carried it.
pub fn mime_entity(message: &Message) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    MessageBuilder::new()
        .body(body::build(message)?)
        .serialize_body(&mut out);
    Ok(out)
}

/// Reads a TNEF stream (`winmail.dat`) and writes it as a MIME message.
pub fn tnef_to_eml(bytes: &[u8], options: EmlOptions) -> Result<Vec<u8>> {
    to_eml(&crate::tnef::read(bytes)?, options)
}

/// Converts a `.msg` or a TNEF stream, told apart by their signatures
/// (MS-CFB 2.2, MS-OXTNEF 2.1.3.1).
pub fn convert(bytes: &[u8], options: EmlOptions) -> Result<Vec<u8>> {
    if bytes.starts_with(&crate::tnef::SIGNATURE.to_le_bytes()) {
        tnef_to_eml(bytes, options)
    } else {
        msg_to_eml(bytes, options)
    }
}

fn strip_angles(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_owned()
}

/// The transport headers with CRLF line ends, without the headers that
/// describe the original MIME structure (and their continuation lines).
fn transport_headers(raw: &str) -> Vec<u8> {
    const DROPPED: &[&str] = &[
        "content-type",
        "content-transfer-encoding",
        "mime-version",
        "content-disposition",
    ];
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut skipping = false;
    for line in raw.lines() {
        if line.is_empty() {
            // The header block ends at the first empty line (RFC 5322 §2.1).
            break;
        }
        let continuation = line.starts_with([' ', '\t']);
        if !continuation {
            let name = line
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            skipping = DROPPED.contains(&name.as_str()) || !line.contains(':');
        }
        if !skipping {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests;

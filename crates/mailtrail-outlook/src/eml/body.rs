//! The MIME body: plain and HTML text (MS-OXCMSG 2.2.1.56), the HTML
//! recovered from the compressed RTF body when that is all there is, inline
//! images in `multipart/related` (RFC 2387) so `cid:` URLs resolve, other
//! attachments in `multipart/mixed`, embedded messages as `message/rfc822`
//! (RFC 2046 §5.2.1).

use std::borrow::Cow;

use mail_builder::headers::content_type::ContentType;
use mail_builder::mime::{BodyPart, MimePart};

use super::types;
use crate::error::Result;
use crate::message::{Attachment, Message};
use crate::property::{PropertyBag, Value, decode8, id};
use crate::rtf::{self, Encapsulated};

/// PidTagAttachMethod afEmbeddedMessage (MS-OXCMSG 2.2.2.9).
const EMBEDDED_MESSAGE: i64 = 5;

/// Builds the body tree of `message`.
pub(super) fn build(message: &Message) -> Result<MimePart<'_>> {
    let props = &message.props;
    let mut text = props.string(id::BODY);
    let mut html = html_body(props);
    let mut extra: Vec<MimePart<'_>> = Vec::new();
    if html.is_none()
        && let Some(compressed) = props.binary(id::RTF_COMPRESSED)
    {
        match rtf::decompress(compressed) {
            Ok(rtf_bytes) => match rtf::deencapsulate(&rtf_bytes) {
                Some(Encapsulated::Html(h)) => html = Some(h),
                Some(Encapsulated::Text(t)) if text.is_none() => text = Some(t),
                Some(Encapsulated::Text(_)) => {}
                // Real RTF: its formatting has no MIME equivalent, so the
                // document is kept beside the text, never dropped.
                None => extra.push(
                    MimePart::new("application/rtf", BodyPart::Binary(rtf_bytes.into()))
                        .attachment("body.rtf"),
                ),
            },
            Err(_) => extra.push(
                MimePart::new(
                    "application/octet-stream",
                    BodyPart::Binary(compressed.to_vec().into()),
                )
                .attachment("body-rtf-compressed.bin"),
            ),
        }
    }

    let mut inline = Vec::new();
    let mut attached = Vec::new();
    let mut missing = String::new();
    for (n, attachment) in message.attachments.iter().enumerate() {
        let Some((part, cid)) = attachment_part(attachment, n)? else {
            missing.push_str(&why_missing(&attachment.props, n));
            continue;
        };
        let referenced = cid
            .as_ref()
            .zip(html.as_ref())
            .is_some_and(|(cid, html)| html.contains(&format!("cid:{cid}")));
        if referenced {
            inline.push(part);
        } else {
            attached.push(part);
        }
    }
    attached.extend(extra);
    if !missing.is_empty() {
        attached.push(
            MimePart::new("text/plain", BodyPart::Text(missing.into()))
                .attachment("missing-attachments.txt"),
        );
    }

    let text_part = text.map(|t| MimePart::new("text/plain", BodyPart::Text(t.into())));
    let html_part = html.map(|h| MimePart::new("text/html", BodyPart::Text(h.into())));
    let html_part = match (html_part, inline.is_empty()) {
        (Some(h), false) => {
            let mut parts = vec![h];
            parts.append(&mut inline);
            Some(MimePart::new("multipart/related", parts))
        }
        (h, _) => {
            // Images whose cid nothing references are ordinary attachments.
            attached.append(&mut inline);
            h
        }
    };
    let main = match (text_part, html_part) {
        (Some(t), Some(h)) => MimePart::new("multipart/alternative", vec![t, h]),
        (Some(t), None) => t,
        (None, Some(h)) => h,
        (None, None) => MimePart::new("text/plain", BodyPart::Text("".into())),
    };
    Ok(if attached.is_empty() {
        main
    } else {
        let mut parts = vec![main];
        parts.append(&mut attached);
        MimePart::new("multipart/mixed", parts)
    })
}

/// Adds the TNEF part to a body tree.
pub(super) fn with_tnef(root: MimePart<'_>, tnef: Vec<u8>) -> MimePart<'_> {
    let part = MimePart::new("application/ms-tnef", BodyPart::Binary(tnef.into()))
        .attachment("winmail.dat");
    let is_mixed = root
        .headers
        .first()
        .and_then(|(_, v)| v.as_content_type())
        .is_some_and(|c| c.c_type == "multipart/mixed");
    match (root, is_mixed) {
        (
            MimePart {
                headers,
                contents: BodyPart::Multipart(mut parts),
            },
            true,
        ) => {
            parts.push(part);
            MimePart {
                headers,
                contents: BodyPart::Multipart(parts),
            }
        }
        (root, _) => MimePart::new("multipart/mixed", vec![root, part]),
    }
}

/// PidTagHtml: binary in the PidTagInternetCodepage code page, or a string.
fn html_body(props: &PropertyBag) -> Option<String> {
    let html = match props.get(id::HTML)? {
        Value::Unicode(s) => s.clone(),
        Value::Binary(b) | Value::String8(b) => {
            let encoding = props
                .int(id::INTERNET_CPID)
                .and_then(|cp| crate::codepage::encoding(cp as u32))
                .unwrap_or(props.encoding);
            decode8(b, encoding)
        }
        _ => return None,
    };
    (!html.trim().is_empty()).then_some(html)
}

/// One attachment as a MIME part and its Content-ID; `None` when it has no
/// content (by reference, or no data stored): the caller names it in a
/// text part instead.
fn attachment_part(
    attachment: &Attachment,
    n: usize,
) -> Result<Option<(MimePart<'_>, Option<String>)>> {
    let props = &attachment.props;
    if let Some(inner) = &attachment.embedded {
        let eml = super::to_eml(inner, super::EmlOptions::default())?;
        let name = props
            .string(id::DISPLAY_NAME)
            .or_else(|| inner.props.string(id::SUBJECT))
            .unwrap_or_else(|| format!("message-{}", n + 1));
        let part = MimePart::new("message/rfc822", BodyPart::Binary(eml.into()))
            .attachment(format!("{}.eml", name.trim()))
            // A message/rfc822 body is never base64 (RFC 2046 §5.2.1);
            // mail-builder's output is 7-bit already.
            .transfer_encoding("7bit");
        return Ok(Some((part, None)));
    }
    if props.int(id::ATTACH_METHOD) == Some(EMBEDDED_MESSAGE) {
        return Ok(None);
    }
    let Some(data) = props.binary(id::ATTACH_DATA) else {
        return Ok(None);
    };
    let name = file_name(props, n);
    let mime = props
        .string(id::ATTACH_MIME_TAG)
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| m.contains('/') && !m.contains(char::is_whitespace))
        .unwrap_or_else(|| types::by_name(&name).to_owned());
    let cid = props
        .string(id::ATTACH_CONTENT_ID)
        .map(|c| {
            c.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
        .filter(|c| !c.is_empty());
    let mut part = MimePart::new(
        ContentType::new(mime),
        BodyPart::Binary(Cow::Borrowed(data)),
    );
    part = match &cid {
        Some(cid) => part
            .header(
                "Content-Disposition",
                ContentType::new("inline").attribute("filename", name.clone()),
            )
            .cid(cid.clone()),
        None => part.attachment(name),
    };
    Ok(Some((part, cid)))
}

/// PidTagAttachMethod values with no data of their own (MS-OXCMSG
/// 2.2.2.9): afByReference, afByReferenceResolve, afByReferenceOnly.
const BY_REFERENCE: [i64; 3] = [2, 3, 4];
/// afOle: the data is an OLE storage.
const OLE_OBJECT: i64 = 6;

/// One line for an attachment that has no content to carry: which one it
/// is and why, so a reader of the `.eml` knows something was there.
fn why_missing(props: &PropertyBag, n: usize) -> String {
    let name = file_name(props, n);
    let method = props.int(id::ATTACH_METHOD).unwrap_or(0);
    let why = if BY_REFERENCE.contains(&method) {
        match props
            .string(id::ATTACH_LONG_PATHNAME)
            .or_else(|| props.string(id::ATTACH_PATHNAME))
            .filter(|p| !p.trim().is_empty())
        {
            Some(path) => format!("it is a link to {}", path.trim()),
            None => format!("it is a link (attach method {method}) without a path"),
        }
    } else if method == OLE_OBJECT {
        "its OLE object storage could not be read".to_owned()
    } else {
        format!("Outlook stored no data for it (attach method {method})")
    };
    format!("The attachment \"{name}\" is not in this message:\r\n{why}.\r\n")
}

/// The long file name, else the 8.3 name, else the display name, else a
/// numbered name with the stored extension.
fn file_name(props: &PropertyBag, n: usize) -> String {
    props
        .string(id::ATTACH_LONG_FILENAME)
        .or_else(|| props.string(id::ATTACH_FILENAME))
        .or_else(|| props.string(id::DISPLAY_NAME))
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| {
            let ext = props.string(id::ATTACH_EXTENSION).unwrap_or_default();
            format!("attachment-{}{}", n + 1, ext.trim())
        })
}

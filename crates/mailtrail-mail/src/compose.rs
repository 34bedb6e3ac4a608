//! Composing one recipient's copy of a message as RFC 5322 bytes.
//!
//! mailtrail sends every recipient their own copy (so each copy can carry its
//! own tracking tokens and VERP return path), but all copies of one message
//! share one Message-ID, one Date and the same visible To/Cc lists. A Bcc
//! recipient's copy is composed from the same [`Draft`]: the draft has no Bcc
//! field at all, so no copy can ever reveal a Bcc address (RFC 5322 section
//! 3.6.3, second method).
//!
//! MIME structure and encodings are left to mail-builder, which chooses 7bit,
//! quoted-printable or base64 per part and folds headers, keeping every line
//! within the 998-octet limit of RFC 5322 section 2.1.1.

use std::borrow::Cow;

use mail_builder::MessageBuilder;
use mail_builder::headers::HeaderType;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::date::Date;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::headers::url::URL;
use mail_builder::mime::{BodyPart, MimePart};
use mailtrail_domain::{EmailAddress, MessageId};

use crate::MailError;

/// RFC 5322 section 2.1.1: a line is at most 998 octets without its CRLF.
const MAX_LINE: usize = 998;

/// The longest header name we accept. RFC 5322 sets no limit of its own, but
/// a name longer than this cannot share a 78-character line with any value,
/// which the same section 2.1.1 recommends.
const MAX_HEADER_NAME: usize = 76;

/// The longest List-Unsubscribe URL: it is one unbreakable atom, and it must
/// fit on a folded line together with its brackets and separator.
const MAX_UNSUBSCRIBE_URL: usize = 900;

/// Headers mailtrail writes itself and never takes from the caller. A
/// duplicate of any of them would break threading (Message-ID), correlation
/// of bounces and receipts (Return-Path, Disposition-Notification-To),
/// signing (DKIM-Signature), the MIME structure (MIME-Version, Content-*) or
/// the Bcc guarantee (Bcc). Entries ending in `*` match as a prefix.
const RESERVED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "Date",
    "Message-ID",
    "Reply-To",
    "MIME-Version",
    "Content-*",
    "Disposition-Notification-To",
    "Return-Path",
    "DKIM-Signature",
    "List-Unsubscribe*",
    "Received",
];

/// Everything needed to compose one recipient's copy of a message.
///
/// The draft borrows from the stored message, so building one copy per
/// recipient allocates only the output.
#[derive(Debug, Clone)]
pub struct Draft<'a> {
    /// The message's own id; the same in every copy (RFC 5322 section 3.6.4).
    pub message_id: &'a MessageId,
    /// The author (RFC 5322 section 3.6.2).
    pub from: &'a EmailAddress,
    /// The author's display name; encoded per RFC 2047 when not ASCII.
    pub from_name: Option<&'a str>,
    /// Where replies should go, when not to `from`.
    pub reply_to: Option<&'a EmailAddress>,
    /// The visible primary recipients.
    pub to: &'a [EmailAddress],
    /// The visible carbon-copy recipients. Bcc recipients are deliberately
    /// not part of a draft: no copy ever shows them.
    pub cc: &'a [EmailAddress],
    /// The subject; line breaks and control characters are unfolded to spaces.
    pub subject: &'a str,
    /// The plain-text body.
    pub text: Option<&'a str>,
    /// The HTML body (already instrumented for tracking, if wanted).
    pub html: Option<&'a str>,
    /// Extra headers, each checked with [`validate_extra_header`].
    pub headers: &'a [(String, String)],
    /// Attachments, in order.
    pub attachments: &'a [AttachmentRef<'a>],
    /// The origination date (RFC 5322 section 3.6.1), the same in every copy.
    pub date: time::OffsetDateTime,
    /// Ask for a read receipt: adds `Disposition-Notification-To: <from>`
    /// (RFC 8098 section 2.1).
    pub read_receipt: bool,
    /// List-Unsubscribe URLs for this recipient (RFC 2369, RFC 8058).
    pub list_unsubscribe: Option<ListUnsubscribe<'a>>,
}

/// One attachment, borrowed.
#[derive(Clone, Copy)]
pub struct AttachmentRef<'a> {
    /// The file name shown to the recipient (RFC 2183, RFC 2231 when not ASCII).
    pub filename: &'a str,
    /// `type/subtype`, optionally with `; name=value` parameters (RFC 2045 section 5.1).
    pub content_type: &'a str,
    /// The raw bytes; base64 or quoted-printable is chosen by mail-builder.
    pub content: &'a [u8],
}

/// Shows the size, not the bytes: drafts end up in logs and test output.
impl std::fmt::Debug for AttachmentRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentRef")
            .field("filename", &self.filename)
            .field("content_type", &self.content_type)
            .field("len", &self.content.len())
            .finish()
    }
}

/// The unsubscribe URLs of one recipient's copy.
///
/// With an `https` URL the copy also gets
/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, which RFC 8058
/// section 3.1 requires for one-click unsubscription (and which Gmail and
/// Yahoo require of bulk senders).
#[derive(Debug, Clone, Copy, Default)]
pub struct ListUnsubscribe<'a> {
    /// A `mailto:` URL (RFC 6068).
    pub mailto: Option<&'a str>,
    /// An `https://` URL that accepts the one-click POST.
    pub https: Option<&'a str>,
}

/// Builds one recipient's copy of `draft` as RFC 5322 bytes with CRLF line
/// endings.
///
/// Header order follows RFC 5322 section 3.6's table; the body is the text
/// part alone, the HTML part alone, or `multipart/alternative` with the text
/// first (RFC 2046 section 5.1.4: the last part is the preferred one), wrapped
/// in `multipart/mixed` when there are attachments.
pub fn compose(draft: &Draft<'_>) -> Result<Vec<u8>, MailError> {
    for (name, value) in draft.headers {
        validate_extra_header(name, value)?;
    }
    let unsubscribe = draft
        .list_unsubscribe
        .map(|l| unsubscribe_urls(&l))
        .transpose()?
        .filter(|urls| !urls.is_empty());
    let attachments = draft
        .attachments
        .iter()
        .map(attachment_part)
        .collect::<Result<Vec<_>, _>>()?;

    let from_name = draft
        .from_name
        .map(single_line)
        .filter(|name| !name.trim().is_empty());

    let mut builder = MessageBuilder::new()
        .date(Date::new(draft.date.unix_timestamp()))
        .message_id(draft.message_id.as_str())
        .from(Address::new_address(from_name, draft.from.as_str()));
    if let Some(reply_to) = draft.reply_to {
        builder = builder.reply_to(reply_to.as_str());
    }
    if draft.to.is_empty() && draft.cc.is_empty() {
        // RFC 5322 section 3.6.3: with only Bcc recipients, an empty group
        // keeps clients and filters that expect a To header content without
        // disclosing anyone.
        builder = builder.to(Address::new_group(
            Some("undisclosed-recipients"),
            Vec::new(),
        ));
    } else if !draft.to.is_empty() {
        builder = builder.to(address_list(draft.to));
    }
    if !draft.cc.is_empty() {
        builder = builder.cc(address_list(draft.cc));
    }
    builder = builder
        .subject(Text::new(single_line(draft.subject)))
        .header("MIME-Version", Raw::new("1.0"));
    if draft.read_receipt {
        builder = builder.header(
            "Disposition-Notification-To",
            Address::new_address(None::<&str>, draft.from.as_str()),
        );
    }
    if let Some(urls) = unsubscribe {
        let one_click = draft.list_unsubscribe.and_then(|l| l.https).is_some();
        builder = builder.header("List-Unsubscribe", URL::new_list(urls.into_iter()));
        if one_click {
            builder = builder.header(
                "List-Unsubscribe-Post",
                Raw::new("List-Unsubscribe=One-Click"),
            );
        }
    }
    for (name, value) in draft.headers {
        builder = builder.header(name.as_str(), extra_value(value));
    }

    if let Some(text) = draft.text {
        builder = builder.text_body(crlf_lines(text));
    }
    if let Some(html) = draft.html {
        builder = builder.html_body(crlf_lines(html));
    }
    if !attachments.is_empty() {
        builder.attachments = Some(attachments);
    }

    let mut out = Vec::new();
    builder.serialize(&mut out);
    Ok(out)
}

/// Checks one caller-supplied header before it is stored or sent.
///
/// - the name must be an RFC 5322 section 2.2 field name: 1 to 76 printable
///   US-ASCII characters (33 to 126) other than the colon;
/// - the value may not contain CR or LF, which would let the caller start a
///   new header or end the header section (header injection), nor any other
///   control character except TAB (RFC 5322 section 2.2: field bodies are
///   VCHAR and WSP);
/// - no word of the value may be so long that the header cannot be folded
///   into 998-octet lines (RFC 5322 section 2.1.1);
/// - the header may not be one that mailtrail writes itself (From, To, Cc,
///   Bcc, Subject, Date, Message-ID, Reply-To, MIME-Version, Content-*,
///   Disposition-Notification-To, Return-Path, DKIM-Signature,
///   List-Unsubscribe*, Received).
pub fn validate_extra_header(name: &str, value: &str) -> Result<(), MailError> {
    if name.is_empty()
        || name.len() > MAX_HEADER_NAME
        || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
    {
        return Err(MailError::InvalidHeaderName {
            name: name.chars().take(100).collect(),
        });
    }
    let reserved = RESERVED_HEADERS.iter().any(|r| match r.strip_suffix('*') {
        Some(prefix) => name
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix)),
        None => name.eq_ignore_ascii_case(r),
    });
    if reserved {
        return Err(MailError::ReservedHeader {
            name: name.to_owned(),
        });
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(MailError::HeaderInjection {
            name: name.to_owned(),
        });
    }
    // Only ASCII values are written as they are; the rest become RFC 2047
    // encoded words, which mail-builder splits to fit.
    if value.is_ascii() {
        let longest_word = value.split([' ', '\t']).map(str::len).max().unwrap_or(0);
        if name.len() + 2 + longest_word > MAX_LINE {
            return Err(MailError::HeaderTooLong {
                name: name.to_owned(),
            });
        }
    }
    Ok(())
}

/// ASCII values go out as written (folded at whitespace), so structured
/// extra headers such as `In-Reply-To` or `List-Id` keep their syntax;
/// anything else is an unstructured text that needs RFC 2047 encoding.
fn extra_value(value: &str) -> HeaderType<'_> {
    if value.is_ascii() {
        Raw::new(value).into()
    } else {
        Text::new(value).into()
    }
}

fn address_list(list: &[EmailAddress]) -> Address<'_> {
    Address::new_list(
        list.iter()
            .map(|a| Address::new_address(None::<&str>, a.as_str()))
            .collect(),
    )
}

/// Unfolds a value meant for one header line: every run of control
/// characters (CR, LF, NUL, ...) becomes one space, as RFC 5322 section 2.2.3
/// unfolding would make of a folded line. Tabs are whitespace and stay.
/// `s` with every line ending CRLF: a bare CR, a bare LF and CRLF each
/// become one CRLF. RFC 5322 section 2.3 allows CR and LF in a body only
/// together, and a 7bit part would otherwise carry a bare CR to the
/// recipient; done here, when composing, it is one rule for every
/// transport, so the sandbox's copy is byte for byte what SMTP sends.
pub fn crlf_lines(s: &str) -> Cow<'_, str> {
    let bytes = s.as_bytes();
    let clean = memchr::memchr2_iter(b'\r', b'\n', bytes).all(|at| match bytes[at] {
        b'\r' => bytes.get(at + 1) == Some(&b'\n'),
        _ => at > 0 && bytes[at - 1] == b'\r',
    });
    if clean {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + s.len() / 32 + 2);
    let mut rest = s;
    while let Some(at) = rest.find(['\r', '\n']) {
        out.push_str(&rest[..at]);
        out.push_str("\r\n");
        let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[at + skip..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn single_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if c.is_control() && c != '\t' {
            if !in_run {
                out.push(' ');
            }
            in_run = true;
        } else {
            out.push(c);
            in_run = false;
        }
    }
    Cow::Owned(out)
}

/// The URLs of a List-Unsubscribe header, https first: RFC 2369 section 2
/// says clients use the left-most method they support, and one-click
/// (RFC 8058) is the one we want used.
fn unsubscribe_urls<'a>(l: &ListUnsubscribe<'a>) -> Result<Vec<&'a str>, MailError> {
    let mut urls = Vec::with_capacity(2);
    if let Some(url) = l.https {
        check_url("https", "https://", url)?;
        urls.push(url);
    }
    if let Some(url) = l.mailto {
        check_url("mailto", "mailto:", url)?;
        urls.push(url);
    }
    Ok(urls)
}

fn check_url(kind: &'static str, scheme: &str, url: &str) -> Result<(), MailError> {
    let ok = url.len() > scheme.len()
        && url.len() <= MAX_UNSUBSCRIBE_URL
        && url
            .get(..scheme.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
        && url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    if ok {
        Ok(())
    } else {
        Err(MailError::InvalidUnsubscribeUrl {
            kind,
            url: url.chars().take(200).collect(),
        })
    }
}

/// Checks an attachment's content type the way [`compose`] will read it, so
/// the API can refuse it before anything is stored: `type/subtype` made of
/// RFC 2045 section 5.1 tokens, then optional `; attribute=value`
/// parameters whose value is a token or a quoted string without `;`, `"`,
/// `\` or control characters.
pub fn validate_attachment(filename: &str, content_type: &str) -> Result<(), MailError> {
    content_type_of(filename, content_type).map(|_| ())
}

fn content_type_of(filename: &str, content_type: &str) -> Result<ContentType<'static>, MailError> {
    parse_content_type(content_type).ok_or_else(|| MailError::InvalidContentType {
        filename: filename.to_owned(),
        content_type: content_type.chars().take(200).collect(),
    })
}

fn attachment_part<'a>(a: &AttachmentRef<'a>) -> Result<MimePart<'a>, MailError> {
    let content_type = content_type_of(a.filename, a.content_type)?;
    let filename = single_line(a.filename);
    Ok(
        MimePart::new(content_type, BodyPart::Binary(Cow::Borrowed(a.content)))
            .attachment(filename),
    )
}

/// RFC 2045 section 5.1 `token`: printable ASCII except SPACE and tspecials.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
}

/// Parses `type/subtype *(";" attribute "=" value)` where a value is a token
/// or a quoted string without `;`. The type is lower-cased (RFC 2045
/// section 5.1: matching is case-insensitive).
fn parse_content_type(s: &str) -> Option<ContentType<'static>> {
    let mut parts = s.split(';');
    let (ty, subtype) = parts.next()?.trim().split_once('/')?;
    if !is_token(ty) || !is_token(subtype) {
        return None;
    }
    let mut content_type = ContentType::new(format!(
        "{}/{}",
        ty.to_ascii_lowercase(),
        subtype.to_ascii_lowercase()
    ));
    for param in parts {
        let param = param.trim();
        if param.is_empty() {
            continue;
        }
        let (key, value) = param.split_once('=')?;
        let key = key.trim();
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(quoted) => {
                let inner = quoted.strip_suffix('"')?;
                if inner
                    .chars()
                    .any(|c| c.is_control() || c == '"' || c == '\\')
                {
                    return None;
                }
                inner
            }
            None if is_token(value) => value,
            None => return None,
        };
        if !is_token(key) {
            return None;
        }
        content_type = content_type.attribute(key.to_ascii_lowercase(), value.to_owned());
    }
    Some(content_type)
}

#[cfg(test)]
mod tests;

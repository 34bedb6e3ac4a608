//! The MIME walk of an inbound message (RFC 2045, RFC 2046), with the
//! bodies decoded only when the classifier reads them.
//!
//! `MessageParser::parse` decodes every part of a message while it walks
//! it: the quoted-printable HTML of a notice that also has a text part, the
//! base64 attachments of a returned copy, every part of a returned message.
//! The classifier reads a few of them. This walk is the same walk as
//! mail-parser 0.11's (`MessageParser::parse_`, Apache-2.0 OR MIT, Stalwart
//! Labs): the same header parser, the same boundary rules, the same
//! recovery of broken structures, so every part starts and ends where
//! mail-parser's does, and a part's decoded body ([`Parsed::view`]) is
//! byte for byte what mail-parser's decoders give (`decode_*_mime`,
//! emulated here over a slice, a run of plain bytes at a time). What
//! changes is when: a part is decoded when it is read, and one that is
//! never read is never decoded. Header fields likewise: `From`, `To`,
//! `Subject` and `Message-ID` are parsed when read, and the fields written
//! the plain way (`a@b`, `<id>`, a one-line subject or transfer encoding,
//! `type/subtype; name=value`) are read without mail-parser's parsers
//! into the values those parsers give (`plain_*`); the differential check
//! (`mime/differential.rs`) holds every one of them to mail-parser's.

use std::borrow::Cow;

use mail_parser::decoders::base64::BASE64_MAP;
use mail_parser::decoders::charsets::map::charset_decoder;
use mail_parser::decoders::quoted_printable::HEX_MAP;
use mail_parser::parsers::MessageStream;
use mail_parser::{
    ContentType, Encoding, Header, HeaderName, HeaderValue, Message, MessagePart, PartType,
};

use super::text::{contains_pair, lower_ascii};

mod decode;
mod headers;
#[cfg(test)]
use decode::{ASCII_SUPERSETS, ascii_superset};
use decode::{decode, qp_valid, text};
#[cfg(any(test, feature = "differential"))]
use headers::is_deferred;
#[cfg(test)]
use headers::plain_content_type;
pub(super) use headers::{content_disposition, content_type};
use headers::{
    deferred_value, last_value, parse_headers, plain_address, plain_id, plain_text, take_headers,
};

/// mail-parser's limit on message/rfc822 parts inside encoded
/// message/rfc822 parts.
const MAX_NESTED_ENCODED: usize = 3;

/// A parsed message: mail-parser's [`Message`] for the headers and the
/// offsets of every part (the parts' `body` fields are placeholders), and
/// how to read each part's body.
pub(super) struct Parsed<'x> {
    /// Headers, offsets and the raw bytes the offsets point into.
    pub(super) msg: Message<'x>,
    bodies: Vec<Body<'x>>,
}

/// A part's body, read through [`Parsed::view`].
pub(super) enum View<'p> {
    /// A multipart container: its parts follow it.
    Multipart,
    /// A text part (or a part whose encoding is broken, as text).
    Text(Cow<'p, str>),
    /// A text/html part.
    Html(Cow<'p, str>),
    /// Any other part, decoded.
    Binary(Cow<'p, [u8]>),
    /// A message/rfc822 part.
    Message(&'p Parsed<'p>),
}

/// What mail-parser's walk tells apart (its `MimeType`, without the
/// distinctions that only sort parts into its text, HTML and attachment
/// lists, which the classifier does not read).
#[derive(Debug, PartialEq, Clone, Copy)]
enum MimeType {
    Multipart,
    /// RFC 2046 section 5.1.5: an untyped part is a message/rfc822.
    MultipartDigest,
    TextPlain,
    TextHtml,
    TextOther,
    Message,
    Other,
}

enum Body<'x> {
    Multipart,
    /// A body that ends where the walk found it to end; decoded on reading.
    Leaf {
        encoding: Encoding,
        mime: MimeType,
        is_text: bool,
        /// Where the `--boundary` that ends the part starts, when one does
        /// (the decoders' last steps depend on what precedes it).
        closing: Option<usize>,
    },
    /// A part whose end was not found or whose content is unreadable as
    /// encoded: its raw bytes, lossily, as mail-parser recovers them.
    RawText,
    /// Text recovered for an empty nested message.
    Text(Cow<'x, str>),
    /// An encoded message/rfc822 part that does not parse as a message.
    Binary(Cow<'x, [u8]>),
    /// A message/rfc822 part.
    Message(Box<Parsed<'x>>),
}

/// A multipart's boundary and its delimiter `--boundary`.
struct Boundary {
    bytes: Vec<u8>,
    delimiter: Vec<u8>,
}

/// Dashes [`Boundary::find`] checks one by one before it builds a
/// substring searcher: a part has a handful of them (a signature, a rule
/// of dashes), and building memchr's searcher costs more than checking
/// them, but a body of nothing but dashes must not cost its length times
/// the boundary's.
const DASH_CANDIDATES: usize = 64;

impl Boundary {
    fn new(bytes: &[u8]) -> Self {
        let mut delimiter = Vec::with_capacity(bytes.len() + 2);
        delimiter.extend_from_slice(b"--");
        delimiter.extend_from_slice(bytes);
        Boundary {
            bytes: bytes.to_vec(),
            delimiter,
        }
    }

    /// Where the first delimiter in `hay` starts: the delimiter is
    /// compared at each `-` (found with memchr); after
    /// [`DASH_CANDIDATES`] misses, a two-way searcher takes over, which
    /// is linear whatever the input.
    fn find(&self, hay: &[u8]) -> Option<usize> {
        let mut from = 0;
        for _ in 0..DASH_CANDIDATES {
            let at = from + memchr::memchr(b'-', hay.get(from..)?)?;
            if hay[at..].starts_with(&self.delimiter) {
                return Some(at);
            }
            from = at + 1;
        }
        memchr::memmem::find(&hay[from..], &self.delimiter).map(|i| from + i)
    }
}

/// mail-parser's per-part state while walking.
struct State {
    mime_type: MimeType,
    mime_boundary: Option<Boundary>,
    part_id: usize,
    /// The parts whose headers were read in this state. When a multipart
    /// ends, mail-parser makes the part `part_id` points at a multipart
    /// unless this is exactly `[0]`, whatever that part was (on broken
    /// input it can be a message/rfc822 part), and so does the walk.
    sub_part_ids: Vec<u32>,
    offset_header: usize,
    offset_body: usize,
    offset_end: usize,
}

impl State {
    fn new(mime_type: MimeType, mime_boundary: Option<Boundary>, part_id: usize) -> Self {
        State {
            mime_type,
            mime_boundary,
            part_id,
            sub_part_ids: Vec::new(),
            offset_header: 0,
            offset_body: 0,
            offset_end: 0,
        }
    }
}

/// The parts of one (possibly nested) message while it is walked.
struct Building<'x> {
    msg: Message<'x>,
    bodies: Vec<Body<'x>>,
}

impl<'x> Building<'x> {
    fn new() -> Self {
        Building {
            msg: Message::default(),
            bodies: Vec::new(),
        }
    }

    fn push(&mut self, part: MessagePart<'x>, body: Body<'x>) {
        self.msg.parts.push(part);
        self.bodies.push(body);
    }

    fn finish(mut self, raw: Cow<'x, [u8]>) -> Parsed<'x> {
        self.msg.raw_message = raw;
        Parsed {
            msg: self.msg,
            bodies: self.bodies,
        }
    }
}

fn mime_type(content_type: Option<&ContentType<'_>>, parent: MimeType) -> (bool, bool, MimeType) {
    // (is_multipart, is_text, type); mail-parser's `mime_type`.
    match content_type {
        Some(ct) => match ct.ctype() {
            "multipart" => (
                true,
                false,
                match ct.subtype() {
                    Some("digest") => MimeType::MultipartDigest,
                    _ => MimeType::Multipart,
                },
            ),
            "text" => match ct.subtype() {
                Some("plain") => (false, true, MimeType::TextPlain),
                Some("html") => (false, true, MimeType::TextHtml),
                _ => (false, true, MimeType::TextOther),
            },
            "message" if matches!(ct.subtype(), Some("rfc822" | "global")) => {
                (false, false, MimeType::Message)
            }
            _ => (false, false, MimeType::Other),
        },
        None if parent == MimeType::MultipartDigest => (false, false, MimeType::Message),
        None => (false, true, MimeType::TextPlain),
    }
}

fn part<'x>(headers: Vec<Header<'x>>, encoding: Encoding, st: &State) -> MessagePart<'x> {
    MessagePart {
        headers,
        is_encoding_problem: false,
        // Bodies are read through `Parsed::view`.
        body: PartType::Multipart(Vec::new()),
        encoding,
        offset_header: st.offset_header as u32,
        offset_body: st.offset_body as u32,
        offset_end: st.offset_end as u32,
    }
}

/// Parses `raw` as mail-parser's `parse` would with a parser that reads as
/// structures only the MIME headers (to find and decode the parts), `From`,
/// `To`, `Subject` and `Message-ID`; `None` when it has no header at all.
///
/// Every other header (a returned copy carries a dozen `Received`, DKIM
/// signatures and the like) is only skipped over: its place is still
/// recorded, and the classifier reads it from the raw bytes when asked.
/// `From`, `To`, `Subject` and `Message-ID` are skipped over too, and
/// parsed when read ([`Parsed::sender_address`] and the like): most are
/// never read (the parts of a returned copy, the notice's own `To`).
pub(super) fn parse(raw: &[u8]) -> Option<Parsed<'_>> {
    parse_(raw, MAX_NESTED_ENCODED)
}

/// Where a leaf part ends: `(end, closing, next)`: the offset of its last
/// byte plus one, where the closing `--boundary` starts, and where the walk
/// goes on (after the boundary). `None` when the boundary is not found.
/// mail-parser's `mime_part`: the first `--boundary` anywhere, the line end
/// before it not part of the body.
fn leaf_end(data: &[u8], start: usize, boundary: &Boundary) -> Option<(usize, usize, usize)> {
    let q = start + boundary.find(data.get(start..)?)?;
    let end = if q == start {
        start
    } else if data[q - 1] == b'\n' {
        if q - 1 > start && data[q - 2] == b'\r' {
            q - 2
        } else {
            q - 1
        }
    } else {
        q
    };
    Some((end, q, q + boundary.delimiter.len()))
}

fn parse_(raw: &[u8], depth: usize) -> Option<Parsed<'_>> {
    let mut stream = MessageStream::new(raw);
    let mut message = Building::new();
    let mut state = State::new(MimeType::Message, None, 0);
    let mut stack: Vec<(State, Option<Building<'_>>)> = Vec::with_capacity(4);
    // Reused for every part; each part gets an exact-size copy.
    let mut part_headers = Vec::with_capacity(32);

    'outer: loop {
        state.offset_header = stream.offset();
        if !parse_headers(&mut stream, &mut part_headers) {
            break;
        }
        state.offset_body = stream.offset();
        state.sub_part_ids.push(message.msg.parts.len() as u32);

        let content_type = content_type(&part_headers);
        let (is_multipart, mut is_text, mut mime) = mime_type(content_type, state.mime_type);

        if is_multipart && let Some(boundary) = content_type.and_then(|f| f.attribute("boundary")) {
            if stream.seek_next_part(boundary.as_bytes()) {
                let part_id = message.msg.parts.len();
                let new_state = State::new(mime, Some(Boundary::new(boundary.as_bytes())), part_id);
                message.push(
                    part(take_headers(&mut part_headers), Encoding::None, &state),
                    Body::Multipart,
                );
                // The placeholder's end is set when the multipart ends.
                if let Some(p) = message.msg.parts.last_mut() {
                    p.offset_end = 0;
                }
                stack.push((state, None));
                state = new_state;
                stream.skip_crlf();
                continue;
            }
            mime = MimeType::TextOther;
            is_text = true;
        }

        let encoding = match last_value(&part_headers, |n| {
            matches!(n, HeaderName::ContentTransferEncoding)
        }) {
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("base64") => Encoding::Base64,
            Some(HeaderValue::Text(e)) if e.eq_ignore_ascii_case("quoted-printable") => {
                Encoding::QuotedPrintable
            }
            _ => Encoding::None,
        };

        if mime == MimeType::Message && encoding == Encoding::None {
            let new_state = State::new(
                MimeType::Message,
                state.mime_boundary.take(),
                message.msg.parts.len(),
            );
            state.offset_end = 0;
            message.push(
                part(take_headers(&mut part_headers), encoding, &state),
                Body::Text(Cow::Borrowed("")),
            );
            stack.push((
                state,
                Some(std::mem::replace(&mut message, Building::new())),
            ));
            state = new_state;
            continue;
        }

        let start = state.offset_body;
        let mut closing = None;
        let found = if let Some(boundary) = &state.mime_boundary {
            if let Some((end, q, next)) = leaf_end(raw, start, boundary) {
                stream.skip_bytes(next - start);
                state.offset_end = end;
                closing = Some(q);
                true
            } else {
                // mail-parser's recovery: the rest of the input, as text,
                // and no boundary any more.
                stream.seek_end();
                state.offset_end = raw.len();
                state.mime_boundary = None;
                false
            }
        } else {
            stream.seek_end();
            state.offset_end = raw.len();
            true
        };
        let body = if !found {
            Body::RawText
        } else if mime == MimeType::Message {
            // Encoded message/rfc822: decoded and parsed now (rare).
            match decode(raw, start, state.offset_end, closing, encoding) {
                None => Body::RawText,
                Some(bytes) => {
                    let nested = if depth != 0 {
                        parse_(&bytes, depth - 1).map(Parsed::into_owned)
                    } else {
                        None
                    };
                    match nested {
                        // Its raw message is its own copy of the bytes.
                        Some(n) => Body::Message(Box::new(n)),
                        None => Body::Binary(Cow::Owned(bytes.into_owned())),
                    }
                }
            }
        } else {
            Body::Leaf {
                encoding,
                mime,
                is_text,
                closing,
            }
        };
        message.push(
            part(take_headers(&mut part_headers), encoding, &state),
            body,
        );

        if state.mime_boundary.is_some() {
            'inner: loop {
                if state.mime_type == MimeType::Message {
                    // A nested message ends: back to its parent.
                    let Some((mut prev_state, Some(mut prev_message))) = stack.pop() else {
                        break 'outer;
                    };
                    let offset_end = state
                        .mime_boundary
                        .as_ref()
                        .map(|b| {
                            let pos = stream.offset().saturating_sub(b.bytes.len() + 2);
                            match pos.checked_sub(2).and_then(|p| raw.get(p)) {
                                Some(b'\r') => pos - 2,
                                Some(_) => pos - 1,
                                None => pos.saturating_sub(1),
                            }
                        })
                        .unwrap_or_else(|| stream.offset());
                    let nested = std::mem::replace(&mut message, Building::new());
                    let id = state.part_id;
                    if let Some(p) = prev_message.msg.parts.get_mut(id) {
                        p.offset_end = offset_end as u32;
                        let body = if nested.msg.parts.is_empty() {
                            p.is_encoding_problem = true;
                            Body::Text(super::text::lossy(
                                raw.get(p.offset_body as usize..offset_end)
                                    .unwrap_or_default(),
                            ))
                        } else {
                            Body::Message(Box::new(nested.finish(Cow::Borrowed(raw))))
                        };
                        if let Some(b) = prev_message.bodies.get_mut(id) {
                            *b = body;
                        }
                    }
                    message = prev_message;
                    prev_state.mime_boundary = state.mime_boundary.take();
                    state = prev_state;
                }

                if stream.is_multipart_end() {
                    if let Some(p) = message.msg.parts.get_mut(state.part_id) {
                        if state.sub_part_ids != [0]
                            && let Some(b) = message.bodies.get_mut(state.part_id)
                        {
                            *b = Body::Multipart;
                        }
                        state.sub_part_ids.clear();
                        if let Some((prev_state, _)) = stack.pop() {
                            state = prev_state;
                            if let Some(ref boundary) = state.mime_boundary
                                && let Some(offset) = stream.seek_next_part_offset(&boundary.bytes)
                            {
                                p.offset_end = offset as u32;
                                continue 'inner;
                            }
                        }
                        p.offset_end = stream.offset() as u32;
                    }
                    break 'outer;
                } else {
                    break 'inner;
                }
            }
        } else if stream.offset() >= raw.len() {
            break 'outer;
        }
    }

    // A broken structure: what can be recovered is.
    while let Some((prev_state, prev_message)) = stack.pop() {
        if let Some(mut prev_message) = prev_message {
            let nested = std::mem::replace(&mut message, Building::new());
            let id = state.part_id;
            if let Some(p) = prev_message.msg.parts.get_mut(id) {
                p.offset_end = stream.offset() as u32;
                let body = if nested.msg.parts.is_empty() {
                    p.is_encoding_problem = true;
                    let raw_text = raw.get(p.offset_body as usize..stream.offset());
                    let text = raw_text
                        .and_then(|bytes| std::str::from_utf8(bytes).ok())
                        .and_then(|text| {
                            state
                                .mime_boundary
                                .as_ref()
                                .and_then(|b| std::str::from_utf8(&b.bytes).ok())
                                .and_then(|boundary| {
                                    text.rsplit_once(boundary)
                                        .and_then(|(text, _)| text.strip_suffix("--"))
                                })
                                .map(|text| {
                                    let text = text.strip_suffix('\n').unwrap_or(text);
                                    text.strip_suffix('\r').unwrap_or(text)
                                })
                        });
                    Body::Text(match text {
                        Some(text) => Cow::Borrowed(text),
                        None => super::text::lossy(raw_text.unwrap_or_default()),
                    })
                } else {
                    Body::Message(Box::new(nested.finish(Cow::Borrowed(raw))))
                };
                if let Some(b) = prev_message.bodies.get_mut(id) {
                    *b = body;
                }
            }
            message = prev_message;
        } else if let Some(p) = message.msg.parts.get_mut(state.part_id) {
            p.offset_end = stream.offset() as u32;
            if state.sub_part_ids != [0]
                && let Some(b) = message.bodies.get_mut(state.part_id)
            {
                *b = Body::Multipart;
            }
        }
        state = prev_state;
    }

    if !message.msg.parts.is_empty() {
        message.msg.parts[0].offset_end = raw.len() as u32;
        Some(message.finish(Cow::Borrowed(raw)))
    } else if !part_headers.is_empty() {
        // A message without a body.
        let mut p = part(part_headers, Encoding::None, &state);
        p.is_encoding_problem = true;
        p.offset_header = 0;
        p.offset_body = raw.len() as u32;
        p.offset_end = raw.len() as u32;
        message.push(p, Body::Text(Cow::Borrowed("")));
        Some(message.finish(Cow::Borrowed(raw)))
    } else {
        None
    }
}

impl<'x> Parsed<'x> {
    /// The raw value of the message's last header `name` (any case), as
    /// mail-parser's `Message::header_raw` gives it, without turning the
    /// name into a `HeaderName` (which allocates for names it does not
    /// know) for every question.
    pub(super) fn header_raw(&self, name: &str) -> Option<&str> {
        let h = self
            .msg
            .parts
            .first()?
            .headers
            .iter()
            .rev()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
        std::str::from_utf8(
            self.msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)?,
        )
        .ok()
    }

    /// The message's last `name` header (the one mail-parser's
    /// `Message::from` and the like read), `name` being one of the kinds
    /// the walk skipped over ([`is_deferred`]).
    fn deferred_header(&self, name: &HeaderName<'_>) -> Option<&Header<'x>> {
        let kind = std::mem::discriminant(name);
        self.msg
            .parts
            .first()?
            .headers
            .iter()
            .rev()
            .find(|h| std::mem::discriminant(&h.name) == kind)
    }

    /// The raw value of the message's last `name` header.
    fn deferred_raw(&self, name: &HeaderName<'_>) -> Option<&[u8]> {
        let h = self.deferred_header(name)?;
        self.msg
            .raw_message
            .get(h.offset_start as usize..h.offset_end as usize)
    }

    /// The value of the message's last `name` header, parsed now.
    fn deferred(&self, name: &HeaderName<'_>) -> Option<HeaderValue<'_>> {
        Some(deferred_value(
            &self.msg.raw_message,
            self.deferred_header(name)?,
        ))
    }

    /// The first address of `From` (mail-parser's `Message::from`).
    pub(super) fn sender_address(&self) -> Option<String> {
        if let Some(a) = self.deferred_raw(&HeaderName::From).and_then(plain_address) {
            return Some(a.to_owned());
        }
        self.deferred(&HeaderName::From)?
            .as_address()?
            .first()?
            .address()
            .map(str::to_owned)
    }

    /// The addresses of `To` (mail-parser's `Message::to`).
    pub(super) fn to_addresses(&self) -> Vec<String> {
        if let Some(a) = self.deferred_raw(&HeaderName::To).and_then(plain_address) {
            return vec![a.to_owned()];
        }
        let Some(to) = self.deferred(&HeaderName::To) else {
            return Vec::new();
        };
        to.as_address()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.address())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `Subject`, decoded (mail-parser's `Message::subject`).
    pub(super) fn subject(&self) -> Option<String> {
        self.deferred_text(&HeaderName::Subject, plain_text)
    }

    /// `Message-ID` without its angle brackets (mail-parser's
    /// `Message::message_id`).
    pub(super) fn message_id(&self) -> Option<String> {
        self.deferred_text(&HeaderName::MessageId, plain_id)
    }

    /// The text of the message's last `name` header: read by `plain` when
    /// it is written plainly, else by mail-parser's parser for it.
    fn deferred_text(
        &self,
        name: &HeaderName<'_>,
        plain: fn(&[u8]) -> Option<&str>,
    ) -> Option<String> {
        if let Some(t) = self.deferred_raw(name).and_then(plain) {
            return Some(t.to_owned());
        }
        self.deferred(name)?.as_text().map(str::to_owned)
    }

    /// The same message, borrowing nothing (for a message decoded from an
    /// encoded message/rfc822 part, whose bytes are about to be moved).
    fn into_owned(self) -> Parsed<'static> {
        let msg = self.msg;
        Parsed {
            msg: Message {
                html_body: msg.html_body,
                text_body: msg.text_body,
                attachments: msg.attachments,
                parts: msg.parts.into_iter().map(MessagePart::into_owned).collect(),
                raw_message: Cow::Owned(msg.raw_message.into_owned()),
            },
            bodies: self
                .bodies
                .into_iter()
                .map(|b| match b {
                    Body::Multipart => Body::Multipart,
                    Body::Leaf {
                        encoding,
                        mime,
                        is_text,
                        closing,
                    } => Body::Leaf {
                        encoding,
                        mime,
                        is_text,
                        closing,
                    },
                    Body::RawText => Body::RawText,
                    Body::Text(t) => Body::Text(Cow::Owned(t.into_owned())),
                    Body::Binary(b) => Body::Binary(Cow::Owned(b.into_owned())),
                    Body::Message(m) => Body::Message(Box::new(m.into_owned())),
                })
                .collect(),
        }
    }

    /// Whether part `i` is a text/html part whose body decodes as HTML
    /// (mail-parser makes a part whose encoding is broken plain text),
    /// without decoding it.
    pub(super) fn is_html(&self, i: usize) -> bool {
        match self.bodies.get(i) {
            Some(Body::Leaf {
                encoding,
                mime: MimeType::TextHtml,
                ..
            }) => match encoding {
                Encoding::None => true,
                Encoding::QuotedPrintable => {
                    let p = &self.msg.parts[i];
                    qp_valid(self.raw(p.offset_body as usize, p.offset_end as usize))
                }
                // Rare: decided by decoding.
                Encoding::Base64 => matches!(self.view(i), View::Html(_)),
            },
            _ => false,
        }
    }

    /// Whether part `i` can read as text or as a message: not a multipart
    /// container, not a non-text leaf (whose body the classifier never
    /// reads as text: it is neither a `text/*` part nor untyped).
    pub(super) fn may_be_text(&self, i: usize) -> bool {
        !matches!(
            self.bodies.get(i),
            None | Some(Body::Multipart | Body::Leaf { is_text: false, .. })
        )
    }

    fn raw(&self, start: usize, end: usize) -> &[u8] {
        self.msg.raw_message.get(start..end).unwrap_or_default()
    }

    /// Part `i`'s body, decoded as mail-parser decodes it.
    pub(super) fn view(&self, i: usize) -> View<'_> {
        let Some(p) = self.msg.parts.get(i) else {
            return View::Binary(Cow::Borrowed(b""));
        };
        let raw = &self.msg.raw_message[..];
        let (start, end) = (p.offset_body as usize, p.offset_end as usize);
        match &self.bodies[i] {
            Body::Multipart => View::Multipart,
            Body::RawText => View::Text(text(p, Cow::Borrowed(self.raw(start, end)))),
            Body::Text(t) => View::Text(Cow::Borrowed(t)),
            Body::Binary(b) => View::Binary(Cow::Borrowed(b)),
            Body::Message(m) => View::Message(m),
            Body::Leaf {
                encoding,
                mime,
                is_text,
                closing,
            } => {
                let Some(bytes) = decode(raw, start, end, *closing, *encoding) else {
                    // mail-parser keeps the raw bytes as text.
                    return View::Text(text(p, Cow::Borrowed(self.raw(start, end))));
                };
                if !is_text {
                    return View::Binary(bytes);
                }
                let text = text(p, bytes);
                if *mime == MimeType::TextHtml {
                    View::Html(text)
                } else {
                    View::Text(text)
                }
            }
        }
    }

    /// Part `i`'s decoded bytes: mail-parser's `MessagePart::contents`.
    pub(super) fn contents(&self, i: usize) -> Cow<'_, [u8]> {
        match self.view(i) {
            View::Multipart => Cow::Borrowed(b""),
            View::Text(Cow::Borrowed(t)) | View::Html(Cow::Borrowed(t)) => {
                Cow::Borrowed(t.as_bytes())
            }
            View::Text(Cow::Owned(t)) | View::Html(Cow::Owned(t)) => Cow::Owned(t.into_bytes()),
            View::Binary(b) => b,
            View::Message(m) => Cow::Borrowed(m.msg.raw_message()),
        }
    }
}

#[cfg(any(test, feature = "differential"))]
pub(super) mod differential;

#[cfg(test)]
mod tests;

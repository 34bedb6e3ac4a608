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

/// One header block: mail-parser's `MessageStream::parse_headers` with the
/// configuration [`parse`] describes. A header that is skipped over is
/// found to end with memchr, a line end not followed by a space or tab
/// (its `parse_and_ignore`, which reads a byte at a time); the others go
/// through mail-parser's own field parsers.
fn parse_headers<'x>(stream: &mut MessageStream<'x>, headers: &mut Vec<Header<'x>>) -> bool {
    use HeaderName as H;
    loop {
        loop {
            match stream.peek() {
                Some(b'\n') => {
                    stream.next();
                    return true;
                }
                None => return false,
                Some(ch) if !ch.is_ascii_whitespace() => break,
                _ => {
                    stream.next();
                }
            }
        }
        let offset_field = stream.offset();
        if let Some(name) = stream.parse_header_name() {
            let from_offset = stream.offset();
            let value = match name {
                // Parsed when read ([`Parsed::deferred`]): mail-parser's
                // address, text and id parsers stop where a skipped field
                // does, at the line end not followed by a space or tab, so
                // skipping them leaves every later offset in place.
                H::From | H::To | H::Subject | H::MessageId => {
                    skip_field(stream);
                    HeaderValue::Empty
                }
                // `base64` on its own line, as nearly always: read as
                // mail-parser's text parser reads it, without it.
                H::ContentDescription | H::ContentLocation | H::ContentTransferEncoding => {
                    match plain_field(stream, plain_text) {
                        Some(t) => HeaderValue::Text(Cow::Borrowed(t)),
                        None => stream.parse_unstructured(),
                    }
                }
                H::ContentId => stream.parse_id(),
                // `type/subtype; name=value; name="value"`, as nearly
                // always: read as mail-parser's parser reads it, without it.
                H::ContentType | H::ContentDisposition => {
                    match plain_field(stream, plain_content_type) {
                        Some(ct) => HeaderValue::ContentType(ct),
                        None => stream.parse_content_type(),
                    }
                }
                _ => {
                    skip_field(stream);
                    HeaderValue::Empty
                }
            };
            headers.push(Header {
                name,
                value,
                offset_field: offset_field as u32,
                offset_start: from_offset as u32,
                offset_end: stream.offset() as u32,
            });
        } else if stream.is_eof() {
            return false;
        }
    }
}

/// Moves past the rest of a field: up to a line end whose next byte is not
/// a space or tab, and that byte too when it is one (RFC 5322 section
/// 2.2.3 folding, as mail-parser's `parse_and_ignore` reads it).
fn skip_field(stream: &mut MessageStream<'_>) {
    match field_len(stream) {
        Some(len) => stream.skip_bytes(len),
        None => stream.seek_end(),
    }
}

/// The field at `stream`'s place read by `read` (one of the `plain_*`
/// readers), the stream then past it; `None`, the stream where it was,
/// when `read` leaves the field to mail-parser.
fn plain_field<'x, T>(
    stream: &mut MessageStream<'x>,
    read: impl Fn(&'x [u8]) -> Option<T>,
) -> Option<T> {
    let from = stream.offset();
    let len = field_len(stream)?;
    let value = read(stream.bytes(from..from + len))?;
    stream.skip_bytes(len);
    Some(value)
}

/// How many bytes [`skip_field`] moves past from where `stream` is; `None`
/// when no line end ends the field (it runs to the end of the input).
fn field_len(stream: &MessageStream<'_>) -> Option<usize> {
    let start = stream.offset();
    let rest = stream.bytes(start..stream.len());
    let mut at = 0;
    loop {
        at += memchr::memchr(b'\n', &rest[at..])? + 1;
        match rest.get(at) {
            Some(b' ' | b'\t') => at += 1,
            _ => return Some(at),
        }
    }
}

/// The headers read for a part, moved out into a vector of their size
/// (`part_headers` keeps its room for the next part, instead of every
/// part growing its own vector a push at a time).
fn take_headers<'x>(part_headers: &mut Vec<Header<'x>>) -> Vec<Header<'x>> {
    part_headers.split_off(0)
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

/// The value of the last header in `headers` whose name `is` (the one
/// mail-parser's `header_value` reads), the name told by its variant: the
/// names looked up are mail-parser's known ones, and a variant test is a
/// compare where `HeaderName`'s `==` is a call.
fn last_value<'a, 'x>(
    headers: &'a [Header<'x>],
    is: impl Fn(&HeaderName<'_>) -> bool,
) -> Option<&'a HeaderValue<'x>> {
    headers.iter().rev().find(|h| is(&h.name)).map(|h| &h.value)
}

/// A part's `Content-Type` (mail-parser's `MimeHeaders::content_type`).
pub(super) fn content_type<'a, 'x>(headers: &'a [Header<'x>]) -> Option<&'a ContentType<'x>> {
    last_value(headers, |n| matches!(n, HeaderName::ContentType))?.as_content_type()
}

/// A part's `Content-Disposition` (mail-parser's
/// `MimeHeaders::content_disposition`).
pub(super) fn content_disposition<'a, 'x>(
    headers: &'a [Header<'x>],
) -> Option<&'a ContentType<'x>> {
    last_value(headers, |n| matches!(n, HeaderName::ContentDisposition))?.as_content_type()
}

/// Whether `name` is one of the headers the walk skips over and
/// [`Parsed::deferred`] parses when read.
#[cfg(any(test, feature = "differential"))]
pub(super) fn is_deferred(name: &HeaderName<'_>) -> bool {
    matches!(
        name,
        HeaderName::From | HeaderName::To | HeaderName::Subject | HeaderName::MessageId
    )
}

/// The value of `h`, a header of the message `raw` that the walk skipped
/// over, as mail-parser's parser for it reads it (the same parser, from the
/// same place).
pub(super) fn deferred_value<'r>(raw: &'r [u8], h: &Header<'_>) -> HeaderValue<'r> {
    let mut stream = MessageStream::new(raw);
    stream.skip_bytes(h.offset_start as usize);
    match h.name {
        HeaderName::From | HeaderName::To => stream.parse_address(),
        HeaderName::Subject => stream.parse_unstructured(),
        HeaderName::MessageId => stream.parse_id(),
        _ => HeaderValue::Empty,
    }
}

/// The address of a `From` or `To` field written the plain way, `a@b`,
/// `a@b (Name)`, `Name <a@b>` or `"Name" <a@b>` (RFC 5322 section 3.4;
/// the comment form is RFC 822's), read without
/// mail-parser's address parser, which builds token lists for every field;
/// `None` for any other field (comments, encoded words, groups, lists,
/// escapes), which mail-parser reads. What is plain here reads the same
/// in mail-parser: the differential check compares the two on every field
/// it meets.
pub(super) fn plain_address(value: &[u8]) -> Option<&str> {
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    // Outside a quoted name: printable ASCII but for the specials that
    // start a comment, a group, a list, an escape or a domain literal.
    let plain = |b: u8| {
        space(b)
            || ((0x21..=0x7e).contains(&b)
                && !matches!(
                    b,
                    b'"' | b'(' | b')' | b'\\' | b':' | b';' | b',' | b'[' | b']'
                ))
    };
    // A field cut short by the end of the input loses its last word in
    // mail-parser (only a line end adds it).
    if value.last() != Some(&b'\n') || contains_pair(value, *b"=?") {
        return None;
    }
    let mut name_end = 0;
    let mut rest = value;
    // `a@b (Name)`, as Postfix and Sendmail sign their notices: a comment
    // last, without nested parentheses or escapes (its text is the name;
    // the address is the word before it).
    if let Some(open) = memchr::memchr(b'(', value) {
        let close = open + memchr::memchr(b')', &value[open..])?;
        if !value[open + 1..close]
            .iter()
            .all(|&b| b == b' ' || b == b'\t' || (b >= 0x20 && !matches!(b, b'(' | b'\\' | 0x7f)))
            || !value[close + 1..].iter().all(|&b| space(b))
            || memchr::memchr3(b'"', b'<', b'>', &value[..open]).is_some()
        {
            return None;
        }
        rest = &value[..open];
    }
    // A quoted display name: anything but a quote or an escape inside.
    let lead = value.iter().take_while(|&&b| space(b)).count();
    if value.get(lead) == Some(&b'"') {
        let close = lead + 1 + memchr::memchr(b'"', &value[lead + 1..])?;
        if memchr::memchr(b'\\', &value[lead + 1..close]).is_some() {
            return None;
        }
        name_end = close + 1;
        rest = &value[name_end..];
    }
    if !rest.iter().all(|&b| plain(b)) {
        return None;
    }
    let addr = match memchr::memchr(b'<', rest) {
        // `Name <a@b>`: one pair of brackets, last; no `@` in the name's
        // words (mail-parser would take such a word for the address).
        Some(open) => {
            let close = open + memchr::memchr(b'>', &rest[open..])?;
            let (words, addr) = (&rest[..open], &rest[open + 1..close]);
            if memchr::memchr3(b'@', b'<', b'>', words).is_some()
                || !rest[close + 1..].iter().all(|&b| space(b))
            {
                return None;
            }
            addr
        }
        // `a@b`: a single word, and no quoted name.
        None if name_end == 0 => rest.trim_ascii(),
        None => return None,
    };
    if addr.is_empty()
        || !addr.contains(&b'@')
        || addr.iter().any(|&b| space(b) || b == b'<' || b == b'>')
    {
        return None;
    }
    std::str::from_utf8(addr).ok()
}

/// The text of a `Subject` written on one line with no encoded word, read
/// without mail-parser's text parser: the line without the white space
/// around it, as mail-parser reads it; `None` for any other value (folded,
/// encoded, cut short, not UTF-8), which mail-parser reads. The
/// differential check compares the two on every field it meets.
pub(super) fn plain_text(value: &[u8]) -> Option<&str> {
    let line = value.strip_suffix(b"\n")?;
    if memchr::memchr(b'\n', line).is_some() || contains_pair(line, *b"=?") {
        return None;
    }
    std::str::from_utf8(trim_blank(line)?).ok()
}

/// `line` without the spaces, tabs and CRs around it, as mail-parser's
/// text and id parsers drop them; `None` when nothing else is left.
fn trim_blank(line: &[u8]) -> Option<&[u8]> {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r');
    let start = line.iter().position(|b| !blank(b))?;
    let end = line.iter().rposition(|b| !blank(b))? + 1;
    Some(&line[start..end])
}

/// A `Content-Type` or `Content-Disposition` written plainly, read
/// without mail-parser's parser (a state machine that handles RFC 2231
/// continuations and charsets, comments, escapes and encoded words, and
/// builds each name and value through a lossy UTF-8 conversion): `type`
/// or `type/subtype`, then `; name=value` or `; name="value"` parameters,
/// white space around them and a line fold after a `;`. The type, subtype
/// and names come out lower-cased and the values as written, as in
/// mail-parser; `None` for anything else (comments, escapes, `*`
/// parameters, encoded words, empty values, 8-bit bytes, a field cut
/// short), which mail-parser reads. The differential check compares the
/// two on every field it meets.
pub(super) fn plain_content_type(value: &[u8]) -> Option<ContentType<'_>> {
    let line = value.strip_suffix(b"\n")?;
    let b = line.strip_suffix(b"\r").unwrap_or(line);
    if contains_pair(b, *b"=?") {
        return None;
    }
    let blank = |c: u8| c == b' ' || c == b'\t';
    let token = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'+');
    let name_byte = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    let value_byte =
        |c: u8| (0x21..=0x7e).contains(&c) && !matches!(c, b'"' | b'\\' | b'(' | b')' | b';');
    let quoted_byte = |c: u8| (c == b'\t' || (0x20..=0x7e).contains(&c)) && c != b'"' && c != b'\\';
    let n = b.len();
    let skip = |mut i: usize, ok: &dyn Fn(u8) -> bool| {
        while i < n && ok(b[i]) {
            i += 1;
        }
        i
    };
    // Lower-cased as mail-parser does: a copy only when needed.
    fn lower(t: &[u8]) -> Option<Cow<'_, str>> {
        std::str::from_utf8(t).ok().map(lower_ascii)
    }
    let mut i = skip(0, &blank);
    let t0 = i;
    i = skip(i, &token);
    if i == t0 {
        return None;
    }
    let c_type = lower(&b[t0..i])?;
    let mut c_subtype = None;
    if b.get(i) == Some(&b'/') {
        let s0 = i + 1;
        i = skip(s0, &token);
        if i == s0 {
            return None;
        }
        c_subtype = Some(lower(&b[s0..i])?);
    }
    i = skip(i, &blank);
    let mut attributes = Vec::new();
    while i < n {
        if b[i] != b';' {
            return None;
        }
        i += 1;
        // White space, or one line fold, after the `;`.
        i = skip(i, &blank);
        if b.get(i) == Some(&b'\r') {
            i += 1;
        }
        if b.get(i) == Some(&b'\n') {
            if !b.get(i + 1).is_some_and(|&c| blank(c)) {
                return None;
            }
            i = skip(i + 1, &blank);
        }
        if i == n {
            break;
        }
        let n0 = i;
        i = skip(i, &name_byte);
        if i == n0 || b.get(i) != Some(&b'=') {
            return None;
        }
        let name = lower(&b[n0..i])?;
        i += 1;
        let (v0, v1) = if b.get(i) == Some(&b'"') {
            let v0 = i + 1;
            i = skip(v0, &quoted_byte);
            if b.get(i) != Some(&b'"') {
                return None;
            }
            i += 1;
            (v0, i - 1)
        } else {
            let v0 = i;
            i = skip(v0, &value_byte);
            (v0, i)
        };
        if v1 == v0 {
            return None;
        }
        let value = Cow::Borrowed(std::str::from_utf8(&b[v0..v1]).ok()?);
        attributes.push(mail_parser::Attribute { name, value });
        i = skip(i, &blank);
    }
    Some(ContentType {
        c_type,
        c_subtype,
        attributes: (!attributes.is_empty()).then_some(attributes),
    })
}

/// The id of a `Message-ID` written plainly, `<id>` on one line, read
/// without mail-parser's id parser; `None` for any other value, which
/// mail-parser reads. The differential check compares the two.
pub(super) fn plain_id(value: &[u8]) -> Option<&str> {
    let id = trim_blank(value.strip_suffix(b"\n")?)?
        .strip_prefix(b"<")?
        .strip_suffix(b">")?;
    if id.is_empty()
        || id
            .iter()
            .any(|b| matches!(b, b'<' | b'>' | b' ' | b'\t' | b'\r' | b'\n'))
    {
        return None;
    }
    std::str::from_utf8(id).ok()
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

/// A text part's bytes as text: through the decoder of its `charset`,
/// else as UTF-8 (lossily), as mail-parser does.
fn text<'d>(p: &MessagePart<'_>, bytes: Cow<'d, [u8]>) -> Cow<'d, str> {
    let charset = content_type(&p.headers).and_then(|ct| ct.attribute("charset"));
    // ASCII in a charset that extends ASCII byte for byte decodes to
    // itself: no decoder, no copy.
    let decoder = charset
        .filter(|c| !(ascii_superset(c) && bytes.is_ascii()))
        .and_then(|c| charset_decoder(c.as_bytes()));
    match (bytes, decoder) {
        (Cow::Owned(v), Some(d)) => Cow::Owned(d(&v)),
        (Cow::Owned(v), None) => Cow::Owned(
            String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        (Cow::Borrowed(b), Some(d)) => Cow::Owned(d(b)),
        (Cow::Borrowed(b), None) => super::text::lossy(b),
    }
}

/// Charsets whose decoders map every ASCII byte to itself, whatever comes
/// before or after it: the single-byte tables and UTF-8 (not ISO-2022-*,
/// UTF-7 or HZ, which give ASCII bytes meanings of their own).
const ASCII_SUPERSETS: &[&str] = &[
    "us-ascii",
    "ascii",
    "utf-8",
    "utf8",
    "iso-8859-1",
    "iso-8859-2",
    "iso-8859-3",
    "iso-8859-4",
    "iso-8859-5",
    "iso-8859-6",
    "iso-8859-7",
    "iso-8859-8",
    "iso-8859-9",
    "iso-8859-10",
    "iso-8859-13",
    "iso-8859-14",
    "iso-8859-15",
    "iso-8859-16",
    "windows-1250",
    "windows-1251",
    "windows-1252",
    "windows-1253",
    "windows-1254",
    "windows-1255",
    "windows-1256",
    "windows-1257",
    "windows-1258",
    "koi8-r",
    "koi8-u",
];

fn ascii_superset(charset: &str) -> bool {
    ASCII_SUPERSETS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset))
}

/// Decodes `data[start..]` as mail-parser's decoder for `encoding` does
/// while it walks: up to `end` when no boundary closes the part, else up to
/// and including the first dash of the closing boundary at `closing`, then
/// the decoder's own trimming. `None` when the decoder gives up (mail-parser
/// then keeps the raw bytes as text).
fn decode<'d>(
    data: &'d [u8],
    start: usize,
    end: usize,
    closing: Option<usize>,
    encoding: Encoding,
) -> Option<Cow<'d, [u8]>> {
    match encoding {
        Encoding::None => Some(Cow::Borrowed(data.get(start..end).unwrap_or_default())),
        Encoding::QuotedPrintable => qp(data, start, end, closing).map(Cow::Owned),
        Encoding::Base64 => base64(data, start, end, closing).map(Cow::Owned),
    }
}

#[derive(PartialEq, Clone, Copy)]
enum Qp {
    None,
    Eq,
    Hex1,
}

/// mail-parser's `decode_quoted_printable_mime`, a run of plain bytes at a
/// time.
fn qp(data: &[u8], start: usize, end: usize, closing: Option<usize>) -> Option<Vec<u8>> {
    // The decoder reads up to the second dash of the boundary; the first
    // dash goes through the state machine like any byte.
    let stop = closing.map_or(end, |q| q + 1).min(data.len());
    let bytes = data.get(start..stop).unwrap_or_default();
    let mut buf = Vec::with_capacity(bytes.len());
    let mut state = Qp::None;
    let mut hex1 = 0i8;
    let mut ws_count = 0usize;
    let mut crlf: &[u8] = b"\n";
    let mut i = 0;
    while i < bytes.len() {
        let ch = bytes[i];
        match ch {
            b'=' => {
                if state == Qp::None {
                    state = Qp::Eq;
                } else {
                    return None;
                }
            }
            b'\n' => {
                if state == Qp::Eq {
                    state = Qp::None;
                } else {
                    if ws_count > 0 {
                        buf.truncate(buf.len().saturating_sub(ws_count));
                    }
                    buf.extend_from_slice(crlf);
                }
                ws_count = 0;
            }
            b'\r' => crlf = b"\r\n",
            _ => match state {
                Qp::None => {
                    let run_end = memchr::memchr3(b'=', b'\n', b'\r', &bytes[i..])
                        .map_or(bytes.len(), |k| i + k);
                    let run = &bytes[i..run_end];
                    buf.extend_from_slice(run);
                    let trailing = run
                        .iter()
                        .rev()
                        .take_while(|b| b.is_ascii_whitespace())
                        .count();
                    ws_count = if trailing == run.len() {
                        ws_count + trailing
                    } else {
                        trailing
                    };
                    i = run_end;
                    continue;
                }
                Qp::Eq => {
                    hex1 = HEX_MAP[ch as usize];
                    if hex1 != -1 {
                        state = Qp::Hex1;
                    } else if !ch.is_ascii_whitespace() {
                        state = Qp::None;
                        buf.push(b'=');
                        buf.push(ch);
                        ws_count = 0;
                    }
                }
                Qp::Hex1 => {
                    let hex2 = HEX_MAP[ch as usize];
                    state = Qp::None;
                    if hex2 != -1 {
                        buf.push(((hex1 as u8) << 4) | hex2 as u8);
                    } else {
                        buf.push(b'=');
                        buf.push(bytes[i - 1]);
                        buf.push(ch);
                    }
                    ws_count = 0;
                }
            },
        }
        i += 1;
    }
    if let Some(q) = closing {
        // At the boundary's second dash the decoder drops the first dash,
        // and the line end before it when there is one. (mail-parser
        // subtracts without a check; past the start it wraps and keeps all.)
        let before = if q > start { data[q - 1] } else { 0 };
        let cut = if before == b'\n' { crlf.len() + 1 } else { 1 };
        if let Some(n) = buf.len().checked_sub(cut) {
            buf.truncate(n);
        }
    }
    Some(buf)
}

/// Whether the quoted-printable `bytes` decode without mail-parser's
/// decoder giving up: it gives up on a `=` that follows a `=` (or `=` and
/// one hex digit) on the same line, whitespace between them or not.
fn qp_valid(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(k) = bytes.get(at..).and_then(|rest| memchr::memchr(b'=', rest)) {
        let mut j = at + k + 1;
        // After `=`: whitespace keeps the state, a hex digit moves to the
        // second digit, a line end or anything else ends it.
        while let Some(&c) = bytes.get(j) {
            match c {
                b'=' => return false,
                b'\n' => break,
                b'\r' => j += 1,
                c if HEX_MAP[c as usize] != -1 => {
                    // The second digit's state outlives line ends and takes
                    // the next other byte, whatever it is, unless it is `=`.
                    let mut k = j + 1;
                    while matches!(bytes.get(k), Some(b'\n' | b'\r')) {
                        k += 1;
                    }
                    if bytes.get(k) == Some(&b'=') {
                        return false;
                    }
                    j = k + 1;
                    break;
                }
                c if c.is_ascii_whitespace() => j += 1,
                _ => break,
            }
        }
        at = j.max(at + k + 1);
    }
    true
}

/// mail-parser's `decode_base64_mime` over `data[start..]`.
fn base64(data: &[u8], start: usize, end: usize, closing: Option<usize>) -> Option<Vec<u8>> {
    let stop = closing.map_or(end, |q| q + 1).min(data.len());
    let bytes = data.get(start..stop).unwrap_or_default();
    let mut chunk: u32 = 0;
    let mut byte_count: u8 = 0;
    let mut buf = Vec::with_capacity(bytes.len() / 4 * 3);
    let mut last_ch = b'\n';
    for &ch in bytes {
        let val = BASE64_MAP[byte_count as usize][ch as usize];
        if val < 0x01ff_ffff {
            byte_count = (byte_count + 1) & 3;
            if byte_count == 1 {
                chunk = val;
            } else {
                chunk |= val;
                if byte_count == 0 {
                    buf.extend_from_slice(&chunk.to_le_bytes()[0..3]);
                }
            }
        } else {
            match ch {
                b'=' => match byte_count {
                    1 | 2 => {
                        buf.push(chunk.to_le_bytes()[0]);
                        byte_count = 0;
                    }
                    3 => {
                        buf.extend_from_slice(&chunk.to_le_bytes()[0..2]);
                        byte_count = 0;
                    }
                    _ => {}
                },
                b'\n' | b' ' | b'\t' | b'\r' => {}
                // Two dashes that do not start the closing boundary.
                b'-' if last_ch == b'-' => return None,
                b'-' => {}
                _ => return None,
            }
        }
        last_ch = ch;
    }
    Some(buf)
}

#[cfg(any(test, feature = "differential"))]
pub(super) mod differential;

#[cfg(test)]
mod tests;

//! Header fields: the header block parsed as mail-parser parses it, and
//! the fields written the plain way read without its parsers.

use super::*;

/// One header block: mail-parser's `MessageStream::parse_headers` with the
/// configuration [`parse`] describes. A header that is skipped over is
/// found to end with memchr, a line end not followed by a space or tab
/// (its `parse_and_ignore`, which reads a byte at a time); the others go
/// through mail-parser's own field parsers.
pub(super) fn parse_headers<'x>(
    stream: &mut MessageStream<'x>,
    headers: &mut Vec<Header<'x>>,
) -> bool {
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
pub(super) fn skip_field(stream: &mut MessageStream<'_>) {
    match field_len(stream) {
        Some(len) => stream.skip_bytes(len),
        None => stream.seek_end(),
    }
}

/// The field at `stream`'s place read by `read` (one of the `plain_*`
/// readers), the stream then past it; `None`, the stream where it was,
/// when `read` leaves the field to mail-parser.
pub(super) fn plain_field<'x, T>(
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
pub(super) fn field_len(stream: &MessageStream<'_>) -> Option<usize> {
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
pub(super) fn take_headers<'x>(part_headers: &mut Vec<Header<'x>>) -> Vec<Header<'x>> {
    part_headers.split_off(0)
}

/// The value of the last header in `headers` whose name `is` (the one
/// mail-parser's `header_value` reads), the name told by its variant: the
/// names looked up are mail-parser's known ones, and a variant test is a
/// compare where `HeaderName`'s `==` is a call.
pub(super) fn last_value<'a, 'x>(
    headers: &'a [Header<'x>],
    is: impl Fn(&HeaderName<'_>) -> bool,
) -> Option<&'a HeaderValue<'x>> {
    headers.iter().rev().find(|h| is(&h.name)).map(|h| &h.value)
}

/// A part's `Content-Type` (mail-parser's `MimeHeaders::content_type`).
pub(in crate::inbound) fn content_type<'a, 'x>(
    headers: &'a [Header<'x>],
) -> Option<&'a ContentType<'x>> {
    last_value(headers, |n| matches!(n, HeaderName::ContentType))?.as_content_type()
}

/// A part's `Content-Disposition` (mail-parser's
/// `MimeHeaders::content_disposition`).
pub(in crate::inbound) fn content_disposition<'a, 'x>(
    headers: &'a [Header<'x>],
) -> Option<&'a ContentType<'x>> {
    last_value(headers, |n| matches!(n, HeaderName::ContentDisposition))?.as_content_type()
}

/// Whether `name` is one of the headers the walk skips over and
/// [`Parsed::deferred`] parses when read.
#[cfg(any(test, feature = "differential"))]
pub(in crate::inbound) fn is_deferred(name: &HeaderName<'_>) -> bool {
    matches!(
        name,
        HeaderName::From | HeaderName::To | HeaderName::Subject | HeaderName::MessageId
    )
}

/// The value of `h`, a header of the message `raw` that the walk skipped
/// over, as mail-parser's parser for it reads it (the same parser, from the
/// same place).
pub(in crate::inbound) fn deferred_value<'r>(raw: &'r [u8], h: &Header<'_>) -> HeaderValue<'r> {
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
pub(in crate::inbound) fn plain_address(value: &[u8]) -> Option<&str> {
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
pub(in crate::inbound) fn plain_text(value: &[u8]) -> Option<&str> {
    let line = value.strip_suffix(b"\n")?;
    if memchr::memchr(b'\n', line).is_some() || contains_pair(line, *b"=?") {
        return None;
    }
    std::str::from_utf8(trim_blank(line)?).ok()
}

/// `line` without the spaces, tabs and CRs around it, as mail-parser's
/// text and id parsers drop them; `None` when nothing else is left.
pub(super) fn trim_blank(line: &[u8]) -> Option<&[u8]> {
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
pub(in crate::inbound) fn plain_content_type(value: &[u8]) -> Option<ContentType<'_>> {
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
pub(in crate::inbound) fn plain_id(value: &[u8]) -> Option<&str> {
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

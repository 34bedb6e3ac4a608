//! Part bodies decoded as mail-parser decodes them (RFC 2045 section 6:
//! quoted-printable and base64; the part's charset), over a slice.

use super::*;

/// A text part's bytes as text: through the decoder of its `charset`,
/// else as UTF-8 (lossily), as mail-parser does.
pub(super) fn text<'d>(p: &MessagePart<'_>, bytes: Cow<'d, [u8]>) -> Cow<'d, str> {
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
        (Cow::Borrowed(b), None) => crate::inbound::text::lossy(b),
    }
}

/// Charsets whose decoders map every ASCII byte to itself, whatever comes
/// before or after it: the single-byte tables and UTF-8 (not ISO-2022-*,
/// UTF-7 or HZ, which give ASCII bytes meanings of their own).
pub(super) const ASCII_SUPERSETS: &[&str] = &[
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

pub(super) fn ascii_superset(charset: &str) -> bool {
    ASCII_SUPERSETS
        .iter()
        .any(|c| c.eq_ignore_ascii_case(charset))
}

/// Decodes `data[start..]` as mail-parser's decoder for `encoding` does
/// while it walks: up to `end` when no boundary closes the part, else up to
/// and including the first dash of the closing boundary at `closing`, then
/// the decoder's own trimming. `None` when the decoder gives up (mail-parser
/// then keeps the raw bytes as text).
pub(super) fn decode<'d>(
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
pub(super) enum Qp {
    None,
    Eq,
    Hex1,
}

/// mail-parser's `decode_quoted_printable_mime`, a run of plain bytes at a
/// time.
pub(super) fn qp(data: &[u8], start: usize, end: usize, closing: Option<usize>) -> Option<Vec<u8>> {
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
pub(super) fn qp_valid(bytes: &[u8]) -> bool {
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
pub(super) fn base64(
    data: &[u8],
    start: usize,
    end: usize,
    closing: Option<usize>,
) -> Option<Vec<u8>> {
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

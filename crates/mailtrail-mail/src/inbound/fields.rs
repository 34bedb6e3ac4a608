//! Header-like field groups, as used by the machine-readable parts of
//! delivery status notifications (RFC 3464 section 2), disposition
//! notifications (RFC 8098 section 3.1) and feedback reports (RFC 5965
//! section 3.1).
//!
//! The MIME walk hands these parts back as bytes, so they are read here:
//! groups of `Name: value` lines separated by blank lines, with folded
//! continuation lines (RFC 5322 section 2.2.3). Returned mail is often
//! mangled on the way, so CRLF, LF and CR-only line ends are all accepted and
//! every bound is explicit.

use std::borrow::Cow;

/// At most this many fields are read from one part: a real DSN for a mailing
/// list explosion has a few thousand; more is garbage or an attack.
const MAX_FIELDS: usize = 20_000;

/// A field value is cut at this many bytes (a diagnostic is rarely > 2 KiB).
const MAX_VALUE: usize = 16 * 1024;

/// One `Name: value` field; the name is lower-cased, the value unfolded and
/// trimmed. The value borrows the text unless it had to be unfolded or cut,
/// and the name is held in place: a report has a few fields per recipient
/// and a returned copy's header a few dozen, and two allocations each were
/// a measurable part of reading a bounce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub name: Name,
    pub value: Cow<'a, str>,
}

/// Longest field name read; longer ones are not fields.
const MAX_NAME: usize = 64;

/// A lower-cased field name of at most [`MAX_NAME`] bytes (ASCII letters,
/// digits, `-` and `_`).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Name {
    bytes: [u8; MAX_NAME],
    len: u8,
}

impl Name {
    /// `name` lower-cased, when it is a field name.
    fn new(name: &str) -> Option<Self> {
        if name.is_empty()
            || name.len() > MAX_NAME
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let mut bytes = [0u8; MAX_NAME];
        for (d, s) in bytes.iter_mut().zip(name.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        Some(Name {
            bytes,
            len: name.len() as u8,
        })
    }

    /// The name's bytes (ASCII): what comparisons read, with no UTF-8
    /// check on every one.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    pub(crate) fn as_str(&self) -> &str {
        // ASCII by construction.
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// Splits `text` into lines, accepting CRLF, LF or a lone CR as the end of a
/// line (returned mail converted by old Macs uses CR only).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        // memchr2 (vectorised) rather than a search for a char set.
        match memchr::memchr2(b'\r', b'\n', rest.as_bytes()) {
            Some(i) => {
                let line = &rest[..i];
                let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                rest = &rest[i + skip..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

/// Reads field groups (RFC 3464 section 2.1: "a series of groups of fields,
/// each group separated by a blank line"). Lines that are not fields and do
/// not continue one are skipped, so that prose before or between groups (it
/// happens in hand-made reports) does no harm.
pub(crate) fn groups(text: &str) -> Vec<Vec<Field<'_>>> {
    let mut out = Vec::new();
    each_group(text, |g| {
        out.push(g);
        true
    });
    out
}

/// The first of [`groups`]: the rest of `text` is not read (a returned
/// message's header block comes first and its body can be long).
pub(crate) fn first_group(text: &str) -> Option<Vec<Field<'_>>> {
    let mut first = None;
    each_group(text, |g| {
        first = Some(g);
        false
    });
    first
}

/// The first of [`groups`] that has a field `name` (lower-case), reading no
/// further than it.
pub(crate) fn first_group_with<'a>(text: &'a str, name: &str) -> Option<Vec<Field<'a>>> {
    let mut found = None;
    each_group(text, |g| {
        if get(&g, name).is_some() {
            found = Some(g);
            return false;
        }
        true
    });
    found
}

/// Hands each of [`groups`] to `f`, in order, until `f` returns false.
fn each_group<'a>(text: &'a str, mut f: impl FnMut(Vec<Field<'a>>) -> bool) {
    let mut current: Vec<Field<'a>> = Vec::with_capacity(8);
    let mut count = 0usize;
    for line in lines(text) {
        if line.trim().is_empty() {
            if !current.is_empty() {
                // The next group is likely the size of this one.
                let room = current.len();
                if !f(std::mem::replace(&mut current, Vec::with_capacity(room))) {
                    return;
                }
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = current.last_mut()
                && last.value.len() < MAX_VALUE
            {
                let value = last.value.to_mut();
                if !value.is_empty() {
                    value.push(' ');
                }
                push_bounded(value, line.trim());
            }
            continue;
        }
        let Some(colon) = memchr::memchr(b':', line.as_bytes()) else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let Some(name) = Name::new(name.trim()) else {
            continue;
        };
        count += 1;
        if count > MAX_FIELDS {
            break;
        }
        let value = value.trim();
        let value = if value.len() <= MAX_VALUE {
            Cow::Borrowed(value)
        } else {
            let mut v = String::new();
            push_bounded(&mut v, value);
            Cow::Owned(v)
        };
        current.push(Field { name, value });
    }
    if !current.is_empty() {
        f(current);
    }
}

fn push_bounded(dst: &mut String, s: &str) {
    let room = MAX_VALUE.saturating_sub(dst.len());
    if s.len() <= room {
        dst.push_str(s);
    } else {
        let mut end = room;
        while end > 0 && !s.is_char_boundary(end) {
            end -= 1;
        }
        dst.push_str(&s[..end]);
    }
}

/// The first value of `name` (lower-case) in a group.
pub(crate) fn get<'a>(group: &'a [Field<'_>], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|f| f.name == name)
        .map(|f| &*f.value)
        .filter(|v| !v.is_empty())
}

/// Strips the address type of an RFC 3464 section 2.3.1 / 2.3.2 value
/// (`rfc822; <bob@example.com>`) and returns the bare address, or `None`
/// when nothing address-like remains.
pub(crate) fn typed_address(value: &str) -> Option<String> {
    let v = match super::text::split_once_ascii(value, b';') {
        Some((ty, rest)) if !ty.contains('@') => rest,
        _ => value,
    };
    let v = v
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    let v = v.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace());
    if v.is_empty() || v.len() > 320 {
        return None;
    }
    Some(v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_with_every_line_end() {
        for eol in ["\r\n", "\n", "\r"] {
            let text = [
                "Reporting-MTA: dns; mx.example.org",
                "",
                "Final-Recipient: rfc822; bob@example.com",
                "Action: failed",
                "Diagnostic-Code: smtp; 550 5.1.1 <bob@example.com>:",
                "  Recipient address rejected",
                "",
                "",
            ]
            .join(eol);
            let g = groups(&text);
            assert_eq!(g.len(), 2, "{eol:?}");
            assert_eq!(get(&g[0], "reporting-mta"), Some("dns; mx.example.org"));
            assert_eq!(
                get(&g[1], "diagnostic-code"),
                Some("smtp; 550 5.1.1 <bob@example.com>: Recipient address rejected")
            );
        }
    }

    #[test]
    fn first_groups_as_groups() {
        let text = "Received: x\n\nX: 1\n  more\nTo: a@b.example\n\nTo: c@d.example\n";
        let all = groups(text);
        assert_eq!(first_group(text).as_ref(), all.first());
        assert_eq!(first_group_with(text, "to").as_ref(), all.get(1));
        assert_eq!(get(&all[1], "x"), Some("1 more"));
        assert_eq!(first_group_with(text, "cc"), None);
        assert_eq!(first_group(""), None);
    }

    #[test]
    fn typed_addresses() {
        assert_eq!(
            typed_address("rfc822; <bob@example.com>").as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(
            typed_address("bob@example.com").as_deref(),
            Some("bob@example.com")
        );
        assert_eq!(typed_address("rfc822;"), None);
    }
}

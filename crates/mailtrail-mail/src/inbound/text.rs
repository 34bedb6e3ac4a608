//! Small text scanners shared by the readers: e-mail addresses, RFC 3463
//! enhanced status codes and RFC 5321 reply codes inside free text, and a
//! crude HTML-to-text for bounces that only come as HTML.
//!
//! All of them are single forward passes over the input, so their cost is
//! linear in what they are given.

use std::borrow::Cow;

/// Bytes that may appear in the local part of an address as bounces print
/// it (RFC 5322 `atext` plus the dot).
fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b)
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'
}

/// Every `local@domain` in `text`, in order, without duplicates (case is
/// kept; duplicates are found case-insensitively).
pub(crate) fn addresses(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'@', &text.as_bytes()[from..]).map(|i| i + from) {
        from = at + 1;
        if let Some(a) = address_around(text, at)
            && !out.iter().any(|o| o.eq_ignore_ascii_case(&a))
        {
            out.push(a);
            if out.len() >= 1000 {
                break;
            }
        }
    }
    out
}

/// The address whose `@` is at byte `at`, if the bytes around it form one.
pub(crate) fn address_around(text: &str, at: usize) -> Option<String> {
    let b = text.as_bytes();
    let mut start = at;
    while start > 0 && is_local(b[start - 1]) && at - start < 128 {
        start -= 1;
    }
    let mut end = at + 1;
    while end < b.len() && is_domain(b[end]) && end - at < 256 {
        end += 1;
    }
    let local = text[start..at].trim_matches('.');
    let domain = text[at + 1..end].trim_end_matches(['.', '-']);
    let local = local.trim_start_matches(['\'', '`', '{', '|', '/', '=']);
    if local.is_empty() || !domain.contains('.') || domain.starts_with('.') {
        return None;
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if tld.len() < 2 || !tld.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let mut a = String::with_capacity(local.len() + 1 + domain.len());
    a.push_str(local);
    a.push('@');
    a.push_str(domain);
    Some(a)
}

/// The first address at the very start of `line` (after white space and an
/// optional `<` or quote), and the rest of the line after it.
pub(crate) fn leading_address(line: &str) -> Option<(String, &str)> {
    // List bullets and transcript arrows: "   * bob@...", ">>> bob@...",
    // Mimecast's "-- bob@...".
    let t = line
        .trim_start()
        .trim_start_matches(['*', '>', '\u{2022}', '-'])
        .trim_start();
    let t2 = t.trim_start_matches(['<', '"', '\'', '(', '[']);
    let at = memchr::memchr(b'@', t2.as_bytes())?;
    if at == 0 || !t2[..at].bytes().all(is_local) {
        return None;
    }
    let a = address_around(t2, at)?;
    // The address must start where the line does.
    if !t2.starts_with(a.split('@').next().unwrap_or_default()) {
        return None;
    }
    let local_len = a.find('@').unwrap_or(0);
    let mut end = at + (a.len() - local_len);
    let bytes = t2.as_bytes();
    while end < bytes.len() && is_domain(bytes[end]) {
        end += 1;
    }
    let rest = t2.get(end..).unwrap_or_default();
    Some((a, rest))
}

/// Whether `s` (the whole string) is an RFC 3463 enhanced status code.
pub(crate) fn is_status(s: &str) -> bool {
    // `c.sss.ddd`: a class of one digit, then a dot (most candidates are
    // reply codes and numbers, which have none there).
    let b = s.as_bytes();
    if b.len() < 5 || b[1] != b'.' || !matches!(b[0], b'2' | b'4' | b'5') {
        return false;
    }
    let rest = &b[2..];
    let Some(dot) = memchr::memchr(b'.', rest) else {
        return false;
    };
    let (sub, det) = (&rest[..dot], &rest[dot + 1..]);
    (1..=3).contains(&sub.len())
        && (1..=3).contains(&det.len())
        && sub.iter().all(u8::is_ascii_digit)
        && det.iter().all(u8::is_ascii_digit)
}

/// Codes of the form `x.0.9nn` and `5.9.2nn` are not real RFC 3463 codes but
/// Sisimai's inventions: they carry no information.
pub(crate) fn is_pseudo_status(s: &str) -> bool {
    let p: Vec<&str> = s.split('.').collect();
    p.len() == 3 && ((p[1] == "0" && p[2].len() == 3 && p[2].starts_with('9')) || (p[1] == "9"))
}

/// The runs of digits and dots in `text` that start with a digit not
/// preceded by a letter, digit or dot, with their trailing dots dropped,
/// and where each starts; only the runs whose first digit is one of
/// `firsts` (found with memchr: the codes sought start with 2, 4 or
/// 5, and most digits of a notice are in dates, sizes and addresses).
/// Digits and dots are ASCII, and a byte below 0x80 is always a character
/// of its own in UTF-8, so the bytes are read directly, not decoded as
/// characters.
fn tokens(text: &str, firsts: [u8; 3]) -> impl Iterator<Item = (usize, &str)> {
    let b = text.as_bytes();
    let run = |c: u8| c.is_ascii_digit() || c == b'.';
    let [x, y, z] = firsts;
    let candidates = memchr::memchr3_iter(x, y, z, b);
    candidates
        .filter(move |&at| at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'.'))
        .map(move |at| {
            let end = b[at..]
                .iter()
                .position(|&c| !run(c))
                .map_or(b.len(), |e| at + e);
            (at, text[at..end].trim_end_matches('.'))
        })
}

/// The first enhanced status code in free text (RFC 3463 section 2), e.g.
/// the `5.1.1` of `550 5.1.1 <bob@example.com>: user unknown` or of
/// `(#5.1.1)`. Statuses of class 2 are only taken when nothing else is.
pub(crate) fn find_status(text: &str) -> Option<String> {
    let mut first_ok = None;
    for (_, tok) in tokens(text, *b"245") {
        if is_status(tok) && !is_pseudo_status(tok) {
            if tok.starts_with('2') {
                first_ok.get_or_insert(tok);
                continue;
            }
            return Some(tok.to_owned());
        }
    }
    first_ok.map(str::to_owned)
}

/// The first SMTP reply code in free text (RFC 5321 section 4.2): three
/// digits `[245][0-5][0-9]` standing alone and followed by a space, a hyphen
/// or the end, e.g. `550` of `said: 550 5.1.1 ...`.
pub(crate) fn find_reply_code(text: &str) -> Option<String> {
    for (i, tok) in tokens(text, *b"455") {
        let b = tok.as_bytes();
        if b.len() == 3 && matches!(b[0], b'4' | b'5') && (b'0'..=b'5').contains(&b[1]) {
            let after = text.as_bytes().get(i + 3).copied();
            let before = if i == 0 {
                None
            } else {
                text.as_bytes().get(i - 1).copied()
            };
            let ok_after = matches!(
                after,
                None | Some(b' ' | b'-' | b'\t' | b'\r' | b'\n' | b']' | b')')
            );
            let ok_before = !matches!(before, Some(b'.' | b'-' | b'/' | b':' | b'@' | b'+'));
            if ok_after && ok_before {
                return Some(tok.to_owned());
            }
        }
    }
    None
}

/// Turns HTML into rough text: tags become spaces (block tags new lines),
/// the common entities are decoded. Enough to read a bounce written as HTML.
pub(crate) fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        let end = after.find('>').map_or(after.len(), |e| e + 1);
        // The tag's name compared in place, whatever its case.
        let tag = &after.as_bytes()[..end];
        let is = |name: &str| {
            tag.get(..name.len())
                .is_some_and(|t| t.eq_ignore_ascii_case(name.as_bytes()))
        };
        if is("<br")
            || is("<p")
            || is("</p")
            || is("<div")
            || is("</div")
            || is("<tr")
            || is("<li")
            || is("</h")
        {
            out.push('\n');
        } else {
            out.push(' ');
        }
        if is("<style") || is("<script") {
            let close = if is("<style") { "</style" } else { "</script" };
            // The first closing tag, whatever its case (no lower-cased
            // copy of the rest of the document per tag).
            let skip = find_ascii_ci(after.as_bytes(), close.as_bytes()).unwrap_or(after.len());
            rest = &after[skip..];
            let e = rest.find('>').map_or(rest.len(), |e| e + 1);
            rest = &rest[e..];
            continue;
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    decode_entities(out)
}

/// The common HTML entities decoded in one pass: `&nbsp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&#39;`, `&amp;`, each once (`&amp;lt;` is `&lt;`).
fn decode_entities(text: String) -> String {
    const ENTITIES: [(&str, &str); 6] = [
        ("&nbsp;", " "),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&#39;", "'"),
        ("&amp;", "&"),
    ];
    if memchr::memchr(b'&', text.as_bytes()).is_none() {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(i) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        match ENTITIES.iter().find(|(e, _)| rest.starts_with(e)) {
            Some((e, c)) => {
                out.push_str(c);
                rest = &rest[e.len()..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where `needle` (ASCII, starting with a byte that is not a letter)
/// first occurs in `hay`, in any case: each place of its first byte,
/// found with memchr, is compared, with no lower-cased copy of `hay`.
pub(crate) fn find_ascii_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    memchr::memchr_iter(first, hay).find(|&i| {
        hay.get(i..i + needle.len())
            .is_some_and(|t| t.eq_ignore_ascii_case(needle))
    })
}

/// Whether the two bytes `pair` occur side by side in `b` (a double
/// space, an encoded word's `=?`): memchr on the first, without building
/// a substring searcher for two bytes.
pub(crate) fn contains_pair(b: &[u8], pair: [u8; 2]) -> bool {
    memchr::memchr_iter(pair[0], b).any(|i| b.get(i + 1) == Some(&pair[1]))
}

/// `s` in ASCII lower case, copied only when it has an upper-case letter
/// (most MIME types and parameter names are written lower-case already).
pub(crate) fn lower_ascii(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s.split_once(c)` for an ASCII `c`, found with memchr (str's char
/// searcher costs more on the long values of report fields).
pub(crate) fn split_once_ascii(s: &str, c: u8) -> Option<(&str, &str)> {
    let i = memchr::memchr(c, s.as_bytes())?;
    Some((&s[..i], &s[i + 1..]))
}

/// `String::from_utf8_lossy`, with valid UTF-8 (nearly every message)
/// checked by `str::from_utf8`, which reads ASCII a word at a time, rather
/// than by the lossy decoder's byte-at-a-time walk.
pub(crate) fn lossy(b: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// Collapses runs of white space into single spaces and trims, bounded to
/// `max` bytes (on a character boundary).
pub(crate) fn squash(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    if s.is_ascii() {
        // The same words as `split_whitespace`, whose white space in ASCII
        // is exactly these bytes, found byte by byte instead of decoding
        // characters.
        let space = |b: u8| b == b' ' || (0x09..=0x0d).contains(&b);
        let b = s.as_bytes();
        let mut i = 0;
        loop {
            while i < b.len() && space(b[i]) {
                i += 1;
            }
            let start = i;
            while i < b.len() && !space(b[i]) {
                i += 1;
            }
            if start == i || out.len() + (i - start) + 1 > max {
                break;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&s[start..i]);
        }
        return out;
    }
    for w in s.split_whitespace() {
        if out.len() + w.len() + 1 > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses() {
        assert_eq!(
            addresses(
                "<bob@example.com>: host mx said: 550 <bob@example.com> no; alice@x.example."
            ),
            vec!["bob@example.com", "alice@x.example"]
        );
        assert!(addresses("user@localhost and foo@1.2.3.4").is_empty());
    }

    #[test]
    fn leading() {
        let (a, rest) = leading_address("  <bob@example.com>: host said").unwrap();
        assert_eq!(a, "bob@example.com");
        assert_eq!(rest, ">: host said");
        assert!(leading_address("SMTP error <bob@example.com>").is_none());
    }

    #[test]
    fn statuses_and_codes() {
        assert_eq!(
            find_status("said: 550 5.1.1 <a@b.c> unknown").as_deref(),
            Some("5.1.1")
        );
        assert_eq!(find_status("(#5.5.0)").as_deref(), Some("5.5.0"));
        assert_eq!(find_status("192.0.2.1 and 4.4.7").as_deref(), Some("4.4.7"));
        assert_eq!(find_status("version 2.0.1 only").as_deref(), Some("2.0.1"));
        assert_eq!(
            find_reply_code("host 192.0.2.1 said: 550 5.1.1 x").as_deref(),
            Some("550")
        );
        assert_eq!(find_reply_code("550-5.7.1 blocked").as_deref(), Some("550"));
        assert_eq!(find_reply_code("port 4550 or 5.5.0"), None);
        assert!(is_pseudo_status("5.0.910"));
        assert!(!is_pseudo_status("5.0.0"));
    }

    /// Squashing leaves the statuses of a text where they were (the
    /// scraped notice reads its region's first status unsquashed
    /// when the squash would cut nothing).
    #[test]
    fn squash_keeps_statuses() {
        for t in [
            "550\t5.1.1\r\n<bob@example.com>",
            "said:\u{a0}552 5.2.2 over quota\u{3000}4.4.7",
            "x.5.1.1 1.2.3.4 (#5.7.1)\n\n 2.0.0 then 4.2.2",
            "\u{2003}5.0.0\u{2003}",
            "no code here",
        ] {
            assert_eq!(find_status(&squash(t, 8192)), find_status(t), "{t:?}");
        }
    }

    /// One pass decodes what the chain of replacements it stands for
    /// decoded.
    #[test]
    fn entities_as_replacements() {
        for t in [
            "a &amp;lt; b &lt;&gt; &&nbsp;x &quot;q&quot; &#39; &amp;amp; & &am",
            "no entity",
            "&&&amp;&",
            "&nbsp;&nbsp;é&amp;",
        ] {
            let chain = t
                .replace("&nbsp;", " ")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&#39;", "'")
                .replace("&amp;", "&");
            assert_eq!(decode_entities(t.to_owned()), chain, "{t:?}");
        }
    }

    #[test]
    fn squash_as_split_whitespace() {
        for t in [
            "  a\tb\r\n c\x0b d\x0c e  ",
            "",
            "   ",
            "one",
            "héllo  wörld\u{a0}x",
        ] {
            for max in [0, 1, 3, 5, 100] {
                let mut want = String::new();
                for w in t.split_whitespace() {
                    if want.len() + w.len() + 1 > max {
                        break;
                    }
                    if !want.is_empty() {
                        want.push(' ');
                    }
                    want.push_str(w);
                }
                assert_eq!(squash(t, max), want, "{t:?} {max}");
            }
        }
    }

    #[test]
    fn html() {
        assert_eq!(
            squash(
                &html_to_text("<p>Hello&nbsp;<b>you</b></p><style>x{}</style>there"),
                100
            ),
            "Hello you there"
        );
    }
}

//! Instrumentation of a message body for open and click tracking
//! (DESIGN.md sections 4 and 7).
//!
//! The HTML is rewritten in ONE streaming pass with `lol_html` per message,
//! not per copy: [`HtmlTemplate::prepare`] finds the places that differ
//! between recipients (the open pixel, each tracked link, the unsubscribe
//! link) and [`HtmlTemplate::render`] fills them with one recipient's URLs by
//! plain concatenation. Sending 10,000 copies of a message therefore parses
//! its HTML once.
//!
//! What is tracked:
//! - a hidden 1x1 pixel, placed just before `</body>` (or at the end of the
//!   document when there is no body element);
//! - every `<a href>` whose scheme is `http` or `https` (RFC 3986 section 3.1:
//!   schemes compare case-insensitively). Links to `mailto:` (RFC 6068),
//!   `tel:` (RFC 3966), in-page anchors (`#...`), links carrying
//!   `data-mailtrail-notrack` (the attribute is removed from the copy), and
//!   the unsubscribe link are never rewritten;
//! - URLs in the text/plain part, found by [`TextTemplate::prepare`].
//!
//! Attribute values may contain character references (`&amp;`); the link is
//! decoded before it is handed to the caller, so the redirect goes to the URL
//! the reader's browser would have followed (HTML Living Standard, section
//! 13.2.5.72 "character reference state").

use lol_html::html_content::ContentType;
use lol_html::{RewriteStrSettings, element, end, rewrite_str};
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::MailError;

/// The attribute that opts a link out of click tracking.
pub const NOTRACK_ATTRIBUTE: &str = "data-mailtrail-notrack";

/// An `href` with this value is replaced by the recipient's unsubscribe page
/// URL, so an author can place the unsubscribe link in the body.
pub const UNSUBSCRIBE_PLACEHOLDER: &str = "mailtrail:unsubscribe";

/// Marks a slot in the rewritten HTML. A noncharacter (Unicode section 23.7)
/// never appears in conforming HTML; any occurrence in the input is replaced
/// by U+FFFD before parsing so that slots cannot be forged by the content.
const SLOT_OPEN: char = '\u{FDD0}';
const SLOT_CLOSE: char = '\u{FDD1}';

/// What to instrument in a body.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// Add the open pixel.
    pub track_opens: bool,
    /// Rewrite http(s) links to click URLs.
    pub track_clicks: bool,
    /// Links starting with this prefix (the unsubscribe endpoint, e.g.
    /// `https://mail.example.com/t/u/`) are never rewritten.
    pub unsubscribe_prefix: Option<&'a str>,
}

/// A place that differs between recipients' copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The open pixel's URL.
    Pixel,
    /// A tracked link; `url` is the decoded target.
    Click {
        /// The URL the reader must land on (entities decoded).
        url: String,
    },
    /// The unsubscribe page URL (from [`UNSUBSCRIBE_PLACEHOLDER`]).
    Unsubscribe,
}

/// The per-recipient URLs that fill a template's slots.
pub struct Fill<'a> {
    /// The open pixel's URL (`{public_url}/t/o/{token}`).
    pub pixel: &'a str,
    /// The unsubscribe page URL (`{public_url}/t/u/{token}`).
    pub unsubscribe: &'a str,
    /// The click URL for a target; `None` leaves the link untracked (for
    /// example when the URL is too long to sign).
    pub click: &'a mut dyn FnMut(&str) -> Option<String>,
}

/// An HTML body prepared once per message: literal text between slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlTemplate {
    /// `parts.len() == slots.len() + 1`.
    parts: Vec<String>,
    slots: Vec<Slot>,
    /// The most octets a rendered copy may have: see [`max_instrumented_len`].
    max_len: usize,
}

/// Headroom every message gets for tracking, however small its HTML: room
/// for several hundred tracked links.
pub const INSTRUMENT_HEADROOM: usize = 64 * 1024;

/// The most octets an instrumented HTML body of `original` octets may
/// have: twice the original, or the original plus
/// [`INSTRUMENT_HEADROOM`], whichever is more. Link rewriting replaces
/// each URL with a longer tracking URL, so HTML dense with links could
/// otherwise grow several times over (a megabyte with 30,000 links became
/// 4.3 MB); past the cap the remaining links are left as written
/// (untracked), while the pixel and the unsubscribe link always stay.
pub fn max_instrumented_len(original: usize) -> usize {
    original
        .saturating_mul(2)
        .max(original.saturating_add(INSTRUMENT_HEADROOM))
}

impl HtmlTemplate {
    /// Rewrites `html` in one streaming pass and records the slots.
    ///
    /// With neither opens nor clicks tracked the HTML is kept byte for byte.
    pub fn prepare(html: &str, options: &Options<'_>) -> Result<Self, MailError> {
        if !options.track_opens && !options.track_clicks {
            return Ok(Self::literal(html));
        }
        let clean: std::borrow::Cow<'_, str> = if html.contains([SLOT_OPEN, SLOT_CLOSE]) {
            html.replace([SLOT_OPEN, SLOT_CLOSE], "\u{FFFD}").into()
        } else {
            html.into()
        };
        let slots: Rc<RefCell<Vec<Slot>>> = Rc::default();
        let pixel_placed = Rc::new(Cell::new(false));

        let mut settings = RewriteStrSettings::new();
        if options.track_clicks {
            let slots = slots.clone();
            let prefix = options.unsubscribe_prefix;
            settings = settings.append_element_content_handler(element!("a[href]", move |el| {
                if el.has_attribute(NOTRACK_ATTRIBUTE) {
                    el.remove_attribute(NOTRACK_ATTRIBUTE);
                    return Ok(());
                }
                let Some(raw) = el.get_attribute("href") else {
                    return Ok(());
                };
                let url = decode_entities(raw.trim_matches(is_html_space));
                let slot = if url.eq_ignore_ascii_case(UNSUBSCRIBE_PLACEHOLDER) {
                    Slot::Unsubscribe
                } else if is_trackable(&url, prefix) {
                    Slot::Click { url }
                } else {
                    return Ok(());
                };
                let mut slots = slots.borrow_mut();
                let marker = marker(slots.len());
                slots.push(slot);
                el.set_attribute("href", &marker)?;
                Ok(())
            }));
        }
        if options.track_opens {
            let slots = slots.clone();
            let placed = pixel_placed.clone();
            settings = settings.append_element_content_handler(element!("body", move |el| {
                let slots = slots.clone();
                let placed = placed.clone();
                // Only the first body gets the pixel; a second `<body>` in
                // malformed input must not count the open twice.
                if placed.get() {
                    return Ok(());
                }
                let handler: lol_html::EndTagHandler<'static> = Box::new(move |end| {
                    if !placed.get() {
                        placed.set(true);
                        end.before(&pixel_html(&slots), ContentType::Html);
                    }
                    Ok(())
                });
                if let Some(handlers) = el.end_tag_handlers() {
                    handlers.push(handler);
                }
                Ok(())
            }));
        }
        if options.track_opens {
            let slots = slots.clone();
            let placed = pixel_placed.clone();
            settings = settings.append_document_content_handler(end!(move |end| {
                if !placed.get() {
                    placed.set(true);
                    end.append(&pixel_html(&slots), ContentType::Html);
                }
                Ok(())
            }));
        }

        let out =
            rewrite_str(&clean, settings).map_err(|e| MailError::Instrument(e.to_string()))?;
        let slots = slots.take();
        Self::split(&out, slots, max_instrumented_len(html.len()))
    }

    /// A template with no slots: the HTML as given.
    pub fn literal(html: &str) -> Self {
        Self {
            parts: vec![html.to_owned()],
            slots: Vec::new(),
            max_len: max_instrumented_len(html.len()),
        }
    }

    fn split(out: &str, slots: Vec<Slot>, max_len: usize) -> Result<Self, MailError> {
        let mut parts = Vec::with_capacity(slots.len() + 1);
        let mut rest = out;
        for i in 0..slots.len() {
            let m = marker(i);
            let Some(at) = rest.find(&m) else {
                return Err(MailError::Instrument(format!("slot {i} lost")));
            };
            parts.push(rest[..at].to_owned());
            rest = &rest[at + m.len()..];
        }
        parts.push(rest.to_owned());
        Ok(Self {
            parts,
            slots,
            max_len,
        })
    }

    /// The slots, in document order.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// One recipient's HTML, at most [`max_instrumented_len`] of the
    /// original (a click URL that would pass it is left as written).
    pub fn render(&self, fill: &mut Fill<'_>) -> String {
        // What must still be written after each slot if every later link
        // stays as written: the literal parts and the original URLs.
        let mut reserve: usize = self.parts.iter().map(String::len).sum::<usize>()
            + self
                .slots
                .iter()
                .map(|s| match s {
                    Slot::Click { url } => attr_escaped_len(url),
                    Slot::Pixel => attr_escaped_len(fill.pixel),
                    Slot::Unsubscribe => attr_escaped_len(fill.unsubscribe),
                })
                .sum::<usize>();
        let extra: usize = self.slots.len() * 120;
        let mut out = String::with_capacity((reserve + extra).min(self.max_len));
        for (i, part) in self.parts.iter().enumerate() {
            out.push_str(part);
            reserve -= part.len();
            let Some(slot) = self.slots.get(i) else {
                break;
            };
            match slot {
                Slot::Pixel => {
                    reserve -= attr_escaped_len(fill.pixel);
                    push_attr_escaped(&mut out, fill.pixel);
                }
                Slot::Unsubscribe => {
                    reserve -= attr_escaped_len(fill.unsubscribe);
                    push_attr_escaped(&mut out, fill.unsubscribe);
                }
                Slot::Click { url } => {
                    reserve -= attr_escaped_len(url);
                    let tracked = (fill.click)(url)
                        .filter(|t| out.len() + attr_escaped_len(t) + reserve <= self.max_len);
                    push_attr_escaped(&mut out, tracked.as_deref().unwrap_or(url));
                }
            }
        }
        out
    }
}

/// A text/plain body prepared once per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextTemplate {
    parts: Vec<String>,
    urls: Vec<String>,
}

impl TextTemplate {
    /// Finds the http(s) URLs of `text` (see [`find_urls`]); with clicks not
    /// tracked the text is kept as is.
    pub fn prepare(text: &str, options: &Options<'_>) -> Self {
        let mut parts = Vec::new();
        let mut urls = Vec::new();
        let mut last = 0;
        if options.track_clicks {
            for (start, end) in find_urls(text) {
                let url = &text[start..end];
                if !is_trackable(url, options.unsubscribe_prefix) {
                    continue;
                }
                parts.push(text[last..start].to_owned());
                urls.push(url.to_owned());
                last = end;
            }
        }
        parts.push(text[last..].to_owned());
        Self { parts, urls }
    }

    /// The URLs that will be tracked, in order.
    pub fn urls(&self) -> &[String] {
        &self.urls
    }

    /// One recipient's text; `click` gives the click URL of a target, `None`
    /// keeps the original.
    pub fn render(&self, click: &mut dyn FnMut(&str) -> Option<String>) -> String {
        let mut out = String::with_capacity(
            self.parts.iter().map(String::len).sum::<usize>() + self.urls.len() * 120,
        );
        for (i, part) in self.parts.iter().enumerate() {
            out.push_str(part);
            if let Some(url) = self.urls.get(i) {
                match click(url) {
                    Some(t) => out.push_str(&t),
                    None => out.push_str(url),
                }
            }
        }
        out
    }
}

fn marker(i: usize) -> String {
    format!("{SLOT_OPEN}{i}{SLOT_CLOSE}")
}

fn pixel_html(slots: &Rc<RefCell<Vec<Slot>>>) -> String {
    let mut slots = slots.borrow_mut();
    let m = marker(slots.len());
    slots.push(Slot::Pixel);
    format!(
        r#"<img src="{m}" width="1" height="1" alt="" style="display:none;width:1px;height:1px;border:0;margin:0;padding:0" aria-hidden="true">"#
    )
}

/// Escapes a value for a double-quoted attribute (HTML Living Standard,
/// section 13.3 "escaping a string", attribute mode).
/// The length [`push_attr_escaped`] writes.
fn attr_escaped_len(s: &str) -> usize {
    s.len()
        + s.bytes()
            .map(|b| match b {
                b'&' => 4,
                b'<' | b'>' => 3,
                b'"' => 5,
                _ => 0,
            })
            .sum::<usize>()
}

fn push_attr_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

fn is_html_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{c}')
}

/// True for an absolute http(s) URL with a host, that is not the
/// unsubscribe endpoint.
fn is_trackable(url: &str, unsubscribe_prefix: Option<&str>) -> bool {
    let lower_starts = |p: &str| {
        url.get(..p.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    let rest_len = if lower_starts("http://") {
        7
    } else if lower_starts("https://") {
        8
    } else {
        return false;
    };
    if url.len() <= rest_len || url.chars().any(char::is_control) {
        return false;
    }
    if let Some(p) = unsubscribe_prefix
        && !p.is_empty()
        && lower_starts(p)
    {
        return false;
    }
    true
}

/// Decodes the character references of an attribute value: `&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&nbsp;` and numeric references
/// (`&#38;`, `&#x26;`). Unknown or unterminated references stay as written,
/// which is what a browser does with an ambiguous ampersand in an attribute
/// (HTML Living Standard, section 13.2.5.73).
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let end = rest
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &rest[1..end];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = name.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse::<u32>().ok()?,
                    };
                    char::from_u32(code).filter(|c| *c != '\0')
                }
            }?;
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
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

/// Byte ranges of the http(s) URLs in plain text.
///
/// A URL starts with `http://` or `https://` (any case) not preceded by a
/// letter or digit, and runs to whitespace, `<`, `>`, `"` or a control
/// character; trailing punctuation that usually ends a sentence (`.`, `,`,
/// `;`, `:`, `!`, `?`, `'`) is left out, and so is a closing `)` or `]`
/// that has no opening partner inside the URL (as in "(see
/// https://example.com/a)"). This follows the heuristics of RFC 3986
/// appendix C, which notes that delimiting URLs in free text is up to the
/// reader.
pub fn find_urls(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let Some(rel) = text[i..].find(['h', 'H']) else {
            break;
        };
        let start = i + rel;
        let scheme_len = if starts_with_ci(&bytes[start..], b"https://") {
            8
        } else if starts_with_ci(&bytes[start..], b"http://") {
            7
        } else {
            i = start + 1;
            continue;
        };
        if start > 0 && bytes[start - 1].is_ascii_alphanumeric() {
            i = start + scheme_len;
            continue;
        }
        let body = start + scheme_len;
        let end_of_run = text[body..]
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'))
            .map_or(text.len(), |(off, _)| body + off);
        let mut end = end_of_run;
        // Trim trailing punctuation and unbalanced closers.
        loop {
            let url = &text[start..end];
            let Some(last) = url.chars().next_back() else {
                break;
            };
            let trim = match last {
                '.' | ',' | ';' | ':' | '!' | '?' | '\'' | '*' => true,
                ')' => url.matches('(').count() < url.matches(')').count(),
                ']' => url.matches('[').count() < url.matches(']').count(),
                '}' => url.matches('{').count() < url.matches('}').count(),
                _ => false,
            };
            if !trim {
                break;
            }
            end -= last.len_utf8();
        }
        if end > start + scheme_len {
            found.push((start, end));
        }
        i = end.max(start + scheme_len);
    }
    found
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all<'a>() -> Options<'a> {
        Options {
            track_opens: true,
            track_clicks: true,
            unsubscribe_prefix: Some("https://t.example/t/u/"),
        }
    }

    fn render(t: &HtmlTemplate) -> String {
        let mut click = |u: &str| Some(format!("https://t.example/t/c/{}", u.len()));
        t.render(&mut Fill {
            pixel: "https://t.example/t/o/PIX",
            unsubscribe: "https://t.example/t/u/UNSUB",
            click: &mut click,
        })
    }

    #[test]
    fn links_of_every_kind() {
        let html = r##"<html><body><p>
<a href="https://example.com/a?x=1&amp;y=2">a</a>
<a href="HTTP://example.com/b">b</a>
<a href="mailto:bob@example.com">m</a>
<a href="tel:+123">t</a>
<a href="#top">anchor</a>
<a href="https://example.com/skip" data-mailtrail-notrack>n</a>
<a href="https://t.example/t/u/abc">u</a>
<a href="mailtrail:unsubscribe">unsub</a>
<a href="ftp://example.com/">f</a>
<a name="x">no href</a>
</p></body></html>"##;
        let t = HtmlTemplate::prepare(html, &all()).unwrap();
        assert_eq!(
            t.slots(),
            &[
                Slot::Click {
                    url: "https://example.com/a?x=1&y=2".into()
                },
                Slot::Click {
                    url: "HTTP://example.com/b".into()
                },
                Slot::Unsubscribe,
                Slot::Pixel,
            ]
        );
        let out = render(&t);
        assert!(
            out.contains(r#"<a href="https://t.example/t/c/29">a</a>"#),
            "{out}"
        );
        assert!(out.contains(r#"<a href="https://t.example/t/c/20">b</a>"#));
        assert!(out.contains(r#"href="mailto:bob@example.com""#));
        assert!(out.contains(r#"href="tel:+123""#));
        assert!(out.contains(r##"href="#top""##));
        assert!(
            out.contains(r#"<a href="https://example.com/skip">n</a>"#),
            "{out}"
        );
        assert!(!out.contains(NOTRACK_ATTRIBUTE));
        assert!(out.contains(r#"href="https://t.example/t/u/abc""#));
        assert!(out.contains(r#"<a href="https://t.example/t/u/UNSUB">unsub</a>"#));
        assert!(out.contains(r#"href="ftp://example.com/""#));
        let pixel = out.find("t/o/PIX").unwrap();
        assert_eq!(out.matches("t/o/PIX").count(), 1);
        assert!(pixel < out.find("</body>").unwrap());
        assert!(out[pixel..].starts_with(r#"t/o/PIX" width="1" height="1""#));
        assert!(out.ends_with("</html>"));
    }

    #[test]
    fn untracked_link_keeps_its_url() {
        let t = HtmlTemplate::prepare(r#"<a href="https://e.com/?a=1&amp;b=&quot;">x</a>"#, &all())
            .unwrap();
        let mut none = |_: &str| None;
        let out = t.render(&mut Fill {
            pixel: "P",
            unsubscribe: "U",
            click: &mut none,
        });
        assert!(
            out.starts_with(r#"<a href="https://e.com/?a=1&amp;b=&quot;">x</a>"#),
            "{out}"
        );
    }

    #[test]
    fn pixel_without_body_goes_at_the_end() {
        let t = HtmlTemplate::prepare("<p>hi</p>", &all()).unwrap();
        let out = render(&t);
        assert!(out.starts_with("<p>hi</p><img src=\"https://t.example/t/o/PIX\""));
        assert!(out.ends_with('>'));
        assert_eq!(out.matches("<img").count(), 1);
    }

    #[test]
    fn two_bodies_one_pixel() {
        let t = HtmlTemplate::prepare("<body>a</body><body>b</body>", &all()).unwrap();
        assert_eq!(render(&t).matches("t/o/PIX").count(), 1);
    }

    #[test]
    fn nothing_tracked_keeps_bytes() {
        let html = r#"<body><a href="https://x.example/" data-mailtrail-notrack>x</a></body>"#;
        let t = HtmlTemplate::prepare(html, &Options::default()).unwrap();
        assert_eq!(render(&t), html);
        assert!(t.slots().is_empty());
    }

    #[test]
    fn opens_only_and_clicks_only() {
        let html = r#"<body><a href="https://x.example/">x</a></body>"#;
        let opens = Options {
            track_opens: true,
            ..Options::default()
        };
        let out = render(&HtmlTemplate::prepare(html, &opens).unwrap());
        assert!(out.contains(r#"href="https://x.example/""#));
        assert!(out.contains("t/o/PIX"));
        let clicks = Options {
            track_clicks: true,
            ..Options::default()
        };
        let out = render(&HtmlTemplate::prepare(html, &clicks).unwrap());
        assert!(out.contains("t/c/"));
        assert!(!out.contains("t/o/PIX"));
    }

    #[test]
    fn forged_slot_markers_are_neutralised() {
        let html = format!("<body>{}0{}</body>", SLOT_OPEN, SLOT_CLOSE);
        let t = HtmlTemplate::prepare(&html, &all()).unwrap();
        let out = render(&t);
        assert_eq!(out.matches("t/o/PIX").count(), 1);
        assert!(out.contains("\u{FFFD}0\u{FFFD}"));
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("a&amp;b&#38;c&#x26;d"), "a&b&c&d");
        assert_eq!(decode_entities("a&b=1&copy"), "a&b=1&copy");
        assert_eq!(decode_entities("&unknown;&"), "&unknown;&");
        assert_eq!(decode_entities("&#0;&#xZZ;"), "&#0;&#xZZ;");
    }

    fn urls(text: &str) -> Vec<&str> {
        find_urls(text)
            .into_iter()
            .map(|(s, e)| &text[s..e])
            .collect()
    }

    #[test]
    fn text_urls() {
        assert_eq!(
            urls(
                "See https://example.com/a. And (http://e.com/x_(y)) then https://e.com/p?q=1, ok"
            ),
            vec![
                "https://example.com/a",
                "http://e.com/x_(y)",
                "https://e.com/p?q=1"
            ]
        );
        assert_eq!(urls("<https://e.com/a>"), vec!["https://e.com/a"]);
        assert_eq!(urls("xhttps://e.com/ https:// http://"), Vec::<&str>::new());
        assert_eq!(urls("HTTPS://E.COM/é!"), vec!["HTTPS://E.COM/é"]);
        assert_eq!(urls("\"https://e.com/q\""), vec!["https://e.com/q"]);
    }

    #[test]
    fn text_template() {
        let text = "Hello https://example.com/a.\nBye https://t.example/t/u/x mailto:a@b";
        let t = TextTemplate::prepare(text, &all());
        assert_eq!(t.urls(), &["https://example.com/a".to_owned()]);
        let out = t.render(&mut |u| Some(format!("[{u}]")));
        assert_eq!(
            out,
            "Hello [https://example.com/a].\nBye https://t.example/t/u/x mailto:a@b"
        );
        let off = TextTemplate::prepare(text, &Options::default());
        assert_eq!(off.render(&mut |_| Some("X".into())), text);
    }

    proptest! {
        #[test]
        fn arbitrary_html_never_panics(html in "\\PC{0,300}") {
            if let Ok(t) = HtmlTemplate::prepare(&html, &all()) {
                let out = render(&t);
                prop_assert_eq!(out.matches("t/o/PIX").count(), 1);
            }
        }

        #[test]
        fn tag_soup_never_panics(parts in proptest::collection::vec(
            prop_oneof![
                Just("<a href=\"https://e.com/?a&amp;b\">".to_owned()),
                Just("<a href='mailto:x'>".to_owned()),
                Just("</a>".to_owned()),
                Just("<body>".to_owned()),
                Just("</body>".to_owned()),
                Just("<a data-mailtrail-notrack href=https://x>".to_owned()),
                Just("<!--".to_owned()),
                Just("<script>".to_owned()),
                Just("<svg><a href=\"https://svg\">".to_owned()),
                "\\PC{0,10}",
            ], 0..30)) {
            let html = parts.concat();
            let t = HtmlTemplate::prepare(&html, &all()).unwrap();
            let out = render(&t);
            prop_assert_eq!(out.matches("t/o/PIX").count(), 1);
            prop_assert!(!out.contains(SLOT_OPEN));
        }

        #[test]
        fn text_urls_are_substrings(text in "\\PC{0,200}") {
            for (s, e) in find_urls(&text) {
                prop_assert!(text[s..e].to_ascii_lowercase().starts_with("http"));
                prop_assert!(!text[s..e].contains(char::is_whitespace));
            }
        }
    }

    #[test]
    fn instrumented_html_is_capped_and_the_pixel_stays() {
        // 20,000 short links: rewriting each to a 200-octet click URL (a
        // signed token is long) would multiply the HTML by six.
        let link = r#"<a href="https://e.com/x">x</a>"#;
        let html = format!("<html><body>{}</body></html>", link.repeat(20_000));
        let t = HtmlTemplate::prepare(&html, &all()).unwrap();
        let mut click = |_: &str| Some(format!("https://t.example/t/c/{}", "T".repeat(178)));
        let out = t.render(&mut Fill {
            pixel: "https://t.example/t/o/PIX",
            unsubscribe: "https://t.example/t/u/UNSUB",
            click: &mut click,
        });
        assert!(
            out.len() <= max_instrumented_len(html.len()),
            "{} > cap",
            out.len()
        );
        assert!(out.len() > html.len(), "some links were tracked");
        assert!(out.contains("https://t.example/t/c/"));
        assert!(
            out.contains(r#"href="https://e.com/x""#),
            "later links left as written"
        );
        assert!(out.contains("https://t.example/t/o/PIX"), "the pixel stays");
        // A small message always has room for its links.
        let small = r#"<p><a href="https://e.com/a">a</a></p>"#;
        let out = render(&HtmlTemplate::prepare(small, &all()).unwrap());
        assert!(out.contains("https://t.example/t/c/"), "{out}");
        assert_eq!(max_instrumented_len(10), 10 + INSTRUMENT_HEADROOM);
        assert_eq!(max_instrumented_len(1 << 20), 2 << 20);
    }
}

//! De-encapsulation of HTML and plain text from RTF (MS-OXRTFEX 2.1.3).
//!
//! Outlook keeps an HTML body inside RTF marked `\fromhtml1`: the HTML
//! markup is in `{\*\htmltagN ...}` groups, the text between them is the
//! HTML's text, and everything between `\htmlrtf` and `\htmlrtf0` exists only
//! for RTF readers and is dropped. `\fromtext` marks encapsulated plain text.
//! Text bytes and `\'hh` escapes are in the `\ansicpgN` code page; `\uN`
//! gives a Unicode code unit followed by `\ucN` fallback characters to skip.

use encoding_rs::Encoding;

/// What an RTF body encapsulates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encapsulated {
    /// `\fromhtml1`: the original HTML.
    Html(String),
    /// `\fromtext`: the original plain text.
    Text(String),
}

/// Destinations whose content is never text (RTF 1.9.1 "Destinations").
const SKIPPED_DESTINATIONS: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "listtable",
    "listoverridetable",
    "revtbl",
    "rsidtbl",
    "generator",
    "themedata",
    "colorschememapping",
    "datastore",
    "latentstyles",
    "xmlnstbl",
    "fldinst",
    "header",
    "footer",
    "mhtmltag",
];

/// Nesting deeper than this is treated as flat: real bodies stay far below,
/// and the state stack must not grow with a crafted input.
const MAX_DEPTH: usize = 1024;

#[derive(Clone, Copy)]
struct Group {
    /// Inside `\htmlrtf` … `\htmlrtf0`.
    suppressed: bool,
    /// Inside a destination whose text is not content.
    skipped: bool,
    /// Inside `{\*\htmltagN …}`.
    htmltag: bool,
    /// Fallback characters after `\uN` (`\ucN`).
    uc: usize,
}

/// Recovers the HTML or text encapsulated in `rtf`; `None` when the RTF is
/// not an encapsulation (a real RTF document, kept as such by the caller).
pub fn deencapsulate(rtf: &[u8]) -> Option<Encapsulated> {
    let head = &rtf[..rtf.len().min(1024)];
    let html = contains(head, b"\\fromhtml1");
    if !html && !contains(head, b"\\fromtext") {
        return None;
    }
    let mut out = Output::new(code_page(head));
    let mut stack: Vec<Group> = Vec::new();
    let mut depth_over = 0usize;
    let mut group = Group {
        suppressed: false,
        skipped: false,
        htmltag: false,
        uc: 1,
    };
    // True right after '{' (and after "{\*"): the next control word names
    // the group's destination.
    let mut at_group_start = false;
    let mut starred = false;
    let mut skip_chars = 0usize;
    let mut i = 0;
    while i < rtf.len() {
        let b = rtf[i];
        let emit = !group.skipped && (group.htmltag || !group.suppressed);
        match b {
            b'{' => {
                if stack.len() < MAX_DEPTH {
                    stack.push(group);
                } else {
                    depth_over += 1;
                }
                at_group_start = true;
                starred = false;
                i += 1;
            }
            b'}' => {
                if depth_over > 0 {
                    depth_over -= 1;
                } else if let Some(g) = stack.pop() {
                    group = g;
                } else {
                    break;
                }
                at_group_start = false;
                i += 1;
            }
            b'\\' => {
                let Some(&next) = rtf.get(i + 1) else { break };
                if next.is_ascii_alphabetic() {
                    let (word, param, end) = control_word(rtf, i + 1);
                    i = end;
                    if at_group_start {
                        at_group_start = false;
                        if word == "htmltag" {
                            group.htmltag = true;
                            group.skipped = false;
                            continue;
                        }
                        if starred || SKIPPED_DESTINATIONS.contains(&word) {
                            group.skipped = true;
                            continue;
                        }
                    }
                    let emit = !group.skipped && (group.htmltag || !group.suppressed);
                    match word {
                        "htmlrtf" => group.suppressed = param != Some(0),
                        "uc" => group.uc = param.unwrap_or(1).clamp(0, 16) as usize,
                        "u" if emit => {
                            let unit = param.unwrap_or(0) as i16 as u16;
                            out.unit(unit);
                            skip_chars = group.uc;
                        }
                        "par" | "line" if emit => out.text("\r\n"),
                        "tab" if emit => out.text("\t"),
                        "lquote" if emit => out.text("\u{2018}"),
                        "rquote" if emit => out.text("\u{2019}"),
                        "ldblquote" if emit => out.text("\u{201C}"),
                        "rdblquote" if emit => out.text("\u{201D}"),
                        "bullet" if emit => out.text("\u{2022}"),
                        "endash" if emit => out.text("\u{2013}"),
                        "emdash" if emit => out.text("\u{2014}"),
                        _ => {}
                    }
                } else {
                    i += 2;
                    match next {
                        b'*' => {
                            starred = at_group_start;
                            continue;
                        }
                        b'\'' => {
                            let byte = rtf
                                .get(i..i + 2)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u8::from_str_radix(h, 16).ok());
                            if let Some(byte) = byte {
                                i += 2;
                                if skip_chars > 0 {
                                    skip_chars -= 1;
                                } else if emit {
                                    out.byte(byte);
                                }
                            }
                        }
                        b'\\' | b'{' | b'}' if emit => {
                            if skip_chars > 0 {
                                skip_chars -= 1;
                            } else {
                                out.byte(next);
                            }
                        }
                        b'~' if emit => out.text("\u{A0}"),
                        b'_' if emit => out.text("\u{2011}"),
                        b'\r' | b'\n' if emit => out.text("\r\n"),
                        _ => {}
                    }
                }
                at_group_start = false;
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                at_group_start = false;
                if skip_chars > 0 {
                    skip_chars -= 1;
                    i += 1;
                } else {
                    // A run of plain text goes through at once: nothing in
                    // it changes the state until the next special byte.
                    let end = rtf[i..]
                        .iter()
                        .position(|c| matches!(c, b'{' | b'}' | b'\\' | b'\r' | b'\n'))
                        .map_or(rtf.len(), |n| i + n);
                    if emit {
                        out.bytes(&rtf[i..end]);
                    }
                    i = end;
                }
            }
        }
    }
    let text = out.finish();
    Some(if html {
        Encapsulated::Html(text)
    } else {
        Encapsulated::Text(text)
    })
}

/// Reads a control word starting at `start` (after the backslash): letters,
/// an optional signed number, and one space delimiter that belongs to it.
fn control_word(rtf: &[u8], start: usize) -> (&str, Option<i32>, usize) {
    let mut i = start;
    while i < rtf.len() && rtf[i].is_ascii_alphabetic() && i - start < 32 {
        i += 1;
    }
    let word = std::str::from_utf8(&rtf[start..i]).unwrap_or("");
    let num_start = i;
    if i < rtf.len() && rtf[i] == b'-' {
        i += 1;
    }
    while i < rtf.len() && rtf[i].is_ascii_digit() && i - num_start < 11 {
        i += 1;
    }
    // At most a sign and 11 digits: no i64 overflow, parsed by hand as this
    // runs for every control word of the body.
    let (negative, digits) = match &rtf[num_start..i] {
        [b'-', rest @ ..] => (true, rest),
        all => (false, all),
    };
    let param = (!digits.is_empty()).then(|| {
        let n = digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        let n = if negative { -n } else { n };
        n.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    });
    if i < rtf.len() && rtf[i] == b' ' {
        i += 1;
    }
    (word, param, i)
}

/// The `\ansicpgN` of the header, else Windows-1252 (RTF's default ANSI).
fn code_page(head: &[u8]) -> &'static Encoding {
    let key = b"\\ansicpg";
    head.windows(key.len())
        .position(|w| w == key)
        .and_then(|at| {
            let digits: String = head[at + key.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .take(6)
                .map(|&b| b as char)
                .collect();
            digits.parse::<u32>().ok()
        })
        .and_then(crate::codepage::encoding)
        .unwrap_or(encoding_rs::WINDOWS_1252)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Output text: 8-bit bytes wait in `pending` until a Unicode character or
/// the end forces them through the code page, so multi-byte code pages
/// (Shift_JIS, GBK) written as consecutive `\'hh` escapes decode whole.
struct Output {
    encoding: &'static Encoding,
    pending: Vec<u8>,
    units: Vec<u16>,
    text: String,
}

impl Output {
    fn new(encoding: &'static Encoding) -> Self {
        Output {
            encoding,
            pending: Vec::new(),
            units: Vec::new(),
            text: String::new(),
        }
    }
    fn flush_bytes(&mut self) {
        if !self.pending.is_empty() {
            let (t, _) = self.encoding.decode_without_bom_handling(&self.pending);
            self.text.push_str(&t);
            self.pending.clear();
        }
    }
    fn flush_units(&mut self) {
        if !self.units.is_empty() {
            self.text.push_str(&String::from_utf16_lossy(&self.units));
            self.units.clear();
        }
    }
    #[inline]
    fn byte(&mut self, b: u8) {
        if !self.units.is_empty() {
            self.flush_units();
        }
        self.pending.push(b);
    }
    #[inline]
    fn bytes(&mut self, b: &[u8]) {
        if !self.units.is_empty() {
            self.flush_units();
        }
        self.pending.extend_from_slice(b);
    }
    /// A UTF-16 code unit from `\uN`; surrogate pairs come as two.
    fn unit(&mut self, u: u16) {
        self.flush_bytes();
        self.units.push(u);
    }
    fn text(&mut self, s: &str) {
        self.flush_bytes();
        self.flush_units();
        self.text.push_str(s);
    }
    fn finish(mut self) -> String {
        self.flush_bytes();
        self.flush_units();
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn html(rtf: &str) -> String {
        match deencapsulate(rtf.as_bytes()) {
            Some(Encapsulated::Html(h)) => h,
            other => panic!("expected HTML, got {other:?}"),
        }
    }

    #[test]
    fn html_tags_and_text_come_back_and_rtf_only_parts_go() {
        let rtf = r"{\rtf1\ansi\ansicpg1252\fromhtml1 \deff0{\fonttbl{\f0\fswiss Arial;}}
{\*\htmltag19 <html>}{\*\htmltag50 <body>}\htmlrtf {\pard\f0 \htmlrtf0 Hello \'e9t\'e9\htmlrtf \par\htmlrtf0{\*\htmltag72 </body>}}";
        assert_eq!(html(rtf), "<html><body>Hello été</body>");
    }

    #[test]
    fn unicode_escapes_skip_their_fallback() {
        let rtf = r"{\rtf1\ansi\fromhtml1 {\*\htmltag0 <p>}\uc1\u8364?\u-10179?\u-8704? x{\*\htmltag0 </p>}}";
        assert_eq!(html(rtf), "<p>€\u{1F600} x</p>");
    }

    #[test]
    fn ansicpg_decodes_escapes() {
        let rtf =
            r"{\rtf1\ansi\ansicpg1251\fromhtml1 {\*\htmltag0 <p>}\'cf\'f0\'e8{\*\htmltag0 </p>}}";
        assert_eq!(html(rtf), "<p>При</p>");
    }

    #[test]
    fn htmltag_keeps_par_as_line_break_and_escaped_braces() {
        let rtf = r"{\rtf1\fromhtml1 {\*\htmltag241 <style>\par p \{margin:0\}\par </style>}}";
        assert_eq!(html(rtf), "<style>\r\np {margin:0}\r\n</style>");
    }

    #[test]
    fn plain_rtf_is_not_an_encapsulation() {
        assert_eq!(deencapsulate(br"{\rtf1\ansi Hello\par}"), None);
        assert_eq!(
            deencapsulate(br"{\rtf1\ansi\fromtext Hello\par world}"),
            Some(Encapsulated::Text("Hello\r\nworld".into()))
        );
    }

    #[test]
    fn unbalanced_and_truncated_input_does_not_panic() {
        for rtf in [
            &br"{\rtf1\fromhtml1 {{{{\'"[..],
            &br"}}}\fromhtml1\u"[..],
            &br"\fromhtml1\'zz\"[..],
        ] {
            let _ = deencapsulate(rtf);
        }
    }
}

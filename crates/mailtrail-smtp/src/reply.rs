//! SMTP replies (RFC 5321 section 4.2) with RFC 2034 enhanced status codes.
//!
//! A reply is one or more lines `CODE SP text CRLF`; every line but the last
//! has `-` instead of the space (section 4.2.1). The parser works on a byte
//! buffer the way a network reader needs it: it says whether the buffer holds
//! a whole reply, only the start of one ([`ParseError::Incomplete`], read more
//! and call again) or something that is not a reply at all
//! ([`ParseError::Invalid`], give up on the connection).

use std::fmt;

use mailtrail_domain::EnhancedStatus;

/// The longest reply line accepted. RFC 5321 section 4.5.3.1.5 sets 512
/// octets; real servers exceed it with long texts, so allow a margin before
/// calling the peer broken.
pub const MAX_LINE: usize = 4096;

/// The most lines one reply may have (EHLO lists are the longest in practice,
/// a few dozen lines).
pub const MAX_LINES: usize = 256;

/// One SMTP reply: the three-digit code, the enhanced status if the server
/// gave one (RFC 2034 section 4), and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The basic reply code (RFC 5321 section 4.2.1), 200..=599 in practice.
    pub code: u16,
    /// The RFC 3463 enhanced status code from the start of the text, if any.
    pub enhanced: Option<EnhancedStatus>,
    /// The text of every line, with the code and (when it repeats the first
    /// line's) the enhanced status removed; lines are joined with `\n`.
    pub text: String,
}

impl Reply {
    /// A reply made up locally rather than received (e.g. RFC 7505's
    /// `556 5.1.10` for a null MX), so callers see one shape for both.
    pub fn synthetic(code: u16, enhanced: &str, text: &str) -> Self {
        Self {
            code,
            enhanced: EnhancedStatus::parse(enhanced),
            text: text.to_owned(),
        }
    }

    /// The lines of the text (for multi-line replies such as EHLO's).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.split('\n')
    }

    /// 2xx: the command succeeded (RFC 5321 section 4.2.1).
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: the server waits for more (354 after DATA, 334 during AUTH).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx: transient negative completion, try again later.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: permanent negative completion, do not repeat as is.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// Parses one complete reply from the start of `buf` and says how many
    /// bytes it used. Bare LF line ends are accepted as well as CRLF, since
    /// some servers send them and nothing is ambiguous about it.
    pub fn parse(buf: &[u8]) -> Result<(Reply, usize), ParseError> {
        let mut pos = 0;
        let mut code: Option<u16> = None;
        let mut lines: Vec<String> = Vec::new();
        loop {
            let rest = &buf[pos..];
            let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
                if rest.len() > MAX_LINE {
                    return Err(ParseError::Invalid("reply line too long"));
                }
                // Check what is there already so that garbage is reported as
                // soon as it is seen rather than after a read timeout.
                check_prefix(rest, code)?;
                return Err(ParseError::Incomplete);
            };
            if nl > MAX_LINE {
                return Err(ParseError::Invalid("reply line too long"));
            }
            let line = &rest[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            pos += nl + 1;
            if line.len() < 3 {
                return Err(ParseError::Invalid("reply line shorter than a code"));
            }
            let this_code = parse_code(&line[..3])?;
            if let Some(c) = code
                && c != this_code
            {
                return Err(ParseError::Invalid("reply lines carry different codes"));
            }
            code = Some(this_code);
            let (last, text) = match line.get(3) {
                None => (true, &[][..]),
                Some(b' ') => (true, &line[4..]),
                Some(b'-') => (false, &line[4..]),
                Some(_) => return Err(ParseError::Invalid("no space or hyphen after the code")),
            };
            // Servers send Latin-1 greetings now and then; a lossy conversion
            // keeps the reply readable without failing the send.
            lines.push(String::from_utf8_lossy(text).into_owned());
            if lines.len() > MAX_LINES {
                return Err(ParseError::Invalid("reply has too many lines"));
            }
            if last {
                return Ok((Self::from_lines(this_code, &lines), pos));
            }
        }
    }

    fn from_lines(code: u16, lines: &[String]) -> Reply {
        let (enhanced, first) = match lines.first() {
            Some(l) => split_enhanced(code, l),
            None => (None, ""),
        };
        let mut text = first.to_owned();
        for l in lines.iter().skip(1) {
            text.push('\n');
            // RFC 2034 section 4: each line repeats the code; drop it when it
            // is the same as the first line's.
            let (es, rest) = split_enhanced(code, l);
            match es {
                Some(es) if Some(es) == enhanced => text.push_str(rest),
                _ => text.push_str(l),
            }
        }
        Reply {
            code,
            enhanced,
            text,
        }
    }
}

/// RFC 2034 section 4: the enhanced code's class must match the reply's
/// class, otherwise the text merely starts with something that looks like one.
fn split_enhanced(code: u16, line: &str) -> (Option<EnhancedStatus>, &str) {
    match EnhancedStatus::split_reply_text(line) {
        (Some(es), rest) if u16::from(es.class) == code / 100 => (Some(es), rest),
        _ => (None, line),
    }
}

fn parse_code(b: &[u8]) -> Result<u16, ParseError> {
    if !(b'2'..=b'5').contains(&b[0]) || !b[1].is_ascii_digit() || !b[2].is_ascii_digit() {
        return Err(ParseError::Invalid("reply does not start with a code"));
    }
    Ok(u16::from(b[0] - b'0') * 100 + u16::from(b[1] - b'0') * 10 + u16::from(b[2] - b'0'))
}

/// Checks the start of an unfinished line: digits where the code goes, the
/// same code as earlier lines, then a space or hyphen.
fn check_prefix(rest: &[u8], code: Option<u16>) -> Result<(), ParseError> {
    if rest.len() >= 3 {
        let c = parse_code(&rest[..3])?;
        if code.is_some_and(|prev| prev != c) {
            return Err(ParseError::Invalid("reply lines carry different codes"));
        }
        if let Some(&sep) = rest.get(3)
            && sep != b' '
            && sep != b'-'
            && sep != b'\r'
        {
            return Err(ParseError::Invalid("no space or hyphen after the code"));
        }
    } else {
        let first_ok = rest.first().is_none_or(|b| (b'2'..=b'5').contains(b));
        if !first_ok || !rest.iter().skip(1).all(u8::is_ascii_digit) {
            return Err(ParseError::Invalid("reply does not start with a code"));
        }
    }
    Ok(())
}

impl fmt::Display for Reply {
    /// `550 5.1.1 text` on one line, as logs and status reasons show it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(es) = &self.enhanced {
            write!(f, " {es}")?;
        }
        let mut first = true;
        for line in self.lines() {
            f.write_str(if first { " " } else { " / " })?;
            f.write_str(line)?;
            first = false;
        }
        Ok(())
    }
}

/// Why bytes could not be parsed as a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The buffer holds the beginning of a reply; read more.
    Incomplete,
    /// The bytes are not an SMTP reply; the peer is not speaking SMTP.
    Invalid(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(s: &str) -> (Reply, usize) {
        Reply::parse(s.as_bytes()).expect("parses")
    }

    #[test]
    fn single_line_with_enhanced_status() {
        let (r, n) = parse_ok("550 5.1.1 <bob@x.test>: Recipient address rejected\r\nrest");
        assert_eq!(r.code, 550);
        assert_eq!(r.enhanced.unwrap().to_string(), "5.1.1");
        assert_eq!(r.text, "<bob@x.test>: Recipient address rejected");
        assert_eq!(
            n,
            "550 5.1.1 <bob@x.test>: Recipient address rejected\r\n".len()
        );
        assert!(r.is_permanent());
        assert_eq!(
            r.to_string(),
            "550 5.1.1 <bob@x.test>: Recipient address rejected"
        );
    }

    #[test]
    fn multi_line_ehlo() {
        let s = "250-mail.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 DSN\r\n";
        let (r, n) = parse_ok(s);
        assert_eq!(n, s.len());
        assert_eq!(r.code, 250);
        assert_eq!(r.enhanced, None);
        assert_eq!(
            r.lines().collect::<Vec<_>>(),
            ["mail.example.test", "PIPELINING", "SIZE 10240000", "DSN"]
        );
    }

    #[test]
    fn multi_line_repeated_enhanced_status_is_stripped() {
        let (r, _) = parse_ok("452-4.2.2 Mailbox full\r\n452 4.2.2 try later\r\n");
        assert_eq!(r.enhanced.unwrap().to_string(), "4.2.2");
        assert_eq!(r.text, "Mailbox full\ntry later");
        assert!(r.is_transient());
    }

    #[test]
    fn enhanced_class_must_match_code_class() {
        let (r, _) = parse_ok("250 5.1.1 looks like a code\r\n");
        assert_eq!(r.enhanced, None);
        assert_eq!(r.text, "5.1.1 looks like a code");
    }

    #[test]
    fn bare_code_and_bare_lf() {
        let (r, n) = parse_ok("354\n");
        assert_eq!((r.code, r.text.as_str(), n), (354, "", 4));
        assert!(r.is_intermediate());
    }

    #[test]
    fn incomplete_apart_from_invalid() {
        for partial in [
            "",
            "2",
            "25",
            "250",
            "250-",
            "250-first\r\n",
            "250-a\r\n250 b",
        ] {
            assert_eq!(
                Reply::parse(partial.as_bytes()),
                Err(ParseError::Incomplete),
                "{partial:?}"
            );
        }
        for bad in [
            "HTTP/1.1 400 Bad Request\r\n",
            "250-a\r\n251 b\r\n",
            "250x\r\n",
            "25\r\n",
            "650 no\r\n",
            "x",
            "250-a\r\n9",
        ] {
            assert!(
                matches!(Reply::parse(bad.as_bytes()), Err(ParseError::Invalid(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn overlong_line_is_invalid_not_incomplete() {
        let long = format!("250 {}", "a".repeat(MAX_LINE + 10));
        assert!(matches!(
            Reply::parse(long.as_bytes()),
            Err(ParseError::Invalid(_))
        ));
    }

    #[test]
    fn non_utf8_text_is_kept_lossily() {
        let (r, _) = Reply::parse(b"220 caf\xe9 ready\r\n").unwrap();
        assert_eq!(r.code, 220);
        assert!(r.text.starts_with("caf"));
        assert!(r.text.ends_with("ready"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_consumes_at_most_input(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok((_, n)) = Reply::parse(&bytes) {
                proptest::prop_assert!(n <= bytes.len());
            }
        }

        #[test]
        fn round_trips_generated_replies(code in 200u16..600, texts in proptest::collection::vec("[ -~]{0,40}", 1..5)) {
            let mut s = String::new();
            for (i, t) in texts.iter().enumerate() {
                let sep = if i + 1 == texts.len() { ' ' } else { '-' };
                s.push_str(&format!("{code}{sep}{t}\r\n"));
            }
            let (r, n) = Reply::parse(s.as_bytes()).unwrap();
            proptest::prop_assert_eq!(n, s.len());
            proptest::prop_assert_eq!(r.code, code);
            proptest::prop_assert_eq!(r.lines().count(), texts.len());
            // Every strict prefix is incomplete, never invalid.
            for cut in 0..s.len() {
                proptest::prop_assert_eq!(Reply::parse(&s.as_bytes()[..cut]), Err(ParseError::Incomplete));
            }
        }
    }
}

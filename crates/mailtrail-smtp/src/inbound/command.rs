//! What an SMTP client says to the inbound listener: one command line
//! (RFC 5321 section 4.1.1), parsed into a [`Command`]. A line that has not
//! ended yet is *incomplete*; a complete line that is not a command we can
//! act on is *invalid*, with the reply it deserves.

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `EHLO domain` (RFC 5321 section 4.1.1.1).
    Ehlo(String),
    /// `HELO domain`.
    Helo(String),
    /// `MAIL FROM:<path> [params]`; the null path `<>` is `None`
    /// (bounces are sent with it, RFC 5321 section 4.5.5).
    Mail {
        /// The reverse-path, without brackets.
        from: Option<String>,
        /// The declared `SIZE=` (RFC 1870), if any.
        size: Option<u64>,
    },
    /// `RCPT TO:<path> [params]`.
    Rcpt(String),
    /// `DATA`.
    Data,
    /// `RSET`.
    Rset,
    /// `NOOP [string]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `VRFY` / `EXPN`: answered without disclosing anything (RFC 5321
    /// section 3.5.3 allows 252).
    Vrfy,
    /// `HELP [topic]`.
    Help,
}

/// Why a line is not a command we act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// No line end yet: read more.
    Incomplete,
    /// Not a command we know (500 5.5.1).
    Unknown,
    /// A known command with arguments that do not parse (501 5.5.4).
    BadArguments(&'static str),
    /// A command we know but do not offer (502 5.5.1): AUTH, BDAT, ETRN...
    NotImplemented,
    /// A line ended by a bare LF, or holding a bare CR (500 5.5.2): RFC 5321
    /// section 2.3.8 forbids them, and a server that accepts them reads
    /// the stream differently from one that does not (SMTP smuggling).
    BareLineEnd,
}

/// Parses one line, which must end in CRLF (RFC 5321 section 2.3.8: a bare
/// LF or CR is refused, never taken for a line end). The line end is not
/// part of any argument.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let Some(body) = line.strip_suffix(b"\n") else {
        return Err(ParseError::Incomplete);
    };
    let body = body.strip_suffix(b"\r").ok_or(ParseError::BareLineEnd)?;
    if memchr::memchr2(b'\r', b'\n', body).is_some() {
        return Err(ParseError::BareLineEnd);
    }
    let text = std::str::from_utf8(body).map_err(|_| ParseError::BadArguments("not UTF-8"))?;
    let (verb, rest) = match text.find(' ') {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let no_args = |cmd: Command| {
        if rest.is_empty() {
            Ok(cmd)
        } else {
            Err(ParseError::BadArguments("this command takes no arguments"))
        }
    };
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" | "HELO" => {
            if rest.is_empty() || rest.contains(char::is_whitespace) {
                return Err(ParseError::BadArguments(
                    "a domain or address literal is needed",
                ));
            }
            Ok(if verb.eq_ignore_ascii_case("EHLO") {
                Command::Ehlo(rest.to_owned())
            } else {
                Command::Helo(rest.to_owned())
            })
        }
        "MAIL" => {
            let (path, params) = path_after(rest, "FROM:")?;
            let mut size = None;
            for p in params {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                if k.eq_ignore_ascii_case("SIZE") {
                    size = Some(
                        v.parse()
                            .map_err(|_| ParseError::BadArguments("SIZE is not a number"))?,
                    );
                }
            }
            Ok(Command::Mail {
                from: (!path.is_empty()).then(|| path.to_owned()),
                size,
            })
        }
        "RCPT" => {
            let (path, _) = path_after(rest, "TO:")?;
            if path.is_empty() {
                return Err(ParseError::BadArguments("an empty recipient"));
            }
            Ok(Command::Rcpt(path.to_owned()))
        }
        "DATA" => no_args(Command::Data),
        "RSET" => no_args(Command::Rset),
        "QUIT" => no_args(Command::Quit),
        "STARTTLS" => no_args(Command::StartTls),
        "NOOP" => Ok(Command::Noop),
        "HELP" => Ok(Command::Help),
        "VRFY" | "EXPN" => Ok(Command::Vrfy),
        "AUTH" | "BDAT" | "ETRN" | "TURN" | "ATRN" | "SEND" | "SOML" | "SAML" => {
            Err(ParseError::NotImplemented)
        }
        _ => Err(ParseError::Unknown),
    }
}

/// The `<path>` after `FROM:` / `TO:` and the ESMTP parameters after it.
/// A space after the colon is tolerated (many clients send one). Source
/// routes (`<@a,@b:user@c>`, RFC 5321 section 4.1.2) are reduced to the
/// mailbox, as section C allows.
fn path_after<'a>(
    rest: &'a str,
    keyword: &str,
) -> Result<(&'a str, std::str::SplitWhitespace<'a>), ParseError> {
    let head = rest
        .get(..keyword.len())
        .filter(|h| h.eq_ignore_ascii_case(keyword))
        .ok_or(ParseError::BadArguments(
            "expected FROM:<address> or TO:<address>",
        ))?;
    let after = rest[head.len()..].trim_start();
    let inner = after.strip_prefix('<').ok_or(ParseError::BadArguments(
        "the address must be in angle brackets",
    ))?;
    let end = inner
        .find('>')
        .ok_or(ParseError::BadArguments("missing '>'"))?;
    let mut path = &inner[..end];
    if path.starts_with('@') {
        path = path.split_once(':').map(|(_, m)| m).unwrap_or("");
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ParseError::BadArguments("spaces in the address"));
    }
    Ok((path, inner[end + 1..].split_whitespace()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_until_the_line_ends() {
        assert_eq!(parse(b"MAIL FROM:<a@b>"), Err(ParseError::Incomplete));
        assert_eq!(parse(b""), Err(ParseError::Incomplete));
    }

    #[test]
    fn mail_with_null_path_size_and_space() {
        assert_eq!(
            parse(b"MAIL FROM:<> SIZE=1200 BODY=8BITMIME\r\n"),
            Ok(Command::Mail {
                from: None,
                size: Some(1200)
            })
        );
        assert_eq!(
            parse(b"mail from: <A@B.test>\n"),
            Err(ParseError::BareLineEnd)
        );
        assert_eq!(parse(b"NOOP a\rb\r\n"), Err(ParseError::BareLineEnd));
        assert_eq!(
            parse(b"mail from: <A@B.test>\r\n"),
            Ok(Command::Mail {
                from: Some("A@B.test".into()),
                size: None
            })
        );
        assert_eq!(
            parse(b"MAIL FROM:<a@b> SIZE=lots\r\n"),
            Err(ParseError::BadArguments("SIZE is not a number"))
        );
    }

    #[test]
    fn rcpt_and_source_routes() {
        assert_eq!(
            parse(b"RCPT TO:<bounces+tok@bounce.test> NOTIFY=NEVER\r\n"),
            Ok(Command::Rcpt("bounces+tok@bounce.test".into()))
        );
        assert_eq!(
            parse(b"RCPT TO:<@relay.test:u@x.test>\r\n"),
            Ok(Command::Rcpt("u@x.test".into()))
        );
        assert!(matches!(
            parse(b"RCPT TO:u@x.test\r\n"),
            Err(ParseError::BadArguments(_))
        ));
        assert!(matches!(
            parse(b"RCPT TO:<>\r\n"),
            Err(ParseError::BadArguments(_))
        ));
    }

    #[test]
    fn verbs() {
        assert_eq!(
            parse(b"ehlo client.test\r\n"),
            Ok(Command::Ehlo("client.test".into()))
        );
        assert!(matches!(
            parse(b"EHLO\r\n"),
            Err(ParseError::BadArguments(_))
        ));
        assert_eq!(parse(b"DATA\r\n"), Ok(Command::Data));
        assert!(matches!(
            parse(b"DATA x\r\n"),
            Err(ParseError::BadArguments(_))
        ));
        assert_eq!(parse(b"NOOP hello\r\n"), Ok(Command::Noop));
        assert_eq!(parse(b"AUTH PLAIN x\r\n"), Err(ParseError::NotImplemented));
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Err(ParseError::Unknown));
        assert!(matches!(
            parse(b"MAIL FROM:<\xff>\r\n"),
            Err(ParseError::BadArguments(_))
        ));
    }
}

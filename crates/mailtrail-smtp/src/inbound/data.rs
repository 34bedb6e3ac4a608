//! The message text a client sends after `354` (RFC 5321 section 4.1.1.4),
//! read line by line into the bytes that are kept.
//!
//! Only `<CR><LF>.<CR><LF>` ends the text. A bare LF or a bare CR anywhere
//! in it refuses the whole message (`554 5.6.0`), as Postfix's
//! `smtpd_forbid_bare_newline` does: RFC 5321 section 2.3.8 forbids them,
//! and servers that read `<LF>.<LF>` or `<CR><LF>.<LF>` as the end of the
//! text are what SMTP smuggling exploits (a second message hidden inside
//! the first, accepted by a server that reads the end of data differently
//! from the one that relayed it). Nothing is ever normalised into an end of
//! data: a line that only looks like the end (`.` with a bare line end)
//! is [`Progress::AmbiguousEnd`], after which the session must close,
//! since the client and the server no longer agree on where commands start.
//!
//! The reader is pure (no socket), so it can be fuzzed and unit-tested; the
//! session feeds it the lines it reads.

/// Why a message is refused once its text has ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFault {
    /// More octets than the limit (`552 5.3.4`, RFC 1870).
    TooBig,
    /// A line longer than the session reads (`554 5.6.0`).
    LineTooLong,
    /// A bare CR or LF (`554 5.6.0`, RFC 5321 section 2.3.8).
    BareLineEnd,
}

impl DataFault {
    /// The reply the client gets, with its RFC 3463 enhanced status code.
    pub fn reply(self) -> &'static str {
        match self {
            DataFault::TooBig => "552 5.3.4 message size exceeds fixed maximum message size",
            DataFault::LineTooLong => "554 5.6.0 a line of the message is too long",
            DataFault::BareLineEnd => {
                "554 5.6.0 bare CR or LF in the message; lines must end in CRLF (RFC 5321 2.3.8)"
            }
        }
    }
}

/// What the reader knows after a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The text goes on: read another line.
    More,
    /// `.<CR><LF>` at the start of a line: the text has ended.
    End,
    /// A `.` line with a bare line end (`.<LF>`, `.<CR>...`): the client may
    /// believe the text has ended, the protocol says it has not. The
    /// message is refused and the connection must close without reading
    /// another command, so nothing after it can be smuggled.
    AmbiguousEnd,
}

/// Reads one message's text. Feed it every line up to and including the one
/// that ends the text, each ending with the LF the session split at (the
/// last one may lack it when the client went away), then call
/// [`DataReader::finish`].
#[derive(Debug)]
pub struct DataReader {
    message: Vec<u8>,
    size: usize,
    max_bytes: usize,
    fault: Option<DataFault>,
}

impl DataReader {
    /// A reader that appends the text to `prefix` (the trace fields) and
    /// refuses more than `max_bytes` octets of text.
    pub fn new(prefix: Vec<u8>, max_bytes: usize) -> Self {
        Self {
            message: prefix,
            size: 0,
            max_bytes,
            fault: None,
        }
    }

    /// Takes one line, LF included.
    pub fn line(&mut self, line: &[u8]) -> Progress {
        if line == b".\r\n" {
            return Progress::End;
        }
        let body = line.strip_suffix(b"\n");
        let crlf = body.and_then(|b| b.strip_suffix(b"\r"));
        let bare = match crlf {
            // A CR inside the line is bare: the line ends at the first LF.
            Some(text) => memchr::memchr(b'\r', text).is_some(),
            None => true,
        };
        if bare {
            self.refuse(DataFault::BareLineEnd);
            // `.` then a bare CR or LF: where a lax server would stop.
            if line.first() == Some(&b'.') && matches!(line.get(1), Some(b'\r' | b'\n')) {
                return Progress::AmbiguousEnd;
            }
            return Progress::More;
        }
        // RFC 5321 section 4.5.2: a leading dot was doubled by the client.
        let content = line.strip_prefix(b".").unwrap_or(line);
        self.size = self.size.saturating_add(content.len());
        if self.size > self.max_bytes {
            self.refuse(DataFault::TooBig);
        }
        if self.fault.is_none() {
            self.message.extend_from_slice(content);
        }
        Progress::More
    }

    /// Notes a line the session dropped for being too long.
    pub fn line_too_long(&mut self) {
        self.refuse(DataFault::LineTooLong);
    }

    /// The message (prefix and text) or why it is refused.
    pub fn finish(self) -> Result<Vec<u8>, DataFault> {
        match self.fault {
            Some(f) => Err(f),
            None => Ok(self.message),
        }
    }

    fn refuse(&mut self, fault: DataFault) {
        // The first fault is the one reported; a too-big message is told so
        // even if a bad line follows, since that is what the client can fix.
        if self.fault.is_none() {
            self.fault = Some(fault);
            self.message = Vec::new();
        }
    }
}

/// Feeds `input` to a fresh reader, split at each LF as the session reads
/// it, until the text ends. Returns how it ended (`None`: the input ran out
/// first), the octets used, and the result. A narrow entry point for the
/// fuzz target and tests; the session itself reads from the socket.
pub fn read_all(
    input: &[u8],
    max_bytes: usize,
) -> (Option<Progress>, usize, Result<Vec<u8>, DataFault>) {
    let mut reader = DataReader::new(Vec::new(), max_bytes);
    let mut at = 0;
    while at < input.len() {
        let end = memchr::memchr(b'\n', &input[at..]).map_or(input.len(), |i| at + i + 1);
        let step = reader.line(&input[at..end]);
        at = end;
        if step != Progress::More {
            return (Some(step), at, reader.finish());
        }
    }
    (None, at, reader.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_only_at_crlf_dot_crlf_and_removes_stuffed_dots() {
        let (end, used, got) = read_all(b"Subject: x\r\n\r\n..dot\r\n.\r\nMAIL FROM:<>\r\n", 1000);
        assert_eq!(end, Some(Progress::End));
        assert_eq!(used, b"Subject: x\r\n\r\n..dot\r\n.\r\n".len());
        assert_eq!(got.unwrap(), b"Subject: x\r\n\r\n.dot\r\n");
    }

    #[test]
    fn dot_lf_is_an_ambiguous_end_and_refuses_the_message() {
        let input = b"Subject: a\r\n\r\nhi\r\n.\nMAIL FROM:<x@evil.test>\r\n";
        let (end, used, got) = read_all(input, 1000);
        assert_eq!(end, Some(Progress::AmbiguousEnd));
        assert_eq!(used, b"Subject: a\r\n\r\nhi\r\n.\n".len());
        assert_eq!(got, Err(DataFault::BareLineEnd));
    }

    #[test]
    fn dot_cr_forms_are_ambiguous_too() {
        for input in [&b"hi\r\n.\r.\r\n"[..], b"hi\r\n.\rMAIL FROM:<>\r\n"] {
            let (end, _, got) = read_all(input, 1000);
            assert_eq!(end, Some(Progress::AmbiguousEnd), "{input:?}");
            assert_eq!(got, Err(DataFault::BareLineEnd));
        }
    }

    #[test]
    fn a_bare_lf_or_cr_inside_refuses_but_reading_goes_on_to_the_real_end() {
        for input in [
            &b"a\nb\r\n.\r\n"[..],
            b"a\rb\r\n.\r\n",
            b"a\r\n\r.\r\nMAIL FROM:<>\r\n.\r\n",
            b"a\n\r\n.\r\n",
        ] {
            let (end, used, got) = read_all(input, 1000);
            assert_eq!(end, Some(Progress::End), "{input:?}");
            assert_eq!(used, input.len());
            assert_eq!(got, Err(DataFault::BareLineEnd), "{input:?}");
        }
    }

    #[test]
    fn lf_dot_lf_never_ends_the_text() {
        let (end, _, got) = read_all(b"a\n.\nb\n", 1000);
        assert_eq!(end, Some(Progress::AmbiguousEnd));
        assert_eq!(got, Err(DataFault::BareLineEnd));
        // A dot line after a bare LF inside a longer line is no end at all.
        let (end, _, _) = read_all(b"a\n.x\r\n", 1000);
        assert_eq!(end, None);
    }

    #[test]
    fn size_limit_counts_text_after_unstuffing() {
        let (_, _, got) = read_all(b"12345\r\n.\r\n", 7);
        assert_eq!(got.unwrap(), b"12345\r\n");
        let (end, _, got) = read_all(b"123456\r\n.\r\n", 7);
        assert_eq!(end, Some(Progress::End));
        assert_eq!(got, Err(DataFault::TooBig));
    }

    #[test]
    fn prefix_is_kept_and_a_dropped_line_refuses() {
        let mut r = DataReader::new(b"Received: x\r\n".to_vec(), 100);
        assert_eq!(r.line(b"body\r\n"), Progress::More);
        assert_eq!(r.line(b".\r\n"), Progress::End);
        assert_eq!(r.finish().unwrap(), b"Received: x\r\nbody\r\n");
        let mut r = DataReader::new(Vec::new(), 100);
        r.line_too_long();
        r.line(b"x\r\n");
        assert_eq!(r.finish(), Err(DataFault::LineTooLong));
    }
}

//! The message content as sent after DATA (RFC 5321 section 4.1.1.4).
//!
//! SMTP lines end in CRLF, and the content ends with a line holding a single
//! dot; so every bare CR or LF becomes CRLF (section 2.3.8 forbids bare ones)
//! and every line that starts with a dot gets one more (section 4.5.2,
//! "transparency"). The receiver removes the extra dot again.

/// The message's size in octets after CRLF normalisation and whether it has
/// 8-bit octets: what SIZE= (RFC 1870) and BODY= (RFC 6152) declare.
pub(crate) fn measure(message: &[u8]) -> (usize, bool) {
    let mut size = 0;
    let mut eight_bit = false;
    let mut prev_cr = false;
    for &b in message {
        match b {
            b'\r' => size += 2,
            b'\n' if prev_cr => {}
            b'\n' => size += 2,
            _ => size += 1,
        }
        eight_bit |= b >= 0x80;
        prev_cr = b == b'\r';
    }
    if !message.is_empty() && !message.ends_with(b"\n") && !message.ends_with(b"\r") {
        size += 2;
    }
    (size, eight_bit)
}

/// Returns the bytes to write after the 354 reply: `message` with CRLF line
/// ends, dot-stuffed, ending in CRLF, followed by the terminating `.` line.
pub fn dot_stuff(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + message.len() / 50 + 8);
    let mut at_line_start = true;
    let mut i = 0;
    while i < message.len() {
        let b = message[i];
        match b {
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                // CRLF counts as one line end; a lone CR or LF as one too.
                if b == b'\r' && message.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stuff(s: &str) -> String {
        String::from_utf8(dot_stuff(s.as_bytes())).unwrap()
    }

    #[test]
    fn stuffs_leading_dots_and_terminates() {
        assert_eq!(
            stuff("a\r\n.b\r\n..c\r\n.\r\n"),
            "a\r\n..b\r\n...c\r\n..\r\n.\r\n"
        );
        assert_eq!(stuff(".start"), "..start\r\n.\r\n");
        assert_eq!(stuff("mid.dle\r\n"), "mid.dle\r\n.\r\n");
    }

    #[test]
    fn normalises_line_ends() {
        assert_eq!(stuff("a\nb\rc\r\nd"), "a\r\nb\r\nc\r\nd\r\n.\r\n");
        assert_eq!(stuff("a\n.\n"), "a\r\n..\r\n.\r\n");
        assert_eq!(stuff("a\r\r\nb"), "a\r\n\r\nb\r\n.\r\n");
        assert_eq!(stuff(""), ".\r\n");
    }

    #[test]
    fn measure_matches_normalised_size() {
        for s in ["", "a", "a\nb", "a\r\nb\r\n", "x\ry\n", "é\n"] {
            let (size, eight) = measure(s.as_bytes());
            let stuffed = stuff(s.replace("\n.", "\n").as_str());
            // The stuffed form minus the final ".\r\n" is the normalised size
            // when no line starts with a dot.
            assert_eq!(size, stuffed.len() - 3, "{s:?}");
            assert_eq!(eight, !s.is_ascii());
        }
    }

    proptest::proptest! {
        /// Undoing the transparency procedure gives back the normalised
        /// message, and no line of the output is a lone dot except the last.
        #[test]
        fn unstuffing_round_trips(lines in proptest::collection::vec("[.a-z ]{0,6}", 0..8), ending in 0usize..3) {
            let eol = ["\n", "\r\n", "\r"][ending];
            let msg = lines.join(eol);
            let out = stuff(&msg);
            proptest::prop_assert!(out.ends_with("\r\n.\r\n") || out == ".\r\n");
            let body = &out[..out.len() - 3];
            let mut back = Vec::new();
            for l in body.split_terminator("\r\n") {
                proptest::prop_assert_ne!(l, ".");
                back.push(l.strip_prefix('.').unwrap_or(l));
            }
            let expected: Vec<&str> = if msg.is_empty() { vec![] } else { lines.iter().map(String::as_str).collect() };
            // A trailing empty line from the join is absorbed by the final CRLF.
            let mut expected = expected;
            if expected.last() == Some(&"") && !msg.is_empty() {
                expected.pop();
            }
            proptest::prop_assert_eq!(back, expected);
        }
    }
}

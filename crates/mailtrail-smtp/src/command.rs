//! The commands the client sends (RFC 5321 section 4.1.1) and the ESMTP
//! parameters it attaches to them: SIZE (RFC 1870), BODY=8BITMIME (RFC 6152),
//! SMTPUTF8 (RFC 6531) and the DSN parameters RET, ENVID, NOTIFY and ORCPT
//! (RFC 3461 section 4).
//!
//! Every value written into a command line is checked or encoded here, so no
//! caller can smuggle a CR/LF into the protocol stream.

use std::fmt::Write as _;

use crate::Error;
use crate::extensions::Extensions;

/// Encodes `s` as RFC 3461 section 4 `xtext`: printable US-ASCII except `+`
/// and `=` stays as is, every other octet becomes `+XX` (upper-case hex).
/// Used for ENVID and ORCPT, which may hold characters that would otherwise
/// end the parameter (space) or the command (CR/LF).
pub fn xtext(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if (b'!'..=b'~').contains(&b) && b != b'+' && b != b'=' {
            out.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "+{b:02X}");
        }
    }
    out
}

/// Refuses a path that would break the command line: CR, LF, NUL, angle
/// brackets or spaces (RFC 5321 section 4.1.2 `Path` has none of them).
fn check_path(what: &'static str, s: &str) -> Result<(), Error> {
    if s.bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || b == b'<' || b == b'>')
    {
        return Err(Error::InvalidInput(what));
    }
    Ok(())
}

/// What a transaction needs to know about the message to pick parameters.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MessageTraits {
    /// Size in octets after CRLF normalisation (RFC 1870 section 3 asks for
    /// the size as transmitted, without dot-stuffing).
    pub size: usize,
    /// The body has octets above 127 (RFC 6152 BODY=8BITMIME).
    pub eight_bit: bool,
}

/// `MAIL FROM:<return-path>` with the parameters the server offered
/// (RFC 5321 section 4.1.1.2). An empty return path is the null sender `<>`
/// used for bounces and receipts (section 4.5.5).
pub(crate) fn mail_from(
    return_path: &str,
    envid: Option<&str>,
    ext: &Extensions,
    msg: MessageTraits,
    utf8_addresses: bool,
) -> Result<String, Error> {
    check_path("return path", return_path)?;
    let mut cmd = format!("MAIL FROM:<{return_path}>");
    if ext.size.is_some() {
        let _ = write!(cmd, " SIZE={}", msg.size);
    }
    if msg.eight_bit && ext.eight_bit_mime {
        cmd.push_str(" BODY=8BITMIME");
    }
    if utf8_addresses && ext.smtputf8 {
        cmd.push_str(" SMTPUTF8");
    }
    if ext.dsn {
        // RFC 3461 section 4.3: RET=HDRS so a bounce carries the headers
        // (enough to correlate it) but not the whole body back.
        cmd.push_str(" RET=HDRS");
        if let Some(envid) = envid {
            // Section 4.4: ENVID is at most 100 characters of xtext.
            let enc = xtext(envid);
            if enc.len() > 100 {
                return Err(Error::InvalidInput(
                    "envid longer than 100 xtext characters",
                ));
            }
            let _ = write!(cmd, " ENVID={enc}");
        }
    }
    cmd.push_str("\r\n");
    Ok(cmd)
}

/// `RCPT TO:<addr>` (RFC 5321 section 4.1.1.3), asking for success, failure
/// and delay notifications and naming the original recipient when the server
/// offers DSN (RFC 3461 sections 4.1 and 4.2), so that every DSN that comes
/// back can be tied to this recipient.
pub(crate) fn rcpt_to(recipient: &str, ext: &Extensions) -> Result<String, Error> {
    check_path("recipient", recipient)?;
    let mut cmd = format!("RCPT TO:<{recipient}>");
    if ext.dsn {
        cmd.push_str(" NOTIFY=SUCCESS,FAILURE,DELAY");
        // ORCPT's rfc822 type is for ASCII addresses; a UTF-8 address would
        // need RFC 6533's utf-8-addr-xtext, which few servers know, so it is
        // left out rather than sent in a form the server may refuse.
        if recipient.is_ascii() {
            let _ = write!(cmd, " ORCPT=rfc822;{}", xtext(recipient));
        }
    }
    cmd.push_str("\r\n");
    Ok(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dsn_ext() -> Extensions {
        Extensions {
            dsn: true,
            size: Some(1000),
            eight_bit_mime: true,
            smtputf8: true,
            ..Extensions::default()
        }
    }

    #[test]
    fn xtext_encodes_rfc3461_specials() {
        assert_eq!(xtext("bob@example.test"), "bob@example.test");
        assert_eq!(xtext("a+b=c"), "a+2Bb+3Dc");
        assert_eq!(xtext("a b\r\n"), "a+20b+0D+0A");
        assert_eq!(xtext("é"), "+C3+A9");
        assert_eq!(xtext(""), "");
    }

    proptest::proptest! {
        #[test]
        fn xtext_output_is_always_safe_and_reversible(s in "\\PC{0,40}") {
            let enc = xtext(&s);
            proptest::prop_assert!(enc.bytes().all(|b| (b'!'..=b'~').contains(&b) && b != b'='));
            // Decode: +XX back to the octet.
            let mut out = Vec::new();
            let b = enc.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'+' {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            proptest::prop_assert_eq!(out, s.as_bytes());
        }
    }

    #[test]
    fn mail_from_with_dsn_and_size() {
        let m = MessageTraits {
            size: 1234,
            eight_bit: true,
        };
        let cmd = mail_from("bounces+t@b.test", Some("id 1+2"), &dsn_ext(), m, false).unwrap();
        assert_eq!(
            cmd,
            "MAIL FROM:<bounces+t@b.test> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=id+201+2B2\r\n"
        );
    }

    #[test]
    fn mail_from_plain_server_gets_no_parameters() {
        let m = MessageTraits {
            size: 10,
            eight_bit: true,
        };
        let cmd = mail_from("", Some("x"), &Extensions::default(), m, false).unwrap();
        assert_eq!(cmd, "MAIL FROM:<>\r\n");
    }

    #[test]
    fn rcpt_with_and_without_dsn() {
        assert_eq!(
            rcpt_to("bob@x.test", &dsn_ext()).unwrap(),
            "RCPT TO:<bob@x.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;bob@x.test\r\n"
        );
        assert_eq!(
            rcpt_to("a+b@x.test", &dsn_ext()).unwrap(),
            "RCPT TO:<a+b@x.test> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;a+2Bb@x.test\r\n"
        );
        assert_eq!(
            rcpt_to("bob@x.test", &Extensions::default()).unwrap(),
            "RCPT TO:<bob@x.test>\r\n"
        );
    }

    #[test]
    fn refuses_injection() {
        let m = MessageTraits {
            size: 1,
            eight_bit: false,
        };
        assert!(mail_from("a@b\r\nRCPT TO:<x@y>", None, &dsn_ext(), m, false).is_err());
        assert!(rcpt_to("a@b> NOTIFY=NEVER", &dsn_ext()).is_err());
        let long = "x".repeat(101);
        assert!(mail_from("a@b", Some(&long), &dsn_ext(), m, false).is_err());
    }
}

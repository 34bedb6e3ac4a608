//! What a server offers in its EHLO reply (RFC 5321 section 4.1.1.1): one
//! keyword per line after the first, with optional parameters.

use crate::reply::Reply;

/// SASL mechanisms the client can use (RFC 4954 section 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMechanism {
    /// RFC 4616: user and password in one base64 message.
    Plain,
    /// The widespread, never standardised LOGIN: user and password in two
    /// 334 round trips.
    Login,
}

/// The extensions mailtrail uses, as announced by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// STARTTLS (RFC 3207).
    pub starttls: bool,
    /// AUTH mechanisms offered that we know (RFC 4954), in our preference order.
    pub auth: Vec<AuthMechanism>,
    /// DSN (RFC 3461): NOTIFY, ORCPT, RET, ENVID parameters.
    pub dsn: bool,
    /// PIPELINING (RFC 2920).
    pub pipelining: bool,
    /// SIZE (RFC 1870) with the announced limit (0 means no fixed limit).
    pub size: Option<u64>,
    /// 8BITMIME (RFC 6152).
    pub eight_bit_mime: bool,
    /// SMTPUTF8 (RFC 6531).
    pub smtputf8: bool,
    /// ENHANCEDSTATUSCODES (RFC 2034).
    pub enhanced_status_codes: bool,
}

impl Extensions {
    /// Reads the EHLO reply: the first line is the server's name and
    /// greeting, each further line an `ehlo-keyword` and its parameters.
    /// Keywords are case-insensitive (RFC 5321 section 2.4). The old
    /// `AUTH=LOGIN` form some servers still send is understood too.
    pub fn from_ehlo(reply: &Reply) -> Self {
        let mut ext = Extensions::default();
        let mut plain = false;
        let mut login = false;
        for line in reply.lines().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            let mut auth_words = |words: &mut dyn Iterator<Item = &str>| {
                for m in words {
                    match m.to_ascii_uppercase().as_str() {
                        "PLAIN" => plain = true,
                        "LOGIN" => login = true,
                        _ => {}
                    }
                }
            };
            match keyword.as_str() {
                "STARTTLS" => ext.starttls = true,
                "DSN" => ext.dsn = true,
                "PIPELINING" => ext.pipelining = true,
                "8BITMIME" => ext.eight_bit_mime = true,
                "SMTPUTF8" => ext.smtputf8 = true,
                "ENHANCEDSTATUSCODES" => ext.enhanced_status_codes = true,
                "SIZE" => {
                    ext.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0));
                }
                "AUTH" => auth_words(&mut words),
                k if k.starts_with("AUTH=") => {
                    let first = line.split_ascii_whitespace().next().unwrap_or("");
                    let mut all = std::iter::once(&first[5..]).chain(words);
                    auth_words(&mut all);
                }
                _ => {}
            }
        }
        if plain {
            ext.auth.push(AuthMechanism::Plain);
        }
        if login {
            ext.auth.push(AuthMechanism::Login);
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ehlo(s: &str) -> Extensions {
        let (r, _) = Reply::parse(s.as_bytes()).unwrap();
        Extensions::from_ehlo(&r)
    }

    #[test]
    fn postfix_style_ehlo() {
        let e = ehlo(
            "250-mx.example.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ETRN\r\n\
             250-STARTTLS\r\n250-AUTH LOGIN PLAIN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n\
             250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n",
        );
        assert!(e.starttls && e.dsn && e.pipelining && e.eight_bit_mime && e.smtputf8);
        assert!(e.enhanced_status_codes);
        assert_eq!(e.size, Some(10_240_000));
        assert_eq!(e.auth, [AuthMechanism::Plain, AuthMechanism::Login]);
    }

    #[test]
    fn minimal_and_odd_forms() {
        let e = ehlo("250 only.a.name\r\n");
        assert_eq!(e, Extensions::default());
        let e = ehlo("250-x\r\n250-auth=login\r\n250-size\r\n250 dsn\r\n");
        assert_eq!(e.auth, [AuthMechanism::Login]);
        assert_eq!(e.size, Some(0));
        assert!(e.dsn);
        let e = ehlo("250-x\r\n250 AUTH CRAM-MD5 XOAUTH2\r\n");
        assert!(e.auth.is_empty());
    }
}

//! Composed copies are parsed back with mail-parser, the same parser the
//! inbound side uses, and checked header by header.

use super::*;
use mail_parser::{HeaderName, MessageParser, MimeHeaders};
use proptest::prelude::*;

fn addr(s: &str) -> EmailAddress {
    EmailAddress::parse(s).unwrap()
}

struct Fixture {
    id: MessageId,
    from: EmailAddress,
    reply_to: EmailAddress,
    to: Vec<EmailAddress>,
    cc: Vec<EmailAddress>,
    headers: Vec<(String, String)>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            id: MessageId::generate("mail.example"),
            from: addr("sender@mail.example"),
            reply_to: addr("replies@mail.example"),
            to: vec![addr("alice@a.example"), addr("bob@b.example")],
            cc: vec![addr("carol@c.example")],
            headers: vec![("X-Campaign".into(), "spring-2025".into())],
        }
    }

    fn draft(&self) -> Draft<'_> {
        Draft {
            message_id: &self.id,
            from: &self.from,
            from_name: Some("Sender Name"),
            reply_to: Some(&self.reply_to),
            to: &self.to,
            cc: &self.cc,
            subject: "Hello",
            text: Some("Hello in text\n"),
            html: Some("<p>Hello in <b>HTML</b></p>"),
            headers: &self.headers,
            attachments: &[],
            date: time::macros::datetime!(2025-03-01 12:34:56 UTC),
            read_receipt: false,
            list_unsubscribe: None,
        }
    }
}

fn raw_header<'a>(raw: &'a str, name: &str) -> Vec<&'a str> {
    let head = raw.split("\r\n\r\n").next().unwrap();
    head.split("\r\n")
        .filter(|line| {
            line.split_once(':')
                .is_some_and(|(n, _)| n.eq_ignore_ascii_case(name))
        })
        .collect()
}

#[test]
fn headers_round_trip() {
    let f = Fixture::new();
    let bytes = compose(&f.draft()).unwrap();
    let msg = MessageParser::new().parse(&bytes).unwrap();

    assert_eq!(msg.message_id(), Some(f.id.as_str()));
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Sender Name"));
    assert_eq!(from.address(), Some("sender@mail.example"));
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().address(),
        Some("replies@mail.example")
    );
    let to: Vec<_> = msg
        .to()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["alice@a.example", "bob@b.example"]);
    let cc: Vec<_> = msg
        .cc()
        .unwrap()
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(cc, ["carol@c.example"]);
    assert_eq!(msg.subject(), Some("Hello"));
    assert_eq!(
        msg.date().unwrap().to_timestamp(),
        f.draft().date.unix_timestamp()
    );
    assert_eq!(msg.header_raw("MIME-Version").map(str::trim), Some("1.0"));
    assert_eq!(
        msg.header_raw("X-Campaign").map(str::trim),
        Some("spring-2025")
    );
    let raw = std::str::from_utf8(&bytes).unwrap();
    assert_eq!(
        raw_header(raw, "Date"),
        ["Date: Sat, 1 Mar 2025 12:34:56 +0000"]
    );
    assert!(raw.contains("\r\n\r\n"), "CRLF line endings");
}

#[test]
fn message_id_is_the_same_in_every_copy_and_bcc_never_shows() {
    let f = Fixture::new();
    // The same draft serves the To recipients' copies and a Bcc recipient's
    // copy; only per-recipient parts (unsubscribe URL) differ.
    let mut first = f.draft();
    first.list_unsubscribe = Some(ListUnsubscribe {
        mailto: None,
        https: Some("https://t.example/u/one"),
    });
    let mut bcc_copy = f.draft();
    bcc_copy.list_unsubscribe = Some(ListUnsubscribe {
        mailto: None,
        https: Some("https://t.example/u/hidden"),
    });
    let a = compose(&first).unwrap();
    let b = compose(&bcc_copy).unwrap();
    let pa = MessageParser::new().parse(&a).unwrap();
    let pb = MessageParser::new().parse(&b).unwrap();
    assert_eq!(pa.message_id(), pb.message_id());
    assert_eq!(pa.message_id(), Some(f.id.as_str()));
    for (bytes, parsed) in [(&a, &pa), (&b, &pb)] {
        assert!(parsed.bcc().is_none());
        let raw = String::from_utf8_lossy(bytes).to_ascii_lowercase();
        assert!(!raw.contains("\nbcc:") && !raw.starts_with("bcc:"));
    }
    // The Bcc copy still shows the visible recipients.
    assert_eq!(pb.to().unwrap().iter().count(), 2);
}

#[test]
fn only_bcc_recipients_get_an_empty_group() {
    let f = Fixture::new();
    let mut d = f.draft();
    d.to = &[];
    d.cc = &[];
    let bytes = compose(&d).unwrap();
    let raw = std::str::from_utf8(&bytes).unwrap();
    let to = raw_header(raw, "To");
    assert_eq!(to.len(), 1, "{raw}");
    assert!(to[0].contains("undisclosed-recipients"), "{}", to[0]);
    assert!(to[0].ends_with(":;"), "{}", to[0]);
    assert!(raw_header(raw, "Cc").is_empty());
    let msg = MessageParser::new().parse(&bytes).unwrap();
    assert!(msg.to().unwrap().iter().all(|a| a.address().is_none()));
}

#[test]
fn read_receipt_header_only_when_asked() {
    let f = Fixture::new();
    let without = compose(&f.draft()).unwrap();
    let msg = MessageParser::new().parse(&without).unwrap();
    assert!(msg.header("Disposition-Notification-To").is_none());

    let mut d = f.draft();
    d.read_receipt = true;
    let with = compose(&d).unwrap();
    let msg = MessageParser::new().parse(&with).unwrap();
    assert_eq!(
        msg.header_raw("Disposition-Notification-To").map(str::trim),
        Some("<sender@mail.example>")
    );
    let raw = std::str::from_utf8(&with).unwrap();
    assert_eq!(
        raw_header(raw, "Disposition-Notification-To"),
        ["Disposition-Notification-To: <sender@mail.example>"]
    );
}

#[test]
fn body_structures() {
    let f = Fixture::new();

    let mut d = f.draft();
    d.html = None;
    let msg_bytes = compose(&d).unwrap();
    let msg = MessageParser::new().parse(&msg_bytes).unwrap();
    assert_eq!(msg.content_type().unwrap().ctype(), "text");
    assert_eq!(msg.content_type().unwrap().subtype(), Some("plain"));
    assert_eq!(msg.body_text(0).unwrap().trim_end(), "Hello in text");

    let mut d = f.draft();
    d.text = None;
    let msg_bytes = compose(&d).unwrap();
    let msg = MessageParser::new().parse(&msg_bytes).unwrap();
    assert_eq!(msg.content_type().unwrap().subtype(), Some("html"));

    let msg_bytes = compose(&f.draft()).unwrap();
    let msg = MessageParser::new().parse(&msg_bytes).unwrap();
    let ct = msg.content_type().unwrap();
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    // RFC 2046 section 5.1.4: the plain part first, the richest last.
    let sub: Vec<_> = msg.parts[1..]
        .iter()
        .map(|p| p.content_type().unwrap().subtype().unwrap().to_owned())
        .collect();
    assert_eq!(sub, ["plain", "html"]);
    assert!(msg.body_html(0).unwrap().contains("<b>HTML</b>"));
}

#[test]
fn attachments_make_multipart_mixed() {
    let f = Fixture::new();
    let pdf: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let attachments = [
        AttachmentRef {
            filename: "report.pdf",
            content_type: "application/PDF",
            content: &pdf,
        },
        AttachmentRef {
            filename: "données été.csv",
            content_type: "text/csv; charset=utf-8",
            content: "a,b\n1,2\n".as_bytes(),
        },
    ];
    let mut d = f.draft();
    d.attachments = &attachments;
    let bytes = compose(&d).unwrap();
    let msg = MessageParser::new().parse(&bytes).unwrap();
    let ct = msg.content_type().unwrap();
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
    let first = &msg.parts[1];
    assert_eq!(first.content_type().unwrap().subtype(), Some("alternative"));
    assert_eq!(msg.attachment_count(), 2);
    let a0 = msg.attachment(0).unwrap();
    assert_eq!(a0.attachment_name(), Some("report.pdf"));
    assert_eq!(a0.content_type().unwrap().subtype(), Some("pdf"));
    assert_eq!(a0.contents(), &pdf[..]);
    let a1 = msg.attachment(1).unwrap();
    assert_eq!(a1.attachment_name(), Some("données été.csv"));
    assert_eq!(
        a1.content_type().unwrap().attribute("charset"),
        Some("utf-8")
    );
    assert_eq!(
        String::from_utf8_lossy(a1.contents()).replace("\r\n", "\n"),
        "a,b\n1,2\n"
    );
    assert_eq!(msg.body_text(0).unwrap().trim_end(), "Hello in text");
}

#[test]
fn good_attachment_content_types_are_accepted() {
    for ct in [
        "application/pdf",
        "Text/CSV; charset=utf-8",
        "text/plain; charset=\"us-ascii\"; format=flowed",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "image/png;",
    ] {
        assert_eq!(validate_attachment("f", ct), Ok(()), "{ct:?}");
    }
}

#[test]
fn bad_attachment_content_types_are_refused() {
    let f = Fixture::new();
    for ct in [
        "pdf",
        "",
        "text/",
        "a b/c",
        "text/plain\r\nX-Evil: 1",
        "text/plain; x",
    ] {
        let attachments = [AttachmentRef {
            filename: "f",
            content_type: ct,
            content: b"x",
        }];
        let mut d = f.draft();
        d.attachments = &attachments;
        assert!(
            matches!(compose(&d), Err(MailError::InvalidContentType { .. })),
            "{ct:?}"
        );
        assert_eq!(
            validate_attachment("f", ct),
            Err(MailError::InvalidContentType {
                filename: "f".into(),
                content_type: ct.into()
            })
        );
    }
}

#[test]
fn non_ascii_subject_and_name_round_trip() {
    let f = Fixture::new();
    let mut d = f.draft();
    d.subject = "Réunion à 10h — 会議 🚀";
    d.from_name = Some("Zoë Ångström, \"Dev\"");
    let bytes = compose(&d).unwrap();
    assert!(bytes.is_ascii(), "headers are 7-bit, RFC 2047 encoded");
    let raw = std::str::from_utf8(&bytes).unwrap();
    assert!(raw_header(raw, "Subject")[0].contains("=?utf-8?"));
    let msg = MessageParser::new().parse(&bytes).unwrap();
    assert_eq!(msg.subject(), Some("Réunion à 10h — 会議 🚀"));
    assert_eq!(
        msg.from().unwrap().first().unwrap().name(),
        Some("Zoë Ångström, \"Dev\"")
    );
}

#[test]
fn ascii_name_with_specials_is_quoted() {
    let f = Fixture::new();
    let mut d = f.draft();
    d.from_name = Some("Doe, John <boss>");
    let bytes = compose(&d).unwrap();
    let msg = MessageParser::new().parse(&bytes).unwrap();
    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Doe, John <boss>"));
    assert_eq!(from.address(), Some("sender@mail.example"));
    assert_eq!(msg.from().unwrap().iter().count(), 1);
}

#[test]
fn subject_line_breaks_cannot_inject_headers() {
    let f = Fixture::new();
    let mut d = f.draft();
    d.subject = "Hi\r\nBcc: victim@evil.example\r\n\r\nbody";
    d.from_name = Some("Name\r\nX-Injected: yes");
    let bytes = compose(&d).unwrap();
    let msg = MessageParser::new().parse(&bytes).unwrap();
    assert!(msg.bcc().is_none());
    assert!(msg.header("X-Injected").is_none());
    assert_eq!(msg.subject(), Some("Hi Bcc: victim@evil.example body"));
}

#[test]
fn list_unsubscribe_headers() {
    let f = Fixture::new();
    let mut d = f.draft();
    d.list_unsubscribe = Some(ListUnsubscribe {
        mailto: Some("mailto:unsub@mail.example?subject=unsubscribe"),
        https: Some("https://t.example/u/TOKEN"),
    });
    let bytes = compose(&d).unwrap();
    let raw = std::str::from_utf8(&bytes).unwrap();
    let lu = MessageParser::new()
        .parse(&bytes)
        .unwrap()
        .header_raw("List-Unsubscribe")
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        lu,
        "<https://t.example/u/TOKEN>, <mailto:unsub@mail.example?subject=unsubscribe>"
    );
    assert_eq!(
        raw_header(raw, "List-Unsubscribe-Post"),
        ["List-Unsubscribe-Post: List-Unsubscribe=One-Click"]
    );

    // mailto only: no one-click promise (RFC 8058 section 3.1 needs HTTPS).
    d.list_unsubscribe = Some(ListUnsubscribe {
        mailto: Some("mailto:unsub@mail.example"),
        https: None,
    });
    let bytes = compose(&d).unwrap();
    let raw = std::str::from_utf8(&bytes).unwrap();
    assert_eq!(
        raw_header(raw, "List-Unsubscribe"),
        ["List-Unsubscribe: <mailto:unsub@mail.example>"]
    );
    assert!(raw_header(raw, "List-Unsubscribe-Post").is_empty());

    // Nothing given, nothing written.
    d.list_unsubscribe = Some(ListUnsubscribe::default());
    let raw = String::from_utf8(compose(&d).unwrap()).unwrap();
    assert!(raw_header(&raw, "List-Unsubscribe").is_empty());

    for (mailto, https) in [
        (None, Some("http://t.example/u")),
        (None, Some("https://t.example/a b")),
        (None, Some("https://t.example/>\r\nBcc: x@y.z")),
        (Some("unsub@mail.example"), None),
        (Some("mailto:"), None),
    ] {
        d.list_unsubscribe = Some(ListUnsubscribe { mailto, https });
        assert!(
            matches!(compose(&d), Err(MailError::InvalidUnsubscribeUrl { .. })),
            "{mailto:?} {https:?}"
        );
    }
}

#[test]
fn extra_headers_are_checked() {
    assert_eq!(validate_extra_header("X-Campaign", "spring"), Ok(()));
    assert_eq!(
        validate_extra_header("List-Id", "<news.mail.example>"),
        Ok(())
    );
    assert_eq!(validate_extra_header("X-Unicode", "café ☕"), Ok(()));
    assert_eq!(validate_extra_header("X-Tab", "a\tb"), Ok(()));

    for name in [
        "",
        "X Space",
        "X:Colon",
        "Ünïcode",
        "X-\u{7f}",
        &"X".repeat(77),
    ] {
        assert!(
            matches!(
                validate_extra_header(name, "v"),
                Err(MailError::InvalidHeaderName { .. })
            ),
            "{name:?}"
        );
    }
    for value in ["a\r\nBcc: x@y.z", "a\nb", "a\rb", "nul\0", "bell\u{7}"] {
        assert_eq!(
            validate_extra_header("X-Test", value),
            Err(MailError::HeaderInjection {
                name: "X-Test".into()
            }),
            "{value:?}"
        );
    }
    for name in [
        "From",
        "to",
        "CC",
        "bcc",
        "Subject",
        "date",
        "Message-Id",
        "Reply-To",
        "MIME-Version",
        "Content-Type",
        "content-transfer-encoding",
        "Disposition-Notification-To",
        "Return-Path",
        "DKIM-Signature",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "Received",
    ] {
        let err = validate_extra_header(name, "x").unwrap_err();
        assert_eq!(
            err,
            MailError::ReservedHeader {
                name: name.to_owned()
            }
        );
        assert!(err.to_string().contains(name), "{err}");
    }
    // Near misses are allowed.
    assert_eq!(validate_extra_header("X-From", "x"), Ok(()));
    assert_eq!(validate_extra_header("List-Id", "x"), Ok(()));
    assert_eq!(validate_extra_header("Contents", "x"), Ok(()));

    let long_word = "x".repeat(991);
    assert!(matches!(
        validate_extra_header("X-Long", &long_word),
        Err(MailError::HeaderTooLong { .. })
    ));
    let many_words = "word ".repeat(1000);
    assert_eq!(validate_extra_header("X-Long", &many_words), Ok(()));
}

#[test]
fn compose_refuses_bad_extra_headers() {
    let mut f = Fixture::new();
    f.headers = vec![("X-Evil".into(), "a\r\nBcc: victim@evil.example".into())];
    assert!(matches!(
        compose(&f.draft()),
        Err(MailError::HeaderInjection { .. })
    ));
    f.headers = vec![("Message-ID".into(), "<other@x>".into())];
    assert!(matches!(
        compose(&f.draft()),
        Err(MailError::ReservedHeader { .. })
    ));
}

#[test]
fn long_extra_header_is_folded_and_non_ascii_encoded() {
    let mut f = Fixture::new();
    let long = "word ".repeat(400);
    f.headers = vec![
        ("X-Long".into(), long.trim_end().to_owned()),
        ("X-Unicode".into(), "café ☕".into()),
    ];
    let bytes = compose(&f.draft()).unwrap();
    assert!(bytes.is_ascii());
    assert_lines_ok(&bytes);
    let msg = MessageParser::new()
        .header_text(HeaderName::Other("X-Unicode".into()))
        .parse(&bytes)
        .unwrap();
    assert_eq!(
        msg.header("X-Unicode").and_then(|v| v.as_text()),
        Some("café ☕")
    );
    let unfolded = msg
        .header_raw("X-Long")
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(unfolded, long.trim_end());
}

/// Every line ends in CRLF, is at most 998 octets (RFC 5322 section 2.1.1),
/// and the header section has no bare CR or LF.
fn assert_lines_ok(bytes: &[u8]) {
    let header_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header/body separator");
    let head = &bytes[..header_end + 2];
    for (i, &b) in head.iter().enumerate() {
        if b == b'\r' {
            assert_eq!(head.get(i + 1), Some(&b'\n'), "bare CR in headers");
        }
        if b == b'\n' {
            assert_eq!(
                head.get(i.wrapping_sub(1)),
                Some(&b'\r'),
                "bare LF in headers"
            );
        }
    }
    for line in bytes.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() <= 998, "line of {} octets", line.len());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_text_keeps_lines_short_and_headers_clean(
        subject in any::<String>(),
        long_subject in "[a-zA-Z0-9]{900,3000}",
        name in any::<String>(),
        text in any::<String>(),
        html_word in "[^ \\r\\n]{0,3000}",
        pick in 0u8..3,
    ) {
        let f = Fixture::new();
        let mut d = f.draft();
        d.subject = if pick == 0 { &long_subject } else { &subject };
        d.from_name = Some(&name);
        d.text = Some(&text);
        let html = format!("<p>{html_word}</p>\n{text}");
        d.html = if pick == 2 { None } else { Some(&html) };
        let bytes = compose(&d).unwrap();
        assert_lines_ok(&bytes);
        let msg = MessageParser::new().parse(&bytes).unwrap();
        prop_assert_eq!(msg.message_id(), Some(f.id.as_str()));
        prop_assert!(msg.bcc().is_none());
        // The subject survives, except that control characters became spaces.
        let expected = single_line(d.subject);
        prop_assert_eq!(msg.subject().unwrap_or("").trim(), expected.trim());
    }
}

#[test]
fn crlf_lines_turns_every_line_end_into_crlf() {
    assert!(matches!(crlf_lines("a\r\nb\r\n"), Cow::Borrowed(_)));
    assert_eq!(crlf_lines("a\rb\nc\r\nd\r"), "a\r\nb\r\nc\r\nd\r\n");
    assert_eq!(crlf_lines("\n\n\r\r\n"), "\r\n\r\n\r\n\r\n");
    assert_eq!(crlf_lines("é\rü"), "é\r\nü");
}

/// Every CR in `raw` is followed by LF and every LF preceded by CR.
fn no_bare_line_ends(raw: &[u8]) -> bool {
    raw.iter().enumerate().all(|(i, b)| match b {
        b'\r' => raw.get(i + 1) == Some(&b'\n'),
        b'\n' => i > 0 && raw[i - 1] == b'\r',
        _ => true,
    })
}

#[test]
fn a_bare_cr_or_lf_in_a_body_never_reaches_the_copy() {
    let f = Fixture::new();
    for (text, html) in [
        ("line one\rline two\nline three", "<p>a\rb</p>\n<p>c</p>"),
        ("only CR\r\r", "<p>x</p>\r"),
        ("8bit é\rü\n", "<p>é\rü</p>"),
    ] {
        let draft = Draft {
            text: Some(text),
            html: Some(html),
            ..f.draft()
        };
        let raw = compose(&draft).unwrap();
        assert!(no_bare_line_ends(&raw), "{}", String::from_utf8_lossy(&raw));
        let parsed = MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            parsed.body_text(0).unwrap().replace("\r\n", "\n"),
            crlf_lines(text).replace("\r\n", "\n")
        );
    }
}

proptest! {
    #[test]
    fn composed_copies_have_only_crlf_line_ends(text in "[a-z\r\n é]{0,200}", html in "[a-z<>/\r\n]{1,200}") {
        let f = Fixture::new();
        let draft = Draft { text: Some(&text), html: Some(&html), ..f.draft() };
        let raw = compose(&draft).unwrap();
        prop_assert!(no_bare_line_ends(&raw));
    }
}

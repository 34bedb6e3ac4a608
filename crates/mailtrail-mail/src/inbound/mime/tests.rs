//! The walk checked against mail-parser (`differential.rs`) on the corpus,
//! hand-made cases and random messages.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::differential::check;

const MULTI: &str = "From: a@example.org\r\nTo: b@example.net\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n--b1\r\n\
Content-Type: multipart/alternative; boundary=\"----=_alt\"\r\n\r\n------=_alt\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=E9 soft=\r\nbreak trailing   \r\n=3D=3d =ZZ =\r\n------=_alt\r\n\
Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<p>caf=C3=A9</p>=\r\n------=_alt--\r\n\r\n--b1\r\n\
Content-Type: message/rfc822\r\n\r\nFrom: c@example.com\r\nMessage-ID: <x@y>\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=\"in\"\r\n\r\n--in\r\n\
Content-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; d@example.com\r\n\r\n--in--\r\n\
\r\n--b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--b1\r\n\
Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
RnJvbTogZUBleGFtcGxlLm9yZw0KU3ViamVjdDogaGkNCg0KYm9keQ0K\r\n--b1--\r\nepilogue\r\n";

/// Inputs that take each path of the walk: mail-parser's recovery of
/// broken structures included.
fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("multi", MULTI.as_bytes().to_vec()),
        ("multi lf", MULTI.replace("\r\n", "\n").into_bytes()),
        ("empty", Vec::new()),
        ("no header", b"\n\nbody".to_vec()),
        ("headers only", b"From: a@b\r\nSubject: x".to_vec()),
        ("single qp", b"Content-Transfer-Encoding: quoted-printable\n\na=3Db==\nc\n".to_vec()),
        ("single b64 bad", b"Content-Transfer-Encoding: base64\n\naGVsbG8--x\n".to_vec()),
        (
            "missing close",
            b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/plain\n\nno end"
                .to_vec(),
        ),
        (
            "boundary never appears",
            b"Content-Type: multipart/mixed; boundary=q\n\nplain body\n".to_vec(),
        ),
        (
            "multipart without boundary",
            b"Content-Type: multipart/mixed\n\nbody\n".to_vec(),
        ),
        (
            "b64 dashes",
            b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: application/x\n\
Content-Transfer-Encoding: base64\n\naGVs\n---q\nContent-Type: text/plain\n\nx\n--q--\n"
                .to_vec(),
        ),
        (
            "qp soft break before boundary",
            b"Content-Type: multipart/mixed; boundary=q\n\n--q\n\
Content-Transfer-Encoding: quoted-printable\n\nabc=\n--q--\n"
                .to_vec(),
        ),
        (
            "qp problem html",
            b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: text/html\n\
Content-Transfer-Encoding: quoted-printable\n\n<b>=A\n=</b>\n--q--\n"
                .to_vec(),
        ),
        (
            // Found by the fuzzer: an ARF report mangled so that a multipart
            // ends while a message/rfc822 part is the current one, which
            // mail-parser then makes a multipart.
            "fuzzed arf",
            include_bytes!("fuzzed-arf.eml").to_vec(),
        ),
        (
            "qp html ending in one hex digit",
            b"Content-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<b>=A".to_vec(),
        ),
        (
            "inline message unclosed",
            b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: message/rfc822\n\n\
From: x@y\nContent-Type: multipart/mixed; boundary=r\n\n--r\n\nin\n"
                .to_vec(),
        ),
        (
            "digest",
            b"Content-Type: multipart/digest; boundary=d\n\n--d\n\nFrom: a@b\n\nm1\n--d\n\nFrom: c@d\n\nm2\n--d--\n"
                .to_vec(),
        ),
        (
            "empty nested message",
            b"Content-Type: multipart/mixed; boundary=q\n\n--q\nContent-Type: message/rfc822\n\n--q--\n"
                .to_vec(),
        ),
        (
            "charset",
            b"Content-Type: text/plain; charset=iso-2022-jp\n\n\x1b$B$3$s$K$A$O\x1b(B\n".to_vec(),
        ),
        (
            "ascii in latin-1",
            b"Content-Type: text/plain; charset=ISO-8859-1\n\nplain\n".to_vec(),
        ),
        (
            "header names",
            b": odd\n X-Sp ace : 1\nFROM: a@b\nno colon here\nSubject\n\nbody\n".to_vec(),
        ),
    ];
    // Address, subject and id fields written every way, plain (read
    // without mail-parser) or not.
    for from in [
        "bob@example.com",
        "  Bob Smith <bob@example.com>  ",
        "<bob@example.com>",
        "\"Mail Delivery System\" <MAILER-DAEMON@example.com>",
        "\"Smith, Bob (work)\" <bob@example.com>",
        "\"a@b.example\" <bob@example.com>",
        "\"Bob\" Smith <bob@example.com>",
        "Bob\r\n <bob@example.com>",
        "bob@x.example <bob@example.com>",
        "Bob <bob@example.com> trailing",
        "Bob <>",
        "<bob@example.com> <carol@example.com>",
        "bob@example.com (Bob)",
        "bob@example.com, carol@example.com",
        "\"Bob \\\" Smith\" <bob@example.com>",
        "=?utf-8?q?Bob?= <bob@example.com>",
        "\"=?utf-8?q?Bob?=\" <bob@example.com>",
        "bounces+a=b.example@example.com",
        "Bob <bob@example.com",
        "\"unterminated <bob@example.com>",
        "undisclosed-recipients:;",
        "Bob <böb@example.com>",
        "\"Böb\" <bob@example.com>",
        "MAILER-DAEMON",
        "MAILER-DAEMON@mx.example.org (Mail Delivery System)",
        "bob@example.com(Bob)",
        "bob@example.com (Bob (the) Smith)",
        "bob@example.com (Bob \\) x)",
        "bob@example.com (Böb, <b@c.example>: \"q\")",
        "bob@example.com (unclosed",
        "bob@example.com (c) trailing",
        "Bob <bob@example.com> (work)",
        "\"Bob\" bob@example.com (c)",
        "(c) bob@example.com",
        "<id@example.com>",
        "  <id@example.com>  ",
        "<id@example.com> <other@example.com>",
        "<>",
        "< id@example.com >",
        "id@example.com",
        "Re: =?utf-8?q?caf=C3=A9?= ok",
        "  Delivery Status Notification (Failure)  ",
        "",
        "\t",
    ] {
        let mut m = format!(
            "From: {from}\r\nTo: {from}\r\nSubject: {from}\r\nMessage-ID: {from}\r\n\r\nbody\r\n"
        )
        .into_bytes();
        v.push(("address field", m.clone()));
        m.retain(|&b| b != b'\r');
        v.push(("address field lf", m));
    }
    // Content-Type and Content-Disposition written every way, plain (read
    // without mail-parser) or not.
    for ct in [
        "text/plain",
        "Text/PLAIN; Charset=UTF-8",
        "text/plain; charset=\"iso-8859-1\"; format=flowed;",
        "multipart/mixed;\r\n\tboundary=\"----=_Part_1_2.3\"",
        "multipart/mixed;\n boundary=b1 ; x=y",
        "  multipart/report; report-type=delivery-status;\r\n boundary=\"A B\"",
        "attachment; filename=\"a; b (c).txt\"",
        "inline",
        "text/plain; charset=",
        "text/plain; charset=\"\"",
        "text/plain; name*=utf-8''a%20b",
        "text/plain; name*0=a; name*1=b",
        "text/plain; name==?utf-8?q?x?=",
        "text/plain (comment); charset=us-ascii",
        "text/plain; charset=\"a\\\"b\"",
        "text / plain",
        "text/plain charset=x",
        "text/plain;; x=1",
        "text/plain;\n\n x=1",
        "text/plain; x=\"unterminated",
        "text/plain; x=a b",
        "/plain",
        "text/",
        "text/pl\u{e4}in",
        "text/plain; x=\"\u{e4}\"",
    ] {
        let mut m =
            format!("Content-Type: {ct}\r\nContent-Disposition: {ct}\r\n\r\nbody\r\n--b1--\r\n")
                .into_bytes();
        v.push(("content type", m.clone()));
        m.retain(|&b| b != b'\r');
        v.push(("content type lf", m));
    }
    // Rules of dashes before a boundary that starts with dashes: more
    // `--` than the walk checks one by one before its searcher takes over,
    // and a near miss (`---=_b` is not `----=_b`) among them.
    let mut dashes = b"Content-Type: multipart/mixed; boundary=\"--=_b\"\n\n----=_b\n\n".to_vec();
    for _ in 0..40 {
        dashes.extend_from_slice(b"---=_b -- ----------\n");
    }
    dashes.extend_from_slice(b"end\n----=_b\n\nsecond\n----=_b--\n");
    v.push(("rules of dashes", dashes));
    // Every prefix of the multipart message: each way of being cut short.
    for cut in (0..MULTI.len()).step_by(7) {
        v.push(("multi cut", MULTI.as_bytes()[..cut].to_vec()));
    }
    v
}

/// The charsets read without their decoder when the text is ASCII decode
/// every ASCII byte to itself, in every context (each byte is also tried
/// after every other, as a decoder with state would see it).
#[test]
fn ascii_supersets_decode_ascii_to_itself() {
    let all: Vec<u8> = (0u8..128).collect();
    let pairs: Vec<u8> = (0u8..128)
        .flat_map(|a| (0u8..128).flat_map(move |b| [a, b]))
        .collect();
    for name in super::ASCII_SUPERSETS {
        let decoder = mail_parser::decoders::charsets::map::charset_decoder(name.as_bytes());
        let Some(decoder) = decoder else {
            continue;
        };
        for input in [&all, &pairs] {
            assert_eq!(
                decoder(input).as_bytes(),
                &input[..],
                "{name} changes ASCII"
            );
        }
    }
    // And the list is not vacuous.
    assert!(
        mail_parser::decoders::charsets::map::charset_decoder(b"iso-8859-1").is_some()
            && super::ascii_superset("ISO-8859-1")
    );
}

#[test]
fn walks_as_mail_parser_does() {
    for (what, raw) in cases() {
        check(&raw, what);
    }
}

fn corpus_files() -> Vec<PathBuf> {
    let dir = std::env::var_os("MAILTRAIL_CORPORA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora"));
    let bounces = dir.join("bounces");
    assert!(
        bounces.is_dir(),
        "corpus missing: {} (set MAILTRAIL_CORPORA to the shared/corpora folder)",
        bounces.display()
    );
    let mut out = Vec::new();
    let mut stack = vec![bounces];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("directory entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Every message of the bounce corpora, whole and cut short at a few
/// places (each cut breaks the structure somewhere else).
#[test]
fn walks_the_corpus_as_mail_parser_does() {
    let files = corpus_files();
    assert!(files.len() > 600, "corpus too small: {} files", files.len());
    for f in files {
        let raw = std::fs::read(&f).expect("corpus file");
        let raw = super::super::normalise_line_ends(&raw);
        let name = f.display().to_string();
        check(&raw, &name);
        for k in 1..4 {
            let cut = raw.len() * k / 4;
            check(&raw[..cut], &format!("{name} cut at {cut}"));
        }
    }
}

/// Every `Content-Type` of up to five pieces drawn from those that steer
/// mail-parser's parser: the plain reader and mail-parser agree on each
/// (the plain ones among them are read without mail-parser).
#[test]
fn reads_every_short_content_type_as_mail_parser_does() {
    const PIECES: &[&str] = &["text", "/", "Plain", ";", " ", "\n ", "x", "=", "\"", "*"];
    let mut plain = 0;
    let mut stack: Vec<usize> = Vec::new();
    loop {
        let v: String = stack.iter().map(|&k| PIECES[k]).collect();
        let raw = format!("Content-Type: {v}\n\nbody\n");
        check(raw.as_bytes(), "short content type");
        if super::plain_content_type(format!("{v}\n").as_bytes()).is_some() {
            plain += 1;
        }
        // Next combination, depth first.
        if stack.len() < 5 {
            stack.push(0);
            continue;
        }
        while let Some(k) = stack.pop() {
            if k + 1 < PIECES.len() {
                stack.push(k + 1);
                break;
            }
        }
        if stack.is_empty() {
            break;
        }
    }
    assert!(plain > 1000, "only {plain} plain values");
}

proptest! {
    // Each case takes microseconds; many edits reach many recovery paths.
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random edits of a message with every kind of part.
    #[test]
    fn walks_edited_messages_as_mail_parser_does(
        edits in proptest::collection::vec((0usize..2000, prop_oneof![
            Just(b'-'), Just(b'='), Just(b'\n'), Just(b'\r'), Just(b' '), Just(b'q'),
            Just(b'A'), Just(b':'), any::<u8>()
        ], any::<bool>()), 0..8)
    ) {
        let mut raw = MULTI.as_bytes().to_vec();
        for (at, byte, insert) in edits {
            let at = at % (raw.len() + 1);
            if insert || at == raw.len() {
                raw.insert(at, byte);
            } else {
                raw[at] = byte;
            }
        }
        check(&raw, "edited");
    }

    /// `Content-Type` and `Content-Disposition` fields made of the pieces
    /// that matter to mail-parser's parser: those read as plain must read
    /// as mail-parser reads them (the check compares every header), the
    /// others fall back.
    #[test]
    fn reads_content_types_as_mail_parser_does(
        value in proptest::collection::vec(prop_oneof![
            Just("text"), Just("Multipart"), Just("/"), Just("plain"), Just(";"), Just(" "),
            Just("\t"), Just("\r\n "), Just("\n\t"), Just("\n"), Just("charset"), Just("Name"),
            Just("="), Just("\""), Just("utf-8"), Just("b1"), Just("*"), Just("0"), Just("'"),
            Just("=?"), Just("?="), Just("("), Just(")"), Just("\\"), Just("\u{e4}"), Just("-_.+")
        ], 0..16)
    ) {
        let value = value.concat();
        let raw = format!(
            "Content-Type: {value}\nContent-Disposition: {value}\n\nbody\n"
        );
        check(raw.as_bytes(), "content type field");
    }

    /// `From` and `To` fields made of the bytes that matter to an address
    /// parser: those read as plain addresses must read as mail-parser
    /// reads them (the check compares them), the others fall back.
    #[test]
    fn reads_address_fields_as_mail_parser_does(
        value in proptest::collection::vec(prop_oneof![
            Just("a"), Just("b.c"), Just("@"), Just("<"), Just(">"), Just("\""), Just(" "),
            Just("\r\n "), Just("\n"), Just("("), Just(")"), Just(":"), Just(";"), Just(","),
            Just("=?"), Just("?="), Just("\\"), Just("\u{f6}"), Just("\t"), Just("=")
        ], 0..16)
    ) {
        let value = value.concat();
        let raw = format!(
            "From: {value}\nTo: {value}\nSubject: {value}\nMessage-ID: {value}\nList-Id: {value}\n\nbody\n"
        );
        check(raw.as_bytes(), "address field");
    }
}

/// The pieces MIME structure is made of, for messages assembled at random.
const PIECES: &[&str] = &[
    "\r\n",
    "\n",
    "\n\n",
    "--b1",
    "--b2",
    "--",
    "Content-Type: multipart/mixed; boundary=b1\n",
    "Content-Type: multipart/alternative; boundary=\"b2\"\n",
    "Content-Type: multipart/digest; boundary=b2\n",
    "Content-Type: message/rfc822\n",
    "Content-Type: message/delivery-status\n",
    "Content-Type: text/html; charset=utf-8\n",
    "Content-Type: text/plain; charset=iso-8859-1\n",
    "Content-Transfer-Encoding: quoted-printable\n",
    "Content-Transfer-Encoding: base64\n",
    "From: a@example.org\n",
    "Subject: =?utf-8?b?w6k=?=\n",
    "=",
    "=3D",
    "=A",
    "=\n",
    "aGVsbG8=",
    " ",
    "\t",
    "x",
    "caf\u{e9}",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Messages assembled at random from MIME's pieces.
    #[test]
    fn walks_assembled_messages_as_mail_parser_does(
        multipart in any::<bool>(),
        pieces in proptest::collection::vec(0..PIECES.len(), 0..80)
    ) {
        // Half of them start as a multipart, so that most reach its parts.
        let head = if multipart {
            "Content-Type: multipart/mixed; boundary=b1\n\n--b1\n"
        } else {
            ""
        };
        let raw: String = std::iter::once(head).chain(pieces.iter().map(|&i| PIECES[i])).collect();
        check(raw.as_bytes(), "assembled");
    }
}

//! Keys are generated fresh (OpenSSL's CLI for RSA and for the PKCS#8 shape
//! OpenSSL writes, ring for Ed25519) and every signature is checked with
//! mail-auth's verifier, with the DNS TXT record injected into its cache.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser as _;
use mail_auth::common::verify::DomainKey;
use mail_auth::{
    AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt,
};
use mailtrail_domain::{EmailAddress, MessageId};

use super::*;
use crate::compose::{Draft, ListUnsubscribe, compose};

/// Runs `openssl` with `args` and returns its standard output. OpenSSL's
/// CLI is only a test tool here; nothing links against libssl.
fn openssl(args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl command-line tool is needed to generate test keys");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// One RSA-2048 key per test run, in PKCS#8 PEM.
fn rsa_pkcs8() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        openssl(
            &[
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ],
            None,
        )
    })
}

/// The same key as PKCS#1 (`BEGIN RSA PRIVATE KEY`).
fn rsa_pkcs1() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| openssl(&["rsa", "-traditional"], Some(rsa_pkcs8())))
}

fn ed25519_openssl() -> &'static str {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| openssl(&["genpkey", "-algorithm", "ed25519"], None))
}

/// An Ed25519 PKCS#8 v2 key made by ring (through mail-auth), as PEM.
fn ed25519_ring() -> String {
    let der = Ed25519Key::generate_pkcs8().unwrap();
    pem("PRIVATE KEY", &der)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The public key as OpenSSL prints it, without the PEM armour: what an
/// administrator following RFC 6376 appendix C would publish.
fn openssl_public_b64(private_pem: &str) -> String {
    openssl(&["pkey", "-pubout"], Some(private_pem))
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

#[derive(Default)]
struct TxtCache(Mutex<HashMap<Box<str>, Txt>>);

impl ResolverCache<Box<str>, Txt> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        self.0.lock().unwrap().remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: Instant) {
        self.0.lock().unwrap().insert(key, value);
    }
}

/// Verifies `signed` with mail-auth, answering the key lookup for `signer`
/// with `record` instead of DNS.
async fn verify(signed: &[u8], signer: &Signer, record: &str) -> DkimResult {
    let cache = TxtCache::default();
    cache.insert(
        format!("{}.", signer.dns_name()).into_boxed_str(),
        Txt::from(DomainKey::parse(record.as_bytes()).unwrap()),
        Instant::now() + Duration::from_secs(3600),
    );
    let authenticator = MessageAuthenticator::new_cloudflare().unwrap();
    let message = AuthenticatedMessage::parse(signed).unwrap();
    let outputs = authenticator
        .verify_dkim(Parameters::new(&message).with_txt_cache(&cache))
        .await;
    assert_eq!(outputs.len(), 1, "one signature expected");
    outputs[0].result().clone()
}

fn composed() -> Vec<u8> {
    let id = MessageId::generate("mail.example");
    let from = EmailAddress::parse("sender@mail.example").unwrap();
    let to = [EmailAddress::parse("alice@a.example").unwrap()];
    let headers = [("X-Campaign".to_owned(), "spring".to_owned())];
    compose(&Draft {
        message_id: &id,
        from: &from,
        from_name: Some("Zoë Sender"),
        reply_to: None,
        to: &to,
        cc: &[],
        subject: "Signed — ünïcode",
        text: Some("Hello \nline with trailing space \n"),
        html: Some("<p>Hello</p>"),
        headers: &headers,
        attachments: &[],
        date: time::OffsetDateTime::now_utc(),
        read_receipt: true,
        list_unsubscribe: Some(ListUnsubscribe {
            mailto: Some("mailto:u@mail.example"),
            https: Some("https://t.example/u/abc"),
        }),
    })
    .unwrap()
}

fn signature_header(signed: &[u8]) -> String {
    let text = String::from_utf8_lossy(signed);
    let mut lines = text.split("\r\n");
    let mut header = lines.next().unwrap().to_owned();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            header.push_str(line);
        } else {
            break;
        }
    }
    header
}

#[tokio::test]
async fn rsa_pkcs8_and_pkcs1_sign_and_verify() {
    for key_pem in [rsa_pkcs8(), rsa_pkcs1()] {
        let key = DkimKey::from_pem(key_pem).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Rsa);
        let signer = Signer::new("Mail.Example.", "s2025", key).unwrap();
        assert_eq!(signer.domain(), "mail.example");
        assert_eq!(signer.dns_name(), "s2025._domainkey.mail.example");

        let message = composed();
        let signed = signer.sign(&message).unwrap();
        assert!(signed.ends_with(&message), "the message follows unchanged");
        let header = signature_header(&signed);
        assert!(
            header.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"),
            "{header}"
        );
        assert!(header.contains("d=mail.example") && header.contains("s=s2025"));
        assert!(header.contains("c=relaxed/relaxed"), "{header}");
        let h = header
            .split(';')
            .find_map(|t| t.trim().strip_prefix("h="))
            .unwrap()
            .to_ascii_lowercase()
            .replace([' ', '\t'], "");
        for name in [
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "mime-version",
            "content-type",
            "list-unsubscribe",
            "list-unsubscribe-post",
        ] {
            assert!(h.split(':').any(|n| n == name), "{name} not signed: {h}");
        }
        assert!(!h.split(':').any(|n| n == "x-campaign"));

        assert_eq!(
            verify(&signed, &signer, signer.dns_txt_record()).await,
            DkimResult::Pass
        );
    }
}

#[tokio::test]
async fn ed25519_keys_sign_and_verify() {
    for key_pem in [ed25519_openssl().to_owned(), ed25519_ring()] {
        let key = DkimKey::from_pem(&key_pem).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Ed25519);
        let record = key.dns_txt_record();
        assert!(record.starts_with("v=DKIM1; k=ed25519; p="), "{record}");
        let signer = Signer::new("mail.example", "ed", key).unwrap();
        let signed = signer.sign(&composed()).unwrap();
        assert!(signature_header(&signed).contains("a=ed25519-sha256"));
        assert_eq!(
            verify(&signed, &signer, signer.dns_txt_record()).await,
            DkimResult::Pass
        );
    }
}

#[tokio::test]
async fn tampering_and_wrong_keys_fail() {
    let signer = Signer::new("mail.example", "s", DkimKey::from_pem(rsa_pkcs8()).unwrap()).unwrap();
    let signed = signer.sign(&composed()).unwrap();

    let text = String::from_utf8(signed.clone()).unwrap();
    let tampered_body = text.replacen("Hello", "Jello", 1);
    let r = verify(tampered_body.as_bytes(), &signer, signer.dns_txt_record()).await;
    // mail-auth reports a body hash mismatch as neutral (RFC 6376 section
    // 3.7 step 4 leaves it to the verifier); either way it is not a pass.
    assert!(
        matches!(r, DkimResult::Fail(_) | DkimResult::Neutral(_)) && r != DkimResult::Pass,
        "{r:?}"
    );
    let tampered_header = text.replacen("X-Campaign: spring", "X-Campaign: autumn", 1);
    assert_eq!(
        verify(tampered_header.as_bytes(), &signer, signer.dns_txt_record()).await,
        DkimResult::Pass,
        "an unsigned header may change"
    );
    let tampered_subject = text.replacen("Subject: ", "Subject: Re: ", 1);
    assert!(matches!(
        verify(
            tampered_subject.as_bytes(),
            &signer,
            signer.dns_txt_record()
        )
        .await,
        DkimResult::Fail(_)
    ));

    let other = DkimKey::from_pem(&ed25519_ring()).unwrap();
    assert!(matches!(
        verify(&signed, &signer, &other.dns_txt_record()).await,
        DkimResult::Fail(_) | DkimResult::PermError(_) | DkimResult::Neutral(_)
    ));
}

#[tokio::test]
async fn relaxed_canonicalization_survives_refolding() {
    let signer = Signer::new(
        "mail.example",
        "ed",
        DkimKey::from_pem(ed25519_openssl()).unwrap(),
    )
    .unwrap();
    let signed = signer.sign(&composed()).unwrap();
    let text = String::from_utf8(signed).unwrap();
    // A relay that rewrites "Subject: x" as "Subject:   x" and pads a body
    // line with trailing spaces does not break a relaxed/relaxed signature
    // (RFC 6376 sections 3.4.2 and 3.4.4).
    let refolded =
        text.replacen("Subject: ", "Subject:   ", 1)
            .replacen("<p>Hello</p>", "<p>Hello</p>   ", 1);
    assert_ne!(refolded, text);
    assert_eq!(
        verify(refolded.as_bytes(), &signer, signer.dns_txt_record()).await,
        DkimResult::Pass
    );
}

#[test]
fn dns_record_matches_openssl_public_key() {
    let key = DkimKey::from_pem(rsa_pkcs1()).unwrap();
    let expected = format!("v=DKIM1; k=rsa; p={}", openssl_public_b64(rsa_pkcs8()));
    assert_eq!(key.dns_txt_record(), expected);

    // Ed25519: p= is the raw 32-byte key (RFC 8463 section 4.2), i.e. the
    // last 32 bytes of OpenSSL's SubjectPublicKeyInfo.
    let key = DkimKey::from_pem(ed25519_openssl()).unwrap();
    let spki = STANDARD
        .decode(openssl_public_b64(ed25519_openssl()))
        .unwrap();
    assert_eq!(spki.len(), 44);
    assert_eq!(
        key.dns_txt_record(),
        format!("v=DKIM1; k=ed25519; p={}", STANDARD.encode(&spki[12..]))
    );
}

#[test]
fn zone_line_splits_long_records() {
    let signer = Signer::new(
        "mail.example",
        "s1",
        DkimKey::from_pem(rsa_pkcs8()).unwrap(),
    )
    .unwrap();
    let line = signer.dns_zone_line();
    assert!(
        line.starts_with("s1._domainkey.mail.example. IN TXT ( \""),
        "{line}"
    );
    let strings: Vec<&str> = line
        .trim_end_matches(" )")
        .split('"')
        .skip(1)
        .step_by(2)
        .collect();
    assert!(strings.len() >= 2, "RSA-2048 needs two strings: {line}");
    assert!(strings.iter().all(|s| s.len() <= 255));
    assert_eq!(strings.concat(), signer.dns_txt_record());
}

#[test]
fn bad_keys_are_refused_with_a_reason() {
    let cases: Vec<(String, &str)> =
        vec![
        ("not a key".into(), "no RSA or PKCS#8 private key"),
        (
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .into(),
            "encrypted",
        ),
        (
            openssl(
                &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                None,
            ),
            "RSA or Ed25519",
        ),
        (
            openssl(
                &["ecparam", "-name", "prime256v1", "-genkey", "-noout"],
                None,
            ),
            "RSA or Ed25519",
        ),
        (pem("PRIVATE KEY", b"\x30\x03\x02\x01\x00"), "malformed"),
        (pem("RSA PRIVATE KEY", b"\x30\x03\x02\x01\x00"), "RSA key refused"),
    ];
    for (text, reason) in cases {
        match DkimKey::from_pem(&text) {
            Err(MailError::InvalidKey(msg)) => assert!(msg.contains(reason), "{msg} / {reason}"),
            other => panic!("expected a key error for {text:?}, got {other:?}"),
        }
    }
}

#[test]
fn signer_checks_domain_and_selector() {
    for (domain, selector) in [
        ("", "s"),
        ("mail.example", ""),
        ("mail example", "s"),
        ("mail.example", "s; d=evil.example"),
        ("mail..example", "s"),
    ] {
        let key = DkimKey::from_pem(&ed25519_ring()).unwrap();
        assert!(
            matches!(
                Signer::new(domain, selector, key),
                Err(MailError::InvalidDkimName { .. })
            ),
            "{domain:?} {selector:?}"
        );
    }
}

#[test]
fn signing_needs_a_from_header() {
    // RFC 6376 section 5.4: From MUST be signed, so a message without one
    // cannot get a valid signature.
    let signer = Signer::new(
        "mail.example",
        "s",
        DkimKey::from_pem(&ed25519_ring()).unwrap(),
    )
    .unwrap();
    let r = signer.sign(b"X-Only: this\r\n\r\nbody\r\n");
    assert!(
        matches!(r, Err(MailError::Signing(_))),
        "{:?}",
        r.map(String::from_utf8)
    );
}

#[test]
fn signer_is_shareable_and_debug_hides_the_key() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Signer>();
    let key = DkimKey::from_pem(rsa_pkcs8()).unwrap();
    let shown = format!("{key:?}");
    assert!(
        shown.contains("redacted") && !shown.contains("MII"),
        "{shown}"
    );
}

#[test]
fn der_reader_refuses_truncated_input() {
    assert_eq!(der_tlv(&[]), None);
    assert_eq!(der_tlv(&[0x30]), None);
    assert_eq!(der_tlv(&[0x30, 0x05, 0x00]), None);
    assert_eq!(der_tlv(&[0x30, 0x85, 1, 2, 3, 4, 5]), None);
    assert_eq!(
        der_tlv(&[0x02, 0x01, 0x07, 0xff]),
        Some((0x02, &[0x07][..], &[0xff][..]))
    );
    assert_eq!(pkcs8_algorithm(&[0x30, 0x00]), None);
}

/// The signature covers the instrumented copy: the body is rewritten per
/// recipient before signing, so it verifies with the pixel and click URLs
/// in place (RFC 6376 section 5: sign the final form).
#[tokio::test]
async fn instrumented_copy_verifies() {
    use crate::instrument::{Fill, HtmlTemplate, Options, TextTemplate};
    let options = Options {
        track_opens: true,
        track_clicks: true,
        unsubscribe_prefix: Some("https://t.example/t/u/"),
    };
    let html = HtmlTemplate::prepare(
        r#"<html><body><p><a href="https://example.com/a?x=1&amp;y=2">a</a></p></body></html>"#,
        &options,
    )
    .unwrap()
    .render(&mut Fill {
        pixel: "https://t.example/t/o/PIXELTOKEN",
        unsubscribe: "https://t.example/t/u/UNSUBTOKEN",
        click: &mut |u: &str| Some(format!("https://t.example/t/c/{}", u.len())),
    });
    let text = TextTemplate::prepare("Read https://example.com/a.\n", &options)
        .render(&mut |u: &str| Some(format!("https://t.example/t/c/{}", u.len())));
    let id = MessageId::generate("mail.example");
    let from = EmailAddress::parse("sender@mail.example").unwrap();
    let to = [EmailAddress::parse("alice@a.example").unwrap()];
    let message = compose(&Draft {
        message_id: &id,
        from: &from,
        from_name: None,
        reply_to: None,
        to: &to,
        cc: &[],
        subject: "Tracked",
        text: Some(&text),
        html: Some(&html),
        headers: &[],
        attachments: &[],
        date: time::OffsetDateTime::now_utc(),
        read_receipt: false,
        list_unsubscribe: Some(ListUnsubscribe {
            mailto: Some("mailto:unsubscribe+abc@mail.example"),
            https: Some("https://t.example/t/u/UNSUBTOKEN"),
        }),
    })
    .unwrap();
    let raw = String::from_utf8_lossy(&message);
    assert!(
        raw.contains("t/o/PIXELTOKEN") && raw.contains("t/c/"),
        "{raw}"
    );
    let signer = Signer::new(
        "mail.example",
        "s1",
        DkimKey::from_pem(rsa_pkcs8()).unwrap(),
    )
    .unwrap();
    let signed = signer.sign(&message).unwrap();
    assert_eq!(
        verify(&signed, &signer, signer.dns_txt_record()).await,
        DkimResult::Pass
    );
}

#[tokio::test]
async fn generated_keys_of_both_kinds_sign_and_verify() {
    for algorithm in [KeyAlgorithm::Ed25519, KeyAlgorithm::Rsa] {
        let pem = DkimKey::generate_pem(algorithm).unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        let key = DkimKey::from_pem(&pem).unwrap();
        assert_eq!(key.algorithm(), algorithm);
        let record = key.dns_txt_record();
        assert!(record.starts_with(&format!("v=DKIM1; k={}; p=", algorithm.dns_name())));
        let signer = Signer::new("mail.example", "gen1", key).unwrap();
        let signed = signer.sign(&composed()).unwrap();
        assert_eq!(verify(&signed, &signer, &record).await, DkimResult::Pass);
        // Two generations never give the same key.
        assert_ne!(pem, DkimKey::generate_pem(algorithm).unwrap());
    }
    // An RSA-2048 public key (SubjectPublicKeyInfo) is 294 bytes, so its
    // record is longer than one 255-octet TXT string.
    let rsa = DkimKey::from_pem(&DkimKey::generate_pem(KeyAlgorithm::Rsa).unwrap()).unwrap();
    assert_eq!(rsa.public.len(), 294);
}

//! DKIM signing (RFC 6376) with RSA-SHA256 and Ed25519-SHA256 (RFC 8463).
//!
//! A [`Signer`] is built once from a PEM key at start-up and shared by every
//! worker: the key is parsed and checked once, and each [`Signer::sign`]
//! only canonicalizes, hashes and signs one copy (DESIGN.md section 7: "signs
//! DKIM once per copy").
//!
//! Signatures use relaxed/relaxed canonicalization (RFC 6376 section 3.4.2
//! and 3.4.4), which survives the header refolding and trailing-whitespace
//! changes that relays commonly make, and no `l=` body length, so nothing can
//! be appended to a signed body (RFC 6376 section 8.2).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::{Canonicalization, DkimSigner, Done};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::MailError;

/// The headers every signature covers (RFC 6376 section 5.4.1 lists From as
/// required and these as recommended). All of them appear in every `h=`
/// tag, present or not (see [`Signer::sign`]).
pub const SIGNED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Content-Type",
    "Reply-To",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017 appendix C), DER-encoded.
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// id-Ed25519, 1.3.101.112 (RFC 8410 section 3), DER-encoded.
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

/// The signature algorithm a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with SHA-256 (`a=rsa-sha256`, `k=rsa`).
    Rsa,
    /// Ed25519 with SHA-256 (`a=ed25519-sha256`, `k=ed25519`, RFC 8463).
    Ed25519,
}

impl KeyAlgorithm {
    /// The `k=` tag value of the DNS key record (RFC 6376 section 3.6.1).
    pub fn dns_name(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
        }
    }
}

enum PrivateKey {
    Rsa(RsaKey<Sha256>),
    Ed25519(Ed25519Key),
}

/// A parsed DKIM private key and its public half.
pub struct DkimKey {
    key: PrivateKey,
    /// What goes in `p=`: a DER SubjectPublicKeyInfo for RSA (what
    /// `openssl rsa -pubout` prints and what RFC 6376 appendix C publishes),
    /// the raw 32-byte key for Ed25519 (RFC 8463 section 4.2).
    public: Vec<u8>,
}

impl fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DkimKey")
            .field("algorithm", &self.algorithm())
            .field("private", &"[redacted]")
            .finish()
    }
}

impl DkimKey {
    /// Reads a PEM private key: RSA as PKCS#1 (`BEGIN RSA PRIVATE KEY`) or
    /// PKCS#8 (`BEGIN PRIVATE KEY`), Ed25519 as PKCS#8 (`BEGIN PRIVATE KEY`,
    /// as `openssl genpkey -algorithm ed25519` writes it). The algorithm of
    /// a PKCS#8 key is read from its AlgorithmIdentifier (RFC 5208 section 5).
    pub fn from_pem(pem: &str) -> Result<Self, MailError> {
        if pem.contains("BEGIN ENCRYPTED PRIVATE KEY") || pem.contains("Proc-Type: 4,ENCRYPTED") {
            return Err(MailError::InvalidKey(
                "the key is encrypted; decrypt it first (openssl pkey -in KEY -out PLAIN)".into(),
            ));
        }
        let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
            MailError::InvalidKey(format!(
                "no RSA or PKCS#8 private key found in the PEM text ({e})"
            ))
        })?;
        match der {
            PrivateKeyDer::Pkcs1(_) => Self::rsa(der),
            PrivateKeyDer::Pkcs8(ref pkcs8) => match pkcs8_algorithm(pkcs8.secret_pkcs8_der()) {
                Some(oid) if oid == OID_RSA => Self::rsa(der),
                Some(oid) if oid == OID_ED25519 => Self::ed25519(pkcs8),
                Some(_) => Err(MailError::InvalidKey(
                    "unsupported key algorithm; DKIM keys must be RSA or Ed25519".into(),
                )),
                None => Err(MailError::InvalidKey("malformed PKCS#8 structure".into())),
            },
            _ => Err(MailError::InvalidKey(
                "EC (SEC1) keys cannot sign DKIM; use RSA or Ed25519".into(),
            )),
        }
    }

    /// Generates a new private key for `algorithm` and returns it as PKCS#8
    /// PEM (`BEGIN PRIVATE KEY`, RFC 5958 / RFC 7468 section 10), the form
    /// [`DkimKey::from_pem`] reads back.
    ///
    /// Ed25519 keys come from ring (RFC 8032, RFC 8463). ring cannot make
    /// RSA keys, so RSA-2048 keys (RFC 8301 section 3.2: at least 1024 bits,
    /// 2048 recommended) come from the RustCrypto `rsa` crate; signing stays
    /// with ring either way.
    pub fn generate_pem(algorithm: KeyAlgorithm) -> Result<String, MailError> {
        let der = match algorithm {
            KeyAlgorithm::Ed25519 => {
                let rng = ring::rand::SystemRandom::new();
                ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
                    .map_err(|e| MailError::InvalidKey(format!("Ed25519 key generation: {e}")))?
                    .as_ref()
                    .to_vec()
            }
            KeyAlgorithm::Rsa => {
                use rsa::pkcs8::EncodePrivateKey as _;
                let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
                    .map_err(|e| MailError::InvalidKey(format!("RSA key generation: {e}")))?;
                key.to_pkcs8_der()
                    .map_err(|e| MailError::InvalidKey(format!("RSA key encoding: {e}")))?
                    .as_bytes()
                    .to_vec()
            }
        };
        let b64 = STANDARD.encode(&der);
        let mut pem = String::with_capacity(b64.len() + 80);
        pem.push_str("-----BEGIN PRIVATE KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(line));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        Ok(pem)
    }

    fn rsa(der: PrivateKeyDer<'_>) -> Result<Self, MailError> {
        let key = RsaKey::<Sha256>::from_key_der(der)
            .map_err(|e| MailError::InvalidKey(format!("RSA key refused: {e}")))?;
        let public = rsa_spki(&key.public_key());
        Ok(Self {
            key: PrivateKey::Rsa(key),
            public,
        })
    }

    fn ed25519(der: &PrivatePkcs8KeyDer<'_>) -> Result<Self, MailError> {
        // "maybe unchecked" accepts PKCS#8 v1, which carries no public key
        // (what OpenSSL writes); ring derives the public key from the seed.
        let key = Ed25519Key::from_pkcs8_maybe_unchecked_der(der.secret_pkcs8_der())
            .map_err(|e| MailError::InvalidKey(format!("Ed25519 key refused: {e}")))?;
        let public = key.public_key();
        Ok(Self {
            key: PrivateKey::Ed25519(key),
            public,
        })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match self.key {
            PrivateKey::Rsa(_) => KeyAlgorithm::Rsa,
            PrivateKey::Ed25519(_) => KeyAlgorithm::Ed25519,
        }
    }

    /// The value of the DNS TXT record to publish at
    /// `<selector>._domainkey.<domain>` (RFC 6376 section 3.6.1), e.g.
    /// `v=DKIM1; k=rsa; p=MIIBIjANBg...`.
    pub fn dns_txt_record(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm().dns_name(),
            STANDARD.encode(&self.public)
        )
    }
}

enum Inner {
    Rsa(DkimSigner<RsaKey<Sha256>, Done>),
    Ed25519(DkimSigner<Ed25519Key, Done>),
}

/// Signs copies for one `d=` domain and selector; build once, share (it is
/// `Send + Sync`), sign many.
pub struct Signer {
    inner: Inner,
    domain: String,
    selector: String,
    algorithm: KeyAlgorithm,
    txt: String,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `d=domain`, `s=selector` (RFC 6376 section 3.5). Both
    /// must be dot-separated labels of letters, digits, `-` and `_`
    /// (section 3.1: selectors are sub-domains; they are also written into
    /// the header unquoted, so nothing else may appear in them).
    pub fn new(domain: &str, selector: &str, key: DkimKey) -> Result<Self, MailError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let selector = selector.trim().to_ascii_lowercase();
        check_dns_name("domain", &domain)?;
        check_dns_name("selector", &selector)?;
        let txt = key.dns_txt_record();
        let algorithm = key.algorithm();
        let inner = match key.key {
            PrivateKey::Rsa(k) => Inner::Rsa(
                DkimSigner::from_key(k)
                    .domain(domain.clone())
                    .selector(selector.clone())
                    .headers(SIGNED_HEADERS.iter().copied())
                    .header_canonicalization(Canonicalization::Relaxed)
                    .body_canonicalization(Canonicalization::Relaxed),
            ),
            PrivateKey::Ed25519(k) => Inner::Ed25519(
                DkimSigner::from_key(k)
                    .domain(domain.clone())
                    .selector(selector.clone())
                    .headers(SIGNED_HEADERS.iter().copied())
                    .header_canonicalization(Canonicalization::Relaxed)
                    .body_canonicalization(Canonicalization::Relaxed),
            ),
        };
        Ok(Self {
            inner,
            domain,
            selector,
            algorithm,
            txt,
        })
    }

    /// Signs `message` (RFC 5322 bytes, CRLF line endings) and returns it
    /// with its `DKIM-Signature:` header prepended (RFC 6376 section 5.6).
    ///
    /// The `h=` tag lists every name in [`SIGNED_HEADERS`], present or not:
    /// naming an absent header "oversigns" it, so nobody can add, say, a Cc
    /// or Reply-To later without breaking the signature (RFC 6376 section
    /// 5.4.2).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, MailError> {
        if !has_from_header(message) {
            // RFC 6376 section 5.4: the From header MUST be signed.
            return Err(MailError::Signing("the message has no From header".into()));
        }
        let signature = match &self.inner {
            Inner::Rsa(s) => s.sign(message),
            Inner::Ed25519(s) => s.sign(message),
        }
        .map_err(|e| MailError::Signing(e.to_string()))?;
        let mut out = Vec::with_capacity(message.len() + 640);
        signature.write_header(&mut out);
        out.extend_from_slice(message);
        Ok(out)
    }

    /// The signing domain (`d=`), lower-case.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The selector (`s=`), lower-case.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Where the public key must be published:
    /// `<selector>._domainkey.<domain>` (RFC 6376 section 3.6.2.1).
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record value to publish at [`Signer::dns_name`].
    pub fn dns_txt_record(&self) -> &str {
        &self.txt
    }

    /// A zone-file line for the record, with the value split into quoted
    /// strings of at most 255 octets, the limit of one TXT character-string
    /// (RFC 1035 section 3.3; RFC 6376 section 3.6.2.2 says a verifier
    /// concatenates them). RSA-2048 records need two strings.
    pub fn dns_zone_line(&self) -> String {
        let strings: Vec<String> = self
            .txt
            .as_bytes()
            .chunks(255)
            .map(|chunk| format!("\"{}\"", String::from_utf8_lossy(chunk)))
            .collect();
        format!("{}. IN TXT ( {} )", self.dns_name(), strings.join(" "))
    }
}

/// Whether the header section (up to the first empty line) has a `From:`
/// field (RFC 5322 section 2.2: a name, optional WSP, then a colon).
fn has_from_header(message: &[u8]) -> bool {
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return false;
        }
        if let Some(name) = line.get(..4)
            && name.eq_ignore_ascii_case(b"from")
            && line[4..]
                .iter()
                .find(|&&b| b != b' ' && b != b'\t')
                .is_some_and(|&b| b == b':')
        {
            return true;
        }
    }
    false
}

fn check_dns_name(what: &'static str, value: &str) -> Result<(), MailError> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(MailError::InvalidDkimName {
            what,
            value: value.chars().take(100).collect(),
        })
    }
}

/// One DER TLV: (tag, contents, rest). Only definite lengths, as DER requires
/// (X.690 section 10.1).
pub(crate) fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let (bytes, rest) = rest.split_at(n);
        (
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b)),
            rest,
        )
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// The algorithm OID of a PKCS#8 PrivateKeyInfo:
/// `SEQUENCE { INTEGER version, SEQUENCE { OID algorithm, ... }, ... }`.
fn pkcs8_algorithm(der: &[u8]) -> Option<&[u8]> {
    let (0x30, info, _) = der_tlv(der)? else {
        return None;
    };
    let (0x02, _, rest) = der_tlv(info)? else {
        return None;
    };
    let (0x30, algorithm, _) = der_tlv(rest)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(algorithm)? else {
        return None;
    };
    Some(oid)
}

fn der_header(tag: u8, len: usize, out: &mut Vec<u8>) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Wraps a PKCS#1 RSAPublicKey in a SubjectPublicKeyInfo (RFC 5280 section
/// 4.1.2.7) with the rsaEncryption algorithm and NULL parameters (RFC 3279
/// section 2.3.1).
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    let mut algorithm = Vec::with_capacity(15);
    der_header(0x06, OID_RSA.len(), &mut algorithm);
    algorithm.extend_from_slice(OID_RSA);
    algorithm.extend_from_slice(&[0x05, 0x00]);

    let mut body = Vec::with_capacity(pkcs1.len() + 32);
    der_header(0x30, algorithm.len(), &mut body);
    body.extend_from_slice(&algorithm);
    der_header(0x03, pkcs1.len() + 1, &mut body);
    body.push(0x00); // no unused bits
    body.extend_from_slice(pkcs1);

    let mut out = Vec::with_capacity(body.len() + 4);
    der_header(0x30, body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

#[cfg(test)]
mod tests;

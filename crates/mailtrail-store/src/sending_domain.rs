//! An organisation's sending domains and their DKIM keys (RFC 6376).

use std::fmt;

use time::OffsetDateTime;
use uuid::Uuid;

/// A DKIM private key in PKCS#8 PEM. A secret: it never prints (its
/// `Debug` is redacted and it has no `Display` or `Serialize`), so it cannot
/// reach a log line, a page or an API answer by accident; only the worker
/// reads it, through [`PrivateKeyPem::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Wraps a PEM text.
    pub fn new(pem: String) -> Self {
        Self(pem)
    }

    /// The PEM text, for building a signer.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKeyPem([redacted])")
    }
}

/// A sending domain to add.
#[derive(Debug, Clone)]
pub struct NewSendingDomain {
    /// Id (UUIDv7).
    pub id: Uuid,
    /// The organisation.
    pub org_id: Uuid,
    /// The domain, lower-case (the `d=` tag and the From domain it signs).
    pub domain: String,
    /// The selector, lower-case (`s=`).
    pub selector: String,
    /// `rsa` or `ed25519` (the record's `k=` tag).
    pub algorithm: String,
    /// The private key.
    pub private_key: PrivateKeyPem,
    /// The TXT record value to publish at
    /// `<selector>._domainkey.<domain>` (RFC 6376 section 3.6.1).
    pub dns_record: String,
    /// When added.
    pub created_at: OffsetDateTime,
}

/// A stored sending domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingDomain {
    /// Id.
    pub id: Uuid,
    /// The organisation.
    pub org_id: Uuid,
    /// The domain, lower-case.
    pub domain: String,
    /// The selector, lower-case.
    pub selector: String,
    /// `rsa` or `ed25519`.
    pub algorithm: String,
    /// The private key.
    pub private_key: PrivateKeyPem,
    /// The TXT record value to publish.
    pub dns_record: String,
    /// When added.
    pub created_at: OffsetDateTime,
}

impl SendingDomain {
    /// Where the record is published: `<selector>._domainkey.<domain>`
    /// (RFC 6376 section 3.6.2.1).
    pub fn dns_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }
}

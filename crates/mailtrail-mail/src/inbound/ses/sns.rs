//! Amazon SNS message signatures, for an HTTP(S) subscription that
//! receives SES notifications: the JSON SNS posts is signed with the key
//! of the certificate its `SigningCertURL` names (SNS Developer Guide,
//! "Verifying the signatures of Amazon SNS messages"). The certificate is
//! configured, not fetched: a message names where its certificate is, and
//! a forged message would name the forger's.
//!
//! The string signed is `Name\nvalue\n` for each field, in this order:
//! `Message`, `MessageId`, `Subject` (only when present), `Timestamp`,
//! `TopicArn`, `Type` for a notification; `Message`, `MessageId`,
//! `SubscribeURL`, `Timestamp`, `Token`, `TopicArn`, `Type` for a
//! subscription or unsubscription confirmation. `SignatureVersion` 1 signs
//! it with RSA PKCS #1 v1.5 over SHA-1, version 2 over SHA-256.

use base64::Engine;
use ring::signature;
use serde::Deserialize;

use crate::dkim::der_tlv;

/// Why a posted SNS message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnsError {
    /// The body is not SNS's JSON, or a field the signature covers is
    /// missing.
    #[error("not an SNS message: {0}")]
    Malformed(String),
    /// A `Type` SNS does not send.
    #[error("unknown SNS message type {0:?}")]
    UnknownType(String),
    /// `SignatureVersion` other than 1 or 2.
    #[error("unsupported SNS SignatureVersion {0:?}")]
    UnknownVersion(String),
    /// The configured certificate could not be read as a PEM X.509
    /// certificate with an RSA key.
    #[error("the SNS signing certificate is unusable: {0}")]
    Certificate(&'static str),
    /// The signature does not verify with the configured certificate.
    #[error("the SNS signature does not verify")]
    BadSignature,
}

/// A message whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsMessage {
    /// A notification.
    Notification {
        /// The topic it was published to (check it is the expected one).
        topic_arn: String,
        /// What was published: for SES, the notification JSON, which
        /// [`crate::inbound::classify`] reads as the body of a message.
        message: String,
    },
    /// SNS asks to confirm the subscription.
    SubscriptionConfirmation {
        /// The topic subscribed to.
        topic_arn: String,
        /// Visiting it confirms the subscription.
        subscribe_url: String,
    },
    /// SNS reports that the subscription was removed.
    UnsubscribeConfirmation {
        /// The topic unsubscribed from.
        topic_arn: String,
    },
}

#[derive(Deserialize)]
struct Posted {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
    #[serde(rename = "MessageId")]
    message_id: Option<String>,
    #[serde(rename = "Subject")]
    subject: Option<String>,
    #[serde(rename = "Timestamp")]
    timestamp: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    #[serde(rename = "Token")]
    token: Option<String>,
    #[serde(rename = "SignatureVersion")]
    signature_version: Option<String>,
    #[serde(rename = "Signature")]
    signature: Option<String>,
}

/// Verifies the SNS message `body` with the PEM certificate `cert_pem`
/// and returns what it says.
pub fn verify(body: &[u8], cert_pem: &str) -> Result<SnsMessage, SnsError> {
    let p: Posted = serde_json::from_slice(body).map_err(|e| SnsError::Malformed(e.to_string()))?;
    let field = |v: &Option<String>, name: &str| {
        v.clone()
            .ok_or_else(|| SnsError::Malformed(format!("{name} is missing")))
    };
    let kind = field(&p.kind, "Type")?;
    let names: &[&str] = match kind.as_str() {
        "Notification" => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        "SubscriptionConfirmation" | "UnsubscribeConfirmation" => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
        _ => return Err(SnsError::UnknownType(kind)),
    };
    let mut signed = String::new();
    for &name in names {
        let value = match name {
            "Message" => &p.message,
            "MessageId" => &p.message_id,
            "Subject" => &p.subject,
            "Timestamp" => &p.timestamp,
            "TopicArn" => &p.topic_arn,
            "SubscribeURL" => &p.subscribe_url,
            "Token" => &p.token,
            _ => &p.kind,
        };
        match value {
            Some(v) => {
                signed.push_str(name);
                signed.push('\n');
                signed.push_str(v);
                signed.push('\n');
            }
            None if name == "Subject" => {}
            None => return Err(SnsError::Malformed(format!("{name} is missing"))),
        }
    }
    let algorithm: &dyn signature::VerificationAlgorithm =
        match field(&p.signature_version, "SignatureVersion")?.as_str() {
            "1" => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            "2" => &signature::RSA_PKCS1_2048_8192_SHA256,
            v => return Err(SnsError::UnknownVersion(v.to_owned())),
        };
    let sig = base64::engine::general_purpose::STANDARD
        .decode(field(&p.signature, "Signature")?.trim())
        .map_err(|_| SnsError::Malformed("Signature is not base64".to_owned()))?;
    let key = rsa_public_key(cert_pem)?;
    signature::UnparsedPublicKey::new(algorithm, key)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| SnsError::BadSignature)?;
    let topic_arn = field(&p.topic_arn, "TopicArn")?;
    Ok(match kind.as_str() {
        "Notification" => SnsMessage::Notification {
            topic_arn,
            message: field(&p.message, "Message")?,
        },
        "SubscriptionConfirmation" => SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url: field(&p.subscribe_url, "SubscribeURL")?,
        },
        _ => SnsMessage::UnsubscribeConfirmation { topic_arn },
    })
}

/// Checks that `cert_pem` is a certificate [`verify`] can use, so that a
/// wrong file is refused when the server starts rather than at the first
/// notification.
pub fn check_certificate(cert_pem: &str) -> Result<(), SnsError> {
    rsa_public_key(cert_pem).map(drop)
}

/// The RSA public key (PKCS #1 `RSAPublicKey`, as ring takes it) of a PEM
/// X.509 certificate (RFC 5280 section 4.1: `Certificate { tbsCertificate
/// { [0] version, serialNumber, signature, issuer, validity, subject,
/// subjectPublicKeyInfo { algorithm, subjectPublicKey BIT STRING } ...`).
fn rsa_public_key(pem: &str) -> Result<Vec<u8>, SnsError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem
        .find(BEGIN)
        .ok_or(SnsError::Certificate("no PEM certificate"))?
        + BEGIN.len();
    let end = pem[start..]
        .find(END)
        .ok_or(SnsError::Certificate("no PEM certificate end"))?
        + start;
    let b64: String = pem[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| SnsError::Certificate("PEM body is not base64"))?;
    let bad = SnsError::Certificate("not an X.509 certificate");
    let (0x30, cert, _) = der_tlv(&der).ok_or(bad.clone())? else {
        return Err(bad);
    };
    let (0x30, tbs, _) = der_tlv(cert).ok_or(bad.clone())? else {
        return Err(bad);
    };
    let mut rest = tbs;
    // The optional explicit [0] version.
    if rest.first() == Some(&0xa0) {
        rest = der_tlv(rest).ok_or(bad.clone())?.2;
    }
    // serialNumber, signature, issuer, validity, subject.
    for _ in 0..5 {
        rest = der_tlv(rest).ok_or(bad.clone())?.2;
    }
    let (0x30, spki, _) = der_tlv(rest).ok_or(bad.clone())? else {
        return Err(bad);
    };
    let (0x30, algorithm, after) = der_tlv(spki).ok_or(bad.clone())? else {
        return Err(bad);
    };
    // rsaEncryption, 1.2.840.113549.1.1.1.
    const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    match der_tlv(algorithm) {
        Some((0x06, oid, _)) if oid == RSA => {}
        _ => return Err(SnsError::Certificate("the key is not an RSA key")),
    }
    let (0x03, bits, _) = der_tlv(after).ok_or(bad.clone())? else {
        return Err(bad);
    };
    match bits.split_first() {
        Some((0, key)) => Ok(key.to_vec()),
        _ => Err(bad),
    }
}

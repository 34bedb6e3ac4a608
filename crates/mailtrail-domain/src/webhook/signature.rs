//! Standard Webhooks signatures (the specification at
//! <https://www.standardwebhooks.com/>, "Signature scheme"): the secret is
//! `whsec_` followed by the base64 of the key; each request carries
//! `webhook-id`, `webhook-timestamp` (seconds since the epoch) and
//! `webhook-signature: v1,<base64 of HMAC-SHA256(key, "id.timestamp.body")>`
//! (several may be given, separated by spaces, during a key rotation).
//! Receivers verify with the specification's libraries unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// What every secret starts with (the specification's prefix).
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a new secret: the specification asks for 24 to 64.
const SECRET_BYTES: usize = 32;

/// The shortest key accepted when parsing a stored secret.
const MIN_SECRET_BYTES: usize = 24;

/// How far a `webhook-timestamp` may lie from the verifier's clock, either
/// way (the specification's libraries use five minutes): an older request
/// is a replay.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// Why a signature or a secret was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The secret is not `whsec_` and the base64 of at least 24 bytes.
    #[error("secret: not whsec_ followed by the base64 of at least {MIN_SECRET_BYTES} bytes")]
    InvalidSecret,
    /// The timestamp is not an integer.
    #[error("webhook-timestamp: not a number of seconds")]
    InvalidTimestamp,
    /// The timestamp lies more than [`TOLERANCE_SECS`] before or after now.
    #[error("webhook-timestamp: outside the tolerance of {TOLERANCE_SECS} seconds")]
    OutsideTolerance,
    /// No `v1` signature in the header matches.
    #[error("webhook-signature: no v1 signature matches")]
    NoMatch,
}

/// An endpoint's signing secret. It never prints: `Debug` shows
/// `[redacted]`; [`WebhookSecret::expose`] gives the `whsec_` form for the
/// one answer that shows it to its owner, and for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl WebhookSecret {
    /// A new secret of 32 random bytes from the operating system's
    /// generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let text = format!("{SECRET_PREFIX}{}", STANDARD.encode(&key));
        Self { text, key }
    }

    /// Reads a secret in the `whsec_` form.
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let b64 = text
            .strip_prefix(SECRET_PREFIX)
            .ok_or(SignatureError::InvalidSecret)?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| SignatureError::InvalidSecret)?;
        if key.len() < MIN_SECRET_BYTES {
            return Err(SignatureError::InvalidSecret);
        }
        Ok(Self {
            text: text.to_owned(),
            key,
        })
    }

    /// The `whsec_` form.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The `webhook-signature` value for a request: `v1,` and the base64
    /// of HMAC-SHA256 over `id.timestamp.body`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(id, timestamp, body)))
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        // HMAC takes a key of any length; `new_from_slice` cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return Vec::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }

    /// Checks a request as a receiver must: the timestamp within
    /// [`TOLERANCE_SECS`] of `now` (seconds), and one of the space-separated
    /// `v1,` signatures equal, in constant time and over its whole length,
    /// to the expected one. An empty `v1,` never matches (a comparison that
    /// stopped at the shorter side would accept it).
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let ts: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| SignatureError::InvalidTimestamp)?;
        if (now - ts).abs() > TOLERANCE_SECS {
            return Err(SignatureError::OutsideTolerance);
        }
        let expected = self.mac(id, ts, body);
        let matched = signatures
            .split(' ')
            .filter_map(|s| s.strip_prefix("v1,"))
            .filter_map(|b64| STANDARD.decode(b64).ok())
            .any(|given| given.len() == expected.len() && bool::from(given.ct_eq(&expected)));
        if matched {
            Ok(())
        } else {
            Err(SignatureError::NoMatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's published test vector (the Standard Webhooks
    /// and Svix libraries' `sign` tests).
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TS: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_published_test_vector() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        assert_eq!(
            secret.sign(VECTOR_ID, VECTOR_TS, VECTOR_BODY),
            VECTOR_SIGNATURE
        );
    }

    #[test]
    fn signs_the_reference_rust_library_vector() {
        // libraries/rust of the specification's repository, `test_sign`.
        let secret = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        assert_eq!(
            secret.sign(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn verifies_the_vector_and_one_of_several_signatures() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let ts = VECTOR_TS.to_string();
        secret
            .verify(VECTOR_ID, &ts, VECTOR_SIGNATURE, VECTOR_BODY, VECTOR_TS)
            .unwrap();
        let several = format!("v1,bm9wZQ== v2,abc {VECTOR_SIGNATURE}");
        secret
            .verify(VECTOR_ID, &ts, &several, VECTOR_BODY, VECTOR_TS + 10)
            .unwrap();
    }

    #[test]
    fn refuses_an_empty_v1_and_a_truncated_signature() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let ts = VECTOR_TS.to_string();
        for bad in [
            "v1,",
            "v1, ",
            "",
            "v1,g0hM9SsE",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
        ] {
            assert_eq!(
                secret.verify(VECTOR_ID, &ts, bad, VECTOR_BODY, VECTOR_TS),
                Err(SignatureError::NoMatch),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_a_changed_body_id_or_timestamp() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let ts = VECTOR_TS.to_string();
        let other_ts = (VECTOR_TS + 1).to_string();
        assert!(
            secret
                .verify(VECTOR_ID, &ts, VECTOR_SIGNATURE, b"{}", VECTOR_TS)
                .is_err()
        );
        assert!(
            secret
                .verify("msg_other", &ts, VECTOR_SIGNATURE, VECTOR_BODY, VECTOR_TS)
                .is_err()
        );
        assert!(
            secret
                .verify(
                    VECTOR_ID,
                    &other_ts,
                    VECTOR_SIGNATURE,
                    VECTOR_BODY,
                    VECTOR_TS
                )
                .is_err()
        );
    }

    #[test]
    fn refuses_a_timestamp_outside_the_tolerance() {
        let secret = WebhookSecret::parse(VECTOR_SECRET).unwrap();
        let ts = VECTOR_TS.to_string();
        for now in [
            VECTOR_TS + TOLERANCE_SECS + 1,
            VECTOR_TS - TOLERANCE_SECS - 1,
        ] {
            assert_eq!(
                secret.verify(VECTOR_ID, &ts, VECTOR_SIGNATURE, VECTOR_BODY, now),
                Err(SignatureError::OutsideTolerance)
            );
        }
        secret
            .verify(
                VECTOR_ID,
                &ts,
                VECTOR_SIGNATURE,
                VECTOR_BODY,
                VECTOR_TS + TOLERANCE_SECS,
            )
            .unwrap();
        assert_eq!(
            secret.verify(VECTOR_ID, "soon", VECTOR_SIGNATURE, VECTOR_BODY, VECTOR_TS),
            Err(SignatureError::InvalidTimestamp)
        );
    }

    #[test]
    fn generated_secrets_have_the_prefix_and_parse_back() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert!(a.expose().starts_with(SECRET_PREFIX));
        assert_ne!(a, b);
        assert_eq!(WebhookSecret::parse(a.expose()).unwrap(), a);
        assert_eq!(format!("{a:?}"), "[redacted]");
        let sig = a.sign("msg_1", 100, b"{}");
        a.verify("msg_1", "100", &sig, b"{}", 100).unwrap();
        assert!(b.verify("msg_1", "100", &sig, b"{}", 100).is_err());
    }

    #[test]
    fn refuses_malformed_secrets() {
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_c2hvcnQ=",
        ] {
            assert_eq!(
                WebhookSecret::parse(bad),
                Err(SignatureError::InvalidSecret),
                "{bad}"
            );
        }
    }
}

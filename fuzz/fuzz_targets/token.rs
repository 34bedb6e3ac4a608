//! Fuzzes tracking token decoding (`mailtrail_domain::token`): any string
//! offered as a URL token or a VERP address token, for any purpose, is
//! refused (no input forges an HMAC-SHA256), never panics; the payload
//! decoder takes any bytes; and a token signed over fuzzed bytes verifies
//! back to exactly what was signed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailtrail_domain::{Keyring, Purpose, TokenKey, TrackingPayload};
use time::OffsetDateTime;
use uuid::Uuid;

const PURPOSES: [Purpose; 6] = [
    Purpose::Open,
    Purpose::Click,
    Purpose::Unsubscribe,
    Purpose::Bounce,
    Purpose::Document,
    Purpose::SelfDevice,
];

fuzz_target!(|input: &[u8]| {
    let key = TokenKey::new(7, b"fuzzing-secret-0123456789abcdef", None).expect("key");
    let keyring = Keyring::new(vec![key]).expect("keyring");
    let now = OffsetDateTime::from_unix_timestamp(1_750_000_000).expect("time");
    let text = String::from_utf8_lossy(input);
    for purpose in PURPOSES {
        assert!(keyring.verify(&text, purpose, now).is_err(), "forged URL token");
        assert!(
            keyring.verify_address(&text, purpose, now).is_err(),
            "forged address token"
        );
    }
    if let Some(p) = TrackingPayload::decode(input) {
        let _ = p.encode();
    }
    // Round trip: what is signed verifies to itself, for its purpose only.
    let recipient = Uuid::from_u128(0x1234);
    if let Ok(token) = keyring.sign(recipient, Purpose::Click, input) {
        let claims = keyring
            .verify(&token, Purpose::Click, now)
            .expect("a fresh token verifies");
        assert_eq!(claims.payload, input);
        assert_eq!(claims.recipient, recipient);
        assert!(keyring.verify(&token, Purpose::Open, now).is_err());
    }
});

//! Tokens: signed, unguessable references to (recipient, purpose, link)
//! that are verified in memory, with no database read (DESIGN.md section 8).
//!
//! Layout before encoding:
//! `version(1) purpose(1) key_id(1) recipient(16) payload(..) mac(12)`,
//! where the MAC is HMAC-SHA256 over everything before it, truncated to 96
//! bits (RFC 2104 section 5 allows truncation to no less than 80 bits; a
//! forger must guess 2^96 values online, one request each). The payload is
//! the signed link for clicks. Keys rotate: a
//! [`Keyring`] signs with its newest key and accepts older ones until they
//! retire.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use uuid::Uuid;

const VERSION: u8 = 1;
const MAC_LEN: usize = 12;
const HEADER_LEN: usize = 3 + 16;
/// Longest signed link accepted (longer URLs are left untracked).
pub const MAX_PAYLOAD: usize = 4096;

/// What a token may be used for; a token of one purpose never verifies as
/// another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The open pixel.
    Open = 1,
    /// A tracked link; the payload is the URL.
    Click = 2,
    /// The unsubscribe page and one-click POST (RFC 8058).
    Unsubscribe = 3,
    /// The VERP return path: bounces come back to it.
    Bounce = 4,
    /// A tracked document.
    Document = 5,
    /// A "this is my device" link and the `mailtrail_self` cookie it sets:
    /// the signed id is the sender's organisation, and opens from that
    /// device are the sender's own.
    SelfDevice = 6,
}

impl Purpose {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Open,
            2 => Self::Click,
            3 => Self::Unsubscribe,
            4 => Self::Bounce,
            5 => Self::Document,
            6 => Self::SelfDevice,
            _ => return None,
        })
    }
}

/// One signing key.
#[derive(Clone)]
pub struct TokenKey {
    id: u8,
    secret: Vec<u8>,
    retires_at: Option<OffsetDateTime>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("retires_at", &self.retires_at)
            .finish()
    }
}

impl TokenKey {
    /// A key with an id (carried in every token it signs) and a secret of at
    /// least 16 bytes. `retires_at` stops verification after that time.
    pub fn new(
        id: u8,
        secret: &[u8],
        retires_at: Option<OffsetDateTime>,
    ) -> Result<Self, TokenError> {
        if secret.len() < 16 {
            return Err(TokenError::WeakKey);
        }
        Ok(Self {
            id,
            secret: secret.to_vec(),
            retires_at,
        })
    }

    fn mac(&self, data: &[u8]) -> [u8; MAC_LEN] {
        let mut m =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        m.update(data);
        let full = m.finalize().into_bytes();
        let mut out = [0u8; MAC_LEN];
        out.copy_from_slice(&full[..MAC_LEN]);
        out
    }
}

/// The keys in use: the first signs, all verify until retired.
#[derive(Clone, Debug)]
pub struct Keyring {
    keys: Vec<TokenKey>,
}

/// Why a token was not issued or did not verify. Tracking endpoints never
/// show this to a mail client; it is for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Secrets must have at least 128 bits.
    #[error("token key must be at least 16 bytes")]
    WeakKey,
    /// A keyring needs a key.
    #[error("keyring is empty")]
    NoKey,
    /// Not valid base64url / base32, or too short.
    #[error("malformed token")]
    Malformed,
    /// Signed by a key that is unknown or retired.
    #[error("unknown or retired key")]
    UnknownKey,
    /// The MAC does not match.
    #[error("bad signature")]
    BadSignature,
    /// A valid token of another purpose.
    #[error("wrong purpose")]
    WrongPurpose,
    /// The link is too long to sign.
    #[error("payload too long")]
    PayloadTooLong,
}

/// A verified token's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The recipient the token was issued for.
    pub recipient: Uuid,
    /// What it may be used for.
    pub purpose: Purpose,
    /// The signed payload (the URL of a click), possibly empty.
    pub payload: Vec<u8>,
}

impl Keyring {
    /// `keys[0]` signs; every key verifies until its `retires_at`.
    pub fn new(keys: Vec<TokenKey>) -> Result<Self, TokenError> {
        if keys.is_empty() {
            return Err(TokenError::NoKey);
        }
        Ok(Self { keys })
    }

    fn sign_raw(
        &self,
        recipient: Uuid,
        purpose: Purpose,
        payload: &[u8],
    ) -> Result<Vec<u8>, TokenError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(TokenError::PayloadTooLong);
        }
        let key = &self.keys[0];
        let mut buf = Vec::with_capacity(HEADER_LEN + payload.len() + MAC_LEN);
        buf.extend_from_slice(&[VERSION, purpose as u8, key.id]);
        buf.extend_from_slice(recipient.as_bytes());
        buf.extend_from_slice(payload);
        let mac = key.mac(&buf);
        buf.extend_from_slice(&mac);
        Ok(buf)
    }

    /// A URL-safe token (base64url, RFC 4648 section 5).
    pub fn sign(
        &self,
        recipient: Uuid,
        purpose: Purpose,
        payload: &[u8],
    ) -> Result<String, TokenError> {
        Ok(URL_SAFE_NO_PAD.encode(self.sign_raw(recipient, purpose, payload)?))
    }

    /// A token for an address local part: lower-case base32 (RFC 4648
    /// section 6), because mail systems may change the case of a local part
    /// on the way back. Without payload it is 50 characters, within the 64
    /// allowed (RFC 5321 section 4.5.3.1.1) with a `bounces+` prefix.
    pub fn sign_for_address(&self, recipient: Uuid, purpose: Purpose) -> String {
        let raw = self
            .sign_raw(recipient, purpose, &[])
            .expect("empty payload always fits");
        base32_encode(&raw)
    }

    /// Verifies a URL token at `now`.
    pub fn verify(
        &self,
        token: &str,
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Claims, TokenError> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| TokenError::Malformed)?;
        self.verify_raw(&raw, purpose, now)
    }

    /// Verifies an address token (case-insensitive) at `now`.
    pub fn verify_address(
        &self,
        token: &str,
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Claims, TokenError> {
        let raw = base32_decode(token).ok_or(TokenError::Malformed)?;
        self.verify_raw(&raw, purpose, now)
    }

    fn verify_raw(
        &self,
        raw: &[u8],
        purpose: Purpose,
        now: OffsetDateTime,
    ) -> Result<Claims, TokenError> {
        if raw.len() < HEADER_LEN + MAC_LEN || raw[0] != VERSION {
            return Err(TokenError::Malformed);
        }
        let key = self
            .keys
            .iter()
            .find(|k| k.id == raw[2] && k.retires_at.is_none_or(|t| now < t))
            .ok_or(TokenError::UnknownKey)?;
        let (body, mac) = raw.split_at(raw.len() - MAC_LEN);
        if !bool::from(key.mac(body).ct_eq(mac)) {
            return Err(TokenError::BadSignature);
        }
        let got = Purpose::from_u8(raw[1]).ok_or(TokenError::Malformed)?;
        if got != purpose {
            return Err(TokenError::WrongPurpose);
        }
        let recipient =
            Uuid::from_slice(&body[3..HEADER_LEN]).map_err(|_| TokenError::Malformed)?;
        Ok(Claims {
            recipient,
            purpose,
            payload: body[HEADER_LEN..].to_vec(),
        })
    }
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((acc >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c.to_ascii_lowercase() {
            c @ b'a'..=b'z' => c - b'a',
            c @ b'2'..=b'7' => c - b'2' + 26,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ring() -> Keyring {
        Keyring::new(vec![
            TokenKey::new(1, b"0123456789abcdef0123", None).unwrap(),
        ])
        .unwrap()
    }

    #[test]
    fn round_trip_and_tamper() {
        let r = ring();
        let id = Uuid::now_v7();
        let now = OffsetDateTime::now_utc();
        let t = r
            .sign(id, Purpose::Click, b"https://example.com/a")
            .unwrap();
        let c = r.verify(&t, Purpose::Click, now).unwrap();
        assert_eq!(c.recipient, id);
        assert_eq!(c.payload, b"https://example.com/a");
        assert_eq!(
            r.verify(&t, Purpose::Open, now),
            Err(TokenError::WrongPurpose)
        );
        assert!(r.verify(&t[..t.len() - 2], Purpose::Click, now).is_err());
        let other = Keyring::new(vec![
            TokenKey::new(1, b"another-secret-key-xx", None).unwrap(),
        ])
        .unwrap();
        assert_eq!(
            other.verify(&t, Purpose::Click, now),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn rotation() {
        let now = OffsetDateTime::now_utc();
        let old = TokenKey::new(
            1,
            b"old-secret-0123456789",
            Some(now + time::Duration::days(1)),
        )
        .unwrap();
        let t = Keyring::new(vec![old.clone()])
            .unwrap()
            .sign(Uuid::nil(), Purpose::Open, b"")
            .unwrap();
        let new = TokenKey::new(2, b"new-secret-0123456789", None).unwrap();
        let ring = Keyring::new(vec![new, old]).unwrap();
        assert!(ring.verify(&t, Purpose::Open, now).is_ok());
        assert_eq!(
            ring.verify(&t, Purpose::Open, now + time::Duration::days(2)),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn address_tokens_fit_a_local_part() {
        let r = ring();
        let t = r.sign_for_address(Uuid::now_v7(), Purpose::Bounce);
        assert!(t.len() + "bounces+".len() <= 64, "{}", t.len());
        let now = OffsetDateTime::now_utc();
        assert!(
            r.verify_address(&t.to_ascii_uppercase(), Purpose::Bounce, now)
                .is_ok()
        );
    }

    proptest! {
        #[test]
        fn any_change_is_refused(pos in 0usize..40, bit in 0u8..8) {
            let r = ring();
            let now = OffsetDateTime::now_utc();
            let t = r.sign(Uuid::from_u128(42), Purpose::Open, b"").unwrap();
            let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
            let pos = pos % raw.len();
            raw[pos] ^= 1 << bit;
            prop_assert!(r.verify(&URL_SAFE_NO_PAD.encode(&raw), Purpose::Open, now).is_err());
        }

        #[test]
        fn garbage_never_panics(s in "\\PC{0,120}") {
            let r = ring();
            let now = OffsetDateTime::now_utc();
            let _ = r.verify(&s, Purpose::Click, now);
            let _ = r.verify_address(&s, Purpose::Bounce, now);
        }

        #[test]
        fn base32_round_trip(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base32_decode(&base32_encode(&data)).unwrap(), data);
        }
    }
}

/// The payload of open, click and unsubscribe tokens: when the copy was
/// built (so that "within seconds of delivery" can be judged in memory,
/// with no database read), the sender's organisation (so that a "this is
/// my device" cookie, which names an organisation, marks only that
/// organisation's mail as `self`, again with no database read) and, for a
/// click, the exact URL it may redirect to (so that no other URL can ever
/// be reached through it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingPayload {
    /// When the token was issued (the copy was built), to the second.
    pub issued_at: OffsetDateTime,
    /// The organisation that sent the copy; `None` in tokens issued before
    /// it was signed in (their opens are never matched to a self cookie).
    pub org: Option<Uuid>,
    /// The signed link, for clicks.
    pub link: Option<String>,
}

/// Marks an organisation id after the time. A link never starts with NUL
/// (it is an http(s) URL), so tokens made before the organisation was
/// added still decode, as having none.
const ORG_MARK: u8 = 0;

impl TrackingPayload {
    /// Encodes as `issued_at` (u32 seconds since the epoch, big-endian),
    /// then, when known, a NUL byte and the organisation's 16 bytes, then
    /// the link's UTF-8 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let secs = u32::try_from(self.issued_at.unix_timestamp().max(0)).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(21 + self.link.as_ref().map_or(0, String::len));
        out.extend_from_slice(&secs.to_be_bytes());
        if let Some(org) = self.org {
            out.push(ORG_MARK);
            out.extend_from_slice(org.as_bytes());
        }
        if let Some(link) = &self.link {
            out.extend_from_slice(link.as_bytes());
        }
        out
    }

    /// Decodes a payload made by [`TrackingPayload::encode`]; `None` if it
    /// is too short, the organisation is cut off or the link is not UTF-8.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (head, mut rest) = bytes.split_first_chunk::<4>()?;
        let issued_at =
            OffsetDateTime::from_unix_timestamp(i64::from(u32::from_be_bytes(*head))).ok()?;
        let mut org = None;
        if let Some((&ORG_MARK, tail)) = rest.split_first() {
            let (id, tail) = tail.split_first_chunk::<16>()?;
            org = Some(Uuid::from_bytes(*id));
            rest = tail;
        }
        let link = if rest.is_empty() {
            None
        } else {
            Some(std::str::from_utf8(rest).ok()?.to_owned())
        };
        Some(Self {
            issued_at,
            org,
            link,
        })
    }
}

#[cfg(test)]
mod payload_tests {
    use super::*;

    #[test]
    fn payload_round_trip() {
        let at = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let org = Uuid::from_u128(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        for (org, link) in [
            (None, Some("https://example.com/a?b=c")),
            (None, None),
            (Some(org), Some("https://example.com/a?b=c")),
            (Some(org), None),
        ] {
            let p = TrackingPayload {
                issued_at: at,
                org,
                link: link.map(str::to_owned),
            };
            assert_eq!(TrackingPayload::decode(&p.encode()).unwrap(), p);
        }
        // Cut inside the organisation id: not a payload.
        let mut cut = TrackingPayload {
            issued_at: at,
            org: Some(org),
            link: None,
        }
        .encode();
        cut.truncate(12);
        assert!(TrackingPayload::decode(&cut).is_none());
        assert!(TrackingPayload::decode(&[1, 2]).is_none());
        assert!(TrackingPayload::decode(&[0, 0, 0, 1, 0xff]).is_none());
    }
}

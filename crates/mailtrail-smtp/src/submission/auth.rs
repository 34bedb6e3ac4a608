//! The SASL mechanisms submission offers (RFC 4954, SMTP AUTH): `PLAIN`
//! (RFC 4616) and `LOGIN` (the de-facto mechanism of
//! draft-murchison-sasl-login, which Outlook and many libraries still
//! use). Both carry a user name and a password in base64; the password is
//! an API key, the user name is ignored (as Postmark does).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// Why a SASL response is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslError {
    /// The client sent `*` (RFC 4954 section 4: the exchange is cancelled,
    /// `501 5.7.0`).
    Cancelled,
    /// Not base64, or not the mechanism's shape (`501 5.5.2`).
    Malformed,
}

impl SaslError {
    /// The reply, with its RFC 3463 enhanced status code.
    pub fn reply(self) -> &'static str {
        match self {
            SaslError::Cancelled => "501 5.7.0 authentication cancelled",
            SaslError::Malformed => "501 5.5.2 cannot decode the authentication response",
        }
    }
}

/// Decodes one base64 response line (its CRLF already removed).
pub(super) fn decode(line: &str) -> Result<Vec<u8>, SaslError> {
    let line = line.trim();
    if line == "*" {
        return Err(SaslError::Cancelled);
    }
    // RFC 4954 section 4: "=" is an empty initial response.
    if line == "=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(line).map_err(|_| SaslError::Malformed)
}

/// The user name and password of a `PLAIN` response: `[authzid] NUL
/// authcid NUL passwd` (RFC 4616 section 2).
pub(super) fn plain(response: &[u8]) -> Result<(String, String), SaslError> {
    let mut parts = response.split(|b| *b == 0);
    let (Some(_authzid), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Malformed);
    Ok((text(user)?, text(pass)?))
}

/// A `LOGIN` step's text (user name or password).
pub(super) fn login_text(response: &[u8]) -> Result<String, SaslError> {
    String::from_utf8(response.to_vec()).map_err(|_| SaslError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_splits_on_nul() {
        let raw = decode(&STANDARD.encode(b"\0any\0mt_secret")).expect("b64");
        assert_eq!(plain(&raw), Ok(("any".into(), "mt_secret".into())));
        let raw = decode(&STANDARD.encode(b"admin\0any\0pw")).expect("b64");
        assert_eq!(plain(&raw), Ok(("any".into(), "pw".into())));
        assert_eq!(plain(b"no-nul"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0a\0b\0c"), Err(SaslError::Malformed));
        assert_eq!(plain(b"\0a\0\xff"), Err(SaslError::Malformed));
    }

    #[test]
    fn cancel_and_garbage() {
        assert_eq!(decode("*"), Err(SaslError::Cancelled));
        assert_eq!(decode("!!!"), Err(SaslError::Malformed));
        assert_eq!(decode("="), Ok(Vec::new()));
        assert_eq!(login_text(b"user"), Ok("user".into()));
    }
}

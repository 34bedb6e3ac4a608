//! VERP: the per-recipient envelope sender `bounces+<token>@<bounce domain>`.
//!
//! A bounce (RFC 3464 DSN or a free-form one) is sent to the envelope sender
//! (RFC 5321 section 4.5.5 and section 6.1), which the receiving MTA also
//! records as `Return-Path` (RFC 5321 section 4.4). Putting a signed token
//! for the recipient in that address lets mailtrail tell which recipient a
//! bounce is about even when the bounce quotes nothing of the original. The
//! `+` sub-address separator is the one Postfix, Exim and most MTAs route to
//! the base mailbox `bounces@` by default.
//!
//! The token is produced and verified by
//! `mailtrail_domain::Keyring::sign_for_address` / `verify_address`; it is
//! lower-case base32 so that a bounce whose local part was re-cased on the
//! way back still verifies.

/// The local-part prefix of every VERP address, separator included.
pub const PREFIX: &str = "bounces+";

/// The VERP envelope sender for one recipient: `bounces+<token>@<domain>`.
///
/// `token` must be address-safe (as `Keyring::sign_for_address` makes it);
/// the result is used as the SMTP `MAIL FROM` of that recipient's copy.
pub fn return_path(token: &str, bounce_domain: &str) -> String {
    let mut out = String::with_capacity(PREFIX.len() + token.len() + 1 + bounce_domain.len());
    out.push_str(PREFIX);
    out.push_str(token);
    out.push('@');
    out.push_str(bounce_domain);
    out
}

/// The token of a VERP address, or `None` when `addr` is not one.
///
/// Accepts the address bare or in angle brackets (as in `Return-Path:` or a
/// DSN's `Original-Recipient`), with surrounding whitespace, and matches the
/// `bounces+` prefix case-insensitively, because local parts may come back
/// re-cased. The domain is not checked here: the inbound listener accepts
/// only its own domains before this is asked.
pub fn parse_return_path(addr: &str) -> Option<&str> {
    let addr = addr.trim();
    let addr = addr
        .strip_prefix('<')
        .and_then(|a| a.strip_suffix('>'))
        .unwrap_or(addr);
    let (local, domain) = addr.rsplit_once('@')?;
    if domain.is_empty() {
        return None;
    }
    let head = local.get(..PREFIX.len())?;
    if !head.eq_ignore_ascii_case(PREFIX) {
        return None;
    }
    let token = &local[PREFIX.len()..];
    if token.is_empty() || token.contains(['+', '@', '<', '>', ' ']) {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn builds_the_documented_shape() {
        assert_eq!(
            return_path("abc234", "bounce.example.com"),
            "bounces+abc234@bounce.example.com"
        );
    }

    #[test]
    fn parses_bare_bracketed_and_recased() {
        assert_eq!(parse_return_path("bounces+abc@b.example"), Some("abc"));
        assert_eq!(parse_return_path(" <bounces+abc@b.example> "), Some("abc"));
        assert_eq!(parse_return_path("BOUNCES+ABC@B.EXAMPLE"), Some("ABC"));
    }

    #[test]
    fn refuses_other_addresses() {
        for a in [
            "",
            "bounces@b.example",
            "bounces+@b.example",
            "bounce+abc@b.example",
            "xbounces+abc@b.example",
            "bounces+abc",
            "bounces+abc@",
            "bounces+a+b@b.example",
            "bo@x",
        ] {
            assert_eq!(parse_return_path(a), None, "{a:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(token in "[a-z2-7]{1,56}", domain in "[a-z0-9]{1,20}\\.[a-z]{2,6}") {
            let addr = return_path(&token, &domain);
            prop_assert_eq!(parse_return_path(&addr), Some(token.as_str()));
            prop_assert!(mailtrail_domain::EmailAddress::parse(&addr).is_ok());
        }
    }
}

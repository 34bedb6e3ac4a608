//! An email address as mailtrail accepts it: the RFC 5321 `Mailbox` subset
//! that real mail systems deliver to.
//!
//! Parsing happens once, at the edge (API, SMTP, CLI); everything inside holds
//! an [`EmailAddress`] and can rely on it: no whitespace, no CR/LF (so it can
//! never inject a header or an SMTP command), at most 254 octets in all and 64
//! in the local part (RFC 5321 section 4.5.3.1), a domain of valid labels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not an [`EmailAddress`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Nothing was given.
    #[error("address is empty")]
    Empty,
    /// More than 254 octets (RFC 5321 section 4.5.3.1.3 path limit less the brackets).
    #[error("address is longer than 254 characters")]
    TooLong,
    /// No `@`, or nothing on one side of it.
    #[error("address must look like local@domain")]
    MissingAt,
    /// The local part has a character that needs quoting, or is too long.
    #[error("invalid local part: {0}")]
    LocalPart(&'static str),
    /// The domain is not a valid host name or address literal.
    #[error("invalid domain: {0}")]
    Domain(&'static str),
}

/// A validated address. The domain is kept lower-case (domains are case
/// insensitive, RFC 5321 section 2.4); the local part keeps its case, since
/// only the receiving host may interpret it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress {
    value: String,
    at: usize,
}

impl EmailAddress {
    /// Parses and validates `input` (surrounding whitespace is ignored).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AddressError::Empty);
        }
        if s.len() > 254 {
            return Err(AddressError::TooLong);
        }
        let at = s.rfind('@').ok_or(AddressError::MissingAt)?;
        let (local, domain) = (&s[..at], &s[at + 1..]);
        if local.is_empty() || domain.is_empty() {
            return Err(AddressError::MissingAt);
        }
        validate_local(local)?;
        validate_domain(domain)?;
        let value = format!("{local}@{}", domain.to_ascii_lowercase());
        Ok(Self { value, at })
    }

    /// The whole address, `local@domain`.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }

    /// The domain, lower-case.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }

    /// The address with its local part lower-cased as well: the key used to
    /// match suppressions and contacts, since nearly every real mailbox
    /// provider treats local parts case-insensitively.
    pub fn normalized(&self) -> String {
        self.value.to_lowercase()
    }
}

/// RFC 5322 `atext` plus `.` between atoms; quoted local parts are refused
/// because almost no receiving system accepts them and they are a classic
/// header-injection vector.
fn validate_local(local: &str) -> Result<(), AddressError> {
    if local.len() > 64 {
        return Err(AddressError::LocalPart("longer than 64 characters"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(AddressError::LocalPart("dots must separate words"));
    }
    let ok = local.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    });
    if !ok {
        return Err(AddressError::LocalPart(
            "contains a character that is not allowed",
        ));
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<(), AddressError> {
    if domain.starts_with('[') {
        let inner = domain
            .strip_prefix('[')
            .and_then(|d| d.strip_suffix(']'))
            .ok_or(AddressError::Domain("unterminated address literal"))?;
        let inner = inner.strip_prefix("IPv6:").unwrap_or(inner);
        return inner
            .parse::<std::net::IpAddr>()
            .map(|_| ())
            .map_err(|_| AddressError::Domain("bad address literal"));
    }
    if domain.len() > 253 {
        return Err(AddressError::Domain("longer than 253 characters"));
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(AddressError::Domain("empty label"));
        }
        if label.len() > 63 {
            return Err(AddressError::Domain("label longer than 63 characters"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError::Domain("label starts or ends with a hyphen"));
        }
        let ok = label.chars().all(|c| {
            c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())
        });
        if !ok {
            return Err(AddressError::Domain(
                "contains a character that is not allowed",
            ));
        }
    }
    Ok(())
}

impl FromStr for EmailAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.value)
    }
}

impl AsRef<str> for EmailAddress {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl Serialize for EmailAddress {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.value)
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_common_addresses() {
        for a in [
            "a@b.co",
            "first.last+tag@Example.COM",
            "x@[127.0.0.1]",
            "o'neil@mail.example",
        ] {
            EmailAddress::parse(a).unwrap();
        }
        assert_eq!(
            EmailAddress::parse("Joe@Example.COM").unwrap().as_str(),
            "Joe@example.com"
        );
    }

    #[test]
    fn refuses_bad_addresses() {
        for a in [
            "",
            "no-at",
            "@x.com",
            "a@",
            "a b@x.com",
            "a@x..com",
            ".a@x.com",
            "a@-x.com",
            "a\r\n@x.com",
            "a@x.com\r\nBcc: y@z.com",
            "\"q\"@x.com",
            "a@x_y.com",
        ] {
            assert!(EmailAddress::parse(a).is_err(), "{a:?} should be refused");
        }
        let long = format!("{}@x.com", "a".repeat(65));
        assert!(EmailAddress::parse(&long).is_err());
    }

    proptest! {
        #[test]
        fn never_contains_line_breaks(s in "\\PC{0,80}") {
            if let Ok(a) = EmailAddress::parse(&s) {
                prop_assert!(!a.as_str().contains(['\r', '\n', ' ', '<', '>']));
                prop_assert_eq!(EmailAddress::parse(a.as_str()).unwrap(), a);
            }
        }

        #[test]
        fn valid_shapes_parse(local in "[a-z0-9]{1,20}(\\.[a-z0-9]{1,10})?", domain in "[a-z0-9]{1,20}\\.[a-z]{2,6}") {
            let a = EmailAddress::parse(&format!("{local}@{domain}")).unwrap();
            prop_assert_eq!(a.local_part(), local.as_str());
            prop_assert_eq!(a.domain(), domain.as_str());
        }
    }
}

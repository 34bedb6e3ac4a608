//! Where a webhook may be sent. A mailtrail server usually sits inside a
//! private network, next to its database and other services; letting any
//! user make it POST to an arbitrary address would let them reach those
//! (server-side request forgery). So a target must be `http` or `https`,
//! and every address its host resolves to must be public: not loopback,
//! private (RFC 1918), shared (RFC 6598, carrier-grade NAT), link-local
//! (RFC 3927, RFC 4291 section 2.5.6), unique-local (RFC 4193),
//! unspecified, multicast or reserved. The operator may allow private
//! targets (`--allow-private-webhooks`); the check is made again after
//! DNS resolution at every delivery, so a name that later resolves to a
//! private address (DNS rebinding) is refused then.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why a target URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    Malformed(String),
    /// A scheme other than `http` or `https`.
    #[error("the scheme must be http or https, not {0}")]
    Scheme(String),
    /// No host, or user name and password in the URL.
    #[error("{0}")]
    Shape(&'static str),
    /// The host is, or resolves to, an address in a range that is refused.
    #[error(
        "{addr} is a {range} address; private targets are refused unless the server allows them (--allow-private-webhooks)"
    )]
    Private {
        /// The address.
        addr: IpAddr,
        /// Which range it is in.
        range: &'static str,
    },
    /// The host name does not resolve.
    #[error("the host {0} does not resolve")]
    Unresolved(String),
}

/// The longest target URL accepted.
const MAX_URL_CHARS: usize = 2048;

/// A webhook target: an absolute `http` or `https` URL with a host, no
/// credentials, no fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(url::Url);

impl WebhookUrl {
    /// Parses and checks the URL's form (not its addresses: see
    /// [`forbidden_range`], which the caller applies after resolving).
    pub fn parse(s: &str) -> Result<Self, TargetError> {
        if s.len() > MAX_URL_CHARS {
            return Err(TargetError::Shape("longer than 2048 characters"));
        }
        let url = url::Url::parse(s.trim()).map_err(|e| TargetError::Malformed(e.to_string()))?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(TargetError::Scheme(other.to_owned())),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(TargetError::Shape("the URL has no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(TargetError::Shape(
                "credentials do not belong in the URL; verify the signature instead",
            ));
        }
        if url.fragment().is_some() {
            return Err(TargetError::Shape("a fragment is never sent; remove it"));
        }
        Ok(Self(url))
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host as written (a name or an address literal, without IPv6
    /// brackets).
    pub fn host(&self) -> String {
        match self.0.host() {
            Some(url::Host::Ipv6(a)) => a.to_string(),
            Some(h) => h.to_string(),
            None => String::new(),
        }
    }

    /// The host's address when the URL names one directly.
    pub fn ip_literal(&self) -> Option<IpAddr> {
        match self.0.host()? {
            url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
            url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
            url::Host::Domain(_) => None,
        }
    }

    /// The port, explicit or the scheme's.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(80)
    }

    /// Checks `addrs`, the host's resolved addresses: the first one in a
    /// refused range is an error; none at all is [`TargetError::Unresolved`].
    pub fn check_addrs(&self, addrs: &[IpAddr]) -> Result<(), TargetError> {
        if addrs.is_empty() {
            return Err(TargetError::Unresolved(self.host()));
        }
        for &addr in addrs {
            if let Some(range) = forbidden_range(addr) {
                return Err(TargetError::Private { addr, range });
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// The refused range `addr` falls in, or `None` for a public address.
pub fn forbidden_range(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(a) => v4_range(a),
        IpAddr::V6(a) => v6_range(a),
    }
}

fn v4_range(a: Ipv4Addr) -> Option<&'static str> {
    let [b0, b1, b2, _] = a.octets();
    Some(match (b0, b1, b2) {
        (0, _, _) => "unspecified (0.0.0.0/8)",
        (10, _, _) => "private (10.0.0.0/8, RFC 1918)",
        (100, 64..=127, _) => "shared carrier-grade NAT (100.64.0.0/10, RFC 6598)",
        (127, _, _) => "loopback (127.0.0.0/8)",
        (169, 254, _) => "link-local (169.254.0.0/16, RFC 3927)",
        (172, 16..=31, _) => "private (172.16.0.0/12, RFC 1918)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 168, _) => "private (192.168.0.0/16, RFC 1918)",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        (224..=239, _, _) => "multicast (224.0.0.0/4)",
        (240..=255, _, _) => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn v6_range(a: Ipv6Addr) -> Option<&'static str> {
    if a.is_unspecified() {
        return Some("unspecified (::)");
    }
    if a.is_loopback() {
        return Some("loopback (::1)");
    }
    // IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) addresses reach
    // the IPv4 address inside them.
    if let Some(v4) = a.to_ipv4_mapped() {
        return v4_range(v4);
    }
    let s = a.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let [h, l] = [s[6], s[7]];
        let v4 = Ipv4Addr::new((h >> 8) as u8, h as u8, (l >> 8) as u8, l as u8);
        return v4_range(v4);
    }
    Some(match s[0] {
        x if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10, RFC 4291)",
        x if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        x if x & 0xfe00 == 0xfc00 => "unique local (fc00::/7, RFC 4193)",
        x if x & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_private_loopback_link_local_and_the_rest() {
        for a in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(forbidden_range(ip(a)).is_some(), "{a} should be refused");
        }
    }

    #[test]
    fn accepts_public_addresses() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(forbidden_range(ip(a)), None, "{a} should pass");
        }
    }

    #[test]
    fn parses_http_and_https_only() {
        let u = WebhookUrl::parse("https://hooks.example.com/in?x=1").unwrap();
        assert_eq!(u.host(), "hooks.example.com");
        assert_eq!(u.port(), 443);
        assert_eq!(u.ip_literal(), None);
        let u = WebhookUrl::parse("http://[::1]:8080/x").unwrap();
        assert_eq!(u.ip_literal(), Some(ip("::1")));
        assert_eq!(u.port(), 8080);
        assert!(matches!(
            WebhookUrl::parse("ftp://example.com/"),
            Err(TargetError::Scheme(s)) if s == "ftp"
        ));
        assert!(matches!(
            WebhookUrl::parse("file:///etc/passwd"),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            WebhookUrl::parse("not a url"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            WebhookUrl::parse("https://u:p@example.com/"),
            Err(TargetError::Shape(_))
        ));
        assert!(matches!(
            WebhookUrl::parse("https://example.com/#x"),
            Err(TargetError::Shape(_))
        ));
        let long = format!("https://example.com/{}", "a".repeat(3000));
        assert!(WebhookUrl::parse(&long).is_err());
    }

    #[test]
    fn checks_every_resolved_address() {
        let u = WebhookUrl::parse("https://rebind.example/").unwrap();
        assert!(u.check_addrs(&[ip("8.8.8.8")]).is_ok());
        assert!(matches!(
            u.check_addrs(&[ip("8.8.8.8"), ip("10.0.0.1")]),
            Err(TargetError::Private { .. })
        ));
        assert!(matches!(
            u.check_addrs(&[]),
            Err(TargetError::Unresolved(_))
        ));
    }
}

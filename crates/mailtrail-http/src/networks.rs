//! The one parser of network lists: the settings' trusted proxies and
//! self networks, the Settings page's sender networks, the stored ones.
//!
//! An entry is a CIDR network (RFC 4632; RFC 4291 section 2.3 for IPv6)
//! or a bare address for one host; host bits are cleared, so
//! `203.0.113.7/24` is `203.0.113.0/24`.

use std::net::IpAddr;

use ipnet::IpNet;

/// The most sender networks one organisation may keep.
pub(crate) const MAX_SENDER_NETWORKS: usize = 200;

/// One entry, trimmed; `None` when it is neither a network nor an address.
pub(crate) fn parse_network(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .ok()
}

/// A comma-separated list, or several (as flags repeat); the error names
/// the bad entry.
pub fn parse_networks(list: &[String]) -> Result<Vec<IpNet>, String> {
    list.iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse_network(s).ok_or_else(|| format!("{s:?} is not an address or CIDR network")))
        .collect()
}

/// The Settings page's form: one network per line, blank lines ignored,
/// duplicates dropped, at most [`MAX_SENDER_NETWORKS`]. The error names
/// the first bad line; nothing is saved then.
pub(crate) fn parse_network_lines(text: &str) -> Result<Vec<IpNet>, String> {
    let mut nets: Vec<IpNet> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let entry = line.trim();
        if entry.is_empty() {
            continue;
        }
        let net = parse_network(entry).ok_or_else(|| {
            format!(
                "Line {}: “{entry}” is not an IP network. Write one per line, such as 203.0.113.0/24, 2001:db8:1::/48 or a single address.",
                i + 1
            )
        })?;
        if !nets.contains(&net) {
            nets.push(net);
        }
    }
    if nets.len() > MAX_SENDER_NETWORKS {
        return Err(format!(
            "{} networks is more than the {MAX_SENDER_NETWORKS} allowed. Merge neighbouring networks into wider ones.",
            nets.len()
        ));
    }
    Ok(nets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_networks_are_checked_line_by_line() {
        let nets = parse_network_lines(
            "203.0.113.7/24\n\n  2001:db8::/48 \n198.51.100.9\n203.0.113.0/24\n",
        )
        .unwrap();
        assert_eq!(
            nets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["203.0.113.0/24", "2001:db8::/48", "198.51.100.9/32"]
        );
        assert!(parse_network_lines("").unwrap().is_empty());
        let e = parse_network_lines("10.1.0.0/16\n10.0.0.300/8\n").unwrap_err();
        assert!(e.starts_with("Line 2: “10.0.0.300/8”"), "{e}");
        let e = parse_network_lines("10.0.0.0/33").unwrap_err();
        assert!(e.starts_with("Line 1: “10.0.0.0/33”"), "{e}");
        let e = parse_network_lines("2001:db8::/48\nfe80::1%eth0").unwrap_err();
        assert!(e.starts_with("Line 2:"), "{e}");
    }

    #[test]
    fn settings_lists_are_comma_separated() {
        let nets =
            parse_networks(&["10.1.2.3/8, 192.0.2.1".into(), "2001:db8::/32".into()]).unwrap();
        assert_eq!(
            nets.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"]
        );
        assert!(
            parse_networks(&["10.0.0.0/8, nonsense".into()])
                .unwrap_err()
                .contains("nonsense")
        );
    }
}

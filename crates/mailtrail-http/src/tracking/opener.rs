//! Who opened a copy or clicked its link: a person (`human`), a provider's
//! image proxy acting for a person (`proxy`), a machine (`machine`), or the
//! sender themself (`self`), and the rule that decided it.
//!
//! Pure and in memory: the tracking endpoints answer without a database
//! read, so everything a rule needs arrives in [`Signals`] and the
//! [`OpenerData`] lists loaded at start. The lists are data files
//! (`data/opener/*.tsv`) embedded as defaults and replaceable without a
//! rebuild (`--opener-data DIR`).
//!
//! Rules, first match wins:
//! 1. `self_cookie`, `self_network`, `sender_network`: the sender's own
//!    device (a `mailtrail_self` cookie), a configured sender network
//!    (`--self-networks`), or one of an organisation's sender networks
//!    (Settings).
//! 2. `prefetch_header`: `Sec-Purpose: prefetch` (Fetch Metadata, used by
//!    Chromium) or the older `Purpose: prefetch` / `X-Moz: prefetch`: the
//!    client fetched without a person asking.
//! 3. A machine user agent (Apple Mail Privacy Protection, Gmail's safety
//!    checks, security scanners and link checkers).
//! 4. A machine network (Apple, Microsoft Safe Links, Proofpoint, ...).
//! 5. `too_soon`: within `machine_window` of the copy being built: no
//!    person reads a mail that fast; scanners and prefetchers do.
//! 6. `click_burst`: several distinct links of one copy clicked within a
//!    few seconds, as link checkers do.
//! 7. An image proxy user agent or network (Gmail's `GoogleImageProxy`):
//!    the proxy fetches when a person opens the mail, so it counts as a
//!    person.
//! 8. Otherwise `human`.

use std::net::IpAddr;
use std::time::Duration;

use aho_corasick::AhoCorasick;
use ipnet::IpNet;
use mailtrail_domain::Opener;

/// The default user-agent list, `data/opener/user_agents.tsv`.
pub const DEFAULT_USER_AGENTS: &str = include_str!("../../../../data/opener/user_agents.tsv");
/// The default network list, `data/opener/networks.tsv`.
pub const DEFAULT_NETWORKS: &str = include_str!("../../../../data/opener/networks.tsv");

/// A line of a data file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file} line {line}: {message}")]
pub struct DataError {
    /// Which file.
    pub file: &'static str,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Match {
    /// Case-insensitive substring; the pattern is stored lower-cased.
    Contains(String),
    /// The whole (trimmed) user agent, case-sensitive.
    Exact(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct UaRule {
    opener: Opener,
    rule: String,
    pattern: Match,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct NetRule {
    net: IpNet,
    opener: Opener,
    rule: String,
}

/// The user-agent and network lists.
#[derive(Debug, Clone, Default)]
pub struct OpenerData {
    user_agents: Vec<UaRule>,
    networks: Vec<NetRule>,
    /// Every `contains` pattern in one automaton (ASCII case-insensitive):
    /// a hit's user agent is read once instead of once per pattern, and
    /// without a lower-cased copy. `None` when there are none.
    contains: Option<AhoCorasick>,
    /// The rule (index into `user_agents`) of each automaton pattern.
    contains_rule: Vec<usize>,
}

fn parse_opener(s: &str) -> Option<Opener> {
    match s {
        "proxy" => Some(Opener::Proxy),
        "machine" => Some(Opener::Machine),
        _ => None,
    }
}

fn data_lines(text: &str) -> impl Iterator<Item = (usize, Vec<&str>)> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let l = l.trim_end_matches('\r');
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            None
        } else {
            Some((i + 1, l.split('\t').map(str::trim).collect()))
        }
    })
}

impl OpenerData {
    /// The lists built into the binary.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_USER_AGENTS, DEFAULT_NETWORKS)
            .expect("the embedded data files are checked by the unit tests")
    }

    /// Parses the two TSV files (formats in their header comments).
    pub fn parse(user_agents: &str, networks: &str) -> Result<Self, DataError> {
        let ua_err = |line, message: String| DataError {
            file: "user_agents.tsv",
            line,
            message,
        };
        let net_err = |line, message: String| DataError {
            file: "networks.tsv",
            line,
            message,
        };
        let mut data = Self::default();
        for (line, cols) in data_lines(user_agents) {
            let [opener, rule, kind, pattern] = cols[..] else {
                return Err(ua_err(
                    line,
                    format!("expected 4 columns, got {}", cols.len()),
                ));
            };
            let opener = parse_opener(opener).ok_or_else(|| {
                ua_err(line, format!("opener {opener:?} is not proxy or machine"))
            })?;
            if rule.is_empty() || pattern.is_empty() {
                return Err(ua_err(line, "empty rule or pattern".into()));
            }
            let pattern = match kind {
                "contains" => Match::Contains(pattern.to_ascii_lowercase()),
                "exact" => Match::Exact(pattern.to_owned()),
                other => {
                    return Err(ua_err(
                        line,
                        format!("match {other:?} is not contains or exact"),
                    ));
                }
            };
            data.user_agents.push(UaRule {
                opener,
                rule: rule.to_owned(),
                pattern,
            });
        }
        let (rules, patterns): (Vec<usize>, Vec<&str>) = data
            .user_agents
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.pattern {
                Match::Contains(p) => Some((i, p.as_str())),
                Match::Exact(_) => None,
            })
            .unzip();
        if !patterns.is_empty() {
            let automaton = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&patterns)
                .map_err(|e| ua_err(0, format!("patterns: {e}")))?;
            data.contains = Some(automaton);
            data.contains_rule = rules;
        }
        for (line, cols) in data_lines(networks) {
            let [cidr, opener, rule] = cols[..] else {
                return Err(net_err(
                    line,
                    format!("expected 3 columns, got {}", cols.len()),
                ));
            };
            let net: IpNet = cidr
                .parse()
                .map_err(|_| net_err(line, format!("{cidr:?} is not a CIDR")))?;
            let opener = parse_opener(opener).ok_or_else(|| {
                net_err(line, format!("opener {opener:?} is not proxy or machine"))
            })?;
            if rule.is_empty() {
                return Err(net_err(line, "empty rule".into()));
            }
            data.networks.push(NetRule {
                net: net.trunc(),
                opener,
                rule: rule.to_owned(),
            });
        }
        Ok(data)
    }

    /// Loads `user_agents.tsv` and `networks.tsv` from `dir`; a file that is
    /// absent keeps the built-in list.
    pub fn load_dir(dir: &std::path::Path) -> Result<Self, String> {
        let read = |name: &str, default: &'static str| -> Result<String, String> {
            let p = dir.join(name);
            match std::fs::read_to_string(&p) {
                Ok(s) => Ok(s),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(default.to_owned()),
                Err(e) => Err(format!("reading {}: {e}", p.display())),
            }
        };
        let ua = read("user_agents.tsv", DEFAULT_USER_AGENTS)?;
        let nets = read("networks.tsv", DEFAULT_NETWORKS)?;
        Self::parse(&ua, &nets).map_err(|e| format!("{}: {e}", dir.display()))
    }

    /// The first rule, in file order, that the user agent matches.
    fn user_agent(&self, ua: &str) -> Option<(Opener, &str)> {
        let trimmed = ua.trim();
        // Every `contains` pattern found anywhere (overlapping matches), the
        // earliest-listed one kept; then an `exact` rule listed before it.
        let by_contains = self.contains.as_ref().and_then(|ac| {
            ac.find_overlapping_iter(trimmed)
                .map(|m| self.contains_rule[m.pattern().as_usize()])
                .min()
        });
        let before = by_contains.unwrap_or(self.user_agents.len());
        let by_exact = self.user_agents[..before]
            .iter()
            .position(|r| matches!(&r.pattern, Match::Exact(p) if trimmed == p));
        by_exact.or(by_contains).map(|i| {
            (
                self.user_agents[i].opener,
                self.user_agents[i].rule.as_str(),
            )
        })
    }

    fn network(&self, ip: IpAddr) -> Option<(Opener, &str)> {
        let ip = canonical(ip);
        self.networks
            .iter()
            .find(|r| r.net.contains(&ip))
            .map(|r| (r.opener, r.rule.as_str()))
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Everything known about one request, gathered by the endpoint.
#[derive(Debug, Clone, Default)]
pub struct Signals<'a> {
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// The client address (after trusted-proxy resolution).
    pub ip: Option<IpAddr>,
    /// `Sec-Purpose`, `Purpose` or `X-Moz` said `prefetch`.
    pub prefetch: bool,
    /// A valid `mailtrail_self` cookie came with the request.
    pub self_cookie: bool,
    /// The client address is in an organisation's sender networks
    /// (Settings; see [`super::sender`]).
    pub sender_network: bool,
    /// Time since the token was issued (the copy was built).
    pub since_issued: Duration,
    /// This click completes a burst of distinct links (clicks only).
    pub click_burst: bool,
}

/// The verdict: who, and which rule said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Who opened or clicked.
    pub opener: Opener,
    /// The rule that decided it (a rule name of the data files, or one of
    /// this module's own).
    pub rule: String,
}

impl Verdict {
    fn new(opener: Opener, rule: &str) -> Self {
        Self {
            opener,
            rule: rule.to_owned(),
        }
    }
}

/// Settings of the rules that are not lists.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The sender's own networks.
    pub self_networks: Vec<IpNet>,
    /// Interactions sooner than this after issue are a machine's.
    pub machine_window: Duration,
}

/// Decides who opened or clicked (rules in the module documentation).
pub fn classify(data: &OpenerData, rules: &Rules, s: &Signals<'_>) -> Verdict {
    let ip = s.ip.map(canonical);
    if s.self_cookie {
        return Verdict::new(Opener::SelfOpen, "self_cookie");
    }
    if let Some(ip) = ip
        && rules.self_networks.iter().any(|n| n.contains(&ip))
    {
        return Verdict::new(Opener::SelfOpen, "self_network");
    }
    if s.sender_network {
        return Verdict::new(Opener::SelfOpen, "sender_network");
    }
    if s.prefetch {
        return Verdict::new(Opener::Machine, "prefetch_header");
    }
    let by_ua = s.user_agent.and_then(|ua| data.user_agent(ua));
    if let Some((Opener::Machine, rule)) = by_ua {
        return Verdict::new(Opener::Machine, rule);
    }
    let by_net = ip.and_then(|ip| data.network(ip));
    if let Some((Opener::Machine, rule)) = by_net
        && by_ua.is_none()
    {
        return Verdict::new(Opener::Machine, rule);
    }
    if s.since_issued < rules.machine_window {
        return Verdict::new(Opener::Machine, "too_soon");
    }
    if s.click_burst {
        return Verdict::new(Opener::Machine, "click_burst");
    }
    if let Some((opener, rule)) = by_ua.or(by_net) {
        return Verdict::new(opener, rule);
    }
    Verdict::new(Opener::Human, "human")
}

/// `ip` with its host part cleared: a /24 for IPv4, a /48 for IPv6, enough
/// to tell networks apart without pointing at a household.
pub fn truncate_ip(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            IpAddr::from([o[0], o[1], o[2], 0])
        }
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            for seg in &mut s[3..] {
                *seg = 0;
            }
            IpAddr::from(s)
        }
    }
}

/// The client address: the peer, or, when the peer is a trusted reverse
/// proxy, the right-most `X-Forwarded-For` entry that is not itself a
/// trusted proxy (entries further left are written by the client and can
/// be forged).
pub fn client_ip(peer: IpAddr, forwarded_for: &[&str], trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(&canonical(ip)));
    if !is_trusted(peer) {
        return peer;
    }
    let mut chosen = peer;
    for entry in forwarded_for
        .iter()
        .rev()
        .flat_map(|h| h.rsplit(','))
        .map(str::trim)
    {
        let Ok(ip) = entry.parse::<IpAddr>() else {
            break;
        };
        chosen = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";

    fn signals(ua: &'static str, ip: &str) -> Signals<'static> {
        Signals {
            user_agent: Some(ua),
            ip: Some(ip.parse().unwrap()),
            since_issued: Duration::from_secs(3600),
            ..Signals::default()
        }
    }

    fn rules() -> Rules {
        Rules {
            self_networks: vec!["203.0.113.0/24".parse().unwrap()],
            machine_window: Duration::from_secs(2),
        }
    }

    fn verdict(s: &Signals<'_>) -> (Opener, String) {
        let v = classify(&OpenerData::builtin(), &rules(), s);
        (v.opener, v.rule)
    }

    #[test]
    fn embedded_files_parse() {
        let d = OpenerData::builtin();
        assert!(d.user_agents.len() > 10 && d.networks.len() > 10);
    }

    #[test]
    fn a_browser_is_a_person() {
        assert_eq!(
            verdict(&signals(CHROME, "198.51.100.7")),
            (Opener::Human, "human".into())
        );
    }

    #[test]
    fn gmail_image_proxy_is_a_person_through_a_proxy() {
        let ua = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)";
        assert_eq!(
            verdict(&signals(ua, "66.249.84.1")),
            (Opener::Proxy, "gmail_image_proxy".into())
        );
    }

    #[test]
    fn yahoo_image_proxy_is_a_proxy() {
        let ua = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html";
        assert_eq!(verdict(&signals(ua, "98.136.1.1")).0, Opener::Proxy);
    }

    #[test]
    fn apple_mpp_by_user_agent_and_by_network() {
        assert_eq!(
            verdict(&signals("Mozilla/5.0", "198.51.100.7")),
            (Opener::Machine, "apple_mpp".into())
        );
        assert_eq!(
            verdict(&signals(CHROME, "17.58.1.2")),
            (Opener::Machine, "apple_mpp".into())
        );
    }

    #[test]
    fn gmail_prefetch_is_a_machine() {
        assert_eq!(
            verdict(&signals(
                "Google-Safety; +http://www.google.com/bot.html",
                "66.249.1.1"
            )),
            (Opener::Machine, "gmail_prefetch".into())
        );
    }

    #[test]
    fn scanners_by_user_agent_and_network() {
        assert_eq!(
            verdict(&signals("Mozilla/5.0 BingPreview/1.0b", "198.51.100.7")).1,
            "microsoft_safe_links"
        );
        assert_eq!(
            verdict(&signals(CHROME, "40.107.3.4")).1,
            "microsoft_safe_links"
        );
        assert_eq!(verdict(&signals(CHROME, "148.163.130.1")).1, "proofpoint");
        assert_eq!(
            verdict(&signals("Mimecast Scanner", "198.51.100.7")).1,
            "mimecast"
        );
        assert_eq!(verdict(&signals(CHROME, "64.235.150.1")).1, "barracuda");
        assert_eq!(
            verdict(&signals(CHROME, "::ffff:64.235.150.1")).1,
            "barracuda",
            "IPv4-mapped addresses match IPv4 ranges"
        );
    }

    #[test]
    fn prefetch_headers() {
        let mut s = signals(CHROME, "198.51.100.7");
        s.prefetch = true;
        assert_eq!(verdict(&s), (Opener::Machine, "prefetch_header".into()));
    }

    #[test]
    fn too_soon_after_issue() {
        let mut s = signals(CHROME, "198.51.100.7");
        s.since_issued = Duration::from_millis(500);
        assert_eq!(verdict(&s), (Opener::Machine, "too_soon".into()));
    }

    #[test]
    fn click_burst() {
        let mut s = signals(CHROME, "198.51.100.7");
        s.click_burst = true;
        assert_eq!(verdict(&s), (Opener::Machine, "click_burst".into()));
    }

    #[test]
    fn self_cookie_and_self_network() {
        let mut s = signals(CHROME, "198.51.100.7");
        s.self_cookie = true;
        assert_eq!(verdict(&s), (Opener::SelfOpen, "self_cookie".into()));
        assert_eq!(
            verdict(&signals(CHROME, "203.0.113.9")),
            (Opener::SelfOpen, "self_network".into())
        );
        // A sender network outranks even a machine's user agent: the
        // sender's own scanner is still the sender.
        let mut s = signals("Google-Safety", "198.51.100.7");
        s.sender_network = true;
        assert_eq!(verdict(&s), (Opener::SelfOpen, "sender_network".into()));
    }

    #[test]
    fn truncation() {
        assert_eq!(
            truncate_ip("198.51.100.77".parse().unwrap()).to_string(),
            "198.51.100.0"
        );
        assert_eq!(
            truncate_ip("2001:db8:1:2:3:4:5:6".parse().unwrap()).to_string(),
            "2001:db8:1::"
        );
    }

    #[test]
    fn forwarded_for_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let peer = "127.0.0.1".parse().unwrap();
        let untrusted = "192.0.2.1".parse().unwrap();
        assert_eq!(client_ip(untrusted, &["17.1.1.1"], &trusted), untrusted);
        assert_eq!(
            client_ip(peer, &["6.6.6.6, 17.1.1.1, 10.1.1.1"], &trusted).to_string(),
            "17.1.1.1",
            "the right-most untrusted entry wins; the client-written ones are ignored"
        );
        assert_eq!(client_ip(peer, &["garbage"], &trusted), peer);
        assert_eq!(client_ip(peer, &[], &trusted), peer);
    }

    #[test]
    fn the_first_listed_rule_wins_whatever_matches_first_in_the_text() {
        let d = OpenerData::parse(
            "machine\tscanner\tcontains\tScanBot\n\
             proxy\texact-proxy\texact\tGoogleImageProxy ScanBot\n\
             proxy\tgeneric-proxy\tcontains\timageproxy\n\
             machine\tbot\tcontains\tbot\n",
            "",
        )
        .unwrap();
        // "bot" and "imageproxy" appear earlier in the text, but ScanBot's
        // rule is listed first.
        assert_eq!(
            d.user_agent("GoogleImageProxy ScanBot"),
            Some((Opener::Machine, "scanner"))
        );
        // Case does not matter for `contains`; the earlier-listed pattern
        // wins even when a later one also matches.
        assert_eq!(
            d.user_agent("  some BOT via googleIMAGEPROXY "),
            Some((Opener::Proxy, "generic-proxy"))
        );
        assert_eq!(d.user_agent("a bot"), Some((Opener::Machine, "bot")));
        // An exact rule listed before every matching `contains` rule wins.
        let d = OpenerData::parse(
            "proxy\texact-proxy\texact\tGoogleImageProxy ScanBot\n\
             machine\tscanner\tcontains\tscanbot\n",
            "",
        )
        .unwrap();
        assert_eq!(
            d.user_agent("GoogleImageProxy ScanBot"),
            Some((Opener::Proxy, "exact-proxy"))
        );
        // Exact means exact (case included), after trimming.
        assert_eq!(
            d.user_agent("googleimageproxy scanbot"),
            Some((Opener::Machine, "scanner"))
        );
        assert_eq!(d.user_agent("Mozilla/5.0 Firefox"), None);
        assert_eq!(OpenerData::parse("", "").unwrap().user_agent("x"), None);
    }

    #[test]
    fn bad_data_lines_are_reported_with_their_number() {
        let e = OpenerData::parse("# c\nmachine\tx\tfuzzy\tfoo\n", "").unwrap_err();
        assert_eq!((e.file, e.line), ("user_agents.tsv", 2));
        let e = OpenerData::parse("", "\n300.0.0.0/8\tmachine\tx\n").unwrap_err();
        assert_eq!((e.file, e.line), ("networks.tsv", 2));
        let e = OpenerData::parse("human\tx\tcontains\tfoo\n", "").unwrap_err();
        assert_eq!(e.line, 1);
    }
}

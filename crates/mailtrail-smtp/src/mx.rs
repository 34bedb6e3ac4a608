//! Direct delivery to the recipient's own mail servers (RFC 5321 section 5).
//!
//! The domain's MX records are tried in preference order; a domain without
//! MX records is its own mail server (the "implicit MX" of section 5.1); a
//! domain whose only MX is `.` accepts no mail at all (RFC 7505). STARTTLS
//! is used whenever offered without requiring a valid certificate
//! (RFC 7435 opportunistic security: most MX certificates would not pass
//! anyway, and failing closed would mean sending in plain text or not at
//! all).
//!
//! DNS sits behind [`MxResolver`] so the ordering and fallback rules can be
//! tested without a network.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::RData;
use rand::seq::SliceRandom;

use crate::connection::{Connection, Security, Session, Timeouts};
use crate::error::{Error, Stage};
use crate::reply::Reply;
use crate::tls::TlsOptions;
use crate::transport::{Envelope, Outcome, Transport};

/// The answer to an MX query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxAnswer {
    /// MX records as (preference, exchange host); a null MX has the
    /// exchange `""` (the root, written `.`).
    Records(Vec<(u16, String)>),
    /// The domain exists but has no MX records (NOERROR, no data).
    NoRecords,
    /// The domain does not exist (NXDOMAIN).
    NoDomain,
}

/// DNS as direct delivery needs it.
#[async_trait]
pub trait MxResolver: Send + Sync {
    /// The MX records of `domain`. `Err` is for failures that may pass
    /// (timeouts, SERVFAIL): the copy is then retried later.
    async fn mx(&self, domain: &str) -> Result<MxAnswer, Error>;

    /// The addresses of `host` (A and AAAA). An empty list means the name
    /// has none (or does not exist).
    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, Error>;
}

/// [`MxResolver`] over hickory-resolver with the system's configuration
/// (`/etc/resolv.conf`).
#[derive(Clone)]
pub struct DnsResolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for DnsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DnsResolver")
    }
}

impl DnsResolver {
    /// Reads the system resolver configuration.
    pub fn from_system() -> Result<Self, Error> {
        let inner = TokioResolver::builder_tokio()
            .map_err(|e| Error::Dns(format!("reading the system resolver configuration: {e}")))?
            .build()
            .map_err(|e| Error::Dns(e.to_string()))?;
        Ok(Self { inner })
    }
}

/// A fully qualified name, so no search domain is tried (a recipient's
/// domain is always absolute).
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

#[async_trait]
impl MxResolver for DnsResolver {
    async fn mx(&self, domain: &str) -> Result<MxAnswer, Error> {
        match self.inner.mx_lookup(fqdn(domain)).await {
            Ok(lookup) => {
                let records: Vec<(u16, String)> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((
                            mx.preference,
                            mx.exchange
                                .to_utf8()
                                .trim_end_matches('.')
                                .to_ascii_lowercase(),
                        )),
                        _ => None,
                    })
                    .collect();
                if records.is_empty() {
                    Ok(MxAnswer::NoRecords)
                } else {
                    Ok(MxAnswer::Records(records))
                }
            }
            Err(e) if e.is_nx_domain() => Ok(MxAnswer::NoDomain),
            Err(e) if e.is_no_records_found() => Ok(MxAnswer::NoRecords),
            Err(e) => Err(Error::Dns(format!("MX {domain}: {e}"))),
        }
    }

    async fn ips(&self, host: &str) -> Result<Vec<IpAddr>, Error> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match self.inner.lookup_ip(fqdn(host)).await {
            Ok(lookup) => Ok(lookup.iter().collect()),
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Ok(Vec::new()),
            Err(e) => Err(Error::Dns(format!("A/AAAA {host}: {e}"))),
        }
    }
}

/// What to do for a domain, decided from its MX answer alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Try these hosts, in this order.
    Hosts(Vec<String>),
    /// Do not try: the domain refuses mail or does not exist.
    Refuse(Reply),
}

/// Orders MX hosts (RFC 5321 section 5.1): lowest preference first,
/// randomised among equal preferences so load spreads as the domain asked;
/// no MX means the domain itself; a null MX means no delivery (RFC 7505
/// section 4.2: `556 5.1.10`); no domain means `550 5.1.2`.
pub fn route(domain: &str, answer: MxAnswer) -> Route {
    match answer {
        MxAnswer::NoDomain => Route::Refuse(Reply::synthetic(
            550,
            "5.1.2",
            &format!("Host or domain name not found: {domain} (NXDOMAIN)"),
        )),
        MxAnswer::NoRecords => Route::Hosts(vec![domain.to_owned()]),
        MxAnswer::Records(mut records) => {
            // RFC 7505 section 3: a null MX is the only record; if a domain
            // mixes it with real ones, the real ones are still usable.
            let null = records.iter().any(|(_, h)| h.is_empty() || h == ".");
            records.retain(|(_, h)| !h.is_empty() && h != ".");
            if records.is_empty() {
                if null {
                    return Route::Refuse(Reply::synthetic(
                        556,
                        "5.1.10",
                        &format!("Recipient address has null MX: {domain} accepts no mail"),
                    ));
                }
                return Route::Hosts(vec![domain.to_owned()]);
            }
            records.shuffle(&mut rand::thread_rng());
            // A stable sort keeps the shuffled order within a preference.
            records.sort_by_key(|(pref, _)| *pref);
            let mut hosts: Vec<String> = Vec::with_capacity(records.len());
            for (_, h) in records {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
            Route::Hosts(hosts)
        }
    }
}

/// Settings of the [`Mx`] transport.
#[derive(Debug, Clone)]
pub struct MxOptions {
    /// Our name in EHLO: should be this machine's FQDN with matching
    /// reverse DNS, or many receivers will refuse us.
    pub helo_name: String,
    /// Timeouts for every step.
    pub timeouts: Timeouts,
    /// The port to deliver to: 25, except in tests.
    pub port: u16,
    /// Accept any certificate at STARTTLS: true by default, see the module
    /// documentation. False checks against the Web PKI roots and falls back
    /// to plain text when the check fails.
    pub tls_insecure: bool,
    /// At most this many addresses are tried per copy (RFC 5321 section
    /// 5.1 suggests a limit so one bad domain cannot hold a worker long).
    pub max_attempts: usize,
}

impl Default for MxOptions {
    fn default() -> Self {
        Self {
            helo_name: "localhost".into(),
            timeouts: Timeouts::default(),
            port: 25,
            tls_insecure: true,
            max_attempts: 10,
        }
    }
}

/// Direct delivery to the recipient's MX. Accepted copies are
/// `final_delivery: true`: the recipient's own server has them.
pub struct Mx {
    resolver: Arc<dyn MxResolver>,
    config: MxOptions,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Mx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mx")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Mx {
    /// A transport using the system's DNS configuration.
    pub fn new(config: MxOptions) -> Result<Self, Error> {
        Self::with_resolver(Arc::new(DnsResolver::from_system()?), config)
    }

    /// A transport that looks hosts up through `resolver`.
    pub fn with_resolver(resolver: Arc<dyn MxResolver>, config: MxOptions) -> Result<Self, Error> {
        let tls = TlsOptions {
            insecure: config.tls_insecure,
            extra_ca_pem: None,
        }
        .client_config()?;
        Ok(Self {
            resolver,
            config,
            tls,
        })
    }

    fn session(&self, host: &str, security: Security) -> Session {
        Session {
            host: host.to_owned(),
            port: self.config.port,
            security,
            helo_name: self.config.helo_name.clone(),
            timeouts: self.config.timeouts,
            tls: self.tls.clone(),
            sni: None,
            credentials: None,
        }
    }

    /// Opens a session to one address; if the TLS handshake fails, tries
    /// once more in plain text (opportunistic TLS must not make delivery
    /// worse than no TLS).
    async fn open(&self, host: &str, ip: IpAddr) -> Result<Connection, Error> {
        match Connection::open(&self.session(host, Security::Opportunistic), Some(ip)).await {
            Err(Error::Tls(e)) => {
                tracing::info!(%host, %ip, error = %e, "STARTTLS failed; retrying in plain text");
                Connection::open(&self.session(host, Security::None), Some(ip)).await
            }
            other => other,
        }
    }
}

#[async_trait]
impl Transport for Mx {
    fn name(&self) -> &'static str {
        "mx"
    }

    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Outcome {
        let domain = envelope.recipient.domain();
        let hosts: Vec<String> =
            if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
                // An address literal (RFC 5321 section 4.1.3) names the host.
                vec![literal.strip_prefix("IPv6:").unwrap_or(literal).to_owned()]
            } else {
                let answer = match self.resolver.mx(domain).await {
                    Ok(a) => a,
                    Err(e) => return Outcome::from_error(&e, None),
                };
                match route(domain, answer) {
                    Route::Hosts(h) => h,
                    Route::Refuse(reply) => {
                        return Outcome::Permanent {
                            reply,
                            remote: format!("{domain} (DNS)"),
                        };
                    }
                }
            };

        let implicit = hosts.len() == 1 && hosts[0] == domain;
        let mut errors: Vec<String> = Vec::new();
        let mut last_reply: Option<Reply> = None;
        let mut last_remote: Option<String> = None;
        let mut attempts = 0;
        let mut any_address = false;
        let mut dns_failed = false;
        'hosts: for host in &hosts {
            let ips = match self.resolver.ips(host).await {
                Ok(ips) => ips,
                Err(e) => {
                    dns_failed = true;
                    errors.push(e.to_string());
                    continue;
                }
            };
            if ips.is_empty() {
                errors.push(format!("{host}: no address"));
            }
            for ip in ips {
                if attempts >= self.config.max_attempts {
                    break 'hosts;
                }
                attempts += 1;
                any_address = true;
                let mut conn = match self.open(host, ip).await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::debug!(%host, %ip, error = %e, "MX host did not take a session");
                        errors.push(format!("{host}[{ip}]: {e}"));
                        if let Some(r) = e.reply() {
                            last_reply = Some(r.clone());
                        }
                        last_remote = Some(format!("{host}[{ip}]:{}", self.config.port));
                        continue;
                    }
                };
                let remote = conn.remote().to_owned();
                let result = conn.send(envelope, message).await;
                // An error before the content was sent: the next host may do
                // better. After it, the message may have arrived: stop here
                // rather than risk a duplicate; a later retry decides.
                let try_next =
                    matches!(&result, Err(e) if e.stage().is_some_and(|s| s < Stage::DataEnd));
                conn.quit().await;
                if try_next {
                    if let Err(e) = &result {
                        errors.push(format!("{remote}: {e}"));
                    }
                    last_remote = Some(remote);
                    continue;
                }
                return Outcome::from_result(result, &remote, true);
            }
        }
        // RFC 5321 section 5.1: a domain with neither MX nor address records
        // has no mail server; that is not going to change on retry.
        if implicit && !any_address && !dns_failed {
            return Outcome::Permanent {
                reply: Reply::synthetic(
                    550,
                    "5.1.2",
                    &format!("Host or domain name not found: {domain} has no MX and no address"),
                ),
                remote: format!("{domain} (DNS)"),
            };
        }
        Outcome::Transient {
            reply: last_reply,
            remote: last_remote,
            error: if errors.is_empty() {
                format!("no mail server of {domain} could be reached")
            } else {
                errors.join("; ")
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(r: Route) -> Vec<String> {
        match r {
            Route::Hosts(h) => h,
            Route::Refuse(r) => panic!("refused: {r}"),
        }
    }

    #[test]
    fn orders_by_preference() {
        let answer = MxAnswer::Records(vec![
            (20, "mx2.example.test".into()),
            (10, "mx1.example.test".into()),
            (30, "mx3.example.test".into()),
        ]);
        assert_eq!(
            hosts(route("example.test", answer)),
            ["mx1.example.test", "mx2.example.test", "mx3.example.test"]
        );
    }

    #[test]
    fn equal_preferences_stay_together_after_lower_ones() {
        let answer = MxAnswer::Records(vec![
            (20, "b".into()),
            (5, "first".into()),
            (20, "a".into()),
            (20, "c".into()),
            (5, "first".into()),
        ]);
        for _ in 0..20 {
            let h = hosts(route("d.test", answer.clone()));
            assert_eq!(h.len(), 4, "duplicates are removed");
            assert_eq!(h[0], "first");
            let mut rest = h[1..].to_vec();
            rest.sort();
            assert_eq!(rest, ["a", "b", "c"]);
        }
    }

    #[test]
    fn no_mx_falls_back_to_the_domain() {
        assert_eq!(
            hosts(route("example.test", MxAnswer::NoRecords)),
            ["example.test"]
        );
    }

    #[test]
    fn null_mx_and_nxdomain_are_permanent() {
        let Route::Refuse(r) = route("nomail.test", MxAnswer::Records(vec![(0, String::new())]))
        else {
            panic!("null MX must refuse")
        };
        assert_eq!(
            (r.code, r.enhanced.unwrap().to_string()),
            (556, "5.1.10".into())
        );
        assert_eq!(
            mailtrail_domain::Reason::from_reply(Some(r.code), r.enhanced.as_ref(), &r.text),
            mailtrail_domain::Reason::NotAccept
        );
        let Route::Refuse(r) = route("gone.test", MxAnswer::NoDomain) else {
            panic!("NXDOMAIN must refuse")
        };
        assert_eq!(r.enhanced.unwrap().to_string(), "5.1.2");
        assert_eq!(
            mailtrail_domain::Reason::from_reply(Some(r.code), r.enhanced.as_ref(), &r.text),
            mailtrail_domain::Reason::HostUnknown
        );
        // A null MX beside real ones is ignored.
        let answer = MxAnswer::Records(vec![(0, ".".into()), (10, "mx.test".into())]);
        assert_eq!(hosts(route("x.test", answer)), ["mx.test"]);
    }
}

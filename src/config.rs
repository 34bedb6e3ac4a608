//! Typed settings: defaults → one TOML file (`--config`) → `MAILTRAIL_*`
//! environment → flags (DESIGN.md section 6). The environment and flags are
//! read by clap (each flag has an `env`), so both simply override the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

/// A secret that never prints: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, Deserialize, Default, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Where outbound mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relay {
    /// The built-in inbox: nothing leaves the machine.
    Sandbox,
    /// Direct delivery to each recipient's MX.
    Mx,
    /// A smarthost URL (`smtp://`, `smtp+starttls://`, `smtps://`); it may
    /// hold a password, so it is never printed whole.
    Smarthost(Secret),
}

impl Relay {
    /// Parses `sandbox`, `mx` or a smarthost URL.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "sandbox" => Ok(Self::Sandbox),
            "mx" => Ok(Self::Mx),
            url if url.starts_with("smtp://")
                || url.starts_with("smtps://")
                || url.starts_with("smtp+starttls://") =>
            {
                Ok(Self::Smarthost(Secret::new(url)))
            }
            other => bail!(
                "relay: {:?} is not sandbox, mx, or an smtp://, smtps:// or smtp+starttls:// URL",
                other.split('@').next_back().unwrap_or_default()
            ),
        }
    }
}

/// The whole configuration of `mailtrail serve` (and the parts the other
/// commands share).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the embedded database and generated keys live.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://...`; default: SQLite in `data_dir`.
    pub db: Option<Secret>,
    /// HTTP listen address.
    pub http: SocketAddr,
    /// `sandbox`, `mx` or a smarthost URL.
    pub relay: String,
    /// Accept any certificate from the smarthost (tests only; a private CA
    /// belongs in `tls_ca_file`).
    pub relay_tls_insecure: bool,
    /// Extra trusted CA certificates (PEM file) for the TLS connections
    /// mailtrail opens: a smarthost or IMAP server with a private CA.
    pub tls_ca_file: Option<PathBuf>,
    /// Sessions open to the smarthost at once (kept open for reuse).
    pub relay_pool: usize,
    /// Base URL of tracking links; default `http://<http>`.
    pub public_url: Option<String>,
    /// Domain of the VERP return path; default: the sender's domain.
    pub bounce_domain: Option<String>,
    /// Name used in EHLO.
    pub hostname: Option<String>,
    /// DKIM signing domain (d=).
    pub dkim_domain: Option<String>,
    /// DKIM selector (s=).
    pub dkim_selector: Option<String>,
    /// PEM private key file (RSA or Ed25519).
    pub dkim_key: Option<PathBuf>,
    /// Secret for tracking tokens; default: generated once into `data_dir`.
    pub token_secret: Option<Secret>,
    /// Key (64 hex digits) that seals users' mailbox secrets in the
    /// database; default: generated once into `data_dir` (`mailbox-key`,
    /// mode 0600). Kept apart from the database, so a dump alone reveals
    /// no password; losing it means users connect their mailboxes again.
    pub mailbox_key: Option<Secret>,
    /// Bearer token that `GET /metrics` asks for; none: it is open.
    pub metrics_token: Option<Secret>,
    /// Largest accepted message, in bytes.
    pub max_message_bytes: usize,
    /// Most recipients (to, cc and bcc together) of one message.
    pub max_recipients: usize,
    /// Delivery jobs processed at once.
    pub workers: usize,
    /// First retry delay after a temporary failure, in seconds; doubles each time.
    pub retry_initial_secs: u64,
    /// Longest delay between retries, in seconds.
    pub retry_max_delay_secs: u64,
    /// Give up (failed, expired) after this many seconds since acceptance.
    pub retry_max_age_secs: u64,
    /// Days of detailed events, and of processed inbound mail, to keep.
    pub retention_days: u32,
    /// Seconds a claimed delivery job stays with its node; if the node dies
    /// and does not come back, another node takes the job once this passes
    /// (a node that restarts releases its own jobs at once). The default is
    /// the longest one SMTP attempt can last under the client's timeouts
    /// (RFC 5321 section 4.5.3.2), so that no node sends a copy that a slow
    /// server is still accepting from another.
    pub job_lease_secs: u64,
    /// Inbound SMTP listen address for bounces, receipts and replies
    /// (port 0 picks a free port); off when unset.
    pub smtp_in: Option<SocketAddr>,
    /// Domains the inbound listener accepts mail for; everything else is
    /// relaying and refused. Default: the bounce domain.
    pub inbound_domains: Vec<String>,
    /// SMTP submission listen address (STARTTLS, port 587); off when unset.
    pub smtp_submission: Option<SocketAddr>,
    /// SMTP submission with implicit TLS (port 465); off when unset.
    pub smtps_submission: Option<SocketAddr>,
    /// PEM certificate chain of the submission listeners.
    pub submission_cert: Option<PathBuf>,
    /// PEM private key of the submission listeners.
    pub submission_key: Option<PathBuf>,
    /// Messages per API key per minute over submission (0: no limit).
    pub submission_rate_per_minute: u32,
    /// PEM certificate chain for STARTTLS on the inbound listener.
    pub smtp_in_cert: Option<PathBuf>,
    /// PEM private key for STARTTLS on the inbound listener.
    pub smtp_in_key: Option<PathBuf>,
    /// Inbound SMTP connections served at once.
    pub smtp_in_max_connections: usize,
    /// Inbound SMTP connections served at once for one client address
    /// (counted apart from `smtp_in_max_connections`).
    pub smtp_in_max_per_client: usize,
    /// Seconds a new inbound SMTP client has to send its first command.
    pub smtp_in_greeting_timeout_secs: u64,
    /// The PEM certificate Amazon SNS signs its messages with; turns on
    /// `POST /inbound/ses` (SES notifications over HTTP).
    pub ses_sns_certificate: Option<PathBuf>,
    /// The SNS topics `POST /inbound/ses` accepts; empty: any topic whose
    /// messages verify with `ses_sns_certificate`.
    pub ses_sns_topic_arns: Vec<String>,
    /// Connected mailboxes read by the IMAP poller, as URLs
    /// `imap[s]://user:password@host[:port]/FOLDER` (`?xoauth2` for a token);
    /// they hold secrets, so they never print.
    pub imap_mailboxes: Vec<Secret>,
    /// Seconds between checks of a mailbox whose server has no IDLE.
    pub imap_poll_secs: u64,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// The sender's own networks (CIDRs): opens from them are `self`.
    pub self_networks: Vec<String>,
    /// Keep only the /24 (IPv4) or /48 (IPv6) of openers' addresses.
    pub truncate_ip: bool,
    /// Opens and clicks within this many seconds of the copy being built
    /// are a machine's.
    pub machine_window_secs: u64,
    /// Directory with `user_agents.tsv` / `networks.tsv` replacing the
    /// built-in opener lists.
    pub opener_data: Option<PathBuf>,
    /// Most tracking events per store transaction when the event journal
    /// is folded into the store.
    pub event_batch: usize,
    /// Tracking events buffered for the journal writer before requests
    /// wait (backpressure).
    pub event_queue: usize,
    /// Milliseconds the journal's folding waits for a fuller batch.
    pub event_batch_wait_ms: u64,
    /// Sign-in attempts per account that pass at once; later ones back off
    /// exponentially (1 s, 2 s, 4 s ... up to 15 minutes).
    pub signin_account_attempts: u32,
    /// Sign-in attempts per client address that pass at once.
    pub signin_address_attempts: u32,
    /// Password checks (Argon2, 19 MiB each) running at once; 0: one fewer
    /// than the cores, at least one.
    pub signin_hash_concurrency: usize,
    /// Seconds a client has to send a request's headers, and that an idle
    /// keep-alive connection stays open.
    pub http_header_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub http_body_timeout_secs: u64,
    /// HTTP connections open at once; capped by the descriptor limit.
    pub http_max_connections: usize,
    /// Of `http_max_connections`, the ones kept for the tracking endpoints
    /// and `/healthz` when the rest are taken.
    pub http_tracking_reserve: usize,
    /// Allow webhook endpoints on private, loopback and link-local
    /// addresses (refused by default: server-side request forgery).
    pub allow_private_webhooks: bool,
    /// The webhook dispatcher's clock; only tests move it.
    #[serde(skip)]
    pub webhook_clock: mailtrail_worker::webhooks::Clock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("mailtrail-data"),
            db: None,
            http: SocketAddr::from(([127, 0, 0, 1], 8080)),
            relay: "sandbox".into(),
            relay_tls_insecure: false,
            tls_ca_file: None,
            relay_pool: 8,
            public_url: None,
            bounce_domain: None,
            hostname: None,
            dkim_domain: None,
            dkim_selector: None,
            dkim_key: None,
            token_secret: None,
            mailbox_key: None,
            metrics_token: None,
            max_message_bytes: 25 * 1024 * 1024,
            max_recipients: 1_000,
            workers: 16,
            retry_initial_secs: 60,
            retry_max_delay_secs: 3600,
            retry_max_age_secs: 3 * 24 * 3600,
            retention_days: 30,
            job_lease_secs: mailtrail_smtp::Timeouts::default()
                .longest_attempt()
                .as_secs(),
            smtp_in: None,
            inbound_domains: Vec::new(),
            smtp_submission: None,
            smtps_submission: None,
            submission_cert: None,
            submission_key: None,
            submission_rate_per_minute: 600,
            smtp_in_cert: None,
            smtp_in_key: None,
            smtp_in_max_connections: 100,
            smtp_in_max_per_client: 10,
            smtp_in_greeting_timeout_secs: 30,
            ses_sns_certificate: None,
            ses_sns_topic_arns: Vec::new(),
            imap_mailboxes: Vec::new(),
            imap_poll_secs: 60,
            trusted_proxies: Vec::new(),
            self_networks: Vec::new(),
            truncate_ip: false,
            machine_window_secs: 2,
            opener_data: None,
            event_batch: 4096,
            event_queue: 8192,
            event_batch_wait_ms: 1,
            signin_account_attempts: 5,
            signin_address_attempts: 20,
            signin_hash_concurrency: 0,
            http_header_timeout_secs: 10,
            http_body_timeout_secs: 30,
            http_max_connections: 10_000,
            http_tracking_reserve: 1_000,
            allow_private_webhooks: false,
            webhook_clock: mailtrail_worker::webhooks::Clock::default(),
        }
    }
}

impl Settings {
    /// Defaults overlaid with the TOML file at `path`, if any.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            None => Ok(Self::default()),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("config file {}", p.display()))
            }
        }
    }

    /// The database URL: the configured one, or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        match &self.db {
            Some(url) => url.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("mailtrail.db").display()),
        }
    }

    /// The sign-in guard's settings.
    pub fn signin(&self) -> mailtrail_http::signin::SignInSettings {
        let mut s = mailtrail_http::signin::SignInSettings::default();
        if self.signin_hash_concurrency > 0 {
            s.hash_concurrency = self.signin_hash_concurrency;
        }
        s.limits.account_free = self.signin_account_attempts.max(1);
        s.limits.address_free = self.signin_address_attempts.max(1);
        s
    }

    /// The relay, parsed.
    pub fn relay(&self) -> anyhow::Result<Relay> {
        Relay::parse(&self.relay)
    }

    /// The domains the inbound listener accepts: the configured ones, else
    /// the bounce domain.
    pub fn inbound_domains(&self) -> Vec<String> {
        if self.inbound_domains.is_empty() {
            self.bounce_domain.iter().cloned().collect()
        } else {
            self.inbound_domains.clone()
        }
    }

    /// The PEM of `tls_ca_file`, read and checked (at least one
    /// certificate, every one well formed); the error names the file.
    pub fn tls_ca_pem(&self) -> anyhow::Result<Option<std::sync::Arc<[u8]>>> {
        let Some(path) = &self.tls_ca_file else {
            return Ok(None);
        };
        let pem = std::fs::read(path)
            .with_context(|| format!("tls_ca_file: cannot read {}", path.display()))?;
        // The file serves the smarthost too: say what is wrong with it, not
        // which client noticed ("IMAP TLS: …").
        if let Err(e) = mailtrail_imap::client::trusted_roots(Some(&pem)) {
            let why = match e {
                mailtrail_imap::Error::Tls(why) => why,
                other => other.to_string(),
            };
            bail!("tls_ca_file {}: {why}", path.display());
        }
        Ok(Some(pem.into()))
    }

    /// Checks what can be checked before start-up.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.relay()?;
        let dkim = [
            self.dkim_domain.is_some(),
            self.dkim_selector.is_some(),
            self.dkim_key.is_some(),
        ];
        if dkim.iter().any(|x| *x) && !dkim.iter().all(|x| *x) {
            bail!("dkim: --dkim-domain, --dkim-selector and --dkim-key must be given together");
        }
        if self.smtp_in.is_some() && self.inbound_domains().is_empty() {
            bail!(
                "smtp_in: set --inbound-domains or --bounce-domain, the domains it accepts mail for"
            );
        }
        if !self.ses_sns_topic_arns.is_empty() && self.ses_sns_certificate.is_none() {
            bail!("ses_sns_topic_arns: set --ses-sns-certificate too, or nothing is received");
        }
        for m in &self.imap_mailboxes {
            // The error names what is wrong, never the URL (it has the password).
            mailtrail_imap::MailboxConfig::parse(m.expose())
                .map_err(|e| anyhow::anyhow!("imap_mailboxes: {e}"))?;
        }
        self.tls_ca_pem()?;
        if self.smtp_in_cert.is_some() != self.smtp_in_key.is_some() {
            bail!("smtp_in: --smtp-in-cert and --smtp-in-key must be given together");
        }
        if self.submission_cert.is_some() != self.submission_key.is_some() {
            bail!("submission: --submission-cert and --submission-key must be given together");
        }
        if self.smtps_submission.is_some() && self.submission_cert.is_none() {
            bail!("smtps_submission: implicit TLS needs --submission-cert and --submission-key");
        }
        if self.workers == 0 {
            bail!("workers: must be at least 1");
        }
        if self.relay_pool == 0 {
            bail!("relay_pool: must be at least 1");
        }
        // 0 would purge every event within the hour of its writing.
        if self.retention_days == 0 {
            bail!("retention_days: must be at least 1");
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("public_url: must start with http:// or https://");
        }
        mailtrail_http::tracking::parse_networks(&self.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?;
        mailtrail_http::tracking::parse_networks(&self.self_networks)
            .map_err(|e| anyhow::anyhow!("self_networks: {e}"))?;
        if self.event_batch == 0 || self.event_queue == 0 {
            bail!("event_batch and event_queue: must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_ca_file_must_be_readable_and_hold_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Settings {
            tls_ca_file: Some(dir.path().join("missing.pem")),
            ..Settings::default()
        };
        let e = format!("{:#}", s.validate().unwrap_err());
        assert!(
            e.contains("tls_ca_file") && e.contains("missing.pem"),
            "{e}"
        );
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        s.tls_ca_file = Some(empty);
        let e = format!("{:#}", s.validate().unwrap_err());
        assert!(e.contains("no certificate"), "{e}");
        assert!(
            !e.contains("IMAP"),
            "the file serves the smarthost too: {e}"
        );
        let bad = dir.path().join("bad.pem");
        std::fs::write(
            &bad,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        s.tls_ca_file = Some(bad);
        assert!(s.validate().is_err());
        s.tls_ca_file = None;
        assert!(s.tls_ca_pem().unwrap().is_none());
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let r = Relay::parse("smtp://u:hunter2@host:25").unwrap();
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn relay_errors_do_not_leak_passwords() {
        let e = Relay::parse("ftp://u:hunter2@host")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn toml_overrides_defaults_and_refuses_unknown_keys() {
        let s: Settings = toml::from_str("http = \"127.0.0.1:0\"\nworkers = 3").unwrap();
        assert_eq!(s.workers, 3);
        assert_eq!(s.relay, "sandbox");
        assert!(toml::from_str::<Settings>("bogus = 1").is_err());
    }

    #[test]
    fn ses_topics_need_the_certificate() {
        let s = Settings {
            ses_sns_topic_arns: vec!["arn:aws:sns:us-east-1:1:t".into()],
            ..Settings::default()
        };
        let e = s.validate().unwrap_err().to_string();
        assert!(e.contains("--ses-sns-certificate"), "{e}");
    }

    #[test]
    fn dkim_all_or_nothing() {
        let s = Settings {
            dkim_domain: Some("x.test".into()),
            ..Settings::default()
        };
        assert!(s.validate().is_err());
    }
}

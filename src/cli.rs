//! The command line: `serve`, `user add`, `token create`, `migrate`,
//! `classify`, `convert`.
//!
//! Every flag of `serve` has a `MAILTRAIL_*` environment equivalent; both
//! override the TOML file given with `--config`.

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use mailtrail_domain::EmailAddress;
use mailtrail_store::NewApiKey;
use mailtrail_store::prelude::*;
use uuid::Uuid;

use crate::config::{Secret, Settings};
use mailtrail_mail::batch as classify;

use mailtrail_domain::credentials::{
    MIN_PASSWORD_CHARS, generate_api_key, generate_password, hash_api_key,
};

use crate::startup;

/// Self-hosted email tracking server.
#[derive(Debug, Parser)]
#[command(name = "mailtrail", version, about)]
pub struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Command,
}

/// Flags every command shares: where the data is.
#[derive(Debug, Args)]
struct Common {
    /// TOML configuration file.
    #[arg(long, global = true, env = "MAILTRAIL_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the embedded database and generated keys [default: ./mailtrail-data].
    #[arg(long, global = true, env = "MAILTRAIL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://... [default: SQLite in the data dir].
    #[arg(long, global = true, env = "MAILTRAIL_DB")]
    db: Option<String>,
    /// Log lines on standard error: `text`, or `json` (one object per line).
    #[arg(
        long,
        global = true,
        env = "MAILTRAIL_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: crate::telemetry::LogFormat,
}

impl Cli {
    /// How the command's log lines are written.
    pub fn log_format(&self) -> crate::telemetry::LogFormat {
        self.common.log_format
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: HTTP API, tracking endpoints and delivery workers.
    Serve(Box<ServeArgs>),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Apply database migrations and exit.
    Migrate,
    /// Classify returned mail (bounces, receipts, complaints, replies): one line per file.
    Classify {
        /// One JSON object per line (the stable contract) instead of a text summary.
        #[arg(long)]
        json: bool,
        /// Message files, directories read recursively, or - for standard input.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Convert Outlook .msg files (and TNEF winmail.dat) to .eml, one per input.
    Convert {
        /// Keep every MAPI property in an application/ms-tnef part (winmail.dat).
        #[arg(long)]
        tnef: bool,
        /// Write the .eml files under this directory [default: beside each input].
        #[arg(short = 'o', long = "out")]
        out: Option<PathBuf>,
        /// Files, or directories walked for .msg, .tnef and winmail.dat files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// HTTP listen address (port 0 picks a free port) [default: 127.0.0.1:8080].
    #[arg(long, env = "MAILTRAIL_HTTP")]
    http: Option<SocketAddr>,
    /// Where mail goes: sandbox, mx, smtp://[user:pass@]host[:port], smtps://..., smtp+starttls://... [default: sandbox].
    #[arg(long, env = "MAILTRAIL_RELAY")]
    relay: Option<String>,
    /// Accept any TLS certificate from the smarthost.
    #[arg(long, env = "MAILTRAIL_RELAY_TLS_INSECURE")]
    relay_tls_insecure: Option<bool>,
    /// Extra trusted CA certificates (PEM file) for the smarthost and IMAP servers with a private CA.
    #[arg(long, env = "MAILTRAIL_TLS_CA_FILE")]
    tls_ca_file: Option<PathBuf>,
    /// Sessions open to the smarthost at once (kept open for reuse).
    #[arg(long, env = "MAILTRAIL_RELAY_POOL")]
    relay_pool: Option<usize>,
    /// Base URL of tracking links [default: http://<http address>].
    #[arg(long, env = "MAILTRAIL_PUBLIC_URL")]
    public_url: Option<String>,
    /// Domain of the VERP return path bounces+TOKEN@DOMAIN [default: the sender's domain].
    #[arg(long, env = "MAILTRAIL_BOUNCE_DOMAIN")]
    bounce_domain: Option<String>,
    /// Host name used in EHLO.
    #[arg(long, env = "MAILTRAIL_HOSTNAME")]
    hostname: Option<String>,
    /// DKIM signing domain (d=).
    #[arg(long, env = "MAILTRAIL_DKIM_DOMAIN")]
    dkim_domain: Option<String>,
    /// DKIM selector (s=).
    #[arg(long, env = "MAILTRAIL_DKIM_SELECTOR")]
    dkim_selector: Option<String>,
    /// DKIM private key, PEM (RSA or Ed25519).
    #[arg(long, env = "MAILTRAIL_DKIM_KEY")]
    dkim_key: Option<PathBuf>,
    /// Secret for tracking tokens [default: generated once into the data dir].
    #[arg(long, env = "MAILTRAIL_TOKEN_SECRET", hide_env_values = true)]
    token_secret: Option<String>,
    /// Key (64 hex digits) sealing users' mailbox passwords in the database [default: generated once into the data dir].
    #[arg(long, env = "MAILTRAIL_MAILBOX_KEY", hide_env_values = true)]
    mailbox_key: Option<String>,
    /// Bearer token that GET /metrics asks for (Authorization: Bearer TOKEN) [default: none, open].
    #[arg(long, env = "MAILTRAIL_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Largest accepted message in bytes, request and built copy alike [default: 25 MiB = 26214400].
    #[arg(long, env = "MAILTRAIL_MAX_MESSAGE_BYTES")]
    max_message_bytes: Option<usize>,
    /// Most recipients (to, cc and bcc together) of one message; more get 400 [default: 1000].
    #[arg(long, env = "MAILTRAIL_MAX_RECIPIENTS")]
    max_recipients: Option<usize>,
    /// Delivery jobs processed at once.
    #[arg(long, env = "MAILTRAIL_WORKERS")]
    workers: Option<usize>,
    /// First retry delay after a temporary failure, seconds (doubles each time).
    #[arg(long, env = "MAILTRAIL_RETRY_INITIAL_SECS")]
    retry_initial_secs: Option<u64>,
    /// Longest delay between retries, seconds.
    #[arg(long, env = "MAILTRAIL_RETRY_MAX_DELAY_SECS")]
    retry_max_delay_secs: Option<u64>,
    /// Give up after this many seconds (failed, expired) [default: 3 days].
    #[arg(long, env = "MAILTRAIL_RETRY_MAX_AGE_SECS")]
    retry_max_age_secs: Option<u64>,
    /// Days of detailed events, and of processed inbound mail, to keep [default: 30].
    #[arg(long, env = "MAILTRAIL_RETENTION_DAYS")]
    retention_days: Option<u32>,
    /// Seconds a claimed job stays with its node before another node may take it (crash recovery; a restarted node releases its own at once) [default: 3060, the longest SMTP attempt].
    #[arg(long, env = "MAILTRAIL_JOB_LEASE_SECS")]
    job_lease_secs: Option<u64>,
    /// Reverse proxies whose X-Forwarded-For is believed (comma-separated CIDRs).
    #[arg(long, env = "MAILTRAIL_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Option<Vec<String>>,
    /// The sender's own networks, whose opens are `self` (comma-separated CIDRs).
    #[arg(long, env = "MAILTRAIL_SELF_NETWORKS", value_delimiter = ',')]
    self_networks: Option<Vec<String>>,
    /// Keep only the /24 (IPv4) or /48 (IPv6) of openers' addresses.
    #[arg(long, env = "MAILTRAIL_TRUNCATE_IP")]
    truncate_ip: Option<bool>,
    /// Allow webhook endpoints on private, loopback and link-local addresses.
    #[arg(long, env = "MAILTRAIL_ALLOW_PRIVATE_WEBHOOKS", num_args = 0..=1, default_missing_value = "true")]
    allow_private_webhooks: Option<bool>,
    /// Opens/clicks within this many seconds of sending are a machine's [default: 2].
    #[arg(long, env = "MAILTRAIL_MACHINE_WINDOW_SECS")]
    machine_window_secs: Option<u64>,
    /// Directory with user_agents.tsv / networks.tsv replacing the built-in opener lists.
    #[arg(long, env = "MAILTRAIL_OPENER_DATA")]
    opener_data: Option<PathBuf>,
    /// Most tracking events per store transaction when the event journal is folded [default: 4096].
    #[arg(long, env = "MAILTRAIL_EVENT_BATCH")]
    event_batch: Option<usize>,
    /// Tracking events buffered for the journal writer before requests wait [default: 8192].
    #[arg(long, env = "MAILTRAIL_EVENT_QUEUE")]
    event_queue: Option<usize>,
    /// Milliseconds the journal's folding waits for a fuller batch [default: 1].
    #[arg(long, env = "MAILTRAIL_EVENT_BATCH_WAIT_MS")]
    event_batch_wait_ms: Option<u64>,
    /// Inbound SMTP listen address for bounces, receipts and replies (port 0 picks a free port) [default: off].
    #[arg(long, env = "MAILTRAIL_SMTP_IN")]
    smtp_in: Option<SocketAddr>,
    /// Domains the inbound listener accepts mail for (comma-separated) [default: the bounce domain].
    #[arg(long, env = "MAILTRAIL_INBOUND_DOMAINS", value_delimiter = ',')]
    inbound_domains: Option<Vec<String>>,
    /// PEM certificate chain offered with STARTTLS on the inbound listener.
    #[arg(long, env = "MAILTRAIL_SMTP_IN_CERT")]
    smtp_in_cert: Option<PathBuf>,
    /// PEM private key for the inbound listener's certificate.
    #[arg(long, env = "MAILTRAIL_SMTP_IN_KEY")]
    smtp_in_key: Option<PathBuf>,
    /// SMTP submission listen address (RFC 6409, port 587 by convention); AUTH needs STARTTLS except on loopback [default: off].
    #[arg(long, env = "MAILTRAIL_SMTP_SUBMISSION")]
    smtp_submission: Option<SocketAddr>,
    /// SMTP submission with implicit TLS (RFC 8314, port 465 by convention); needs --submission-cert [default: off].
    #[arg(long, env = "MAILTRAIL_SMTPS_SUBMISSION")]
    smtps_submission: Option<SocketAddr>,
    /// PEM certificate chain of the submission listeners.
    #[arg(long, env = "MAILTRAIL_SUBMISSION_CERT")]
    submission_cert: Option<PathBuf>,
    /// PEM private key of the submission listeners' certificate.
    #[arg(long, env = "MAILTRAIL_SUBMISSION_KEY")]
    submission_key: Option<PathBuf>,
    /// Messages per API key per minute over SMTP submission; more get 421 4.7.0; 0: no limit [default: 600].
    #[arg(long, env = "MAILTRAIL_SUBMISSION_RATE_PER_MINUTE")]
    submission_rate_per_minute: Option<u32>,
    /// Inbound SMTP connections served at once [default: 100].
    #[arg(long, env = "MAILTRAIL_SMTP_IN_MAX_CONNECTIONS")]
    smtp_in_max_connections: Option<usize>,
    /// Inbound SMTP connections served at once for one client address; more get 421 4.7.0 [default: 10].
    #[arg(long, env = "MAILTRAIL_SMTP_IN_MAX_PER_CLIENT")]
    smtp_in_max_per_client: Option<usize>,
    /// Seconds a new inbound SMTP client has to send its first command [default: 30].
    #[arg(long, env = "MAILTRAIL_SMTP_IN_GREETING_TIMEOUT_SECS")]
    smtp_in_greeting_timeout_secs: Option<u64>,
    /// PEM certificate Amazon SNS signs with; turns on POST /inbound/ses for SES notifications [default: off].
    #[arg(long, env = "MAILTRAIL_SES_SNS_CERTIFICATE")]
    ses_sns_certificate: Option<PathBuf>,
    /// SNS topic ARNs POST /inbound/ses accepts (comma-separated) [default: any signed with the certificate].
    #[arg(
        long = "ses-sns-topic-arn",
        env = "MAILTRAIL_SES_SNS_TOPIC_ARNS",
        value_delimiter = ','
    )]
    ses_sns_topic_arns: Option<Vec<String>>,
    /// A mailbox the IMAP poller reads (repeatable; space-separated in the environment): imap[s]://user:password@host[:port]/FOLDER; `?xoauth2` for an OAuth 2.0 access token as the password, plus `&token_url=&client_id=&client_secret=&refresh_token=` to get a fresh one before each connection.
    #[arg(
        long = "imap-mailbox",
        env = "MAILTRAIL_IMAP_MAILBOXES",
        value_delimiter = ' ',
        hide_env_values = true
    )]
    imap_mailboxes: Option<Vec<String>>,
    /// Seconds between checks of a mailbox without IDLE [default: 60].
    #[arg(long, env = "MAILTRAIL_IMAP_POLL_SECS")]
    imap_poll_secs: Option<u64>,
    /// Sign-in attempts per account before exponential back-off [default: 5].
    #[arg(long, env = "MAILTRAIL_SIGNIN_ACCOUNT_ATTEMPTS")]
    signin_account_attempts: Option<u32>,
    /// Sign-in attempts per client address before exponential back-off [default: 20].
    #[arg(long, env = "MAILTRAIL_SIGNIN_ADDRESS_ATTEMPTS")]
    signin_address_attempts: Option<u32>,
    /// Password checks running at once [default: 0, one fewer than the cores, at least one].
    #[arg(long, env = "MAILTRAIL_SIGNIN_HASH_CONCURRENCY")]
    signin_hash_concurrency: Option<usize>,
    /// Seconds to send a request's headers, and an idle keep-alive connection's life [default: 10].
    #[arg(long, env = "MAILTRAIL_HTTP_HEADER_TIMEOUT_SECS")]
    http_header_timeout_secs: Option<u64>,
    /// Seconds to send a request's body [default: 30].
    #[arg(long, env = "MAILTRAIL_HTTP_BODY_TIMEOUT_SECS")]
    http_body_timeout_secs: Option<u64>,
    /// HTTP connections open at once [default: 10000].
    #[arg(long, env = "MAILTRAIL_HTTP_MAX_CONNECTIONS")]
    http_max_connections: Option<usize>,
    /// Connections kept for the tracking endpoints and /healthz when the rest are taken [default: 1000].
    #[arg(long, env = "MAILTRAIL_HTTP_TRACKING_RESERVE")]
    http_tracking_reserve: Option<usize>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user (to the default organisation unless --org is given).
    Add {
        /// Sign-in address.
        email: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input; otherwise one is generated and printed.
        #[arg(long)]
        password_stdin: bool,
        /// Organisation name.
        #[arg(long, default_value = "default")]
        org: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API key for a user; it is printed once, only its hash is stored.
    Create {
        /// The user's address.
        #[arg(long)]
        user: String,
        /// A label for the key.
        #[arg(long, default_value = "default")]
        name: String,
    },
}

/// `mailtrail classify [--json] PATH...` read without clap, when the
/// arguments are that plain (as scripts and the benchmark pass them):
/// clap first builds the whole command tree, `serve`'s forty flags
/// included, and then walks every path through its value parser, which
/// for a few hundred files is most of the command's start-up. Anything
/// else (another flag, `--help`, a path starting with `-`, no path) gives
/// `None`, and clap reads the line as always, with its messages.
pub fn plain_classify(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Option<(classify::Format, Vec<PathBuf>)> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != "classify" {
        return None;
    }
    let mut json = false;
    let mut paths = Vec::new();
    for a in args {
        if a == "--json" && !json {
            json = true;
        } else if a != "-" && a.as_encoded_bytes().first().is_none_or(|&b| b == b'-') {
            return None;
        } else {
            paths.push(PathBuf::from(a));
        }
    }
    if paths.is_empty() {
        return None;
    }
    Some((classify::Format::from_flag(json), paths))
}

/// Runs `classify` over `paths`: the lines on standard output, an error
/// when some input could not be read (after every other was classified).
pub fn run_classify(paths: &[PathBuf], format: classify::Format) -> anyhow::Result<()> {
    let failed = classify::run(paths, format, &mut std::io::stdout().lock())
        .context("writing to standard output")?;
    if failed > 0 {
        bail!("{failed} input(s) could not be read");
    }
    Ok(())
}

/// Runs the commands that need neither the async runtime nor the
/// configuration (`classify`, `convert`), so that they start as fast as a
/// plain program; `None` for every other command.
pub fn run_offline(cli: &Cli) -> Option<anyhow::Result<()>> {
    match &cli.command {
        Command::Classify { json, paths } => {
            Some(run_classify(paths, classify::Format::from_flag(*json)))
        }
        Command::Convert { tnef, out, paths } => {
            Some(crate::convert::run(paths, *tnef, out.as_deref()))
        }
        _ => None,
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Some(done) = run_offline(&cli) {
        return done;
    }
    let mut settings = Settings::load(cli.common.config.as_deref())?;
    if let Some(d) = cli.common.data_dir {
        settings.data_dir = d;
    }
    if let Some(db) = cli.common.db {
        settings.db = Some(Secret::new(db));
    }
    match cli.command {
        Command::Serve(args) => {
            apply_serve_args(&mut settings, *args);
            settings.validate()?;
            startup::serve(settings).await
        }
        // Handled above: classifying and converting files need no settings
        // or database.
        Command::Classify { .. } | Command::Convert { .. } => Ok(()),
        Command::Migrate => {
            open_store(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::User(UserCommand::Add {
            email,
            admin,
            password_stdin,
            org,
        }) => {
            let email = EmailAddress::parse(&email).with_context(|| format!("EMAIL {email:?}"))?;
            let (pw, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .context("reading the password from standard input")?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (generate_password(), true)
            };
            if pw.chars().count() < MIN_PASSWORD_CHARS {
                bail!("password: must be at least {MIN_PASSWORD_CHARS} characters");
            }
            let store = open_store(&settings).await?;
            let org = store.ensure_organisation(&org).await?;
            let user = mailtrail_store::add_user(&*store, org.id, &email, &pw, admin).await?;
            println!(
                "user {} added (id {}, organisation {}{})",
                user.email,
                user.id,
                org.name,
                if admin { ", admin" } else { "" }
            );
            if generated {
                println!("password: {pw}");
            }
            Ok(())
        }
        Command::Token(TokenCommand::Create { user, name }) => {
            let email = EmailAddress::parse(&user).with_context(|| format!("--user {user:?}"))?;
            let store = open_store(&settings).await?;
            let Some(u) = store.user_by_email(&email).await? else {
                bail!(
                    "no user {email}: add one with `mailtrail user add {email} --admin --password-stdin`"
                );
            };
            let (key, prefix) = generate_api_key();
            store
                .create_api_key(&NewApiKey {
                    id: Uuid::now_v7(),
                    user_id: u.id,
                    name,
                    key_hash: hash_api_key(&key),
                    prefix,
                })
                .await?;
            println!("{key}");
            eprintln!("This key is shown once; only its hash is stored.");
            Ok(())
        }
    }
}

async fn open_store(settings: &Settings) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    startup::open_store(settings).await
}

fn apply_serve_args(s: &mut Settings, a: ServeArgs) {
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = a.$f { s.$f = v; } )* };
    }
    macro_rules! set_opt {
        ($($f:ident),*) => { $( if let Some(v) = a.$f { s.$f = Some(v); } )* };
    }
    set!(
        http,
        relay,
        relay_tls_insecure,
        relay_pool,
        max_message_bytes,
        max_recipients,
        workers,
        retry_initial_secs,
        retry_max_delay_secs,
        retry_max_age_secs,
        retention_days,
        job_lease_secs,
        trusted_proxies,
        self_networks,
        truncate_ip,
        machine_window_secs,
        event_batch,
        event_queue,
        event_batch_wait_ms,
        inbound_domains,
        smtp_in_max_connections,
        imap_poll_secs,
        signin_account_attempts,
        signin_address_attempts,
        signin_hash_concurrency,
        http_header_timeout_secs,
        http_body_timeout_secs,
        http_max_connections,
        http_tracking_reserve,
        smtp_in_max_per_client,
        smtp_in_greeting_timeout_secs,
        ses_sns_topic_arns,
        allow_private_webhooks,
        submission_rate_per_minute
    );
    set_opt!(
        smtp_submission,
        smtps_submission,
        submission_cert,
        submission_key,
        smtp_in,
        smtp_in_cert,
        smtp_in_key,
        opener_data,
        public_url,
        bounce_domain,
        hostname,
        dkim_domain,
        dkim_selector,
        dkim_key,
        tls_ca_file,
        ses_sns_certificate
    );
    if let Some(m) = a.imap_mailboxes {
        s.imap_mailboxes = m.into_iter().map(Secret::new).collect();
    }
    if let Some(t) = a.token_secret {
        s.token_secret = Some(Secret::new(t));
    }
    if let Some(k) = a.mailbox_key {
        s.mailbox_key = Some(Secret::new(k));
    }
    if let Some(t) = a.metrics_token {
        s.metrics_token = Some(Secret::new(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What clap makes of `args` for `classify`, in the fast path's terms.
    fn by_clap(args: &[&str]) -> Option<(classify::Format, Vec<PathBuf>)> {
        let cli = Cli::try_parse_from(args).ok()?;
        let Command::Classify { json, paths } = cli.command else {
            return None;
        };
        Some((classify::Format::from_flag(json), paths))
    }

    /// The fast path reads a plain line exactly as clap does, and leaves
    /// every other line to clap.
    #[test]
    fn plain_classify_reads_what_clap_reads() {
        let plain: &[&[&str]] = &[
            &["mailtrail", "classify", "a.eml"],
            &["mailtrail", "classify", "--json", "a.eml", "dir"],
            &["mailtrail", "classify", "a.eml", "--json", "b.eml"],
            &["mailtrail", "classify", "a b.eml"],
            &["mailtrail", "classify", "--json", "-"],
            &["mailtrail", "classify", "a.eml", "-"],
        ];
        for args in plain {
            let fast = plain_classify(args.iter().map(std::ffi::OsString::from));
            assert!(fast.is_some(), "{args:?}");
            assert_eq!(fast, by_clap(args), "{args:?}");
        }
        let left_to_clap: &[&[&str]] = &[
            &["mailtrail", "classify"],
            &["mailtrail", "classify", "--json"],
            &["mailtrail", "classify", "--json", "--json", "a"],
            &["mailtrail", "classify", "--help"],
            &["mailtrail", "classify", "--data-dir", "d", "a"],
            &["mailtrail", "classify", "--", "-a"],
            &["mailtrail", "classify", "-j", "a"],
            &["mailtrail", "--config", "c", "classify", "a"],
            &["mailtrail", "serve"],
            &["mailtrail"],
            &["mailtrail", ""],
        ];
        for args in left_to_clap {
            assert_eq!(
                plain_classify(args.iter().map(std::ffi::OsString::from)),
                None,
                "{args:?}"
            );
        }
    }
}

//! Building and running the server: store, migrations, delivery workers,
//! retention, HTTP; and a clean drain on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mailtrail_domain::sealed::SealingKey;
use mailtrail_domain::{Keyring, TokenKey};
use mailtrail_http::tracking::opener::OpenerData;
use mailtrail_http::tracking::{Tracking, TrackingSettings, parse_networks};
use mailtrail_store::journal::{EventSink, SinkHandle, SinkOptions};
use mailtrail_store::prelude::*;
use tokio::sync::{Notify, watch};

use mailtrail_worker::delivery::{Worker, WorkerSettings};
use mailtrail_worker::inbound::{ImapSink, Processor, StoreSink};
use mailtrail_worker::webhooks::{Dispatcher, WebhookSettings};

use crate::config::Settings;

/// The tracking events' journal in the data dir (its segments are
/// `events.journal.0` and `events.journal.1`).
pub const EVENT_JOURNAL: &str = "events.journal";

/// Opens (creating if needed) and migrates the configured store.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let url = settings.database_url();
    if url.starts_with("sqlite:") && settings.db.is_none() {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
    }
    let store = mailtrail_store::connect(&url)
        .await
        .context("opening the database")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// The token secret: configured, or generated once into the data dir so
/// that links in sent mail keep working across restarts.
fn token_keyring(settings: &Settings) -> anyhow::Result<Keyring> {
    let secret = match &settings.token_secret {
        Some(s) => s.expose().as_bytes().to_vec(),
        None => load_or_create_secret(&settings.data_dir.join("token-secret"))?,
    };
    let key = TokenKey::new(1, &secret, None).context("token_secret")?;
    Ok(Keyring::new(vec![key])?)
}

/// The file in the data dir holding the key that seals users' mailbox
/// secrets, when none is configured.
pub const MAILBOX_KEY: &str = "mailbox-key";

/// The key users' mailbox secrets are sealed with: configured, or
/// generated once into the data dir (mode 0600).
fn mailbox_key(settings: &Settings) -> anyhow::Result<SealingKey> {
    let hex = match &settings.mailbox_key {
        Some(k) => k.expose().to_owned(),
        None => {
            let path = settings.data_dir.join(MAILBOX_KEY);
            match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
                        format!("creating data dir {}", settings.data_dir.display())
                    })?;
                    let hex = SealingKey::generate_hex();
                    write_private(&path, &hex)
                        .with_context(|| format!("writing {}", path.display()))?;
                    hex
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
            }
        }
    };
    SealingKey::from_hex(&hex).context("mailbox_key")
}

fn load_or_create_secret(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(s) = std::fs::read_to_string(path) {
        return Ok(s.trim().as_bytes().to_vec());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(path, &hex).with_context(|| format!("writing {}", path.display()))?;
    Ok(hex.into_bytes())
}

/// The node's identity in the data dir, the file `node-id`.
pub const NODE_ID: &str = "node-id";

/// This node's lasting identity: a UUID created at the first start into
/// `node-id` in the data dir and read back at every later one. Delivery
/// jobs are claimed in its name, so that a node restarted after a crash
/// knows which jobs it held and releases them at once instead of letting
/// them wait out their lease. Several nodes sharing one PostgreSQL each
/// need their own data dir, hence their own identity.
fn node_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join(NODE_ID);
    match std::fs::read_to_string(&path) {
        Ok(s) => {
            let id = uuid::Uuid::try_parse(s.trim())
                .with_context(|| format!("{} does not hold a UUID", path.display()))?;
            return Ok(id.to_string());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data dir {}", data_dir.display()))?;
    let id = uuid::Uuid::new_v4().to_string();
    write_private(&path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// A built server, bound to its port, not yet running.
pub struct Application {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    state: mailtrail_http::AppState,
    worker: Worker,
    webhooks: Dispatcher,
    store: Arc<dyn Store>,
    retention_days: u32,
    sink_task: SinkHandle,
    inbound: Inbound,
    submission: crate::submission::Submission,
}

impl Application {
    /// Opens the store, migrates, prepares the transport and binds the
    /// HTTP port (0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate()?;
        // Before anything counts: counters registered earlier would count
        // into no recorder.
        let metrics = mailtrail_http::monitoring::recorder()
            .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
        let store = open_store(&settings).await?;
        let listener = tokio::net::TcpListener::bind(settings.http)
            .await
            .with_context(|| format!("binding HTTP on {}", settings.http))?;
        let addr = listener.local_addr()?;
        let public_url = settings
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        let keyring = Arc::new(token_keyring(&settings)?);
        let notify = Arc::new(Notify::new());
        let inbound_wake = Arc::new(Notify::new());
        let inbound = Inbound::build(
            &settings,
            store.clone(),
            keyring.clone(),
            inbound_wake.clone(),
        )
        .await?;

        let transport = crate::transport::configured(&settings, store.clone())?;
        let signer = match (
            &settings.dkim_domain,
            &settings.dkim_selector,
            &settings.dkim_key,
        ) {
            (Some(d), Some(s), Some(k)) => Some(Arc::new(crate::transport::dkim_signer(d, s, k)?)),
            _ => None,
        };
        let worker = Worker::new(
            store.clone(),
            transport,
            signer,
            keyring.clone(),
            notify.clone(),
            WorkerSettings {
                concurrency: settings.workers,
                bounce_domain: settings.bounce_domain.clone(),
                public_url: public_url.clone(),
                retry_initial: Duration::from_secs(settings.retry_initial_secs.max(1)),
                retry_max_delay: Duration::from_secs(settings.retry_max_delay_secs.max(1)),
                retry_max_age: Duration::from_secs(settings.retry_max_age_secs),
                lease: Duration::from_secs(settings.job_lease_secs.max(1)),
            },
        )
        .on_node(&node_id(&settings.data_dir)?);
        worker.release_previous_life().await?;
        let webhooks = Dispatcher::new(
            store.clone(),
            settings.webhook_clock.clone(),
            WebhookSettings {
                allow_private: settings.allow_private_webhooks,
                ..WebhookSettings::default()
            },
        )?
        .on_node(&node_id(&settings.data_dir)?);
        webhooks.release_previous_life().await?;
        let opener_data = match &settings.opener_data {
            Some(dir) => {
                OpenerData::load_dir(dir).map_err(|e| anyhow::anyhow!("opener_data: {e}"))?
            }
            None => OpenerData::builtin(),
        };
        // The tracking events' journal: what it holds from before a crash
        // is replayed into the store here, before the listener serves.
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data dir {}", settings.data_dir.display()))?;
        let (sink, sink_task) = EventSink::open(
            store.clone(),
            &settings.data_dir.join(EVENT_JOURNAL),
            SinkOptions {
                capacity: settings.event_queue,
                max_batch: settings.event_batch,
                max_wait: Duration::from_millis(settings.event_batch_wait_ms),
                ..SinkOptions::default()
            },
        )
        .await
        .context("opening the tracking event journal")?;
        let tracking = Tracking::new(
            TrackingSettings {
                trusted_proxies: parse_networks(&settings.trusted_proxies)
                    .map_err(|e| anyhow::anyhow!("trusted_proxies: {e}"))?,
                self_networks: parse_networks(&settings.self_networks)
                    .map_err(|e| anyhow::anyhow!("self_networks: {e}"))?,
                truncate_ip: settings.truncate_ip,
                machine_window: Duration::from_secs(settings.machine_window_secs),
                secure_cookie: public_url.starts_with("https://"),
                ..TrackingSettings::default()
            },
            opener_data,
            sink,
        );
        // The organisations' sender networks, in memory before the first
        // hit: the tracking endpoints never read them from the database.
        let senders = tracking
            .sender_networks()
            .load(&*store)
            .await
            .context("loading the organisations' sender networks")?;
        tracing::info!(networks = senders, "sender networks loaded");
        let state = mailtrail_http::AppState {
            store: store.clone(),
            settings: mailtrail_http::HttpSettings {
                max_message_bytes: settings.max_message_bytes,
                default_from_domain: None,
                public_url,
                connections: mailtrail_http::ConnectionSettings::fitted(
                    settings.http_max_connections,
                    settings.http_tracking_reserve,
                    Duration::from_secs(settings.http_header_timeout_secs.max(1)),
                    Duration::from_secs(settings.http_body_timeout_secs.max(1)),
                ),
                max_recipients: settings.max_recipients,
                ses_sns: match &settings.ses_sns_certificate {
                    Some(path) => Some(
                        mailtrail_http::ses::SesSns::from_file(
                            path,
                            settings.ses_sns_topic_arns.clone(),
                        )
                        .map_err(anyhow::Error::msg)?,
                    ),
                    None => None,
                },
                allow_private_webhooks: settings.allow_private_webhooks,
            },
            notify,
            inbound_wake,
            keyring,
            tracking,
            signin: mailtrail_http::signin::SignIn::new(&settings.signin()),
            monitoring: mailtrail_http::monitoring::Monitoring::new(
                metrics,
                settings
                    .metrics_token
                    .as_ref()
                    .map(|t| t.expose().to_owned()),
            ),
            mailboxes: mailtrail_http::Mailboxes {
                extra_ca_pem: settings.tls_ca_pem()?,
                ..mailtrail_http::Mailboxes::new(mailbox_key(&settings)?)
            },
        };
        let submission = crate::submission::Submission::build(&settings, &state).await?;
        Ok(Self {
            listener,
            addr,
            submission,
            state,
            worker,
            webhooks,
            store,
            retention_days: settings.retention_days,
            sink_task,
            inbound,
        })
    }

    /// The bound inbound SMTP address, when the listener is on.
    pub fn smtp_in_addr(&self) -> Option<SocketAddr> {
        self.inbound.addr
    }

    /// The bound SMTP submission address: STARTTLS (`false`) or implicit
    /// TLS (`true`), when that listener is on.
    pub fn submission_addr(&self, implicit_tls: bool) -> Option<SocketAddr> {
        self.submission.addr(implicit_tls)
    }

    /// The bound HTTP address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs until `shutdown` resolves, then stops accepting requests and
    /// jobs, lets in-flight requests and deliveries finish, and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let worker = tokio::spawn(self.worker.run(stop_rx.clone()));
        let webhooks = tokio::spawn(self.webhooks.run(stop_rx.clone()));
        let (smtp_in, processor) = self.inbound.spawn(&stop_rx);
        let submission = self.submission.spawn(&stop_rx);
        let retention = tokio::spawn(mailtrail_worker::retention::run(
            self.store.clone(),
            self.retention_days,
            stop_rx.clone(),
        ));
        let senders = tokio::spawn(
            self.state
                .tracking
                .clone()
                .refresh_sender_networks(self.store.clone(), stop_rx.clone()),
        );
        tracing::info!(http.addr = %self.addr, "mailtrail listening on http://{}", self.addr);
        let mut http_stop = stop_rx.clone();
        let server = tokio::spawn(mailtrail_http::serve(
            self.listener,
            self.state,
            async move {
                let _ = http_stop.wait_for(|s| *s).await;
            },
        ));
        shutdown.await;
        tracing::info!("shutting down: draining requests and deliveries");
        let _ = stop_tx.send(true);
        let served = server.await;
        // In-flight tracking requests wait for their events, so the sink
        // runs until the server has drained; then it makes what is buffered
        // durable, folds the journal into the store and truncates it.
        self.sink_task.shutdown().await;
        served.context("HTTP task")?.context("HTTP server")?;
        worker.await.context("worker task")?;
        webhooks.await.context("webhook task")?;
        if let Some(listener) = smtp_in {
            listener.await.context("inbound SMTP task")?;
        }
        for listener in submission {
            listener.await.context("SMTP submission task")?;
        }
        processor.await.context("inbound processing task")?;
        retention.abort();
        senders.abort();
        tracing::info!("stopped cleanly");
        Ok(())
    }
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    // Tools and tests that start on port 0 read the address from here.
    println!("mailtrail listening on http://{}", app.addr());
    if let Some(addr) = app.smtp_in_addr() {
        println!("mailtrail smtp-in listening on {addr}");
    }
    for (tls, name) in [(false, "submission"), (true, "submissions")] {
        if let Some(addr) = app.submission_addr(tls) {
            println!("mailtrail {name} listening on {addr}");
        }
    }
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// The inbound side: the SMTP listener (when configured) and the processor
/// that turns stored inbound mail into events.
struct Inbound {
    listener: Option<mailtrail_smtp::inbound::Listener>,
    addr: Option<SocketAddr>,
    processor: Processor,
    pollers: Vec<mailtrail_imap::Poller>,
}

impl Inbound {
    async fn build(
        settings: &Settings,
        store: Arc<dyn Store>,
        keyring: Arc<Keyring>,
        wake: Arc<Notify>,
    ) -> anyhow::Result<Self> {
        let processor = Processor::new(store.clone(), keyring, wake.clone());
        let imap_sink = Arc::new(ImapSink::new(
            store.clone(),
            wake.clone(),
            time::Duration::days(i64::from(settings.retention_days)),
        ));
        let mut pollers = Vec::new();
        let extra_ca_pem = settings.tls_ca_pem()?;
        for m in &settings.imap_mailboxes {
            let mut config = mailtrail_imap::MailboxConfig::parse(m.expose())
                .map_err(|e| anyhow::anyhow!("imap_mailboxes: {e}"))?;
            config.extra_ca_pem = extra_ca_pem.clone();
            let mut poller = mailtrail_imap::Poller::new(config, imap_sink.clone());
            poller.poll_interval = Duration::from_secs(settings.imap_poll_secs.max(1));
            pollers.push(poller);
        }
        let Some(bind) = settings.smtp_in else {
            return Ok(Self {
                listener: None,
                addr: None,
                processor,
                pollers,
            });
        };
        let hostname = settings
            .hostname
            .clone()
            .unwrap_or_else(|| "localhost".to_owned());
        let mut options =
            mailtrail_smtp::inbound::InboundOptions::new(hostname, settings.inbound_domains());
        options.max_message_bytes = settings.max_message_bytes;
        options.max_connections = settings.smtp_in_max_connections.max(1);
        options.max_connections_per_client = settings.smtp_in_max_per_client.max(1);
        options.greeting_timeout =
            std::time::Duration::from_secs(settings.smtp_in_greeting_timeout_secs.max(1));
        if let (Some(cert), Some(key)) = (&settings.smtp_in_cert, &settings.smtp_in_key) {
            let cert =
                std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
            let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
            options.tls = Some(
                mailtrail_smtp::inbound::tls_config(&cert, &key)
                    .context("smtp_in_cert / smtp_in_key")?,
            );
        }
        let sink = Arc::new(StoreSink::new(store, wake));
        let listener = mailtrail_smtp::inbound::Listener::bind(bind, options, sink)
            .await
            .with_context(|| format!("binding inbound SMTP on {bind}"))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener: Some(listener),
            addr: Some(addr),
            processor,
            pollers,
        })
    }

    /// Starts the listener and the processor; both stop when `stop` turns
    /// true (the listener after its open sessions end).
    fn spawn(
        self,
        stop: &watch::Receiver<bool>,
    ) -> (
        Option<tokio::task::JoinHandle<()>>,
        tokio::task::JoinHandle<()>,
    ) {
        let listener = self.listener.map(|l| {
            tracing::info!(smtp_in.addr = ?self.addr, "inbound SMTP listening");
            tokio::spawn(l.run(stop.clone()))
        });
        for poller in self.pollers {
            // Pollers hold no work of their own (what they read is stored
            // before their position moves), so they are simply stopped.
            tokio::spawn(poller.run(stop.clone()));
        }
        let processor = tokio::spawn(self.processor.run(stop.clone()));
        (listener, processor)
    }
}

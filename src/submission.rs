//! Start-up glue of SMTP submission: the listeners `--smtp-submission`
//! (STARTTLS) and `--smtps-submission` (implicit TLS) over the HTTP side's
//! [`StoreSubmitter`], which stores messages with the API's rules.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use mailtrail_http::submission::StoreSubmitter;
use mailtrail_smtp::submission::{Listener, SubmissionOptions};
use tokio::sync::watch;

use crate::config::Settings;

/// The bound submission listeners, not yet serving.
pub(crate) struct Submission {
    starttls: Option<(Listener<StoreSubmitter>, SocketAddr)>,
    implicit: Option<(Listener<StoreSubmitter>, SocketAddr)>,
}

impl Submission {
    /// Binds the configured listeners (none when neither is set).
    pub(crate) async fn build(
        settings: &Settings,
        state: &mailtrail_http::AppState,
    ) -> anyhow::Result<Self> {
        let tls = match (&settings.submission_cert, &settings.submission_key) {
            (Some(cert), Some(key)) => {
                let cert =
                    std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
                let key =
                    std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
                Some(
                    mailtrail_smtp::inbound::tls_config(&cert, &key)
                        .context("submission_cert / submission_key")?,
                )
            }
            _ => None,
        };
        let submitter = Arc::new(StoreSubmitter::new(state.clone()));
        let mut options = SubmissionOptions::new(
            settings
                .hostname
                .clone()
                .unwrap_or_else(|| "localhost".to_owned()),
        );
        options.max_message_bytes = settings.max_message_bytes;
        options.max_recipients = settings.max_recipients;
        options.max_messages_per_minute = settings.submission_rate_per_minute;
        options.tls = tls;
        let bind = |addr: Option<SocketAddr>, implicit_tls: bool| {
            let options = SubmissionOptions {
                implicit_tls,
                ..options.clone()
            };
            let submitter = submitter.clone();
            async move {
                let Some(addr) = addr else {
                    return anyhow::Ok(None);
                };
                let listener = Listener::bind(addr, options, submitter)
                    .await
                    .with_context(|| format!("binding SMTP submission on {addr}"))?;
                let bound = listener.local_addr()?;
                Ok(Some((listener, bound)))
            }
        };
        Ok(Self {
            starttls: bind(settings.smtp_submission, false).await?,
            implicit: bind(settings.smtps_submission, true).await?,
        })
    }

    /// The bound address of the STARTTLS (`false`) or implicit-TLS
    /// (`true`) listener.
    pub(crate) fn addr(&self, implicit: bool) -> Option<SocketAddr> {
        let l = if implicit {
            &self.implicit
        } else {
            &self.starttls
        };
        l.as_ref().map(|(_, a)| *a)
    }

    /// Starts serving; each task ends once `stop` turns true and its
    /// sessions have ended.
    pub(crate) fn spawn(self, stop: &watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        [self.starttls, self.implicit]
            .into_iter()
            .flatten()
            .map(|(listener, addr)| {
                tracing::info!(submission.addr = %addr, "SMTP submission listening");
                tokio::spawn(listener.run(stop.clone()))
            })
            .collect()
    }
}

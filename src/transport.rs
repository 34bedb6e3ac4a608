//! The transport and DKIM key that `serve` is configured with (`--relay`,
//! `--dkim-*`), built from the settings.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use mailtrail_mail::dkim::{DkimKey, Signer};
use mailtrail_smtp::Transport;
use mailtrail_store::prelude::*;
use mailtrail_worker::delivery::Sandbox;

use crate::config::{Relay, Settings};

/// The transport `--relay` names: the sandbox over `store`, a smarthost or
/// direct MX delivery.
pub fn configured(
    settings: &Settings,
    store: Arc<dyn Store>,
) -> anyhow::Result<Arc<dyn Transport>> {
    Ok(match settings.relay()? {
        Relay::Sandbox => Arc::new(Sandbox::new(store)),
        Relay::Smarthost(url) => smarthost(url.expose(), settings)?,
        Relay::Mx => mx(settings)?,
    })
}

/// The smarthost transport for `url`.
fn smarthost(url: &str, settings: &Settings) -> anyhow::Result<Arc<dyn Transport>> {
    let opts = mailtrail_smtp::SmarthostOptions {
        pool_size: settings.relay_pool,
        tls_insecure: settings.relay_tls_insecure,
        extra_ca_pem: settings.tls_ca_pem()?.map(|pem| pem.to_vec()),
        helo_name: helo_name(settings),
        ..Default::default()
    };
    Ok(Arc::new(
        mailtrail_smtp::Smarthost::from_url(url, opts).context("relay")?,
    ))
}

/// The direct-to-MX transport.
fn mx(settings: &Settings) -> anyhow::Result<Arc<dyn Transport>> {
    let opts = mailtrail_smtp::MxOptions {
        helo_name: helo_name(settings),
        ..Default::default()
    };
    Ok(Arc::new(mailtrail_smtp::Mx::new(opts).context("relay mx")?))
}

/// The name we give in EHLO: the configured one, else this machine's host
/// name (RFC 5321 section 4.1.1.1 asks for the client's primary host name;
/// receivers check it, and "localhost" gets mail refused).
fn helo_name(settings: &Settings) -> String {
    settings
        .hostname
        .clone()
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The DKIM signer for the configured key.
pub fn dkim_signer(domain: &str, selector: &str, key_file: &Path) -> anyhow::Result<Signer> {
    let pem = std::fs::read_to_string(key_file)
        .with_context(|| format!("dkim_key: reading {}", key_file.display()))?;
    let key =
        DkimKey::from_pem(&pem).with_context(|| format!("dkim_key: {}", key_file.display()))?;
    Signer::new(domain, selector, key).context("dkim")
}

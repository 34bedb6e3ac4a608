//! One POST of a delivery: the Standard Webhooks headers, a 15 s timeout,
//! no redirects, and the target's addresses checked after DNS resolution
//! on every attempt, so that a name that now resolves to a private address
//! (DNS rebinding) is refused at the moment it would be reached.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mailtrail_domain::webhook::{TargetError, WebhookUrl, forbidden_range};
use mailtrail_store::webhook::ClaimedDelivery;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use time::OffsetDateTime;

use super::schedule::{Answer, retry_after};

/// How long one attempt may take, connection included.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(15);

/// How much of an answer's body the delivery log keeps.
pub(crate) const RESPONSE_BYTES: usize = 1024;

/// Resolves names for the webhook client and refuses, unless private
/// targets are allowed, a name any of whose addresses is in a refused
/// range: the connection is then never opened.
#[derive(Debug, Clone, Copy)]
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
                check(&host, &ips)?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

fn check(host: &str, ips: &[IpAddr]) -> Result<(), TargetError> {
    if ips.is_empty() {
        return Err(TargetError::Unresolved(host.to_owned()));
    }
    for &addr in ips {
        if let Some(range) = forbidden_range(addr) {
            return Err(TargetError::Private { addr, range });
        }
    }
    Ok(())
}

/// The webhook HTTP client.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    client: reqwest::Client,
    allow_private: bool,
}

/// What an attempt gave: the answer, and what the log keeps of it.
#[derive(Debug)]
pub(crate) struct Sent {
    pub answer: Answer,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub response: String,
    pub duration: Duration,
}

impl Sender {
    /// A client refusing private targets unless `allow_private`.
    pub(crate) fn new(allow_private: bool) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve the target itself, past the guard.
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("mailtrail-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            allow_private,
        })
    }

    /// POSTs `delivery` signed at `now`.
    pub(crate) async fn send(&self, delivery: &ClaimedDelivery, now: OffsetDateTime) -> Sent {
        let started = Instant::now();
        let no_answer = |error: String| Sent {
            answer: Answer::NoAnswer,
            status_code: None,
            error: Some(error),
            response: String::new(),
            duration: started.elapsed(),
        };
        let url = match WebhookUrl::parse(&delivery.url) {
            Ok(u) => u,
            Err(e) => return no_answer(format!("url: {e}")),
        };
        if !self.allow_private
            && let Some(ip) = url.ip_literal()
            && let Err(e) = check(&url.host(), &[ip])
        {
            return no_answer(format!("refused: {e}"));
        }
        let id = mailtrail_store::webhook::webhook_id(delivery.id);
        let ts = now.unix_timestamp();
        let signature = delivery.secret.sign(&id, ts, delivery.payload.as_bytes());
        let request = self
            .client
            .post(url.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone());
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return no_answer(describe(&e)),
        };
        let code = response.status().as_u16();
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| retry_after(v, now));
        let mut body = Vec::with_capacity(RESPONSE_BYTES);
        while body.len() < RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(RESPONSE_BYTES);
        Sent {
            answer: Answer::Status {
                code,
                retry_after: wait,
            },
            status_code: Some(code),
            error: None,
            response: String::from_utf8_lossy(&body).into_owned(),
            duration: started.elapsed(),
        }
    }
}

/// A failed request in words for the delivery log, its causes included
/// (the refusal of a private address is one).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        format!("no answer within {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use mailtrail_domain::webhook::WebhookSecret;
    use uuid::Uuid;

    use super::*;

    fn delivery(url: &str) -> ClaimedDelivery {
        ClaimedDelivery {
            id: Uuid::now_v7(),
            endpoint_id: Uuid::now_v7(),
            url: url.to_owned(),
            secret: WebhookSecret::generate(),
            payload: "{}".to_owned(),
            attempts: 0,
            failing_since: None,
        }
    }

    /// A name that resolves to a private address at delivery time (what a
    /// DNS rebinding does after the endpoint was saved) is refused before
    /// any connection, as is an address literal.
    #[tokio::test]
    async fn refuses_private_targets_at_delivery_after_resolution() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sender = Sender::new(false).unwrap();
        for url in [
            format!("http://localhost:{port}/hook"),
            format!("http://127.0.0.1:{port}/hook"),
        ] {
            let sent = sender
                .send(&delivery(&url), OffsetDateTime::now_utc())
                .await;
            assert_eq!(sent.answer, Answer::NoAnswer, "{url}");
            let error = sent.error.unwrap_or_default();
            assert!(error.contains("loopback"), "{url}: {error}");
        }
        // Nothing reached the listener.
        let accepted = tokio::time::timeout(Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "a refused target was connected to");
    }
}

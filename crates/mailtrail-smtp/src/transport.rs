//! What the send worker sees: hand over one copy for one recipient, get an
//! [`Outcome`] that says whether to record it as sent/delivered, retry it
//! later, or fail it.

use std::sync::Arc;

use async_trait::async_trait;
use mailtrail_domain::{EmailAddress, EnhancedStatus, Reason};

use crate::connection::Delivery;
use crate::error::Error;
pub use crate::reply::Reply;

/// The SMTP envelope of one copy (RFC 5321 section 2.3.1): separate from the
/// message headers, it is what servers route and bounce on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// MAIL FROM, where bounces go (mailtrail's VERP address); empty for the
    /// null sender `<>` (section 4.5.5), used for receipts and bounces.
    pub return_path: String,
    /// RCPT TO: one recipient per copy, since each copy is personal.
    pub recipient: EmailAddress,
    /// RFC 3461 ENVID: returned in every DSN so it can be joined to the copy.
    pub envid: Option<String>,
}

/// What became of one copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx after the content. `final_delivery` is true for direct MX
    /// delivery (the recipient's own server accepted it), false for a
    /// smarthost (only the next hop did).
    Accepted {
        /// The server's final reply (often carries its queue id).
        reply: Reply,
        /// `host[ip]:port` of the server.
        remote: String,
        /// Whether the recipient's own server took it.
        final_delivery: bool,
    },
    /// 4xx, or no usable answer (connection, TLS, DNS failure, timeout):
    /// retry later. `reply` is `None` when there was no SMTP reply; then
    /// `error` says what happened.
    Transient {
        /// The server's reply, if there was one.
        reply: Option<Reply>,
        /// The server, if one was reached.
        remote: Option<String>,
        /// What happened, for the log and the deferral reason.
        error: String,
    },
    /// 5xx (or a local certainty such as a null MX): do not retry.
    Permanent {
        /// The reply that refused it (synthetic for DNS-level refusals).
        reply: Reply,
        /// The server, or `dns` for refusals decided from DNS.
        remote: String,
    },
}

impl Outcome {
    /// The bounce reason to record (RFC 3463 via
    /// [`Reason::from_reply`]): `Delivered` for accepted copies,
    /// `NetworkError` for failures without a reply.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Accepted { .. } => Reason::Delivered,
            Self::Permanent { reply, .. }
            | Self::Transient {
                reply: Some(reply), ..
            } => Reason::from_reply(Some(reply.code), reply.enhanced.as_ref(), &reply.text),
            Self::Transient { reply: None, .. } => Reason::NetworkError,
        }
    }

    /// The SMTP reply, when there is one.
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Self::Accepted { reply, .. } | Self::Permanent { reply, .. } => Some(reply),
            Self::Transient { reply, .. } => reply.as_ref(),
        }
    }

    /// The reply's code, when there is a reply.
    pub fn code(&self) -> Option<u16> {
        self.reply().map(|r| r.code)
    }

    /// The reply's enhanced status, when it has one.
    pub fn enhanced(&self) -> Option<EnhancedStatus> {
        self.reply().and_then(|r| r.enhanced)
    }

    /// The server involved, when one was reached.
    pub fn remote(&self) -> Option<&str> {
        match self {
            Self::Accepted { remote, .. } | Self::Permanent { remote, .. } => Some(remote),
            Self::Transient { remote, .. } => remote.as_deref(),
        }
    }

    /// One line for the status reason: the reply's text, or the error.
    pub fn description(&self) -> String {
        match self {
            Self::Transient {
                reply: None, error, ..
            } => error.clone(),
            Self::Transient {
                reply: Some(r),
                error,
                ..
            } => {
                if error.is_empty() {
                    r.to_string()
                } else {
                    error.clone()
                }
            }
            Self::Accepted { reply, .. } | Self::Permanent { reply, .. } => reply.to_string(),
        }
    }

    /// Whether the copy was handed over.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted { .. })
    }

    /// Whether the copy must not be tried again.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent { .. })
    }

    /// Maps a transaction's result to an outcome: 2xx accepted, 5xx
    /// permanent, anything else (4xx, a nonsensical reply, a failed session)
    /// transient.
    pub(crate) fn from_result(
        result: Result<Delivery, Error>,
        remote: &str,
        final_delivery: bool,
    ) -> Self {
        match result {
            Ok(Delivery::Accepted(reply)) => Self::Accepted {
                reply,
                remote: remote.to_owned(),
                final_delivery,
            },
            Ok(Delivery::Rejected { reply, .. }) if reply.is_permanent() => Self::Permanent {
                reply,
                remote: remote.to_owned(),
            },
            Ok(Delivery::Rejected { stage, reply }) => Self::Transient {
                error: format!("{stage}: {reply}"),
                reply: Some(reply),
                remote: Some(remote.to_owned()),
            },
            Err(e) => Self::from_error(&e, Some(remote)),
        }
    }

    /// A session that failed before any transaction: always transient, even
    /// for a 5xx greeting or AUTH refusal, since those describe the relay or
    /// our configuration, not the recipient.
    pub(crate) fn from_error(e: &Error, remote: Option<&str>) -> Self {
        Self::Transient {
            reply: e.reply().cloned(),
            remote: remote.map(str::to_owned),
            error: e.to_string(),
        }
    }
}

/// Where outbound copies go. The worker calls [`Transport::send`] once per
/// copy; implementations may run many sends at once.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Hands one copy over and says what became of it. Never panics on
    /// network input; every failure is an [`Outcome`].
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Outcome;

    /// Closes idle connections politely (QUIT) at shutdown.
    async fn close(&self) {}

    /// A short name for the transport, recorded with each outcome
    /// (`smtp`, `mx`, `sandbox`).
    fn name(&self) -> &'static str {
        "smtp"
    }
}

/// Lets one transport be shared (the worker pool and the shutdown code).
#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Outcome {
        (**self).send(envelope, message).await
    }

    async fn close(&self) {
        (**self).close().await;
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

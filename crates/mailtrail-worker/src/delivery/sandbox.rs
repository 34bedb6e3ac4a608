//! The sandbox, mailtrail's built-in inbox (the default transport): a
//! [`Transport`] written over the store, so the delivery loop treats it as
//! any other. Each copy is kept, with its raw source, under its recipient,
//! and counts as delivered.

use std::sync::Arc;

use async_trait::async_trait;
use mailtrail_smtp::{Envelope, Outcome, Reply, Transport};
use mailtrail_store::prelude::*;
use time::OffsetDateTime;
use uuid::Uuid;

/// Keeps copies in the store instead of sending them.
pub struct Sandbox {
    store: Arc<dyn Store>,
}

impl Sandbox {
    /// A sandbox writing to `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl Transport for Sandbox {
    /// Files the copy under its recipient, named by the envelope's ENVID
    /// (RFC 3461 section 4.4), which the delivery loop sets to the
    /// recipient's id. As a final delivery agent would, the envelope sender
    /// is recorded in `Return-Path` (RFC 5321 section 4.4).
    async fn send(&self, envelope: &Envelope, message: &[u8]) -> Outcome {
        let Some(recipient_id) = envelope
            .envid
            .as_deref()
            .and_then(|id| Uuid::try_parse(id).ok())
        else {
            return Outcome::Permanent {
                reply: Reply::synthetic(
                    554,
                    "5.3.0",
                    "the sandbox files a copy under its recipient's id, given as the ENVID; this copy has none",
                ),
                remote: "sandbox".to_owned(),
            };
        };
        match self
            .store
            .insert_sandbox_copy(
                recipient_id,
                &filed_copy(envelope, message),
                OffsetDateTime::now_utc(),
            )
            .await
        {
            Ok(()) => kept(),
            Err(e) => Outcome::Transient {
                reply: None,
                remote: None,
                error: format!("keeping the copy in the sandbox: {e}"),
            },
        }
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

/// The sandbox's [`Transport::name`]. The delivery loop recognises it and
/// files the copy together with its job's outcome (exactly once) instead of
/// calling [`Sandbox::send`], which would commit the copy before its event.
pub(super) const NAME: &str = "sandbox";

/// What the sandbox answers for a copy it kept.
pub(super) fn kept() -> Outcome {
    Outcome::Accepted {
        reply: Reply::synthetic(250, "2.0.0", "kept in the sandbox"),
        remote: NAME.to_owned(),
        final_delivery: true,
    }
}

/// The copy as the sandbox keeps it: as a final delivery agent would, the
/// envelope sender is recorded in `Return-Path` (RFC 5321 section 4.4).
pub(super) fn filed_copy(envelope: &Envelope, message: &[u8]) -> Vec<u8> {
    let mut stored = Vec::with_capacity(message.len() + envelope.return_path.len() + 16);
    stored.extend_from_slice(b"Return-Path: <");
    stored.extend_from_slice(envelope.return_path.as_bytes());
    stored.extend_from_slice(b">\r\n");
    stored.extend_from_slice(message);
    stored
}

//! Stored inbound messages into events: classify, correlate, effects.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use mailtrail_domain::{EmailAddress, EventKind, Keyring, Purpose, RecipientKind};
use mailtrail_mail::inbound::{Action, Classification, Kind, RecipientReport, classify};
use mailtrail_store::inbound::{InboundMessage, InboundOutcome, RecipientRef};
use mailtrail_store::prelude::*;
use mailtrail_store::{NewEvent, StatusReason};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::CLOCK_SKEW;

/// How far back "address and recent sends" looks.
const RECENT_WINDOW: time::Duration = time::Duration::days(30);

/// Stored messages processed per round.
const BATCH: u32 = 32;

/// Turns stored inbound messages into events.
pub struct Processor {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    wake: Arc<Notify>,
}

/// A recipient an inbound message is about, and what it says about them.
struct Target {
    recipient: RecipientRef,
    report: Option<RecipientReport>,
    extra: serde_json::Map<String, serde_json::Value>,
}

impl Processor {
    /// A processor over `store`; `wake` is notified when a message arrives.
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>, wake: Arc<Notify>) -> Self {
        Self {
            store,
            keyring,
            wake,
        }
    }

    /// Processes stored messages until `stop`; wakes on arrival and every
    /// few seconds (for messages another node stored).
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.drain().await {
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "inbound: processing round failed")
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Processes every pending message; how many.
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let mut done = 0;
        loop {
            let batch = self
                .store
                .pending_inbound(BATCH)
                .await
                .context("reading pending inbound messages")?;
            if batch.is_empty() {
                return Ok(done);
            }
            for msg in &batch {
                let outcome = match self.process(msg).await {
                    Ok(o) => o,
                    Err(e) => {
                        // A store failure: leave it pending, try next round.
                        tracing::warn!(inbound.id = %msg.id, error = %format!("{e:#}"), "inbound: processing failed");
                        return Ok(done);
                    }
                };
                tracing::info!(inbound.id = %msg.id, outcome = %outcome.summary, "inbound: processed");
                self.store
                    .finish_inbound(msg.id, &outcome)
                    .await
                    .context("marking an inbound message processed")?;
                done += 1;
            }
        }
    }

    /// Classifies and correlates one message: what it concludes, for
    /// `finish_inbound` to record in one transaction with the message
    /// marked processed (so a crash never records its events twice).
    pub async fn process(&self, msg: &InboundMessage) -> anyhow::Result<InboundOutcome> {
        let raw = msg.raw.clone();
        let nothing = |summary: String| InboundOutcome {
            summary,
            ..InboundOutcome::default()
        };
        let Some(c) = classified(tokio::task::spawn_blocking(move || classify(&raw)).await)? else {
            metrics::counter!("mailtrail_inbound_messages_total", "classification" => "unclassified")
                .increment(1);
            tracing::warn!(inbound.id = %msg.id, "inbound: the classifier failed on this message; set aside");
            return Ok(nothing("classifier failed: no event".into()));
        };
        let kind = c.kind.as_str();
        metrics::counter!("mailtrail_inbound_messages_total", "classification" => kind)
            .increment(1);
        if c.kind == Kind::Other {
            return Ok(nothing("other: no event".into()));
        }
        let targets = self.correlate(msg, &c).await?;
        if targets.is_empty() {
            return Ok(nothing(format!("{kind}: no matching recipient")));
        }
        let now = OffsetDateTime::now_utc();
        let mut events = Vec::new();
        let mut suppressions = Vec::new();
        for t in &targets {
            let Some((event_kind, reason)) = effect(&c, t.report.as_ref()) else {
                continue;
            };
            let mut data = t.extra.clone();
            data.insert("source".into(), json!(msg.source.as_str()));
            data.insert("inbound_id".into(), json!(msg.id));
            match c.kind {
                Kind::ReadReceipt => {
                    data.insert("disposition".into(), json!(c.disposition));
                }
                Kind::Complaint => {
                    data.insert("feedback_type".into(), json!(c.feedback_type));
                }
                Kind::Reply | Kind::AutoReply => {
                    data.entry("replier").or_insert_with(|| json!(c.from));
                }
                _ => {}
            }
            if let Some(r) = &t.report {
                if let Some(mta) = &r.remote_mta {
                    data.insert("remote_mta".into(), json!(mta));
                }
                if event_kind == EventKind::Failed {
                    data.insert("hard".into(), json!(r.hard));
                }
            }
            events.push(NewEvent {
                id: Uuid::now_v7(),
                recipient_id: t.recipient.id,
                kind: event_kind,
                at: now,
                opener: None,
                reason,
                data: serde_json::Value::Object(data),
            });
            let suppress = match (event_kind, &t.report) {
                (EventKind::Failed, Some(r)) if r.hard => Some("hard_bounce"),
                (EventKind::Complained, _) => Some("complaint"),
                _ => None,
            };
            if let Some(why) = suppress {
                suppressions.push((
                    t.recipient.org_id,
                    t.recipient.address.clone(),
                    why.to_owned(),
                ));
            }
        }
        Ok(InboundOutcome {
            summary: format!("{kind}: {} event(s)", events.len()),
            events,
            suppressions,
        })
    }

    async fn correlate(
        &self,
        msg: &InboundMessage,
        c: &Classification,
    ) -> anyhow::Result<Vec<Target>> {
        // 1. VERP: the token names the one recipient whose copy came back.
        let now = OffsetDateTime::now_utc();
        let tokens = c.verp_token.iter().map(String::as_str).chain(
            msg.rcpt_to
                .iter()
                .filter_map(|a| mailtrail_mail::verp::parse_return_path(a)),
        );
        for token in tokens {
            let Ok(claims) = self.keyring.verify_address(token, Purpose::Bounce, now) else {
                continue;
            };
            if let Some(r) = self.store.recipient_ref(claims.recipient).await? {
                let report = report_for(c, &r.address).or_else(|| c.recipients.first().cloned());
                return Ok(vec![Target {
                    recipient: r,
                    report,
                    extra: Default::default(),
                }]);
            }
        }

        // 2. The Message-ID the message is about.
        let ids = c
            .original_message_id
            .iter()
            .chain(c.in_reply_to.iter())
            .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'));
        for id in ids {
            let refs = self.store.recipients_by_message_id(id).await?;
            if refs.is_empty() {
                continue;
            }
            return Ok(match c.kind {
                Kind::Bounce | Kind::Delay | Kind::DeliveryReport => {
                    let mut out: Vec<Target> = c
                        .recipients
                        .iter()
                        .filter_map(|rep| {
                            let addr = rep.address.as_deref()?;
                            let r = refs.iter().find(|r| same_address(&r.address, addr))?;
                            Some(Target {
                                recipient: r.clone(),
                                report: Some(rep.clone()),
                                extra: Default::default(),
                            })
                        })
                        .collect();
                    if out.is_empty() && refs.len() == 1 {
                        out.push(Target {
                            recipient: refs[0].clone(),
                            report: c.recipients.first().cloned(),
                            extra: Default::default(),
                        });
                    }
                    out
                }
                _ => vec![person_target(c, &refs)],
            });
        }

        // 3. The address among recent sends: recent when the message
        // arrived, not when it is processed. A connected mailbox's old mail
        // (read when the mailbox is first connected: an old bounce or
        // out-of-office) is no answer to what was sent after it arrived.
        let arrived = msg.received_at;
        let (since, until) = (arrived - RECENT_WINDOW, arrived + CLOCK_SKEW);
        let mut out = Vec::new();
        match c.kind {
            Kind::Bounce | Kind::Delay | Kind::DeliveryReport => {
                for rep in &c.recipients {
                    let Some(addr) = rep
                        .address
                        .as_deref()
                        .and_then(|a| EmailAddress::parse(a).ok())
                    else {
                        continue;
                    };
                    if let Some(r) = self
                        .store
                        .recent_recipients(&addr, since, until, 1)
                        .await?
                        .pop()
                    {
                        out.push(Target {
                            recipient: r,
                            report: Some(rep.clone()),
                            extra: Default::default(),
                        });
                    }
                }
            }
            _ => {
                let who = c
                    .recipients
                    .iter()
                    .find_map(|r| r.address.as_deref())
                    .or(c.from.as_deref())
                    .and_then(|a| EmailAddress::parse(a).ok());
                if let Some(addr) = who
                    && let Some(r) = self
                        .store
                        .recent_recipients(&addr, since, until, 1)
                        .await?
                        .pop()
                {
                    out.push(Target {
                        recipient: r,
                        report: c.recipients.first().cloned(),
                        extra: Default::default(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// The classifier's answer, or `None` when it panicked on the message. It
/// is fuzzed not to; should it still, the message is set aside (processed,
/// no event) rather than left pending, where it would be retried for ever
/// ahead of every message after it. Any other failure of the task is an
/// error, and the message is tried again.
fn classified(
    done: Result<Classification, tokio::task::JoinError>,
) -> anyhow::Result<Option<Classification>> {
    match done {
        Ok(c) => Ok(Some(c)),
        Err(e) if e.is_panic() => Ok(None),
        Err(e) => Err(e).context("classifier task"),
    }
}

/// For a receipt, complaint or reply to a known message: the recipient who
/// sent it (the reader, the replier) when they are among its recipients,
/// else the first To recipient, with who actually answered (a colleague, a
/// forwarded copy).
fn person_target(c: &Classification, refs: &[RecipientRef]) -> Target {
    let named = c
        .recipients
        .iter()
        .filter_map(|r| r.address.as_deref())
        .chain(c.from.as_deref());
    for addr in named {
        if let Some(r) = refs.iter().find(|r| same_address(&r.address, addr)) {
            return Target {
                recipient: r.clone(),
                report: report_for(c, &r.address),
                extra: Default::default(),
            };
        }
    }
    let first = refs
        .iter()
        .find(|r| r.kind == RecipientKind::To)
        .unwrap_or(&refs[0]);
    let mut extra = serde_json::Map::new();
    extra.insert("replier".into(), json!(c.from));
    Target {
        recipient: first.clone(),
        report: c.recipients.first().cloned(),
        extra,
    }
}

fn report_for(c: &Classification, address: &EmailAddress) -> Option<RecipientReport> {
    c.recipients
        .iter()
        .find(|r| {
            r.address
                .as_deref()
                .is_some_and(|a| same_address(address, a))
        })
        .cloned()
}

fn same_address(ours: &EmailAddress, theirs: &str) -> bool {
    let theirs = theirs.trim().trim_start_matches('<').trim_end_matches('>');
    EmailAddress::parse(theirs).is_ok_and(|a| a.normalized() == ours.normalized())
}

/// The event a classified message means for one recipient, with its
/// reason. A DSN's per-recipient `Action` (RFC 3464 section 2.3.3) decides
/// over the message-level kind: one report may fail one address and
/// deliver another.
fn effect(
    c: &Classification,
    report: Option<&RecipientReport>,
) -> Option<(EventKind, Option<StatusReason>)> {
    let reason = |r: &RecipientReport| StatusReason {
        smtp_code: r.reply_code.as_deref().and_then(|s| s.parse().ok()),
        enhanced_status: r.status.clone(),
        reason: Some(r.reason.as_str().to_owned()),
        text: r.diagnostic.clone(),
    };
    match c.kind {
        Kind::Bounce | Kind::Delay | Kind::DeliveryReport => {
            let action = report.and_then(|r| r.action).unwrap_or(match c.kind {
                Kind::Bounce => Action::Failed,
                Kind::Delay => Action::Delayed,
                _ => Action::Delivered,
            });
            match action {
                Action::Failed => Some((EventKind::Failed, report.map(reason))),
                Action::Delayed => Some((EventKind::Deferred, report.map(reason))),
                Action::Delivered | Action::Relayed | Action::Expanded => {
                    Some((EventKind::Delivered, None))
                }
            }
        }
        Kind::ReadReceipt => Some((EventKind::ReadReceipt, None)),
        Kind::Complaint => Some((EventKind::Complained, None)),
        Kind::Reply => Some((EventKind::Replied, None)),
        Kind::AutoReply => Some((EventKind::AutoReplied, None)),
        Kind::Other => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A classifier that panics sets its message aside; its answer is used
    /// otherwise.
    #[tokio::test]
    async fn a_panicking_classifier_sets_the_message_aside() {
        let panicked = tokio::task::spawn_blocking(|| -> Classification {
            panic!("a classifier bug, on purpose");
        })
        .await;
        assert!(matches!(classified(panicked), Ok(None)));
        let fine = tokio::task::spawn_blocking(|| classify(b"Subject: hi\r\n\r\nhello\r\n")).await;
        assert_eq!(
            classified(fine).expect("no error").map(|c| c.kind),
            Some(Kind::Other)
        );
    }
}

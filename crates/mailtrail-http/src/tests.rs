//! Router tests: real requests through the whole axum stack (layers,
//! extractors, error handling) against an in-memory [`Store`] that keeps
//! the trait's documented semantics (org scoping, idempotency, suppression,
//! newest-first keyset pages). The real backends are tested by the store's
//! conformance suite and the end-to-end tests.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use mailtrail_domain::{EmailAddress, EventKind, Status};
use mailtrail_store::inbound::*;
use mailtrail_store::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::Notify;
use tower::ServiceExt;
use uuid::Uuid;

use crate::{AppState, HttpSettings, router};
use mailtrail_domain::credentials::hash_api_key;

mod dashboard;
mod sink;

// ---------------------------------------------------------------------------
// In-memory store
// ---------------------------------------------------------------------------

#[derive(Default)]
struct Inner {
    orgs: Vec<Organisation>,
    keys: Vec<(String, ApiKeyOwner, bool)>,
    users: Vec<User>,
    messages: Vec<(NewMessage, Message)>,
    jobs: Vec<Job>,
    sandbox: Vec<(Uuid, SandboxCopy)>,
    suppressions: Vec<(Uuid, Suppression)>,
    inbound: Vec<(InboundMessage, bool)>,
    cursors: Vec<(String, MailboxCursor)>,
    /// The fingerprint of each inbound message read from a mailbox, by id.
    fingerprints: Vec<(Uuid, String)>,
    sessions: Vec<NewSession>,
    key_list: Vec<ApiKeyInfo>,
    sender_networks: Vec<(Uuid, String)>,
    domains: Vec<mailtrail_store::SendingDomain>,
}

#[derive(Default)]
struct MemStore {
    inner: Mutex<Inner>,
    down: AtomicBool,
}

impl MemStore {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("store mutex")
    }

    fn message_count(&self) -> usize {
        self.lock().messages.len()
    }

    fn stored(&self, id: Uuid) -> NewMessage {
        self.lock()
            .messages
            .iter()
            .find(|(n, _)| n.id == id)
            .map(|(n, _)| n.clone())
            .expect("stored message")
    }
}

fn mem_refs(inner: &Inner, keep: impl Fn(&NewMessage, &NewRecipient) -> bool) -> Vec<RecipientRef> {
    inner
        .messages
        .iter()
        .flat_map(|(m, _)| m.recipients.iter().map(move |r| (m, r)))
        .filter(|(m, r)| keep(m, r))
        .map(|(m, r)| RecipientRef {
            id: r.id,
            message_id: m.id,
            org_id: m.org_id,
            address: r.address.clone(),
            kind: r.kind,
            sent_at: m.created_at,
        })
        .collect()
}

fn apply_event(inner: &mut Inner, e: &NewEvent) -> Result<(), StoreError> {
    let r = inner
        .messages
        .iter_mut()
        .flat_map(|(_, m)| m.recipients.iter_mut())
        .find(|r| r.id == e.recipient_id)
        .ok_or(StoreError::NotFound("recipient"))?;
    r.status = r.status.apply(e.kind, e.opener);
    if e.reason.is_some() {
        r.status_reason = e.reason.clone();
    }
    r.updated_at = e.at;
    r.events.push(Event {
        id: e.id,
        kind: e.kind,
        at: e.at,
        opener: e.opener,
        reason: e.reason.clone(),
        data: e.data.clone(),
    });
    Ok(())
}

#[async_trait]
impl Store for MemStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Corrupt("database is down".into()))
        } else {
            Ok(())
        }
    }

    async fn ensure_organisation(&self, name: &str) -> Result<Organisation, StoreError> {
        let mut g = self.lock();
        if let Some(o) = g.orgs.iter().find(|o| o.name == name) {
            return Ok(o.clone());
        }
        let o = Organisation {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            read_receipt_default: true,
            track_opens_default: true,
            track_clicks_default: true,
        };
        g.orgs.push(o.clone());
        Ok(o)
    }

    async fn organisation(&self, id: Uuid) -> Result<Option<Organisation>, StoreError> {
        Ok(self.lock().orgs.iter().find(|o| o.id == id).cloned())
    }

    async fn create_user(
        &self,
        org_id: Uuid,
        email: &EmailAddress,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<User, StoreError> {
        let mut g = self.lock();
        if g.users
            .iter()
            .any(|u| u.email.normalized() == email.normalized())
        {
            return Err(StoreError::Conflict("user"));
        }
        let u = User {
            id: Uuid::now_v7(),
            org_id,
            email: email.clone(),
            password_hash: password_hash.to_owned(),
            is_admin,
            created_at: OffsetDateTime::now_utc(),
        };
        g.users.push(u.clone());
        Ok(u)
    }

    async fn user_by_email(&self, email: &EmailAddress) -> Result<Option<User>, StoreError> {
        Ok(self
            .lock()
            .users
            .iter()
            .find(|u| u.email.normalized() == email.normalized())
            .cloned())
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        let mut g = self.lock();
        let org_id = g
            .users
            .iter()
            .find(|u| u.id == key.user_id)
            .map(|u| u.org_id)
            .ok_or(StoreError::NotFound("user"))?;
        let owner = ApiKeyOwner {
            key_id: key.id,
            user_id: key.user_id,
            org_id,
        };
        g.keys.push((key.key_hash.clone(), owner, false));
        let user_email = g
            .users
            .iter()
            .find(|u| u.id == key.user_id)
            .map(|u| u.email.as_str().to_owned())
            .unwrap_or_default();
        g.key_list.push(ApiKeyInfo {
            id: key.id,
            user_id: key.user_id,
            user_email,
            name: key.name.clone(),
            prefix: key.prefix.clone(),
            created_at: OffsetDateTime::now_utc(),
            last_used_at: None,
            revoked_at: None,
        });
        Ok(())
    }

    async fn api_key_owner(&self, key_hash: &str) -> Result<Option<ApiKeyOwner>, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt("SELECT secret FROM api_keys".into()));
        }
        Ok(self
            .lock()
            .keys
            .iter()
            .find(|(h, _, revoked)| h == key_hash && !revoked)
            .map(|(_, o, _)| o.clone()))
    }

    async fn revoke_api_key(&self, org_id: Uuid, key_id: Uuid) -> Result<bool, StoreError> {
        let mut g = self.lock();
        match g
            .keys
            .iter_mut()
            .find(|(_, o, revoked)| o.key_id == key_id && o.org_id == org_id && !revoked)
        {
            Some(k) => {
                k.2 = true;
                if let Some(info) = g.key_list.iter_mut().find(|k| k.id == key_id) {
                    info.revoked_at = Some(OffsetDateTime::now_utc());
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn insert_message(&self, msg: &NewMessage) -> Result<Inserted, StoreError> {
        let mut g = self.lock();
        if let Some(key) = &msg.idempotency_key
            && let Some((n, _)) = g
                .messages
                .iter()
                .find(|(n, _)| n.org_id == msg.org_id && n.idempotency_key.as_ref() == Some(key))
        {
            return Ok(Inserted::Existing(n.id));
        }
        let mut recipients = Vec::new();
        for r in &msg.recipients {
            let suppressed = g
                .suppressions
                .iter()
                .any(|(o, s)| *o == msg.org_id && s.address == r.address.normalized());
            let kind = if suppressed {
                EventKind::Suppressed
            } else {
                EventKind::Queued
            };
            if !suppressed {
                g.jobs.push(Job {
                    id: Uuid::now_v7(),
                    message_id: msg.id,
                    recipient_id: r.id,
                    attempts: 0,
                });
            }
            recipients.push(Recipient {
                id: r.id,
                address: r.address.clone(),
                kind: r.kind,
                status: Status::derive([(kind, None)]),
                status_reason: None,
                updated_at: msg.created_at,
                opens: 0,
                machine_opens: 0,
                clicks: 0,
                first_open_at: None,
                first_open_implied: false,
                implied_opens: 0,
                links: Vec::new(),
                events: vec![Event {
                    id: Uuid::now_v7(),
                    kind,
                    at: msg.created_at,
                    opener: None,
                    reason: None,
                    data: Value::Null,
                }],
            });
        }
        let m = Message {
            id: msg.id,
            message_id: msg.message_id.clone(),
            from_address: msg.from_address.clone(),
            from_name: msg.from_name.clone(),
            subject: msg.subject.clone(),
            read_receipt: msg.read_receipt,
            metadata: msg.metadata.clone(),
            created_at: msg.created_at,
            recipients,
        };
        g.messages.push((msg.clone(), m));
        Ok(Inserted::Created(msg.id))
    }

    async fn claim_jobs(
        &self,
        _worker: &str,
        _now: OffsetDateTime,
        _lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        Ok(self
            .lock()
            .jobs
            .iter()
            .take(limit as usize)
            .cloned()
            .collect())
    }

    async fn outbound_message(&self, id: Uuid) -> Result<Option<OutboundMessage>, StoreError> {
        Ok(self
            .lock()
            .messages
            .iter()
            .find(|(n, _)| n.id == id)
            .map(|(n, _)| OutboundMessage {
                id: n.id,
                org_id: n.org_id,
                message_id: n.message_id.clone(),
                from_address: n.from_address.clone(),
                from_name: n.from_name.clone(),
                reply_to: n.reply_to.clone(),
                subject: n.subject.clone(),
                content: n.content.clone(),
                read_receipt: n.read_receipt,
                track_opens: n.track_opens,
                track_clicks: n.track_clicks,
                created_at: n.created_at,
                recipients: n
                    .recipients
                    .iter()
                    .map(|r| (r.id, r.address.clone(), r.kind))
                    .collect(),
            }))
    }

    async fn complete_job(&self, job_id: Uuid, event: &NewEvent) -> Result<(), StoreError> {
        let mut g = self.lock();
        g.jobs.retain(|j| j.id != job_id);
        apply_event(&mut g, event)
    }

    async fn complete_jobs(&self, done: &[(Uuid, NewEvent)]) -> Result<usize, StoreError> {
        let mut g = self.lock();
        let mut n = 0;
        for (job_id, event) in done {
            let Some(i) = g
                .jobs
                .iter()
                .position(|j| j.id == *job_id && j.recipient_id == event.recipient_id)
            else {
                continue;
            };
            g.jobs.remove(i);
            apply_event(&mut g, event)?;
            n += 1;
        }
        Ok(n)
    }

    async fn retry_job(
        &self,
        _job_id: Uuid,
        event: &NewEvent,
        _retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        apply_event(&mut self.lock(), event)
    }

    async fn record_event(&self, event: &NewEvent) -> Result<(), StoreError> {
        apply_event(&mut self.lock(), event)
    }

    async fn record_events(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt("database is down".into()));
        }
        // As the real stores: idempotent by event id (a retried or replayed
        // batch counts nothing twice), unknown recipients skipped.
        let mut g = self.lock();
        for e in events {
            let seen = g
                .messages
                .iter()
                .flat_map(|(_, m)| &m.recipients)
                .flat_map(|r| &r.events)
                .any(|x| x.id == e.id);
            if seen {
                continue;
            }
            match apply_event(&mut g, e) {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn message(&self, org_id: Uuid, id: Uuid) -> Result<Option<Message>, StoreError> {
        Ok(self
            .lock()
            .messages
            .iter()
            .find(|(n, m)| n.org_id == org_id && m.id == id)
            .map(|(_, m)| m.clone()))
    }

    async fn list_messages(
        &self,
        org_id: Uuid,
        f: &MessageFilter,
    ) -> Result<Vec<Message>, StoreError> {
        let g = self.lock();
        let mut out: Vec<Message> = g
            .messages
            .iter()
            .filter(|(n, _)| n.org_id == org_id)
            .map(|(_, m)| m)
            .filter(|m| f.before_id.is_none_or(|b| m.id < b))
            .filter(|m| {
                f.statuses.is_empty() || m.recipients.iter().any(|r| f.statuses.contains(&r.status))
            })
            .filter(|m| {
                f.recipient.as_ref().is_none_or(|q| {
                    m.recipients
                        .iter()
                        .any(|r| r.address.normalized().contains(&q.to_lowercase()))
                })
            })
            .filter(|m| {
                f.subject
                    .as_ref()
                    .is_none_or(|q| m.subject.to_lowercase().contains(&q.to_lowercase()))
            })
            .filter(|m| f.since.is_none_or(|t| m.created_at >= t))
            .filter(|m| f.until.is_none_or(|t| m.created_at < t))
            .cloned()
            .collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.id));
        out.truncate(f.limit as usize);
        for m in &mut out {
            for r in &mut m.recipients {
                r.events.clear();
            }
        }
        Ok(out)
    }

    async fn insert_sandbox_copy(
        &self,
        recipient_id: Uuid,
        raw: &[u8],
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let (org, message_id, address) = g
            .messages
            .iter()
            .find_map(|(n, _)| {
                n.recipients
                    .iter()
                    .find(|r| r.id == recipient_id)
                    .map(|r| (n.org_id, n.id, r.address.to_string()))
            })
            .ok_or(StoreError::NotFound("recipient"))?;
        g.sandbox.push((
            org,
            SandboxCopy {
                id: Uuid::now_v7(),
                message_id,
                recipient_id,
                address,
                captured_at: at,
                raw: String::from_utf8_lossy(raw).into_owned(),
            },
        ));
        Ok(())
    }

    async fn sandbox_copies(
        &self,
        org_id: Uuid,
        limit: u32,
    ) -> Result<Vec<SandboxCopy>, StoreError> {
        let g = self.lock();
        Ok(g.sandbox
            .iter()
            .rev()
            .filter(|(o, _)| *o == org_id)
            .take(limit as usize)
            .map(|(_, c)| c.clone())
            .collect())
    }

    async fn sandbox_copy(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<SandboxCopy>, StoreError> {
        Ok(self
            .lock()
            .sandbox
            .iter()
            .find(|(o, c)| *o == org_id && c.id == id)
            .map(|(_, c)| c.clone()))
    }

    async fn add_suppression(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        g.suppressions
            .retain(|(o, s)| !(*o == org_id && s.address == address.normalized()));
        g.suppressions.push((
            org_id,
            Suppression {
                address: address.normalized(),
                reason: reason.to_owned(),
                created_at: OffsetDateTime::now_utc(),
            },
        ));
        Ok(())
    }

    async fn suppressions(&self, org_id: Uuid) -> Result<Vec<Suppression>, StoreError> {
        Ok(self
            .lock()
            .suppressions
            .iter()
            .filter(|(o, _)| *o == org_id)
            .map(|(_, s)| s.clone())
            .collect())
    }

    async fn delete_suppression(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let before = g.suppressions.len();
        g.suppressions
            .retain(|(o, s)| !(*o == org_id && s.address == address.normalized()));
        Ok(g.suppressions.len() != before)
    }

    async fn insert_inbound(&self, msg: &NewInbound) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let g = &mut *g;
        let seen = msg.mailbox.as_ref().is_some_and(|from| {
            g.inbound.iter().any(|(m, _)| {
                m.mailbox.as_deref() == Some(from.key.as_str())
                    && g.fingerprints
                        .iter()
                        .any(|(id, f)| *id == m.id && *f == from.fingerprint)
            })
        });
        if !seen {
            g.inbound.push((
                InboundMessage {
                    id: msg.id,
                    source: msg.source,
                    mail_from: msg.mail_from.clone(),
                    rcpt_to: msg.rcpt_to.clone(),
                    mailbox: msg.mailbox.as_ref().map(|m| m.key.clone()),
                    raw: msg.raw.clone(),
                    received_at: msg.received_at,
                },
                false,
            ));
            if let Some(from) = &msg.mailbox {
                g.fingerprints.push((msg.id, from.fingerprint.clone()));
            }
        }
        if let Some(from) = &msg.mailbox {
            g.cursors.retain(|(n, _)| *n != from.key);
            g.cursors.push((from.key.clone(), from.cursor));
        }
        Ok(!seen)
    }

    async fn set_mailbox_cursor(
        &self,
        mailbox: &str,
        cursor: MailboxCursor,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        g.cursors.retain(|(n, _)| n != mailbox);
        g.cursors.push((mailbox.to_owned(), cursor));
        Ok(())
    }

    async fn first_send_at(&self) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(self.lock().messages.iter().map(|(_, m)| m.created_at).min())
    }

    async fn pending_inbound(&self, limit: u32) -> Result<Vec<InboundMessage>, StoreError> {
        Ok(self
            .lock()
            .inbound
            .iter()
            .filter(|(_, done)| !done)
            .take(limit as usize)
            .map(|(m, _)| m.clone())
            .collect())
    }

    async fn finish_inbound(
        &self,
        id: Uuid,
        _outcome: &mailtrail_store::inbound::InboundOutcome,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        let entry = g
            .inbound
            .iter_mut()
            .find(|(m, _)| m.id == id)
            .ok_or(StoreError::NotFound("inbound message"))?;
        entry.1 = true;
        Ok(())
    }

    async fn mailbox_cursor(&self, mailbox: &str) -> Result<Option<MailboxCursor>, StoreError> {
        Ok(self
            .lock()
            .cursors
            .iter()
            .find(|(n, _)| n == mailbox)
            .map(|(_, c)| *c))
    }

    async fn recipient_ref(&self, id: Uuid) -> Result<Option<RecipientRef>, StoreError> {
        Ok(mem_refs(&self.lock(), |_, r| r.id == id).into_iter().next())
    }

    async fn recipients_by_message_id(
        &self,
        message_id: &str,
    ) -> Result<Vec<RecipientRef>, StoreError> {
        Ok(mem_refs(&self.lock(), |m, _| {
            m.message_id.as_str() == message_id
        }))
    }

    async fn recent_recipients(
        &self,
        address: &EmailAddress,
        since: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<RecipientRef>, StoreError> {
        let mut refs = mem_refs(&self.lock(), |m, r| {
            (since..=until).contains(&m.created_at)
                && r.address.normalized() == address.normalized()
        });
        refs.reverse();
        refs.truncate(limit as usize);
        Ok(refs)
    }

    async fn create_session(&self, session: &NewSession) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.sessions.iter().any(|s| s.id_hash == session.id_hash) {
            return Err(StoreError::Conflict("session"));
        }
        g.sessions.push(session.clone());
        Ok(())
    }

    async fn session(
        &self,
        id_hash: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Session>, StoreError> {
        let g = self.lock();
        Ok(g.sessions
            .iter()
            .find(|s| s.id_hash == id_hash && s.expires_at > now)
            .and_then(|s| {
                let user = g.users.iter().find(|u| u.id == s.user_id)?.clone();
                Some(Session {
                    user,
                    csrf_token: s.csrf_token.clone(),
                    expires_at: s.expires_at,
                })
            }))
    }

    async fn delete_session(&self, id_hash: &str, now: OffsetDateTime) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let before = g.sessions.len();
        g.sessions.retain(|s| s.id_hash != id_hash);
        let found = g.sessions.len() < before;
        g.sessions.retain(|s| s.expires_at > now);
        Ok(found)
    }

    async fn set_organisation_defaults(
        &self,
        org_id: Uuid,
        read_receipt: bool,
        track_opens: bool,
        track_clicks: bool,
    ) -> Result<bool, StoreError> {
        let mut g = self.lock();
        Ok(match g.orgs.iter_mut().find(|o| o.id == org_id) {
            Some(o) => {
                o.read_receipt_default = read_receipt;
                o.track_opens_default = track_opens;
                o.track_clicks_default = track_clicks;
                true
            }
            None => false,
        })
    }

    async fn events_after(
        &self,
        org_id: Uuid,
        after: Uuid,
        kinds: &[EventKind],
        limit: u32,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let g = self.lock();
        let mut out: Vec<FeedEvent> = g
            .messages
            .iter()
            .filter(|(n, _)| n.org_id == org_id)
            .flat_map(|(_, m)| {
                m.recipients.iter().flat_map(move |r| {
                    r.events.iter().map(move |e| FeedEvent {
                        message_id: m.id,
                        subject: m.subject.clone(),
                        recipient_id: r.id,
                        address: r.address.as_str().to_owned(),
                        event: e.clone(),
                    })
                })
            })
            .filter(|f| f.event.id > after && kinds.contains(&f.event.kind))
            .collect();
        out.sort_by_key(|f| f.event.id);
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn api_keys(
        &self,
        org_id: Uuid,
        user_id: Option<Uuid>,
    ) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let g = self.lock();
        let mut out: Vec<ApiKeyInfo> = g
            .key_list
            .iter()
            .filter(|k| {
                g.users
                    .iter()
                    .any(|u| u.id == k.user_id && u.org_id == org_id)
                    && user_id.is_none_or(|id| id == k.user_id)
            })
            .cloned()
            .collect();
        out.sort_by_key(|k| std::cmp::Reverse(k.id));
        Ok(out)
    }

    async fn contact_events(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
        limit: u32,
    ) -> Result<Vec<FeedEvent>, StoreError> {
        let g = self.lock();
        let norm = address.normalized();
        let mut out: Vec<FeedEvent> = g
            .messages
            .iter()
            .filter(|(n, _)| n.org_id == org_id)
            .flat_map(|(_, m)| {
                m.recipients
                    .iter()
                    .filter(|r| r.address.normalized() == norm)
                    .flat_map(move |r| {
                        r.events.iter().map(move |e| FeedEvent {
                            message_id: m.id,
                            subject: m.subject.clone(),
                            recipient_id: r.id,
                            address: r.address.as_str().to_owned(),
                            event: e.clone(),
                        })
                    })
            })
            .collect();
        out.sort_by_key(|f| std::cmp::Reverse((f.event.at, f.event.id)));
        out.truncate(limit as usize);
        Ok(out)
    }

    async fn users(&self, org_id: Uuid) -> Result<Vec<User>, StoreError> {
        let mut out: Vec<User> = self
            .lock()
            .users
            .iter()
            .filter(|u| u.org_id == org_id)
            .cloned()
            .collect();
        out.sort_by_key(|u| u.email.normalized());
        Ok(out)
    }

    async fn set_user_admin(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        is_admin: bool,
    ) -> Result<UserChange, StoreError> {
        let mut g = self.lock();
        let others = g
            .users
            .iter()
            .filter(|u| u.org_id == org_id && u.is_admin && u.id != user_id)
            .count();
        let Some(u) = g
            .users
            .iter_mut()
            .find(|u| u.id == user_id && u.org_id == org_id)
        else {
            return Ok(UserChange::NotFound);
        };
        if u.is_admin && !is_admin && others == 0 {
            return Ok(UserChange::LastAdmin);
        }
        u.is_admin = is_admin;
        Ok(UserChange::Changed)
    }

    async fn delete_user(
        &self,
        org_id: Uuid,
        user_id: Uuid,
        heir: Uuid,
    ) -> Result<UserChange, StoreError> {
        let mut g = self.lock();
        let Some(u) = g
            .users
            .iter()
            .find(|u| u.id == user_id && u.org_id == org_id)
            .cloned()
        else {
            return Ok(UserChange::NotFound);
        };
        let others = g
            .users
            .iter()
            .filter(|o| o.org_id == org_id && o.is_admin && o.id != user_id)
            .count();
        if u.is_admin && others == 0 {
            return Ok(UserChange::LastAdmin);
        }
        if !g
            .users
            .iter()
            .any(|h| h.id == heir && h.org_id == org_id && h.id != user_id)
        {
            return Err(StoreError::NotFound("user to hand the messages to"));
        }
        for (n, _) in g.messages.iter_mut() {
            if n.user_id == user_id {
                n.user_id = heir;
            }
        }
        g.users.retain(|o| o.id != user_id);
        g.sessions.retain(|s| s.user_id != user_id);
        g.keys.retain(|(_, o, _)| o.user_id != user_id);
        g.key_list.retain(|k| k.user_id != user_id);
        Ok(UserChange::Changed)
    }

    async fn sender_networks(&self, org_id: Uuid) -> Result<Vec<String>, StoreError> {
        Ok(self
            .lock()
            .sender_networks
            .iter()
            .filter(|(o, _)| *o == org_id)
            .map(|(_, n)| n.clone())
            .collect())
    }

    async fn set_sender_networks(
        &self,
        org_id: Uuid,
        networks: &[String],
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        if !g.orgs.iter().any(|o| o.id == org_id) {
            return Err(StoreError::NotFound("organisation"));
        }
        g.sender_networks.retain(|(o, _)| *o != org_id);
        g.sender_networks
            .extend(networks.iter().map(|n| (org_id, n.clone())));
        Ok(())
    }

    async fn all_sender_networks(&self) -> Result<Vec<(Uuid, String)>, StoreError> {
        Ok(self.lock().sender_networks.clone())
    }

    async fn daily_stats(
        &self,
        org_id: Uuid,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<DayStats>, StoreError> {
        use mailtrail_domain::Opener;
        use std::collections::{BTreeMap, HashSet};
        let g = self.lock();
        let mut days: BTreeMap<i64, [HashSet<Uuid>; 7]> = BTreeMap::new();
        for (n, m) in &g.messages {
            if n.org_id != org_id {
                continue;
            }
            for r in &m.recipients {
                for e in r.events.iter().filter(|e| e.at >= since && e.at < until) {
                    let person = e.opener.is_none_or(|o| o.is_person());
                    let col = match e.kind {
                        EventKind::Sent => Some(0),
                        EventKind::Delivered => Some(1),
                        EventKind::Failed => Some(2),
                        EventKind::Opened if e.opener.is_some_and(|o| o.is_person()) => Some(3),
                        EventKind::Opened if e.opener == Some(Opener::Machine) => Some(4),
                        EventKind::Clicked if person => Some(5),
                        EventKind::Replied => Some(6),
                        _ => None,
                    };
                    let Some(col) = col else { continue };
                    let day = e.at.unix_timestamp().div_euclid(86_400);
                    let sets = days.entry(day).or_default();
                    sets[col].insert(r.id);
                    if col == 1 {
                        sets[0].insert(r.id);
                    }
                }
            }
        }
        Ok(days
            .into_iter()
            .map(|(day, s)| DayStats {
                day,
                sent: s[0].len() as u64,
                delivered: s[1].len() as u64,
                failed: s[2].len() as u64,
                opened: s[3].len() as u64,
                machine_opened: s[4].len() as u64,
                clicked: s[5].len() as u64,
                replied: s[6].len() as u64,
            })
            .collect())
    }

    async fn add_sending_domain(
        &self,
        d: &mailtrail_store::NewSendingDomain,
    ) -> Result<(), StoreError> {
        let mut g = self.lock();
        if g.domains
            .iter()
            .any(|x| x.org_id == d.org_id && x.domain == d.domain)
        {
            return Err(StoreError::Conflict("sending domain"));
        }
        g.domains.push(mailtrail_store::SendingDomain {
            id: d.id,
            org_id: d.org_id,
            domain: d.domain.clone(),
            selector: d.selector.clone(),
            algorithm: d.algorithm.clone(),
            private_key: d.private_key.clone(),
            dns_record: d.dns_record.clone(),
            created_at: d.created_at,
        });
        Ok(())
    }

    async fn sending_domains(
        &self,
        org_id: Uuid,
    ) -> Result<Vec<mailtrail_store::SendingDomain>, StoreError> {
        let mut v: Vec<_> = self
            .lock()
            .domains
            .iter()
            .filter(|d| d.org_id == org_id)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.domain.cmp(&b.domain));
        Ok(v)
    }

    async fn all_sending_domains(&self) -> Result<Vec<mailtrail_store::SendingDomain>, StoreError> {
        Ok(self.lock().domains.clone())
    }

    async fn delete_sending_domain(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError> {
        let mut g = self.lock();
        let before = g.domains.len();
        g.domains.retain(|d| !(d.org_id == org_id && d.id == id));
        Ok(g.domains.len() < before)
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let mut n = 0;
        for (_, m) in &mut g.messages {
            for r in &mut m.recipients {
                let len = r.events.len();
                r.events.retain(|e| e.at >= before);
                n += (len - r.events.len()) as u64;
            }
        }
        Ok(n)
    }

    async fn purge_inbound(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut g = self.lock();
        let len = g.inbound.len();
        g.inbound
            .retain(|(m, done)| !(*done && m.received_at < before));
        Ok((len - g.inbound.len()) as u64)
    }
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

struct TestApp {
    store: Arc<MemStore>,
    notify: Arc<Notify>,
    settings: HttpSettings,
    /// Key of organisation A (read receipts on by default).
    key_a: String,
    /// Key of organisation B (read receipts and tracking off by default).
    key_b: String,
    org_a: Uuid,
    org_b: Uuid,
    /// The tracking endpoints' event sink, on a journal in `_journal`.
    sink: mailtrail_store::journal::EventSink,
    _sink_task: mailtrail_store::journal::SinkHandle,
    _journal: tempfile::TempDir,
}

impl TestApp {
    async fn new() -> Self {
        Self::with_settings(HttpSettings::default()).await
    }

    async fn with_settings(settings: HttpSettings) -> Self {
        let store = Arc::new(MemStore::default());
        let org_a = store.ensure_organisation("a").await.expect("org a");
        let org_b = store.ensure_organisation("b").await.expect("org b");
        {
            let mut g = store.lock();
            let b = g.orgs.iter_mut().find(|o| o.id == org_b.id).expect("org b");
            b.read_receipt_default = false;
            b.track_opens_default = false;
            b.track_clicks_default = false;
        }
        let mut keys = Vec::new();
        for (org, email) in [(&org_a, "admin@a.example"), (&org_b, "admin@b.example")] {
            let email = EmailAddress::parse(email).expect("email");
            let user = store
                .create_user(org.id, &email, "x", true)
                .await
                .expect("user");
            let (key, prefix) = mailtrail_domain::credentials::generate_api_key();
            store
                .create_api_key(&NewApiKey {
                    id: Uuid::now_v7(),
                    user_id: user.id,
                    name: "test".into(),
                    key_hash: hash_api_key(&key),
                    prefix,
                })
                .await
                .expect("key");
            keys.push(key);
        }
        let key_b = keys.pop().expect("key b");
        let key_a = keys.pop().expect("key a");
        let journal = tempfile::tempdir().expect("journal dir");
        let (sink, sink_task) = mailtrail_store::journal::EventSink::spawn(
            store.clone(),
            &journal.path().join("events.journal"),
            Default::default(),
        )
        .expect("event sink");
        Self {
            store,
            notify: Arc::new(Notify::new()),
            settings,
            key_a,
            key_b,
            org_a: org_a.id,
            org_b: org_b.id,
            sink,
            _sink_task: sink_task,
            _journal: journal,
        }
    }

    fn router(&self) -> axum::Router {
        let keyring = mailtrail_domain::Keyring::new(vec![
            mailtrail_domain::TokenKey::new(1, b"0123456789abcdef0123", None).expect("key"),
        ])
        .expect("keyring");
        router(AppState {
            store: self.store.clone(),
            settings: self.settings.clone(),
            notify: self.notify.clone(),
            inbound_wake: Arc::new(tokio::sync::Notify::new()),
            keyring: Arc::new(keyring),
            tracking: crate::tracking::Tracking::new(
                Default::default(),
                crate::tracking::opener::OpenerData::builtin(),
                self.sink.clone(),
            ),
            signin: Default::default(),
        })
    }

    async fn request(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router().oneshot(req).await.expect("infallible");
        let status = res.status();
        let ct = res
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        if bytes.is_empty() {
            return (status, Value::Null);
        }
        assert_eq!(
            ct.as_deref(),
            Some("application/json"),
            "every body is JSON"
        );
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.request(b.body(body).expect("request")).await
    }

    async fn get(&self, uri: &str, key: &str) -> (StatusCode, Value) {
        self.call(Method::GET, uri, Some(key), None).await
    }

    async fn send(&self, key: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, "/api/v1/messages", Some(key), Some(body))
            .await
    }
}

fn minimal(to: &str) -> Value {
    json!({"from": "app@send.example", "to": [to], "subject": "Hi", "text": "Hello"})
}

fn assert_error(
    status: StatusCode,
    body: &Value,
    want_status: StatusCode,
    code: &str,
    field: Option<&str>,
) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    match field {
        Some(f) => assert_eq!(body["error"]["field"], f, "{body}"),
        None => assert!(body["error"].get("field").is_none(), "{body}"),
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn healthz_reflects_the_database() {
    let app = TestApp::new().await;
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b, json!({"status": "ok"}));

    app.store.down.store(true, Ordering::SeqCst);
    let (s, b) = app.call(Method::GET, "/healthz", None, None).await;
    assert_error(s, &b, StatusCode::SERVICE_UNAVAILABLE, "unavailable", None);
    assert!(
        !b.to_string().contains("database is down"),
        "internals leak: {b}"
    );

    // A store failure inside the API is a generic 500.
    let (s, b) = app.get("/api/v1/messages", &app.key_a).await;
    assert_error(s, &b, StatusCode::INTERNAL_SERVER_ERROR, "internal", None);
    assert_eq!(b["error"]["message"], "internal server error");
    assert!(!b.to_string().contains("secret"), "internals leak: {b}");
}

#[tokio::test]
async fn api_needs_a_valid_key() {
    let app = TestApp::new().await;
    for uri in [
        "/api/v1/messages",
        "/api/v1/sandbox/messages",
        "/api/v1/suppressions",
    ] {
        let (s, b) = app.call(Method::GET, uri, None, None).await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);
        let (s, b) = app
            .call(Method::GET, uri, Some("mt_not-a-real-key"), None)
            .await;
        assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);
    }
    let req = Request::get("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Basic {}", app.key_a))
        .body(Body::empty())
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(s, &b, StatusCode::UNAUTHORIZED, "unauthorized", None);

    // Sending without a key stores nothing.
    let (s, _) = app
        .call(
            Method::POST,
            "/api/v1/messages",
            None,
            Some(minimal("x@y.example")),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(app.store.message_count(), 0);

    let (s, _) = app.get("/api/v1/messages", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn send_answers_202_with_the_recipients_and_wakes_workers() {
    let app = TestApp::new().await;
    let (s, b) = app
        .send(
            &app.key_a,
            json!({
                "from": {"name": "App", "address": "app@Send.Example"},
                "to": ["one@x.example", {"name": "Two", "address": "two@x.example"}],
                "cc": ["ONE@x.example"],
                "bcc": "three@x.example",
                "subject": "Hello",
                "html": "<p>Hi</p>",
                "headers": {"X-Campaign": "spring"},
                "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content_base64": "aGVs\nbG8="}],
                "metadata": {"order": "42"}
            }),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id: Uuid = b["id"].as_str().expect("id").parse().expect("uuid");
    assert_eq!(id.get_version_num(), 7);
    assert!(
        b["message_id"]
            .as_str()
            .expect("message_id")
            .ends_with("@send.example")
    );
    let recipients = b["recipients"].as_array().expect("recipients");
    // ONE@x.example in cc is the same mailbox as one@x.example in to.
    let got: Vec<(&str, &str, &str)> = recipients
        .iter()
        .map(|r| {
            (
                r["address"].as_str().unwrap_or(""),
                r["kind"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("one@x.example", "to", "queued"),
            ("two@x.example", "to", "queued"),
            ("three@x.example", "bcc", "queued"),
        ]
    );
    assert!(recipients.iter().all(|r| r["id"].as_str().is_some()));

    // The worker wake-up left a permit.
    tokio::time::timeout(Duration::from_secs(1), app.notify.notified())
        .await
        .expect("workers were notified");

    let stored = app.store.stored(id);
    assert_eq!(stored.org_id, app.org_a);
    assert_eq!(stored.from_name.as_deref(), Some("App"));
    assert_eq!(
        stored.content.headers,
        vec![("X-Campaign".to_owned(), "spring".to_owned())]
    );
    assert_eq!(stored.content.attachments[0].content, b"hello");
    assert_eq!(stored.metadata["order"], "42");
    // Organisation A's defaults: receipts and tracking on.
    assert!(stored.read_receipt && stored.track_opens && stored.track_clicks);
}

#[tokio::test]
async fn defaults_come_from_the_organisation_unless_the_request_says() {
    let app = TestApp::new().await;
    let (s, b) = app.send(&app.key_b, minimal("x@y.example")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let m = app
        .store
        .stored(b["id"].as_str().expect("id").parse().expect("uuid"));
    assert!(!m.read_receipt && !m.track_opens && !m.track_clicks);

    let mut body = minimal("x@y.example");
    body["read_receipt"] = json!(true);
    body["track"] = json!({"opens": true});
    let (_, b) = app.send(&app.key_b, body).await;
    let m = app
        .store
        .stored(b["id"].as_str().expect("id").parse().expect("uuid"));
    assert!(m.read_receipt && m.track_opens && !m.track_clicks);

    let mut body = minimal("x@y.example");
    body["read_receipt"] = json!(false);
    let (_, b) = app.send(&app.key_a, body).await;
    let m = app
        .store
        .stored(b["id"].as_str().expect("id").parse().expect("uuid"));
    assert!(!m.read_receipt && m.track_opens);
}

#[tokio::test]
async fn idempotency_key_returns_the_earlier_message_with_200() {
    let app = TestApp::new().await;
    let mut body = minimal("x@y.example");
    body["idempotency_key"] = json!("order-42");
    let (s1, b1) = app.send(&app.key_a, body.clone()).await;
    assert_eq!(s1, StatusCode::ACCEPTED);
    let (s2, b2) = app.send(&app.key_a, body.clone()).await;
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(b1, b2);
    assert_eq!(app.store.message_count(), 1);

    // Keys are per organisation.
    let (s3, b3) = app.send(&app.key_b, body).await;
    assert_eq!(s3, StatusCode::ACCEPTED);
    assert_ne!(b3["id"], b1["id"]);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_store_nothing() {
    let app = TestApp::new().await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "text": "t", "bc": []}),
            "invalid_field",
            "bc",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example", "y@y.example", "not an address"], "text": "t"}),
            "invalid_address",
            "to[2]",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "text": "t", "headers": {"X-A": "1\r\nBcc: v@w.example"}}),
            "invalid_header",
            "headers.X-A",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "subject": "a\r\nb", "text": "t"}),
            "invalid_value",
            "subject",
        ),
        (
            json!({"from": "a@b.example", "to": [], "text": "t"}),
            "missing_recipient",
            "to",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "subject": "s"}),
            "missing_body",
            "text",
        ),
        (
            json!({"from": "a@b.example", "to": ["x@y.example"], "text": "t",
                   "attachments": [{"filename": "a", "content_type": "text/plain", "content_base64": "!!"}]}),
            "invalid_base64",
            "attachments[0].content_base64",
        ),
    ];
    for (body, code, field) in cases {
        let (s, b) = app.send(&app.key_a, body).await;
        assert_error(s, &b, StatusCode::BAD_REQUEST, code, Some(field));
    }

    // Malformed JSON gets the JSON error shape too.
    let req = Request::post("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"from": "a@b.example", "to": ["#))
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(s, &b, StatusCode::BAD_REQUEST, "invalid_json", Some("to"));

    let req = Request::post("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(minimal("x@y.example").to_string()))
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(
        s,
        &b,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        None,
    );

    assert_eq!(app.store.message_count(), 0);
    assert!(app.store.lock().jobs.is_empty());
}

#[tokio::test]
async fn oversize_bodies_get_413_in_json() {
    let app = TestApp::with_settings(HttpSettings {
        max_message_bytes: 1024,
        ..HttpSettings::default()
    })
    .await;
    let mut body = minimal("x@y.example");
    body["text"] = json!("x".repeat(2000));
    // With a Content-Length (tower-http refuses before reading).
    let (s, b) = app.send(&app.key_a, body.clone()).await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
    // Streamed without a length: refused while reading.
    let stream = futures_body(body.to_string().into_bytes());
    let req = Request::post("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .header(header::CONTENT_TYPE, "application/json")
        .body(stream)
        .expect("request");
    let (s, b) = app.request(req).await;
    assert_error(
        s,
        &b,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    );
    assert_eq!(app.store.message_count(), 0);

    // Just under the limit is fine.
    let (s, _) = app.send(&app.key_a, minimal("x@y.example")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
}

/// A body with no known length, sent in chunks.
fn futures_body(bytes: Vec<u8>) -> Body {
    let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = bytes
        .chunks(100)
        .map(|c| Ok(axum::body::Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(futures::stream::iter(chunks))
}

/// Sends `n` messages as organisation A, oldest first; returns their ids.
async fn send_many(app: &TestApp, n: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = minimal(&format!("r{i}@y.example"));
        body["subject"] = json!(format!("Subject {i}"));
        let (s, b) = app.send(&app.key_a, body).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        ids.push(b["id"].as_str().expect("id").to_owned());
    }
    ids
}

#[tokio::test]
async fn listing_is_newest_first_with_a_keyset_cursor() {
    let app = TestApp::new().await;
    let ids = send_many(&app, 5).await;
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();

    let mut seen = Vec::new();
    let mut uri = "/api/v1/messages?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let (s, b) = app.get(&uri, &app.key_a).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        pages += 1;
        let data = b["data"].as_array().expect("data");
        assert!(data.len() <= 2);
        for m in data {
            seen.push(m["id"].as_str().expect("id").to_owned());
            // List views carry statuses but no timelines.
            assert_eq!(m["recipients"][0]["status"], "queued");
            assert!(m["recipients"][0].get("events").is_none());
        }
        match b["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/messages?limit=2&cursor={c}"),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3);

    let (_, b) = app.get("/api/v1/messages", &app.key_a).await;
    assert_eq!(b["data"].as_array().expect("data").len(), 5);
    assert_eq!(b["next_cursor"], Value::Null);
    // Too large a page is read as the largest one.
    let (s, b) = app.get("/api/v1/messages?limit=500", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"].as_array().expect("data").len(), 5);
}

#[tokio::test]
async fn list_filters_and_their_errors() {
    let app = TestApp::new().await;
    let ids = send_many(&app, 3).await;
    // Fail the first message's recipient.
    let m = app.store.stored(ids[0].parse().expect("uuid"));
    app.store
        .record_event(&NewEvent {
            id: Uuid::now_v7(),
            recipient_id: m.recipients[0].id,
            kind: EventKind::Failed,
            at: OffsetDateTime::now_utc(),
            opener: None,
            reason: Some(StatusReason {
                smtp_code: Some(550),
                enhanced_status: Some("5.1.1".into()),
                reason: Some("userunknown".into()),
                text: Some("no such user".into()),
            }),
            data: Value::Null,
        })
        .await
        .expect("event");

    let ids_of = |b: &Value| -> Vec<String> {
        b["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|m| m["id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let (s, b) = app.get("/api/v1/messages?status=failed", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids_of(&b), vec![ids[0].clone()]);
    let (_, b) = app
        .get("/api/v1/messages?status=failed,queued", &app.key_a)
        .await;
    assert_eq!(ids_of(&b).len(), 3);
    let (_, b) = app
        .get("/api/v1/messages?status=sent&status=failed", &app.key_a)
        .await;
    assert_eq!(ids_of(&b), vec![ids[0].clone()]);
    let (_, b) = app
        .get("/api/v1/messages?recipient=R1%40Y", &app.key_a)
        .await;
    assert_eq!(ids_of(&b), vec![ids[1].clone()]);
    let (_, b) = app.get("/api/v1/messages?q=subject+2", &app.key_a).await;
    assert_eq!(ids_of(&b), vec![ids[2].clone()]);
    let (_, b) = app
        .get(
            "/api/v1/messages?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00+00:00",
            &app.key_a,
        )
        .await;
    assert_eq!(ids_of(&b).len(), 3);
    let (_, b) = app
        .get("/api/v1/messages?since=2999-01-01T00:00:00Z", &app.key_a)
        .await;
    assert!(ids_of(&b).is_empty());

    for (query, field) in [
        ("status=bogus", "status"),
        ("status=sent,bogus", "status"),
        ("since=yesterday", "since"),
        ("until=2024-13-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=many", "limit"),
        ("cursor=@@@", "cursor"),
        ("colour=red", "colour"),
    ] {
        let (s, b) = app
            .get(&format!("/api/v1/messages?{query}"), &app.key_a)
            .await;
        assert_error(
            s,
            &b,
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some(field),
        );
    }
}

#[tokio::test]
async fn message_detail_has_timelines_and_reasons() {
    let app = TestApp::new().await;
    let (_, sent) = app.send(&app.key_a, minimal("x@y.example")).await;
    let id = sent["id"].as_str().expect("id");
    let rid: Uuid = sent["recipients"][0]["id"]
        .as_str()
        .expect("rid")
        .parse()
        .expect("uuid");
    app.store
        .record_event(&NewEvent {
            id: Uuid::now_v7(),
            recipient_id: rid,
            kind: EventKind::Failed,
            at: OffsetDateTime::now_utc(),
            opener: None,
            reason: Some(StatusReason {
                smtp_code: Some(550),
                enhanced_status: Some("5.1.1".into()),
                reason: Some("userunknown".into()),
                text: Some("no such user".into()),
            }),
            data: json!({"attempt": 1}),
        })
        .await
        .expect("event");

    let (s, b) = app.get(&format!("/api/v1/messages/{id}"), &app.key_a).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["id"], id);
    assert_eq!(b["from"]["address"], "app@send.example");
    assert_eq!(b["subject"], "Hi");
    let r = &b["recipients"][0];
    assert_eq!(r["status"], "failed");
    assert_eq!(
        r["status_reason"],
        json!({"smtp_code": 550, "enhanced_status": "5.1.1", "reason": "userunknown", "text": "no such user"})
    );
    let kinds: Vec<&str> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(kinds, vec!["queued", "failed"]);
    assert_eq!(r["events"][1]["data"]["attempt"], 1);

    // Not a UUID, unknown, or another organisation's: all plain 404s.
    for (uri, key) in [
        ("/api/v1/messages/not-a-uuid".to_owned(), &app.key_a),
        (format!("/api/v1/messages/{}", Uuid::now_v7()), &app.key_a),
        (format!("/api/v1/messages/{id}"), &app.key_b),
    ] {
        let (s, b) = app.get(&uri, key).await;
        assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    }
}

#[tokio::test]
async fn organisations_see_only_their_own_data() {
    let app = TestApp::new().await;
    send_many(&app, 2).await;
    let (_, b) = app.get("/api/v1/messages", &app.key_b).await;
    assert_eq!(b["data"], json!([]));
    assert_eq!(b["next_cursor"], Value::Null);

    let first = app.store.lock().messages[0].1.id;
    let m = app.store.message(app.org_a, first).await;
    let rid = m.expect("ok").expect("message").recipients[0].id;
    app.store
        .insert_sandbox_copy(
            rid,
            b"Subject: Hi\r\n\r\nHello\r\n",
            OffsetDateTime::now_utc(),
        )
        .await
        .expect("copy");
    let (s, b) = app.get("/api/v1/sandbox/messages", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    let copies = b["data"].as_array().expect("data");
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["recipient_id"], rid.to_string());
    assert_eq!(copies[0]["address"], "r0@y.example");
    assert!(
        copies[0]["raw"]
            .as_str()
            .expect("raw")
            .starts_with("Subject: Hi")
    );
    assert!(copies[0]["captured_at"].as_str().is_some());
    let (_, b) = app
        .get("/api/v1/sandbox/messages?limit=10", &app.key_b)
        .await;
    assert_eq!(b["data"], json!([]));
    let (s, b) = app
        .get("/api/v1/sandbox/messages?limit=nope", &app.key_a)
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        Some("limit"),
    );

    let addr = EmailAddress::parse("gone@y.example").expect("addr");
    app.store
        .add_suppression(app.org_a, &addr, "hard_bounce")
        .await
        .expect("add");
    let (_, b) = app.get("/api/v1/suppressions", &app.key_b).await;
    assert_eq!(b["data"], json!([]));
    let (s, _) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/gone@y.example",
            Some(&app.key_b),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(
        app.store.suppressions(app.org_a).await.expect("list").len(),
        1
    );
    assert!(
        app.store
            .suppressions(app.org_b)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn suppressions_are_listed_applied_and_deleted() {
    let app = TestApp::new().await;
    let addr = EmailAddress::parse("gone@y.example").expect("addr");
    app.store
        .add_suppression(app.org_a, &addr, "hard_bounce")
        .await
        .expect("add");

    let (s, b) = app.get("/api/v1/suppressions", &app.key_a).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["data"][0]["address"], "gone@y.example");
    assert_eq!(b["data"][0]["reason"], "hard_bounce");

    let (s, b) = app
        .send(
            &app.key_a,
            json!({"from": "a@b.example", "to": ["Gone@y.example", "ok@y.example"], "text": "t"}),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert_eq!(b["recipients"][0]["status"], "suppressed");
    assert_eq!(b["recipients"][1]["status"], "queued");

    let (s, b) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/gone%40y.example",
            Some(&app.key_a),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/gone@y.example",
            Some(&app.key_a),
            None,
        )
        .await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let (s, b) = app
        .call(
            Method::DELETE,
            "/api/v1/suppressions/not-an-address",
            Some(&app.key_a),
            None,
        )
        .await;
    assert_error(
        s,
        &b,
        StatusCode::BAD_REQUEST,
        "invalid_address",
        Some("address"),
    );
}

#[tokio::test]
async fn framework_errors_are_json_too() {
    let app = TestApp::new().await;
    let (s, b) = app.call(Method::GET, "/nope", None, None).await;
    assert_error(s, &b, StatusCode::NOT_FOUND, "not_found", None);
    let req = Request::put("/api/v1/messages")
        .header(header::AUTHORIZATION, format!("Bearer {}", app.key_a))
        .body(Body::empty())
        .expect("request");
    let res = app.router().oneshot(req).await.expect("infallible");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(res.headers().get(header::ALLOW).is_some(), "Allow is kept");
    let bytes = res.into_body().collect().await.expect("body").to_bytes();
    let b: Value = serde_json::from_slice(&bytes).expect("JSON");
    assert_eq!(b["error"]["code"], "method_not_allowed");
}

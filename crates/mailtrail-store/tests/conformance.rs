//! The Store conformance suite (DESIGN.md section 9): one set of cases,
//! each written against `Arc<dyn Store>`, run on SQLite (a temporary file)
//! and on PostgreSQL (a fresh database per test, dropped afterwards).
//!
//! PostgreSQL is reached at `MAILTRAIL_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be
//! reached the PostgreSQL cases fail and say so: a green run always means
//! both backends were tested.

// Test code: a failed unwrap is a failed test with its message, and
// items are `pub` for the test modules beside them.
#![allow(clippy::unwrap_used, unreachable_pub)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use mailtrail_domain::{EmailAddress, EventKind, MessageId, Opener, RecipientKind, Status};
use mailtrail_store::postgres::PgStore;
use mailtrail_store::sqlite::SqliteStore;
use mailtrail_store::*;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

// ---------------------------------------------------------------- harness

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

async fn on_sqlite<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("conformance.db").display());
    let store = SqliteStore::connect(&url).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    // Migrating twice is a no-op (every start migrates).
    store.migrate().await.expect("migrate SQLite again");
    let store = Arc::new(store);
    case(store.clone()).await;
    store.close().await;
}

async fn on_postgres<F, Fut>(case: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let url =
        std::env::var("MAILTRAIL_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
    let admin_options: PgConnectOptions = url
        .parse()
        .unwrap_or_else(|e| panic!("MAILTRAIL_TEST_POSTGRES_URL {url:?} is not a URL: {e}"));
    let needed = |why: String| -> ! {
        panic!(
            "PostgreSQL at {url} is needed for the PostgreSQL conformance tests \
             (set MAILTRAIL_TEST_POSTGRES_URL to a server where this user may CREATE DATABASE): {why}"
        )
    };
    let connecting = PgConnection::connect_with(&admin_options);
    let mut admin = match tokio::time::timeout(std::time::Duration::from_secs(15), connecting).await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => needed(e.to_string()),
        Err(_) => needed("no answer within 15 s".into()),
    };
    let db = format!("mailtrail_test_{}", Uuid::new_v4().simple());
    sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE on PostgreSQL at {url}: {e}"));

    let store = PgStore::connect_with(admin_options.clone().database(&db))
        .await
        .expect("connect to the test database");
    store.migrate().await.expect("migrate PostgreSQL");
    store.migrate().await.expect("migrate PostgreSQL again");
    let store = Arc::new(store);
    // Run the case in its own task so that a failure still drops the
    // database before the panic is passed on.
    let outcome = tokio::spawn(case(store.clone())).await;
    store.close().await;
    if let Err(e) = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut admin)
        .await
    {
        eprintln!("could not drop test database {db}: {e}");
    }
    let _ = admin.close().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares every case once per backend.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::on_sqlite(crate::cases::$case).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::on_postgres(crate::cases::$case).await;
                }
            )*
        }
    };
}

conformance!(
    organisations_users_and_keys,
    insert_message_and_idempotency,
    suppressed_recipients_get_no_job,
    claim_due_jobs_and_expired_leases,
    concurrent_claimers_never_share_a_job,
    complete_and_retry_update_status_and_reason,
    status_ordering_and_counters,
    record_events_batches,
    concurrent_writers_lose_no_count,
    list_filters_and_pagination,
    tags_are_stored_and_filtered,
    status_filters_page_through_many_messages,
    organisations_are_isolated,
    sandbox_copies,
    purge_keeps_statuses_and_counts,
    sessions_expire_and_end,
    organisation_defaults_change,
    feed_events_after_an_id,
    daily_stats_count_recipients_per_day,
    complete_jobs_in_one_batch,
    release_leases_of_a_node,
    sandbox_copy_and_its_event_commit_together,
    inbound_messages_and_mailbox_cursors,
    purge_inbound_keeps_what_is_not_processed,
    recipient_refs_for_correlation,
    engagement_per_recipient,
    unsubscribed_is_recorded_once,
    api_keys_are_listed_per_organisation_and_user,
    contact_events_across_messages,
    users_admin_flag_and_removal,
    sender_networks_replace_and_load,
    sending_domains_per_organisation,
    queue_stats_count_jobs_and_the_earliest_due,
    webhook_endpoints_per_organisation,
    events_queue_webhook_deliveries_in_their_transaction,
    webhook_attempts_retry_succeed_fail_and_disable,
    concurrent_webhook_claimers_never_share_a_delivery,
    user_mailboxes_one_per_user,
    contacts_are_unique_per_organisation_and_upserted,
    sequences_keep_their_steps_in_order,
);

// ---------------------------------------------------------------- fixtures

fn addr(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("test address")
}

/// A fixed instant plus `ms` milliseconds, with sub-millisecond noise that
/// the store must drop.
fn t(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(
        1_700_000_000_000_000_000 + i128::from(ms) * 1_000_000,
    )
    .expect("valid time")
}

/// `t(ms)` as the store gives it back: exactly at the millisecond.
fn noisy(ms: i64) -> OffsetDateTime {
    t(ms) + Duration::nanoseconds(456_789)
}

struct Org {
    id: Uuid,
    user: Uuid,
}

async fn org(store: &Arc<dyn Store>, name: &str) -> Org {
    let org = store.ensure_organisation(name).await.expect("organisation");
    let user = store
        .create_user(
            org.id,
            &addr(&format!("admin@{name}.test")),
            "$argon2id$x",
            true,
        )
        .await
        .expect("user");
    Org {
        id: org.id,
        user: user.id,
    }
}

fn message(org: &Org, at_ms: i64, subject: &str, recipients: &[&str]) -> NewMessage {
    let mut metadata = serde_json::Map::new();
    metadata.insert("order".into(), serde_json::json!("A-17"));
    NewMessage {
        id: Uuid::now_v7(),
        org_id: org.id,
        user_id: org.user,
        message_id: MessageId::generate("mail.example.test"),
        from_address: addr("sender@example.test"),
        from_name: Some("Sender".into()),
        reply_to: Some(addr("replies@example.test")),
        subject: subject.into(),
        content: MessageContent {
            text: Some("hello".into()),
            html: Some("<p>hello</p>".into()),
            headers: vec![("X-Campaign".into(), "spring".into())],
            attachments: vec![Attachment {
                filename: "a.bin".into(),
                content_type: "application/octet-stream".into(),
                content: vec![0, 159, 146, 150, 255],
            }],
        },
        read_receipt: true,
        track_opens: true,
        track_clicks: false,
        metadata,
        idempotency_key: None,
        tag: Some("receipts".into()),
        created_at: noisy(at_ms),
        recipients: recipients
            .iter()
            .enumerate()
            .map(|(i, a)| NewRecipient {
                id: Uuid::now_v7(),
                address: addr(a),
                kind: match i {
                    0 => RecipientKind::To,
                    1 => RecipientKind::Cc,
                    _ => RecipientKind::Bcc,
                },
            })
            .collect(),
    }
}

fn event(recipient: Uuid, kind: EventKind, at_ms: i64) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        recipient_id: recipient,
        kind,
        at: noisy(at_ms),
        opener: None,
        reason: None,
        data: serde_json::json!({ "note": kind.as_str() }),
    }
}

fn opened(recipient: Uuid, opener: Opener, at_ms: i64) -> NewEvent {
    NewEvent {
        opener: Some(opener),
        ..event(recipient, EventKind::Opened, at_ms)
    }
}

fn with_reason(mut ev: NewEvent, code: u16, enhanced: &str, reason: &str, text: &str) -> NewEvent {
    ev.reason = Some(StatusReason {
        smtp_code: Some(code),
        enhanced_status: Some(enhanced.into()),
        reason: Some(reason.into()),
        text: Some(text.into()),
    });
    ev
}

async fn insert(store: &Arc<dyn Store>, msg: &NewMessage) -> Uuid {
    match store.insert_message(msg).await.expect("insert message") {
        Inserted::Created(id) => id,
        Inserted::Existing(id) => panic!("expected a new message, got existing {id}"),
    }
}

async fn recipient(store: &Arc<dyn Store>, org: &Org, msg: &NewMessage, i: usize) -> Recipient {
    let m = store
        .message(org.id, msg.id)
        .await
        .expect("read message")
        .expect("message exists");
    m.recipients
        .into_iter()
        .find(|r| r.id == msg.recipients[i].id)
        .expect("recipient exists")
}

const LEASE: Duration = Duration::seconds(60);

// ---------------------------------------------------------------- cases

#[path = "conformance/webhooks.rs"]
mod webhook_cases;

#[path = "conformance/sequences.rs"]
mod sequence_cases;
#[path = "conformance/user_mailboxes.rs"]
mod user_mailbox_cases;

mod cases {
    use super::*;
    pub use crate::sequence_cases::*;
    pub use crate::user_mailbox_cases::*;
    pub use crate::webhook_cases::*;

    pub async fn organisations_users_and_keys(store: Arc<dyn Store>) {
        let o = store.ensure_organisation("acme").await.unwrap();
        assert!(o.read_receipt_default && o.track_opens_default && o.track_clicks_default);
        assert_eq!(store.ensure_organisation("acme").await.unwrap(), o);
        assert_eq!(store.organisation(o.id).await.unwrap(), Some(o.clone()));
        assert_eq!(store.organisation(Uuid::now_v7()).await.unwrap(), None);

        let u = store
            .create_user(o.id, &addr("Alice@Example.test"), "$argon2id$hash", true)
            .await
            .unwrap();
        assert!(u.is_admin);
        let again = store
            .create_user(o.id, &addr("alice@EXAMPLE.test"), "$argon2id$other", false)
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "same address, other case: {again:?}"
        );
        let found = store
            .user_by_email(&addr("ALICE@example.test"))
            .await
            .unwrap()
            .expect("case-insensitive lookup");
        assert_eq!(found, u);
        assert_eq!(found.email.as_str(), "Alice@example.test");
        assert_eq!(
            store
                .user_by_email(&addr("bob@example.test"))
                .await
                .unwrap(),
            None
        );
        let orphan = store
            .create_user(Uuid::now_v7(), &addr("orphan@example.test"), "h", false)
            .await;
        assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");

        let key = NewApiKey {
            id: Uuid::now_v7(),
            user_id: u.id,
            name: "ci".into(),
            key_hash: "a".repeat(64),
            prefix: "mt_abcd".into(),
        };
        store.create_api_key(&key).await.unwrap();
        let dup = store
            .create_api_key(&NewApiKey {
                id: Uuid::now_v7(),
                ..key.clone()
            })
            .await;
        assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
        let owner = store.api_key_owner(&key.key_hash).await.unwrap();
        assert_eq!(
            owner,
            Some(ApiKeyOwner {
                key_id: key.id,
                user_id: u.id,
                org_id: o.id
            })
        );
        // Looked up twice in a row: the second lookup is still a hit.
        assert!(store.api_key_owner(&key.key_hash).await.unwrap().is_some());
        assert_eq!(store.api_key_owner(&"b".repeat(64)).await.unwrap(), None);

        let other = store.ensure_organisation("other").await.unwrap();
        assert!(!store.revoke_api_key(other.id, key.id).await.unwrap());
        assert!(store.api_key_owner(&key.key_hash).await.unwrap().is_some());
        assert!(store.revoke_api_key(o.id, key.id).await.unwrap());
        assert_eq!(store.api_key_owner(&key.key_hash).await.unwrap(), None);
        assert!(!store.revoke_api_key(o.id, key.id).await.unwrap());
    }

    pub async fn insert_message_and_idempotency(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let mut msg = message(&a, 0, "Invoice", &["to@example.test", "cc@example.test"]);
        msg.idempotency_key = Some("order-17".into());
        assert_eq!(insert(&store, &msg).await, msg.id);

        let m = store.message(a.id, msg.id).await.unwrap().unwrap();
        assert_eq!(m.message_id, msg.message_id);
        assert_eq!(m.subject, "Invoice");
        assert_eq!(m.from_address, msg.from_address);
        assert_eq!(m.from_name.as_deref(), Some("Sender"));
        assert!(m.read_receipt);
        assert_eq!(m.metadata, msg.metadata);
        assert_eq!(m.created_at, t(0), "timestamps keep exactly milliseconds");
        assert_eq!(m.recipients.len(), 2);
        for (r, n) in m.recipients.iter().zip(&msg.recipients) {
            assert_eq!((r.id, &r.address, r.kind), (n.id, &n.address, n.kind));
            assert_eq!(r.status, Status::Queued);
            assert_eq!(r.status_reason, None);
            assert_eq!(r.updated_at, t(0));
            assert_eq!(r.events.len(), 1);
            assert_eq!(r.events[0].kind, EventKind::Queued);
            assert_eq!(r.events[0].at, t(0));
        }

        let out = store.outbound_message(msg.id).await.unwrap().unwrap();
        assert_eq!(out.org_id, a.id);
        assert_eq!(out.content, msg.content);
        assert_eq!(out.reply_to, msg.reply_to);
        assert!(out.read_receipt && out.track_opens && !out.track_clicks);
        assert_eq!(out.created_at, t(0));
        assert_eq!(
            out.recipients,
            msg.recipients
                .iter()
                .map(|r| (r.id, r.address.clone(), r.kind))
                .collect::<Vec<_>>()
        );
        assert!(
            store
                .outbound_message(Uuid::now_v7())
                .await
                .unwrap()
                .is_none()
        );

        // Same key again (a client retry): the first message, nothing new.
        let mut retry = message(&a, 5, "Invoice (retry)", &["x@example.test"]);
        retry.idempotency_key = Some("order-17".into());
        assert_eq!(
            store.insert_message(&retry).await.unwrap(),
            Inserted::Existing(msg.id)
        );
        assert!(store.message(a.id, retry.id).await.unwrap().is_none());
        let all = store
            .list_messages(
                a.id,
                &MessageFilter {
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        let jobs = store.claim_jobs("w", t(10), LEASE, 10).await.unwrap();
        assert_eq!(jobs.len(), 2, "the retry queued nothing");

        // Keys are per organisation.
        let b = org(&store, "bravo").await;
        let mut other = message(&b, 6, "Other", &["to@example.test"]);
        other.idempotency_key = Some("order-17".into());
        assert_eq!(insert(&store, &other).await, other.id);
        // No key: never deduplicated.
        let plain = message(&a, 7, "Invoice", &["to@example.test"]);
        assert_eq!(insert(&store, &plain).await, plain.id);
    }

    pub async fn suppressed_recipients_get_no_job(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        store
            .add_suppression(a.id, &addr("Bob@Example.test"), "hard_bounce")
            .await
            .unwrap();
        store
            .add_suppression(a.id, &addr("bob@example.test"), "complaint")
            .await
            .unwrap();
        let list = store.suppressions(a.id).await.unwrap();
        assert_eq!(list.len(), 1, "one entry per normalised address");
        assert_eq!(list[0].address, "bob@example.test");
        assert_eq!(list[0].reason, "complaint");

        let msg = message(&a, 0, "Hi", &["BOB@example.test", "carol@example.test"]);
        insert(&store, &msg).await;
        let bob = recipient(&store, &a, &msg, 0).await;
        assert_eq!(bob.status, Status::Suppressed);
        assert_eq!(
            bob.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![EventKind::Suppressed]
        );
        assert_eq!(recipient(&store, &a, &msg, 1).await.status, Status::Queued);
        let jobs = store.claim_jobs("w", t(1), LEASE, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].recipient_id, msg.recipients[1].id);

        assert!(
            store
                .delete_suppression(a.id, &addr("bob@EXAMPLE.test"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_suppression(a.id, &addr("bob@example.test"))
                .await
                .unwrap()
        );
        assert!(store.suppressions(a.id).await.unwrap().is_empty());
        let later = message(&a, 2, "Hi again", &["bob@example.test"]);
        insert(&store, &later).await;
        assert_eq!(
            recipient(&store, &a, &later, 0).await.status,
            Status::Queued
        );
    }

    pub async fn claim_due_jobs_and_expired_leases(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 1_000, "Hi", &["a@x.test", "b@x.test", "c@x.test"]);
        insert(&store, &msg).await;

        assert!(
            store
                .claim_jobs("w1", t(999), LEASE, 10)
                .await
                .unwrap()
                .is_empty(),
            "not due yet"
        );
        assert!(
            store
                .claim_jobs("w1", t(1_000), LEASE, 0)
                .await
                .unwrap()
                .is_empty()
        );
        let first = store.claim_jobs("w1", t(1_000), LEASE, 2).await.unwrap();
        assert_eq!(first.len(), 2);
        let second = store.claim_jobs("w2", t(1_001), LEASE, 10).await.unwrap();
        assert_eq!(second.len(), 1);
        assert!(
            store
                .claim_jobs("w2", t(1_002), LEASE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let all: HashSet<Uuid> = first
            .iter()
            .chain(&second)
            .map(|j| j.recipient_id)
            .collect();
        assert_eq!(all, msg.recipients.iter().map(|r| r.id).collect());
        for j in first.iter().chain(&second) {
            assert_eq!(j.message_id, msg.id);
            assert_eq!(j.attempts, 0);
        }

        // w1 crashed: its lease ends 60 s after it claimed; w2's a bit later.
        assert!(
            store
                .claim_jobs("w3", t(60_999), LEASE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let back = store.claim_jobs("w3", t(61_000), LEASE, 10).await.unwrap();
        assert_eq!(
            back.iter().map(|j| j.id).collect::<HashSet<_>>(),
            first.iter().map(|j| j.id).collect::<HashSet<_>>()
        );
        let rest = store.claim_jobs("w3", t(61_001), LEASE, 10).await.unwrap();
        assert_eq!(rest, second);
    }

    pub async fn concurrent_claimers_never_share_a_job(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let mut expected = HashSet::new();
        for i in 0..40 {
            let msg = message(&a, i, "Bulk", &["someone@x.test"]);
            insert(&store, &msg).await;
            expected.insert(msg.recipients[0].id);
        }
        let claimer = |name: &'static str| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let jobs = store.claim_jobs(name, t(100), LEASE, 3).await.unwrap();
                    if jobs.is_empty() {
                        return got;
                    }
                    got.extend(jobs.into_iter().map(|j| j.recipient_id));
                    tokio::task::yield_now().await;
                }
            })
        };
        let (one, two) = (claimer("one"), claimer("two"));
        let (one, two) = (one.await.unwrap(), two.await.unwrap());
        let one_set: HashSet<Uuid> = one.iter().copied().collect();
        let two_set: HashSet<Uuid> = two.iter().copied().collect();
        assert_eq!(one_set.len(), one.len(), "a claimer got a job twice");
        assert_eq!(two_set.len(), two.len(), "a claimer got a job twice");
        assert!(
            one_set.is_disjoint(&two_set),
            "two claimers got the same job"
        );
        let union: HashSet<Uuid> = one_set.union(&two_set).copied().collect();
        assert_eq!(union, expected);
    }

    pub async fn complete_and_retry_update_status_and_reason(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["ok@x.test", "bad@x.test"]);
        insert(&store, &msg).await;
        let jobs = store.claim_jobs("w", t(0), LEASE, 10).await.unwrap();
        let job_of = |i: usize| {
            jobs.iter()
                .find(|j| j.recipient_id == msg.recipients[i].id)
                .expect("job")
                .clone()
        };
        let (ok, bad) = (job_of(0), job_of(1));

        // A temporary failure: deferred with its reason, retried later.
        let deferral = with_reason(
            event(ok.recipient_id, EventKind::Deferred, 10),
            451,
            "4.7.1",
            "speeding",
            "try again later",
        );
        store.retry_job(ok.id, &deferral, t(300_000)).await.unwrap();
        let r = recipient(&store, &a, &msg, 0).await;
        assert_eq!(r.status, Status::Deferred);
        assert_eq!(r.updated_at, t(10));
        assert_eq!(
            r.status_reason,
            Some(StatusReason {
                smtp_code: Some(451),
                enhanced_status: Some("4.7.1".into()),
                reason: Some("speeding".into()),
                text: Some("try again later".into()),
            })
        );
        // Not due before retry_at (bad's own lease has run out meanwhile, so
        // only bad's job comes back).
        let early = store.claim_jobs("w", t(299_999), LEASE, 10).await.unwrap();
        assert_eq!(early.iter().map(|j| j.id).collect::<Vec<_>>(), vec![bad.id]);
        let again = store.claim_jobs("w", t(300_000), LEASE, 10).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!((again[0].id, again[0].attempts), (ok.id, 1));
        // The job of one recipient does not take another recipient's event.
        let wrong = store
            .complete_job(ok.id, &event(bad.recipient_id, EventKind::Failed, 11))
            .await;
        assert!(matches!(wrong, Err(StoreError::NotFound(_))), "{wrong:?}");
        store
            .complete_job(ok.id, &event(ok.recipient_id, EventKind::Sent, 300_010))
            .await
            .unwrap();
        let r = recipient(&store, &a, &msg, 0).await;
        assert_eq!(r.status, Status::Sent);
        assert_eq!(
            r.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
            vec![EventKind::Queued, EventKind::Deferred, EventKind::Sent]
        );
        assert_eq!(r.events[1].reason, deferral.reason);
        assert_eq!(r.events[2].data, serde_json::json!({ "note": "sent" }));

        // A permanent failure.
        let failure = with_reason(
            event(bad.recipient_id, EventKind::Failed, 20),
            550,
            "5.1.1",
            "userunknown",
            "User unknown in virtual mailbox table",
        );
        store.complete_job(bad.id, &failure).await.unwrap();
        let r = recipient(&store, &a, &msg, 1).await;
        assert_eq!(r.status, Status::Failed);
        assert_eq!(r.status_reason, failure.reason);
        let twice = store.complete_job(bad.id, &failure).await;
        assert!(matches!(twice, Err(StoreError::NotFound(_))), "{twice:?}");
        assert!(
            store
                .claim_jobs("w", t(10_000_000), LEASE, 10)
                .await
                .unwrap()
                .is_empty(),
            "finished jobs are gone"
        );
    }

    pub async fn status_ordering_and_counters(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["reader@x.test", "bounce@x.test"]);
        insert(&store, &msg).await;
        let (reader, bounce) = (msg.recipients[0].id, msg.recipients[1].id);

        store
            .record_event(&event(reader, EventKind::Delivered, 10))
            .await
            .unwrap();
        store
            .record_event(&opened(reader, Opener::Machine, 11))
            .await
            .unwrap();
        assert_eq!(
            recipient(&store, &a, &msg, 0).await.status,
            Status::OpenedByMachine
        );
        store
            .record_event(&opened(reader, Opener::Human, 12))
            .await
            .unwrap();
        store
            .record_event(&opened(reader, Opener::SelfOpen, 13))
            .await
            .unwrap();
        store
            .record_event(&opened(reader, Opener::Proxy, 14))
            .await
            .unwrap();
        // A late success report does not undo the open.
        store
            .record_event(&event(reader, EventKind::Delivered, 15))
            .await
            .unwrap();
        store
            .record_event(&opened(reader, Opener::Machine, 16))
            .await
            .unwrap();
        let r = recipient(&store, &a, &msg, 0).await;
        assert_eq!(r.status, Status::Opened);
        assert_eq!(
            r.updated_at,
            t(12),
            "the status last changed with the human open"
        );
        assert_eq!((r.opens, r.machine_opens, r.clicks), (2, 2, 0));
        assert_eq!(r.events.len(), 8, "every fact is kept, oldest first");
        assert!(r.events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(r.events[2].opener, Some(Opener::Machine));
        assert_eq!(r.events[3].opener, Some(Opener::Human));
        let click = NewEvent {
            opener: Some(Opener::Human),
            ..event(reader, EventKind::Clicked, 17)
        };
        store.record_event(&click).await.unwrap();
        let r = recipient(&store, &a, &msg, 0).await;
        assert_eq!((r.status, r.clicks), (Status::Clicked, 1));

        // Failed is terminal for delivery, engagement still shows.
        let fail = with_reason(
            event(bounce, EventKind::Failed, 20),
            550,
            "5.1.1",
            "userunknown",
            "no",
        );
        store.record_event(&fail).await.unwrap();
        let late = with_reason(
            event(bounce, EventKind::Deferred, 21),
            451,
            "4.4.1",
            "expired",
            "x",
        );
        store.record_event(&late).await.unwrap();
        store
            .record_event(&event(bounce, EventKind::Sent, 22))
            .await
            .unwrap();
        let r = recipient(&store, &a, &msg, 1).await;
        assert_eq!(r.status, Status::Failed);
        assert_eq!(
            r.status_reason, fail.reason,
            "a racing deferral does not hide why it failed"
        );
        store
            .record_event(&opened(bounce, Opener::Human, 23))
            .await
            .unwrap();
        assert_eq!(recipient(&store, &a, &msg, 1).await.status, Status::Opened);

        let missing = store
            .record_event(&event(Uuid::now_v7(), EventKind::Opened, 30))
            .await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }

    pub async fn record_events_batches(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["one@x.test", "two@x.test"]);
        insert(&store, &msg).await;
        let (one, two) = (msg.recipients[0].id, msg.recipients[1].id);
        let batch = vec![
            event(one, EventKind::Delivered, 10),
            opened(two, Opener::Human, 11),
            event(Uuid::now_v7(), EventKind::Opened, 12),
            opened(one, Opener::Proxy, 13),
            event(two, EventKind::Delivered, 14),
        ];
        store.record_events(&batch).await.unwrap();
        store.record_events(&[]).await.unwrap();
        // The same batch again (a retry after an unclear commit) counts nothing twice.
        store.record_events(&batch).await.unwrap();
        let r1 = recipient(&store, &a, &msg, 0).await;
        let r2 = recipient(&store, &a, &msg, 1).await;
        assert_eq!(
            (r1.status, r1.opens, r1.events.len()),
            (Status::Opened, 1, 3)
        );
        assert_eq!(
            (r2.status, r2.opens, r2.events.len()),
            (Status::Opened, 1, 3)
        );
        assert_eq!(r1.updated_at, t(13));
    }

    pub async fn concurrent_writers_lose_no_count(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["popular@x.test"]);
        insert(&store, &msg).await;
        let r = msg.recipients[0].id;
        let writer = |offset: i64| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    let at = offset + i;
                    if i % 2 == 0 {
                        store
                            .record_event(&opened(r, Opener::Human, at))
                            .await
                            .unwrap();
                    } else {
                        store
                            .record_events(&[
                                opened(r, Opener::Proxy, at),
                                opened(r, Opener::Machine, at),
                            ])
                            .await
                            .unwrap();
                    }
                }
            })
        };
        let (one, two) = (writer(100), writer(200));
        one.await.unwrap();
        two.await.unwrap();
        let got = recipient(&store, &a, &msg, 0).await;
        assert_eq!(
            (got.opens, got.machine_opens),
            (40, 20),
            "no update was lost"
        );
        assert_eq!(got.events.len(), 1 + 20 + 40);
        assert_eq!(got.status, Status::Opened);
    }

    pub async fn tags_are_stored_and_filtered(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let tagged = message(&a, 0, "Receipt", &["alice@one.test"]);
        let untagged = NewMessage {
            tag: None,
            ..message(&a, 1_000, "Hello", &["bob@one.test"])
        };
        let other = NewMessage {
            tag: Some("welcome".into()),
            ..message(&a, 2_000, "Welcome", &["carol@one.test"])
        };
        for m in [&tagged, &untagged, &other] {
            insert(&store, m).await;
        }
        let stored = store.message(a.id, tagged.id).await.unwrap().unwrap();
        assert_eq!(stored.tag.as_deref(), Some("receipts"));
        let stored = store.message(a.id, untagged.id).await.unwrap().unwrap();
        assert_eq!(stored.tag, None);
        let by_tag = |tag: &str| {
            let store = store.clone();
            let f = MessageFilter {
                tag: Some(tag.into()),
                limit: 50,
                ..Default::default()
            };
            async move {
                store
                    .list_messages(a.id, &f)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| (m.id, m.tag))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            by_tag("receipts").await,
            [(tagged.id, Some("receipts".into()))]
        );
        assert_eq!(
            by_tag("welcome").await,
            [(other.id, Some("welcome".into()))]
        );
        assert!(by_tag("Receipts").await.is_empty(), "a tag matches exactly");
        let all = MessageFilter {
            limit: 50,
            ..Default::default()
        };
        assert_eq!(store.list_messages(a.id, &all).await.unwrap().len(), 3);
    }

    pub async fn list_filters_and_pagination(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let mut msgs = Vec::new();
        let specs: [(&str, &[&str]); 5] = [
            ("Welcome aboard", &["alice@one.test"]),
            ("Invoice 100% paid", &["Bob@Two.test", "carol@one.test"]),
            ("Your invoice_2", &["dave@three.test"]),
            ("welcome back", &["erin@two.test"]),
            ("Reminder", &["frank@one.test"]),
        ];
        for (i, (subject, to)) in specs.iter().enumerate() {
            let msg = message(&a, i as i64 * 1_000, subject, to);
            insert(&store, &msg).await;
            msgs.push(msg);
        }
        // Newest first; ids are time-ordered.
        let newest_first: Vec<Uuid> = msgs.iter().rev().map(|m| m.id).collect();
        let list = |f: MessageFilter| {
            let store = store.clone();
            async move {
                store
                    .list_messages(a.id, &f)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|m| m.id)
                    .collect::<Vec<_>>()
            }
        };
        let page = |before_id| MessageFilter {
            limit: 2,
            before_id,
            ..Default::default()
        };
        let p1 = list(page(None)).await;
        let p2 = list(page(p1.last().copied())).await;
        let p3 = list(page(p2.last().copied())).await;
        let p4 = list(page(p3.last().copied())).await;
        assert_eq!((p1.len(), p2.len(), p3.len(), p4.len()), (2, 2, 1, 0));
        assert_eq!([p1, p2, p3].concat(), newest_first);
        let zero = list(MessageFilter::default()).await;
        assert_eq!(zero.len(), 1, "a zero limit still returns one message");

        let full = store
            .list_messages(
                a.id,
                &MessageFilter {
                    limit: 10,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let invoice = full.iter().find(|m| m.id == msgs[1].id).unwrap();
        assert_eq!(
            invoice.recipients.iter().map(|r| r.id).collect::<Vec<_>>(),
            msgs[1].recipients.iter().map(|r| r.id).collect::<Vec<_>>(),
            "recipients in the order given"
        );
        assert!(
            full.iter()
                .flat_map(|m| &m.recipients)
                .all(|r| r.events.is_empty())
        );
        assert_eq!(invoice.created_at, t(1_000));

        let by = |f: MessageFilter| list(MessageFilter { limit: 10, ..f });
        assert_eq!(
            by(MessageFilter {
                subject: Some("WELCOME".into()),
                ..Default::default()
            })
            .await,
            vec![msgs[3].id, msgs[0].id]
        );
        assert_eq!(
            by(MessageFilter {
                subject: Some("100%".into()),
                ..Default::default()
            })
            .await,
            vec![msgs[1].id],
            "% is literal"
        );
        assert_eq!(
            by(MessageFilter {
                subject: Some("e_2".into()),
                ..Default::default()
            })
            .await,
            vec![msgs[2].id],
            "_ is literal"
        );
        assert!(
            by(MessageFilter {
                subject: Some("e%2".into()),
                ..Default::default()
            })
            .await
            .is_empty()
        );
        assert_eq!(
            by(MessageFilter {
                recipient: Some("@TWO.test".into()),
                ..Default::default()
            })
            .await,
            vec![msgs[3].id, msgs[1].id]
        );
        assert_eq!(
            by(MessageFilter {
                recipient: Some("bob".into()),
                ..Default::default()
            })
            .await,
            vec![msgs[1].id]
        );
        assert_eq!(
            by(MessageFilter {
                since: Some(t(1_000)),
                until: Some(t(3_000)),
                ..Default::default()
            })
            .await,
            vec![msgs[2].id, msgs[1].id],
            "since inclusive, until exclusive"
        );

        // Statuses: a message matches when any recipient has one of them.
        store
            .record_event(&event(
                msgs[1].recipients[1].id,
                EventKind::Delivered,
                5_000,
            ))
            .await
            .unwrap();
        store
            .record_event(&event(msgs[4].recipients[0].id, EventKind::Failed, 5_001))
            .await
            .unwrap();
        assert_eq!(
            by(MessageFilter {
                statuses: vec![Status::Delivered],
                ..Default::default()
            })
            .await,
            vec![msgs[1].id]
        );
        assert_eq!(
            by(MessageFilter {
                statuses: vec![Status::Failed, Status::Delivered],
                ..Default::default()
            })
            .await,
            vec![msgs[4].id, msgs[1].id]
        );
        assert_eq!(
            by(MessageFilter {
                statuses: vec![Status::Queued],
                ..Default::default()
            })
            .await,
            vec![msgs[3].id, msgs[2].id, msgs[1].id, msgs[0].id],
            "the invoice still has a queued recipient"
        );
        assert_eq!(
            by(MessageFilter {
                statuses: vec![Status::Queued],
                recipient: Some("one.test".into()),
                before_id: Some(msgs[1].id),
                ..Default::default()
            })
            .await,
            vec![msgs[0].id],
            "filters combine"
        );
    }

    /// More messages than one round of status candidates, two recipients
    /// each, with a subject filter that rejects most candidates: every
    /// page is exactly the naive answer, and the cursor walks them all.
    pub async fn status_filters_page_through_many_messages(store: Arc<dyn Store>) {
        let o = org(&store, "acme").await;
        let mut msgs = Vec::new();
        for i in 0..260i64 {
            let subject = if i % 7 == 0 { "seven" } else { "other" };
            let m = message(&o, 1_000 + i, subject, &["a@one.test", "b@one.test"]);
            insert(&store, &m).await;
            msgs.push(m);
        }
        // Failed: one in 5 messages (both recipients, so the index holds
        // two rows for one message); delivered: one in 3 of the others
        // (first recipient); queued: everything else.
        let mut batch = Vec::new();
        for (i, m) in msgs.iter().enumerate() {
            if i % 5 == 0 {
                for r in &m.recipients {
                    batch.push(event(r.id, EventKind::Failed, 10_000 + i as i64));
                }
            } else if i % 3 == 0 {
                batch.push(event(
                    m.recipients[0].id,
                    EventKind::Delivered,
                    10_000 + i as i64,
                ));
            }
        }
        store.record_events(&batch).await.unwrap();
        let newest_first = |pred: &dyn Fn(usize) -> bool| -> Vec<Uuid> {
            (0..msgs.len())
                .rev()
                .filter(|i| pred(*i))
                .map(|i| msgs[i].id)
                .collect()
        };
        let cases: Vec<(Vec<Status>, Option<&str>, Vec<Uuid>)> = vec![
            (vec![Status::Failed], None, newest_first(&|i| i % 5 == 0)),
            (
                vec![Status::Failed, Status::Delivered],
                None,
                newest_first(&|i| i % 5 == 0 || i % 3 == 0),
            ),
            (
                vec![Status::Delivered, Status::Queued],
                Some("seven"),
                newest_first(&|i| i % 7 == 0 && i % 5 != 0),
            ),
            (
                vec![Status::Failed],
                Some("seven"),
                newest_first(&|i| i % 7 == 0 && i % 5 == 0),
            ),
            (vec![Status::Complained], None, vec![]),
            // Quotes and search syntax are literal text.
            (vec![Status::Failed], Some("se\"ven"), vec![]),
            (vec![Status::Failed], Some("sev*"), vec![]),
        ];
        for (statuses, subject, want) in cases {
            let mut got = Vec::new();
            let mut before_id = None;
            loop {
                let page = store
                    .list_messages(
                        o.id,
                        &MessageFilter {
                            statuses: statuses.clone(),
                            subject: subject.map(str::to_owned),
                            before_id,
                            limit: 9,
                            ..Default::default()
                        },
                    )
                    .await
                    .unwrap();
                assert!(page.len() <= 9);
                got.extend(page.iter().map(|m| m.id));
                match page.last() {
                    Some(last) if page.len() == 9 => before_id = Some(last.id),
                    _ => break,
                }
            }
            assert_eq!(got, want, "statuses {statuses:?}, subject {subject:?}");
        }
    }

    pub async fn organisations_are_isolated(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "bravo").await;
        let msg = message(&a, 0, "Secret", &["x@y.test"]);
        insert(&store, &msg).await;
        assert!(store.message(b.id, msg.id).await.unwrap().is_none());
        assert!(store.message(a.id, msg.id).await.unwrap().is_some());
        let f = MessageFilter {
            limit: 10,
            ..Default::default()
        };
        assert!(store.list_messages(b.id, &f).await.unwrap().is_empty());
        assert_eq!(store.list_messages(a.id, &f).await.unwrap().len(), 1);

        store
            .insert_sandbox_copy(msg.recipients[0].id, b"Subject: Secret\r\n\r\nhi\r\n", t(1))
            .await
            .unwrap();
        assert!(store.sandbox_copies(b.id, 10).await.unwrap().is_empty());
        assert_eq!(store.sandbox_copies(a.id, 10).await.unwrap().len(), 1);

        store
            .add_suppression(a.id, &addr("z@y.test"), "manual")
            .await
            .unwrap();
        assert!(store.suppressions(b.id).await.unwrap().is_empty());
        assert!(
            !store
                .delete_suppression(b.id, &addr("z@y.test"))
                .await
                .unwrap()
        );
        let to_b = message(&b, 1, "Hi", &["z@y.test"]);
        insert(&store, &to_b).await;
        assert_eq!(recipient(&store, &b, &to_b, 0).await.status, Status::Queued);
    }

    pub async fn sandbox_copies(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["one@x.test", "two@x.test"]);
        insert(&store, &msg).await;
        let raw1 = "From: sender@example.test\r\nTo: one@x.test\r\n\r\nfirst\r\n";
        let raw2 = "From: sender@example.test\r\nTo: two@x.test\r\n\r\nsecond \u{e9}\r\n";
        store
            .insert_sandbox_copy(msg.recipients[0].id, raw1.as_bytes(), noisy(10))
            .await
            .unwrap();
        store
            .insert_sandbox_copy(msg.recipients[1].id, raw2.as_bytes(), noisy(20))
            .await
            .unwrap();
        let copies = store.sandbox_copies(a.id, 10).await.unwrap();
        assert_eq!(copies.len(), 2);
        assert_eq!(copies[0].raw, raw2, "newest first");
        assert_eq!(copies[0].address, "two@x.test");
        assert_eq!(copies[0].recipient_id, msg.recipients[1].id);
        assert_eq!(copies[0].message_id, msg.id);
        assert_eq!(copies[0].captured_at, t(20));
        assert_eq!(copies[1].raw, raw1);
        assert_eq!(store.sandbox_copies(a.id, 1).await.unwrap().len(), 1);
        // One copy by id, only within its organisation.
        let one = store.sandbox_copy(a.id, copies[1].id).await.unwrap();
        assert_eq!(one.as_ref(), Some(&copies[1]));
        let b = org(&store, "other").await;
        assert_eq!(store.sandbox_copy(b.id, copies[1].id).await.unwrap(), None);
        assert_eq!(
            store.sandbox_copy(a.id, Uuid::now_v7()).await.unwrap(),
            None
        );
        let missing = store.insert_sandbox_copy(Uuid::now_v7(), b"x", t(30)).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }

    pub async fn complete_jobs_in_one_batch(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Batch", &["a@x.test", "b@x.test", "c@x.test"]);
        insert(&store, &msg).await;
        let jobs = store.claim_jobs("w", t(0), LEASE, 10).await.unwrap();
        assert_eq!(jobs.len(), 3);
        let mut done: Vec<(Uuid, NewEvent)> = jobs
            .iter()
            .map(|j| (j.id, event(j.recipient_id, EventKind::Delivered, 5)))
            .collect();
        // A job finished elsewhere meanwhile is skipped, not an error.
        store.complete_job(done[2].0, &done[2].1).await.unwrap();
        // A job paired with another recipient's event is skipped too.
        done.push((
            jobs[0].id,
            event(jobs[1].recipient_id, EventKind::Failed, 6),
        ));
        let n = store.complete_jobs(&done).await.unwrap();
        assert_eq!(n, 2);
        for i in 0..3 {
            let r = recipient(&store, &a, &msg, i).await;
            assert_eq!(r.status, Status::Delivered, "recipient {i}");
            let delivered = r
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Delivered)
                .count();
            assert_eq!(delivered, 1, "recipient {i}: exactly one delivered event");
        }
        assert!(
            store
                .claim_jobs("w", t(10_000_000), LEASE, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.complete_jobs(&[]).await.unwrap(), 0);
    }

    pub async fn release_leases_of_a_node(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Crash", &["a@x.test", "b@x.test", "c@x.test"]);
        insert(&store, &msg).await;
        let mine = store.claim_jobs("node-a", t(0), LEASE, 2).await.unwrap();
        let theirs = store.claim_jobs("node-b", t(0), LEASE, 10).await.unwrap();
        assert_eq!((mine.len(), theirs.len()), (2, 1));
        assert!(
            store
                .claim_jobs("node-c", t(1), LEASE, 10)
                .await
                .unwrap()
                .is_empty(),
            "every lease still runs"
        );
        // node-a restarts: its jobs come back at once, node-b's stay its own.
        assert_eq!(store.release_leases("node-a").await.unwrap(), 2);
        let back = store.claim_jobs("node-a", t(2), LEASE, 10).await.unwrap();
        assert_eq!(
            back.iter().map(|j| j.id).collect::<HashSet<_>>(),
            mine.iter().map(|j| j.id).collect::<HashSet<_>>()
        );
        assert_eq!(store.release_leases("node-unknown").await.unwrap(), 0);
        assert!(
            store
                .claim_jobs("node-c", t(3), LEASE, 10)
                .await
                .unwrap()
                .is_empty(),
            "node-b's lease is untouched"
        );
    }

    pub async fn sandbox_copy_and_its_event_commit_together(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Once", &["a@x.test", "b@x.test"]);
        insert(&store, &msg).await;
        let jobs = store.claim_jobs("w", t(0), LEASE, 10).await.unwrap();
        assert_eq!(jobs.len(), 2);
        let raw = b"From: sender@example.test\r\n\r\nhi\r\n";
        let ev = event(jobs[0].recipient_id, EventKind::Delivered, 5);
        store
            .complete_sandbox_job(jobs[0].id, &ev, raw, t(5))
            .await
            .unwrap();
        // The same job again (a second worker after the lease): no second
        // copy, no second event.
        let again = store.complete_sandbox_job(jobs[0].id, &ev, raw, t(6)).await;
        assert!(matches!(again, Err(StoreError::NotFound(_))), "{again:?}");
        // A job paired with another recipient's event files nothing.
        let wrong = event(jobs[0].recipient_id, EventKind::Delivered, 7);
        let mixed = store
            .complete_sandbox_job(jobs[1].id, &wrong, raw, t(7))
            .await;
        assert!(matches!(mixed, Err(StoreError::NotFound(_))), "{mixed:?}");
        let copies = store.sandbox_copies(a.id, 10).await.unwrap();
        assert_eq!(copies.len(), 1);
        assert_eq!(copies[0].recipient_id, jobs[0].recipient_id);
        let i = msg
            .recipients
            .iter()
            .position(|r| r.id == jobs[0].recipient_id)
            .unwrap();
        let r = recipient(&store, &a, &msg, i).await;
        assert_eq!(r.status, Status::Delivered);
        let delivered = r
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Delivered)
            .count();
        assert_eq!(delivered, 1);
        // The job is gone; the other one is still claimed.
        let left = store
            .claim_jobs("w2", t(10_000_000), LEASE, 10)
            .await
            .unwrap();
        assert_eq!(
            left.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![jobs[1].id]
        );
    }

    pub async fn purge_keeps_statuses_and_counts(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["one@x.test"]);
        insert(&store, &msg).await;
        let r = msg.recipients[0].id;
        const DAY: i64 = 86_400_000;
        store
            .record_event(&event(r, EventKind::Delivered, DAY))
            .await
            .unwrap();
        store
            .record_event(&opened(r, Opener::Human, 2 * DAY))
            .await
            .unwrap();
        store
            .record_event(&opened(r, Opener::Human, 40 * DAY))
            .await
            .unwrap();

        assert_eq!(
            store.purge_events(t(0)).await.unwrap(),
            0,
            "strictly older only"
        );
        assert_eq!(store.purge_events(t(30 * DAY)).await.unwrap(), 3);
        let kept = recipient(&store, &a, &msg, 0).await;
        assert_eq!(kept.status, Status::Opened);
        assert_eq!(kept.opens, 2);
        assert_eq!(kept.events.len(), 1);
        assert_eq!(kept.events[0].at, t(40 * DAY));
        assert_eq!(store.purge_events(t(30 * DAY)).await.unwrap(), 0);
    }
    pub async fn sessions_expire_and_end(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let s = NewSession {
            id_hash: "h1".into(),
            user_id: a.user,
            csrf_token: "csrf-1".into(),
            expires_at: t(10_000),
        };
        store.create_session(&s).await.unwrap();
        let got = store.session("h1", t(9_999)).await.unwrap().expect("live");
        assert_eq!(got.user.id, a.user);
        assert_eq!(got.user.org_id, a.id);
        assert_eq!(got.csrf_token, "csrf-1");
        assert_eq!(got.expires_at, t(10_000));
        // Expired at its expiry instant, unknown ids resolve to nothing.
        assert!(store.session("h1", t(10_000)).await.unwrap().is_none());
        assert!(store.session("nope", t(0)).await.unwrap().is_none());
        // A duplicate id hash is a conflict, an unknown user a missing parent.
        assert!(matches!(
            store.create_session(&s).await,
            Err(StoreError::Conflict(_))
        ));
        let orphan = NewSession {
            id_hash: "h2".into(),
            user_id: Uuid::now_v7(),
            ..s.clone()
        };
        assert!(store.create_session(&orphan).await.is_err());
        // Sign-out ends it; a second sign-out finds nothing. Expired
        // sessions are swept along.
        let other = NewSession {
            id_hash: "h3".into(),
            expires_at: t(5),
            ..s.clone()
        };
        store.create_session(&other).await.unwrap();
        assert!(store.delete_session("h1", t(100)).await.unwrap());
        assert!(!store.delete_session("h1", t(100)).await.unwrap());
        assert!(store.session("h1", t(0)).await.unwrap().is_none());
        assert!(!store.delete_session("h3", t(100)).await.unwrap());
    }

    pub async fn organisation_defaults_change(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        assert!(
            store
                .set_organisation_defaults(a.id, false, true, false)
                .await
                .unwrap()
        );
        let got = store.organisation(a.id).await.unwrap().unwrap();
        assert!(!got.read_receipt_default);
        assert!(got.track_opens_default);
        assert!(!got.track_clicks_default);
        // The other organisation keeps its own.
        let other = store.organisation(b.id).await.unwrap().unwrap();
        assert!(other.read_receipt_default && other.track_clicks_default);
        assert!(
            !store
                .set_organisation_defaults(Uuid::now_v7(), true, true, true)
                .await
                .unwrap()
        );
    }

    /// Retention deletes the raw copies of inbound mail once processed and
    /// older than the cut-off, strictly; an old message still waiting for
    /// processing stays.
    pub async fn purge_inbound_keeps_what_is_not_processed(store: Arc<dyn Store>) {
        use mailtrail_store::inbound::*;
        const DAY: i64 = 86_400_000;
        let inbound = |at: i64| NewInbound {
            id: Uuid::now_v7(),
            source: InboundSource::Smtp,
            mail_from: None,
            rcpt_to: vec!["bounces+abc@bounce.test".into()],
            mailbox: None,
            raw: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            received_at: t(at),
        };
        let (old_done, old_waiting, new_done) = (inbound(DAY), inbound(2 * DAY), inbound(40 * DAY));
        for m in [&old_done, &old_waiting, &new_done] {
            store.insert_inbound(m).await.unwrap();
        }
        let outcome = InboundOutcome {
            summary: "other".into(),
            events: vec![],
            suppressions: vec![],
        };
        store.finish_inbound(old_done.id, &outcome).await.unwrap();
        store.finish_inbound(new_done.id, &outcome).await.unwrap();

        assert_eq!(
            store.purge_inbound(t(DAY)).await.unwrap(),
            0,
            "strictly older only"
        );
        assert_eq!(store.purge_inbound(t(30 * DAY)).await.unwrap(), 1);
        assert_eq!(store.purge_inbound(t(30 * DAY)).await.unwrap(), 0);
        let pending = store.pending_inbound(10).await.unwrap();
        assert_eq!(
            pending.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![old_waiting.id],
            "the one not processed is still there to process"
        );
        // Processed later, it goes at the next purge; the recent one stays.
        store
            .finish_inbound(old_waiting.id, &outcome)
            .await
            .unwrap();
        assert_eq!(store.purge_inbound(t(30 * DAY)).await.unwrap(), 1);
        assert_eq!(store.purge_inbound(t(41 * DAY)).await.unwrap(), 1);
    }

    pub async fn inbound_messages_and_mailbox_cursors(store: Arc<dyn Store>) {
        use mailtrail_store::inbound::*;
        assert!(store.pending_inbound(10).await.unwrap().is_empty());
        // bytes that are not UTF-8 come back unchanged
        let raw = b"Subject: x\r\n\r\n\xff\x00body\r\n".to_vec();
        let first = NewInbound {
            id: Uuid::now_v7(),
            source: InboundSource::Smtp,
            mail_from: None,
            rcpt_to: vec!["bounces+abc@bounce.test".into(), "b@bounce.test".into()],
            mailbox: None,
            raw: raw.clone(),
            received_at: noisy(5),
        };
        store.insert_inbound(&first).await.unwrap();
        let cursor = MailboxCursor {
            uid_validity: 4_000_000_000,
            last_uid: 7,
        };
        let second = NewInbound {
            id: Uuid::now_v7(),
            source: InboundSource::Imap,
            mail_from: Some("someone@example.test".into()),
            rcpt_to: vec![],
            mailbox: Some(FromMailbox {
                key: "imap://u@host/INBOX".into(),
                cursor: Some(cursor),
                fingerprint: "id:y@host".into(),
            }),
            raw: b"Subject: y\r\n\r\nhi\r\n".to_vec(),
            received_at: noisy(6),
        };
        assert!(store.insert_inbound(&second).await.unwrap());
        assert_eq!(
            store.mailbox_cursor("imap://u@host/INBOX").await.unwrap(),
            Some(cursor)
        );
        assert_eq!(store.mailbox_cursor("other").await.unwrap(), None);

        let pending = store.pending_inbound(10).await.unwrap();
        assert_eq!(pending.len(), 2);
        assert_eq!(
            pending[0],
            InboundMessage {
                id: first.id,
                source: InboundSource::Smtp,
                mail_from: None,
                rcpt_to: first.rcpt_to.clone(),
                mailbox: None,
                raw,
                received_at: t(5),
            }
        );
        assert_eq!(pending[1].source, InboundSource::Imap);
        assert_eq!(pending[1].mailbox.as_deref(), Some("imap://u@host/INBOX"));
        assert_eq!(store.pending_inbound(1).await.unwrap().len(), 1);

        // The outcome is recorded with the message marked processed.
        let o = org(&store, "acme").await;
        assert_eq!(store.first_send_at().await.unwrap(), None);
        let msg = message(&o, 1_000, "hello", &["gone@one.test"]);
        insert(&store, &msg).await;
        let later = message(&o, 3_000, "later", &["x@one.test"]);
        insert(&store, &later).await;
        assert_eq!(store.first_send_at().await.unwrap(), Some(t(1_000)));
        let bounced = with_reason(
            event(msg.recipients[0].id, EventKind::Failed, 2_000),
            550,
            "5.1.1",
            "userunknown",
            "user unknown",
        );
        let outcome = InboundOutcome {
            summary: "bounce: 1 event".into(),
            events: vec![bounced.clone()],
            suppressions: vec![(o.id, addr("gone@one.test"), "hard_bounce".into())],
        };
        // An unknown message records nothing of its outcome.
        assert!(matches!(
            store.finish_inbound(Uuid::now_v7(), &outcome).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            recipient(&store, &o, &msg, 0).await.status,
            Status::Queued,
            "nothing half-written"
        );
        assert!(store.suppressions(o.id).await.unwrap().is_empty());
        store.finish_inbound(first.id, &outcome).await.unwrap();
        let pending = store.pending_inbound(10).await.unwrap();
        assert_eq!(
            pending.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![second.id]
        );
        let r = recipient(&store, &o, &msg, 0).await;
        assert_eq!(r.status, Status::Failed);
        assert_eq!(
            r.events
                .iter()
                .filter(|e| e.kind == EventKind::Failed)
                .count(),
            1
        );
        assert_eq!(
            store
                .suppressions(o.id)
                .await
                .unwrap()
                .iter()
                .map(|s| s.address.as_str())
                .collect::<Vec<_>>(),
            vec!["gone@one.test"]
        );

        // the cursor moves forward with the next message
        let from = |validity, uid, fingerprint: &str| FromMailbox {
            key: "imap://u@host/INBOX".into(),
            cursor: Some(MailboxCursor {
                uid_validity: validity,
                last_uid: uid,
            }),
            fingerprint: fingerprint.into(),
        };
        let next = from(4_000_000_000, 9, "id:z@host");
        assert!(
            store
                .insert_inbound(&NewInbound {
                    id: Uuid::now_v7(),
                    mailbox: Some(next.clone()),
                    ..second.clone()
                })
                .await
                .unwrap()
        );
        assert_eq!(
            store.mailbox_cursor("imap://u@host/INBOX").await.unwrap(),
            next.cursor
        );
        assert_eq!(store.pending_inbound(10).await.unwrap().len(), 2);

        // Renumbered by the server (a new UIDVALIDITY), a message the
        // mailbox already gave, processed or not, is not stored again: only
        // the position moves.
        for (uid, fingerprint) in [(1, "id:y@host"), (2, "id:z@host")] {
            let again = from(5, uid, fingerprint);
            assert!(
                !store
                    .insert_inbound(&NewInbound {
                        id: Uuid::now_v7(),
                        mailbox: Some(again.clone()),
                        ..second.clone()
                    })
                    .await
                    .unwrap()
            );
            assert_eq!(
                store.mailbox_cursor("imap://u@host/INBOX").await.unwrap(),
                again.cursor
            );
        }
        assert_eq!(store.pending_inbound(10).await.unwrap().len(), 2);
        // The same message in another mailbox is another copy.
        assert!(
            store
                .insert_inbound(&NewInbound {
                    id: Uuid::now_v7(),
                    mailbox: Some(FromMailbox {
                        key: "imap://u@host/Archive".into(),
                        ..from(1, 1, "id:y@host")
                    }),
                    ..second.clone()
                })
                .await
                .unwrap()
        );
        assert_eq!(store.pending_inbound(10).await.unwrap().len(), 3);

        // Past messages left unread, the position moves alone.
        let skipped = MailboxCursor {
            uid_validity: 5,
            last_uid: 40,
        };
        store
            .set_mailbox_cursor("imap://u@host/INBOX", skipped)
            .await
            .unwrap();
        store.set_mailbox_cursor("new-box", skipped).await.unwrap();
        for key in ["imap://u@host/INBOX", "new-box"] {
            assert_eq!(store.mailbox_cursor(key).await.unwrap(), Some(skipped));
        }
        assert_eq!(store.pending_inbound(10).await.unwrap().len(), 3);

        // A source with no position (an SNS topic): redelivered with the
        // same id, it is stored once, and no position is kept for it.
        let sns = |id: &str| NewInbound {
            id: Uuid::now_v7(),
            source: InboundSource::Sns,
            mailbox: Some(FromMailbox {
                key: "sns:arn:aws:sns:eu-west-1:1:ses".into(),
                cursor: None,
                fingerprint: id.into(),
            }),
            ..second.clone()
        };
        assert!(store.insert_inbound(&sns("n-1")).await.unwrap());
        assert!(!store.insert_inbound(&sns("n-1")).await.unwrap());
        assert!(store.insert_inbound(&sns("n-2")).await.unwrap());
        assert_eq!(store.pending_inbound(10).await.unwrap().len(), 5);
        assert_eq!(
            store
                .mailbox_cursor("sns:arn:aws:sns:eu-west-1:1:ses")
                .await
                .unwrap(),
            None
        );
    }

    pub async fn recipient_refs_for_correlation(store: Arc<dyn Store>) {
        let a = org(&store, "refs-a").await;
        let b = org(&store, "refs-b").await;
        let old = message(&a, 1_000, "old", &["Carol@Example.test"]);
        let new = message(
            &a,
            5_000,
            "new",
            &["carol@example.test", "dave@example.test"],
        );
        let other = message(&b, 9_000, "other org", &["carol@example.test"]);
        for m in [&old, &new, &other] {
            insert(&store, m).await;
        }

        let refs = store
            .recipients_by_message_id(new.message_id.as_str())
            .await
            .unwrap();
        assert_eq!(
            refs.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![new.recipients[0].id, new.recipients[1].id]
        );
        assert_eq!(refs[0].org_id, a.id);
        assert_eq!(refs[0].message_id, new.id);
        assert_eq!(refs[1].kind, RecipientKind::Cc);
        assert_eq!(refs[0].sent_at, t(5_000));
        assert!(
            store
                .recipients_by_message_id("nobody@nowhere")
                .await
                .unwrap()
                .is_empty()
        );

        let one = store
            .recipient_ref(old.recipients[0].id)
            .await
            .unwrap()
            .expect("recipient by id");
        assert_eq!(one.address.normalized(), "carol@example.test");
        assert_eq!(one.message_id, old.id);
        assert_eq!(store.recipient_ref(Uuid::now_v7()).await.unwrap(), None);

        // newest first, case-insensitive, across organisations, bounded by
        // time and count
        let recent = store
            .recent_recipients(&addr("CAROL@example.test"), t(2_000), t(9_000), 10)
            .await
            .unwrap();
        assert_eq!(
            recent.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![other.recipients[0].id, new.recipients[0].id]
        );
        // nothing sent after `until` (the inbound message's arrival)
        let before = store
            .recent_recipients(&addr("carol@example.test"), t(0), t(8_999), 10)
            .await
            .unwrap();
        assert_eq!(
            before.iter().map(|r| r.id).collect::<Vec<_>>(),
            vec![new.recipients[0].id, old.recipients[0].id]
        );
        let recent = store
            .recent_recipients(&addr("carol@example.test"), t(0), t(20_000), 2)
            .await
            .unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].org_id, b.id);
    }
    pub async fn feed_events_after_an_id(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        let msg = message(&a, 0, "Feed", &["a@x.test"]);
        insert(&store, &msg).await;
        let other = message(&b, 0, "Hidden", &["z@x.test"]);
        insert(&store, &other).await;
        let rid = msg.recipients[0].id;
        let start = Uuid::nil();
        let kinds = [EventKind::Opened, EventKind::Failed];
        let first = opened(rid, Opener::Human, 10);
        store.record_event(&first).await.unwrap();
        store
            .record_event(&event(rid, EventKind::Delivered, 5))
            .await
            .unwrap();
        store
            .record_event(&opened(other.recipients[0].id, Opener::Human, 10))
            .await
            .unwrap();
        let got = store.events_after(a.id, start, &kinds, 10).await.unwrap();
        assert_eq!(got.len(), 1, "only this organisation's opens and failures");
        assert_eq!(got[0].event.id, first.id);
        assert_eq!(got[0].subject, "Feed");
        assert_eq!(got[0].address, "a@x.test");
        assert_eq!(got[0].message_id, msg.id);
        assert_eq!(got[0].recipient_id, rid);
        assert_eq!(got[0].event.opener, Some(Opener::Human));
        // Keyset: nothing after the last one seen, until a new one comes.
        assert!(
            store
                .events_after(a.id, first.id, &kinds, 10)
                .await
                .unwrap()
                .is_empty()
        );
        let second = event(rid, EventKind::Failed, 20);
        store.record_event(&second).await.unwrap();
        let got = store
            .events_after(a.id, first.id, &kinds, 10)
            .await
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].event.id, second.id);
        assert_eq!(got[0].event.kind, EventKind::Failed);
        assert!(
            store
                .events_after(a.id, start, &[], 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .events_after(a.id, start, &kinds, 1)
                .await
                .unwrap()
                .len(),
            1
        );
    }
    pub async fn daily_stats_count_recipients_per_day(store: Arc<dyn Store>) {
        const DAY: i64 = 86_400_000;
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        let msg = message(&a, 0, "Stats", &["a@x.test", "b@x.test", "c@x.test"]);
        insert(&store, &msg).await;
        let other = message(&b, 0, "Other", &["z@x.test"]);
        insert(&store, &other).await;
        let [ra, rb, rc] = [0, 1, 2].map(|i| msg.recipients[i].id);
        // t(0) is 2023-11-14T22:13:20Z: the next UTC day starts 6,400 s later.
        let next = 6_400_000;
        let evs = vec![
            event(ra, EventKind::Delivered, 10),
            event(rb, EventKind::Delivered, 10),
            event(rc, EventKind::Failed, 10),
            opened(ra, Opener::Human, 20),
            opened(ra, Opener::Human, 30),
            opened(rb, Opener::Machine, 20),
            opened(rb, Opener::SelfOpen, 20),
            event(ra, EventKind::Clicked, next + 10),
            event(ra, EventKind::Replied, next + 20),
            event(other.recipients[0].id, EventKind::Delivered, 10),
        ];
        store.record_events(&evs).await.unwrap();
        let days = store.daily_stats(a.id, t(-DAY), t(2 * DAY)).await.unwrap();
        assert_eq!(days.len(), 2, "{days:?}");
        let first_day = t(0).unix_timestamp() / 86_400;
        assert_eq!(
            days[0],
            DayStats {
                day: first_day,
                sent: 2,
                delivered: 2,
                failed: 1,
                opened: 1,
                machine_opened: 1,
                clicked: 0,
                replied: 0,
            }
        );
        assert_eq!(days[1].day, first_day + 1);
        assert_eq!((days[1].clicked, days[1].replied, days[1].sent), (1, 1, 0));
        // The range bounds are honoured.
        let only_first = store.daily_stats(a.id, t(0), t(next)).await.unwrap();
        assert_eq!(only_first.len(), 1);
    }

    fn click(recipient: Uuid, opener: Option<Opener>, url: &str, at_ms: i64) -> NewEvent {
        NewEvent {
            opener,
            data: serde_json::json!({ "url": url, "rule": "test" }),
            ..event(recipient, EventKind::Clicked, at_ms)
        }
    }

    pub async fn engagement_per_recipient(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["reader@x.test", "blocked@x.test"]);
        insert(&store, &msg).await;
        let (reader, blocked) = (msg.recipients[0].id, msg.recipients[1].id);
        let (x, y) = ("https://shop.example/x", "https://shop.example/y?q=1");

        // One batch, as the tracking sink writes it: a machine prefetch,
        // two opens by people, the sender's own open, clicks on two links
        // (one by a link checker, one by the sender).
        let batch = vec![
            opened(reader, Opener::Machine, 100),
            opened(reader, Opener::Human, 200),
            opened(reader, Opener::SelfOpen, 250),
            opened(reader, Opener::Proxy, 300),
            click(reader, Some(Opener::Human), x, 400),
            click(reader, Some(Opener::Human), y, 500),
            click(reader, Some(Opener::Human), x, 600),
            click(reader, Some(Opener::Machine), x, 650),
            click(reader, Some(Opener::SelfOpen), y, 700),
        ];
        store.record_events(&batch).await.unwrap();
        // Retrying the same batch (an unclear commit) changes nothing.
        store.record_events(&batch).await.unwrap();
        let r = recipient(&store, &a, &msg, 0).await;
        assert_eq!(r.first_open_at, Some(t(200)), "first open by a person");
        assert!(!r.first_open_implied);
        assert_eq!((r.opens, r.machine_opens, r.implied_opens), (2, 1, 0));
        assert_eq!(r.clicks, 3);
        assert_eq!(r.links.len(), 2, "{:?}", r.links);
        assert_eq!(r.links[0].url, x);
        assert_eq!((r.links[0].clicks, r.links[0].machine_clicks), (2, 1));
        assert_eq!(r.links[0].first_clicked_at, t(400));
        assert_eq!(r.links[0].last_clicked_at, t(650));
        assert_eq!(r.links[1].url, y);
        assert_eq!((r.links[1].clicks, r.links[1].machine_clicks), (1, 0));
        assert_eq!(
            r.events
                .iter()
                .filter(|e| e.kind == EventKind::Opened)
                .count(),
            4
        );

        // A later batch adds to the per-link counts.
        store
            .record_events(&[click(reader, Some(Opener::Proxy), y, 800)])
            .await
            .unwrap();
        let r = recipient(&store, &a, &msg, 0).await;
        assert_eq!((r.clicks, r.links[1].clicks), (4, 2));
        assert_eq!(r.links[1].last_clicked_at, t(800));

        // A machine's click and a machine's open imply nothing; a person's
        // click with no pixel load implies one open by that person, marked
        // so, in the same transaction; a second click implies no more.
        store
            .record_events(&[
                opened(blocked, Opener::Machine, 1_000),
                click(blocked, Some(Opener::Machine), x, 1_100),
            ])
            .await
            .unwrap();
        let r = recipient(&store, &a, &msg, 1).await;
        assert_eq!((r.opens, r.first_open_at, r.implied_opens), (0, None, 0));
        let first = click(blocked, Some(Opener::Human), y, 1_200);
        let batch = vec![first.clone(), click(blocked, Some(Opener::Human), x, 1_300)];
        store.record_events(&batch).await.unwrap();
        store.record_events(&batch).await.unwrap();
        let r = recipient(&store, &a, &msg, 1).await;
        assert_eq!(r.status, Status::Clicked);
        assert_eq!((r.opens, r.machine_opens, r.implied_opens), (1, 1, 1));
        assert_eq!(r.first_open_at, Some(t(1_200)));
        assert!(r.first_open_implied);
        assert_eq!(r.clicks, 2);
        let implied: Vec<_> = r
            .events
            .iter()
            .filter(|e| e.kind == EventKind::Opened && e.opener == Some(Opener::Human))
            .collect();
        assert_eq!(implied.len(), 1, "{:?}", r.events);
        assert_eq!(implied[0].at, t(1_200));
        assert_eq!(implied[0].data["implied"], true);
        assert_eq!(implied[0].data["click_id"], first.id.to_string());
        // A real pixel load afterwards is one more open; the first stays
        // the implied one.
        store
            .record_event(&opened(blocked, Opener::Human, 1_400))
            .await
            .unwrap();
        let r = recipient(&store, &a, &msg, 1).await;
        assert_eq!((r.opens, r.implied_opens), (2, 1));
        assert!(r.first_open_implied);
        assert_eq!(r.first_open_at, Some(t(1_200)));
        // The counters outlive the detailed events.
        store.purge_events(t(10_000)).await.unwrap();
        let r = recipient(&store, &a, &msg, 1).await;
        assert!(r.events.is_empty());
        assert_eq!(
            (r.opens, r.implied_opens, r.clicks, r.links.len()),
            (2, 1, 2, 2)
        );
        assert_eq!(r.first_open_at, Some(t(1_200)));
    }

    pub async fn unsubscribed_is_recorded_once(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let msg = message(&a, 0, "Hi", &["reader@x.test", "other@x.test"]);
        insert(&store, &msg).await;
        let (reader, other) = (msg.recipients[0].id, msg.recipients[1].id);
        for at in [10, 20] {
            store
                .record_event(&event(reader, EventKind::Unsubscribed, at))
                .await
                .unwrap();
        }
        store
            .record_events(&[
                event(reader, EventKind::Unsubscribed, 30),
                event(other, EventKind::Unsubscribed, 30),
                event(other, EventKind::Unsubscribed, 40),
            ])
            .await
            .unwrap();
        for (i, rid) in [(0, reader), (1, other)] {
            let r = recipient(&store, &a, &msg, i).await;
            assert_eq!(r.status, Status::Unsubscribed, "{rid}");
            let n = r
                .events
                .iter()
                .filter(|e| e.kind == EventKind::Unsubscribed)
                .count();
            assert_eq!(n, 1, "one unsubscribed event per recipient: {:?}", r.events);
        }
    }

    pub async fn api_keys_are_listed_per_organisation_and_user(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        let second = store
            .create_user(a.id, &addr("second@acme.test"), "h", false)
            .await
            .unwrap();
        let key = |user: Uuid, name: &str, hash: char| NewApiKey {
            id: Uuid::now_v7(),
            user_id: user,
            name: name.into(),
            key_hash: hash.to_string().repeat(64),
            prefix: format!("mt_{hash}{hash}"),
        };
        let k1 = key(a.user, "first", 'a');
        store.create_api_key(&k1).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let k2 = key(second.id, "second's", 'b');
        store.create_api_key(&k2).await.unwrap();
        let kb = key(b.user, "other org", 'c');
        store.create_api_key(&kb).await.unwrap();

        let all = store.api_keys(a.id, None).await.unwrap();
        assert_eq!(
            all.iter().map(|k| k.id).collect::<Vec<_>>(),
            vec![k2.id, k1.id],
            "the organisation's keys, newest first, never another's"
        );
        assert_eq!(all[1].name, "first");
        assert_eq!(all[1].prefix, "mt_aa");
        assert_eq!(all[1].user_email, "admin@acme.test");
        assert_eq!(all[0].user_id, second.id);
        assert!(
            all.iter()
                .all(|k| k.last_used_at.is_none() && k.revoked_at.is_none())
        );
        let mine = store.api_keys(a.id, Some(second.id)).await.unwrap();
        assert_eq!(mine.len(), 1);
        assert_eq!(mine[0].id, k2.id);
        // A user of another organisation has no keys here.
        assert!(store.api_keys(a.id, Some(b.user)).await.unwrap().is_empty());

        // Use and revocation show in the list.
        let before = OffsetDateTime::now_utc() - Duration::seconds(1);
        assert!(store.api_key_owner(&k1.key_hash).await.unwrap().is_some());
        assert!(store.revoke_api_key(a.id, k1.id).await.unwrap());
        let all = store.api_keys(a.id, None).await.unwrap();
        let k = all.iter().find(|k| k.id == k1.id).unwrap();
        assert!(k.last_used_at.is_some_and(|t| t >= before), "{k:?}");
        assert!(k.revoked_at.is_some_and(|t| t >= before), "{k:?}");
        assert!(k.created_at >= before - Duration::minutes(1));
        let k = all.iter().find(|k| k.id == k2.id).unwrap();
        assert!(k.revoked_at.is_none() && k.last_used_at.is_none());
        assert_eq!(store.api_keys(b.id, None).await.unwrap().len(), 1);
    }

    pub async fn contact_events_across_messages(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        let first = message(&a, 0, "First", &["Carol@x.test", "dave@x.test"]);
        insert(&store, &first).await;
        let second = message(&a, 1_000, "Second", &["carol@X.TEST"]);
        insert(&store, &second).await;
        let hidden = message(&b, 500, "Hidden", &["carol@x.test"]);
        insert(&store, &hidden).await;
        let c1 = first.recipients[0].id;
        let c2 = second.recipients[0].id;
        store
            .record_events(&[
                event(c1, EventKind::Delivered, 100),
                opened(c1, Opener::Machine, 200),
                opened(c2, Opener::Human, 2_000),
                event(first.recipients[1].id, EventKind::Delivered, 150),
                opened(hidden.recipients[0].id, Opener::Human, 3_000),
            ])
            .await
            .unwrap();
        let got = store
            .contact_events(a.id, &addr("CAROL@x.test"), 100)
            .await
            .unwrap();
        let seen: Vec<(Uuid, EventKind, Option<Opener>)> = got
            .iter()
            .map(|f| (f.recipient_id, f.event.kind, f.event.opener))
            .collect();
        assert_eq!(
            seen,
            vec![
                (c2, EventKind::Opened, Some(Opener::Human)),
                (c2, EventKind::Queued, None),
                (c1, EventKind::Opened, Some(Opener::Machine)),
                (c1, EventKind::Delivered, None),
                (c1, EventKind::Queued, None),
            ],
            "newest first, both messages, not dave's, not the other organisation's"
        );
        assert_eq!(got[0].subject, "Second");
        assert_eq!(got[0].message_id, second.id);
        assert_eq!(got[4].subject, "First");
        assert_eq!(got[4].address, "Carol@x.test");
        assert_eq!(got[0].event.at, t(2_000));
        let limited = store
            .contact_events(a.id, &addr("carol@x.test"), 2)
            .await
            .unwrap();
        assert_eq!(limited.len(), 2);
        assert_eq!(limited[0].event.kind, EventKind::Opened);
        assert!(
            store
                .contact_events(a.id, &addr("nobody@x.test"), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let theirs = store
            .contact_events(b.id, &addr("carol@x.test"), 10)
            .await
            .unwrap();
        assert_eq!(theirs.len(), 2);
        assert!(theirs.iter().all(|f| f.subject == "Hidden"));
    }

    pub async fn users_admin_flag_and_removal(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        let bob = store
            .create_user(a.id, &addr("Bob@acme.test"), "h", false)
            .await
            .unwrap();
        let users = store.users(a.id).await.unwrap();
        assert_eq!(
            users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(),
            vec!["admin@acme.test", "Bob@acme.test"]
        );
        assert_eq!(store.users(b.id).await.unwrap().len(), 1);

        // The only administrator keeps the flag and the account.
        assert_eq!(
            store.set_user_admin(a.id, a.user, false).await.unwrap(),
            UserChange::LastAdmin
        );
        assert_eq!(
            store.delete_user(a.id, a.user, bob.id).await.unwrap(),
            UserChange::LastAdmin
        );
        // Another organisation's user is not found, and nothing changes.
        assert_eq!(
            store.set_user_admin(a.id, b.user, false).await.unwrap(),
            UserChange::NotFound
        );
        assert_eq!(
            store.delete_user(a.id, b.user, a.user).await.unwrap(),
            UserChange::NotFound
        );
        assert!(store.users(b.id).await.unwrap()[0].is_admin);

        assert_eq!(
            store.set_user_admin(a.id, bob.id, true).await.unwrap(),
            UserChange::Changed
        );
        assert_eq!(
            store.set_user_admin(a.id, a.user, false).await.unwrap(),
            UserChange::Changed,
            "with Bob an administrator the first one may step down"
        );
        assert_eq!(
            store.set_user_admin(a.id, bob.id, false).await.unwrap(),
            UserChange::LastAdmin
        );
        store.set_user_admin(a.id, a.user, true).await.unwrap();

        // Removing Bob: his keys and sessions go, his messages stay with
        // the organisation under the administrator's name.
        let msg = NewMessage {
            user_id: bob.id,
            ..message(&a, 0, "Bob's", &["x@x.test"])
        };
        insert(&store, &msg).await;
        let key = NewApiKey {
            id: Uuid::now_v7(),
            user_id: bob.id,
            name: "bob".into(),
            key_hash: "d".repeat(64),
            prefix: "mt_dd".into(),
        };
        store.create_api_key(&key).await.unwrap();
        store
            .create_session(&NewSession {
                id_hash: "e".repeat(64),
                user_id: bob.id,
                csrf_token: "t".into(),
                expires_at: OffsetDateTime::now_utc() + Duration::hours(1),
            })
            .await
            .unwrap();
        // The heir must be another user of the same organisation.
        let bad = store.delete_user(a.id, bob.id, b.user).await;
        assert!(matches!(bad, Err(StoreError::NotFound(_))), "{bad:?}");
        assert_eq!(
            store.users(a.id).await.unwrap().len(),
            2,
            "nothing half-done"
        );
        assert_eq!(
            store.delete_user(a.id, bob.id, a.user).await.unwrap(),
            UserChange::Changed
        );
        assert_eq!(store.users(a.id).await.unwrap().len(), 1);
        assert_eq!(
            store.user_by_email(&addr("bob@acme.test")).await.unwrap(),
            None
        );
        assert_eq!(store.api_key_owner(&key.key_hash).await.unwrap(), None);
        assert!(
            store
                .session(&"e".repeat(64), OffsetDateTime::now_utc())
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.message(a.id, msg.id).await.unwrap().is_some());
        assert_eq!(
            store.delete_user(a.id, bob.id, a.user).await.unwrap(),
            UserChange::NotFound
        );
        // The address is free again.
        store
            .create_user(a.id, &addr("bob@acme.test"), "h", false)
            .await
            .unwrap();
    }

    pub async fn sender_networks_replace_and_load(store: Arc<dyn Store>) {
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        assert!(store.sender_networks(a.id).await.unwrap().is_empty());
        assert!(store.all_sender_networks().await.unwrap().is_empty());
        let nets = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        store
            .set_sender_networks(a.id, &nets(&["203.0.113.0/24", "2001:db8::/48"]))
            .await
            .unwrap();
        store
            .set_sender_networks(b.id, &nets(&["198.51.100.7/32"]))
            .await
            .unwrap();
        assert_eq!(
            store.sender_networks(a.id).await.unwrap(),
            nets(&["203.0.113.0/24", "2001:db8::/48"])
        );
        store
            .set_sender_networks(a.id, &nets(&["192.0.2.0/24"]))
            .await
            .unwrap();
        assert_eq!(
            store.sender_networks(a.id).await.unwrap(),
            nets(&["192.0.2.0/24"]),
            "replaced, not appended"
        );
        let mut all = store.all_sender_networks().await.unwrap();
        all.sort();
        let mut want = vec![
            (a.id, "192.0.2.0/24".to_owned()),
            (b.id, "198.51.100.7/32".to_owned()),
        ];
        want.sort();
        assert_eq!(all, want);
        store.set_sender_networks(a.id, &[]).await.unwrap();
        assert!(store.sender_networks(a.id).await.unwrap().is_empty());
        assert_eq!(store.sender_networks(b.id).await.unwrap().len(), 1);
        let orphan = store
            .set_sender_networks(Uuid::now_v7(), &nets(&["10.0.0.0/8"]))
            .await;
        assert!(matches!(orphan, Err(StoreError::NotFound(_))), "{orphan:?}");
    }

    pub async fn sending_domains_per_organisation(store: Arc<dyn Store>) {
        use mailtrail_store::{NewSendingDomain, PrivateKeyPem};
        let a = org(&store, "acme").await;
        let b = org(&store, "other").await;
        let new = |org_id: Uuid, domain: &str, selector: &str| NewSendingDomain {
            id: Uuid::now_v7(),
            org_id,
            domain: domain.into(),
            selector: selector.into(),
            algorithm: "ed25519".into(),
            private_key: PrivateKeyPem::new(format!("-----BEGIN PRIVATE KEY-----\n{domain}\n")),
            dns_record: "v=DKIM1; k=ed25519; p=AAAA".into(),
            created_at: t(5),
        };
        let first = new(a.id, "mail.acme.test", "s1");
        store.add_sending_domain(&first).await.unwrap();
        store
            .add_sending_domain(&new(a.id, "acme.test", "s2"))
            .await
            .unwrap();
        // One key per domain and organisation.
        assert!(matches!(
            store
                .add_sending_domain(&new(a.id, "mail.acme.test", "s3"))
                .await,
            Err(StoreError::Conflict(_))
        ));
        // Another organisation may claim the same name for itself.
        store
            .add_sending_domain(&new(b.id, "mail.acme.test", "b1"))
            .await
            .unwrap();

        let mine = store.sending_domains(a.id).await.unwrap();
        assert_eq!(
            mine.iter().map(|d| d.domain.as_str()).collect::<Vec<_>>(),
            ["acme.test", "mail.acme.test"]
        );
        let got = mine.iter().find(|d| d.id == first.id).unwrap();
        assert_eq!(got.selector, "s1");
        assert_eq!(got.algorithm, "ed25519");
        assert_eq!(got.private_key, first.private_key);
        assert_eq!(got.dns_record, first.dns_record);
        assert_eq!(got.created_at, t(5));
        assert_eq!(got.dns_name(), "s1._domainkey.mail.acme.test");
        assert!(!format!("{got:?}").contains("BEGIN PRIVATE KEY"));
        assert_eq!(store.all_sending_domains().await.unwrap().len(), 3);

        // Removing is per organisation.
        assert!(!store.delete_sending_domain(b.id, first.id).await.unwrap());
        assert!(store.delete_sending_domain(a.id, first.id).await.unwrap());
        assert!(!store.delete_sending_domain(a.id, first.id).await.unwrap());
        assert_eq!(store.sending_domains(a.id).await.unwrap().len(), 1);
        assert_eq!(store.sending_domains(b.id).await.unwrap().len(), 1);
        assert_eq!(store.all_sending_domains().await.unwrap().len(), 2);
    }

    pub async fn queue_stats_count_jobs_and_the_earliest_due(store: Arc<dyn Store>) {
        assert_eq!(store.queue_stats().await.unwrap(), QueueStats::default());
        let a = org(&store, "acme").await;
        let later = message(&a, 2_000, "Later", &["a@x.test", "b@x.test"]);
        insert(&store, &later).await;
        let q = store.queue_stats().await.unwrap();
        assert_eq!(q.depth, 2);
        assert_eq!(q.earliest_due, Some(t(2_000)));
        let earlier = message(&a, 1_000, "Earlier", &["c@x.test"]);
        insert(&store, &earlier).await;
        let q = store.queue_stats().await.unwrap();
        assert_eq!(q.depth, 3);
        assert_eq!(q.earliest_due, Some(t(1_000)));
        // A claimed job is still in the queue until it is finished.
        let jobs = store.claim_jobs("w", t(1_000), LEASE, 1).await.unwrap();
        assert_eq!(store.queue_stats().await.unwrap().depth, 3);
        store
            .complete_job(
                jobs[0].id,
                &event(jobs[0].recipient_id, EventKind::Delivered, 1_500),
            )
            .await
            .unwrap();
        let q = store.queue_stats().await.unwrap();
        assert_eq!(q.depth, 2);
        assert_eq!(q.earliest_due, Some(t(2_000)));
    }
}

//! Conformance cases of [`WebhookStore`] and of the deliveries queued
//! beside events.

use super::*;
use mailtrail_domain::webhook::{EventSelection, WebhookSecret};
use mailtrail_store::webhook::*;

fn endpoint(org: &Org, url: &str, events: &[&str]) -> NewWebhookEndpoint {
    NewWebhookEndpoint {
        id: Uuid::now_v7(),
        org_id: org.id,
        url: url.into(),
        events: EventSelection::parse(events).unwrap(),
        secret: WebhookSecret::generate(),
        description: "orders".into(),
        created_at: noisy(0),
    }
}

async fn deliveries(
    store: &Arc<dyn Store>,
    org: &Org,
    e: &NewWebhookEndpoint,
) -> Vec<WebhookDelivery> {
    store
        .webhook_deliveries(org.id, e.id, None, 500)
        .await
        .unwrap()
        .expect("endpoint exists")
}

fn attempt(at_ms: i64, status: Option<u16>) -> WebhookAttempt {
    WebhookAttempt {
        at: noisy(at_ms),
        status_code: status,
        error: status.is_none().then(|| "connection refused".to_owned()),
        response: "ok".into(),
        duration_ms: 12,
    }
}

pub async fn webhook_endpoints_per_organisation(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let b = org(&store, "bravo").await;
    let e = endpoint(&a, "https://hooks.example.com/a", &["opened", "clicked"]);
    store.create_webhook_endpoint(&e).await.unwrap();
    let got = store.webhook_endpoint(a.id, e.id).await.unwrap().unwrap();
    assert_eq!(got.url, e.url);
    assert_eq!(got.events, e.events);
    assert_eq!(got.secret, e.secret);
    assert!(got.enabled);
    assert_eq!(got.created_at, t(0));
    assert!(store.webhook_endpoint(b.id, e.id).await.unwrap().is_none());
    assert!(store.webhook_endpoints(b.id).await.unwrap().is_empty());
    assert_eq!(store.webhook_endpoints(a.id).await.unwrap().len(), 1);

    let update = WebhookEndpointUpdate {
        events: Some(EventSelection::All),
        enabled: Some(false),
        ..Default::default()
    };
    assert!(
        store
            .update_webhook_endpoint(b.id, e.id, &update, t(5))
            .await
            .unwrap()
            .is_none()
    );
    let changed = store
        .update_webhook_endpoint(a.id, e.id, &update, t(5))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.events, EventSelection::All);
    assert_eq!(changed.url, e.url);
    assert!(!changed.enabled);
    assert_eq!(changed.disabled_at, Some(t(5)));
    let on = WebhookEndpointUpdate {
        url: Some("https://hooks.example.com/b".into()),
        enabled: Some(true),
        ..Default::default()
    };
    let changed = store
        .update_webhook_endpoint(a.id, e.id, &on, t(6))
        .await
        .unwrap()
        .unwrap();
    assert!(changed.enabled && changed.disabled_at.is_none());
    assert_eq!(changed.url, "https://hooks.example.com/b");
    assert!(!store.delete_webhook_endpoint(b.id, e.id).await.unwrap());
    assert!(store.delete_webhook_endpoint(a.id, e.id).await.unwrap());
    assert!(store.webhook_endpoint(a.id, e.id).await.unwrap().is_none());
}

pub async fn events_queue_webhook_deliveries_in_their_transaction(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let b = org(&store, "bravo").await;
    let all = endpoint(&a, "https://hooks.example.com/all", &["*"]);
    let opens = endpoint(&a, "https://hooks.example.com/opens", &["opened"]);
    let off = endpoint(&a, "https://hooks.example.com/off", &["*"]);
    let other = endpoint(&b, "https://hooks.example.com/b", &["*"]);
    for e in [&all, &opens, &off, &other] {
        store.create_webhook_endpoint(e).await.unwrap();
    }
    let disable = WebhookEndpointUpdate {
        enabled: Some(false),
        ..Default::default()
    };
    store
        .update_webhook_endpoint(a.id, off.id, &disable, t(0))
        .await
        .unwrap();

    // Storing the message queues a `queued` delivery per recipient.
    let msg = message(&a, 10, "Order", &["one@x.test", "two@x.test"]);
    insert(&store, &msg).await;
    let d = deliveries(&store, &a, &all).await;
    assert_eq!(d.len(), 2);
    assert!(
        d.iter()
            .all(|d| d.kind == EventKind::Queued && d.state == DeliveryState::Pending)
    );
    assert!(deliveries(&store, &a, &opens).await.is_empty());
    assert!(deliveries(&store, &a, &off).await.is_empty());
    assert!(deliveries(&store, &b, &other).await.is_empty());

    // Tracking events in a batch: an open, a click with no open before it
    // (an open is implied), and the same open again (not queued twice).
    let r0 = msg.recipients[0].id;
    let r1 = msg.recipients[1].id;
    let open = opened(r0, Opener::Human, 20);
    let mut click = event(r1, EventKind::Clicked, 30);
    click.opener = Some(Opener::Human);
    click.data = serde_json::json!({ "url": "https://shop.example/x" });
    store
        .record_events(&[open.clone(), click.clone()])
        .await
        .unwrap();
    store
        .record_events(std::slice::from_ref(&open))
        .await
        .unwrap();
    let d = deliveries(&store, &a, &all).await;
    assert_eq!(
        d.len(),
        5,
        "{:?}",
        d.iter().map(|d| d.kind).collect::<Vec<_>>()
    );
    let o = deliveries(&store, &a, &opens).await;
    assert_eq!(o.len(), 2, "the open and the open the click implies");
    assert!(o.iter().all(|d| d.kind == EventKind::Opened));

    let clicked = d.iter().find(|d| d.kind == EventKind::Clicked).unwrap();
    assert_eq!(clicked.event_id, click.id);
    let body: serde_json::Value = serde_json::from_str(&clicked.payload).unwrap();
    assert_eq!(body["type"], "clicked");
    assert_eq!(body["data"]["recipient"], "two@x.test");
    assert_eq!(body["data"]["message_id"], msg.message_id.as_str());
    assert_eq!(body["data"]["mailtrail_message_id"], msg.id.to_string());
    assert_eq!(body["data"]["metadata"]["order"], "A-17");
    assert_eq!(body["data"]["tag"], "receipts");
    assert_eq!(body["data"]["opener"], "human");
    assert_eq!(body["data"]["details"]["url"], "https://shop.example/x");
    assert!(
        body["timestamp"]
            .as_str()
            .unwrap()
            .starts_with("2023-11-14T22:13:20")
    );
    assert!(clicked.webhook_id().starts_with("msg_"));

    // A delivery outcome (the delivery worker's path) queues too.
    let jobs = store.claim_jobs("w", t(40), LEASE, 10).await.unwrap();
    let job = jobs.iter().find(|j| j.recipient_id == r0).unwrap();
    store
        .complete_job(job.id, &event(r0, EventKind::Delivered, 50))
        .await
        .unwrap();
    let d = deliveries(&store, &a, &all).await;
    assert!(d.iter().any(|d| d.kind == EventKind::Delivered));

    // An inbound message's events (a reply correlated to the recipient).
    let inbound = mailtrail_store::inbound::NewInbound {
        id: Uuid::now_v7(),
        source: mailtrail_store::inbound::InboundSource::Smtp,
        mail_from: None,
        rcpt_to: vec!["replies@example.test".into()],
        mailbox: None,
        raw: b"Subject: Re: Order\r\n\r\nthanks\r\n".to_vec(),
        received_at: t(60),
    };
    store.insert_inbound(&inbound).await.unwrap();
    let outcome = mailtrail_store::inbound::InboundOutcome {
        summary: "reply: 1 event".into(),
        events: vec![event(r1, EventKind::Replied, 60)],
        suppressions: vec![],
    };
    store.finish_inbound(inbound.id, &outcome).await.unwrap();
    let d = deliveries(&store, &a, &all).await;
    let replied = d
        .iter()
        .find(|d| d.kind == EventKind::Replied)
        .expect("replied queued");
    let body: serde_json::Value = serde_json::from_str(&replied.payload).unwrap();
    assert_eq!(body["data"]["recipient"], "two@x.test");
    assert_eq!(store.pending_webhook_deliveries().await.unwrap(), 9);
}

pub async fn webhook_attempts_retry_succeed_fail_and_disable(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let e = endpoint(&a, "https://hooks.example.com/a", &["*"]);
    store.create_webhook_endpoint(&e).await.unwrap();
    let msg = message(&a, 0, "Order", &["one@x.test", "two@x.test"]);
    insert(&store, &msg).await;

    let claimed = store
        .claim_webhook_deliveries("n1", t(100), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].secret, e.secret);
    assert_eq!(claimed[0].url, e.url);
    assert_eq!(claimed[0].attempts, 0);
    // Leased: nobody else takes them until the lease ends.
    assert!(
        store
            .claim_webhook_deliveries("n2", t(200), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let (first, second) = (&claimed[0], &claimed[1]);

    // A worker that does not hold the delivery records nothing.
    let retry = AttemptRecord {
        delivery_id: first.id,
        endpoint_id: e.id,
        attempt: attempt(110, Some(500)),
        delivery: DeliveryNext::RetryAt(t(5_110)),
        endpoint: EndpointNext::Failing,
    };
    assert!(!store.record_webhook_attempt("n2", &retry).await.unwrap());
    assert!(store.record_webhook_attempt("n1", &retry).await.unwrap());
    assert!(
        !store.record_webhook_attempt("n1", &retry).await.unwrap(),
        "recorded twice"
    );
    let ep = store.webhook_endpoint(a.id, e.id).await.unwrap().unwrap();
    assert_eq!(ep.failing_since, Some(t(110)));

    // Not due before its time; due after.
    assert!(
        store
            .claim_webhook_deliveries("n1", t(5_000), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_webhook_deliveries("n2", t(5_110), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first.id);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].failing_since, Some(t(110)));
    let ok = AttemptRecord {
        delivery_id: first.id,
        endpoint_id: e.id,
        attempt: attempt(5_120, Some(204)),
        delivery: DeliveryNext::Succeeded,
        endpoint: EndpointNext::Healthy,
    };
    assert!(store.record_webhook_attempt("n2", &ok).await.unwrap());
    let ep = store.webhook_endpoint(a.id, e.id).await.unwrap().unwrap();
    assert_eq!(ep.failing_since, None);

    let log = deliveries(&store, &a, &e).await;
    let d = log.iter().find(|d| d.id == first.id).unwrap();
    assert_eq!(d.state, DeliveryState::Succeeded);
    assert_eq!(d.attempts, 2);
    assert_eq!(d.last_status, Some(204));
    assert_eq!(
        d.attempt_log
            .iter()
            .map(|a| a.status_code)
            .collect::<Vec<_>>(),
        [Some(500), Some(204)]
    );
    assert_eq!(d.attempt_log[0].at, t(110));
    assert_eq!(d.attempt_log[0].response, "ok");

    // 410 Gone: the delivery fails and the endpoint is turned off; its
    // pending deliveries wait and new events queue nothing.
    let gone = AttemptRecord {
        delivery_id: second.id,
        endpoint_id: e.id,
        attempt: attempt(130, Some(410)),
        delivery: DeliveryNext::Failed,
        endpoint: EndpointNext::Disable("the endpoint answered 410 Gone".into()),
    };
    assert!(store.record_webhook_attempt("n1", &gone).await.unwrap());
    let ep = store.webhook_endpoint(a.id, e.id).await.unwrap().unwrap();
    assert!(!ep.enabled);
    assert_eq!(
        ep.disabled_reason.as_deref(),
        Some("the endpoint answered 410 Gone")
    );
    insert(&store, &message(&a, 200, "Later", &["three@x.test"])).await;
    assert_eq!(deliveries(&store, &a, &e).await.len(), 2);

    // Replay: one delivery, then everything since a time; the endpoint on
    // again takes them.
    assert!(
        store
            .replay_webhook_delivery(a.id, e.id, second.id, t(300))
            .await
            .unwrap()
    );
    assert!(
        !store
            .replay_webhook_delivery(a.id, e.id, Uuid::now_v7(), t(300))
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_webhook_deliveries("n1", t(400), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "a disabled endpoint's deliveries wait"
    );
    let on = WebhookEndpointUpdate {
        enabled: Some(true),
        ..Default::default()
    };
    store
        .update_webhook_endpoint(a.id, e.id, &on, t(400))
        .await
        .unwrap();
    let c = store
        .claim_webhook_deliveries("n1", t(400), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].id, c[0].attempts), (second.id, 0));
    assert_eq!(store.release_webhook_leases("n1").await.unwrap(), 1);
    assert_eq!(
        store
            .replay_webhook_deliveries_since(a.id, e.id, t(0), t(500))
            .await
            .unwrap(),
        Some(1),
        "the succeeded one; the pending one is already queued"
    );
    let c = store
        .claim_webhook_deliveries("n2", t(500), LEASE, 10)
        .await
        .unwrap();
    assert_eq!(c.len(), 2);
    // Retention: deliveries that are done go with their events; pending
    // ones stay.
    let third = deliveries(&store, &a, &e).await;
    assert_eq!(third.len(), 2);
    let done = AttemptRecord {
        delivery_id: c[0].id,
        endpoint_id: e.id,
        attempt: attempt(600, Some(200)),
        delivery: DeliveryNext::Succeeded,
        endpoint: EndpointNext::Healthy,
    };
    assert!(store.record_webhook_attempt("n2", &done).await.unwrap());
    store.purge_events(t(100_000)).await.unwrap();
    let left = deliveries(&store, &a, &e).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].id, c[1].id);
    let b = org(&store, "bravo").await;
    assert_eq!(
        store
            .replay_webhook_deliveries_since(b.id, e.id, t(0), t(500))
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .webhook_deliveries(b.id, e.id, None, 10)
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn concurrent_webhook_claimers_never_share_a_delivery(store: Arc<dyn Store>) {
    let a = org(&store, "acme").await;
    let e = endpoint(&a, "https://hooks.example.com/a", &["*"]);
    store.create_webhook_endpoint(&e).await.unwrap();
    for i in 0..30 {
        insert(&store, &message(&a, i, "Bulk", &["someone@x.test"])).await;
    }
    let claimer = |name: &'static str| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let c = store
                    .claim_webhook_deliveries(name, t(100), LEASE, 3)
                    .await
                    .unwrap();
                if c.is_empty() {
                    return got;
                }
                got.extend(c.into_iter().map(|d| d.id));
                tokio::task::yield_now().await;
            }
        })
    };
    let (one, two) = (claimer("one"), claimer("two"));
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    let one_set: HashSet<Uuid> = one.iter().copied().collect();
    let two_set: HashSet<Uuid> = two.iter().copied().collect();
    assert_eq!(one_set.len() + two_set.len(), 30);
    assert!(
        one_set.is_disjoint(&two_set),
        "two claimers got the same delivery"
    );
}

//! The tracking events' journal and its folding into the store: durable
//! before the answer, replayed at start (torn tails ignored, idempotent),
//! segments reused or truncated only once everything in them is folded.

use std::path::Path;

use mailtrail_domain::Opener;

use super::*;
use mailtrail_store::journal::format as journal;
use mailtrail_store::journal::{EventSink, SinkError, SinkOptions};

async fn recipient(app: &TestApp) -> Uuid {
    let (s, b) = app.send(&app.key_a, minimal("reader@x.example")).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    b["recipients"][0]["id"]
        .as_str()
        .expect("recipient id")
        .parse()
        .expect("uuid")
}

fn opened(rid: Uuid, n: usize) -> NewEvent {
    NewEvent {
        id: Uuid::now_v7(),
        recipient_id: rid,
        kind: EventKind::Opened,
        at: OffsetDateTime::now_utc(),
        opener: Some(Opener::Human),
        reason: None,
        data: json!({"n": n, "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}),
    }
}

/// Ids of the recipient's `opened` events in the store, in the order
/// stored.
async fn stored(app: &TestApp, rid: Uuid) -> Vec<Uuid> {
    events_of(&app.store, rid, EventKind::Opened)
        .await
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Waits (at most 10 s) until the store holds `want` events of `rid`.
async fn stored_eventually(app: &TestApp, rid: Uuid, want: usize) -> Vec<Uuid> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ids = stored(app, rid).await;
        if ids.len() >= want || tokio::time::Instant::now() > deadline {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Ids of the events in the journal's segments, as replay would read them.
fn journaled(base: &Path) -> Vec<Uuid> {
    let mut uses: Vec<(u64, Vec<Uuid>)> = Vec::new();
    for p in journal::segment_paths(base) {
        let bytes = std::fs::read(&p).unwrap_or_default();
        let scan = journal::scan(&bytes);
        let ids = scan
            .records
            .iter()
            .map(|(_, payload)| journal::decode(payload).expect("decode").id)
            .collect();
        uses.push((scan.first_seq, ids));
    }
    uses.sort_by_key(|u| u.0);
    uses.into_iter().flat_map(|u| u.1).collect()
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

#[tokio::test]
async fn an_event_is_in_the_journal_when_record_returns_and_reaches_the_store() {
    let app = TestApp::new().await;
    let rid = recipient(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let base = dir.path().join("events.journal");
    let (sink, handle) =
        EventSink::spawn(app.store.clone(), &base, SinkOptions::default()).expect("sink");

    // Concurrent requests: each one's record is on disk once it returns.
    let events: Vec<NewEvent> = (0..200).map(|n| opened(rid, n)).collect();
    let mut tasks = Vec::new();
    for e in events.clone() {
        let sink = sink.clone();
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let id = e.id;
            sink.record(e).await.expect("durable");
            assert!(journaled(&base).contains(&id), "answered before durable");
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let mut want: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    want.sort();
    let mut got = stored_eventually(&app, rid, want.len()).await;
    got.sort();
    assert_eq!(got, want);

    // Shutdown folds everything and truncates the journal; then the sink
    // takes nothing more.
    handle.shutdown().await;
    for p in journal::segment_paths(&base) {
        assert_eq!(file_len(&p), 0, "{} not truncated", p.display());
    }
    assert_eq!(sink.record(opened(rid, 999)).await, Err(SinkError::Closed));
    assert_eq!(stored(&app, rid).await.len(), 200);
}

#[tokio::test]
async fn replay_stores_complete_records_once_ignores_a_torn_tail_and_truncates() {
    let app = TestApp::new().await;
    let rid = recipient(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let base = dir.path().join("events.journal");
    let [seg0, seg1] = journal::segment_paths(&base);

    // What a crash leaves: segment 1 (older use, records 1-3) and segment 0
    // (records 4-5, then a torn sixth that was never acknowledged).
    let events: Vec<NewEvent> = (0..6).map(|n| opened(rid, n)).collect();
    let write = |first_seq: u64, evs: &[NewEvent]| {
        let mut out = journal::header(first_seq).to_vec();
        for (i, e) in evs.iter().enumerate() {
            let p = journal::encode(e).expect("encode");
            journal::push_frame(&mut out, first_seq + i as u64, &p, journal::payload_crc(&p));
        }
        out
    };
    std::fs::write(&seg1, write(1, &events[..3])).expect("write");
    let mut torn = write(4, &events[3..]);
    torn.truncate(torn.len() - 7);
    std::fs::write(&seg0, &torn).expect("write");
    // Spawning without replay refuses a journal with records.
    assert!(matches!(
        EventSink::spawn(app.store.clone(), &base, SinkOptions::default()),
        Err(SinkError::Replay(_))
    ));

    let (_sink, handle) = EventSink::open(app.store.clone(), &base, SinkOptions::default())
        .await
        .expect("open");
    let want: Vec<Uuid> = events[..5].iter().map(|e| e.id).collect();
    assert_eq!(stored(&app, rid).await, want, "replayed in journal order");
    assert_eq!(file_len(&seg0), 0);
    assert_eq!(file_len(&seg1), 0);
    handle.shutdown().await;

    // Replaying the same records again (a crash before the truncation
    // reached the disk) stores nothing twice.
    std::fs::write(&seg1, write(1, &events[..3])).expect("write");
    std::fs::write(&seg0, &torn).expect("write");
    let (_sink, handle) = EventSink::open(app.store.clone(), &base, SinkOptions::default())
        .await
        .expect("open again");
    assert_eq!(stored(&app, rid).await, want);
    handle.shutdown().await;
}

#[tokio::test]
async fn segments_are_reused_or_truncated_only_once_folded() {
    let app = TestApp::new().await;
    let rid = recipient(&app).await;
    let dir = tempfile::tempdir().expect("dir");
    let base = dir.path().join("events.journal");
    let options = SinkOptions {
        segment_bytes: 2048,
        ..SinkOptions::default()
    };

    // The store is down: nothing folds, so no segment may be reused and
    // every answered event must still be in the journal.
    // Its pool on the same database file is closed.
    let down = SqliteStore::connect(&app.db_url)
        .await
        .expect("second pool");
    down.close().await;
    let (sink, handle) = EventSink::spawn(Arc::new(down), &base, options).expect("sink");
    let mut want = Vec::new();
    for n in 0..60 {
        let e = opened(rid, n);
        want.push(e.id);
        sink.record(e).await.expect("durable without the store");
    }
    assert!(stored(&app, rid).await.is_empty());
    assert_eq!(
        sink.unfolded_events(),
        60,
        "the fold lag while the store is down"
    );
    assert_eq!(
        journaled(&base),
        want,
        "a segment was reused before folding"
    );
    // Shutdown cannot fold: the journal is kept, not truncated.
    handle.shutdown().await;
    assert_eq!(journaled(&base), want);

    // Back up: the next start replays everything once.
    let (sink, handle) = EventSink::open(app.store.clone(), &base, options)
        .await
        .expect("open");
    assert_eq!(stored(&app, rid).await, want);

    // With the store up, segments are reused as folding catches up: the
    // files stay small however many events pass through.
    for round in 0..20 {
        let batch: Vec<NewEvent> = (0..10)
            .map(|n| opened(rid, 1000 + round * 10 + n))
            .collect();
        let mut tasks = Vec::new();
        for e in batch {
            want.push(e.id);
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move { sink.record(e).await }));
        }
        for t in tasks {
            t.await.expect("task").expect("durable");
        }
        stored_eventually(&app, rid, want.len()).await;
    }
    let mut got = stored(&app, rid).await;
    got.sort();
    let mut all = want.clone();
    all.sort();
    assert_eq!(got, all);
    // What the journal still holds is a subset of what was stored: the
    // current uses of the two segments (about 2 kB each, ~8 records, plus
    // the batch that crossed the limit), not the 200 records written.
    let left = journaled(&base);
    assert!(left.iter().all(|id| all.contains(id)));
    // Everything is stored: the fold lag drops back to zero.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sink.unfolded_events() != 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "fold lag stuck at {}",
            sink.unfolded_events()
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        left.len() < 50,
        "{} records still in the journal",
        left.len()
    );
    handle.shutdown().await;
    assert!(journaled(&base).is_empty());
}

//! Durable tracking events through an append-only journal, folded into the
//! store behind the answers.
//!
//! A tracking request is answered only once its event is durable: every
//! answered hit survives a crash. Committing each batch to the database
//! before answering made the pixel CPU-bound on thread hand-offs (a channel
//! to a sink task, five round trips per batch to sqlx's SQLite thread, a
//! oneshot per event; docs/performance.md, "Tracking pixel"). Instead:
//!
//! 1. [`EventSink::record`] serialises the event, then, under one short
//!    mutex, takes the next sequence number and appends a framed record
//!    (length, CRC-32, sequence number, JSON; [`format`]) to a
//!    shared buffer. It then waits on a `watch` channel for the durable
//!    sequence number to reach its own. No per-event channel or oneshot.
//! 2. One OS thread (the writer) swaps the buffer out, writes it to the
//!    journal file and calls `fdatasync` (`File::sync_data`), then publishes
//!    the highest durable sequence number: every handler whose record was in
//!    the batch wakes and answers. While it syncs, the next batch
//!    accumulates (group commit without a timer).
//! 3. The writer hands each durable batch's events to one async task (the
//!    folder), which writes whatever has accumulated to the store with
//!    `TrackingStore::record_events`, up to `max_batch` events per transaction.
//!    `record_events` is idempotent by event id (it inserts with `RETURNING`
//!    and applies only new ids), so folding a record twice, e.g. replaying
//!    it after a crash, counts it once. A failed fold is retried with
//!    backoff; its records stay in the journal meanwhile.
//!
//! The journal is two segment files (`PATH.0`, `PATH.1`). Overwriting
//! already-allocated blocks makes `fdatasync` a data flush only; appending
//! to a growing file also commits the file system's metadata (measured on
//! the development VM's ext4: 0.4-1.4 ms against 4.5-6 ms per sync). So a
//! segment grows in zero-filled 1 MiB steps and is reused from its start
//! instead of being truncated: once the active segment holds more than
//! [`SEGMENT_BYTES`], the writer switches to the other one as soon as
//! everything written to that one has been folded (or rewinds the active
//! one when it is entirely folded and the server is idle). Records of the
//! earlier use left behind the new tail are recognised by their sequence
//! numbers and never read back.
//!
//! Start-up ([`EventSink::open`]) replays both segments' complete, CRC-valid
//! records into the store before the HTTP listener serves (a torn tail was
//! never acknowledged: reading stops there and logs it), then truncates
//! them. Shutdown ([`SinkHandle::shutdown`]) refuses new events, writes and
//! syncs what is buffered, folds everything, and truncates the segments.
//!
//! Read-your-write: an event reaches the store (the API, the dashboard, the
//! live feed) a few milliseconds after its request was answered, once the
//! folder has committed it. Durability does not depend on it: a crash in
//! between loses nothing, the next start replays the journal.
//!
//! Backpressure: a request waits (it is not refused, nothing acknowledged is
//! dropped) while `capacity` events are buffered for the writer; the writer
//! waits while more than eight times `capacity` written events are not
//! yet folded (the store is slow or down), so memory stays bounded.

pub mod format;

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle as ThreadHandle;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::{NewEvent, TrackingStore};

use format as journal;

/// By default a segment in use is left for the other one once it holds
/// this many bytes (and the other one is entirely folded).
pub const SEGMENT_BYTES: u64 = 4 << 20;

/// A segment grows in steps of this many zeroed bytes, so that most syncs
/// overwrite allocated blocks.
const GROW_BYTES: u64 = 1 << 20;

/// How long the idle writer sleeps before looking at folding progress.
const IDLE_TICK: Duration = Duration::from_millis(100);

/// Why an event was not made durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The sink has shut down.
    #[error("event sink closed")]
    Closed,
    /// Writing or syncing the journal failed; the event is not durable.
    #[error("event not written to the journal: {0}")]
    Journal(String),
    /// Replaying the journal into the store failed at start-up.
    #[error("journal replay: {0}")]
    Replay(String),
}

/// Tuning of the sink.
#[derive(Debug, Clone, Copy)]
pub struct SinkOptions {
    /// Events buffered for the journal writer before requests wait.
    pub capacity: usize,
    /// Most events per store transaction when folding.
    pub max_batch: usize,
    /// How long the folder waits for more events when it has fewer than
    /// `max_batch`.
    pub max_wait: Duration,
    /// Bytes after which the writer moves to the other journal segment
    /// (once that one is entirely folded); [`SEGMENT_BYTES`] by default.
    pub segment_bytes: u64,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            capacity: 8192,
            max_batch: 4096,
            max_wait: Duration::from_millis(1),
            segment_bytes: SEGMENT_BYTES,
        }
    }
}

/// What the writer has settled: every record up to `settled` is durable
/// unless it is in one of the `failed` ranges.
#[derive(Debug, Clone, Default)]
struct Progress {
    settled: u64,
    /// Inclusive ranges of sequence numbers whose write failed, with why;
    /// adjacent failures are merged.
    failed: Arc<Vec<(u64, u64, Arc<str>)>>,
}

impl Progress {
    fn failure_of(&self, seq: u64) -> Option<&str> {
        self.failed
            .iter()
            .rev()
            .find(|(a, b, _)| (*a..=*b).contains(&seq))
            .map(|(_, _, why)| &**why)
    }
}

/// Records waiting for the writer.
#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    events: Vec<NewEvent>,
    /// Sequence number of the last record appended.
    last_seq: u64,
    /// Set on shutdown: no more records are taken.
    closed: bool,
    /// The writer is waiting on the condition variable.
    writer_idle: bool,
}

struct Shared {
    buffer: Mutex<Buffer>,
    wake: Condvar,
    capacity: usize,
    /// Highest batch number whose events the folder has stored.
    folded_batch: AtomicU64,
    /// Events the folder has stored.
    folded_events: AtomicU64,
    /// Events the writer has made durable in the journal.
    written_events: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        self.buffer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}

/// The recording side, cloned into every handler.
#[derive(Clone)]
pub struct EventSink {
    shared: Arc<Shared>,
    progress: watch::Receiver<Progress>,
}

impl std::fmt::Debug for EventSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSink")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

/// The writer thread's and folder task's handle, for shutdown. Dropping it
/// also stops the sink (without waiting).
pub struct SinkHandle {
    shared: Arc<Shared>,
    writer: Option<ThreadHandle<Vec<PathBuf>>>,
    folder: Option<JoinHandle<bool>>,
    /// Holds the journal's advisory lock until the handle is gone.
    _lock: File,
}

impl std::fmt::Debug for SinkHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkHandle")
            .field("writer", &self.writer)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl Drop for SinkHandle {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl SinkHandle {
    /// Stops taking new events, makes everything buffered durable, folds
    /// every journal record into the store and then truncates the journal;
    /// returns once done. Records that could not be folded (the store is
    /// failing) stay in the journal for the next start's replay.
    pub async fn shutdown(mut self) {
        self.shared.close();
        let folded = match self.folder.take() {
            Some(f) => f.await.unwrap_or_else(|e| {
                tracing::error!(error = %e, "event folding task failed");
                false
            }),
            None => false,
        };
        let Some(writer) = self.writer.take() else {
            return;
        };
        let paths = match tokio::task::spawn_blocking(move || writer.join()).await {
            Ok(Ok(paths)) => paths,
            _ => {
                tracing::error!("event journal writer failed; the journal is kept for replay");
                return;
            }
        };
        if !folded {
            tracing::warn!("not every journal record reached the store; kept for the next start");
            return;
        }
        let truncated =
            tokio::task::spawn_blocking(move || paths.iter().try_for_each(|p| truncate(p))).await;
        if !matches!(truncated, Ok(Ok(()))) {
            tracing::warn!("truncating the event journal failed; it is replayed at the next start");
        }
    }
}

impl EventSink {
    /// Replays the journal at `path` into `store` (see the module
    /// documentation), truncates it, and starts the sink on it. Call before
    /// the HTTP listener serves.
    ///
    /// A journal belongs to one process at a time (an advisory lock on
    /// `PATH.lock`); when another server on the same data dir holds it,
    /// this one takes the next free journal, `PATH-1`, `PATH-2` and so on
    /// (and replays what a crashed server left there).
    pub async fn open(
        store: Arc<dyn TrackingStore>,
        path: &Path,
        options: SinkOptions,
    ) -> Result<(Self, SinkHandle), SinkError> {
        let (path, lock) = claim(path)?;
        let last_seq = replay(store.as_ref(), &path, options.max_batch).await?;
        Self::start(store, &path, lock, options, last_seq)
    }

    /// Starts the sink on an empty (or missing) journal at `path`; refuses
    /// a journal that holds records ([`EventSink::open`] replays them).
    pub fn spawn(
        store: Arc<dyn TrackingStore>,
        path: &Path,
        options: SinkOptions,
    ) -> Result<(Self, SinkHandle), SinkError> {
        let (path, lock) = claim(path)?;
        for p in journal::segment_paths(&path) {
            if std::fs::metadata(&p).is_ok_and(|m| m.len() > 0) {
                return Err(SinkError::Replay(format!(
                    "{} holds records: open the sink with replay",
                    p.display()
                )));
            }
        }
        Self::start(store, &path, lock, options, 0)
    }

    fn start(
        store: Arc<dyn TrackingStore>,
        path: &Path,
        lock: File,
        options: SinkOptions,
        last_seq: u64,
    ) -> Result<(Self, SinkHandle), SinkError> {
        let io = |e: std::io::Error| SinkError::Journal(format!("{}: {e}", path.display()));
        let segments = journal::segment_paths(path)
            .into_iter()
            .map(Segment::open)
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(io)?;
        sync_dir(path).map_err(io)?;
        let capacity = options.capacity.max(1);
        let shared = Arc::new(Shared {
            buffer: Mutex::new(Buffer {
                last_seq,
                ..Buffer::default()
            }),
            wake: Condvar::new(),
            capacity,
            folded_batch: AtomicU64::new(0),
            folded_events: AtomicU64::new(0),
            written_events: AtomicU64::new(0),
        });
        let (progress_tx, progress) = watch::channel(Progress {
            settled: last_seq,
            failed: Arc::default(),
        });
        let (fold_tx, fold_rx) = mpsc::unbounded_channel();
        let folder = tokio::spawn(fold(store, fold_rx, shared.clone(), options));
        let writer = Writer {
            shared: shared.clone(),
            segments,
            active: 0,
            batch: 0,
            written_events: 0,
            unfolded_limit: (capacity as u64).saturating_mul(8),
            segment_bytes: options.segment_bytes.max(1),
            progress: progress_tx,
            fold: fold_tx,
        };
        let writer = std::thread::Builder::new()
            .name("event-journal".into())
            .spawn(move || writer.run())
            .map_err(io)?;
        Ok((
            Self {
                shared: shared.clone(),
                progress,
            },
            SinkHandle {
                shared,
                writer: Some(writer),
                folder: Some(folder),
                _lock: lock,
            },
        ))
    }

    /// The fold lag: events durable in the journal that the store does not
    /// hold yet. It stays near zero while the store keeps up; it grows
    /// while the store is slow or down (monitoring, `GET /metrics`).
    pub fn unfolded_events(&self) -> u64 {
        let folded = self.shared.folded_events.load(Ordering::Acquire);
        let written = self.shared.written_events.load(Ordering::Acquire);
        written.saturating_sub(folded)
    }

    /// Appends `event` to the journal and waits until it is durable (or its
    /// write failed). The store sees it shortly after (see the module
    /// documentation).
    pub async fn record(&self, event: NewEvent) -> Result<(), SinkError> {
        let payload =
            journal::encode(&event).map_err(|e| SinkError::Journal(format!("encoding: {e}")))?;
        let crc = journal::payload_crc(&payload);
        let seq = loop {
            {
                let mut b = self.shared.lock();
                if b.closed {
                    return Err(SinkError::Closed);
                }
                if b.events.len() < self.shared.capacity {
                    b.last_seq += 1;
                    let seq = b.last_seq;
                    journal::push_frame(&mut b.bytes, seq, &payload, crc);
                    b.events.push(event);
                    if b.writer_idle {
                        b.writer_idle = false;
                        self.shared.wake.notify_one();
                    }
                    break seq;
                }
            }
            // Full: wait until the writer has taken a batch.
            let mut rx = self.progress.clone();
            rx.mark_unchanged();
            rx.changed().await.map_err(|_| SinkError::Closed)?;
        };
        let mut rx = self.progress.clone();
        let progress = rx
            .wait_for(|p| p.settled >= seq)
            .await
            .map_err(|_| SinkError::Closed)?;
        match progress.failure_of(seq) {
            Some(why) => Err(SinkError::Journal(why.to_owned())),
            None => Ok(()),
        }
    }
}

/// A durable batch on its way to the store.
struct Folding {
    batch: u64,
    events: Vec<NewEvent>,
}

/// One segment file.
struct Segment {
    path: PathBuf,
    file: File,
    /// Bytes of the current use (header included); 0: not in use, the next
    /// write starts with a header.
    used: u64,
    /// The file's length (zeroed beyond `used`).
    len: u64,
    /// Last batch written in the current use.
    last_batch: u64,
}

impl Segment {
    fn open(path: PathBuf) -> std::io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        let len = file.metadata()?.len();
        Ok(Self {
            path,
            file,
            used: 0,
            len,
            last_batch: 0,
        })
    }

    /// Writes `bytes` (records from `first_seq`) after the current use's
    /// tail, growing the file in zeroed steps, and syncs the data.
    fn append(&mut self, bytes: &[u8], first_seq: u64) -> std::io::Result<()> {
        let mut at = self.used;
        self.file.seek(SeekFrom::Start(at))?;
        if at == 0 {
            self.file.write_all(&journal::header(first_seq))?;
            at = journal::HEADER_LEN as u64;
        }
        self.file.write_all(bytes)?;
        let end = at + bytes.len() as u64;
        if end > self.len {
            let grown = end.div_ceil(GROW_BYTES) * GROW_BYTES;
            let zeros = vec![0u8; (grown - end) as usize];
            self.file.write_all(&zeros)?;
            self.len = grown;
        }
        self.file.sync_data()?;
        self.used = end;
        Ok(())
    }

    /// Starts a new use from the file's start (everything in it is folded).
    /// A file that grew beyond `shrink_above` (the store lagged) is given
    /// back to the file system.
    fn rewind(&mut self, shrink_above: u64) {
        self.used = 0;
        if self.len > shrink_above && self.file.set_len(0).is_ok() {
            self.len = 0;
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    segments: Vec<Segment>,
    active: usize,
    /// Number of the last batch written.
    batch: u64,
    written_events: u64,
    unfolded_limit: u64,
    segment_bytes: u64,
    progress: watch::Sender<Progress>,
    fold: mpsc::UnboundedSender<Folding>,
}

impl Writer {
    /// Writes batches until the sink is closed and drained; returns the
    /// segments' paths.
    fn run(mut self) -> Vec<PathBuf> {
        let mut spare: Vec<u8> = Vec::new();
        let mut backoff = Duration::from_millis(10);
        while let Some((mut bytes, events, last_seq)) = self.next_batch(&mut spare) {
            let first_seq = last_seq + 1 - events.len() as u64;
            self.choose_segment();
            let seg = &mut self.segments[self.active];
            match seg.append(&bytes, first_seq) {
                Ok(()) => {
                    backoff = Duration::from_millis(10);
                    self.batch += 1;
                    seg.last_batch = self.batch;
                    self.written_events += events.len() as u64;
                    self.shared
                        .written_events
                        .store(self.written_events, Ordering::Release);
                    let _ = self.fold.send(Folding {
                        batch: self.batch,
                        events,
                    });
                    self.progress.send_modify(|p| p.settled = last_seq);
                }
                Err(e) => {
                    tracing::error!(
                        error = %e,
                        path = %seg.path.display(),
                        events = events.len(),
                        "event journal write failed; these events are not recorded"
                    );
                    // The next batch overwrites the failed one's place.
                    let why: Arc<str> = Arc::from(e.to_string());
                    self.progress.send_modify(|p| {
                        let mut failed = (*p.failed).clone();
                        match failed.last_mut() {
                            Some(last) if last.1 + 1 == first_seq => {
                                last.1 = last_seq;
                                last.2 = why;
                            }
                            _ => failed.push((first_seq, last_seq, why)),
                        }
                        p.failed = Arc::new(failed);
                        p.settled = last_seq;
                    });
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
            bytes.clear();
            spare = bytes;
        }
        self.segments.into_iter().map(|s| s.path).collect()
    }

    /// The next batch to write: the buffer's bytes, events and last sequence
    /// number. Waits while it is empty, or while too many written events
    /// are not yet folded. `None`: closed and drained.
    fn next_batch(&mut self, spare: &mut Vec<u8>) -> Option<(Vec<u8>, Vec<NewEvent>, u64)> {
        let mut b = self.shared.lock();
        loop {
            let unfolded = self.written_events - self.shared.folded_events.load(Ordering::Acquire);
            let lagging = unfolded >= self.unfolded_limit && !b.closed;
            if !b.events.is_empty() && !lagging {
                let bytes = std::mem::replace(&mut b.bytes, std::mem::take(spare));
                let events = std::mem::take(&mut b.events);
                return Some((bytes, events, b.last_seq));
            }
            if b.closed && b.events.is_empty() {
                return None;
            }
            b.writer_idle = !lagging;
            let (guard, timeout) = self
                .shared
                .wake
                .wait_timeout(b, IDLE_TICK)
                .unwrap_or_else(PoisonError::into_inner);
            b = guard;
            b.writer_idle = false;
            if timeout.timed_out() && b.events.is_empty() {
                drop(b);
                self.rewind_if_folded();
                b = self.shared.lock();
            }
        }
    }

    /// Before a write: leaves a full active segment for the other one once
    /// that one is entirely folded.
    fn choose_segment(&mut self) {
        if self.segments[self.active].used < self.segment_bytes {
            return;
        }
        let folded = self.shared.folded_batch.load(Ordering::Acquire);
        let other = 1 - self.active;
        if self.segments[other].used == 0 || folded >= self.segments[other].last_batch {
            self.segments[other].rewind(4 * self.segment_bytes);
            self.active = other;
        }
    }

    /// While idle: rewinds a full active segment that is entirely folded
    /// (the journal's truncation; see the module documentation).
    fn rewind_if_folded(&mut self) {
        let folded = self.shared.folded_batch.load(Ordering::Acquire);
        let seg = &mut self.segments[self.active];
        if seg.used >= self.segment_bytes && folded >= seg.last_batch {
            seg.rewind(4 * self.segment_bytes);
        }
    }
}

/// Stores durable batches, coalesced up to `max_batch` events per
/// transaction. Returns whether everything written was stored.
async fn fold(
    store: Arc<dyn TrackingStore>,
    mut rx: mpsc::UnboundedReceiver<Folding>,
    shared: Arc<Shared>,
    options: SinkOptions,
) -> bool {
    let max_batch = options.max_batch.max(1);
    let mut pending: Vec<NewEvent> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut last = first.batch;
        pending.extend(first.events);
        let deadline = tokio::time::Instant::now() + options.max_wait;
        while pending.len() < max_batch {
            let next = match rx.try_recv() {
                Ok(f) => Some(f),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) if !options.max_wait.is_zero() => {
                    tokio::time::timeout_at(deadline, rx.recv())
                        .await
                        .ok()
                        .flatten()
                }
                Err(mpsc::error::TryRecvError::Empty) => None,
            };
            let Some(f) = next else { break };
            last = f.batch;
            pending.extend(f.events);
        }
        for chunk in pending.chunks(max_batch) {
            if !store_with_retry(store.as_ref(), chunk, &shared).await {
                return false;
            }
        }
        shared
            .folded_events
            .fetch_add(pending.len() as u64, Ordering::AcqRel);
        shared.folded_batch.store(last, Ordering::Release);
        pending.clear();
        shared.wake.notify_one();
    }
    true
}

/// Writes `events` to the store, retrying with backoff (the journal keeps
/// them meanwhile; event ids make a retry count nothing twice). Gives up
/// only after the sink was closed and three more attempts failed.
async fn store_with_retry(store: &dyn TrackingStore, events: &[NewEvent], shared: &Shared) -> bool {
    let mut delay = Duration::from_millis(50);
    let mut after_close = 0;
    loop {
        match store.record_events(events).await {
            Ok(()) => return true,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    events = events.len(),
                    retry_in_ms = delay.as_millis() as u64,
                    "folding journaled events into the store failed; retrying"
                );
                if shared.lock().closed {
                    after_close += 1;
                    if after_close > 3 {
                        tracing::error!(
                            events = events.len(),
                            "giving up folding at shutdown; the events stay in the journal"
                        );
                        return false;
                    }
                    delay = delay.min(Duration::from_millis(200));
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Stores the journal's complete, CRC-valid records (oldest segment use
/// first), then truncates it. Returns the highest sequence number seen.
async fn replay(
    store: &dyn TrackingStore,
    path: &Path,
    max_batch: usize,
) -> Result<u64, SinkError> {
    let paths = journal::segment_paths(path);
    let mut uses = Vec::new();
    for p in &paths {
        match std::fs::read(p) {
            Ok(bytes) => uses.push((p, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(SinkError::Replay(format!("{}: {e}", p.display()))),
        }
    }
    let mut scans: Vec<(&PathBuf, journal::Scan<'_>)> =
        uses.iter().map(|(p, b)| (*p, journal::scan(b))).collect();
    scans.sort_by_key(|(_, s)| s.first_seq);
    let mut events = Vec::new();
    let mut last_seq = 0;
    for (p, scan) in &scans {
        if let journal::End::Torn { offset, why } = &scan.end {
            tracing::info!(
                path = %p.display(),
                offset,
                why,
                records = scan.records.len(),
                "event journal: reading stopped (a write torn by a crash, never acknowledged, or an earlier use's records)"
            );
        }
        for (seq, payload) in &scan.records {
            last_seq = last_seq.max(*seq);
            match journal::decode(payload) {
                Ok(e) => events.push(e),
                Err(e) => tracing::error!(
                    path = %p.display(),
                    seq,
                    error = %e,
                    "event journal: a CRC-valid record does not decode; skipped"
                ),
            }
        }
    }
    if !events.is_empty() {
        for chunk in events.chunks(max_batch.max(1)) {
            store
                .record_events(chunk)
                .await
                .map_err(|e| SinkError::Replay(e.to_string()))?;
        }
        tracing::info!(
            events = events.len(),
            "event journal replayed into the store"
        );
    }
    for p in &paths {
        if p.exists() {
            truncate(p).map_err(|e| SinkError::Replay(format!("{}: {e}", p.display())))?;
        }
    }
    Ok(last_seq)
}

/// The first journal at `base`, `base-1`, `base-2`... that no other
/// process holds, locked for this one.
fn claim(base: &Path) -> Result<(PathBuf, File), SinkError> {
    let err =
        |p: &Path, e: &dyn std::fmt::Display| SinkError::Journal(format!("{}: {e}", p.display()));
    for slot in 0..64u32 {
        let path = if slot == 0 {
            base.to_path_buf()
        } else {
            let mut s = base.as_os_str().to_owned();
            s.push(format!("-{slot}"));
            PathBuf::from(s)
        };
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| err(&lock_path, &e))?;
        match file.try_lock() {
            Ok(()) => return Ok((path, file)),
            Err(std::fs::TryLockError::WouldBlock) => continue,
            Err(std::fs::TryLockError::Error(e)) => return Err(err(&lock_path, &e)),
        }
    }
    Err(SinkError::Journal(format!(
        "{}: 64 journals in use by other processes",
        base.display()
    )))
}

fn truncate(path: &Path) -> std::io::Result<()> {
    let f = OpenOptions::new().write(true).open(path)?;
    f.set_len(0)?;
    f.sync_all()
}

/// Makes the segment files' directory entries durable.
#[cfg(unix)]
fn sync_dir(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => File::open(dir)?.sync_all(),
        _ => File::open(".")?.sync_all(),
    }
}

#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

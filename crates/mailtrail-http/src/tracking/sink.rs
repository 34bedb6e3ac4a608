//! Group commit for tracking events.
//!
//! Each tracking request hands its event to one sink task over a bounded
//! channel and waits for the acknowledgement. The task takes everything
//! queued (up to `max_batch`, waiting at most `max_wait` for more), writes
//! the batch with one `record_events` transaction (one fsync instead of one
//! per request), then acknowledges every event of the batch. A request is
//! therefore answered only once its event is durable. A full channel makes
//! senders wait (backpressure); nothing acknowledged is ever dropped. On
//! shutdown the task stops taking new work and commits what is queued.

use std::sync::Arc;
use std::time::Duration;

use mailtrail_store::{NewEvent, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Why an event was not made durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// The sink has shut down.
    #[error("event sink closed")]
    Closed,
    /// The batch's transaction failed.
    #[error("event batch not stored: {0}")]
    Store(String),
}

type Item = (NewEvent, oneshot::Sender<Result<(), SinkError>>);

/// Tuning of the sink.
#[derive(Debug, Clone, Copy)]
pub struct SinkOptions {
    /// Events the channel holds before senders wait.
    pub capacity: usize,
    /// Most events per transaction.
    pub max_batch: usize,
    /// How long a batch that is not full waits for more events.
    pub max_wait: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            capacity: 8192,
            max_batch: 1024,
            max_wait: Duration::from_millis(1),
        }
    }
}

/// The sending side, cloned into every handler.
#[derive(Clone, Debug)]
pub struct EventSink {
    tx: mpsc::Sender<Item>,
}

/// The task's handle, for shutdown.
#[derive(Debug)]
pub struct SinkHandle {
    stop: oneshot::Sender<()>,
    join: JoinHandle<()>,
}

impl SinkHandle {
    /// Stops taking new events, commits everything queued, and returns
    /// once the last batch is stored.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.join.await {
            tracing::error!(error = %e, "event sink task failed");
        }
    }
}

impl EventSink {
    /// Starts the sink task on the current runtime.
    pub fn spawn(store: Arc<dyn Store>, options: SinkOptions) -> (Self, SinkHandle) {
        let (tx, rx) = mpsc::channel(options.capacity.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let join = tokio::spawn(run(store, options, rx, stop_rx));
        (
            Self { tx },
            SinkHandle {
                stop: stop_tx,
                join,
            },
        )
    }

    /// Queues `event` and waits until it is stored (or its batch failed).
    pub async fn record(&self, event: NewEvent) -> Result<(), SinkError> {
        let (ack_tx, ack_rx) = oneshot::channel();
        self.tx
            .send((event, ack_tx))
            .await
            .map_err(|_| SinkError::Closed)?;
        ack_rx.await.map_err(|_| SinkError::Closed)?
    }
}

async fn run(
    store: Arc<dyn Store>,
    options: SinkOptions,
    mut rx: mpsc::Receiver<Item>,
    mut stop: oneshot::Receiver<()>,
) {
    let max_batch = options.max_batch.max(1);
    let mut batch: Vec<Item> = Vec::with_capacity(max_batch);
    loop {
        let first = tokio::select! {
            biased;
            _ = &mut stop => break,
            item = rx.recv() => match item {
                Some(item) => item,
                None => return,
            },
        };
        batch.push(first);
        fill(&mut rx, &mut batch, max_batch, options.max_wait).await;
        commit(store.as_ref(), &mut batch).await;
    }
    // Shutdown: refuse new events, then store every queued one.
    rx.close();
    while let Some(item) = rx.recv().await {
        batch.push(item);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        commit(store.as_ref(), &mut batch).await;
    }
}

/// Adds what is already queued, then waits up to `max_wait` for more while
/// the batch is not full.
async fn fill(rx: &mut mpsc::Receiver<Item>, batch: &mut Vec<Item>, max: usize, wait: Duration) {
    let deadline = tokio::time::Instant::now() + wait;
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(mpsc::error::TryRecvError::Disconnected) => return,
            Err(mpsc::error::TryRecvError::Empty) => {
                if wait.is_zero() {
                    return;
                }
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(item)) => batch.push(item),
                    Ok(None) | Err(_) => return,
                }
            }
        }
    }
}

async fn commit(store: &dyn Store, batch: &mut Vec<Item>) {
    let events: Vec<NewEvent> = batch.iter().map(|(e, _)| e.clone()).collect();
    let mut result = store.record_events(&events).await;
    if let Err(e) = &result {
        // One retry: event ids make the write idempotent, so a batch whose
        // commit outcome was unclear is not counted twice.
        tracing::warn!(error = %e, events = events.len(), "event batch failed; retrying once");
        result = store.record_events(&events).await;
    }
    let outcome = result.map_err(|e| {
        tracing::error!(error = %e, events = events.len(), "event batch not stored");
        SinkError::Store(e.to_string())
    });
    for (_, ack) in batch.drain(..) {
        let _ = ack.send(outcome.clone());
    }
}

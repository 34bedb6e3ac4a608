//! Wake-ups for readers of the event log.

/// Wakes readers of the event log (the dashboard's live feed) when a
/// transaction that recorded events has committed on this node, so that
/// they need not poll the database to see a hit within milliseconds.
/// Other nodes sharing a PostgreSQL database do not see these wake-ups:
/// readers keep a slower poll for their events.
#[derive(Debug, Clone)]
pub(crate) struct EventSignal(std::sync::Arc<tokio::sync::watch::Sender<u64>>);

impl EventSignal {
    pub(crate) fn new() -> Self {
        Self(std::sync::Arc::new(tokio::sync::watch::channel(0).0))
    }

    /// Called after the commit: every receiver sees a change.
    pub(crate) fn bump(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.subscribe()
    }
}

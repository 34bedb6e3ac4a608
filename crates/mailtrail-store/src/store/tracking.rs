//! The [`TrackingStore`] trait.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::StoreError;
use crate::model::NewEvent;

/// Tracking events: the facts recorded about recipients, folded into their
/// cached status by the domain rule (`mailtrail_domain::RecipientState`), and
/// their retention. `record_events` is the hot path of the tracking endpoints
/// (group commit from the event journal).
#[async_trait]
pub trait TrackingStore: Send + Sync {
    /// Changes after every commit of this store value that recorded events
    /// (on this node only), so that the live feed reads new events at once
    /// instead of polling. A store that cannot tell returns a receiver
    /// whose sender is gone; callers then poll.
    fn event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        tokio::sync::watch::channel(0).1
    }

    /// Records an event and updates the recipient's derived status (and its
    /// reason, when the event has one).
    async fn record_event(&self, event: &NewEvent) -> Result<(), StoreError>;

    /// Records many events in one transaction (group commit).
    async fn record_events(&self, events: &[NewEvent]) -> Result<(), StoreError>;

    /// Deletes detailed events older than `before`; recipients keep their
    /// derived status and counts. Returns how many events went.
    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

//! The [`DashboardStore`] trait.

use async_trait::async_trait;
use mailtrail_domain::{EmailAddress, EventKind};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::model::{DayStats, FeedEvent};

/// Read-only views for the dashboard: the live feed, daily figures and one
/// contact's timeline.
#[async_trait]
pub trait DashboardStore: Send + Sync {
    /// The organisation's events of the given kinds with an id above
    /// `after` (ids are UUIDv7: time-ordered), oldest first, at most
    /// `limit`. The live feed reads this when [`TrackingStore::event_signal`](crate::TrackingStore::event_signal) changes.
    async fn events_after(
        &self,
        org_id: Uuid,
        after: Uuid,
        kinds: &[EventKind],
        limit: u32,
    ) -> Result<Vec<FeedEvent>, StoreError>;

    /// Per UTC day in `[since, until)`, how many recipients of the
    /// organisation were sent, delivered, failed, opened by a person,
    /// opened by a machine, clicked and replied (days without events are
    /// left out), oldest first.
    async fn daily_stats(
        &self,
        org_id: Uuid,
        since: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<DayStats>, StoreError>;

    /// Every kept event of every recipient of the organisation's messages
    /// whose address is `address` (compared normalised, as suppressions
    /// are), newest first, at most `limit`: one contact's timeline across
    /// messages.
    async fn contact_events(
        &self,
        org_id: Uuid,
        address: &EmailAddress,
        limit: u32,
    ) -> Result<Vec<FeedEvent>, StoreError>;
}

//! The [`WebhookStore`] trait.

use async_trait::async_trait;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::StoreError;
use crate::webhook::*;

/// Webhook endpoints and their durable delivery queue (DESIGN.md section 4,
/// flow 8). Deliveries are queued by the methods that record events, in
/// the same transaction; these are the rest: endpoints, the log, replay,
/// and the dispatcher's claim-and-record cycle, whose lease makes sure
/// that two nodes never send the same attempt.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    /// Adds an endpoint.
    async fn create_webhook_endpoint(
        &self,
        endpoint: &NewWebhookEndpoint,
    ) -> Result<(), StoreError>;

    /// The organisation's endpoints, oldest first.
    async fn webhook_endpoints(&self, org_id: Uuid) -> Result<Vec<WebhookEndpoint>, StoreError>;

    /// One of the organisation's endpoints.
    async fn webhook_endpoint(
        &self,
        org_id: Uuid,
        id: Uuid,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;

    /// Changes one of the organisation's endpoints; the endpoint as it is
    /// now, or `None` when there is no such endpoint. Turning it on again
    /// forgets why it was turned off and since when it was failing.
    async fn update_webhook_endpoint(
        &self,
        org_id: Uuid,
        id: Uuid,
        update: &WebhookEndpointUpdate,
        now: OffsetDateTime,
    ) -> Result<Option<WebhookEndpoint>, StoreError>;

    /// Removes an endpoint with its deliveries; whether it was there.
    async fn delete_webhook_endpoint(&self, org_id: Uuid, id: Uuid) -> Result<bool, StoreError>;

    /// The endpoint's deliveries, newest first, with their attempts; only
    /// those with an id below `before` when given (keyset pagination).
    /// `None` when the organisation has no such endpoint.
    async fn webhook_deliveries(
        &self,
        org_id: Uuid,
        endpoint_id: Uuid,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Option<Vec<WebhookDelivery>>, StoreError>;

    /// Queues one delivery again, due at `now`, with a fresh schedule;
    /// whether there was such a delivery.
    async fn replay_webhook_delivery(
        &self,
        org_id: Uuid,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Queues again every delivery of the endpoint queued at or after
    /// `since` and not pending, due at `now`; how many. `None` when the
    /// organisation has no such endpoint.
    async fn replay_webhook_deliveries_since(
        &self,
        org_id: Uuid,
        endpoint_id: Uuid,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<Option<u64>, StoreError>;

    /// Claims up to `limit` deliveries due at `now` of enabled endpoints,
    /// for `worker`, until `now + lease`: no other worker takes them
    /// before then (`FOR UPDATE SKIP LOCKED` on PostgreSQL, the single
    /// writer on SQLite).
    async fn claim_webhook_deliveries(
        &self,
        worker: &str,
        now: OffsetDateTime,
        lease: time::Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records an attempt and its consequences for the delivery and the
    /// endpoint, in one transaction, if `worker` still holds the delivery;
    /// whether it did (a worker whose lease ran out records nothing).
    async fn record_webhook_attempt(
        &self,
        worker: &str,
        record: &AttemptRecord,
    ) -> Result<bool, StoreError>;

    /// Releases the deliveries claimed under `worker` (a node starting
    /// again after a crash); how many.
    async fn release_webhook_leases(&self, worker: &str) -> Result<u64, StoreError>;

    /// Deliveries waiting for an attempt, for monitoring.
    async fn pending_webhook_deliveries(&self) -> Result<u64, StoreError>;
}

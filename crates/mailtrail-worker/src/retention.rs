//! Retention (DESIGN.md section 3): detailed history is kept for a
//! configured number of days, then purged; recipients keep their final
//! status and counts.

use std::sync::Arc;
use std::time::Duration;

use mailtrail_store::prelude::*;
use tokio::sync::watch;

/// How often the purge runs.
const PERIOD: Duration = Duration::from_secs(3600);

/// Purges detailed events older than `days`, hourly, and the raw copies
/// of inbound mail processed before that (the events they gave stay),
/// until `stop` turns true. A failed purge is logged and tried again at
/// the next hour: nothing depends on it finishing.
pub async fn run(store: Arc<dyn Store>, days: u32, mut stop: watch::Receiver<bool>) {
    loop {
        let cutoff = time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days));
        match store.purge_events(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events.purged = n, "retention: purged old events"),
            Err(e) => tracing::warn!(error = %e, "retention: purge failed"),
        }
        match store.purge_inbound(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                inbound.purged = n,
                "retention: purged processed inbound mail"
            ),
            Err(e) => tracing::warn!(error = %e, "retention: inbound purge failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PERIOD) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

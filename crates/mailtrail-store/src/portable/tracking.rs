//! [`TrackingStore`](crate::TrackingStore): the same SQL on both backends.

/// Implements [`TrackingStore`](crate::TrackingStore) for `$store`, inside the
/// backend's module, with its helpers (see [`crate::portable`]).
macro_rules! tracking_store {
    ($store:ident) => {
        mod portable_tracking {
            use super::*;

            #[async_trait::async_trait]
            impl TrackingStore for super::$store {
                fn event_signal(&self) -> tokio::sync::watch::Receiver<u64> {
                    self.signal.subscribe()
                }

                async fn record_event(&self, event: &NewEvent) -> Result<(), StoreError> {
                    let mut tx = self.write().await?;
                    apply_events(&mut tx, std::slice::from_ref(event), false).await?;
                    tx.commit().await?;
                    self.signal.bump();
                    Ok(())
                }

                async fn record_events(&self, events: &[NewEvent]) -> Result<(), StoreError> {
                    if events.is_empty() {
                        return Ok(());
                    }
                    let mut tx = self.write().await?;
                    apply_events(&mut tx, events, true).await?;
                    tx.commit().await?;
                    self.signal.bump();
                    Ok(())
                }

                async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
                    self.delete_events_before(before).await
                }
            }
        }
    };
}
pub(crate) use tracking_store;

//! [`DashboardStore`](crate::DashboardStore): the same SQL on both backends.

/// Implements [`DashboardStore`](crate::DashboardStore) for `$store`, on database `$db`, inside the
/// backend's module, with its helpers (see [`crate::portable`]).
macro_rules! dashboard_store {
    ($store:ident, $db:ty) => {
        mod portable_dashboard {
            use super::*;

            #[async_trait::async_trait]
            impl DashboardStore for super::$store {
                async fn events_after(
                    &self,
                    org_id: Uuid,
                    after: Uuid,
                    kinds: &[EventKind],
                    limit: u32,
                ) -> Result<Vec<FeedEvent>, StoreError> {
                    if kinds.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT e.*, r.address, m.subject FROM events e \
                         JOIN recipients r ON r.id = e.recipient_id \
                         JOIN messages m ON m.id = e.message_id WHERE e.org_id = ",
                    );
                    qb.push_bind(org_id);
                    qb.push(" AND e.id > ").push_bind(after);
                    qb.push(" AND e.kind IN (");
                    let mut sep = qb.separated(", ");
                    for k in kinds {
                        sep.push_bind(k.as_str());
                    }
                    qb.push(") ORDER BY e.id LIMIT ")
                        .push_bind(i64::from(limit.clamp(1, 1000)));
                    let rows = qb.build().fetch_all(&self.pool).await?;
                    rows.iter()
                        .map(|r| {
                            let (recipient_id, event) = event_row(r)?;
                            Ok(FeedEvent {
                                message_id: r.try_get("message_id")?,
                                subject: r.try_get("subject")?,
                                recipient_id,
                                address: r.try_get("address")?,
                                event,
                            })
                        })
                        .collect()
                }

                async fn daily_stats(
                    &self,
                    org_id: Uuid,
                    since: OffsetDateTime,
                    until: OffsetDateTime,
                ) -> Result<Vec<DayStats>, StoreError> {
                    let rows = sqlx::query(
                        "SELECT at / 86400000 AS day, \
                         COUNT(DISTINCT CASE WHEN kind IN ('sent', 'delivered') THEN recipient_id END) AS sent, \
                         COUNT(DISTINCT CASE WHEN kind = 'delivered' THEN recipient_id END) AS delivered, \
                         COUNT(DISTINCT CASE WHEN kind = 'failed' THEN recipient_id END) AS failed, \
                         COUNT(DISTINCT CASE WHEN kind = 'opened' AND opener IN ('human', 'proxy') \
                             THEN recipient_id END) AS opened, \
                         COUNT(DISTINCT CASE WHEN kind = 'opened' AND opener = 'machine' \
                             THEN recipient_id END) AS machine_opened, \
                         COUNT(DISTINCT CASE WHEN kind = 'clicked' AND (opener IS NULL OR opener IN ('human', 'proxy')) \
                             THEN recipient_id END) AS clicked, \
                         COUNT(DISTINCT CASE WHEN kind = 'replied' THEN recipient_id END) AS replied \
                         FROM events WHERE org_id = $1 AND at >= $2 AND at < $3 \
                         GROUP BY at / 86400000 ORDER BY day",
                    )
                    .bind(org_id)
                    .bind(to_ms(since))
                    .bind(to_ms(until))
                    .fetch_all(&self.pool)
                    .await?;
                    let n = |r: &<$db as sqlx::Database>::Row, c: &str| -> Result<u64, StoreError> {
                        let v: i64 = r.try_get(c)?;
                        Ok(u64::try_from(v).unwrap_or(0))
                    };
                    rows.iter()
                        .map(|r| {
                            Ok(DayStats {
                                day: r.try_get("day")?,
                                sent: n(r, "sent")?,
                                delivered: n(r, "delivered")?,
                                failed: n(r, "failed")?,
                                opened: n(r, "opened")?,
                                machine_opened: n(r, "machine_opened")?,
                                clicked: n(r, "clicked")?,
                                replied: n(r, "replied")?,
                            })
                        })
                        .collect()
                }

                async fn contact_events(
                    &self,
                    org_id: Uuid,
                    address: &EmailAddress,
                    limit: u32,
                ) -> Result<Vec<FeedEvent>, StoreError> {
                    // recipients_org_address finds the contact's recipients, and
                    // events_recipient their events.
                    let rows = sqlx::query(
                        "SELECT e.id, e.recipient_id, e.kind, e.at, e.opener, e.reason, e.data, \
                         r.address, r.message_id, m.subject FROM recipients r \
                         JOIN events e ON e.recipient_id = r.id \
                         JOIN messages m ON m.id = r.message_id \
                         WHERE r.org_id = $1 AND r.address_norm = $2 \
                         ORDER BY e.at DESC, e.id DESC LIMIT $3",
                    )
                    .bind(org_id)
                    .bind(address.normalized())
                    .bind(i64::from(limit.clamp(1, 10_000)))
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            let (recipient_id, event) = event_row(r)?;
                            Ok(FeedEvent {
                                message_id: r.try_get("message_id")?,
                                subject: r.try_get("subject")?,
                                recipient_id,
                                address: r.try_get("address")?,
                                event,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}
pub(crate) use dashboard_store;

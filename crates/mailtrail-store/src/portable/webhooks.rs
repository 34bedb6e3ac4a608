//! [`WebhookStore`](crate::WebhookStore) and the queueing of deliveries
//! beside events: the same SQL on both backends, but for two fragments
//! given to the macro: how a claim locks the rows it takes (`FOR UPDATE
//! SKIP LOCKED` on PostgreSQL, so that two nodes never wait for or take
//! the same delivery; nothing on SQLite, whose `BEGIN IMMEDIATE` already
//! makes the claim the only writer) and how a message's metadata is read as
//! text (JSONB on PostgreSQL, text on SQLite).

/// Implements [`WebhookStore`](crate::WebhookStore) for `$store`, a backend
/// on database `$db` with `pool` and `write()`, and defines
/// `queue_webhooks`, which the backend's event-recording code calls inside
/// its transaction.
macro_rules! webhook_store {
    ($store:ident, $db:ty, lock = $lock:literal, metadata = $meta:literal) => {
        pub(super) mod portable_webhooks {
            use std::collections::HashMap;

            use mailtrail_domain::webhook::{EventSelection, WebhookSecret};
            use sqlx::{QueryBuilder, Row};
            use time::OffsetDateTime;
            use uuid::Uuid;
            use $crate::StoreError;
            use $crate::columns::{event_kind, from_ms, to_ms};
            use $crate::prelude::*;
            use $crate::webhook::*;

            type DbRow = <$db as sqlx::Database>::Row;
            type Conn = <$db as sqlx::Database>::Connection;

            /// Rows per multi-row INSERT of deliveries (9 parameters each).
            const INSERT_CHUNK: usize = 200;
            /// Ids per `IN (...)` list.
            const IN_CHUNK: usize = 500;

            const ENDPOINT_COLS: &str = "id, org_id, url, events, secret, description, enabled, \
                 disabled_reason, disabled_at, failing_since, created_at, updated_at";

            fn selection(text: &str) -> Result<EventSelection, StoreError> {
                let names: Vec<String> = $crate::columns::json(text, "webhook events")?;
                EventSelection::parse(&names)
                    .map_err(|e| StoreError::Corrupt(format!("webhook events: {e}")))
            }

            fn secret(text: &str) -> Result<WebhookSecret, StoreError> {
                WebhookSecret::parse(text)
                    .map_err(|e| StoreError::Corrupt(format!("webhook secret: {e}")))
            }

            fn opt_time(v: Option<i64>) -> Result<Option<OffsetDateTime>, StoreError> {
                v.map(from_ms).transpose()
            }

            fn endpoint_row(r: &DbRow) -> Result<WebhookEndpoint, StoreError> {
                Ok(WebhookEndpoint {
                    id: r.try_get("id")?,
                    org_id: r.try_get("org_id")?,
                    url: r.try_get("url")?,
                    events: selection(r.try_get("events")?)?,
                    secret: secret(r.try_get("secret")?)?,
                    description: r.try_get("description")?,
                    enabled: r.try_get("enabled")?,
                    disabled_reason: r.try_get("disabled_reason")?,
                    disabled_at: opt_time(r.try_get("disabled_at")?)?,
                    failing_since: opt_time(r.try_get("failing_since")?)?,
                    created_at: from_ms(r.try_get("created_at")?)?,
                    updated_at: from_ms(r.try_get("updated_at")?)?,
                })
            }

            fn status(v: Option<i32>) -> Option<u16> {
                v.and_then(|v| u16::try_from(v).ok())
            }

            fn delivery_row(r: &DbRow) -> Result<WebhookDelivery, StoreError> {
                let attempts: i32 = r.try_get("attempts")?;
                Ok(WebhookDelivery {
                    id: r.try_get("id")?,
                    endpoint_id: r.try_get("endpoint_id")?,
                    event_id: r.try_get("event_id")?,
                    kind: event_kind(r.try_get("kind")?)?,
                    payload: r.try_get("payload")?,
                    state: DeliveryState::parse(r.try_get("state")?)?,
                    attempts: u32::try_from(attempts).unwrap_or(0),
                    next_attempt_at: opt_time(r.try_get("next_attempt_at")?)?,
                    last_status: status(r.try_get("last_status")?),
                    created_at: from_ms(r.try_get("created_at")?)?,
                    attempt_log: Vec::new(),
                })
            }

            fn attempt_row(r: &DbRow) -> Result<(Uuid, WebhookAttempt), StoreError> {
                let ms: i64 = r.try_get("duration_ms")?;
                Ok((
                    r.try_get("delivery_id")?,
                    WebhookAttempt {
                        at: from_ms(r.try_get("at")?)?,
                        status_code: status(r.try_get("status_code")?),
                        error: r.try_get("error")?,
                        response: r.try_get("response")?,
                        duration_ms: u64::try_from(ms).unwrap_or(0),
                    },
                ))
            }

            /// Queues a delivery of each new event for every enabled
            /// endpoint of its organisation that takes its kind, inside the
            /// caller's transaction (the one that records the events), so
            /// that an event is never recorded without its deliveries nor
            /// the other way round. One read of the organisations'
            /// endpoints per batch; nothing more when none matches.
            pub(crate) async fn queue_webhooks(
                conn: &mut Conn,
                facts: &[Fact<'_>],
            ) -> Result<(), StoreError> {
                if facts.is_empty() {
                    return Ok(());
                }
                let mut orgs: Vec<Uuid> = facts.iter().map(|f| f.org_id).collect();
                orgs.sort_unstable();
                orgs.dedup();
                let mut endpoints: Vec<(Uuid, Uuid, EventSelection)> = Vec::new();
                for chunk in orgs.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT id, org_id, events FROM webhook_endpoints WHERE enabled = ",
                    );
                    qb.push_bind(true).push(" AND org_id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    for r in qb.build().fetch_all(&mut *conn).await? {
                        endpoints.push((
                            r.try_get("id")?,
                            r.try_get("org_id")?,
                            selection(r.try_get("events")?)?,
                        ));
                    }
                }
                if endpoints.is_empty() {
                    return Ok(());
                }
                let matched: Vec<(&Fact<'_>, Vec<Uuid>)> = facts
                    .iter()
                    .filter_map(|f| {
                        let to: Vec<Uuid> = endpoints
                            .iter()
                            .filter(|(_, org, sel)| *org == f.org_id && sel.matches(f.event.kind))
                            .map(|(id, _, _)| *id)
                            .collect();
                        (!to.is_empty()).then_some((f, to))
                    })
                    .collect();
                if matched.is_empty() {
                    return Ok(());
                }
                // The recipient's address and its message's Message-ID and
                // metadata, which every payload carries.
                let mut rids: Vec<Uuid> = matched.iter().map(|(f, _)| f.event.recipient_id).collect();
                rids.sort_unstable();
                rids.dedup();
                #[allow(clippy::type_complexity)]
                let mut context: HashMap<Uuid, (String, String, Uuid, serde_json::Value, Option<String>)> =
                    HashMap::with_capacity(rids.len());
                for chunk in rids.chunks(IN_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new(concat!(
                        "SELECT r.id, r.address, m.id AS mid, m.message_id, m.tag, ",
                        $meta,
                        " AS metadata FROM recipients r JOIN messages m ON m.id = r.message_id \
                         WHERE r.id IN ("
                    ));
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    for r in qb.build().fetch_all(&mut *conn).await? {
                        let meta: String = r.try_get("metadata")?;
                        context.insert(
                            r.try_get("id")?,
                            (
                                r.try_get("address")?,
                                r.try_get("message_id")?,
                                r.try_get("mid")?,
                                $crate::columns::json(&meta, "metadata")?,
                                r.try_get("tag")?,
                            ),
                        );
                    }
                }
                let mut rows: Vec<(Uuid, Uuid, &Fact<'_>, std::sync::Arc<String>)> = Vec::new();
                for (f, to) in &matched {
                    let Some((address, message_id, mid, metadata, tag)) =
                        context.get(&f.event.recipient_id)
                    else {
                        continue;
                    };
                    let body = std::sync::Arc::new(payload(
                        f.event, address, message_id, *mid, metadata, tag.as_deref(),
                    )?);
                    for endpoint in to {
                        rows.push((Uuid::now_v7(), *endpoint, f, body.clone()));
                    }
                }
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let mut qb = QueryBuilder::<$db>::new(
                        "INSERT INTO webhook_deliveries (id, endpoint_id, org_id, event_id, kind, \
                         payload, state, next_attempt_at, created_at) ",
                    );
                    qb.push_values(chunk, |mut b, (id, endpoint, f, body)| {
                        let at = to_ms(f.event.at);
                        b.push_bind(*id)
                            .push_bind(*endpoint)
                            .push_bind(f.org_id)
                            .push_bind(f.event.id)
                            .push_bind(f.event.kind.as_str())
                            .push_bind(body.as_str().to_owned())
                            .push_bind(DeliveryState::Pending.as_str())
                            .push_bind(at)
                            .push_bind(at);
                    });
                    qb.push(" ON CONFLICT DO NOTHING");
                    qb.build().execute(&mut *conn).await?;
                }
                Ok(())
            }

            #[async_trait::async_trait]
            impl WebhookStore for super::$store {
                async fn create_webhook_endpoint(
                    &self,
                    e: &NewWebhookEndpoint,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO webhook_endpoints (id, org_id, url, events, secret, description, \
                         enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(e.id)
                    .bind(e.org_id)
                    .bind(&e.url)
                    .bind($crate::columns::to_json(&e.events.names())?)
                    .bind(e.secret.expose())
                    .bind(&e.description)
                    .bind(true)
                    .bind(to_ms(e.created_at))
                    .bind(to_ms(e.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|err| $crate::error::constraint(err, "webhook endpoint", "organisation"))?;
                    Ok(())
                }

                async fn webhook_endpoints(
                    &self,
                    org_id: Uuid,
                ) -> Result<Vec<WebhookEndpoint>, StoreError> {
                    let rows = sqlx::query(&format!(
                        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY id"
                    ))
                    .bind(org_id)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter().map(endpoint_row).collect()
                }

                async fn webhook_endpoint(
                    &self,
                    org_id: Uuid,
                    id: Uuid,
                ) -> Result<Option<WebhookEndpoint>, StoreError> {
                    sqlx::query(&format!(
                        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE org_id = $1 AND id = $2"
                    ))
                    .bind(org_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(endpoint_row)
                    .transpose()
                }

                async fn update_webhook_endpoint(
                    &self,
                    org_id: Uuid,
                    id: Uuid,
                    u: &WebhookEndpointUpdate,
                    now: OffsetDateTime,
                ) -> Result<Option<WebhookEndpoint>, StoreError> {
                    let events = u
                        .events
                        .as_ref()
                        .map(|s| $crate::columns::to_json(&s.names()))
                        .transpose()?;
                    let mut tx = self.write().await?;
                    let done = sqlx::query(
                        "UPDATE webhook_endpoints SET url = COALESCE($1, url), \
                         events = COALESCE($2, events), description = COALESCE($3, description), \
                         updated_at = $4 WHERE org_id = $5 AND id = $6",
                    )
                    .bind(u.url.as_deref())
                    .bind(events)
                    .bind(u.description.as_deref())
                    .bind(to_ms(now))
                    .bind(org_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(None);
                    }
                    match u.enabled {
                        Some(true) => {
                            sqlx::query(
                                "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = NULL, \
                                 disabled_at = NULL, failing_since = NULL WHERE id = $2",
                            )
                            .bind(true)
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        }
                        Some(false) => {
                            sqlx::query(
                                "UPDATE webhook_endpoints SET enabled = $1, \
                                 disabled_at = COALESCE(disabled_at, $2) WHERE id = $3",
                            )
                            .bind(false)
                            .bind(to_ms(now))
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        }
                        None => {}
                    }
                    let row = sqlx::query(&format!(
                        "SELECT {ENDPOINT_COLS} FROM webhook_endpoints WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    endpoint_row(&row).map(Some)
                }

                async fn delete_webhook_endpoint(
                    &self,
                    org_id: Uuid,
                    id: Uuid,
                ) -> Result<bool, StoreError> {
                    let done =
                        sqlx::query("DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2")
                            .bind(org_id)
                            .bind(id)
                            .execute(&self.pool)
                            .await?;
                    Ok(done.rows_affected() > 0)
                }

                async fn webhook_deliveries(
                    &self,
                    org_id: Uuid,
                    endpoint_id: Uuid,
                    before: Option<Uuid>,
                    limit: u32,
                ) -> Result<Option<Vec<WebhookDelivery>>, StoreError> {
                    if self.webhook_endpoint(org_id, endpoint_id).await?.is_none() {
                        return Ok(None);
                    }
                    let mut qb = QueryBuilder::<$db>::new(
                        "SELECT id, endpoint_id, event_id, kind, payload, state, attempts, \
                         next_attempt_at, last_status, created_at FROM webhook_deliveries \
                         WHERE endpoint_id = ",
                    );
                    qb.push_bind(endpoint_id);
                    if let Some(b) = before {
                        qb.push(" AND id < ").push_bind(b);
                    }
                    qb.push(" ORDER BY id DESC LIMIT ")
                        .push_bind(i64::from(limit.clamp(1, 500)));
                    let rows = qb.build().fetch_all(&self.pool).await?;
                    let mut deliveries = rows
                        .iter()
                        .map(delivery_row)
                        .collect::<Result<Vec<_>, _>>()?;
                    let mut index: HashMap<Uuid, usize> = HashMap::new();
                    for (i, d) in deliveries.iter().enumerate() {
                        index.insert(d.id, i);
                    }
                    let ids: Vec<Uuid> = deliveries.iter().map(|d| d.id).collect();
                    for chunk in ids.chunks(IN_CHUNK) {
                        let mut qb = QueryBuilder::<$db>::new(
                            "SELECT delivery_id, at, status_code, error, response, duration_ms \
                             FROM webhook_attempts WHERE delivery_id IN (",
                        );
                        let mut sep = qb.separated(", ");
                        for id in chunk {
                            sep.push_bind(*id);
                        }
                        qb.push(") ORDER BY at, id");
                        for r in qb.build().fetch_all(&self.pool).await? {
                            let (delivery, attempt) = attempt_row(&r)?;
                            if let Some(&i) = index.get(&delivery) {
                                deliveries[i].attempt_log.push(attempt);
                            }
                        }
                    }
                    Ok(Some(deliveries))
                }

                async fn replay_webhook_delivery(
                    &self,
                    org_id: Uuid,
                    endpoint_id: Uuid,
                    delivery_id: Uuid,
                    now: OffsetDateTime,
                ) -> Result<bool, StoreError> {
                    let mut tx = self.write().await?;
                    let exists = sqlx::query(
                        "SELECT locked_by FROM webhook_deliveries \
                         WHERE id = $1 AND endpoint_id = $2 AND org_id = $3",
                    )
                    .bind(delivery_id)
                    .bind(endpoint_id)
                    .bind(org_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some(row) = exists else {
                        return Ok(false);
                    };
                    let locked: Option<String> = row.try_get("locked_by")?;
                    // A delivery in flight is already being sent: its
                    // worker records the outcome.
                    if locked.is_none() {
                        sqlx::query(
                            "UPDATE webhook_deliveries SET state = $1, attempts = 0, \
                             next_attempt_at = $2 WHERE id = $3",
                        )
                        .bind(DeliveryState::Pending.as_str())
                        .bind(to_ms(now))
                        .bind(delivery_id)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }

                async fn replay_webhook_deliveries_since(
                    &self,
                    org_id: Uuid,
                    endpoint_id: Uuid,
                    since: OffsetDateTime,
                    now: OffsetDateTime,
                ) -> Result<Option<u64>, StoreError> {
                    if self.webhook_endpoint(org_id, endpoint_id).await?.is_none() {
                        return Ok(None);
                    }
                    let done = sqlx::query(
                        "UPDATE webhook_deliveries SET state = $1, attempts = 0, next_attempt_at = $2 \
                         WHERE endpoint_id = $3 AND org_id = $4 AND created_at >= $5 AND state <> $6",
                    )
                    .bind(DeliveryState::Pending.as_str())
                    .bind(to_ms(now))
                    .bind(endpoint_id)
                    .bind(org_id)
                    .bind(to_ms(since))
                    .bind(DeliveryState::Pending.as_str())
                    .execute(&self.pool)
                    .await?;
                    Ok(Some(done.rows_affected()))
                }

                async fn claim_webhook_deliveries(
                    &self,
                    worker: &str,
                    now: OffsetDateTime,
                    lease: time::Duration,
                    limit: u32,
                ) -> Result<Vec<ClaimedDelivery>, StoreError> {
                    if limit == 0 {
                        return Ok(Vec::new());
                    }
                    let now = to_ms(now);
                    let until = now.saturating_add(
                        i64::try_from(lease.whole_milliseconds()).unwrap_or(i64::MAX),
                    );
                    let mut tx = self.write().await?;
                    let rows = sqlx::query(concat!(
                        "UPDATE webhook_deliveries SET locked_by = $1, locked_until = $2 WHERE id IN ( \
                         SELECT d.id FROM webhook_deliveries d \
                         JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                         WHERE d.state = $3 AND d.next_attempt_at <= $4 \
                         AND (d.locked_until IS NULL OR d.locked_until <= $5) AND e.enabled = $6 \
                         ORDER BY d.next_attempt_at, d.id LIMIT $7 ",
                        $lock,
                        ") RETURNING id, endpoint_id, payload, attempts, next_attempt_at"
                    ))
                    .bind(worker)
                    .bind(until)
                    .bind(DeliveryState::Pending.as_str())
                    .bind(now)
                    .bind(now)
                    .bind(true)
                    .bind(i64::from(limit))
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut claimed = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let attempts: i32 = r.try_get("attempts")?;
                        let due: Option<i64> = r.try_get("next_attempt_at")?;
                        claimed.push((
                            due.unwrap_or(0),
                            r.try_get::<Uuid, _>("id")?,
                            r.try_get::<Uuid, _>("endpoint_id")?,
                            r.try_get::<String, _>("payload")?,
                            u32::try_from(attempts).unwrap_or(0),
                        ));
                    }
                    let mut eids: Vec<Uuid> = claimed.iter().map(|c| c.2).collect();
                    eids.sort_unstable();
                    eids.dedup();
                    let mut endpoints: HashMap<Uuid, (String, WebhookSecret, Option<OffsetDateTime>)> =
                        HashMap::new();
                    for chunk in eids.chunks(IN_CHUNK) {
                        let mut qb = QueryBuilder::<$db>::new(
                            "SELECT id, url, secret, failing_since FROM webhook_endpoints WHERE id IN (",
                        );
                        let mut sep = qb.separated(", ");
                        for id in chunk {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                        for r in qb.build().fetch_all(&mut *tx).await? {
                            endpoints.insert(
                                r.try_get("id")?,
                                (
                                    r.try_get("url")?,
                                    secret(r.try_get("secret")?)?,
                                    opt_time(r.try_get("failing_since")?)?,
                                ),
                            );
                        }
                    }
                    tx.commit().await?;
                    claimed.sort_by_key(|c| (c.0, c.1));
                    Ok(claimed
                        .into_iter()
                        .filter_map(|(_, id, endpoint_id, payload, attempts)| {
                            let (url, secret, failing_since) = endpoints.get(&endpoint_id)?.clone();
                            Some(ClaimedDelivery {
                                id,
                                endpoint_id,
                                url,
                                secret,
                                payload,
                                attempts,
                                failing_since,
                            })
                        })
                        .collect())
                }

                async fn record_webhook_attempt(
                    &self,
                    worker: &str,
                    rec: &AttemptRecord,
                ) -> Result<bool, StoreError> {
                    let a = &rec.attempt;
                    let at = to_ms(a.at);
                    let (state, next) = match rec.delivery {
                        DeliveryNext::Succeeded => (DeliveryState::Succeeded, None),
                        DeliveryNext::RetryAt(t) => (DeliveryState::Pending, Some(to_ms(t))),
                        DeliveryNext::Failed => (DeliveryState::Failed, None),
                    };
                    let mut tx = self.write().await?;
                    let done = sqlx::query(
                        "UPDATE webhook_deliveries SET state = $1, attempts = attempts + 1, \
                         next_attempt_at = $2, locked_by = NULL, locked_until = NULL, \
                         last_status = $3, last_attempt_at = $4 WHERE id = $5 AND locked_by = $6",
                    )
                    .bind(state.as_str())
                    .bind(next)
                    .bind(a.status_code.map(i32::from))
                    .bind(at)
                    .bind(rec.delivery_id)
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    sqlx::query(
                        "INSERT INTO webhook_attempts (id, delivery_id, at, status_code, error, \
                         response, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(Uuid::now_v7())
                    .bind(rec.delivery_id)
                    .bind(at)
                    .bind(a.status_code.map(i32::from))
                    .bind(a.error.as_deref())
                    .bind(&a.response)
                    .bind(i64::try_from(a.duration_ms).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await?;
                    match &rec.endpoint {
                        EndpointNext::Healthy => {
                            sqlx::query(
                                "UPDATE webhook_endpoints SET failing_since = NULL \
                                 WHERE id = $1 AND failing_since IS NOT NULL",
                            )
                            .bind(rec.endpoint_id)
                            .execute(&mut *tx)
                            .await?;
                        }
                        EndpointNext::Failing => {
                            sqlx::query(
                                "UPDATE webhook_endpoints SET failing_since = $1 \
                                 WHERE id = $2 AND failing_since IS NULL",
                            )
                            .bind(at)
                            .bind(rec.endpoint_id)
                            .execute(&mut *tx)
                            .await?;
                        }
                        EndpointNext::Disable(reason) => {
                            sqlx::query(
                                "UPDATE webhook_endpoints SET enabled = $1, disabled_reason = $2, \
                                 disabled_at = $3, updated_at = $4, \
                                 failing_since = COALESCE(failing_since, $5) WHERE id = $6",
                            )
                            .bind(false)
                            .bind(reason)
                            .bind(at)
                            .bind(at)
                            .bind(at)
                            .bind(rec.endpoint_id)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(true)
                }

                async fn release_webhook_leases(&self, worker: &str) -> Result<u64, StoreError> {
                    let done = sqlx::query(
                        "UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL \
                         WHERE locked_by = $1",
                    )
                    .bind(worker)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected())
                }

                async fn pending_webhook_deliveries(&self) -> Result<u64, StoreError> {
                    let row = sqlx::query(
                        "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE state = $1",
                    )
                    .bind(DeliveryState::Pending.as_str())
                    .fetch_one(&self.pool)
                    .await?;
                    let n: i64 = row.try_get("n")?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }
            }
        }
    };
}
pub(crate) use webhook_store;

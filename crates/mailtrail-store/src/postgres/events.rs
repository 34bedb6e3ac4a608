//! Recording events on PostgreSQL: a batch of events folded into its recipients inside the caller's transaction, with the recipient rows locked in id order.

use super::*;

/// Records `events` and folds them into their recipients' cached status,
/// inside the caller's transaction, holding the recipient rows locked. An
/// event id seen before is ignored, so a batch retried after an unclear
/// commit counts nothing twice. With `skip_missing`, events for unknown
/// recipients are dropped (logged); otherwise they fail the transaction.
pub(super) async fn apply_events(
    conn: &mut PgConnection,
    events: &[NewEvent],
    skip_missing: bool,
) -> Result<(), StoreError> {
    let mut ids: Vec<Uuid> = events.iter().map(|e| e.recipient_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut states: HashMap<Uuid, Folding> = HashMap::with_capacity(ids.len());
    let rows = sqlx::query(&format!(
        "SELECT {STATE_COLS} FROM recipients WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    ))
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let (id, state) = state_row(&row)?;
        states.insert(id, state);
    }
    let mut touched: HashSet<Uuid> = HashSet::with_capacity(states.len());
    let mut links = crate::fold::LinkTally::default();
    // The new events (and the opens their clicks imply), whose webhook
    // deliveries are queued below.
    let mut fresh: Vec<(&NewEvent, Uuid)> = Vec::with_capacity(events.len());
    let mut implied: Vec<(NewEvent, Uuid)> = Vec::new();
    for ev in events {
        let Some(state) = states.get_mut(&ev.recipient_id) else {
            if skip_missing {
                tracing::warn!(
                    recipient.id = %ev.recipient_id,
                    event.kind = %ev.kind,
                    "event for an unknown recipient dropped"
                );
                continue;
            }
            return Err(StoreError::NotFound("recipient"));
        };
        if insert_event(&mut *conn, ev, state).await? {
            // An open implied by this click (no pixel load before it) is
            // stored beside it, in the same transaction; `apply` counted it.
            if let Some(open) = state.state.apply(ev)
                && insert_event(&mut *conn, &open, state).await?
            {
                implied.push((open, state.org_id));
            }
            fresh.push((ev, state.org_id));
            links.note(ev);
            touched.insert(ev.recipient_id);
        }
    }
    for ((recipient_id, url), (clicks, machine, first, last)) in links.links {
        sqlx::query(
            "INSERT INTO recipient_links (recipient_id, url, clicks, machine_clicks, \
             first_clicked_at, last_clicked_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (recipient_id, md5(url)) DO UPDATE SET \
             clicks = recipient_links.clicks + EXCLUDED.clicks, \
             machine_clicks = recipient_links.machine_clicks + EXCLUDED.machine_clicks, \
             first_clicked_at = LEAST(recipient_links.first_clicked_at, EXCLUDED.first_clicked_at), \
             last_clicked_at = GREATEST(recipient_links.last_clicked_at, EXCLUDED.last_clicked_at)",
        )
        .bind(recipient_id)
        .bind(url)
        .bind(clicks)
        .bind(machine)
        .bind(first)
        .bind(last)
        .execute(&mut *conn)
        .await?;
    }
    let facts: Vec<crate::webhook::Fact<'_>> = fresh
        .iter()
        .map(|(event, org_id)| (*event, *org_id))
        .chain(implied.iter().map(|(event, org_id)| (event, *org_id)))
        .map(|(event, org_id)| crate::webhook::Fact { event, org_id })
        .collect();
    super::portable_webhooks::queue_webhooks(&mut *conn, &facts).await?;
    for id in touched {
        let Some(s) = states.get(&id).map(|f| &f.state) else {
            continue;
        };
        let r = s.reason.clone().unwrap_or_default();
        sqlx::query(
            "UPDATE recipients SET status = $1, reason_smtp_code = $2, reason_enhanced_status = $3, \
             reason_name = $4, reason_text = $5, updated_at = $6, opens = $7, machine_opens = $8, \
             clicks = $9, first_open_at = $10, first_open_implied = $11, implied_opens = $12 \
             WHERE id = $13",
        )
        .bind(s.status.as_str())
        .bind(r.smtp_code.map(i32::from))
        .bind(r.enhanced_status)
        .bind(r.reason)
        .bind(r.text)
        .bind(to_ms(s.updated_at))
        .bind(columns::stored_count(s.opens))
        .bind(columns::stored_count(s.machine_opens))
        .bind(columns::stored_count(s.clicks))
        .bind(s.first_open_at.map(to_ms))
        .bind(s.first_open_implied)
        .bind(columns::stored_count(s.implied_opens))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Inserts one event; whether it was new. An id seen before, or a second
/// `unsubscribed` event of a recipient (a unique index), inserts nothing,
/// so a retried batch or a repeated one-click POST counts nothing twice.
pub(super) async fn insert_event(
    conn: &mut PgConnection,
    ev: &NewEvent,
    state: &Folding,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO events (id, recipient_id, message_id, org_id, kind, at, opener, reason, data) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(ev.id)
    .bind(ev.recipient_id)
    .bind(state.message_id)
    .bind(state.org_id)
    .bind(ev.kind.as_str())
    .bind(to_ms(ev.at))
    .bind(ev.opener.map(|o| o.to_string()))
    .bind(ev.reason.as_ref().map(Json))
    .bind(Json(&ev.data))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

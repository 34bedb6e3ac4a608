//! Recording events on SQLite: a batch of events folded into its recipients in the caller's write transaction, with multi-row inserts whose lengths keep the statement cache small.

use super::*;

/// Most rows per multi-row event INSERT (9 parameters each, far below
/// SQLite's 32766-parameter limit). A power of two: see [`insert_chunks`].
pub(super) const EVENT_INSERT_CHUNK: usize = 256;

/// Most recipients per `SELECT … WHERE id IN (…)` of their state when
/// folding events; a power of two (see [`chunk_lengths`]).
pub(super) const STATE_CHUNK: usize = 512;

/// The lengths `n` rows are inserted in: as many full chunks of
/// `EVENT_INSERT_CHUNK` as fit, then the rest as descending powers of two.
///
/// Each length is its own SQL text, prepared by SQLite and kept in the
/// connection's statement cache. With any remainder as one statement, a
/// fold of 137 events prepared an INSERT of 137 rows that no later fold
/// reused (parsing and planning about a thousand parameters each time);
/// with these lengths there are only nine texts, all cached after the first
/// few folds, at the price of at most eight statements for the remainder.
pub(super) fn insert_chunks(n: usize) -> impl Iterator<Item = usize> {
    chunk_lengths(n, EVENT_INSERT_CHUNK)
}

/// `n` split into chunks of `max` (a power of two), then descending powers
/// of two; see [`insert_chunks`].
pub(super) fn chunk_lengths(n: usize, max: usize) -> impl Iterator<Item = usize> {
    debug_assert!(max.is_power_of_two());
    let full = n / max;
    let rest = n % max;
    std::iter::repeat_n(max, full).chain(
        (0..usize::BITS)
            .rev()
            .map(|b| 1usize << b)
            .filter(move |bit| rest & bit != 0),
    )
}

/// Records `events` and folds them into their recipients' cached status,
/// inside the caller's write transaction. An event id seen before is
/// ignored, so a batch retried after an unclear commit counts nothing twice.
/// With `skip_missing`, events for unknown recipients are dropped (logged);
/// otherwise they fail the whole transaction.
pub(super) async fn apply_events(
    conn: &mut SqliteConnection,
    events: &[NewEvent],
    skip_missing: bool,
) -> Result<(), StoreError> {
    let mut ids: Vec<Uuid> = events.iter().map(|e| e.recipient_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut states: HashMap<Uuid, Folding> = HashMap::with_capacity(ids.len());
    // Lengths from `chunk_lengths`: each `IN (…)` list length is its own
    // cached statement, as for the inserts.
    let mut rest = ids.as_slice();
    for len in chunk_lengths(ids.len(), STATE_CHUNK) {
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {STATE_COLS} FROM recipients WHERE id IN ("
        ));
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        for row in qb.build().fetch_all(&mut *conn).await? {
            let (id, state) = state_row(&row)?;
            states.insert(id, state);
        }
    }
    // Events of known recipients, inserted with one multi-row statement per
    // chunk (a statement per event made group commit CPU-bound); RETURNING
    // says which ids were new, so a retried batch counts nothing twice.
    let mut known: Vec<&NewEvent> = Vec::with_capacity(events.len());
    for ev in events {
        if states.contains_key(&ev.recipient_id) {
            known.push(ev);
        } else if skip_missing {
            tracing::warn!(
                recipient.id = %ev.recipient_id,
                event.kind = %ev.kind,
                "event for an unknown recipient dropped"
            );
        } else {
            return Err(StoreError::NotFound("recipient"));
        }
    }
    let mut inserted = insert_events(&mut *conn, &known, &states).await?;
    let mut touched: HashSet<Uuid> = HashSet::with_capacity(states.len());
    let mut implied: Vec<NewEvent> = Vec::new();
    let mut links = crate::fold::LinkTally::default();
    // The new events, whose webhook deliveries are queued below.
    let mut fresh: Vec<crate::webhook::Fact<'_>> = Vec::with_capacity(known.len());
    for ev in known {
        // `remove`: an id repeated inside the batch is applied once.
        if inserted.remove(&ev.id)
            && let Some(state) = states.get_mut(&ev.recipient_id)
        {
            implied.extend(state.state.apply(ev));
            links.note(ev);
            touched.insert(ev.recipient_id);
            fresh.push(crate::webhook::Fact {
                event: ev,
                org_id: state.org_id,
            });
        }
    }
    // Opens implied by clicks, inserted in the same transaction; already
    // counted by `apply`.
    let implied_refs: Vec<&NewEvent> = implied.iter().collect();
    let implied_new = insert_events(&mut *conn, &implied_refs, &states).await?;
    for ev in &implied {
        if implied_new.contains(&ev.id)
            && let Some(state) = states.get(&ev.recipient_id)
        {
            fresh.push(crate::webhook::Fact {
                event: ev,
                org_id: state.org_id,
            });
        }
    }
    super::portable_webhooks::queue_webhooks(&mut *conn, &fresh).await?;
    for ((recipient_id, url), (clicks, machine, first, last)) in links.links {
        sqlx::query(
            "INSERT INTO recipient_links (recipient_id, url, clicks, machine_clicks, \
             first_clicked_at, last_clicked_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (recipient_id, url) DO UPDATE SET \
             clicks = clicks + excluded.clicks, machine_clicks = machine_clicks + excluded.machine_clicks, \
             first_clicked_at = min(first_clicked_at, excluded.first_clicked_at), \
             last_clicked_at = max(last_clicked_at, excluded.last_clicked_at)",
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
    for id in touched {
        let Some(s) = states.get(&id).map(|f| &f.state) else {
            continue;
        };
        let r = s.reason.clone().unwrap_or_default();
        sqlx::query(
            "UPDATE recipients SET status = ?, reason_smtp_code = ?, reason_enhanced_status = ?, \
             reason_name = ?, reason_text = ?, updated_at = ?, opens = ?, machine_opens = ?, \
             clicks = ?, first_open_at = ?, first_open_implied = ?, implied_opens = ? WHERE id = ?",
        )
        .bind(s.status.as_str())
        .bind(r.smtp_code.map(i64::from))
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

/// Inserts events of known recipients with one multi-row statement per
/// chunk (a statement per event made group commit CPU-bound). Returns the
/// ids that were new: an id seen before, or a second `unsubscribed` event
/// of a recipient (a unique index), inserts nothing, so a retried batch or
/// a repeated one-click POST counts nothing twice.
pub(super) async fn insert_events(
    conn: &mut SqliteConnection,
    events: &[&NewEvent],
    states: &HashMap<Uuid, Folding>,
) -> Result<HashSet<Uuid>, StoreError> {
    let mut inserted: HashSet<Uuid> = HashSet::with_capacity(events.len());
    // Rows of known recipients only, so that each chunk has its planned
    // length (and its cached statement).
    let events: Vec<(&NewEvent, &Folding)> = events
        .iter()
        .filter_map(|ev| Some((*ev, states.get(&ev.recipient_id)?)))
        .collect();
    let mut rest = events.as_slice();
    for len in insert_chunks(events.len()) {
        let (chunk, tail) = rest.split_at(len);
        rest = tail;
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO events (id, recipient_id, message_id, org_id, kind, at, opener, reason, data) ",
        );
        let mut rows = Vec::with_capacity(chunk.len());
        for &(ev, state) in chunk {
            let reason = ev
                .reason
                .as_ref()
                .map(crate::columns::to_json)
                .transpose()?;
            rows.push((
                ev,
                state.message_id,
                state.org_id,
                reason,
                columns::to_json(&ev.data)?,
            ));
        }
        qb.push_values(rows, |mut b, (ev, message_id, org_id, reason, data)| {
            b.push_bind(ev.id)
                .push_bind(ev.recipient_id)
                .push_bind(message_id)
                .push_bind(org_id)
                .push_bind(ev.kind.as_str())
                .push_bind(to_ms(ev.at))
                .push_bind(ev.opener.map(|o| o.to_string()))
                .push_bind(reason)
                .push_bind(data);
        });
        qb.push(" ON CONFLICT DO NOTHING RETURNING id");
        for row in qb.build().fetch_all(&mut *conn).await? {
            inserted.insert(row.try_get::<Uuid, _>(0)?);
        }
    }
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_chunks_cover_every_row_in_few_distinct_lengths() {
        let mut lengths = HashSet::new();
        for n in 0..2000 {
            let chunks: Vec<usize> = insert_chunks(n).collect();
            assert_eq!(chunks.iter().sum::<usize>(), n, "{n}: {chunks:?}");
            assert!(chunks.iter().all(|c| (1..=EVENT_INSERT_CHUNK).contains(c)));
            assert!(chunks.windows(2).all(|w| w[0] >= w[1]), "{chunks:?}");
            lengths.extend(chunks);
        }
        // 256, 128, ..., 1: one cached statement each.
        assert_eq!(lengths.len(), 9, "{lengths:?}");
        assert_eq!(insert_chunks(0).count(), 0);
        assert_eq!(
            insert_chunks(600).collect::<Vec<_>>(),
            [256, 256, 64, 16, 8]
        );
        assert_eq!(
            chunk_lengths(1030, 512).collect::<Vec<_>>(),
            [512, 512, 4, 2]
        );
    }
}

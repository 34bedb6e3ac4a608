//! Finding messages on SQLite: the list query with its filters, narrowed by the trigram indexes (migration 0011) when they help.

use super::*;

/// Matches the trigram indexes may return before a search is left to the
/// plain scan: text that common is found within the first rows walked.
pub(super) const SEARCH_CANDIDATES: usize = 5_000;

/// What the trigram indexes (migration 0011) narrowed a search to: the
/// rowids of messages whose subject, and the ids of messages with a
/// recipient whose address, may contain the searched text. `None` where
/// the index does not help: text shorter than a trigram, or so common that
/// walking the newest messages finds a page at once.
#[derive(Debug, Default)]
pub(super) struct Narrowed {
    subject: Option<Vec<i64>>,
    recipient: Option<Vec<Uuid>>,
}

/// An FTS5 phrase holding `text` literally (double quotes doubled). With
/// the trigram tokenizer a phrase matches any value containing the text,
/// ignoring case; the caller's LIKE then decides exactly.
pub(super) fn fts_phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `SELECT … FROM messages m WHERE m.org_id = ?` with every filter but the
/// statuses and the cursor, ready for more conditions.
pub(super) fn messages_query(
    org_id: Uuid,
    filter: &MessageFilter,
    narrowed: &Narrowed,
) -> QueryBuilder<'static, Sqlite> {
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT {MESSAGE_COLS} FROM messages m WHERE m.org_id = "
    ));
    qb.push_bind(org_id);
    if let Some(since) = filter.since {
        qb.push(" AND m.created_at >= ").push_bind(to_ms(since));
    }
    if let Some(until) = filter.until {
        qb.push(" AND m.created_at < ").push_bind(to_ms(until));
    }
    if let Some(tag) = &filter.tag {
        qb.push(" AND m.tag = ").push_bind(tag.clone());
    }
    if let Some(subject) = &filter.subject {
        // SQLite's LIKE ignores case (for ASCII letters).
        qb.push(" AND m.subject LIKE ")
            .push_bind(crate::search::contains_pattern(subject))
            .push(" ESCAPE '\\'");
    }
    if let Some(rowids) = &narrowed.subject {
        qb.push(" AND m.rowid IN (");
        let mut sep = qb.separated(", ");
        for r in rowids {
            sep.push_bind(*r);
        }
        qb.push(")");
    }
    if let Some(ids) = &narrowed.recipient {
        qb.push(" AND m.id IN (");
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(*id);
        }
        qb.push(")");
    }
    if let Some(recipient) = &filter.recipient {
        qb.push(
            " AND EXISTS (SELECT 1 FROM recipients ra WHERE ra.message_id = m.id \
             AND ra.address_norm LIKE ",
        )
        .push_bind(crate::search::contains_pattern(&recipient.to_lowercase()))
        .push(" ESCAPE '\\')");
    }
    qb
}

/// Candidate messages read from the status index per round of a status
/// filter: enough for a page when most candidates pass the other filters.
pub(super) const STATUS_CANDIDATES: i64 = 200;

impl SqliteStore {
    /// Asks the trigram indexes for the messages a subject or recipient
    /// search can match (see [`Narrowed`]).
    pub(super) async fn narrow(&self, filter: &MessageFilter) -> Result<Narrowed, StoreError> {
        let mut narrowed = Narrowed::default();
        let wanted = |text: &Option<String>| {
            text.as_deref()
                .filter(|t| t.chars().count() >= 3)
                .map(fts_phrase)
        };
        let limit = SEARCH_CANDIDATES as i64 + 1;
        if let Some(phrase) = wanted(&filter.subject) {
            let rowids: Vec<i64> = sqlx::query_scalar(
                "SELECT rowid FROM messages_subject_fts WHERE messages_subject_fts MATCH ? LIMIT ?",
            )
            .bind(phrase)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            if rowids.len() <= SEARCH_CANDIDATES {
                narrowed.subject = Some(rowids);
            }
        }
        if let Some(phrase) = wanted(&filter.recipient.as_ref().map(|r| r.to_lowercase())) {
            let ids: Vec<Uuid> = sqlx::query_scalar(
                "SELECT message_id FROM recipients WHERE rowid IN (SELECT rowid FROM \
                 recipients_address_fts WHERE recipients_address_fts MATCH ? LIMIT ?)",
            )
            .bind(phrase)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
            if ids.len() <= SEARCH_CANDIDATES {
                narrowed.recipient = Some(ids);
            }
        }
        Ok(narrowed)
    }

    /// A page of messages having a recipient in one of `filter.statuses`.
    ///
    /// Walking `messages` newest first and probing each one's recipients
    /// costs time in inverse proportion to how common the status is: a
    /// status held by one message in 100,000 (complaints) or by none would
    /// read the whole table. This walks `recipients(org_id, status,
    /// message_id)` instead: for each wanted status the newest distinct
    /// message ids below the cursor (a backward range scan that stops after
    /// `STATUS_CANDIDATES`), merged; then those messages are read by key
    /// with the other filters applied. The newest page is in the union of
    /// each status's newest candidates, so rounds continue below the oldest
    /// candidate only while the other filters reject too many.
    pub(super) async fn list_by_status(
        &self,
        org_id: Uuid,
        filter: &MessageFilter,
        limit: i64,
        narrowed: &Narrowed,
    ) -> Result<Vec<Message>, StoreError> {
        let mut statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        let mut out = Vec::new();
        let mut cursor = filter.before_id;
        loop {
            let mut qb = QueryBuilder::<Sqlite>::new("SELECT message_id FROM (");
            for (i, status) in statuses.iter().enumerate() {
                if i > 0 {
                    qb.push(" UNION SELECT message_id FROM (");
                }
                qb.push("SELECT DISTINCT message_id FROM recipients WHERE org_id = ")
                    .push_bind(org_id)
                    .push(" AND status = ")
                    .push_bind(*status);
                if let Some(before) = cursor {
                    qb.push(" AND message_id < ").push_bind(before);
                }
                qb.push(" ORDER BY message_id DESC LIMIT ")
                    .push_bind(STATUS_CANDIDATES)
                    .push(")");
            }
            qb.push(" ORDER BY message_id DESC LIMIT ")
                .push_bind(STATUS_CANDIDATES);
            let ids: Vec<Uuid> = qb.build_query_scalar().fetch_all(&self.pool).await?;
            let Some(&oldest) = ids.last() else {
                break;
            };
            let mut qb = messages_query(org_id, filter, narrowed);
            qb.push(" AND m.id IN (");
            let mut sep = qb.separated(", ");
            for id in &ids {
                sep.push_bind(*id);
            }
            qb.push(") ORDER BY m.id DESC LIMIT ")
                .push_bind(limit - out.len() as i64);
            let rows = qb.build().fetch_all(&self.pool).await?;
            for r in &rows {
                out.push(message_row(r)?);
            }
            if out.len() as i64 >= limit || (ids.len() as i64) < STATUS_CANDIDATES {
                break;
            }
            cursor = Some(oldest);
        }
        Ok(out)
    }
}

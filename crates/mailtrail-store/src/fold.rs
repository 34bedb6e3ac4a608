//! What a backend keeps while it folds a batch of events into recipients
//! inside one transaction. The rule itself is the domain's
//! ([`RecipientState::apply`]); this is the bookkeeping around it that
//! both backends share.

use std::collections::HashMap;

use mailtrail_domain::{Opener, RecipientState, by_person};
use uuid::Uuid;

use crate::columns::to_ms;
use crate::model::NewEvent;

/// A recipient read (and on PostgreSQL locked) for a batch: where its
/// events are filed, and its state as the batch folds into it.
#[derive(Debug, Clone)]
pub(crate) struct Folding {
    /// The recipient's message, written beside each event.
    pub message_id: Uuid,
    /// The message's organisation, written beside each event.
    pub org_id: Uuid,
    /// Status, reason and counters.
    pub state: RecipientState,
}

/// Per-link click counts of one batch, added to `recipient_links` with one
/// upsert per (recipient, URL) in the batch's transaction: no read.
#[derive(Debug, Default)]
pub(crate) struct LinkTally {
    /// (recipient, url) → (person clicks, machine clicks, first, last).
    pub links: HashMap<(Uuid, String), (i64, i64, i64, i64)>,
}

impl LinkTally {
    /// Counts `ev` when it is a click by anyone but the sender.
    pub(crate) fn note(&mut self, ev: &NewEvent) {
        let Some(url) = ev.clicked_url() else { return };
        if ev.opener == Some(Opener::SelfOpen) {
            return;
        }
        let at = to_ms(ev.at);
        let e = self
            .links
            .entry((ev.recipient_id, url.to_owned()))
            .or_insert((0, 0, at, at));
        if by_person(ev.opener) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
        e.2 = e.2.min(at);
        e.3 = e.3.max(at);
    }
}

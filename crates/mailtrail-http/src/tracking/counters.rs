//! The tracking endpoints' counters, registered once: a hit costs one
//! atomic increment, with no label built or allocated per request.

use mailtrail_domain::{EventKind, Opener};
use metrics::Counter;

/// Opener classes as their labels, in the order of [`index`]; the same
/// names as the API's `opener` field.
const OPENERS: [&str; 4] = ["human", "proxy", "machine", "self"];

fn index(opener: Opener) -> usize {
    match opener {
        Opener::Human => 0,
        Opener::Proxy => 1,
        Opener::Machine => 2,
        Opener::SelfOpen => 3,
    }
}

/// `mailtrail_tracking_hits_total` (every pixel or click request, valid
/// token or not) and `mailtrail_tracking_events_total` (events stored, by
/// kind and opener class).
pub(super) struct Counters {
    open_hits: Counter,
    click_hits: Counter,
    opens: [Counter; 4],
    clicks: [Counter; 4],
}

impl Counters {
    /// Registers the counters with the installed recorder (none installed:
    /// they count nothing).
    pub(super) fn new() -> Self {
        Self {
            open_hits: metrics::counter!("mailtrail_tracking_hits_total", "kind" => "open"),
            click_hits: metrics::counter!("mailtrail_tracking_hits_total", "kind" => "click"),
            opens: OPENERS.map(|o| {
                metrics::counter!("mailtrail_tracking_events_total", "kind" => "opened", "opener" => o)
            }),
            clicks: OPENERS.map(|o| {
                metrics::counter!("mailtrail_tracking_events_total", "kind" => "clicked", "opener" => o)
            }),
        }
    }

    /// A request to the pixel (`open`) or a tracked link (`click`).
    pub(super) fn hit(&self, kind: EventKind) {
        match kind {
            EventKind::Clicked => self.click_hits.increment(1),
            _ => self.open_hits.increment(1),
        }
    }

    /// An open or click event stored with its opener class.
    pub(super) fn event(&self, kind: EventKind, opener: Option<Opener>) {
        let Some(opener) = opener else { return };
        let i = index(opener);
        match kind {
            EventKind::Clicked => self.clicks[i].increment(1),
            _ => self.opens[i].increment(1),
        }
    }
}

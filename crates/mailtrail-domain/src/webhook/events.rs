//! Which events an endpoint takes: a list of event kinds, or every kind
//! (`["*"]`, which also takes kinds added later).

use std::str::FromStr;

use crate::EventKind;

/// An endpoint's event filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelection {
    /// Every kind, present and future.
    All,
    /// These kinds (at least one, without repeats, in the order given).
    Kinds(Vec<EventKind>),
}

/// Why an event list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEventSelection {
    /// The list is empty.
    #[error("give at least one event kind, or [\"*\"] for all")]
    Empty,
    /// A name that is no event kind.
    #[error(
        "{0:?} is not an event kind (one of queued, sent, deferred, delivered, failed, opened, clicked, document_opened, page_viewed, document_downloaded, read_receipt, replied, auto_replied, complained, unsubscribed, suppressed, or \"*\")"
    )]
    Unknown(String),
    /// `*` beside other names.
    #[error("\"*\" already takes every kind; give it alone")]
    StarWithOthers,
}

impl EventSelection {
    /// Parses the names given to the API.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, InvalidEventSelection> {
        if names.is_empty() {
            return Err(InvalidEventSelection::Empty);
        }
        if names.iter().any(|n| n.as_ref() == "*") {
            return if names.len() == 1 {
                Ok(Self::All)
            } else {
                Err(InvalidEventSelection::StarWithOthers)
            };
        }
        let mut kinds = Vec::with_capacity(names.len());
        for n in names {
            let k = EventKind::from_str(n.as_ref())
                .map_err(|_| InvalidEventSelection::Unknown(n.as_ref().to_owned()))?;
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        Ok(Self::Kinds(kinds))
    }

    /// Whether an event of `kind` goes to the endpoint.
    pub fn matches(&self, kind: EventKind) -> bool {
        match self {
            Self::All => true,
            Self::Kinds(k) => k.contains(&kind),
        }
    }

    /// The names, as stored and shown: `["*"]` or the kinds.
    pub fn names(&self) -> Vec<String> {
        match self {
            Self::All => vec!["*".to_owned()],
            Self::Kinds(k) => k.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_and_star() {
        assert_eq!(EventSelection::parse(&["*"]), Ok(EventSelection::All));
        let s = EventSelection::parse(&["opened", "clicked", "opened"]).unwrap();
        assert_eq!(s.names(), ["opened", "clicked"]);
        assert!(s.matches(EventKind::Clicked));
        assert!(!s.matches(EventKind::Delivered));
        assert!(EventSelection::All.matches(EventKind::Suppressed));
    }

    #[test]
    fn refuses_empty_unknown_and_star_with_others() {
        assert_eq!(
            EventSelection::parse::<&str>(&[]),
            Err(InvalidEventSelection::Empty)
        );
        assert_eq!(
            EventSelection::parse(&["opened", "bogus"]),
            Err(InvalidEventSelection::Unknown("bogus".into()))
        );
        assert_eq!(
            EventSelection::parse(&["*", "opened"]),
            Err(InvalidEventSelection::StarWithOthers)
        );
    }
}

//! Phrase tables searched in one pass: each table of fixed phrases is
//! compiled once (on first use) into an Aho-Corasick automaton, so that
//! finding which of several hundred phrases occur in a text costs one scan
//! of the text instead of one scan per phrase.

use aho_corasick::{AhoCorasick, AhoCorasickKind};

/// A table of phrases in groups; the group order is the table's priority.
pub(crate) struct PhraseSet {
    ac: Option<AhoCorasick>,
    group_of: Vec<usize>,
}

impl PhraseSet {
    /// Compiles `groups` (each a list of phrases, matched as written).
    pub(crate) fn new<'a>(groups: impl IntoIterator<Item = &'a [&'a str]>) -> Self {
        let mut patterns: Vec<&str> = Vec::new();
        let mut group_of = Vec::new();
        for (g, phrases) in groups.into_iter().enumerate() {
            for p in phrases {
                patterns.push(p);
                group_of.push(g);
            }
        }
        // Building can only fail on limits far beyond these small tables;
        // an empty set then matches nothing rather than panicking.
        // A contiguous NFA: built in a fraction of the time of a DFA (the
        // build is paid at every start of `mailtrail classify`) and nearly
        // as fast to search for tables of this size.
        let ac = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
            .ok();
        Self { ac, group_of }
    }

    /// One group holding every phrase of `phrases`.
    pub(crate) fn flat(phrases: &'static [&'static str]) -> Self {
        Self::new([phrases])
    }

    /// Whether any phrase occurs in `hay`.
    pub(crate) fn any(&self, hay: &str) -> bool {
        self.ac.as_ref().is_some_and(|ac| ac.is_match(hay))
    }

    /// Where phrases start in `hay`, left to right (non-overlapping).
    pub(crate) fn starts<'h>(&'h self, hay: &'h str) -> impl Iterator<Item = usize> + 'h {
        self.ac
            .iter()
            .flat_map(move |ac| ac.find_iter(hay).map(|m| m.start()))
    }

    /// The first group (in table order) with a phrase occurring in `hay`,
    /// wherever in `hay` it occurs.
    pub(crate) fn first_group(&self, hay: &str) -> Option<usize> {
        let ac = self.ac.as_ref()?;
        let mut best: Option<usize> = None;
        for m in ac.find_overlapping_iter(hay) {
            let g = self.group_of[m.pattern().as_usize()];
            if best.is_none_or(|b| g < b) {
                best = Some(g);
                if g == 0 {
                    break;
                }
            }
        }
        best
    }

    /// The group of the phrase that starts earliest in `hay` (ties: the
    /// first group).
    pub(crate) fn earliest_group(&self, hay: &str) -> Option<usize> {
        let ac = self.ac.as_ref()?;
        let mut best: Option<(usize, usize)> = None;
        for m in ac.find_overlapping_iter(hay) {
            let key = (m.start(), self.group_of[m.pattern().as_usize()]);
            if best.is_none_or(|b| key < b) {
                best = Some(key);
            }
        }
        best.map(|(_, g)| g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_order_not_text_order() {
        let s = PhraseSet::new([&["full"][..], &["unknown", "no such"][..]]);
        assert_eq!(s.first_group("no such user; mailbox full"), Some(0));
        assert_eq!(s.first_group("no such user"), Some(1));
        assert_eq!(s.earliest_group("no such user; mailbox full"), Some(1));
        assert_eq!(s.first_group("fine"), None);
        assert!(s.any("user unknown"));
        assert!(!PhraseSet::flat(&[]).any("x"));
    }
}

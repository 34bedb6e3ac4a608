//! Phrase tables searched in one pass: finding which of several hundred
//! fixed phrases occur in a text costs one scan of the text, not one scan
//! per phrase.
//!
//! The tables are indexed by a hash of each phrase's first three bytes (a
//! bitmap says which hashes start some phrase, buckets list the phrases of
//! each hash), so building a table is a few microseconds of counting: the
//! offline command pays every build at every start, and the Aho-Corasick
//! automata used before cost more to build than most of the searches
//! (about 15 of 230 million instructions for the whole bounce corpus). At
//! each position of the text the three bytes there are hashed and looked up
//! in the bitmap; only on a hit are the phrases of that bucket compared.
//! A table whose phrases are all long is first looked up at every few
//! positions only (a second bitmap holds the first few three-byte windows
//! of every phrase): over the bounce corpus the tables' scans went from 22
//! to 13 million instructions.
//! Every search reports the same as a search for all (overlapping)
//! occurrences of all phrases would.

/// Bits of the hash that the bitmap is indexed by.
const HASH_BITS: u32 = 16;
/// Most bits of the hash that the buckets are indexed by (the top ones):
/// a table gets about four buckets a phrase, up to this many bits, so a
/// small table does not touch (and page-fault in) kilobytes of empty
/// buckets when it is built; a page fault costs microseconds on some VMs.
const BUCKET_BITS: u32 = 12;

/// A table of phrases in groups; the group order is the table's priority.
pub(crate) struct PhraseSet {
    /// Every phrase of three bytes or more, with its group.
    phrases: Vec<(&'static [u8], usize)>,
    /// Per phrase, its first (up to) eight bytes as a little-endian word
    /// and the mask of those bytes: most candidates of a bucket are told
    /// apart by one comparison of words.
    prefixes: Vec<(u64, u64)>,
    /// Phrases shorter than three bytes (compared at every position).
    short: Vec<(&'static [u8], usize)>,
    /// Bit `h` is set when some phrase's first three bytes hash to `h`.
    bits: Box<[u64; 1 << (HASH_BITS - 6)]>,
    /// `ids[bucket[b]..bucket[b + 1]]`: the phrases whose hash has top bits
    /// `b` (the hash shifted right by `bucket_shift`), in table order.
    bucket: Box<[u16]>,
    bucket_shift: u32,
    ids: Vec<u16>,
    /// How far apart the positions are whose three bytes [`Self::each`]
    /// looks up first: every phrase is at least `step + 2` bytes long, so
    /// its first `step` three-byte windows cover `step` consecutive
    /// positions and one of them is a multiple of `step`.
    step: usize,
    /// Bit `h` is set when one of the first `step` three-byte windows of
    /// some phrase hashes to `h` (empty when `step` is 1: not used).
    sampled: Box<[u64]>,
}

/// The largest [`PhraseSet::step`]: a hit costs one look-up per position
/// of its window, so long windows stop paying off.
const MAX_STEP: usize = 16;

/// Shifts byte `b` into the key of the last three bytes `k`.
fn key(k: u32, b: u8) -> u32 {
    ((k << 8) | u32::from(b)) & 0xFF_FFFF
}

/// The hash of a three-byte key.
fn hash(k: u32) -> u32 {
    k.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)
}

/// The first (up to) eight bytes of `b` as a little-endian word, and the
/// mask of the bytes present.
fn prefix(b: &[u8]) -> (u64, u64) {
    let n = b.len().min(8);
    let mut w = [0u8; 8];
    w[..n].copy_from_slice(&b[..n]);
    let mask = if n == 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    };
    (u64::from_le_bytes(w), mask)
}

/// The hash of the three bytes starting a phrase or a text position.
fn hash3(w: &[u8]) -> u32 {
    hash(key(key(key(0, w[0]), w[1]), w[2]))
}

impl PhraseSet {
    /// Builds the table of `groups` (each a list of phrases, matched as
    /// written, byte for byte).
    pub(crate) fn new<'a>(groups: impl IntoIterator<Item = &'a [&'static str]>) -> Self {
        let mut phrases = Vec::new();
        let mut short = Vec::new();
        for (g, list) in groups.into_iter().enumerate() {
            for p in list {
                let p = p.as_bytes();
                if p.len() >= 3 {
                    phrases.push((p, g));
                } else {
                    short.push((p, g));
                }
            }
        }
        // Tables hold hundreds of phrases; beyond u16 ids the rest would be
        // dropped rather than overflow (never the case for these tables).
        phrases.truncate(usize::from(u16::MAX));
        let mut bits = Box::new([0u64; 1 << (HASH_BITS - 6)]);
        let bucket_bits = (phrases.len() * 4)
            .next_power_of_two()
            .trailing_zeros()
            .clamp(1, BUCKET_BITS);
        let mut bucket = vec![0u16; (1 << bucket_bits) + 1].into_boxed_slice();
        let shift = HASH_BITS - bucket_bits;
        for (p, _) in &phrases {
            let h = hash3(p);
            bits[(h >> 6) as usize] |= 1 << (h & 63);
            bucket[(h >> shift) as usize + 1] += 1;
        }
        for b in 1..bucket.len() {
            bucket[b] += bucket[b - 1];
        }
        // Counting sort of the phrase ids by bucket, keeping table order.
        let mut next: Vec<u16> = bucket[..1 << bucket_bits].to_vec();
        let mut ids = vec![0u16; phrases.len()];
        for (id, (p, _)) in phrases.iter().enumerate() {
            let b = (hash3(p) >> shift) as usize;
            ids[usize::from(next[b])] = id as u16;
            next[b] += 1;
        }
        let prefixes = phrases.iter().map(|(p, _)| prefix(p)).collect();
        let step = phrases
            .iter()
            .map(|(p, _)| p.len() - 2)
            .min()
            .unwrap_or(1)
            .min(MAX_STEP);
        let mut sampled = vec![0u64; if step > 1 { 1 << (HASH_BITS - 6) } else { 0 }];
        for (p, _) in phrases.iter().filter(|_| step > 1) {
            for j in 0..step {
                let h = hash3(&p[j..]);
                sampled[(h >> 6) as usize] |= 1 << (h & 63);
            }
        }
        Self {
            phrases,
            prefixes,
            short,
            bits,
            bucket,
            bucket_shift: shift,
            ids,
            step,
            sampled: sampled.into_boxed_slice(),
        }
    }

    /// One group holding every phrase of `phrases`.
    pub(crate) fn flat(phrases: &'static [&'static str]) -> Self {
        Self::new([phrases])
    }

    /// Calls `f(start, group)` for every occurrence of every phrase in
    /// `hay`, by increasing start, until `f` returns false.
    pub(crate) fn each(&self, hay: &str, mut f: impl FnMut(usize, usize) -> bool) {
        let hay = hay.as_bytes();
        if !self.short.is_empty() {
            return self.each_with_short(hay, f);
        }
        if self.step > 1 {
            return self.each_sampled(hay, f);
        }
        let [a, b, ..] = hay else { return };
        // The key of the three bytes ending at the current byte, rolled
        // forward one byte at a time.
        let mut k = key(0, *a);
        k = key(k, *b);
        for (i, &c) in hay[2..].iter().enumerate() {
            k = key(k, c);
            let h = hash(k);
            if self.bits[(h >> 6) as usize] & (1 << (h & 63)) != 0
                && !self.verify(h, &hay[i..], |g| f(i, g))
            {
                return;
            }
        }
    }

    /// [`Self::each`] looking at every `step`-th position first. A phrase
    /// starting at `c` has one of its first `step` windows at the first
    /// multiple `p` of `step` from `c` on, so a miss at `p` rules out every
    /// start in `p - step + 1 ..= p`; on a hit those starts are tried in
    /// order, as [`Self::each`] would. The windows of successive `p` follow
    /// each other without overlap, so starts are still reported once each,
    /// by increasing position.
    fn each_sampled(&self, hay: &[u8], mut f: impl FnMut(usize, usize) -> bool) {
        let step = self.step;
        let mut p = 0;
        while p + 3 <= hay.len() {
            let h = hash3(&hay[p..]);
            if self.sampled[(h >> 6) as usize] & (1 << (h & 63)) != 0 {
                for c in p.saturating_sub(step - 1)..=p {
                    let h = hash3(&hay[c..]);
                    if self.bits[(h >> 6) as usize] & (1 << (h & 63)) != 0
                        && !self.verify(h, &hay[c..], |g| f(c, g))
                    {
                        return;
                    }
                }
            }
            p += step;
        }
    }

    /// Compares the phrases of hash `h` with the start of `rest`; false
    /// when `f` asked to stop.
    #[inline(never)]
    fn verify(&self, h: u32, rest: &[u8], mut f: impl FnMut(usize) -> bool) -> bool {
        let b = (h >> self.bucket_shift) as usize;
        let ids = &self.ids[usize::from(self.bucket[b])..usize::from(self.bucket[b + 1])];
        let (word, _) = prefix(rest);
        for &id in ids {
            let (v, m) = self.prefixes[usize::from(id)];
            if word & m != v {
                continue;
            }
            let (p, g) = self.phrases[usize::from(id)];
            if rest.starts_with(p) && !f(g) {
                return false;
            }
        }
        true
    }

    /// [`Self::each`] for tables with phrases of fewer than three bytes.
    fn each_with_short(&self, hay: &[u8], mut f: impl FnMut(usize, usize) -> bool) {
        for i in 0..hay.len().max(1) {
            let rest = hay.get(i..).unwrap_or_default();
            for (p, g) in &self.short {
                if rest.starts_with(p) && !f(i, *g) {
                    return;
                }
            }
            if rest.len() >= 3 {
                let h = hash3(rest);
                if self.bits[(h >> 6) as usize] & (1 << (h & 63)) != 0
                    && !self.verify(h, rest, |g| f(i, g))
                {
                    return;
                }
            }
        }
    }

    /// Whether any phrase occurs in `hay`.
    pub(crate) fn any(&self, hay: &str) -> bool {
        let mut found = false;
        self.each(hay, |_, _| {
            found = true;
            false
        });
        found
    }

    /// The first start of a phrase in `hay` (left to right) for which
    /// `keep` holds.
    pub(crate) fn first_start(
        &self,
        hay: &str,
        mut keep: impl FnMut(usize) -> bool,
    ) -> Option<usize> {
        let mut found = None;
        self.each(hay, |s, _| {
            if keep(s) {
                found = Some(s);
                return false;
            }
            true
        });
        found
    }

    #[cfg(test)]
    fn starts(&self, hay: &str) -> Vec<usize> {
        let mut v = Vec::new();
        self.each(hay, |s, _| {
            v.push(s);
            true
        });
        v
    }

    /// The first group (in table order) with a phrase occurring in `hay`,
    /// wherever in `hay` it occurs.
    pub(crate) fn first_group(&self, hay: &str) -> Option<usize> {
        let mut best: Option<usize> = None;
        self.each(hay, |_, g| {
            if best.is_none_or(|b| g < b) {
                best = Some(g);
            }
            g != 0
        });
        best
    }

    /// The group of the phrase that starts earliest in `hay` (ties: the
    /// first group).
    pub(crate) fn earliest_group(&self, hay: &str) -> Option<usize> {
        let mut best: Option<(usize, usize)> = None;
        self.each(hay, |s, g| {
            match best {
                Some((bs, _)) if s > bs => return false,
                Some((_, bg)) if bg <= g => {}
                _ => best = Some((s, g)),
            }
            true
        });
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

    #[test]
    fn short_phrases_and_edges() {
        let s = PhraseSet::new([&["ab"][..], &["abc", "bcd"][..]]);
        assert_eq!(s.first_group("xxbcd"), Some(1));
        assert_eq!(s.first_group("xab"), Some(0));
        assert_eq!(s.earliest_group("bcdab"), Some(1));
        assert_eq!(s.earliest_group("zabcd"), Some(0));
        assert_eq!(s.starts("zabcd"), vec![1, 1, 2]);
        assert_eq!(s.first_group(""), None);
        // The empty phrase occurs everywhere, even in an empty text.
        assert!(PhraseSet::flat(&[""]).any(""));
        let t = PhraseSet::flat(&["message", "sage"]);
        assert_eq!(t.starts("a message"), vec![2, 5]);
        assert!(!t.any("mess"));
    }

    /// What a naive search for every phrase finds: (start, group) of every
    /// (overlapping) occurrence, by start then group.
    fn naive(phrases: &[&str], hay: &str) -> Vec<(usize, usize)> {
        let mut v = Vec::new();
        for i in 0..hay.len() {
            for (g, p) in phrases.iter().enumerate() {
                if hay.as_bytes()[i..].starts_with(p.as_bytes()) {
                    v.push((i, g));
                }
            }
        }
        v
    }

    /// `s`, built from `phrases` one per group, answers every question as
    /// the naive search does.
    fn check(s: &PhraseSet, phrases: &[&str], hay: &str) {
        let naive = naive(phrases, hay);
        let mut got: Vec<(usize, usize)> = Vec::new();
        s.each(hay, |i, g| {
            got.push((i, g));
            true
        });
        got.sort();
        assert_eq!(got, naive, "{hay}");
        assert_eq!(s.first_group(hay), naive.iter().map(|x| x.1).min(), "{hay}");
        assert_eq!(s.earliest_group(hay), naive.first().map(|x| x.1), "{hay}");
        assert_eq!(s.any(hay), !naive.is_empty(), "{hay}");
        for skip in 0..3 {
            let want = naive.iter().map(|x| x.0).filter(|&i| i % 3 != skip).min();
            assert_eq!(s.first_start(hay, |i| i % 3 != skip), want, "{hay}");
        }
    }

    /// The table finds exactly what a naive search for every phrase finds.
    #[test]
    fn same_as_naive() {
        const P: &[&str] = &[
            "user unknown",
            "unknown",
            "no such user",
            "spf",
            "rbl",
            "mailbox full",
            "full",
            "über",
            "エラー",
            "aaa",
            "aaaa",
            // Phrases sharing their first eight bytes and more, of 8, 9,
            // 16, 17 and more bytes.
            "recipien",
            "recipient",
            "recipient addres",
            "recipient address",
            "recipient address rejected",
            "recipient unknown",
        ];
        let s = PhraseSet::new(P.iter().map(std::slice::from_ref));
        assert_eq!(s.step, 1);
        for hay in [
            "550 user unknown; mailbox full",
            "spf fail, listed in rbl",
            "aaaaaa",
            "über エラー",
            "",
            "sp",
            "nothing here at all",
            "550 recipient address rejected: recipient unknown",
            "recipient address rejecte",
            "recipient addresS rejected",
            "recipient addres",
            "recipient unknowN recipien",
            "recipient\0\0\0\0\0\0\0",
        ] {
            check(&s, P, hay);
        }
    }

    /// Tables of long phrases look at every few positions only, and still
    /// find every occurrence, at the start, the end and overlapping.
    #[test]
    fn sampled_same_as_naive() {
        const P: &[&str] = &[
            "user unknown",
            "unknown user",
            "no such user",
            "mailbox full",
            "mailbox is full",
            "box full",
            "aaaaaaa",
            "エラーです",
        ];
        let s = PhraseSet::new(P.iter().map(std::slice::from_ref));
        assert_eq!(s.step, 5);
        let pieces = [
            "user ",
            "unknown ",
            "no such ",
            "mailbox ",
            "is ",
            "full",
            "x",
            "aaaa",
            "エラー",
            "です",
            " ",
            "box",
        ];
        // Every text of up to four pieces, so every phrase meets every
        // alignment against the sampled positions.
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for t in &texts {
                for p in pieces {
                    next.push(format!("{t}{p}"));
                }
            }
            texts.extend(next);
            texts.dedup();
        }
        for hay in &texts {
            check(&s, P, hay);
            check(&s, P, &format!("z{hay}"));
            check(&s, P, &format!("zz{hay}q"));
        }
    }
}

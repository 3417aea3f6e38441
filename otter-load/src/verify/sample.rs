//! Which chunks of a table a verify pass compares ([`Sample`]): every chunk, or — for continuous
//! verification — a random share of them plus the ranges that differed before.
//!
//! Invariant: a range that differed stays in the next pass (whatever the share) until a pass finds
//! it equal, so a difference once seen is reported by every later pass until it is repaired.

use otter_core::mysql::chunk::KeyRange;

/// Which chunks of a table one pass compares: all of them (the default), or a random share plus
/// the ranges that differed in an earlier pass (continuous verification).
#[derive(Debug, Clone)]
pub struct Sample {
    /// Share of chunks compared, in (0, 1]; each chunk is picked on its own with this chance.
    pub share: f64,
    /// Seed of the choice (a new one per pass covers other chunks).
    pub seed: u64,
    /// Ranges compared first, whatever the share (from [`TableReport::differing`](super::TableReport::differing)).
    pub again: Vec<KeyRange>,
}

impl Default for Sample {
    fn default() -> Self {
        Sample { share: 1.0, seed: 0, again: Vec::new() }
    }
}

impl Sample {
    /// Whether chunk number `index` is compared: a SplitMix64 draw from the seed and the index.
    pub fn picks(&self, index: u64) -> bool {
        if self.share >= 1.0 {
            return true;
        }
        let mut z = self.seed.wrapping_add(index.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64) < self.share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_picks_about_that_many_chunks_and_seeds_vary_them() {
        let all = Sample::default();
        assert!((0..1000).all(|i| all.picks(i)));
        let a = Sample { share: 0.1, seed: 1, again: Vec::new() };
        let b = Sample { seed: 2, ..a.clone() };
        let picked_a: Vec<u64> = (0..10_000).filter(|&i| a.picks(i)).collect();
        let picked_b: Vec<u64> = (0..10_000).filter(|&i| b.picks(i)).collect();
        assert!((800..1200).contains(&picked_a.len()), "{}", picked_a.len());
        assert!((800..1200).contains(&picked_b.len()), "{}", picked_b.len());
        let common = picked_a.iter().filter(|i| picked_b.contains(i)).count();
        assert!(common < 300, "two seeds pick mostly other chunks: {common} in common");
        // Every chunk is covered within a few dozen passes of 10 %.
        let covered = (0..100u64).filter(|&i| (0..60).any(|seed| Sample { share: 0.1, seed, again: Vec::new() }.picks(i))).count();
        assert_eq!(covered, 100);
    }
}

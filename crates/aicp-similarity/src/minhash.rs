//! MinHash signatures and LSH band keys.
//!
//! Each of the `n` hash functions is a seeded multiply-add-shift `h(x) = (a·x + b) >> 32` over
//! 64-bit words, applied to the shingle hash folded to 32 bits (Dietzfelbinger's strongly universal
//! family for 32-bit keys); component `i` of the signature is the minimum of `h_i` over the shingle
//! set. For two sets, each component agrees with probability ≈ their Jaccard similarity, so the
//! fraction of agreeing components estimates it without bias and with standard error
//! `sqrt(J·(1−J)/n)`. An empty set gets `u32::MAX` everywhere.
//!
//! Banding cuts the signature into `b` bands of `r` rows; a band's key is the xxh3 hash of its rows
//! under a seed mixing the scheme and the band index, so equal rows in different bands, or under
//! different schemes, never give the same key.

use aicp_domain::similarity::LshBanding;
use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The `n` seeded hash functions of one scheme.
#[derive(Debug, Clone)]
pub(crate) struct MinHasher {
    /// Multipliers `a` (odd), one per hash function.
    a: Vec<u64>,
    /// Offsets `b`, one per hash function (kept apart from `a`: the loop runs faster).
    b: Vec<u64>,
}

impl MinHasher {
    /// `n` hash functions drawn deterministically from `seed`.
    pub(crate) fn new(n: usize, seed: u64) -> Self {
        let mut state = seed;
        let (a, b) = (0..n).map(|_| (splitmix64(&mut state) | 1, splitmix64(&mut state))).unzip();
        Self { a, b }
    }

    /// The signature of a shingle set.
    pub(crate) fn signature(&self, shingles: &[u64]) -> Vec<u32> {
        let n = self.a.len();
        let mut signature = vec![u32::MAX; n];
        let (a, b) = (&self.a[..n], &self.b[..n]);
        for &shingle in shingles {
            let x = u64::from(fold32(shingle));
            for ((min, &a), &b) in signature.iter_mut().zip(a).zip(b) {
                *min = (*min).min(high32(a.wrapping_mul(x).wrapping_add(b)));
            }
        }
        signature
    }
}

/// Band keys of `signature` (one per band; empty when the signature does not fit the banding).
pub(crate) fn band_keys(signature: &[u32], banding: LshBanding, scheme_seed: u64) -> Vec<u64> {
    if banding.rows == 0 || signature.len() != banding.signature_len() {
        return Vec::new();
    }
    let mut buf = Vec::with_capacity(banding.rows * 4);
    signature
        .chunks_exact(banding.rows)
        .zip(0_u64..)
        .map(|(rows, band)| {
            buf.clear();
            for row in rows {
                buf.extend_from_slice(&row.to_le_bytes());
            }
            let mut seed = scheme_seed ^ band.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            xxh3_64_with_seed(&buf, splitmix64(&mut seed))
        })
        .collect()
}

/// Fraction of agreeing components; `0.0` for signatures of different lengths.
pub(crate) fn agreement(a: &[u32], b: &[u32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    crate::shingle::ratio(equal, a.len())
}

/// SplitMix64: a fast, well-mixed stream of 64-bit values from a seed.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The upper 32 bits (the multiply-shift output).
#[allow(clippy::cast_possible_truncation)]
const fn high32(x: u64) -> u32 {
    (x >> 32) as u32
}

/// Folds a 64-bit shingle hash to the 32-bit key of the universal family.
#[allow(clippy::cast_possible_truncation)]
const fn fold32(x: u64) -> u32 {
    (x ^ (x >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_set_has_the_all_max_signature() {
        let hasher = MinHasher::new(8, 1);
        assert_eq!(hasher.signature(&[]), vec![u32::MAX; 8]);
    }

    #[test]
    fn the_signature_depends_on_the_set_not_on_order_or_repeats() {
        let hasher = MinHasher::new(32, 7);
        assert_eq!(hasher.signature(&[1, 2, 3]), hasher.signature(&[3, 1, 2, 2, 1]));
        assert_ne!(hasher.signature(&[1, 2, 3]), hasher.signature(&[1, 2, 4]));
    }

    #[test]
    fn equal_rows_in_different_bands_give_different_keys() {
        let banding = LshBanding { bands: 2, rows: 2 };
        let keys = band_keys(&[5, 6, 5, 6], banding, 42);
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys, band_keys(&[5, 6, 5, 6], banding, 43));
    }

    #[test]
    fn a_signature_that_does_not_fit_the_banding_has_no_keys() {
        assert!(band_keys(&[1, 2, 3], LshBanding { bands: 2, rows: 2 }, 0).is_empty());
    }

    #[test]
    fn agreement_is_the_fraction_of_equal_components() {
        assert!((agreement(&[1, 2, 3, 4], &[1, 2, 0, 0]) - 0.5).abs() < 1e-12);
        assert!(agreement(&[1, 2], &[1]).abs() < 1e-12);
    }
}

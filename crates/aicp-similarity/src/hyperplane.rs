//! [`HyperplaneLsh`]: random-hyperplane LSH (Charikar's SimHash for real vectors) over prompt
//! embeddings, the [`VectorSigner`] adapter behind semantic similarity.
//!
//! Bit `i` of a vector's signature is the side of hyperplane `i` it lies on (`dot(plane_i, v) >=
//! 0`); two vectors at angle `θ` disagree on a bit with probability `θ/π`. The bits are cut into
//! bands and keyed exactly like MinHash signatures (one bit per component, the same banding and
//! keying code), so the storage layer indexes both kinds of key the same way.
//!
//! Hyperplanes are Gaussian (Box–Muller over a SplitMix64 stream seeded by the seed and the vector
//! length), generated once per vector length and kept: the same seed gives the same planes, hence
//! the same band keys, in every process. Vectors of different lengths (different models or
//! `dimensions`) never share a key, because the length is part of the key seed.
//!
//! # Default banding
//!
//! 32 bands × 12 bits (384 hyperplanes). With bit agreement `p = 1 − acos(cos)/π`, a pair is a
//! candidate with probability `1 − (1 − p^12)^32`:
//!
//! | cosine | 0.1   | 0.3   | 0.5  | 0.7  | 0.8  | 0.85 | 0.9   | 0.95 |
//! |--------|-------|-------|------|------|------|------|-------|------|
//! | P      | 0.016 | 0.064 | 0.22 | 0.62 | 0.88 | 0.96 | 0.996 | ≈1   |
//!
//! Embeddings of unrelated texts still have cosines of 0.1–0.5 with most models, so the band index
//! returns some unrelated candidates (rescored away); the repository orders candidates by the
//! number of shared keys, which tracks the angle, before any limit applies.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aicp_domain::embedding::VectorSigner;
use aicp_domain::similarity::LshBanding;
use xxhash_rust::xxh3::xxh3_64;

use crate::minhash::{band_keys, splitmix64};

/// Default banding of hyperplane signatures (see the module docs).
pub const DEFAULT_VECTOR_BANDING: LshBanding = LshBanding { bands: 32, rows: 12 };

/// Default seed of the hyperplanes.
pub const DEFAULT_VECTOR_SEED: u64 = 0x6169_6370_5f76_6563; // "aicp_vec"

/// Largest vector length accepted (longer vectors get no keys). The largest common embedding
/// models produce 3,072 (OpenAI) or 4,096 dimensions.
pub const MAX_DIMENSIONS: usize = 16_384;

/// Random-hyperplane signer; cheap to share behind an `Arc<dyn VectorSigner>`.
#[derive(Debug)]
pub struct HyperplaneLsh {
    banding: LshBanding,
    seed: u64,
    /// Planes per vector length: `bits × dims` components, plane-major.
    planes: RwLock<HashMap<usize, Arc<[f32]>>>,
}

impl HyperplaneLsh {
    /// A signer with `banding` (`bands × rows` hyperplanes) and `seed`.
    ///
    /// # Errors
    /// [`crate::ConfigError::Banding`] when the banding is empty or has more than
    /// [`crate::MAX_SIGNATURE_LEN`] bits.
    pub fn new(banding: LshBanding, seed: u64) -> Result<Self, crate::ConfigError> {
        if banding.bands == 0
            || banding.rows == 0
            || banding.bands.checked_mul(banding.rows).is_none_or(|n| n > crate::MAX_SIGNATURE_LEN)
        {
            return Err(crate::ConfigError::Banding { bands: banding.bands, rows: banding.rows });
        }
        Ok(Self { banding, seed, planes: RwLock::new(HashMap::new()) })
    }

    /// The signature of `vector`: one `0`/`1` component per hyperplane (empty for an empty or
    /// overlong vector).
    #[must_use]
    pub fn bits(&self, vector: &[f32]) -> Vec<u32> {
        let dims = vector.len();
        if dims == 0 || dims > MAX_DIMENSIONS {
            return Vec::new();
        }
        let planes = self.planes_for(dims);
        planes
            .chunks_exact(dims)
            .map(|plane| {
                let dot: f64 =
                    plane.iter().zip(vector).map(|(p, v)| f64::from(*p) * f64::from(*v)).sum();
                u32::from(dot >= 0.0)
            })
            .collect()
    }

    fn planes_for(&self, dims: usize) -> Arc<[f32]> {
        if let Some(p) =
            self.planes.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&dims)
        {
            return Arc::clone(p);
        }
        let mut state = self.seed ^ (dims as u64).wrapping_mul(0xA24B_AED4_963E_E407);
        let planes: Arc<[f32]> =
            (0..self.banding.signature_len() * dims).map(|_| gaussian(&mut state)).collect();
        let mut map = self.planes.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(map.entry(dims).or_insert(planes))
    }

    /// Seed of the band keys of vectors of length `dims`.
    fn key_seed(&self, dims: usize) -> u64 {
        let mut bytes = Vec::with_capacity(40);
        bytes.extend_from_slice(b"aicp-hyperplane/1");
        bytes.extend_from_slice(&self.seed.to_le_bytes());
        bytes.extend_from_slice(&(dims as u64).to_le_bytes());
        bytes.extend_from_slice(&(self.banding.rows as u64).to_le_bytes());
        xxh3_64(&bytes)
    }
}

impl Default for HyperplaneLsh {
    fn default() -> Self {
        Self {
            banding: DEFAULT_VECTOR_BANDING,
            seed: DEFAULT_VECTOR_SEED,
            planes: RwLock::default(),
        }
    }
}

impl VectorSigner for HyperplaneLsh {
    fn band_keys(&self, vector: &[f32]) -> Vec<u64> {
        band_keys(&self.bits(vector), self.banding, self.key_seed(vector.len()))
    }

    fn similarity(&self, a: &[f32], b: &[f32]) -> f64 {
        cosine(a, b)
    }

    fn banding(&self) -> LshBanding {
        self.banding
    }
}

/// Cosine similarity of `a` and `b` (in `f64`), clamped to `0.0..=1.0`; `0.0` when the lengths
/// differ, either vector is zero or a component is not finite.
#[must_use]
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0_f64, 0.0_f64, 0.0_f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    let c = dot / (na.sqrt() * nb.sqrt());
    if c.is_finite() { c.clamp(0.0, 1.0) } else { 0.0 }
}

/// A standard normal deviate (Box–Muller) from the SplitMix64 stream.
#[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
fn gaussian(state: &mut u64) -> f32 {
    // 53-bit uniforms in (0, 1]: ln never sees 0.
    let u1 = ((splitmix64(state) >> 11) + 1) as f64 / (1_u64 << 53) as f64;
    let u2 = (splitmix64(state) >> 11) as f64 / (1_u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use aicp_domain::embedding::bit_agreement;

    use super::*;

    fn unit(dims: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..dims).map(|_| gaussian(&mut state)).collect()
    }

    /// `a` rotated towards `b` so that the cosine of the result with `a` is about `cos`
    /// (for random high-dimensional `a`, `b`, which are nearly orthogonal).
    fn mix(a: &[f32], b: &[f32], cos: f64) -> Vec<f32> {
        let sin = (1.0 - cos * cos).sqrt();
        #[allow(clippy::cast_possible_truncation)]
        a.iter().zip(b).map(|(x, y)| (f64::from(*x) * cos + f64::from(*y) * sin) as f32).collect()
    }

    #[test]
    fn keys_are_deterministic_and_depend_on_seed_and_length() {
        let signer = HyperplaneLsh::default();
        let v = unit(64, 1);
        let keys = signer.band_keys(&v);
        assert_eq!(keys.len(), 32);
        assert_eq!(keys, HyperplaneLsh::default().band_keys(&v));
        let other_seed = HyperplaneLsh::new(DEFAULT_VECTOR_BANDING, 7).expect("valid");
        assert!(keys.iter().all(|k| !other_seed.band_keys(&v).contains(k)));
        let mut longer = v.clone();
        longer.push(0.0);
        assert!(keys.iter().all(|k| !signer.band_keys(&longer).contains(k)));
    }

    #[test]
    fn scaling_a_vector_changes_nothing() {
        let signer = HyperplaneLsh::default();
        let v = unit(32, 3);
        let scaled: Vec<f32> = v.iter().map(|x| x * 3.5).collect();
        assert_eq!(signer.band_keys(&v), signer.band_keys(&scaled));
        assert!((signer.similarity(&v, &scaled) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn bit_agreement_matches_the_angle() {
        // 384 bits per pair over 20 pairs: the mean agreement is within a few points of theory.
        let signer = HyperplaneLsh::default();
        for cos in [0.3, 0.6, 0.9] {
            let mut agree = 0usize;
            let mut total = 0usize;
            for pair in 0..20 {
                let a = unit(256, 100 + pair);
                let b = mix(&a, &unit(256, 900 + pair), cos);
                let (x, y) = (signer.bits(&a), signer.bits(&b));
                agree += x.iter().zip(&y).filter(|(p, q)| p == q).count();
                total += x.len();
            }
            #[allow(clippy::cast_precision_loss)]
            let measured = agree as f64 / total as f64;
            let expected = bit_agreement(cos);
            assert!((measured - expected).abs() < 0.03, "cos {cos}: {measured} vs {expected}");
        }
    }

    #[test]
    fn near_vectors_share_keys_and_orthogonal_ones_rarely_do() {
        let signer = HyperplaneLsh::default();
        let mut near_hits = 0;
        let mut far_hits = 0;
        for i in 0..50 {
            let a = unit(128, i);
            let keys = signer.band_keys(&a);
            let shares = |v: &[f32]| signer.band_keys(v).iter().any(|k| keys.contains(k));
            near_hits += usize::from(shares(&mix(&a, &unit(128, 1000 + i), 0.95)));
            far_hits += usize::from(shares(&unit(128, 5000 + i)));
        }
        assert!(near_hits >= 48, "{near_hits}/50 near pairs were candidates");
        assert!(far_hits <= 5, "{far_hits}/50 orthogonal pairs were candidates");
    }

    #[test]
    fn cosine_edge_cases() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-12);
        assert!(cosine(&[1.0, 0.0], &[-1.0, 0.0]).abs() < 1e-12, "negative clamps to 0");
        assert!(cosine(&[1.0], &[1.0, 0.0]).abs() < 1e-12, "lengths differ");
        assert!(cosine(&[0.0, 0.0], &[1.0, 0.0]).abs() < 1e-12, "zero vector");
        assert!(cosine(&[f32::NAN, 0.0], &[1.0, 0.0]).abs() < 1e-12, "not finite");
        assert!(cosine(&[], &[]).abs() < 1e-12);
        assert!((cosine(&[1.0, 1.0], &[1.0, 0.0]) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    }

    #[test]
    fn empty_overlong_and_bad_bandings_get_no_keys_or_are_refused() {
        let signer = HyperplaneLsh::default();
        assert!(signer.band_keys(&[]).is_empty());
        assert!(signer.band_keys(&vec![1.0; MAX_DIMENSIONS + 1]).is_empty());
        assert!(HyperplaneLsh::new(LshBanding { bands: 0, rows: 4 }, 1).is_err());
        assert!(HyperplaneLsh::new(LshBanding { bands: 200, rows: 12 }, 1).is_err());
    }
}

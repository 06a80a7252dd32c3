//! [`MinHashAnalyzer`]: the [`PromptAnalyzer`] adapter, tying normalisation, MD5, shingling,
//! MinHash and LSH banding together under one validated configuration.

use aicp_domain::similarity::{LshBanding, PromptAnalyzer, PromptFingerprint};
use xxhash_rust::xxh3::xxh3_64;

use crate::minhash::{self, MinHasher};
use crate::normalize::{Masking, NormalizeConfig, Normalizer};
use crate::shingle::{self, MAX_CHAR_SIZE, MAX_INSTRUCTION_WEIGHT, MAX_WORD_SIZE, ShingleConfig};

/// Seed of the default hash functions. Changing it changes every signature and band key.
pub const DEFAULT_SEED: u64 = 0x6169_6370_5f73_696d; // "aicp_sim"

/// Default banding: 16 bands × 8 rows = 128 hash functions; S-curve threshold
/// `(1/16)^(1/8) ≈ 0.71`, so a pair at Jaccard 0.8 is a candidate with probability ≈ 0.95 and at
/// 0.9 with ≈ 0.9999, while a pair at 0.5 is one with ≈ 0.06 and at 0.3 with ≈ 0.001.
pub const DEFAULT_BANDING: LshBanding = LshBanding { bands: 16, rows: 8 };

/// Largest accepted signature (`bands × rows`).
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// Version of the fingerprint algorithm; part of every scheme id, bumped whenever a change to this
/// crate changes fingerprints of the same text under the same configuration. (Version 2 added
/// [`AnalyzerConfig::signature_masking`] and the instruction weight; a configuration using
/// neither keeps its version-1 scheme, since its fingerprints did not change.)
const ALGORITHM_VERSION: &[u8] = b"aicp-minhash/1";
/// Appended, with the two settings, to the scheme digest of configurations using either.
const VERSION_2: &[u8] = b"aicp-minhash/2";

/// Everything that decides a fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AnalyzerConfig {
    /// Normalisation (lowercasing and masking) of the text behind the exact hash.
    pub normalize: NormalizeConfig,
    /// Kinds also masked in the text behind the signature (on top of `normalize.masking`), so
    /// that prompts of one template with other values in it are near-duplicates while their
    /// exact hashes still tell true repeats apart. Default [`Masking::ALL_AND_QUOTES`].
    pub signature_masking: Masking,
    /// Shingling (word and character shingle sizes, short-text fallback).
    pub shingles: ShingleConfig,
    /// LSH banding; the signature has `bands × rows` components.
    pub banding: LshBanding,
    /// Seed of the MinHash functions.
    pub seed: u64,
}

impl Default for AnalyzerConfig {
    fn default() -> Self {
        Self {
            signature_masking: Masking::ALL_AND_QUOTES,
            shingles: ShingleConfig::default(),
            ..Self::V1
        }
    }
}

impl AnalyzerConfig {
    /// The defaults before template-aware signatures (scheme version 1): nothing masked behind
    /// the signature, so a changed id or date counts as a changed word. Kept to compare against
    /// and to read fingerprints stored under it.
    pub const V1: Self = Self {
        normalize: NormalizeConfig { lowercase: true, masking: Masking::NONE },
        signature_masking: Masking::NONE,
        shingles: ShingleConfig {
            word_size: 3,
            char_size: 5,
            min_words: 10,
            instruction_weight: 0,
        },
        banding: DEFAULT_BANDING,
        seed: DEFAULT_SEED,
    };
}

/// Why an [`AnalyzerConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// `bands` or `rows` is zero, or `bands × rows` exceeds [`MAX_SIGNATURE_LEN`].
    #[error(
        "banding {bands} × {rows} must be non-empty and at most {MAX_SIGNATURE_LEN} components"
    )]
    Banding {
        /// Bands asked for.
        bands: usize,
        /// Rows asked for.
        rows: usize,
    },
    /// A shingle size is zero or above its maximum, or the instruction weight above its own.
    #[error(
        "shingle sizes must be 1..={MAX_WORD_SIZE} words and 1..={MAX_CHAR_SIZE} characters, got {words} and {chars}, and the instruction weight at most {MAX_INSTRUCTION_WEIGHT}"
    )]
    ShingleSize {
        /// Words per shingle asked for.
        words: usize,
        /// Characters per shingle asked for.
        chars: usize,
    },
}

/// MinHash + LSH implementation of the [`PromptAnalyzer`] port (see the crate docs for the
/// reasoning and the defaults). Cheap to share: wrap it in an `Arc<dyn PromptAnalyzer>`.
#[derive(Debug, Clone)]
pub struct MinHashAnalyzer {
    config: AnalyzerConfig,
    normalizer: Normalizer,
    hasher: MinHasher,
    scheme: u32,
    scheme_seed: u64,
}

impl MinHashAnalyzer {
    /// An analyzer for `config`.
    ///
    /// # Errors
    /// [`ConfigError`] when the banding or a shingle size is out of range.
    pub fn new(config: AnalyzerConfig) -> Result<Self, ConfigError> {
        let AnalyzerConfig { banding, shingles, .. } = config;
        if banding.bands == 0
            || banding.rows == 0
            || banding.bands.checked_mul(banding.rows).is_none_or(|n| n > MAX_SIGNATURE_LEN)
        {
            return Err(ConfigError::Banding { bands: banding.bands, rows: banding.rows });
        }
        if !(1..=MAX_WORD_SIZE).contains(&shingles.word_size)
            || !(1..=MAX_CHAR_SIZE).contains(&shingles.char_size)
            || shingles.instruction_weight > MAX_INSTRUCTION_WEIGHT
        {
            return Err(ConfigError::ShingleSize {
                words: shingles.word_size,
                chars: shingles.char_size,
            });
        }
        Ok(Self::build(config))
    }

    fn build(config: AnalyzerConfig) -> Self {
        let scheme_seed = scheme_seed(&config);
        Self {
            config,
            normalizer: Normalizer::new(config.normalize),
            hasher: MinHasher::new(config.banding.signature_len(), config.seed),
            scheme: fold_scheme(scheme_seed),
            scheme_seed,
        }
    }

    /// The configuration in force.
    #[must_use]
    pub const fn config(&self) -> &AnalyzerConfig {
        &self.config
    }

    /// The exact shingle set of `text` after normalisation and signature masking (sorted,
    /// deduplicated hashes), the set whose Jaccard similarity the signatures estimate; for
    /// brute-force checks and benchmarks.
    #[must_use]
    pub fn shingles(&self, text: &str) -> Vec<u64> {
        shingle::shingles(&self.signature_text(text), &self.config.shingles)
    }

    /// The text the signature is computed from: normalised, with
    /// [`signature_masking`](AnalyzerConfig::signature_masking) applied too.
    #[must_use]
    pub fn signature_text(&self, text: &str) -> String {
        let (normalized, _, signature) =
            self.normalizer.normalize_for_signature(text, self.config.signature_masking);
        signature.unwrap_or(normalized)
    }
}

impl Default for MinHashAnalyzer {
    /// The analyzer for [`AnalyzerConfig::default`], which is valid.
    fn default() -> Self {
        Self::build(AnalyzerConfig::default())
    }
}

impl PromptAnalyzer for MinHashAnalyzer {
    fn normalize(&self, text: &str) -> String {
        self.normalizer.normalize(text)
    }

    fn template(&self, text: &str) -> String {
        self.normalizer.template(text)
    }

    fn fingerprint(&self, text: &str) -> PromptFingerprint {
        let (normalized, template, signature_text) =
            self.normalizer.normalize_for_signature(text, self.config.signature_masking);
        let hash = md5_hex(&normalized);
        let template_hash = template.map_or_else(|| hash.clone(), |t| md5_hex(&t));
        let shingles = shingle::shingles(
            signature_text.as_ref().unwrap_or(&normalized),
            &self.config.shingles,
        );
        PromptFingerprint {
            hash,
            template_hash,
            signature: self.hasher.signature(&shingles),
            scheme: self.scheme,
            normalized_chars: normalized.chars().count(),
        }
    }

    fn similarity(&self, a: &PromptFingerprint, b: &PromptFingerprint) -> f64 {
        if a.scheme != b.scheme {
            return 0.0;
        }
        if a.signature.is_empty() && b.signature.is_empty() {
            return if a.hash == b.hash { 1.0 } else { 0.0 };
        }
        minhash::agreement(&a.signature, &b.signature)
    }

    fn band_keys(&self, fp: &PromptFingerprint) -> Vec<u64> {
        if fp.scheme != self.scheme {
            return Vec::new();
        }
        minhash::band_keys(&fp.signature, self.config.banding, self.scheme_seed)
    }

    fn banding(&self) -> LshBanding {
        self.config.banding
    }

    fn scheme(&self) -> u32 {
        self.scheme
    }
}

/// Lowercase hex MD5 of `text`'s UTF-8 bytes.
fn md5_hex(text: &str) -> String {
    format!("{:x}", md5::compute(text.as_bytes()))
}

/// A 64-bit digest of everything that decides a fingerprint.
fn scheme_seed(config: &AnalyzerConfig) -> u64 {
    let mut bytes = Vec::with_capacity(ALGORITHM_VERSION.len() + 2 + 6 * 8);
    bytes.extend_from_slice(ALGORITHM_VERSION);
    bytes.push(u8::from(config.normalize.lowercase));
    bytes.push(config.normalize.masking.bits());
    for n in [
        config.shingles.word_size,
        config.shingles.char_size,
        config.shingles.min_words,
        config.banding.bands,
        config.banding.rows,
    ] {
        bytes.extend_from_slice(&(n as u64).to_le_bytes());
    }
    bytes.extend_from_slice(&config.seed.to_le_bytes());
    let signature_masking = config.normalize.masking.union(config.signature_masking);
    if signature_masking != config.normalize.masking || config.shingles.instruction_weight > 0 {
        bytes.extend_from_slice(VERSION_2);
        bytes.push(signature_masking.bits());
        bytes.extend_from_slice(&(config.shingles.instruction_weight as u64).to_le_bytes());
    }
    xxh3_64(&bytes)
}

#[allow(clippy::cast_possible_truncation)]
const fn fold_scheme(seed: u64) -> u32 {
    (seed ^ (seed >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_configurations_are_refused() {
        let bad_banding = [(0, 8), (16, 0), (64, 32), (usize::MAX, 2)];
        for (bands, rows) in bad_banding {
            let config =
                AnalyzerConfig { banding: LshBanding { bands, rows }, ..AnalyzerConfig::default() };
            assert_eq!(
                MinHashAnalyzer::new(config).err(),
                Some(ConfigError::Banding { bands, rows })
            );
        }
        let bad_shingles = [(0, 5), (17, 5), (3, 0), (3, 33)];
        for (words, chars) in bad_shingles {
            let config = AnalyzerConfig {
                shingles: ShingleConfig {
                    word_size: words,
                    char_size: chars,
                    ..ShingleConfig::default()
                },
                ..AnalyzerConfig::default()
            };
            assert_eq!(
                MinHashAnalyzer::new(config).err(),
                Some(ConfigError::ShingleSize { words, chars })
            );
        }
    }

    #[test]
    fn the_default_configuration_is_valid_and_stable() {
        let built = MinHashAnalyzer::new(AnalyzerConfig::default()).map(|a| a.scheme());
        assert_eq!(built, Ok(MinHashAnalyzer::default().scheme()));
    }

    #[test]
    fn every_setting_changes_the_scheme() {
        let base = AnalyzerConfig::default();
        let variants = [
            AnalyzerConfig { seed: 1, ..base },
            AnalyzerConfig { banding: LshBanding { bands: 32, rows: 4 }, ..base },
            AnalyzerConfig { shingles: ShingleConfig { word_size: 4, ..base.shingles }, ..base },
            AnalyzerConfig {
                normalize: NormalizeConfig { lowercase: false, ..base.normalize },
                ..base
            },
            AnalyzerConfig { signature_masking: Masking::ALL, ..base },
            AnalyzerConfig {
                shingles: ShingleConfig { instruction_weight: 1, ..base.shingles },
                ..base
            },
            AnalyzerConfig::V1,
        ];
        let default_scheme = MinHashAnalyzer::default().scheme();
        for config in variants {
            let scheme = MinHashAnalyzer::new(config).map(|a| a.scheme());
            assert!(matches!(scheme, Ok(s) if s != default_scheme), "{config:?}");
        }
    }

    /// The default scheme before `signature_masking` existed.
    const V1_SCHEME: u32 = 0x9ccc_e2dd;

    #[test]
    fn the_version_1_configuration_keeps_its_scheme() {
        // Printed by the analyzer before `signature_masking` existed (commit e7ca9c3): stored
        // version-1 fingerprints stay recognisable as such.
        assert_eq!(MinHashAnalyzer::new(AnalyzerConfig::V1).map(|a| a.scheme()), Ok(V1_SCHEME));
        assert_ne!(MinHashAnalyzer::default().scheme(), V1_SCHEME);
    }

    #[test]
    fn md5_is_lowercase_hex_of_the_bytes() {
        assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex("{}"), "99914b932bd37a50b983c5e7c90ae93b");
    }
}

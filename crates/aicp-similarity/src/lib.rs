//! Prompt similarity for AI Cost Profiler: normalisation, exact fingerprints and near-duplicate
//! scoring of prompts, so that the money a team spends on repeated and lightly edited prompts can
//! be found and priced. Pure CPU: no I/O, no async, no storage; the storage layer indexes what this
//! crate computes, through the [`PromptAnalyzer`] port of `aicp-domain`.
//!
//! The original's "similar prompts" compared an MD5 computed over JavaScript's JSON with one
//! computed by PostgreSQL over differently formatted JSON, so it never matched (docs/API.md,
//! `/similar`). Here the hash is taken over one canonical, normalised text, computed in one
//! place, and near-duplicates are scored instead of only exact repeats.
//!
//! # What a fingerprint holds
//!
//! - `hash` (`promptHash`): MD5 hex of the [normalised](normalize) text. With the default
//!   configuration that is whitespace collapsed and lowercased, nothing masked: equal hashes are
//!   true repeats, the prompts a response cache would have served.
//! - `template_hash`: MD5 hex of the normalised text with every volatile part (URLs, e-mail
//!   addresses, UUIDs, dates, times, hex ids, numbers) replaced by a placeholder: the grouping key
//!   for per-template cost, across all of a template's variables.
//! - `signature`: a 128-component MinHash signature of the [shingle] set (word trigrams;
//!   character 5-grams for texts under 10 words) of the normalised text with every volatile part
//!   *and* every quoted string masked ([`AnalyzerConfig::signature_masking`]), whose agreement
//!   estimates the Jaccard similarity of two prompts. Masking there and not in `hash` is what makes
//!   prompts of one template near-duplicates (`customer 4411 says …` and `customer 9382 says …`
//!   agree everywhere) while `hash` still separates them as different prompts. When the text
//!   opens with an instruction ended by a colon, the set also holds three times as many shingles
//!   standing for that instruction as a whole ([`ShingleConfig::instruction_weight`]): prompts
//!   with one instruction tolerate more changed content words, prompts whose instructions differ
//!   in one word ("for the billing team" / "for the legal team") stay apart.
//! - band keys (computed from the signature): 16 LSH keys, indexed by the storage layer so that the
//!   candidates for one prompt are found without scanning the table.
//!
//! # Why MinHash with LSH banding, not SimHash
//!
//! - MinHash estimates a measure that is easy to state and to test: the Jaccard similarity of the
//!   shingle sets, without bias, with a known error (`sqrt(J·(1−J)/128)`, ≤ 0.045). SimHash
//!   estimates the angle between weighted feature vectors, which is harder to explain as a
//!   threshold and noisier on short texts.
//! - Banding maps directly onto an ordinary b-tree index: 16 `bigint` keys per prompt, candidates are
//!   rows sharing any key (`WHERE band_key = ANY($1)`). SimHash's multi-index lookup needs one table
//!   (or index) per bit-block permutation and a Hamming-distance check per block.
//! - The threshold is tunable by `bands × rows` with a closed-form S-curve.
//!
//! # Defaults and threshold maths
//!
//! With `b = 16` bands of `r = 8` rows, two prompts of Jaccard similarity `s` share at least one band
//! key with probability `P(s) = 1 − (1 − s^8)^16`; the S-curve's steepest point is
//! `(1/16)^(1/8) ≈ 0.71`, below the default `/similar` threshold 0.8 on purpose, to favour recall
//! (false candidates are removed by rescoring; missed ones are lost):
//!
//! | s    | 0.3   | 0.5  | 0.6  | 0.7  | 0.8  | 0.9     | 0.95 |
//! |------|-------|------|------|------|------|---------|------|
//! | P(s) | 0.001 | 0.06 | 0.24 | 0.61 | 0.95 | 0.99988 | ≈1   |
//!
//! One word changed in a 100-word prompt leaves 95 of 101 word trigrams shared (`s ≈ 0.94`), a
//! candidate with probability ≈ 1. Thresholds below ≈ 0.6 are answered with poor recall by the
//! index alone; [`LshBanding::candidate_probability`] lets callers say so.
//!
//! # Example
//!
//! ```
//! use aicp_domain::similarity::PromptAnalyzer;
//! use aicp_similarity::MinHashAnalyzer;
//!
//! let analyzer = MinHashAnalyzer::default();
//! let a = analyzer.fingerprint("Summarise the following  ticket for the support team.");
//! let b = analyzer.fingerprint("summarise the following ticket for the support team.");
//! assert_eq!(a.hash, b.hash);
//! assert!((analyzer.similarity(&a, &b) - 1.0).abs() < f64::EPSILON);
//! ```

pub mod analyzer;
pub mod hyperplane;
pub mod messages;
mod minhash;
pub mod normalize;
pub mod shingle;
pub mod template;

pub use aicp_domain::similarity::{LshBanding, PromptAnalyzer, PromptFingerprint};
pub use analyzer::{
    AnalyzerConfig, ConfigError, DEFAULT_BANDING, DEFAULT_SEED, MAX_SIGNATURE_LEN, MinHashAnalyzer,
};
pub use hyperplane::{DEFAULT_VECTOR_BANDING, DEFAULT_VECTOR_SEED, HyperplaneLsh, cosine};
pub use messages::prompt_text;
pub use normalize::{Masking, NormalizeConfig, Normalizer};
pub use shingle::{ShingleConfig, jaccard};
pub use template::{mark_placeholders, template_display};

//! Prompt similarity port: how the outer layers turn a prompt into a fingerprint, compare two
//! fingerprints and index them, so that money spent on repeated and near-duplicate prompts can be
//! found without scanning every stored prompt.
//!
//! The contract is deliberately small and pure (no I/O, no errors): an adapter (the
//! `aicp-similarity` crate's `MinHashAnalyzer`) normalises the text, hashes it exactly (MD5, exposed
//! as `promptHash`) and computes a MinHash signature whose LSH band keys the storage layer indexes.
//!
//! # Similarity measure
//!
//! [`PromptAnalyzer::similarity`] estimates the **Jaccard similarity of the shingle sets** of the two
//! normalised prompts: `|A ∩ B| / |A ∪ B|`, where a shingle is a run of consecutive words (or of
//! characters, for very short prompts). It is `1.0` for prompts that normalise to the same text,
//! close to `0.0` for unrelated prompts, symmetric, and always within `0.0..=1.0`. As an estimate
//! from `n` signature components it moves in steps of `1/n` and has a standard error of
//! `sqrt(J·(1−J)/n)` (≈ 0.035 at `J = 0.8` with 128 components).
//!
//! # Threshold semantics
//!
//! A pair *matches* a threshold `t` when `similarity >= t` (inclusive, so `t = 1.0` keeps only
//! prompts whose signatures agree everywhere, in practice the same normalised text, and `t = 0.0`
//! keeps everything). The default threshold is [`DEFAULT_SIMILARITY_THRESHOLD`].
//!
//! Candidates are found through [`PromptAnalyzer::band_keys`]: two prompts become candidates when
//! they share at least one band key. With `b` bands of `r` rows, a pair of true similarity `s` shares
//! a key with probability [`LshBanding::candidate_probability`] `= 1 − (1 − s^r)^b`, an S-curve whose
//! steepest point is near [`LshBanding::threshold`] `≈ (1/b)^(1/r)`. Thresholds well below that point
//! are answered with poor recall by the band index alone; callers then rescore the candidates with
//! [`PromptAnalyzer::similarity`] and keep those meeting the threshold.

use serde::{Deserialize, Serialize};

/// Threshold used when a caller gives none (the original's `/similar` default, `0.8`).
pub const DEFAULT_SIMILARITY_THRESHOLD: f64 = 0.8;

/// What is kept of one prompt so that it can be grouped and compared later without its text.
///
/// Two fingerprints are comparable only when they have the same [`scheme`](Self::scheme); the
/// analyzer that made them defines that scheme (normalisation, shingling, permutations, banding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFingerprint {
    /// Lowercase hex MD5 of the normalised text (exposed as `promptHash`): prompts with the same
    /// hash are repeats of one another for cost reporting.
    #[serde(rename = "promptHash")]
    pub hash: String,
    /// Lowercase hex MD5 of the normalised text with **every** volatile part (numbers, UUIDs,
    /// dates, e-mail addresses, URLs, hex ids) replaced by a placeholder, whatever the analyzer's
    /// own masking setting: prompts from one template with different variables share it. Equal to
    /// [`hash`](Self::hash) when the analyzer already masks everything.
    pub template_hash: String,
    /// MinHash signature of the normalised text's shingle set: one minimum per hash function.
    pub signature: Vec<u32>,
    /// Identifier of the scheme that produced [`signature`](Self::signature) and the band keys.
    /// Fingerprints of different schemes are never similar.
    pub scheme: u32,
    /// Length of the normalised text, in Unicode scalar values.
    pub normalized_chars: usize,
}

/// LSH banding of a MinHash signature: `bands` bands of `rows` consecutive components each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LshBanding {
    /// Number of bands, hence of band keys per prompt.
    pub bands: usize,
    /// Signature components per band.
    pub rows: usize,
}

impl LshBanding {
    /// Signature length the banding covers (`bands × rows`).
    #[must_use]
    pub const fn signature_len(self) -> usize {
        self.bands * self.rows
    }

    /// Similarity at the steepest point of the S-curve, `(1/b)^(1/r)`: pairs above it are found
    /// through the band index with high probability, pairs below it rarely.
    #[must_use]
    pub fn threshold(self) -> f64 {
        if self.bands == 0 || self.rows == 0 {
            return 1.0;
        }
        (1.0 / count_as_f64(self.bands)).powf(1.0 / count_as_f64(self.rows))
    }

    /// Probability that two prompts of true (Jaccard) similarity `s` share at least one band key:
    /// `1 − (1 − s^r)^b`. `s` is clamped to `0.0..=1.0`.
    #[must_use]
    pub fn candidate_probability(self, s: f64) -> f64 {
        let s = if s.is_nan() { 0.0 } else { s.clamp(0.0, 1.0) };
        let rows = i32::try_from(self.rows).unwrap_or(i32::MAX);
        let bands = i32::try_from(self.bands).unwrap_or(i32::MAX);
        1.0 - (1.0 - s.powi(rows)).powi(bands)
    }
}

/// Turns prompts into fingerprints, compares them and derives the keys under which they are
/// indexed. Pure CPU: implementations do no I/O and cannot fail.
///
/// Invariants every implementation keeps:
/// - `fingerprint` is deterministic: the same text (and the same analyzer configuration) always
///   gives the same fingerprint, on every machine and in every process.
/// - Texts that normalise to the same string get the same `hash`, signature and band keys.
/// - `similarity` is symmetric, within `0.0..=1.0`, `1.0` for a fingerprint with itself, and `0.0`
///   for fingerprints of different schemes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PromptAnalyzer: Send + Sync {
    /// The normalised form of `text` that [`PromptFingerprint::hash`] is computed from (whitespace
    /// collapsed, optionally lowercased and volatile parts masked, per configuration).
    fn normalize(&self, text: &str) -> String;

    /// The normalised form of `text` with every volatile part masked, the text behind
    /// [`PromptFingerprint::template_hash`]; safe to show in place of the prompt when the privacy
    /// setting allows templates but not raw values.
    fn template(&self, text: &str) -> String;

    /// Fingerprint of `text`. Empty and one-word texts are valid and get a fingerprint too.
    fn fingerprint(&self, text: &str) -> PromptFingerprint;

    /// Estimated Jaccard similarity of the shingle sets behind `a` and `b` (see the module docs):
    /// the fraction of signature components that agree, in `0.0..=1.0`.
    fn similarity(&self, a: &PromptFingerprint, b: &PromptFingerprint) -> f64;

    /// One key per LSH band of `fp`'s signature (the band's rows, its index and the scheme hashed
    /// together). Store them indexed; the candidates for a prompt are the stored prompts sharing at
    /// least one key with it. Keys are `u64`; store them as `bigint` with `u64::cast_signed`.
    fn band_keys(&self, fp: &PromptFingerprint) -> Vec<u64>;

    /// The banding behind [`band_keys`](Self::band_keys), to reason about recall at a threshold.
    fn banding(&self) -> LshBanding;

    /// The scheme stamped on every fingerprint this analyzer makes (to rebuild a comparable
    /// fingerprint from a stored signature, and to key cached answers).
    fn scheme(&self) -> u32;
}

/// Small counts (bands, rows) as `f64`; exact for any realistic value.
#[allow(clippy::cast_precision_loss)]
fn count_as_f64(n: usize) -> f64 {
    n as f64
}

/// The canonical text of a chat prompt: one `role: content` line per message, in order, the role
/// trimmed and lowercased (`"User"` and `"user"` are the same role), the content as given
/// (normalisation deals with its whitespace and case). Keeping the role means that the same words
/// sent as a system prompt and as a user message are different prompts.
///
#[must_use]
pub fn prompt_text<R: AsRef<str>, C: AsRef<str>>(messages: &[(R, C)]) -> String {
    let capacity = messages.iter().map(|(r, c)| r.as_ref().len() + c.as_ref().len() + 3).sum();
    let mut out = String::with_capacity(capacity);
    for (i, (role, content)) in messages.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&role.as_ref().trim().to_lowercase());
        out.push_str(": ");
        out.push_str(content.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banding_threshold_follows_the_s_curve_formula() {
        let banding = LshBanding { bands: 16, rows: 8 };
        assert_eq!(banding.signature_len(), 128);
        assert!((banding.threshold() - 0.707).abs() < 0.001);
        assert!(banding.candidate_probability(0.9) > 0.999);
        assert!(banding.candidate_probability(0.8) > 0.94);
        assert!(banding.candidate_probability(0.3) < 0.002);
        assert!(banding.candidate_probability(0.0).abs() < f64::EPSILON);
        assert!((banding.candidate_probability(1.0) - 1.0).abs() < f64::EPSILON);
    }

    #[test]
    fn a_mocked_analyzer_can_stand_in_for_the_port() {
        let mut analyzer = MockPromptAnalyzer::new();
        analyzer.expect_similarity().returning(|_, _| 0.5);
        let fp = PromptFingerprint {
            hash: String::new(),
            template_hash: String::new(),
            signature: vec![],
            scheme: 0,
            normalized_chars: 0,
        };
        let port: &dyn PromptAnalyzer = &analyzer;
        assert!((port.similarity(&fp, &fp) - 0.5).abs() < f64::EPSILON);
    }

    #[test]
    fn the_fingerprint_serialises_its_hash_as_prompt_hash() {
        let fp = PromptFingerprint {
            hash: "h".into(),
            template_hash: "t".into(),
            signature: vec![1, 2],
            scheme: 7,
            normalized_chars: 3,
        };
        let json = serde_json::to_string(&fp).expect("a fingerprint serialises");
        assert_eq!(
            json,
            r#"{"promptHash":"h","templateHash":"t","signature":[1,2],"scheme":7,"normalizedChars":3}"#
        );
    }
}

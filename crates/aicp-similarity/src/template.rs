//! Display text of a prompt template: what a person reads as "the template" of a group of
//! near-duplicate prompts, with its variable parts marked, e.g.
//! `customer {number} says the invoice is {word}`.
//!
//! Two steps, both on texts already normalised and masked by the analyzer (so no raw value is
//! ever shown, only what `PROMPT_STORAGE` allowed to be kept and masking left):
//! 1. [`mark_placeholders`]: each masking placeholder (`<num>`, `<email>`, …) becomes a named
//!    slot (`{number}`, `{email}`, …).
//! 2. [`template_display`]: the variants of one group are aligned word by word (longest common
//!    subsequence, as log-template miners merge log lines); words all variants share are kept,
//!    and each run where they differ becomes one slot: `{word}` when every variant has at most
//!    one word there, `{text}` otherwise. A slot already named in step 1 keeps its name when all
//!    variants agree on it.

use crate::normalize::{
    DATE_PLACEHOLDER, EMAIL_PLACEHOLDER, HEX_PLACEHOLDER, NUMBER_PLACEHOLDER, QUOTE_PLACEHOLDER,
    TIME_PLACEHOLDER, URL_PLACEHOLDER, UUID_PLACEHOLDER,
};

/// Slot for a run of one word or none in which the variants differ.
pub const WORD_SLOT: &str = "{word}";
/// Slot for a longer run in which the variants differ.
pub const TEXT_SLOT: &str = "{text}";

/// Masking placeholders and the slot names they are shown as.
const SLOTS: [(&str, &str); 8] = [
    (NUMBER_PLACEHOLDER, "{number}"),
    (DATE_PLACEHOLDER, "{date}"),
    (TIME_PLACEHOLDER, "{time}"),
    (EMAIL_PLACEHOLDER, "{email}"),
    (URL_PLACEHOLDER, "{url}"),
    (UUID_PLACEHOLDER, "{uuid}"),
    (HEX_PLACEHOLDER, "{hex}"),
    (QUOTE_PLACEHOLDER, "{quote}"),
];

/// Above this many words per text the alignment (quadratic) is skipped and differing variants
/// are compared position by position instead: prompt reports show a few templates, each must
/// stay cheap.
const MAX_ALIGNED_WORDS: usize = 2_000;

/// `masked` with every masking placeholder shown as a named slot
/// (`order <num> for <email>` → `order {number} for {email}`).
#[must_use]
pub fn mark_placeholders(masked: &str) -> String {
    let mut out = masked.to_owned();
    for (placeholder, slot) in SLOTS {
        if out.contains(placeholder) {
            out = out.replace(placeholder, slot);
        }
    }
    out
}

/// The display text of the template behind `variants` (normalised, masked texts of one group):
/// shared words kept, differing runs marked as slots (see the module docs). `None` when there
/// is no variant. One variant gives its [`mark_placeholders`] text.
#[must_use]
pub fn template_display<S: AsRef<str>>(variants: &[S]) -> Option<String> {
    let (first, rest) = variants.split_first()?;
    let mut template: Vec<Part> =
        mark_placeholders(first.as_ref()).split(' ').map(|w| Part::Word(w.to_owned())).collect();
    for variant in rest {
        let marked = mark_placeholders(variant.as_ref());
        let words: Vec<&str> = marked.split(' ').collect();
        template = merge(&template, &words);
    }
    let mut out = String::new();
    for part in &template {
        if !out.is_empty() {
            out.push(' ');
        }
        match part {
            Part::Word(w) => out.push_str(w),
            Part::Slot { wide: false } => out.push_str(WORD_SLOT),
            Part::Slot { wide: true } => out.push_str(TEXT_SLOT),
        }
    }
    Some(out)
}

/// A word of the template so far, or a run where variants differed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Word(String),
    /// `wide`: some variant had more than one word there.
    Slot {
        wide: bool,
    },
}

/// `template` merged with one more variant: aligned words kept, everything between two aligned
/// words (on either side) folded into one slot.
fn merge(template: &[Part], words: &[&str]) -> Vec<Part> {
    let pairs = align(template, words);
    let mut out = Vec::with_capacity(template.len());
    let (mut i, mut j) = (0, 0);
    for (ti, wj) in pairs.into_iter().chain([(template.len(), words.len())]) {
        let skipped_template = &template[i..ti];
        let skipped_words = wj - j;
        if !skipped_template.is_empty() || skipped_words > 0 {
            let wide = skipped_words > 1
                || skipped_template.len() > 1
                || skipped_template.iter().any(|p| matches!(p, Part::Slot { wide: true }));
            out.push(Part::Slot { wide });
        }
        if ti < template.len() {
            out.push(template[ti].clone());
        }
        (i, j) = (ti + 1, wj + 1);
    }
    out
}

/// Index pairs of the longest common subsequence of the template's words and `words`, in
/// order (slots never match). Texts too long to align are paired position by position where
/// equal.
fn align(template: &[Part], words: &[&str]) -> Vec<(usize, usize)> {
    let same = |i: usize, j: usize| matches!(&template[i], Part::Word(w) if w == words[j]);
    let (n, m) = (template.len(), words.len());
    if n > MAX_ALIGNED_WORDS || m > MAX_ALIGNED_WORDS {
        return (0..n.min(m)).filter(|&k| same(k, k)).map(|k| (k, k)).collect();
    }
    // lengths[i][j]: LCS of template[i..] and words[j..], in one flat table.
    let width = m + 1;
    let mut lengths = vec![0_u32; (n + 1) * width];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lengths[i * width + j] = if same(i, j) {
                lengths[(i + 1) * width + j + 1] + 1
            } else {
                lengths[(i + 1) * width + j].max(lengths[i * width + j + 1])
            };
        }
    }
    let mut pairs = Vec::with_capacity(lengths[0] as usize);
    let (mut i, mut j) = (0, 0);
    while i < n && j < m {
        if same(i, j) {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if lengths[(i + 1) * width + j] >= lengths[i * width + j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_named_slots() {
        assert_eq!(
            mark_placeholders("order <num> for <email> on <date> at <time>, see <url>"),
            "order {number} for {email} on {date} at {time}, see {url}"
        );
        assert_eq!(mark_placeholders("ref <uuid> <hex> <quote>"), "ref {uuid} {hex} {quote}");
        assert_eq!(mark_placeholders("no slots here"), "no slots here");
    }

    #[test]
    fn differing_words_become_slots() {
        let variants = [
            "summarize the ticket: customer <num> says the invoice is wrong",
            "summarize the ticket: customer <num> says the invoice is late",
        ];
        assert_eq!(
            template_display(&variants).as_deref(),
            Some("summarize the ticket: customer {number} says the invoice is {word}")
        );
    }

    #[test]
    fn runs_of_several_words_become_one_text_slot() {
        let variants = [
            "write to chloe rossi about the refund",
            "write to bob about the refund",
            "write to ann lee about the late refund",
        ];
        assert_eq!(
            template_display(&variants).as_deref(),
            Some("write to {text} about the {word} refund")
        );
    }

    #[test]
    fn an_inserted_or_dropped_word_is_a_slot_too() {
        let variants = ["please check order <num> today", "check order <num> today"];
        assert_eq!(
            template_display(&variants).as_deref(),
            Some("{word} check order {number} today")
        );
    }

    #[test]
    fn one_variant_or_identical_ones_show_as_they_are() {
        assert_eq!(template_display(&["a <num> b"]).as_deref(), Some("a {number} b"));
        assert_eq!(template_display(&["a b", "a b"]).as_deref(), Some("a b"));
        assert_eq!(template_display::<&str>(&[]), None);
    }

    #[test]
    fn a_wide_slot_stays_wide() {
        let variants = ["a x y b", "a z b", "a w b"];
        assert_eq!(template_display(&variants).as_deref(), Some("a {text} b"));
    }

    #[test]
    fn texts_too_long_to_align_are_compared_position_by_position() {
        let long_a = vec!["w"; MAX_ALIGNED_WORDS + 1].join(" ") + " end a";
        let long_b = vec!["w"; MAX_ALIGNED_WORDS + 1].join(" ") + " end b";
        let shown = template_display(&[long_a, long_b]).unwrap_or_default();
        assert!(shown.ends_with("w end {word}"), "{}", &shown[shown.len() - 20..]);
    }
}

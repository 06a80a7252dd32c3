//! Shingling: the set whose Jaccard similarity the MinHash signature estimates.
//!
//! Words are maximal runs of Unicode letters, digits and `_` in the normalised text; punctuation
//! separates words and is otherwise ignored (so "hello, world" and "hello world" shingle alike).
//! Scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) make each
//! character its own word, so a Chinese prompt shingles into character trigrams instead of one
//! giant "word" per sentence.
//!
//! A shingle is `word_size` consecutive words (3 by default): with one word changed in a 100-word
//! prompt, 3 of 98 shingles change and the Jaccard similarity stays ≈ 0.94. Texts with fewer than
//! `min_words` words (default 10) use `char_size` consecutive characters (5 by default, spaces and
//! punctuation included) instead, because a handful of word trigrams is too coarse: one changed word
//! in a 5-word prompt would remove every trigram. The two kinds are hashed under different seeds, so
//! a prompt just under `min_words` and one just over never look alike; they still group exactly by
//! hash when they normalise to the same text.
//!
//! **Instruction weight** (`instruction_weight`, default 3): most prompts are a fixed instruction
//! followed by variable content ("Summarize this ticket for the billing team: …"), and two
//! prompts that differ in the instruction ask for different things however many words they
//! share. When the text has an instruction (the text before the first colon that follows 2 to
//! [`MAX_INSTRUCTION_WORDS`] words and precedes at least one word), the set also gets
//! `instruction_weight × n` shingles standing for the instruction as a whole (`n` the number of
//! ordinary shingles): prompts with the same instruction share them all, prompts whose
//! instructions differ in one word share none. So one changed word in the content costs what it
//! always did, diluted by the instruction's share, while one changed word in the instruction
//! (billing → legal, French → German) drops the similarity far below any useful threshold.
//! Texts without such a colon are shingled exactly as before.
//!
//! Shingles are 64-bit xxh3 hashes, sorted and deduplicated: a set, not a bag.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// Largest accepted `word_size`.
pub const MAX_WORD_SIZE: usize = 16;
/// Largest accepted `char_size`.
pub const MAX_CHAR_SIZE: usize = 32;
/// Largest accepted `instruction_weight`.
pub const MAX_INSTRUCTION_WEIGHT: usize = 8;
/// A colon after more words than this ends no instruction (a long text's first colon is as
/// likely to introduce a list or an example as the content).
pub const MAX_INSTRUCTION_WORDS: usize = 60;

const WORD_SEED: u64 = 0x9E37_79B9_7F4A_7C15;
const CHAR_SEED: u64 = 0xC2B2_AE3D_27D4_EB4F;
const INSTRUCTION_SEED: u64 = 0x1656_67B1_9E37_79F9;

/// How a normalised text is cut into shingles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShingleConfig {
    /// Words per word shingle (default 3; `1..=16`).
    pub word_size: usize,
    /// Characters per character shingle (default 5; `1..=32`).
    pub char_size: usize,
    /// Texts with fewer words than this use character shingles (default 10; 0 never does).
    pub min_words: usize,
    /// Shingles standing for the instruction, per ordinary shingle (default 3; 0 turns the
    /// instruction weight off; `0..=8`). See the module docs.
    pub instruction_weight: usize,
}

impl Default for ShingleConfig {
    fn default() -> Self {
        Self { word_size: 3, char_size: 5, min_words: 10, instruction_weight: 3 }
    }
}

/// The shingle set of an already normalised `text`: sorted, deduplicated 64-bit hashes. Empty for
/// an empty text; a text shorter than one shingle is one shingle.
#[must_use]
pub fn shingles(text: &str, config: &ShingleConfig) -> Vec<u64> {
    let mut words = Vec::with_capacity(text.len() / 5 + 1);
    for_each_word(text, |word| words.push(xxh3_64(word.as_bytes())));
    let mut out = if words.len() < config.min_words {
        char_shingles(text, config.char_size)
    } else {
        word_shingles(&words, config.word_size)
    };
    out.sort_unstable();
    out.dedup();
    let weight = config.instruction_weight.min(MAX_INSTRUCTION_WEIGHT);
    if weight > 0
        && let Some(instruction) = instruction(text)
    {
        let whole = xxh3_64(instruction.as_bytes()).to_le_bytes();
        let copies = (weight * out.len()) as u64;
        out.extend((0..copies).map(|i| xxh3_64_with_seed(&whole, INSTRUCTION_SEED ^ i)));
        out.sort_unstable();
        out.dedup();
    }
    out
}

/// The instruction of `text`: the text before the first colon that follows 2 to
/// [`MAX_INSTRUCTION_WORDS`] words and precedes at least one word (a single word before a colon
/// is a label, such as a chat role or "Note:"). `None` when there is none.
#[must_use]
pub fn instruction(text: &str) -> Option<&str> {
    let mut words = 0;
    let mut in_word = false;
    for (i, c) in text.char_indices() {
        let word_char = c.is_alphanumeric() || c == '_';
        if word_char && !in_word {
            words += 1;
            if words > MAX_INSTRUCTION_WORDS + 1 {
                return None;
            }
        }
        in_word = word_char;
        if c == ':' && (2..=MAX_INSTRUCTION_WORDS).contains(&words) {
            let rest = &text[i + 1..];
            if rest.chars().any(|c| c.is_alphanumeric()) {
                return Some(&text[..i]);
            }
            return None;
        }
    }
    None
}

/// Jaccard similarity `|a ∩ b| / |a ∪ b|` of two sorted, deduplicated sets; `1.0` when both are
/// empty (they are the same set).
#[must_use]
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0_usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - common;
    ratio(common, union)
}

/// `part / whole` for counts far below 2^52, where the conversion is exact.
#[allow(clippy::cast_precision_loss)]
pub(crate) fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// Calls `f` with each word of `text`, in order (see the module docs for what a word is).
pub fn for_each_word<'a>(text: &'a str, mut f: impl FnMut(&'a str)) {
    let mut start: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let in_word = if c.is_ascii() {
            c.is_ascii_alphanumeric() || c == '_'
        } else if is_unspaced_script(c) {
            if let Some(s) = start.take() {
                f(&text[s..i]);
            }
            f(&text[i..i + c.len_utf8()]);
            continue;
        } else {
            c.is_alphanumeric()
        };
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                f(&text[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        f(&text[s..]);
    }
}

/// Scripts written without spaces between words.
const fn is_unspaced_script(c: char) -> bool {
    matches!(c,
        '\u{0E00}'..='\u{0EFF}'     // Thai, Lao
        | '\u{1000}'..='\u{109F}'   // Myanmar
        | '\u{1780}'..='\u{17FF}'   // Khmer
        | '\u{3040}'..='\u{30FF}'   // Hiragana, Katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK Extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK Unified Ideographs
        | '\u{F900}'..='\u{FAFF}'   // CJK Compatibility Ideographs
        | '\u{20000}'..='\u{3134F}' // CJK Extensions B–G
    )
}

fn word_shingles(words: &[u64], size: usize) -> Vec<u64> {
    let size = size.clamp(1, MAX_WORD_SIZE);
    if words.is_empty() {
        return Vec::new();
    }
    let mut buf = [0_u8; 8 * MAX_WORD_SIZE];
    let hash = |window: &[u64], buf: &mut [u8; 8 * MAX_WORD_SIZE]| {
        for (chunk, word) in buf.chunks_exact_mut(8).zip(window) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        xxh3_64_with_seed(&buf[..8 * window.len()], WORD_SEED)
    };
    if words.len() < size {
        return vec![hash(words, &mut buf)];
    }
    words.windows(size).map(|window| hash(window, &mut buf)).collect()
}

fn char_shingles(text: &str, size: usize) -> Vec<u64> {
    let size = size.clamp(1, MAX_CHAR_SIZE);
    if text.is_empty() {
        return Vec::new();
    }
    let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
    let chars = bounds.len() - 1;
    if chars < size {
        return vec![xxh3_64_with_seed(text.as_bytes(), CHAR_SEED)];
    }
    (0..=chars - size)
        .map(|i| xxh3_64_with_seed(&text.as_bytes()[bounds[i]..bounds[i + size]], CHAR_SEED))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for_each_word(text, |w| out.push(w));
        out
    }

    #[test]
    fn words_are_letter_and_digit_runs() {
        assert_eq!(words("hello, world! <num> x_1"), ["hello", "world", "num", "x_1"]);
        assert_eq!(words("école—straße"), ["école", "straße"]);
        assert_eq!(words(""), Vec::<&str>::new());
        assert_eq!(words("  ...  "), Vec::<&str>::new());
    }

    #[test]
    fn unspaced_scripts_make_one_word_per_character() {
        assert_eq!(words("总结这篇文章"), ["总", "结", "这", "篇", "文", "章"]);
        assert_eq!(words("abc总结def"), ["abc", "总", "结", "def"]);
    }

    #[test]
    fn long_texts_use_word_shingles_and_short_ones_character_shingles() {
        let config = ShingleConfig::default();
        let long = "one two three four five six seven eight nine ten eleven";
        assert_eq!(shingles(long, &config).len(), 9);
        let short = "hello world";
        assert_eq!(shingles(short, &config).len(), "hello world".len() - 4);
        assert_eq!(shingles("hi", &config).len(), 1);
        assert!(shingles("", &config).is_empty());
    }

    #[test]
    fn texts_shorter_than_one_word_shingle_are_one_shingle() {
        let config =
            ShingleConfig { word_size: 3, char_size: 5, min_words: 0, instruction_weight: 0 };
        assert_eq!(shingles("just two", &config).len(), 1);
        assert!(shingles("...", &config).is_empty());
    }

    #[test]
    fn shingles_are_a_set() {
        let config = ShingleConfig { min_words: 0, ..ShingleConfig::default() };
        let set = shingles("a b c a b c a b c", &config);
        assert_eq!(set.len(), 3);
        assert!(set.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_instruction_is_the_text_before_a_colon_after_two_or_more_words() {
        assert_eq!(instruction("translate into french: a boot"), Some("translate into french"));
        assert_eq!(
            instruction("user: summarize this for the billing team: customer <num>"),
            Some("user: summarize this for the billing team")
        );
        assert_eq!(instruction("note: one label only"), None);
        assert_eq!(instruction("no colon at all"), None);
        assert_eq!(instruction("nothing after this:  ..."), None);
        let long = format!("{}: content", vec!["w"; MAX_INSTRUCTION_WORDS + 1].join(" "));
        assert_eq!(instruction(&long), None);
        let edge = format!("{}: content", vec!["w"; MAX_INSTRUCTION_WORDS].join(" "));
        assert!(instruction(&edge).is_some());
    }

    #[test]
    fn the_instruction_weighs_three_times_the_text_and_only_as_a_whole() {
        let on = ShingleConfig::default();
        let off = ShingleConfig { instruction_weight: 0, ..on };
        let a =
            "summarize this ticket for the billing team: customer <num> says the invoice is wrong";
        let legal = a.replace("billing", "legal");
        let late = a.replace("wrong", "late");
        assert_eq!(shingles(a, &on).len(), 4 * shingles(a, &off).len());
        // Content edits are diluted, instruction edits weigh the whole instruction.
        assert!(jaccard(&shingles(a, &on), &shingles(&late, &on)) > 0.9);
        assert!(jaccard(&shingles(a, &on), &shingles(&legal, &on)) < 0.3);
        assert!(jaccard(&shingles(a, &off), &shingles(&legal, &off)) >= 0.6);
        let plain = "one two three four five six seven eight nine ten eleven";
        assert_eq!(shingles(plain, &on), shingles(plain, &off));
    }

    #[test]
    fn jaccard_counts_the_shared_fraction() {
        assert!((jaccard(&[1, 2, 3], &[2, 3, 4]) - 0.5).abs() < 1e-12);
        assert!((jaccard(&[], &[]) - 1.0).abs() < 1e-12);
        assert!(jaccard(&[1], &[]).abs() < 1e-12);
        assert!((jaccard(&[1, 2], &[1, 2]) - 1.0).abs() < 1e-12);
    }
}

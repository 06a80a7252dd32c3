//! Normalisation: the text that is hashed and shingled, so that prompts differing only in layout,
//! letter case or (optionally) variable values group together.
//!
//! Steps, in order:
//! 1. **Whitespace**: every run of Unicode `White_Space` (spaces, tabs, newlines, NBSP, U+2028…)
//!    becomes one ASCII space; leading and trailing whitespace is dropped; invisible format
//!    characters that only appear through copy and paste (zero-width space U+200B, word joiner
//!    U+2060, BOM U+FEFF, soft hyphen U+00AD) are removed.
//! 2. **Case** (on by default): full Unicode lowercasing (`str::to_lowercase`, so a final Greek
//!    sigma is handled). This is safe here because the result is a *grouping key for cost
//!    reporting*, never a cache key that serves responses: two prompts that differ only in case cost
//!    the same and are, for the question "how much do we spend on repeats", the same prompt. A
//!    deployment that wants case-sensitive groups turns it off.
//! 3. **Masking** (configurable per kind, off by default for the exact hash): volatile parts are
//!    replaced by placeholders so that prompts from one template with different variables group
//!    together. Where two kinds could match at one position, the first in this order wins:
//!    URLs `<url>`, e-mail addresses `<email>`, UUIDs `<uuid>`, ISO dates and date-times `<date>`,
//!    clock times `<time>`, hex ids `<hex>` (`0x…`, or 8+ hex digits mixing digits and letters, so
//!    that words such as "deadbeef" or "accede" are kept), and numbers `<num>` (integers and
//!    decimals, `1,000.5` included). Word boundaries are ASCII ones, so digits glued to letters
//!    (`gpt4o`, `h2o`, `user_42`) are not numbers. Volatile parts glued together without any
//!    separator (`2026-01-05https://x`) are masked as far as the boundaries allow. Quoted
//!    strings `<quote>` (`"…"` or `“…”`, up to 300 characters) are a kind of their
//!    own outside [`Masking::ALL`]: they hold free text (a review, a ticket, a question) that
//!    varies per call around a fixed instruction; when enabled they win over every other kind
//!    inside them.
//!
//! The enabled kinds are one regex of alternatives, compiled once per process and combination
//! ([`OnceLock`]) and searched in one pass without capture groups (the kind is recognised from the
//! match's shape), so the regex crate runs it on its lazy DFA: a 4 KB prompt normalises in
//! microseconds.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// Placeholder for URLs.
pub const URL_PLACEHOLDER: &str = "<url>";
/// Placeholder for e-mail addresses.
pub const EMAIL_PLACEHOLDER: &str = "<email>";
/// Placeholder for UUIDs.
pub const UUID_PLACEHOLDER: &str = "<uuid>";
/// Placeholder for ISO dates and date-times.
pub const DATE_PLACEHOLDER: &str = "<date>";
/// Placeholder for clock times (`10:30`, `10:30:15.250`).
pub const TIME_PLACEHOLDER: &str = "<time>";
/// Placeholder for hex ids.
pub const HEX_PLACEHOLDER: &str = "<hex>";
/// Placeholder for numbers.
pub const NUMBER_PLACEHOLDER: &str = "<num>";
/// Placeholder for quoted strings.
pub const QUOTE_PLACEHOLDER: &str = "<quote>";

/// Which volatile parts are replaced by placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Masking {
    /// `http://`, `https://`, `ftp://` and `www.` URLs → `<url>`.
    pub urls: bool,
    /// E-mail addresses → `<email>`.
    pub emails: bool,
    /// UUIDs (any version, any case) → `<uuid>`.
    pub uuids: bool,
    /// ISO dates and date-times → `<date>`; clock times → `<time>`.
    pub dates: bool,
    /// Hex ids (`0x1f`, `9f86d081884c7d65`, git SHAs) → `<hex>`.
    pub hex_ids: bool,
    /// Integers and decimals → `<num>`.
    pub numbers: bool,
    /// Double-quoted strings (`"…"`, `“…”`) → `<quote>`. Not part of [`Masking::ALL`]: the
    /// template hash has masked the six kinds above since its first version, and changing it
    /// would split stored templates.
    pub quotes: bool,
}

impl Masking {
    /// Mask nothing.
    pub const NONE: Self = Self {
        urls: false,
        emails: false,
        uuids: false,
        dates: false,
        hex_ids: false,
        numbers: false,
        quotes: false,
    };

    /// Mask every kind of value (the template hash's set): all kinds but quoted strings.
    pub const ALL: Self = Self {
        urls: true,
        emails: true,
        uuids: true,
        dates: true,
        hex_ids: true,
        numbers: true,
        quotes: false,
    };

    /// [`ALL`](Self::ALL) and quoted strings: everything that varies per call around a fixed
    /// instruction.
    pub const ALL_AND_QUOTES: Self = Self { quotes: true, ..Self::ALL };

    /// The kinds masked by `self` or by `other`.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self {
            urls: self.urls || other.urls,
            emails: self.emails || other.emails,
            uuids: self.uuids || other.uuids,
            dates: self.dates || other.dates,
            hex_ids: self.hex_ids || other.hex_ids,
            numbers: self.numbers || other.numbers,
            quotes: self.quotes || other.quotes,
        }
    }

    /// The kinds as bits, in a stable order (for scheme identifiers).
    #[must_use]
    pub const fn bits(self) -> u8 {
        (self.urls as u8)
            | (self.emails as u8) << 1
            | (self.uuids as u8) << 2
            | (self.dates as u8) << 3
            | (self.hex_ids as u8) << 4
            | (self.numbers as u8) << 5
            | (self.quotes as u8) << 6
    }
}

/// How prompts are normalised before hashing and shingling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NormalizeConfig {
    /// Lowercase the text (default `true`; see the module docs for why that is safe).
    pub lowercase: bool,
    /// Volatile parts masked in the text behind the exact hash and the signature (default
    /// [`Masking::NONE`], so that `promptHash` groups true repeats, the ones a response cache
    /// would have served; the template hash always masks everything).
    pub masking: Masking,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        Self { lowercase: true, masking: Masking::NONE }
    }
}

/// Applies a [`NormalizeConfig`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Normalizer {
    config: NormalizeConfig,
}

impl Normalizer {
    /// A normaliser applying `config`.
    #[must_use]
    pub const fn new(config: NormalizeConfig) -> Self {
        Self { config }
    }

    /// The configuration applied.
    #[must_use]
    pub const fn config(&self) -> NormalizeConfig {
        self.config
    }

    /// `text` normalised per the configuration.
    #[must_use]
    pub fn normalize(&self, text: &str) -> String {
        mask(&collapse(text, self.config.lowercase), self.config.masking).into_owned()
    }

    /// `text` normalised with every volatile kind masked, whatever the configured masking.
    #[must_use]
    pub fn template(&self, text: &str) -> String {
        mask(&collapse(text, self.config.lowercase), Masking::ALL).into_owned()
    }

    /// [`normalize_with_template`](Self::normalize_with_template) and the text behind a
    /// signature that also masks `extra` (`None` when it equals the normalised text), sharing the
    /// whitespace and case pass.
    #[must_use]
    pub fn normalize_for_signature(
        &self,
        text: &str,
        extra: Masking,
    ) -> (String, Option<String>, Option<String>) {
        let signature_masking = self.config.masking.union(extra);
        if signature_masking == self.config.masking {
            let (normalized, template) = self.normalize_with_template(text);
            return (normalized, template, None);
        }
        let base = collapse(text, self.config.lowercase);
        let signature = mask(&base, signature_masking).into_owned();
        let template = mask(&base, Masking::ALL);
        let normalized = mask(&base, self.config.masking);
        let template = (template != normalized).then(|| template.into_owned());
        let signature = (signature != normalized).then_some(signature);
        (normalized.into_owned(), template, signature)
    }

    /// Both [`normalize`](Self::normalize) and [`template`](Self::template), sharing the
    /// whitespace and case pass; the template is `None` when it equals the normalised text
    /// (the configuration masks everything, or the text has no volatile part).
    #[must_use]
    pub fn normalize_with_template(&self, text: &str) -> (String, Option<String>) {
        let base = collapse(text, self.config.lowercase);
        let template = match mask(&base, Masking::ALL) {
            Cow::Borrowed(_) => return (base, None),
            Cow::Owned(template) => template,
        };
        if self.config.masking == Masking::ALL {
            return (template, None);
        }
        let normalized = match mask(&base, self.config.masking) {
            Cow::Borrowed(_) => base,
            Cow::Owned(masked) => masked,
        };
        (normalized, Some(template))
    }
}

/// Collapses whitespace, drops invisible format characters and optionally lowercases (steps 1
/// and 2 of the module docs).
#[must_use]
pub fn collapse(text: &str, lowercase: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    let mut non_ascii = false;
    for c in text.chars() {
        if c.is_ascii() {
            if c.is_ascii_whitespace() || c == '\u{0B}' {
                pending_space = !out.is_empty();
                continue;
            }
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(if lowercase { c.to_ascii_lowercase() } else { c });
            continue;
        }
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if is_invisible(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        non_ascii = true;
        out.push(c);
    }
    if lowercase && non_ascii { out.to_lowercase() } else { out }
}

/// Masks the kinds enabled in `masking` (step 3 of the module docs). Borrows when nothing
/// was masked.
#[must_use]
pub fn mask(text: &str, masking: Masking) -> Cow<'_, str> {
    if masking == Masking::NONE {
        return Cow::Borrowed(text);
    }
    replace(text, combined(masking), |m| classify(m, masking))
}

/// Characters that render as nothing and only creep in through copy and paste.
const fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Replaces each match of `re` in `text` for which `with` gives a placeholder.
fn replace<'a>(
    text: &'a str,
    re: &Regex,
    with: impl Fn(&str) -> Option<&'static str>,
) -> Cow<'a, str> {
    let mut out: Option<String> = None;
    let mut last = 0;
    for m in re.find_iter(text) {
        if let Some(placeholder) = with(m.as_str()) {
            let buf = out.get_or_insert_with(|| String::with_capacity(text.len()));
            buf.push_str(&text[last..m.start()]);
            buf.push_str(placeholder);
            last = m.end();
        }
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut buf) => {
            buf.push_str(&text[last..]);
            Cow::Owned(buf)
        }
    }
}

/// The placeholder for a match of the combined regex of `masking`, or `None` to keep it (a hex
/// run that is a plain word, or pure digits when numbers are not masked). The alternative that
/// matched is recognised by its shape, checked in the alternatives' priority order, each check
/// only for an enabled kind (a disabled kind has no alternative, so cannot have matched).
fn classify(m: &str, masking: Masking) -> Option<&'static str> {
    let bytes = m.as_bytes();
    if masking.quotes && (bytes[0] == b'"' || m.starts_with('\u{201C}')) {
        return Some(QUOTE_PLACEHOLDER);
    }
    if masking.urls
        && (m.contains("://") || (bytes.len() > 4 && bytes[..4].eq_ignore_ascii_case(b"www.")))
    {
        return Some(URL_PLACEHOLDER);
    }
    if masking.emails && bytes.contains(&b'@') {
        return Some(EMAIL_PLACEHOLDER);
    }
    if masking.uuids && bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-') {
        return Some(UUID_PLACEHOLDER);
    }
    if masking.dates {
        if bytes.len() >= 10 && bytes[4] == b'-' && bytes[..4].iter().all(u8::is_ascii_digit) {
            return Some(DATE_PLACEHOLDER);
        }
        if bytes.contains(&b':') {
            return Some(TIME_PLACEHOLDER);
        }
    }
    if bytes.iter().all(|b| b.is_ascii_digit() || *b == b'.' || *b == b',') {
        return masking.numbers.then_some(NUMBER_PLACEHOLDER);
    }
    (masking.hex_ids && is_hex_id(m)).then_some(HEX_PLACEHOLDER)
}

/// A hex run is an id when it has a `0x` prefix or mixes digits and letters (pure digits are
/// numbers, pure letters are words).
fn is_hex_id(m: &str) -> bool {
    let bytes = m.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' && (bytes[1] == b'x' || bytes[1] == b'X') {
        return true;
    }
    bytes.iter().any(u8::is_ascii_digit) && bytes.iter().any(u8::is_ascii_alphabetic)
}

/// One regex per combination of enabled kinds (128 at most), compiled on first use and kept for the
/// life of the process: one search pass over the text whatever the number of kinds.
static COMBINED: [OnceLock<Regex>; 128] = [const { OnceLock::new() }; 128];

/// The combined regex of `masking`: the enabled kinds' patterns as alternatives, in priority order
/// (the regex crate's alternation is leftmost-first, so at one position the earlier kind wins).
fn combined(masking: Masking) -> &'static Regex {
    COMBINED[usize::from(masking.bits())].get_or_init(|| {
        let kinds = [
            (masking.quotes, QUOTE),
            (masking.urls, URL),
            (masking.emails, EMAIL),
            (masking.uuids, UUID),
            (masking.dates, DATE),
            (masking.dates, TIME),
            (masking.numbers, NUMBER),
            (masking.hex_ids, HEX),
        ];
        let alternatives: Vec<String> =
            kinds.iter().filter(|(on, _)| *on).map(|(_, p)| format!("(?:{p})")).collect();
        compile(&alternatives.join("|"))
    })
}

/// Compiles a pattern written in this file; they are covered by tests, so failing here is a
/// programming error caught on the first run of the test suite.
#[allow(clippy::expect_used)]
fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the masking patterns are valid regexes")
}

/// ASCII word boundary: supported by the lazy DFA on any input (a Unicode `\b` makes it give up
/// on non-ASCII text).
macro_rules! b {
    () => {
        r"(?-u:\b)"
    };
}

const URL: &str =
    concat!(r"(?:(?i:https?|ftp)://|", b!(), r"(?i:www)\.)", r#"[^\s<>"'`]*[^\s<>"'`.,;:!?)\]}]"#);

// Bounded, so that a stray quote mark cannot swallow the rest of a prompt.
const QUOTE: &str = r#""[^"\n]{1,300}"|\u{201C}[^\u{201D}\n]{1,300}\u{201D}"#;

const EMAIL: &str = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+";

const UUID: &str = concat!(
    b!(),
    r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}",
    b!()
);

const DATE: &str = concat!(
    b!(),
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}",
    r"(?:[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:[Zz]|[+\-][0-9]{2}(?::?[0-9]{2})?)?)?",
    b!()
);

const TIME: &str = concat!(b!(), r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?", b!());

const NUMBER: &str = concat!(b!(), r"[0-9]+(?:[.,][0-9]+)*", b!());

const HEX: &str = concat!(b!(), r"(?:0[xX][0-9A-Fa-f]+|[0-9A-Fa-f]{8,})", b!());

#[cfg(test)]
mod tests;

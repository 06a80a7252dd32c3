//! The harder corpus (issue 20), measured in process for several analyzer configurations side by
//! side, the old defaults among them:
//!
//! - **Short templates** (10–60 words in three bands) made of a fixed instruction and a body
//!   with 1–3 variable slots, all of one kind per template, so that recall can be read per kind:
//!   numbers and amounts, order and ticket ids, dates and times, e-mail addresses (all maskable),
//!   person names and short unquoted free text (not maskable: a person still calls those one
//!   template), and quoted free text.
//! - **Hard pairs**: every template has a sibling with the same body and the same instruction
//!   but one task word changed ("… for the billing team" / "… for the legal team", "into French" /
//!   "into German"): a different template sharing most words, which must stay apart.
//! - **Free text**: prompts with no template at all (their own template of one variant), so that
//!   anything matching them is a false positive.
//!
//! Every pair of prompts is scored (the corpus is small): a pair is found when its signatures
//! agree on at least the threshold's share of components and share a band key, as the server's
//! index and rescoring decide (the server's cut at 200 candidates never bites at this size).
//! Truth is the template a prompt was made from.

use aicp_similarity::{AnalyzerConfig, Masking, ShingleConfig};

use super::*;

/// Template lengths, in words with the slot values.
pub(super) const BANDS: [(&str, Range<usize>); 3] =
    [("10-19 words", 10..20), ("20-39 words", 20..40), ("40-60 words", 40..61)];
/// Templates per (band, slot kind); each also gets a sibling (its hard pair).
const TEMPLATES_PER_CELL: usize = 8;
/// Distinct variants per template.
const VARIANTS: usize = 8;
/// Prompts without a template.
const FREE_TEXT: usize = 400;
const HARD_SEED: u64 = 0x4a2d_7e3b_0020;

/// Instructions with one task word that decides what is asked (siblings differ in it only),
/// each template adding a few words of its own before the colon.
const INSTRUCTIONS: [(&str, [&str; 4]); 8] = [
    (
        "Summarize the following support ticket for the {} team:",
        ["billing", "legal", "sales", "security"],
    ),
    ("Translate this product description into {}:", ["French", "German", "Spanish", "Italian"]),
    ("Write a {} reply to this customer message:", ["formal", "friendly", "short", "detailed"]),
    (
        "Classify the sentiment of this {} as positive, negative or neutral:",
        ["review", "tweet", "email", "survey"],
    ),
    (
        "Extract the {} from the message below and return it as JSON:",
        ["amount", "address", "deadline", "sender"],
    ),
    (
        "Rewrite the following paragraph for {} in plain words:",
        ["children", "lawyers", "engineers", "investors"],
    ),
    (
        "You are a {} assistant. Answer the question below in two sentences:",
        ["travel", "tax", "legal", "medical"],
    ),
    ("List the {} mentioned in this meeting note:", ["decisions", "risks", "owners", "dates"]),
];

/// What varies between the prompts of one template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Number,
    Id,
    Date,
    Email,
    Name,
    FreeText,
    Quoted,
}

pub(super) const KINDS: [Kind; 7] =
    [Kind::Number, Kind::Id, Kind::Date, Kind::Email, Kind::Name, Kind::FreeText, Kind::Quoted];

impl Kind {
    pub(super) const fn label(self) -> &'static str {
        match self {
            Kind::Number => "numbers, amounts",
            Kind::Id => "order/ticket ids",
            Kind::Date => "dates, times",
            Kind::Email => "e-mail addresses",
            Kind::Name => "person names",
            Kind::FreeText => "free text, unquoted",
            Kind::Quoted => "free text, quoted",
        }
    }

    /// A value; `form` (fixed per slot of a template) picks among the kind's forms, so that a
    /// template's order-id slot always holds order ids, as real templates do.
    fn value(
        self,
        rng: &mut FastRng,
        form: u8,
        vocabulary: &[&'static str],
        words: &Zipf,
    ) -> String {
        let phrase = |rng: &mut FastRng, n: Range<usize>| {
            let n = rng.random_range(n);
            (0..n).map(|_| vocabulary[words.sample(rng)]).collect::<Vec<_>>().join(" ")
        };
        match self {
            Kind::Number => match form {
                0 => rng.random_range(1..100_000u32).to_string(),
                1 => format!("{}.{:02}", rng.random_range(1..5_000u32), rng.random_range(0..100)),
                _ => format!("{},{:03}", rng.random_range(1..99u32), rng.random_range(0..1000)),
            },
            Kind::Id => match form {
                0 => Slot::OrderId.value(rng),
                1 => format!("{:010x}", rng.random::<u64>() & 0xff_ffff_ffff | 0x10_0000_0000),
                _ => Slot::Uuid.value(rng),
            },
            Kind::Date => {
                let date = Slot::Date.value(rng);
                if form == 0 {
                    date
                } else {
                    format!("{date} {:02}:{:02}", rng.random_range(0..24), rng.random_range(0..60))
                }
            }
            Kind::Email => Slot::Email.value(rng),
            Kind::Name => Slot::Name.value(rng),
            Kind::FreeText => phrase(rng, 1..4),
            Kind::Quoted => format!("\"{}\"", phrase(rng, 3..12)),
        }
    }
}

/// One prompt of the harder corpus.
pub(super) struct Prompt {
    pub(super) text: String,
    /// Its template (free-text prompts: their own).
    pub(super) template: usize,
}

/// One template of the harder corpus.
pub(super) struct HardTemplate {
    /// `None`: a free-text prompt.
    pub(super) kind: Option<Kind>,
    /// Index in [`BANDS`] of its length.
    pub(super) band: usize,
    /// Its hard-pair sibling.
    pub(super) sibling: Option<usize>,
}

pub(super) struct HardCorpus {
    pub(super) templates: Vec<HardTemplate>,
    pub(super) prompts: Vec<Prompt>,
}

enum Piece {
    Word(&'static str),
    /// A slot and the form of its values.
    Slot(u8),
}

impl HardCorpus {
    pub(super) fn generate() -> Self {
        let vocabulary: Vec<&'static str> = VOCABULARY.split_whitespace().collect();
        let words = Zipf::new(vocabulary.len(), 0.9);
        let mut rng = FastRng::new(HARD_SEED);
        let mut corpus = Self { templates: Vec::new(), prompts: Vec::new() };
        for (band, (_, range)) in BANDS.iter().enumerate() {
            for kind in KINDS {
                for n in 0..TEMPLATES_PER_CELL {
                    let (instruction, tasks) = INSTRUCTIONS[(n + band) % INSTRUCTIONS.len()];
                    let first = rng.random_range(0..tasks.len());
                    let second = (first + rng.random_range(1..tasks.len())) % tasks.len();
                    let slots = rng.random_range(1..4);
                    let target = rng.random_range(range.clone());
                    let head_words = instruction.split(' ').count() + 4;
                    // Slot values are one to a dozen words; the body makes up the rest.
                    let body_words = target.saturating_sub(head_words + slots * kind_words(kind));
                    let body =
                        body(&mut rng, &vocabulary, &words, body_words.max(slots + 1), slots);
                    let a = corpus.templates.len();
                    // A few words of its own, so that only siblings share an instruction.
                    let own: Vec<&str> = (0..rng.random_range(2..5))
                        .map(|_| {
                            vocabulary[rng.random_range(vocabulary.len() / 4..vocabulary.len())]
                        })
                        .collect();
                    let own = format!(", about {}:", own.join(" "));
                    for (task, sibling) in [(tasks[first], a + 1), (tasks[second], a)] {
                        let head = instruction.replace("{}", task).replace(':', "") + &own;
                        corpus.add(&mut rng, &vocabulary, &words, &head, &body, kind, sibling);
                    }
                }
            }
        }
        for _ in 0..FREE_TEXT {
            let band = rng.random_range(0..BANDS.len());
            let n = rng.random_range(BANDS[band].1.clone());
            let mut text = String::new();
            let mut capital = true;
            for i in 0..n {
                let w = vocabulary[words.sample(&mut rng)];
                if i > 0 {
                    text.push(' ');
                }
                if capital {
                    text.extend(w.chars().next().map(|c| c.to_ascii_uppercase()));
                    text.push_str(&w[1..]);
                } else {
                    text.push_str(w);
                }
                capital = rng.random_bool(0.1);
                if capital {
                    text.push('.');
                }
            }
            let template = corpus.templates.len();
            corpus.templates.push(HardTemplate { kind: None, band, sibling: None });
            corpus.prompts.push(Prompt { text, template });
        }
        corpus
    }

    /// A template (`head`, then `body` with its slots filled) and its distinct variants; its
    /// band is that of its first variant's length.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        rng: &mut FastRng,
        vocabulary: &[&'static str],
        words: &Zipf,
        head: &str,
        body: &[Piece],
        kind: Kind,
        sibling: usize,
    ) {
        let template = self.templates.len();
        let first = self.prompts.len();
        let mut seen = HashSet::new();
        let mut attempts = 0;
        while seen.len() < VARIANTS && attempts < VARIANTS * 20 {
            attempts += 1;
            let mut text = head.to_owned();
            for piece in body {
                text.push(' ');
                match piece {
                    Piece::Word(w) => text.push_str(w),
                    Piece::Slot(form) => text.push_str(&kind.value(rng, *form, vocabulary, words)),
                }
            }
            if seen.insert(text.clone()) {
                self.prompts.push(Prompt { text, template });
            }
        }
        let length = self.prompts.get(first).map_or(0, |p| p.text.split(' ').count());
        let band = BANDS
            .iter()
            .position(|(_, range)| range.contains(&length))
            .unwrap_or(if length < BANDS[0].1.start { 0 } else { BANDS.len() - 1 });
        self.templates.push(HardTemplate { kind: Some(kind), band, sibling: Some(sibling) });
    }
}

/// Typical words of one slot value of `kind` (to aim at a band's length).
const fn kind_words(kind: Kind) -> usize {
    match kind {
        Kind::Name | Kind::FreeText => 2,
        Kind::Quoted => 7,
        _ => 1,
    }
}

/// `words` body words with `slots` slots at random places (never two in a row), ending with a
/// full stop.
fn body(
    rng: &mut FastRng,
    vocabulary: &[&'static str],
    zipf: &Zipf,
    words: usize,
    slots: usize,
) -> Vec<Piece> {
    let mut out: Vec<Piece> =
        (0..words).map(|_| Piece::Word(vocabulary[zipf.sample(rng)])).collect();
    for _ in 0..slots {
        let free: Vec<usize> = (0..=out.len())
            .filter(|&i| {
                let slot = |j: usize| matches!(out.get(j), Some(Piece::Slot(_)));
                !slot(i) && (i == 0 || !slot(i - 1))
            })
            .collect();
        let at = free[rng.random_range(0..free.len())];
        out.insert(at, Piece::Slot(rng.random_range(0..3)));
    }
    out
}

/// The configurations compared: the old defaults, the new ones, and the alternatives the
/// choice was made among.
pub(super) fn configurations() -> Vec<(&'static str, AnalyzerConfig)> {
    let new = AnalyzerConfig::default();
    let weight = |w: usize| ShingleConfig { instruction_weight: w, ..new.shingles };
    vec![
        ("v1 (old default)", AnalyzerConfig::V1),
        (
            "mask values",
            AnalyzerConfig { signature_masking: Masking::ALL, shingles: weight(0), ..new },
        ),
        ("+ quotes", AnalyzerConfig { shingles: weight(0), ..new }),
        ("+ instruction x1", AnalyzerConfig { shingles: weight(1), ..new }),
        ("instruction x2", AnalyzerConfig { shingles: weight(2), ..new }),
        ("NEW: instruction x3", new),
        (
            "NEW + word bigrams",
            AnalyzerConfig { shingles: ShingleConfig { word_size: 2, ..new.shingles }, ..new },
        ),
    ]
}

/// Pair counts of one configuration.
#[derive(Debug, Default, Clone)]
pub(super) struct HardQuality {
    /// Per band: (same-template pairs found, same-template pairs, pairs found).
    pub(super) bands: Vec<(u64, u64, u64)>,
    /// Per kind: same-template pairs found, and all of them.
    pub(super) kinds: Vec<(u64, u64)>,
    /// Hard pairs (a template's prompts × its sibling's), and those found.
    pub(super) hard_pairs: u64,
    pub(super) hard_found: u64,
    /// Same-template pairs found among templates with a sibling (all of them).
    pub(super) sibling_same_found: u64,
    /// Pairs found involving a free-text prompt.
    pub(super) free_found: u64,
    /// Every pair found, and those from one template.
    pub(super) found: u64,
    pub(super) found_same: u64,
    pub(super) same: u64,
}

/// Scores every pair of `corpus` under `config` at `threshold`.
pub(super) fn measure(
    corpus: &HardCorpus,
    config: AnalyzerConfig,
    threshold: f64,
) -> anyhow::Result<HardQuality> {
    let analyzer = MinHashAnalyzer::new(config)?;
    let prints: Vec<(Vec<u32>, HashSet<u64>)> = corpus
        .prompts
        .iter()
        .map(|p| {
            let fp = analyzer.fingerprint(&p.text);
            let keys = analyzer.band_keys(&fp).into_iter().collect();
            (fp.signature, keys)
        })
        .collect();
    let len = analyzer.banding().signature_len();
    let needed = (threshold * len as f64).ceil() as u16;
    let mut q = HardQuality {
        bands: vec![(0, 0, 0); BANDS.len()],
        kinds: vec![(0, 0); KINDS.len()],
        ..HardQuality::default()
    };
    for i in 0..prints.len() {
        for j in i + 1..prints.len() {
            let (a, b) = (&corpus.prompts[i], &corpus.prompts[j]);
            let (ta, tb) = (&corpus.templates[a.template], &corpus.templates[b.template]);
            let same = a.template == b.template;
            let hard = ta.sibling == Some(b.template);
            let found = agreement(&prints[i].0, &prints[j].0) >= needed
                && prints[i].1.iter().any(|k| prints[j].1.contains(k));
            if same {
                q.same += 1;
                q.bands[ta.band].1 += 1;
                if let Some(k) = ta.kind.and_then(|k| KINDS.iter().position(|&x| x == k)) {
                    q.kinds[k].1 += 1;
                    q.kinds[k].0 += u64::from(found);
                }
            }
            q.hard_pairs += u64::from(hard);
            if !found {
                continue;
            }
            q.found += 1;
            q.bands[ta.band].2 += 1;
            if same {
                q.found_same += 1;
                q.bands[ta.band].0 += 1;
                q.sibling_same_found += u64::from(ta.sibling.is_some());
            }
            q.hard_found += u64::from(hard);
            q.free_found += u64::from(ta.kind.is_none() || tb.kind.is_none());
        }
    }
    Ok(q)
}

/// The table of the harder corpus, one column per configuration.
pub(super) fn print(corpus: &HardCorpus, results: &[(&str, HardQuality)], threshold: f64) {
    let templated = corpus.templates.iter().filter(|t| t.kind.is_some()).count();
    println!(
        "\nharder corpus (issue 20): {} short templates (10-60 words, 1-3 slots of one kind, {VARIANTS} variants each), each with a sibling template differing in one task word (the hard pairs), and {FREE_TEXT} free-text prompts with no template; {} prompts, every pair scored; found = signature similarity >= {threshold} and a shared band key (the server's path)",
        templated,
        thousands(corpus.prompts.len() as u64)
    );
    let mut header = format!("{:<36}", "template recall / precision");
    for (name, _) in results {
        let _ = write!(header, " {name:>20}");
    }
    println!("{header}");
    let line = |label: &str, cell: &dyn Fn(&HardQuality) -> String| {
        let mut s = format!("{label:<36}");
        for (_, q) in results {
            let _ = write!(s, " {:>20}", cell(q));
        }
        println!("{s}");
    };
    line("all templates: recall", &|q| ratio(q.found_same, q.same));
    line("all pairs found: precision", &|q| ratio(q.found_same, q.found));
    for (b, (label, _)) in BANDS.iter().enumerate() {
        line(&format!("{label}: recall"), &|q| ratio(q.bands[b].0, q.bands[b].1));
        line(&format!("{label}: precision"), &|q| ratio(q.bands[b].0, q.bands[b].2));
    }
    for (k, kind) in KINDS.iter().enumerate() {
        line(&format!("slots: {}: recall", kind.label()), &|q| ratio(q.kinds[k].0, q.kinds[k].1));
    }
    line("hard pairs found (must be 0)", &|q| format!("{} / {}", q.hard_found, q.hard_pairs));
    line("hard pairs: precision", &|q| {
        ratio(q.sibling_same_found, q.sibling_same_found + q.hard_found)
    });
    line("pairs found with free text", &|q| q.free_found.to_string());
    println!(
        "  hard pairs: precision = same-template pairs found / (those + sibling pairs found) over the templates with a sibling (all of them)"
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_harder_corpus_is_deterministic_and_shaped_as_documented() {
        let a = HardCorpus::generate();
        let b = HardCorpus::generate();
        assert_eq!(a.prompts.len(), b.prompts.len());
        assert!(a.prompts.iter().zip(&b.prompts).all(|(x, y)| x.text == y.text));
        let texts: HashSet<&str> = a.prompts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts.len(), a.prompts.len(), "distinct prompts");
        for (t, template) in a.templates.iter().enumerate() {
            if let Some(s) = template.sibling {
                assert_eq!(a.templates[s].sibling, Some(t));
                assert_eq!(a.templates[s].kind, template.kind);
            }
        }
        let words = |p: &Prompt| p.text.split(' ').count();
        let templated: Vec<&Prompt> =
            a.prompts.iter().filter(|p| a.templates[p.template].kind.is_some()).collect();
        let short = templated.iter().filter(|p| (8..=75).contains(&words(p))).count();
        assert!(short * 100 >= templated.len() * 95, "{short} of {}", templated.len());
    }
}

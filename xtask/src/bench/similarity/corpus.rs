//! The corpus: templates drawn from a Zipf-weighted vocabulary with variable slots, their
//! variants, the events' schedule, and the fingerprints of every distinct prompt.

use super::*;

/// Common English words, most frequent first (drawn with Zipf-like frequencies).
pub(super) const VOCABULARY: &str = "the of and to a in is that for it as with be on not this are by at \
from or have an they which you were all we can has been their more will would there what about \
when if one so out up into them these some than other could only its time new like also then \
two first any may after most over such where should very through before our well between each \
must because those many under both same while during another against without however every \
within please summary customer order report account request review update response message \
details section answer question list table value result error issue status record document \
service product payment invoice ticket user team project data change draft policy contract \
meeting schedule price amount total balance refund delivery shipping address support email \
note comment task step process reason example format tone style language version release \
feature test code function module system server database query field column page text title \
header paragraph sentence word point item option setting rule limit range level score rating \
quality risk cost budget plan goal target metric trend chart figure source reference link file \
folder image label category group member role owner manager client partner vendor supplier \
market region country city office store branch department employee candidate position salary \
benefit holiday leave training course lesson student teacher class grade exam patient doctor \
visit treatment dose symptom result claim coverage premium loss damage incident event alert \
warning notice reminder deadline week month year today tomorrow morning evening hour minute \
write explain describe compare translate classify extract rewrite shorten expand correct check \
verify confirm approve reject assign escalate close open resolve prioritize estimate calculate \
convert validate generate suggest recommend highlight identify remove include ignore keep use \
clear short long brief formal friendly polite concise detailed accurate relevant important \
urgent simple complex final current previous next following above below recent pending active \
available missing invalid correct wrong late early high low main key specific general overall";

/// Shared opening sentences (real system prompts share boilerplate).
pub(super) const ROLES: [&str; 12] = [
    "You are a helpful assistant for the customer support team of a large online store",
    "You are an experienced software engineer who reviews code for correctness and clarity",
    "You are a careful financial analyst who explains numbers to busy managers",
    "You are a friendly travel agent who plans trips for families and small groups",
    "You are a precise legal assistant who summarises contracts for a small law firm",
    "You are a medical scribe who turns doctor notes into clear visit summaries",
    "You are a recruiter who screens candidates and writes short interview notes",
    "You are a data analyst who writes SQL queries for the sales and marketing teams",
    "You are a translator who keeps the tone and the formatting of the original text",
    "You are an operations assistant who tracks shipments and answers delivery questions",
    "You are a teaching assistant who explains lessons to students in simple words",
    "You are a project manager who turns meeting notes into tasks with owners and dates",
];

pub(super) const FIRST_NAMES: [&str; 32] = [
    "Alice", "Bruno", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kemal", "Laura", "Mateo", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amara", "Bjorn", "Carmen", "Dmitri", "Emeka",
    "Freya",
];

pub(super) const LAST_NAMES: [&str; 32] = [
    "Smith",
    "Garcia",
    "Muller",
    "Rossi",
    "Dubois",
    "Nowak",
    "Silva",
    "Tanaka",
    "Kim",
    "Okafor",
    "Haddad",
    "Jensen",
    "Kowalski",
    "Novak",
    "Petrov",
    "Yilmaz",
    "Moreau",
    "Schmidt",
    "Costa",
    "Ivanova",
    "Fischer",
    "Lopez",
    "Nguyen",
    "Chen",
    "Singh",
    "Khan",
    "Murphy",
    "Walsh",
    "Berg",
    "Lindqvist",
    "Santos",
    "Weber",
];

pub(super) const DOMAINS: [&str; 8] = [
    "example.com",
    "mail.example.org",
    "acme.io",
    "contoso.com",
    "globex.net",
    "initech.co",
    "umbrella.dev",
    "wayne.example",
];

/// A variable part of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Slot {
    /// `4821` (masked as `<num>`).
    Number,
    /// `2026-03-14` (`<date>`).
    Date,
    /// A v4 UUID (`<uuid>`).
    Uuid,
    /// `chloe.rossi42@acme.io` (`<email>`).
    Email,
    /// `ORD-48213377` (`ord-<num>`).
    OrderId,
    /// `Chloe Rossi`: not maskable.
    Name,
}

pub(super) const SLOT_KINDS: [Slot; 6] =
    [Slot::Number, Slot::Date, Slot::Uuid, Slot::Email, Slot::OrderId, Slot::Name];

impl Slot {
    pub(super) fn value(self, rng: &mut FastRng) -> String {
        let name = |rng: &mut FastRng| {
            (
                FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())],
                LAST_NAMES[rng.random_range(0..LAST_NAMES.len())],
            )
        };
        match self {
            Slot::Number => rng.random_range(1..100_000u32).to_string(),
            Slot::Date => {
                let day = rng.random_range(0..730);
                let base = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
                (base + TimeDelta::days(day)).format("%Y-%m-%d").to_string()
            }
            Slot::Uuid => uuid::Builder::from_random_bytes(rng.random()).into_uuid().to_string(),
            Slot::Email => {
                let (first, last) = name(rng);
                format!(
                    "{}.{}{}@{}",
                    first.to_lowercase(),
                    last.to_lowercase(),
                    rng.random_range(1..100),
                    DOMAINS[rng.random_range(0..DOMAINS.len())]
                )
            }
            Slot::OrderId => format!("ORD-{}", rng.random_range(10_000_000..100_000_000u32)),
            Slot::Name => {
                let (first, last) = name(rng);
                format!("{first} {last}")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    Word(&'static str),
    /// The end of a sentence (renders as `.` after the previous word).
    Stop,
    /// The template's slot number `n`.
    Slot(usize),
}

/// Draws from `0..n` with probability proportional to `1 / (rank + 1)^s`.
pub(super) struct Zipf {
    pub(super) cumulative: Vec<f64>,
}

impl Zipf {
    pub(super) fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    pub(super) fn sample(&self, rng: &mut FastRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len() - 1)
    }
}

pub(super) struct Template {
    pub(super) tokens: Vec<Token>,
    pub(super) slots: Vec<Slot>,
    /// Words without slot values.
    pub(super) words: usize,
    pub(super) feature: &'static Feature,
    /// Its variants' indices in [`Corpus::variants`].
    pub(super) variants: Range<usize>,
}

pub(super) struct Variant {
    pub(super) template: usize,
    pub(super) text: String,
}

pub(super) struct Corpus {
    pub(super) templates: Vec<Template>,
    pub(super) variants: Vec<Variant>,
}

impl Corpus {
    pub(super) fn generate(templates: usize, variants: usize) -> Self {
        let vocabulary: Vec<&'static str> = VOCABULARY.split_whitespace().collect();
        let words = Zipf::new(vocabulary.len(), 0.9);
        let catalog = Catalog::new();
        let mut all = Vec::with_capacity(templates * variants);
        let mut out = Vec::with_capacity(templates);
        for t in 0..templates {
            let mut rng = FastRng::new(seed::mix(SEED, t as u64));
            let mut template = Self::template(&mut rng, &vocabulary, &words, &catalog);
            let start = all.len();
            let base: Vec<String> = template.slots.iter().map(|s| s.value(&mut rng)).collect();
            let mut seen = HashSet::new();
            let mut attempts = 0;
            while all.len() - start < variants && attempts < variants * 20 {
                attempts += 1;
                let text = if all.len() == start {
                    render(&template.tokens, &base)
                } else {
                    Self::variant(&mut rng, &template, &base, &vocabulary, &words)
                };
                if seen.insert(text.clone()) {
                    all.push(Variant { template: t, text });
                }
            }
            template.variants = start..all.len();
            out.push(template);
        }
        Self { templates: out, variants: all }
    }

    fn template(
        rng: &mut FastRng,
        vocabulary: &[&'static str],
        words: &Zipf,
        catalog: &Catalog,
    ) -> Template {
        let length = rng.random_range(TEMPLATE_WORDS);
        let mut tokens = Vec::with_capacity(length + length / 6 + 8);
        if rng.random_bool(0.5) {
            tokens.extend(ROLES[rng.random_range(0..ROLES.len())].split(' ').map(Token::Word));
            tokens.push(Token::Stop);
        }
        let mut count = tokens.len() - usize::from(!tokens.is_empty());
        while count < length {
            let sentence = rng.random_range(5..15).min(length - count);
            for _ in 0..sentence {
                tokens.push(Token::Word(vocabulary[words.sample(rng)]));
            }
            tokens.push(Token::Stop);
            count += sentence;
        }
        let slots: Vec<Slot> = (0..rng.random_range(SLOTS))
            .map(|_| SLOT_KINDS[rng.random_range(0..SLOT_KINDS.len())])
            .collect();
        for n in 0..slots.len() {
            // After a word, never at the very start.
            let at = rng.random_range(1..tokens.len());
            tokens.insert(at, Token::Slot(n));
        }
        Template { tokens, slots, words: count, feature: catalog.feature(rng), variants: 0..0 }
    }

    /// Other values (each slot redrawn with probability 1/2) and, for 40 %, one or two edits.
    fn variant(
        rng: &mut FastRng,
        template: &Template,
        base: &[String],
        vocabulary: &[&'static str],
        words: &Zipf,
    ) -> String {
        let values: Vec<String> = template
            .slots
            .iter()
            .zip(base)
            .map(|(slot, b)| if rng.random_bool(0.5) { slot.value(rng) } else { b.clone() })
            .collect();
        let edits = match rng.random::<f64>() {
            x if x < 0.10 => 2,
            x if x < 0.40 => 1,
            _ => 0,
        };
        let mut tokens = template.tokens.clone();
        for _ in 0..edits {
            let positions: Vec<usize> =
                (0..tokens.len()).filter(|&i| matches!(tokens[i], Token::Word(_))).collect();
            let at = positions[rng.random_range(0..positions.len())];
            let word = Token::Word(vocabulary[words.sample(rng)]);
            match rng.random_range(0..3) {
                0 => tokens[at] = word,
                1 => tokens.insert(at, word),
                _ => {
                    tokens.remove(at);
                }
            }
        }
        render(&tokens, &values)
    }
}

/// The text of `tokens`: sentences starting with a capital, slots filled with `values`.
pub(super) fn render(tokens: &[Token], values: &[String]) -> String {
    let mut out = String::with_capacity(tokens.len() * 7);
    let mut capital = true;
    for token in tokens {
        match token {
            Token::Stop => {
                out.push('.');
                capital = true;
            }
            Token::Word(w) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                let mut chars = w.chars();
                if capital && let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                } else {
                    out.push_str(w);
                }
                capital = false;
            }
            Token::Slot(n) => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(values.get(*n).map_or("", String::as_str));
                capital = false;
            }
        }
    }
    out
}

/// What is stored of one distinct prompt, and its exact shingle set.
pub(super) struct Print {
    pub(super) hash: String,
    pub(super) template_hash: String,
    pub(super) signature: Vec<u32>,
    pub(super) bands: Vec<u64>,
    pub(super) shingles: Vec<u64>,
}

/// Fingerprints every variant with the server's analyzer, on every core.
pub(super) fn fingerprint_all(
    analyzer: &MinHashAnalyzer,
    corpus: &Corpus,
) -> anyhow::Result<Vec<Print>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = corpus.variants.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = corpus
            .variants
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|v| {
                            let fp = analyzer.fingerprint(&v.text);
                            let bands = analyzer.band_keys(&fp);
                            Print {
                                shingles: analyzer.shingles(&v.text),
                                hash: fp.hash,
                                template_hash: fp.template_hash,
                                signature: fp.signature,
                                bands,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(corpus.variants.len());
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("a fingerprinting thread panicked"))?);
        }
        Ok(all)
    })
}

/// Components two signatures agree on.
pub(super) fn agreement(a: &[u32], b: &[u32]) -> u16 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as u16
}

/// The similarity the server computes from an agreement (`equal / len`, as f64).
pub(super) fn score(agree: u16, len: usize) -> f64 {
    f64::from(agree) / len as f64
}

/// The events: which variant each one calls, in time order, and how many calls each variant has.
pub(super) struct Schedule {
    /// (milliseconds after the start, variant), sorted by time.
    pub(super) events: Vec<(i64, u32)>,
    pub(super) calls: Vec<u64>,
}

impl Schedule {
    pub(super) fn generate(corpus: &Corpus, events: usize) -> Self {
        let mut rng = FastRng::new(seed::mix(SEED, u64::MAX));
        let templates = Zipf::new(corpus.templates.len(), 0.8);
        let widest = corpus.templates.iter().map(|t| t.variants.len()).max().unwrap_or(1);
        let variants = Zipf::new(widest, 0.8);
        let mut picks: Vec<u32> = Vec::with_capacity(events);
        if events >= corpus.variants.len() {
            picks.extend(0..corpus.variants.len() as u32);
        }
        while picks.len() < events {
            let template = &corpus.templates[templates.sample(&mut rng)];
            if template.variants.is_empty() {
                continue;
            }
            let rank = loop {
                let r = variants.sample(&mut rng);
                if r < template.variants.len() {
                    break r;
                }
            };
            picks.push((template.variants.start + rank) as u32);
        }
        let span = DAYS * 86_400_000;
        let mut events: Vec<(i64, u32)> =
            picks.into_iter().map(|v| (rng.random_range(0..span), v)).collect();
        events.sort_unstable();
        let mut calls = vec![0u64; corpus.variants.len()];
        for &(_, v) in &events {
            calls[v as usize] += 1;
        }
        Self { events, calls }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_corpus_is_deterministic_distinct_and_shaped_as_documented() {
        let a = Corpus::generate(20, 10);
        let b = Corpus::generate(20, 10);
        assert_eq!(a.variants.len(), b.variants.len());
        assert!(a.variants.iter().zip(&b.variants).all(|(x, y)| x.text == y.text));
        assert_eq!(a.variants.len(), 200);
        let texts: HashSet<&str> = a.variants.iter().map(|v| v.text.as_str()).collect();
        assert_eq!(texts.len(), a.variants.len());
        for t in &a.templates {
            assert!(TEMPLATE_WORDS.contains(&t.words), "{}", t.words);
            assert!(SLOTS.contains(&t.slots.len()));
            assert_eq!(t.variants.len(), 10);
        }
    }

    #[test]
    fn variants_of_a_template_are_near_duplicates_and_templates_are_not() {
        let corpus = Corpus::generate(6, 8);
        let analyzer = MinHashAnalyzer::default();
        let prints = fingerprint_all(&analyzer, &corpus).unwrap();
        let mut same = Vec::new();
        let mut other = Vec::new();
        for i in 0..prints.len() {
            for j in i + 1..prints.len() {
                let j_exact = jaccard(&prints[i].shingles, &prints[j].shingles);
                if corpus.variants[i].template == corpus.variants[j].template {
                    same.push(j_exact);
                } else {
                    other.push(j_exact);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(mean(&same) > 0.5, "{}", mean(&same));
        assert!(other.iter().all(|&j| j < 0.3), "{other:?}");
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Zipf::new(100, 1.0);
        let mut rng = FastRng::new(1);
        let mut counts = [0u32; 100];
        for _ in 0..10_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        assert!(counts[0] > 5 * counts[50]);
        assert!(counts.iter().all(|&c| c < 10_000));
    }
}

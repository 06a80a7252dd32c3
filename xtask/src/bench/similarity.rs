//! `cargo xtask bench similarity`: how fast the server finds near-duplicate prompts among a million
//! calls (`/similar` for one call, the `/prompts` report of a 7-day window), against a brute-force
//! scan of every stored prompt in the same run, and how good the answers are against the known
//! templates the prompts were made from.
//!
//! Why this shape:
//!
//! - **The data is made from templates, so the truth is known.** Teams send the same few thousand
//!   prompt templates over and over with other values in them (ids, dates, e-mail addresses,
//!   names) and small edits between versions. The corpus is exactly that: T templates of 40–300
//!   words with 2–5 variable slots, each with V distinct variants (other values, and for ~40 % of
//!   them one or two edits: a word replaced, inserted or dropped). A variant's template is the
//!   ground truth of "near-duplicate" that precision and recall are measured against. Templates are
//!   drawn word by word from an embedded vocabulary with Zipf-like word frequencies (plus a shared
//!   role sentence for half of them, as real system prompts share boilerplate), so two templates
//!   are genuinely different texts that still share common trigrams now and then. Names are not
//!   maskable, so variants that differ by a name never share a template hash: the bench reports
//!   how far masking-based grouping gets too.
//! - **Events are what the server would have stored.** Each distinct variant is fingerprinted once
//!   with `MinHashAnalyzer::default()`, the analyzer the server builds (crates/aicp-api/src/
//!   server.rs), so signatures, band keys and scheme are the server's. N events are drawn from the
//!   variants with Zipf-like popularity (every variant at least once, so the stored set is known)
//!   and loaded by COPY with the usual seeded columns (`Call::sample`, priced with the server's
//!   price book, written by `seed::write_csv_row`) plus the prompt columns; `prompt_text` stays
//!   NULL, as with the default privacy setting. Signatures and band keys go where the server keeps
//!   them: once per distinct prompt, one `prompt_fingerprints` row each. Secondary indexes are
//!   dropped during the COPY and rebuilt after it, as a bulk load would. Events span the last 7
//!   days, so the 7-day `/prompts` window covers all of them: the worst case for that report at
//!   this size.
//! - **Two kinds of `/similar` request.** Prompts drawn uniformly among the distinct ones say how
//!   fast a typical prompt is answered; random calls (what a user clicking an event in the list
//!   gets) draw prompts by popularity, and the server reads every call of every candidate prompt
//!   (for their occurrences and cost), so popular prompts cost more: the two samples show both.
//!   Each run's server gets a Redis key prefix of its own, so no answer cached by an earlier run
//!   (`/similar` answers are cached for an hour) is timed.
//! - **Brute force in the same run is the baseline.** An index is only worth its upkeep if it
//!   beats scanning: for `/similar`, the brute force reads every distinct (prompt_hash,
//!   signature) of the project in one SELECT (the project's rows of `prompt_fingerprints`) and
//!   scores them all in Rust; for `/prompts`, one GROUP BY picks the top 20 prompts and each is
//!   scored against every distinct prompt of the window. The scan alone (signatures already in
//!   memory) is reported too: it is the floor of any exhaustive method.
//! - **Quality is measured in process, over many queries, on the server's own path.** The LSH path
//!   (candidates sharing a band key, ordered by shared band keys and cut at the server's 200,
//!   rescored at the threshold) is mirrored in memory over the stored variants, for Q query
//!   prompts drawn uniformly among them, and compared with the templates, with a brute-force scan
//!   of the signatures and with the exact Jaccard similarity of the shingle sets. The server's
//!   HTTP answers for the timed sample are then checked against the same computation.
//! - **Correctness is a hard check, not a timing threshold.** With 16 bands of 8 rows, two
//!   signatures that agree on at least 113 of 128 components disagree on at most 15, so at least
//!   one band agrees entirely: the pair *must* be a candidate. A `/similar` or `/prompts` answer that
//!   misses such a prompt, or returns a score below the threshold or different from the
//!   signatures' agreement, fails the run.
//! - **The bench's own CPU work runs optimized.** `cargo xtask` builds xtask unoptimized, where
//!   MinHash scoring is ~60x slower than in release: the brute force would look far worse than it
//!   is. So the command builds `cargo build --release -p xtask` and runs target/release/xtask.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aicp_domain::ProjectId;
use aicp_domain::similarity::PromptAnalyzer;
use aicp_similarity::{MinHashAnalyzer, jaccard};
use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::SinkExt;
use rand::Rng;
use serde_json::Value;
use tokio::sync::mpsc;

use super::build_server;
use super::common::{self, quantile_ms, thousands};
use crate::seed::{self, Call, Catalog, FastRng, Feature, Row};
use crate::{Args, migrate};

pub(super) const HELP: &str = "\
cargo xtask bench similarity [flags]

Generates a deterministic corpus: T prompt templates (40-300 words, 2-5 variable slots: numbers,
ISO dates, UUIDs, e-mail addresses, order ids, person names), each with V distinct variants
(other slot values; ~40 % also get one or two small edits: a word replaced, inserted or
dropped), fingerprinted once per distinct text with the server's MinHashAnalyzer::default().
Recreates the scratch database aicp_bench_similarity and loads N events by COPY (the seeded
columns of `cargo xtask seed` plus prompt_hash and template_hash; prompt_text NULL), drawn from
the variants with Zipf-like popularity (each variant at least once) over the last 7 days.
Signatures and band keys go where the server keeps them: one prompt_fingerprints row per
distinct prompt. Non-unique indexes are rebuilt after the COPY. Then starts
target/release/aicp (RATE_LIMIT=off, a Redis key prefix of its own) and measures:

  /similar  GET /api/v1/analytics/prompts/{id}/similar?threshold=0.8&limit=100 for K prompts
            drawn uniformly among the distinct ones (one random event each), then for K random
            calls (prompts by popularity); every request must be an x-cache miss; p50/p95.
            Brute force: the event's signature, every prompt_fingerprints row (prompt_hash,
            signature) of the project in one SELECT, all scored in Rust (and the scan alone,
            signatures in memory)
  /prompts  GET /api/v1/analytics/prompts for the 7-day window (1 warm-up, median of R runs);
            brute force: one GROUP BY for the top 20 prompts by cost, every distinct prompt of
            the window in one SELECT, and a scan of all of them for each of the 20
  quality   Q query prompts drawn among the stored distinct prompts, in process: the server's
            LSH path (band-key candidates ordered by shared band keys, the server's cut at 200,
            rescored) against the known templates, a brute-force scan of the signatures and
            exact Jaccard of the shingle sets, at thresholds 0.5 to 0.9

Fails if a /similar or /prompts answer holds a score below the threshold or different from the
signatures' agreement, or misses a prompt agreeing with the query on at least 113 of 128
components (such a pair shares a whole band: the index must find it), if /prompts picks other
top-20 prompts than the GROUP BY, or if a request fails.

The bench's own work (fingerprints, scans) must run optimized: run from `cargo xtask` (a debug
build), it builds `cargo build --release -p xtask` and runs target/release/xtask.

Flags:
  --events N           events to load (default: 1000000)
  --templates T        prompt templates (default: 3000)
  --variants V         distinct variants per template, 1..=99 (default: 40; kept under the
                       limit of 100 so that limit never caps recall)
  --queries K          timed /similar requests per sample (uniform prompts, random calls;
                       default: 50)
  --quality Q          query prompts of the in-process quality measurement (default: 1000)
  --repeat R           timed /prompts requests; brute-force runs stop at R or after ~30 s,
                       at least 3 (default: 5)
  --database-url URL   the PostgreSQL server to use (its database name is replaced by
                       aicp_bench_similarity)
  --no-build           use the existing target/release/aicp as is (xtask itself is still
                       built in release when run from a debug build)
  --reuse-db           keep an existing aicp_bench_similarity loaded by this bench with the same
                       --events, --templates and --variants
  --keep-db            do not drop aicp_bench_similarity at the end";

const DATABASE: &str = "aicp_bench_similarity";
/// Events span the last `DAYS` days; the `/prompts` window is the last 7 days.
const DAYS: i64 = 7;
/// The seed of the whole corpus (templates, variants, popularity, events).
const SEED: u64 = 0x5eed_5171_1a21;
/// Bumped whenever the generated data changes, so `--reuse-db` reloads.
const DATA_VERSION: u32 = 1;
/// `/similar`'s default threshold, the one the bench times and checks.
const THRESHOLD: f64 = 0.8;
const THRESHOLDS: [f64; 5] = [0.5, 0.6, 0.7, 0.8, 0.9];
/// `limit` of the timed `/similar` requests (the endpoint's maximum).
const LIMIT: usize = 100;
/// The server's candidates per prompt (`CANDIDATES` in crates/aicp-api/src/routes/prompts.rs).
const SERVER_CANDIDATES: usize = 200;
/// Prompt groups of the `/prompts` report, and near-duplicates shown per group.
const GROUPS: usize = 20;
const GROUP_SIMILAR: usize = 5;
/// Brute-force runs stop after this much time (at least `MIN_RUNS`).
const BRUTE_BUDGET: Duration = Duration::from_secs(30);
const MIN_RUNS: usize = 3;
/// Exact Jaccard is computed for same-template pairs and for pairs whose signatures agree on at
/// least this share: below it, a pair at Jaccard >= 0.5 would be a > 7-sigma estimation error.
const EXACT_PREFILTER: f64 = 0.2;
/// Template lengths, in words (without slot values).
const TEMPLATE_WORDS: Range<usize> = 40..301;
const SLOTS: Range<usize> = 2..6;
const COPY_CONNECTIONS: usize = 2;
const FLUSH_BYTES: usize = 1 << 20;

struct Flags {
    events: usize,
    templates: usize,
    variants: usize,
    queries: usize,
    quality: usize,
    repeat: usize,
    database_url: Option<String>,
    no_build: bool,
    reuse_db: bool,
    keep_db: bool,
}

pub(super) fn run(mut args: Args) -> anyhow::Result<()> {
    let flags = Flags {
        events: args.parsed("--events")?.unwrap_or(1_000_000),
        templates: args.parsed("--templates")?.unwrap_or(3_000),
        variants: args.parsed("--variants")?.unwrap_or(40),
        queries: args.parsed("--queries")?.unwrap_or(50),
        quality: args.parsed("--quality")?.unwrap_or(1_000),
        repeat: args.parsed("--repeat")?.unwrap_or(5),
        database_url: args.value("--database-url")?,
        no_build: args.flag("--no-build"),
        reuse_db: args.flag("--reuse-db"),
        keep_db: args.flag("--keep-db"),
    };
    args.finish()?;
    if flags.events == 0 || flags.templates == 0 || flags.repeat == 0 || flags.queries == 0 {
        bail!("--events, --templates, --queries and --repeat must be at least 1");
    }
    if !(1..=99).contains(&flags.variants) {
        bail!("--variants must be between 1 and 99 (the /similar limit is 100)");
    }
    if !flags.no_build {
        build_server()?;
    }
    if cfg!(debug_assertions) {
        return run_optimized();
    }
    bench(&flags)
}

/// Builds xtask in release and runs this very command with it (the server is built already).
fn run_optimized() -> anyhow::Result<()> {
    println!("$ cargo build --release -p xtask   (the bench's own scoring must run optimized)");
    let status = std::process::Command::new(crate::cargo())
        .args(["build", "--release", "-p", "xtask"])
        .current_dir(crate::project_root())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building xtask in release failed ({status})");
    }
    let bin = crate::target_dir().join("release").join("xtask");
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--no-build") {
        args.push("--no-build".to_owned());
    }
    println!("$ {} {}", bin.display(), args.join(" "));
    let status = std::process::Command::new(&bin)
        .args(&args)
        .status()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !status.success() {
        bail!("the benchmark failed ({status})");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The corpus.

/// Common English words, most frequent first (drawn with Zipf-like frequencies).
const VOCABULARY: &str = "the of and to a in is that for it as with be on not this are by at \
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
const ROLES: [&str; 12] = [
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

const FIRST_NAMES: [&str; 32] = [
    "Alice", "Bruno", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
    "Kemal", "Laura", "Mateo", "Nadia", "Oscar", "Priya", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "Wei", "Ximena", "Yusuf", "Zoe", "Amara", "Bjorn", "Carmen", "Dmitri", "Emeka",
    "Freya",
];

const LAST_NAMES: [&str; 32] = [
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

const DOMAINS: [&str; 8] = [
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
enum Slot {
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

const SLOT_KINDS: [Slot; 6] =
    [Slot::Number, Slot::Date, Slot::Uuid, Slot::Email, Slot::OrderId, Slot::Name];

impl Slot {
    fn value(self, rng: &mut FastRng) -> String {
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
enum Token {
    Word(&'static str),
    /// The end of a sentence (renders as `.` after the previous word).
    Stop,
    /// The template's slot number `n`.
    Slot(usize),
}

/// Draws from `0..n` with probability proportional to `1 / (rank + 1)^s`.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n.max(1))
            .map(|i| {
                total += 1.0 / ((i + 1) as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut FastRng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let x = rng.random::<f64>() * total;
        self.cumulative.partition_point(|&c| c <= x).min(self.cumulative.len() - 1)
    }
}

struct Template {
    tokens: Vec<Token>,
    slots: Vec<Slot>,
    /// Words without slot values.
    words: usize,
    feature: &'static Feature,
    /// Its variants' indices in [`Corpus::variants`].
    variants: Range<usize>,
}

struct Variant {
    template: usize,
    text: String,
}

struct Corpus {
    templates: Vec<Template>,
    variants: Vec<Variant>,
}

impl Corpus {
    fn generate(templates: usize, variants: usize) -> Self {
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
fn render(tokens: &[Token], values: &[String]) -> String {
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
struct Print {
    hash: String,
    template_hash: String,
    signature: Vec<u32>,
    bands: Vec<u64>,
    shingles: Vec<u64>,
}

/// Fingerprints every variant with the server's analyzer, on every core.
fn fingerprint_all(analyzer: &MinHashAnalyzer, corpus: &Corpus) -> anyhow::Result<Vec<Print>> {
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
fn agreement(a: &[u32], b: &[u32]) -> u16 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as u16
}

/// The similarity the server computes from an agreement (`equal / len`, as f64).
fn score(agree: u16, len: usize) -> f64 {
    f64::from(agree) / len as f64
}

/// The events: which variant each one calls, in time order, and how many calls each variant has.
struct Schedule {
    /// (milliseconds after the start, variant), sorted by time.
    events: Vec<(i64, u32)>,
    calls: Vec<u64>,
}

impl Schedule {
    fn generate(corpus: &Corpus, events: usize) -> Self {
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

// ---------------------------------------------------------------------------------------------
// Quality, in process.

/// The stored prompts, indexed by band key as the server's GIN index does.
struct Index<'a> {
    prints: &'a [Print],
    calls: &'a [u64],
    stored: Vec<u32>,
    by_band: HashMap<u64, Vec<u32>>,
    sig_len: usize,
}

impl<'a> Index<'a> {
    fn new(prints: &'a [Print], calls: &'a [u64]) -> Self {
        let stored: Vec<u32> =
            (0..prints.len() as u32).filter(|&v| calls[v as usize] > 0).collect();
        let mut by_band: HashMap<u64, Vec<u32>> = HashMap::with_capacity(stored.len() * 16);
        for &v in &stored {
            for &key in &prints[v as usize].bands {
                by_band.entry(key).or_default().push(v);
            }
        }
        let sig_len = prints.first().map_or(128, |p| p.signature.len());
        Self { prints, calls, stored, by_band, sig_len }
    }

    /// The server's candidates for `q`: stored prompts sharing a band key, the `SERVER_CANDIDATES`
    /// sharing most keys (ties by hash), `q` excluded; and how many there were before that cut.
    fn candidates(&self, q: u32) -> (Vec<u32>, usize) {
        let mut all: Vec<u32> = self.prints[q as usize]
            .bands
            .iter()
            .filter_map(|key| self.by_band.get(key))
            .flatten()
            .copied()
            .filter(|&v| v != q)
            .collect();
        all.sort_unstable();
        all.dedup();
        let before = all.len();
        let mine = &self.prints[q as usize].bands;
        let rank =
            |v: u32| self.prints[v as usize].bands.iter().filter(|k| mine.contains(k)).count();
        all.sort_by(|&a, &b| {
            rank(b)
                .cmp(&rank(a))
                .then_with(|| self.prints[a as usize].hash.cmp(&self.prints[b as usize].hash))
        });
        all.truncate(SERVER_CANDIDATES);
        (all, before)
    }
}

/// One query prompt's answers.
struct QueryResult {
    q: u32,
    /// The LSH path's candidates (after the cut) with their agreement.
    lsh: Vec<(u32, u16)>,
    /// Candidates before the cut.
    candidates: usize,
    /// Calls behind those candidates (the rows the server's candidate query aggregates).
    candidate_calls: u64,
    /// Brute force: every stored prompt with agreement >= 0.5 or exact Jaccard >= 0.5, with both.
    brute: Vec<(u32, u16, f64)>,
    /// Pairs whose exact Jaccard was computed.
    exact_computed: usize,
    /// The highest agreement with a prompt of another template.
    other_template_best: u16,
}

fn query(index: &Index<'_>, corpus: &Corpus, q: u32) -> QueryResult {
    let me = &index.prints[q as usize];
    let template = corpus.variants[q as usize].template;
    let (cands, before) = index.candidates(q);
    let lsh: Vec<(u32, u16)> = cands
        .iter()
        .map(|&v| (v, agreement(&me.signature, &index.prints[v as usize].signature)))
        .collect();
    let candidate_calls = cands.iter().map(|&v| index.calls[v as usize]).sum();
    let half = (index.sig_len / 2) as u16;
    let prefilter = (EXACT_PREFILTER * index.sig_len as f64).ceil() as u16;
    let mut brute = Vec::new();
    let mut exact_computed = 0;
    let mut other_template_best = 0;
    for &v in &index.stored {
        if v == q {
            continue;
        }
        let p = &index.prints[v as usize];
        let agree = agreement(&me.signature, &p.signature);
        let same = corpus.variants[v as usize].template == template;
        if !same {
            other_template_best = other_template_best.max(agree);
        }
        if agree >= prefilter || same {
            exact_computed += 1;
            let exact = jaccard(&me.shingles, &p.shingles);
            if agree >= half || exact >= 0.5 {
                brute.push((v, agree, exact));
            }
        }
    }
    QueryResult {
        q,
        lsh,
        candidates: before,
        candidate_calls,
        brute,
        exact_computed,
        other_template_best,
    }
}

/// Sums over the queries at one threshold.
#[derive(Default, Clone, Copy)]
struct Tally {
    /// LSH results, and those from the query's template.
    lsh: u64,
    lsh_same: u64,
    /// The query templates' other stored variants.
    same: u64,
    /// Brute-force (signature) results, and those from the query's template.
    brute: u64,
    brute_same: u64,
    /// LSH results that brute force found (all of them, by construction).
    lsh_in_brute: u64,
    /// Pairs at exact Jaccard >= t, those the LSH path returned, and those it had as candidates.
    exact: u64,
    lsh_exact: u64,
    exact_candidates: u64,
    /// Sum of the S-curve's candidate probability over the exact pairs.
    exact_expected: f64,
}

fn ratio(part: u64, whole: u64) -> String {
    if whole == 0 { "-".to_owned() } else { format!("{:.4}", part as f64 / whole as f64) }
}

struct Quality {
    queries: usize,
    tallies: Vec<Tally>,
    /// Recall vs templates at `THRESHOLD` by template length: (label, returned same, same).
    by_length: Vec<(&'static str, u64, u64)>,
    mean_candidates: f64,
    max_candidates: usize,
    capped_queries: usize,
    mean_candidate_calls: f64,
    exact_computed: usize,
    /// The highest signature similarity between a query and a prompt of another template.
    other_template_best: f64,
    /// Template-hash grouping over all stored prompts: same-template pairs, those sharing a
    /// template hash, and pairs sharing a template hash from different templates.
    template_pairs: u64,
    template_pairs_grouped: u64,
    template_hash_false_pairs: u64,
    seconds: f64,
}

fn measure_quality(
    index: &Index<'_>,
    corpus: &Corpus,
    queries: &[u32],
    analyzer: &MinHashAnalyzer,
) -> anyhow::Result<Quality> {
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = queries.len().div_ceil(threads).max(1);
    let results: Vec<QueryResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = queries
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter().map(|&q| query(index, corpus, q)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(queries.len());
        for h in handles {
            all.extend(h.join().map_err(|_| anyhow::anyhow!("a quality thread panicked"))?);
        }
        anyhow::Ok(all)
    })?;
    let banding = analyzer.banding();
    let len = index.sig_len;
    let stored_of = |t: usize| {
        corpus.templates[t].variants.clone().filter(|&v| index.calls[v] > 0).count() as u64
    };
    let mut tallies = vec![Tally::default(); THRESHOLDS.len()];
    let buckets: [(&'static str, Range<usize>); 3] =
        [("40-99 words", 40..100), ("100-199 words", 100..200), ("200-300 words", 200..301)];
    let mut by_length: Vec<(&'static str, u64, u64)> =
        buckets.iter().map(|(l, _)| (*l, 0, 0)).collect();
    for r in &results {
        let template = corpus.variants[r.q as usize].template;
        let same_of = |v: u32| corpus.variants[v as usize].template == template;
        let others = stored_of(template).saturating_sub(1);
        let candidate_set: HashSet<u32> = r.lsh.iter().map(|&(v, _)| v).collect();
        for (tally, &t) in tallies.iter_mut().zip(&THRESHOLDS) {
            let lsh: HashSet<u32> =
                r.lsh.iter().filter(|&&(_, a)| score(a, len) >= t).map(|&(v, _)| v).collect();
            tally.lsh += lsh.len() as u64;
            tally.lsh_same += lsh.iter().filter(|&&v| same_of(v)).count() as u64;
            tally.same += others;
            for &(v, agree, exact) in &r.brute {
                if score(agree, len) >= t {
                    tally.brute += 1;
                    tally.brute_same += u64::from(same_of(v));
                    tally.lsh_in_brute += u64::from(lsh.contains(&v));
                }
                if exact >= t {
                    tally.exact += 1;
                    tally.lsh_exact += u64::from(lsh.contains(&v));
                    tally.exact_candidates += u64::from(candidate_set.contains(&v));
                    tally.exact_expected += banding.candidate_probability(exact);
                }
            }
            if (t - THRESHOLD).abs() < 1e-9 {
                let words = corpus.templates[template].words;
                if let Some(i) = buckets.iter().position(|(_, range)| range.contains(&words)) {
                    by_length[i].1 += lsh.iter().filter(|&&v| same_of(v)).count() as u64;
                    by_length[i].2 += others;
                }
            }
        }
    }
    // Template hashes over every stored prompt.
    let mut groups: HashMap<&str, HashMap<usize, u64>> = HashMap::new();
    for &v in &index.stored {
        let t = corpus.variants[v as usize].template;
        *groups
            .entry(index.prints[v as usize].template_hash.as_str())
            .or_default()
            .entry(t)
            .or_default() += 1;
    }
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let template_pairs = (0..corpus.templates.len()).map(|t| pairs(stored_of(t))).sum();
    let mut grouped = 0;
    let mut false_pairs = 0;
    for by_template in groups.values() {
        let total: u64 = by_template.values().sum();
        let same: u64 = by_template.values().map(|&n| pairs(n)).sum();
        grouped += same;
        false_pairs += pairs(total) - same;
    }
    let n = results.len().max(1) as f64;
    let quality = Quality {
        queries: results.len(),
        tallies,
        by_length,
        mean_candidates: results.iter().map(|r| r.candidates).sum::<usize>() as f64 / n,
        max_candidates: results.iter().map(|r| r.candidates).max().unwrap_or(0),
        capped_queries: results.iter().filter(|r| r.candidates > SERVER_CANDIDATES).count(),
        mean_candidate_calls: results.iter().map(|r| r.candidate_calls).sum::<u64>() as f64 / n,
        exact_computed: results.iter().map(|r| r.exact_computed).sum(),
        other_template_best: score(
            results.iter().map(|r| r.other_template_best).max().unwrap_or(0),
            index.sig_len,
        ),
        template_pairs,
        template_pairs_grouped: grouped,
        template_hash_false_pairs: false_pairs,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(quality)
}

// ---------------------------------------------------------------------------------------------
// The database.

/// What the scratch database was loaded with (the `events` table's comment), for `--reuse-db`.
fn marker(flags: &Flags, analyzer: &MinHashAnalyzer) -> String {
    format!(
        "aicp bench similarity v{DATA_VERSION}: events={} templates={} variants={} seed={SEED:x} scheme={:x}",
        flags.events,
        flags.templates,
        flags.variants,
        analyzer.scheme()
    )
}

async fn reusable(db: &str, marker: &str) -> anyhow::Result<bool> {
    let name = migrate::database_name(db)?;
    let admin = migrate::connect(&migrate::with_database(db, "postgres")?).await?;
    let exists: bool = admin
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", &[&name])
        .await?
        .get(0);
    if !exists {
        return Ok(false);
    }
    let client = migrate::connect(db).await?;
    let comment: Option<String> = client
        .query_one(
            "SELECT CASE WHEN to_regclass('events') IS NULL THEN NULL \
             ELSE obj_description(to_regclass('events'), 'pg_class') END",
            &[],
        )
        .await?
        .get(0);
    Ok(comment.as_deref() == Some(marker))
}

/// Everything a row generator needs.
struct LoadContext {
    book: aicp_domain::pricing::PriceBook,
    project: ProjectId,
    project_csv: String,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    /// Per variant: the prompt columns and the newline ([`suffix`]).
    suffixes: Vec<String>,
    /// Per variant: the feature of its template.
    features: Vec<&'static Feature>,
    schedule: Vec<(i64, u32)>,
}

/// The prompt columns of an event row, `,hash,template_hash,` (`prompt_text` NULL), and the
/// newline. Signatures and band keys are in `prompt_fingerprints`.
fn suffix(print: &Print) -> String {
    format!(",{},{},\n", print.hash, print.template_hash)
}

/// `"{signature}","{bands}"` as signed integers (`u32::cast_signed`, `u64::cast_signed`).
fn push_arrays(s: &mut String, print: &Print) {
    s.push_str("\"{");
    for (i, c) in print.signature.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", c.cast_signed());
    }
    s.push_str("}\",\"{");
    for (i, b) in print.bands.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{}", b.cast_signed());
    }
    s.push_str("}\"");
}

/// The trace ids of the loaded events start with this (the rollup fold selects them by it).
const TRACE_PREFIX: &str = "tr_sim-";

/// CSV rows of the events `range` of the schedule, sent in chunks.
fn generate_rows(ctx: &LoadContext, range: Range<usize>, tx: &mpsc::Sender<Bytes>) {
    let catalog = Catalog::new();
    let mut rng = FastRng::new(seed::mix(SEED ^ 0xe7e7, range.start as u64));
    let mut buf = String::with_capacity(FLUSH_BYTES + 8192);
    for n in range {
        let (millis, v) = ctx.schedule[n];
        let created_at = (ctx.start + TimeDelta::milliseconds(millis)).min(ctx.now);
        let feature = ctx.features[v as usize];
        let user = catalog.user(&mut rng);
        let call = Call::sample(&mut rng, feature);
        let priced = ctx.book.price(&ctx.project, call.model, created_at, call.usage());
        let trace_id = format!("{TRACE_PREFIX}{n:x}");
        let row = Row {
            id: seed::uuid_v7_at(&mut rng, created_at),
            project_csv: &ctx.project_csv,
            trace_id: &trace_id,
            span_id: "sp_0",
            parent_span_id: None,
            feature: feature.name,
            user_id: user,
            call: &call,
            priced: &priced,
            created_at,
        };
        seed::write_csv_row(&mut buf, &row);
        buf.pop(); // the newline: the prompt columns follow
        buf.push_str(&ctx.suffixes[v as usize]);
        if buf.len() >= FLUSH_BYTES {
            let chunk = std::mem::replace(&mut buf, String::with_capacity(FLUSH_BYTES + 8192));
            if tx.blocking_send(Bytes::from(chunk)).is_err() {
                return;
            }
        }
    }
    if !buf.is_empty() {
        let _ = tx.blocking_send(Bytes::from(buf));
    }
}

async fn copy_rows(
    client: tokio_postgres::Client,
    sql: String,
    mut rx: mpsc::Receiver<Bytes>,
) -> anyhow::Result<u64> {
    let sink = client.copy_in::<_, Bytes>(sql.as_str()).await?;
    let mut sink = Box::pin(sink);
    while let Some(data) = rx.recv().await {
        sink.send(data).await.context("COPY failed")?;
    }
    sink.as_mut().finish().await.context("COPY failed")
}

/// Recreates the scratch database and loads the events and their prompts' fingerprints (see the
/// module docs).
async fn load(
    db: &str,
    ctx: LoadContext,
    prints: &[Print],
    stored: &[u32],
    marker: &str,
) -> anyhow::Result<()> {
    println!("bench: recreating scratch database {}", migrate::redact(db));
    migrate::drop_database(db).await?;
    migrate::migrate(db).await?;
    let client = migrate::connect(db).await?;
    client
        .execute("INSERT INTO projects (id) VALUES ('default') ON CONFLICT DO NOTHING", &[])
        .await?;
    // A bulk load builds secondary indexes afterwards (the GIN index on the band keys above all).
    let indexes: Vec<(String, String)> = client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() \
             AND tablename IN ('events', 'prompt_fingerprints') \
             AND indexdef NOT LIKE 'CREATE UNIQUE INDEX%' ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for (name, _) in &indexes {
        client.batch_execute(&format!("DROP INDEX \"{name}\"")).await?;
    }
    let events = ctx.schedule.len();
    let total_bytes: usize =
        ctx.schedule.iter().map(|&(_, v)| ctx.suffixes[v as usize].len() + 330).sum();
    println!(
        "bench: COPY {} events (~{} MiB of CSV) on {COPY_CONNECTIONS} connections; {} non-unique index(es) dropped until the end",
        thousands(events as u64),
        total_bytes >> 20,
        indexes.len()
    );
    let started = Instant::now();
    let ctx = Arc::new(ctx);
    let sql = format!(
        "COPY events ({}, prompt_hash, template_hash, prompt_text) FROM STDIN (FORMAT csv)",
        seed::COLUMNS
    );
    let mut copies = Vec::new();
    let mut generators = Vec::new();
    for part in 0..COPY_CONNECTIONS {
        let range = events * part / COPY_CONNECTIONS..events * (part + 1) / COPY_CONNECTIONS;
        let c = migrate::connect(db).await?;
        c.batch_execute("SET synchronous_commit = off").await?;
        let (tx, rx) = mpsc::channel(4);
        let ctx = Arc::clone(&ctx);
        generators.push(tokio::task::spawn_blocking(move || generate_rows(&ctx, range, &tx)));
        copies.push(tokio::spawn(copy_rows(c, sql.clone(), rx)));
    }
    let rows = seed::join_loaders(copies, generators).await.map_err(|(e, _)| e)?;
    if rows != events as u64 {
        bail!("COPY stored {rows} rows, not {events}");
    }
    println!(
        "bench:   {} rows in {:.1} s ({:.0} rows/s)",
        thousands(rows),
        started.elapsed().as_secs_f64(),
        rows as f64 / started.elapsed().as_secs_f64().max(1e-9)
    );
    // One row per stored distinct prompt, as ingestion would have left it.
    let step = Instant::now();
    let mut buf = String::with_capacity(stored.len() * 1900);
    for &v in stored {
        let p = &prints[v as usize];
        let _ = write!(buf, "default,{},{},", p.hash, p.template_hash);
        push_arrays(&mut buf, p);
        buf.push('\n');
    }
    let sink = client
        .copy_in::<_, Bytes>(
            "COPY prompt_fingerprints (project_id, prompt_hash, template_hash, signature, bands) \
             FROM STDIN (FORMAT csv)",
        )
        .await?;
    let mut sink = Box::pin(sink);
    sink.send(Bytes::from(buf)).await.context("COPY prompt_fingerprints failed")?;
    let n = sink.as_mut().finish().await.context("COPY prompt_fingerprints failed")?;
    println!(
        "bench:   {} rows of prompt_fingerprints in {:.1} s",
        thousands(n),
        step.elapsed().as_secs_f64()
    );
    let step = Instant::now();
    client.batch_execute("SET maintenance_work_mem = '1GB'").await?;
    for (name, definition) in &indexes {
        let one = Instant::now();
        client.batch_execute(definition).await.with_context(|| format!("cannot rebuild {name}"))?;
        println!("bench:   rebuilt {name} in {:.1} s", one.elapsed().as_secs_f64());
    }
    println!("bench:   indexes rebuilt in {:.1} s", step.elapsed().as_secs_f64());
    let step = Instant::now();
    if seed::fold_into_rollups(&client, "default", TRACE_PREFIX).await? {
        println!("bench:   folded into the rollups in {:.1} s", step.elapsed().as_secs_f64());
    }
    // VACUUM as well: in production autovacuum visits an insert-only table after every ~20 %
    // growth (autovacuum_vacuum_insert_scale_factor), which sets the visibility map that
    // index-only scans rely on; right after a COPY nothing is marked yet.
    let step = Instant::now();
    client.batch_execute("VACUUM (ANALYZE)").await?;
    println!("bench:   VACUUM (ANALYZE) in {:.1} s", step.elapsed().as_secs_f64());
    client
        .batch_execute(&format!("COMMENT ON TABLE events IS '{}'", marker.replace('\'', "''")))
        .await?;
    println!("bench: loaded in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Measurements against the server.

fn http_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn sql_time(t: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// One GET: its time, its `x-cache` header and its body. Anything but 200 is an error.
async fn get(
    client: &reqwest::Client,
    url: &str,
) -> anyhow::Result<(Duration, Option<String>, Bytes)> {
    let start = Instant::now();
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let cache = response.headers().get("x-cache").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = response.bytes().await.with_context(|| format!("reading {url}"))?;
    let elapsed = start.elapsed();
    if status != reqwest::StatusCode::OK {
        bail!("GET {url}: {status}: {}", super::truncate(&String::from_utf8_lossy(&body), 300));
    }
    Ok((elapsed, cache, body))
}

/// Every distinct stored prompt (hash, signature) of the project, or of the calls of `window`, in
/// one SELECT of `prompt_fingerprints`.
async fn distinct_prompts(
    pg: &tokio_postgres::Client,
    window: Option<&str>,
) -> anyhow::Result<Vec<(String, Vec<u32>)>> {
    let sql = match window {
        None => {
            "SELECT prompt_hash, signature FROM prompt_fingerprints WHERE project_id = 'default'"
                .to_owned()
        }
        Some(w) => format!(
            "SELECT prompt_hash, signature FROM prompt_fingerprints WHERE project_id = 'default' \
             AND prompt_hash IN (SELECT prompt_hash FROM events WHERE {w} AND prompt_hash IS NOT NULL)"
        ),
    };
    let rows = pg.query(&sql, &[]).await.context("the distinct prompts")?;
    Ok(rows
        .iter()
        .map(|r| {
            let sig: Vec<i32> = r.get(1);
            (r.get::<_, String>(0), sig.into_iter().map(i32::cast_unsigned).collect())
        })
        .collect())
}

/// Brute force: every prompt of `all` at or above `threshold` except `own`, best first (ties by
/// hash), at most `limit`.
fn scan<'a>(
    all: &'a [(String, Vec<u32>)],
    own: &str,
    signature: &[u32],
    threshold: f64,
    limit: usize,
) -> Vec<(&'a str, f64)> {
    let len = signature.len();
    let mut out: Vec<(&str, f64)> = all
        .iter()
        .filter(|(hash, _)| hash != own)
        .map(|(hash, sig)| (hash.as_str(), score(agreement(signature, sig), len)))
        .filter(|&(_, s)| s >= threshold)
        .collect();
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    out.truncate(limit);
    out
}

/// Near-duplicates as the server returns them: (prompt hash, similarity).
type Answer = Vec<(String, f64)>;

/// The `/similar` requests of one sample of prompts.
#[derive(Default)]
struct SimilarTiming {
    prompts: usize,
    times: Vec<Duration>,
    cache_hits: usize,
    /// (prompt, event id, answer without the prompt's own hash).
    answers: Vec<(u32, String, Answer)>,
    results: usize,
    /// The brute-force scan alone (signatures in memory), per prompt.
    scan: Vec<Duration>,
    /// Answers equal to the in-process LSH path's.
    same_as_mirror: usize,
    mirror_differences: Vec<String>,
    /// Calls of the candidate prompts (the events the server's candidate query reads), per prompt.
    candidate_calls: Vec<u64>,
    errors: Vec<String>,
}

struct SimilarReport {
    /// Brute force per query: own signature + distinct SELECT + scan.
    brute: Vec<Duration>,
    /// The SELECT part of `brute`.
    brute_select: Vec<Duration>,
    distinct: usize,
    /// Prompts drawn uniformly among the distinct ones, and random calls (by popularity).
    uniform: SimilarTiming,
    by_calls: SimilarTiming,
    /// Every wrong answer (both samples) and database mismatch.
    errors: Vec<String>,
}

struct PromptsReport {
    times: Vec<Duration>,
    brute: Vec<Duration>,
    brute_group_by: Vec<Duration>,
    brute_distinct: Vec<Duration>,
    scan: Vec<Duration>,
    window_events: u64,
    window_distinct: usize,
    groups: usize,
    similar_shown: usize,
    brute_similar: usize,
    order_note: Option<String>,
    errors: Vec<String>,
}

/// Checks one answer (hash, score) list against brute force: scores at or above the threshold and
/// equal to the signatures' agreement, and nothing missing that shares a whole band.
#[allow(clippy::too_many_arguments)]
fn check_answer(
    what: &str,
    answer: &[(String, f64)],
    own: &str,
    signature: &[u32],
    all: &[(String, Vec<u32>)],
    threshold: f64,
    cap: usize,
    guaranteed: u16,
    errors: &mut Vec<String>,
) {
    let by_hash: HashMap<&str, &[u32]> = all.iter().map(|(h, s)| (h.as_str(), &s[..])).collect();
    let len = signature.len();
    for (hash, s) in answer {
        if hash == own {
            errors.push(format!("{what}: the prompt itself is among its near-duplicates"));
            continue;
        }
        let Some(sig) = by_hash.get(hash.as_str()) else {
            errors.push(format!("{what}: {hash} is not a stored prompt"));
            continue;
        };
        let expected = score(agreement(signature, sig), len);
        if *s < threshold {
            errors.push(format!("{what}: {hash} scored {s} < threshold {threshold}"));
        }
        if (s - expected).abs() > 1e-9 {
            errors.push(format!("{what}: {hash} scored {s}, its signature agrees on {expected}"));
        }
    }
    let returned: HashSet<&str> = answer.iter().map(|(h, _)| h.as_str()).collect();
    let lowest = answer.iter().map(|a| a.1).fold(f64::INFINITY, f64::min);
    for (hash, sig) in all {
        let agree = agreement(signature, sig);
        if hash == own || agree < guaranteed || returned.contains(hash.as_str()) {
            continue;
        }
        let s = score(agree, len);
        if answer.len() < cap || s > lowest {
            errors.push(format!(
                "{what}: misses {hash} (agreement {agree}/{len}, sim {s:.4}; shares a whole band)"
            ));
        }
    }
}

/// The prompts the in-process LSH path returns for `q` at `threshold` (the server's answer).
fn lsh_answer<'a>(index: &Index<'a>, q: u32, threshold: f64) -> HashSet<&'a str> {
    let me = &index.prints[q as usize].signature;
    let prints = index.prints;
    index
        .candidates(q)
        .0
        .into_iter()
        .filter(|&v| {
            score(agreement(me, &prints[v as usize].signature), index.sig_len) >= threshold
        })
        .map(|v| prints[v as usize].hash.as_str())
        .collect()
}

/// `/similar` of each (prompt, event id), one request each; the answers without the prompt's own
/// hash (its other calls).
async fn ask_similar(
    client: &reqwest::Client,
    base_url: &str,
    asks: &[(u32, String)],
    prints: &[Print],
) -> anyhow::Result<SimilarTiming> {
    let mut timing = SimilarTiming { prompts: asks.len(), ..SimilarTiming::default() };
    for (q, id) in asks {
        let url = format!(
            "{base_url}/api/v1/analytics/prompts/{id}/similar?threshold={THRESHOLD}&limit={LIMIT}"
        );
        let (t, cache, body) = get(client, &url).await?;
        let parsed: Value = serde_json::from_slice(&body).context("/similar: not JSON")?;
        let own = &prints[*q as usize].hash;
        let answer: Vec<(String, f64)> = parsed
            .as_array()
            .context("/similar: not an array")?
            .iter()
            .map(|s| Some((s["promptHash"].as_str()?.to_owned(), s["similarity"].as_f64()?)))
            .collect::<Option<Vec<_>>>()
            .context("/similar: an item without promptHash or similarity")?
            .into_iter()
            .filter(|(h, _)| h != own)
            .collect();
        if cache.as_deref() == Some("miss") {
            timing.times.push(t);
        } else {
            timing.cache_hits += 1;
        }
        timing.results += answer.len();
        timing.answers.push((*q, id.clone(), answer));
    }
    Ok(timing)
}

/// Checks every answer of `timing` against brute force over `all` and against the in-process LSH
/// path, and times the brute-force scan of each prompt with the signatures in memory.
fn check_similar(
    timing: &mut SimilarTiming,
    all: &[(String, Vec<u32>)],
    index: &Index<'_>,
    guaranteed: u16,
) {
    for (q, id, answer) in &timing.answers {
        let me = &index.prints[*q as usize];
        let t = Instant::now();
        let found = scan(all, &me.hash, &me.signature, THRESHOLD, LIMIT);
        timing.scan.push(t.elapsed());
        std::hint::black_box(&found);
        check_answer(
            &format!("/similar of event {id}"),
            answer,
            &me.hash,
            &me.signature,
            all,
            THRESHOLD,
            LIMIT,
            guaranteed,
            &mut timing.errors,
        );
        let (candidates, _) = index.candidates(*q);
        timing.candidate_calls.push(candidates.iter().map(|&v| index.calls[v as usize]).sum());
        let expected = lsh_answer(index, *q, THRESHOLD);
        let got: HashSet<&str> = answer.iter().map(|(h, _)| h.as_str()).collect();
        if expected == got {
            timing.same_as_mirror += 1;
        } else if timing.mirror_differences.len() < 5 {
            timing.mirror_differences.push(format!(
                "event {id}: server {} results, in-process LSH {} ({} only on the server, {} only in process)",
                got.len(),
                expected.len(),
                got.difference(&expected).count(),
                expected.difference(&got).count()
            ));
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn measure_similar(
    client: &reqwest::Client,
    pg: &tokio_postgres::Client,
    base_url: &str,
    flags: &Flags,
    sample: &[u32],
    warmup: &[u32],
    index: &Index<'_>,
    hash_index: &HashMap<&str, u32>,
    guaranteed: u16,
) -> anyhow::Result<SimilarReport> {
    let prints = index.prints;
    // One random event per prompt (a fresh salt per run: never one a previous run cached).
    let salt = format!("{:x}", Utc::now().timestamp_nanos_opt().unwrap_or(0));
    let hashes: Vec<&str> =
        sample.iter().chain(warmup).map(|&v| prints[v as usize].hash.as_str()).collect();
    let rows = pg
        .query(
            "SELECT DISTINCT ON (prompt_hash) prompt_hash, id::text FROM events \
             WHERE project_id = 'default' AND prompt_hash = ANY($1) \
             ORDER BY prompt_hash, md5(id::text || $2)",
            &[&hashes, &salt],
        )
        .await?;
    let event_of: HashMap<String, String> =
        rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))).collect();
    let event = |v: u32| {
        let hash = &prints[v as usize].hash;
        event_of.get(hash).cloned().with_context(|| format!("no stored event has prompt {hash}"))
    };
    let uniform: Vec<(u32, String)> =
        sample.iter().map(|&v| Ok((v, event(v)?))).collect::<anyhow::Result<_>>()?;
    // Random calls: their prompts are drawn by popularity. Never an event asked about already
    // (the same event id would be the same cache key).
    let asked: Vec<&str> = event_of.values().map(String::as_str).collect();
    let rows = pg
        .query(
            "SELECT prompt_hash, id::text FROM events \
             WHERE project_id = 'default' AND prompt_hash IS NOT NULL AND id::text <> ALL($3) \
             ORDER BY md5(id::text || $1 || 'calls') LIMIT $2",
            &[&salt, &i64::try_from(sample.len())?, &asked],
        )
        .await?;
    let by_calls: Vec<(u32, String)> = rows
        .iter()
        .map(|r| {
            let hash: &str = r.get(0);
            let v = hash_index.get(hash).with_context(|| format!("unknown prompt {hash}"))?;
            Ok((*v, r.get::<_, String>(1)))
        })
        .collect::<anyhow::Result<_>>()?;

    // Warm-ups: other prompts (and another limit, so another cache key), not timed.
    for &v in warmup {
        let url = format!(
            "{base_url}/api/v1/analytics/prompts/{}/similar?threshold={THRESHOLD}&limit={}",
            event(v)?,
            LIMIT - 1
        );
        get(client, &url).await?;
    }
    let mut uniform = ask_similar(client, base_url, &uniform, prints).await?;
    let mut by_calls = ask_similar(client, base_url, &by_calls, prints).await?;

    // Brute force, timed per query while within budget (the prompts of the uniform sample).
    let mut report = SimilarReport {
        brute: Vec::new(),
        brute_select: Vec::new(),
        distinct: 0,
        uniform: SimilarTiming::default(),
        by_calls: SimilarTiming::default(),
        errors: Vec::new(),
    };
    let started = Instant::now();
    let mut all: Vec<(String, Vec<u32>)> = Vec::new();
    for (q, id, _) in &uniform.answers {
        if report.brute.len() >= flags.repeat.max(MIN_RUNS)
            || (report.brute.len() >= MIN_RUNS && started.elapsed() > BRUTE_BUDGET)
        {
            break;
        }
        let t = Instant::now();
        let row = pg
            .query_one(
                "SELECT e.prompt_hash, f.signature FROM events e JOIN prompt_fingerprints f \
                 ON f.project_id = e.project_id AND f.prompt_hash = e.prompt_hash \
                 WHERE e.project_id = 'default' AND e.id = ($1::text)::uuid",
                &[id],
            )
            .await?;
        let own: String = row.get(0);
        let sig: Vec<u32> = row.get::<_, Vec<i32>>(1).into_iter().map(i32::cast_unsigned).collect();
        let select = Instant::now();
        let fetched = distinct_prompts(pg, None).await?;
        report.brute_select.push(select.elapsed());
        let found = scan(&fetched, &own, &sig, THRESHOLD, LIMIT);
        report.brute.push(t.elapsed());
        std::hint::black_box(found);
        if own != prints[*q as usize].hash {
            report.errors.push(format!("event {id} holds prompt {own}, not the sampled one"));
        }
        all = fetched;
    }
    report.distinct = all.len();
    if all.len() != index.stored.len() {
        report.errors.push(format!(
            "the database holds {} distinct prompts, the corpus {}",
            all.len(),
            index.stored.len()
        ));
    }
    check_similar(&mut uniform, &all, index, guaranteed);
    check_similar(&mut by_calls, &all, index, guaranteed);
    report.errors.extend(uniform.errors.iter().chain(&by_calls.errors).cloned());
    report.uniform = uniform;
    report.by_calls = by_calls;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn measure_prompts(
    client: &reqwest::Client,
    pg: &tokio_postgres::Client,
    base_url: &str,
    flags: &Flags,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    index: &Index<'_>,
    hash_index: &HashMap<&str, u32>,
    guaranteed: u16,
) -> anyhow::Result<PromptsReport> {
    let url = format!(
        "{base_url}/api/v1/analytics/prompts?from={}&to={}",
        http_time(from),
        http_time(to)
    );
    let (_, _, mut body) = get(client, &url).await?;
    let mut times = Vec::new();
    for _ in 0..flags.repeat {
        let (t, _, b) = get(client, &url).await?;
        times.push(t);
        body = b;
    }
    let groups: Vec<(String, Vec<(String, f64)>)> = serde_json::from_slice::<Value>(&body)
        .context("/prompts: not JSON")?
        .as_array()
        .context("/prompts: not an array")?
        .iter()
        .map(|g| {
            let similar = g["similarPrompts"]
                .as_array()?
                .iter()
                .map(|s| Some((s["promptHash"].as_str()?.to_owned(), s["similarity"].as_f64()?)))
                .collect::<Option<Vec<_>>>()?;
            Some((g["promptHash"].as_str()?.to_owned(), similar))
        })
        .collect::<Option<_>>()
        .context("/prompts: a group without promptHash or similarPrompts")?;

    let window = format!(
        "project_id = 'default' AND created_at >= {} AND created_at <= {}",
        sql_time(from),
        sql_time(to)
    );
    let group_by = format!(
        "SELECT prompt_hash, count(*), sum(verified_cost_usd)::text, \
         sum(input_tokens::bigint + output_tokens) FROM events WHERE {window} \
         AND prompt_hash IS NOT NULL GROUP BY prompt_hash \
         ORDER BY sum(verified_cost_usd) DESC, prompt_hash LIMIT {GROUPS}"
    );
    let mut report = PromptsReport {
        times,
        brute: Vec::new(),
        brute_group_by: Vec::new(),
        brute_distinct: Vec::new(),
        scan: Vec::new(),
        window_events: 0,
        window_distinct: 0,
        groups: groups.len(),
        similar_shown: groups.iter().map(|g| g.1.len()).sum(),
        brute_similar: 0,
        order_note: None,
        errors: Vec::new(),
    };
    let started = Instant::now();
    let mut top: Vec<String> = Vec::new();
    let mut all: Vec<(String, Vec<u32>)> = Vec::new();
    let mut brute_answers: Vec<Vec<(String, f64)>> = Vec::new();
    while report.brute.len() < flags.repeat.max(MIN_RUNS)
        && (report.brute.len() < MIN_RUNS || started.elapsed() < BRUTE_BUDGET)
    {
        let t = Instant::now();
        let rows = pg.query(&group_by, &[]).await.context("the top prompts")?;
        report.brute_group_by.push(t.elapsed());
        let d = Instant::now();
        let fetched = distinct_prompts(pg, Some(&window)).await?;
        report.brute_distinct.push(d.elapsed());
        let s = Instant::now();
        let by_hash: HashMap<&str, &[u32]> =
            fetched.iter().map(|(h, sig)| (h.as_str(), &sig[..])).collect();
        let answers: Vec<Vec<(String, f64)>> = rows
            .iter()
            .map(|r| {
                let hash: &str = r.get(0);
                let sig = by_hash.get(hash).copied().unwrap_or_default();
                scan(&fetched, hash, sig, THRESHOLD, GROUP_SIMILAR)
                    .into_iter()
                    .map(|(h, s)| (h.to_owned(), s))
                    .collect()
            })
            .collect();
        report.scan.push(s.elapsed());
        report.brute.push(t.elapsed());
        top = rows.iter().map(|r| r.get::<_, String>(0)).collect();
        brute_answers = answers;
        all = fetched;
    }
    report.window_distinct = all.len();
    report.brute_similar = brute_answers.iter().map(Vec::len).sum();
    report.window_events = u64::try_from(
        pg.query_one(&format!("SELECT count(*) FROM events WHERE {window}"), &[])
            .await?
            .get::<_, i64>(0),
    )?;

    let served: Vec<&str> = groups.iter().map(|g| g.0.as_str()).collect();
    let expected: Vec<&str> = top.iter().map(String::as_str).collect();
    if served.iter().collect::<HashSet<_>>() != expected.iter().collect::<HashSet<_>>() {
        report.errors.push(format!(
            "/prompts: the top {GROUPS} prompts differ from the GROUP BY's ({} in common)",
            served.iter().filter(|h| expected.contains(h)).count()
        ));
    } else if served != expected {
        report.order_note =
            Some("same top-20 prompts as the GROUP BY, in another order (cost ties)".to_owned());
    }
    let by_hash: HashMap<&str, &[u32]> = all.iter().map(|(h, s)| (h.as_str(), &s[..])).collect();
    for (hash, similar) in &groups {
        let Some(sig) = by_hash.get(hash.as_str()) else {
            report.errors.push(format!("/prompts: group {hash} is not a prompt of the window"));
            continue;
        };
        // The server's candidates are cut at 200 prompts: a guarantee holds only below that.
        let capped = hash_index
            .get(hash.as_str())
            .is_some_and(|&v| index.candidates(v).1 > SERVER_CANDIDATES);
        check_answer(
            &format!("/prompts group {hash}"),
            similar,
            hash,
            sig,
            &all,
            THRESHOLD,
            GROUP_SIMILAR,
            if capped { u16::MAX } else { guaranteed },
            &mut report.errors,
        );
    }
    Ok(report)
}

// ---------------------------------------------------------------------------------------------
// The run.

fn bench(flags: &Flags) -> anyhow::Result<()> {
    let analyzer = MinHashAnalyzer::default();
    let banding = analyzer.banding();
    let sig_len = banding.signature_len();
    // Fewer disagreements than bands: at least one band agrees on all its rows.
    let guaranteed = u16::try_from(sig_len - banding.bands + 1)?;

    let step = Instant::now();
    let corpus = Corpus::generate(flags.templates, flags.variants);
    let generated = step.elapsed().as_secs_f64();
    let step = Instant::now();
    let prints = fingerprint_all(&analyzer, &corpus)?;
    let fingerprinted = step.elapsed().as_secs_f64();
    let mut hash_index: HashMap<&str, u32> = HashMap::with_capacity(prints.len());
    for (v, p) in prints.iter().enumerate() {
        if let Some(first) = hash_index.insert(p.hash.as_str(), v as u32) {
            bail!(
                "variants {first} and {v} normalise to the same text: the corpus is not distinct"
            );
        }
    }
    let schedule = Schedule::generate(&corpus, flags.events);
    let index = Index::new(&prints, &schedule.calls);
    let words: Vec<usize> = corpus.variants.iter().map(|v| v.text.split(' ').count()).collect();
    println!(
        "bench: corpus: {} templates, {} distinct prompts ({} stored: called at least once), {}-{} words with the slot values (mean {:.0}), generated in {generated:.1} s, fingerprinted in {fingerprinted:.1} s",
        thousands(corpus.templates.len() as u64),
        thousands(corpus.variants.len() as u64),
        thousands(index.stored.len() as u64),
        words.iter().min().unwrap_or(&0),
        words.iter().max().unwrap_or(&0),
        words.iter().sum::<usize>() as f64 / words.len().max(1) as f64,
    );

    // Query prompts: uniformly among the stored ones; the first K are also asked over HTTP.
    let mut rng = FastRng::new(seed::mix(SEED, 7));
    let mut order = index.stored.clone();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    order.truncate(flags.quality.max(flags.queries).min(order.len()));
    let sample: Vec<u32> = order.iter().copied().take(flags.queries).collect();
    // Warm-up prompts: the next two, else the first two (asked with another limit).
    let warmup: Vec<u32> = if order.len() >= sample.len() + 2 {
        order[sample.len()..sample.len() + 2].to_vec()
    } else {
        sample.iter().copied().take(2).collect()
    };

    let base = flags.database_url.clone().unwrap_or_else(crate::default_database_url);
    let db = migrate::with_database(&base, DATABASE)?;
    let marker = marker(flags, &analyzer);
    crate::runtime()?.block_on(async {
        let outcome = async {
            if flags.reuse_db && reusable(&db, &marker).await? {
                println!("bench: reusing {DATABASE} ({marker}; --reuse-db)");
                migrate::migrate(&db).await?;
            } else {
                let now = Utc::now();
                let ctx = LoadContext {
                    book: seed::price_book()?,
                    project: ProjectId::default_project(),
                    project_csv: seed::csv_quote("default"),
                    start: now - TimeDelta::days(DAYS),
                    now,
                    suffixes: prints.iter().map(suffix).collect(),
                    features: corpus
                        .variants
                        .iter()
                        .map(|v| corpus.templates[v.template].feature)
                        .collect(),
                    schedule: schedule.events.clone(),
                };
                load(&db, ctx, &prints, &index.stored, &marker).await?;
            }
            let index = &index;
            println!(
                "bench: quality: {} query prompts against {} stored prompts (LSH path, brute force, exact Jaccard)",
                thousands(order.len() as u64),
                thousands(index.stored.len() as u64)
            );
            let quality = measure_quality(index, &corpus, &order, &analyzer)?;
            println!("bench:   done in {:.1} s", quality.seconds);
            // A Redis key prefix of its own: `/similar` answers cached by an earlier run (an hour)
            // must not be served to this one.
            let prefix = format!("aicp-bench-similarity-{:x}:", Utc::now().timestamp_millis());
            let (server, base_url) =
                common::start_server_with(&db, &[("REDIS_KEY_PREFIX", prefix.as_str())]).await?;
            let result = async {
                let pg = migrate::connect(&db).await?;
                let end: Option<i64> = pg
                    .query_one(
                        "SELECT (ceil(extract(epoch FROM max(created_at)) / 60) * 60)::bigint \
                         FROM events WHERE project_id = 'default'",
                        &[],
                    )
                    .await?
                    .get(0);
                let to = end
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                    .context("the scratch database holds no events")?;
                let from = to - TimeDelta::days(7);
                let client = reqwest::Client::builder()
                    .no_proxy()
                    .tcp_nodelay(true)
                    .timeout(Duration::from_secs(600))
                    .build()?;
                println!(
                    "bench: /similar for {} prompts (threshold {THRESHOLD}, limit {LIMIT}), then brute force",
                    sample.len()
                );
                let similar = measure_similar(
                    &client,
                    &pg,
                    &base_url,
                    flags,
                    &sample,
                    &warmup,
                    index,
                    &hash_index,
                    guaranteed,
                )
                .await?;
                println!(
                    "bench:   /similar p50 {:.2} ms (uniform prompts), {:.2} ms (random calls); brute force p50 {:.1} ms",
                    quantile_ms(&similar.uniform.times, 0.5),
                    quantile_ms(&similar.by_calls.times, 0.5),
                    quantile_ms(&similar.brute, 0.5)
                );
                println!(
                    "bench: /prompts {} .. {} (1 warm-up + {} runs), then brute force",
                    http_time(from),
                    http_time(to),
                    flags.repeat
                );
                let prompts = measure_prompts(
                    &client,
                    &pg,
                    &base_url,
                    flags,
                    from,
                    to,
                    index,
                    &hash_index,
                    guaranteed,
                )
                .await?;
                println!(
                    "bench:   /prompts p50 {:.1} ms; brute force p50 {:.1} ms",
                    quantile_ms(&prompts.times, 0.5),
                    quantile_ms(&prompts.brute, 0.5)
                );
                anyhow::Ok((similar, prompts))
            }
            .await;
            common::stop_server(server)?;
            let (similar, prompts) = result?;
            anyhow::Ok((quality, similar, prompts))
        }
        .await;
        common::drop_unless_kept(&db, flags.keep_db).await?;
        let (quality, similar, prompts) = outcome?;
        let summary = Summary {
            flags,
            corpus: &corpus,
            stored: index.stored.len(),
            sig_len,
            bands: banding.bands,
            guaranteed,
            quality: &quality,
            similar: &similar,
            prompts: &prompts,
        };
        summary.print();
        let errors: Vec<&String> = similar.errors.iter().chain(&prompts.errors).collect();
        if !errors.is_empty() {
            for e in errors.iter().take(20) {
                println!("  WRONG: {e}");
            }
            bail!("{} wrong answer(s) (see above)", errors.len());
        }
        let hits = similar.uniform.cache_hits + similar.by_calls.cache_hits;
        if hits > 0 {
            bail!("{hits} /similar request(s) were served from the cache");
        }
        Ok(())
    })
}

struct Summary<'a> {
    flags: &'a Flags,
    corpus: &'a Corpus,
    stored: usize,
    sig_len: usize,
    bands: usize,
    guaranteed: u16,
    quality: &'a Quality,
    similar: &'a SimilarReport,
    prompts: &'a PromptsReport,
}

impl Summary<'_> {
    fn print(&self) {
        let (s, p, q) = (self.similar, self.prompts, self.quality);
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "\nbench similarity: {} events of project default over the last {DAYS} days; {} templates x up to {} variants = {} distinct prompts ({} stored); MinHash {} bands x {} rows; client, server and PostgreSQL share {cores} cores",
            thousands(self.flags.events as u64),
            thousands(self.corpus.templates.len() as u64),
            self.flags.variants,
            thousands(self.corpus.variants.len() as u64),
            thousands(self.stored as u64),
            self.bands,
            self.sig_len / self.bands.max(1),
        );
        println!(
            "the schema keeps signatures and band keys once per distinct prompt (prompt_fingerprints)"
        );
        println!(
            "\n{:<44} {:>10} {:>9} {:>5}   {:>12} {:>5}   {:>10}",
            "timings (ms)", "ours p50", "p95", "n", "brute p50", "runs", "brute/ours"
        );
        let row = |name: &str, ours: &[Duration], brute: &[Duration]| {
            let (o, b) = (quantile_ms(ours, 0.5), quantile_ms(brute, 0.5));
            println!(
                "{:<44} {:>10.2} {:>9.2} {:>5}   {:>12.2} {:>5}   {:>9.1}x",
                name,
                o,
                quantile_ms(ours, 0.95),
                ours.len(),
                b,
                brute.len(),
                b / o.max(1e-9)
            );
        };
        let (u, c) = (&s.uniform, &s.by_calls);
        row("/similar, uniform prompts (0.8, limit 100)", &u.times, &s.brute);
        row("  vs brute scan alone (signatures in memory)", &u.times, &u.scan);
        row("/similar, random calls (prompts by calls)", &c.times, &s.brute);
        row("  vs brute scan alone (signatures in memory)", &c.times, &c.scan);
        row("/prompts 7 days (20 groups x 5 similar)", &p.times, &p.brute);
        row("  vs brute scans alone (signatures in memory)", &p.times, &p.scan);
        println!(
            "  /similar brute force = the event's signature (by id) + SELECT of prompt_fingerprints for all {} distinct prompts (p50 {:.1} ms) + scan in Rust (p50 {:.2} ms)",
            thousands(s.distinct as u64),
            quantile_ms(&s.brute_select, 0.5),
            quantile_ms(&u.scan, 0.5)
        );
        let calls = |t: &SimilarTiming| {
            let n = t.candidate_calls.len().max(1) as f64;
            format!(
                "mean {:.0}, max {}",
                t.candidate_calls.iter().sum::<u64>() as f64 / n,
                t.candidate_calls.iter().max().unwrap_or(&0)
            )
        };
        println!(
            "  calls of the candidate prompts per /similar (events rows aggregated for their occurrences and cost): uniform prompts {}; random calls {}",
            calls(u),
            calls(c)
        );
        println!(
            "  /prompts brute force = GROUP BY top 20 over the window's {} events (p50 {:.1} ms) + SELECT of prompt_fingerprints IN (the window's prompt hashes) for its {} distinct prompts (p50 {:.1} ms) + 20 scans in Rust (p50 {:.2} ms)",
            thousands(p.window_events),
            quantile_ms(&p.brute_group_by, 0.5),
            thousands(p.window_distinct as u64),
            quantile_ms(&p.brute_distinct, 0.5),
            quantile_ms(&p.scan, 0.5)
        );
        println!(
            "  brute/ours: brute-force median / server median (above 1: the server is faster); HTTP times are cache misses ({} hit(s))",
            u.cache_hits + c.cache_hits
        );

        println!("\nanswers checked against brute force in the same run:");
        for (name, t) in [("uniform prompts", u), ("random calls", c)] {
            println!(
                "  /similar, {name}: {} prompts, {} near-duplicates returned; {} answer(s) identical to the in-process LSH path; scores, threshold and every prompt agreeing on >= {}/{} components (a shared band) checked: {}",
                t.prompts,
                thousands(t.results as u64),
                t.same_as_mirror,
                self.guaranteed,
                self.sig_len,
                if t.errors.is_empty() {
                    "all correct".to_owned()
                } else {
                    format!("{} WRONG", t.errors.len())
                }
            );
            for d in &t.mirror_differences {
                println!("    differs from the in-process LSH path: {d}");
            }
        }
        println!(
            "  /prompts: {} groups (same top {GROUPS} as the GROUP BY: {}), {} near-duplicates shown (brute force top {GROUP_SIMILAR}s: {}); checked: {}",
            p.groups,
            if p.errors.iter().any(|e| e.contains("top")) { "NO" } else { "yes" },
            p.similar_shown,
            p.brute_similar,
            if p.errors.is_empty() {
                "all correct".to_owned()
            } else {
                format!("{} WRONG", p.errors.len())
            }
        );
        if let Some(note) = &p.order_note {
            println!("    {note}");
        }

        println!(
            "\nnear-duplicate detection: {} query prompts drawn uniformly among the stored distinct prompts; pairs summed over the queries (micro-averaged)",
            thousands(q.queries as u64)
        );
        println!(
            "  LSH path = the server's: candidates sharing a band key (mean {:.1}, max {}; {} quer(ies) above the server's cut at {SERVER_CANDIDATES}), rescored by signature; mean calls behind the candidates {:.0}",
            q.mean_candidates, q.max_candidates, q.capped_queries, q.mean_candidate_calls
        );
        println!(
            "  truth = the query's template (its other stored variants; <= {} per template, under limit {LIMIT}); brute = every stored prompt scored by signature; exact = Jaccard of the shingle sets ({} pairs computed: same template or signature agreement >= {EXACT_PREFILTER})",
            self.flags.variants.saturating_sub(1),
            thousands(q.exact_computed as u64)
        );
        println!(
            "{:>9} {:>9} | {:>9} {:>9} | {:>10} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9}",
            "threshold",
            "LSH/query",
            "template",
            "template",
            "brute sig",
            "brute sig",
            "LSH recall",
            "LSH prec",
            "exact",
            "exact",
            "S-curve"
        );
        println!(
            "{:>9} {:>9} | {:>9} {:>9} | {:>10} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9}",
            "",
            "results",
            "precision",
            "recall",
            "LSH recall",
            "tmpl rec",
            "vs exact",
            "vs exact",
            "pairs",
            "cand rate",
            "predicts"
        );
        for (t, tally) in THRESHOLDS.iter().zip(&q.tallies) {
            println!(
                "{:>9.1} {:>9.2} | {:>9} {:>9} | {:>10} {:>9} | {:>10} {:>9} {:>9} {:>9} {:>9}",
                t,
                tally.lsh as f64 / q.queries.max(1) as f64,
                ratio(tally.lsh_same, tally.lsh),
                ratio(tally.lsh_same, tally.same),
                ratio(tally.lsh_in_brute, tally.brute),
                ratio(tally.brute_same, tally.same),
                ratio(tally.lsh_exact, tally.exact),
                ratio(tally.lsh_exact, tally.lsh),
                thousands(tally.exact),
                ratio(tally.exact_candidates, tally.exact),
                if tally.exact == 0 {
                    "-".to_owned()
                } else {
                    format!("{:.4}", tally.exact_expected / tally.exact as f64)
                },
            );
        }
        println!(
            "  template precision/recall: LSH results from the query's template / all LSH results, / the template's other variants; brute sig LSH recall: LSH results / brute-force results (signature >= t); brute sig tmpl rec: what an exhaustive scan would recall of the template"
        );
        println!(
            "  exact: LSH results / pairs at exact Jaccard >= t (recall), LSH results at exact Jaccard >= t / LSH results (precision); cand rate: exact pairs that were LSH candidates, S-curve predicts: mean of 1-(1-J^r)^b over them"
        );
        let recall_by_length: Vec<String> = q
            .by_length
            .iter()
            .map(|(label, got, all)| format!("{label}: {}", ratio(*got, *all)))
            .collect();
        println!(
            "  template recall at {THRESHOLD} by template length: {}",
            recall_by_length.join(", ")
        );
        println!(
            "  template hash (every volatile part masked; names are not): {} of {} same-template pairs share it ({}); {} pairs of different templates do",
            thousands(q.template_pairs_grouped),
            thousands(q.template_pairs),
            ratio(q.template_pairs_grouped, q.template_pairs),
            thousands(q.template_hash_false_pairs)
        );
        println!(
            "  prompts of different templates: the highest signature similarity between a query and one of them is {:.4}",
            q.other_template_best
        );
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
    fn rows_carry_the_prompt_columns_and_fingerprints_csv_arrays() {
        let print = Print {
            hash: "h".into(),
            template_hash: "t".into(),
            signature: vec![1, u32::MAX],
            bands: vec![u64::MAX, 2],
            shingles: vec![],
        };
        // Events: hash, template hash, prompt_text NULL.
        assert_eq!(suffix(&print), ",h,t,\n");
        // prompt_fingerprints: signature and band keys as signed arrays.
        let mut arrays = String::new();
        push_arrays(&mut arrays, &print);
        assert_eq!(arrays, "\"{1,-1}\",\"{-1,2}\"");
    }

    #[test]
    fn scans_keep_the_threshold_and_sort_best_first() {
        let all = vec![
            ("a".to_owned(), vec![1, 2, 3, 4]),
            ("b".to_owned(), vec![1, 2, 3, 0]),
            ("c".to_owned(), vec![1, 0, 0, 0]),
            ("d".to_owned(), vec![1, 2, 3, 4]),
        ];
        let found = scan(&all, "a", &[1, 2, 3, 4], 0.75, 10);
        assert_eq!(found, vec![("d", 1.0), ("b", 0.75)]);
        assert_eq!(scan(&all, "a", &[1, 2, 3, 4], 0.5, 1), vec![("d", 1.0)]);
    }

    #[test]
    fn answers_that_miss_a_shared_band_or_misreport_a_score_are_wrong() {
        let all = vec![("q".to_owned(), vec![1, 2, 3, 4]), ("x".to_owned(), vec![1, 2, 3, 4])];
        let mut errors = Vec::new();
        check_answer("t", &[], "q", &[1, 2, 3, 4], &all, 0.8, 10, 3, &mut errors);
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.clear();
        check_answer("t", &[("x".into(), 0.5)], "q", &[1, 2, 3, 4], &all, 0.8, 10, 3, &mut errors);
        assert_eq!(errors.len(), 2, "{errors:?}");
        errors.clear();
        check_answer("t", &[("x".into(), 1.0)], "q", &[1, 2, 3, 4], &all, 0.8, 10, 3, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
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

//! `cargo xtask bench similarity`: how fast the server finds near-duplicate prompts among a million
//! calls (`/similar` for one call, the `/prompts` report of a 7-day window), against a brute-force
//! scan of every stored prompt in the same run, and how good the answers are against the known
//! templates the prompts were made from; all of it twice in one run, under the old defaults
//! (`AnalyzerConfig::V1`, nothing masked behind the signature) and under the new ones, so that
//! every number has its comparison beside it. A harder corpus of short templates, hard pairs and
//! free text ([`hard`]) is scored in process for the old, the new and the alternative
//! configurations the new defaults were chosen among.
//!
//! Modules: [`corpus`] (templates, variants, schedule, fingerprints), [`quality`] (the LSH path
//! in memory against the truth), [`loading`] (the scratch database), [`measuring`] (the server
//! over HTTP against brute force), [`report`] (the tables), [`hard`] (the harder corpus).
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
//!   with the configuration under test (the new one is `MinHashAnalyzer::default()`, the analyzer
//!   the server builds; the server reads the stored signatures and band keys, so the old
//!   configuration's data times the old behaviour) (crates/aicp-api/src/
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

mod corpus;
mod hard;
mod loading;
mod measuring;
mod quality;
mod report;

use aicp_similarity::AnalyzerConfig;
use corpus::*;
use hard::HardCorpus;
use loading::*;
use measuring::*;
use quality::*;
use report::*;

pub(super) const HELP: &str = "\
cargo xtask bench similarity [flags]

Generates a deterministic corpus: T prompt templates (40-300 words, 2-5 variable slots: numbers,
ISO dates, UUIDs, e-mail addresses, order ids, person names), each with V distinct variants
(other slot values; ~40 % also get one or two small edits: a word replaced, inserted or
dropped), fingerprinted once per distinct text, twice: with the old defaults (AnalyzerConfig::V1:
nothing masked behind the signature) and with the server's MinHashAnalyzer::default(); each is
measured as below, in a database of its own, and the two are compared at the end (new/old
timing ratios, template recall and precision).
Recreates the scratch database aicp_bench_similarity (aicp_bench_similarity_v1 for the old
defaults) and loads N events by COPY (the seeded
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
  harder    in process, before the rest: 336 short templates (10-60 words, 1-3 slots of one
            kind: numbers, ids, dates, e-mails, names, free text, quoted text; 8 variants
            each), each with a sibling differing in one task word (\"billing\" / \"legal\"
            team, French / German: the hard pairs, which must stay apart), and 400 free-text
            prompts; every pair scored at 0.8 for the old, new and alternative configurations;
            recall and precision per length band and slot kind, hard pairs found

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
  --no-server          quality only, in process: no database, no server, no timings
  --reuse-db           keep an existing aicp_bench_similarity loaded by this bench with the same
                       --events, --templates and --variants
  --keep-db            do not drop aicp_bench_similarity at the end";

const DATABASE: &str = "aicp_bench_similarity";
/// The scratch database of the old defaults' run.
const DATABASE_V1: &str = "aicp_bench_similarity_v1";
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
    no_server: bool,
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
        no_server: args.flag("--no-server"),
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
    if !flags.no_build && !flags.no_server {
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

/// The measurements of one analyzer configuration on the main corpus.
struct Run {
    label: &'static str,
    quality: Quality,
    /// The server's answers (not with `--no-server`).
    timed: Option<(SimilarReport, PromptsReport)>,
}

fn bench(flags: &Flags) -> anyhow::Result<()> {
    let step = Instant::now();
    let corpus = Corpus::generate(flags.templates, flags.variants);
    let schedule = Schedule::generate(&corpus, flags.events);
    let generated = step.elapsed().as_secs_f64();

    let hard = HardCorpus::generate();
    let mut hard_results = Vec::new();
    for (label, config) in hard::configurations() {
        hard_results.push((label, hard::measure(&hard, config, THRESHOLD)?));
    }
    hard::print(&hard, &hard_results, THRESHOLD);

    // The old defaults first, then the new ones, each in a database of its own: the server
    // reads stored signatures and band keys, so its timings follow the configuration.
    let mut runs = Vec::new();
    for (label, config, database) in [
        ("v1 (old default)", AnalyzerConfig::V1, DATABASE_V1),
        ("new default", AnalyzerConfig::default(), DATABASE),
    ] {
        println!("\nbench: main corpus with the {label} analyzer");
        let run = run_config(flags, label, config, database, &corpus, &schedule, generated)?;
        runs.push(run);
    }
    report::compare(&runs);
    hard::print(&hard, &hard_results, THRESHOLD);
    let failed: Vec<String> = runs
        .iter()
        .filter_map(|r| r.timed.as_ref().map(|t| (r.label, t)))
        .flat_map(|(label, (similar, prompts))| {
            similar.errors.iter().chain(&prompts.errors).map(move |e| format!("{label}: {e}"))
        })
        .collect();
    if !failed.is_empty() {
        for e in failed.iter().take(20) {
            println!("  WRONG: {e}");
        }
        bail!("{} wrong answer(s) (see above)", failed.len());
    }
    let hits: usize = runs
        .iter()
        .filter_map(|r| r.timed.as_ref())
        .map(|(similar, _)| similar.uniform.cache_hits + similar.by_calls.cache_hits)
        .sum();
    if hits > 0 {
        bail!("{hits} /similar request(s) were served from the cache");
    }
    Ok(())
}

/// Loads the corpus fingerprinted under `config` into `database` and measures it.
#[allow(clippy::too_many_arguments)]
fn run_config(
    flags: &Flags,
    label: &'static str,
    config: AnalyzerConfig,
    database: &str,
    corpus: &Corpus,
    schedule: &Schedule,
    generated: f64,
) -> anyhow::Result<Run> {
    let analyzer = MinHashAnalyzer::new(config)?;
    let banding = analyzer.banding();
    let sig_len = banding.signature_len();
    // Fewer disagreements than bands: at least one band agrees on all its rows.
    let guaranteed = u16::try_from(sig_len - banding.bands + 1)?;

    let step = Instant::now();
    let prints = fingerprint_all(&analyzer, corpus)?;
    let fingerprinted = step.elapsed().as_secs_f64();
    let mut hash_index: HashMap<&str, u32> = HashMap::with_capacity(prints.len());
    for (v, p) in prints.iter().enumerate() {
        if let Some(first) = hash_index.insert(p.hash.as_str(), v as u32) {
            bail!(
                "variants {first} and {v} normalise to the same text: the corpus is not distinct"
            );
        }
    }
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

    println!(
        "bench: quality: {} query prompts against {} stored prompts (LSH path, brute force, exact Jaccard)",
        thousands(order.len() as u64),
        thousands(index.stored.len() as u64)
    );
    let quality = measure_quality(&index, corpus, &order, &analyzer)?;
    println!("bench:   done in {:.1} s", quality.seconds);
    if flags.no_server {
        return Ok(Run { label, quality, timed: None });
    }

    let base = flags.database_url.clone().unwrap_or_else(crate::default_database_url);
    let db = migrate::with_database(&base, database)?;
    let marker = marker(flags, &analyzer);
    crate::runtime()?.block_on(async {
        let outcome = async {
            if flags.reuse_db && reusable(&db, &marker).await? {
                println!("bench: reusing {database} ({marker}; --reuse-db)");
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
                    scheme: analyzer.scheme(),
                };
                load(&db, ctx, &prints, &index.stored, &marker).await?;
            }
            let index = &index;
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
            anyhow::Ok((similar, prompts))
        }
        .await;
        common::drop_unless_kept(&db, flags.keep_db).await?;
        let (similar, prompts) = outcome?;
        let summary = Summary {
            flags,
            label,
            corpus,
            stored: index.stored.len(),
            sig_len,
            bands: banding.bands,
            guaranteed,
            quality: &quality,
            similar: &similar,
            prompts: &prompts,
        };
        summary.print();
        Ok(Run { label, quality, timed: Some((similar, prompts)) })
    })
}

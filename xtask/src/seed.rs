//! `cargo xtask seed --events N`: fill the database with deterministic, realistic events.
//!
//! Why: the dashboard's queries, the indexes and the analytics only show their real behaviour on
//! a realistic volume (a million events is a month of a mid-sized product), and a bug report is
//! only reproducible when everybody can build the same data: the same `--seed` gives the same
//! events (same features, users, models, tokens, costs and times relative to now).
//!
//! The data: ~10 features and ~50 users with skewed popularity, three providers (OpenAI 40 %,
//! Anthropic 30 %, Google 30 %) and a few dated or unknown model names, traces of a root span and
//! 0–3 child spans, 20 % streaming, 5 % errors, retries, cached prompt tokens on ~30 % of the
//! successes, log-normal token counts and latencies, and timestamps spread over the last
//! `--days` days, busier in (UTC) working hours. Costs are computed with the server's own price
//! book (the built-in catalogue, [`price_book`]) at each event's time, so every row is what
//! ingesting the event would have stored (custom prices a project may have set are ignored).
//!
//! Why COPY: it is the fastest way into PostgreSQL (no per-row statement). Rows are generated on
//! blocking threads and streamed to the server in chunks through a bounded channel, so memory
//! stays flat whatever N is; each `--jobs` worker has its own connection and commits every
//! ~100,000 rows.
//!
//! The server keeps hourly/daily rollups up to date in the statement that inserts events; COPY
//! bypasses it, so the seeded rows are then folded into the rollups in one statement
//! ([`fold_into_rollups`]), and the database is `ANALYZE`d.
//!
//! Ids never collide with an earlier run: trace ids carry a run tag made of the seed and the
//! number of events the project already had, and the uuids' random bits are derived from both.
//! (Two runs started at the same moment into the same project would share a tag: not supported.)
//!
//! `generate.rs` is the generator, `csv.rs` the row format, `load.rs` the COPY pipeline; the
//! benchmarks use all three through the names re-exported here.

mod csv;
mod generate;
mod load;

use anyhow::{Context, bail};

use crate::Args;

pub(crate) use csv::{COLUMNS, Row, csv_quote, write_csv_row};
pub(crate) use generate::{Call, Catalog, FastRng, Feature, mix, price_book, uuid_v7_at};
pub(crate) use load::{fold_into_rollups, join_loaders, seed};

pub(crate) const HELP: &str = "\
cargo xtask seed --events N [flags]

Migrates the database, then inserts N deterministic, realistic events (COPY, streamed in chunks)
and prints the insert rate. Running it again adds N more events (ids never collide).

Flags:
  --events N           number of events to insert (required)
  --database-url URL   default: $DATABASE_URL, else postgres://postgres@127.0.0.1:5432/aicp
  --project P          project_id of the events (default: default, the project of the API)
  --seed S             random seed: the same seed gives the same data (default: 42)
  --days D             spread the events over the last D days (default: 30)
  --jobs J             parallel COPY connections (default: 2)";

/// What to seed (the command's flags; `bench export|analytics` build it directly).
pub(crate) struct Flags {
    pub(crate) events: u64,
    pub(crate) database_url: String,
    pub(crate) project: String,
    pub(crate) seed: u64,
    pub(crate) days: u32,
    pub(crate) jobs: usize,
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<()> {
    let flags = Flags {
        events: args.parsed("--events")?.context("--events N is required (see --help)")?,
        database_url: args.database_url()?,
        project: args.value("--project")?.unwrap_or_else(|| "default".to_owned()),
        seed: args.parsed("--seed")?.unwrap_or(42),
        days: args.parsed("--days")?.unwrap_or(30),
        jobs: args.parsed("--jobs")?.unwrap_or(2),
    };
    args.finish()?;
    if flags.events == 0 {
        bail!("--events must be at least 1");
    }
    if !(1..=2_000).contains(&flags.days) {
        bail!("--days must be between 1 and 2000");
    }
    if flags.project.trim().is_empty() || flags.project.len() > 128 {
        bail!("--project must be 1..=128 characters");
    }
    if !(1..=16).contains(&flags.jobs) {
        bail!("--jobs must be between 1 and 16");
    }
    crate::runtime()?.block_on(seed(flags))
}

//! The loader: generator threads stream CSV chunks through bounded channels to parallel COPY
//! connections (memory stays flat whatever the row count), then the run's rows are folded into the
//! rollups. Shared with the benchmarks.

use std::ops::Range;
use std::time::Instant;

use aicp_domain::ProjectId;
use aicp_domain::pricing::PriceBook;
use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::SinkExt;
use rand::Rng;
use tokio::sync::mpsc;

use super::Flags;
use super::csv::{COLUMNS, Row, csv_quote, write_csv_row};
use super::generate::{
    Call, Catalog, FastRng, events_per_hour, mix, price_book, random_id, split_hours, uuid_v7_at,
};
use crate::migrate;

/// Everything a generator thread needs; cheap to clone.
#[derive(Clone)]
pub(crate) struct Generator {
    seed: u64,
    /// `{seed:x}-{offset:x}`: part of every trace id, unique per run.
    run_tag: String,
    /// Seed of the uuids' random bits (depends on the run, unlike the data).
    id_seed: u64,
    project_csv: String,
    project: ProjectId,
    book: std::sync::Arc<PriceBook>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    counts: std::sync::Arc<Vec<u64>>,
}

pub(crate) enum Chunk {
    Data(Bytes),
    Commit,
}

pub(crate) const FLUSH_BYTES: usize = 256 * 1024;
pub(crate) const ROWS_PER_COMMIT: u64 = 100_000;

impl Generator {
    /// Generates the events of `hours` and sends them as CSV chunks; `Commit` marks the end of a
    /// transaction. Stops early when the receiver is gone (the COPY failed).
    fn run(&self, hours: Range<usize>, tx: &mpsc::Sender<Chunk>) {
        let catalog = Catalog::new();
        let mut buf = String::with_capacity(FLUSH_BYTES + 4096);
        let mut since_commit = 0;
        for hour in hours {
            let count = self.counts[hour];
            self.hour(hour, count, &catalog, &mut buf);
            since_commit += count;
            if buf.len() >= FLUSH_BYTES || since_commit >= ROWS_PER_COMMIT {
                let data = Bytes::from(std::mem::replace(
                    &mut buf,
                    String::with_capacity(FLUSH_BYTES + 4096),
                ));
                if tx.blocking_send(Chunk::Data(data)).is_err() {
                    return;
                }
            }
            if since_commit >= ROWS_PER_COMMIT {
                since_commit = 0;
                if tx.blocking_send(Chunk::Commit).is_err() {
                    return;
                }
            }
        }
        if !buf.is_empty() {
            let _ = tx.blocking_send(Chunk::Data(Bytes::from(buf)));
        }
    }

    /// The `count` events of one hour, trace by trace.
    fn hour(&self, hour: usize, count: u64, catalog: &Catalog, buf: &mut String) {
        let mut rng = FastRng::new(mix(self.seed, hour as u64));
        let mut id_rng = FastRng::new(mix(self.id_seed, hour as u64));
        let hour_start = self.start + TimeDelta::hours(hour as i64);
        let mut remaining = count;
        let mut n = 0u64;
        while remaining > 0 {
            let children = match rng.random::<f64>() {
                x if x < 0.50 => 0,
                x if x < 0.75 => 1,
                x if x < 0.90 => 2,
                _ => 3,
            }
            .min(remaining - 1);
            remaining -= children + 1;
            let trace_id = format!("tr_{}-{hour:x}-{n:x}", self.run_tag);
            n += 1;
            let feature = catalog.feature(&mut rng);
            let user = catalog.user(&mut rng);
            let root = random_id(&mut rng, "sp_", 15) + "0";
            let mut at = hour_start + TimeDelta::milliseconds(rng.random_range(0..3_600_000));
            for span in 0..=children {
                let call = Call::sample(&mut rng, feature);
                let child;
                let (span_id, parent) = if span == 0 {
                    (root.as_str(), None)
                } else {
                    // The index suffix keeps span ids unique within the trace.
                    child = random_id(&mut rng, "sp_", 15) + &span.to_string();
                    (child.as_str(), Some(root.as_str()))
                };
                let created_at = at.min(self.now);
                let priced = self.book.price(&self.project, call.model, created_at, call.usage());
                let row = Row {
                    id: uuid_v7_at(&mut id_rng, created_at),
                    project_csv: &self.project_csv,
                    trace_id: &trace_id,
                    span_id,
                    parent_span_id: parent,
                    feature: feature.name,
                    user_id: user,
                    call: &call,
                    priced: &priced,
                    created_at,
                };
                write_csv_row(buf, &row);
                // Children run one after the other, after the root has started.
                let gap = if span == 0 {
                    rng.random_range(5..50)
                } else {
                    i64::from(call.latency_ms) + rng.random_range(1..200)
                };
                at += TimeDelta::milliseconds(gap);
            }
        }
    }
}

/// Streams the chunks of one generator into COPY statements on `client`; returns the rows stored.
pub(crate) async fn copy_chunks(
    client: tokio_postgres::Client,
    mut rx: mpsc::Receiver<Chunk>,
) -> anyhow::Result<u64> {
    let sql = format!("COPY events ({COLUMNS}) FROM STDIN (FORMAT csv)");
    let mut rows = 0;
    let mut sink = None;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Data(data) => {
                if sink.is_none() {
                    sink = Some(Box::pin(client.copy_in::<_, Bytes>(sql.as_str()).await?));
                }
                if let Some(s) = sink.as_mut() {
                    s.send(data).await.context("COPY failed")?;
                }
            }
            Chunk::Commit => {
                if let Some(mut s) = sink.take() {
                    rows += s.as_mut().finish().await.context("COPY failed")?;
                }
            }
        }
    }
    if let Some(mut s) = sink.take() {
        rows += s.as_mut().finish().await.context("COPY failed")?;
    }
    Ok(rows)
}

/// Folds the rows of this run into the rollup tables (when the schema has them).
///
/// The server maintains the rollups in the statement that inserts the events; COPY bypasses it,
/// so the same SQL (`aicp_storage::fold_into_rollups_sql`) runs here over exactly the rows of
/// this run (their trace ids start with the run's tag): the two can never disagree.
pub(crate) async fn fold_into_rollups(
    client: &tokio_postgres::Client,
    project: &str,
    trace_prefix: &str,
) -> anyhow::Result<bool> {
    let present: bool = client
        .query_one(
            "SELECT to_regclass('rollup_hourly') IS NOT NULL AND to_regclass('rollup_daily') IS NOT NULL \
             AND to_regclass('rollup_user_daily') IS NOT NULL",
            &[],
        )
        .await?
        .get(0);
    if !present {
        return Ok(false);
    }
    // The very statement aicp-storage uses on insert, over the rows of this run.
    let sql = aicp_storage::fold_into_rollups_sql(&format!(
        "SELECT {} FROM events WHERE project_id = $1 AND starts_with(trace_id, $2)",
        aicp_storage::ROLLUP_INPUT
    ));
    client
        .query_one(&sql, &[&project, &trace_prefix])
        .await
        .context("cannot fold the seeded events into the rollups")?;
    Ok(true)
}

/// Migrates the database of `flags`, then seeds it (see the module's documentation).
pub(crate) async fn seed(flags: Flags) -> anyhow::Result<()> {
    migrate::migrate(&flags.database_url).await?;
    let url = flags.database_url.as_str();
    let client = migrate::connect(url).await?;
    let has_projects: bool =
        client.query_one("SELECT to_regclass('projects') IS NOT NULL", &[]).await?.get(0);
    if has_projects {
        // The project must exist for the API to know it (the default one always does).
        client
            .execute(
                "INSERT INTO projects (id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&flags.project],
            )
            .await
            .with_context(|| {
                format!("cannot register project {:?} in the projects table", flags.project)
            })?;
    }
    let count = "SELECT count(*) FROM events WHERE project_id = $1";
    let before: i64 = client.query_one(count, &[&flags.project]).await?.get(0);
    let offset = u64::try_from(before)?;

    let now = Utc::now();
    let start = now - TimeDelta::days(i64::from(flags.days));
    let counts = events_per_hour(flags.events, flags.days, start);
    let ranges = split_hours(&counts, flags.jobs);
    let generator = Generator {
        seed: flags.seed,
        run_tag: format!("{:x}-{offset:x}", flags.seed),
        id_seed: mix(flags.seed, offset ^ 0x1d5_5eed),
        project_csv: csv_quote(&flags.project),
        project: ProjectId::new(flags.project.clone()),
        book: std::sync::Arc::new(price_book()?),
        start,
        now,
        counts: std::sync::Arc::new(counts),
    };
    println!(
        "seed: {} events for project {:?}, seed {}, last {} days, {} COPY connection(s) (project has {before} events)",
        flags.events,
        flags.project,
        flags.seed,
        flags.days,
        ranges.len(),
    );

    let mut clients = Vec::with_capacity(ranges.len());
    for _ in &ranges {
        let c = migrate::connect(url).await?;
        // Durability of each chunk's commit is not worth a WAL flush wait here.
        c.batch_execute("SET synchronous_commit = off").await?;
        clients.push(c);
    }
    let started = Instant::now();
    let mut generators = Vec::new();
    let mut copies = Vec::new();
    for (hours, c) in ranges.into_iter().zip(clients) {
        let (tx, rx) = mpsc::channel(4);
        let g = generator.clone();
        generators.push(tokio::task::spawn_blocking(move || g.run(hours, &tx)));
        copies.push(tokio::spawn(copy_chunks(c, rx)));
    }
    let rows = join_loaders(copies, generators).await.map_err(|(e, rows)| {
        e.context(format!("seed failed ({rows} rows were committed before the failure)"))
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "seed: inserted {rows} events in {elapsed:.2} s ({:.0} rows/s)",
        rows as f64 / elapsed.max(1e-9)
    );
    if rows != flags.events {
        bail!("seed: expected to insert {} events, COPY reported {rows}", flags.events);
    }

    let fold = Instant::now();
    let trace_prefix = format!("tr_{}-", generator.run_tag);
    if fold_into_rollups(&client, &flags.project, &trace_prefix).await? {
        println!(
            "seed: folded the events into the rollups in {:.2} s",
            fold.elapsed().as_secs_f64()
        );
    }
    let analyze = Instant::now();
    client.batch_execute("ANALYZE").await?;
    let after: i64 = client.query_one(count, &[&flags.project]).await?.get(0);
    println!(
        "seed: ANALYZE took {:.2} s; project {:?} now has {after} events",
        analyze.elapsed().as_secs_f64(),
        flags.project
    );
    let total = started.elapsed().as_secs_f64();
    println!(
        "seed: done in {total:.2} s from the first row to the end of ANALYZE ({:.0} events/s overall)",
        rows as f64 / total.max(1e-9)
    );
    Ok(())
}

/// Waits for parallel COPY tasks (each answering the rows it committed) and the blocking tasks
/// generating their input; the total of rows, or the first failure with the rows committed by
/// then. Every task is awaited either way, so none is left running.
pub(crate) async fn join_loaders(
    copies: Vec<tokio::task::JoinHandle<anyhow::Result<u64>>>,
    generators: Vec<tokio::task::JoinHandle<()>>,
) -> Result<u64, (anyhow::Error, u64)> {
    let mut rows = 0;
    let mut failure = None;
    for copy in copies {
        match copy.await {
            Ok(Ok(n)) => rows += n,
            Ok(Err(e)) => failure = failure.or(Some(e)),
            Err(e) => failure = failure.or(Some(e.into())),
        }
    }
    for g in generators {
        if let Err(e) = g.await {
            failure = failure.or(Some(e.into()));
        }
    }
    match failure {
        Some(e) => Err((e, rows)),
        None => Ok(rows),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::seed::csv::COLUMN_COUNT;
    use crate::seed::generate::ERROR_CODES;

    #[test]
    fn rows_are_deterministic_valid_and_priced_like_the_server() {
        let now = Utc::now();
        let generator = Generator {
            seed: 7,
            run_tag: "7-0".to_owned(),
            id_seed: 1,
            project_csv: csv_quote("default"),
            project: ProjectId::default_project(),
            book: std::sync::Arc::new(price_book().unwrap()),
            start: now - TimeDelta::days(1),
            now,
            counts: std::sync::Arc::new(vec![2000]),
        };
        let catalog = Catalog::new();
        let mut a = String::new();
        let mut b = String::new();
        generator.hour(0, 2000, &catalog, &mut a);
        generator.hour(0, 2000, &catalog, &mut b);
        assert_eq!(a, b, "same seed, same data");
        let lines: Vec<&str> = a.lines().collect();
        assert_eq!(lines.len(), 2000);
        let names: Vec<&str> = COLUMNS.split(", ").collect();
        assert_eq!(names.len(), COLUMN_COUNT);
        let col = |name: &str| names.iter().position(|n| *n == name).unwrap();
        let mut keys = std::collections::HashSet::new();
        let (mut errors, mut children, mut unpriced) = (0, 0, 0);
        for line in lines {
            // Metadata is the only field that may contain commas; strip it.
            let plain = match (line.find(",\"{"), line.rfind("}\",")) {
                (Some(s), Some(e)) => format!("{}{}", &line[..s + 1], &line[e + 2..]),
                _ => line.to_owned(),
            };
            let f: Vec<&str> = plain.split(',').collect();
            assert_eq!(f.len(), COLUMN_COUNT, "{line}");
            let field = |name: &str| f[col(name)];
            assert!(
                keys.insert((field("trace_id").to_owned(), field("span_id").to_owned())),
                "duplicate key in {line}"
            );
            let d = |name: &str| field(name).parse::<rust_decimal::Decimal>().unwrap();
            let parts = [
                "input_cost_usd",
                "cache_read_cost_usd",
                "cache_write_cost_usd",
                "output_cost_usd",
                "reasoning_cost_usd",
            ];
            assert_eq!(
                d("verified_cost_usd"),
                parts.iter().map(|p| d(p)).sum(),
                "parts add up: {line}"
            );
            assert_eq!(d("estimated_cost_usd"), d("verified_cost_usd"));
            let n = |name: &str| field(name).parse::<u32>().unwrap();
            assert!(n("cached_tokens") + n("cache_write_tokens") <= n("input_tokens"), "{line}");
            assert!(["catalogue", "fallback"].contains(&field("price_source")), "{line}");
            if field("price_source") == "fallback" {
                unpriced += 1;
                assert!(
                    field("priced_as").is_empty() && field("price_effective_from").is_empty(),
                    "{line}"
                );
            }
            assert_eq!(field("is_cache_hit") == "t", n("cached_tokens") > 0);
            if field("is_error") == "t" {
                errors += 1;
                assert_eq!((n("input_tokens"), n("output_tokens")), (0, 0));
                assert!(ERROR_CODES.contains(&field("error_code")));
            }
            if !field("parent_span_id").is_empty() {
                children += 1;
            }
        }
        assert!(unpriced > 0, "some model names are unknown");
        assert!((40..=180).contains(&errors), "~5 % errors, got {errors}");
        assert!(children > 300, "traces have child spans, got {children}");
    }
}

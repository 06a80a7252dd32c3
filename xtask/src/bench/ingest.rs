//! `cargo xtask bench ingest`: how fast `POST /api/v1/events` stores events, against what the
//! database alone can take and against the original's published figures.
//!
//! Why this shape: ingestion is the hot path (one event per LLM call of every customer), and its
//! two regimes behave differently: SDKs that flush one event per request are bound by per-request
//! overhead, batching SDKs by the database. So the benchmark drives four scenarios (batches of 1
//! and 100, on 2 and 16 keep-alive connections), then measures the raw ceiling of PostgreSQL on
//! the same machine (COPY of batches of 100 rows, one transaction each, on 2 connections) so the
//! HTTP figure can be read as "what fraction of the database's own speed we deliver". Finally it
//! checks that the `events` table holds exactly the events that were acknowledged with 202:
//! nothing lost, nothing stored twice.
//!
//! Every request carries fresh trace/span ids (unique per run, so nothing is a duplicate) and
//! realistic SDK payloads (docs/API.md, `POST /api/v1/events`) built cheaply from a pre-built pool of event
//! fragments, so the client spends its CPU on the network, not on JSON. Client and server share
//! the machine: the per-scenario CPU columns say who used it.

mod payload;
mod report;

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::Utc;
use futures_util::SinkExt;
use uuid::Uuid;

use super::common::{Window, percentiles};
use super::cpu::CpuProbe;
use super::server::{Server, build_server, free_port, truncate, wait_healthy};
use crate::{Args, migrate, seed};
use payload::{csv_tails, json_fragments};
use report::{CopyReport, Report, RowCheck, ScenarioReport};

pub(super) const HELP: &str = "\
cargo xtask bench ingest [flags]

Without --url: builds the server in release (cargo build --release -p aicp-api), recreates the
scratch database aicp_bench, starts target/release/aicp on a free port (LOG_LEVEL=warn, rate
limits out of reach, log in target/xtask/bench-server.log), waits for /health, and stops it at
the end.

Then, for each scenario (batch 1 / 100 events, on 2 / 16 connections), each connection sends
requests one after the other for the duration, after a warm-up that is not measured; every
response must be 202. Then the PostgreSQL ceiling: COPY of 100-row batches (one transaction
each) into a copy of the events table, on 2 connections. Prints requests/s, events/s, p50/p99
latency, CPU use, the ratios to the COPY ceiling and to the original's figures (14,800 events/s
with batches of 100 on 2 connections; 2,600 requests/s with single events on 16 connections),
and checks that the events table holds exactly the acknowledged events.

Flags:
  --duration-secs S    measured time per scenario (default: 10)
  --warmup-secs S      unmeasured warm-up per scenario (default: 1)
  --url URL            benchmark a running server instead (e.g. http://127.0.0.1:3100)
  --database-url URL   with --url: its database, for the COPY ceiling and the row check
                       (both skipped without it); without --url: the PostgreSQL server to
                       use (its database name is replaced by aicp_bench)
  --no-build           use the existing target/release/aicp as is
  --no-rate-limit      start the server with RATE_LIMIT=off (default: the limiter stays on,
                       with limits no benchmark reaches, so its cost is measured)
  --keep-db            do not drop aicp_bench at the end";

/// The original's figures (same scenarios).
const ORIGINAL_EVENTS_PER_S_BATCH_100_2_CONNS: f64 = 14_800.0;
const ORIGINAL_REQUESTS_PER_S_SINGLE_16_CONNS: f64 = 2_600.0;
const SCENARIOS: [(usize, usize); 4] = [(1, 2), (1, 16), (100, 2), (100, 16)];
const COPY_BATCH: usize = 100;
const COPY_CONNECTIONS: usize = 2;
const BENCH_DATABASE: &str = "aicp_bench";

struct Flags {
    duration: Duration,
    warmup: Duration,
    url: Option<String>,
    database_url: Option<String>,
    keep_db: bool,
    no_build: bool,
    rate_limit: bool,
}

/// `bench ingest` (the benchmark name already taken from `args`).
pub(super) fn run(mut args: Args) -> anyhow::Result<()> {
    let duration: f64 = args.parsed("--duration-secs")?.unwrap_or(10.0);
    let warmup: f64 = args.parsed("--warmup-secs")?.unwrap_or(1.0);
    let flags = Flags {
        duration: Duration::try_from_secs_f64(duration).context("--duration-secs")?,
        warmup: Duration::try_from_secs_f64(warmup).context("--warmup-secs")?,
        url: args.value("--url")?,
        database_url: args.value("--database-url")?,
        keep_db: args.flag("--keep-db"),
        no_build: args.flag("--no-build"),
        rate_limit: !args.flag("--no-rate-limit"),
    };
    args.finish()?;
    if flags.duration.is_zero() {
        bail!("--duration-secs must be positive");
    }
    ingest(&flags)
}

fn ingest(flags: &Flags) -> anyhow::Result<()> {
    let own_server = flags.url.is_none();
    let database_url = if own_server {
        let base = flags.database_url.clone().unwrap_or_else(crate::default_database_url);
        Some(migrate::with_database(&base, BENCH_DATABASE)?)
    } else {
        flags.database_url.clone()
    };
    if own_server && !flags.no_build {
        build_server()?;
    }
    let rt = crate::runtime()?;
    rt.block_on(async {
        let mut server = None;
        let base_url = match &flags.url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let db = database_url.as_deref().context("no database")?;
                println!("bench: recreating scratch database {}", migrate::redact(db));
                migrate::drop_database(db).await?;
                migrate::migrate(db).await?;
                let port = free_port()?;
                let started = Server::start(db, port, flags.rate_limit)?;
                let base_url = format!("http://127.0.0.1:{port}");
                let pid = started.child.id();
                server = Some(started);
                wait_healthy(&base_url, server.as_mut()).await?;
                println!("bench: server pid {pid} ready at {base_url}");
                base_url
            }
        };
        let run_id = format!("{:x}", Utc::now().timestamp_millis());
        let result =
            measure(flags, &base_url, database_url.as_deref(), server.as_ref(), &run_id).await;
        if let Some(mut s) = server.take() {
            println!("bench: stopping the server (SIGTERM)");
            s.stop()?;
            let warnings = std::fs::read_to_string(&s.log).unwrap_or_default();
            let lines = warnings.lines().filter(|l| !l.trim().is_empty()).count();
            println!("bench: server log {} has {lines} line(s) at LOG_LEVEL=warn", s.log.display());
            for line in warnings.lines().take(5) {
                println!("  {}", truncate(line, 300));
            }
        }
        let mut report = result?;
        if let Some(db) = database_url.as_deref() {
            report.rows = Some(count_rows(db, &run_id).await?);
        }
        report.print(flags);
        if let Some(db) = database_url.as_deref()
            && own_server
            && !flags.keep_db
        {
            migrate::drop_database(db).await?;
            println!("bench: dropped {BENCH_DATABASE} (--keep-db keeps it)");
        }
        match &report.rows {
            Some(rows) if rows.stored != report.acknowledged() => {
                bail!("{} events acknowledged but {} stored", report.acknowledged(), rows.stored)
            }
            _ if report.failures() > 0 => bail!("{} request(s) failed", report.failures()),
            _ => Ok(()),
        }
    })
}

/// What one connection saw.
#[derive(Default)]
struct TaskResult {
    /// Requests started in the measured window (all completed).
    requests: u64,
    events: u64,
    latencies_us: Vec<u32>,
    /// When the last measured request completed.
    last_end: Option<Instant>,
    /// Whole run (warm-up included).
    acknowledged: u64,
    inserted: u64,
    duplicates: u64,
    failures: u64,
    failure_samples: Vec<String>,
}

impl TaskResult {
    fn merge(&mut self, other: TaskResult) {
        self.requests += other.requests;
        self.events += other.events;
        self.latencies_us.extend(other.latencies_us);
        self.last_end = self.last_end.max(other.last_end);
        self.acknowledged += other.acknowledged;
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.failures += other.failures;
        for s in other.failure_samples {
            if self.failure_samples.len() < 5 {
                self.failure_samples.push(s);
            }
        }
    }

    fn fail(&mut self, why: String) {
        self.failures += 1;
        if self.failure_samples.len() < 5 {
            self.failure_samples.push(why);
        }
    }
}

/// One connection: sequential requests over one keep-alive connection (its own client, whose
/// pool holds at most that one connection).
async fn http_task(
    url: Arc<str>,
    id_prefix: String,
    batch: usize,
    fragments: Arc<Vec<String>>,
    window: Arc<Window>,
) -> anyhow::Result<TaskResult> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut result = TaskResult::default();
    let mut n: u64 = 0;
    let mut fragment = 0;
    let mut body = String::with_capacity(batch * 560 + 32);
    loop {
        let begin = Instant::now();
        if begin >= window.stop_at {
            break;
        }
        body.clear();
        let timestamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        body.push_str("{\"events\":[");
        for i in 0..batch {
            if i > 0 {
                body.push(',');
            }
            let _ = write!(body, "{{\"traceId\":\"{id_prefix}{n:x}\",\"spanId\":\"sp_{n:x}\"");
            body.push_str(&fragments[fragment]);
            let _ = write!(body, ",\"timestamp\":\"{timestamp}\"}}");
            n += 1;
            fragment = (fragment + 1) % fragments.len();
        }
        body.push_str("]}");
        let response = client
            .post(&*url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(Bytes::copy_from_slice(body.as_bytes()))
            .send()
            .await;
        let ok = match response {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(answer) if status == reqwest::StatusCode::ACCEPTED => {
                        result.acknowledged += batch as u64;
                        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&answer) {
                            result.inserted += v["inserted"].as_u64().unwrap_or(0);
                            result.duplicates += v["duplicates"].as_u64().unwrap_or(0);
                        }
                        true
                    }
                    Ok(answer) => {
                        result.fail(format!(
                            "{status}: {}",
                            truncate(&String::from_utf8_lossy(&answer), 300)
                        ));
                        false
                    }
                    Err(e) => {
                        result.fail(format!("{status}, body unreadable: {e}"));
                        false
                    }
                }
            }
            Err(e) => {
                result.fail(format!("request failed: {e}"));
                false
            }
        };
        let end = Instant::now();
        if ok && begin >= window.measure_from {
            result.requests += 1;
            result.events += batch as u64;
            result
                .latencies_us
                .push(u32::try_from(end.duration_since(begin).as_micros()).unwrap_or(u32::MAX));
            result.last_end = Some(end);
        }
    }
    Ok(result)
}

async fn measure(
    flags: &Flags,
    base_url: &str,
    database_url: Option<&str>,
    server: Option<&Server>,
    run_id: &str,
) -> anyhow::Result<Report> {
    let url: Arc<str> = Arc::from(format!("{base_url}/api/v1/events"));
    let fragments = Arc::new(json_fragments(1024)?);
    let mut scenarios = Vec::new();
    for (index, (batch, connections)) in SCENARIOS.into_iter().enumerate() {
        println!(
            "bench: HTTP batch {batch} x {connections} connections: {} s warm-up + {} s",
            flags.warmup.as_secs_f64(),
            flags.duration.as_secs_f64()
        );
        let start = Instant::now();
        let window = Arc::new(Window {
            measure_from: start + flags.warmup,
            stop_at: start + flags.warmup + flags.duration,
        });
        let mut tasks = Vec::with_capacity(connections);
        for task in 0..connections {
            let prefix = format!("tr_bench-{run_id}-{index}-{task}-");
            tasks.push(tokio::spawn(http_task(
                Arc::clone(&url),
                prefix,
                batch,
                Arc::clone(&fragments),
                Arc::clone(&window),
            )));
        }
        tokio::time::sleep_until(window.measure_from.into()).await;
        let probe = CpuProbe::now(server);
        let mut result = TaskResult::default();
        for t in tasks {
            result.merge(t.await??);
        }
        let cpu = CpuProbe::now(server).since(&probe);
        let seconds = result.last_end.map_or(flags.duration.as_secs_f64(), |end| {
            end.duration_since(window.measure_from).as_secs_f64()
        });
        let report = ScenarioReport { batch, connections, result, seconds: seconds.max(1e-9), cpu };
        let (p50, p99) = percentiles(&report.result.latencies_us);
        println!(
            "bench:   {:.1} requests/s, {:.1} events/s, p50 {p50:.2} ms, p99 {p99:.2} ms, {} failure(s)",
            report.requests_per_s(),
            report.events_per_s(),
            report.result.failures
        );
        scenarios.push(report);
    }
    let copy = match database_url {
        Some(db) => Some(copy_ceiling(flags, db, run_id).await?),
        None => {
            println!("bench: COPY ceiling skipped (pass --database-url with --url)");
            None
        }
    };
    Ok(Report { scenarios, copy, rows: None })
}

/// COPY of `COPY_BATCH` rows per statement (= per transaction) on `COPY_CONNECTIONS` connections
/// into `bench_copy`, a copy of `events` with its indexes and constraints.
async fn copy_ceiling(
    flags: &Flags,
    database_url: &str,
    run_id: &str,
) -> anyhow::Result<CopyReport> {
    println!(
        "bench: PostgreSQL ceiling: COPY {COPY_BATCH} rows x {COPY_CONNECTIONS} connections into bench_copy: {} s warm-up + {} s",
        flags.warmup.as_secs_f64(),
        flags.duration.as_secs_f64()
    );
    let admin = migrate::connect(database_url).await?;
    admin
        .batch_execute(
            "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (LIKE events INCLUDING ALL)",
        )
        .await
        .context("cannot create bench_copy")?;
    let tails = Arc::new(csv_tails(1024)?);
    let project = seed::csv_quote("default");
    let start = Instant::now();
    let window = Arc::new(Window {
        measure_from: start + flags.warmup,
        stop_at: start + flags.warmup + flags.duration,
    });
    let mut tasks = Vec::new();
    for task in 0..COPY_CONNECTIONS {
        let client = migrate::connect(database_url).await?;
        let (tails, window, project) = (Arc::clone(&tails), Arc::clone(&window), project.clone());
        let prefix = format!("tr_copy-{run_id}-{task}-");
        tasks.push(tokio::spawn(async move {
            let sql = format!("COPY bench_copy ({}) FROM STDIN (FORMAT csv)", seed::COLUMNS);
            let statement = client.prepare(&sql).await?;
            let (mut rows, mut batches, mut latencies, mut last_end) =
                (0u64, 0u64, Vec::new(), None);
            let mut n: u64 = 0;
            let mut buf = String::with_capacity(COPY_BATCH * 400);
            loop {
                let begin = Instant::now();
                if begin >= window.stop_at {
                    break;
                }
                buf.clear();
                for _ in 0..COPY_BATCH {
                    let tail = &tails[n as usize % tails.len()];
                    let _ =
                        write!(buf, "{},{project},{prefix}{n:x},sp_{n:x}{tail}", Uuid::now_v7());
                    n += 1;
                }
                let sink = client.copy_in::<_, Bytes>(&statement).await?;
                let mut sink = Box::pin(sink);
                sink.send(Bytes::copy_from_slice(buf.as_bytes())).await?;
                let stored = sink.as_mut().finish().await?;
                let end = Instant::now();
                if begin >= window.measure_from {
                    rows += stored;
                    batches += 1;
                    latencies.push(
                        u32::try_from(end.duration_since(begin).as_micros()).unwrap_or(u32::MAX),
                    );
                    last_end = Some(end);
                }
            }
            anyhow::Ok((rows, batches, latencies, last_end))
        }));
    }
    tokio::time::sleep_until(window.measure_from.into()).await;
    let probe = CpuProbe::now(None);
    let (mut rows, mut batches, mut latencies_us, mut last_end) = (0, 0, Vec::new(), None);
    for t in tasks {
        let (r, b, l, e) = t.await??;
        rows += r;
        batches += b;
        latencies_us.extend(l);
        last_end = last_end.max(e);
    }
    let cpu = CpuProbe::now(None).since(&probe);
    let seconds = last_end.map_or(flags.duration.as_secs_f64(), |end: Instant| {
        end.duration_since(window.measure_from).as_secs_f64()
    });
    let stored: i64 = admin.query_one("SELECT count(*) FROM bench_copy", &[]).await?.get(0);
    admin.batch_execute("DROP TABLE bench_copy").await?;
    let report =
        CopyReport { rows, batches, seconds: seconds.max(1e-9), latencies_us, cpu, stored };
    println!("bench:   {:.1} rows/s", report.rows_per_s());
    Ok(report)
}

async fn count_rows(database_url: &str, run_id: &str) -> anyhow::Result<RowCheck> {
    let client = migrate::connect(database_url).await?;
    let prefix = format!("tr_bench-{run_id}-");
    let ours: i64 = client
        .query_one("SELECT count(*) FROM events WHERE starts_with(trace_id, $1)", &[&prefix])
        .await?
        .get(0);
    let total: i64 = client.query_one("SELECT count(*) FROM events", &[]).await?.get(0);
    Ok(RowCheck { stored: u64::try_from(ours)?, total })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fragments_make_valid_sdk_events() {
        for fragment in json_fragments(200).unwrap() {
            let text = format!(
                "{{\"traceId\":\"t\",\"spanId\":\"s\"{fragment},\"timestamp\":\"2026-01-05T10:00:00.000Z\"}}"
            );
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(v["estimatedCostUsd"].is_number(), "{text}");
            assert!(v["inputTokens"].is_u64());
            assert!(
                ["openai", "anthropic", "google-gemini"].contains(&v["provider"].as_str().unwrap())
            );
        }
    }

    #[test]
    fn csv_tails_complete_a_row() {
        let tails = csv_tails(50).unwrap();
        for tail in tails {
            assert!(tail.starts_with(','), "{tail}");
            assert!(tail.ends_with('\n'));
        }
    }
}

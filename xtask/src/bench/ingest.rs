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

mod copy;
mod http;
mod lag;
mod payload;
mod report;
mod wrk;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;

use super::common::Window;
use super::cpu::CpuProbe;
use super::server::{Server, build_server, free_port, truncate, wait_healthy};
use crate::{Args, migrate};
use copy::copy_ceiling;
use http::{TaskResult, http_task};
use payload::json_fragments;
use report::{Report, RowCheck, ScenarioReport};

pub(super) const HELP: &str = "\
cargo xtask bench ingest [flags]

Without --url: builds the server in release (cargo build --release -p aicp-api), recreates the
scratch database aicp_bench, starts target/release/aicp twice on it (free ports, LOG_LEVEL=warn,
logs in target/xtask/bench-server-PORT.log): once with the rate limiter on (limits out of reach,
TRUSTED_PROXIES=127.0.0.1, and every connection sends its own X-Forwarded-For address, so the
limiter does its per-client work for distinct clients) and once with RATE_LIMIT=off. Waits for
/health and stops both at the end.

Then, for each scenario (batch 1 / 100 events, on 2 / 16 connections), each target in turn
(aicp with the limiter on, aicp with it off, and the original when --original-url is given, so
the targets alternate in one run): each connection sends requests one after the other for the
duration, after a warm-up that is not measured; every response must be 202. While aicp is
measured, the rollup fold's backlog (rollup_pending) is sampled every 100 ms: the lag of the
rollups behind the events. Then the PostgreSQL ceiling: COPY of 100-row batches (one transaction
each) into a copy of the events table, on 2 connections. Prints requests/s, events/s, p50/p99
latency, CPU use (aicp or the original, this process, PostgreSQL, Redis, the rest), the ratios
to the original and to the COPY ceiling, the rollup lag, and checks that the events table holds
exactly the events aicp acknowledged.

Flags:
  --duration-secs S    measured time per scenario and target (default: 10)
  --warmup-secs S      unmeasured warm-up per scenario and target (default: 1)
  --original-url URL   also drive the original at URL (e.g. http://127.0.0.1:3900), alternating
  --original-pid PID   the original's process, for its CPU column
  --url URL            benchmark one running aicp instead (e.g. http://127.0.0.1:3100)
  --database-url URL   with --url: its database, for the COPY ceiling, the lag and the row
                       check (all skipped without it); without --url: the PostgreSQL server to
                       use (its database name is replaced by aicp_bench)
  --client C           the load generator: reqwest (default: in this process, exact row check)
                       or wrk (apt-get install -y wrk; C with a Lua body builder, far less
                       client CPU per request; row check as a range, see bench/ingest/wrk.rs)
  --server-env K=V,..  more environment for both aicp servers, e.g. INGEST_WRITERS=4
  --no-build           use the existing target/release/aicp as is
  --keep-db            do not drop aicp_bench at the end";

/// The original's figures on a quiet machine (the issue's), printed when it is not driven here.
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
    original_url: Option<String>,
    original_pid: Option<u32>,
    server_env: Vec<(String, String)>,
    wrk: bool,
    keep_db: bool,
    no_build: bool,
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
        original_url: args.value("--original-url")?,
        original_pid: args.parsed("--original-pid")?,
        server_env: server_env(args.value("--server-env")?.as_deref())?,
        wrk: match args.value("--client")?.as_deref() {
            None | Some("reqwest") => false,
            Some("wrk") => true,
            Some(other) => bail!("--client {other}: expected reqwest or wrk"),
        },
        keep_db: args.flag("--keep-db"),
        no_build: args.flag("--no-build"),
    };
    args.finish()?;
    if flags.duration.is_zero() {
        bail!("--duration-secs must be positive");
    }
    ingest(&flags)
}

/// `K=V,K=V` → pairs.
fn server_env(text: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
    text.map_or(Ok(Vec::new()), |t| {
        t.split(',')
            .map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .with_context(|| format!("--server-env: {kv:?} is not KEY=VALUE"))
            })
            .collect()
    })
}

/// A server the scenarios are driven against.
pub(super) struct Target {
    pub(super) label: &'static str,
    url: Arc<str>,
    pid: Option<u32>,
    /// Whether this is aicp (its rows are checked and its fold lag sampled).
    pub(super) ours: bool,
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
        let mut servers: Vec<Server> = Vec::new();
        let mut targets = Vec::new();
        let events = |base: &str| -> Arc<str> {
            Arc::from(format!("{}/api/v1/events", base.trim_end_matches('/')))
        };
        match &flags.url {
            Some(url) => targets.push(Target {
                label: "aicp (--url)",
                url: events(url),
                pid: None,
                ours: true,
            }),
            None => {
                let db = database_url.as_deref().context("no database")?;
                println!("bench: recreating scratch database {}", migrate::redact(db));
                migrate::drop_database(db).await?;
                migrate::migrate(db).await?;
                for (label, limiter) in [("aicp, limiter on", true), ("aicp, limiter off", false)] {
                    let port = free_port()?;
                    let mut env: Vec<(&str, &str)> =
                        flags.server_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    if limiter {
                        env.push(("TRUSTED_PROXIES", "127.0.0.1"));
                    }
                    let mut started = Server::start_with(db, port, limiter, &env)?;
                    let base_url = format!("http://127.0.0.1:{port}");
                    wait_healthy(&base_url, Some(&mut started)).await?;
                    let pid = started.child.id();
                    println!("bench: {label}: pid {pid} ready at {base_url}");
                    targets.push(Target {
                        label,
                        url: events(&base_url),
                        pid: Some(pid),
                        ours: true,
                    });
                    servers.push(started);
                }
            }
        }
        if let Some(url) = &flags.original_url {
            targets.push(Target {
                label: "original",
                url: events(url),
                pid: flags.original_pid,
                ours: false,
            });
        }
        let run_id = format!("{:x}", Utc::now().timestamp_millis());
        let result = measure(flags, &targets, database_url.as_deref(), &run_id).await;
        for mut s in servers {
            println!("bench: stopping pid {} (SIGTERM)", s.child.id());
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
            Some(rows) if !report.rows_match(rows) => {
                bail!(
                    "{} events acknowledged but {} stored",
                    report.acknowledged_by_aicp(),
                    rows.stored
                )
            }
            _ if report.failures() > 0 => bail!("{} request(s) failed", report.failures()),
            _ => Ok(()),
        }
    })
}

async fn measure(
    flags: &Flags,
    targets: &[Target],
    database_url: Option<&str>,
    run_id: &str,
) -> anyhow::Result<Report> {
    let fragments = Arc::new(json_fragments(1024)?);
    let mut scenarios = Vec::new();
    for (index, (batch, connections)) in SCENARIOS.into_iter().enumerate() {
        for (t, target) in targets.iter().enumerate() {
            println!(
                "bench: {}: HTTP batch {batch} x {connections} connections: {} s warm-up + {} s",
                target.label,
                flags.warmup.as_secs_f64(),
                flags.duration.as_secs_f64()
            );
            if flags.wrk {
                scenarios.push(
                    wrk_scenario(
                        flags,
                        target,
                        &fragments,
                        (index, t),
                        batch,
                        connections,
                        database_url,
                        run_id,
                    )
                    .await?,
                );
                continue;
            }
            let start = Instant::now();
            let window = Arc::new(Window {
                measure_from: start + flags.warmup,
                stop_at: start + flags.warmup + flags.duration,
            });
            let mut tasks = Vec::with_capacity(connections);
            for task in 0..connections {
                let prefix = if target.ours {
                    format!("tr_bench-{run_id}-{index}-{t}-{task}-")
                } else {
                    format!("tr_orig-{run_id}-{index}-{t}-{task}-")
                };
                // A distinct client per connection (10.t.index.task).
                let address = format!("10.{t}.{index}.{task}");
                tasks.push(tokio::spawn(http_task(
                    Arc::clone(&target.url),
                    prefix,
                    batch,
                    Arc::clone(&fragments),
                    Arc::clone(&window),
                    Some(address),
                )));
            }
            tokio::time::sleep_until(window.measure_from.into()).await;
            let probe = CpuProbe::of_pid(target.pid);
            let sampler = match database_url {
                Some(db) if target.ours => Some(lag::Sampler::start(db).await?),
                _ => None,
            };
            let mut result = TaskResult::default();
            for task in tasks {
                result.merge(task.await??);
            }
            let cpu = CpuProbe::of_pid(target.pid).since(&probe);
            let lag = match sampler {
                Some(s) => Some(s.finish().await?),
                None => None,
            };
            let seconds = result.last_end.map_or(flags.duration.as_secs_f64(), |end| {
                end.duration_since(window.measure_from).as_secs_f64()
            });
            let report = ScenarioReport {
                target: target.label,
                ours: target.ours,
                batch,
                connections,
                result,
                seconds: seconds.max(1e-9),
                cpu,
                lag,
                quantiles: None,
                in_flight_bound: 0,
            };
            let (p50, p99) = report.quantiles();
            println!(
                "bench:   {:.1} requests/s, {:.1} events/s, p50 {p50:.2} ms, p99 {p99:.2} ms, {} failure(s)",
                report.requests_per_s(),
                report.events_per_s(),
                report.result.failures
            );
            scenarios.push(report);
        }
    }
    let copy = match database_url {
        Some(db) => Some(copy_ceiling(flags, db, run_id).await?),
        None => {
            println!("bench: COPY ceiling skipped (pass --database-url with --url)");
            None
        }
    };
    let drain = match database_url {
        Some(db) => drain_time(db).await?,
        None => None,
    };
    Ok(Report { scenarios, copy, rows: None, drain })
}

/// One scenario against one target, driven by wrk: an unmeasured warm-up run, then the measured
/// run with the CPU probe and the lag sampler around it.
#[expect(clippy::too_many_arguments, reason = "one call site; a struct would only rename them")]
async fn wrk_scenario(
    flags: &Flags,
    target: &Target,
    fragments: &[String],
    (index, t): (usize, usize),
    batch: usize,
    connections: usize,
    database_url: Option<&str>,
    run_id: &str,
) -> anyhow::Result<ScenarioReport> {
    let prefix = if target.ours {
        format!("tr_bench-{run_id}-{index}-{t}-")
    } else {
        format!("tr_orig-{run_id}-{index}-{t}-")
    };
    let stamp = Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let dir = crate::target_dir().join("xtask");
    std::fs::create_dir_all(&dir)?;
    let url = target.url.to_string();
    let mut runs = Vec::new();
    for (phase, duration) in
        [("w", flags.warmup.max(Duration::from_secs(1))), ("m", flags.duration)]
    {
        let path = dir.join(format!("bench-ingest-{index}-{t}-{phase}.lua"));
        std::fs::write(
            &path,
            wrk::script(fragments, batch, &format!("{prefix}{phase}"), &stamp, connections),
        )?;
        let measured = phase == "m";
        let probe = CpuProbe::of_pid(target.pid);
        let sampler = match database_url {
            Some(db) if target.ours && measured => Some(lag::Sampler::start(db).await?),
            _ => None,
        };
        let url = url.clone();
        let run = tokio::task::spawn_blocking(move || wrk::run(&path, &url, connections, duration))
            .await??;
        let cpu = CpuProbe::of_pid(target.pid).since(&probe);
        let lag = match sampler {
            Some(s) => Some(s.finish().await?),
            None => None,
        };
        runs.push((run, cpu, lag));
    }
    let ((warm, _, _), (run, cpu, lag)) = (runs[0].clone(), runs[1].clone());
    let result = TaskResult {
        requests: run.ok,
        events: run.ok * batch as u64,
        acknowledged: (warm.ok + run.ok) * batch as u64,
        inserted: 0,
        duplicates: 0,
        failures: warm.failed + warm.errors + run.failed + run.errors,
        failure_samples: (run.failed + run.errors > 0)
            .then(|| format!("wrk: {} non-2xx, {} socket errors", run.failed, run.errors))
            .into_iter()
            .collect(),
        ..TaskResult::default()
    };
    let report = ScenarioReport {
        target: target.label,
        ours: target.ours,
        batch,
        connections,
        result,
        seconds: run.seconds.max(1e-9),
        cpu,
        lag,
        quantiles: Some((run.p50_ms, run.p99_ms)),
        // Each of the two runs may stop with one request per connection unanswered.
        in_flight_bound: 2 * (connections * batch) as u64,
    };
    println!(
        "bench:   {:.1} requests/s, {:.1} events/s, p50 {:.2} ms, p99 {:.2} ms, {} failure(s)",
        report.requests_per_s(),
        report.events_per_s(),
        run.p50_ms,
        run.p99_ms,
        report.result.failures
    );
    Ok(report)
}

/// How long after the last request the fold takes to empty `rollup_pending` (None: it did not
/// within 60 s).
async fn drain_time(database_url: &str) -> anyhow::Result<Option<Duration>> {
    let client = migrate::connect(database_url).await?;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        let n: i64 = client.query_one("SELECT count(*) FROM rollup_pending", &[]).await?.get(0);
        if n == 0 {
            return Ok(Some(start.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(None)
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
    use super::payload::csv_tails;
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

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
//! realistic SDK payloads (original-api.md §4.1) built cheaply from a pre-built pool of event
//! fragments, so the client spends its CPU on the network, not on JSON. Client and server share
//! the machine: the per-scenario CPU columns say who used it.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aicp_domain::ProjectId;
use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::Utc;
use futures_util::SinkExt;
use uuid::Uuid;

use crate::seed::{self, Call, Catalog, FastRng, Row};
use crate::{Args, migrate};

mod analytics;
mod common;
mod dashboard;
mod export;
mod similarity;

/// The help of `bench` (`which`: one benchmark, else all of them).
pub(crate) fn help(which: Option<&str>) -> String {
    match which {
        Some("ingest") => HELP.to_owned(),
        Some("export") => export::HELP.to_owned(),
        Some("analytics") => analytics::HELP.to_owned(),
        Some("similarity") => similarity::HELP.to_owned(),
        Some("dashboard") => dashboard::HELP.to_owned(),
        _ => format!(
            "{HELP}\n\n{}\n\n{}\n\n{}\n\n{}",
            export::HELP,
            analytics::HELP,
            similarity::HELP,
            dashboard::HELP
        ),
    }
}

const HELP: &str = "\
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

pub(crate) fn run(mut args: Args) -> anyhow::Result<()> {
    match args.positional().as_deref() {
        Some("ingest") => {}
        Some("export") => return export::run(args),
        Some("analytics") => return analytics::run(args),
        Some("similarity") => return similarity::run(args),
        Some("dashboard") => return dashboard::run(args),
        Some(other) => {
            bail!(
                "unknown benchmark {other:?}; there are ingest, export, analytics, similarity and dashboard"
            )
        }
        None => bail!(
            "which benchmark? `cargo xtask bench ingest|export|analytics|similarity|dashboard` (see --help)"
        ),
    }
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

fn build_server() -> anyhow::Result<()> {
    println!("$ cargo build --release -p aicp-api");
    let status = Command::new(crate::cargo())
        .args(["build", "--release", "-p", "aicp-api"])
        .current_dir(crate::project_root())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building the server failed ({status})");
    }
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The server under test, started by us; killed when dropped.
struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    fn start(database_url: &str, port: u16, rate_limit: bool) -> anyhow::Result<Self> {
        Self::start_with(database_url, port, rate_limit, &[])
    }

    /// [`Server::start`] with more environment variables for the server.
    fn start_with(
        database_url: &str,
        port: u16,
        rate_limit: bool,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let bin = crate::target_dir().join("release").join("aicp");
        let dir = crate::target_dir().join("xtask");
        std::fs::create_dir_all(&dir)?;
        let log = dir.join("bench-server.log");
        let out = std::fs::File::create(&log)?;
        println!("bench: starting {} on port {port}", bin.display());
        let mut command = Command::new(&bin);
        if rate_limit {
            // The original's 5,000 requests per minute would cut every scenario short.
            command
                .env("RATE_LIMIT_EVENTS", "1000000000")
                .env("RATE_LIMIT_BURST_EVENTS", "1000000000");
        } else {
            command.env("RATE_LIMIT", "off");
        }
        command.envs(env.iter().copied());
        let child = command
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        Ok(Self { child, log })
    }

    /// SIGTERM (graceful: in-flight requests finish, writers drain), then SIGKILL after 20 s.
    fn stop(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            bail!("the server had already exited (see {})", self.log.display());
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                println!("bench: server exited ({status})");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("bench: server did not stop within 20 s; killing it");
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// User + system CPU seconds used so far (Linux).
    fn cpu_seconds(&self) -> Option<f64> {
        process_cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn wait_healthy(base_url: &str, mut server: Option<&mut Server>) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if let Some(s) = server.as_deref_mut()
            && let Some(status) = s.child.try_wait()?
        {
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            bail!(
                "the server exited ({status}) before becoming healthy:\n{}",
                truncate(&log, 4000)
            );
        }
        match client.get(format!("{base_url}/health")).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the server did not become healthy within 60 s: {last}")
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// User + system CPU seconds of the process whose `/proc/<pid>/stat` is `path`.
fn process_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

/// Busy and total CPU seconds of the whole machine (all cores), from `/proc/stat`.
fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some(((total - idle) / clock_ticks(), total / clock_ticks()))
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU used during one measured window, in cores (1.0 = one core fully busy).
#[derive(Debug, Default, Clone, Copy)]
struct CpuUse {
    server: Option<f64>,
    bench: Option<f64>,
    /// Every `postgres` process of the machine (other databases' too).
    postgres: Option<f64>,
    /// Everything else that ran on the machine meanwhile.
    others: Option<f64>,
}

struct CpuProbe {
    at: Instant,
    server: Option<f64>,
    bench: Option<f64>,
    postgres: HashMap<u32, f64>,
    machine: Option<(f64, f64)>,
}

/// CPU seconds of every process named `postgres`, by pid (Linux; empty elsewhere).
fn postgres_cpu_seconds() -> HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(|pid| Some((pid, process_cpu_seconds(&format!("/proc/{pid}/stat"))?)))
        .collect()
}

impl CpuProbe {
    fn now(server: Option<&Server>) -> Self {
        Self {
            at: Instant::now(),
            server: server.and_then(Server::cpu_seconds),
            bench: process_cpu_seconds("/proc/self/stat"),
            postgres: postgres_cpu_seconds(),
            machine: machine_cpu_seconds(),
        }
    }

    fn since(&self, start: &CpuProbe) -> CpuUse {
        let secs = self.at.duration_since(start.at).as_secs_f64().max(1e-9);
        let delta = |a: Option<f64>, b: Option<f64>| Some((a? - b?) / secs);
        let server = delta(self.server, start.server);
        let bench = delta(self.bench, start.bench);
        // Processes that started during the window count from zero; those that ended are lost.
        let postgres = (!self.postgres.is_empty()).then(|| {
            self.postgres
                .iter()
                .map(|(pid, now)| now - start.postgres.get(pid).unwrap_or(&0.0))
                .sum::<f64>()
                / secs
        });
        let busy = delta(self.machine.map(|m| m.0), start.machine.map(|m| m.0));
        let known = server.unwrap_or(0.0) + bench.unwrap_or(0.0) + postgres.unwrap_or(0.0);
        let others = busy.map(|b| (b - known).max(0.0));
        CpuUse { server, bench, postgres, others }
    }
}

/// Event fragments (everything but ids and timestamp), built once: realistic SDK payloads.
fn json_fragments(count: usize) -> anyhow::Result<Vec<String>> {
    let book = seed::price_book()?;
    let project = ProjectId::default_project();
    let now = Utc::now();
    let catalog = Catalog::new();
    let mut rng = FastRng::new(2026);
    let all = (0..count)
        .map(|_| {
            let feature = catalog.feature(&mut rng);
            let user = catalog.user(&mut rng).map(str::to_owned);
            let call = Call::sample(&mut rng, feature);
            let cost = book.price(&project, call.model, now, call.usage()).cost.total.amount().normalize();
            let mut s = format!(",\"feature\":\"{}\"", feature.name);
            if let Some(user) = user {
                let _ = write!(s, ",\"userId\":\"{user}\"");
            }
            let _ = write!(
                s,
                ",\"provider\":\"{}\",\"model\":\"{}\",\"inputTokens\":{},\"outputTokens\":{},\"cachedTokens\":{},\
                 \"latencyMs\":{},\"estimatedCostUsd\":{cost},\"isStreaming\":{},\"retryCount\":{},\"isError\":{}",
                call.provider,
                call.model,
                call.input_tokens,
                call.output_tokens,
                call.cached_tokens,
                call.latency_ms,
                call.is_streaming,
                call.retry_count,
                call.is_error,
            );
            if let Some(code) = call.error_code {
                let _ = write!(s, ",\"errorCode\":\"{code}\"");
            }
            if let Some(json) = call.metadata {
                let _ = write!(s, ",\"metadata\":{json}");
            }
            s
        })
        .collect::<Vec<_>>();
    Ok(all)
}

/// CSV rows for `bench_copy` without their first four fields (id, project, trace, span).
fn csv_tails(count: usize) -> anyhow::Result<Vec<String>> {
    let book = seed::price_book()?;
    let project_id = ProjectId::default_project();
    let catalog = Catalog::new();
    let mut rng = FastRng::new(2027);
    let now = Utc::now();
    let project = seed::csv_quote("default");
    let all = (0..count)
        .map(|_| {
            let feature = catalog.feature(&mut rng);
            let user = catalog.user(&mut rng).map(str::to_owned);
            let call = Call::sample(&mut rng, feature);
            let priced = book.price(&project_id, call.model, now, call.usage());
            let mut line = String::new();
            let row = Row {
                id: Uuid::nil(),
                project_csv: &project,
                trace_id: "t",
                span_id: "s",
                parent_span_id: None,
                feature: feature.name,
                user_id: user.as_deref(),
                call: &call,
                priced: &priced,
                created_at: now,
            };
            seed::write_csv_row(&mut line, &row);
            let fourth_comma = line.match_indices(',').nth(3).map_or(0, |(i, _)| i);
            line[fourth_comma..].to_owned()
        })
        .collect::<Vec<_>>();
    Ok(all)
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

struct Window {
    measure_from: Instant,
    stop_at: Instant,
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

struct ScenarioReport {
    batch: usize,
    connections: usize,
    result: TaskResult,
    seconds: f64,
    cpu: CpuUse,
}

impl ScenarioReport {
    fn requests_per_s(&self) -> f64 {
        self.result.requests as f64 / self.seconds
    }

    fn events_per_s(&self) -> f64 {
        self.result.events as f64 / self.seconds
    }
}

struct CopyReport {
    rows: u64,
    batches: u64,
    seconds: f64,
    latencies_us: Vec<u32>,
    cpu: CpuUse,
    stored: i64,
}

impl CopyReport {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

struct RowCheck {
    /// Rows of this run in `events`.
    stored: u64,
    /// Rows in `events` altogether.
    total: i64,
}

struct Report {
    scenarios: Vec<ScenarioReport>,
    copy: Option<CopyReport>,
    rows: Option<RowCheck>,
}

impl Report {
    fn acknowledged(&self) -> u64 {
        self.scenarios.iter().map(|s| s.result.acknowledged).sum()
    }

    fn failures(&self) -> u64 {
        self.scenarios.iter().map(|s| s.result.failures).sum()
    }

    fn scenario(&self, batch: usize, connections: usize) -> Option<&ScenarioReport> {
        self.scenarios.iter().find(|s| s.batch == batch && s.connections == connections)
    }

    fn print(&self, flags: &Flags) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "\nbench ingest: {} s measured per scenario after {} s warm-up; client, server and PostgreSQL share {cores} cores",
            flags.duration.as_secs_f64(),
            flags.warmup.as_secs_f64()
        );
        let cpu = |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        println!(
            "{:<28} {:>11} {:>11} {:>8} {:>8} {:>8}   {:>7} {:>6} {:>6} {:>6}",
            "scenario",
            "requests/s",
            "events/s",
            "p50 ms",
            "p99 ms",
            "failed",
            "cpu:srv",
            "bench",
            "pg",
            "other"
        );
        for s in &self.scenarios {
            let (p50, p99) = percentiles(&s.result.latencies_us);
            println!(
                "{:<28} {:>11.1} {:>11.1} {:>8.2} {:>8.2} {:>8}   {:>7} {:>6} {:>6} {:>6}",
                format!("HTTP batch {:>3} x {:>2} conns", s.batch, s.connections),
                s.requests_per_s(),
                s.events_per_s(),
                p50,
                p99,
                s.result.failures,
                cpu(s.cpu.server),
                cpu(s.cpu.bench),
                cpu(s.cpu.postgres),
                cpu(s.cpu.others),
            );
        }
        if let Some(c) = &self.copy {
            let (p50, p99) = percentiles(&c.latencies_us);
            println!(
                "{:<28} {:>11.1} {:>11.1} {:>8.2} {:>8.2} {:>8}   {:>7} {:>6} {:>6} {:>6}",
                format!("COPY {COPY_BATCH} rows x {COPY_CONNECTIONS} conns"),
                c.batches as f64 / c.seconds,
                c.rows_per_s(),
                p50,
                p99,
                0,
                "-",
                cpu(c.cpu.bench),
                cpu(c.cpu.postgres),
                cpu(c.cpu.others),
            );
            println!(
                "  (COPY: requests/s = COPY statements/s, events/s = rows/s; bench_copy held {} rows)",
                c.stored
            );
        }
        println!(
            "  cpu columns: cores busy during the window (cpu:srv = aicp, bench = this process, pg = every postgres process, other = the rest of the machine)"
        );
        println!("\nratios:");
        let batched = self.scenario(100, 2);
        if let (Some(h), Some(c)) = (batched, &self.copy) {
            println!(
                "  HTTP batch 100 x 2 conns / COPY ceiling          {:>6.2}  ({:.0} events/s / {:.0} rows/s)",
                h.events_per_s() / c.rows_per_s(),
                h.events_per_s(),
                c.rows_per_s()
            );
        }
        if let Some(h) = batched {
            println!(
                "  HTTP batch 100 x 2 conns / original 14,800 ev/s  {:>6.2}  ({:.0} events/s)",
                h.events_per_s() / ORIGINAL_EVENTS_PER_S_BATCH_100_2_CONNS,
                h.events_per_s()
            );
        }
        if let Some(h) = self.scenario(1, 16) {
            println!(
                "  HTTP batch 1 x 16 conns / original 2,600 req/s   {:>6.2}  ({:.0} requests/s)",
                h.requests_per_s() / ORIGINAL_REQUESTS_PER_S_SINGLE_16_CONNS,
                h.requests_per_s()
            );
        }
        let inserted: u64 = self.scenarios.iter().map(|s| s.result.inserted).sum();
        let duplicates: u64 = self.scenarios.iter().map(|s| s.result.duplicates).sum();
        println!("\nrows:");
        println!(
            "  acknowledged (202) events: {}   server-reported inserted: {inserted}, duplicates: {duplicates}",
            self.acknowledged()
        );
        match &self.rows {
            Some(r) => {
                let verdict = if r.stored == self.acknowledged() {
                    "equal: nothing lost, nothing duplicated"
                } else {
                    "DIFFERENT"
                };
                println!(
                    "  rows of this run in events: {}   ({verdict}; events holds {} rows in all)",
                    r.stored, r.total
                );
            }
            None => println!("  rows in events: not checked (pass --database-url with --url)"),
        }
        for s in &self.scenarios {
            for sample in &s.result.failure_samples {
                println!("  failure (batch {} x {} conns): {sample}", s.batch, s.connections);
            }
        }
    }
}

fn percentiles(latencies_us: &[u32]) -> (f64, f64) {
    if latencies_us.is_empty() {
        return (0.0, 0.0);
    }
    let mut sorted = latencies_us.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| {
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        f64::from(sorted[rank - 1]) / 1000.0
    };
    (at(0.50), at(0.99))
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

    #[test]
    fn percentiles_are_nearest_rank() {
        let l: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentiles(&l), (50.0, 99.0));
        assert_eq!(percentiles(&[]), (0.0, 0.0));
    }
}

//! `cargo xtask bench export`: how fast `GET /api/v1/export/events` streams the whole history,
//! and with how much server memory, against PostgreSQL's own `COPY ... TO STDOUT`.
//!
//! Why this shape: the original built every export in memory (98 ms and 75 MB of extra memory for
//! its 10,000-row maximum); ours has no row limit and promises flat memory, so the benchmark
//! exports every row of a realistic database (a million events by default) in each format and
//! watches the server's resident memory while it does. The ceiling is the same rows and order
//! streamed by `COPY (SELECT ...) TO STDOUT`, the fastest way out of PostgreSQL, so the HTTP figure
//! reads as "what fraction of the database's own speed we deliver".
//!
//! The client streams with reqwest's `chunk()` and throws the bytes away, counting bytes and rows
//! (lines of CSV and NDJSON, event objects of the JSON array) so every format is checked to hold
//! exactly the table's rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::StreamExt;

use super::common::{self, PatternCounter, thousands};
use super::{CpuProbe, CpuUse, Server, build_server};
use crate::{Args, migrate};

pub(super) const HELP: &str = "\
cargo xtask bench export [flags]

Builds the server in release (unless --no-build), recreates the scratch database
aicp_bench_export seeded with N events over 30 days (the code of `cargo xtask seed`), starts
target/release/aicp on a free port with RATE_LIMIT=off, then downloads every event through
GET /api/v1/export/events?format=csv, =json and =ndjson (one request each, streamed, bytes
discarded), sampling the server's VmRSS every 50 ms. Then the PostgreSQL ceiling: the same rows
in the same order through COPY (SELECT ...) TO STDOUT WITH CSV (tokio-postgres copy_out). An
unmeasured COPY runs first so that every measurement starts from the same warm cache.

Prints rows, bytes, time, rows/s, time to first byte, the server's RSS (before, peak, growth)
and CPU use per download, the ratio HTTP CSV / COPY (target >= 0.50) and the RSS growth (target
< 64 MiB), beside the reference figures (COPY TO ~560,000 rows/s on this machine; the original:
98 ms and 75 MB of extra memory for its 10,000-row maximum). Fails if a download does not hold
exactly the table's rows.

Flags:
  --events N           events to seed (default: 1000000)
  --database-url URL   the PostgreSQL server to use (its database name is replaced by
                       aicp_bench_export)
  --no-build           use the existing target/release/aicp as is
  --reuse-db           keep an existing aicp_bench_export that already holds N events
  --keep-db            do not drop aicp_bench_export at the end";

const DATABASE: &str = "aicp_bench_export";
const DAYS: u32 = 30;
const FORMATS: [&str; 3] = ["csv", "json", "ndjson"];
/// The ceiling: the original's 15 CSV columns, in the export's order.
const COPY_SQL: &str = "COPY (SELECT id, created_at, feature, provider, model, input_tokens, \
output_tokens, cached_tokens, input_tokens+output_tokens, verified_cost_usd, latency_ms, \
is_streaming, is_error, error_code, retry_count FROM events WHERE project_id='default' \
ORDER BY created_at DESC, id DESC) TO STDOUT WITH CSV";
const RSS_EVERY: Duration = Duration::from_millis(50);
/// Reference figures (see HELP).
const REFERENCE_COPY_ROWS_PER_S: f64 = 560_000.0;
const ORIGINAL_ROWS: f64 = 10_000.0;
const ORIGINAL_SECONDS: f64 = 0.098;
const ORIGINAL_EXTRA_MB: f64 = 75.0;
const TARGET_RATIO: f64 = 0.5;
const TARGET_GROWTH_MIB: f64 = 64.0;

struct Flags {
    events: u64,
    database_url: Option<String>,
    no_build: bool,
    reuse_db: bool,
    keep_db: bool,
}

pub(super) fn run(mut args: Args) -> anyhow::Result<()> {
    let flags = Flags {
        events: args.parsed("--events")?.unwrap_or(1_000_000),
        database_url: args.value("--database-url")?,
        no_build: args.flag("--no-build"),
        reuse_db: args.flag("--reuse-db"),
        keep_db: args.flag("--keep-db"),
    };
    args.finish()?;
    if flags.events == 0 {
        bail!("--events must be at least 1");
    }
    let base = flags.database_url.clone().unwrap_or_else(crate::default_database_url);
    let db = migrate::with_database(&base, DATABASE)?;
    if !flags.no_build {
        build_server()?;
    }
    crate::runtime()?.block_on(async {
        let outcome = async {
            common::seeded_database(&db, flags.events, DAYS, flags.reuse_db).await?;
            let (server, base_url) = common::start_server(&db).await?;
            let result = measure(&db, &base_url, &server).await;
            common::stop_server(server)?;
            result
        }
        .await;
        common::drop_unless_kept(&db, flags.keep_db).await?;
        let report = outcome?;
        report.print();
        let wrong: Vec<String> = report
            .http
            .iter()
            .filter(|r| r.rows != report.expected)
            .map(|r| format!("{} held {} rows", r.label, r.rows))
            .collect();
        if !wrong.is_empty() || report.copy.rows != report.expected {
            bail!(
                "the table holds {} rows but {}; COPY gave {}",
                report.expected,
                wrong.join(", "),
                report.copy.rows
            );
        }
        Ok(())
    })
}

/// One download.
struct Download {
    label: String,
    rows: u64,
    bytes: u64,
    /// Until the first body byte.
    first_byte: Duration,
    total: Duration,
    /// VmRSS of the server, KiB: before the request, highest while it ran.
    rss: Option<(u64, u64)>,
    rss_samples: u32,
    cpu: CpuUse,
}

impl Download {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.total.as_secs_f64().max(1e-9)
    }

    fn growth_mib(&self) -> Option<f64> {
        self.rss.map(|(base, peak)| peak.saturating_sub(base) as f64 / 1024.0)
    }
}

struct Report {
    expected: u64,
    http: Vec<Download>,
    copy: Download,
}

async fn measure(db: &str, base_url: &str, server: &Server) -> anyhow::Result<Report> {
    let pg = migrate::connect(db).await?;
    let expected: i64 =
        pg.query_one("SELECT count(*) FROM events WHERE project_id = 'default'", &[]).await?.get(0);
    let expected = u64::try_from(expected)?;
    println!("bench: warm-up: COPY TO of all {} rows (not measured)", thousands(expected));
    let warm = copy_out(&pg, "warm-up").await?;
    println!("bench:   {:.2} s", warm.total.as_secs_f64());

    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(1800))
        .build()?;
    let mut http = Vec::new();
    for format in FORMATS {
        println!("bench: GET /api/v1/export/events?format={format} (all rows)");
        let d = download(&client, base_url, format, server).await?;
        println!(
            "bench:   {} rows, {:.1} MiB in {:.2} s: {:.0} rows/s, first byte after {:.1} ms, RSS growth {}",
            d.rows,
            d.bytes as f64 / MIB,
            d.total.as_secs_f64(),
            d.rows_per_s(),
            d.first_byte.as_secs_f64() * 1000.0,
            d.growth_mib().map_or_else(|| "-".to_owned(), |g| format!("{g:.1} MiB")),
        );
        http.push(d);
    }
    println!("bench: PostgreSQL ceiling: {COPY_SQL}");
    let copy = copy_out(&pg, "COPY TO STDOUT csv").await?;
    println!(
        "bench:   {} rows in {:.2} s: {:.0} rows/s",
        copy.rows,
        copy.total.as_secs_f64(),
        copy.rows_per_s()
    );
    Ok(Report { expected, http, copy })
}

const MIB: f64 = 1024.0 * 1024.0;

async fn download(
    client: &reqwest::Client,
    base_url: &str,
    format: &str,
    server: &Server,
) -> anyhow::Result<Download> {
    let url = format!("{base_url}/api/v1/export/events?format={format}");
    // Let the memory the previous download released settle before the baseline.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.child.id();
    let baseline = rss_kib(pid);
    let sampler = RssSampler::start(pid);
    let probe = CpuProbe::now(Some(server));
    let start = Instant::now();
    let mut response = client.get(&url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        bail!("GET {url}: {status}: {}", super::truncate(&body, 300));
    }
    let mut counter = PatternCounter::new(if format == "json" { b"{\"id\":\"" } else { b"\n" });
    let (mut bytes, mut first_byte) = (0u64, None);
    while let Some(chunk) = response.chunk().await.with_context(|| format!("reading {url}"))? {
        first_byte.get_or_insert_with(|| start.elapsed());
        bytes += chunk.len() as u64;
        counter.feed(&chunk);
    }
    let total = start.elapsed();
    let cpu = CpuProbe::now(Some(server)).since(&probe);
    let (peak, rss_samples) = sampler.stop();
    let rows = if format == "csv" { counter.count.saturating_sub(1) } else { counter.count };
    Ok(Download {
        label: format!("HTTP {format}"),
        rows,
        bytes,
        first_byte: first_byte.unwrap_or(total),
        total,
        rss: baseline.map(|b| (b, peak.max(b))),
        rss_samples,
        cpu,
    })
}

/// `COPY_SQL` through `copy_out`, bytes discarded, lines counted.
async fn copy_out(pg: &tokio_postgres::Client, label: &str) -> anyhow::Result<Download> {
    let probe = CpuProbe::now(None);
    let start = Instant::now();
    let stream = pg.copy_out(COPY_SQL).await.context("COPY TO failed")?;
    let mut stream = Box::pin(stream);
    let mut counter = PatternCounter::new(b"\n");
    let (mut bytes, mut first_byte) = (0u64, None);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("COPY TO failed")?;
        first_byte.get_or_insert_with(|| start.elapsed());
        bytes += chunk.len() as u64;
        counter.feed(&chunk);
    }
    let total = start.elapsed();
    Ok(Download {
        label: label.to_owned(),
        rows: counter.count,
        bytes,
        first_byte: first_byte.unwrap_or(total),
        total,
        rss: None,
        rss_samples: 0,
        cpu: CpuProbe::now(None).since(&probe),
    })
}

/// VmRSS of `pid` in KiB (Linux).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.trim_start_matches("VmRSS:").trim().trim_end_matches("kB").trim().parse().ok()
}

/// Samples a process's VmRSS every [`RSS_EVERY`] on its own thread (not a tokio task: a busy
/// runtime must not delay the samples) and keeps the highest.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u64, u32)>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let (mut peak, mut samples) = (0, 0);
            loop {
                if let Some(kib) = rss_kib(pid) {
                    peak = peak.max(kib);
                    samples += 1;
                }
                if flag.load(Ordering::Relaxed) {
                    return (peak, samples);
                }
                std::thread::sleep(RSS_EVERY);
            }
        });
        Self { stop, thread }
    }

    /// The highest VmRSS seen (KiB) and the number of samples (one more is taken now).
    fn stop(self) -> (u64, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or((0, 0))
    }
}

impl Report {
    fn print(&self) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "\nbench export: all {} events of project default (30 days) per download, one request each; \
             client (xtask, unoptimised build), server and PostgreSQL share {cores} cores",
            thousands(self.expected)
        );
        println!(
            "{:<20} {:>10} {:>8} {:>7} {:>9} {:>7} {:>8}   {:>8} {:>7} {:>7}   {:>7} {:>5} {:>5} {:>5}",
            "download",
            "rows",
            "MiB",
            "s",
            "rows/s",
            "MiB/s",
            "TTFB ms",
            "RSS MiB",
            "peak",
            "growth",
            "cpu:srv",
            "bench",
            "pg",
            "other"
        );
        let cpu = |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        let mib = |k: Option<u64>| {
            k.map_or_else(|| "-".to_owned(), |v| format!("{:.1}", v as f64 / 1024.0))
        };
        for d in self.http.iter().chain(std::iter::once(&self.copy)) {
            println!(
                "{:<20} {:>10} {:>8.1} {:>7.2} {:>9.0} {:>7.1} {:>8.1}   {:>8} {:>7} {:>7}   {:>7} {:>5} {:>5} {:>5}",
                d.label,
                d.rows,
                d.bytes as f64 / MIB,
                d.total.as_secs_f64(),
                d.rows_per_s(),
                d.bytes as f64 / MIB / d.total.as_secs_f64().max(1e-9),
                d.first_byte.as_secs_f64() * 1000.0,
                mib(d.rss.map(|r| r.0)),
                mib(d.rss.map(|r| r.1)),
                d.growth_mib().map_or_else(|| "-".to_owned(), |g| format!("{g:.1}")),
                cpu(d.cpu.server),
                cpu(d.cpu.bench),
                cpu(d.cpu.postgres),
                cpu(d.cpu.others),
            );
        }
        let samples: Vec<String> = self.http.iter().map(|d| d.rss_samples.to_string()).collect();
        println!(
            "  RSS: the server's VmRSS before the request, highest of {} samples (every 50 ms) during it, growth = peak - before",
            samples.join("/")
        );
        println!(
            "  COPY TO: the original's 15 columns (the export has 29), same rows and order; cpu columns: cores busy (bench = this process)"
        );
        let original_rate = ORIGINAL_ROWS / ORIGINAL_SECONDS;
        println!(
            "  reference: COPY TO streamed ~{} rows/s on this machine; the original: {} rows (its maximum) in {:.0} ms = ~{} rows/s, +{ORIGINAL_EXTRA_MB:.0} MB",
            thousands(REFERENCE_COPY_ROWS_PER_S as u64),
            thousands(ORIGINAL_ROWS as u64),
            ORIGINAL_SECONDS * 1000.0,
            thousands(original_rate as u64),
        );
        println!("\nratios:");
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        if let Some(csv) = self.http.iter().find(|d| d.label == "HTTP csv") {
            let ratio = csv.rows_per_s() / self.copy.rows_per_s().max(1e-9);
            println!(
                "  HTTP csv / COPY TO (this run)         {ratio:>6.2}   target >= {TARGET_RATIO:.2}: {}",
                verdict(ratio >= TARGET_RATIO)
            );
            println!(
                "  HTTP csv / COPY TO reference 560k/s   {:>6.2}",
                csv.rows_per_s() / REFERENCE_COPY_ROWS_PER_S
            );
            println!(
                "  HTTP csv / original ~{}k rows/s      {:>6.2}",
                (original_rate / 1000.0).round(),
                csv.rows_per_s() / original_rate
            );
        }
        for d in &self.http {
            if let Some(g) = d.growth_mib() {
                println!(
                    "  {:<12} server RSS growth       {g:>6.1} MiB   target < {TARGET_GROWTH_MIB:.0} MiB: {}",
                    d.label,
                    verdict(g < TARGET_GROWTH_MIB)
                );
            }
        }
        println!("\nrows:");
        for d in self.http.iter().chain(std::iter::once(&self.copy)) {
            let verdict = if d.rows == self.expected { "equal" } else { "DIFFERENT" };
            println!(
                "  {:<20} {} rows ({verdict}; the table holds {})",
                d.label, d.rows, self.expected
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn vm_rss_is_read_from_proc_status() {
        let status = "Name:\taicp\nVmPeak:\t  900000 kB\nVmRSS:\t   25132 kB\nRssAnon:\t 1 kB\n";
        assert_eq!(parse_vm_rss(status), Some(25_132));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert!(rss_kib(std::process::id()).unwrap() > 0);
    }
}

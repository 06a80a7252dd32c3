//! `cargo xtask bench analytics`: how fast the dashboard's queries answer over HTTP, against the
//! same questions asked of the raw `events` table, and how many events-list pages per second the
//! server serves.
//!
//! Why this shape: the dashboard's figures are read from rollups kept in the insert transaction
//! plus raw rows at the window's ragged edges; the point of that design is that a 30-day window
//! over millions of events costs about as much as a 7-day one. Timing each endpoint beside the
//! plain SQL a simpler design would run on `events` (same window, same project) shows what the
//! rollups buy and at which size; checking that both give the same counts shows that the
//! comparison is fair (same rows) and that the rollups are right. The events list is read
//! through the index, so it is timed deep down (page 50 of 200-row pages, as a user paging back
//! would reach it) and for throughput (the dashboard's first page, many users at once).
//!
//! Windows end where the seeded data ends (its latest `created_at`, rounded down to the minute,
//! as the dashboard sends "now" with the seconds zeroed) and start 7 or 30 days earlier.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;
use tokio_postgres::Row;

use super::common::{self, quantile_ms, thousands};
use super::{CpuProbe, CpuUse, Server, Window, build_server, percentiles, truncate};
use crate::{Args, migrate};

pub(super) const HELP: &str = "\
cargo xtask bench analytics [flags]

For each size: recreates the scratch database aicp_bench_analytics seeded with N events over
the last 30 days (the code of `cargo xtask seed`), starts target/release/aicp (built in release
unless --no-build) on a free port with RATE_LIMIT=off, and reads the seeded data's latest
created_at rounded down to the minute as the end of every window. Then, for each dashboard
query, times the HTTP endpoint (sequential requests on one keep-alive connection, 2 warm-ups,
median and p95 of --repeat runs) and the same question as plain SQL on the events table
through tokio-postgres (median; prepared once, 1 warm-up, up to --repeat runs within ~30 s):

  cost-breakdown groupBy=model, 7 and 30 days    GROUP BY model
  timeseries granularity=hour 7 days, =day 30    GROUP BY date_trunc(hour|day, created_at, 'UTC')
  flamegraph 30 days                             GROUP BY feature, model
  summary 30 days                                totals, error cost, percentile_cont(0.5, 0.95,
                                                 0.99) of latency; window and previous window
  events list, page 50 of limit=200 (7 days)     the row-comparison keyset query at that depth
                                                 (cursor followed through 49 pages first)

and checks that both give the same counts. Then the events list's throughput: page 1
(limit=50, 7 days) on 2 and 16 keep-alive connections for --duration-secs each, after a 1 s
warm-up (the original served 1,500 requests/s; target: 3x). Prints one table per size (all of
them again at the end). Fails if an answer differs from the raw SQL or a request fails.

Flags:
  --events N[,N...]    sizes, each seeded afresh (default: 1000000; e.g. 1000000,10000000;
                       10M events take a few minutes to seed)
  --repeat R           timed runs per query (default: 20)
  --duration-secs S    events-list throughput time per connection count (default: 10)
  --database-url URL   the PostgreSQL server to use (its database name is replaced by
                       aicp_bench_analytics)
  --no-build           use the existing target/release/aicp as is
  --reuse-db           keep an existing aicp_bench_analytics that already holds N events
                       (the first size only makes sense; later sizes are reseeded anyway)
  --keep-db            do not drop aicp_bench_analytics at the end (it holds the last size)";

const DATABASE: &str = "aicp_bench_analytics";
const DAYS: u32 = 30;
const HTTP_WARMUPS: usize = 2;
/// Raw runs stop after this much time (at least `RAW_MIN_RUNS`).
const RAW_BUDGET: Duration = Duration::from_secs(30);
const RAW_MIN_RUNS: usize = 3;
const DEPTH_PAGES: usize = 50;
const DEPTH_LIMIT: usize = 200;
const LIST_LIMIT: usize = 50;
const THROUGHPUT_CONNECTIONS: [usize; 2] = [2, 16];
const THROUGHPUT_WARMUP: Duration = Duration::from_secs(1);
const ORIGINAL_LIST_REQUESTS_PER_S: f64 = 1_500.0;
const TARGET_LIST_FACTOR: f64 = 3.0;
/// The columns the events list reads (aicp-storage's `EventRow`).
const EVENT_COLUMNS: &str = "id, project_id, trace_id, span_id, parent_span_id, feature, user_id, \
provider, model, input_tokens, output_tokens, cached_tokens, cache_write_tokens, \
cache_write_1h_tokens, reasoning_tokens, latency_ms, estimated_cost_usd, provider_cost_usd, \
verified_cost_usd, input_cost_usd, cache_read_cost_usd, cache_write_cost_usd, output_cost_usd, \
reasoning_cost_usd, priced_as, price_source, is_cache_hit, metadata, is_streaming, error_code, \
retry_count, is_error, created_at, received_at";

struct Flags {
    sizes: Vec<u64>,
    repeat: usize,
    duration: Duration,
    database_url: Option<String>,
    no_build: bool,
    reuse_db: bool,
    keep_db: bool,
}

pub(super) fn run(mut args: Args) -> anyhow::Result<()> {
    let sizes = parse_sizes(&args.value("--events")?.unwrap_or_else(|| "1000000".to_owned()))?;
    let duration: f64 = args.parsed("--duration-secs")?.unwrap_or(10.0);
    let flags = Flags {
        sizes,
        repeat: args.parsed("--repeat")?.unwrap_or(20),
        duration: Duration::try_from_secs_f64(duration).context("--duration-secs")?,
        database_url: args.value("--database-url")?,
        no_build: args.flag("--no-build"),
        reuse_db: args.flag("--reuse-db"),
        keep_db: args.flag("--keep-db"),
    };
    args.finish()?;
    if flags.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    if flags.duration.is_zero() {
        bail!("--duration-secs must be positive");
    }
    let base = flags.database_url.clone().unwrap_or_else(crate::default_database_url);
    let db = migrate::with_database(&base, DATABASE)?;
    if !flags.no_build {
        build_server()?;
    }
    crate::runtime()?.block_on(async {
        let mut reports = Vec::new();
        let outcome = async {
            for (i, &size) in flags.sizes.iter().enumerate() {
                common::seeded_database(&db, size, DAYS, flags.reuse_db && i == 0).await?;
                let (server, base_url) = common::start_server(&db).await?;
                let result = measure(&flags, &db, &base_url, &server).await;
                common::stop_server(server)?;
                let report = result?;
                report.print(&flags);
                reports.push(report);
            }
            anyhow::Ok(())
        }
        .await;
        common::drop_unless_kept(&db, flags.keep_db).await?;
        outcome?;
        if reports.len() > 1 {
            println!("\n==== every size ====");
            for r in &reports {
                r.print(&flags);
            }
        }
        let wrong: Vec<String> = reports
            .iter()
            .flat_map(|r| {
                r.queries
                    .iter()
                    .filter(|q| !q.same_answer())
                    .map(move |q| format!("{} ({} events)", q.name, r.events))
            })
            .collect();
        let failures: u64 = reports.iter().flat_map(|r| &r.throughput).map(|t| t.failures).sum();
        if !wrong.is_empty() {
            bail!("HTTP and raw SQL disagree on: {}", wrong.join(", "));
        }
        if failures > 0 {
            bail!("{failures} events-list request(s) failed");
        }
        Ok(())
    })
}

/// `1000000,10_000_000` → `[1000000, 10000000]`.
fn parse_sizes(text: &str) -> anyhow::Result<Vec<u64>> {
    let sizes = text
        .split(',')
        .map(|s| {
            let digits = s.trim().replace('_', "");
            match digits.parse::<u64>() {
                Ok(0) | Err(_) => bail!("--events: {s:?} is not a positive number"),
                Ok(n) => Ok(n),
            }
        })
        .collect::<anyhow::Result<Vec<u64>>>()?;
    Ok(sizes)
}

/// One dashboard question, over HTTP and as raw SQL, with how to read the same check value
/// (counts) from either answer.
struct Spec {
    name: &'static str,
    /// Path and query string, after the base URL.
    path: String,
    sql: String,
    http_check: fn(&Value) -> Option<String>,
    raw_check: fn(&[Row]) -> Option<String>,
}

struct QueryReport {
    name: &'static str,
    http: Vec<Duration>,
    http_bytes: usize,
    raw: Vec<Duration>,
    http_check: Option<String>,
    raw_check: Option<String>,
    /// Extra line printed under the table.
    note: Option<String>,
}

impl QueryReport {
    fn same_answer(&self) -> bool {
        self.http_check.is_some() && self.http_check == self.raw_check
    }
}

struct Throughput {
    connections: usize,
    requests: u64,
    failures: u64,
    failure_samples: Vec<String>,
    seconds: f64,
    latencies_us: Vec<u32>,
    cpu: CpuUse,
}

impl Throughput {
    fn requests_per_s(&self) -> f64 {
        self.requests as f64 / self.seconds
    }
}

struct SizeReport {
    events: u64,
    to: DateTime<Utc>,
    queries: Vec<QueryReport>,
    throughput: Vec<Throughput>,
}

fn http_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn sql_time(t: DateTime<Utc>) -> String {
    format!("'{}'::timestamptz", t.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// The raw rows of the window, both bounds inclusive (as the API's windows).
fn raw_window(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!(
        "project_id = 'default' AND created_at >= {} AND created_at <= {}",
        sql_time(from),
        sql_time(to)
    )
}

fn http_window(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    format!("from={}&to={}", http_time(from), http_time(to))
}

fn specs(to: DateTime<Utc>) -> Vec<Spec> {
    let from7 = to - TimeDelta::days(7);
    let from30 = to - TimeDelta::days(30);
    let breakdown = |name, from| Spec {
        name,
        path: format!("/api/v1/analytics/cost-breakdown?groupBy=model&{}", http_window(from, to)),
        sql: format!(
            "SELECT model, sum(verified_cost_usd), sum(input_tokens+output_tokens), count(*), \
             avg(latency_ms) FROM events WHERE {} GROUP BY model ORDER BY 2 DESC LIMIT 500",
            raw_window(from, to)
        ),
        http_check: |v| {
            let groups = v.as_array()?;
            let calls: u64 =
                groups.iter().map(|g| g["requestCount"].as_u64()).sum::<Option<u64>>()?;
            Some(format!("{} groups, {} calls", groups.len(), thousands(calls)))
        },
        raw_check: |rows| {
            let calls: i64 = rows.iter().map(|r| r.get::<_, i64>(3)).sum();
            Some(format!("{} groups, {} calls", rows.len(), thousands(u64::try_from(calls).ok()?)))
        },
    };
    let series = |name, unit: &str, from| Spec {
        name,
        path: format!("/api/v1/analytics/timeseries?granularity={unit}&{}", http_window(from, to)),
        sql: format!(
            "SELECT date_trunc('{unit}', created_at, 'UTC') AS bucket, sum(verified_cost_usd), \
             count(*) FROM events WHERE {} GROUP BY bucket ORDER BY bucket",
            raw_window(from, to)
        ),
        http_check: |v| {
            let points = v.as_array()?;
            let calls: u64 = points.iter().map(|p| p["requests"].as_u64()).sum::<Option<u64>>()?;
            Some(format!("{} buckets, {} calls", points.len(), thousands(calls)))
        },
        raw_check: |rows| {
            let calls: i64 = rows.iter().map(|r| r.get::<_, i64>(2)).sum();
            Some(format!("{} buckets, {} calls", rows.len(), thousands(u64::try_from(calls).ok()?)))
        },
    };
    let stats = |from: DateTime<Utc>, to: DateTime<Utc>, w: u8| {
        format!(
            "SELECT {w} AS w, count(*), count(*) FILTER (WHERE is_error), \
             count(*) FILTER (WHERE retry_count > 0), count(*) FILTER (WHERE cached_tokens > 0), \
             sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(verified_cost_usd), \
             sum(verified_cost_usd) FILTER (WHERE is_error), \
             sum(verified_cost_usd) FILTER (WHERE retry_count > 0 AND NOT is_error), \
             avg(latency_ms), min(latency_ms), max(latency_ms), \
             percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY latency_ms) \
             FROM events WHERE {}",
            raw_window(from, to)
        )
    };
    // The API's previous window: [from - (to - from) - 1 µs, from - 1 µs].
    let length = to - from30;
    let micro = TimeDelta::microseconds(1);
    vec![
        breakdown("cost-breakdown model 7d", from7),
        breakdown("cost-breakdown model 30d", from30),
        series("timeseries hour 7d", "hour", from7),
        series("timeseries day 30d", "day", from30),
        Spec {
            name: "flamegraph 30d",
            path: format!("/api/v1/analytics/flamegraph?{}", http_window(from30, to)),
            sql: format!(
                "SELECT feature, model, sum(verified_cost_usd) FROM events WHERE {} \
                 GROUP BY feature, model ORDER BY 3 DESC LIMIT 5000",
                raw_window(from30, to)
            ),
            http_check: |v| {
                let features = v["children"].as_array()?;
                let pairs: usize =
                    features.iter().map(|f| f["children"].as_array().map_or(0, Vec::len)).sum();
                Some(format!("{} features, {pairs} feature x model", features.len()))
            },
            raw_check: |rows| {
                let mut features: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
                features.sort_unstable();
                features.dedup();
                Some(format!("{} features, {} feature x model", features.len(), rows.len()))
            },
        },
        Spec {
            name: "summary 30d",
            path: format!("/api/v1/analytics/summary?{}", http_window(from30, to)),
            sql: format!(
                "{} UNION ALL {}",
                stats(from30, to, 0),
                stats(from30 - length - micro, from30 - micro, 1)
            ),
            http_check: |v| {
                Some(format!(
                    "{} calls, previous {}",
                    thousands(v["requests"].as_u64()?),
                    thousands(v["previous"]["requests"].as_u64()?)
                ))
            },
            raw_check: |rows| {
                let calls = |w: i32| {
                    let row = rows.iter().find(|r| r.get::<_, i32>(0) == w)?;
                    u64::try_from(row.get::<_, i64>(1)).ok()
                };
                Some(format!("{} calls, previous {}", thousands(calls(0)?), thousands(calls(1)?)))
            },
        },
    ]
}

async fn measure(
    flags: &Flags,
    db: &str,
    base_url: &str,
    server: &Server,
) -> anyhow::Result<SizeReport> {
    let pg = migrate::connect(db).await?;
    let row = pg
        .query_one(
            "SELECT count(*), (floor(extract(epoch FROM max(created_at)) / 60) * 60)::bigint \
             FROM events WHERE project_id = 'default'",
            &[],
        )
        .await?;
    let events = u64::try_from(row.get::<_, i64>(0))?;
    let end: Option<i64> = row.get(1);
    let to = end
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .context("the scratch database holds no events")?;
    println!(
        "bench: {} events; every window ends at {} (latest created_at, rounded down to the minute)",
        thousands(events),
        http_time(to)
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(300))
        .build()?;
    let mut queries = Vec::new();
    for spec in specs(to) {
        println!("bench: {}", spec.name);
        let q = query(&client, &pg, base_url, &spec, flags.repeat).await?;
        print_progress(&q);
        queries.push(q);
    }
    println!("bench: events list, page {DEPTH_PAGES} of limit={DEPTH_LIMIT} (7 days)");
    let q = events_at_depth(&client, &pg, base_url, to, flags.repeat).await?;
    print_progress(&q);
    queries.push(q);

    let page_one = format!(
        "{base_url}/api/v1/analytics/events?limit={LIST_LIMIT}&{}",
        http_window(to - TimeDelta::days(7), to)
    );
    let url: Arc<str> = Arc::from(page_one);
    let mut throughput = Vec::new();
    for connections in THROUGHPUT_CONNECTIONS {
        println!(
            "bench: events list page 1 x {connections} connections: {} s warm-up + {} s",
            THROUGHPUT_WARMUP.as_secs_f64(),
            flags.duration.as_secs_f64()
        );
        let t = list_throughput(Arc::clone(&url), connections, flags.duration, server).await?;
        let (p50, p99) = percentiles(&t.latencies_us);
        println!(
            "bench:   {:.1} requests/s, p50 {p50:.2} ms, p99 {p99:.2} ms, {} failure(s)",
            t.requests_per_s(),
            t.failures
        );
        throughput.push(t);
    }
    Ok(SizeReport { events, to, queries, throughput })
}

fn print_progress(q: &QueryReport) {
    println!(
        "bench:   HTTP p50 {:.2} ms, p95 {:.2} ms; raw p50 {:.2} ms ({} runs); {}",
        quantile_ms(&q.http, 0.5),
        quantile_ms(&q.http, 0.95),
        quantile_ms(&q.raw, 0.5),
        q.raw.len(),
        if q.same_answer() { "same answer" } else { "ANSWERS DIFFER" }
    );
}

/// One GET, body read in full; the time and the body. Anything but 200 is an error.
async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<(Duration, Bytes)> {
    let start = Instant::now();
    let response = client.get(url).send().await.with_context(|| format!("GET {url}"))?;
    let status = response.status();
    let body = response.bytes().await.with_context(|| format!("reading {url}"))?;
    let elapsed = start.elapsed();
    if status != reqwest::StatusCode::OK {
        bail!("GET {url}: {status}: {}", truncate(&String::from_utf8_lossy(&body), 300));
    }
    Ok((elapsed, body))
}

/// `HTTP_WARMUPS` then `repeat` timed requests of `url`; the times and the last body.
async fn time_http(
    client: &reqwest::Client,
    url: &str,
    repeat: usize,
) -> anyhow::Result<(Vec<Duration>, Bytes)> {
    let mut body = Bytes::new();
    for _ in 0..HTTP_WARMUPS {
        body = get(client, url).await?.1;
    }
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let (t, b) = get(client, url).await?;
        times.push(t);
        body = b;
    }
    Ok((times, body))
}

/// `sql` prepared once, run once untimed, then up to `repeat` timed runs within [`RAW_BUDGET`];
/// the times and the rows of the warm-up.
async fn time_raw(
    pg: &tokio_postgres::Client,
    sql: &str,
    repeat: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Row>)> {
    let statement = pg.prepare(sql).await.with_context(|| format!("cannot prepare {sql}"))?;
    let rows = pg.query(&statement, &[]).await.with_context(|| format!("{sql} failed"))?;
    let started = Instant::now();
    let mut times = Vec::with_capacity(repeat);
    while times.len() < repeat && (times.len() < RAW_MIN_RUNS || started.elapsed() < RAW_BUDGET) {
        let t = Instant::now();
        pg.query(&statement, &[]).await.with_context(|| format!("{sql} failed"))?;
        times.push(t.elapsed());
    }
    Ok((times, rows))
}

async fn query(
    client: &reqwest::Client,
    pg: &tokio_postgres::Client,
    base_url: &str,
    spec: &Spec,
    repeat: usize,
) -> anyhow::Result<QueryReport> {
    let (http, body) = time_http(client, &format!("{base_url}{}", spec.path), repeat).await?;
    let http_check =
        serde_json::from_slice::<Value>(&body).ok().and_then(|v| (spec.http_check)(&v));
    let (raw, rows) = time_raw(pg, &spec.sql, repeat).await?;
    Ok(QueryReport {
        name: spec.name,
        http,
        http_bytes: body.len(),
        raw,
        http_check,
        raw_check: (spec.raw_check)(&rows),
        note: None,
    })
}

/// Base64 cursors hold `+`, `/` and `=`.
fn url_encode_cursor(cursor: &str) -> String {
    cursor.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D")
}

fn page_check(v: &Value) -> Option<String> {
    let data = v["data"].as_array()?;
    Some(format!("{} rows from id {}", data.len(), data.first()?["id"].as_str()?))
}

/// Page `DEPTH_PAGES` of the 7-day events list: the cursor is followed through the pages before
/// it, then that page is timed; raw, the keyset query from the same row.
async fn events_at_depth(
    client: &reqwest::Client,
    pg: &tokio_postgres::Client,
    base_url: &str,
    to: DateTime<Utc>,
    repeat: usize,
) -> anyhow::Result<QueryReport> {
    let from = to - TimeDelta::days(7);
    let first =
        format!("{base_url}/api/v1/analytics/events?limit={DEPTH_LIMIT}&{}", http_window(from, to));
    let walk = Instant::now();
    let mut url = first.clone();
    for page in 1..DEPTH_PAGES {
        let (_, body) = get(client, &url).await?;
        let v: Value = serde_json::from_slice(&body).context("the events page is not JSON")?;
        let Some(cursor) = v["pagination"]["nextCursor"].as_str() else {
            bail!("the 7-day window holds only {page} pages of {DEPTH_LIMIT} events");
        };
        url = format!("{first}&cursor={}", url_encode_cursor(cursor));
    }
    get(client, &url).await?;
    let walked = walk.elapsed();
    let (http, body) = time_http(client, &url, repeat).await?;
    let http_check = serde_json::from_slice::<Value>(&body).ok().and_then(|v| page_check(&v));

    let window = raw_window(from, to);
    let offset = (DEPTH_PAGES - 1) * DEPTH_LIMIT - 1;
    let last = pg
        .query_one(
            &format!(
                "SELECT created_at::text, id::text FROM events WHERE {window} \
                 ORDER BY created_at DESC, id DESC OFFSET {offset} LIMIT 1"
            ),
            &[],
        )
        .await?;
    let (at, id): (String, String) = (last.get(0), last.get(1));
    // `limit + 1` rows, as the server reads them to know whether there is a next page.
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, id::text AS id_text FROM events WHERE {window} \
         AND (created_at, id) < ('{at}'::timestamptz, '{id}'::uuid) \
         ORDER BY created_at DESC, id DESC LIMIT {}",
        DEPTH_LIMIT + 1
    );
    let (raw, rows) = time_raw(pg, &sql, repeat).await?;
    let raw_check = rows.first().map(|r| {
        format!("{} rows from id {}", rows.len().min(DEPTH_LIMIT), r.get::<_, String>(r.len() - 1))
    });
    Ok(QueryReport {
        name: "events page 50 (limit 200, 7d)",
        http,
        http_bytes: body.len(),
        raw,
        http_check,
        raw_check,
        note: Some(format!(
            "events list: following the cursor from page 1 to page {DEPTH_PAGES} ({} rows) took {:.0} ms over HTTP",
            thousands((DEPTH_PAGES * DEPTH_LIMIT) as u64),
            walked.as_secs_f64() * 1000.0
        )),
    })
}

/// `connections` keep-alive connections requesting `url` one request after the other.
async fn list_throughput(
    url: Arc<str>,
    connections: usize,
    duration: Duration,
    server: &Server,
) -> anyhow::Result<Throughput> {
    let start = Instant::now();
    let window = Arc::new(Window {
        measure_from: start + THROUGHPUT_WARMUP,
        stop_at: start + THROUGHPUT_WARMUP + duration,
    });
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        tasks.push(tokio::spawn(list_task(Arc::clone(&url), Arc::clone(&window))));
    }
    tokio::time::sleep_until(window.measure_from.into()).await;
    let probe = CpuProbe::now(Some(server));
    let mut t = Throughput {
        connections,
        requests: 0,
        failures: 0,
        failure_samples: Vec::new(),
        seconds: duration.as_secs_f64(),
        latencies_us: Vec::new(),
        cpu: CpuUse::default(),
    };
    let mut last_end: Option<Instant> = None;
    for task in tasks {
        let r = task.await??;
        t.requests += r.requests;
        t.failures += r.failures;
        t.latencies_us.extend(r.latencies_us);
        last_end = last_end.max(r.last_end);
        for s in r.failure_samples {
            if t.failure_samples.len() < 5 {
                t.failure_samples.push(s);
            }
        }
    }
    t.cpu = CpuProbe::now(Some(server)).since(&probe);
    if let Some(end) = last_end {
        t.seconds = end.duration_since(window.measure_from).as_secs_f64().max(1e-9);
    }
    Ok(t)
}

#[derive(Default)]
struct TaskResult {
    requests: u64,
    failures: u64,
    failure_samples: Vec<String>,
    latencies_us: Vec<u32>,
    last_end: Option<Instant>,
}

async fn list_task(url: Arc<str>, window: Arc<Window>) -> anyhow::Result<TaskResult> {
    let client = super::common::connection_client()?;
    let mut result = TaskResult::default();
    loop {
        let begin = Instant::now();
        if begin >= window.stop_at {
            break;
        }
        let outcome = match client.get(&*url).send().await {
            Ok(r) => {
                let status = r.status();
                match r.bytes().await {
                    Ok(_) if status == reqwest::StatusCode::OK => Ok(()),
                    Ok(body) => {
                        Err(format!("{status}: {}", truncate(&String::from_utf8_lossy(&body), 300)))
                    }
                    Err(e) => Err(format!("{status}, body unreadable: {e}")),
                }
            }
            Err(e) => Err(format!("request failed: {e}")),
        };
        let end = Instant::now();
        match outcome {
            Ok(()) if begin >= window.measure_from => {
                result.requests += 1;
                result
                    .latencies_us
                    .push(u32::try_from(end.duration_since(begin).as_micros()).unwrap_or(u32::MAX));
                result.last_end = Some(end);
            }
            Ok(()) => {}
            Err(why) => {
                result.failures += 1;
                if result.failure_samples.len() < 5 {
                    result.failure_samples.push(why);
                }
            }
        }
    }
    Ok(result)
}

impl SizeReport {
    fn print(&self, flags: &Flags) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "\nbench analytics: {} events of project default over {DAYS} days; windows end at {} (latest created_at rounded down to the minute)",
            thousands(self.events),
            http_time(self.to)
        );
        println!(
            "  HTTP: {} sequential requests on one keep-alive connection after {HTTP_WARMUPS} warm-ups; raw: the same question as SQL on \
             the events table via tokio-postgres, prepared once, 1 warm-up, up to {} runs within ~{} s; client, server and \
             PostgreSQL share {cores} cores",
            flags.repeat,
            flags.repeat,
            RAW_BUDGET.as_secs()
        );
        println!(
            "{:<32} {:>10} {:>9} {:>8} {:>11} {:>5} {:>9}   same answer (HTTP vs raw)",
            "query", "HTTP p50", "p95 ms", "KiB", "raw p50 ms", "runs", "raw/ours"
        );
        for q in &self.queries {
            let (http, raw) = (quantile_ms(&q.http, 0.5), quantile_ms(&q.raw, 0.5));
            let check = if q.same_answer() {
                format!("yes: {}", q.http_check.as_deref().unwrap_or_default())
            } else {
                format!(
                    "NO: HTTP {} / raw {}",
                    q.http_check.as_deref().unwrap_or("unreadable"),
                    q.raw_check.as_deref().unwrap_or("unreadable")
                )
            };
            println!(
                "{:<32} {:>10.2} {:>9.2} {:>8.1} {:>11.2} {:>5} {:>8.1}x   {check}",
                q.name,
                http,
                quantile_ms(&q.http, 0.95),
                q.http_bytes as f64 / 1024.0,
                raw,
                q.raw.len(),
                raw / http.max(1e-9),
            );
        }
        for note in self.queries.iter().filter_map(|q| q.note.as_deref()) {
            println!("  {note}");
        }
        println!(
            "  raw/ours: raw median / HTTP median (above 1: the endpoint answers faster than the raw SQL alone)"
        );
        println!(
            "\nevents list page 1 (limit={LIST_LIMIT}, 7 days): {} s per connection count after {} s warm-up",
            flags.duration.as_secs_f64(),
            THROUGHPUT_WARMUP.as_secs_f64()
        );
        println!(
            "{:>6} {:>11} {:>8} {:>8} {:>7}   {:>7} {:>5} {:>5} {:>5}   vs original 1,500 req/s",
            "conns", "requests/s", "p50 ms", "p99 ms", "failed", "cpu:srv", "bench", "pg", "other"
        );
        let cpu = |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        for t in &self.throughput {
            let (p50, p99) = percentiles(&t.latencies_us);
            let factor = t.requests_per_s() / ORIGINAL_LIST_REQUESTS_PER_S;
            println!(
                "{:>6} {:>11.1} {:>8.2} {:>8.2} {:>7}   {:>7} {:>5} {:>5} {:>5}   {factor:.2}x (target >= {TARGET_LIST_FACTOR:.0}x: {})",
                t.connections,
                t.requests_per_s(),
                p50,
                p99,
                t.failures,
                cpu(t.cpu.server),
                cpu(t.cpu.bench),
                cpu(t.cpu.postgres),
                cpu(t.cpu.others),
                if factor >= TARGET_LIST_FACTOR { "met" } else { "MISSED" }
            );
            for s in &t.failure_samples {
                println!("  failure ({} conns): {s}", t.connections);
            }
        }
        println!(
            "  cpu columns: cores busy during the window (cpu:srv = aicp, bench = this process, pg = every postgres process, other = the rest)"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_are_a_comma_separated_list() {
        assert_eq!(parse_sizes("1000000").unwrap(), vec![1_000_000]);
        assert_eq!(parse_sizes("1000000, 10_000_000").unwrap(), vec![1_000_000, 10_000_000]);
        assert!(parse_sizes("0").is_err());
        assert!(parse_sizes("1e6").is_err());
        assert!(parse_sizes("").is_err());
    }

    #[test]
    fn windows_are_inclusive_and_alike_on_both_sides() {
        let to = DateTime::parse_from_rfc3339("2026-11-26T19:04:00Z").unwrap().to_utc();
        let from = to - TimeDelta::days(7);
        assert_eq!(
            http_window(from, to),
            "from=2026-11-19T19:04:00.000Z&to=2026-11-26T19:04:00.000Z"
        );
        assert_eq!(
            raw_window(from, to),
            "project_id = 'default' AND created_at >= '2026-11-19T19:04:00.000000Z'::timestamptz \
             AND created_at <= '2026-11-26T19:04:00.000000Z'::timestamptz"
        );
        assert_eq!(url_encode_cursor("ab+/c=="), "ab%2B%2Fc%3D%3D");
        let specs = specs(to);
        assert_eq!(specs.len(), 6);
        assert!(specs.iter().all(|s| s.path.starts_with("/api/v1/analytics/")));
    }

    #[test]
    fn http_answers_are_read_into_check_values() {
        let specs = specs(Utc::now());
        let breakdown = serde_json::json!([{"dimension":"a","requestCount":2},{"dimension":"b","requestCount":1000}]);
        assert_eq!((specs[0].http_check)(&breakdown).unwrap(), "2 groups, 1,002 calls");
        let flame = serde_json::json!({"name":"root","children":[{"name":"f","children":[{"name":"m"},{"name":"n"}]}]});
        assert_eq!((specs[4].http_check)(&flame).unwrap(), "1 features, 2 feature x model");
        let summary = serde_json::json!({"requests": 5, "previous": {"requests": 0}});
        assert_eq!((specs[5].http_check)(&summary).unwrap(), "5 calls, previous 0");
        let page = serde_json::json!({"data":[{"id":"x"},{"id":"y"}]});
        assert_eq!(page_check(&page).unwrap(), "2 rows from id x");
    }
}

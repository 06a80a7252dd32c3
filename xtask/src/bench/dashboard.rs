//! `cargo xtask bench dashboard`: what a dashboard page costs over the queries behind it.
//!
//! Why this shape: a page calls the same domain services as the JSON API, so its time is the time
//! of those queries plus rendering (templates, SVG charts, money formatting). Timing each page
//! beside the JSON calls that ask the same questions, issued concurrently as the page issues
//! them, gives the page's overhead as a ratio in one run on one machine, whatever else the
//! machine is doing.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{Duration as Span, Utc};
use serde_json::Value;

use super::build_server;
use super::common::{self, quantile_ms, thousands};
use crate::{Args, migrate};

pub(super) const HELP: &str = "\
cargo xtask bench dashboard [flags]

Recreates the scratch database aicp_bench_dashboard seeded with N events over the last 30 days
(the code of `cargo xtask seed`), starts target/release/aicp (built in release unless
--no-build) on a free port with RATE_LIMIT=off, then for each dashboard page over the last 30
days times the page (sequential requests on one keep-alive connection, 1 warm-up, median and
p95 of --repeat runs) and the JSON API calls that answer the same questions, issued
concurrently as the page issues them (same statistics). Prints page ms, JSON ms and their
ratio, and the page's size. Fails if a page or a call does not answer 200.

  overview       summary, cost-breakdown feature/model/user (top 5), realtime-totals,
                 timeseries day, and one timeseries per top-6 feature (the stacked chart)
  features       cost-breakdown feature and one summary per feature (latency, errors, waste)
  models         the same by model
  events         analytics/events limit=50
  top calls      analytics/top-calls limit=100
  flamegraph     analytics/call-paths
  prompts        analytics/prompts and prompt-templates
  pricing        pricing/coverage, cost-breakdown model, pricing

Flags:
  --events N           seeded events (default: 1000000)
  --repeat R           timed runs per page and per call set (default: 10)
  --database-url URL   the PostgreSQL server to use (database name replaced)
  --no-build           use the existing target/release/aicp as is
  --reuse-db           keep an existing aicp_bench_dashboard that already holds N events
  --keep-db            do not drop aicp_bench_dashboard at the end";

const DATABASE: &str = "aicp_bench_dashboard";
const DAYS: u32 = 30;

struct Flags {
    events: u64,
    repeat: usize,
    database_url: Option<String>,
    no_build: bool,
    reuse_db: bool,
    keep_db: bool,
}

pub(super) fn run(mut args: Args) -> anyhow::Result<()> {
    let flags = Flags {
        events: args.parsed("--events")?.unwrap_or(1_000_000),
        repeat: args.parsed("--repeat")?.unwrap_or(10),
        database_url: args.value("--database-url")?,
        no_build: args.flag("--no-build"),
        reuse_db: args.flag("--reuse-db"),
        keep_db: args.flag("--keep-db"),
    };
    args.finish()?;
    if flags.repeat == 0 {
        bail!("--repeat must be at least 1");
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
            let result = measure(&flags, &base_url).await;
            common::stop_server(server)?;
            result
        }
        .await;
        common::drop_unless_kept(&db, flags.keep_db).await?;
        outcome
    })
}

/// One page and the JSON calls behind it.
struct Row {
    page: &'static str,
    page_ms: (f64, f64),
    json_ms: (f64, f64),
    calls: usize,
    bytes: usize,
}

async fn get(client: &reqwest::Client, url: &str) -> anyhow::Result<bytes::Bytes> {
    let res = client.get(url).header("accept", "text/html").send().await.context(url.to_owned())?;
    let status = res.status();
    let body = res.bytes().await?;
    if status != 200 {
        bail!("{url} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

async fn json(client: &reqwest::Client, url: &str) -> anyhow::Result<Value> {
    Ok(serde_json::from_slice(&get(client, url).await?)?)
}

/// The names of the top `n` groups of a breakdown.
async fn top(
    client: &reqwest::Client,
    base: &str,
    window: &str,
    by: &str,
    n: usize,
) -> anyhow::Result<Vec<String>> {
    let v = json(client, &format!("{base}/api/v1/analytics/cost-breakdown?{window}&groupBy={by}"))
        .await?;
    Ok(v.as_array()
        .map(|a| {
            a.iter().take(n).filter_map(|g| g["dimension"].as_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default())
}

fn enc(v: &str) -> String {
    serde_urlencoded::to_string([("", v)]).unwrap_or_default().trim_start_matches('=').to_owned()
}

async fn measure(flags: &Flags, base: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let now = Utc::now();
    let from = (now - Span::days(30)).to_rfc3339();
    let window = format!("from={}&to={}", enc(&from), enc(&now.to_rfc3339()));
    let api = |path: &str| format!("{base}/api/v1/{path}");
    let features = top(&client, base, &window, "feature", 100).await?;
    let models = top(&client, base, &window, "model", 100).await?;
    let per = |dim: &str, names: &[String]| -> Vec<String> {
        names.iter().map(|n| api(&format!("analytics/summary?{window}&{dim}={}", enc(n)))).collect()
    };
    let mut overview = vec![
        api(&format!("analytics/summary?{window}")),
        api(&format!("analytics/cost-breakdown?{window}&groupBy=feature")),
        api(&format!("analytics/cost-breakdown?{window}&groupBy=model")),
        api(&format!("analytics/cost-breakdown?{window}&groupBy=user")),
        api("analytics/realtime-totals"),
        api(&format!("analytics/timeseries?{window}&granularity=day")),
    ];
    overview.extend(features.iter().take(6).map(|f| {
        api(&format!("analytics/timeseries?{window}&granularity=day&feature={}", enc(f)))
    }));
    let mut by_feature = vec![api(&format!("analytics/cost-breakdown?{window}&groupBy=feature"))];
    by_feature.extend(per("feature", &features));
    let mut by_model = vec![api(&format!("analytics/cost-breakdown?{window}&groupBy=model"))];
    by_model.extend(per("model", &models));
    let cases: Vec<(&'static str, String, Vec<String>)> = vec![
        ("overview", format!("{base}/?range=30d&tz=UTC"), overview),
        ("features", format!("{base}/features?range=30d&tz=UTC"), by_feature),
        ("models", format!("{base}/models?range=30d&tz=UTC"), by_model),
        (
            "events",
            format!("{base}/events?range=30d&tz=UTC"),
            vec![api(&format!("analytics/events?{window}&limit=50"))],
        ),
        (
            "top calls",
            format!("{base}/calls?range=30d&tz=UTC"),
            vec![api(&format!("analytics/top-calls?{window}&limit=100"))],
        ),
        (
            "flamegraph",
            format!("{base}/flamegraph?range=30d&tz=UTC"),
            vec![api(&format!("analytics/call-paths?{window}"))],
        ),
        (
            "prompts",
            format!("{base}/prompts?range=30d&tz=UTC"),
            vec![
                api(&format!("analytics/prompts?{window}")),
                api(&format!("analytics/prompt-templates?{window}")),
            ],
        ),
        (
            "pricing",
            format!("{base}/pricing?range=30d&tz=UTC"),
            vec![
                api(&format!("pricing/coverage?{window}")),
                api(&format!("analytics/cost-breakdown?{window}&groupBy=model")),
                api("pricing"),
            ],
        ),
    ];
    let mut rows = Vec::new();
    for (name, page, calls) in cases {
        let mut page_times = Vec::new();
        let mut json_times = Vec::new();
        let mut bytes = 0;
        for i in 0..=flags.repeat {
            let t = Instant::now();
            bytes = get(&client, &page).await?.len();
            let page_took = t.elapsed();
            let t = Instant::now();
            futures_util::future::try_join_all(calls.iter().map(|u| get(&client, u))).await?;
            let json_took = t.elapsed();
            // The first round warms caches and connections.
            if i > 0 {
                page_times.push(page_took);
                json_times.push(json_took);
            }
        }
        let q = |s: &[Duration]| (quantile_ms(s, 0.5), quantile_ms(s, 0.95));
        let row = Row {
            page: name,
            page_ms: q(&page_times),
            json_ms: q(&json_times),
            calls: calls.len(),
            bytes,
        };
        println!(
            "bench: {:<10} page p50 {:>8.1} ms  JSON ({} calls) p50 {:>8.1} ms  ratio {:.2}",
            row.page,
            row.page_ms.0,
            row.calls,
            row.json_ms.0,
            row.page_ms.0 / row.json_ms.0.max(0.001)
        );
        rows.push(row);
    }
    println!("\n==== dashboard pages at {} events, 30-day window ====", thousands(flags.events));
    println!(
        "| page | page p50 ms | page p95 ms | JSON calls | JSON p50 ms | JSON p95 ms | page / JSON (p50) | page KB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} | {:.1} | {} | {:.1} | {:.1} | {:.2} | {:.1} |",
            r.page,
            r.page_ms.0,
            r.page_ms.1,
            r.calls,
            r.json_ms.0,
            r.json_ms.1,
            r.page_ms.0 / r.json_ms.0.max(0.001),
            r.bytes as f64 / 1024.0
        );
    }
    Ok(())
}

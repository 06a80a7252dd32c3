//! `cargo xtask bench otlp`: OTLP trace ingest (`POST /v1/traces`, protobuf and JSON) beside JSON
//! event ingest (`POST /api/v1/events`) for the same calls, in the same run, on the same server.
//!
//! Why: OTLP spans take a longer way in (protobuf decoding, the attribute mapping, then the very
//! same validation and group commit as JSON events); this shows what that way costs. Each request
//! carries 100 calls with fresh ids; every scenario's stored rows are counted against what was
//! acknowledged.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Utc;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::common::{Window, percentiles};
use super::server::{Server, build_server, free_port, wait_healthy};
use crate::{Args, migrate};

pub(super) const HELP: &str = "\
cargo xtask bench otlp [flags]

Builds the server in release (unless --no-build), recreates the scratch database aicp_bench_otlp,
starts target/release/aicp (rate limits out of reach), then for each way in — JSON events
(POST /api/v1/events), OTLP protobuf and OTLP JSON (POST /v1/traces) — sends batches of 100
identical-in-content LLM calls with fresh ids on 2 connections for the duration after a warm-up.
Prints calls/s, requests/s, p50/p99 latency per way and OTLP's ratio to JSON, and checks that
each way's stored rows equal the calls acknowledged.

Flags:
  --duration-secs S    measured time per way (default: 5)
  --warmup-secs S      unmeasured warm-up per way (default: 1)
  --no-build           use the existing target/release/aicp as is
  --database-url URL   the PostgreSQL server to use (its database name is replaced)";

const BENCH_DATABASE: &str = "aicp_bench_otlp";
const BATCH: usize = 100;
const CONNECTIONS: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Json,
    OtlpProtobuf,
    OtlpJson,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::Json => "JSON events  POST /api/v1/events",
            Way::OtlpProtobuf => "OTLP protobuf POST /v1/traces",
            Way::OtlpJson => "OTLP JSON    POST /v1/traces",
        }
    }
}

/// `bench otlp`.
pub(super) fn run(mut args: Args) -> anyhow::Result<()> {
    let duration: f64 = args.parsed("--duration-secs")?.unwrap_or(5.0);
    let warmup: f64 = args.parsed("--warmup-secs")?.unwrap_or(1.0);
    let no_build = args.flag("--no-build");
    let base = args.value("--database-url")?.unwrap_or_else(crate::default_database_url);
    args.finish()?;
    let duration = Duration::try_from_secs_f64(duration).context("--duration-secs")?;
    let warmup = Duration::try_from_secs_f64(warmup).context("--warmup-secs")?;
    if duration.is_zero() {
        bail!("--duration-secs must be positive");
    }
    let db = migrate::with_database(&base, BENCH_DATABASE)?;
    if !no_build {
        build_server()?;
    }
    crate::runtime()?.block_on(async {
        migrate::drop_database(&db).await?;
        migrate::migrate(&db).await?;
        let port = free_port()?;
        let mut server = Server::start_with(&db, port, true, &[])?;
        let base_url = format!("http://127.0.0.1:{port}");
        wait_healthy(&base_url, Some(&mut server)).await?;
        let mut rows = Vec::new();
        for (index, way) in [Way::Json, Way::OtlpProtobuf, Way::OtlpJson].into_iter().enumerate() {
            println!(
                "bench: {} — {} s warm-up + {} s",
                way.name(),
                warmup.as_secs_f64(),
                duration.as_secs_f64()
            );
            let tag = (Utc::now().timestamp_millis() as u64) << 8 | index as u64;
            let result = scenario(way, &base_url, tag, warmup, duration).await?;
            let stored = count_rows(&db, tag).await?;
            rows.push((way, result, stored));
        }
        server.stop()?;
        migrate::drop_database(&db).await?;
        println!();
        println!(
            "{:<32} {:>10} {:>10} {:>9} {:>9} {:>12}",
            "way (batches of 100, 2 conns)", "calls/s", "req/s", "p50 ms", "p99 ms", "stored/ack"
        );
        let json_rate = rows.first().map_or(0.0, |(_, r, _)| r.rate());
        let mut bad = Vec::new();
        for (way, r, stored) in &rows {
            let (p50, p99) = percentiles(&r.latencies_us);
            println!(
                "{:<32} {:>10.0} {:>10.1} {:>9.1} {:>9.1} {:>12}",
                way.name(),
                r.rate(),
                r.rate() / BATCH as f64,
                p50,
                p99,
                format!("{stored}/{}", r.acknowledged)
            );
            if *stored != r.acknowledged || r.failures > 0 {
                bad.push(format!(
                    "{}: {stored} stored, {} acknowledged, {} failed ({:?})",
                    way.name(),
                    r.acknowledged,
                    r.failures,
                    r.sample
                ));
            }
        }
        for (way, r, _) in rows.iter().skip(1) {
            println!(
                "{} / JSON events: {:.2}",
                way.name(),
                r.rate() / json_rate.max(f64::MIN_POSITIVE)
            );
        }
        if !bad.is_empty() {
            bail!("{}", bad.join("\n"));
        }
        Ok(())
    })
}

#[derive(Default)]
struct Outcome {
    calls: u64,
    elapsed: Duration,
    latencies_us: Vec<u32>,
    acknowledged: u64,
    failures: u64,
    sample: Option<String>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.calls as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

async fn scenario(
    way: Way,
    base: &str,
    tag: u64,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Outcome> {
    let start = Instant::now();
    let window =
        Arc::new(Window { measure_from: start + warmup, stop_at: start + warmup + duration });
    let mut tasks = Vec::new();
    for conn in 0..CONNECTIONS {
        let url = match way {
            Way::Json => format!("{base}/api/v1/events"),
            Way::OtlpProtobuf | Way::OtlpJson => format!("{base}/v1/traces"),
        };
        tasks.push(tokio::spawn(connection(way, url, tag, conn as u64, Arc::clone(&window))));
    }
    let mut total = Outcome { elapsed: duration, ..Outcome::default() };
    for t in tasks {
        let r = t.await??;
        total.calls += r.calls;
        total.latencies_us.extend(r.latencies_us);
        total.acknowledged += r.acknowledged;
        total.failures += r.failures;
        total.sample = total.sample.or(r.sample);
    }
    Ok(total)
}

async fn connection(
    way: Way,
    url: String,
    tag: u64,
    conn: u64,
    window: Arc<Window>,
) -> anyhow::Result<Outcome> {
    let client = super::common::connection_client()?;
    let mut out = Outcome::default();
    let mut n: u64 = conn << 40;
    loop {
        let begin = Instant::now();
        if begin >= window.stop_at {
            break;
        }
        let now_ns = u64::try_from(Utc::now().timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0);
        let (content_type, body) = match way {
            Way::Json => ("application/json", json_body(tag, n, now_ns).into_bytes()),
            Way::OtlpProtobuf => ("application/x-protobuf", otlp(tag, n, now_ns).encode_to_vec()),
            Way::OtlpJson => ("application/json", serde_json::to_vec(&otlp(tag, n, now_ns))?),
        };
        n += BATCH as u64;
        let res = client.post(&url).header("content-type", content_type).body(body).send().await;
        let ok = match res {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                out.acknowledged += BATCH as u64;
                true
            }
            Ok(r) => {
                out.failures += 1;
                out.sample.get_or_insert(format!(
                    "{}: {}",
                    r.status(),
                    r.text().await.unwrap_or_default()
                ));
                false
            }
            Err(e) => {
                out.failures += 1;
                out.sample.get_or_insert(e.to_string());
                false
            }
        };
        let end = Instant::now();
        if ok && begin >= window.measure_from {
            out.calls += BATCH as u64;
            out.latencies_us
                .push(u32::try_from(end.duration_since(begin).as_micros()).unwrap_or(u32::MAX));
        }
    }
    Ok(out)
}

/// The trace id of call `n` of the run `tag`: 8 bytes of tag, 8 of counter (so a run's rows are
/// found by prefix).
fn trace_id(tag: u64, n: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&tag.to_be_bytes());
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn json_body(tag: u64, first: u64, now_ns: u64) -> String {
    let ts = chrono::DateTime::from_timestamp_nanos(i64::try_from(now_ns).unwrap_or(0))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut body = String::with_capacity(BATCH * 400);
    body.push_str("{\"events\":[");
    for i in 0..BATCH as u64 {
        if i > 0 {
            body.push(',');
        }
        let n = first + i;
        let _ = write!(
            body,
            r#"{{"traceId":"{}","spanId":"{}","feature":"chat","userId":"u{}","provider":"openai","model":"gpt-4o","inputTokens":1200,"outputTokens":300,"cachedTokens":200,"latencyMs":812,"estimatedCostUsd":0,"timestamp":"{ts}","metadata":{{"source":"otlp","spanName":"chat gpt-4o","operation":"chat"}}}}"#,
            hex(&trace_id(tag, n)),
            hex(&n.to_be_bytes()),
            n % 50
        );
    }
    body.push_str("]}");
    body
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn otlp(tag: u64, first: u64, now_ns: u64) -> ExportTraceServiceRequest {
    let s = |k: &str, v: &str| kv(k, any_value::Value::StringValue(v.to_owned()));
    let i = |k: &str, v: i64| kv(k, any_value::Value::IntValue(v));
    let spans = (0..BATCH as u64)
        .map(|j| {
            let n = first + j;
            Span {
                trace_id: trace_id(tag, n).to_vec(),
                span_id: n.to_be_bytes().to_vec(),
                name: "chat gpt-4o".to_owned(),
                start_time_unix_nano: now_ns,
                end_time_unix_nano: now_ns + 812_000_000,
                attributes: vec![
                    s("gen_ai.operation.name", "chat"),
                    s("gen_ai.provider.name", "openai"),
                    s("gen_ai.request.model", "gpt-4o"),
                    i("gen_ai.usage.input_tokens", 1200),
                    i("gen_ai.usage.output_tokens", 300),
                    i("gen_ai.usage.cache_read.input_tokens", 200),
                    s("aicp.feature", "chat"),
                    s("user.id", &format!("u{}", n % 50)),
                ],
                ..Span::default()
            }
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans { spans, ..ScopeSpans::default() }],
            ..ResourceSpans::default()
        }],
    }
}

async fn count_rows(db: &str, tag: u64) -> anyhow::Result<u64> {
    let (client, conn) = tokio_postgres::connect(db, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(conn);
    let prefix = format!("{}%", hex(&tag.to_be_bytes()));
    let n: i64 = client
        .query_one("SELECT count(*) FROM events WHERE trace_id LIKE $1", &[&prefix])
        .await?
        .get(0);
    drop(client);
    let _ = task.await;
    Ok(u64::try_from(n).unwrap_or(0))
}

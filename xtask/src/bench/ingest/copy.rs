//! The PostgreSQL ceiling of `bench ingest`: COPY of the same rows, without HTTP.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use futures_util::SinkExt;
use uuid::Uuid;

use super::payload::csv_tails;
use super::report::CopyReport;
use super::{COPY_BATCH, COPY_CONNECTIONS, Flags};
use crate::bench::common::Window;
use crate::bench::cpu::CpuProbe;
use crate::{migrate, seed};

/// COPY of `COPY_BATCH` rows per statement (= per transaction) on `COPY_CONNECTIONS` connections
/// into `bench_copy`, a copy of `events` with its indexes and constraints.
pub(super) async fn copy_ceiling(
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

//! What the benchmarks share: a seeded scratch database, the release server started on it with
//! rate limiting off, a measured window, and small timing helpers.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Server, free_port, truncate, wait_healthy};
use crate::{migrate, seed};

/// The scratch database `url` (created by us, dropped by us), holding `events` seeded events of
/// project `default` spread over the last `days` days, seeded through [`seed::seed`] (COPY, then
/// folded into the rollups and `ANALYZE`d).
///
/// With `reuse`, an existing database that already holds exactly `events` events is kept as is
/// (only migrated), so repeated runs skip the seeding.
pub(super) async fn seeded_database(
    url: &str,
    events: u64,
    days: u32,
    reuse: bool,
) -> anyhow::Result<()> {
    if reuse && let Some(n) = existing_events(url).await? {
        if n == events {
            println!("bench: reusing {} ({n} events; --reuse-db)", migrate::database_name(url)?);
            migrate::migrate(url).await?;
            return Ok(());
        }
        println!(
            "bench: {} holds {n} events, not {events}: seeding it again",
            migrate::redact(url)
        );
    }
    println!("bench: recreating scratch database {}", migrate::redact(url));
    migrate::drop_database(url).await?;
    seed::seed(seed::Flags {
        events,
        database_url: url.to_owned(),
        project: "default".to_owned(),
        seed: 42,
        days,
        jobs: 2,
    })
    .await
}

/// The number of events of project `default` in the database of `url`, `None` when the database
/// or its `events` table does not exist.
async fn existing_events(url: &str) -> anyhow::Result<Option<u64>> {
    let name = migrate::database_name(url)?;
    let admin = migrate::connect(&migrate::with_database(url, "postgres")?).await?;
    let exists: bool = admin
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", &[&name])
        .await?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let client = migrate::connect(url).await?;
    let has_table: bool =
        client.query_one("SELECT to_regclass('events') IS NOT NULL", &[]).await?.get(0);
    if !has_table {
        return Ok(None);
    }
    let n: i64 = client
        .query_one("SELECT count(*) FROM events WHERE project_id = 'default'", &[])
        .await?
        .get(0);
    Ok(Some(u64::try_from(n)?))
}

/// Starts target/release/aicp on a free port against `database_url` with `RATE_LIMIT=off` (the
/// export class allows 10 requests a minute, analytics 1,000) and waits for `/health`.
pub(super) async fn start_server(database_url: &str) -> anyhow::Result<(Server, String)> {
    start_server_with(database_url, &[]).await
}

/// [`start_server`] with more environment variables for the server.
pub(super) async fn start_server_with(
    database_url: &str,
    env: &[(&str, &str)],
) -> anyhow::Result<(Server, String)> {
    let port = free_port()?;
    let mut server = Server::start_with(database_url, port, false, env)?;
    let base_url = format!("http://127.0.0.1:{port}");
    wait_healthy(&base_url, Some(&mut server)).await?;
    println!("bench: server pid {} ready at {base_url} (RATE_LIMIT=off)", server.child.id());
    Ok((server, base_url))
}

/// Stops the server (SIGTERM) and shows the first lines of its log (LOG_LEVEL=warn).
/// The HTTP client of one load-generating connection: its own pool holding at most that one
/// keep-alive connection, no proxy, no Nagle delay, a 30 s timeout.
pub(super) fn connection_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?)
}

pub(super) fn stop_server(mut server: Server) -> anyhow::Result<()> {
    println!("bench: stopping the server (SIGTERM)");
    server.stop()?;
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    let lines = log.lines().filter(|l| !l.trim().is_empty()).count();
    println!("bench: server log {} has {lines} line(s) at LOG_LEVEL=warn", server.log.display());
    for line in log.lines().take(5) {
        println!("  {}", truncate(line, 300));
    }
    Ok(())
}

/// Drops the scratch database unless `keep`.
pub(super) async fn drop_unless_kept(url: &str, keep: bool) -> anyhow::Result<()> {
    let name = migrate::database_name(url)?;
    if keep {
        println!("bench: kept {name} (--keep-db)");
    } else {
        migrate::drop_database(url).await.with_context(|| format!("cannot drop {name}"))?;
        println!("bench: dropped {name} (--keep-db keeps it)");
    }
    Ok(())
}

/// The `q` quantile (nearest rank) of `samples`, in milliseconds; 0 when there are none.
pub(super) fn quantile_ms(samples: &[Duration], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// `n` with thousands separators (`1,000,000`).
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Counts the occurrences of a fixed pattern in a byte stream fed in arbitrary chunks (matches
/// that straddle two chunks included). Rows of CSV/NDJSON are lines (`\n`), rows of the JSON
/// array are `{"id":"` (every event object starts with its id).
///
/// The scan is std's `skip_until`, which runs libc's optimised `memchr`: xtask is built
/// unoptimised, where a byte-by-byte loop would be slower than the server being measured.
pub(super) struct PatternCounter {
    pattern: &'static [u8],
    /// The last `pattern.len() - 1` bytes seen.
    tail: Vec<u8>,
    pub(super) count: u64,
}

impl PatternCounter {
    pub(super) fn new(pattern: &'static [u8]) -> Self {
        assert!(!pattern.is_empty(), "empty pattern");
        Self { pattern, tail: Vec::new(), count: 0 }
    }

    pub(super) fn feed(&mut self, chunk: &[u8]) {
        let keep = self.pattern.len() - 1;
        if keep > 0 && !self.tail.is_empty() {
            // Matches starting in the previous bytes and ending in this chunk (the tail is too
            // short to hold a whole match, so none was counted before).
            let mut joined = self.tail.clone();
            joined.extend_from_slice(&chunk[..chunk.len().min(keep)]);
            self.count += (0..self.tail.len())
                .filter(|&i| joined[i..].starts_with(self.pattern))
                .count() as u64;
        }
        self.count += count_within(chunk, self.pattern);
        if keep > 0 {
            self.tail.extend_from_slice(&chunk[chunk.len().saturating_sub(keep)..]);
            let excess = self.tail.len().saturating_sub(keep);
            self.tail.drain(..excess);
        }
    }
}

/// Occurrences of `pattern` entirely inside `bytes`.
fn count_within(mut rest: &[u8], pattern: &[u8]) -> u64 {
    use std::io::BufRead;
    let first = pattern[0];
    let mut n = 0;
    loop {
        let before = rest;
        // Reading from a slice cannot fail.
        let used = rest.skip_until(first).unwrap_or(0);
        if used == 0 || before[used - 1] != first {
            return n;
        }
        if before[used - 1..].starts_with(pattern) {
            n += 1;
        }
    }
}

/// The measured part of a run: requests started before `measure_from` are warm-up.
pub(super) struct Window {
    pub(super) measure_from: Instant,
    pub(super) stop_at: Instant,
}

/// Nearest-rank p50 and p99, in milliseconds, of latencies in microseconds.
pub(super) fn percentiles(latencies_us: &[u32]) -> (f64, f64) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::seed::FastRng;
    use rand::Rng;

    #[test]
    fn patterns_are_counted_across_any_chunking() {
        let text = br#"[{"id":"a","m":{"x":1}},{"id":"b"},{"id":"c","e":"{\"id\""}]"#;
        let naive = |hay: &[u8], p: &[u8]| hay.windows(p.len()).filter(|w| *w == p).count() as u64;
        let mut rng = FastRng::new(9);
        for pattern in [&b"{\"id\":\""[..], b"\n", b"}"] {
            let pattern: &'static [u8] = Box::leak(pattern.to_vec().into_boxed_slice());
            let mut hay = Vec::new();
            for i in 0..200 {
                hay.extend_from_slice(text);
                if i % 3 == 0 {
                    hay.push(b'\n');
                }
            }
            for _ in 0..50 {
                let mut counter = PatternCounter::new(pattern);
                let mut at = 0;
                while at < hay.len() {
                    let len = rng.random_range(0..=12).min(hay.len() - at);
                    counter.feed(&hay[at..at + len]);
                    at += len;
                }
                assert_eq!(counter.count, naive(&hay, pattern), "{:?}", pattern);
            }
        }
    }

    #[test]
    fn quantiles_are_nearest_rank_and_numbers_get_separators() {
        let samples: Vec<Duration> = (1..=20).rev().map(Duration::from_millis).collect();
        assert!((quantile_ms(&samples, 0.5) - 10.0).abs() < 1e-9);
        assert!((quantile_ms(&samples, 0.95) - 19.0).abs() < 1e-9);
        assert!(quantile_ms(&[], 0.5).abs() < 1e-12);
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let l: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentiles(&l), (50.0, 99.0));
        assert_eq!(percentiles(&[]), (0.0, 0.0));
    }
}

//! `--client wrk`: the same scenarios driven by wrk (C, with a Lua script building fresh bodies
//! with unique ids), the load generator of the issue's own measurements. Its client CPU per
//! request is a fraction of reqwest's, so on a 2-core machine more of the CPU goes to the servers
//! under test and the ratios between them are less compressed by the client's share.
//!
//! wrk does not say which requests were in flight when it stopped, so its row check is a range:
//! every acknowledged event stored, and at most one batch per connection more.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// What one wrk run reported.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(super) struct WrkRun {
    /// Completed requests with a 2xx answer.
    pub(super) ok: u64,
    /// Completed requests with another status.
    pub(super) failed: u64,
    /// Socket errors (connect, read, write, timeout).
    pub(super) errors: u64,
    pub(super) seconds: f64,
    pub(super) p50_ms: f64,
    pub(super) p99_ms: f64,
}

/// A Lua script for wrk: every request carries `batch` events with ids unique per run, thread
/// and request, the pre-built SDK `fragments`, and an `X-Forwarded-For` address that cycles
/// over `clients` addresses (wrk cannot tell connections apart in Lua).
pub(super) fn script(
    fragments: &[String],
    batch: usize,
    prefix: &str,
    timestamp: &str,
    clients: usize,
) -> String {
    let mut lua = String::from("local fragments = {\n");
    for f in fragments {
        let _ = writeln!(lua, "[==[{f}]==],");
    }
    let _ = write!(
        lua,
        r#"}}
local batch, prefix, stamp, clients = {batch}, "{prefix}", "{timestamp}", {clients}
-- setup runs in the main Lua state and sets the global thread_no in each thread's own state.
local n, f, me = 0, 0, 0
local threads = 0
function setup(thread)
  thread:set("thread_no", threads)
  threads = threads + 1
end
function init(args)
  me = thread_no or 0
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
function request()
  local parts = {{}}
  for i = 1, batch do
    parts[i] = string.format('{{"traceId":"%s%d-%x","spanId":"sp_%x"%s,"timestamp":"%s"}}',
      prefix, me, n, n, fragments[f + 1], stamp)
    n = n + 1
    f = (f + 1) % #fragments
  end
  wrk.headers["X-Forwarded-For"] = string.format("10.9.%d.%d", me, n % clients)
  return wrk.format(nil, nil, nil, '{{"events":[' .. table.concat(parts, ",") .. ']}}')
end
"#
    );
    lua
}

/// Runs wrk with `threads` threads and `connections` connections for `duration` against `url`.
pub(super) fn run(
    script_path: &std::path::Path,
    url: &str,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<WrkRun> {
    let threads = connections.min(2);
    let secs = duration.as_secs().max(1);
    let output = Command::new("wrk")
        .args(["-t", &threads.to_string(), "-c", &connections.to_string()])
        .args(["-d", &format!("{secs}s"), "--latency", "--timeout", "30s", "-s"])
        .arg(script_path)
        .arg(url)
        .output()
        .context("cannot run wrk (apt-get install -y wrk)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!("wrk failed: {}{}", text, String::from_utf8_lossy(&output.stderr));
    }
    parse(&text).with_context(|| format!("unexpected wrk output:\n{text}"))
}

/// Reads wrk's summary.
fn parse(text: &str) -> anyhow::Result<WrkRun> {
    let mut run = WrkRun::default();
    let mut completed = None;
    for line in text.lines().map(str::trim) {
        if let Some((n, rest)) = line.split_once(" requests in ") {
            completed = Some(n.trim().parse::<u64>()?);
            let secs = rest.split(',').next().unwrap_or_default();
            run.seconds = duration_secs(secs)?;
        } else if let Some(n) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.failed = n.trim().parse()?;
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            run.errors = rest
                .split(',')
                .filter_map(|p| p.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_ms = millis(v.trim())?;
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_ms = millis(v.trim())?;
        }
    }
    let completed = completed.context("no request count")?;
    run.ok = completed.saturating_sub(run.failed);
    Ok(run)
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.50s`, `1.01m`.
fn millis(v: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60e3)
    } else {
        bail!("unknown duration {v:?}")
    };
    Ok(number.parse::<f64>()? * factor)
}

fn duration_secs(v: &str) -> anyhow::Result<f64> {
    Ok(millis(v.trim())? / 1e3)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const OUTPUT: &str = "Running 10s test @ http://127.0.0.1:3100/api/v1/events
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.10ms    2.01ms  40.00ms   80.00%
    Req/Sec     1.60k   100.00     1.80k    70.00%
  Latency Distribution
     50%    4.80ms
     75%    5.90ms
     90%    7.10ms
     99%   12.30ms
  31965 requests in 10.01s, 5.12MB read
  Non-2xx or 3xx responses: 5
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   3193.41
Transfer/sec:    523.45KB
";

    #[test]
    fn reads_wrks_summary() {
        let run = parse(OUTPUT).unwrap();
        assert_eq!((run.ok, run.failed, run.errors), (31_960, 5, 3));
        assert!((run.seconds - 10.01).abs() < 1e-9);
        assert!((run.p50_ms - 4.8).abs() < 1e-9 && (run.p99_ms - 12.3).abs() < 1e-9);
        assert!((millis("812.00us").unwrap() - 0.812).abs() < 1e-9);
        assert!(parse("garbage").is_err());
    }

    #[test]
    fn the_script_makes_unique_ids_and_valid_lua_shapes() {
        let lua =
            script(&[",\"feature\":\"a\"".to_owned()], 3, "tr_w-", "2026-01-01T00:00:00.000Z", 16);
        assert!(lua.contains("local batch, prefix, stamp, clients = 3, \"tr_w-\""));
        assert!(lua.contains("[==[,\"feature\":\"a\"]==],"));
        assert!(lua.contains("function request()"));
    }
}

//! What `bench ingest` prints: per-scenario figures for each target, the COPY ceiling, the ratios
//! to the original and to the ceiling, the rollup fold's lag, and the row check.

use std::time::Duration;

use super::http::TaskResult;
use super::lag::Lag;
use super::{
    COPY_BATCH, COPY_CONNECTIONS, Flags, ORIGINAL_EVENTS_PER_S_BATCH_100_2_CONNS,
    ORIGINAL_REQUESTS_PER_S_SINGLE_16_CONNS,
};
use crate::bench::common::percentiles;
use crate::bench::cpu::CpuUse;

pub(super) struct ScenarioReport {
    pub(super) target: &'static str,
    pub(super) ours: bool,
    pub(super) batch: usize,
    pub(super) connections: usize,
    pub(super) result: TaskResult,
    pub(super) seconds: f64,
    pub(super) cpu: CpuUse,
    pub(super) lag: Option<Lag>,
    /// p50/p99 in ms when the load generator reported them itself (wrk).
    pub(super) quantiles: Option<(f64, f64)>,
    /// Events that may be stored without having been acknowledged (requests in flight when the
    /// load generator stopped; 0 when it waits for every answer).
    pub(super) in_flight_bound: u64,
}

impl ScenarioReport {
    pub(super) fn quantiles(&self) -> (f64, f64) {
        self.quantiles.unwrap_or_else(|| percentiles(&self.result.latencies_us))
    }

    pub(super) fn requests_per_s(&self) -> f64 {
        self.result.requests as f64 / self.seconds
    }

    pub(super) fn events_per_s(&self) -> f64 {
        self.result.events as f64 / self.seconds
    }
}

pub(super) struct CopyReport {
    pub(super) rows: u64,
    pub(super) batches: u64,
    pub(super) seconds: f64,
    pub(super) latencies_us: Vec<u32>,
    pub(super) cpu: CpuUse,
    pub(super) stored: i64,
}

impl CopyReport {
    pub(super) fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

pub(super) struct RowCheck {
    /// Rows of this run in `events`.
    pub(super) stored: u64,
    /// Rows in `events` altogether.
    pub(super) total: i64,
}

pub(super) struct Report {
    pub(super) scenarios: Vec<ScenarioReport>,
    pub(super) copy: Option<CopyReport>,
    pub(super) rows: Option<RowCheck>,
    /// Time for the fold to empty its backlog after the last request.
    pub(super) drain: Option<Duration>,
}

fn cpu(c: Option<f64>) -> String {
    c.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

impl Report {
    pub(super) fn acknowledged_by_aicp(&self) -> u64 {
        self.scenarios.iter().filter(|s| s.ours).map(|s| s.result.acknowledged).sum()
    }

    /// Whether the stored rows are exactly the acknowledged events (up to the requests in flight
    /// when a load generator that does not wait for them stopped).
    pub(super) fn rows_match(&self, rows: &RowCheck) -> bool {
        let acknowledged = self.acknowledged_by_aicp();
        let slack: u64 = self.scenarios.iter().filter(|s| s.ours).map(|s| s.in_flight_bound).sum();
        rows.stored >= acknowledged && rows.stored - acknowledged <= slack
    }

    pub(super) fn failures(&self) -> u64 {
        self.scenarios.iter().map(|s| s.result.failures).sum()
    }

    fn find(&self, target: &str, batch: usize, connections: usize) -> Option<&ScenarioReport> {
        self.scenarios
            .iter()
            .find(|s| s.target == target && s.batch == batch && s.connections == connections)
    }

    pub(super) fn print(&self, flags: &Flags) {
        let cores = std::thread::available_parallelism().map_or(0, usize::from);
        println!(
            "\nbench ingest: {} s measured per scenario and target after {} s warm-up; client, servers, PostgreSQL and Redis share {cores} cores",
            flags.duration.as_secs_f64(),
            flags.warmup.as_secs_f64()
        );
        println!(
            "{:<18} {:<20} {:>10} {:>10} {:>7} {:>7} {:>6}  {:>7} {:>5} {:>5} {:>5} {:>5}",
            "target",
            "scenario",
            "requests/s",
            "events/s",
            "p50 ms",
            "p99 ms",
            "failed",
            "cpu:srv",
            "bench",
            "pg",
            "redis",
            "other"
        );
        for s in &self.scenarios {
            let (p50, p99) = s.quantiles();
            println!(
                "{:<18} {:<20} {:>10.1} {:>10.1} {:>7.2} {:>7.2} {:>6}  {:>7} {:>5} {:>5} {:>5} {:>5}",
                s.target,
                format!("batch {:>3} x {:>2} conns", s.batch, s.connections),
                s.requests_per_s(),
                s.events_per_s(),
                p50,
                p99,
                s.result.failures,
                cpu(s.cpu.server),
                cpu(s.cpu.bench),
                cpu(s.cpu.postgres),
                cpu(s.cpu.redis),
                cpu(s.cpu.others),
            );
        }
        if let Some(c) = &self.copy {
            let (p50, p99) = percentiles(&c.latencies_us);
            println!(
                "{:<18} {:<20} {:>10.1} {:>10.1} {:>7.2} {:>7.2} {:>6}  {:>7} {:>5} {:>5} {:>5} {:>5}",
                "PostgreSQL COPY",
                format!("{COPY_BATCH} rows x {COPY_CONNECTIONS} conns"),
                c.batches as f64 / c.seconds,
                c.rows_per_s(),
                p50,
                p99,
                0,
                "-",
                cpu(c.cpu.bench),
                cpu(c.cpu.postgres),
                cpu(c.cpu.redis),
                cpu(c.cpu.others),
            );
            println!(
                "  (COPY: requests/s = COPY statements/s, events/s = rows/s; bench_copy held {} rows)",
                c.stored
            );
        }
        println!(
            "  cpu columns: cores busy during the window (cpu:srv = the target's process, bench = this process, pg = every postgres process, redis = redis-server, other = the rest of the machine)"
        );
        self.print_lag();
        self.print_ratios();
        self.print_rows();
    }

    fn print_lag(&self) {
        let ours: Vec<&ScenarioReport> =
            self.scenarios.iter().filter(|s| s.lag.is_some()).collect();
        if ours.is_empty() {
            return;
        }
        println!(
            "\nrollup fold lag (rollup_pending sampled every 100 ms while aicp was measured):"
        );
        println!(
            "{:<18} {:<20} {:>14} {:>14} {:>14} {:>14}",
            "target", "scenario", "oldest p50 ms", "oldest p99 ms", "backlog p50", "backlog max"
        );
        for s in ours {
            if let Some(lag) = &s.lag {
                let (a50, a99) = lag.age_ms();
                let (b50, bmax) = lag.backlog();
                println!(
                    "{:<18} {:<20} {:>14} {:>14} {:>14} {:>14}",
                    s.target,
                    format!("batch {:>3} x {:>2} conns", s.batch, s.connections),
                    a50,
                    a99,
                    b50,
                    bmax
                );
            }
        }
        match self.drain {
            Some(d) => {
                println!("  backlog emptied {:.0} ms after the last request", d.as_secs_f64() * 1e3)
            }
            None => println!("  backlog NOT emptied within 60 s after the last request"),
        }
    }

    fn print_ratios(&self) {
        println!("\nratios (same run):");
        let on = "aicp, limiter on";
        let has_original = self.scenarios.iter().any(|s| s.target == "original");
        for (batch, connections) in super::SCENARIOS {
            for target in [on, "aicp, limiter off", "aicp (--url)"] {
                let (Some(ours), Some(orig)) = (
                    self.find(target, batch, connections),
                    self.find("original", batch, connections),
                ) else {
                    continue;
                };
                println!(
                    "  batch {batch:>3} x {connections:>2} conns: {target} / original  {:>6.2}  ({:.0} / {:.0} events/s)",
                    ours.events_per_s() / orig.events_per_s().max(1e-9),
                    ours.events_per_s(),
                    orig.events_per_s()
                );
            }
        }
        let batched = self.find(on, 100, 2).or_else(|| self.find("aicp (--url)", 100, 2));
        if let (Some(h), Some(c)) = (batched, &self.copy) {
            println!(
                "  batch 100 x  2 conns: aicp / COPY ceiling      {:>6.2}  ({:.0} events/s / {:.0} rows/s)",
                h.events_per_s() / c.rows_per_s(),
                h.events_per_s(),
                c.rows_per_s()
            );
        }
        if !has_original {
            println!(
                "  (the original was not driven: pass --original-url; its figures on a quiet machine were)"
            );
            if let Some(h) = batched {
                println!(
                    "  batch 100 x  2 conns: aicp / 14,800 ev/s    {:>6.2}",
                    h.events_per_s() / ORIGINAL_EVENTS_PER_S_BATCH_100_2_CONNS
                );
            }
            if let Some(h) = self.find(on, 1, 16).or_else(|| self.find("aicp (--url)", 1, 16)) {
                println!(
                    "  batch   1 x 16 conns: aicp / 2,600 req/s     {:>6.2}",
                    h.requests_per_s() / ORIGINAL_REQUESTS_PER_S_SINGLE_16_CONNS
                );
            }
        }
    }

    fn print_rows(&self) {
        let ours = self.scenarios.iter().filter(|s| s.ours);
        let inserted: u64 = ours.clone().map(|s| s.result.inserted).sum();
        let duplicates: u64 = ours.map(|s| s.result.duplicates).sum();
        println!("\nrows:");
        println!(
            "  events aicp acknowledged (202): {}   server-reported inserted: {inserted}, duplicates: {duplicates}",
            self.acknowledged_by_aicp()
        );
        match &self.rows {
            Some(r) => {
                let slack: u64 =
                    self.scenarios.iter().filter(|s| s.ours).map(|s| s.in_flight_bound).sum();
                let verdict = if r.stored == self.acknowledged_by_aicp() {
                    "equal: nothing lost, nothing duplicated".to_owned()
                } else if self.rows_match(r) {
                    format!(
                        "every acknowledged event stored; {} more were in flight when wrk stopped (at most {slack} could be)",
                        r.stored - self.acknowledged_by_aicp()
                    )
                } else {
                    "DIFFERENT".to_owned()
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
                println!(
                    "  failure ({}, batch {} x {} conns): {sample}",
                    s.target, s.batch, s.connections
                );
            }
        }
    }
}

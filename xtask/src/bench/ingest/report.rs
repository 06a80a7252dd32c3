//! What `bench ingest` prints: per-scenario figures, the COPY ceiling, the ratios to it and to the
//! original's figures, and the row check.

use super::{
    COPY_BATCH, COPY_CONNECTIONS, Flags, ORIGINAL_EVENTS_PER_S_BATCH_100_2_CONNS,
    ORIGINAL_REQUESTS_PER_S_SINGLE_16_CONNS, TaskResult,
};
use crate::bench::common::percentiles;
use crate::bench::cpu::CpuUse;

pub(super) struct ScenarioReport {
    pub(super) batch: usize,
    pub(super) connections: usize,
    pub(super) result: TaskResult,
    pub(super) seconds: f64,
    pub(super) cpu: CpuUse,
}

impl ScenarioReport {
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
}

impl Report {
    pub(super) fn acknowledged(&self) -> u64 {
        self.scenarios.iter().map(|s| s.result.acknowledged).sum()
    }

    pub(super) fn failures(&self) -> u64 {
        self.scenarios.iter().map(|s| s.result.failures).sum()
    }

    pub(super) fn scenario(&self, batch: usize, connections: usize) -> Option<&ScenarioReport> {
        self.scenarios.iter().find(|s| s.batch == batch && s.connections == connections)
    }

    pub(super) fn print(&self, flags: &Flags) {
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

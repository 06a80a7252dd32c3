//! CPU use of the server, the benchmark, PostgreSQL and everything else during a measured window
//! (Linux `/proc`; absent elsewhere), so that a figure can be read against who used the machine.

use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

use super::server::Server;

/// User + system CPU seconds of the process whose `/proc/<pid>/stat` is `path`.
pub(super) fn process_cpu_seconds(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // The command name (field 2) may hold spaces: fields are counted after its closing ')'.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

/// Busy and total CPU seconds of the whole machine (all cores), from `/proc/stat`.
pub(super) fn machine_cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<f64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: f64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some(((total - idle) / clock_ticks(), total / clock_ticks()))
}

pub(super) fn clock_ticks() -> f64 {
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
pub(super) struct CpuUse {
    pub(super) server: Option<f64>,
    pub(super) bench: Option<f64>,
    /// Every `postgres` process of the machine (other databases' too).
    pub(super) postgres: Option<f64>,
    /// Every `redis-server` process of the machine.
    pub(super) redis: Option<f64>,
    /// Everything else that ran on the machine meanwhile.
    pub(super) others: Option<f64>,
}

pub(super) struct CpuProbe {
    pub(super) at: Instant,
    pub(super) server: Option<f64>,
    pub(super) bench: Option<f64>,
    pub(super) postgres: HashMap<u32, f64>,
    pub(super) redis: HashMap<u32, f64>,
    pub(super) machine: Option<(f64, f64)>,
}

/// CPU seconds of every process named `postgres`, by pid (Linux; empty elsewhere).
pub(super) fn postgres_cpu_seconds() -> HashMap<u32, f64> {
    named_cpu_seconds("postgres")
}

/// CPU seconds of every process whose command name is `name`, by pid (Linux; empty elsewhere).
fn named_cpu_seconds(name: &str) -> HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
        })
        .filter_map(|pid| Some((pid, process_cpu_seconds(&format!("/proc/{pid}/stat"))?)))
        .collect()
}

impl CpuProbe {
    pub(super) fn now(server: Option<&Server>) -> Self {
        Self::of_pid(server.map(|s| s.child.id()))
    }

    /// A probe whose "server" is the process `pid` (e.g. a server we did not start).
    pub(super) fn of_pid(pid: Option<u32>) -> Self {
        Self {
            at: Instant::now(),
            server: pid.and_then(|p| process_cpu_seconds(&format!("/proc/{p}/stat"))),
            bench: process_cpu_seconds("/proc/self/stat"),
            postgres: postgres_cpu_seconds(),
            redis: named_cpu_seconds("redis-server"),
            machine: machine_cpu_seconds(),
        }
    }

    pub(super) fn since(&self, start: &CpuProbe) -> CpuUse {
        let secs = self.at.duration_since(start.at).as_secs_f64().max(1e-9);
        let delta = |a: Option<f64>, b: Option<f64>| Some((a? - b?) / secs);
        let server = delta(self.server, start.server);
        let bench = delta(self.bench, start.bench);
        // Processes that started during the window count from zero; those that ended are lost.
        let group = |now: &HashMap<u32, f64>, then: &HashMap<u32, f64>| {
            (!now.is_empty()).then(|| {
                now.iter().map(|(pid, v)| v - then.get(pid).unwrap_or(&0.0)).sum::<f64>() / secs
            })
        };
        let postgres = group(&self.postgres, &start.postgres);
        let redis = group(&self.redis, &start.redis);
        let busy = delta(self.machine.map(|m| m.0), start.machine.map(|m| m.0));
        let known = server.unwrap_or(0.0)
            + bench.unwrap_or(0.0)
            + postgres.unwrap_or(0.0)
            + redis.unwrap_or(0.0);
        let others = busy.map(|b| (b - known).max(0.0));
        CpuUse { server, bench, postgres, redis, others }
    }
}

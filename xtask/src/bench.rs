//! `cargo xtask bench <which>`: the benchmarks, each against the raw PostgreSQL figure. This file
//! only dispatches; `ingest.rs`, `export.rs`, `analytics.rs`, `similarity.rs` and `otlp.rs` are
//! the benchmarks, `server.rs`, `cpu.rs` and `common.rs` what they share.

use anyhow::bail;

use crate::Args;

mod analytics;
mod anomalies;
mod common;
mod cpu;
mod dashboard;
mod export;
mod ingest;
mod otlp;
mod server;
mod similarity;

// The benchmarks name the shared harness through this module (`super::Server`, …).
use common::{Window, percentiles};
use cpu::{CpuProbe, CpuUse};
use server::{Server, build_server, free_port, truncate, wait_healthy};

/// The help of `bench` (`which`: one benchmark, else all of them).
pub(crate) fn help(which: Option<&str>) -> String {
    match which {
        Some("ingest") => ingest::HELP.to_owned(),
        Some("export") => export::HELP.to_owned(),
        Some("analytics") => analytics::HELP.to_owned(),
        Some("similarity") => similarity::HELP.to_owned(),
        Some("dashboard") => dashboard::HELP.to_owned(),
        Some("otlp") => otlp::HELP.to_owned(),
        Some("anomalies") => anomalies::HELP.to_owned(),
        _ => [
            ingest::HELP,
            export::HELP,
            analytics::HELP,
            similarity::HELP,
            dashboard::HELP,
            otlp::HELP,
            anomalies::HELP,
        ]
        .join("\n\n"),
    }
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<()> {
    match args.positional().as_deref() {
        Some("ingest") => ingest::run(args),
        Some("export") => export::run(args),
        Some("analytics") => analytics::run(args),
        Some("similarity") => similarity::run(args),
        Some("dashboard") => dashboard::run(args),
        Some("otlp") => otlp::run(args),
        Some("anomalies") => anomalies::run(args),
        Some(other) => {
            bail!(
                "unknown benchmark {other:?}; there are ingest, export, analytics, similarity, dashboard, otlp and anomalies"
            )
        }
        None => bail!(
            "which benchmark? `cargo xtask bench ingest|export|analytics|similarity|dashboard|otlp|anomalies` (see --help)"
        ),
    }
}

//! Project automation for AI Cost Profiler, run as `cargo xtask <command>`.
//!
//! Why an xtask (as in rust-lang/rust-analyzer): the chores around the service (creating the
//! database, filling it with realistic data, benchmarking ingestion, running the CI checks) are
//! written in Rust, in the workspace, so they need nothing but `cargo` and cannot drift from the
//! code they drive: `seed` prices events with the server's own [`aicp_domain::PriceBook`], and
//! `migrate` applies the very migrations embedded in the server.
//!
//! The argument parser is hand-written (see [`Args`]): four commands and a handful of flags do not
//! need a dependency.

mod bench;
mod ci;
mod migrate;
mod seed;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, bail};

const HELP: &str = "\
cargo xtask <command> [flags]

Commands:
  migrate   create the database if missing and apply the migrations
  seed      fill the database with N deterministic, realistic events (via COPY)
  bench     benchmarks, each against the raw PostgreSQL figure:
              `bench ingest`     POST /api/v1/events scenarios vs COPY FROM
              `bench export`     streamed CSV/JSON/NDJSON exports (rows/s, server RSS) vs COPY TO
              `bench analytics`  dashboard queries (median, p95) vs the same SQL on raw rows
              `bench similarity` near-duplicate prompts (/similar, /prompts) vs brute-force
                                 scans; recall and precision against the known templates
              `bench dashboard` each dashboard page vs the JSON calls it makes, at 1M events
  ci        the CI checks, in CI's order: fmt, clippy, dependency rules, import cycles,
            schema, docs, tests

Run `cargo xtask <command> --help` for the flags of a command.

Database URL (every command that needs one): --database-url URL, else $DATABASE_URL,
else postgres://postgres@127.0.0.1:5432/aicp.";

fn main() -> anyhow::Result<()> {
    let mut args = Args::from_env();
    let command = args.positional();
    let help = args.flag("--help") || args.flag("-h");
    match command.as_deref() {
        None | Some("help") => {
            println!("{HELP}");
            Ok(())
        }
        Some("migrate") if help => print_help(migrate::HELP),
        Some("seed") if help => print_help(seed::HELP),
        Some("bench") if help => print_help(&bench::help(args.positional().as_deref())),
        Some("ci") if help => print_help(ci::HELP),
        Some("migrate") => migrate::run(args),
        Some("seed") => seed::run(args),
        Some("bench") => bench::run(args),
        Some("ci") => ci::run(args),
        Some(other) => bail!("unknown command {other:?}\n\n{HELP}"),
    }
}

fn print_help(text: &str) -> anyhow::Result<()> {
    println!("{text}");
    Ok(())
}

/// The command line after the command name: flags are taken out by name, whatever their order,
/// and [`Args::finish`] rejects anything left over (a typo must not be silently ignored).
#[derive(Debug)]
pub(crate) struct Args {
    rest: Vec<String>,
}

impl Args {
    fn from_env() -> Self {
        Self { rest: std::env::args().skip(1).collect() }
    }

    #[cfg(test)]
    fn from_vec(items: &[&str]) -> Self {
        Self { rest: items.iter().map(|s| (*s).to_owned()).collect() }
    }

    /// Takes the first argument that is not a flag.
    pub(crate) fn positional(&mut self) -> Option<String> {
        let i = self.rest.iter().position(|a| !a.starts_with('-'))?;
        Some(self.rest.remove(i))
    }

    /// Takes a boolean flag (`--keep-db`).
    pub(crate) fn flag(&mut self, name: &str) -> bool {
        match self.rest.iter().position(|a| a == name) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    /// Takes a flag with a value, `--name value` or `--name=value`.
    pub(crate) fn value(&mut self, name: &str) -> anyhow::Result<Option<String>> {
        let prefix = format!("{name}=");
        for i in 0..self.rest.len() {
            if self.rest[i] == name {
                if i + 1 >= self.rest.len() {
                    bail!("{name} needs a value");
                }
                let value = self.rest.remove(i + 1);
                self.rest.remove(i);
                return Ok(Some(value));
            }
            if let Some(value) = self.rest[i].strip_prefix(&prefix) {
                let value = value.to_owned();
                self.rest.remove(i);
                return Ok(Some(value));
            }
        }
        Ok(None)
    }

    /// Takes a flag with a value and parses it.
    pub(crate) fn parsed<T>(&mut self, name: &str) -> anyhow::Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.value(name)? {
            None => Ok(None),
            Some(v) => {
                v.parse().map(Some).map_err(|e| anyhow::anyhow!("{name}: cannot parse {v:?}: {e}"))
            }
        }
    }

    /// `--database-url`, else `$DATABASE_URL`, else the server's default.
    pub(crate) fn database_url(&mut self) -> anyhow::Result<String> {
        Ok(self.value("--database-url")?.unwrap_or_else(default_database_url))
    }

    /// Fails on any argument nobody took.
    pub(crate) fn finish(self) -> anyhow::Result<()> {
        if let Some(first) = self.rest.first() {
            bail!("unexpected argument {first:?} (see --help)");
        }
        Ok(())
    }
}

/// The server's own default (crates/aicp-api/src/config.rs), overridable by `DATABASE_URL`.
pub(crate) fn default_database_url() -> String {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/aicp".to_owned())
}

/// The workspace root (the parent of this crate).
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `cargo`, as the one that started us (`$CARGO`) when there is one.
pub(crate) fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The build's target directory.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map_or_else(|| project_root().join("target"), |p| project_root().join(p))
}

/// A multi-threaded tokio runtime for the commands that talk to PostgreSQL or HTTP.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn flags_are_taken_in_any_order_and_leftovers_are_errors() {
        let mut args =
            Args::from_vec(&["ingest", "--duration-secs=3", "--keep-db", "--url", "http://x"]);
        assert_eq!(args.positional().as_deref(), Some("ingest"));
        assert_eq!(args.value("--url").unwrap().as_deref(), Some("http://x"));
        assert_eq!(args.parsed::<u64>("--duration-secs").unwrap(), Some(3));
        assert!(args.flag("--keep-db"));
        assert!(!args.flag("--keep-db"));
        args.finish().unwrap();

        let mut args = Args::from_vec(&["--events", "ten"]);
        assert!(args.parsed::<u64>("--events").is_err());
        assert!(Args::from_vec(&["--typo"]).finish().is_err());
        assert!(Args::from_vec(&["--url"]).value("--url").is_err());
    }
}

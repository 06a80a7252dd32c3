//! `cargo xtask ci`: the checks CI runs, in CI's order, failing at the first one that fails.
//!
//! Why one command: a green `cargo xtask ci` on a laptop must mean a green CI, so CI runs this
//! very command instead of keeping its own copy of the steps.
//!
//! Steps:
//! 1. `fmt`: `cargo fmt --all -- --check`;
//! 2. `clippy`: `cargo clippy --workspace --all-targets -- -D warnings`;
//! 3. `deps`: the dependency direction of the hexagonal architecture (see [`deps::check_dependency_rules`]),
//!    read from `cargo metadata`, so that a wrong `Cargo.toml` line fails before anybody builds on it;
//! 4. `cycles`: no import cycle between the modules of a crate (see [`cycles`]);
//! 5. `schema`: `crates/aicp-storage/src/schema.rs` is what `diesel print-schema` prints for a
//!    freshly migrated database (skipped when the diesel CLI is not installed, unless
//!    `AICP_REQUIRE_SCHEMA_CHECK=1`);
//! 6. `doc`: `cargo doc --workspace --no-deps` with `RUSTDOCFLAGS="-D warnings"` (broken
//!    intra-doc links fail);
//! 7. `test`: `cargo test --workspace`.

mod cycles;
mod deps;
mod schema;

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::{Args, cargo, project_root};
use deps::dependency_directions;
use schema::schema;

pub(crate) const HELP: &str = "\
cargo xtask ci [--step STEP]...

Runs CI's checks in order and stops at the first failure:
  fmt      cargo fmt --all -- --check
  clippy   cargo clippy --workspace --all-targets -- -D warnings
  deps     dependency directions (from cargo metadata):
             - aicp-domain's normal dependencies (transitively) include none of diesel,
               diesel-async, actix-web, tokio, deadpool-redis, redis, csv-async, tokio-postgres
             - the adapters (aicp-storage, aicp-cache, aicp-similarity, aicp-export) depend
               neither on each other nor on aicp-api
             - only aicp-api (and xtask, aicp-test-support) depend on actix-web; only
               aicp-storage (and xtask, aicp-test-support) on diesel / diesel-async
  cycles   no import cycle between the modules of a crate (top-level `use` items; a parent
           re-exporting its children does not count)
  schema   crates/aicp-storage/src/schema.rs equals `diesel print-schema` of a scratch
           database migrated from migrations/ (skipped without the diesel CLI, unless
           AICP_REQUIRE_SCHEMA_CHECK=1; the scratch database lives on the server of
           $DATABASE_URL, default postgres://postgres@127.0.0.1:5432)
  doc      RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps
  test     cargo test --workspace

Flags:
  --step STEP   run only this step (repeatable), e.g. --step deps --step schema";

const STEPS: [(&str, &str); 7] = [
    ("fmt", "(a) formatting"),
    ("clippy", "(b) clippy"),
    ("deps", "(c) dependency directions"),
    ("cycles", "(d) module import cycles"),
    ("schema", "(e) diesel schema"),
    ("doc", "(f) documentation"),
    ("test", "(g) tests"),
];

pub(crate) fn run(mut args: Args) -> anyhow::Result<()> {
    let mut only = Vec::new();
    while let Some(step) = args.value("--step")? {
        if !STEPS.iter().any(|(name, _)| *name == step) {
            let names: Vec<&str> = STEPS.iter().map(|(name, _)| *name).collect();
            bail!("unknown step {step:?}; steps: {}", names.join(", "));
        }
        only.push(step);
    }
    args.finish()?;
    let root = project_root();
    for (name, title) in STEPS {
        if !only.is_empty() && !only.iter().any(|s| s == name) {
            continue;
        }
        println!("\nci: {title}");
        let result = match name {
            "fmt" => run_cargo(&root, &["fmt", "--all", "--", "--check"])
                .context("formatting differs: run `cargo fmt --all`"),
            "clippy" => run_cargo(
                &root,
                &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
            ),
            "deps" => dependency_directions(&root),
            "cycles" => cycles::check(&root),
            "schema" => schema(&root),
            "doc" => run_cargo_with(
                &root,
                &["doc", "--workspace", "--no-deps"],
                &[("RUSTDOCFLAGS", "-D warnings")],
            ),
            _ => run_cargo(&root, &["test", "--workspace"]),
        };
        result.with_context(|| format!("ci failed at step {title}"))?;
        println!("ci: {title}: ok");
    }
    println!("\nci: all checks passed");
    Ok(())
}

fn run_cargo(root: &Path, args: &[&str]) -> anyhow::Result<()> {
    run_cargo_with(root, args, &[])
}

fn run_cargo_with(root: &Path, args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<()> {
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    println!("$ {}cargo {}", shown.concat(), args.join(" "));
    let status = Command::new(cargo())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

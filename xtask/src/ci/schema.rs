//! The `schema` step: `crates/aicp-storage/src/schema.rs` equals what `diesel print-schema` prints
//! for a scratch database migrated from `migrations/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::migrate;

fn find_diesel() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join("diesel")).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path
        .into_iter()
        .chain(cargo_home.map(|h| h.join("bin").join("diesel")))
        .find(|p| p.is_file())
}

pub(super) fn schema(root: &Path) -> anyhow::Result<()> {
    let Some(diesel) = find_diesel() else {
        let message = "diesel CLI not installed (cargo install diesel_cli --no-default-features --features postgres)";
        if std::env::var("AICP_REQUIRE_SCHEMA_CHECK").is_ok_and(|v| v == "1") {
            bail!("{message}, and AICP_REQUIRE_SCHEMA_CHECK=1");
        }
        println!("ci: skipped: {message}");
        return Ok(());
    };
    let base = crate::default_database_url();
    let scratch =
        migrate::with_database(&base, &format!("aicp_schema_check_{}", std::process::id()))?;
    println!("ci: migrating scratch database {}", migrate::redact(&scratch));
    let printed = crate::runtime()?.block_on(async {
        migrate::drop_database(&scratch).await?;
        let result = async {
            aicp_storage::ensure_database(&scratch).await?;
            aicp_storage::run_migrations(&scratch).await?;
            println!(
                "$ {} print-schema --database-url {}",
                diesel.display(),
                migrate::redact(&scratch)
            );
            let output = Command::new(&diesel)
                .args(["print-schema", "--database-url", &scratch])
                .current_dir(root)
                .output()
                .context("cannot run diesel")?;
            if !output.status.success() {
                bail!("diesel print-schema failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            String::from_utf8(output.stdout).context("diesel printed non-UTF-8")
        }
        .await;
        let dropped = migrate::drop_database(&scratch).await;
        let printed = result?;
        dropped?;
        anyhow::Ok(printed)
    })?;

    let schema_path = root.join("crates/aicp-storage/src/schema.rs");
    let committed = std::fs::read_to_string(&schema_path)
        .with_context(|| format!("cannot read {}", schema_path.display()))?;
    if normalize(&committed) == normalize(&printed) {
        return Ok(());
    }
    let generated = crate::target_dir().join("xtask").join("schema.generated.rs");
    if let Some(dir) = generated.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&generated, &printed)?;
    println!("--- crates/aicp-storage/src/schema.rs\n+++ diesel print-schema");
    for line in diff(&normalize(&committed), &normalize(&printed)) {
        println!("{line}");
    }
    let kind = if significant(&committed) == significant(&printed) {
        "only comments or whitespace differ (header or formatting of diesel::table!)"
    } else {
        "the table definitions differ"
    };
    bail!(
        "schema.rs is not what diesel print-schema gives for the migrations: {kind}\n\
         compare: diff -u crates/aicp-storage/src/schema.rs {}",
        generated.display()
    )
}

/// Lines without trailing whitespace, without trailing empty lines.
fn normalize(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = text.lines().map(|l| l.trim_end().to_owned()).collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    lines
}

/// Everything but comments and whitespace.
fn significant(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// A line diff (`-` only in `a`, `+` only in `b`, ` ` both), by longest common subsequence.
fn diff(a: &[String], b: &[String]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] =
                if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!(" {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+{}", b[j]));
            j += 1;
        } else {
            out.push(format!("-{}", a[i]));
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_diff_shows_changed_lines() {
        let a = normalize("a\nb\nc  \n\n");
        let b = normalize("a\nB\nc\n");
        assert_eq!(diff(&a, &b), vec![" a", "+B", "-b", " c"]);
        assert_eq!(
            significant("// x\ndiesel::table! {\n  a -> Int4,\n}\n"),
            significant("diesel::table!{ a->Int4, }")
        );
    }
}

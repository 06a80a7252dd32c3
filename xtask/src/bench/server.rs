//! The release server under test: building it, starting it on a scratch database, waiting for
//! `/health`, stopping it gracefully. Shared by every benchmark.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub(super) fn build_server() -> anyhow::Result<()> {
    println!("$ cargo build --release -p aicp-api");
    let status = Command::new(crate::cargo())
        .args(["build", "--release", "-p", "aicp-api"])
        .current_dir(crate::project_root())
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("building the server failed ({status})");
    }
    Ok(())
}

pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The server under test, started by us; killed when dropped.
pub(super) struct Server {
    pub(super) child: Child,
    pub(super) log: PathBuf,
}

impl Server {
    /// Starts the release server on `database_url` and `port`, with the rate limiter on (limits
    /// out of reach) or off, and more environment variables `env`.
    pub(super) fn start_with(
        database_url: &str,
        port: u16,
        rate_limit: bool,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let bin = crate::target_dir().join("release").join("aicp");
        let dir = crate::target_dir().join("xtask");
        std::fs::create_dir_all(&dir)?;
        // Several servers may run at once (one per configuration): one log each, by port.
        let log = dir.join(format!("bench-server-{port}.log"));
        let out = std::fs::File::create(&log)?;
        println!("bench: starting {} on port {port}", bin.display());
        let mut command = Command::new(&bin);
        if rate_limit {
            // The original's 5,000 requests per minute would cut every scenario short.
            command
                .env("RATE_LIMIT_EVENTS", "1000000000")
                .env("RATE_LIMIT_BURST_EVENTS", "1000000000");
        } else {
            command.env("RATE_LIMIT", "off");
        }
        command.envs(env.iter().copied());
        let child = command
            .env("DATABASE_URL", database_url)
            .env("PORT", port.to_string())
            .env("HOST", "127.0.0.1")
            .env("LOG_LEVEL", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        Ok(Self { child, log })
    }

    /// SIGTERM (graceful: in-flight requests finish, writers drain), then SIGKILL after 20 s.
    pub(super) fn stop(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            bail!("the server had already exited (see {})", self.log.display());
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                println!("bench: server exited ({status})");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        println!("bench: server did not stop within 20 s; killing it");
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub(super) async fn wait_healthy(
    base_url: &str,
    mut server: Option<&mut Server>,
) -> anyhow::Result<()> {
    let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(2)).build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::from("no answer");
    while Instant::now() < deadline {
        if let Some(s) = server.as_deref_mut()
            && let Some(status) = s.child.try_wait()?
        {
            let log = std::fs::read_to_string(&s.log).unwrap_or_default();
            bail!(
                "the server exited ({status}) before becoming healthy:\n{}",
                truncate(&log, 4000)
            );
        }
        match client.get(format!("{base_url}/health")).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("the server did not become healthy within 60 s: {last}")
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

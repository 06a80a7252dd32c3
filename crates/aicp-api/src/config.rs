//! Configuration, read once from the environment at start-up. Every variable, its default and
//! its meaning:
//!
//! | Variable | Default | Meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/aicp` | PostgreSQL; the database is created and migrated at start-up |
//! | `REDIS_URL` | `redis://127.0.0.1:6379` | Redis (health, and later caches, limits, live stream) |
//! | `HOST` | `0.0.0.0` | Listen address |
//! | `PORT` | `3100` | Listen port (the original dashboard and SDK use 3100) |
//! | `CORS_ORIGIN` | `http://localhost:3000` | Comma-separated allowed browser origins; `*` allows any origin (without credentials) |
//! | `LOG_LEVEL` | `info` | `tracing` filter, e.g. `debug` or `aicp_api=debug,info` |
//! | `LOG_FORMAT` | `json` | `json` (one object per line) or `text` |
//! | `BODY_LIMIT_BYTES` | `10485760` | Largest request body (the original's 10 MB); larger → 413 |
//! | `BODY_TIMEOUT_SECS` | `30` | Longest time a request body may take to arrive; slower → 408 |
//! | `DB_POOL_SIZE` | `16` | Most PostgreSQL connections |
//! | `DB_TIMEOUT_MS` | `5000` | Longest wait for a connection before answering 503 |
//! | `REDIS_TIMEOUT_MS` | `50` | Longest wait for any Redis call |
//! | `INGEST_WRITERS` | `2` | Group-commit writer tasks |
//! | `INGEST_QUEUE` | `1024` | Ingest requests that may wait for a writer; beyond it → 503 at once |
//! | `INGEST_MAX_ROWS_PER_COMMIT` | `4000` | Most events one writer commits in one transaction |
//! | `ROLLUP_FOLD_INTERVAL_MS` | `200` | Pause of the rollup fold once it has caught up (answers are exact either way; this is how fresh the rollup tables are) |
//! | `ROLLUP_FOLD_BATCH` | `20000` | Most pending events one fold takes (one transaction) |
//! | `EXPORT_MAX_ROWS` | `0` (no limit) | Most rows one events export returns; a cut export says so in `X-Export-Truncated` |
//! | `API_KEYS` | (none) | The original's comma-separated keys; they act for project `default`. With neither these nor a stored key, authentication is off and everything is project `default` |
//! | `KEY_PEPPER` | a development value (warned about) | Secret mixed into the stored key digests (HMAC-SHA256); set it in production and never change it |
//! | `ADMIN_KEY` | (none: admin endpoints off) | Key for `/api/v1/admin/*` |
//! | `TRUSTED_PROXIES` | (none) | Comma-separated proxy IPs whose `X-Forwarded-For` is believed (read from the right) |
//! | `RATE_LIMIT` | `on` | `off` disables rate limiting |
//! | `RATE_LIMIT_EVENTS`, `RATE_LIMIT_ANALYTICS`, `RATE_LIMIT_EXPORT` | `5000`, `1000`, `10` | Requests per minute per client (API key, else IP), as the original |
//! | `RATE_LIMIT_BURST_EVENTS`, `_ANALYTICS`, `_EXPORT` | the limit | Most requests at once |
//! | `REDIS_KEY_PREFIX` | `aicp:` | Prefix of every Redis key |
//! | `LIVE_MAX_PER_PROJECT`, `LIVE_MAX_CLIENTS` | `20`, `1000` | Live-stream connections per project and per server (then 429 / 503) |
//! | `LIVE_KEEPALIVE_SECS` | `15` | Interval of `: keepalive` comments on the live stream |
//! | `LIVE_BUFFER` | `256` | Updates a live-stream client may fall behind before it is dropped |
//! | `PROMPT_STORAGE` | `fingerprint` | What is kept of prompt text: `fingerprint` (hashes and signatures only, no text), `preview` (the first `PROMPT_PREVIEW_CHARS` characters) or `full` |
//! | `PROMPT_PREVIEW_CHARS` | `200` | Length of a preview |
//! | `EMBEDDINGS_URL` | (none: semantic similarity off) | Base URL of an OpenAI-compatible embeddings API (`{url}/embeddings`), e.g. `https://api.openai.com/v1`. When set, each new distinct prompt's text is sent there once, in the background |
//! | `EMBEDDINGS_MODEL` | `text-embedding-3-small` | Embedding model |
//! | `EMBEDDINGS_API_KEY` | (none) | Bearer key of the embeddings API |
//! | `EMBEDDINGS_DIMENSIONS` | (model default) | `dimensions` to ask for (models that support it) |
//! | `EMBEDDINGS_TIMEOUT_MS` | `10000` | Longest wait for one embeddings request |
//! | `EMBEDDINGS_BATCH` | `64` | Most texts per embeddings request |
//! | `EMBEDDINGS_QUEUE` | `10000` | Prompts waiting to be embedded; beyond it new ones are skipped (counted, logged) |
//! | `EMBEDDINGS_MAX_CHARS` | `16000` | Longest text sent (longer prompts are cut, at a character boundary) |
//! | `WORKERS` | number of CPUs | HTTP worker threads |
//! | `SHUTDOWN_TIMEOUT_SECS` | `30` | How long in-flight requests may finish after SIGTERM/SIGINT |
//! | `OTLP_FEATURE_ATTRIBUTE` | `aicp.feature` | Span (then resource) attribute naming the feature of an OTLP GenAI span; the span name when absent |
//! | `METRICS_ADDR` | (none: `/metrics` on the main port, admin key required) | `host:port` serving `GET /metrics` without authentication, for a scraper on a private network |
//! | `BUDGET_EVAL_INTERVAL_SECS` | `60` | How often every budget is evaluated for threshold alerts (the status read also evaluates) |
//! | `WEBHOOK_POLL_MS` | `1000` | How often the webhook deliverer looks for due deliveries in the outbox |

use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::SecretString;

/// Pepper used when `KEY_PEPPER` is not set (start-up warns about it).
const DEV_PEPPER: &str = "aicp-development-pepper-change-me";

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL URL.
    pub database_url: String,
    /// Redis URL.
    pub redis_url: String,
    /// Listen address.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Allowed browser origins; `None` allows any.
    pub cors_origins: Option<Vec<String>>,
    /// `tracing` filter.
    pub log_level: String,
    /// Log as JSON lines (else human-readable text).
    pub log_json: bool,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Longest time a request body may take to arrive.
    pub body_timeout: Duration,
    /// PostgreSQL pool size.
    pub db_pool_size: usize,
    /// PostgreSQL connection wait.
    pub db_timeout: Duration,
    /// Redis call timeout.
    pub redis_timeout: Duration,
    /// Group-commit writer tasks.
    pub ingest_writers: usize,
    /// Group-commit queue capacity (requests).
    pub ingest_queue: usize,
    /// Pace of the background rollup fold.
    pub fold: aicp_domain::rollups::FoldPolicy,
    /// Rows per group commit.
    pub ingest_max_rows_per_commit: usize,
    /// The original's `API_KEYS`.
    pub api_keys: Vec<SecretString>,
    /// Pepper of key digests.
    pub key_pepper: SecretString,
    /// Whether `KEY_PEPPER` was left at its development default.
    pub key_pepper_is_default: bool,
    /// Admin key.
    pub admin_key: Option<SecretString>,
    /// Trusted proxies.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Rate limiting on.
    pub rate_limit: bool,
    /// (events, analytics, export) per minute.
    pub rate_limits: (u32, u32, u32),
    /// (events, analytics, export) bursts.
    pub rate_bursts: (u32, u32, u32),
    /// Redis key prefix.
    pub redis_prefix: String,
    /// Live streams per project.
    pub live_max_per_project: usize,
    /// Live streams per server.
    pub live_max_clients: usize,
    /// Keepalive interval.
    pub live_keepalive: Duration,
    /// Live-stream lag allowance.
    pub live_buffer: usize,
    /// What is kept of prompt text.
    pub prompt_storage: aicp_domain::PromptStorage,
    /// Semantic similarity through an embeddings API (`None`: off).
    pub embeddings: Option<EmbeddingsConfig>,
    /// Most rows per events export (`None`: no limit).
    pub export_max_rows: Option<u64>,
    /// HTTP workers.
    pub workers: usize,
    /// Graceful shutdown budget.
    pub shutdown_timeout: Duration,
    /// Attribute naming the feature of an OTLP span.
    pub otlp_feature_attribute: String,
    /// Separate, unauthenticated listen address of `GET /metrics`.
    pub metrics_addr: Option<String>,
    /// Interval of the periodic budget evaluation.
    pub budget_eval_interval: Duration,
    /// Interval of the webhook deliverer's outbox polls.
    pub webhook_poll: Duration,
}

/// An OpenAI-compatible embeddings API.
#[derive(Debug, Clone)]
pub struct EmbeddingsConfig {
    /// Base URL (`{url}/embeddings` is called).
    pub url: String,
    /// Model.
    pub model: String,
    /// Bearer key.
    pub api_key: Option<SecretString>,
    /// `dimensions` to ask for.
    pub dimensions: Option<u32>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Texts per request.
    pub batch: usize,
    /// Queue capacity (prompts).
    pub queue: usize,
    /// Longest text sent, in characters.
    pub max_chars: usize,
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// When a variable is set to a value that cannot be parsed.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads variables through `get` (tests pass a map).
    ///
    /// # Errors
    /// When a variable is set to a value that cannot be parsed.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let text = |k: &str, d: &str| {
            get(k).filter(|v| !v.trim().is_empty()).unwrap_or_else(|| d.to_owned())
        };
        let num = |k: &str, d: u64| -> anyhow::Result<u64> {
            match get(k).filter(|v| !v.trim().is_empty()) {
                None => Ok(d),
                Some(v) => v
                    .trim()
                    .parse()
                    .with_context(|| format!("{k} must be a whole number, got {v:?}")),
            }
        };
        let cors = text("CORS_ORIGIN", "http://localhost:3000");
        let cors_origins = if cors.trim() == "*" {
            None
        } else {
            Some(
                cors.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect(),
            )
        };
        let log_json = match text("LOG_FORMAT", "json").as_str() {
            "json" => true,
            "text" => false,
            other => bail!("LOG_FORMAT must be json or text, got {other:?}"),
        };
        let port = u16::try_from(num("PORT", 3100)?).context("PORT must be at most 65535")?;
        let limit = |k: &str, d: u64| -> anyhow::Result<u32> {
            u32::try_from(num(k, d)?).with_context(|| format!("{k} is too large"))
        };
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let positive = |k: &str, d: u64| -> anyhow::Result<usize> {
            let v = num(k, d)?;
            if v == 0 {
                bail!("{k} must be at least 1");
            }
            Ok(usize::try_from(v)?)
        };
        Ok(Self {
            database_url: text("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aicp"),
            redis_url: text("REDIS_URL", "redis://127.0.0.1:6379"),
            host: text("HOST", "0.0.0.0"),
            port,
            cors_origins,
            log_level: text("LOG_LEVEL", "info"),
            log_json,
            body_limit: positive("BODY_LIMIT_BYTES", 10 * 1024 * 1024)?,
            body_timeout: Duration::from_secs(
                u64::try_from(positive("BODY_TIMEOUT_SECS", 30)?).unwrap_or(u64::MAX),
            ),
            db_pool_size: positive("DB_POOL_SIZE", 16)?,
            db_timeout: Duration::from_millis(num("DB_TIMEOUT_MS", 5000)?),
            redis_timeout: Duration::from_millis(num("REDIS_TIMEOUT_MS", 50)?),
            ingest_writers: positive("INGEST_WRITERS", 2)?,
            ingest_queue: positive("INGEST_QUEUE", 1024)?,
            ingest_max_rows_per_commit: positive("INGEST_MAX_ROWS_PER_COMMIT", 4000)?,
            fold: aicp_domain::rollups::FoldPolicy {
                interval: Duration::from_millis(num("ROLLUP_FOLD_INTERVAL_MS", 200)?),
                max_events: u32::try_from(positive("ROLLUP_FOLD_BATCH", 20_000)?)
                    .context("ROLLUP_FOLD_BATCH is too large")?,
                ..aicp_domain::rollups::FoldPolicy::default()
            },
            export_max_rows: Some(num("EXPORT_MAX_ROWS", 0)?).filter(|n| *n > 0),
            otlp_feature_attribute: text(
                "OTLP_FEATURE_ATTRIBUTE",
                aicp_domain::otlp::DEFAULT_FEATURE_ATTRIBUTE,
            )
            .trim()
            .to_owned(),
            metrics_addr: get("METRICS_ADDR")
                .map(|a| a.trim().to_owned())
                .filter(|a| !a.is_empty()),
            prompt_storage: match text("PROMPT_STORAGE", "fingerprint").as_str() {
                "fingerprint" | "none" => aicp_domain::PromptStorage::Fingerprint,
                "preview" => {
                    aicp_domain::PromptStorage::Preview(positive("PROMPT_PREVIEW_CHARS", 200)?)
                }
                "full" => aicp_domain::PromptStorage::Full,
                other => {
                    bail!("PROMPT_STORAGE must be fingerprint, preview or full, got {other:?}")
                }
            },
            embeddings: match get("EMBEDDINGS_URL").filter(|u| !u.trim().is_empty()) {
                None => None,
                Some(url) => {
                    let url = url.trim().trim_end_matches('/').to_owned();
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        bail!("EMBEDDINGS_URL must be an http(s) URL, got {url:?}");
                    }
                    Some(EmbeddingsConfig {
                        url,
                        model: text("EMBEDDINGS_MODEL", "text-embedding-3-small"),
                        api_key: get("EMBEDDINGS_API_KEY")
                            .filter(|k| !k.trim().is_empty())
                            .map(SecretString::from),
                        dimensions: match get("EMBEDDINGS_DIMENSIONS")
                            .filter(|d| !d.trim().is_empty())
                        {
                            None => None,
                            Some(_) => Some(
                                u32::try_from(positive("EMBEDDINGS_DIMENSIONS", 1)?)
                                    .context("EMBEDDINGS_DIMENSIONS is too large")?,
                            ),
                        },
                        timeout: Duration::from_millis(
                            positive("EMBEDDINGS_TIMEOUT_MS", 10_000)? as u64
                        ),
                        batch: positive("EMBEDDINGS_BATCH", 64)?,
                        queue: positive("EMBEDDINGS_QUEUE", 10_000)?,
                        max_chars: positive("EMBEDDINGS_MAX_CHARS", 16_000)?,
                    })
                }
            },
            live_max_per_project: positive("LIVE_MAX_PER_PROJECT", 20)?,
            live_max_clients: positive("LIVE_MAX_CLIENTS", 1000)?,
            live_keepalive: Duration::from_secs(positive("LIVE_KEEPALIVE_SECS", 15)? as u64),
            live_buffer: positive("LIVE_BUFFER", 256)?,
            api_keys: get("API_KEYS")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(|k| SecretString::from(k.to_owned()))
                .collect(),
            key_pepper_is_default: get("KEY_PEPPER").filter(|p| !p.is_empty()).is_none(),
            key_pepper: SecretString::from(text("KEY_PEPPER", DEV_PEPPER)),
            admin_key: get("ADMIN_KEY").filter(|k| !k.trim().is_empty()).map(SecretString::from),
            trusted_proxies: get("TRUSTED_PROXIES")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse()
                        .with_context(|| format!("TRUSTED_PROXIES: {p:?} is not an IP address"))
                })
                .collect::<anyhow::Result<_>>()?,
            rate_limit: match text("RATE_LIMIT", "on").as_str() {
                "on" => true,
                "off" => false,
                other => bail!("RATE_LIMIT must be on or off, got {other:?}"),
            },
            rate_limits: (
                limit("RATE_LIMIT_EVENTS", 5000)?,
                limit("RATE_LIMIT_ANALYTICS", 1000)?,
                limit("RATE_LIMIT_EXPORT", 10)?,
            ),
            rate_bursts: (
                limit("RATE_LIMIT_BURST_EVENTS", u64::from(limit("RATE_LIMIT_EVENTS", 5000)?))?,
                limit(
                    "RATE_LIMIT_BURST_ANALYTICS",
                    u64::from(limit("RATE_LIMIT_ANALYTICS", 1000)?),
                )?,
                limit("RATE_LIMIT_BURST_EXPORT", u64::from(limit("RATE_LIMIT_EXPORT", 10)?))?,
            ),
            redis_prefix: text("REDIS_KEY_PREFIX", "aicp:"),
            workers: positive("WORKERS", cpus as u64)?,
            shutdown_timeout: Duration::from_secs(num("SHUTDOWN_TIMEOUT_SECS", 30)?),
            budget_eval_interval: Duration::from_secs(
                positive("BUDGET_EVAL_INTERVAL_SECS", 60)? as u64
            ),
            webhook_poll: Duration::from_millis(positive("WEBHOOK_POLL_MS", 1000)? as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use super::*;

    fn with(vars: &[(&str, &str)]) -> anyhow::Result<Config> {
        let map: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_original_dashboard_and_sdk() {
        let c = with(&[]).unwrap();
        assert_eq!(c.port, 3100);
        assert_eq!(c.body_limit, 10 * 1024 * 1024);
        assert_eq!(c.cors_origins, Some(vec!["http://localhost:3000".to_owned()]));
    }

    #[test]
    fn cors_origin_takes_a_list_or_a_wildcard() {
        let c = with(&[("CORS_ORIGIN", "https://a.example, https://b.example/")]).unwrap();
        assert_eq!(
            c.cors_origins,
            Some(vec!["https://a.example".to_owned(), "https://b.example".to_owned()])
        );
        assert_eq!(with(&[("CORS_ORIGIN", "*")]).unwrap().cors_origins, None);
    }

    #[test]
    fn a_malformed_variable_is_a_clear_start_up_error() {
        let err = with(&[("PORT", "eighty")]).unwrap_err().to_string();
        assert!(err.contains("PORT"), "{err}");
        assert!(with(&[("PORT", "70000")]).is_err());
        assert!(with(&[("INGEST_WRITERS", "0")]).is_err());
        assert!(with(&[("LOG_FORMAT", "xml")]).is_err());
    }

    #[test]
    fn embeddings_are_off_by_default_and_read_whole_when_on() {
        assert!(with(&[]).unwrap().embeddings.is_none());
        assert!(with(&[("EMBEDDINGS_URL", "  ")]).unwrap().embeddings.is_none());
        let c = with(&[
            ("EMBEDDINGS_URL", "https://api.example.com/v1/"),
            ("EMBEDDINGS_API_KEY", "sk-x"),
            ("EMBEDDINGS_DIMENSIONS", "256"),
            ("EMBEDDINGS_BATCH", "8"),
        ])
        .unwrap()
        .embeddings
        .unwrap();
        assert_eq!(c.url, "https://api.example.com/v1");
        assert_eq!(c.model, "text-embedding-3-small");
        assert_eq!(c.dimensions, Some(256));
        assert_eq!((c.batch, c.queue, c.max_chars), (8, 10_000, 16_000));
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert!(c.api_key.is_some());
        let d = with(&[("EMBEDDINGS_URL", "http://127.0.0.1:11434/v1")]).unwrap().embeddings;
        assert!(d.is_some_and(|d| d.api_key.is_none() && d.dimensions.is_none()));
    }

    #[test]
    fn the_otlp_feature_attribute_and_metrics_address_have_documented_defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(c.otlp_feature_attribute, "aicp.feature");
        assert_eq!(c.metrics_addr, None);
        let c = with(&[
            ("OTLP_FEATURE_ATTRIBUTE", " app.feature "),
            ("METRICS_ADDR", "127.0.0.1:9464"),
        ])
        .unwrap();
        assert_eq!(c.otlp_feature_attribute, "app.feature");
        assert_eq!(c.metrics_addr.as_deref(), Some("127.0.0.1:9464"));
    }

    #[test]
    fn bad_embeddings_settings_are_start_up_errors() {
        let url = ("EMBEDDINGS_URL", "https://api.example.com/v1");
        assert!(with(&[("EMBEDDINGS_URL", "api.example.com")]).is_err());
        assert!(with(&[url, ("EMBEDDINGS_DIMENSIONS", "0")]).is_err());
        assert!(with(&[url, ("EMBEDDINGS_DIMENSIONS", "many")]).is_err());
        assert!(with(&[url, ("EMBEDDINGS_BATCH", "0")]).is_err());
        assert!(with(&[url, ("EMBEDDINGS_DIMENSIONS", "99999999999")]).is_err());
    }
}

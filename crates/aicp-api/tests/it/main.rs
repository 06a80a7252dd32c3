//! API tests: the real application (routes + middleware) in-process, over the real PostgreSQL
//! and Redis, with mockall fakes only where infrastructure cannot easily fail on demand.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

mod analytics;
mod anomalies;
mod browser;
mod budgets;
mod client;
mod dashboard;
mod dashboard_access;
mod errors;
mod export;
mod fold;
mod guard;
mod gzip;
mod health;
mod ingest;
mod live;
mod metrics;
mod otlp;
mod pricing;
mod process;
mod prompts;
mod semantic;
mod served;
mod support;
mod templates;
mod webhooks;

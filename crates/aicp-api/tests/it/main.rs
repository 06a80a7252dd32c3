//! API tests: the real application (routes + middleware) in-process, over the real PostgreSQL
//! and Redis, with mockall fakes only where infrastructure cannot easily fail on demand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod analytics;
mod errors;
mod export;
mod guard;
mod health;
mod ingest;
mod live;
mod pricing;
mod process;
mod prompts;
mod semantic;
mod support;
mod templates;

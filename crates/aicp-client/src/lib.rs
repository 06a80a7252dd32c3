//! Rust SDK of AI Cost Profiler (`aicp`): record one event per LLM call and let a background task
//! deliver them.
//!
//! - [`Client::record`] never blocks on the network and never fails: events go to a bounded
//!   buffer; when it is full the oldest event is dropped and counted ([`Stats::dropped`]).
//! - A background tokio task sends batches of up to [`ClientBuilder::batch_size`] events when a
//!   batch is full or every [`ClientBuilder::flush_interval`], gzip-compressed.
//! - Failed sends (connection errors, timeouts, 429, 5xx) are retried with exponential backoff and
//!   jitter, honouring `Retry-After`. Re-sending is safe: the server stores an event once per
//!   (project, traceId, spanId).
//! - A `400` naming bad events (the server's `details[].path`, `events.N.field`) drops those events
//!   ([`Stats::rejected`]) and sends the rest again: one bad event never poisons its batch.
//! - [`Client::flush`] waits until everything recorded so far was delivered or given up;
//!   [`Client::shutdown`] flushes and stops the task (dropping the client asks the task to flush
//!   and stop on its own).
//! - [`Event::from_openai_usage`] and [`Event::from_anthropic_usage`] build events from the
//!   providers' usage numbers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), aicp_client::BuildError> {
//! use aicp_client::{Client, Event, OpenAiUsage};
//! let client = Client::builder("http://localhost:3100").api_key("aicp_…").build()?;
//! let usage = OpenAiUsage { prompt_tokens: 1200, completion_tokens: 300, ..OpenAiUsage::default() };
//! client.record(Event::from_openai_usage("chat", "gpt-4o", &usage).latency_ms(812));
//! client.shutdown().await;
//! # Ok(()) }
//! ```

mod client;
mod event;
mod send;

pub use client::{BuildError, Client, ClientBuilder, Stats};
pub use event::{AnthropicUsage, Event, OpenAiUsage};

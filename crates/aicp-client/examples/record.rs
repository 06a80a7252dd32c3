//! Records a few LLM calls with `aicp-client` and prints what was delivered.
//!
//! ```sh
//! cargo run --release --bin aicp &        # a server on :3100
//! cargo run -p aicp-client --example record -- http://localhost:3100 [API_KEY] [COUNT]
//! ```
#![expect(clippy::print_stderr, reason = "an example prints its result")]

use aicp_client::{AnthropicUsage, Client, Event, OpenAiUsage};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args.next().unwrap_or_else(|| "http://localhost:3100".to_owned());
    let key = args.next().filter(|k| !k.is_empty());
    let count: u32 = args.next().map(|n| n.parse()).transpose()?.unwrap_or(10);

    let mut builder = Client::builder(&endpoint);
    if let Some(key) = key {
        builder = builder.api_key(key);
    }
    let client = builder.build()?;
    for i in 0..count {
        // What an application does right after its LLM call returned.
        let event = if i % 2 == 0 {
            let usage = OpenAiUsage {
                prompt_tokens: 1200 + i,
                completion_tokens: 300,
                cached_tokens: 1024,
                reasoning_tokens: 0,
            };
            Event::from_openai_usage("example-chat", "gpt-4o", &usage)
        } else {
            let usage = AnthropicUsage {
                input_tokens: 800,
                output_tokens: 250 + i,
                cache_read_input_tokens: 2000,
                cache_creation_input_tokens: 0,
            };
            Event::from_anthropic_usage("example-summarise", "claude-sonnet-4-5", &usage)
        };
        client.record(event.latency_ms(500 + i * 10).user("example-user"));
    }
    client.shutdown().await;
    let stats = client.stats();
    eprintln!(
        "recorded {} · sent {} · rejected {} · failed {} · dropped {} · retries {}",
        stats.recorded, stats.sent, stats.rejected, stats.failed, stats.dropped, stats.retries
    );
    if stats.sent == u64::from(count) {
        Ok(())
    } else {
        Err("not every event was delivered".into())
    }
}

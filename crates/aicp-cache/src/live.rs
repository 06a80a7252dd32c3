//! [`RedisLiveHub`]: the live cost stream across server processes.
//!
//! One Redis subscription per process (never one per client) feeds an in-process broadcast that
//! every SSE client of the process follows. Updates are published to Redis after the commit, so
//! every process behind a load balancer delivers each update to its own clients exactly once.
//! When Redis cannot take a publish, the update is delivered to this process's clients directly
//! (degraded, not lost locally); the subscriber reconnects and re-subscribes by itself.

use std::sync::Arc;
use std::time::Duration;

use aicp_domain::live::{CostPublisher, CostUpdate, LiveFeed, LiveMessage, LiveStream};
use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use crate::pool::RedisPool;

/// The hub of one process.
pub struct RedisLiveHub {
    pool: RedisPool,
    client: redis::Client,
    channel: String,
    timeout: Duration,
    tx: broadcast::Sender<CostUpdate>,
}

impl RedisLiveHub {
    /// A hub on `url` (its own subscriber connection) and `pool` (publishes), using the channel
    /// `{prefix}costs`; each follower may fall `capacity` updates behind before it is dropped.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn new(
        url: &str,
        pool: RedisPool,
        prefix: &str,
        timeout: Duration,
        capacity: usize,
    ) -> anyhow::Result<Arc<Self>> {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Ok(Arc::new(Self {
            pool,
            client: redis::Client::open(url)?,
            channel: format!("{prefix}costs"),
            timeout,
            tx,
        }))
    }

    /// Runs the subscription until the process stops: connect, subscribe, forward; on any
    /// failure wait (up to 2 s) and start again.
    pub fn spawn_subscriber(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match hub.subscribe_once().await {
                    Ok(()) => tracing::warn!("live stream subscription ended; re-subscribing"),
                    Err(e) => {
                        tracing::debug!(error = %e, "live stream subscription failed; retrying")
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        })
    }

    async fn subscribe_once(&self) -> anyhow::Result<()> {
        let mut pubsub =
            tokio::time::timeout(self.timeout * 20, self.client.get_async_pubsub()).await??;
        pubsub.subscribe(&self.channel).await?;
        tracing::info!(channel = %self.channel, "subscribed to the live stream");
        let mut messages = pubsub.on_message();
        while let Some(msg) = messages.next().await {
            let Ok(payload) = msg.get_payload::<String>() else { continue };
            match serde_json::from_str::<CostUpdate>(&payload) {
                // No follower is fine: nobody is watching.
                Ok(update) => {
                    let _ = self.tx.send(update);
                }
                Err(e) => tracing::warn!(error = %e, "ignoring a malformed live update"),
            }
        }
        Ok(())
    }

    /// Followers of this process.
    pub fn followers(&self) -> usize {
        self.tx.receiver_count()
    }
}

#[async_trait]
impl CostPublisher for RedisLiveHub {
    async fn publish(&self, update: CostUpdate) {
        let Ok(payload) = serde_json::to_string(&update) else { return };
        let publish = async {
            let mut conn = self.pool.get().await.map_err(|e| anyhow::anyhow!("{e}"))?;
            redis::cmd("PUBLISH")
                .arg(&self.channel)
                .arg(&payload)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(anyhow::Error::from)
        };
        match tokio::time::timeout(self.timeout, publish).await {
            Ok(Ok(_)) => {}
            outcome => {
                let error = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::debug!(error, "live update not published to Redis; delivering locally");
                let _ = self.tx.send(update);
            }
        }
    }
}

impl LiveFeed for RedisLiveHub {
    fn follow(&self) -> LiveStream {
        let rx = self.tx.subscribe();
        futures_util::stream::unfold(Some(rx), |rx| async move {
            let mut rx = rx?;
            match rx.recv().await {
                Ok(update) => Some((LiveMessage::Update(update), Some(rx))),
                // Fell behind: say so once, then end.
                Err(broadcast::error::RecvError::Lagged(_)) => Some((LiveMessage::Lagged, None)),
                Err(broadcast::error::RecvError::Closed) => None,
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use aicp_domain::Usd;
    use rust_decimal::Decimal;

    use super::*;

    fn update(n: u64) -> CostUpdate {
        CostUpdate {
            project: "p".into(),
            cost_delta: Usd::new(Decimal::from_str("0.5").unwrap_or_default()),
            requests_delta: n,
            tokens_delta: 0,
            features: vec![],
            timestamp: chrono::DateTime::default(),
        }
    }

    fn dead_hub(capacity: usize) -> Arc<RedisLiveHub> {
        let pool = crate::build_pool("redis://127.0.0.1:1", Duration::from_millis(50)).unwrap();
        RedisLiveHub::new("redis://127.0.0.1:1", pool, "t:", Duration::from_millis(50), capacity)
            .unwrap()
    }

    #[tokio::test]
    async fn without_redis_updates_are_delivered_to_this_process() {
        let hub = dead_hub(8);
        let mut follower = hub.follow();
        hub.publish(update(1)).await;
        assert_eq!(follower.next().await, Some(LiveMessage::Update(update(1))));
    }

    #[tokio::test]
    async fn a_follower_that_falls_behind_is_told_once_and_dropped() {
        let hub = dead_hub(4);
        let mut slow = hub.follow();
        for n in 0..10 {
            hub.publish(update(n)).await;
        }
        assert_eq!(slow.next().await, Some(LiveMessage::Lagged));
        assert_eq!(slow.next().await, None, "the stream ends instead of buffering");
        assert_eq!(hub.followers(), 0, "its receiver is released");
    }
}

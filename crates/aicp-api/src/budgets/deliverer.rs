//! The webhook deliverer: takes due deliveries from the durable outbox, POSTs each alert signed
//! with its webhook's secret, and marks it delivered only after a 2xx; anything else is retried
//! with exponential backoff. Claims are leased, so a deliverer that dies mid-send (or a server
//! that is killed) leaves them due again for the next one: delivery is at-least-once, and the
//! `Idempotency-Key` header (the alert id) lets a receiver drop repeats.

use std::sync::Arc;
use std::time::Duration;

use aicp_domain::Clock;
use aicp_domain::alerts::{Delivery, backoff, signature_header};
use aicp_domain::ports::{AlertRepository, RepoError};

/// How the deliverer paces itself.
#[derive(Debug, Clone)]
pub struct DelivererSettings {
    /// Pause between outbox polls when nothing was due.
    pub poll: Duration,
    /// Most deliveries claimed per poll.
    pub batch: usize,
    /// How long a claim lasts before another deliverer may take it (longer than `timeout`).
    pub lease: Duration,
    /// Longest wait for a receiver's answer.
    pub timeout: Duration,
    /// Wait after the first failure (doubling after each next one)…
    pub backoff_base: Duration,
    /// …up to this.
    pub backoff_max: Duration,
}

impl Default for DelivererSettings {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            batch: 32,
            lease: Duration::from_secs(60),
            timeout: Duration::from_secs(10),
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
        }
    }
}

/// Sends outbox deliveries.
pub struct Deliverer {
    alerts: Arc<dyn AlertRepository>,
    client: reqwest::Client,
    clock: Arc<dyn Clock>,
    settings: DelivererSettings,
}

/// What happened to one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It did not; the delivery is due again later.
    Failed,
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

impl Deliverer {
    /// A deliverer over the outbox.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS roots).
    pub fn new(
        alerts: Arc<dyn AlertRepository>,
        clock: Arc<dyn Clock>,
        settings: DelivererSettings,
    ) -> anyhow::Result<Self> {
        // No redirects: a receiver's URL is where alerts go, not a pointer to somewhere else.
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("aicp-webhooks/1")
            .build()?;
        Ok(Self { alerts, client, clock, settings })
    }

    /// Runs until the task is aborted.
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                match self.run_once().await {
                    Ok(outcomes) if !outcomes.is_empty() => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhook outbox unavailable"),
                }
                tokio::time::sleep(self.settings.poll).await;
            }
        })
    }

    /// Claims the due deliveries once and sends them (concurrently); returns what happened to
    /// each.
    ///
    /// # Errors
    /// [`RepoError`] when the outbox cannot be read; a failure to record an outcome is logged
    /// (the lease makes the delivery due again, so it is sent again: at-least-once).
    pub async fn run_once(&self) -> Result<Vec<Outcome>, RepoError> {
        let now = self.clock.now();
        let due = self
            .alerts
            .claim_due(now, now + chrono(self.settings.lease), self.settings.batch)
            .await?;
        let sends = due.iter().map(|d| self.deliver(d));
        Ok(futures_util::future::join_all(sends).await)
    }

    async fn deliver(&self, d: &Delivery) -> Outcome {
        let body = d.alert.envelope().to_string().into_bytes();
        let now = self.clock.now();
        let result = self
            .client
            .post(&d.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Aicp-Signature", signature_header(&d.secret, now.timestamp(), &body))
            .header("X-Aicp-Event", d.alert.kind.as_str())
            .header("Idempotency-Key", d.alert.id.to_string())
            .header("X-Aicp-Delivery-Attempt", (d.attempts + 1).to_string())
            .body(body)
            .send()
            .await;
        let error = match result {
            Ok(res) if res.status().is_success() => None,
            Ok(res) => Some(format!("receiver answered {}", res.status())),
            Err(e) => Some(format!("request failed: {e}")),
        };
        match error {
            None => {
                if let Err(e) = self.alerts.delivered(d).await {
                    tracing::warn!(error = %e, alert = %d.alert.id, "could not mark a delivery delivered; it will be sent again");
                }
                Outcome::Delivered
            }
            Some(error) => {
                let wait = backoff(
                    d.attempts + 1,
                    chrono(self.settings.backoff_base),
                    chrono(self.settings.backoff_max),
                );
                tracing::info!(alert = %d.alert.id, webhook = %d.webhook_id, %error, "webhook delivery failed; will retry");
                if let Err(e) = self.alerts.failed(d, &error, now + wait).await {
                    tracing::warn!(error = %e, alert = %d.alert.id, "could not record a failed delivery");
                }
                Outcome::Failed
            }
        }
    }
}

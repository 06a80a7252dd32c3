//! Alerts: what is raised (a budget threshold reached, later forecasts and anomalies), the
//! webhook receivers they go to, and how a delivery is signed and retried. Storage is behind
//! [`crate::ports::AlertRepository`]; the HTTP sending is the API crate's deliverer.

mod signature;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

pub use signature::{SignatureError, sign, signature_header, verify};

/// What kind of event an alert reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A budget's spend reached one of its thresholds in the current period.
    BudgetThreshold,
    /// A budget's forecast says its amount will be exceeded before the period ends (once per
    /// period, while the spend is still below the amount).
    BudgetForecast,
    /// A cost anomaly was found (once per feature or model and start hour).
    AnomalyOpened,
}

impl AlertKind {
    /// The wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::BudgetThreshold => "budget.threshold",
            AlertKind::BudgetForecast => "budget.forecast_exceeds",
            AlertKind::AnomalyOpened => "anomaly.opened",
        }
    }
}

/// An alert to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    /// Its id (also the deliveries' idempotency key).
    pub id: Uuid,
    /// Its kind.
    pub kind: AlertKind,
    /// Identifies the occurrence: an alert with a key the project already has is not raised
    /// again (a threshold: budget, period start and percent).
    pub dedupe_key: String,
    /// The budget it is about, if any.
    pub budget_id: Option<Uuid>,
    /// The period it is about, if any.
    pub period_start: Option<DateTime<Utc>>,
    /// The threshold reached, if any.
    pub threshold_pct: Option<u32>,
    /// The JSON sent to webhooks (`data` of the envelope).
    pub payload: serde_json::Value,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Its id.
    pub id: Uuid,
    /// `budget.threshold`, …
    pub kind: String,
    /// The budget it is about, if any.
    pub budget_id: Option<Uuid>,
    /// The period it is about, if any.
    pub period_start: Option<DateTime<Utc>>,
    /// The threshold reached, if any.
    pub threshold_pct: Option<u32>,
    /// What was sent.
    pub payload: serde_json::Value,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
}

impl Alert {
    /// The body POSTed to webhooks: `{"id", "type", "createdAt", "data"}`.
    pub fn envelope(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "type": self.kind,
            "createdAt": self.created_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "data": self.payload,
        })
    }
}

/// A webhook receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: Uuid,
    /// Where alerts are POSTed.
    pub url: String,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// One pending delivery of an alert to a webhook, with what is needed to send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// The project.
    pub project: crate::ProjectId,
    /// The alert.
    pub alert: Alert,
    /// The receiver.
    pub webhook_id: Uuid,
    /// Its URL.
    pub url: String,
    /// Its signing secret.
    pub secret: String,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How long to wait after the `attempts`-th failed attempt: doubling from `base`, at most `max`.
pub fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    let factor = 2_i32.checked_pow(attempts.saturating_sub(1).min(30)).unwrap_or(i32::MAX);
    base.checked_mul(factor).map_or(max, |d| d.min(max))
}

/// Checks a webhook URL: absolute `http` or `https`, at most 2048 characters.
///
/// # Errors
/// A message saying what is wrong.
pub fn check_webhook_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://"));
    match rest {
        _ if url.len() > 2048 => Err("url must be at most 2048 characters".into()),
        _ if url.chars().any(|c| c.is_control() || c == ' ') => {
            Err("url must not contain spaces or control characters".into())
        }
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => Err("url must be an absolute http:// or https:// URL".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let (base, max) = (Duration::seconds(2), Duration::seconds(60));
        let waits: Vec<i64> = (1..=7).map(|a| backoff(a, base, max).num_seconds()).collect();
        assert_eq!(waits, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(1000, base, max), max);
    }

    #[test]
    fn webhook_urls_must_be_absolute_http() {
        assert!(check_webhook_url("https://hooks.example.com/aicp").is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/x").is_ok());
        for bad in ["ftp://x", "https://", "/relative", "https://a b", "javascript:alert(1)"] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
    }
}

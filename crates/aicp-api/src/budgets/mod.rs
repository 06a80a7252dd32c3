//! Budgets and alerts in the server: the handles the routes use, the webhook deliverer and the
//! `aicp budgets` command (the periodic evaluator is started by `server.rs`).

pub mod cli;
pub mod deliverer;

use aicp_domain::budgets::BudgetService;
use aicp_domain::ports::{AlertRepository, WebhookRepository};
use std::sync::Arc;

/// What the budget, webhook and alert routes reach.
pub struct Budgets {
    /// Budget use cases.
    pub service: BudgetService,
    /// Alerts and the outbox.
    pub alerts: Arc<dyn AlertRepository>,
    /// Webhook receivers.
    pub webhooks: Arc<dyn WebhookRepository>,
    /// Cost anomaly scans.
    pub anomalies: aicp_domain::anomalies::AnomalyService,
}

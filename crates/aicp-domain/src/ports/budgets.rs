//! Stores of budgets, alerts (with their webhook outbox) and webhooks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::alerts::{Alert, Delivery, NewAlert, Webhook};
use crate::budgets::{Budget, BudgetSpec};
use crate::ports::error::RepoError;
use crate::project::ProjectId;

/// Budget definitions, always scoped to one project.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BudgetRepository: Send + Sync {
    /// Stores a new budget and returns it.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn create(&self, project: &ProjectId, spec: &BudgetSpec) -> Result<Budget, RepoError>;

    /// The project's budgets, oldest first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn list(&self, project: &ProjectId) -> Result<Vec<Budget>, RepoError>;

    /// One budget of the project; `None` when the project has no budget with that id.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn get(&self, project: &ProjectId, id: Uuid) -> Result<Option<Budget>, RepoError>;

    /// Replaces a budget's definition; `None` when the project has no budget with that id.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn update(
        &self,
        project: &ProjectId,
        id: Uuid,
        spec: &BudgetSpec,
    ) -> Result<Option<Budget>, RepoError>;

    /// Deletes a budget; `false` when the project has no budget with that id.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn delete(&self, project: &ProjectId, id: Uuid) -> Result<bool, RepoError>;

    /// Every project that has at least one budget (for the periodic evaluator).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn projects(&self) -> Result<Vec<ProjectId>, RepoError>;
}

/// Alerts and their durable webhook outbox.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AlertRepository: Send + Sync {
    /// Stores `alert` unless the project already has one with its dedupe key, and — in the same
    /// statement — one pending delivery per webhook of the project. Returns whether it was new.
    /// Safe to call from several processes at once: exactly one of them gets `true`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached (nothing was stored).
    async fn raise(&self, project: &ProjectId, alert: &NewAlert) -> Result<bool, RepoError>;

    /// The project's alerts, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn list(&self, project: &ProjectId, limit: usize) -> Result<Vec<Alert>, RepoError>;

    /// Claims at most `limit` undelivered deliveries that are due at `now` (any project), and
    /// makes them due again only at `lease_until`, so that a deliverer that dies while sending
    /// leaves them to be retried and concurrent deliverers do not send the same one at once.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Delivery>, RepoError>;

    /// Marks a delivery delivered (after a 2xx); it is never sent again.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn delivered(&self, delivery: &Delivery) -> Result<(), RepoError>;

    /// Records a failed attempt and when to try again.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn failed(
        &self,
        delivery: &Delivery,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<(), RepoError>;
}

/// Webhook receivers, scoped to one project.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Registers a receiver.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn create(
        &self,
        project: &ProjectId,
        url: &str,
        secret: &str,
    ) -> Result<Webhook, RepoError>;

    /// The project's receivers (their secrets are not read).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn list(&self, project: &ProjectId) -> Result<Vec<Webhook>, RepoError>;

    /// Removes a receiver and its pending deliveries; `false` when the project has none with
    /// that id.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn delete(&self, project: &ProjectId, id: Uuid) -> Result<bool, RepoError>;
}

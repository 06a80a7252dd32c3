//! Aggregate reads of stored events (rollups and raw rows).

use async_trait::async_trait;
use chrono_tz::Tz;

use crate::analytics::{
    BloatRow, BreakdownRow, CostPoint, Cursor, FeatureModelCost, Filter, Granularity, GroupBy,
    SpanRow, Totals, WindowStats,
};
use crate::event::StoredEvent;
use crate::ports::error::RepoError;
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// Aggregate questions about stored events, answered from rollups where they can be and from raw
/// rows otherwise. Every method is scoped to one project; windows are inclusive.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AnalyticsRepository: Send + Sync {
    /// Cost, tokens, calls and latency by `group_by`, most expensive first, at most `limit`
    /// groups (groups without a value, e.g. calls without a user, are left out).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn breakdown(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        group_by: GroupBy,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<BreakdownRow>, RepoError>;

    /// Cost per (feature, model), at most `limit` pairs (most expensive first).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn feature_model_costs(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<FeatureModelCost>, RepoError>;

    /// Cost and calls per bucket (bucket starts in `tz`), ascending; empty buckets are absent.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn timeseries(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        granularity: Granularity,
        tz: Tz,
        filter: &Filter,
    ) -> Result<Vec<CostPoint>, RepoError>;

    /// Totals, waste and latency histogram of a window.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn window_stats(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<WindowStats, RepoError>;

    /// Up to `limit` events, newest first (created_at DESC, id DESC), strictly after `after`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn events_page(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError>;

    /// The `limit` most expensive events of the window.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn top_calls(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError>;

    /// Every span of one trace.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn trace_spans(
        &self,
        project: &ProjectId,
        trace_id: &str,
    ) -> Result<Vec<StoredEvent>, RepoError>;

    /// Spans of the window for the call-path flamegraph, at most `limit`.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn spans(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<SpanRow>, RepoError>;

    /// The metadata-based prompt-bloat groups, at most `limit`: what
    /// `GET /api/v1/analytics/prompts` answers when no call of the window carries a prompt
    /// (docs/API.md).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn prompt_bloat(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        limit: usize,
    ) -> Result<Vec<BloatRow>, RepoError>;

    /// Lifetime totals of the project.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn totals(&self, project: &ProjectId) -> Result<Totals, RepoError>;
}

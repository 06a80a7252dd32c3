//! `AnalyticsService`: the read-side use cases behind the JSON API and the dashboard. Both call
//! these methods, so a page and the endpoint it mirrors cannot disagree: caps, previous windows,
//! bucket limits and tree building live here, once.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::analytics::query::bucket_starts;
use crate::analytics::summary::{Summary, summarize};
use crate::analytics::{
    BreakdownRow, CallPathNode, CostPoint, Cursor, Filter, FlameNode, Granularity, GroupBy, Totals,
    TraceNode, WindowStats, call_paths, feature_model_tree, trace_tree,
};
use crate::event::StoredEvent;
use crate::money::Usd;
use crate::ports::{AnalyticsRepository, RepoError};
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// Most groups of a cost breakdown.
pub const BREAKDOWN_MAX: usize = 500;
/// Most (feature, model) pairs in the flamegraph.
pub const FLAME_MAX: usize = 5000;
/// Most buckets of a time series (a year of hours); more is refused rather than cut.
pub const SERIES_MAX: usize = 9000;
/// Most spans aggregated by the call-path flamegraph.
pub const SPANS_MAX: usize = 200_000;
/// Most spans of one trace shown.
pub const TRACE_MAX: usize = 10_000;

/// A result that may have been cut at its maximum size (the API says so in a header, the
/// dashboard in a note).
#[derive(Debug, Clone, PartialEq)]
pub struct Capped<T> {
    /// What fits.
    pub value: T,
    /// Whether anything was left out.
    pub truncated: bool,
}

/// Cuts `rows` (fetched with one row more than `max`) to `max`.
fn capped<T>(mut rows: Vec<T>, max: usize) -> Capped<Vec<T>> {
    let truncated = rows.len() > max;
    rows.truncate(max);
    Capped { value: rows, truncated }
}

/// Why an analytics question was not answered.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The question is valid but too large to answer (a client error: ask a coarser one).
    #[error("The window has more than {max} {unit} buckets; use a coarser granularity")]
    TooManyBuckets {
        /// The limit.
        max: usize,
        /// The granularity's unit.
        unit: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// The summary of a window with the window it was compared with.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSummary {
    /// This window.
    pub window: TimeWindow,
    /// The window of the same length just before it.
    pub previous: TimeWindow,
    /// Figures, waste and changes.
    pub summary: Summary,
}

/// A page of events, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    /// The events.
    pub rows: Vec<StoredEvent>,
    /// Where the next page starts (`None` on the last page).
    pub next: Option<Cursor>,
}

/// One trace as a span tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// Spans shown.
    pub span_count: usize,
    /// Their total cost.
    pub total_cost: Usd,
    /// Root spans with their subtrees.
    pub roots: Vec<TraceNode>,
    /// Whether spans past [`TRACE_MAX`] were left out.
    pub truncated: bool,
}

/// One group of a breakdown with the full figures of its calls (latency percentiles, errors,
/// waste): what a dashboard table row shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionStats {
    /// The breakdown row (cost, tokens, calls).
    pub row: BreakdownRow,
    /// Everything else about the same calls.
    pub stats: WindowStats,
}

/// Cost per bucket split by the most expensive values of one dimension, the rest as "other":
/// every series has one amount per bucket, and per bucket the amounts add up exactly to the
/// bucket's total.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedSeries {
    /// Bucket starts, ascending (every bucket of the window).
    pub buckets: Vec<DateTime<Utc>>,
    /// `(name, cost per bucket)`, most expensive first; `other` last when anything remains.
    pub series: Vec<(String, Vec<Usd>)>,
    /// Total per bucket.
    pub totals: Vec<Usd>,
}

/// Name of the series holding everything outside the top values.
pub const OTHER: &str = "other";

/// A granularity that gives a readable number of buckets for `window`: hours up to two days,
/// days up to ~three months, weeks beyond.
pub fn granularity_for(window: &TimeWindow) -> Granularity {
    let length = window.to - window.from;
    if length <= Duration::days(2) {
        Granularity::Hour
    } else if length <= Duration::days(93) {
        Granularity::Day
    } else {
        Granularity::Week
    }
}

/// The window of the same length just before `window` (the summary's comparison).
/// Clamped at [`crate::window::earliest`], so that a window reaching back to year 1 still has a
/// previous window the store can read (an empty one).
pub fn previous_window(window: &TimeWindow) -> TimeWindow {
    let first = crate::window::earliest();
    let length = window.to - window.from;
    let back = |d: Duration| window.from.checked_sub_signed(d).map_or(first, |t| t.max(first));
    TimeWindow {
        from: back(length + Duration::microseconds(1)),
        to: back(Duration::microseconds(1)),
    }
}

/// `filter` narrowed to one value of `dimension`.
pub fn narrowed(filter: &Filter, dimension: GroupBy, value: &str) -> Filter {
    let mut f = filter.clone();
    let slot = match dimension {
        GroupBy::Feature => &mut f.feature,
        GroupBy::Model => &mut f.model,
        GroupBy::Provider => &mut f.provider,
        GroupBy::User => &mut f.user_id,
    };
    *slot = Some(value.to_owned());
    f
}

/// The read-side use cases over an [`AnalyticsRepository`].
#[derive(Clone)]
pub struct AnalyticsService {
    repo: Arc<dyn AnalyticsRepository>,
}

impl AnalyticsService {
    /// A service reading from `repo`.
    pub fn new(repo: Arc<dyn AnalyticsRepository>) -> Self {
        Self { repo }
    }

    /// Cost by `group_by`, most expensive first, at most `max` groups (the API shows
    /// [`BREAKDOWN_MAX`]; exports take more).
    ///
    /// # Errors
    /// The store's.
    pub async fn breakdown(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        group_by: GroupBy,
        filter: &Filter,
        max: usize,
    ) -> Result<Capped<Vec<BreakdownRow>>, RepoError> {
        let rows = self.repo.breakdown(project, window, group_by, filter, max + 1).await?;
        Ok(capped(rows, max))
    }

    /// The `limit` most expensive groups of `group_by`, each with the full figures of its calls
    /// (one aggregate per group, all at once: each is a rollup range read).
    ///
    /// # Errors
    /// The store's.
    pub async fn breakdown_stats(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        group_by: GroupBy,
        filter: &Filter,
        limit: usize,
    ) -> Result<Capped<Vec<DimensionStats>>, RepoError> {
        let rows = self.repo.breakdown(project, window, group_by, filter, limit + 1).await?;
        let Capped { value: rows, truncated } = capped(rows, limit);
        let stats = futures_util::future::try_join_all(rows.iter().map(|r| {
            let f = narrowed(filter, group_by, &r.dimension);
            async move { self.repo.window_stats(project, window, &f).await }
        }))
        .await?;
        let value =
            rows.into_iter().zip(stats).map(|(row, stats)| DimensionStats { row, stats }).collect();
        Ok(Capped { value, truncated })
    }

    /// The cost flamegraph `root → feature → model`.
    ///
    /// # Errors
    /// The store's.
    pub async fn flamegraph(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<Capped<FlameNode>, RepoError> {
        let rows = self.repo.feature_model_costs(project, window, filter, FLAME_MAX + 1).await?;
        let Capped { value, truncated } = capped(rows, FLAME_MAX);
        Ok(Capped { value: feature_model_tree(&value), truncated })
    }

    /// Cost per bucket, ascending; with `fill`, every bucket of the window (empty ones as 0).
    ///
    /// # Errors
    /// [`AnalyticsError::TooManyBuckets`] past [`SERIES_MAX`] buckets; the store's.
    pub async fn timeseries(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        granularity: Granularity,
        tz: Tz,
        filter: &Filter,
        fill: bool,
    ) -> Result<Vec<CostPoint>, AnalyticsError> {
        let starts = bucket_starts(window, granularity, tz, SERIES_MAX + 1);
        if starts.len() > SERIES_MAX {
            return Err(AnalyticsError::TooManyBuckets {
                max: SERIES_MAX,
                unit: granularity.unit(),
            });
        }
        let points = self.repo.timeseries(project, window, granularity, tz, filter).await?;
        if !fill {
            return Ok(points);
        }
        let mut by_start: HashMap<DateTime<Utc>, CostPoint> =
            points.into_iter().map(|p| (p.bucket, p)).collect();
        let mut filled: Vec<CostPoint> = starts
            .into_iter()
            .map(|t| {
                by_start.remove(&t).unwrap_or(CostPoint { bucket: t, cost: Usd::ZERO, requests: 0 })
            })
            .collect();
        // A bucket the generator did not predict (never expected) is kept, not dropped.
        filled.extend(by_start.into_values());
        filled.sort_by_key(|p| p.bucket);
        Ok(filled)
    }

    /// Cost per bucket of `window` split by the `top` most expensive values of `by` (and the
    /// rest as [`OTHER`]): one series query per value, each a rollup range read.
    ///
    /// # Errors
    /// [`AnalyticsError::TooManyBuckets`] past [`SERIES_MAX`] buckets; the store's.
    #[expect(clippy::too_many_arguments, reason = "one question with seven independent parts")]
    pub async fn stacked_series(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        granularity: Granularity,
        tz: Tz,
        filter: &Filter,
        by: GroupBy,
        top: usize,
    ) -> Result<StackedSeries, AnalyticsError> {
        let (total, leaders) = futures_util::try_join!(
            self.timeseries(project, window, granularity, tz, filter, true),
            async {
                self.repo.breakdown(project, window, by, filter, top).await.map_err(Into::into)
            },
        )?;
        let parts = futures_util::future::try_join_all(leaders.iter().map(|l| {
            let f = narrowed(filter, by, &l.dimension);
            async move { self.timeseries(project, window, granularity, tz, &f, true).await }
        }))
        .await?;
        let buckets: Vec<DateTime<Utc>> = total.iter().map(|p| p.bucket).collect();
        let totals: Vec<Usd> = total.iter().map(|p| p.cost).collect();
        let mut rest = totals.clone();
        let mut series = Vec::with_capacity(leaders.len() + 1);
        for (leader, points) in leaders.iter().zip(parts) {
            let by_bucket: HashMap<DateTime<Utc>, Usd> =
                points.into_iter().map(|p| (p.bucket, p.cost)).collect();
            let costs: Vec<Usd> =
                buckets.iter().map(|b| by_bucket.get(b).copied().unwrap_or(Usd::ZERO)).collect();
            for (r, c) in rest.iter_mut().zip(&costs) {
                *r = Usd::new(r.amount() - c.amount());
            }
            series.push((leader.dimension.clone(), costs));
        }
        if rest.iter().any(|r| *r != Usd::ZERO) {
            series.push((OTHER.to_owned(), rest));
        }
        Ok(StackedSeries { buckets, series, totals })
    }

    /// The summary of `window` against the window of the same length before it.
    ///
    /// # Errors
    /// The store's.
    pub async fn summary(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<WindowSummary, RepoError> {
        let previous = previous_window(window);
        let (now, before) = futures_util::try_join!(
            self.repo.window_stats(project, window, filter),
            self.repo.window_stats(project, &previous, filter),
        )?;
        Ok(WindowSummary { window: *window, previous, summary: summarize(&now, &before) })
    }

    /// Totals, waste and latency of one window (no comparison).
    ///
    /// # Errors
    /// The store's.
    pub async fn window_stats(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<WindowStats, RepoError> {
        self.repo.window_stats(project, window, filter).await
    }

    /// A page of at most `limit` events after `cursor`, newest first.
    ///
    /// # Errors
    /// The store's.
    pub async fn events_page(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<EventsPage, RepoError> {
        let mut rows = self.repo.events_page(project, window, filter, cursor, limit + 1).await?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = more
            .then(|| rows.last().map(|r| Cursor { created_at: r.created_at, id: r.id }))
            .flatten();
        Ok(EventsPage { rows, next })
    }

    /// The `limit` most expensive calls of the window.
    ///
    /// # Errors
    /// The store's.
    pub async fn top_calls(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, RepoError> {
        self.repo.top_calls(project, window, filter, limit).await
    }

    /// The span tree of one trace; `None` when the project has no span of it.
    ///
    /// # Errors
    /// The store's.
    pub async fn trace(
        &self,
        project: &ProjectId,
        trace_id: &str,
    ) -> Result<Option<Trace>, RepoError> {
        let spans = self.repo.trace_spans(project, trace_id).await?;
        let Capped { value: spans, truncated } = capped(spans, TRACE_MAX);
        if spans.is_empty() {
            return Ok(None);
        }
        Ok(Some(Trace {
            span_count: spans.len(),
            total_cost: spans.iter().map(|s| s.verified_cost).sum(),
            roots: trace_tree(&spans),
            truncated,
        }))
    }

    /// The call-path flamegraph of the window's traces.
    ///
    /// # Errors
    /// The store's.
    pub async fn call_paths(
        &self,
        project: &ProjectId,
        window: &TimeWindow,
        filter: &Filter,
    ) -> Result<Capped<CallPathNode>, RepoError> {
        let spans = self.repo.spans(project, window, filter, SPANS_MAX + 1).await?;
        let Capped { value, truncated } = capped(spans, SPANS_MAX);
        Ok(Capped { value: call_paths(&value), truncated })
    }

    /// Lifetime totals of the project.
    ///
    /// # Errors
    /// The store's.
    pub async fn totals(&self, project: &ProjectId) -> Result<Totals, RepoError> {
        self.repo.totals(project).await
    }
}

#[cfg(test)]
mod tests;

//! [`PgEventExporter`]: events streamed for exports in keyset batches.
//!
//! Why keyset batches rather than one cursor over a huge result: each batch is a short indexed
//! query on a pooled connection, so no connection or transaction stays open for the whole
//! download, a slow client holds nothing in the database, and when the client disconnects the
//! stream is dropped and no further batch is requested.

use aicp_domain::analytics::{Cursor, Filter};
use aicp_domain::{EventExporter, EventStream, ProjectId, RepoError, TimeWindow};
use futures_util::{StreamExt, TryStreamExt};

use crate::analytics::PgAnalyticsRepository;
use crate::pool::PgPool;

/// Rows fetched per query.
pub const EXPORT_BATCH: usize = 2000;

/// Exports on PostgreSQL.
pub struct PgEventExporter {
    pool: PgPool,
}

impl PgEventExporter {
    /// An exporter over `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

struct State {
    repo: PgAnalyticsRepository,
    project: ProjectId,
    window: TimeWindow,
    filter: Filter,
    after: Option<Cursor>,
    remaining: Option<u64>,
    done: bool,
}

impl EventExporter for PgEventExporter {
    fn stream(
        &self,
        project: ProjectId,
        window: TimeWindow,
        filter: Filter,
        max_rows: Option<u64>,
    ) -> EventStream {
        let state = State {
            repo: PgAnalyticsRepository::new(self.pool.clone()),
            project,
            window,
            filter,
            after: None,
            remaining: max_rows,
            done: false,
        };
        let batches = futures_util::stream::try_unfold(state, |mut st| async move {
            if st.done || st.remaining == Some(0) {
                return Ok::<_, RepoError>(None);
            }
            let size = st.remaining.map_or(EXPORT_BATCH, |r| {
                usize::try_from(r).unwrap_or(EXPORT_BATCH).min(EXPORT_BATCH)
            });
            let rows = st.repo.page(&st.project, &st.window, &st.filter, st.after, size).await?;
            st.done = rows.len() < size;
            st.after = rows.last().map(|r| Cursor { created_at: r.created_at, id: r.id });
            st.remaining = st.remaining.map(|r| r.saturating_sub(rows.len() as u64));
            if rows.is_empty() {
                return Ok(None);
            }
            Ok(Some((futures_util::stream::iter(rows.into_iter().map(Ok)), st)))
        });
        batches.try_flatten().boxed()
    }
}

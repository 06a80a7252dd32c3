//! Streaming stored events for exports.

use crate::analytics::Filter;
use crate::event::StoredEvent;
use crate::ports::error::RepoError;
use crate::project::ProjectId;
use crate::window::TimeWindow;

/// A stream of stored events, fetched in bounded batches as it is polled.
pub type EventStream = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<StoredEvent, RepoError>> + Send + 'static>,
>;

/// Streams events for exports: memory stays flat whatever the row count, and dropping the
/// stream (a client that disconnects) stops the database work after the batch in flight.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait EventExporter: Send + Sync {
    /// Events of `project` in `window` matching `filter`, newest first, at most `max_rows`.
    fn stream(
        &self,
        project: ProjectId,
        window: TimeWindow,
        filter: Filter,
        max_rows: Option<u64>,
    ) -> EventStream;
}

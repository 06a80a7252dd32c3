//! The live stream's process-wide state: this process's feed and the connection slots every
//! open stream holds (the routes in `routes/stream.rs` and the dashboard's live page use it).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aicp_domain::ProjectId;
use aicp_domain::live::LiveFeed;

use crate::error::ApiError;

/// The live stream's wiring and limits.
pub struct Live {
    /// This process's feed.
    pub feed: Arc<dyn LiveFeed>,
    /// Connection slots.
    pub slots: Arc<Slots>,
    /// Interval of `: keepalive` comments.
    pub keepalive: Duration,
    /// Becomes `true` when the server starts shutting down: every stream then says so and ends,
    /// instead of holding the graceful shutdown until its timeout.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

/// Connection caps, per project and in total.
#[derive(Debug)]
pub struct Slots {
    per_project: usize,
    total: usize,
    used: AtomicUsize,
    by_project: Mutex<HashMap<ProjectId, usize>>,
}

/// A taken slot, given back when dropped (the stream ends or the client disconnects).
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    project: ProjectId,
}

impl Slots {
    /// At most `per_project` streams per project and `total` in all.
    pub fn new(per_project: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            per_project,
            total,
            used: AtomicUsize::new(0),
            by_project: Mutex::default(),
        })
    }

    /// Takes a slot for `project`.
    ///
    /// # Errors
    /// 429 when the project is at its cap, 503 when the server is.
    pub fn acquire(self: &Arc<Self>, project: &ProjectId) -> Result<Slot, ApiError> {
        let mut by_project =
            self.by_project.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = by_project.get(project).copied().unwrap_or(0);
        if mine >= self.per_project {
            return Err(ApiError::TooManyStreams(self.per_project));
        }
        if self.used.load(Ordering::SeqCst) >= self.total {
            return Err(ApiError::StreamCapacity);
        }
        self.used.fetch_add(1, Ordering::SeqCst);
        by_project.insert(project.clone(), mine + 1);
        Ok(Slot { slots: Arc::clone(self), project: project.clone() })
    }

    /// Streams open now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_project =
            self.slots.by_project.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = by_project.get_mut(&self.project) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                by_project.remove(&self.project);
            }
        }
        self.slots.used.fetch_sub(1, Ordering::SeqCst);
    }
}

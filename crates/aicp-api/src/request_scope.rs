//! The id of the request a task is handling, as a task-local. Its own module so that the error
//! type (which puts the id in every body) and the request-id middleware (which sets it and renders
//! framework errors with that error type) depend on it instead of on each other.

tokio::task_local! {
    /// Set by the request-id middleware for the duration of the request.
    pub(crate) static CURRENT: String;
}

/// The id of the request being handled by this task, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

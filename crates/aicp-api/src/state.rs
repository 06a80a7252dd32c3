//! Shared application state: the use-case services and probes the handlers call.

use std::sync::Arc;

use aicp_domain::{Clock, DependencyProbe, IngestService};

/// What every handler can reach, built once by the composition root ([`crate::server`]) or by a
/// test with fakes.
pub struct AppState {
    /// The ingest use case.
    pub ingest: IngestService,
    /// PostgreSQL probe for `/health`.
    pub database: Arc<dyn DependencyProbe>,
    /// Redis probe for `/health`.
    pub redis: Arc<dyn DependencyProbe>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Largest request body in bytes.
    pub body_limit: usize,
}

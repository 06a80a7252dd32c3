//! Tenancy: every stored row belongs to exactly one project.

use std::fmt;

/// Identifier of the project that owns events. Taken from the request's credentials, never from
/// the request body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectId(String);

impl ProjectId {
    /// The project every event belongs to while authentication is disabled (as in the original).
    pub const DEFAULT: &'static str = "default";

    /// Wraps a project name. Names come from our own key store, so no validation happens here.
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The `default` project.
    pub fn default_project() -> Self {
        Self::new(Self::DEFAULT)
    }

    /// The name as stored in the database.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

//! Stored API keys (only digests and display forms).

use async_trait::async_trait;
use uuid::Uuid;

use crate::ports::error::RepoError;
use crate::project::ProjectId;

/// A stored key, as listed (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    /// Key id.
    pub id: Uuid,
    /// Owning project.
    pub project: String,
    /// Human label.
    pub name: String,
    /// Display form, e.g. `aicp_Ab3d…wxYz`.
    pub display: String,
    /// Creation time (RFC 3339).
    pub created_at: String,
    /// Revocation time, when revoked.
    pub revoked_at: Option<String>,
}

/// An active stored key: which key it is and the project it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveKey {
    /// Key id.
    pub id: Uuid,
    /// The project its requests act for.
    pub project: ProjectId,
}

/// Stored API keys.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The active (not revoked) key with this digest: its id and project.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn find(&self, digest: [u8; 32]) -> Result<Option<ActiveKey>, RepoError>;

    /// Whether any active key exists (then authentication is required).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn any_active(&self) -> Result<bool, RepoError>;

    /// Stores a new key of `project` (creating the project if needed).
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn create(
        &self,
        project: &ProjectId,
        name: &str,
        digest: [u8; 32],
        display: &str,
    ) -> Result<KeyInfo, RepoError>;

    /// Keys of `project`, newest first.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn list(&self, project: &ProjectId) -> Result<Vec<KeyInfo>, RepoError>;

    /// Revokes a key of `project`; `false` when there is no such active key.
    ///
    /// # Errors
    /// [`RepoError::Unavailable`] when the store cannot be reached.
    async fn revoke(&self, project: &ProjectId, id: Uuid) -> Result<bool, RepoError>;
}

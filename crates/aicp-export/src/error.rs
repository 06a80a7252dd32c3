//! Why an export stream stopped: the rows could not be read, or a row could not be encoded.

use std::error::Error as StdError;

/// An export stream's error. After yielding one, the stream ends: an export with a missing row
/// is corrupt, so the HTTP layer should abort the response rather than finish it.
#[derive(Debug, thiserror::Error)]
pub enum ExportError<E> {
    /// The row stream yielded an error (for example, the database query broke off).
    #[error("reading the rows to export failed")]
    Upstream(#[source] E),
    /// A row could not be encoded.
    #[error("encoding the export failed")]
    Encode(#[from] EncodeError),
}

impl<E> ExportError<E> {
    /// The upstream error, when that is what this is.
    pub fn upstream(&self) -> Option<&E> {
        match self {
            ExportError::Upstream(e) => Some(e),
            ExportError::Encode(_) => None,
        }
    }
}

/// A row could not be encoded. Does not happen with the row types of this crate (their fields
/// are strings, integers and JSON values); it exists so that an encoder failure is reported
/// rather than hidden.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct EncodeError {
    what: &'static str,
    #[source]
    source: Box<dyn StdError + Send + Sync>,
}

impl EncodeError {
    pub(crate) fn csv(source: impl StdError + Send + Sync + 'static) -> Self {
        Self { what: "CSV encoding failed", source: Box::new(source) }
    }

    pub(crate) fn json(source: serde_json::Error) -> Self {
        Self { what: "JSON encoding failed", source: Box::new(source) }
    }
}

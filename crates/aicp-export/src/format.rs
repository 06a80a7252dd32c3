//! The export formats, with the HTTP metadata (content type, file extension) that goes with each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The encoding of an export. The original offered `csv` (its default) and `json`; `ndjson` is
/// additive, for clients that want to parse rows one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header line, LF record terminator, no BOM.
    #[default]
    Csv,
    /// A bare JSON array of row objects (`[]` when empty).
    Json,
    /// One JSON row object per line, each line ending with LF (empty body when there is no row).
    Ndjson,
}

impl ExportFormat {
    /// Every format.
    pub const ALL: [ExportFormat; 3] =
        [ExportFormat::Csv, ExportFormat::Json, ExportFormat::Ndjson];

    /// The query-parameter name, e.g. `ndjson`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Ndjson => "ndjson",
        }
    }

    /// The `Content-Type` header value (the original's for CSV and JSON).
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json; charset=utf-8",
            ExportFormat::Ndjson => "application/x-ndjson",
        }
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The download file name for `stem`, e.g. `events.csv` (the original's
    /// `Content-Disposition: attachment; filename=events.csv`).
    pub fn file_name(self, stem: &str) -> String {
        format!("{stem}.{}", self.extension())
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text names no export format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format (expected csv, json or ndjson)")]
pub struct UnknownFormat;

impl FromStr for ExportFormat {
    type Err = UnknownFormat;

    /// Parses a format name exactly (`csv`, `json`, `ndjson`), as the original's enum did.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExportFormat::ALL.into_iter().find(|f| f.as_str() == s).ok_or(UnknownFormat)
    }
}

//! Tests of the export writers, through the public API only (one test binary).
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers outside #[test] functions: a failed setup should panic, not be handled"
)]

mod csv_export;
mod format;
mod json_export;
mod props;
mod streaming;
mod summary;
mod support;

//! Tests of the export writers, through the public API only (one test binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod csv_export;
mod format;
mod json_export;
mod props;
mod streaming;
mod summary;
mod support;

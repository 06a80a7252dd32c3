//! Export writers of AI Cost Profiler: turn a stream of rows (events, cost-summary groups) into a
//! stream of CSV, JSON or NDJSON byte chunks that the HTTP layer can hand to the socket.
//!
//! Why a separate crate: the original loaded the whole result (up to 10,000 rows) into memory
//! before writing it (audit P1-5). Here an export is an adapter between a row stream and bytes:
//!
//! - **Backpressure.** A row is pulled from the upstream stream only when the consumer pulls
//!   bytes, so a slow client slows the database cursor down instead of filling memory.
//! - **Flat memory.** Output leaves in chunks of about [`ExportOptions::chunk_bytes`] (64 KiB by
//!   default); at most one chunk plus one row is held, whatever the row count.
//! - **Cancellation.** Dropping the output stream drops the row stream, so when the HTTP layer
//!   drops the body of a disconnected client, the database query stops too. The row stream is
//!   also dropped as soon as it ends or fails, which releases its connection early.
//! - **Compatibility.** The CSV columns, their order and number formats, and the JSON row shape
//!   are the original's (docs/API.md: *Exports*, and the *Event row* of
//!   `GET /api/v1/analytics/events`); our extra fields are additive: appended CSV columns and JSON
//!   keys after the original ones.
//! - **Safety.** CSV cells with client-supplied text that starts with `=`, `+`, `-`, `@`, tab,
//!   CR or NUL get a leading `'` (OWASP ASVS 5.0 V1.2.10), because RFC 4180 quoting alone does not
//!   stop spreadsheets from evaluating formulas.
//!
//! This crate knows no HTTP framework, database or cache: it depends on `aicp-domain` and on
//! encoding crates only.

mod encoder;
mod error;
mod event;
mod format;
mod formula;
mod number;
mod prompts;
mod summary;

pub use encoder::{ExportOptions, ExportRow, export_rows};
pub use error::{EncodeError, ExportError};
pub use event::{EVENT_CSV_HEADER, EventJson, ORIGINAL_EVENT_CSV_COLUMNS, event_json};
pub use format::{ExportFormat, UnknownFormat};
pub use formula::{FORMULA_TRIGGERS, neutralize_formula};
pub use prompts::{PROMPT_CSV_HEADER, PromptRow};
pub use summary::{SUMMARY_CSV_HEADER, SummaryJson, SummaryRow, summary_json};

//! The streaming encoder: pulls rows only when the consumer pulls bytes, and emits chunks of
//! about [`ExportOptions::chunk_bytes`].

use std::borrow::Cow;
use std::pin::Pin;

use bytes::Bytes;
use csv_async::{AsyncWriterBuilder, QuoteStyle, Terminator};
use futures_util::{Stream, StreamExt, stream};

use crate::error::{EncodeError, ExportError};
use crate::format::ExportFormat;

/// Tuning of an export stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// A chunk is emitted as soon as the pending output reaches this many bytes, so chunks are
    /// at most `chunk_bytes` plus one row long (the last one may be shorter). `0` emits one chunk
    /// per row. Default: [`ExportOptions::DEFAULT_CHUNK_BYTES`].
    pub chunk_bytes: usize,
    /// Whether client-supplied CSV text cells are neutralised against formula injection (see
    /// [`crate::neutralize_formula`]). Default: `true`. JSON and NDJSON are never altered.
    pub neutralize_formulas: bool,
}

impl ExportOptions {
    /// 64 KiB: large enough for efficient socket writes, small enough to keep memory flat.
    pub const DEFAULT_CHUNK_BYTES: usize = 64 * 1024;

    /// The defaults with another chunk size.
    pub fn with_chunk_bytes(chunk_bytes: usize) -> Self {
        Self { chunk_bytes, ..Self::default() }
    }
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self { chunk_bytes: Self::DEFAULT_CHUNK_BYTES, neutralize_formulas: true }
    }
}

/// A row type that can be exported: its CSV columns and its JSON object.
pub trait ExportRow {
    /// The CSV header cells, in column order. Written even when there is no row.
    fn csv_header() -> &'static [&'static str];

    /// The CSV cells of this row, in header order, unquoted (the writer quotes). Client-supplied
    /// text cells go through [`crate::neutralize_formula`] when `guard` is true.
    fn csv_cells(&self, guard: bool) -> Vec<Cow<'_, str>>;

    /// Appends this row's JSON object (compact, no trailing newline) to `out`.
    ///
    /// # Errors
    /// The serializer's error, if the row cannot be represented in JSON.
    fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error>;
}

/// Encodes a stream of rows as an export in `format`, as a stream of byte chunks.
///
/// - Nothing happens until the returned stream is polled; each poll pulls rows until the pending
///   output reaches `options.chunk_bytes` (or the rows end), then yields that chunk. A chunk never
///   ends in the middle of a row.
/// - The first chunk holds the CSV header or the JSON `[`, so an error of the row stream before
///   the first row (a failed query) surfaces on the first poll, before any byte was produced:
///   the HTTP layer can poll once before choosing the status code.
/// - An upstream error is yielded as [`ExportError::Upstream`] and ends the stream; bytes
///   pending since the previous chunk are discarded (the output is incomplete anyway).
/// - The row stream is dropped as soon as it ends or fails, and with the returned stream.
/// - An empty CSV export is its header line; an empty JSON export is `[]`; an empty NDJSON export
///   yields no chunk. No empty chunk is ever yielded.
///
/// The returned stream is `Send` when the row stream, its rows (`Send + Sync`) and its errors
/// are, and is not `Unpin` (pin it with `Box::pin` or `std::pin::pin!`).
pub fn export_rows<R, S, E>(
    rows: S,
    format: ExportFormat,
    options: ExportOptions,
) -> impl Stream<Item = Result<Bytes, ExportError<E>>>
where
    R: ExportRow,
    S: Stream<Item = Result<R, E>>,
{
    let encoder = Encoder {
        rows: Some(Box::pin(rows)),
        format,
        options,
        buf: Vec::new(),
        started: false,
        rows_written: 0,
        csv: csv_builder(),
    };
    stream::unfold(encoder, |mut encoder| async move {
        let item = encoder.next_chunk().await?;
        Some((item, encoder))
    })
}

/// RFC 4180 as the original's csv-stringify wrote it: comma, quotes only when needed (comma,
/// quote, CR, LF), quotes doubled, LF after every record.
fn csv_builder() -> AsyncWriterBuilder {
    let mut builder = AsyncWriterBuilder::new();
    builder
        .delimiter(b',')
        .quote(b'"')
        .double_quote(true)
        .quote_style(QuoteStyle::Necessary)
        .terminator(Terminator::Any(b'\n'))
        .has_headers(false)
        .buffer_capacity(1024);
    builder
}

/// The state carried between chunks.
struct Encoder<S> {
    /// The rows; `None` once they ended or failed (dropping them releases their resources).
    rows: Option<Pin<Box<S>>>,
    format: ExportFormat,
    options: ExportOptions,
    /// Output not yet yielded.
    buf: Vec<u8>,
    /// Whether the prologue (CSV header, JSON `[`) was written.
    started: bool,
    /// Rows encoded so far (the JSON separator depends on it).
    rows_written: u64,
    csv: AsyncWriterBuilder,
}

impl<S> Encoder<S> {
    /// The next chunk, an error, or `None` when the export is complete.
    async fn next_chunk<R, E>(&mut self) -> Option<Result<Bytes, ExportError<E>>>
    where
        R: ExportRow,
        S: Stream<Item = Result<R, E>>,
    {
        // Taken out while working: if this future is dropped, the rows go with it.
        let mut rows = self.rows.take()?;
        if !self.started {
            self.started = true;
            if let Err(e) = self.prologue::<R>().await {
                return Some(Err(e.into()));
            }
        }
        loop {
            match rows.next().await {
                Some(Ok(row)) => {
                    if let Err(e) = self.encode(&row).await {
                        return Some(Err(e.into()));
                    }
                    if self.buf.len() >= self.options.chunk_bytes {
                        self.rows = Some(rows);
                        return Some(Ok(self.take_chunk()));
                    }
                }
                Some(Err(e)) => return Some(Err(ExportError::Upstream(e))),
                None => {
                    drop(rows);
                    self.epilogue();
                    if self.buf.is_empty() {
                        return None;
                    }
                    return Some(Ok(self.take_chunk()));
                }
            }
        }
    }

    async fn prologue<R: ExportRow>(&mut self) -> Result<(), EncodeError> {
        match self.format {
            ExportFormat::Csv => {
                let fields: Vec<&[u8]> = R::csv_header().iter().map(|h| h.as_bytes()).collect();
                write_csv_record(&self.csv, &mut self.buf, &fields).await
            }
            ExportFormat::Json => {
                self.buf.push(b'[');
                Ok(())
            }
            ExportFormat::Ndjson => Ok(()),
        }
    }

    async fn encode<R: ExportRow>(&mut self, row: &R) -> Result<(), EncodeError> {
        match self.format {
            ExportFormat::Csv => {
                let cells = row.csv_cells(self.options.neutralize_formulas);
                let fields: Vec<&[u8]> = cells.iter().map(|c| c.as_bytes()).collect();
                write_csv_record(&self.csv, &mut self.buf, &fields).await?;
            }
            ExportFormat::Json => {
                if self.rows_written > 0 {
                    self.buf.push(b',');
                }
                row.write_json(&mut self.buf).map_err(EncodeError::json)?;
            }
            ExportFormat::Ndjson => {
                row.write_json(&mut self.buf).map_err(EncodeError::json)?;
                self.buf.push(b'\n');
            }
        }
        self.rows_written += 1;
        Ok(())
    }

    fn epilogue(&mut self) {
        if self.format == ExportFormat::Json {
            self.buf.push(b']');
        }
    }

    fn take_chunk(&mut self) -> Bytes {
        // Room for a full chunk and a typical row, without trusting a huge `chunk_bytes`.
        let capacity = self.options.chunk_bytes.saturating_add(1024).min(1 << 20);
        Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(capacity)))
    }
}

/// Appends one CSV record to `out` through csv-async (quoting, escaping, terminator). The writer
/// is created per record because csv-async gives no access to its inner writer; it only borrows
/// `out`, and `into_inner` flushes it.
///
/// The fields are plain byte slices, not an iterator adapter: a closure held across an `.await`
/// would make the export future lose `Send` (rustc's higher-ranked lifetime limitation).
async fn write_csv_record(
    builder: &AsyncWriterBuilder,
    out: &mut Vec<u8>,
    fields: &[&[u8]],
) -> Result<(), EncodeError> {
    let mut writer = builder.create_writer(out);
    writer.write_record(fields).await.map_err(EncodeError::csv)?;
    writer.into_inner().await.map_err(EncodeError::csv)?;
    Ok(())
}

//! Streaming behaviour: chunk sizes, laziness, cancellation, errors.

use std::pin::pin;
use std::sync::atomic::Ordering;

use aicp_export::{ExportError, ExportFormat, ExportOptions, export_rows};
use futures_util::{StreamExt, stream};

use crate::support::{Boom, Probe, chunks, numbered_event, observed_event, rows};

const ROWS: u32 = 10_000;

fn many() -> Vec<aicp_domain::event::StoredEvent> {
    (0..ROWS).map(numbered_event).collect()
}

/// The longest encoded row of `events` in `format`.
async fn longest_row(events: &[aicp_domain::event::StoredEvent], format: ExportFormat) -> usize {
    let one_chunk_per_row = ExportOptions::with_chunk_bytes(0);
    let output = export_rows(rows(events.to_vec()), format, one_chunk_per_row);
    chunks(output).await.iter().map(bytes::Bytes::len).max().unwrap_or(0)
}

#[tokio::test]
async fn a_large_export_comes_out_in_bounded_chunks_that_concatenate_to_the_whole() {
    let events = many();
    for format in [ExportFormat::Csv, ExportFormat::Json, ExportFormat::Ndjson] {
        let options = ExportOptions::default();
        let got = chunks(export_rows(rows(events.clone()), format, options)).await;
        let whole = chunks(export_rows(
            rows(events.clone()),
            format,
            ExportOptions::with_chunk_bytes(usize::MAX),
        ))
        .await;
        assert_eq!(whole.len(), 1, "{format}");
        assert!(got.len() > 5, "{format}: {} chunks", got.len());
        assert_eq!(got.concat(), whole[0], "{format}");

        let bound = options.chunk_bytes + longest_row(&events, format).await;
        for (i, chunk) in got.iter().enumerate() {
            assert!(chunk.len() <= bound, "{format}: chunk {i} has {} bytes", chunk.len());
            if i + 1 < got.len() {
                assert!(chunk.len() >= options.chunk_bytes, "{format}: chunk {i} is short");
            }
            if format != ExportFormat::Json {
                assert!(chunk.ends_with(b"\n"), "{format}: chunk {i} ends at a row boundary");
            }
        }
    }
}

#[tokio::test]
async fn a_zero_chunk_size_yields_one_chunk_per_row_and_never_an_empty_chunk() {
    let events: Vec<_> = (0..3).map(numbered_event).collect();
    let got =
        chunks(export_rows(rows(events), ExportFormat::Json, ExportOptions::with_chunk_bytes(0)))
            .await;
    assert_eq!(got.len(), 4, "3 rows, then the closing bracket");
    assert!(got[0].starts_with(b"[{") && got[1].starts_with(b",{"));
    assert_eq!(&got[3][..], b"]");
    let got =
        chunks(export_rows(rows(vec![]), ExportFormat::Csv, ExportOptions::with_chunk_bytes(0)))
            .await;
    assert_eq!(got.len(), 1, "the header alone");
}

#[tokio::test]
async fn rows_are_pulled_only_as_the_consumer_pulls_bytes() {
    let probe = Probe::new(rows(many()));
    let pulled = probe.pulled.clone();
    let mut output = pin!(export_rows(probe, ExportFormat::Csv, ExportOptions::default()));
    assert_eq!(pulled.load(Ordering::SeqCst), 0, "nothing before the first poll");

    let first = output.next().await.unwrap().unwrap();
    let after_first = pulled.load(Ordering::SeqCst);
    assert!(after_first > 0 && after_first < 2_000, "pulled {after_first} rows for one chunk");
    assert_eq!(
        first.iter().filter(|b| **b == b'\n').count(),
        after_first + 1,
        "header + the rows pulled"
    );

    output.next().await.unwrap().unwrap();
    let after_second = pulled.load(Ordering::SeqCst);
    assert!(after_second > after_first && after_second < 2 * after_first + 10);
}

#[tokio::test]
async fn dropping_the_output_drops_the_row_stream() {
    let probe = Probe::new(rows(many()));
    let dropped = probe.dropped.clone();
    let mut output = Box::pin(export_rows(probe, ExportFormat::Json, ExportOptions::default()));
    output.next().await.unwrap().unwrap();
    assert!(!dropped.load(Ordering::SeqCst), "still exporting");
    drop(output);
    assert!(dropped.load(Ordering::SeqCst), "the client went away: the query must stop");
}

#[tokio::test]
async fn dropping_an_output_that_was_never_polled_drops_the_row_stream() {
    let probe = Probe::new(rows(many()));
    let dropped = probe.dropped.clone();
    drop(export_rows(probe, ExportFormat::Csv, ExportOptions::default()));
    assert!(dropped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn the_row_stream_is_released_as_soon_as_it_ends() {
    let probe = Probe::new(rows(vec![observed_event()]));
    let dropped = probe.dropped.clone();
    let mut output = pin!(export_rows(probe, ExportFormat::Csv, ExportOptions::default()));
    output.next().await.unwrap().unwrap();
    assert!(dropped.load(Ordering::SeqCst), "released before the consumer finishes");
    assert!(output.next().await.is_none());
}

#[tokio::test]
async fn an_upstream_error_is_yielded_then_the_stream_ends_and_releases_the_rows() {
    let failing = stream::iter(
        (0..5_000).map(|i| if i == 4_000 { Err(Boom) } else { Ok(numbered_event(i)) }),
    );
    let probe = Probe::new(failing);
    let dropped = probe.dropped.clone();
    let mut output = pin!(export_rows(probe, ExportFormat::Csv, ExportOptions::default()));
    let mut ok_chunks = 0;
    let error = loop {
        match output.next().await.expect("an error before the end") {
            Ok(_) => ok_chunks += 1,
            Err(e) => break e,
        }
    };
    assert!(ok_chunks > 0);
    assert!(matches!(error, ExportError::Upstream(Boom)));
    assert_eq!(error.upstream(), Some(&Boom));
    assert!(dropped.load(Ordering::SeqCst));
    assert!(output.next().await.is_none(), "no bytes after an error");
}

#[tokio::test]
async fn an_error_before_the_first_row_comes_before_any_byte() {
    let failing = stream::iter([Err::<aicp_domain::event::StoredEvent, _>(Boom)]);
    let mut output = pin!(export_rows(failing, ExportFormat::Csv, ExportOptions::default()));
    assert!(matches!(output.next().await, Some(Err(ExportError::Upstream(Boom)))));
    assert!(output.next().await.is_none());
}

#[test]
fn the_output_is_send_and_static_when_the_rows_are() {
    fn assert_send_static<T: Send + 'static>(_: &T) {}
    let output = export_rows(rows(vec![]), ExportFormat::Csv, ExportOptions::default());
    assert_send_static(&output);
    let error: ExportError<Boom> = ExportError::Upstream(Boom);
    let _: &(dyn std::error::Error + Send + Sync) = &error;
}

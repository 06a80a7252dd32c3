//! CSV event exports: columns, number formats, quoting, formula neutralisation.

use aicp_export::{
    EVENT_CSV_HEADER, ExportFormat, ExportOptions, FORMULA_TRIGGERS, ORIGINAL_EVENT_CSV_COLUMNS,
    export_rows,
};

use crate::support::{awkward_event, body, export_text, observed_event, rows};

const HEADER_LINE: &str = "ID,Timestamp,Feature,Provider,Model,Input Tokens,Output Tokens,Cached Tokens,Total Tokens,Cost (USD),Latency (ms),Streaming,Error,Error Code,Retry Count,Cost Exact (USD),Estimated Cost (USD),Provider Cost (USD),Cache Write Tokens,Cache Write 1h Tokens,Reasoning Tokens,Cache Hit,User ID,Project ID,Trace ID,Span ID,Parent Span ID,Priced As,Price Source\n";

/// Parses CSV text back with the `csv` crate: header and records.
fn parse(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let records =
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, records)
}

fn column(name: &str) -> usize {
    EVENT_CSV_HEADER.iter().position(|h| *h == name).unwrap()
}

#[tokio::test]
async fn the_header_line_is_the_original_columns_then_the_additive_ones() {
    let text = export_text(vec![], ExportFormat::Csv).await;
    assert_eq!(text, HEADER_LINE);
    let original = "ID,Timestamp,Feature,Provider,Model,Input Tokens,Output Tokens,Cached Tokens,Total Tokens,Cost (USD),Latency (ms),Streaming,Error,Error Code,Retry Count";
    assert_eq!(EVENT_CSV_HEADER[..ORIGINAL_EVENT_CSV_COLUMNS].join(","), original);
}

#[tokio::test]
async fn an_empty_export_is_the_header_line_alone_with_lf_and_no_bom() {
    let text = export_text(vec![], ExportFormat::Csv).await;
    assert!(text.starts_with("ID,"), "no BOM");
    assert_eq!(text.matches('\n').count(), 1);
    assert!(text.ends_with('\n') && !text.contains('\r'));
}

#[tokio::test]
async fn the_original_columns_of_a_row_are_the_ones_the_original_wrote() {
    let text = export_text(vec![observed_event()], ExportFormat::Csv).await;
    let row = text.lines().nth(1).unwrap();
    let original: Vec<&str> = row.split(',').take(ORIGINAL_EVENT_CSV_COLUMNS).collect();
    assert_eq!(
        original.join(","),
        "e982bc9c-5a1d-4c1e-9f1e-0a7c1d2b3c4d,2026-01-05T10:30:00.000Z,chat,anthropic,claude-3-5-sonnet-20241022,1000,500,200,1500,0.009960,300,true,false,,0"
    );
}

#[tokio::test]
async fn a_small_export_has_exactly_these_bytes() {
    let text = export_text(vec![observed_event(), awkward_event()], ExportFormat::Csv).await;
    // The snapshot ignores the trailing newline; the bytes must end with exactly one LF.
    assert!(text.ends_with(",fallback\n"), "{text}");
    insta::assert_snapshot!("events_csv", text);
}

#[tokio::test]
async fn cells_with_commas_quotes_or_newlines_are_quoted_with_doubled_quotes() {
    let mut e = observed_event();
    e.feature = "a,b".to_owned();
    e.model = "say \"hi\"".to_owned();
    e.error_code = Some("line1\nline2".to_owned());
    e.user_id = Some("cr\rhere".to_owned());
    e.trace_id = "crlf\r\nend".to_owned();
    e.span_id = "plain text; with 'quotes' and spaces".to_owned();
    let text = export_text(vec![e], ExportFormat::Csv).await;
    assert!(text.contains(",\"a,b\","), "{text}");
    assert!(text.contains(",\"say \"\"hi\"\"\","), "{text}");
    assert!(text.contains(",\"line1\nline2\","), "{text}");
    assert!(text.contains(",\"cr\rhere\","), "{text}");
    assert!(text.contains(",\"crlf\r\nend\","), "{text}");
    assert!(
        text.contains(",plain text; with 'quotes' and spaces,"),
        "only quoted when needed: {text}"
    );
}

#[tokio::test]
async fn text_starting_with_a_formula_trigger_gets_a_leading_quote_in_every_text_column() {
    for trigger in FORMULA_TRIGGERS {
        let payload = format!("{trigger}1+1");
        let mut e = observed_event();
        e.feature.clone_from(&payload);
        e.provider.clone_from(&payload);
        e.model.clone_from(&payload);
        e.error_code = Some(payload.clone());
        e.user_id = Some(payload.clone());
        e.project_id.clone_from(&payload);
        e.trace_id.clone_from(&payload);
        e.span_id.clone_from(&payload);
        e.parent_span_id = Some(payload.clone());
        e.priced_as = Some(payload.clone());
        e.price_source.clone_from(&payload);
        let (_, records) = parse(&export_text(vec![e], ExportFormat::Csv).await);
        let neutralised = format!("'{payload}");
        for name in [
            "Feature",
            "Provider",
            "Model",
            "Error Code",
            "User ID",
            "Project ID",
            "Trace ID",
            "Span ID",
            "Parent Span ID",
            "Priced As",
            "Price Source",
        ] {
            assert_eq!(records[0][column(name)], neutralised, "{name} with {trigger:?}");
        }
    }
}

#[tokio::test]
async fn a_neutralised_cell_is_still_quoted_when_it_needs_quotes() {
    let mut e = observed_event();
    e.feature = "=SUM(A1,A2)".to_owned();
    e.model = "+\"x\"".to_owned();
    e.error_code = Some("\rcmd".to_owned());
    let text = export_text(vec![e], ExportFormat::Csv).await;
    assert!(text.contains(",\"'=SUM(A1,A2)\","), "{text}");
    assert!(text.contains(",\"'+\"\"x\"\"\","), "{text}");
    assert!(text.contains(",\"'\rcmd\","), "{text}");
}

#[tokio::test]
async fn numbers_we_format_are_never_prefixed() {
    let (_, records) = parse(&export_text(vec![awkward_event()], ExportFormat::Csv).await);
    let row = &records[0];
    for name in [
        "ID",
        "Timestamp",
        "Input Tokens",
        "Total Tokens",
        "Cost (USD)",
        "Latency (ms)",
        "Retry Count",
        "Cost Exact (USD)",
        "Estimated Cost (USD)",
        "Provider Cost (USD)",
    ] {
        assert!(!row[column(name)].starts_with('\''), "{name}: {}", row[column(name)]);
    }
    assert_eq!(row[column("Cost (USD)")], "0.000000");
    assert_eq!(row[column("Cost Exact (USD)")], "0.000000123456");
    assert_eq!(row[column("Estimated Cost (USD)")], "0");
    assert_eq!(row[column("Provider Cost (USD)")], "0.0000123");
    assert_eq!(row[column("Timestamp")], "2026-01-05T13:02:00.123Z");
}

#[tokio::test]
async fn neutralisation_can_be_turned_off() {
    let options = ExportOptions { neutralize_formulas: false, ..ExportOptions::default() };
    let mut e = observed_event();
    e.feature = "=1+1".to_owned();
    let text = body(export_rows(rows(vec![e]), ExportFormat::Csv, options)).await;
    assert!(text.contains(",=1+1,"), "{text}");
}

#[tokio::test]
async fn the_output_round_trips_through_the_csv_crate() {
    let events = vec![observed_event(), awkward_event()];
    let (header, records) = parse(&export_text(events.clone(), ExportFormat::Csv).await);
    assert_eq!(header, EVENT_CSV_HEADER);
    assert_eq!(records.len(), 2);
    let awkward = &events[1];
    let row = &records[1];
    assert_eq!(row.len(), EVENT_CSV_HEADER.len());
    assert_eq!(row[column("ID")], awkward.id.to_string());
    assert_eq!(row[column("Feature")], format!("'{}", awkward.feature));
    assert_eq!(row[column("Model")], awkward.model);
    assert_eq!(row[column("Error Code")], "'-rate_limit\nretry");
    assert_eq!(row[column("User ID")], "'@alice");
    assert_eq!(row[column("Trace ID")], "tr,2");
    assert_eq!(row[column("Parent Span ID")], "sp_1");
    assert_eq!(row[column("Priced As")], "");
    assert_eq!(row[column("Streaming")], "false");
    assert_eq!(row[column("Error")], "true");
    assert_eq!(row[column("Total Tokens")], "19");
    assert_eq!(row[column("Cache Write Tokens")], "3");
    assert_eq!(row[column("Cache Write 1h Tokens")], "1");
    assert_eq!(row[column("Reasoning Tokens")], "2");
    assert_eq!(row[column("Cache Hit")], "false");
    assert_eq!(row[column("Price Source")], "fallback");
    assert_eq!(records[0][column("User ID")], "");
    assert_eq!(records[0][column("Provider Cost (USD)")], "");
}

#[tokio::test]
async fn total_tokens_do_not_overflow() {
    let mut e = observed_event();
    e.input_tokens = i32::MAX;
    e.output_tokens = i32::MAX;
    let (_, records) = parse(&export_text(vec![e], ExportFormat::Csv).await);
    assert_eq!(records[0][column("Total Tokens")], "4294967294");
}

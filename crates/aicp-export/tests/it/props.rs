//! Property tests: arbitrary client text survives every format, whatever the chunk size.

use aicp_export::{EVENT_CSV_HEADER, ExportFormat, ExportOptions, FORMULA_TRIGGERS, export_rows};
use proptest::prelude::*;

use crate::support::{block_on, body, observed_event, rows};

/// What a CSV reader sees for client text `original`: the text, behind a `'` when we added one.
fn expected_cell(original: &str) -> String {
    if original.starts_with(FORMULA_TRIGGERS) {
        format!("'{original}")
    } else {
        original.to_owned()
    }
}

/// Undoes our neutralisation, knowing whether we added the `'`.
fn strip_added_quote<'a>(cell: &'a str, original: &str) -> &'a str {
    if original.starts_with(FORMULA_TRIGGERS) {
        cell.strip_prefix('\'').unwrap_or(cell)
    } else {
        cell
    }
}

fn column(name: &str) -> usize {
    EVENT_CSV_HEADER.iter().position(|h| *h == name).unwrap()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        // Dense in the characters that matter to CSV and spreadsheets.
        proptest::string::string_regex("[=+\\-@\t\r\n\0\",' a-z;|!]{0,12}").unwrap(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_round_trips_through_csv_parsing(
        feature in text(),
        model in text(),
        error_code in text(),
        user in text(),
        trace in text(),
        chunk_bytes in 0usize..300,
    ) {
        let mut e = observed_event();
        e.feature.clone_from(&feature);
        e.model.clone_from(&model);
        e.error_code = Some(error_code.clone());
        e.user_id = Some(user.clone());
        e.trace_id.clone_from(&trace);
        let mut second = e.clone();
        second.feature = "second".to_owned();
        let options = ExportOptions::with_chunk_bytes(chunk_bytes);
        let text = block_on(body(export_rows(rows(vec![e, second]), ExportFormat::Csv, options)));

        let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
        prop_assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), EVENT_CSV_HEADER.to_vec());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        prop_assert_eq!(records.len(), 2);
        let row = &records[0];
        prop_assert_eq!(row.len(), EVENT_CSV_HEADER.len());
        for (name, original) in [
            ("Feature", &feature),
            ("Model", &model),
            ("Error Code", &error_code),
            ("User ID", &user),
            ("Trace ID", &trace),
        ] {
            let cell = &row[column(name)];
            let expected = expected_cell(original);
            prop_assert_eq!(cell, expected.as_str(), "{}", name);
            prop_assert_eq!(strip_added_quote(cell, original), original.as_str(), "{}", name);
        }
        prop_assert_eq!(&records[1][column("Feature")], "second");
        let expected_model = expected_cell(&model);
        prop_assert_eq!(&records[1][column("Model")], expected_model.as_str());
    }

    #[test]
    fn arbitrary_text_round_trips_through_json_and_ndjson(
        feature in text(),
        error_code in text(),
        count in 0usize..4,
        chunk_bytes in 0usize..300,
    ) {
        let mut e = observed_event();
        e.feature.clone_from(&feature);
        e.error_code = Some(error_code.clone());
        let events = vec![e; count];
        let options = ExportOptions::with_chunk_bytes(chunk_bytes);

        let json = block_on(body(export_rows(rows(events.clone()), ExportFormat::Json, options)));
        let parsed: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(parsed.len(), count);
        for row in &parsed {
            prop_assert_eq!(row["feature"].as_str(), Some(feature.as_str()));
            prop_assert_eq!(row["errorCode"].as_str(), Some(error_code.as_str()));
        }

        let ndjson = block_on(body(export_rows(rows(events), ExportFormat::Ndjson, options)));
        prop_assert_eq!(ndjson.matches('\n').count(), count, "raw newlines only between rows");
        for line in ndjson.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            prop_assert_eq!(row["feature"].as_str(), Some(feature.as_str()));
        }
    }
}

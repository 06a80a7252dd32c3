//! Export format metadata.

use aicp_export::{ExportFormat, UnknownFormat};

#[test]
fn formats_have_the_original_content_types_and_extensions() {
    assert_eq!(ExportFormat::Csv.content_type(), "text/csv; charset=utf-8");
    assert_eq!(ExportFormat::Json.content_type(), "application/json; charset=utf-8");
    assert_eq!(ExportFormat::Ndjson.content_type(), "application/x-ndjson");
    assert_eq!(ExportFormat::Csv.file_name("events"), "events.csv");
    assert_eq!(ExportFormat::Json.file_name("cost-summary"), "cost-summary.json");
    assert_eq!(ExportFormat::Ndjson.extension(), "ndjson");
    assert_eq!(ExportFormat::default(), ExportFormat::Csv);
}

#[test]
fn formats_parse_exactly_from_their_names() {
    for format in ExportFormat::ALL {
        assert_eq!(format.as_str().parse::<ExportFormat>(), Ok(format));
        assert_eq!(format.to_string(), format.as_str());
    }
    assert_eq!("CSV".parse::<ExportFormat>(), Err(UnknownFormat));
    assert_eq!("xlsx".parse::<ExportFormat>(), Err(UnknownFormat));
    let parsed: ExportFormat = serde_json::from_str("\"ndjson\"").unwrap();
    assert_eq!(parsed, ExportFormat::Ndjson);
}

//! Exports over HTTP: exact bytes, safety, filters and windows, the original dashboard's four
//! buttons, compression, errors.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

use crate::support::{FixedProbe, Parts, TestApp, batch, event};

async fn seeded() -> TestApp {
    let app = TestApp::new().await;
    let events = vec![
        event("a", json!({"feature": "chat", "timestamp": "2026-01-05T10:00:00.000Z"})),
        event(
            "b",
            json!({"feature": "=HYPERLINK(\"http://x\")", "model": "gpt-4o-mini", "timestamp": "2026-01-05T11:00:00.000Z", "errorCode": "a,b \"quoted\"\nline", "isError": true}),
        ),
        event(
            "c",
            json!({"feature": "search", "provider": "anthropic", "model": "claude-3-5-sonnet-20241022", "cachedTokens": 200, "timestamp": "2026-01-06T09:00:00.000Z"}),
        ),
    ];
    assert_eq!(app.post_events(batch(events)).await.status, StatusCode::ACCEPTED);
    app
}

/// Body as text, with ids replaced so that snapshots are stable.
async fn raw(app: &TestApp, uri: &str) -> (StatusCode, actix_web::http::header::HeaderMap, String) {
    let app_svc = actix_web::test::init_service(aicp_api::app::build(app.state(), None)).await;
    let res =
        actix_web::test::call_service(&app_svc, TestRequest::get().uri(uri).to_request()).await;
    let status = res.status();
    let headers = res.headers().clone();
    let body = actix_web::test::read_body(res).await;
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn redact(text: &str) -> String {
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let mut l = line.to_owned();
        // UUIDs (36 chars, 4 dashes) and received-at timestamps vary per run.
        while let Some(pos) = find_uuid(&l) {
            l.replace_range(pos..pos + 36, "<id>");
        }
        out.push_str(&l);
    }
    out
}

fn find_uuid(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(35)).find(|&i| {
        let w = &b[i..i + 36];
        w.iter().enumerate().all(|(j, c)| {
            if [8, 13, 18, 23].contains(&j) { *c == b'-' } else { c.is_ascii_hexdigit() }
        })
    })
}

#[actix_web::test]
async fn a_small_csv_export_has_the_original_columns_and_exact_bytes() {
    let app = seeded().await;
    let (status, headers, body) =
        raw(&app, "/api/v1/export/events?format=csv&from=2026-01-05&to=2026-01-05").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").unwrap(), "text/csv; charset=utf-8");
    assert_eq!(
        headers.get("content-disposition").unwrap(),
        "attachment; filename=\"aicp-events-default-20260105-20260105.csv\""
    );
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    let first_line = body.lines().next().unwrap();
    assert!(first_line.starts_with("ID,Timestamp,Feature,Provider,Model,Input Tokens,Output Tokens,Cached Tokens,Total Tokens,Cost (USD),Latency (ms),Streaming,Error,Error Code,Retry Count,"));
    // Only the two events of 2026-01-05 (a bare end date includes the whole day), newest first.
    let records: Vec<csv::StringRecord> =
        csv::Reader::from_reader(body.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2);
    assert_eq!(&records[0][2], "'=HYPERLINK(\"http://x\")", "formula neutralised");
    assert_eq!(&records[0][13], "a,b \"quoted\"\nline", "quoted and round-tripped");
    assert_eq!(&records[1][9], "0.007500");
    insta::assert_snapshot!("events_csv", redact(&body));
}

#[actix_web::test]
async fn json_and_ndjson_exports_use_the_original_row_shape() {
    let app = seeded().await;
    let (status, headers, body) = raw(&app, "/api/v1/export/events?format=json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers.get("content-type").unwrap(), "application/json; charset=utf-8");
    let rows: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["verifiedCostUsd"], "0.007500");
    let keys: Vec<&String> = rows[0].as_object().unwrap().keys().collect();
    assert!(keys.len() >= 22);
    let (_, _, nd) = raw(&app, "/api/v1/export/events?format=ndjson&feature=search").await;
    let lines: Vec<&str> = nd.lines().collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(serde_json::from_str::<Value>(lines[0]).unwrap()["feature"], "search");
    let (_, _, empty) =
        raw(&app, "/api/v1/export/events?format=json&from=2020-01-01&to=2020-01-02").await;
    assert_eq!(empty, "[]");
}

#[actix_web::test]
async fn the_original_dashboards_four_export_buttons_receive_files() {
    let app = seeded().await;
    let w = "from=2026-01-04T00:00:00.000Z&to=2026-01-07T00:00:00.000Z";
    for (endpoint, first) in [
        ("events", "ID,Timestamp"),
        ("features", "Dimension,Requests"),
        ("models", "Dimension,Requests"),
        ("prompts", "Prompt Hash,Content"),
    ] {
        for format in ["csv", "json"] {
            let (status, headers, body) =
                raw(&app, &format!("/api/v1/export/{endpoint}?format={format}&{w}")).await;
            assert_eq!(status, StatusCode::OK, "{endpoint} {format}: {body}");
            assert!(
                headers
                    .get("content-disposition")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .contains(&format!("aicp-{endpoint}-default"))
            );
            if format == "csv" {
                assert!(body.starts_with(first), "{endpoint}: {body}");
            } else {
                assert!(serde_json::from_str::<Value>(&body).unwrap().is_array());
            }
        }
    }
    let (_, _, models) =
        raw(&app, &format!("/api/v1/export/cost-summary?groupBy=model&format=json&{w}")).await;
    let rows: Vec<Value> = serde_json::from_str(&models).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["totalCostUsd"].is_string());
}

#[actix_web::test]
async fn exports_are_gzipped_when_the_client_accepts_it() {
    let app = seeded().await;
    let svc = actix_web::test::init_service(aicp_api::app::build(app.state(), None)).await;
    let req = TestRequest::get()
        .uri("/api/v1/export/events?format=csv")
        .insert_header(("accept-encoding", "gzip"))
        .to_request();
    let res = actix_web::test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("content-encoding").unwrap(), "gzip");
}

#[actix_web::test]
async fn bad_export_parameters_are_400s() {
    let app = seeded().await;
    for uri in [
        "/api/v1/export/events?format=xml",
        "/api/v1/export/events?startDate=yesterday",
        "/api/v1/export/events?startDate=2026-02-01&endDate=2026-01-01",
        "/api/v1/export/events?format=csv&format=json",
        "/api/v1/export/events?isError=perhaps",
        "/api/v1/export/cost-summary?groupBy=bogus",
        "/api/v1/export/models?endDate=2026-13-01",
    ] {
        let (status, headers, body) = raw(&app, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert!(
            headers.get("content-type").unwrap().to_str().unwrap().starts_with("application/json"),
            "{uri}"
        );
    }
}

/// Mocks everywhere but `exporter`; the database probe says `database_up`.
fn exporting(exporter: aicp_domain::ports::MockEventExporter, database_up: bool) -> Parts {
    use aicp_domain::ports::{MockCostRepository, MockEventRepository, MockPriceRepository};
    Parts {
        repo: Arc::new(MockEventRepository::new()),
        prices: Arc::new(MockPriceRepository::new()),
        costs: Arc::new(MockCostRepository::new()),
        analytics: Arc::new(aicp_domain::ports::MockAnalyticsRepository::new()),
        exporter: Arc::new(exporter),
        keys: Arc::new(aicp_domain::auth::MockKeyStore::new()),
        database: Arc::new(FixedProbe(database_up)),
        redis: Arc::new(FixedProbe(true)),
        prompts: None,
    }
}

#[actix_web::test]
async fn a_database_that_is_down_is_a_503_not_an_empty_file() {
    use aicp_domain::RepoError;
    use aicp_domain::ports::MockEventExporter;

    let mut exporter = MockEventExporter::new();
    exporter.expect_stream().returning(|_, _, _, _| {
        Box::pin(futures_util::stream::iter(vec![Err(RepoError::Unavailable("down".into()))]))
    });
    let app = TestApp::from_parts(exporting(exporter, false));
    let (status, headers, _) = raw(&app, "/api/v1/export/events").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(headers.contains_key("retry-after"));
}

#[actix_web::test]
async fn a_row_limit_cuts_the_export_and_says_so() {
    let app = seeded().await.with_export_max_rows(2);
    let (status, headers, body) = raw(&app, "/api/v1/export/events?format=ndjson").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.lines().count(), 2);
    assert_eq!(headers.get("x-export-truncated").unwrap(), "true");
    assert_eq!(headers.get("x-export-total-rows").unwrap(), "3");
    assert_eq!(headers.get("x-export-row-limit").unwrap(), "2");
}

#[actix_web::test]
async fn a_failure_after_the_first_chunk_ends_the_download_incomplete() {
    use aicp_domain::ports::MockEventExporter;
    use aicp_domain::{EventExporter, ProjectId, RepoError, TimeWindow};
    use futures_util::StreamExt;

    // One real stored event, cloned into enough rows to fill several chunks.
    let real = seeded().await;
    let pool =
        aicp_storage::build_pool(&aicp_storage::PoolConfig::new(real.db.as_ref().unwrap().url()))
            .unwrap();
    let window = TimeWindow {
        from: chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().into(),
        to: chrono::DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z").unwrap().into(),
    };
    let first = aicp_storage::PgEventExporter::new(pool)
        .stream(ProjectId::new("default"), window, Default::default(), None)
        .next()
        .await
        .unwrap()
        .unwrap();
    let mut exporter = MockEventExporter::new();
    exporter.expect_stream().returning(move |_, _, _, _| {
        let rows = (0..5000).map({
            let first = first.clone();
            move |_| {
                Ok(aicp_domain::event::StoredEvent { id: uuid::Uuid::new_v4(), ..first.clone() })
            }
        });
        let failure = std::iter::once(Err(RepoError::Unavailable("connection lost".into())));
        Box::pin(futures_util::stream::iter(rows.chain(failure).collect::<Vec<_>>()))
    });
    let app = TestApp::from_parts(exporting(exporter, true));
    for format in ["csv", "json", "ndjson"] {
        let svc = actix_web::test::init_service(aicp_api::app::build(app.state(), None)).await;
        let req = TestRequest::get().uri(&format!("/api/v1/export/events?format={format}"));
        let res = actix_web::test::call_service(&svc, req.to_request()).await;
        // The head went out with the first rows; the failure can only cut the body short, which
        // the client sees as a broken transfer, never as a complete-looking file.
        assert_eq!(res.status(), StatusCode::OK, "{format}");
        let mut body = res.into_body();
        let mut received = 0usize;
        let mut failed = false;
        while let Some(chunk) = std::future::poll_fn(|cx| {
            actix_web::body::MessageBody::poll_next(std::pin::Pin::new(&mut body), cx)
        })
        .await
        {
            match chunk {
                Ok(bytes) => received += bytes.len(),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "{format}: the body must end with an error");
        assert!(received > 0, "{format}: rows before the failure were streamed");
    }
}

#[actix_web::test]
async fn an_export_with_no_rows_is_a_complete_empty_file_in_every_format() {
    let app = TestApp::new().await;
    for kind in ["events", "cost-summary", "features", "models", "prompts"] {
        for (format, want) in [("ndjson", ""), ("json", "[]")] {
            let uri = format!(
                "/api/v1/export/{kind}?format={format}&feature=nosuchfeature&from=2026-01-05&to=2026-01-05"
            );
            let r = app.call_text(actix_web::test::TestRequest::get().uri(&uri)).await;
            assert_eq!(r.status, actix_web::http::StatusCode::OK, "{uri}: {}", r.body);
            assert_eq!(r.body, want, "{uri}");
        }
    }
}

//! Semantic similarity: the OpenAI-compatible embeddings adapter against a local fake server
//! (request shape, every failure mapped), and the whole path (ingest → background indexer →
//! stored embeddings → `/similar?mode=semantic`) over the real database.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aicp_api::config::EmbeddingsConfig;
use aicp_api::embedding::OpenAiEmbedder;
use aicp_domain::embedding::{EmbedError, Embedder};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::support::{TestApp, batch, event};

/// What the fake provider does with the next requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    /// Concept vectors (below), `data` in reverse order to check that `index` is honoured.
    Answer,
    /// This status with a JSON error body.
    Status(u16),
    /// A 200 that is not an embeddings response.
    Garbage,
    /// One vector fewer than inputs.
    WrongCount,
    /// Answers after this long.
    Slow(Duration),
}

/// (Authorization header, body) of every request the fake received.
type Requests = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// Checks an error's kind and message.
type ErrorCheck = fn(&EmbedError) -> bool;

/// A local OpenAI-compatible embeddings server.
struct FakeProvider {
    url: String,
    behaviour: Arc<Mutex<Behaviour>>,
    /// (Authorization header, body) of every request.
    requests: Requests,
    server: actix_web::dev::ServerHandle,
}

/// Words that mean the same concept share a dimension; stop words are ignored; any other word
/// gets a dimension of its own (hashed into 8..64). Paraphrases built from synonyms therefore
/// have a high cosine while sharing no words at all.
fn concept_vector(text: &str) -> Vec<f32> {
    const CONCEPTS: [&[&str]; 8] = [
        &["reset", "restore", "recover"],
        &["password", "passphrase", "credentials"],
        &["billing", "invoice", "payment"],
        &["portal", "website", "site"],
        &["translate", "translation"],
        &["german", "deutsch"],
        &["product", "item"],
        &["description", "summary"],
    ];
    const STOP: [&str; 16] = [
        "how", "can", "i", "my", "for", "the", "what", "are", "to", "a", "on", "this", "into",
        "do", "of", "please",
    ];
    let mut v = vec![0.0_f32; 64];
    for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        let w = word.to_lowercase();
        if STOP.contains(&w.as_str()) {
            continue;
        }
        let dim = CONCEPTS.iter().position(|c| c.contains(&w.as_str())).unwrap_or_else(|| {
            8 + w.bytes().fold(7usize, |h, b| h.wrapping_mul(31).wrapping_add(usize::from(b))) % 56
        });
        v[dim] += 1.0;
    }
    v
}

async fn embeddings(
    req: HttpRequest,
    body: web::Json<Value>,
    behaviour: web::Data<Arc<Mutex<Behaviour>>>,
    requests: web::Data<Requests>,
) -> HttpResponse {
    let auth = req.headers().get("authorization").and_then(|h| h.to_str().ok()).map(str::to_owned);
    requests.lock().unwrap().push((auth, body.0.clone()));
    let inputs: Vec<String> = body["input"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let behaviour = *behaviour.lock().unwrap();
    match behaviour {
        Behaviour::Status(code) => {
            return HttpResponse::build(StatusCode::from_u16(code).unwrap())
                .json(json!({"error": {"message": "fake failure", "code": code}}));
        }
        Behaviour::Garbage => return HttpResponse::Ok().body("<html>not json</html>"),
        Behaviour::Slow(d) => tokio::time::sleep(d).await,
        Behaviour::Answer | Behaviour::WrongCount => {}
    }
    let mut data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": concept_vector(t)}))
        .collect();
    data.reverse();
    if behaviour == Behaviour::WrongCount {
        data.pop();
    }
    HttpResponse::Ok().json(json!({
        "object": "list", "data": data, "model": body["model"],
        "usage": {"prompt_tokens": 1, "total_tokens": 1}
    }))
}

impl FakeProvider {
    async fn start() -> Self {
        let behaviour = Arc::new(Mutex::new(Behaviour::Answer));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (b, r) = (Arc::clone(&behaviour), Arc::clone(&requests));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(Arc::clone(&b)))
                .app_data(web::Data::new(Arc::clone(&r)))
                .route("/v1/embeddings", web::post().to(embeddings))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self { url: format!("http://127.0.0.1:{port}/v1"), behaviour, requests, server: handle }
    }

    fn set(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }

    fn inputs_sent(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(_, body)| body["input"].as_array().cloned().unwrap_or_default().into_iter())
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect()
    }

    fn embedder(&self, timeout: Duration) -> OpenAiEmbedder {
        OpenAiEmbedder::new(&EmbeddingsConfig {
            url: self.url.clone(),
            model: "fake-embed-1".into(),
            api_key: Some(SecretString::from("sk-test-123".to_owned())),
            dimensions: Some(64),
            timeout,
            batch: 64,
            queue: 100,
            max_chars: 1000,
        })
        .unwrap()
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        drop(self.server.stop(false));
    }
}

#[actix_web::test]
async fn the_adapter_sends_the_openai_request_and_orders_vectors_by_index() {
    let fake = FakeProvider::start().await;
    let embedder = fake.embedder(Duration::from_secs(5));
    let texts = vec!["reset password".to_owned(), "translate product".to_owned()];
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(vectors, vec![concept_vector(&texts[0]), concept_vector(&texts[1])]);
    let (auth, body) = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(auth.as_deref(), Some("Bearer sk-test-123"));
    assert_eq!(
        body,
        json!({"model": "fake-embed-1", "input": texts, "encoding_format": "float", "dimensions": 64})
    );
    assert_eq!(embedder.model(), "fake-embed-1");
    assert_eq!(embedder.embed(&[]).await, Ok(vec![]), "nothing to embed: no request");
    assert_eq!(fake.requests.lock().unwrap().len(), 1);
}

#[actix_web::test]
async fn every_provider_failure_maps_to_its_error_kind() {
    let fake = FakeProvider::start().await;
    let embedder = fake.embedder(Duration::from_millis(300));
    let texts = vec!["a b".to_owned(), "c d".to_owned()];
    let cases: [(Behaviour, ErrorCheck); 7] = [
        (Behaviour::Status(500), |e| matches!(e, EmbedError::Unavailable(m) if m.contains("500"))),
        (Behaviour::Status(503), |e| matches!(e, EmbedError::Unavailable(_))),
        (
            Behaviour::Status(429),
            |e| matches!(e, EmbedError::Unavailable(m) if m.contains("fake failure")),
        ),
        (Behaviour::Status(401), |e| matches!(e, EmbedError::Rejected(m) if m.contains("401"))),
        (Behaviour::Status(400), |e| matches!(e, EmbedError::Rejected(_))),
        (Behaviour::Garbage, |e| matches!(e, EmbedError::Malformed(_))),
        (
            Behaviour::WrongCount,
            |e| matches!(e, EmbedError::Malformed(m) if m.contains("1 vectors for 2")),
        ),
    ];
    for (behaviour, expected) in cases {
        fake.set(behaviour);
        let err = embedder.embed(&texts).await.unwrap_err();
        assert!(expected(&err), "{behaviour:?} gave {err:?}");
    }
    fake.set(Behaviour::Slow(Duration::from_secs(2)));
    let err = embedder.embed(&texts).await.unwrap_err();
    assert!(matches!(err, EmbedError::Unavailable(_)), "timeout gave {err:?}");

    // Nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nobody = OpenAiEmbedder::new(&EmbeddingsConfig {
        url: format!("http://127.0.0.1:{port}/v1"),
        model: "m".into(),
        api_key: None,
        dimensions: None,
        timeout: Duration::from_secs(1),
        batch: 1,
        queue: 1,
        max_chars: 10,
    })
    .unwrap();
    assert!(matches!(nobody.embed(&texts).await, Err(EmbedError::Unavailable(_))));
}

const RESET: &str = "How can I reset my password for the billing portal?";
const PARAPHRASE: &str =
    "What are the steps to restore a forgotten passphrase on the invoice website?";
const UNRELATED: &str = "Translate this product description into German please.";

/// Ingests RESET twice, its paraphrase and an unrelated prompt; the event ids by span.
async fn seed(app: &TestApp) -> std::collections::HashMap<String, String> {
    let events = vec![
        event("a1", json!({"prompt": RESET, "feature": "support"})),
        event("a2", json!({"prompt": RESET, "feature": "support"})),
        event("b1", json!({"prompt": PARAPHRASE, "feature": "support"})),
        event("c1", json!({"prompt": UNRELATED, "feature": "catalog"})),
    ];
    let reply = app.post_events(batch(events)).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let client = app.db.as_ref().unwrap().client().await;
    let rows = client.query("SELECT span_id, id::text FROM events", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[actix_web::test]
async fn paraphrases_are_found_semantically_and_each_prompt_is_embedded_once() {
    let fake = FakeProvider::start().await;
    let (app, indexer) =
        TestApp::with_semantic(Arc::new(fake.embedder(Duration::from_secs(5)))).await;
    let ids = seed(&app).await;
    wait_until("three embeddings", || indexer.stats().embedded == 3).await;
    // Two calls of RESET, one embedding request input for it.
    let mut sent = fake.inputs_sent();
    sent.sort();
    assert_eq!(sent, [RESET, UNRELATED, PARAPHRASE]);
    let client = app.db.as_ref().unwrap().client().await;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM prompt_embeddings WHERE model = 'fake-embed-1'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 3);

    let uri = |q: &str| format!("/api/v1/analytics/prompts/{}/similar?{q}", ids["a1"]);
    let r = app.get(&uri("mode=semantic&threshold=0.75")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let found = r.body.as_array().unwrap();
    // Its own other call (a2) at 1.0, then the paraphrase; the unrelated prompt is absent.
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0]["similarity"], 1.0);
    assert_eq!(found[0]["occurrences"], 1);
    assert_eq!(found[1]["id"], ids["b1"].as_str());
    assert_eq!(found[1]["content"], PARAPHRASE);
    let score = found[1]["similarity"].as_f64().unwrap();
    // cos = 4 shared concepts / (2 × sqrt(6)) ≈ 0.816.
    assert!((score - 4.0 / (2.0 * 6f64.sqrt())).abs() < 1e-6, "{score}");

    // Lexically the two share no word: the default mode does not see the paraphrase.
    let lexical = app.get(&uri("threshold=0.5")).await;
    assert_eq!(lexical.status, StatusCode::OK);
    assert!(lexical.body.as_array().unwrap().iter().all(|s| s["content"] != PARAPHRASE));

    // The threshold is honoured and part of the cache key.
    let strict = app.get(&uri("mode=semantic&threshold=0.9")).await;
    assert_eq!(strict.headers.get("x-cache").unwrap(), "miss");
    assert_eq!(strict.body.as_array().unwrap().len(), 1);
    let again = app.get(&uri("mode=semantic&threshold=0.75")).await;
    assert_eq!(again.headers.get("x-cache").unwrap(), "hit");
    assert_eq!(again.body, r.body);

    // A repeat of a known prompt is not sent to the provider again.
    let more = app.post_events(batch(vec![event("a3", json!({"prompt": RESET}))])).await;
    assert_eq!(more.status, StatusCode::ACCEPTED);
    wait_until("the repeat to be looked at", || indexer.stats().already_embedded == 1).await;
    assert_eq!(fake.inputs_sent().len(), 3);

    let health = app.get("/health").await;
    assert_eq!(health.body["embeddings"]["model"], "fake-embed-1");
    assert_eq!(health.body["embeddings"]["counts"]["embedded"], 3);
}

#[actix_web::test]
async fn a_provider_that_is_down_loses_no_event_and_answers_are_not_cached() {
    let fake = FakeProvider::start().await;
    fake.set(Behaviour::Status(503));
    let (app, indexer) =
        TestApp::with_semantic(Arc::new(fake.embedder(Duration::from_secs(5)))).await;
    let ids = seed(&app).await;
    assert_eq!(app.count().await, 4);
    wait_until("the worker to give up", || indexer.stats().failed == 3).await;
    // Three attempts for the batch of three prompts.
    assert_eq!(fake.requests.lock().unwrap().len(), 3);
    let uri = format!("/api/v1/analytics/prompts/{}/similar?mode=semantic", ids["a1"]);
    for _ in 0..2 {
        let r = app.get(&uri).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body, json!([]));
        assert_eq!(r.headers.get("x-cache").unwrap(), "miss", "an embedding may still come");
    }
    let health = app.get("/health").await;
    assert_eq!(health.status, StatusCode::OK, "the provider never degrades the service");
    assert_eq!(health.body["embeddings"]["counts"]["failed"], 3);

    // Once the provider is back, new prompts are embedded again.
    fake.set(Behaviour::Answer);
    let more =
        app.post_events(batch(vec![event("d1", json!({"prompt": "recover credentials"}))])).await;
    assert_eq!(more.status, StatusCode::ACCEPTED);
    wait_until("the new prompt", || indexer.stats().embedded == 1).await;
}

#[actix_web::test]
async fn semantic_mode_needs_a_provider_and_a_known_mode() {
    let app = TestApp::new().await;
    let ids = {
        let reply = app.post_events(batch(vec![event("a1", json!({"prompt": RESET}))])).await;
        assert_eq!(reply.status, StatusCode::ACCEPTED);
        let client = app.db.as_ref().unwrap().client().await;
        client.query_one("SELECT id::text FROM events", &[]).await.unwrap().get::<_, String>(0)
    };
    let r = app.get(&format!("/api/v1/analytics/prompts/{ids}/similar?mode=semantic")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"].as_str().unwrap_or_default().contains("EMBEDDINGS_URL")
            || r.body.to_string().contains("EMBEDDINGS_URL"),
        "{}",
        r.body
    );
    let r = app.get(&format!("/api/v1/analytics/prompts/{ids}/similar?mode=vibes")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.to_string().contains("lexical or semantic"), "{}", r.body);
}

#[actix_web::test]
async fn the_binary_wires_the_provider_from_its_environment() {
    let fake = FakeProvider::start().await;
    let db = aicp_test_support::TestDatabase::reserve();
    let server = crate::process::start_with(
        &db,
        &[
            ("EMBEDDINGS_URL", fake.url.as_str()),
            ("EMBEDDINGS_MODEL", "fake-embed-1"),
            ("EMBEDDINGS_API_KEY", "sk-process"),
            ("PROMPT_STORAGE", "fingerprint"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let events = batch(vec![
        event("a1", json!({"prompt": RESET})),
        event("b1", json!({"prompt": PARAPHRASE})),
    ]);
    let res = client
        .post(format!("{}/api/v1/events", server.base))
        .header("content-type", "application/json")
        .body(events)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mut counts = Value::Null;
    for _ in 0..200 {
        let health = get_json(&client, &format!("{}/health", server.base)).await;
        counts = health["embeddings"]["counts"].clone();
        if counts["embedded"] == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(counts["embedded"], 2, "{counts}");
    assert_eq!(fake.requests.lock().unwrap()[0].0.as_deref(), Some("Bearer sk-process"));
    let id: String = db
        .client()
        .await
        .query_one("SELECT id::text FROM events WHERE span_id = 'a1'", &[])
        .await
        .unwrap()
        .get(0);
    let uri = format!(
        "{}/api/v1/analytics/prompts/{id}/similar?mode=semantic&threshold=0.75",
        server.base
    );
    let similar = get_json(&client, &uri).await;
    assert_eq!(similar.as_array().map(Vec::len), Some(1), "{similar}");
    // No text is stored (PROMPT_STORAGE=fingerprint), yet the paraphrase is found.
    assert_eq!(similar[0]["content"], "");
    assert!(similar[0]["similarity"].as_f64().unwrap() > 0.8);
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

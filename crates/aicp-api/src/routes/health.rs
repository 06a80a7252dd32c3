//! `GET /health`: liveness plus the state of PostgreSQL and Redis (docs/API.md, `GET /health`),
//! and `GET /health/ready`: whether this node can do its work, for load balancers.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

/// Health of the service and its dependencies.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// `ok` when every dependency is up, else `degraded`.
    pub status: &'static str,
    /// Server time, ISO 8601 with milliseconds.
    pub timestamp: String,
    /// State of each dependency: `ok` or `down`.
    pub dependencies: Dependencies,
    /// The embeddings worker's counters, when semantic similarity is configured (its provider is
    /// optional: it never makes the service degraded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embeddings: Option<EmbeddingsHealth>,
}

/// Semantic similarity's worker.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddingsHealth {
    /// Embedding model.
    pub model: String,
    /// Counters since start-up.
    #[schema(value_type = Object)]
    pub counts: crate::semantic::IndexerCounts,
}

/// State of each dependency.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dependencies {
    /// Redis: `ok` or `down`.
    pub redis: &'static str,
    /// PostgreSQL: `ok` or `down`.
    pub database: &'static str,
}

/// Health check (no auth, no rate limit).
#[utoipa::path(
    get,
    path = "/health",
    tag = "health",
    responses(
        (status = 200, description = "Every dependency is up", body = HealthResponse),
        (status = 503, description = "A dependency is down", body = HealthResponse),
    )
)]
#[get("/health")]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    let (db, redis, dependencies) = probe(&state).await;
    let body = HealthResponse {
        status: if db && redis { "ok" } else { "degraded" },
        timestamp: state.clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        dependencies,
        embeddings: state
            .embeddings
            .as_ref()
            .map(|e| EmbeddingsHealth { model: e.model.clone(), counts: e.indexer.stats() }),
    };
    if db && redis {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Readiness: whether this node can take traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyResponse {
    /// `true` when PostgreSQL answers.
    pub ready: bool,
    /// State of each dependency: `ok` or `down`.
    pub dependencies: Dependencies,
}

/// Readiness for load balancers (no auth, no rate limit): 200 while PostgreSQL answers, even with
/// Redis down, because this node still ingests, answers and limits then (the limiter and the
/// live stream fall back to this process); 503 when PostgreSQL is down. `/health` stays the
/// detailed view that reports any dependency down.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "PostgreSQL answers: this node can take traffic", body = ReadyResponse),
        (status = 503, description = "PostgreSQL is down", body = ReadyResponse),
    )
)]
#[get("/health/ready")]
pub async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let (db, _, dependencies) = probe(&state).await;
    let body = ReadyResponse { ready: db, dependencies };
    if db { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// Probes PostgreSQL and Redis in parallel: (database up, Redis up, their states).
async fn probe(state: &AppState) -> (bool, bool, Dependencies) {
    let (db, redis) = futures_util::join!(state.database.is_healthy(), state.redis.is_healthy());
    let word = |up: bool| if up { "ok" } else { "down" };
    (db, redis, Dependencies { redis: word(redis), database: word(db) })
}

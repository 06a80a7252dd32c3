//! HTTP routes, one endpoint family per file.

pub mod events;
pub mod health;
pub mod openapi;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::health)
        .service(web::scope("/api/v1").service(events::ingest).service(openapi::document));
}

/// JSON 404 for every unknown path (`{"error":"Not found","path":...}`, as the original).
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound { path: req.path().to_owned() })
}

//! The actix application: routes plus the middleware stack, shared by the server and the tests
//! so that tests exercise exactly what runs in production.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, Error, web};

use crate::error::ApiError;
use crate::request_id::{self, REQUEST_ID};
use crate::routes;
use crate::state::AppState;

/// Builds the application over `state`, allowing browser calls from `cors_origins` (`None`:
/// any origin).
pub fn build(
    state: web::Data<AppState>,
    cors_origins: Option<Vec<String>>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .app_data(web::QueryConfig::default().error_handler(|e, req| {
            let message = format!("Invalid query string: {e}");
            if req.path().starts_with("/api/") {
                ApiError::InvalidParameter(message).into()
            } else {
                let page = crate::dashboard::pages::error_page(StatusCode::BAD_REQUEST, &message);
                InternalError::from_response(e, page).into()
            }
        }))
        .app_data(web::FormConfig::default().limit(64 * 1024).error_handler(|e, _| {
            let page = crate::dashboard::pages::error_page(
                StatusCode::BAD_REQUEST,
                &format!("The form could not be read: {e}"),
            );
            InternalError::from_response(e, page).into()
        }))
        .configure(routes::configure)
        .configure(crate::dashboard::configure)
        .default_service(web::to(routes::not_found))
        .wrap(from_fn(crate::guard::middleware))
        .wrap(security_headers())
        .wrap(cors(cors_origins.as_deref()))
        .wrap(from_fn(request_id::middleware))
        .wrap(from_fn(crate::metrics::middleware))
}

/// The original sent helmet's headers; we send the ones that matter for a JSON API.
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add(("Cross-Origin-Resource-Policy", "same-site"))
}

/// CORS with an allowlist (the original echoed one fixed origin to everybody).
fn cors(origins: Option<&[String]>) -> Cors {
    let base = Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            header::ACCEPT,
            header::HeaderName::from_static("x-api-key"),
            REQUEST_ID,
        ])
        .expose_headers([
            REQUEST_ID,
            header::RETRY_AFTER,
            header::HeaderName::from_static("x-ratelimit-limit"),
            header::HeaderName::from_static("x-ratelimit-remaining"),
            header::HeaderName::from_static("x-ratelimit-reset"),
            header::HeaderName::from_static("ratelimit"),
            header::HeaderName::from_static("ratelimit-policy"),
            header::HeaderName::from_static("x-result-truncated"),
            header::HeaderName::from_static("x-export-truncated"),
            header::HeaderName::from_static("x-export-total-rows"),
            header::HeaderName::from_static("x-export-row-limit"),
            header::CONTENT_DISPOSITION,
        ])
        .max_age(600);
    match origins {
        None => base.allow_any_origin(),
        Some(list) => list
            .iter()
            .fold(base, |cors, origin| cors.allowed_origin(origin))
            .supports_credentials(),
    }
}

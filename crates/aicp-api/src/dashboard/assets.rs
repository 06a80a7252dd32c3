//! The dashboard's stylesheet and script, compiled into the binary (no build step, no files to
//! deploy beside it) and cached by browsers for an hour.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};

const CSS: &str = include_str!("../../assets/dash.css");
const JS: &str = include_str!("../../assets/dash.js");

/// `/assets/dash.css` and `/assets/dash.js`.
#[get("/assets/{name}")]
pub async fn asset(name: web::Path<String>) -> HttpResponse {
    let (body, kind) = match name.as_str() {
        "dash.css" => (CSS, "text/css; charset=utf-8"),
        "dash.js" => (JS, "text/javascript; charset=utf-8"),
        _ => {
            return crate::dashboard::pages::error_page(
                actix_web::http::StatusCode::NOT_FOUND,
                "No such file.",
            );
        }
    };
    HttpResponse::Ok()
        .content_type(kind)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(body)
}

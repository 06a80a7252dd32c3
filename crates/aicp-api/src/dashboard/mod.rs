//! The dashboard: server-rendered pages over the same domain services as the JSON API, served by
//! the `aicp` binary on its own port. Pages are complete without JavaScript (askama templates,
//! charts drawn on the server as SVG with plotters, flamegraphs by inferno); one small script
//! adds the browser's time zone, copy buttons and the live feed.
//!
//! Handlers only translate: check the viewer ([`session`]) and the view ([`view`]), call the
//! services, turn their answers into display rows, render.

pub mod assets;
pub mod charts;
pub mod format;
pub mod pages;
pub mod session;
pub mod view;

use actix_web::web;

/// What the dashboard keeps for the process.
#[derive(Debug)]
pub struct Dashboard {
    /// Seals session cookies.
    pub sessions: session::Sessions,
}

/// Registers every dashboard route (all outside `/api`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(assets::asset)
        .service(pages::overview::page)
        .service(pages::dimensions::features)
        .service(pages::dimensions::models)
        .service(pages::dimensions::providers)
        .service(pages::dimensions::users)
        .service(pages::events::page)
        .service(pages::events::top_calls)
        .service(pages::traces::flamegraph)
        .service(pages::traces::flamegraph_svg)
        .service(pages::traces::trace)
        .service(pages::prompts::page)
        .service(pages::prompts::similar)
        .service(pages::pricing::page)
        .service(pages::pricing::put_custom)
        .service(pages::pricing::reprice)
        .service(pages::live::page)
        .service(pages::budgets::page)
        .service(pages::keys::page)
        .service(pages::keys::unlock)
        .service(pages::keys::create)
        .service(pages::keys::revoke)
        .service(pages::access::sign_in_page)
        .service(pages::access::sign_in)
        .service(pages::access::sign_out);
}

//! HTTP service of AI Cost Profiler: configuration, composition root, routes and HTTP errors.
//! Only this crate knows HTTP.

pub mod access;
pub mod app;
pub mod budgets;
pub mod config;
pub mod dashboard;
pub mod disconnect;
pub mod embedding;
pub mod error;
pub mod folding;
pub mod guard;
pub mod keys;
pub mod live;
pub mod metrics;
pub mod request_id;
pub mod request_scope;
pub mod routes;
pub mod semantic;
pub mod server;
pub mod state;

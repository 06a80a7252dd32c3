//! The application of a [`TestApp`] over a real socket, for clients that need one (OTLP
//! exporters, the Python SDK, `aicp-client`).

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;

use crate::support::TestApp;

/// A running server; stopped when dropped.
pub struct Served {
    pub port: u16,
    handle: ServerHandle,
}

impl Served {
    /// `http://127.0.0.1:{port}`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Not awaited: the runtime stops the server with the test.
        drop(self.handle.stop(false));
    }
}

/// Serves `app` on a free loopback port (one worker thread, its own runtime).
pub fn serve(app: &TestApp) -> Served {
    let state = app.state();
    let server = HttpServer::new(move || aicp_api::app::build(state.clone(), None))
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Served { port, handle }
}

//! Noticing that a client has gone while its response is still streaming.
//!
//! actix-web drops a streaming body only when a write to the socket fails, so a live-stream
//! client that closed its connection kept its slot until the next keepalive (15 s by default, 29 s
//! measured under load): a browser reloading the live page a few times locked its project out.
//! Here every TCP connection keeps a duplicate of its socket (one `dup` per connection, not per
//! request); a streaming handler watches that duplicate for the peer's close (readable with
//! end of file, or an error) and ends its stream at once.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::dev::Extensions;

/// The duplicate of a connection's socket.
struct PeerSocket(socket2::Socket);

/// `HttpServer::on_connect` hook: keeps a duplicate of each TCP connection's socket.
pub fn on_connect(connection: &dyn Any, data: &mut Extensions) {
    if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Ok(socket) = socket2::SockRef::from(tcp).try_clone()
    {
        data.insert(PeerSocket(socket));
    }
}

/// A future that completes when the client of `req` closes its connection, or `None` when the
/// connection is not a TCP socket seen by [`on_connect`] (then only a failed write notices).
pub fn closed(req: &HttpRequest) -> Option<impl Future<Output = ()> + use<>> {
    let socket = req.conn_data::<PeerSocket>()?.0.try_clone().ok()?;
    let std: std::net::TcpStream = socket.into();
    std.set_nonblocking(true).ok()?;
    let tcp = tokio::net::TcpStream::from_std(std).ok()?;
    Some(async move {
        let mut byte = [0u8; 1];
        loop {
            match tcp.peek(&mut byte).await {
                // End of file or a reset: the client is gone.
                Ok(0) | Err(_) => return,
                // The client sent something (it should not on a stream): look again later
                // rather than spin on a socket that stays readable.
                Ok(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    })
}

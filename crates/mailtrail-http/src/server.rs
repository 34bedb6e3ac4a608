//! Serving HTTP/1.1 connections with limits that keep slow or idle clients
//! from taking the server down (slowloris).
//!
//! - A client has `header_timeout` to send a request's headers; the same
//!   timer runs while a keep-alive connection waits for its next request,
//!   so it is also the idle timeout (hyper's `header_read_timeout`).
//! - A request body must keep arriving: `body_timeout` between chunks.
//! - At most `max_connections` are open. The last `tracking_reserve` of
//!   them are kept for the tracking endpoints and `/healthz`: when every
//!   other slot is taken, a new connection may still serve a pixel, a
//!   click or a health check, one request with a short header timeout,
//!   while other paths get 503. Past the limit a connection is closed at
//!   once, before it costs more than its descriptor for a moment.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service as _;

use crate::ApiError;

/// Limits on connections and on how long a client may take.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Time to send a request's headers, and the idle keep-alive timeout.
    pub header_timeout: Duration,
    /// Time between chunks of a request body.
    pub body_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Of `max_connections`, the ones kept for tracking and `/healthz`.
    pub tracking_reserve: usize,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            tracking_reserve: 1_000,
        }
    }
}

/// Descriptors kept out of the HTTP connection limit: the database pool,
/// the event journal, SMTP and IMAP connections, files.
const DESCRIPTORS_KEPT: u64 = 256;

impl ConnectionSettings {
    /// The configured limits, with the connection limit lowered to fit
    /// the process's descriptor limit (raised first to its hard limit)
    /// with room for everything else, and the tracking reserve at most
    /// half of it.
    pub fn fitted(
        max_connections: usize,
        tracking_reserve: usize,
        header_timeout: Duration,
        body_timeout: Duration,
    ) -> Self {
        let mut max = max_connections.max(1);
        if let Some(d) = raise_descriptor_limit() {
            let fits =
                usize::try_from(d.saturating_sub(DESCRIPTORS_KEPT).max(16)).unwrap_or(usize::MAX);
            if fits < max {
                tracing::warn!(
                    http.max_connections = max,
                    descriptors = d,
                    "the descriptor limit lowers the HTTP connection limit to {fits}"
                );
                max = fits;
            }
        }
        Self {
            header_timeout,
            body_timeout,
            max_connections: max,
            tracking_reserve: tracking_reserve.min(max / 2),
        }
    }
}

/// Raises the soft limit on open descriptors to the hard limit (each
/// HTTP connection holds one; the usual soft limit of 1,024 is far below
/// what a server needs) and returns the limit in force, if known.
fn raise_descriptor_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some() && limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "could not raise the open-descriptor limit");
        }
    }
    let now = getrlimit(Resource::Nofile).current;
    tracing::info!(descriptors = ?now, "open-descriptor limit");
    now
}

/// The header timeout of a connection in the tracking reserve: a pixel or
/// click request is one short line and a few headers.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// How long shutdown waits for open connections before dropping them.
const DRAIN_PERIOD: Duration = Duration::from_secs(5);

/// Whether a path may be served on a connection of the tracking reserve.
fn reserved_path(path: &str) -> bool {
    path.starts_with("/t/") || path == "/healthz"
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves,
/// then stops accepting and lets in-flight requests finish (for at most
/// the drain period: a live feed never finishes by itself).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let reserve = limits.tracking_reserve.min(limits.max_connections);
    let general = Arc::new(Semaphore::new(limits.max_connections - reserve));
    let reserved = Arc::new(Semaphore::new(reserve));
    let mut general_conn = hyper::server::conn::http1::Builder::new();
    general_conn
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut reserve_conn = general_conn.clone();
    reserve_conn
        .header_read_timeout(limits.header_timeout.min(RESERVE_HEADER_TIMEOUT))
        .keep_alive(false);
    let graceful = GracefulShutdown::new();
    let mut refused: u64 = 0;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (permit, in_reserve) = if let Ok(p) = general.clone().try_acquire_owned() {
            (p, false)
        } else if let Ok(p) = reserved.clone().try_acquire_owned() {
            (p, true)
        } else {
            refused += 1;
            // Once per thousand, not per connection: a flood must not
            // become a flood of log lines.
            if refused % 1000 == 1 {
                tracing::warn!(
                    http.max_connections = limits.max_connections,
                    refused,
                    "every HTTP connection slot is taken; closing new connections"
                );
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = ConnectionService {
            app: app.clone(),
            peer,
            in_reserve,
        };
        let builder = if in_reserve {
            &reserve_conn
        } else {
            &general_conn
        };
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _permit = permit;
            // Client errors (a reset, a header timeout) end the connection;
            // there is nothing to answer and nothing worth logging.
            let _ = conn.await;
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_PERIOD) => {
            tracing::warn!(drain.secs = DRAIN_PERIOD.as_secs(), "connections still open after the drain period (live feeds); closing them");
        }
    }
    Ok(())
}

/// An accept error: per-connection ones (the peer already gone) are
/// skipped; others (out of descriptors) wait a moment so that the loop
/// does not spin while open connections finish.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting an HTTP connection failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One connection's service: the router, with the peer address as
/// `ConnectInfo`, and only reserved paths on a reserve connection.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    peer: SocketAddr,
    in_reserve: bool,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future =
        std::pin::Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send + 'static>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        if self.in_reserve && !reserved_path(req.uri().path()) {
            return Box::pin(async { Ok(busy()) });
        }
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let mut app = self.app.clone();
        Box::pin(async move { app.call(req.map(Body::new)).await })
    }
}

/// 503 with `Retry-After` (RFC 9110 section 15.6.4): every slot but the
/// tracking reserve is taken.
fn busy() -> Response {
    let mut res = ApiError::Http {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "the server has too many open connections; try again in a moment".into(),
    }
    .into_response();
    res.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tracking_and_health_are_reserved() {
        assert!(reserved_path("/t/o/abc"));
        assert!(reserved_path("/t/c/abc"));
        assert!(reserved_path("/healthz"));
        assert!(!reserved_path("/login"));
        assert!(!reserved_path("/api/v1/messages"));
        assert!(!reserved_path("/t"));
    }
}

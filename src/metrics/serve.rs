//! The `/metrics` endpoint (`--metrics-listen ADDR`): a small HTTP server
//! (tiny_http, on a thread of its own) that answers `GET /metrics` with the
//! session's metrics — OpenMetrics text when the client asks for it, as
//! Prometheus does, else the classic text format — and a short page on `/`.

use std::net::SocketAddr;
use std::sync::Arc;

use super::live::LiveMetrics;

/// The OpenMetrics content type Prometheus negotiates for.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Could not listen on the address asked for.
#[derive(Debug, thiserror::Error)]
#[error("--metrics-listen {addr}: {message}")]
pub struct ListenError {
    pub addr: String,
    pub message: String,
}

/// A running endpoint; dropping it stops serving.
pub struct Endpoint {
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The address actually bound (a port 0 gets a free one).
    pub addr: SocketAddr,
}

impl Endpoint {
    /// Serve `metrics` on `addr` (`host:port`).
    pub fn start(addr: &str, metrics: Arc<LiveMetrics>) -> Result<Endpoint, ListenError> {
        let fail = |message: String| ListenError {
            addr: addr.to_string(),
            message,
        };
        let sock: SocketAddr = addr
            .parse()
            .map_err(|_| fail("expected HOST:PORT, e.g. 127.0.0.1:9464 or [::1]:9464".into()))?;
        let server = Arc::new(tiny_http::Server::http(sock).map_err(|e| fail(e.to_string()))?);
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| fail("not an IP address".into()))?;
        let s = server.clone();
        let thread = std::thread::Builder::new()
            .name("dbload-metrics".into())
            .spawn(move || {
                for req in s.incoming_requests() {
                    let _ = respond(req, &metrics);
                }
            })
            .map_err(|e| fail(e.to_string()))?;
        Ok(Endpoint {
            server,
            thread: Some(thread),
            addr: bound,
        })
    }
}

fn respond(req: tiny_http::Request, metrics: &LiveMetrics) -> std::io::Result<()> {
    let header = |k: &str, v: &str| tiny_http::Header::from_bytes(k, v).expect("valid header");
    let path = req.url().split('?').next().unwrap_or("");
    // Prometheus asks for OpenMetrics; anything else gets the classic text.
    let openmetrics = req.headers().iter().any(|h| {
        h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
    });
    match (req.method(), path) {
        (tiny_http::Method::Get, "/metrics") if openmetrics => req.respond(
            tiny_http::Response::from_string(metrics.encode())
                .with_header(header("Content-Type", CONTENT_TYPE)),
        ),
        (tiny_http::Method::Get, "/metrics") => req.respond(
            tiny_http::Response::from_string(super::text::from_openmetrics(&metrics.encode()))
                .with_header(header("Content-Type", super::text::CONTENT_TYPE)),
        ),
        (tiny_http::Method::Get, "/") => req.respond(
            tiny_http::Response::from_string("dbload: the metrics of this run are at /metrics\n")
                .with_header(header("Content-Type", "text/plain; charset=utf-8")),
        ),
        _ => req.respond(tiny_http::Response::from_string("not found\n").with_status_code(404)),
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

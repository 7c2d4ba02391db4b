//! The open model's connections: a pool whose TCP connections run over a
//! [`TimedStream`] (kernel receive timestamps; replies read on the timer's
//! grid, see [`super::socket`]), and the [`Wire`] through which a worker
//! tells its connection which reply its next statement waits for and learns
//! when the last reply arrived.
//!
//! tokio-postgres opens its own sockets, so this opens the TCP connection as
//! it does (every address of the host in turn, each attempt bounded by the
//! connect timeout, `TCP_NODELAY`, keepalives) and hands it to
//! `connect_raw`, which does TLS and authentication as usual. Unix-socket
//! targets keep tokio-postgres's own connections (no receive timestamps
//! there): their replies are read at once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Connect, Hook, Pool};
use futures_util::future::BoxFuture;
use postgres_native_tls::MakeTlsConnector;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, NoTls};

use super::socket::{Line, TimedStream};
use crate::db::connect::spawn_connection;
use crate::db::target::{SslMode, Target, is_socket_dir};
use crate::db::{ConnectError, pool_with};

thread_local! {
    /// The line of the connection this thread opened last, until the
    /// pool's post-create hook files it under its client.
    static OPENED: RefCell<Option<Arc<Line>>> = const { RefCell::new(None) };
    /// Lines by the address of their client's statement cache (one per
    /// connection, stable while it lives).
    static LINES: RefCell<HashMap<usize, Weak<Line>>> = RefCell::new(HashMap::new());
}

/// A pool of `size` connections to `target` for the open model: over
/// [`TimedStream`]s for a TCP target, else [`crate::db::pool`]'s.
pub fn pool(target: &Target, size: usize) -> Result<Pool, ConnectError> {
    if is_socket_dir(&target.host_display()) {
        return crate::db::pool(target, size);
    }
    let tls = match target.sslmode {
        SslMode::Disable => None,
        _ => Some(crate::db::connect::tls_connector(target)?),
    };
    let connect = TimedConnect {
        host: target.host_display(),
        port: target.port_or_default(),
        timeout: target.startup_timeout(),
        tls,
    };
    // Runs on the thread that opened the connection, in the same poll that
    // finished opening it (no other connection can open in between).
    let file = Hook::sync_fn(|w: &mut ClientWrapper, _| {
        if let Some(line) = OPENED.take() {
            let key = Arc::as_ptr(&w.statement_cache) as usize;
            LINES.with_borrow_mut(|m| {
                m.retain(|_, l| l.strong_count() > 0);
                m.insert(key, Arc::downgrade(&line));
            });
        }
        Ok(())
    });
    pool_with(target, size, connect, Some(file))
}

/// Opens a connection as tokio-postgres would, over a [`TimedStream`].
struct TimedConnect {
    host: String,
    port: u16,
    timeout: Option<Duration>,
    tls: Option<MakeTlsConnector>,
}

impl Connect for TimedConnect {
    fn connect(
        &self,
        cfg: &tokio_postgres::Config,
    ) -> BoxFuture<'_, Result<(Client, tokio::task::JoinHandle<()>), tokio_postgres::Error>> {
        let cfg = cfg.clone();
        Box::pin(async move {
            let tcp = match open_tcp(&self.host, self.port, self.timeout).await {
                Ok(s) => s,
                Err(e) => return Err(io_error(e).await),
            };
            let line = Arc::new(Line::default());
            let stream = TimedStream::new(tcp, line.clone());
            let (client, task) = match &self.tls {
                None => {
                    let (client, conn) = cfg.connect_raw(stream, NoTls).await?;
                    (client, spawn_connection(conn))
                }
                Some(tls) => {
                    let mut tls = tls.clone();
                    let tc =
                        match MakeTlsConnect::<TimedStream>::make_tls_connect(&mut tls, &self.host)
                        {
                            Ok(tc) => tc,
                            Err(e) => return Err(io_error(std::io::Error::other(e)).await),
                        };
                    let (client, conn) = cfg.connect_raw(stream, tc).await?;
                    (client, spawn_connection(conn))
                }
            };
            OPENED.set(Some(line));
            Ok((client, task))
        })
    }
}

/// Connect to each address of `host` in turn (as libpq and tokio-postgres
/// do), each attempt bounded by `timeout`; `TCP_NODELAY` and keepalives on.
async fn open_tcp(
    host: &str,
    port: u16,
    timeout: Option<Duration>,
) -> std::io::Result<tokio::net::TcpStream> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let attempt = tokio::net::TcpStream::connect(addr);
        let r = match timeout {
            Some(t) => tokio::time::timeout(t, attempt)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
            None => attempt.await,
        };
        match r {
            Ok(s) => {
                s.set_nodelay(true)?;
                nix::sys::socket::setsockopt(&s, nix::sys::socket::sockopt::KeepAlive, &true)?;
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("could not resolve host \"{host}\""),
        )
    }))
}

/// tokio-postgres makes its errors itself only: an I/O error becomes one by
/// failing a start-up over a stream that returns it.
async fn io_error(e: std::io::Error) -> tokio_postgres::Error {
    let mut cfg = tokio_postgres::Config::new();
    cfg.user("dbload")
        .ssl_mode(tokio_postgres::config::SslMode::Disable);
    match cfg.connect_raw(Failing(Some(e)), NoTls).await {
        Err(e) => e,
        Ok(_) => unreachable!("a start-up over a failing stream cannot succeed"),
    }
}

/// A stream whose first read or write fails with its error.
struct Failing(Option<std::io::Error>);

impl Failing {
    fn fail<T>(&mut self) -> std::task::Poll<std::io::Result<T>> {
        std::task::Poll::Ready(Err(self
            .0
            .take()
            .unwrap_or_else(|| std::io::ErrorKind::BrokenPipe.into())))
    }
}

impl AsyncRead for Failing {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.get_mut().fail()
    }
}

impl AsyncWrite for Failing {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        _: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.get_mut().fail()
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.get_mut().fail()
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A worker's hold on its connection's [`Line`] for one scenario (none for
/// connections not opened here: their replies are read at once and end
/// when read).
pub struct Wire {
    line: Option<Arc<Line>>,
    /// Whether the last reply may be read on the grid at all.
    may_wait: bool,
}

impl Wire {
    /// The line of pooled connection `client`; unless `may_wait`, every
    /// reply is read at once.
    pub fn of(client: &deadpool_postgres::Client, may_wait: bool) -> Wire {
        let key = Arc::as_ptr(&client.statement_cache) as usize;
        Wire {
            line: LINES.with_borrow(|m| m.get(&key).and_then(Weak::upgrade)),
            may_wait,
        }
    }

    /// The next round trip's reply ends the scenario (`last`: it may be
    /// read on the grid) or the next statement waits for it (read at once).
    pub fn trip(&self, last: bool) {
        if let Some(l) = &self.line {
            l.set_prompt(!(last && self.may_wait));
            l.set_awaiting(true);
        }
    }

    /// When the reply to a request sent at `sent` reached the machine: the
    /// kernel's arrival time of the last bytes read, if they came after
    /// `sent`; else now.
    pub fn arrived(&self, sent: Instant) -> Instant {
        let now = Instant::now();
        if let Some(l) = &self.line {
            l.set_awaiting(false);
        }
        self.line
            .as_ref()
            .and_then(|l| l.last_arrival())
            .filter(|at| *at >= sent && *at <= now)
            .unwrap_or(now)
    }
}

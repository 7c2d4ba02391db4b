//! Opening connections and pools for a [`Target`], with errors a user can act
//! on: which address, which user, what went wrong — never the password.
//! Every connection's whole start-up (TCP connect, TLS, authentication, until
//! the server is ready for the first query) is bounded by the target's
//! [`Target::startup_timeout`]: single connections by a timer around the
//! handshake, pooled ones by the pool's create timeout.

use std::error::Error as _;
use std::time::Duration;

use deadpool_postgres::{
    ConfigConnectImpl, Connect, Hook, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime,
};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::{Client, NoTls};

use super::target::{SslMode, Target};

/// A connection attempt that failed, classified for the user.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("could not connect to {address}: {cause}")]
    Unreachable { address: String, cause: String },
    #[error(
        "could not connect to {address}: the server did not complete the connection start-up \
         within {}s (connect_timeout / PGCONNECT_TIMEOUT, default {}s)",
        .timeout.as_secs(),
        super::target::DEFAULT_CONNECT_TIMEOUT.as_secs()
    )]
    Timeout { address: String, timeout: Duration },
    #[error("authentication failed for user \"{user}\" at {address}: {message}")]
    Auth {
        address: String,
        user: String,
        message: String,
    },
    #[error("database \"{dbname}\" does not exist at {address}")]
    NoDatabase { address: String, dbname: String },
    #[error("server at {address} refused the connection: {message}")]
    Refused { address: String, message: String },
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

/// Build the TLS connector matching the target's `sslmode`. `require`
/// encrypts without verifying (as libpq); `verify-ca` checks the chain;
/// `verify-full` also checks the host name.
pub fn tls_connector(target: &Target) -> Result<MakeTlsConnector, ConnectError> {
    let mut b = native_tls::TlsConnector::builder();
    match target.sslmode {
        SslMode::Disable | SslMode::Allow | SslMode::Prefer | SslMode::Require => {
            b.danger_accept_invalid_certs(true);
            b.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyCa => {
            b.danger_accept_invalid_hostnames(true);
        }
        SslMode::VerifyFull => {}
    }
    let c = b.build().map_err(|e| ConnectError::Tls(e.to_string()))?;
    Ok(MakeTlsConnector::new(c))
}

/// Turn a tokio-postgres connect error into a [`ConnectError`].
pub fn classify(target: &Target, e: tokio_postgres::Error) -> ConnectError {
    let address = target.address();
    if let Some(db) = e.as_db_error() {
        let code = db.code().code();
        if code.starts_with("28") {
            let mut message = db.message().to_string();
            if let Some(f) = &target.passfile {
                message.push_str(&format!(
                    " (password retrieved from file \"{}\")",
                    f.display()
                ));
            }
            return ConnectError::Auth {
                address,
                user: target.user_or_default(),
                message,
            };
        }
        if code == "3D000" {
            return ConnectError::NoDatabase {
                address,
                dbname: target.dbname_or_default(),
            };
        }
        return ConnectError::Refused {
            address,
            message: format!("{} (SQLSTATE {code})", db.message()),
        };
    }
    // Walk the source chain for the root cause (io errors, timeouts).
    let mut cause = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    if cause == "password missing" {
        return ConnectError::Auth {
            address,
            user: target.user_or_default(),
            message: "the server asks for a password and none was given (put it in the URL, \
                      PGPASSWORD or a password file: ~/.pgpass, PGPASSFILE)"
                .into(),
        };
    }
    if cause.contains("Connection refused") {
        cause = format!("{cause} — is the server running and accepting connections there?");
    } else if cause.contains("No such file or directory") && target.host_display().starts_with('/')
    {
        cause = format!("{cause} — no server socket in that directory");
    } else if e.to_string().contains("timed out") || cause.contains("timed out") {
        cause = "connection timed out".into();
    }
    ConnectError::Unreachable { address, cause }
}

/// Open one connection; its driver task runs on the current tokio runtime.
/// The whole start-up is bounded by the target's start-up timeout.
pub async fn connect(target: &Target) -> Result<Client, ConnectError> {
    match target.startup_timeout() {
        None => connect_unbounded(target).await,
        Some(limit) => tokio::time::timeout(limit, connect_unbounded(target))
            .await
            .map_err(|_| ConnectError::Timeout {
                address: target.address(),
                timeout: limit,
            })?,
    }
}

async fn connect_unbounded(target: &Target) -> Result<Client, ConnectError> {
    let cfg = target.pg_config();
    // sslmode=disable never uses TLS: skip building a connector (which loads
    // the system's CA certificates).
    if target.sslmode == SslMode::Disable {
        let (client, conn) = cfg.connect(NoTls).await.map_err(|e| classify(target, e))?;
        spawn_connection(conn);
        Ok(client)
    } else {
        let (client, conn) = cfg
            .connect(tls_connector(target)?)
            .await
            .map_err(|e| classify(target, e))?;
        spawn_connection(conn);
        Ok(client)
    }
}

/// Drive a connection on the current runtime until it closes.
pub(crate) fn spawn_connection<F>(conn: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("connection closed: {e}");
        }
    })
}

/// A deadpool pool of at most `size` connections to `target`. Connections
/// are opened lazily; call [`check_pool`] to fail fast on a bad target. Each
/// connection's start-up is bounded by the target's start-up timeout (the
/// pool's create timeout, which needs the tokio runtime it is used on).
pub fn pool(target: &Target, size: usize) -> Result<Pool, ConnectError> {
    if target.sslmode == SslMode::Disable {
        pool_with(target, size, ConfigConnectImpl { tls: NoTls }, None)
    } else {
        let tls = tls_connector(target)?;
        pool_with(target, size, ConfigConnectImpl { tls }, None)
    }
}

/// A pool like [`pool`]'s whose connections are opened by `connect`, with
/// `post_create` run on each new one.
pub fn pool_with(
    target: &Target,
    size: usize,
    connect: impl Connect + 'static,
    post_create: Option<Hook>,
) -> Result<Pool, ConnectError> {
    let mc = ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let mgr = Manager::from_connect(target.pg_config(), connect, mc);
    let mut b = Pool::builder(mgr)
        .max_size(size.max(1))
        .create_timeout(target.startup_timeout())
        .runtime(Runtime::Tokio1);
    if let Some(h) = post_create {
        b = b.post_create(h);
    }
    b.build().map_err(|e| ConnectError::Refused {
        address: target.address(),
        message: e.to_string(),
    })
}

/// Take one connection from a pool, classifying failures like [`connect`].
pub async fn check_pool(target: &Target, pool: &Pool) -> Result<(), ConnectError> {
    match pool.get().await {
        Ok(_) => Ok(()),
        Err(deadpool_postgres::PoolError::Backend(e)) => Err(classify(target, e)),
        Err(deadpool_postgres::PoolError::Timeout(_)) => Err(ConnectError::Timeout {
            address: target.address(),
            timeout: target.startup_timeout().unwrap_or_default(),
        }),
        Err(e) => Err(ConnectError::Unreachable {
            address: target.address(),
            cause: e.to_string(),
        }),
    }
}

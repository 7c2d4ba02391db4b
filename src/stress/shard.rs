//! A driver thread: a single-threaded tokio runtime of its own that owns a
//! share of the connections (its own pool, whose connection tasks run on
//! it) and the workers using them, like a pgbench thread (`-j`). Every
//! run's workers live on driver threads, whatever the mode, so no query's
//! wake-ups cross threads; the workers share only the run's statistics
//! shards, schedule and deadline with the other threads and the collector.
//!
//! Life of a shard: warm its pool → report ready → wait for the launch (or
//! for the run to be called off) → run its workers, passing on any panic
//! as it happens → report done when the last one ends, or abort them when
//! told to.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::outcome::StressError;
use super::worker::{Launch, panic_message, spawn_workers, warm_pool};
use crate::workload::Prepared;

/// The name of every driver thread (as `/proc/<pid>/task/*/comm` shows it).
pub const THREAD_NAME: &str = "dbload-driver";

/// The running engine's handle on a shard thread.
pub(super) struct Remote {
    ready: oneshot::Receiver<Result<(), StressError>>,
    launch: oneshot::Sender<Launch>,
    done: oneshot::Receiver<()>,
    abort: watch::Sender<bool>,
}

/// Tells a launched shard to abort its workers.
pub(super) struct Abort(watch::Sender<bool>);

impl Abort {
    pub fn abort(self) {
        let _ = self.0.send(true);
    }
}

/// Start a shard thread for workers `ids` on `pool`; it warms the pool
/// at once.
pub(super) fn spawn(
    pool: Pool,
    ids: Vec<usize>,
    prepared: Arc<Prepared>,
) -> std::io::Result<Remote> {
    let (ready_tx, ready) = oneshot::channel();
    let (launch, launch_rx) = oneshot::channel::<Launch>();
    let (done_tx, done) = oneshot::channel();
    let (abort, mut abort_rx) = watch::channel(false);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            let size = pool.status().max_size;
            rt.block_on(async move {
                let warmed = warm_pool(&pool, &prepared, size).await;
                let ok = warmed.is_ok();
                let _ = ready_tx.send(warmed);
                if !ok {
                    return;
                }
                let Ok(l) = launch_rx.await else {
                    return; // the run was called off
                };
                let mut set = JoinSet::new();
                spawn_workers(&mut set, &l, &pool, size, &ids);
                // Panics go to the run as they happen, so a drain timeout
                // that aborts this thread's workers does not lose them.
                loop {
                    tokio::select! {
                        r = set.join_next() => match r {
                            None => break,
                            Some(Ok(())) => {}
                            Some(Err(e)) => l.sh.panics.lock().unwrap()
                                .extend(panic_message(e)),
                        },
                        _ = abort_rx.wait_for(|v| *v) => {
                            set.abort_all();
                            break;
                        }
                    }
                }
                drop(l);
                let _ = done_tx.send(());
            });
        })?;
    Ok(Remote {
        ready,
        launch,
        done,
        abort,
    })
}

impl Remote {
    /// Wait until the shard's pool is warm (or failed to warm).
    pub async fn ready(&mut self) -> Result<(), StressError> {
        match (&mut self.ready).await {
            Ok(r) => r,
            Err(_) => Err(StressError::Pool(
                "a driver thread ended before its connections were open".into(),
            )),
        }
    }

    /// Start the shard's workers. Returns the abort handle and a future
    /// ready once they have all ended (their panics reach the run through
    /// the shared state as they happen).
    pub fn launch(
        self,
        l: Launch,
    ) -> (
        Abort,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let _ = self.launch.send(l);
        let done = self.done;
        (Abort(self.abort), async move {
            let _ = done.await;
        })
    }
}

//! Stop signals, handled alike by every command that runs for a while:
//! SIGINT (Ctrl-C), SIGTERM (what `timeout`, Kubernetes and CI
//! cancellation send) and SIGHUP (a closed terminal or SSH session).
//!
//! The first signal raises the process-wide stop flag: stress in every mode,
//! regress and seed wind down, write what they have (marked interrupted)
//! and exit 3. A second signal ends the process at once, also with exit 3,
//! writing nothing more. The handlers are installed once per process and
//! stay for its lifetime (tokio cannot uninstall them), so a signal
//! arriving between two phases (the demo's steps, the results being
//! written) is still counted rather than killing the process half-way.

use std::sync::{Mutex, OnceLock};

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// What the first signal does.
#[derive(Clone, Copy)]
enum OnFirst {
    /// Raise the stop flag and say what happens next.
    Stop(&'static str),
    /// Nothing is listening for the flag: end at once.
    Exit,
}

struct Signals {
    stop: watch::Sender<bool>,
    on_first: Mutex<OnFirst>,
}

static SIGNALS: OnceLock<Signals> = OnceLock::new();
/// Held while installing, so that the handlers are installed only once.
static INSTALLING: Mutex<()> = Mutex::new(());

/// The stop flag, raised by the first SIGINT, SIGTERM or SIGHUP; its
/// message says what happens next (`"finishing in-flight work and writing
/// partial results"`). Must be called inside the tokio runtime.
pub fn stop_flag(what_next: &'static str) -> anyhow::Result<watch::Receiver<bool>> {
    let s = install()?;
    *s.on_first.lock().unwrap_or_else(|p| p.into_inner()) = OnFirst::Stop(what_next);
    Ok(s.stop.subscribe())
}

/// From now on the first signal ends the process at once (for a phase that
/// cannot stop half-way and has nothing partial to write).
pub fn exit_on_signal() -> anyhow::Result<()> {
    let s = install()?;
    *s.on_first.lock().unwrap_or_else(|p| p.into_inner()) = OnFirst::Exit;
    Ok(())
}

/// Whether a stop signal has arrived.
pub fn received() -> bool {
    SIGNALS.get().is_some_and(|s| *s.stop.borrow())
}

fn install() -> anyhow::Result<&'static Signals> {
    let _once = INSTALLING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = SIGNALS.get() {
        return Ok(s);
    }
    // Registered here, before returning, so that no signal between this
    // call and the listener's first poll takes the default action.
    let kinds = [
        (SignalKind::interrupt(), "SIGINT"),
        (SignalKind::terminate(), "SIGTERM"),
        (SignalKind::hangup(), "SIGHUP"),
    ];
    let mut streams = Vec::new();
    for (kind, name) in kinds {
        let s = signal(kind).map_err(|e| anyhow::anyhow!("installing a {name} handler: {e}"))?;
        streams.push((s, name));
    }
    let (tx, _) = watch::channel(false);
    let signals = SIGNALS.get_or_init(|| Signals {
        stop: tx,
        on_first: Mutex::new(OnFirst::Exit),
    });
    tokio::spawn(listen(signals, streams));
    Ok(signals)
}

async fn listen(s: &'static Signals, mut streams: Vec<(tokio::signal::unix::Signal, &str)>) {
    loop {
        let next = futures_util::future::select_all(
            streams
                .iter_mut()
                .map(|(sig, name)| Box::pin(async move { sig.recv().await.map(|_| *name) })),
        );
        let Some(name) = next.await.0 else {
            return;
        };
        let on_first = *s.on_first.lock().unwrap_or_else(|p| p.into_inner());
        match on_first {
            OnFirst::Stop(what_next) if !*s.stop.borrow() => {
                eprintln!(
                    "\ndbload: {name} received: {what_next} (send another signal to end at once)"
                );
                s.stop.send_replace(true);
            }
            _ => {
                let again = if *s.stop.borrow() { " again" } else { "" };
                eprintln!("\ndbload: {name} received{again}: ending at once");
                std::process::exit(crate::EXIT_INVALID_RUN.into());
            }
        }
    }
}

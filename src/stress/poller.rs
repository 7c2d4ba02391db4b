//! The grid's look at its connections: an epoll set that nobody ever waits
//! on. A connection whose replies are read on the timer's grid leaves the
//! event loop (so a reply arriving wakes no thread) and is watched here
//! instead; at each grid point the timer looks (`epoll_wait` with a zero
//! timeout, level-triggered) and wakes exactly the connections with bytes
//! to read — no read is tried on a socket that has nothing.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;

use futures_util::task::AtomicWaker;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// One watched connection: whether the last look found bytes to read, and
/// its task to wake.
#[derive(Debug, Default)]
pub struct Watch {
    ready: AtomicBool,
    /// A request went out whose scenario has not ended: the grid must go
    /// on looking.
    awaiting: AtomicBool,
    waker: AtomicWaker,
}

impl Watch {
    /// The task to wake (the connection's).
    pub fn register(&self, waker: &Waker) {
        self.waker.register(waker);
    }

    /// Wake the connection's task.
    pub fn wake(&self) {
        self.waker.wake();
    }

    /// Whether a reply is awaited on this connection.
    pub fn set_awaiting(&self, awaiting: bool) {
        self.awaiting.store(awaiting, Ordering::Relaxed);
    }

    /// True once after a look found bytes to read.
    pub fn take_ready(&self) -> bool {
        self.ready.swap(false, Ordering::Relaxed)
    }

    fn found_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
        self.waker.wake();
    }
}

/// The watched sockets of one driver thread.
pub struct Poller {
    ep: Epoll,
    watched: HashMap<RawFd, Arc<Watch>>,
    events: Vec<EpollEvent>,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        Ok(Poller {
            ep: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            watched: HashMap::new(),
            events: vec![EpollEvent::empty(); 64],
        })
    }

    /// Watch socket `fd` for bytes to read (it must stay open until
    /// [`Poller::forget`]).
    pub fn watch(&mut self, fd: RawFd, w: &Arc<Watch>) -> io::Result<()> {
        match self.watched.get(&fd) {
            Some(old) if Arc::ptr_eq(old, w) => return Ok(()),
            // The number of a socket closed while watched, now another's:
            // the kernel dropped the old registration with it.
            Some(_) => self.forget(fd),
            None => {}
        }
        let ev = EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLRDHUP, fd as u64);
        // SAFETY: the caller keeps `fd` open while it is watched.
        self.ep.add(unsafe { BorrowedFd::borrow_raw(fd) }, ev)?;
        self.watched.insert(fd, w.clone());
        if self.events.len() < self.watched.len() {
            self.events.resize(self.watched.len(), EpollEvent::empty());
        }
        Ok(())
    }

    /// Stop watching `fd` (before it goes back to the event loop or closes).
    pub fn forget(&mut self, fd: RawFd) {
        if self.watched.remove(&fd).is_some() {
            // SAFETY: `fd` is still open (the caller forgets before closing).
            let _ = self.ep.delete(unsafe { BorrowedFd::borrow_raw(fd) });
        }
    }

    /// True while a watched connection awaits a reply (idle ones in the
    /// pool do not keep the grid ticking).
    pub fn awaiting(&self) -> bool {
        self.watched
            .values()
            .any(|w| w.awaiting.load(Ordering::Relaxed))
    }

    /// Wake every watched connection with bytes to read (or hung up): how
    /// many.
    pub fn look(&mut self) -> u64 {
        // Room for every watched socket: one call sees them all (a
        // level-triggered set would return the same ones to a second call).
        let n = self
            .ep
            .wait(&mut self.events, EpollTimeout::ZERO)
            .unwrap_or(0);
        let mut woken = 0;
        for ev in &self.events[..n] {
            if let Some(w) = self.watched.get(&(ev.data() as RawFd)) {
                w.found_ready();
                woken += 1;
            }
        }
        woken
    }

    /// The poller itself in the event loop (while it is there, a watched
    /// socket getting bytes wakes the thread). It must not outlive `self`.
    pub fn in_loop(&self) -> io::Result<InLoop> {
        // SAFETY: the descriptor stays open while `InLoop` lives (the caller
        // keeps the poller longer) and is deregistered when it is dropped.
        unsafe { AsyncFd::register_with_interest(Fd(self.ep.0.as_raw_fd()), Interest::READABLE) }
            .map(InLoop)
            .map_err(io::Error::from)
    }

    /// Wake every watched connection (they go back to the event loop and
    /// forget themselves).
    pub fn wake_all(&self) {
        for w in self.watched.values() {
            w.found_ready();
        }
    }
}

/// The poller's descriptor, borrowed.
struct Fd(RawFd);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// See [`Poller::in_loop`].
pub struct InLoop(AsyncFd<Fd>);

impl InLoop {
    /// Until a watched socket gets bytes (then [`Poller::look`]).
    pub async fn replies(&self) {
        match self.0.readable().await {
            // Edge-triggered in the event loop: the next bytes raise a new
            // event, whatever `look` leaves unread.
            Ok(mut g) => g.clear_ready(),
            Err(_) => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_look_wakes_only_the_sockets_with_bytes_to_read() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut a_peer, _) = listener.accept().unwrap();
        let b = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_b_peer, _) = listener.accept().unwrap();
        let mut p = Poller::new().unwrap();
        let (wa, wb) = (Arc::new(Watch::default()), Arc::new(Watch::default()));
        p.watch(a.as_raw_fd(), &wa).unwrap();
        p.watch(b.as_raw_fd(), &wb).unwrap();
        p.watch(a.as_raw_fd(), &wa).unwrap(); // again: no error, no double
        assert_eq!(p.look(), 0);
        a_peer.write_all(b"reply").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(p.look(), 1);
        assert!(wa.take_ready() && !wa.take_ready() && !wb.take_ready());
        // Level-triggered: unread bytes are found again at the next look.
        assert_eq!(p.look(), 1);
        p.forget(a.as_raw_fd());
        assert_eq!(p.look(), 0);
        assert_eq!(p.watched.len(), 1);
        assert!(!p.awaiting(), "no request went out");
        wb.set_awaiting(true);
        assert!(p.awaiting());
        p.forget(b.as_raw_fd());
        assert!(p.watched.is_empty() && !p.awaiting());
    }
}

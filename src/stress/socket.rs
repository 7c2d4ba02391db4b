//! The socket under an open-model connection: a TCP stream that reads with
//! the kernel's receive timestamp (`SO_TIMESTAMPNS`) and, while the driver
//! thread's timer is on a grid ([`super::timer::park_reader`]), is left out
//! of the event loop so that a reply arriving does not wake the thread: the
//! connection reads it at the next grid point, when the thread is awake for
//! the arrivals anyway. Its [`Line`] keeps the kernel arrival time of the
//! last bytes read, so a reply read late still ends its execution time when
//! it reached the machine ([`super::connect::Wire`]); a reply that the
//! scenario's next statement waits for is read at once (the line is
//! `prompt`), so a transaction's locks are not held longer for the driver.
//!
//! A socket whose reads carry no timestamp is never left out of the event
//! loop: nothing would then say when its replies arrived.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use nix::libc;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::poller::Watch;
use super::timer;

/// Times on a [`Line`] are nanoseconds since this instant (never 0: 0 is
/// "none").
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| Instant::now() - Duration::from_secs(1))
}

/// What a connection's socket shares with the worker running queries on it.
#[derive(Debug)]
pub struct Line {
    /// Kernel arrival time of the last bytes read, ns since [`origin`]
    /// (0: none yet).
    rx_ns: AtomicU64,
    /// Read replies as soon as they arrive (the next statement waits).
    prompt: AtomicBool,
    /// The connection task, and whether the grid found bytes to read.
    watch: Arc<Watch>,
}

impl Default for Line {
    /// Prompt until a worker says a reply may wait for the grid (so the
    /// start-up and anything not run through a [`super::connect::Wire`] is
    /// read at once).
    fn default() -> Line {
        Line {
            rx_ns: AtomicU64::new(0),
            prompt: AtomicBool::new(true),
            watch: Arc::default(),
        }
    }
}

impl Line {
    /// A request goes out (`true`) or the scenario that sent it ended.
    pub fn set_awaiting(&self, awaiting: bool) {
        self.watch.set_awaiting(awaiting);
    }

    /// Read this line's replies at once (`true`) or on the timer's grid.
    pub fn set_prompt(&self, prompt: bool) {
        if self.prompt.swap(prompt, Ordering::Relaxed) != prompt && prompt {
            // A read waiting for the grid goes back to the event loop now.
            self.watch.wake();
        }
    }

    /// When the last bytes read reached the machine (kernel time).
    pub fn last_arrival(&self) -> Option<Instant> {
        match self.rx_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(origin() + Duration::from_nanos(ns)),
        }
    }

    fn set_arrival(&self, at: Instant) {
        let ns = at.saturating_duration_since(origin()).as_nanos() as u64;
        self.rx_ns.store(ns.max(1), Ordering::Relaxed);
    }
}

/// Where the socket is: registered with the event loop, or out of it.
enum Io {
    Loop(tokio::net::TcpStream),
    Out(std::net::TcpStream),
    /// Only while moving between the two (or after that failed).
    Lost,
}

/// A connected TCP stream whose replies may be read on the timer's grid;
/// see the module doc.
pub struct TimedStream {
    io: Io,
    line: Arc<Line>,
    /// Reads carry kernel timestamps (until one does not).
    timed: bool,
    /// Out of the event loop, the last read emptied the socket: read again
    /// only once the grid finds bytes.
    drained: bool,
    /// Room for one `SCM_TIMESTAMPNS` control message.
    cmsg: [u64; 8],
}

impl TimedStream {
    /// Wrap a connected stream, asking the kernel for receive timestamps.
    pub fn new(tcp: tokio::net::TcpStream, line: Arc<Line>) -> TimedStream {
        let timed = nix::sys::socket::setsockopt(
            &tcp,
            nix::sys::socket::sockopt::ReceiveTimestampns,
            &true,
        )
        .is_ok();
        TimedStream {
            io: Io::Loop(tcp),
            line,
            timed,
            drained: false,
            cmsg: [0; 8],
        }
    }

    /// True while replies should be read on the grid.
    fn gated(&self) -> bool {
        self.timed && !self.line.prompt.load(Ordering::Relaxed) && timer::grid_active()
    }

    /// The socket out of the event loop: its descriptor.
    fn out(&mut self) -> io::Result<RawFd> {
        if matches!(self.io, Io::Loop(_)) {
            let Io::Loop(s) = std::mem::replace(&mut self.io, Io::Lost) else {
                unreachable!()
            };
            self.io = Io::Out(s.into_std()?);
            self.drained = false;
        }
        match &self.io {
            Io::Out(s) => Ok(s.as_raw_fd()),
            _ => Err(lost()),
        }
    }

    /// The socket in the event loop.
    fn in_loop(&mut self) -> io::Result<&mut tokio::net::TcpStream> {
        if matches!(self.io, Io::Out(_)) {
            let Io::Out(s) = std::mem::replace(&mut self.io, Io::Lost) else {
                unreachable!()
            };
            timer::unpark_reader(s.as_raw_fd());
            self.io = Io::Loop(tokio::net::TcpStream::from_std(s)?);
        }
        match &mut self.io {
            Io::Loop(s) => Ok(s),
            _ => Err(lost()),
        }
    }

    /// Wait for a grid point that finds bytes on `fd`: false when replies
    /// are no longer read on the grid (the caller uses the event loop).
    fn park(&self, fd: RawFd, cx: &Context<'_>) -> bool {
        timer::park_reader(fd, &self.line.watch, cx.waker())
            && !self.line.prompt.load(Ordering::Relaxed)
    }

    /// Out of the event loop: read what the socket has, or wait for the
    /// grid. None: use the event loop instead.
    fn poll_read_out(
        &mut self,
        cx: &Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Option<Poll<io::Result<()>>> {
        let fd = match self.out() {
            Ok(fd) => fd,
            Err(e) => return Some(Poll::Ready(Err(e))),
        };
        if !self.drained || self.line.watch.take_ready() {
            let room = buf.remaining();
            match self.recv(fd, buf) {
                Ok(n) => {
                    // A short read emptied the socket (a full one may not have).
                    self.drained = n < room;
                    return Some(Poll::Ready(Ok(())));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.drained = true,
                Err(e) => return Some(Poll::Ready(Err(e))),
            }
        }
        self.park(fd, cx).then_some(Poll::Pending)
    }

    /// One non-blocking read from `fd` into `buf` ([`recv`]).
    fn recv(&mut self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<usize> {
        recv(fd, buf, &mut self.cmsg, &self.line, &mut self.timed)
    }
}

/// One non-blocking `recvmsg` from `fd` into `buf`, noting on `line` when
/// the bytes reached the machine (the kernel's receive timestamp; the time
/// of the read once a read came without one, `timed` then false): how many.
fn recv(
    fd: RawFd,
    buf: &mut ReadBuf<'_>,
    cmsg: &mut [u64; 8],
    line: &Line,
    timed: &mut bool,
) -> io::Result<usize> {
    // SAFETY: the iovec covers `buf`'s unfilled part (valid for writes of its
    // length; the kernel writes at most that many bytes); the control buffer
    // is `cmsg`, aligned for `cmsghdr`, of the length given; `arrival` reads
    // it while it is alive.
    let (n, at) = unsafe {
        let dst = buf.unfilled_mut();
        let mut iov = libc::iovec {
            iov_base: dst.as_mut_ptr().cast(),
            iov_len: dst.len(),
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(cmsg) as _;
        let n = libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        (n as usize, if *timed { arrival(&msg) } else { None })
    };
    // SAFETY: the kernel wrote `n` bytes at the start of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    if n > 0 {
        match at {
            Some(at) => line.set_arrival(at),
            None => {
                // No timestamp: the arrival is when it was read, and the
                // socket stays in the event loop from now on.
                *timed = false;
                line.set_arrival(Instant::now());
            }
        }
    }
    Ok(n)
}

impl Drop for TimedStream {
    fn drop(&mut self) {
        if let Io::Out(s) = &self.io {
            timer::unpark_reader(s.as_raw_fd());
        }
    }
}

fn lost() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the connection's socket was lost",
    )
}

/// The `SCM_TIMESTAMPNS` of a received message, as an `Instant`: the
/// kernel stamps with the real-time clock, so its age now is taken off
/// `Instant::now()` (a clock step between the two reads is the only error).
///
/// # Safety
/// `msg` was just filled by `recvmsg`, its control buffer still alive.
unsafe fn arrival(msg: &libc::msghdr) -> Option<Instant> {
    // SAFETY: walking the control messages the kernel wrote (the caller's
    // guarantee); the data of an SCM_TIMESTAMPNS is one timespec.
    let ts = unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        let mut found = None;
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                found = Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(c).cast::<libc::timespec>(),
                ));
                break;
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
        found?
    };
    let now = Instant::now();
    let real = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME).ok()?;
    let age_ns =
        (real.tv_sec() - ts.tv_sec) as i128 * 1_000_000_000 + (real.tv_nsec() - ts.tv_nsec) as i128;
    let age = Duration::from_nanos(age_ns.clamp(0, u64::MAX as i128) as u64);
    Some(now.checked_sub(age).unwrap_or(now))
}

impl AsyncRead for TimedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.gated()
            && let Some(p) = this.poll_read_out(cx, buf)
        {
            return p;
        }
        // In the event loop: read as soon as bytes arrive, still noting the
        // kernel's arrival time.
        if let Err(e) = this.in_loop() {
            return Poll::Ready(Err(e));
        }
        let TimedStream {
            io: Io::Loop(s),
            line,
            timed,
            cmsg,
            ..
        } = this
        else {
            return Poll::Ready(Err(lost()));
        };
        let fd = s.as_raw_fd();
        loop {
            ready!(s.poll_read_ready(cx))?;
            let room = buf.remaining();
            match s.try_io(Interest::READABLE, || recv(fd, buf, cmsg, line, timed)) {
                Ok(n) => {
                    if n < room {
                        // A short read emptied the socket: wait for the next
                        // bytes without a read that would only say EAGAIN
                        // (tokio's own reads do the same).
                        let _ = s.try_io(Interest::READABLE, || {
                            Err::<(), _>(io::ErrorKind::WouldBlock.into())
                        });
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Io::Out(s) = &this.io {
            match (&*s).write(data) {
                // A full send buffer (rare: a large request): wait for it
                // in the event loop.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return Poll::Ready(r),
            }
        }
        match this.in_loop() {
            Ok(s) => Pin::new(s).poll_write(cx, data),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Loop(s) => Pin::new(s).poll_flush(cx),
            Io::Out(_) => Poll::Ready(Ok(())),
            Io::Lost => Poll::Ready(Err(lost())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().io {
            Io::Loop(s) => Pin::new(s).poll_shutdown(cx),
            Io::Out(s) => Poll::Ready(s.shutdown(std::net::Shutdown::Write)),
            Io::Lost => Poll::Ready(Err(lost())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::task::Waker;

    #[tokio::test]
    async fn a_reply_read_late_keeps_the_time_it_reached_the_machine() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        let line = Arc::new(Line::default());
        line.set_prompt(false);
        let mut s = TimedStream::new(tcp, line.clone());
        assert!(s.timed, "SO_TIMESTAMPNS on a TCP socket");
        // The kernel turns receive timestamps on for the first socket that
        // asks a moment later (deferred work): packets before are unstamped.
        std::thread::sleep(Duration::from_millis(50));
        s.out().unwrap();
        let sent = Instant::now();
        peer.write_all(b"reply").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut raw = [0u8; 64];
        let mut buf = ReadBuf::new(&mut raw);
        let cx = Context::from_waker(Waker::noop());
        let r = s.poll_read_out(&cx, &mut buf);
        assert!(matches!(r, Some(Poll::Ready(Ok(())))));
        assert_eq!(buf.filled(), b"reply");
        let at = line.last_arrival().expect("an arrival time");
        let read = Instant::now();
        assert!(at >= sent, "arrived before it was sent");
        assert!(
            read - at >= Duration::from_millis(45),
            "the arrival is the kernel's, not the read's: {:?} before the read",
            read - at
        );
        assert!(s.timed, "the read carried a timestamp");
        // Emptied by a short read: without a grid there is no waiting for
        // one, the caller goes back to the event loop.
        assert!(s.drained);
        assert!(s.poll_read_out(&cx, &mut buf).is_none());

        // In the event loop (no grid on this thread) a read also keeps the
        // kernel's time.
        let sent = Instant::now();
        peer.write_all(b"again").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut got = [0u8; 64];
        let n = tokio::io::AsyncReadExt::read(&mut s, &mut got)
            .await
            .unwrap();
        assert_eq!(&got[..n], b"again");
        assert!(matches!(s.io, Io::Loop(_)));
        let at = line.last_arrival().unwrap();
        assert!(at >= sent && Instant::now() - at >= Duration::from_millis(45));
    }

    #[test]
    fn a_line_made_prompt_wakes_its_connection() {
        let line = Line::default();
        let woke = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        struct Count(Arc<std::sync::atomic::AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let waker = Waker::from(Arc::new(Count(woke.clone())));
        line.watch.register(&waker);
        line.set_prompt(false); // to the grid: no wake
        assert_eq!(woke.load(Ordering::Relaxed), 0);
        line.set_prompt(true);
        assert_eq!(woke.load(Ordering::Relaxed), 1);
        line.set_prompt(true); // already prompt
        assert_eq!(woke.load(Ordering::Relaxed), 1);
    }
}

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
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use nix::libc;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

use super::timer;

/// Times on a [`Line`] are nanoseconds since this instant (never 0: 0 is
/// "none").
fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(|| Instant::now() - Duration::from_secs(1))
}

/// What a connection's socket shares with the worker running queries on it.
#[derive(Debug, Default)]
pub struct Line {
    /// Kernel arrival time of the last bytes read, ns since [`origin`]
    /// (0: none yet).
    rx_ns: AtomicU64,
    /// Read replies as soon as they arrive (the next statement waits).
    prompt: AtomicBool,
    /// The connection task, when its read or write waits at the grid.
    waker: AtomicWaker,
}

impl Line {
    /// Read this line's replies at once (`true`) or on the timer's grid.
    pub fn set_prompt(&self, prompt: bool) {
        if self.prompt.swap(prompt, Ordering::Relaxed) != prompt && prompt {
            // A read waiting at the grid goes back to the event loop now.
            self.waker.wake();
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

/// A connected TCP stream with timestamped reads; see the module doc.
pub struct TimedStream {
    io: Io,
    line: std::sync::Arc<Line>,
    /// Reads carry kernel timestamps (until one does not).
    timed: bool,
    /// Room for one `SCM_TIMESTAMPNS` control message.
    cmsg: [u64; 8],
}

impl TimedStream {
    /// Wrap a connected stream, asking the kernel for receive timestamps.
    pub fn new(tcp: tokio::net::TcpStream, line: std::sync::Arc<Line>) -> TimedStream {
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
            cmsg: [0; 8],
        }
    }

    /// True while reads should wait for the grid rather than the event
    /// loop.
    fn gated(&self) -> bool {
        self.timed && !self.line.prompt.load(Ordering::Relaxed) && timer::grid_active()
    }

    fn fd(&self) -> io::Result<RawFd> {
        match &self.io {
            Io::Loop(s) => Ok(s.as_raw_fd()),
            Io::Out(s) => Ok(s.as_raw_fd()),
            Io::Lost => Err(lost()),
        }
    }

    /// The socket out of the event loop.
    fn out(&mut self) -> io::Result<&std::net::TcpStream> {
        if matches!(self.io, Io::Loop(_)) {
            let Io::Loop(s) = std::mem::replace(&mut self.io, Io::Lost) else {
                unreachable!()
            };
            self.io = Io::Out(s.into_std()?);
        }
        match &self.io {
            Io::Out(s) => Ok(s),
            _ => Err(lost()),
        }
    }

    /// The socket in the event loop.
    fn in_loop(&mut self) -> io::Result<&mut tokio::net::TcpStream> {
        if matches!(self.io, Io::Out(_)) {
            let Io::Out(s) = std::mem::replace(&mut self.io, Io::Lost) else {
                unreachable!()
            };
            self.io = Io::Loop(tokio::net::TcpStream::from_std(s)?);
        }
        match &mut self.io {
            Io::Loop(s) => Ok(s),
            _ => Err(lost()),
        }
    }

    /// Wait for the next grid point: false when there is no grid any more
    /// (the caller goes back to the event loop).
    fn park(&self, cx: &Context<'_>) -> bool {
        self.line.waker.register(cx.waker());
        timer::park_reader(cx.waker()) && !self.line.prompt.load(Ordering::Relaxed)
    }

    /// One non-blocking read into `buf` (see [`Recv::recv`]).
    fn recv(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        let fd = self.fd()?;
        Recv {
            cmsg: &mut self.cmsg,
            line: &self.line,
            timed: &mut self.timed,
        }
        .recv(fd, buf)
    }
}

fn lost() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection's socket was lost")
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
    let age_ns = (real.tv_sec() - ts.tv_sec as i64) as i128 * 1_000_000_000
        + (real.tv_nsec() - ts.tv_nsec as i64) as i128;
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
        loop {
            if this.gated() {
                if let Err(e) = this.out() {
                    return Poll::Ready(Err(e));
                }
                match this.recv(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if this.park(cx) {
                            return Poll::Pending;
                        }
                    }
                    r => return Poll::Ready(r),
                }
            } else {
                let s = match this.in_loop() {
                    Ok(s) => s,
                    Err(e) => return Poll::Ready(Err(e)),
                };
                ready!(s.poll_read_ready(cx))?;
                // `try_io` clears the readiness when the read would block.
                let s = match &this.io {
                    Io::Loop(s) => s,
                    _ => return Poll::Ready(Err(lost())),
                };
                let cmsg = &mut this.cmsg;
                let line = &this.line;
                let timed = &mut this.timed;
                let r = s.try_io(Interest::READABLE, || {
                    let mut me = Recv { cmsg, line, timed };
                    me.recv(s.as_raw_fd(), buf)
                });
                match r {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    r => return Poll::Ready(r),
                }
            }
        }
    }
}

/// The parts of a [`TimedStream`] a read needs, borrowed apart from its
/// socket (for tokio's `try_io`).
struct Recv<'a> {
    cmsg: &'a mut [u64; 8],
    line: &'a Line,
    timed: &'a mut bool,
}

impl Recv<'_> {
    /// One non-blocking `recvmsg` from `fd` into `buf`, noting on the line
    /// when the bytes reached the machine.
    fn recv(&mut self, fd: RawFd, buf: &mut ReadBuf<'_>) -> io::Result<()> {
        // SAFETY: the iovec covers `buf`'s unfilled part (valid for writes
        // of its length; the kernel writes at most that many bytes); the
        // control buffer is `self.cmsg`, aligned for `cmsghdr`, of the length
        // given; `arrival` reads it while it is alive.
        let (n, at) = unsafe {
            let dst = buf.unfilled_mut();
            let mut iov = libc::iovec {
                iov_base: dst.as_mut_ptr().cast(),
                iov_len: dst.len(),
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = self.cmsg.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(self.cmsg) as _;
            let n = libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT);
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            (n as usize, if *self.timed { arrival(&msg) } else { None })
        };
        // SAFETY: the kernel wrote `n` bytes at the start of the unfilled part.
        unsafe { buf.assume_init(n) };
        buf.advance(n);
        if n > 0 {
            match at {
                Some(at) => self.line.set_arrival(at),
                None => {
                    // No timestamp: the arrival is when it was read, and the
                    // socket stays in the event loop from now on.
                    *self.timed = false;
                    self.line.set_arrival(Instant::now());
                }
            }
        }
        Ok(())
    }
}

impl AsyncWrite for TimedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            match &mut this.io {
                Io::Loop(s) => return Pin::new(s).poll_write(cx, data),
                Io::Out(s) => match s.write(data) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Full send buffer (rare: a large request): wait
                        // for the grid, or for the event loop without one.
                        if this.park(cx) {
                            return Poll::Pending;
                        }
                        if let Err(e) = this.in_loop() {
                            return Poll::Ready(Err(e));
                        }
                    }
                    r => return Poll::Ready(r),
                },
                Io::Lost => return Poll::Ready(Err(lost())),
            }
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

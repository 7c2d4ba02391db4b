//! A fine-grained timer for the open model's intended start times. Tokio's
//! timer wheel has 1 ms resolution and rounds deadlines up, which would add
//! ~1 ms of schedule lag to every arrival. On Linux this timer is a
//! `timerfd` (kernel high-resolution timer, armed at an absolute
//! CLOCK_MONOTONIC time) registered with the runtime's own event loop: when
//! it fires, one task on the same runtime wakes every sleeper that is due.
//! No extra thread, no cross-thread wake-up, and the kernel timer is re-armed
//! only when the earliest deadline changes. Registration pushes onto a
//! pre-allocated heap: no allocation per arrival.
//!
//! Elsewhere it falls back to tokio's timer (1 ms resolution).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

struct Entry {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(o.at, o.seq))
    }
}

/// The sleepers, and the deadline the kernel timer is armed for.
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    armed: Option<Instant>,
}

impl State {
    /// Wake every sleeper due at `now`; the earliest deadline left.
    fn wake_due(&mut self, now: Instant) -> Option<Instant> {
        while self.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            let Reverse(e) = self.heap.pop().unwrap();
            e.waker.wake();
        }
        self.heap.peek().map(|Reverse(e)| e.at)
    }
}

struct Inner {
    state: Mutex<State>,
    seq: AtomicU64,
    clock: clock::Clock,
}

/// The timer. Start it inside the tokio runtime whose tasks will sleep on
/// it; dropping it stops its task.
pub struct HrTimer {
    inner: Arc<Inner>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HrTimer {
    /// Start the timer on the current runtime; `capacity` waiting tasks fit
    /// without allocating. With a `resolution` above zero the kernel timer
    /// fires only on multiples of it (from the start) and wakes every sleeper
    /// due by then together: fewer wake-ups (less driver CPU), at most one
    /// `resolution` of extra schedule lag. Falls back to tokio's timer if the
    /// kernel timer cannot be created.
    pub fn start(capacity: usize, resolution: Duration) -> HrTimer {
        let clock = clock::Clock::new(resolution);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                heap: BinaryHeap::with_capacity(capacity + 16),
                armed: None,
            }),
            seq: AtomicU64::new(0),
            clock,
        });
        let task = inner
            .clock
            .is_precise()
            .then(|| tokio::spawn(fire(inner.clone())));
        HrTimer { inner, task }
    }

    /// A future that completes at `at`.
    pub fn sleep_until(&self, at: Instant) -> HrSleep<'_> {
        HrSleep {
            timer: self,
            at,
            state: SleepState::New,
        }
    }
}

impl Drop for HrTimer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// The timer's task: each time the kernel timer fires, wake the due
/// sleepers and re-arm for the next deadline.
async fn fire(inner: Arc<Inner>) {
    loop {
        if inner.clock.wait().await.is_err() {
            // The timer fd failed: fall back to polling the heap every
            // millisecond (due sleepers are still woken; only precision is
            // lost — a broken kernel timer does not happen in practice).
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut st = inner.state.lock().unwrap();
        st.armed = None;
        if let Some(next) = st.wake_due(Instant::now()) {
            st.armed = Some(next);
            inner.clock.arm(next);
        }
    }
}

enum SleepState {
    New,
    Tokio(Pin<Box<tokio::time::Sleep>>),
    Registered,
}

/// See [`HrTimer::sleep_until`].
pub struct HrSleep<'a> {
    timer: &'a HrTimer,
    at: Instant,
    state: SleepState,
}

impl Future for HrSleep<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        let at = self.at;
        let precise = self.timer.task.is_some();
        match &mut self.state {
            SleepState::Registered => Poll::Pending, // woken at the deadline
            SleepState::Tokio(s) => s.as_mut().poll(cx),
            SleepState::New if !precise => {
                let mut s = Box::pin(tokio::time::sleep_until(at.into()));
                let r = s.as_mut().poll(cx);
                self.state = SleepState::Tokio(s);
                r
            }
            SleepState::New => {
                self.state = SleepState::Registered;
                let inner = &self.timer.inner;
                let seq = inner.seq.fetch_add(1, Ordering::Relaxed);
                let mut st = inner.state.lock().unwrap();
                st.heap.push(Reverse(Entry {
                    at,
                    seq,
                    waker: cx.waker().clone(),
                }));
                if st.armed.is_none_or(|a| at < a) {
                    st.armed = Some(at);
                    inner.clock.arm(at);
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod clock {
    //! The kernel timer: a non-blocking timerfd on CLOCK_MONOTONIC (the
    //! clock `Instant` reads on Linux), armed at absolute times rounded up
    //! to the resolution.
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::{Duration, Instant};

    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use nix::time::{ClockId as TimeClock, clock_gettime};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    struct Fd(TimerFd);
    impl AsRawFd for Fd {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    pub struct Clock {
        fd: Option<AsyncFd<Fd>>,
        /// `Instant` and CLOCK_MONOTONIC read together, to turn one into
        /// the other.
        base: (Instant, TimeSpec),
        /// Resolution, ns (0: none).
        res: u64,
    }

    impl Clock {
        pub fn new(res: Duration) -> Clock {
            let fd = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )
            .ok()
            .and_then(|fd| {
                // SAFETY: `Fd` owns the timerfd (an OwnedFd inside TimerFd)
                // and always returns that same open descriptor; it is closed
                // only when the AsyncFd is dropped.
                unsafe { AsyncFd::register_with_interest(Fd(fd), Interest::READABLE) }.ok()
            });
            let ts = clock_gettime(TimeClock::CLOCK_MONOTONIC).unwrap_or(TimeSpec::new(0, 0));
            Clock {
                fd,
                base: (Instant::now(), ts),
                res: res.as_nanos().min(u64::MAX as u128) as u64,
            }
        }

        pub fn is_precise(&self) -> bool {
            self.fd.is_some()
        }

        /// Fire at `at` (replacing any earlier setting).
        pub fn arm(&self, at: Instant) {
            let Some(fd) = &self.fd else { return };
            let mut d = at.saturating_duration_since(self.base.0);
            if self.res > 0 {
                let n = d.as_nanos() as u64;
                d = Duration::from_nanos(n.div_ceil(self.res).saturating_mul(self.res));
            }
            let ts = self.base.1 + TimeSpec::from_duration(d);
            // A time already past fires at once; never arm "0" (disarms).
            let ts = if ts.tv_sec() == 0 && ts.tv_nsec() == 0 {
                TimeSpec::new(0, 1)
            } else {
                ts
            };
            let _ = fd.get_ref().0.set(
                Expiration::OneShot(ts),
                TimerSetTimeFlags::TFD_TIMER_ABSTIME,
            );
        }

        /// Until the timer fires.
        pub async fn wait(&self) -> std::io::Result<()> {
            let Some(fd) = &self.fd else {
                return std::future::pending().await;
            };
            loop {
                let mut g = fd.readable().await?;
                match g.try_io(|fd| {
                    let mut buf = [0u8; 8];
                    nix::unistd::read(&fd.get_ref().0, &mut buf).map_err(std::io::Error::from)
                }) {
                    Ok(r) => return r.map(drop),
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod clock {
    //! No kernel timer here: sleepers use tokio's timer.
    use std::time::{Duration, Instant};

    pub struct Clock;
    impl Clock {
        pub fn new(_res: Duration) -> Clock {
            Clock
        }
        pub fn is_precise(&self) -> bool {
            false
        }
        pub fn arm(&self, _at: Instant) {}
        pub async fn wait(&self) -> std::io::Result<()> {
            std::future::pending().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn lateness(t: &HrTimer) -> Vec<Duration> {
        let mut late = Vec::new();
        for ms in [3u64, 1, 5, 2, 1] {
            let at = Instant::now() + Duration::from_millis(ms);
            t.sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woken early");
            late.push(now - at);
        }
        late.sort();
        late
    }

    #[tokio::test]
    async fn wakes_close_to_the_deadline_on_a_single_threaded_runtime() {
        let t = HrTimer::start(8, Duration::ZERO);
        let late = lateness(&t).await;
        // Woken by its own deadline, never early (checked in `lateness`)
        // and not by some far later event. How close it wakes (well within
        // tokio's 1 ms on a quiet machine) is a benchmark figure, not a
        // test's: `scripts/bench-stress.sh` reports the schedule lag.
        assert!(late[2] < Duration::from_millis(250), "{late:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_sleepers_all_wake_and_never_early() {
        let t = Arc::new(HrTimer::start(4, Duration::ZERO));
        let base = Instant::now() + Duration::from_millis(2);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut set = tokio::task::JoinSet::new();
        // More sleepers than the pre-allocated capacity, registered out of
        // order, some sharing a deadline.
        for i in [7u64, 3, 9, 0, 5, 5, 1, 8, 2, 6, 4, 0] {
            let (t, order) = (t.clone(), order.clone());
            set.spawn(async move {
                let at = base + Duration::from_micros(300 * i);
                t.sleep_until(at).await;
                assert!(Instant::now() >= at);
                order.lock().unwrap().push(i);
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        assert_eq!(order.lock().unwrap().len(), 12);
    }

    #[tokio::test]
    async fn a_deadline_in_the_past_is_ready_at_once() {
        let t = HrTimer::start(1, Duration::ZERO);
        let at = Instant::now();
        tokio::time::timeout(Duration::from_millis(100), t.sleep_until(at))
            .await
            .expect("ready");
    }

    #[tokio::test]
    async fn a_resolution_wakes_on_its_grid_and_never_early() {
        let res = Duration::from_millis(2);
        let t = HrTimer::start(4, res);
        let start = Instant::now();
        let mut late = Vec::new();
        for us in [100u64, 700, 1300, 2500] {
            let at = start + Duration::from_micros(us);
            t.sleep_until(at).await;
            assert!(Instant::now() >= at, "woken early");
            late.push(Instant::now() - at);
        }
        // Deadlines 0.1, 0.7 and 1.3 ms share the 2 ms grid point: the last
        // two are already due when the first wakes.
        assert!(late[1] < late[0] && late[2] < late[1], "{late:?}");
        assert!(late[0] >= Duration::from_micros(1500), "{late:?}");
    }
}

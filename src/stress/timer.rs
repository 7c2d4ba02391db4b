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
//! Where its wake-ups fall is the [`Grid`]: at each intended start
//! (`Precise`), on a fixed period (`--timer-resolution`), or — the default
//! — `Adaptive`: precise while this timer sees few arrivals, and at higher
//! rates on a period chosen from the rate it sees, so that each wake-up
//! serves several due arrivals (at 10,000/s one wake-up per 500 µs serves
//! about five) while the added schedule lag stays within
//! [`ADAPTIVE_MAX_PERIOD`]. What the timer did is counted in [`Counters`].
//!
//! While the grid has a period, the thread's open-model connections read
//! their replies on it too ([`park_reader`], [`super::socket`]): a reply
//! arriving between two grid points wakes nobody, the next grid point reads
//! it, and its kernel arrival time keeps the execution time exact.
//!
//! Elsewhere it falls back to tokio's timer (1 ms resolution).

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::poller::{InLoop, Poller, Watch};

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

/// Where the timer's wake-ups fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grid {
    /// At each intended start (to the kernel timer's precision).
    Precise,
    /// On multiples of this period from the start (`--timer-resolution`).
    Fixed(Duration),
    /// Precise below [`ADAPTIVE_FROM_PER_WAKE`] arrivals per longest
    /// period, else a period chosen from the arrival rate
    /// ([`adaptive_period`]); the default.
    Adaptive,
}

impl Grid {
    /// The grid of a `--timer-resolution` setting: none is adaptive, `0`
    /// precise.
    pub fn of(setting: Option<Duration>) -> Grid {
        match setting {
            None => Grid::Adaptive,
            Some(d) if d.is_zero() => Grid::Precise,
            Some(d) => Grid::Fixed(d),
        }
    }

    /// The longest period this grid may use: the most schedule lag it adds.
    pub fn max_period(self) -> Duration {
        match self {
            Grid::Precise => Duration::ZERO,
            Grid::Fixed(d) => d,
            Grid::Adaptive => ADAPTIVE_MAX_PERIOD,
        }
    }

    /// Its name in the results (`driver_timer.grid`).
    pub fn name(self) -> &'static str {
        match self {
            Grid::Precise => "precise",
            Grid::Fixed(_) => "fixed",
            Grid::Adaptive => "adaptive",
        }
    }
}

/// The longest period of the adaptive grid: the most schedule lag it adds
/// to an arrival (the rest of the lag, the wake-up's own latency, is the
/// same as with a precise timer).
pub const ADAPTIVE_MAX_PERIOD: Duration = Duration::from_micros(500);
/// The adaptive grid aims at this many due arrivals per wake-up.
const ADAPTIVE_PER_WAKE: f64 = 5.0;
/// Below this many arrivals per [`ADAPTIVE_MAX_PERIOD`] the adaptive timer
/// is precise: a grid would add lag and save few wake-ups.
pub const ADAPTIVE_FROM_PER_WAKE: f64 = 2.0;
/// How often the adaptive timer re-reads its arrival rate.
const RATE_WINDOW: Duration = Duration::from_millis(50);

/// The adaptive period for `rate` arrivals per second at this timer, with
/// `slots` workers able to sleep on it: zero (precise) at low rates, else
/// the time [`ADAPTIVE_PER_WAKE`] arrivals take, at most
/// [`ADAPTIVE_MAX_PERIOD`] and short enough that at most half the workers
/// wait for one wake-up.
pub fn adaptive_period(rate: f64, slots: usize) -> Duration {
    let most = ADAPTIVE_MAX_PERIOD.as_secs_f64();
    if !rate.is_finite() || rate * most < ADAPTIVE_FROM_PER_WAKE {
        return Duration::ZERO;
    }
    let p = (ADAPTIVE_PER_WAKE / rate)
        .min(slots.max(1) as f64 / 2.0 / rate)
        .min(most);
    // Whole microseconds: the grid is also the kernel timer's slack.
    Duration::from_micros((p * 1e6) as u64)
}

/// What a run's timers did, added up over its driver threads.
#[derive(Debug, Default)]
pub struct Counters {
    /// Kernel timer expirations that woke at least one sleeper or read.
    pub wakeups: AtomicU64,
    /// Sleepers woken by them.
    pub woken: AtomicU64,
    /// The longest period used, ns.
    pub max_period_ns: AtomicU64,
    /// Connections woken at grid points with a reply to read.
    pub reads: AtomicU64,
    /// Times arrivals began to wait for a connection while replies were
    /// read on the grid (replies then wake the thread until none waits).
    pub short: AtomicU64,
}

/// The sleepers, the deadline the kernel timer is armed for, and the
/// period of the grid (with what the adaptive grid measures the rate by).
struct State {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Connections whose replies are read at grid points (None: epoll
    /// unavailable, replies are read at once).
    poller: Option<Poller>,
    armed: Option<Instant>,
    period: Duration,
    window_start: Instant,
}

impl State {
    /// Wake every sleeper due at `now`: how many, and the earliest
    /// deadline left.
    fn wake_due(&mut self, now: Instant) -> (u64, Option<Instant>) {
        let mut n = 0;
        while self.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            let Reverse(e) = self.heap.pop().unwrap();
            e.waker.wake();
            n += 1;
        }
        (n, self.heap.peek().map(|Reverse(e)| e.at))
    }

    /// Send every connection waiting for the grid back to the event loop.
    fn release_readers(&self) {
        if let Some(p) = &self.poller {
            p.wake_all();
        }
    }

    /// With an adaptive grid: once per [`RATE_WINDOW`], read the rate of
    /// arrivals that came due (`requests`: those due when claimed and those
    /// the timer woke; not those claimed ahead, which 1,000 idle workers do
    /// all at once at the start) and choose the period from it.
    fn reread_rate(&mut self, now: Instant, inner: &Inner) {
        let span = now.saturating_duration_since(self.window_start);
        if span >= RATE_WINDOW {
            let n = inner.requests.swap(0, Ordering::Relaxed);
            self.period = adaptive_period(n as f64 / span.as_secs_f64(), inner.slots);
            inner
                .period_ns
                .store(self.period.as_nanos() as u64, Ordering::Relaxed);
            if self.period.is_zero() {
                // Precise again: reads go back to the event loop.
                self.release_readers();
            }
            inner
                .counters
                .max_period_ns
                .fetch_max(self.period.as_nanos() as u64, Ordering::Relaxed);
            self.window_start = now;
        }
    }
}

struct Inner {
    state: Mutex<State>,
    seq: AtomicU64,
    /// Arrivals that came due since the adaptive grid last read the rate.
    requests: AtomicU64,
    /// The grid's period now, ns (0: precise), readable without the lock.
    period_ns: AtomicU64,
    /// Arrivals waiting for a connection now: while there are any, replies
    /// wake the thread.
    waiting: AtomicUsize,
    /// Told when the workers become short of connections.
    short_begins: tokio::sync::Notify,
    clock: clock::Clock,
    grid: Grid,
    /// Workers that may sleep on this timer.
    slots: usize,
    /// Grid points are multiples of the period from here.
    origin: Instant,
    counters: Arc<Counters>,
}

impl Inner {
    /// True while replies wake the thread for want of connections.
    fn short_now(&self) -> bool {
        self.waiting.load(Ordering::Relaxed) > 0
    }
    /// The grid point at or after `at` (`at` itself when precise).
    fn fire_time(&self, at: Instant, period: Duration) -> Instant {
        let p = period.as_nanos();
        if p == 0 {
            return at;
        }
        let since = at.saturating_duration_since(self.origin).as_nanos();
        let n = since.div_ceil(p).saturating_mul(p);
        self.origin + Duration::from_nanos(n.min(u64::MAX as u128) as u64)
    }

    /// Arm the kernel timer for the sleeper due at `at`, unless it is
    /// already armed for that grid point or an earlier one.
    fn arm_for(&self, st: &mut State, at: Instant) {
        let fire = self.fire_time(at, st.period);
        if st.armed.is_none_or(|a| fire < a) {
            st.armed = Some(fire);
            self.clock.arm(fire);
        }
    }
}

thread_local! {
    /// The timer of this driver thread's open-model workers, if any.
    static CURRENT: RefCell<Weak<Inner>> = const { RefCell::new(Weak::new()) };
}

/// This thread's timer, while it runs on a grid (a period above zero).
fn current_grid() -> Option<Arc<Inner>> {
    CURRENT
        .with_borrow(Weak::upgrade)
        .filter(|i| i.period_ns.load(Ordering::Relaxed) > 0)
}

/// True while this thread's connections read their replies on the timer's
/// grid ([`park_reader`]).
pub fn grid_active() -> bool {
    current_grid().is_some()
}

/// Watch socket `fd` (out of the event loop) and wake `waker` at the first
/// grid point that finds bytes to read on it (`watch` then says so). False
/// when replies are not read on the grid (any more): the caller goes back
/// to the event loop.
pub fn park_reader(fd: RawFd, watch: &Arc<Watch>, waker: &Waker) -> bool {
    let Some(inner) = current_grid() else {
        return false;
    };
    watch.register(waker);
    let mut st = inner.state.lock().unwrap();
    if st.period.is_zero() {
        return false;
    }
    let Some(p) = st.poller.as_mut() else {
        return false;
    };
    if p.watch(fd, watch).is_err() {
        return false;
    }
    inner.arm_for(&mut st, Instant::now());
    true
}

/// Stop watching socket `fd` (it goes back to the event loop, or closes).
pub fn unpark_reader(fd: RawFd) {
    // (Also called while the thread ends, its thread-locals going.)
    if let Ok(Some(inner)) = CURRENT.try_with(|c| c.borrow().upgrade())
        && let Some(p) = inner.state.lock().unwrap().poller.as_mut()
    {
        p.forget(fd);
    }
}

/// The timer. Start it inside the tokio runtime whose tasks will sleep on
/// it; dropping it stops its task.
pub struct HrTimer {
    inner: Arc<Inner>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl HrTimer {
    /// Start the timer on the current runtime for `capacity` workers
    /// (that many waiting tasks fit without allocating). With a period
    /// above zero (a fixed or adaptive [`Grid`]) the kernel timer fires only
    /// on multiples of it (from the start) and wakes every sleeper due by
    /// then together: fewer wake-ups (less driver CPU), at most one period
    /// of extra schedule lag. What it does is added to `counters`. Falls
    /// back to tokio's timer if the kernel timer cannot be created.
    pub fn start(capacity: usize, grid: Grid, counters: Arc<Counters>) -> HrTimer {
        let clock = clock::Clock::new();
        let now = Instant::now();
        let period = match grid {
            Grid::Fixed(d) => d,
            Grid::Precise | Grid::Adaptive => Duration::ZERO,
        };
        counters
            .max_period_ns
            .fetch_max(period.as_nanos() as u64, Ordering::Relaxed);
        let inner = Arc::new(Inner {
            state: Mutex::new(State {
                heap: BinaryHeap::with_capacity(capacity + 16),
                poller: Poller::new().ok(),
                armed: None,
                period,
                window_start: now,
            }),
            requests: AtomicU64::new(0),
            period_ns: AtomicU64::new(period.as_nanos() as u64),
            waiting: AtomicUsize::new(0),
            short_begins: tokio::sync::Notify::new(),
            seq: AtomicU64::new(0),
            clock,
            grid,
            slots: capacity,
            origin: now,
            counters,
        });
        let task = inner
            .clock
            .is_precise()
            .then(|| tokio::spawn(fire(inner.clone())));
        if task.is_some() {
            CURRENT.set(Arc::downgrade(&inner));
        }
        HrTimer { inner, task }
    }

    /// An arrival is about to wait for a connection: one whose reply has
    /// arrived must not stay busy until the next grid point. Until the
    /// returned guard is dropped (the arrival has its connection), replies
    /// wake the thread as they arrive (the grid's poller joins the event
    /// loop). None when replies are not read on the grid.
    pub fn short_of_connections(&self) -> Option<Short<'_>> {
        let inner = &self.inner;
        if inner.period_ns.load(Ordering::Relaxed) == 0 {
            return None;
        }
        if inner.waiting.fetch_add(1, Ordering::Relaxed) == 0 {
            inner.counters.short.fetch_add(1, Ordering::Relaxed);
            inner.short_begins.notify_one();
        }
        Some(Short(inner))
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
        let _ = CURRENT.try_with(|c| {
            if std::ptr::eq(c.borrow().as_ptr(), Arc::as_ptr(&self.inner)) {
                *c.borrow_mut() = Weak::new();
            }
        });
        // Reads waiting for the grid go back to the event loop.
        self.inner.period_ns.store(0, Ordering::Relaxed);
        self.inner.state.lock().unwrap().release_readers();
    }
}

/// The timer's task: each time the kernel timer fires, wake the due
/// sleepers and re-arm for the next deadline.
///
/// While the workers are short of connections the grid's poller is in the
/// event loop too: a reply arriving wakes the thread at once, so no arrival
/// waits for a connection whose reply is only waiting to be read.
async fn fire(inner: Arc<Inner>) {
    let mut replies: Option<InLoop> = None;
    loop {
        let short = inner.short_now();
        if short != replies.is_some() {
            replies = match short {
                true => inner
                    .state
                    .lock()
                    .unwrap()
                    .poller
                    .as_ref()
                    .and_then(|p| p.in_loop().ok()),
                false => None,
            };
        }
        tokio::select! {
            r = inner.clock.wait() => if r.is_err() {
                // The timer fd failed: fall back to polling the heap every
                // millisecond (due sleepers are still woken; only precision
                // is lost — a broken kernel timer does not happen in
                // practice).
                tokio::time::sleep(Duration::from_millis(1)).await;
            },
            _ = async { replies.as_ref().unwrap().replies().await }, if replies.is_some() => {}
            _ = inner.short_begins.notified(), if !short => continue,
        }
        let reads = {
            let mut st = inner.state.lock().unwrap();
            st.armed = None;
            st.poller.as_mut().map_or(0, Poller::look)
        };
        if reads > 0 {
            // Replies first: once their connections have read them and
            // their workers are done, the arrivals due now find those
            // connections idle.
            tokio::task::yield_now().await;
        }
        let mut st = inner.state.lock().unwrap();
        let now = Instant::now();
        if inner.grid == Grid::Adaptive {
            st.reread_rate(now, &inner);
        }
        let (woken, next) = st.wake_due(now);
        if inner.grid == Grid::Adaptive {
            inner.requests.fetch_add(woken, Ordering::Relaxed);
        }
        if woken > 0 || reads > 0 {
            let c = &inner.counters;
            c.wakeups.fetch_add(1, Ordering::Relaxed);
            c.woken.fetch_add(woken, Ordering::Relaxed);
            c.reads.fetch_add(reads, Ordering::Relaxed);
        }
        if let Some(next) = next {
            inner.arm_for(&mut st, next);
        }
        // Replies still awaited: look again at the next grid point.
        if !st.period.is_zero() && st.poller.as_ref().is_some_and(Poller::awaiting) {
            inner.arm_for(&mut st, now);
        }
    }
}

/// See [`HrTimer::short_of_connections`].
pub struct Short<'a>(&'a Inner);

impl Drop for Short<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
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
        let now = Instant::now();
        let timer = self.timer;
        let inner = &timer.inner;
        if now >= self.at {
            if matches!(self.state, SleepState::New) && inner.grid == Grid::Adaptive {
                // Due when claimed (the timer counts those it wakes).
                inner.requests.fetch_add(1, Ordering::Relaxed);
            }
            return Poll::Ready(());
        }
        let at = self.at;
        let precise = timer.task.is_some();
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
                let seq = inner.seq.fetch_add(1, Ordering::Relaxed);
                let mut st = inner.state.lock().unwrap();
                st.heap.push(Reverse(Entry {
                    at,
                    seq,
                    waker: cx.waker().clone(),
                }));
                if inner.grid == Grid::Adaptive {
                    st.reread_rate(now, inner);
                }
                inner.arm_for(&mut st, at);
                Poll::Pending
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod clock {
    //! The kernel timer: a non-blocking timerfd on CLOCK_MONOTONIC (the
    //! clock `Instant` reads on Linux), armed at absolute times.
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::Instant;

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
    }

    impl Clock {
        pub fn new() -> Clock {
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
            }
        }

        pub fn is_precise(&self) -> bool {
            self.fd.is_some()
        }

        /// Fire at `at` (replacing any earlier setting).
        pub fn arm(&self, at: Instant) {
            let Some(fd) = &self.fd else { return };
            let d = at.saturating_duration_since(self.base.0);
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
                    Ok(r) => {
                        // Read: unreadable until the next expiry (which
                        // raises a new event), so do not try a read that
                        // would only say EAGAIN on the next wait.
                        g.clear_ready();
                        return r.map(drop);
                    }
                    Err(_would_block) => continue,
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod clock {
    //! No kernel timer here: sleepers use tokio's timer.
    use std::time::Instant;

    pub struct Clock;
    impl Clock {
        pub fn new() -> Clock {
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
        let t = HrTimer::start(8, Grid::Precise, Default::default());
        let late = lateness(&t).await;
        // Woken by its own deadline, never early (checked in `lateness`)
        // and not by some far later event. How close it wakes (well within
        // tokio's 1 ms on a quiet machine) is a benchmark figure, not a
        // test's: `scripts/bench-stress.sh` reports the schedule lag.
        assert!(late[2] < Duration::from_millis(250), "{late:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_sleepers_all_wake_and_never_early() {
        let t = Arc::new(HrTimer::start(4, Grid::Precise, Default::default()));
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
        let t = HrTimer::start(1, Grid::Precise, Default::default());
        let at = Instant::now();
        tokio::time::timeout(Duration::from_millis(100), t.sleep_until(at))
            .await
            .expect("ready");
    }

    #[tokio::test]
    async fn a_resolution_wakes_on_its_grid_and_never_early() {
        let res = Duration::from_millis(2);
        let t = HrTimer::start(4, Grid::Fixed(res), Default::default());
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

    #[test]
    fn the_adaptive_period_follows_the_rate_within_its_bounds() {
        // Few arrivals per longest period: precise.
        assert_eq!(adaptive_period(0.0, 1000), Duration::ZERO);
        assert_eq!(adaptive_period(1000.0, 1000), Duration::ZERO);
        assert_eq!(adaptive_period(f64::NAN, 1000), Duration::ZERO);
        // From two arrivals per longest period: the longest period, until
        // five arrivals fit in a shorter one.
        assert_eq!(adaptive_period(4000.0, 1000), ADAPTIVE_MAX_PERIOD);
        assert_eq!(adaptive_period(10_000.0, 1000), ADAPTIVE_MAX_PERIOD);
        assert_eq!(adaptive_period(100_000.0, 1000), Duration::from_micros(50));
        // Never more than half the workers asleep on one wake-up.
        assert_eq!(adaptive_period(10_000.0, 4), Duration::from_micros(200));
        for rate in [1.0, 3999.0, 4000.0, 2e4, 1e6] {
            assert!(adaptive_period(rate, 1) <= ADAPTIVE_MAX_PERIOD, "{rate}");
        }
    }

    #[test]
    fn a_setting_names_its_grid() {
        assert_eq!(Grid::of(None), Grid::Adaptive);
        assert_eq!(Grid::of(Some(Duration::ZERO)), Grid::Precise);
        let ms = Duration::from_millis(1);
        assert_eq!(Grid::of(Some(ms)), Grid::Fixed(ms));
        assert_eq!(Grid::Adaptive.max_period(), ADAPTIVE_MAX_PERIOD);
        assert_eq!(Grid::Precise.max_period(), Duration::ZERO);
        assert_eq!(Grid::Fixed(ms).max_period(), ms);
    }

    /// Sleepers arriving every `gap` for `n` arrivals: how late each woke.
    async fn paced(t: &HrTimer, gap: Duration, n: u32) -> Vec<Duration> {
        let start = Instant::now() + Duration::from_millis(1);
        let mut late = Vec::new();
        for k in 0..n {
            let at = start + gap * k;
            t.sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at, "woken early");
            late.push(now - at);
        }
        late
    }

    #[tokio::test]
    async fn the_adaptive_timer_is_precise_at_low_rates_and_batches_at_high_ones() {
        // Low rate (500/s): precise, so no grid period is ever used.
        let slow = Arc::new(Counters::default());
        let t = HrTimer::start(64, Grid::Adaptive, slow.clone());
        paced(&t, Duration::from_millis(2), 40).await;
        assert_eq!(slow.max_period_ns.load(Ordering::Relaxed), 0);
        drop(t);

        // High rate (a sleeper due every 10 µs, 100,000/s, each registered
        // about 300 µs ahead, as workers claim arrivals): after the first
        // rate window the timer wakes on a grid, several sleepers per
        // wake-up, and never early.
        let fast = Arc::new(Counters::default());
        let t = Arc::new(HrTimer::start(64, Grid::Adaptive, fast.clone()));
        let start = Instant::now() + Duration::from_millis(1);
        let mut set = tokio::task::JoinSet::new();
        for k in 0..16_000u32 {
            let at = start + Duration::from_micros(10) * k;
            if k % 16 == 0 {
                t.sleep_until(at.checked_sub(Duration::from_micros(300)).unwrap())
                    .await;
            }
            let t = t.clone();
            set.spawn(async move {
                t.sleep_until(at).await;
                assert!(Instant::now() >= at, "woken early");
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        let period = fast.max_period_ns.load(Ordering::Relaxed);
        assert!(period > 0, "never left precise mode");
        assert!(period <= ADAPTIVE_MAX_PERIOD.as_nanos() as u64, "{period}");
        let (wakeups, woken) = (
            fast.wakeups.load(Ordering::Relaxed),
            fast.woken.load(Ordering::Relaxed),
        );
        assert!(
            wakeups > 0 && woken > wakeups,
            "{woken} sleepers in {wakeups} wake-ups"
        );
    }
}

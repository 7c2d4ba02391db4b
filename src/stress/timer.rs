//! A fine-grained timer for the open model's intended start times. Tokio's
//! timer wheel has 1 ms resolution and rounds deadlines up, which would add
//! ~1 ms of schedule lag to every arrival; this timer runs one thread that
//! sleeps on a condition variable until the earliest deadline (kernel
//! high-resolution timers, tens of µs) and wakes the waiting tasks.
//! Registration pushes onto a pre-allocated heap: no allocation per arrival.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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

struct Inner {
    heap: Mutex<BinaryHeap<Reverse<Entry>>>,
    cv: Condvar,
    stop: AtomicBool,
    seq: AtomicU64,
}

/// The timer; dropping the last handle stops its thread.
pub struct HrTimer {
    inner: Arc<Inner>,
}

impl HrTimer {
    /// Start the timer thread; `capacity` waiting tasks fit without allocating.
    pub fn start(capacity: usize) -> HrTimer {
        let inner = Arc::new(Inner {
            heap: Mutex::new(BinaryHeap::with_capacity(capacity + 16)),
            cv: Condvar::new(),
            stop: AtomicBool::new(false),
            seq: AtomicU64::new(0),
        });
        let t = inner.clone();
        std::thread::Builder::new()
            .name("dbload-timer".into())
            .spawn(move || run(t))
            .expect("spawn timer thread");
        HrTimer { inner }
    }

    /// A future that completes at `at`.
    pub fn sleep_until(&self, at: Instant) -> HrSleep<'_> {
        HrSleep {
            timer: self,
            at,
            registered: false,
        }
    }
}

impl Drop for HrTimer {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        let _g = self.inner.heap.lock().unwrap();
        self.inner.cv.notify_one();
    }
}

fn run(t: Arc<Inner>) {
    let mut heap = t.heap.lock().unwrap();
    loop {
        if t.stop.load(Ordering::Relaxed) {
            return;
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
            let Reverse(e) = heap.pop().unwrap();
            e.waker.wake();
        }
        let wait = heap
            .peek()
            .map(|Reverse(e)| e.at.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(100));
        heap = t.cv.wait_timeout(heap, wait).unwrap().0;
    }
}

/// See [`HrTimer::sleep_until`].
pub struct HrSleep<'a> {
    timer: &'a HrTimer,
    at: Instant,
    registered: bool,
}

impl Future for HrSleep<'_> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.at {
            return Poll::Ready(());
        }
        if !self.registered {
            // Woken once, at the deadline (spurious polls before it are rare
            // and just wait for that wake-up).
            self.registered = true;
            let inner = &self.timer.inner;
            let seq = inner.seq.fetch_add(1, Ordering::Relaxed);
            let mut heap = inner.heap.lock().unwrap();
            let earliest = heap.peek().is_none_or(|Reverse(e)| self.at < e.at);
            heap.push(Reverse(Entry {
                at: self.at,
                seq,
                waker: cx.waker().clone(),
            }));
            if earliest {
                inner.cv.notify_one();
            }
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_close_to_the_deadline() {
        let t = HrTimer::start(8);
        let mut late = Vec::new();
        for ms in [3u64, 1, 5, 2] {
            let at = Instant::now() + Duration::from_millis(ms);
            t.sleep_until(at).await;
            let now = Instant::now();
            assert!(now >= at);
            late.push(now - at);
        }
        late.sort();
        assert!(late[1] < Duration::from_millis(2), "{late:?}");
    }
}

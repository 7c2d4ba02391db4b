//! This machine's clock against the database server's: the offset is
//! estimated from the midpoint of a `SELECT clock_timestamp()` round trip,
//! keeping the sample with the shortest round trip of several (the one
//! least disturbed by queueing). Workers of a segmented run schedule in
//! server time through it, so their own clocks need not agree.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

/// Round trips measured (the shortest one is kept).
pub const SAMPLES: usize = 9;

/// One estimate of this clock minus the server's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offset {
    /// Local minus server, microseconds.
    pub us: f64,
    /// The round trip of the sample kept (the estimate is within half of it).
    pub rtt: Duration,
}

/// Measure the offset on `c` (best of [`SAMPLES`] round trips).
pub async fn measure(c: &Client) -> Result<Offset, tokio_postgres::Error> {
    let stmt = c.prepare("SELECT clock_timestamp()").await?;
    let mut best: Option<Offset> = None;
    for _ in 0..SAMPLES {
        let (wall, t0) = (Utc::now(), Instant::now());
        let row = c.query_one(&stmt, &[]).await?;
        let rtt = t0.elapsed();
        let server: DateTime<Utc> = row.get(0);
        let mid = wall + chrono::Duration::from_std(rtt / 2).unwrap_or_default();
        let us = (mid - server).num_microseconds().unwrap_or(i64::MAX) as f64;
        if best.is_none_or(|b| rtt < b.rtt) {
            best = Some(Offset { us, rtt });
        }
    }
    Ok(best.expect("at least one sample"))
}

/// The local instant at which the server's clock reads `at` (this clock
/// being `offset_us` ahead of it).
pub fn local_instant(at: DateTime<Utc>, offset_us: f64) -> Instant {
    let local_wall = at + chrono::Duration::microseconds(offset_us.round() as i64);
    let (now_wall, now) = (Utc::now(), Instant::now());
    let ahead = local_wall - now_wall;
    match ahead.to_std() {
        Ok(d) => now + d,
        Err(_) => now
            .checked_sub((-ahead).to_std().unwrap_or_default())
            .unwrap_or(now),
    }
}

/// The server's clock reading for the local wall-clock time `wall`.
pub fn server_time(wall: DateTime<Utc>, offset_us: f64) -> DateTime<Utc> {
    wall - chrono::Duration::microseconds(offset_us.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_times_map_to_local_instants_through_the_offset() {
        // This clock 1.5 s ahead of the server: the server's "now + 2 s"
        // is 3.5 s from now here.
        let now = Utc::now();
        let at = local_instant(now + chrono::Duration::seconds(2), 1_500_000.0);
        let d = at.saturating_duration_since(Instant::now()).as_secs_f64();
        assert!((d - 3.5).abs() < 0.05, "{d}");
        // In the past: before now.
        assert!(local_instant(now - chrono::Duration::seconds(5), 0.0) < Instant::now());
        let w = Utc::now();
        assert_eq!(
            server_time(w, 2_000.0),
            w - chrono::Duration::milliseconds(2)
        );
    }
}

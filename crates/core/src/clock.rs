//! [`Clock`]: where every layer reads the time, injected so that tests drive
//! it. Wall-clock time is what tandem stores and shows (journal, audit,
//! sessions, retry times); monotonic time measures intervals (manual
//! control's idle expiry, site health's hysteresis, login windows). Waits and
//! timeouts in async code use `tokio::time`, which tests pause and advance.
//!
//! The core declares the clock and never reads it: [`SystemClock`] is what
//! the binaries inject, [`ManualClock`] what tests do.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A source of the current time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Wall-clock time.
    fn wall(&self) -> SystemTime;
    /// Monotonic time.
    fn monotonic(&self) -> Instant;
}

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock, shared.
pub fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// The system clock whose wall time jumps by `by` seconds (forward, or back
/// when negative) once `after` has passed: what a misconfigured NTP or an
/// operator's `date -s` does to a running instance. Monotonic time does not
/// jump. For testing what a jump may not change (who leads, who holds a lease).
#[derive(Debug, Clone, Copy)]
pub struct JumpingClock {
    start: Instant,
    after: Duration,
    by_s: i64,
}

impl JumpingClock {
    /// A clock that jumps by `by_s` seconds `after` from now.
    pub fn new(after: Duration, by_s: i64) -> Self {
        JumpingClock {
            start: Instant::now(),
            after,
            by_s,
        }
    }
}

impl Clock for JumpingClock {
    fn wall(&self) -> SystemTime {
        let now = SystemTime::now();
        if self.start.elapsed() < self.after {
            return now;
        }
        let by = Duration::from_secs(self.by_s.unsigned_abs());
        if self.by_s >= 0 {
            now + by
        } else {
            now.checked_sub(by).unwrap_or(SystemTime::UNIX_EPOCH)
        }
    }

    fn monotonic(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told: both times start where it was made
/// (or at the wall time given) and advance together.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<(SystemTime, Instant)>>);

impl ManualClock {
    /// A clock at `wall`, with monotonic time starting now.
    pub fn at(wall: SystemTime) -> Self {
        ManualClock(Arc::new(Mutex::new((wall, Instant::now()))))
    }

    /// Moves both times forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.0 += by;
        t.1 += by;
    }

    /// Sets the wall time (monotonic time moves by the same amount when it
    /// goes forward, and stays when it goes back: it never runs backwards).
    pub fn set_wall(&self, wall: SystemTime) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(forward) = wall.duration_since(t.0) {
            t.1 += forward;
        }
        t.0 = wall;
    }
}

impl Clock for ManualClock {
    fn wall(&self) -> SystemTime {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    fn monotonic(&self) -> Instant {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_both_times_together_and_never_back_in_monotonic_time() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let clock = ManualClock::at(start);
        let m0 = clock.monotonic();
        clock.advance(Duration::from_secs(5));
        assert_eq!(clock.wall(), start + Duration::from_secs(5));
        assert_eq!(clock.monotonic() - m0, Duration::from_secs(5));
        clock.set_wall(start);
        assert_eq!(clock.wall(), start);
        assert_eq!(
            clock.monotonic() - m0,
            Duration::from_secs(5),
            "no step back"
        );
    }
}

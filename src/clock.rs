//! Time as a parameter: the wall clock, a monotonic uptime, and whether the wall
//! clock can be trusted. School PCs often have a dead CMOS battery and no network
//! time, so every row written with a timestamp also says whether it was trusted.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A source of time. The daemon uses [`SystemClock`]; tests use [`SimClock`].
pub trait Clock: Send + Sync + 'static {
    /// Wall-clock time (may be wrong on a school PC).
    fn now(&self) -> DateTime<Utc>;
    /// Time since the process started; never goes backwards.
    fn uptime(&self) -> Duration;
}

/// The real clock.
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn uptime(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A simulated clock for tests: set and advanced by hand.
pub struct SimClock {
    inner: Mutex<(DateTime<Utc>, Duration)>,
}

impl SimClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        SimClock {
            inner: Mutex::new((start, Duration::ZERO)),
        }
    }
    /// Moves both clocks forward.
    pub fn advance(&self, d: Duration) {
        let mut g = self.inner.lock().unwrap();
        g.0 += chrono::Duration::from_std(d).unwrap();
        g.1 += d;
    }
    /// Sets the wall clock only (a jump, as when someone fixes the date).
    pub fn set_wall(&self, t: DateTime<Utc>) {
        self.inner.lock().unwrap().0 = t;
    }
}

impl Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().unwrap().0
    }
    fn uptime(&self) -> Duration {
        self.inner.lock().unwrap().1
    }
}

/// Decides whether wall-clock readings are trustworthy: not before a plausible
/// floor, and not behind a reading already recorded (a backwards jump).
#[derive(Debug, Clone)]
pub struct Trust {
    floor: DateTime<Utc>,
    /// The latest (wall, uptime) pair seen.
    last: Option<(DateTime<Utc>, Duration)>,
}

/// Slack allowed between wall-clock and uptime progress before calling it a jump.
const JUMP_SLACK: chrono::Duration = chrono::Duration::seconds(120);

impl Trust {
    pub fn new(floor: DateTime<Utc>) -> Self {
        Trust { floor, last: None }
    }

    /// Seeds the last trusted reading, e.g. the newest timestamp in the store.
    pub fn seed(&mut self, wall: DateTime<Utc>, uptime: Duration) {
        self.last = Some((wall, uptime));
    }

    /// Judges one reading and remembers it.
    pub fn check(&mut self, wall: DateTime<Utc>, uptime: Duration) -> bool {
        let mut trusted = wall >= self.floor;
        if let Some((lw, lu)) = self.last {
            let mono = chrono::Duration::from_std(uptime.saturating_sub(lu)).unwrap_or_default();
            let expected = lw + mono;
            // A wall clock behind the last reading (plus monotonic progress) jumped back.
            if wall + JUMP_SLACK < expected {
                trusted = false;
            }
        }
        if trusted {
            self.last = Some((wall, uptime));
        }
        trusted
    }
}

/// A timestamp with its trust flag and the monotonic uptime beside it.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub at: DateTime<Utc>,
    pub trusted: bool,
    pub uptime: Duration,
}

/// Hands out [`Stamp`]s, judging trust across the whole process.
pub struct Stamper {
    clock: std::sync::Arc<dyn Clock>,
    trust: Mutex<Trust>,
}

impl Stamper {
    pub fn new(clock: std::sync::Arc<dyn Clock>, trust: Trust) -> Self {
        Stamper {
            clock,
            trust: Mutex::new(trust),
        }
    }
    pub fn clock(&self) -> &std::sync::Arc<dyn Clock> {
        &self.clock
    }
    pub fn stamp(&self) -> Stamp {
        let at = self.clock.now();
        let uptime = self.clock.uptime();
        let trusted = self
            .trust
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .check(at, uptime);
        Stamp {
            at,
            trusted,
            uptime,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 8, 0, 0).unwrap()
    }

    #[test]
    fn before_floor_is_untrusted() {
        let mut tr = Trust::new(t(2026, 1, 1));
        assert!(!tr.check(t(2001, 1, 1), Duration::ZERO));
        assert!(tr.check(t(2026, 3, 1), Duration::from_secs(1)));
    }

    #[test]
    fn backwards_jump_is_untrusted_then_recovers_when_forward() {
        let mut tr = Trust::new(t(2026, 1, 1));
        assert!(tr.check(t(2026, 5, 1), Duration::from_secs(0)));
        assert!(!tr.check(t(2026, 4, 1), Duration::from_secs(60)));
        assert!(tr.check(
            t(2026, 5, 1) + chrono::Duration::seconds(70),
            Duration::from_secs(70)
        ));
    }

    #[test]
    fn sim_clock_advances_both() {
        let c = SimClock::new(t(2026, 9, 1));
        c.advance(Duration::from_secs(30));
        assert_eq!(c.uptime(), Duration::from_secs(30));
        assert_eq!(c.now(), t(2026, 9, 1) + chrono::Duration::seconds(30));
    }
}

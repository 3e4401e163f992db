//! The org-wide submission limit (a sliding window) and seeded fault injection.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// At most `limit` accepted submissions in any sliding `window`. Adobe documents its limit
/// per organization, and the emulator has one organization, so one window serves everyone.
#[derive(Debug)]
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    accepted: VecDeque<Instant>,
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration) -> Self {
        Self {
            limit,
            window,
            accepted: VecDeque::new(),
        }
    }

    /// Takes a slot at `now`, or says how long until the oldest one frees.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        while let Some(&oldest) = self.accepted.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                self.accepted.pop_front();
            } else {
                break;
            }
        }
        if self.accepted.len() < self.limit {
            self.accepted.push_back(now);
            return Ok(());
        }
        match self.accepted.front() {
            Some(&oldest) => Err((oldest + self.window).saturating_duration_since(now)),
            // A limit of zero never frees a slot; a full window is the honest wait.
            None => Err(self.window),
        }
    }
}

/// `Retry-After` in whole seconds, rounded up so that a client waiting exactly that long
/// finds a free slot, and never 0 (which clients read as "retry at once").
pub fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

/// Seeded randomness for faults, so `--seed` reproduces a run's failures.
#[derive(Debug)]
pub struct Faults {
    rng: fastrand::Rng,
}

impl Faults {
    pub fn new(seed: Option<u64>) -> Self {
        Self {
            rng: seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
        }
    }

    /// True with probability `rate` (0 never, 1 always).
    pub fn hit(&mut self, rate: f64) -> bool {
        rate > 0.0 && self.rng.f64() < rate
    }

    /// One of the 5xx statuses a gateway or service answers when it is unwell.
    pub fn server_error(&mut self) -> u16 {
        [500, 502, 503, 504][self.rng.usize(..4)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_admits_the_limit_then_says_when_a_slot_frees() {
        let start = Instant::now();
        let mut window = SlidingWindow::new(3, Duration::from_secs(3));
        for ms in [0, 100, 200] {
            assert_eq!(
                window.try_acquire(start + Duration::from_millis(ms)),
                Ok(())
            );
        }
        assert_eq!(
            window.try_acquire(start + Duration::from_millis(500)),
            Err(Duration::from_millis(2500))
        );
        // A refusal does not take a slot: the first frees exactly at 3 s.
        assert!(
            window
                .try_acquire(start + Duration::from_millis(2999))
                .is_err()
        );
        assert_eq!(window.try_acquire(start + Duration::from_secs(3)), Ok(()));
        assert_eq!(
            window.try_acquire(start + Duration::from_secs(3)),
            Err(Duration::from_millis(100))
        );
    }

    #[test]
    fn zero_limit_refuses_everything() {
        let mut window = SlidingWindow::new(0, Duration::from_secs(2));
        assert_eq!(
            window.try_acquire(Instant::now()),
            Err(Duration::from_secs(2))
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_seconds(Duration::from_millis(2500)), 3);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
    }

    #[test]
    fn seeded_faults_repeat() {
        let draws = |seed| {
            let mut faults = Faults::new(Some(seed));
            (0..32)
                .map(|_| (faults.hit(0.5), faults.server_error()))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        let mut faults = Faults::new(Some(1));
        assert!(!(0..100).any(|_| faults.hit(0.0)));
        assert!((0..100).all(|_| faults.hit(1.0)));
    }
}

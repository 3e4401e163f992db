//! The client side of Adobe's per-organization limits ("3 submissions per 3 s", and apart
//! from it "1,000 status requests per 3 s"): a sliding window shared by every worker, which
//! a 429 can also pause as a whole.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests reach the server a little after we count them; this slack keeps our window
/// from being narrower than the server's.
const SLACK: Duration = Duration::from_millis(50);

pub struct SubmitLimiter {
    limit: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    recent: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

impl SubmitLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit: limit.max(1) as usize,
            window: window + SLACK,
            state: Mutex::new(State::default()),
        }
    }

    /// Requests allowed per window, and the window (with its slack).
    pub fn per_window(&self) -> (usize, Duration) {
        (self.limit, self.window)
    }

    /// Blocks until one more submission fits, and counts it.
    pub fn acquire(&self) {
        loop {
            let wait = {
                let mut state = self.state.lock().expect("limiter lock");
                match self.try_acquire(&mut state, Instant::now()) {
                    None => return,
                    Some(wait) => wait,
                }
            };
            std::thread::sleep(wait);
        }
    }

    /// Holds every submission until `until`: the server said the organization is over its limit.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state.lock().expect("limiter lock");
        if state.paused_until.is_none_or(|p| p < until) {
            state.paused_until = Some(until);
        }
    }

    /// Counts a submission at `now` if one fits, else says how long to wait.
    fn try_acquire(&self, state: &mut State, now: Instant) -> Option<Duration> {
        if let Some(until) = state.paused_until {
            if until > now {
                return Some(until - now);
            }
            state.paused_until = None;
        }
        while state
            .recent
            .front()
            .is_some_and(|&t| now.duration_since(t) >= self.window)
        {
            state.recent.pop_front();
        }
        if state.recent.len() < self.limit {
            state.recent.push_back(now);
            None
        } else {
            let oldest = *state.recent.front().expect("the window is full");
            Some(self.window - now.duration_since(oldest))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_limit_per_window() {
        let limiter = SubmitLimiter::new(3, Duration::from_secs(3));
        let mut state = State::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire(&mut state, t0), None);
        }
        let wait = limiter
            .try_acquire(&mut state, t0)
            .expect("fourth must wait");
        assert_eq!(wait, Duration::from_secs(3) + SLACK);
        // One window later, the first three have left it: three more fit, not four.
        let later = t0 + wait;
        for _ in 0..3 {
            assert_eq!(limiter.try_acquire(&mut state, later), None);
        }
        assert!(limiter.try_acquire(&mut state, later).is_some());
    }

    #[test]
    fn a_pause_holds_everyone() {
        let limiter = SubmitLimiter::new(3, Duration::from_secs(3));
        let t0 = Instant::now();
        limiter.pause_until(t0 + Duration::from_secs(2));
        let mut state = limiter.state.lock().unwrap();
        let wait = limiter.try_acquire(&mut state, t0).unwrap();
        assert_eq!(wait, Duration::from_secs(2));
        assert_eq!(
            limiter.try_acquire(&mut state, t0 + Duration::from_secs(2)),
            None
        );
    }
}

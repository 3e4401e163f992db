//! The client side of Adobe's per-organization limits ("3 submissions per 3 s", and apart
//! from it "1,000 status requests per 3 s"): a sliding window shared by every worker, which
//! a 429 can also pause as a whole.
//!
//! The service counts a request when it handles it, somewhere between our sending it and our
//! reading its answer. A request counted only when it was sent lets the next one in its slot
//! arrive less than a window after it whenever the first was slow to reach the service (a
//! loaded host, a cold connection): a 429, and for submissions a lost window. So a slot is
//! taken when the request is sent and counted again from when its answer came (`settle`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Timers fire a little late and clocks are read a little early; this keeps our window from
/// being narrower than the server's. Small, since every window of a batch pays it.
const SLACK: Duration = Duration::from_millis(10);

pub struct SubmitLimiter {
    limit: usize,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Slots in the window: which request, and from when it counts.
    recent: Vec<(u64, Instant)>,
    next_id: u64,
    paused_until: Option<Instant>,
}

/// A request counted in the window, until its answer says from when it really counts.
#[must_use = "settle the slot once the answer has come"]
pub struct Slot(u64);

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

    /// Blocks until one more request fits, and counts it from now.
    pub fn acquire(&self) -> Slot {
        loop {
            let wait = {
                let mut state = self.state.lock().expect("limiter lock");
                match self.try_acquire(&mut state, Instant::now()) {
                    Ok(slot) => return slot,
                    Err(wait) => wait,
                }
            };
            std::thread::sleep(wait);
        }
    }

    /// The answer to the request of `slot` came now: the service counted it by now at the
    /// latest, so its slot frees a window after now.
    pub fn settle(&self, slot: Slot) {
        self.settle_at(slot, Instant::now());
    }

    fn settle_at(&self, slot: Slot, at: Instant) {
        let mut state = self.state.lock().expect("limiter lock");
        if let Some((_, counted)) = state.recent.iter_mut().find(|(id, _)| *id == slot.0) {
            *counted = (*counted).max(at);
        }
    }

    /// Holds every request until `until`: the server said the organization is over its limit.
    pub fn pause_until(&self, until: Instant) {
        let mut state = self.state.lock().expect("limiter lock");
        if state.paused_until.is_none_or(|p| p < until) {
            state.paused_until = Some(until);
        }
    }

    /// Counts a request at `now` if one fits, else says how long to wait.
    fn try_acquire(&self, state: &mut State, now: Instant) -> Result<Slot, Duration> {
        if let Some(until) = state.paused_until {
            if until > now {
                return Err(until - now);
            }
            state.paused_until = None;
        }
        let window = self.window;
        state
            .recent
            .retain(|(_, counted)| now.saturating_duration_since(*counted) < window);
        if state.recent.len() < self.limit {
            let id = state.next_id;
            state.next_id += 1;
            state.recent.push((id, now));
            return Ok(Slot(id));
        }
        let oldest = state
            .recent
            .iter()
            .map(|(_, counted)| *counted)
            .min()
            .expect("the window is full");
        Err((oldest + window).saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn at_most_limit_per_window() {
        let limiter = SubmitLimiter::new(3, S(3));
        let mut state = State::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.try_acquire(&mut state, t0).is_ok());
        }
        let wait = limiter
            .try_acquire(&mut state, t0)
            .err()
            .expect("fourth must wait");
        assert_eq!(wait, S(3) + SLACK);
        // One window later, the first three have left it: three more fit, not four.
        let later = t0 + wait;
        for _ in 0..3 {
            assert!(limiter.try_acquire(&mut state, later).is_ok());
        }
        assert!(limiter.try_acquire(&mut state, later).is_err());
    }

    #[test]
    fn a_slow_answer_moves_its_slot_later() {
        let limiter = SubmitLimiter::new(1, S(3));
        let t0 = Instant::now();
        let slot = limiter.acquire();
        // Its answer took 400 ms: the service may have counted it that late.
        limiter.settle_at(slot, t0 + MS(400));
        let mut state = limiter.state.lock().unwrap();
        let wait = limiter
            .try_acquire(&mut state, t0 + S(3) + SLACK)
            .err()
            .expect("the slow one still holds its slot");
        assert_eq!(wait, MS(400));
        assert!(
            limiter
                .try_acquire(&mut state, t0 + MS(3400) + SLACK)
                .is_ok()
        );
    }

    #[test]
    fn a_pause_holds_everyone() {
        let limiter = SubmitLimiter::new(3, S(3));
        let t0 = Instant::now();
        limiter.pause_until(t0 + S(2));
        let mut state = limiter.state.lock().unwrap();
        let wait = limiter.try_acquire(&mut state, t0).err().unwrap();
        assert_eq!(wait, S(2));
        assert!(limiter.try_acquire(&mut state, t0 + S(2)).is_ok());
    }
}

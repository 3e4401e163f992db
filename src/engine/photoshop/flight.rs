//! How many jobs to have in flight at once. By Little's law, jobs in flight = submission rate
//! × time from submission to done; fewer leaves the rate limit unused, and many more only
//! stages inputs (and signs their URLs) long before they can be submitted. So the bound
//! follows the observed job time, plus one window's worth waiting at the limiter, within the
//! configured cap. While no job has finished yet, the oldest one's age stands in for the job
//! time: the bound grows as long as nothing comes back, so a slow service never starves the
//! limiter.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::limiter::SubmitLimiter;

/// Job times remembered.
const SAMPLES: usize = 32;
/// How often a full flight looks again at its bound, which grows with the oldest job's age.
const RECHECK: Duration = Duration::from_millis(100);

pub struct Flight {
    cap: usize,
    /// Submissions per second the limiter allows.
    rate: f64,
    /// Submissions the limiter allows at once: this many wait there, ready.
    burst: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    /// Tickets handed out, and the next one to board: jobs board in the order they queued.
    issued: u64,
    boarding: u64,
    seated: usize,
    /// Jobs of this run the service accepted and that are not done, by when.
    airborne: BTreeMap<u64, Instant>,
    next_id: u64,
    /// Recent times from submission to done.
    times: VecDeque<Duration>,
    /// The largest number of seats taken at once.
    most: usize,
}

/// A place in the queue for a seat.
pub struct Ticket(u64);

/// A place in the flight: taken before staging and submitting, given back when the job is done.
pub struct Seat<'a> {
    flight: &'a Flight,
    id: u64,
    airborne: bool,
}

impl Flight {
    /// A flight fed by `limiter`, holding at most `cap` jobs.
    pub fn new(cap: u32, limiter: &SubmitLimiter) -> Self {
        let (submits, window) = limiter.per_window();
        Self {
            cap: cap.max(1) as usize,
            rate: submits.max(1) as f64 / window.as_secs_f64().max(0.001),
            burst: submits.max(1),
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    /// Queues for a seat; `board` must follow, or later tickets wait forever.
    pub fn ticket(&self) -> Ticket {
        let mut state = self.state.lock().expect("flight lock");
        state.issued += 1;
        Ticket(state.issued - 1)
    }

    /// Waits until `ticket` is next in line and one more job may be started.
    pub fn board(&self, ticket: Ticket) -> Seat<'_> {
        let mut state = self.state.lock().expect("flight lock");
        loop {
            let now = Instant::now();
            let longest = state.times.iter().max().copied();
            let oldest = state
                .airborne
                .values()
                .min()
                .map(|t| now.saturating_duration_since(*t));
            if state.boarding == ticket.0
                && state.seated < bound(self.rate, self.burst, self.cap, longest, oldest)
            {
                state.boarding += 1;
                state.seated += 1;
                state.most = state.most.max(state.seated);
                let id = state.next_id;
                state.next_id += 1;
                // The next in line may fit too.
                self.freed.notify_all();
                return Seat {
                    flight: self,
                    id,
                    airborne: false,
                };
            }
            state = self
                .freed
                .wait_timeout(state, RECHECK)
                .expect("flight lock")
                .0;
        }
    }

    /// The largest number of jobs started and not yet done at one time.
    pub fn most(&self) -> usize {
        self.state.lock().expect("flight lock").most
    }
}

impl Seat<'_> {
    /// The service accepted the job at `at`.
    pub fn took_off(&mut self, at: Instant) {
        self.flight
            .state
            .lock()
            .expect("flight lock")
            .airborne
            .insert(self.id, at);
        self.airborne = true;
    }
}

impl Drop for Seat<'_> {
    fn drop(&mut self) {
        let mut state = self.flight.state.lock().expect("flight lock");
        state.seated -= 1;
        if let Some(at) = state.airborne.remove(&self.id) {
            if state.times.len() == SAMPLES {
                state.times.pop_front();
            }
            state.times.push_back(at.elapsed());
        }
        drop(state);
        self.flight.freed.notify_all();
    }
}

/// Jobs to have started at once: `rate` × the job time (the longest recent one, or the age of
/// the oldest unfinished job if that is longer), plus `burst` + 1 waiting at the limiter, at
/// most `cap`.
fn bound(
    rate: f64,
    burst: usize,
    cap: usize,
    longest: Option<Duration>,
    oldest: Option<Duration>,
) -> usize {
    let time = longest.max(oldest).unwrap_or_default();
    let needed = (rate * time.as_secs_f64()).ceil();
    let needed = if needed.is_finite() && needed < cap as f64 {
        needed as usize
    } else {
        cap
    };
    (needed + burst + 1).min(cap).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn littles_law_within_the_cap() {
        // 3 per 3 s, jobs of 15 s: 15 in flight, and 4 ready at the limiter.
        assert_eq!(bound(1.0, 3, 64, Some(S(15)), None), 19);
        assert_eq!(bound(1.0, 3, 64, Some(S(1)), None), 5);
        assert_eq!(bound(1.0, 3, 16, Some(S(60)), None), 16);
        assert_eq!(bound(1.0, 3, 1, None, None), 1);
    }

    #[test]
    fn an_unfinished_job_counts_by_its_age() {
        assert_eq!(bound(1.0, 3, 64, None, None), 4);
        assert_eq!(bound(1.0, 3, 64, None, Some(S(9))), 13);
        assert_eq!(bound(1.0, 3, 64, Some(S(2)), Some(S(9))), 13);
        assert_eq!(bound(1.0, 3, 64, Some(S(9)), Some(S(2))), 13);
    }

    #[test]
    fn seats_are_given_back_and_job_times_learned() {
        let flight = Flight::new(64, &SubmitLimiter::new(3, S(3)));
        let board = || flight.board(flight.ticket());
        let seats: Vec<Seat> = (0..4).map(|_| board()).collect();
        assert_eq!(flight.most(), 4);
        let mut first = seats.into_iter().next().unwrap();
        first.took_off(Instant::now() - S(20));
        drop(first);
        // A job took 20 s: 20 + 4 seats may be taken now.
        let seats: Vec<Seat> = (0..24).map(|_| board()).collect();
        assert_eq!(flight.most(), 24);
        drop(seats);
    }

    #[test]
    fn jobs_board_in_the_order_they_queued() {
        let flight = Flight::new(64, &SubmitLimiter::new(3, S(3)));
        let first = flight.ticket();
        let second = flight.ticket();
        // Seat ids are handed out under the flight's lock as each job boards, so they are
        // the boarding order itself (recording it after `board` returns would race).
        let (first_id, second_id) = std::thread::scope(|scope| {
            let later = scope.spawn(|| flight.board(second).id);
            // The second ticket is already waiting when the first one boards.
            std::thread::sleep(Duration::from_millis(50));
            let first_id = flight.board(first).id;
            (first_id, later.join().unwrap())
        });
        assert_eq!((first_id, second_id), (0, 1));
    }
}

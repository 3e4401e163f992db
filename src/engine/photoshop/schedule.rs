//! When to ask the service about a job, learned from the jobs that already finished.
//!
//! Every job of a run goes to the same service, so their latencies are one distribution.
//! A job's first status request goes where most finished jobs had finished, its second where
//! all of them had, and past that a short backoff: one request per job when latencies are
//! steady, few when they spread. Until a job has finished (in this run, or in an earlier one
//! the lockfile remembers), only the oldest unfinished job probes, on the configured backoff;
//! the others wait for what it learns instead of each paying for the same probes. Likewise
//! once jobs outlast every recent latency (the service slowed down, or the first latencies
//! learned were the short ones): the oldest job steps on in short steps, the others ask only
//! every `ceiling` until a job finishes and says how long jobs take now.

use std::collections::{BTreeSet, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::lock::{JobState, Lockfile};

/// Latencies planned with: the recent ones describe the service as it is now. Few enough
/// that a change (a service warming up, a queue building) is followed within a few windows
/// of submissions; enough that the quantiles below are not a single job's.
const SAMPLES: usize = 16;
/// A job is first asked about where this share of finished jobs had finished.
const FIRST_QUANTILE: f64 = 0.75;
/// Added to every learned time: a request just after completion beats one just before.
const MARGIN: Duration = Duration::from_millis(60);
/// The first step past every learned latency; later steps grow by half of the overrun.
const SHORT_STEP: Duration = Duration::from_millis(250);
/// The shortest wait between two probes of a job whose latency nothing predicts yet.
const MIN_PROBE: Duration = Duration::from_millis(50);

/// What this run knows about job latencies, shared by every job it waits on.
pub struct Schedule {
    /// The backoff of the oldest job while nothing is known: first probe, and the ceiling.
    initial: Duration,
    ceiling: Duration,
    state: Mutex<State>,
    news: Condvar,
}

#[derive(Default)]
struct State {
    /// Latencies of jobs finished in this run, newest last.
    learned: VecDeque<Duration>,
    /// Latencies of earlier runs (from the lockfile), used until this run learns its own.
    prior: Vec<Duration>,
    /// Jobs being waited on, by submission time: the first one probes while nothing is known.
    watching: BTreeSet<(Instant, u64)>,
    next_id: u64,
}

/// One job being waited on.
pub struct Watch<'a> {
    schedule: &'a Schedule,
    key: (Instant, u64),
    /// Age of the job at its last status request.
    last_poll: Option<Duration>,
    /// Probes made while nothing was known.
    probes: u32,
}

impl Schedule {
    pub fn new(initial: Duration, ceiling: Duration) -> Self {
        Self {
            initial,
            ceiling: ceiling.max(MIN_PROBE),
            state: Mutex::new(State::default()),
            news: Condvar::new(),
        }
    }

    /// Latencies of earlier runs, a hint for the first jobs of this one.
    pub fn set_prior(&self, mut prior: Vec<Duration>) {
        prior.sort();
        self.state.lock().expect("schedule lock").prior = prior;
        self.news.notify_all();
    }

    /// A job finished after `latency` (as the service measured it, where it says).
    pub fn learn(&self, latency: Duration) {
        let mut state = self.state.lock().expect("schedule lock");
        if state.learned.len() == SAMPLES {
            state.learned.pop_front();
        }
        state.learned.push_back(latency);
        drop(state);
        self.news.notify_all();
    }

    /// Starts waiting on a job the service accepted at `submitted`.
    pub fn watch(&self, submitted: Instant) -> Watch<'_> {
        let mut state = self.state.lock().expect("schedule lock");
        let key = (submitted, state.next_id);
        state.next_id += 1;
        state.watching.insert(key);
        Watch {
            schedule: self,
            key,
            last_poll: None,
            probes: 0,
        }
    }

    /// The latencies to plan with, sorted: this run's, else the lockfile's.
    fn known(state: &State) -> Option<Vec<Duration>> {
        if state.learned.is_empty() {
            (!state.prior.is_empty()).then(|| state.prior.clone())
        } else {
            let mut known: Vec<Duration> = state.learned.iter().copied().collect();
            known.sort();
            Some(known)
        }
    }
}

impl Watch<'_> {
    /// Sleeps until this job's next status request is due; false if that would be after
    /// `deadline`.
    pub fn until_next_poll(&mut self, deadline: Instant) -> bool {
        let schedule = self.schedule;
        let submitted = self.key.0;
        let mut state = schedule.state.lock().expect("schedule lock");
        loop {
            let now = Instant::now();
            let oldest = state.watching.first() == Some(&self.key);
            let next = match Schedule::known(&state) {
                Some(known) if !oldest && overran(&known, self.last_poll) => {
                    self.last_poll.map(|last| last + schedule.ceiling)
                }
                Some(known) => Some(next_poll(&known, self.last_poll, schedule.ceiling)),
                None if oldest => Some(probe_after(
                    self.last_poll,
                    self.probes,
                    schedule.initial,
                    schedule.ceiling,
                )),
                // Another job is probing; what it learns tells this one when to ask.
                None => None,
            };
            let wake = match next {
                Some(age) => {
                    let at = submitted + age;
                    if at > deadline {
                        return false;
                    }
                    if at <= now {
                        if Schedule::known(&state).is_none() {
                            self.probes += 1;
                        }
                        return true;
                    }
                    at
                }
                None if now >= deadline => return false,
                None => deadline,
            };
            state = schedule
                .news
                .wait_timeout(state, wake - now)
                .expect("schedule lock")
                .0;
        }
    }

    /// A status request is being sent now.
    pub fn polled(&mut self) {
        self.last_poll = Some(self.key.0.elapsed());
    }

    /// How long ago the service accepted the job.
    pub fn age(&self) -> Duration {
        self.key.0.elapsed()
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut state = self.schedule.state.lock().expect("schedule lock");
        state.watching.remove(&self.key);
        drop(state);
        // Whoever is next in line may now be the one to probe.
        self.schedule.news.notify_all();
    }
}

/// The age at which to ask about a job next, given the sorted latencies of finished jobs and
/// the age at the last request (which found it unfinished).
pub fn next_poll(known: &[Duration], last: Option<Duration>, ceiling: Duration) -> Duration {
    let top = known.last().copied().unwrap_or_default() + MARGIN;
    let mut first = quantile(known, FIRST_QUANTILE) + MARGIN;
    // Two requests a moment apart cost two requests and learn one thing.
    if top.saturating_sub(first) < SHORT_STEP {
        first = top;
    }
    for candidate in [first, top] {
        if last.is_none_or(|l| candidate >= l + SHORT_STEP) {
            return candidate;
        }
    }
    // Slower than every finished job: short steps, growing with the overrun.
    let last = last.unwrap_or(top);
    let overrun = last.saturating_sub(top);
    last + SHORT_STEP.max(overrun / 2).min(ceiling.max(SHORT_STEP))
}

/// Whether a job last found unfinished at age `last` has outlasted every known latency.
fn overran(known: &[Duration], last: Option<Duration>) -> bool {
    let top = known.last().copied().unwrap_or_default() + MARGIN;
    last.is_some_and(|last| top < last + SHORT_STEP)
}

/// The age of the next probe while nothing is known: `initial`, then ×1.5 up to `ceiling`.
fn probe_after(
    last: Option<Duration>,
    probes: u32,
    initial: Duration,
    ceiling: Duration,
) -> Duration {
    let step = initial
        .mul_f64(1.5f64.powi(probes.min(64) as i32))
        .min(ceiling)
        .max(MIN_PROBE);
    match last {
        None => initial,
        Some(last) => last + step,
    }
}

/// The `p` quantile of sorted, non-empty `known`.
fn quantile(known: &[Duration], p: f64) -> Duration {
    let rank = (p * known.len() as f64).ceil() as usize;
    known[rank.clamp(1, known.len()) - 1]
}

/// How long a job took, from what maskflow saw: the service's own `created`/`modified` when
/// it gives them (bounded by what was observed), else the age when it was seen finished.
pub fn latency_of(observed: Duration, service: Option<Duration>) -> Duration {
    service.map_or(observed, |s| s.min(observed))
}

/// Latencies of the succeeded jobs of `api` that the lockfile remembers (whole seconds,
/// submission to recording: an upper bound, good enough to place the first requests).
pub fn prior_from_lock(lock: &Lockfile, api: &str) -> Vec<Duration> {
    let mut finished: Vec<(jiff::Timestamp, Duration)> = lock
        .images
        .values()
        .filter(|e| e.job.state == JobState::Succeeded)
        .filter(|e| {
            e.engine.get("name").map(String::as_str) == Some("photoshop")
                && e.engine.get("api").map(String::as_str) == Some(api)
        })
        .filter_map(|e| {
            let submitted: jiff::Timestamp = e.job.submitted_at.parse().ok()?;
            let finished: jiff::Timestamp = e.job.finished_at.as_deref()?.parse().ok()?;
            let took = Duration::try_from(finished.duration_since(submitted)).ok()?;
            Some((finished, took))
        })
        .collect();
    finished.sort();
    finished
        .iter()
        .rev()
        .take(SAMPLES)
        .map(|(_, took)| *took)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;
    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn steady_latency_gets_one_request_at_completion() {
        let known = vec![S(5); 10];
        assert_eq!(next_poll(&known, None, S(10)), S(5) + MARGIN);
        // Still not done: short steps, growing.
        let second = next_poll(&known, Some(S(5) + MARGIN), S(10));
        assert_eq!(second, S(5) + MARGIN + SHORT_STEP);
        let third = next_poll(&known, Some(second), S(10));
        assert!(third - second >= SHORT_STEP, "{third:?}");
        let late = next_poll(&known, Some(S(25)), S(4));
        assert_eq!(late, S(29), "steps stop growing at the ceiling");
    }

    #[test]
    fn spread_latency_asks_at_the_common_time_then_at_the_slowest() {
        let known: Vec<Duration> = (3..=12).map(S).collect();
        let first = next_poll(&known, None, S(10));
        assert_eq!(first, S(10) + MARGIN);
        assert_eq!(next_poll(&known, Some(first), S(10)), S(12) + MARGIN);
        let past = next_poll(&known, Some(S(12) + MARGIN), S(10));
        assert_eq!(past, S(12) + MARGIN + SHORT_STEP);
    }

    #[test]
    fn a_service_that_speeds_up_is_followed() {
        // A cold start (the first jobs slow), then the service's usual latency.
        let schedule = Schedule::new(S(1), S(10));
        for _ in 0..SAMPLES {
            schedule.learn(S(8));
        }
        let first = |schedule: &Schedule| {
            let known = Schedule::known(&schedule.state.lock().unwrap()).unwrap();
            next_poll(&known, None, S(10))
        };
        assert_eq!(first(&schedule), S(8) + MARGIN);
        for _ in 0..SAMPLES * 3 / 4 {
            schedule.learn(S(1));
        }
        assert_eq!(first(&schedule), S(1) + MARGIN);
    }

    #[test]
    fn quantiles_of_few_samples() {
        assert_eq!(quantile(&[S(1)], 0.75), S(1));
        assert_eq!(quantile(&[S(1), S(2), S(3), S(4)], 0.75), S(3));
        assert_eq!(quantile(&[S(1), S(2)], 0.0), S(1));
    }

    #[test]
    fn probes_back_off_while_nothing_is_known() {
        let (initial, ceiling) = (S(1), S(10));
        assert_eq!(probe_after(None, 0, initial, ceiling), S(1));
        assert_eq!(probe_after(Some(S(1)), 1, initial, ceiling), MS(2500));
        assert_eq!(probe_after(Some(S(100)), 30, initial, ceiling), S(110));
        assert_eq!(
            probe_after(Some(S(1)), 0, Duration::ZERO, ceiling),
            S(1) + MIN_PROBE
        );
    }

    #[test]
    fn the_service_clock_wins_when_it_is_plausible() {
        assert_eq!(latency_of(S(6), Some(S(5))), S(5));
        assert_eq!(
            latency_of(S(6), Some(S(60))),
            S(6),
            "never longer than seen"
        );
        assert_eq!(latency_of(S(6), None), S(6));
    }

    #[test]
    fn only_the_oldest_job_probes_until_one_finishes() {
        let schedule = Schedule::new(MS(20), MS(40));
        let t0 = Instant::now();
        let mut oldest = schedule.watch(t0);
        let mut younger = schedule.watch(t0 + MS(1));
        // The younger one waits for news; with none, it reaches its deadline unpolled.
        assert!(!younger.until_next_poll(Instant::now() + MS(60)));
        assert!(oldest.until_next_poll(Instant::now() + S(5)));
        oldest.polled();
        schedule.learn(MS(30));
        // Now the younger one knows: it asks near 30 ms after its submission.
        assert!(younger.until_next_poll(Instant::now() + S(5)));
        drop(oldest);
        assert!(younger.age() >= MS(30));
    }

    #[test]
    fn past_every_known_latency_only_the_oldest_job_steps_on() {
        let schedule = Schedule::new(MS(20), S(30));
        schedule.learn(MS(10));
        let t0 = Instant::now();
        let mut oldest = schedule.watch(t0);
        let mut younger = schedule.watch(t0 + MS(1));
        // Both asked at 70 ms (after the only latency known) and were not done.
        assert!(oldest.until_next_poll(Instant::now() + S(5)));
        assert!(younger.until_next_poll(Instant::now() + S(5)));
        oldest.polled();
        younger.polled();
        // The oldest steps on; the younger one would wait `ceiling`, past its deadline.
        assert!(!younger.until_next_poll(Instant::now() + MS(400)));
        assert!(oldest.until_next_poll(Instant::now() + S(5)));
        // Once a job finishes late, the younger one asks where it finished.
        schedule.learn(MS(500));
        assert!(younger.until_next_poll(Instant::now() + S(5)));
        assert!(younger.age() >= MS(500));
    }

    #[test]
    fn the_lock_remembers_latencies_of_the_same_api() {
        let text = r#"{"version": 1, "images": {
          "a.png": {"input": {"source": "a", "size": 1, "digest": "d"}, "settings": {},
            "engine": {"name": "photoshop", "api": "sensei"}, "fingerprint": "f",
            "job": {"id": "1", "state": "succeeded", "submitted_at": "2026-01-01T00:00:00Z",
                    "finished_at": "2026-01-01T00:00:07Z"}},
          "b.png": {"input": {"source": "b", "size": 1, "digest": "d"}, "settings": {},
            "engine": {"name": "photoshop", "api": "v2"}, "fingerprint": "f",
            "job": {"id": "2", "state": "succeeded", "submitted_at": "2026-01-01T00:00:00Z",
                    "finished_at": "2026-01-01T00:00:09Z"}},
          "c.png": {"input": {"source": "c", "size": 1, "digest": "d"}, "settings": {},
            "engine": {"name": "photoshop", "api": "sensei"}, "fingerprint": "f",
            "job": {"id": "3", "state": "submitted", "submitted_at": "2026-01-01T00:00:00Z"}}}}"#;
        let lock: Lockfile = serde_json::from_str(text).unwrap();
        assert_eq!(prior_from_lock(&lock, "sensei"), vec![S(7)]);
        assert_eq!(prior_from_lock(&lock, "v2"), vec![S(9)]);
    }
}

//! Jobs: their records, the worker pool that does the real work, and the status a job shows
//! at a given moment.
//!
//! A job's status is computed from the time since it was created and from whether its work
//! is done, so a status request never waits on the model: pending for the first half of
//! its latency (or until a worker picks it up), running until the work is done and the
//! whole latency has passed, then terminal. Each job draws its latency from `--latency`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::engine::cutout::Rendered;
use crate::engine::{self, EngineError, MaskRequest};
use crate::http::{Method, Request};
use crate::manifest::{MaskMode, OutputKind};

/// Inputs larger than this are refused; Adobe caps pixels (10k x 10k), not bytes, and
/// this is comfortably above any such image as a JPEG or PNG.
const MAX_INPUT_BYTES: u64 = 64 * 1024 * 1024;

/// Cached masks beyond this many are dropped (all at once: simple, and rare).
const CACHE_ENTRIES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
}

/// Which API a job was submitted through; its status is only visible through the same one.
#[derive(Debug, Clone)]
pub enum Api {
    Sensei {
        output_href: String,
        /// The request's `output` and `options`, echoed in status bodies.
        output: Value,
        options: Option<Value>,
    },
    V2 {
        /// Proves a result download was handed out by this emulator, like a presigned URL.
        sig: String,
    },
}

/// Why a job failed. Each renders in the sensei family and the v2 family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    InputUnreachable {
        href: String,
    },
    UploadRefused {
        href: String,
    },
    Undecodable {
        href: String,
    },
    /// Over the pixel limit, or truncated or damaged: refused with the decoder's reason.
    Rejected {
        href: String,
        reason: String,
    },
    Injected {
        href: String,
        why: String,
    },
    Internal {
        href: String,
        message: String,
    },
}

impl Failure {
    /// `{type, code, title, details:[{name, reason}]}` as in the contract §3.3. `name` is
    /// the URL without its query string: that is the presigned credential.
    pub fn sensei(&self) -> Value {
        let (kind, code, title, href, reason) = match self {
            Failure::InputUnreachable { href } => (
                "ResourceNotFound",
                404,
                "Requested resource was not found",
                href,
                "Unable to access the input href".to_owned(),
            ),
            Failure::UploadRefused { href } => (
                "AuthForbidden",
                403,
                "Access Is Forbidden",
                href,
                "Unable to upload the outputs".to_owned(),
            ),
            Failure::Undecodable { href } => (
                "InputValidationError",
                400,
                "Input validation failed",
                href,
                "The input is not a decodable PNG or JPEG image".to_owned(),
            ),
            Failure::Rejected { href, reason } => (
                "InputValidationError",
                400,
                "Input validation failed",
                href,
                reason.clone(),
            ),
            Failure::Injected { href, why } => (
                "UndefinedError",
                500,
                "Internal Server Error",
                href,
                why.clone(),
            ),
            Failure::Internal { href, message } => (
                "UndefinedError",
                500,
                "Internal Server Error",
                href,
                message.clone(),
            ),
        };
        json!({"type": kind, "code": code, "title": title, "details": [{"name": href, "reason": reason}]})
    }

    /// The same, with the reasons under `errorDetails`, as Adobe's SDK describes it.
    pub fn sensei_error_details(&self) -> Value {
        let mut error = self.sensei();
        if let Some(fields) = error.as_object_mut()
            && let Some(details) = fields.remove("details")
        {
            fields.insert("errorDetails".to_owned(), details);
        }
        error
    }

    /// One `errorDetails` entry of a v2 status body.
    pub fn v2(&self) -> Value {
        let (code, message) = match self {
            Failure::InputUnreachable { .. } => (
                "input_not_accessible",
                "Unable to access the input url".to_owned(),
            ),
            Failure::UploadRefused { .. } => (
                "output_upload_failed",
                "Unable to upload the outputs".to_owned(),
            ),
            Failure::Undecodable { .. } => (
                "invalid_input",
                "The input is not a decodable PNG or JPEG image".to_owned(),
            ),
            Failure::Rejected { reason, .. } => ("invalid_input", reason.clone()),
            Failure::Injected { why, .. } => ("runtime_error", why.clone()),
            Failure::Internal { message, .. } => ("runtime_error", message.clone()),
        };
        json!({"errorCode": code, "message": message})
    }
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// `png` is kept only for v2 jobs, whose results the emulator hosts.
    Succeeded {
        png: Option<Arc<Vec<u8>>>,
    },
    Failed(Failure),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub input: String,
    pub api: Api,
    pub created: Instant,
    pub created_at: jiff::Timestamp,
    /// From submission to a terminal status, at the earliest.
    pub latency: Duration,
    /// Whether a status request has shown the job terminal: until then the client has it in flight.
    pub seen_done: bool,
    started: Option<Instant>,
    finished: Option<(Instant, Outcome)>,
}

/// A job as seen at one moment.
#[derive(Debug, Clone)]
pub struct View {
    pub status: Status,
    pub modified_at: jiff::Timestamp,
    pub outcome: Option<Outcome>,
}

impl Job {
    pub fn new(id: String, input: String, api: Api, latency: Duration) -> Self {
        Self {
            id,
            input,
            api,
            created: Instant::now(),
            created_at: jiff::Timestamp::now(),
            latency,
            seen_done: false,
            started: None,
            finished: None,
        }
    }

    pub fn view(&self, now: Instant) -> View {
        let since = |t: Instant| t.saturating_duration_since(self.created);
        let (status, modified) = phase(
            now.saturating_duration_since(self.created),
            self.latency,
            self.started.map(since),
            self.finished.as_ref().map(|(t, _)| since(*t)),
        );
        let status = match (status, &self.finished) {
            (Status::Succeeded, Some((_, Outcome::Failed(_)))) => Status::Failed,
            (status, _) => status,
        };
        let offset = jiff::SignedDuration::try_from(modified).unwrap_or_default();
        View {
            status,
            modified_at: self
                .created_at
                .checked_add(offset)
                .unwrap_or(self.created_at),
            outcome: matches!(status, Status::Succeeded | Status::Failed)
                .then(|| self.finished.as_ref().map(|(_, o)| o.clone()))
                .flatten(),
        }
    }
}

/// The phase at `elapsed` since creation, and when it began (also since creation).
/// `Succeeded` here means "terminal"; the outcome decides success or failure.
fn phase(
    elapsed: Duration,
    latency: Duration,
    started: Option<Duration>,
    finished: Option<Duration>,
) -> (Status, Duration) {
    let running_from = started.map(|s| s.max(latency / 2));
    let terminal_from = finished.map(|f| f.max(latency));
    match (running_from, terminal_from) {
        (_, Some(t)) if elapsed >= t => (Status::Succeeded, t),
        (Some(r), _) if elapsed >= r => (Status::Running, r),
        _ => (Status::Pending, Duration::ZERO),
    }
}

/// What a worker does for one job.
#[derive(Debug)]
struct Work {
    id: String,
    input: String,
    mask: MaskMode,
    kind: OutputKind,
    /// `Some(href)`: PUT the mask there (sensei); `None`: keep it to host (v2).
    upload: Option<String>,
}

/// Every job, and the queue feeding the workers.
pub struct Jobs {
    records: Mutex<HashMap<String, Job>>,
    queue: Mutex<Sender<Work>>,
    /// (API, input URL, output URL, input bytes) of every job that did real work: a second
    /// job for the same four is one the client paid for twice.
    paid: Mutex<HashSet<(&'static str, String, String, blake3::Hash)>>,
    duplicates: AtomicU64,
}

impl Jobs {
    /// Starts `workers` threads. The model loads in the background right away, so the
    /// first job does not pay for it and the emulator answers requests meanwhile.
    pub fn start(workers: usize, limits: engine::DecodeLimits) -> Arc<Jobs> {
        let (sender, receiver) = mpsc::channel();
        let jobs = Arc::new(Jobs::with_queue(sender));
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        engine::set_threads_per_job((cores / workers.max(1)).max(1));
        std::thread::spawn(|| {
            let _ = engine::local_engine();
        });
        let shared = Arc::new(Shared {
            receiver: Mutex::new(receiver),
            cache: Mutex::new(HashMap::new()),
            limits,
            // maskflow's own client: like Adobe's service, it follows no redirects.
            agent: crate::http::Client::new(Duration::from_secs(120)),
        });
        for _ in 0..workers.max(1) {
            let (jobs, shared) = (Arc::clone(&jobs), Arc::clone(&shared));
            std::thread::spawn(move || shared.work(&jobs));
        }
        jobs
    }

    /// A job table whose work is never done: for tests of the routes alone.
    #[cfg(test)]
    pub fn idle() -> Arc<Jobs> {
        // No receiver: queued work is dropped, and jobs stay pending.
        let (sender, _) = mpsc::channel();
        Arc::new(Jobs::with_queue(sender))
    }

    fn with_queue(queue: Sender<Work>) -> Jobs {
        Jobs {
            records: Mutex::new(HashMap::new()),
            queue: Mutex::new(queue),
            paid: Mutex::new(HashSet::new()),
            duplicates: AtomicU64::new(0),
        }
    }

    /// Records a job; queues its work unless `failure` decides its fate up front.
    pub fn submit(&self, job: Job, mask: MaskMode, kind: OutputKind, failure: Option<Failure>) {
        let id = job.id.clone();
        let work = Work {
            id: id.clone(),
            input: job.input.clone(),
            mask,
            kind,
            upload: match &job.api {
                Api::Sensei { output_href, .. } => Some(output_href.clone()),
                Api::V2 { .. } => None,
            },
        };
        let mut job = job;
        if let Some(failure) = failure {
            let now = Instant::now();
            job.started = Some(now);
            job.finished = Some((now, Outcome::Failed(failure)));
        }
        let queued = job.finished.is_none();
        self.records.lock().expect("jobs lock").insert(id, job);
        if queued {
            let _ = self.queue.lock().expect("queue lock").send(work);
        }
    }

    /// Jobs that repeated the work of an earlier one: same API, URLs and input bytes. A
    /// resubmission after the input changed is not a duplicate; a blind resend is.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    fn note_paid(&self, work: &Work, input: blake3::Hash) {
        let api = if work.upload.is_some() {
            "sensei"
        } else {
            "v2"
        };
        let key = (
            api,
            without_query(&work.input),
            work.upload
                .as_deref()
                .map(without_query)
                .unwrap_or_default(),
            input,
        );
        if !self.paid.lock().expect("paid lock").insert(key) {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn get(&self, id: &str) -> Option<Job> {
        self.records.lock().expect("jobs lock").get(id).cloned()
    }

    /// How many jobs are in each status now.
    pub fn counts(&self) -> [usize; 4] {
        let now = Instant::now();
        let mut counts = [0; 4];
        for job in self.records.lock().expect("jobs lock").values() {
            counts[job.view(now).status as usize] += 1;
        }
        counts
    }

    /// Notes that a status request showed job `id` terminal; true the first time.
    pub fn seen_done(&self, id: &str) -> bool {
        let mut records = self.records.lock().expect("jobs lock");
        match records.get_mut(id) {
            Some(job) if !job.seen_done => {
                job.seen_done = true;
                true
            }
            _ => false,
        }
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Job)) {
        if let Some(job) = self.records.lock().expect("jobs lock").get_mut(id) {
            change(job);
        }
    }
}

/// A result is determined by the input's bytes, the mask format and mask or cutout.
type CacheKey = (blake3::Hash, MaskMode, OutputKind);

/// What the workers share.
struct Shared {
    receiver: Mutex<Receiver<Work>>,
    /// (input digest, mask format) -> PNG. Clients under test often send the same photo
    /// many times; re-running the model each time would put the emulator's own CPU on the
    /// client's critical path and make benchmarks of the client measure the model instead.
    cache: Mutex<HashMap<CacheKey, Arc<Vec<u8>>>>,
    /// What decoding one input may cost.
    limits: engine::DecodeLimits,
    agent: crate::http::Client,
}

impl Shared {
    fn work(&self, jobs: &Jobs) {
        loop {
            let next = self.receiver.lock().expect("receiver lock").recv();
            let Ok(work) = next else { return };
            jobs.update(&work.id, |job| job.started = Some(Instant::now()));
            let outcome = self.perform(&work, jobs);
            jobs.update(&work.id, |job| {
                job.finished = Some((Instant::now(), outcome))
            });
        }
    }

    fn perform(&self, work: &Work, jobs: &Jobs) -> Outcome {
        let href = without_query(&work.input);
        let Ok(bytes) = self.fetch(&work.input) else {
            return Outcome::Failed(Failure::InputUnreachable { href });
        };
        jobs.note_paid(work, blake3::hash(&bytes));
        let png = match self.mask(&href, &bytes, work.mask, work.kind) {
            Ok(png) => png,
            Err(failure) => return Outcome::Failed(failure),
        };
        match &work.upload {
            None => Outcome::Succeeded { png: Some(png) },
            Some(output) => match self.upload(output, &png) {
                Ok(()) => Outcome::Succeeded { png: None },
                Err(()) => Outcome::Failed(Failure::UploadRefused {
                    href: without_query(output),
                }),
            },
        }
    }

    /// GETs the input; anything but a 2xx (redirects included) is a failure.
    fn fetch(&self, url: &str) -> Result<Vec<u8>, ()> {
        let response = self.agent.send(Request::get(url)).map_err(|_| ())?;
        if !response.is_success() {
            return Err(());
        }
        response.bytes(MAX_INPUT_BYTES).map_err(|_| ())
    }

    fn upload(&self, url: &str, png: &[u8]) -> Result<(), ()> {
        let request = Request::new(Method::Put, url)
            .header("Content-Type", "image/png")
            .bytes(png.to_vec());
        match self.agent.send(request) {
            Ok(response) if response.is_success() => Ok(()),
            _ => Err(()),
        }
    }

    /// The mask as PNG bytes, from the cache or the local engine.
    fn mask(
        &self,
        href: &str,
        bytes: &[u8],
        mode: MaskMode,
        kind: OutputKind,
    ) -> Result<Arc<Vec<u8>>, Failure> {
        let key = (blake3::hash(bytes), mode, kind);
        if let Some(png) = self.cache.lock().expect("cache lock").get(&key) {
            return Ok(Arc::clone(png));
        }
        let internal = |message: String| Failure::Internal {
            href: href.to_owned(),
            message,
        };
        let engine = engine::local_engine().map_err(|e| internal(e.to_string()))?;
        let request = MaskRequest {
            input: Path::new(href),
            bytes,
            mask: mode,
            limits: self.limits,
        };
        // A panic fails this job; unhandled it would end the worker, and every later job
        // would wait forever.
        let masked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match kind {
            OutputKind::Mask => engine.mask(&request).map(Rendered::Mask),
            // Adobe's cutout is soft whatever the mask format says; so is this one.
            OutputKind::Cutout => engine::cutout::cut_out(&request).map(Rendered::Cutout),
        }))
        .map_err(|panic| internal(crate::isolate::panic_message(panic.as_ref())))?;
        let rendered = masked.map_err(|e| match e {
            EngineError::Decode { .. } => Failure::Undecodable {
                href: href.to_owned(),
            },
            e @ (EngineError::TooLarge { .. } | EngineError::Damaged { .. }) => Failure::Rejected {
                href: href.to_owned(),
                reason: e.to_string(),
            },
            other => internal(other.to_string()),
        })?;
        let png = Arc::new(rendered.encode_png().map_err(|e| internal(e.to_string()))?);
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&png));
        Ok(png)
    }
}

/// A URL without its query string (and fragment): safe to show and to compare.
pub fn without_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// A random UUID v4 string.
pub fn uuid(rng: &mut fastrand::Rng) -> String {
    let (a, b) = (rng.u64(..), rng.u64(..));
    let a = (a & !0xf000) | 0x4000;
    let b = (b & !(0b11 << 62)) | (0b10 << 62);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn pending_then_running_then_terminal_no_earlier_than_latency() {
        let latency = MS(1000);
        // Work picked up at once and done in 100 ms: the timeline still takes the latency.
        let (s, f) = (Some(MS(0)), Some(MS(100)));
        assert_eq!(phase(MS(0), latency, s, f), (Status::Pending, MS(0)));
        assert_eq!(phase(MS(499), latency, s, f), (Status::Pending, MS(0)));
        assert_eq!(phase(MS(500), latency, s, f), (Status::Running, MS(500)));
        assert_eq!(
            phase(MS(1000), latency, s, f),
            (Status::Succeeded, MS(1000))
        );
        // Work still queued: pending however long it takes.
        assert_eq!(
            phase(MS(5000), latency, None, None),
            (Status::Pending, MS(0))
        );
        // Slow work: running until it is done.
        assert_eq!(
            phase(MS(5000), latency, Some(MS(10)), None),
            (Status::Running, MS(500))
        );
        assert_eq!(
            phase(MS(5000), latency, Some(MS(10)), Some(MS(4000))),
            (Status::Succeeded, MS(4000))
        );
        // No latency: status follows the work.
        assert_eq!(
            phase(MS(1), Duration::ZERO, Some(MS(0)), Some(MS(1))),
            (Status::Succeeded, MS(1))
        );
    }

    #[test]
    fn uuids_look_like_v4() {
        let mut rng = fastrand::Rng::with_seed(3);
        let id = uuid(&mut rng);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"));
        assert_ne!(uuid(&mut rng), id);
    }

    #[test]
    fn strips_queries() {
        assert_eq!(
            without_query("https://b.example/a.png?sig=1#x"),
            "https://b.example/a.png"
        );
        assert_eq!(
            without_query("https://b.example/a.png"),
            "https://b.example/a.png"
        );
    }
}

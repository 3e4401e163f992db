//! What an input is now, for `plan`: its size and digest, and for remote inputs the
//! validator (ETag, Last-Modified) that lets the next plan skip the download. A remote input
//! whose validator and size match the lockfile's is not downloaded again: the recorded
//! digest stands. Otherwise its bytes are streamed through the hash, never kept.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::http;
use crate::lock::{InputRecord, LockEntry, Lockfile, OutputRecord};
use crate::manifest::{CloudInput, Input, Output, Step};
use crate::redact::{SecretUrl, redact_text};
use crate::remote::{self, MAX_DOWNLOAD_BYTES, RemoteError};
use crate::{fsutil, storage};

/// Why an input cannot be read: that image alone is planned as unreadable. The text (with
/// its hint, secrets removed) is what the plan and the lockfile keep.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error("cannot read {input}: {source}")]
    Local {
        input: String,
        source: std::io::Error,
    },
    #[error("{}", redact_text(&.0.described()))]
    Remote(RemoteError),
    #[error("{}", redact_text(&.0.described()))]
    Object(storage::StorageError),
}

/// What planning found of one step: its input, and what is at its output (size, digest).
pub type Found = (InputRecord, Option<(u64, String)>);

/// How many steps `plan` observes at once. A remote input or a mask in a bucket costs a
/// request each: over a bucket, the round trips, not the CPU, bound a plan.
const IN_FLIGHT: usize = 16;

/// Observes every step's input and output, [`IN_FLIGHT`] at a time, in the steps' order.
pub fn steps(
    steps: Vec<Step>,
    lock: &Lockfile,
    client: &http::Client,
) -> Vec<(Step, Result<Found, ObserveError>)> {
    let next = AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..IN_FLIGHT.min(steps.len()) {
            let sender = sender.clone();
            let (steps, next) = (&steps, &next);
            scope.spawn(move || {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(step) = steps.get(index) else { break };
                    let locked = lock.images.get(&step.key);
                    let found = input(step, locked, client).and_then(|input| {
                        Ok((input, output(step, locked.and_then(|e| e.output.as_ref()))?))
                    });
                    let _ = sender.send((index, found));
                }
            });
        }
    });
    drop(sender);
    let mut found: Vec<Option<Result<Found, ObserveError>>> =
        std::iter::repeat_with(|| None).take(steps.len()).collect();
    for (index, result) in receiver {
        found[index] = Some(result);
    }
    // Every index was taken by a worker, and a worker that panicked took the scope with it.
    steps
        .into_iter()
        .zip(found)
        .filter_map(|(step, result)| Some((step, result?)))
        .collect()
}

/// Observes `step`'s input; `locked` is its lockfile entry, if any.
fn input(
    step: &Step,
    locked: Option<&LockEntry>,
    client: &http::Client,
) -> Result<InputRecord, ObserveError> {
    let locked = locked
        .map(|entry| &entry.input)
        .filter(|recorded| recorded.source == step.input_source);
    match &step.input {
        Input::Local(path) => fsutil::digest_file(path)
            .map(|(size, digest)| InputRecord::new(step.input_source.clone(), size, digest))
            .map_err(|source| ObserveError::Local {
                input: step.input_source.clone(),
                source,
            }),
        Input::Remote(url) => {
            url_input(&step.input_source, url, locked, client).map_err(ObserveError::Remote)
        }
        Input::Object(cloud) => {
            object_input(&step.input_source, cloud, locked).map_err(ObserveError::Object)
        }
    }
}

fn object_input(
    source: &str,
    cloud: &CloudInput,
    locked: Option<&InputRecord>,
) -> Result<InputRecord, storage::StorageError> {
    let info =
        match &cloud.listed {
            Some(info) => info.clone(),
            None => cloud.storage.head(&cloud.object)?.ok_or_else(|| {
                storage::StorageError::Request {
                    operation: "read",
                    object: cloud.object.to_string(),
                    reason: "no such object".to_owned(),
                    refusal: storage::Refusal::NotFound,
                }
            })?,
        };
    if let Some(recorded) = locked
        && info.unchanged_since(recorded)
    {
        return Ok(recorded.clone());
    }
    let (size, digest, got) =
        cloud
            .storage
            .download_into(&cloud.object, MAX_DOWNLOAD_BYTES, &mut std::io::sink())?;
    let mut record = InputRecord::new(source.to_owned(), size, digest);
    record.etag = got.etag;
    record.last_modified = got.last_modified;
    Ok(record)
}

/// What is at `step`'s output now: its size and digest, or `None` when nothing is there. A
/// mask in a bucket is asked about with a HEAD; while its ETag and size are the ones
/// recorded when maskflow wrote it, the recorded digest stands and nothing is downloaded.
/// A local file that cannot be read counts as missing, as it always has.
fn output(
    step: &Step,
    recorded: Option<&OutputRecord>,
) -> Result<Option<(u64, String)>, ObserveError> {
    let cloud = match &step.output {
        Output::File(path) => return Ok(fsutil::digest_file(path).ok()),
        Output::Object(cloud) => cloud,
    };
    let Some(info) = cloud
        .storage
        .head(&cloud.object)
        .map_err(ObserveError::Object)?
    else {
        return Ok(None);
    };
    if let Some(recorded) = recorded.filter(|r| r.target == step.key)
        && info.same_etag_as(recorded) == Some(true)
    {
        return Ok(Some((recorded.size, recorded.digest.clone())));
    }
    let (size, digest, _) = cloud
        .storage
        .download_into(&cloud.object, MAX_DOWNLOAD_BYTES, &mut std::io::sink())
        .map_err(ObserveError::Object)?;
    Ok(Some((size, digest)))
}

/// A conditional GET: `If-None-Match` with the recorded ETag (or `If-Modified-Since` with
/// the recorded date); 304 keeps the recorded digest, 200 streams the new bytes through the
/// hash. A pre-signed URL stays valid for it: S3 and GCS sign only the host header.
fn url_input(
    source: &str,
    url: &SecretUrl,
    locked: Option<&InputRecord>,
    client: &http::Client,
) -> Result<InputRecord, RemoteError> {
    let mut request = http::Request::get(url.expose());
    match locked {
        Some(InputRecord {
            etag: Some(etag), ..
        }) => request = request.header("if-none-match", etag.clone()),
        Some(InputRecord {
            last_modified: Some(date),
            ..
        }) => request = request.header("if-modified-since", date.clone()),
        _ => {}
    }
    let response = client.send(request)?;
    let status = response.status();
    if status == 304
        && let Some(recorded) = locked
    {
        return Ok(recorded.clone());
    }
    let response = remote::accepted(response, url)?;
    let etag = response.header("etag").map(str::to_owned);
    let last_modified = response.header("last-modified").map(str::to_owned);
    let mut hasher = blake3::Hasher::new();
    let size = response
        .read_chunks(MAX_DOWNLOAD_BYTES, |chunk| {
            hasher.update(chunk);
            Ok(())
        })
        .map_err(|e| remote::body_error(url, MAX_DOWNLOAD_BYTES, e))?;
    let mut record = InputRecord::new(
        source.to_owned(),
        size,
        format!("blake3:{}", hasher.finalize().to_hex()),
    );
    // A weak ETag (`W/"..."`) promises equivalence, not the same bytes: not trusted.
    record.etag = etag.filter(|e| !e.starts_with("W/"));
    record.last_modified = last_modified.filter(|_| record.etag.is_none());
    Ok(record)
}

/// The remote module's client for plan's downloads.
pub fn client() -> http::Client {
    remote::agent(remote::TRANSFER_TIMEOUT)
}

//! `maskflow adopt`: records the masks on disk as manual masks. From then on `plan` counts
//! each as up to date until its input or settings change, and `apply` never overwrites it
//! unless forced.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::lock::{JobRecord, JobState, LockEntry, LockStore, Origin, OutputRecord};
use crate::manifest::{Input, Output, Step};
use crate::plan::{Action, Item, Plan, Reason};
use crate::report::{Event, Reporter};
use crate::{Error, fsutil};

/// Masks larger than this are refused: a mask is one grey channel, far below it.
const MAX_MASK_BYTES: u64 = 256 * 1024 * 1024;

/// The job id recorded for a mask a person made.
pub const MANUAL_JOB: &str = "manual";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    pub adopted: usize,
    pub failed: usize,
    /// Selected masks already recorded as manual, with the same input and bytes.
    pub unchanged: usize,
}

/// Adopts the images matching `patterns` (by output path or input path) whose mask exists,
/// or, without patterns, every mask modified outside maskflow. The lockfile is saved after
/// each image; an image that cannot be adopted is reported and the others carry on.
pub fn adopt(
    plan: Plan,
    patterns: &[glob::Pattern],
    store: &mut LockStore,
    reporter: &mut dyn Reporter,
) -> Result<Outcome, Error> {
    // Like `git add`: a pattern that matches nothing is a typo, not a no-op.
    if let Some(unmatched) = patterns.iter().find(|pattern| {
        !plan
            .items
            .iter()
            .any(|item| item.step.is_some() && matches(std::slice::from_ref(*pattern), item))
    }) {
        return Err(Error::AdoptUnmatched {
            pattern: unmatched.as_str().to_owned(),
        });
    }
    let mut outcome = Outcome::default();
    for item in plan.items {
        let chosen = if patterns.is_empty() {
            modified_outside(&item.action)
        } else {
            matches(patterns, &item)
        };
        if !chosen {
            continue;
        }
        let (Some(step), Some(desired), Some(observation)) =
            (&item.step, &item.desired, &item.observation)
        else {
            continue;
        };
        if item.origin == Some(Origin::Manual) && item.action == Action::Unchanged {
            outcome.unchanged += 1;
            continue;
        }
        match read_mask(step) {
            Ok(output) => {
                let now = now();
                let entry = LockEntry {
                    // The input as it is now: the mask is declared right for these bytes.
                    input: observation.input.clone(),
                    settings: desired.settings.clone(),
                    engine: desired.engine.clone(),
                    fingerprint: desired.fingerprint.clone(),
                    output: Some(output.clone()),
                    job: JobRecord {
                        id: MANUAL_JOB.to_owned(),
                        state: JobState::Succeeded,
                        href: None,
                        submitted_at: now.clone(),
                        finished_at: Some(now),
                        error: None,
                    },
                    origin: Origin::Manual,
                };
                store.lock.images.insert(step.key.clone(), entry);
                store.save()?;
                outcome.adopted += 1;
                reporter.report(Event::Adopted {
                    step,
                    output: &output,
                });
            }
            Err(error) => {
                outcome.failed += 1;
                reporter.report(Event::NotAdopted {
                    step,
                    error: &error.to_string(),
                });
            }
        }
    }
    reporter.report(Event::AdoptComplete {
        adopted: outcome.adopted,
        failed: outcome.failed,
        unchanged: outcome.unchanged,
    });
    Ok(outcome)
}

/// Whether the plan found the mask on disk to differ from the one recorded: what `adopt`
/// without patterns takes.
fn modified_outside(action: &Action) -> bool {
    match action {
        Action::Kept { .. } | Action::Conflict { .. } => true,
        // `retouched: remake` plans the retouch away; adopting it first keeps it.
        Action::Update { reasons } => reasons.contains(&Reason::OutputModified),
        _ => false,
    }
}

fn matches(patterns: &[glob::Pattern], item: &Item) -> bool {
    let input = item.step.as_ref().map(|s| s.input_source.as_str());
    patterns
        .iter()
        .any(|p| p.matches(&item.key) || input.is_some_and(|i| p.matches(i)))
}

/// Why a mask on disk cannot be adopted; that image is skipped, the others are adopted.
#[derive(Debug, thiserror::Error)]
enum AdoptError {
    #[error("there is no mask at {} to adopt", path.display())]
    Missing { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", crate::redact::redact_text(&.0.described()))]
    Object(crate::storage::StorageError),
    #[error("{} is larger than {MAX_MASK_BYTES} bytes: not a mask", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is not a PNG image", path.display())]
    NotPng { path: PathBuf },
    #[error("{} is not a readable PNG: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("the mask is {width}x{height}, but its input {input} is {input_width}x{input_height}")]
    WrongSize {
        input: String,
        width: u32,
        height: u32,
        input_width: u32,
        input_height: u32,
    },
}

/// The mask's bytes, from its file or its bucket, with the ETag a bucket gave for them.
fn mask_bytes(step: &Step) -> Result<(Vec<u8>, Option<String>), AdoptError> {
    let mut bytes = Vec::new();
    let etag = match &step.output {
        Output::File(path) => {
            let read = |source: std::io::Error| AdoptError::Read {
                path: path.clone(),
                source,
            };
            let file = std::fs::File::open(path).map_err(|source| match source.kind() {
                std::io::ErrorKind::NotFound => AdoptError::Missing { path: path.clone() },
                _ => read(source),
            })?;
            file.take(MAX_MASK_BYTES + 1)
                .read_to_end(&mut bytes)
                .map_err(read)?;
            None
        }
        Output::Object(cloud) => {
            match cloud
                .storage
                .download_into(&cloud.object, MAX_MASK_BYTES, &mut bytes)
            {
                Ok((_, _, info)) => info.etag,
                Err(e) if e.is_not_found() => {
                    return Err(AdoptError::Missing {
                        path: step.key.clone().into(),
                    });
                }
                Err(e) => return Err(AdoptError::Object(e)),
            }
        }
    };
    if bytes.len() as u64 > MAX_MASK_BYTES {
        return Err(AdoptError::TooLarge {
            path: step.key.clone().into(),
        });
    }
    Ok((bytes, etag))
}

/// Reads the mask (on disk or in its bucket) and checks it is a PNG that fits its input;
/// returns its record.
fn read_mask(step: &Step) -> Result<OutputRecord, AdoptError> {
    let path = &step
        .output
        .local_path()
        .map_or_else(|| PathBuf::from(&step.key), Path::to_owned);
    let read = |source: std::io::Error| AdoptError::Read {
        path: path.clone(),
        source,
    };
    let (bytes, etag) = mask_bytes(step)?;
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(read)?;
    if reader.format() != Some(image::ImageFormat::Png) {
        return Err(AdoptError::NotPng { path: path.clone() });
    }
    // Decoded in full: a truncated or corrupt file is refused now, not downstream.
    let mask = reader.decode().map_err(|source| AdoptError::Unreadable {
        path: path.clone(),
        source,
    })?;
    let (width, height) = (mask.width(), mask.height());
    if let Input::Local(input) = &step.input
        && let Some((w, h)) = image::ImageReader::open(input)
            .ok()
            .and_then(|r| r.with_guessed_format().ok())
            .and_then(|r| r.into_dimensions().ok())
        && (width, height) != (w, h)
        && (width, height) != (h, w)
    {
        return Err(AdoptError::WrongSize {
            input: step.input_source.clone(),
            width,
            height,
            input_width: w,
            input_height: h,
        });
    }
    Ok(OutputRecord {
        target: step.key.clone(),
        size: bytes.len() as u64,
        digest: fsutil::digest_bytes(&bytes),
        width,
        height,
        etag,
    })
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

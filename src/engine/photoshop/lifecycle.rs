//! One photoshop job from start to end: stage the input, submit it (or resume the job an
//! earlier run left in flight), have the caller record the submission before waiting on it,
//! poll it to the end, and check that the mask fits its image.

use std::path::PathBuf;

use crate::engine::cutout::Rendered;

use super::{JobError as ServiceJobError, JobHandle, Photoshop, Seat, SubmitError, WaitError};
use crate::lock::JobRecord;
use crate::manifest::{Input, Step};
use crate::redact::SecretUrl;
use crate::storage::{StageError, Stager, StorageError};

/// Why one photoshop job gave no mask. Each variant carries its own hint.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("local inputs need `storage.staging`")]
    NoStaging { key: String },
    /// The staging bucket could not give the URLs a sensei job writes its mask to.
    #[error(transparent)]
    MaskUrls { source: StageError },
    #[error("{source}")]
    Stage { path: PathBuf, source: StageError },
    /// A cloud input could not be signed for the service to read.
    #[error(transparent)]
    Sign { source: StorageError },
    #[error(transparent)]
    Submit { source: SubmitError },
    /// The job ended without a mask, or its mask could not be collected.
    #[error(transparent)]
    Failed { source: Box<ServiceJobError> },
    /// The job may still finish: it stays recorded as in flight for the next run.
    #[error(transparent)]
    Unfinished { source: Box<ServiceJobError> },
    #[error("the run stopped before the job was recorded")]
    Stopped { job: String },
    #[error(
        "the service's mask is {mask_width}x{mask_height}, but {} is {width}x{height}",
        path.display()
    )]
    MaskSize {
        path: PathBuf,
        mask_width: u32,
        mask_height: u32,
        width: u32,
        height: u32,
    },
}

impl JobError {
    pub fn hint(&self) -> Option<String> {
        match self {
            JobError::NoStaging { .. } => Some(
                "set `storage.staging` so maskflow can upload local inputs, or give the image \
                 an https URL"
                    .to_owned(),
            ),
            JobError::MaskUrls { source } | JobError::Stage { source, .. } => source.hint(),
            JobError::Submit { source } => source.hint(),
            JobError::Sign { source } => source.hint(),
            JobError::Failed { source } | JobError::Unfinished { source } => source.hint(),
            JobError::Stopped { .. } | JobError::MaskSize { .. } => None,
        }
    }

    /// Whether the job may still finish, so its lockfile entry must stay "submitted".
    pub fn is_unfinished(&self) -> bool {
        matches!(self, JobError::Unfinished { .. } | JobError::Stopped { .. })
    }
}

/// The job to run for one image.
pub struct Order<'a> {
    pub step: &'a Step,
    /// Names the mask object a sensei job writes when the manifest gives no `mask_url`.
    pub fingerprint: &'a str,
    /// A job an earlier run submitted and did not see finish: poll it, do not pay again.
    pub resume: Option<&'a JobRecord>,
}

/// What the lifecycle tells its caller while it runs.
pub trait Progress {
    /// A local input was uploaded to the staging bucket as `object`.
    fn uploaded(&self, object: &str);
    /// A paid job exists. Returns once it is durably recorded; false when the run is stopping,
    /// and then the job is not waited on (the next run resumes it).
    fn submitted(&self, job: &JobHandle) -> bool;
}

/// How a job ended: its mask handed to the caller's `deliver`, or why there is none.
pub enum Ending<T> {
    Delivered(T),
    Failed(JobError),
}

/// The engine and the bucket a photoshop job uses.
pub struct Lifecycle<'a> {
    pub photoshop: &'a Photoshop,
    pub stager: Option<&'a Stager>,
    /// Whether jobs use the `sensei` API (which writes masks to a URL).
    pub sensei: bool,
}

impl Lifecycle<'_> {
    /// Submits (or resumes) one job, waits for it, and hands its mask to `deliver`. A new job
    /// holds `seat` from before its input is staged until `deliver` returns. Returns how it
    /// ended and the id of the job, if one was made.
    pub fn run<T>(
        &self,
        order: &Order<'_>,
        progress: &dyn Progress,
        mut seat: Option<Seat<'_>>,
        deliver: impl FnOnce(Rendered) -> T,
    ) -> (Ending<T>, Option<String>) {
        let step = order.step;
        let (mask_put, mask_get) = match self.mask_urls(order) {
            Ok(urls) => urls,
            Err(error) => return (Ending::Failed(error), None),
        };
        let job = match order.resume {
            Some(job) => self
                .photoshop
                .resumed(&job.id, job.href.as_deref(), &job.submitted_at),
            None => {
                let input = match &step.input {
                    Input::Remote(url) => url.clone(),
                    // Signed here, where the service needs its URL, not when the manifest is
                    // loaded: `validate` and `plan` never ask for credentials to sign.
                    Input::Object(cloud) => match cloud.storage.presign(
                        &cloud.object,
                        crate::storage::Method::Get,
                        None,
                    ) {
                        Ok(url) => url,
                        Err(source) => return (Ending::Failed(JobError::Sign { source }), None),
                    },
                    Input::Local(path) => match self.stage(step, path, progress) {
                        Ok(url) => url,
                        Err(error) => return (Ending::Failed(error), None),
                    },
                };
                match self.photoshop.submit(step, &input, mask_put.as_ref()) {
                    Ok(job) => {
                        if let Some(seat) = seat.as_mut() {
                            seat.took_off(job.accepted());
                        }
                        if !progress.submitted(&job) {
                            let stopped = JobError::Stopped {
                                job: job.id.clone(),
                            };
                            return (Ending::Failed(stopped), Some(job.id));
                        }
                        job
                    }
                    Err(source) => return (Ending::Failed(JobError::Submit { source }), None),
                }
            }
        };
        let ending = match self.photoshop.wait(step, &job, mask_get.as_ref()) {
            Ok(rendered) => match verify_size(step, rendered.dimensions()) {
                Ok(()) => Ending::Delivered(deliver(rendered)),
                Err(error) => Ending::Failed(error),
            },
            Err(WaitError::Failed(source)) => Ending::Failed(JobError::Failed { source }),
            Err(WaitError::Unfinished(source)) => Ending::Failed(JobError::Unfinished { source }),
        };
        drop(seat);
        (ending, Some(job.id))
    }

    fn staging(&self, step: &Step) -> Result<&Stager, JobError> {
        self.stager.ok_or_else(|| JobError::NoStaging {
            key: step.key.clone(),
        })
    }

    /// Where a sensei job writes its mask, and where it is read back from.
    fn mask_urls(
        &self,
        order: &Order<'_>,
    ) -> Result<(Option<SecretUrl>, Option<SecretUrl>), JobError> {
        let step = order.step;
        match (&step.mask_url, self.sensei) {
            (Some(put), _) => Ok((Some(put.clone()), step.mask_read_url.clone())),
            (None, true) => {
                let (put, get) = self
                    .staging(step)?
                    .mask_urls(order.fingerprint)
                    .map_err(|source| JobError::MaskUrls { source })?;
                Ok((Some(put), Some(get)))
            }
            (None, false) => Ok((None, None)),
        }
    }

    /// Uploads a local input to the staging bucket; returns the URL the service reads.
    fn stage(
        &self,
        step: &Step,
        path: &std::path::Path,
        progress: &dyn Progress,
    ) -> Result<SecretUrl, JobError> {
        let staged = self
            .staging(step)?
            .stage_input(path)
            .map_err(|source| JobError::Stage {
                path: path.to_owned(),
                source,
            })?;
        if staged.uploaded {
            progress.uploaded(&staged.object.to_string());
        }
        Ok(staged.url)
    }
}

/// A mask from a service must fit its image: same size (or turned, for an EXIF rotation).
fn verify_size(step: &Step, got: (u32, u32)) -> Result<(), JobError> {
    let Input::Local(path) = &step.input else {
        return Ok(());
    };
    let dimensions = image::ImageReader::open(path)
        .ok()
        .and_then(|r| r.with_guessed_format().ok())
        .and_then(|r| r.into_dimensions().ok());
    let Some((width, height)) = dimensions else {
        return Ok(());
    };
    if got == (width, height) || got == (height, width) {
        Ok(())
    } else {
        Err(JobError::MaskSize {
            path: path.clone(),
            mask_width: got.0,
            mask_height: got.1,
            width,
            height,
        })
    }
}

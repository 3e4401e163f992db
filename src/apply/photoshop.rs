//! One photoshop job: submit (or resume), wait, check and write its mask.

use std::sync::mpsc;

use image::GrayImage;

use crate::engine::photoshop::{Seat, WaitError};
use crate::manifest::{Input, Step};

use super::engines::Engines;
use super::local::write_mask;
use super::record::record_submission;
use super::{Message, Outcome, Work, folders};

/// Submits (or resumes) one photoshop job, waits for it, and writes its mask. A new job holds
/// `seat` from before its input is staged until its mask is written.
pub(super) fn run_photoshop(
    work: &Work,
    engines: &Engines,
    folders: &folders::OutputFolders,
    sender: &mpsc::Sender<Message>,
    mut seat: Option<Seat<'_>>,
) -> (Outcome, Option<String>) {
    let step = &work.step;
    let photoshop = engines
        .photoshop
        .as_ref()
        .expect("made for photoshop steps");
    let staging = || {
        engines
            .stager
            .as_ref()
            .ok_or_else(|| "local inputs need `storage.staging`".to_owned())
    };
    // Where a sensei job writes its mask, and where it is read back from.
    let mask_urls = match (&step.mask_url, engines.sensei) {
        (Some(put), _) => Ok((Some(put.clone()), step.mask_read_url.clone())),
        (None, true) => staging()
            .and_then(|stager| stager.mask_urls(&work.desired.fingerprint))
            .map(|(put, get)| (Some(put), Some(get))),
        (None, false) => Ok((None, None)),
    };
    let (mask_put, mask_get) = match mask_urls {
        Ok(urls) => urls,
        Err(error) => return (Outcome::Failed(error), None),
    };
    let job = match &work.resume {
        Some(job) => photoshop.resumed(&job.id, job.href.as_deref(), &job.submitted_at),
        None => {
            let input = match &step.input {
                Input::Remote(url) => url.clone(),
                Input::Local(path) => match staging().and_then(|s| s.stage_input(path)) {
                    Ok(staged) => {
                        if staged.uploaded {
                            let _ = sender.send(Message::Uploaded {
                                key: step.key.clone(),
                                object: staged.object.to_string(),
                            });
                        }
                        staged.url
                    }
                    Err(error) => return (Outcome::Failed(error), None),
                },
            };
            match photoshop.submit(step, &input, mask_put.as_ref()) {
                Ok(job) => {
                    if let Some(seat) = seat.as_mut() {
                        seat.took_off(job.accepted());
                    }
                    if !record_submission(work, &job, sender) {
                        let stopped = "the run stopped before the job was recorded".to_owned();
                        return (Outcome::Unfinished(stopped), Some(job.id));
                    }
                    job
                }
                Err(error) => return (Outcome::Failed(error), None),
            }
        }
    };
    let outcome = match photoshop.wait(step, &job, mask_get.as_ref()) {
        Ok(mask) => match verify_size(step, &mask)
            .and_then(|()| write_mask(step, &mask, work.observed.clone(), folders))
        {
            Ok(done) => Outcome::Masked(done),
            Err(error) => Outcome::Failed(error),
        },
        Err(WaitError::Failed(error)) => Outcome::Failed(explain_input_failure(error)),
        Err(WaitError::Unfinished(error)) => Outcome::Unfinished(error),
    };
    drop(seat);
    (outcome, Some(job.id))
}

/// The service's "cannot access the input" is most often an expired pre-signed URL.
pub(super) fn explain_input_failure(error: String) -> String {
    if error.contains("Unable to access the input") {
        format!(
            "{error} (the service could not read the input URL: it must be reachable from the \
             service and must not expire before the job runs; staged URLs live \
             `storage.expires_seconds`)"
        )
    } else {
        error
    }
}

/// A mask from a service must fit its image: same size (or turned, for an EXIF rotation).
pub(super) fn verify_size(step: &Step, mask: &GrayImage) -> Result<(), String> {
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
    let got = (mask.width(), mask.height());
    if got == (width, height) || got == (height, width) {
        Ok(())
    } else {
        Err(format!(
            "the service's mask is {}x{}, but {} is {width}x{height}",
            got.0,
            got.1,
            path.display()
        ))
    }
}

//! A photoshop image: its job runs through `engine::photoshop::lifecycle`; this side records
//! the submission and writes the mask.

use std::sync::mpsc;

use crate::engine::photoshop::lifecycle::{Ending, Lifecycle, Order, Progress};
use crate::engine::photoshop::{JobHandle, Seat};

use super::engines::Engines;
use super::local::write_rendered;
use super::record::record_submission;
use super::{Message, Outcome, Work, folders};

/// Runs one photoshop job and writes its mask. A new job holds `seat` from before its input is
/// staged until its mask is written.
pub(super) fn run_photoshop(
    work: &Work,
    engines: &Engines,
    folders: &folders::OutputFolders,
    sender: &mpsc::Sender<Message>,
    seat: Option<Seat<'_>>,
) -> (Outcome, Option<String>) {
    let lifecycle = Lifecycle {
        photoshop: engines
            .photoshop
            .as_ref()
            .expect("made for photoshop steps"),
        stager: engines.stager.as_ref(),
        sensei: engines.sensei,
    };
    let order = Order {
        step: &work.step,
        fingerprint: &work.desired.fingerprint,
        resume: work.resume.as_ref(),
    };
    let progress = Recorder { work, sender };
    let (ending, job) = lifecycle.run(&order, &progress, seat, |rendered| {
        write_rendered(&work.step, &rendered, work.observed.clone(), folders)
    });
    let outcome = match ending {
        Ending::Delivered(Ok(done)) => Outcome::Masked(done),
        Ending::Delivered(Err(error)) => Outcome::Failed(error),
        Ending::Failed(error) => Outcome::Failed(error.into()),
    };
    (outcome, job)
}

/// Passes what the job does to the main thread, which owns the lockfile and the reporter.
struct Recorder<'a> {
    work: &'a Work,
    sender: &'a mpsc::Sender<Message>,
}

impl Progress for Recorder<'_> {
    fn uploaded(&self, object: &str) {
        let _ = self.sender.send(Message::Uploaded {
            key: self.work.step.key.clone(),
            object: object.to_owned(),
        });
    }

    fn submitted(&self, job: &JobHandle) -> bool {
        record_submission(self.work, job, self.sender)
    }
}

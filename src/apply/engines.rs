//! The engines a run needs, made once and shared by the workers.

use crate::Error;
use crate::engine::photoshop::{self, Photoshop};
use crate::engine::{self, DecodeLimits, Engine, EngineError};
use crate::manifest::{EngineKind, PhotoshopApi, PhotoshopSettings};
use crate::storage::Stager;
use std::sync::{Condvar, Mutex};

use super::{Options, Work, share};

/// The engines this run needs, created once and shared by every worker.
pub(super) struct Engines {
    pub(super) local: Option<&'static dyn Engine>,
    pub(super) photoshop: Option<Photoshop>,
    /// Whether photoshop jobs use the `sensei` API (which writes masks to a URL).
    pub(super) sensei: bool,
    pub(super) stager: Option<Stager>,
    /// Bounds concurrent local inferences, which compete for the same cores.
    pub(super) local_slots: Slots,
    /// What decoding one input may cost (`local` engine).
    pub(super) decode: DecodeLimits,
}

pub(super) fn load_engines(work: &[Work], options: &Options) -> Result<Engines, Error> {
    let uses = |kind| work.iter().any(|w| w.step.engine == kind);
    let local = if uses(EngineKind::Local) {
        Some(engine::local_engine()?)
    } else {
        None
    };
    let photoshop = if uses(EngineKind::Photoshop) {
        let credentials =
            photoshop::Credentials::from_env(&options.photoshop.credentials, |name| {
                std::env::var(name).ok()
            })
            .map_err(EngineError::from)?;
        // Shards run at once under one organization's limit: each submits at its share.
        let settings = PhotoshopSettings {
            limits: share::shard_limits(&options.photoshop.limits, options.shard),
            ..options.photoshop.clone()
        };
        Some(Photoshop::new(&settings, credentials))
    } else {
        None
    };
    Ok(Engines {
        local,
        photoshop,
        sensei: options.photoshop.api == PhotoshopApi::Sensei,
        stager: Stager::new(&options.storage),
        local_slots: Slots::new(options.jobs.max(1)),
        decode: options.decode,
    })
}

/// A counting semaphore.
pub(super) struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

pub(super) struct Slot<'a>(&'a Slots);

impl Slots {
    pub(super) fn new(count: usize) -> Self {
        Self {
            free: Mutex::new(count),
            freed: Condvar::new(),
        }
    }

    pub(super) fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().expect("slots lock");
        while *free == 0 {
            free = self.freed.wait(free).expect("slots lock");
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().expect("slots lock") += 1;
        self.0.freed.notify_one();
    }
}

//! The engines a run needs, made once and shared by the workers.

use crate::Error;
use crate::engine::photoshop::{self, Photoshop};
use crate::engine::{self, DecodeLimits, Engine, EngineError};
use crate::manifest::{EngineKind, PhotoshopApi, PhotoshopSettings};
use crate::storage::Stager;

use super::{Options, Work, share};

/// The engines this run needs, created once and shared by every worker.
pub(super) struct Engines {
    pub(super) local: Option<&'static dyn Engine>,
    pub(super) photoshop: Option<Photoshop>,
    /// Whether photoshop jobs use the `sensei` API (which writes masks to a URL).
    pub(super) sensei: bool,
    pub(super) stager: Option<Stager>,
    /// What decoding one input may cost (`local` engine).
    pub(super) decode: DecodeLimits,
}

pub(super) fn load_engines(work: &[Work], options: &Options) -> Result<Engines, Error> {
    let uses = |kind| work.iter().any(|w| w.step.engine == kind);
    // Steps with a model file load theirs on first use, each failing on its own.
    let embedded = work
        .iter()
        .any(|w| w.step.engine == EngineKind::Local && w.step.model.is_none());
    let local = if embedded {
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
        decode: options.decode,
    })
}

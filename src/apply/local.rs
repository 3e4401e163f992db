//! One local job: read the input, run the engine in-process, write the mask.

use crate::engine::cutout::Rendered;
use crate::engine::{DecodeLimits, Engine};
use crate::lock::{InputRecord, OutputRecord};
use crate::manifest::{Input, Output, Step};
use crate::{fsutil, remote};

use super::error::StepError;
use super::{Done, folders};

/// Masks one image in-process: read and hash the exact bytes masked, run the engine.
pub(super) fn run_local(
    step: &Step,
    engine: Option<&dyn Engine>,
    limits: DecodeLimits,
    folders: &folders::OutputFolders,
) -> Result<Done, StepError> {
    let (bytes, label) = match &step.input {
        Input::Local(path) => (
            std::fs::read(path).map_err(|source| StepError::ReadInput {
                path: path.clone(),
                source,
            })?,
            path.clone(),
        ),
        Input::Remote(url) => {
            let agent = remote::agent(remote::TRANSFER_TIMEOUT);
            let (file, _, _) = remote::download(&agent, url, remote::MAX_DOWNLOAD_BYTES)?;
            let bytes = std::fs::read(file.path()).map_err(|source| StepError::ReadDownload {
                url: url.redacted(),
                source,
            })?;
            (bytes, url.redacted().into())
        }
        Input::Object(cloud) => {
            let mut bytes = Vec::new();
            cloud
                .storage
                .download_into(&cloud.object, remote::MAX_DOWNLOAD_BYTES, &mut bytes)?;
            (bytes, cloud.object.to_string().into())
        }
    };
    let input = InputRecord {
        source: step.input_source.clone(),
        size: bytes.len() as u64,
        digest: fsutil::digest_bytes(&bytes),
        etag: None,
        last_modified: None,
    };
    let rendered = crate::engine::render::local(step, engine, &label, &bytes, limits)?;
    // The input's bytes are not needed any more; free them before encoding.
    drop(bytes);
    write_rendered(step, &rendered, input, folders)
}

/// Writes the mask through its folder's handle. The error names the mask by its key: the
/// lockfile stores it, so it must not hold a temporary file's random name.
pub(super) fn write_rendered(
    step: &Step,
    rendered: &Rendered,
    input: InputRecord,
    folders: &folders::OutputFolders,
) -> Result<Done, StepError> {
    let png = rendered.encode_png()?;
    let (width, height) = rendered.dimensions();
    let size = png.len() as u64;
    let digest = fsutil::digest_bytes(&png);
    let etag = match &step.output {
        Output::File(path) => {
            folders
                .write(path, &png)
                .map_err(|source| StepError::WriteMask {
                    key: step.key.clone(),
                    source,
                })?;
            None
        }
        // A store makes an object visible whole or not at all, as the rename does for files.
        Output::Object(cloud) => cloud.storage.put(&cloud.object, png)?.etag,
    };
    Ok(Done {
        input,
        output: OutputRecord {
            target: step.key.clone(),
            size,
            digest,
            width,
            height,
            etag,
        },
    })
}

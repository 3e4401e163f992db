//! Command-line definitions only; behaviour lives in `commands`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::diagnostics::LogFormat;
use crate::emulate::{ErrorsAs, FaultRoute, JobIdField, RetryAfter};
use crate::report::Format;

/// Declarative, incremental subject masks for a repository of images.
#[derive(Debug, Parser)]
#[command(name = "maskflow", version, about, max_term_width = 100)]
pub struct Cli {
    /// The manifest to use; its lockfile sits beside it (maskflow.yaml -> maskflow.lock).
    #[arg(
        short,
        long,
        global = true,
        default_value = "maskflow.yaml",
        env = "MASKFLOW_MANIFEST"
    )]
    pub manifest: PathBuf,
    /// Output format: human text (the plan on stdout, progress and diagnostics on stderr),
    /// or JSON on stdout.
    #[arg(long, global = true, value_enum, default_value_t = Format::Human, env = "MASKFLOW_FORMAT")]
    pub format: Format,
    /// The `local` engine's model runtime: rten (built in), or onnxruntime (a build with
    /// `--features onnxruntime`, and libonnxruntime from ORT_DYLIB_PATH or the library path).
    #[arg(long, global = true, default_value = "rten", env = "MASKFLOW_RUNTIME")]
    pub runtime: crate::engine::runtime::RuntimeKind,
    /// Diagnostics on stderr: -v what maskflow does, -vv every HTTP exchange, wait and retry,
    /// -vvv everything. MASKFLOW_LOG takes a filter instead (e.g. maskflow::http=debug);
    /// RUNNER_DEBUG=1 turns on -vv.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// How diagnostics are written: text lines, or JSON lines for machines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "MASKFLOW_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter manifest for a folder of images.
    Init(InitArgs),
    /// Check the manifest: schema, templates, paths; every problem at once.
    Validate,
    /// Show what `apply` would do for every image, and why.
    Plan(PlanArgs),
    /// Make the masks that are missing or stale, and record them in the lockfile.
    Apply(ApplyArgs),
    /// Record the masks on disk as manual masks, which maskflow keeps until told otherwise.
    Adopt(AdoptArgs),
    /// List the jobs the lockfile records as in flight, with their current state.
    Status,
    /// Write a self-contained HTML report: every image with its mask and cutout, what the
    /// last `apply` did to it, and what is pending since.
    Report(ReportArgs),
    /// Print the JSON Schema of the manifest (or of the lockfile, or of the JSON events).
    Schema(SchemaArgs),
    /// List the models the `local` engine knows: sizes, input sizes, licences, digests.
    Models,
    /// Work with lockfiles.
    Lock(LockArgs),
    /// Serve a local, Photoshop-API-compatible endpoint backed by the local engine.
    Emulate(EmulateArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The folder of images; the manifest is written there as maskflow.yaml.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Overwrite an existing maskflow.yaml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 0 when nothing is to do, 2 when something is (or a manual mask is in conflict),
    /// 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan only shard K of N (e.g. 2/3): what `apply --shard K/N` would do.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Images processed at once [default: the number of CPU cores].
    #[arg(short, long)]
    pub jobs: Option<usize>,
    /// Only touch images whose output or input path matches GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub only: Vec<glob::Pattern>,
    /// Remake images whose output or input path matches GLOB even when unchanged, edited by
    /// hand, or in conflict (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub force: Vec<glob::Pattern>,
    /// Also delete the masks of images no longer in the manifest.
    #[arg(long)]
    pub prune: bool,
    /// Run only shard K of N (e.g. 2/3): a deterministic share of the images, chosen by key.
    /// The lockfile then holds only that shard's entries; combine them with `lock merge`.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::shard::Shard>,
    /// Refuse to run when more than N paid jobs (`photoshop` engine) would be submitted.
    #[arg(long, value_name = "N")]
    pub max_submits: Option<usize>,
    /// Fail inputs of more than N pixels before decoding them [default: the manifest's
    /// `limits.max_pixels`, else 100000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: Option<u64>,
    /// Also write the visual report of this run (HTML, self-contained) to PATH.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AdoptArgs {
    /// Adopt the images whose output or input path matches GLOB [default: every mask
    /// modified outside maskflow].
    #[arg(value_name = "GLOB")]
    pub globs: Vec<glob::Pattern>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the report.
    #[arg(
        short,
        long,
        value_name = "PATH",
        default_value = "maskflow-report.html"
    )]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    #[command(subcommand)]
    pub command: LockCommand,
}

#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Combine the partial lockfiles of sharded runs; conflicting entries are refused.
    Merge {
        /// The partial lockfiles.
        #[arg(required = true)]
        parts: Vec<PathBuf>,
        /// Where to write the result [default: the manifest's lockfile].
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Print the lockfile's schema instead of the manifest's.
    #[arg(long, conflicts_with = "events")]
    pub lock: bool,
    /// Print the schema of the `--format json` events instead of the manifest's.
    #[arg(long)]
    pub events: bool,
}

#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; 0 picks a free one (reported on start).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Time from submission to a terminal status (pending for the first half), e.g. 500ms; a
    /// range such as 3s..12s gives each job its own, drawn uniformly.
    #[arg(long, default_value = "1s", value_parser = crate::emulate::duration::parse_latency)]
    pub latency: crate::emulate::Latency,
    /// The client id (and API key) the emulator accepts.
    #[arg(long, default_value = "maskflow-emulator")]
    pub client_id: String,
    /// The client secret the emulator accepts [default: random, reported on start].
    #[arg(long)]
    pub client_secret: Option<String>,
    /// How long issued access tokens stay valid.
    #[arg(long, default_value = "86399s", value_parser = crate::emulate::duration::parse)]
    pub token_lifetime: Duration,
    /// Accepted submissions allowed per --submit-window, organization-wide (Adobe: 3 per 3 s).
    #[arg(long, default_value_t = 3)]
    pub submit_limit: usize,
    /// The sliding window of --submit-limit.
    #[arg(long, default_value = "3s", value_parser = crate::emulate::duration::parse)]
    pub submit_window: Duration,
    /// Status requests allowed per --status-window, organization-wide (Adobe: 1,000 per 3 s).
    #[arg(long, default_value_t = 1000)]
    pub status_limit: usize,
    /// The sliding window of --status-limit.
    #[arg(long, default_value = "3s", value_parser = crate::emulate::duration::parse)]
    pub status_window: Duration,
    /// Serve the status routes (and link to them) under this path only, e.g. /jobs/v7: a
    /// service whose status links differ from the routes a client would build.
    #[arg(long, value_name = "PATH", default_value = "", value_parser = status_prefix)]
    pub status_prefix: String,
    /// How 429 responses carry Retry-After.
    #[arg(long, value_enum, default_value_t = RetryAfter::Seconds)]
    pub retry_after: RetryAfter,
    /// Fraction of requests on --error-routes answered with a random 500/502/503/504.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Routes that --error-rate applies to.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "token,submit,status,result"
    )]
    pub error_routes: Vec<FaultRoute>,
    /// Fraction of accepted jobs that fail.
    #[arg(long, default_value_t = 0.0)]
    pub fail_jobs: f64,
    /// Jobs whose input URL (without query) contains SUBSTR fail.
    #[arg(long, value_name = "SUBSTR")]
    pub fail_inputs_matching: Option<String>,
    /// Answer every /sensei/* route with 410 Gone, as after Adobe retires it.
    #[arg(long)]
    pub retired: bool,
    /// Shape of `errors` in failed sensei status bodies.
    #[arg(long, value_enum, default_value_t = ErrorsAs::Object)]
    pub errors_as: ErrorsAs,
    /// Name of the job id field in sensei status bodies.
    #[arg(long, value_enum, default_value_t = JobIdField::JobUpperId)]
    pub job_id_field: JobIdField,
    /// Seed for fault injection and job ids, to reproduce a run.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Threads running the model.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    pub workers: u16,
    /// Jobs whose input has more than N pixels fail before it is decoded.
    #[arg(long, value_name = "N", default_value_t = crate::engine::DEFAULT_MAX_PIXELS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_pixels: u64,
    /// Largest request head (request line and headers) read, in bytes; larger ones get 431.
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = parse_at_least_1k)]
    pub max_header_bytes: usize,
    /// Connections served at once (one thread each); more get 503 and are closed.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_connections: u16,
}

/// A command-line value that cannot be used; clap shows the message with the flag's name.
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    #[error("`{text}` is not a byte count of at least 1024")]
    ByteCount { text: String },
    #[error(
        "`{text}` is not a path prefix; use segments of letters, digits, -, _ and ., e.g. /jobs/v7"
    )]
    StatusPrefix { text: String },
}

/// A request head must hold at least a request line and a few headers.
fn parse_at_least_1k(text: &str) -> Result<usize, ArgError> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err(ArgError::ByteCount {
            text: text.to_owned(),
        }),
    }
}

/// `--status-prefix`: path segments of letters, digits, `-`, `_` and `.`.
fn status_prefix(text: &str) -> Result<String, ArgError> {
    let segments: Vec<&str> = text.split('/').filter(|s| !s.is_empty()).collect();
    let valid = |s: &&str| {
        s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && !matches!(*s, "." | "..")
    };
    if segments.iter().all(valid) {
        Ok(segments.iter().map(|s| format!("/{s}")).collect())
    } else {
        Err(ArgError::StatusPrefix {
            text: text.to_owned(),
        })
    }
}

//! One function per verb: each wires the pipeline stages together and reports through the
//! reporter; none prints.

use crate::cli::{
    AdoptArgs, ApplyArgs, Cli, Command, EmulateArgs, LockCommand, PlanArgs, ReportArgs,
};
use crate::engine::photoshop;
use crate::lock::{self, LockStore};
use crate::manifest::{self, Loaded, ManifestError, Step};
use crate::plan::{self, Desired, Observation, Plan};
use crate::report::{self, Event, Reporter};
use crate::{CommandOutcome, Error, adopt, apply, emulate, engine, fsutil, init, shard};

/// Turns on diagnostics, picks the model runtime, and returns the renderer for the run.
pub fn start(cli: &Cli) -> Box<dyn Reporter> {
    crate::diagnostics::init(cli.verbose, cli.log_format, |name| std::env::var(name).ok());
    engine::runtime::select(cli.runtime);
    report::reporter(cli.format, &cli.manifest)
}

/// Runs a parsed command line. An `Err` is a command that failed as a whole, not yet
/// reported (see [`report_error`]); how a finished one ended is the `CommandOutcome`.
pub fn execute(cli: &Cli, reporter: &mut dyn Reporter) -> Result<CommandOutcome, Error> {
    match &cli.command {
        Command::Init(args) => init::init(&args.dir, args.force, reporter),
        Command::Validate => validate(cli, reporter),
        Command::Plan(args) => plan(cli, args, reporter),
        Command::Apply(args) => apply(cli, args, reporter),
        Command::Adopt(args) => adopt(cli, args, reporter),
        Command::Status => status(cli, reporter),
        Command::Report(args) => report(cli, args, reporter),
        Command::Lock(args) => match &args.command {
            LockCommand::Merge { parts, output } => {
                merge_locks(cli, parts, output.as_deref(), reporter)
            }
        },
        Command::Emulate(args) => serve_emulator(args, reporter),
        Command::Schema(args) => {
            let schema = if args.lock {
                lock::schema_json()
            } else if args.events {
                report::events::schema_json()
            } else {
                manifest::schema_json()
            };
            reporter.report(Event::Document(&schema));
            Ok(CommandOutcome::Done)
        }
        Command::Models => {
            let listing = crate::models::known::listing(cli.format == crate::report::Format::Json);
            reporter.report(Event::Document(&listing));
            Ok(CommandOutcome::Done)
        }
    }
}

/// Reports a command's failure: a broken manifest as its problems, anything else as one error.
pub fn report_error(error: &Error, reporter: &mut dyn Reporter) {
    match error {
        Error::Manifest(invalid @ ManifestError::Invalid { .. }) => {
            reporter.report(Event::Invalid(invalid));
        }
        other => reporter.report(Event::Failure(other)),
    }
}

/// Loads the manifest and reports what its globs had to skip.
fn load(cli: &Cli, reporter: &mut dyn Reporter) -> Result<(Loaded, Vec<Step>), Error> {
    let (loaded, steps) = manifest::load(&cli.manifest)?;
    for warning in &loaded.warnings {
        reporter.report(Event::Skipped {
            skipped: &warning.skipped,
            at: Some((&loaded.source, warning.pos)),
        });
    }
    Ok((loaded, steps))
}

fn validate(cli: &Cli, reporter: &mut dyn Reporter) -> Result<CommandOutcome, Error> {
    let (_, steps) = load(cli, reporter)?;
    reporter.report(Event::Valid {
        manifest: &cli.manifest,
        images: steps.len(),
    });
    Ok(CommandOutcome::Done)
}

fn plan(cli: &Cli, args: &PlanArgs, reporter: &mut dyn Reporter) -> Result<CommandOutcome, Error> {
    let (loaded, mut steps) = load(cli, reporter)?;
    let store = LockStore::open(&loaded.lock_path(), &loaded.dir)?;
    if let Some(shard) = args.shard {
        // Other shards' inputs need not be read (remote ones downloaded) to be left out.
        steps.retain(|step| shard.contains(&step.key));
    }
    let mut plan = make_plan(steps, &store, &loaded.manifest.photoshop);
    if let Some(shard) = args.shard {
        // Lock entries of the other shards, which the steps left out, are not orphans.
        plan.items.retain(|item| shard.contains(&item.key));
        let paid = plan.items.iter().any(|item| {
            item.step
                .as_ref()
                .is_some_and(|step| step.engine == manifest::EngineKind::Photoshop)
        });
        plan.submit_share =
            paid.then(|| shard::share::submit_share(&loaded.manifest.photoshop.limits, shard));
    }
    reporter.report(Event::Plan(&plan));
    // As Terraform: the plan is shown whole, and an input that cannot be read is an error;
    // so is a retouched mask under `retouched: fail`.
    Ok(if plan.has_failures() || plan.has_refusals() {
        CommandOutcome::Failed
    } else if args.detailed_exitcode && (plan.has_changes() || plan.has_conflicts()) {
        CommandOutcome::Changes
    } else {
        CommandOutcome::Done
    })
}

fn apply(
    cli: &Cli,
    args: &ApplyArgs,
    reporter: &mut dyn Reporter,
) -> Result<CommandOutcome, Error> {
    let (loaded, steps) = load(cli, reporter)?;
    let _exclusive = lock_manifest(&cli.manifest)?;
    let folders: std::collections::BTreeSet<&std::path::Path> = steps
        .iter()
        .filter_map(|s| s.output.local_path()?.parent())
        .chain([loaded.dir.as_path()])
        .collect();
    for folder in folders {
        fsutil::remove_stale_temp_files(folder).map_err(|source| Error::Io {
            path: folder.to_owned(),
            source,
        })?;
    }
    let mut store = LockStore::open(&loaded.lock_path(), &loaded.dir)?;
    // Other shards' inputs need not be read (changed remote ones downloaded) to be left out.
    let (steps, other_shards) = match args.shard {
        Some(shard) => steps
            .into_iter()
            .partition(|step| shard.contains(&step.key)),
        None => (steps, Vec::new()),
    };
    let mut plan = make_plan(steps, &store, &loaded.manifest.photoshop);
    if let Some(shard) = args.shard {
        // Lock entries of the other shards, which the steps left out, are not orphans.
        plan.items.retain(|item| shard.contains(&item.key));
    }
    plan.other_shards = other_shards;
    let options = apply::Options {
        jobs: args.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
        }),
        only: args.only.clone(),
        force: args.force.clone(),
        prune: args.prune,
        shard: args.shard,
        max_submits: args.max_submits,
        decode: engine::DecodeLimits {
            max_pixels: args.max_pixels.unwrap_or(loaded.manifest.limits.max_pixels),
        },
        photoshop: loaded.manifest.photoshop.clone(),
        storage: loaded.manifest.storage.clone(),
    };
    let cards = report::cards::from_plan(&plan, &store.lock);
    let mut recording = report::cards::Recording::new(reporter, cards);
    let summary = apply::apply(plan, &mut store, &loaded.dir, &options, &mut recording)?;
    let cards = recording.finish();
    // Only a cache for a later `maskflow report`: not keeping it must not fail the run.
    let _ = report::cards::save_last_run(&loaded.dir, &cards, &store.lock);
    if let Some(path) = &args.report {
        write_report(path, &cards, &cli.manifest, reporter)?;
    }
    Ok(if summary.failed > 0 {
        CommandOutcome::Failed
    } else if summary.conflicts > 0 {
        // Done, but not converged: a person must choose between `adopt` and `--force`.
        CommandOutcome::Changes
    } else {
        CommandOutcome::Done
    })
}

fn adopt(
    cli: &Cli,
    args: &AdoptArgs,
    reporter: &mut dyn Reporter,
) -> Result<CommandOutcome, Error> {
    let (loaded, steps) = load(cli, reporter)?;
    let _exclusive = lock_manifest(&cli.manifest)?;
    let mut store = LockStore::open(&loaded.lock_path(), &loaded.dir)?;
    let plan = make_plan(steps, &store, &loaded.manifest.photoshop);
    let outcome = adopt::adopt(plan, &args.globs, &mut store, reporter)?;
    Ok(if outcome.failed > 0 {
        CommandOutcome::Failed
    } else {
        CommandOutcome::Done
    })
}

/// The report of the manifest as it is now: what the last `apply` did to each image that has
/// not changed since, and what is pending for the others.
fn report(
    cli: &Cli,
    args: &ReportArgs,
    reporter: &mut dyn Reporter,
) -> Result<CommandOutcome, Error> {
    let (loaded, steps) = load(cli, reporter)?;
    let store = LockStore::open(&loaded.lock_path(), &loaded.dir)?;
    let plan = make_plan(steps, &store, &loaded.manifest.photoshop);
    let mut cards = report::cards::from_plan(&plan, &store.lock);
    report::cards::recall_last_run(&loaded.dir, &mut cards, &plan, &store.lock);
    write_report(&args.output, &cards, &cli.manifest, reporter)?;
    Ok(CommandOutcome::Done)
}

fn write_report(
    path: &std::path::Path,
    cards: &[report::cards::Card],
    manifest: &std::path::Path,
    reporter: &mut dyn Reporter,
) -> Result<(), Error> {
    let generated = jiff::Timestamp::now()
        .strftime("%Y-%m-%d %H:%M UTC")
        .to_string();
    let html = report::html::render(cards, &manifest.display().to_string(), &generated);
    fsutil::write_atomic(path, html.as_bytes()).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    reporter.report(Event::ReportWritten {
        path,
        images: cards.len(),
    });
    Ok(())
}

/// Starts the emulator, reports where it listens and what it accepts, then serves until
/// the process is killed.
fn serve_emulator(
    args: &EmulateArgs,
    reporter: &mut dyn Reporter,
) -> Result<CommandOutcome, Error> {
    let defaults = emulate::Config::default();
    let config = emulate::Config {
        host: args.host.clone(),
        port: args.port,
        latency: args.latency,
        client_id: args.client_id.clone(),
        client_secret: args.client_secret.clone().unwrap_or(defaults.client_secret),
        token_lifetime: args.token_lifetime,
        submit_limit: args.submit_limit,
        submit_window: args.submit_window,
        status_limit: args.status_limit,
        status_window: args.status_window,
        status_prefix: args.status_prefix.clone(),
        retry_after: args.retry_after,
        error_rate: args.error_rate,
        error_routes: args.error_routes.clone(),
        fail_jobs: args.fail_jobs,
        fail_inputs_matching: args.fail_inputs_matching.clone(),
        retired: args.retired,
        errors_as: args.errors_as,
        job_id_field: args.job_id_field,
        seed: args.seed,
        workers: usize::from(args.workers),
        max_pixels: args.max_pixels,
        max_header_bytes: args.max_header_bytes,
        max_connections: usize::from(args.max_connections),
    };
    let running = emulate::start(config)?;
    let config = &running.state.config;
    reporter.report(Event::EmulatorListening {
        base_url: &running.base_url,
        client_id: &config.client_id,
        client_secret: &config.client_secret,
    });
    running.wait();
    Ok(CommandOutcome::Done)
}

fn merge_locks(
    cli: &Cli,
    parts: &[std::path::PathBuf],
    output: Option<&std::path::Path>,
    reporter: &mut dyn Reporter,
) -> Result<CommandOutcome, Error> {
    // Wherever the parts come from, their keys name files of this manifest's folder, so
    // that is where they are checked (a journal a killed shard left is folded in).
    let root = cli
        .manifest
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."));
    let parts = parts
        .iter()
        .map(|path| Ok((path.clone(), LockStore::open(path, root)?.lock)))
        .collect::<Result<Vec<_>, lock::LockError>>()?;
    let merged = lock::merge(&parts)?;
    let target = match output {
        Some(path) => path.to_owned(),
        None => manifest::lock_path_for(&cli.manifest),
    };
    let images = merged.images.len();
    LockStore::replacing(&target, merged).save()?;
    reporter.report(Event::Merged {
        path: &target,
        parts: parts.len(),
        images,
    });
    Ok(CommandOutcome::Done)
}

/// Holds an advisory lock on the manifest for as long as the returned file lives. The
/// manifest, unlike the lockfile, is never replaced, so its lock covers the whole run.
fn lock_manifest(path: &std::path::Path) -> Result<std::fs::File, Error> {
    let io_error = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Busy {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(io_error(source)),
    }
}

/// Asks the service about every job the lockfile records as in flight.
fn status(cli: &Cli, reporter: &mut dyn Reporter) -> Result<CommandOutcome, Error> {
    let (loaded, _) = load(cli, reporter)?;
    let store = LockStore::open(&loaded.lock_path(), &loaded.dir)?;
    let settings = &loaded.manifest.photoshop;
    let in_flight: Vec<(&String, &lock::LockEntry)> = store
        .lock
        .images
        .iter()
        .filter(|(_, e)| e.job.state == lock::JobState::Submitted)
        .collect();
    let client = if in_flight.is_empty() {
        None
    } else {
        let credentials = photoshop::Credentials::from_env(&settings.credentials, |name| {
            std::env::var(name).ok()
        })
        .map_err(engine::EngineError::from)?;
        Some(photoshop::Photoshop::new(settings, credentials))
    };
    let mut jobs = Vec::new();
    for (key, entry) in in_flight {
        let (state, detail) = match &client {
            Some(client) => match client.status(&entry.job.id, entry.job.href.as_deref()) {
                Ok(photoshop::JobStatus::Failed(failure)) => {
                    ("failed".to_owned(), Some(failure.to_string()))
                }
                Ok(status) => (status.name().to_owned(), None),
                Err(e) => ("unknown".to_owned(), Some(e.to_string())),
            },
            None => ("unknown".to_owned(), None),
        };
        jobs.push(report::JobState {
            key: key.clone(),
            job: entry.job.id.clone(),
            engine: entry.engine.get("name").cloned().unwrap_or_default(),
            submitted_at: entry.job.submitted_at.clone(),
            state,
            detail,
        });
        if let Some(client) = &client {
            for token in client.take_minted_tokens() {
                reporter.report(Event::SecretMinted(&token));
            }
        }
    }
    reporter.report(Event::Status(&jobs));
    Ok(CommandOutcome::Done)
}

/// Hashes inputs and existing outputs, then diffs against the lock. Remote inputs are
/// identified by their bytes, not their URL: downloaded and hashed, unless their ETag (or
/// Last-Modified) and size still match the lockfile's (see `observe`); masks in buckets
/// likewise by a HEAD. An input (or a bucket's answer about a mask) that cannot be read fails
/// its own image only: it is planned as unreadable, with why.
fn make_plan(steps: Vec<Step>, store: &LockStore, photoshop: &manifest::PhotoshopSettings) -> Plan {
    let client = crate::observe::client();
    let mut observed = Vec::with_capacity(steps.len());
    let mut unreadable = Vec::new();
    for (step, found) in crate::observe::steps(steps, &store.lock, &client) {
        match found {
            Ok((input, output)) => observed.push(observe(step, input, output, photoshop)),
            // The plan (and the lockfile) keep the text: the error as the user reads it.
            Err(error) => unreadable.push((step, error.to_string())),
        }
    }
    plan::diff_with_unreadable(observed, unreadable, &store.lock)
}

/// What planning found for one readable step, and what the manifest wants of it.
fn observe(
    step: Step,
    input: crate::lock::InputRecord,
    output: Option<(u64, String)>,
    photoshop: &manifest::PhotoshopSettings,
) -> (Step, Observation, Desired) {
    let settings = engine::settings_of(&step, photoshop);
    let engine = engine::identity_of(&step, photoshop);
    let desired = Desired {
        fingerprint: lock::fingerprint(&input.digest, &settings, &engine),
        settings,
        engine,
    };
    let observation = Observation { input, output };
    (step, observation, desired)
}

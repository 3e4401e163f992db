//! Diagnostics: `tracing` events on stderr, off unless asked for. `-v` shows what maskflow
//! does (info), `-vv` every HTTP exchange, wait and retry (debug), `-vvv` everything (trace);
//! `MASKFLOW_LOG` takes an `EnvFilter` directive instead (`maskflow::http=debug`), and
//! `RUNNER_DEBUG=1` (GitHub Actions' "re-run with debug logging") turns debug on.
//!
//! Every line passes through `redact::scrub` on its way out, whatever wrote it: registered
//! secrets, bearer tokens and URL queries never reach the log, even from a call site that
//! forgot them. Diagnostics go to stderr only; stdout stays the reporter's.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::redact;

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event.
    #[default]
    Text,
    /// One JSON object per line, with the spans (image, job) it happened in.
    Json,
}

/// The environment variable holding an `EnvFilter` directive.
pub const FILTER_VAR: &str = "MASKFLOW_LOG";

/// Installs the diagnostics subscriber for the process; `verbose` counts `-v` flags.
/// `env` reads the environment (a parameter so that tests need not set variables).
pub fn init(verbose: u8, format: LogFormat, env: impl Fn(&str) -> Option<String>) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let (filter, refused) = filter(verbose, &env);
    // Only maskflow's own events, whatever the directive (`MASKFLOW_LOG=trace` too): the HTTP
    // stack's crates (h2, hyper-util) emit `tracing` events that may quote what the scrubber
    // cannot know.
    let ours = tracing_subscriber::filter::filter_fn(|metadata| {
        metadata.target() == "maskflow" || metadata.target().starts_with("maskflow::")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Scrubbing)
        .with_ansi(false);
    // Another subscriber may already be set (a test calling `run` twice): keep it.
    let _ = match format {
        LogFormat::Text => builder.finish().with(ours).try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .finish()
            .with(ours)
            .try_init(),
    };
    if let Some((directive, why)) = refused {
        tracing::warn!("{FILTER_VAR}={directive:?} is not a filter ({why}); using -v/-vv instead");
    }
}

/// The filter the flags and the environment ask for, and a refused `MASKFLOW_LOG` with why.
fn filter(
    verbose: u8,
    env: &impl Fn(&str) -> Option<String>,
) -> (EnvFilter, Option<(String, String)>) {
    let runner_debug = env("RUNNER_DEBUG").is_some_and(|v| v.trim() == "1");
    let level = match (verbose, runner_debug) {
        (0, false) => "off",
        (0 | 1, true) | (2, _) => "debug",
        (1, false) => "info",
        _ => "trace",
    };
    // Only maskflow's own events: dependencies' logs may quote what the scrubber cannot know.
    let from_flags = || EnvFilter::new(format!("maskflow={level}"));
    match env(FILTER_VAR).filter(|v| !v.trim().is_empty()) {
        None => (from_flags(), None),
        Some(directive) => match EnvFilter::try_new(&directive) {
            Ok(filter) => (filter, None),
            Err(e) => {
                let fallback = if level == "off" { "warn" } else { level };
                (
                    EnvFilter::new(format!("maskflow={fallback}")),
                    Some((directive, e.to_string())),
                )
            }
        },
    }
}

/// Hands out one buffer per event; the event is scrubbed whole, then written at once.
struct Scrubbing;

impl<'a> MakeWriter<'a> for Scrubbing {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line(Vec::new())
    }
}

struct Line(Vec<u8>);

impl Write for Line {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let clean = redact::scrub(&String::from_utf8_lossy(&self.0));
        // Nowhere to report a failure to write diagnostics.
        let _ = std::io::stderr().lock().write_all(clean.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    fn shown(verbose: u8, pairs: &'static [(&'static str, &'static str)]) -> String {
        let (filter, refused) = filter(verbose, &env(pairs));
        assert!(refused.is_none());
        filter.to_string()
    }

    #[test]
    fn flags_runner_debug_and_the_variable_choose_the_filter() {
        assert_eq!(shown(0, &[]), "maskflow=off");
        assert_eq!(shown(1, &[]), "maskflow=info");
        assert_eq!(shown(2, &[]), "maskflow=debug");
        assert_eq!(shown(3, &[]), "maskflow=trace");
        assert_eq!(shown(0, &[("RUNNER_DEBUG", "1")]), "maskflow=debug");
        assert_eq!(shown(3, &[("RUNNER_DEBUG", "1")]), "maskflow=trace");
        assert_eq!(shown(0, &[("RUNNER_DEBUG", "0")]), "maskflow=off");
        assert_eq!(
            shown(1, &[("MASKFLOW_LOG", "maskflow::http=debug")]),
            "maskflow::http=debug"
        );
        assert_eq!(shown(2, &[("MASKFLOW_LOG", " ")]), "maskflow=debug");
        let (filter, refused) = filter(0, &env(&[("MASKFLOW_LOG", "maskflow=loud")]));
        assert_eq!(filter.to_string(), "maskflow=warn");
        assert_eq!(refused.unwrap().0, "maskflow=loud");
    }
}

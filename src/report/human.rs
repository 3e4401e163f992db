//! Text for people. The plan is a command's result, so it goes to stdout (as Terraform's:
//! `maskflow plan > plan.txt` keeps it); diagnostics with source snippets and progress (a
//! bar on a terminal, a line per finished image elsewhere) go to stderr.

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use super::escape::{self, text as esc};
use super::{Event, Reporter, conflict_text, kept_text, resolve_hint};
use crate::manifest::{Diagnostic, ManifestError, RetouchPolicy, Source};
use crate::plan::{Action, Plan};

pub struct Human {
    bar: Option<ProgressBar>,
    terminal: bool,
    /// The manifest, for `file:line:col` in failure lines.
    manifest: Option<std::path::PathBuf>,
}

impl Human {
    pub fn new() -> Self {
        Self {
            bar: None,
            terminal: std::io::stderr().is_terminal(),
            manifest: None,
        }
    }

    /// Names the manifest in failure lines, as `maskflow.yaml:5:5`.
    pub fn with_manifest(mut self, manifest: &std::path::Path) -> Self {
        self.manifest = Some(manifest.to_owned());
        self
    }

    fn line(&self, text: &str) {
        // Values were escaped where they were put in; this catches anything missed.
        let text = escape::lines(text);
        let text = text.as_ref();
        match &self.bar {
            Some(bar) => bar.println(text),
            None => {
                let _ = writeln!(std::io::stderr(), "{text}");
            }
        }
    }
}

impl Default for Human {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Human {
    fn report(&mut self, event: Event<'_>) {
        match event {
            Event::Invalid(error) => self.line(&render_invalid(error)),
            Event::Failure(error) => {
                let mut text = format!("error: {}", esc(&error.to_string()));
                if let Some(hint) = error.hint() {
                    text.push_str(&format!("\n  = hint: {}", esc(&hint)));
                }
                self.line(&text);
            }
            Event::Skipped { skipped, at } => {
                let message = super::skipped_message(skipped);
                let text = match at {
                    Some((source, pos)) => render_located(
                        "warning",
                        source,
                        &Diagnostic {
                            pos,
                            len: 1,
                            message,
                            hint: Some(super::SKIPPED_HINT.to_owned()),
                        },
                    ),
                    None => format!("warning: {message}\n  = hint: {}", super::SKIPPED_HINT),
                };
                self.line(&text);
            }
            Event::Valid { manifest, images } => self.line(&format!(
                "{} is valid: {images} image{}",
                escape::path(manifest),
                plural(images)
            )),
            Event::Plan(plan) => {
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    render_plan(plan, self.manifest.as_deref())
                );
            }
            Event::ApplyStarted {
                to_run,
                submit_share,
            } => {
                if let Some(share) = submit_share {
                    self.line(&share.describe());
                }
                // Diagnostics (-v) write lines on stderr, which a redrawn bar would tear.
                let diagnostics = tracing::level_filters::LevelFilter::current()
                    != tracing::level_filters::LevelFilter::OFF;
                if self.terminal && to_run > 0 && !diagnostics {
                    let bar = ProgressBar::new(to_run as u64);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}",
                        )
                        .expect("valid template"),
                    );
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    self.bar = Some(bar);
                }
            }
            Event::Started { key } => {
                if let Some(bar) = &self.bar {
                    bar.set_message(esc(key).into_owned());
                }
            }
            Event::Finished {
                step,
                action,
                output,
            } => {
                let verb = match action {
                    Action::Create => "created",
                    _ => "updated",
                };
                self.line(&format!(
                    "  {verb} {} from {} ({}x{})",
                    esc(&step.key),
                    esc(&step.input_source),
                    output.width,
                    output.height
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::Failed { step, error } => {
                let at = located(
                    self.manifest.as_deref(),
                    step.origin.line,
                    step.origin.column,
                );
                self.line(&format!(
                    "  failed {} from {}{at}: {}",
                    esc(&step.key),
                    esc(&step.input_source),
                    esc(error)
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::Submitted { key, job } => {
                self.line(&format!("  submitted {}: job {}", esc(key), esc(job)))
            }
            Event::Uploaded { key, object } => {
                self.line(&format!("  staged {} as {}", esc(key), esc(object)))
            }
            // Never shown: only CI renderers do something with it (masking).
            Event::SecretMinted(_) => {}
            Event::Status(jobs) => self.line(&render_status(jobs)),
            Event::Removed { key, deleted, kept } => {
                let what = match (deleted, kept) {
                    (Some(path), _) => {
                        format!("removed from the lockfile and deleted {}", path.display())
                    }
                    (None, Some(why)) => format!(
                        "removed from the lockfile; its file was kept: {}",
                        why.describe()
                    ),
                    (None, None) => {
                        "removed from the lockfile (the mask is kept; --prune deletes it)"
                            .to_owned()
                    }
                };
                self.line(&format!("  orphan {}: {what}", esc(key)));
            }
            Event::Kept {
                step,
                reasons,
                policy,
            } => {
                let verb = if policy == RetouchPolicy::Fail {
                    "failed"
                } else {
                    "kept"
                };
                self.line(&format!(
                    "  {verb} {}: {}; {}",
                    esc(&step.key),
                    kept_text(reasons, policy),
                    resolve_hint(&step.key)
                ));
            }
            Event::Conflict { step, reasons } => self.line(&format!(
                "  conflict {}: {}; {}",
                esc(&step.key),
                conflict_text(reasons),
                resolve_hint(&step.key)
            )),
            Event::Adopted { step, output } => self.line(&format!(
                "  adopted {} as the manual mask of {} ({}x{})",
                esc(&step.key),
                esc(&step.input_source),
                output.width,
                output.height
            )),
            Event::NotAdopted { step, error } => {
                self.line(&format!("  not adopted {}: {}", esc(&step.key), esc(error)));
            }
            Event::AdoptComplete {
                adopted,
                failed,
                unchanged,
            } => {
                let text = if adopted + failed + unchanged == 0 {
                    "Nothing to adopt: no mask was modified outside maskflow.".to_owned()
                } else {
                    format!(
                        "Adopt complete: {adopted} adopted, {unchanged} already manual, {failed} failed."
                    )
                };
                self.line(&text);
            }
            Event::Summary(summary) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                let mut extra = String::new();
                for (n, what) in [
                    (summary.skipped, "skipped"),
                    (summary.kept, "kept"),
                    (
                        summary.conflicts,
                        if summary.conflicts == 1 {
                            "conflict"
                        } else {
                            "conflicts"
                        },
                    ),
                ] {
                    if n > 0 {
                        extra.push_str(&format!(", {n} {what}"));
                    }
                }
                self.line(&format!(
                    "Apply complete: {} created, {} updated, {} unchanged, {} failed, {} removed{extra} in {:.1}s.",
                    summary.created,
                    summary.updated,
                    summary.unchanged,
                    summary.failed,
                    summary.removed,
                    summary.seconds
                ));
                if summary.conflicts > 0 {
                    self.line(
                        "Conflicts are left for you: `maskflow adopt GLOB` keeps a manual mask for \
                         its new input, `maskflow apply --force GLOB` remakes it (exit code 2).",
                    );
                }
                // What a paid engine cost, when one ran.
                let paid = [
                    (summary.uploaded, "uploaded"),
                    (summary.submitted, "submitted"),
                    (summary.resumed, "resumed"),
                    (summary.in_flight, "still in flight (the next apply resumes them)"),
                ];
                let paid: Vec<String> = paid
                    .iter()
                    .filter(|(n, _)| *n > 0)
                    .map(|(n, what)| format!("{n} {what}"))
                    .collect();
                if !paid.is_empty() {
                    self.line(&format!("Jobs: {}.", paid.join(", ")));
                }
            }
            Event::Merged {
                path,
                parts,
                images,
            } => self.line(&format!(
                "merged {parts} lockfile{} into {} ({images} image{})",
                plural(parts),
                escape::path(path),
                plural(images)
            )),
            // The change shows in the visual report and the step summary.
            Event::Replaced { .. } => {}
            Event::ReportWritten { path, images } => self.line(&format!(
                "Report: {} ({images} image{}); open it in a browser.",
                path.display(),
                plural(images)
            )),
            Event::Wrote { path, images } => self.line(&format!(
                "wrote {} ({images} image{} found); next: maskflow plan --manifest {}",
                escape::path(path),
                plural(images),
                escape::path(path)
            )),
            Event::EmulatorListening {
                base_url,
                client_id,
                client_secret,
            } => self.line(&format!(
                "maskflow emulate: listening on {base_url} (IMS and API on one port; Ctrl-C stops)\n\
                 \x20 token:  POST {base_url}/ims/token/v3\n\
                 \x20 sensei: POST {base_url}/sensei/mask   v2: POST {base_url}/v2/remove-background\n\
                 \x20 stats:  GET  {base_url}/_emulator/stats\n\
                 Point a manifest at it (`photoshop: {{endpoint: {base_url}, ims: {base_url}}}`) and:\n\
                 \x20 export PHOTOSHOP_CLIENT_ID={client_id}\n\
                 \x20 export PHOTOSHOP_CLIENT_SECRET={client_secret}"
            )),
            Event::Document(text) => {
                let _ = std::io::stdout().write_all(text.as_bytes());
            }
        }
    }
}

fn render_status(jobs: &[super::JobState]) -> String {
    if jobs.is_empty() {
        return "No jobs in flight.".to_owned();
    }
    let width = jobs.iter().map(|j| esc(&j.key).len()).max().unwrap_or(0);
    let mut out = format!("{} job{} in flight:\n", jobs.len(), plural(jobs.len()));
    for job in jobs {
        out.push_str(&format!(
            "  {:width$}  {:9}  job {} ({}, submitted {})",
            esc(&job.key),
            esc(&job.state),
            esc(&job.job),
            esc(&job.engine),
            esc(&job.submitted_at)
        ));
        if let Some(detail) = &job.detail {
            out.push_str(&format!(": {}", esc(detail)));
        }
        out.push('\n');
    }
    out.push_str(
        "Run `maskflow apply` to collect finished jobs; it polls them instead of submitting again.",
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn render_plan(plan: &Plan, manifest: Option<&std::path::Path>) -> String {
    let width = plan
        .items
        .iter()
        .map(|i| esc(&i.key).len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for item in &plan.items {
        let (symbol, detail) = match &item.action {
            Action::Create => ("+", "create".to_owned()),
            Action::Update { reasons } => (
                "~",
                format!(
                    "update: {}",
                    reasons
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            Action::Unchanged => (" ", "unchanged".to_owned()),
            Action::Orphaned => ("-", "orphaned: no longer in the manifest".to_owned()),
            Action::Kept { reasons, policy } => {
                ("!", format!("kept: {}", kept_text(reasons, *policy)))
            }
            Action::Conflict { reasons } => ("!", format!("conflict: {}", conflict_text(reasons))),
            Action::Unreadable { error } => {
                let (input, at) = match &item.step {
                    Some(step) => (
                        step.input_source.as_str(),
                        located(manifest, step.origin.line, step.origin.column),
                    ),
                    None => ("", String::new()),
                };
                ("!", format!("cannot read input {input}{at}: {error}"))
            }
        };
        let manual = if item.origin == Some(crate::lock::Origin::Manual)
            && item.action == Action::Unchanged
        {
            " (manual)"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {symbol} {:width$}  {}{manual}\n",
            esc(&item.key),
            esc(&detail)
        ));
    }
    let counts = plan.counts();
    if let Some(share) = &plan.submit_share {
        text.push_str(&share.describe());
        text.push('\n');
    }
    let mut held = String::new();
    if counts.kept > 0 {
        held.push_str(&format!(", {} kept", counts.kept));
    }
    if counts.conflict > 0 {
        held.push_str(&format!(
            ", {} conflict{}",
            counts.conflict,
            plural(counts.conflict)
        ));
    }
    if plan.has_changes() || plan.has_conflicts() {
        text.push_str(&format!(
            "Plan: {} to create, {} to update, {} unchanged, {} orphaned{held}.",
            counts.create, counts.update, counts.unchanged, counts.orphaned
        ));
    } else {
        text.push_str(&format!(
            "No changes: {} mask{} up to date{held}.",
            counts.unchanged,
            if counts.unchanged == 1 {
                " is"
            } else {
                "s are"
            }
        ));
    }
    if counts.kept + counts.conflict > 0 {
        text.push_str(
            "\n`!` masks were made or edited by hand and are left as they are: \
             `maskflow adopt GLOB` records them, `maskflow apply --force GLOB` remakes them.",
        );
    }
    if counts.unreadable > 0 {
        text.push_str(&format!(
            "\nError: {} input{} cannot be read; {} fail{} until {} readable.",
            counts.unreadable,
            plural(counts.unreadable),
            if counts.unreadable == 1 {
                "its image"
            } else {
                "their images"
            },
            if counts.unreadable == 1 { "s" } else { "" },
            if counts.unreadable == 1 {
                "it is"
            } else {
                "they are"
            },
        ));
    }
    text
}

/// ` (maskflow.yaml:5:5)`, or ` (manifest line 5)` when the manifest is not known.
fn located(manifest: Option<&std::path::Path>, line: usize, column: usize) -> String {
    match manifest {
        Some(manifest) => format!(" ({}:{line}:{column})", escape::path(manifest)),
        None => format!(" (manifest line {line})"),
    }
}

fn render_invalid(error: &ManifestError) -> String {
    match error {
        ManifestError::Invalid { file, diagnostics } => {
            let mut text = String::new();
            for diagnostic in diagnostics {
                text.push_str(&render_diagnostic(file, diagnostic));
                text.push('\n');
            }
            text.push_str(&format!("error: {}", esc(&error.to_string())));
            if let Some(hint) = error.hint() {
                text.push_str(&format!("\n  = hint: {}", esc(&hint)));
            }
            text
        }
        other => format!("error: {}", esc(&other.to_string())),
    }
}

/// rustc-style: message, `--> file:line:col`, the source line and a caret underline.
pub fn render_diagnostic(source: &Source, d: &Diagnostic) -> String {
    render_located("error", source, d)
}

/// How many characters of a source line a snippet shows at most: a manifest line can be
/// megabytes long (one-line JSON, a minified flow mapping), and the terminal needs only the
/// part around the problem.
const SNIPPET_CHARS: usize = 100;

/// The quoted source line, the spaces up to the 1-based `column`, and the carets under `len`
/// characters from it. A line longer than [`SNIPPET_CHARS`] is cut to a window around the
/// column, with `…` where it was cut. Each character is escaped on its own, so the carets still
/// point at the right place.
fn snippet(line: &str, column: usize, len: usize) -> (String, String, String) {
    let chars: Vec<char> = line.chars().collect();
    let at = column.saturating_sub(1).min(chars.len());
    let (start, end) = if chars.len() <= SNIPPET_CHARS {
        (0, chars.len())
    } else {
        // The problem a third of the way in: its start with some context before it, and as
        // much of it as fits after.
        let start = at
            .saturating_sub(SNIPPET_CHARS / 3)
            .min(chars.len() - SNIPPET_CHARS);
        (start, start + SNIPPET_CHARS)
    };
    let shown: Vec<String> = chars[start..end]
        .iter()
        .map(|c| esc(c.encode_utf8(&mut [0; 4])).into_owned())
        .collect();
    let cut_before = if start > 0 { "…" } else { "" };
    let cut_after = if end < chars.len() { "…" } else { "" };
    let quoted = format!("{cut_before}{}{cut_after}", shown.concat());
    let before = at - start;
    let prefix: String = " ".repeat(cut_before.chars().count())
        + &shown[..before]
            .iter()
            .map(|s| " ".repeat(s.chars().count()))
            .collect::<String>();
    let remaining = shown.len().saturating_sub(before);
    let carets = "^".repeat(len.min(remaining.max(1)).max(1));
    (quoted, prefix, carets)
}

/// [`render_diagnostic`] with another label (`warning`). The quoted source line is escaped
/// character by character, so the carets still point at the right place.
fn render_located(label: &str, source: &Source, d: &Diagnostic) -> String {
    let line_no = d.pos.line.to_string();
    let pad = " ".repeat(line_no.len());
    let (line, prefix, carets) = snippet(source.line_text(d.pos.line), d.pos.column, d.len);
    let mut text = format!(
        "{label}: {}\n{pad}--> {}:{}:{}\n{pad} |\n{line_no} | {line}\n{pad} | {prefix}{carets}",
        esc(&d.message),
        escape::path(&source.path),
        d.pos.line,
        d.pos.column
    );
    if let Some(hint) = &d.hint {
        text.push_str(&format!("\n{pad} = hint: {}", esc(hint)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Pos;

    #[test]
    fn a_short_line_is_quoted_whole_with_the_carets_under_the_column() {
        let (line, prefix, carets) = snippet("    ouptut: masks/cat.png", 5, 6);
        assert_eq!(line, "    ouptut: masks/cat.png");
        assert_eq!(prefix, "    ");
        assert_eq!(carets, "^^^^^^");
    }

    #[test]
    fn a_huge_line_is_cut_to_a_window_around_the_column() {
        let mut text = "a".repeat(100_000);
        text.push_str("ouptut");
        text.push_str(&"b".repeat(100_000));
        let source = Source {
            path: "maskflow.yaml".into(),
            text: text.into(),
        };
        let diagnostic = Diagnostic {
            pos: Pos {
                line: 1,
                column: 100_001,
                byte: 100_000,
            },
            len: 6,
            message: "unknown key `ouptut`".to_owned(),
            hint: None,
        };
        let rendered = render_diagnostic(&source, &diagnostic);
        let lines: Vec<&str> = rendered.lines().collect();
        let quoted = lines[3].strip_prefix("1 | ").unwrap();
        assert!(quoted.chars().count() <= SNIPPET_CHARS + 2, "{quoted}");
        assert!(quoted.starts_with('…') && quoted.ends_with('…'), "{quoted}");
        // The carets sit under the key, in the window.
        let underline = lines[4].strip_prefix("  | ").unwrap();
        let caret_at = underline.find('^').unwrap();
        let key_at: usize = quoted.find("ouptut").unwrap();
        assert_eq!(
            quoted[..key_at].chars().count(),
            underline[..caret_at].chars().count()
        );
        assert_eq!(underline.trim(), "^^^^^^");
        assert!(rendered.len() < 400, "{rendered}");
    }

    #[test]
    fn a_problem_at_either_end_of_a_huge_line_keeps_that_end() {
        let text = "x".repeat(5_000);
        let (line, prefix, carets) = snippet(&text, 1, 1);
        assert!(!line.starts_with('…') && line.ends_with('…'));
        assert_eq!((prefix.as_str(), carets.as_str()), ("", "^"));
        let (line, prefix, _) = snippet(&text, 5_000, 1);
        assert!(line.starts_with('…') && !line.ends_with('…'));
        assert_eq!(prefix.chars().count(), line.chars().count() - 1);
    }
}

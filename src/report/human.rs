//! Text for people, on stderr: diagnostics with source snippets, the plan, and progress (a
//! bar on a terminal, a line per finished image elsewhere).

use std::io::{IsTerminal, Write};

use indicatif::{ProgressBar, ProgressStyle};

use super::{Event, Reporter};
use crate::manifest::{Diagnostic, ManifestError, Source};
use crate::plan::{Action, Plan};

pub struct Human {
    bar: Option<ProgressBar>,
    terminal: bool,
}

impl Human {
    pub fn new() -> Self {
        Self {
            bar: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, text: &str) {
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
                let mut text = format!("error: {error}");
                if let Some(hint) = error.hint() {
                    text.push_str(&format!("\n  = hint: {hint}"));
                }
                self.line(&text);
            }
            Event::Valid { manifest, images } => self.line(&format!(
                "{} is valid: {images} image{}",
                manifest.display(),
                plural(images)
            )),
            Event::Plan(plan) => self.line(&render_plan(plan)),
            Event::ApplyStarted { to_run } => {
                if self.terminal && to_run > 0 {
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
                    bar.set_message(key.to_owned());
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
                    step.key, step.input_source, output.width, output.height
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::Failed { step, error } => {
                self.line(&format!(
                    "  failed {} from {}: {error}",
                    step.key, step.input_source
                ));
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                }
            }
            Event::Submitted { key, job } => self.line(&format!("  submitted {key}: job {job}")),
            Event::Uploaded { key, object } => self.line(&format!("  staged {key} as {object}")),
            // Never shown: only CI renderers do something with it (masking).
            Event::SecretMinted(_) => {}
            Event::Status(jobs) => self.line(&render_status(jobs)),
            Event::Removed {
                key,
                pruned,
                kept_modified,
            } => {
                let what = if pruned {
                    "removed from the lockfile and deleted".to_owned()
                } else if kept_modified {
                    "removed from the lockfile; the mask was modified since, so it was kept"
                        .to_owned()
                } else {
                    "removed from the lockfile (the mask is kept; --prune deletes it)".to_owned()
                };
                self.line(&format!("  orphan {key}: {what}"));
            }
            Event::Summary(summary) => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                self.line(&format!(
                    "Apply complete: {} created, {} updated, {} unchanged, {} failed, {} removed{} in {:.1}s.",
                    summary.created,
                    summary.updated,
                    summary.unchanged,
                    summary.failed,
                    summary.removed,
                    if summary.skipped > 0 { format!(", {} skipped", summary.skipped) } else { String::new() },
                    summary.seconds
                ));
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
                path.display(),
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
                path.display(),
                plural(images),
                path.display()
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
    let width = jobs.iter().map(|j| j.key.len()).max().unwrap_or(0);
    let mut out = format!("{} job{} in flight:\n", jobs.len(), plural(jobs.len()));
    for job in jobs {
        out.push_str(&format!(
            "  {:width$}  {:9}  job {} ({}, submitted {})",
            job.key, job.state, job.job, job.engine, job.submitted_at
        ));
        if let Some(detail) = &job.detail {
            out.push_str(&format!(": {detail}"));
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

fn render_plan(plan: &Plan) -> String {
    let width = plan.items.iter().map(|i| i.key.len()).max().unwrap_or(0);
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
        };
        text.push_str(&format!("  {symbol} {:width$}  {detail}\n", item.key));
    }
    let counts = plan.counts();
    if plan.has_changes() {
        text.push_str(&format!(
            "Plan: {} to create, {} to update, {} unchanged, {} orphaned.",
            counts.create, counts.update, counts.unchanged, counts.orphaned
        ));
    } else {
        text.push_str(&format!(
            "No changes: {} mask{} up to date.",
            counts.unchanged,
            if counts.unchanged == 1 {
                " is"
            } else {
                "s are"
            }
        ));
    }
    text
}

fn render_invalid(error: &ManifestError) -> String {
    match error {
        ManifestError::Invalid { file, diagnostics } => {
            let mut text = String::new();
            for diagnostic in diagnostics {
                text.push_str(&render_diagnostic(file, diagnostic));
                text.push('\n');
            }
            text.push_str(&format!("error: {error}"));
            if let Some(hint) = error.hint() {
                text.push_str(&format!("\n  = hint: {hint}"));
            }
            text
        }
        other => format!("error: {other}"),
    }
}

/// rustc-style: message, `--> file:line:col`, the source line and a caret underline.
pub fn render_diagnostic(source: &Source, d: &Diagnostic) -> String {
    let line_no = d.pos.line.to_string();
    let pad = " ".repeat(line_no.len());
    let line = source.line_text(d.pos.line);
    let prefix: String = line
        .chars()
        .take(d.pos.column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let remaining = line
        .chars()
        .count()
        .saturating_sub(d.pos.column.saturating_sub(1));
    let carets = "^".repeat(d.len.min(remaining.max(1)).max(1));
    let mut text = format!(
        "error: {}\n{pad}--> {}:{}:{}\n{pad} |\n{line_no} | {line}\n{pad} | {prefix}{carets}",
        d.message,
        source.path.display(),
        d.pos.line,
        d.pos.column
    );
    if let Some(hint) = &d.hint {
        text.push_str(&format!("\n{pad} = hint: {hint}"));
    }
    text
}

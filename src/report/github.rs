//! GitHub Actions: human logs plus annotations on manifest lines, grouped log sections, a
//! step summary and step outputs. Chosen when `GITHUB_ACTIONS=true`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Event, Human, Reporter, conflict_text, escape, kept_text, resolve_hint};
use crate::manifest::{ManifestError, RetouchPolicy, Step};
use crate::plan::Action;

/// GitHub shows at most 10 annotations of each level per step; the rest are summed up in
/// the last.
const MAX_ANNOTATIONS: usize = 10;
/// The step summary is limited to 1 MiB; stay well inside it.
const MAX_SUMMARY_BYTES: usize = 900 * 1024;
/// Rows of the summary's table: enough to review a pull request; the visual report and the
/// log have every image.
const MAX_SUMMARY_ROWS: usize = 250;

pub struct Github {
    human: Human,
    manifest: PathBuf,
    lock: PathBuf,
    annotations: Vec<(usize, usize, String)>,
    /// Masks left in place (kept retouches, conflicts): warnings, not errors.
    warnings: Vec<(usize, usize, String)>,
    /// Warning annotations written for skipped file names (GitHub shows 10 per step).
    skipped_warnings: usize,
    /// (key, what happened, why) for the step summary, failures first when written.
    rows: Vec<(String, &'static str, String)>,
    /// Share of each remade mask that changed, from `Replaced` (sent before `Finished`).
    changes: std::collections::HashMap<String, f64>,
    grouped: bool,
}

impl Github {
    pub fn new(manifest: &Path, lock: PathBuf) -> Self {
        Self {
            human: Human::new().with_manifest(manifest),
            manifest: manifest.to_owned(),
            lock,
            annotations: Vec::new(),
            warnings: Vec::new(),
            skipped_warnings: 0,
            rows: Vec::new(),
            changes: std::collections::HashMap::new(),
            grouped: false,
        }
    }

    fn command(&self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }

    fn flush_annotations(&mut self) {
        let errors = std::mem::take(&mut self.annotations);
        self.annotate("error", errors);
        let warnings = std::mem::take(&mut self.warnings);
        self.annotate("warning", warnings);
    }

    fn annotate(&self, level: &str, annotations: Vec<(usize, usize, String)>) {
        let file = escape_property(&self.manifest.display().to_string());
        let shown = if annotations.len() > MAX_ANNOTATIONS {
            MAX_ANNOTATIONS - 1
        } else {
            annotations.len()
        };
        for (line, column, message) in &annotations[..shown] {
            self.command(&format!(
                "::{level} file={file},line={line},col={column}::{}",
                escape_data(&escape::text(message))
            ));
        }
        if annotations.len() > shown {
            let (line, column, _) = &annotations[shown];
            let rest = annotations.len() - shown;
            self.command(&format!(
                "::{level} file={file},line={line},col={column}::{rest} more problems; see the log",
            ));
        }
    }

    /// A kept retouch or a conflict, on the manifest entry of its image: a warning, or an
    /// error when `retouched: fail` makes it one.
    fn held(&mut self, step: &Step, action: &Action) {
        let (what, text, failing) = match action {
            Action::Kept { reasons, policy } => (
                "kept",
                kept_text(reasons, *policy),
                *policy == RetouchPolicy::Fail,
            ),
            Action::Conflict { reasons } => ("conflict", conflict_text(reasons), false),
            _ => return,
        };
        let message = format!("{} {what}: {text}; {}", step.key, resolve_hint(&step.key));
        let annotation = (step.origin.line, step.origin.column, message);
        if failing {
            self.annotations.push(annotation);
        } else {
            self.warnings.push(annotation);
        }
    }

    fn end_group(&mut self) {
        if self.grouped {
            self.command("::endgroup::");
            self.grouped = false;
        }
    }
}

impl Reporter for Github {
    fn report(&mut self, event: Event<'_>) {
        match &event {
            Event::Invalid(ManifestError::Invalid { diagnostics, .. }) => {
                self.annotations.extend(
                    diagnostics
                        .iter()
                        .map(|d| (d.pos.line, d.pos.column, d.message.clone())),
                );
                self.flush_annotations();
                write_summary(&format!(
                    "## maskflow: {} has {} problem{}\n\nSee the annotations and the log.\n",
                    escape::markdown(&escape::path(&self.manifest)),
                    diagnostics.len(),
                    if diagnostics.len() == 1 { "" } else { "s" }
                ));
            }
            // GitHub shows 10 warnings per step; the human log below lists them all.
            Event::Skipped { skipped, at } if self.skipped_warnings < MAX_ANNOTATIONS => {
                self.skipped_warnings += 1;
                let message = escape_data(&escape::text(&super::skipped_message(skipped)));
                let place = match at {
                    Some((source, pos)) => format!(
                        " file={},line={},col={}",
                        escape_property(&escape::path(&source.path)),
                        pos.line,
                        pos.column
                    ),
                    None => String::new(),
                };
                self.command(&format!("::warning{place}::{message}"));
            }
            Event::Plan(plan) => {
                for item in &plan.items {
                    if let Some(step) = &item.step {
                        self.held(step, &item.action);
                    }
                }
                self.flush_annotations();
                let counts = plan.counts();
                for item in &plan.items {
                    if let (crate::plan::Action::Unreadable { error }, Some(step)) =
                        (&item.action, &item.step)
                    {
                        self.annotations.push((
                            step.origin.line,
                            step.origin.column,
                            format!(
                                "cannot read input {} of {}: {error}",
                                step.input_source, step.key
                            ),
                        ));
                    }
                }
                self.flush_annotations();
                write_outputs(&[
                    ("created", counts.create.to_string()),
                    ("updated", counts.update.to_string()),
                    ("unchanged", counts.unchanged.to_string()),
                    ("failed", counts.unreadable.to_string()),
                    ("lockfile", self.lock.display().to_string()),
                    ("changed", plan.has_changes().to_string()),
                ]);
            }
            Event::ApplyStarted { to_run, .. } if *to_run > 0 => {
                self.command(&format!("::group::maskflow: {to_run} image(s) to mask"));
                self.grouped = true;
            }
            Event::Finished { step, action, .. } => {
                let why = match action {
                    crate::plan::Action::Update { reasons } => reasons
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    _ => "new".to_owned(),
                };
                let why = match self.changes.remove(&step.key) {
                    Some(share) => format!("{why}; {:.1}% of the mask changed", share * 100.0),
                    None => why,
                };
                self.rows.push((step.key.clone(), action.name(), why));
            }
            Event::Replaced { key, changed, .. } => {
                self.changes.insert((*key).to_owned(), *changed);
            }
            Event::ReportWritten { path, images } => {
                write_outputs(&[("report", path.display().to_string())]);
                write_summary(&report_pointer(path, *images, |name| {
                    std::env::var(name).ok()
                }));
            }
            Event::Failed { step, error } => {
                self.annotations.push((
                    step.origin.line,
                    step.origin.column,
                    format!("{} from {} failed: {error}", step.key, step.input_source),
                ));
                self.rows
                    .push((step.key.clone(), "failed", (*error).to_owned()));
            }
            Event::Kept {
                step,
                reasons,
                policy,
            } => {
                let action = Action::Kept {
                    reasons: reasons.to_vec(),
                    policy: *policy,
                };
                self.held(step, &action);
                let what = if *policy == RetouchPolicy::Fail {
                    "failed"
                } else {
                    "kept"
                };
                self.rows
                    .push((step.key.clone(), what, kept_text(reasons, *policy)));
            }
            Event::Conflict { step, reasons } => {
                let action = Action::Conflict {
                    reasons: reasons.to_vec(),
                };
                self.held(step, &action);
                self.rows
                    .push((step.key.clone(), "conflict", conflict_text(reasons)));
            }
            // A command that failed as a whole: annotated on its file (and line) when it has one,
            // so that a broken lockfile shows on the pull request's diff.
            Event::Failure(error) => {
                let place = match error.span() {
                    Some(span) => {
                        let file = escape_property(&escape::path(span.file));
                        match span.position {
                            Some((line, column)) => {
                                format!(" file={file},line={line},col={column}")
                            }
                            None => format!(" file={file}"),
                        }
                    }
                    None => String::new(),
                };
                let message = crate::with_hint(error, error.hint());
                self.command(&format!(
                    "::error{place}::{}",
                    escape_data(&escape::text(&message))
                ));
            }
            // Before anything could print the token: GitHub masks it in the log from here on.
            Event::SecretMinted(token) => {
                self.command(&format!("::add-mask::{}", escape_data(token)));
            }
            // In Actions logs are shared: mask the secret before the human lines print it.
            // In CI, pass --client-secret explicitly to the emulator and its client.
            Event::EmulatorListening { client_secret, .. } => {
                self.command(&format!("::add-mask::{}", escape_data(client_secret)));
            }
            Event::Removed { key, deleted, .. } => {
                let what = if deleted.is_some() {
                    "removed and deleted"
                } else {
                    "removed"
                };
                self.rows
                    .push(((*key).to_owned(), "orphan", what.to_owned()));
            }
            _ => {}
        }
        let summary = match &event {
            Event::Summary(summary) => Some((*summary).clone()),
            _ => None,
        };
        self.human.report(event);
        if let Some(summary) = summary {
            self.end_group();
            self.flush_annotations();
            let changed = summary.created + summary.updated + summary.removed > 0;
            write_outputs(&[
                ("created", summary.created.to_string()),
                ("updated", summary.updated.to_string()),
                ("unchanged", summary.unchanged.to_string()),
                ("failed", summary.failed.to_string()),
                ("lockfile", self.lock.display().to_string()),
                ("changed", changed.to_string()),
            ]);
            write_summary(&step_summary(&summary, &mut self.rows));
        }
    }
}

fn step_summary(
    summary: &crate::summary::Summary,
    rows: &mut [(String, &'static str, String)],
) -> String {
    let mut held = String::new();
    if summary.kept > 0 {
        held.push_str(&format!(", {} kept", summary.kept));
    }
    if summary.conflicts > 0 {
        held.push_str(&format!(
            ", {} conflict{}",
            summary.conflicts,
            if summary.conflicts == 1 { "" } else { "s" }
        ));
    }
    let mut text = format!(
        "## maskflow: {} created, {} updated, {} unchanged, {} failed, {} removed{held}\n\n",
        summary.created, summary.updated, summary.unchanged, summary.failed, summary.removed
    );
    if rows.is_empty() {
        text.push_str("Every mask is up to date.\n");
        return text;
    }
    if summary.kept + summary.conflicts > 0 {
        text.push_str(
            "Masks made or edited by hand are left as they are: `maskflow adopt GLOB` \
             records them, `maskflow apply --force GLOB` remakes them.\n\n",
        );
    }
    // What needs a person first: failures, then conflicts, then kept retouches.
    let rank = |what: &str| match what {
        "failed" => 0,
        "conflict" => 1,
        "kept" => 2,
        _ => 3,
    };
    rows.sort_by_key(|(key, what, _)| (rank(what), key.clone()));
    text.push_str("| image | result | why |\n|---|---|---|\n");
    for (shown, (key, what, why)) in rows.iter().enumerate() {
        let row = format!(
            "| {} | {what} | {} |\n",
            escape::markdown_code(key),
            escape::markdown(why)
        );
        if shown == MAX_SUMMARY_ROWS || text.len() + row.len() > MAX_SUMMARY_BYTES {
            text.push_str(&format!(
                "\n… and {} more; see the log.\n",
                rows.len() - shown
            ));
            break;
        }
        text.push_str(&row);
    }
    text
}

/// The summary's line that sends reviewers to the visual report: the workflow uploads it as
/// an artifact, listed at the bottom of the run's summary page.
fn report_pointer(path: &Path, images: usize, env: impl Fn(&str) -> Option<String>) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let place = match (
        env("GITHUB_SERVER_URL"),
        env("GITHUB_REPOSITORY"),
        env("GITHUB_RUN_ID"),
    ) {
        (Some(server), Some(repository), Some(run)) => {
            format!("[this run's summary page]({server}/{repository}/actions/runs/{run}#artifacts)")
        }
        _ => "this run's summary page".to_owned(),
    };
    format!(
        "\n**Visual report:** `{}` ({images} image{}, each with its mask and cutout). \
         Download it under **Artifacts** on {place} (the workflow uploads it with \
         `actions/upload-artifact`), and open it in a browser.\n",
        name.replace('`', "'"),
        if images == 1 { "" } else { "s" }
    )
}

fn append_to(variable: &str, text: &str) {
    let Some(path) = std::env::var_os(variable) else {
        return;
    };
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
    {
        let _ = file.write_all(text.as_bytes());
    }
}

fn write_summary(markdown: &str) {
    append_to("GITHUB_STEP_SUMMARY", markdown);
}

fn write_outputs(pairs: &[(&str, String)]) {
    let text: String = pairs.iter().map(|(k, v)| output_line(k, v)).collect();
    append_to("GITHUB_OUTPUT", &text);
}

/// `name=value`, or for a value with a line break (a path can hold one) the heredoc form
/// with a delimiter that cannot occur in it, so a value never adds an output of its own.
fn output_line(name: &str, value: &str) -> String {
    if !value.contains(['\n', '\r']) {
        return format!("{name}={value}\n");
    }
    let mut delimiter = format!("ghadelimiter_{:016x}", fastrand::u64(..));
    while value.contains(&delimiter) {
        delimiter = format!("ghadelimiter_{:016x}", fastrand::u64(..));
    }
    format!("{name}<<{delimiter}\n{value}\n{delimiter}\n")
}

/// Workflow-command message escaping.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command property escaping (also `:` and `,`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_follow_the_workflow_command_rules() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(output_line("lockfile", "m.lock"), "lockfile=m.lock\n");
        let odd = output_line("lockfile", "a\nfailed=0");
        let lines: Vec<&str> = odd.lines().collect();
        assert_eq!(lines.len(), 4, "{odd}");
        assert!(lines[0].starts_with("lockfile<<ghadelimiter_"));
        assert_eq!(lines[0]["lockfile<<".len()..], *lines[3]);
    }

    #[test]
    fn summary_puts_failures_first_and_stays_bounded() {
        let summary = crate::summary::Summary {
            created: 2,
            failed: 1,
            ..Default::default()
        };
        let mut rows = vec![
            ("masks/a.png".to_owned(), "create", "new".to_owned()),
            (
                "masks/b.png".to_owned(),
                "failed",
                "cannot decode | bad".to_owned(),
            ),
        ];
        let text = step_summary(&summary, &mut rows);
        let failed = text.find("masks/b.png").unwrap();
        assert!(failed < text.find("masks/a.png").unwrap());
        assert!(text.contains("cannot decode \\| bad"));
        let mut hostile = vec![(
            "masks/a\n|<b>`.png".to_owned(),
            "failed",
            "no\r\n| <img src=x>".to_owned(),
        )];
        let text = step_summary(&summary, &mut hostile);
        let row = text.lines().find(|l| l.contains("masks/a")).unwrap();
        assert_eq!(
            row,
            "| ``masks/a\\n\\|<b>`.png`` | failed | no\\\\r\\\\n\\| \\<img src=x\\> |"
        );
        let mut many: Vec<_> = (0..50_000)
            .map(|i| {
                (
                    format!("masks/{i:06}-with-a-long-name-to-fill-the-summary.png"),
                    "create",
                    "new".to_owned(),
                )
            })
            .collect();
        let text = step_summary(&summary, &mut many);
        assert!(text.len() <= MAX_SUMMARY_BYTES + 100);
        assert_eq!(text.matches("\n| `masks/").count(), MAX_SUMMARY_ROWS);
        assert!(text.contains(&format!(
            "and {} more; see the log",
            50_000 - MAX_SUMMARY_ROWS
        )));
        // Long rows meet the byte bound before the row bound.
        let mut long: Vec<_> = (0..MAX_SUMMARY_ROWS)
            .map(|i| (format!("masks/{i}.png"), "failed", "x".repeat(8 * 1024)))
            .collect();
        let text = step_summary(&summary, &mut long);
        assert!(text.len() <= MAX_SUMMARY_BYTES);
        assert!(text.contains("more; see the log"));
    }

    #[test]
    fn the_report_pointer_links_the_run_artifacts_when_it_can() {
        let env = |name: &str| {
            Some(
                match name {
                    "GITHUB_SERVER_URL" => "https://github.com",
                    "GITHUB_REPOSITORY" => "o/r",
                    _ => "42",
                }
                .to_owned(),
            )
        };
        let line = report_pointer(Path::new("out/maskflow-report.html"), 6, env);
        assert!(
            line.contains("`maskflow-report.html` (6 images, each"),
            "{line}"
        );
        assert!(
            line.contains("(https://github.com/o/r/actions/runs/42#artifacts)"),
            "{line}"
        );
        let line = report_pointer(Path::new("r.html"), 1, |_| None);
        assert!(line.contains("on this run's summary page"), "{line}");
    }
}

//! JSON for machines, on stdout.

use std::io::Write;

use serde_json::{Value, json};

use super::events::{ErrorEvent, JsonEvent, ManifestDiagnostic, Warning};
use super::{Event, Reporter, escape};
use crate::manifest::{ManifestError, Step};
use crate::plan::Plan;

pub struct Json {
    out: std::io::Stdout,
    /// Warnings not yet printed: they join the next document (`plan`, `validate`), or go
    /// before the next event as their own lines.
    warnings: Vec<Warning>,
}

impl Json {
    pub fn new() -> Self {
        Self {
            out: std::io::stdout(),
            warnings: Vec::new(),
        }
    }

    fn emit(&mut self, line: String) {
        let mut out = self.out.lock();
        // A closed pipe (e.g. `| head`) is the reader's choice, not our failure.
        let _ = writeln!(out, "{}", escape::json(&line));
        let _ = out.flush();
    }

    fn emit_event(&mut self, event: &JsonEvent) {
        match serde_json::to_string(event) {
            Ok(line) => self.emit(line),
            // Plain data with string keys always serializes; were it not to, the event is
            // lost rather than the run.
            Err(error) => tracing::error!(%error, "an event did not serialize"),
        }
    }
}

impl Default for Json {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Json {
    fn report(&mut self, event: Event<'_>) {
        let key = |step: &Step| step.key.clone();
        let input = |step: &Step| step.input_source.clone();
        let event = match event {
            Event::Skipped { skipped, at } => {
                // Warnings wait: they join the next document, or precede the next event.
                self.warnings.push(Warning {
                    message: super::skipped_message(skipped),
                    path: escape::path(&skipped.path),
                    hint: super::SKIPPED_HINT.to_owned(),
                    line: at.map(|(_, pos)| pos.line),
                    column: at.map(|(_, pos)| pos.column),
                });
                return;
            }
            Event::Plan(plan) => {
                let mut document = plan_document(plan);
                let warnings = std::mem::take(&mut self.warnings);
                if !warnings.is_empty() {
                    document["warnings"] = json!(warnings);
                }
                self.emit(document.to_string());
                return;
            }
            Event::Document(text) => {
                let mut out = self.out.lock();
                let _ = out.write_all(text.as_bytes());
                return;
            }
            Event::SecretMinted(_) => return,
            Event::Invalid(error) => match error {
                ManifestError::Invalid { file, diagnostics } => JsonEvent::Invalid {
                    manifest: file.path.display().to_string(),
                    diagnostics: diagnostics
                        .iter()
                        .map(|d| ManifestDiagnostic {
                            line: d.pos.line,
                            column: d.pos.column,
                            message: d.message.clone(),
                            hint: d.hint.clone(),
                        })
                        .collect(),
                    // Inside a document they are data, not events.
                    warnings: std::mem::take(&mut self.warnings),
                },
                other => JsonEvent::Error(ErrorEvent {
                    message: other.to_string(),
                    hint: other.hint(),
                    file: None,
                    line: None,
                    column: None,
                    image: None,
                }),
            },
            Event::Valid { manifest, images } => JsonEvent::Valid {
                manifest: manifest.display().to_string(),
                images,
                warnings: std::mem::take(&mut self.warnings),
            },
            Event::Failure(error) => JsonEvent::Error(error_event(error)),
            Event::ApplyStarted {
                to_run,
                submit_share,
            } => JsonEvent::ApplyStarted {
                to_run,
                submit_share: submit_share.cloned(),
            },
            Event::Started { key } => JsonEvent::Started {
                key: key.to_owned(),
            },
            Event::Finished {
                step,
                action,
                output,
            } => JsonEvent::Finished {
                key: key(step),
                input: input(step),
                action: action.clone(),
                output: output.clone(),
            },
            Event::Failed { step, error } => JsonEvent::Failed {
                key: key(step),
                input: input(step),
                error: error.to_owned(),
                line: step.origin.line,
                column: step.origin.column,
            },
            Event::Replaced { key, changed, .. } => JsonEvent::Replaced {
                key: key.to_owned(),
                changed,
            },
            Event::ReportWritten { path, images } => JsonEvent::Report {
                path: path.display().to_string(),
                images,
            },
            Event::Submitted { key, job } => JsonEvent::Submitted {
                key: key.to_owned(),
                job: job.to_owned(),
            },
            Event::Uploaded { key, object } => JsonEvent::Uploaded {
                key: key.to_owned(),
                object: object.to_owned(),
            },
            Event::Status(jobs) => JsonEvent::Status {
                in_flight: jobs.to_vec(),
            },
            Event::Removed { key, deleted, kept } => JsonEvent::Removed {
                key: key.to_owned(),
                pruned: deleted.is_some(),
                deleted: deleted.map(|path| path.to_string_lossy().into_owned()),
                kept,
                kept_modified: kept == Some(crate::summary::Kept::Modified),
            },
            Event::Kept {
                step,
                reasons,
                policy,
            } => JsonEvent::Kept {
                key: key(step),
                input: input(step),
                reasons: reasons.to_vec(),
                policy,
                line: step.origin.line,
                column: step.origin.column,
            },
            Event::Conflict { step, reasons } => JsonEvent::Conflict {
                key: key(step),
                input: input(step),
                reasons: reasons.to_vec(),
                line: step.origin.line,
                column: step.origin.column,
            },
            Event::Adopted { step, output } => JsonEvent::Adopted {
                key: key(step),
                input: input(step),
                output: output.clone(),
            },
            Event::NotAdopted { step, error } => JsonEvent::NotAdopted {
                key: key(step),
                input: input(step),
                error: error.to_owned(),
                line: step.origin.line,
                column: step.origin.column,
            },
            Event::AdoptComplete {
                adopted,
                failed,
                unchanged,
            } => JsonEvent::AdoptSummary {
                adopted,
                failed,
                unchanged,
            },
            Event::Summary(summary) => JsonEvent::Summary(summary.clone()),
            Event::Merged {
                path,
                parts,
                images,
            } => JsonEvent::Merged {
                path: path.display().to_string(),
                parts,
                images,
            },
            Event::Wrote { path, images } => JsonEvent::Wrote {
                path: path.display().to_string(),
                images,
            },
            Event::EmulatorListening {
                base_url,
                client_id,
                client_secret,
            } => JsonEvent::EmulatorListening {
                base_url: base_url.to_owned(),
                client_id: client_id.to_owned(),
                client_secret: client_secret.to_owned(),
                api_key: client_id.to_owned(),
            },
        };
        for warning in std::mem::take(&mut self.warnings) {
            self.emit_event(&JsonEvent::Warning(warning));
        }
        self.emit_event(&event);
    }
}

fn error_event(error: &crate::Error) -> ErrorEvent {
    let span = error.span();
    let position = span.and_then(|span| span.position);
    ErrorEvent {
        message: error.to_string(),
        hint: error.hint(),
        file: span.map(|span| span.file.display().to_string()),
        line: position.map(|(line, _)| line),
        column: position.map(|(_, column)| column),
        image: error.image().map(str::to_owned),
    }
}

fn plan_document(plan: &Plan) -> Value {
    let changes: Vec<Value> = plan
        .items
        .iter()
        .map(|item| {
            let mut value = serde_json::to_value(&item.action).expect("actions serialize");
            value["key"] = json!(item.key);
            if let Some(step) = &item.step {
                value["input"] = json!(step.input_source);
                value["mask"] = json!(step.mask.as_str());
                value["engine"] = json!(step.engine.as_str());
                if matches!(item.action, crate::plan::Action::Unreadable { .. }) {
                    value["line"] = json!(step.origin.line);
                    value["column"] = json!(step.origin.column);
                }
            }
            if let Some(origin) = item.origin {
                value["origin"] = json!(origin.as_str());
            }
            value
        })
        .collect();
    let mut document = json!({
        "version": 1,
        "changes": changes,
        "counts": plan.counts(),
        "has_changes": plan.has_changes(),
    });
    if let Some(share) = &plan.submit_share {
        document["submit_share"] = json!(share);
    }
    document
}

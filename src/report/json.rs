//! JSON for machines, on stdout.

use std::io::Write;

use serde_json::{Value, json};

use super::{Event, Reporter, escape};
use crate::manifest::ManifestError;
use crate::plan::Plan;

pub struct Json {
    out: std::io::Stdout,
    /// Warnings not yet printed: they join the next document (`plan`, `validate`), or go
    /// before the next event as their own lines.
    warnings: Vec<Value>,
}

impl Json {
    pub fn new() -> Self {
        Self {
            out: std::io::stdout(),
            warnings: Vec::new(),
        }
    }

    fn emit(&mut self, value: Value) {
        let mut out = self.out.lock();
        // A closed pipe (e.g. `| head`) is the reader's choice, not our failure.
        let _ = writeln!(out, "{}", escape::json(&value.to_string()));
        let _ = out.flush();
    }
}

impl Default for Json {
    fn default() -> Self {
        Self::new()
    }
}

impl Reporter for Json {
    fn report(&mut self, event: Event<'_>) {
        let one_document = matches!(
            event,
            Event::Plan(_) | Event::Valid { .. } | Event::Invalid(_)
        );
        let mut value = match event {
            Event::Skipped { skipped, at } => {
                let mut warning = json!({
                    "event": "warning",
                    "message": super::skipped_message(skipped),
                    "path": escape::path(&skipped.path),
                    "hint": super::SKIPPED_HINT,
                });
                if let Some((_, pos)) = at {
                    warning["line"] = json!(pos.line);
                    warning["column"] = json!(pos.column);
                }
                self.warnings.push(warning);
                return;
            }
            Event::Invalid(error) => invalid(error),
            Event::Failure(error) => json!({
                "event": "error",
                "message": error.to_string(),
                "hint": error.hint(),
            }),
            Event::Valid { manifest, images } => json!({
                "event": "valid",
                "manifest": manifest.display().to_string(),
                "images": images,
            }),
            Event::Plan(plan) => plan_document(plan),
            Event::ApplyStarted {
                to_run,
                submit_share,
            } => {
                let mut value = json!({"event": "apply_started", "to_run": to_run});
                if let Some(share) = submit_share {
                    value["submit_share"] = json!(share);
                }
                value
            }
            Event::Started { key } => json!({"event": "started", "key": key}),
            Event::Finished {
                step,
                action,
                output,
            } => json!({
                "event": "finished",
                "key": step.key,
                "input": step.input_source,
                "action": action,
                "output": output,
            }),
            Event::Failed { step, error } => json!({
                "event": "failed",
                "key": step.key,
                "input": step.input_source,
                "error": error,
                "line": step.origin.line,
                "column": step.origin.column,
            }),
            Event::Replaced { key, changed, .. } => {
                json!({"event": "replaced", "key": key, "changed": changed})
            }
            Event::ReportWritten { path, images } => json!({
                "event": "report",
                "path": path.display().to_string(),
                "images": images,
            }),
            Event::Submitted { key, job } => json!({"event": "submitted", "key": key, "job": job}),
            Event::SecretMinted(_) => return,
            Event::Uploaded { key, object } => {
                json!({"event": "uploaded", "key": key, "object": object})
            }
            Event::Status(jobs) => json!({"event": "status", "in_flight": jobs}),
            Event::Removed { key, deleted, kept } => json!({
                "event": "removed",
                "key": key,
                "pruned": deleted.is_some(),
                "deleted": deleted.map(|path| path.to_string_lossy()),
                "kept": kept,
                "kept_modified": kept == Some(crate::summary::Kept::Modified),
            }),
            Event::Kept {
                step,
                reasons,
                policy,
            } => json!({
                "event": "kept",
                "key": step.key,
                "input": step.input_source,
                "reasons": reasons,
                "policy": policy,
                "line": step.origin.line,
                "column": step.origin.column,
            }),
            Event::Conflict { step, reasons } => json!({
                "event": "conflict",
                "key": step.key,
                "input": step.input_source,
                "reasons": reasons,
                "line": step.origin.line,
                "column": step.origin.column,
            }),
            Event::Adopted { step, output } => json!({
                "event": "adopted",
                "key": step.key,
                "input": step.input_source,
                "output": output,
            }),
            Event::NotAdopted { step, error } => json!({
                "event": "not_adopted",
                "key": step.key,
                "input": step.input_source,
                "error": error,
                "line": step.origin.line,
                "column": step.origin.column,
            }),
            Event::AdoptComplete {
                adopted,
                failed,
                unchanged,
            } => json!({
                "event": "adopt_summary",
                "adopted": adopted,
                "failed": failed,
                "unchanged": unchanged,
            }),
            Event::Summary(summary) => {
                let mut value = serde_json::to_value(summary).expect("summary serializes");
                value["event"] = json!("summary");
                value
            }
            Event::Merged {
                path,
                parts,
                images,
            } => json!({
                "event": "merged",
                "path": path.display().to_string(),
                "parts": parts,
                "images": images,
            }),
            Event::Wrote { path, images } => json!({
                "event": "wrote",
                "path": path.display().to_string(),
                "images": images,
            }),
            // Exactly these keys: tests and other tools parse this line to find the server.
            Event::EmulatorListening {
                base_url,
                client_id,
                client_secret,
            } => json!({
                "event": "emulator_listening",
                "base_url": base_url,
                "client_id": client_id,
                "client_secret": client_secret,
                "api_key": client_id,
            }),
            Event::Document(text) => {
                let mut out = self.out.lock();
                let _ = out.write_all(text.as_bytes());
                return;
            }
        };
        let warnings = std::mem::take(&mut self.warnings);
        if one_document {
            if !warnings.is_empty() {
                // Inside a document they are data, not events.
                let warnings = warnings
                    .into_iter()
                    .map(|mut w| {
                        if let Some(fields) = w.as_object_mut() {
                            fields.remove("event");
                        }
                        w
                    })
                    .collect();
                value["warnings"] = Value::Array(warnings);
            }
        } else {
            for warning in warnings {
                self.emit(warning);
            }
        }
        self.emit(value);
    }
}

fn invalid(error: &ManifestError) -> Value {
    match error {
        ManifestError::Invalid { file, diagnostics } => json!({
            "event": "invalid",
            "manifest": file.path.display().to_string(),
            "diagnostics": diagnostics.iter().map(|d| json!({
                "line": d.pos.line,
                "column": d.pos.column,
                "message": d.message,
                "hint": d.hint,
            })).collect::<Vec<_>>(),
        }),
        other => json!({"event": "error", "message": other.to_string(), "hint": other.hint()}),
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

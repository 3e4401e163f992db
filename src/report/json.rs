//! JSON for machines, on stdout.

use std::io::Write;

use serde_json::{Value, json};

use super::{Event, Reporter};
use crate::manifest::ManifestError;
use crate::plan::Plan;

pub struct Json {
    out: std::io::Stdout,
}

impl Json {
    pub fn new() -> Self {
        Self {
            out: std::io::stdout(),
        }
    }

    fn emit(&mut self, value: Value) {
        let mut out = self.out.lock();
        // A closed pipe (e.g. `| head`) is the reader's choice, not our failure.
        let _ = writeln!(out, "{value}");
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
        let value = match event {
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
            Event::ApplyStarted { to_run } => json!({"event": "apply_started", "to_run": to_run}),
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
            Event::Removed {
                key,
                pruned,
                kept_modified,
            } => json!({
                "event": "removed",
                "key": key,
                "pruned": pruned,
                "kept_modified": kept_modified,
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
            }
            value
        })
        .collect();
    json!({
        "version": 1,
        "changes": changes,
        "counts": plan.counts(),
        "has_changes": plan.has_changes(),
    })
}

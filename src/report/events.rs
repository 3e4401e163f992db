//! What `--format json` prints, as types: the JSON renderer serializes these, the end-to-end
//! tests deserialize them, and `maskflow schema --events` prints their JSON Schema
//! (committed as `schemas/maskflow.events.schema.json`). A field changes here or nowhere.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::JobState;
use crate::lock::OutputRecord;
use crate::manifest::RetouchPolicy;
use crate::plan::{Action, Reason};
use crate::shard::share::SubmitShare;
use crate::summary::{Kept, Summary};

/// One line of `maskflow apply --format json` (and of `adopt`, `status`, `lock merge`, `init`,
/// `report`, `emulate`), or the one document of `validate --format json`. Every line is an
/// object whose `event` names its kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case", deny_unknown_fields)]
#[schemars(title = "maskflow --format json events")]
pub enum JsonEvent {
    /// A file or folder a glob left out because its name is not UTF-8.
    Warning(Warning),
    /// `validate` (or any command) found the manifest broken: every problem at once.
    Invalid {
        manifest: String,
        diagnostics: Vec<ManifestDiagnostic>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<Warning>,
    },
    /// The command failed as a whole (not one image of it); the exit code is 1.
    Error(ErrorEvent),
    /// `validate`: the manifest is valid and names this many images.
    Valid {
        manifest: String,
        images: usize,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<Warning>,
    },
    /// `apply` is about to run this many images.
    ApplyStarted {
        to_run: usize,
        /// With `--shard` and paid jobs to submit: the submission quota this shard keeps to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        submit_share: Option<SubmitShare>,
    },
    /// An image's engine started.
    Started { key: String },
    /// An image's mask was written and recorded.
    Finished {
        key: String,
        input: String,
        /// What the plan said to do, with why.
        action: Action,
        output: OutputRecord,
    },
    /// An image failed on its own; the others carry on.
    Failed {
        key: String,
        input: String,
        /// Why, with the hint in parentheses when there is one.
        error: String,
        /// The manifest entry of the image.
        line: usize,
        column: usize,
    },
    /// A remade mask: the share (0 to 1) of its pixels that changed.
    Replaced { key: String, changed: f64 },
    /// `--report`: the visual report was written.
    Report { path: String, images: usize },
    /// A paid job was submitted and recorded in the lockfile.
    Submitted { key: String, job: String },
    /// A local input was uploaded to the staging bucket, as this object.
    Uploaded { key: String, object: String },
    /// `maskflow status`: the jobs recorded as in flight.
    Status { in_flight: Vec<JobState> },
    /// An orphaned entry left the lockfile.
    Removed {
        key: String,
        /// Whether `--prune` deleted its mask.
        pruned: bool,
        /// The file deleted.
        deleted: Option<String>,
        /// Why `--prune` left the file there.
        kept: Option<Kept>,
        /// `kept` is `modified`: the user's work since maskflow wrote it.
        kept_modified: bool,
    },
    /// A mask modified outside maskflow, left in place.
    Kept {
        key: String,
        input: String,
        reasons: Vec<Reason>,
        policy: RetouchPolicy,
        line: usize,
        column: usize,
    },
    /// A manual mask whose input or settings changed, left for the user to decide.
    Conflict {
        key: String,
        input: String,
        reasons: Vec<Reason>,
        line: usize,
        column: usize,
    },
    /// `adopt` recorded the file on disk as the image's mask.
    Adopted {
        key: String,
        input: String,
        output: OutputRecord,
    },
    /// `adopt` could not record this image's mask.
    NotAdopted {
        key: String,
        input: String,
        error: String,
        line: usize,
        column: usize,
    },
    /// `adopt` is done.
    AdoptSummary {
        adopted: usize,
        failed: usize,
        /// Selected masks already recorded as manual, with the same input and file.
        unchanged: usize,
    },
    /// The last line of `apply`: what the run did.
    Summary(Summary),
    /// `lock merge` wrote the combined lockfile.
    Merged {
        path: String,
        parts: usize,
        images: usize,
    },
    /// `init` wrote a file.
    Wrote { path: String, images: usize },
    /// `maskflow emulate` is serving, and accepts these credentials. Tests and other tools
    /// parse this line to find the server.
    EmulatorListening {
        base_url: String,
        client_id: String,
        client_secret: String,
        /// The same as `client_id`, under the name Adobe's SDKs use.
        api_key: String,
    },
}

/// A file or folder left out because its name is not UTF-8: an event of its own in `apply`,
/// one of the `warnings` of the `plan` and `validate` documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    pub message: String,
    /// The name, with what is not UTF-8 escaped.
    pub path: String,
    pub hint: String,
    /// The manifest entry whose glob met it (`init` has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

/// One problem of a broken manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ManifestDiagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Why a command failed as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorEvent {
    pub message: String,
    pub hint: Option<String>,
    /// The file the error is in (or about), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Where in `file`, when the error has a place (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// The image (its key, the mask's path) the error is about, when it is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// The events' JSON Schema, as committed under `schemas/`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(JsonEvent);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_line_round_trips_with_its_tag_first() {
        let event = JsonEvent::Failed {
            key: "masks/a.png".to_owned(),
            input: "photos/a.png".to_owned(),
            error: "cannot decode".to_owned(),
            line: 3,
            column: 5,
        };
        let line = serde_json::to_string(&event).unwrap();
        assert!(
            line.starts_with(r#"{"event":"failed","key":"masks/a.png""#),
            "{line}"
        );
        assert_eq!(serde_json::from_str::<JsonEvent>(&line).unwrap(), event);
    }

    #[test]
    fn a_field_the_type_does_not_name_is_refused() {
        let line = r#"{"event":"started","key":"masks/a.png","surprise":1}"#;
        assert!(serde_json::from_str::<JsonEvent>(line).is_err());
        let line = r#"{"event":"exploded","key":"masks/a.png"}"#;
        assert!(serde_json::from_str::<JsonEvent>(line).is_err());
    }

    #[test]
    fn the_summary_keeps_its_counts_beside_the_tag() {
        let summary = Summary {
            created: 2,
            seconds: 1.5,
            ..Summary::default()
        };
        let value = serde_json::to_value(JsonEvent::Summary(summary.clone())).unwrap();
        assert_eq!(value["event"], "summary");
        assert_eq!(value["created"], 2);
        assert_eq!(
            serde_json::from_value::<JsonEvent>(value).unwrap(),
            JsonEvent::Summary(summary)
        );
    }
}

//! The typed manifest. These types are the single source of truth for
//! `schemas/maskflow.schema.json`: the schema is generated from them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The output template used when neither the image nor `defaults` gives one.
pub const DEFAULT_OUTPUT: &str = "masks/{{ stem }}.png";

/// A maskflow manifest: which images get subject masks, where the masks go and how they are made.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "maskflow manifest")]
pub struct Manifest {
    /// Manifest format version. Must be 1.
    #[schemars(range(min = 1, max = 1))]
    pub version: u32,
    /// Values for templates, available as `vars.NAME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarValue>,
    /// Settings every image inherits unless it overrides them.
    #[serde(default)]
    pub defaults: Defaults,
    /// The images to mask: each entry is one file (`input`) or many (`glob`).
    #[schemars(length(min = 1))]
    pub images: Vec<ImageEntry>,
}

/// A template variable: a string, number or boolean.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum VarValue {
    Bool(bool),
    Integer(i64),
    Number(f64),
    String(String),
}

/// Settings every image inherits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Where each mask is written, relative to the manifest's folder (a template).
    /// Per-image values: `name`, `path`, `dir`, `stem`, `ext`; plus `vars` and `env("NAME")`.
    #[serde(default = "default_output")]
    pub output: String,
    /// The kind of mask to write.
    #[serde(default)]
    pub mask: MaskMode,
    /// The engine that makes the masks.
    #[serde(default)]
    pub engine: EngineKind,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            output: default_output(),
            mask: MaskMode::default(),
            engine: EngineKind::default(),
        }
    }
}

fn default_output() -> String {
    DEFAULT_OUTPUT.to_owned()
}

/// One entry of `images`: exactly one of `input` or `glob`, plus optional overrides.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageEntry {
    /// One image file, relative to the manifest's folder (a template: `vars`, `env("NAME")`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Every file matching this glob, relative to the manifest's folder (a template: `vars`,
    /// `env("NAME")`). Matches are taken in sorted order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glob: Option<String>,
    /// The image's `name` in templates; defaults to the file stem. Only with `input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Overrides `defaults.output` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Overrides `defaults.mask` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<MaskMode>,
    /// Overrides `defaults.engine` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<EngineKind>,
}

/// The kind of mask written.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MaskMode {
    /// 8-bit grey levels: the model's probability for every pixel.
    #[default]
    Soft,
    /// Black or white only: grey levels of 128 and above become 255, the rest 0.
    Binary,
}

impl MaskMode {
    pub fn as_str(self) -> &'static str {
        match self {
            MaskMode::Soft => "soft",
            MaskMode::Binary => "binary",
        }
    }
}

/// An engine that turns an image into a mask.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// The embedded U²-Net-portable model, run on the CPU: offline and free.
    #[default]
    Local,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Local => "local",
        }
    }
}

/// The manifest's JSON Schema, as committed under `schemas/`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Manifest);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes") + "\n"
}

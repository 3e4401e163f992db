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
    /// How to reach Adobe's Photoshop API, for images whose engine is `photoshop`.
    #[serde(default)]
    pub photoshop: PhotoshopSettings,
    /// Cloud storage: where local inputs are staged for the `photoshop` engine, and how
    /// `s3://`, `az://` and `gs://` URLs are reached and signed.
    #[serde(default)]
    pub storage: crate::storage::StorageSettings,
    /// Bounds on what one image may cost.
    #[serde(default)]
    pub limits: ImageLimits,
    /// The images to mask: each entry is one file (`input`) or many (`glob`).
    #[schemars(length(min = 1))]
    pub images: Vec<ImageEntry>,
}

/// Bounds on what one image may cost, so that one hostile or unlucky file fails alone
/// instead of exhausting the machine.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageLimits {
    /// Inputs with more pixels (width x height, read from the file's header) fail before they
    /// are decoded. Decoding costs up to about 11 bytes a pixel: the default, 100 million,
    /// lets two images in flight fit a 7 GB CI runner. `apply --max-pixels` overrides it.
    #[serde(default = "default_max_pixels")]
    #[schemars(range(min = 1))]
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_pixels: default_max_pixels(),
        }
    }
}

/// The default cap on an input's pixel count: 100 megapixels, the largest camera sensors
/// (medium format) and anything a phone saves by default. Decoding one costs at most about
/// 11 bytes a pixel (see README "Image size limit"), so two images in flight fit a 7 GB
/// runner with room for the model.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

fn default_max_pixels() -> u64 {
    DEFAULT_MAX_PIXELS
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
    /// Where each mask is written (a template): a path relative to the manifest's folder, or
    /// an object in a bucket (`s3://BUCKET/KEY`, `az://ACCOUNT/CONTAINER/BLOB`, `gs://BUCKET/KEY`).
    /// Per-image values: `name`, `path`, `dir`, `stem`, `ext`; plus `vars` and `env("NAME")`.
    #[serde(default = "default_output")]
    pub output: String,
    /// The kind of mask to write.
    #[serde(default)]
    pub mask: MaskMode,
    /// The engine that makes the masks.
    #[serde(default)]
    pub engine: EngineKind,
    /// `photoshop` engine, `sensei` API: the URL the service writes each mask to, usually a
    /// pre-signed PUT URL (a template with the per-image values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_url: Option<String>,
    /// Where maskflow reads the mask back from, when `mask_url` only allows writing (e.g. a
    /// pre-signed GET URL for the same object). Defaults to `mask_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_read_url: Option<String>,
    /// What `apply` does with a mask modified outside maskflow (retouched by hand).
    #[serde(default)]
    pub retouched: RetouchPolicy,
    /// What is written: the mask itself, or a cutout (the input's pixels with the mask as
    /// alpha, an RGBA PNG).
    #[serde(default)]
    pub output_kind: OutputKind,
    /// `local` engine: the model that makes the masks. `u2netp` (embedded) unless given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSetting>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            output: default_output(),
            mask: MaskMode::default(),
            engine: EngineKind::default(),
            mask_url: None,
            mask_read_url: None,
            retouched: RetouchPolicy::default(),
            output_kind: OutputKind::default(),
            model: None,
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
    /// One image: a file relative to the manifest's folder, or an `https://` URL (a template:
    /// `vars`, `env("NAME")`). The `photoshop` engine needs a URL the service can read.
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
    /// Overrides `defaults.mask_url` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_url: Option<String>,
    /// Overrides `defaults.mask_read_url` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask_read_url: Option<String>,
    /// Overrides `defaults.retouched` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retouched: Option<RetouchPolicy>,
    /// Overrides `defaults.output_kind` for this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_kind: Option<OutputKind>,
    /// Overrides `defaults.model` for this entry (`local` engine only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSetting>,
}

/// What `apply` writes for an image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// The mask: an 8-bit greyscale PNG.
    #[default]
    Mask,
    /// The input's pixels (EXIF orientation applied) with the mask as alpha: an RGBA PNG.
    /// The `photoshop` engine asks the service for its own cutout.
    Cutout,
}

impl OutputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Mask => "mask",
            OutputKind::Cutout => "cutout",
        }
    }
}

/// The model of the `local` engine: the embedded `u2netp`, or an ONNX file pinned by its
/// sha256.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ModelSetting {
    Embedded(EmbeddedModel),
    File(ModelFile),
}

/// The models compiled into maskflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmbeddedModel {
    /// U²-Net portable (4.6 MB, 320x320), rembg's `u2netp`.
    U2netp,
}

/// An ONNX model file. Known models (`maskflow models`) need only `source` and `sha256`; any
/// other model also needs every recipe field: `input_size`, `mean`, `std`, `scale`, `output`
/// and `sigmoid`. A recipe field given for a known model overrides the known value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Where the file is: a path relative to the manifest's folder, or an `https://` URL
    /// (downloaded once into the model cache: `MASKFLOW_CACHE`, else the platform's cache
    /// folder).
    #[schemars(length(min = 1))]
    pub source: String,
    /// The file's sha256, 64 hex digits: a file with any other digest is refused.
    #[schemars(regex(pattern = r"^[0-9a-fA-F]{64}$"))]
    pub sha256: String,
    /// The side of the model's square input, in pixels (e.g. 320, 1024).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 8, max = 4096))]
    pub input_size: Option<u32>,
    /// Per-channel (R, G, B) mean subtracted after scaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean: Option<[f64; 3]>,
    /// Per-channel (R, G, B) standard deviation divided by after subtracting the mean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub std: Option<[f64; 3]>,
    /// How pixel values are brought to 0..1 before `mean` and `std`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<InputScale>,
    /// Which of the model's outputs is the mask (0 is the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 64))]
    pub output: Option<u32>,
    /// Whether the output is logits that still need a sigmoid (BiRefNet), rather than
    /// probabilities (U²-Net, ISNet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigmoid: Option<bool>,
}

/// How a model's input pixels are scaled to 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputScale {
    /// Divided by the resized image's own maximum, as rembg does for all its models.
    Max,
    /// Divided by 255.
    Unit,
}

impl InputScale {
    pub fn as_str(self) -> &'static str {
        match self {
            InputScale::Max => "max",
            InputScale::Unit => "unit",
        }
    }
}

/// What `apply` does with a mask whose bytes are not the ones maskflow recorded: someone
/// retouched it by hand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetouchPolicy {
    /// Leave it in place and warn; `maskflow adopt` records it, `apply --force` remakes it.
    #[default]
    Keep,
    /// Remake it from the input, overwriting the retouch.
    Remake,
    /// Leave it in place and fail the run (exit 1), naming it.
    Fail,
}

impl RetouchPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            RetouchPolicy::Keep => "keep",
            RetouchPolicy::Remake => "remake",
            RetouchPolicy::Fail => "fail",
        }
    }
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
    /// Adobe's Photoshop API (paid, rate-limited), configured under `photoshop`.
    Photoshop,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Local => "local",
            EngineKind::Photoshop => "photoshop",
        }
    }
}

/// How to reach the Photoshop API. Credentials are named here, never given: they are read
/// from the environment variables named.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhotoshopSettings {
    /// Which API generation to call.
    #[serde(default)]
    pub api: PhotoshopApi,
    /// The API's base URL.
    #[serde(default = "default_endpoint")]
    pub endpoint: String,
    /// The IMS (Adobe identity) base URL that issues access tokens.
    #[serde(default = "default_ims")]
    pub ims: String,
    /// OAuth scopes requested with the token, comma-separated.
    #[serde(default = "default_scopes")]
    pub scopes: String,
    /// Names of the environment variables holding the credentials.
    #[serde(default)]
    pub credentials: CredentialVars,
    /// The `storage` value sent with `sensei` URLs. Inferred from each URL's host when unset:
    /// `azure` for Azure Blob, `dropbox` for Dropbox, `external` otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageKind>,
    /// `sensei` only: `performance` (the service default) or `batch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimize: Option<Optimize>,
    /// Rate limits, concurrency and deadlines.
    #[serde(default)]
    pub limits: Limits,
}

impl Default for PhotoshopSettings {
    fn default() -> Self {
        Self {
            api: PhotoshopApi::default(),
            endpoint: default_endpoint(),
            ims: default_ims(),
            scopes: default_scopes(),
            credentials: CredentialVars::default(),
            storage: None,
            optimize: None,
            limits: Limits::default(),
        }
    }
}

fn default_endpoint() -> String {
    "https://image.adobe.io".to_owned()
}

fn default_ims() -> String {
    "https://ims-na1.adobelogin.com".to_owned()
}

fn default_scopes() -> String {
    "openid,AdobeID,read_organizations".to_owned()
}

/// A Photoshop API generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhotoshopApi {
    /// `POST /sensei/mask`: the service writes the mask to `mask_url` (deprecated by Adobe in 2025).
    #[default]
    Sensei,
    /// `POST /v2/remove-background` with `mode: mask`: the service hosts the mask and maskflow downloads it.
    V2,
}

impl PhotoshopApi {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoshopApi::Sensei => "sensei",
            PhotoshopApi::V2 => "v2",
        }
    }
}

/// Names of the environment variables that hold the Photoshop API credentials.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CredentialVars {
    /// Holds the OAuth server-to-server client id (also sent as `x-api-key`).
    #[serde(default = "default_client_id_var")]
    pub client_id: String,
    /// Holds the client secret.
    #[serde(default = "default_client_secret_var")]
    pub client_secret: String,
    /// Holds an already issued access token; used instead of the client secret when set.
    #[serde(default = "default_access_token_var")]
    pub access_token: String,
}

impl Default for CredentialVars {
    fn default() -> Self {
        Self {
            client_id: default_client_id_var(),
            client_secret: default_client_secret_var(),
            access_token: default_access_token_var(),
        }
    }
}

fn default_client_id_var() -> String {
    "PHOTOSHOP_CLIENT_ID".to_owned()
}

fn default_client_secret_var() -> String {
    "PHOTOSHOP_CLIENT_SECRET".to_owned()
}

fn default_access_token_var() -> String {
    "PHOTOSHOP_ACCESS_TOKEN".to_owned()
}

/// Where the `sensei` API reads and writes a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    External,
    Azure,
    Dropbox,
}

impl StorageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::External => "external",
            StorageKind::Azure => "azure",
            StorageKind::Dropbox => "dropbox",
        }
    }
}

/// The `sensei` API's `options.optimize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Optimize {
    Performance,
    Batch,
}

/// How hard maskflow drives the API.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// At most this many job submissions per `window_seconds` (Adobe allows an organization
    /// 3 remove-background submissions per 3 s).
    #[serde(default = "default_submits")]
    #[schemars(range(min = 1))]
    pub submits: u32,
    /// The window of the submission limit, in seconds.
    #[serde(default = "default_window")]
    #[schemars(range(min = 0.001))]
    pub window_seconds: f64,
    /// At most this many jobs waited on at once. Below it, maskflow holds as many as the
    /// submission rate times the observed job time asks for (Little's law), so that inputs
    /// are not staged long before their submission.
    #[serde(default = "default_in_flight")]
    #[schemars(range(min = 1, max = 256))]
    pub in_flight: u32,
    /// Until a job of this run (or of the lockfile) has finished, the first status request
    /// comes this long after submitting, in seconds; later ones back off ×1.5.
    #[serde(default = "default_poll_initial")]
    #[schemars(range(min = 0.0))]
    pub poll_initial_seconds: f64,
    /// No interval between two status requests of a job is longer than this, in seconds.
    #[serde(default = "default_poll_max")]
    #[schemars(range(min = 0.0))]
    pub poll_max_seconds: f64,
    /// At most this many status requests per `status_window_seconds` (Adobe allows an
    /// organization 1,000 GETs per 3 s).
    #[serde(default = "default_status_requests")]
    #[schemars(range(min = 1))]
    pub status_requests: u32,
    /// The window of the status-request limit, in seconds.
    #[serde(default = "default_window")]
    #[schemars(range(min = 0.001))]
    pub status_window_seconds: f64,
    /// A job not finished this long after submission fails, in seconds. A later run resumes it.
    #[serde(default = "default_deadline")]
    #[schemars(range(min = 1.0))]
    pub deadline_seconds: f64,
    /// With `apply --shard K/N`: how much of `submits` each shard uses.
    #[serde(default)]
    pub shard_share: ShardShare,
}

/// How the shards of a run (`apply --shard K/N`) divide the submission limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShardShare {
    /// The shards run at once under one organization's limit: each uses `submits / N` per
    /// window in whole submissions (at least 1, over a longer window when `submits < N`).
    #[default]
    Fair,
    /// Each shard uses all of `submits`: for shards that run one after another, or under
    /// different organizations, or to give each shard its own limit (set it in `submits`).
    Whole,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            submits: default_submits(),
            window_seconds: default_window(),
            in_flight: default_in_flight(),
            poll_initial_seconds: default_poll_initial(),
            poll_max_seconds: default_poll_max(),
            status_requests: default_status_requests(),
            status_window_seconds: default_window(),
            deadline_seconds: default_deadline(),
            shard_share: ShardShare::default(),
        }
    }
}

fn default_submits() -> u32 {
    3
}

fn default_window() -> f64 {
    3.0
}

fn default_in_flight() -> u32 {
    64
}

fn default_status_requests() -> u32 {
    1000
}

fn default_poll_initial() -> f64 {
    1.0
}

fn default_poll_max() -> f64 {
    10.0
}

fn default_deadline() -> f64 {
    600.0
}

/// The manifest's JSON Schema, as committed under `schemas/`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Manifest);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes") + "\n"
}

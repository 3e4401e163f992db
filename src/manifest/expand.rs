//! Expansion: one step per (input image, output mask), with templates rendered, globs
//! resolved and every path checked. Pure apart from reading the filesystem's metadata.

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use super::model::{ModelSetting, OutputKind, PhotoshopApi};
use super::model_spec;
use super::templates::{ImageValues, TemplateError, Templates};
use super::{
    Diagnostic, EngineKind, Loaded, ManifestError, MaskMode, Pos, RetouchPolicy, Warning, yaml,
};
use crate::lock::KeyProblem;
use crate::models::ModelSpec;
use crate::redact::SecretUrl;
use crate::storage::{Method, ObjectInfo, ObjectUrl, Storage};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One image to mask, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The lockfile key: the output path relative to the manifest's folder, `/`-separated.
    pub key: String,
    /// The input as it may be shown and recorded: a path relative to the manifest's folder,
    /// or a URL without its query string.
    pub input_source: String,
    pub input: Input,
    /// Where the mask is written.
    pub output: Output,
    pub mask: MaskMode,
    pub engine: EngineKind,
    /// `photoshop`/`sensei`: where the service writes the mask.
    pub mask_url: Option<SecretUrl>,
    /// `photoshop`/`sensei`: where maskflow reads the mask back from.
    pub mask_read_url: Option<SecretUrl>,
    /// Where the manifest entry that produced this step starts, for error annotations.
    pub origin: Pos,
    /// What `apply` does when the mask on disk was modified outside maskflow.
    pub retouched: RetouchPolicy,
    /// Whether a mask or a cutout is written.
    pub output_kind: OutputKind,
    /// `local` engine: the model file, or `None` for the embedded u2netp.
    pub model: Option<Arc<ModelSpec>>,
}

/// Where an input image is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Local(PathBuf),
    Remote(SecretUrl),
    /// A cloud object, read through the store's API; signed only where a service needs a URL.
    Object(CloudInput),
}

impl Input {
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Input::Local(path) => Some(path),
            Input::Remote(_) | Input::Object(_) => None,
        }
    }
}

/// Where a mask is written: a file inside the manifest's folder, or a cloud object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    File(PathBuf),
    Object(CloudOutput),
}

impl Output {
    pub fn local_path(&self) -> Option<&Path> {
        match self {
            Output::File(path) => Some(path),
            Output::Object(_) => None,
        }
    }
}

/// A mask written to a bucket. `root` is the literal start of the output template that made
/// it (`s3://bucket/masks/` for `s3://bucket/masks/{{ stem }}.png`): `apply --prune` deletes
/// an orphaned object only under a root the manifest still writes to.
#[derive(Clone)]
pub struct CloudOutput {
    pub object: ObjectUrl,
    pub root: String,
    pub storage: Arc<Storage>,
}

impl PartialEq for CloudOutput {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object && self.root == other.root
    }
}

impl Eq for CloudOutput {}

impl std::fmt::Debug for CloudOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CloudOutput({})", self.object)
    }
}

/// A cloud object as an input, with the client that reaches it (credentials are looked up
/// on first use, not here).
#[derive(Clone)]
pub struct CloudInput {
    pub object: ObjectUrl,
    /// What a bucket listing said of it, so that `plan` need not ask again.
    pub listed: Option<ObjectInfo>,
    pub storage: Arc<Storage>,
}

impl PartialEq for CloudInput {
    fn eq(&self, other: &Self) -> bool {
        self.object == other.object && self.listed == other.listed
    }
}

impl Eq for CloudInput {}

impl std::fmt::Debug for CloudInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CloudInput({})", self.object)
    }
}

/// Resolves every image of the manifest, with the files its globs had to skip, or reports
/// every problem found (including the schema problems `load` set aside).
pub fn expand(loaded: &Loaded) -> Result<(Vec<Step>, Vec<Warning>), ManifestError> {
    let mut expansion = Expansion::new(loaded);
    if let Some(Some(Err(message))) = loaded
        .manifest
        .storage
        .staging
        .as_deref()
        .map(ObjectUrl::parse)
    {
        expansion.problem_at("/storage/staging", &message.to_string(), None);
    } else if let Some(staging) = &loaded.manifest.storage.staging
        && ObjectUrl::parse(staging).is_none()
    {
        expansion.problem_at(
            "/storage/staging",
            &format!("`{staging}` is not an object URL"),
            Some("write s3://BUCKET/PREFIX, az://ACCOUNT/CONTAINER/PREFIX or gs://BUCKET/PREFIX"),
        );
    }
    for (position, &index) in loaded.image_indices.iter().enumerate() {
        expansion.entry(position, index);
    }
    expansion.finish()
}

struct Expansion<'a> {
    loaded: &'a Loaded,
    templates: Templates,
    storage: Arc<Storage>,
    /// Where the photoshop engine stages local inputs, when the manifest says.
    staging: Option<ObjectUrl>,
    canonical_dir: Option<PathBuf>,
    steps: Vec<Step>,
    from_glob: HashSet<String>,
    outputs: HashMap<String, Pos>,
    problems: Vec<Diagnostic>,
    warnings: Vec<Warning>,
    /// Each `model:` resolved once, by its pointer (`None`: it had problems, reported).
    models: BTreeMap<String, Option<Arc<ModelSpec>>>,
}

impl<'a> Expansion<'a> {
    fn new(loaded: &'a Loaded) -> Self {
        let storage = Arc::new(Storage::new(&loaded.manifest.storage));
        let staging = loaded
            .manifest
            .storage
            .staging
            .as_deref()
            .and_then(ObjectUrl::parse)
            .and_then(Result::ok);
        Self {
            loaded,
            templates: Templates::new(&loaded.manifest.vars, storage.clone()),
            storage,
            staging,
            canonical_dir: std::fs::canonicalize(&loaded.dir).ok(),
            steps: Vec::new(),
            from_glob: HashSet::new(),
            outputs: HashMap::new(),
            problems: Vec::new(),
            warnings: Vec::new(),
            models: BTreeMap::new(),
        }
    }

    /// Expands `manifest.images[position]`, which is entry `index` of the document.
    fn entry(&mut self, position: usize, index: usize) {
        let entry = &self.loaded.manifest.images[position];
        let base = format!("/images/{index}");
        let origin = self.loaded.pos_of_pointer(&base);
        let inputs = match (&entry.input, &entry.glob) {
            (Some(_), Some(_)) => {
                self.problem_at(&base, "an image takes `input` or `glob`, not both", None);
                return;
            }
            (None, None) => {
                self.problem_at(
                    &base,
                    "an image needs `input` (one file) or `glob` (many files)",
                    None,
                );
                return;
            }
            (Some(input), None) => match self.single_input(input, &format!("{base}/input")) {
                Some(found) => vec![found],
                None => return,
            },
            (None, Some(glob)) => {
                if entry.name.is_some() {
                    self.problem_at(
                        &format!("{base}/name"),
                        "`name` applies to a single `input`; glob matches are named by their file stem",
                        None,
                    );
                }
                match self.glob_inputs(glob, &format!("{base}/glob")) {
                    Some(found) => found,
                    None => return,
                }
            }
        };
        let (output_template, output_pointer) = match &entry.output {
            Some(t) => (t.clone(), format!("{base}/output")),
            None => {
                let pointer = if self.loaded.node("/defaults/output").is_some() {
                    "/defaults/output".to_owned()
                } else {
                    base.clone()
                };
                (self.loaded.manifest.defaults.output.clone(), pointer)
            }
        };
        let defaults = &self.loaded.manifest.defaults;
        let mask = entry.mask.unwrap_or(defaults.mask);
        let engine = entry.engine.unwrap_or(defaults.engine);
        let retouched = entry.retouched.unwrap_or(defaults.retouched);
        let output_kind = entry.output_kind.unwrap_or(defaults.output_kind);
        let Some(model) = self.model_of(position, &base, engine) else {
            return;
        };
        let engine_pointer = if entry.engine.is_some() {
            format!("{base}/engine")
        } else {
            base.clone()
        };
        let mask_url = template_with_pointer(
            entry.mask_url.as_ref(),
            defaults.mask_url.as_ref(),
            &base,
            "mask_url",
        );
        let mask_read_url = template_with_pointer(
            entry.mask_read_url.as_ref(),
            defaults.mask_read_url.as_ref(),
            &base,
            "mask_read_url",
        );
        let sensei = engine == EngineKind::Photoshop
            && self.loaded.manifest.photoshop.api == PhotoshopApi::Sensei;
        if sensei && mask_url.is_none() && self.staging.is_none() {
            self.problem_at(
                &engine_pointer,
                "the photoshop engine's `sensei` API writes each mask to a URL: set `mask_url`",
                Some("e.g. `mask_url: \"{{ presign('s3://bucket/masks/' ~ stem ~ '.png', 'PUT') }}\"`, or `storage: {staging: s3://bucket/prefix}`, or `photoshop: {api: v2}`"),
            );
            return;
        }
        let is_glob = entry.glob.is_some();
        for (input_source, input) in inputs {
            if engine == EngineKind::Photoshop
                && matches!(input, Input::Local(_))
                && self.staging.is_none()
            {
                let pointer = if is_glob { "glob" } else { "input" };
                self.problem_at(
                    &format!("{base}/{pointer}"),
                    &format!("the photoshop engine reads inputs from URLs, and `{input_source}` is a local file"),
                    Some("give `input` as a URL the service can read (https://, s3://, az://, gs://), or set `storage: {staging: s3://bucket/prefix}` to upload local files"),
                );
                return;
            }
            let values = image_values(&input_source, entry.name.as_deref());
            let rendered = match self.templates.render(&output_template, Some(&values)) {
                Ok(rendered) => rendered,
                Err(e) => {
                    self.template_problem(&output_pointer, &e);
                    // The same template fails the same way for every other match.
                    return;
                }
            };
            let Some((key, output)) =
                self.check_output(&rendered, &output_template, &output_pointer, &input)
            else {
                continue;
            };
            let (mask_url, mask_read_url) = if sensei {
                let Some(write) = self.url_template(mask_url.as_ref(), &values, Method::Put) else {
                    continue;
                };
                let read = match (&mask_read_url, &write) {
                    (Some(_), _) => {
                        match self.url_template(mask_read_url.as_ref(), &values, Method::Get) {
                            Some(read) => read.map(|(url, _)| url),
                            None => continue,
                        }
                    }
                    // A signed PUT cannot be read with GET: sign a GET for the same object.
                    (None, Some((_, Some(object)))) => {
                        match self.sign(Ok(object.clone()), Method::Get, &base) {
                            Some(url) => Some(url),
                            None => continue,
                        }
                    }
                    (None, Some((url, None))) => Some(url.clone()),
                    (None, None) => None,
                };
                (write.map(|(url, _)| url), read)
            } else {
                (None, None)
            };
            if let Some(first) = self.outputs.get(&key) {
                let message = format!(
                    "output `{key}` is also written by the image at line {}",
                    first.line
                );
                self.problem_at(
                    &output_pointer,
                    &message,
                    Some("give each image its own output, e.g. with {{ stem }} or {{ dir }}"),
                );
                continue;
            }
            self.outputs.insert(key.clone(), origin);
            if is_glob {
                self.from_glob.insert(key.clone());
            }
            self.steps.push(Step {
                output,
                key,
                input_source,
                input,
                mask,
                engine,
                mask_url,
                mask_read_url,
                origin,
                retouched,
                output_kind,
                model: model.clone(),
            });
        }
    }

    /// The model of `manifest.images[position]`: `Some(None)` for the embedded one, `None`
    /// when `model:` has problems (reported).
    fn model_of(
        &mut self,
        position: usize,
        base: &str,
        engine: EngineKind,
    ) -> Option<Option<Arc<ModelSpec>>> {
        let loaded = self.loaded;
        let entry = &loaded.manifest.images[position];
        let (setting, pointer) = match (&entry.model, &loaded.manifest.defaults.model) {
            (Some(own), _) => (own, format!("{base}/model")),
            (None, Some(default)) => (default, "/defaults/model".to_owned()),
            (None, None) => return Some(None),
        };
        let file = match setting {
            ModelSetting::Embedded(_) => return Some(None),
            ModelSetting::File(file) => file,
        };
        if engine != EngineKind::Local {
            if entry.model.is_some() {
                self.problem_at(
                    &pointer,
                    "`model` chooses the local engine's model, and this image uses the photoshop engine",
                    Some("remove `model` here, or set `engine: local`"),
                );
                return None;
            }
            // A default model is for the images the local engine makes.
            return Some(None);
        }
        if let Some(resolved) = self.models.get(&pointer) {
            return resolved.clone().map(Some);
        }
        let resolved = match model_spec::resolve(file, &loaded.dir) {
            Ok(spec) => Some(Arc::new(spec)),
            Err(problems) => {
                for problem in problems {
                    let at = problem
                        .field
                        .map_or_else(|| pointer.clone(), |field| format!("{pointer}/{field}"));
                    self.problem_at(&at, &problem.message, problem.hint.as_deref());
                }
                None
            }
        };
        self.models.insert(pointer, resolved.clone());
        resolved.map(Some)
    }

    fn single_input(&mut self, template: &str, pointer: &str) -> Option<(String, Input)> {
        let rendered = self.render_or_report(template, pointer)?;
        if let Some(object) = ObjectUrl::parse(&rendered) {
            // Not signed here: `validate` and `plan` need no signature (see `CloudInput`).
            let object = match object {
                Ok(object) => object,
                Err(e) => {
                    self.problem_at(pointer, &e.to_string(), None);
                    return None;
                }
            };
            return Some((object.to_string(), self.cloud_input(object, None)));
        }
        if is_url(&rendered) {
            let url = self.check_url(&rendered, pointer)?;
            return Some((url.redacted(), Input::Remote(url)));
        }
        let source = normalize_lexically(&rendered);
        let path = self.loaded.dir.join(&source);
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Some((source, Input::Local(path))),
            Ok(_) => {
                self.problem_at(pointer, &format!("input `{rendered}` is not a file"), None);
                None
            }
            Err(_) => {
                self.problem_at(
                    pointer,
                    &format!("input `{rendered}` does not exist"),
                    Some("paths are relative to the manifest's folder"),
                );
                None
            }
        }
    }

    /// Renders a per-image URL template (`mask_url` and friends) and checks the URL. An
    /// object URL (`s3://...`) is signed for `method`; it is returned too, so that the
    /// mask can be read back from the same object.
    fn url_template(
        &mut self,
        template: Option<&(String, String)>,
        values: &ImageValues,
        method: Method,
    ) -> Option<Option<(SecretUrl, Option<ObjectUrl>)>> {
        let Some((template, pointer)) = template else {
            return Some(None);
        };
        let rendered = match self.templates.render(template, Some(values)) {
            Ok(rendered) => rendered,
            Err(e) => {
                self.template_problem(pointer, &e);
                return None;
            }
        };
        if let Some(object) = ObjectUrl::parse(&rendered) {
            let url = self.sign(object.clone(), method, pointer)?;
            return Some(Some((url, object.ok())));
        }
        self.check_url(&rendered, pointer)
            .map(|url| Some((url, None)))
    }

    fn cloud_input(&self, object: ObjectUrl, listed: Option<ObjectInfo>) -> Input {
        Input::Object(CloudInput {
            object,
            listed,
            storage: self.storage.clone(),
        })
    }

    /// A signed URL for a service to use (`mask_url` and friends).
    fn sign(
        &mut self,
        object: Result<ObjectUrl, crate::storage::ObjectUrlError>,
        method: Method,
        pointer: &str,
    ) -> Option<SecretUrl> {
        let object = match object {
            Ok(object) => object,
            Err(e) => {
                self.problem_at(pointer, &e.to_string(), None);
                return None;
            }
        };
        match self.storage.presign(&object, method, None) {
            Ok(url) => Some(url),
            Err(e) => {
                let hint = e.hint();
                self.problem_at(pointer, &e.to_string(), hint.as_deref());
                None
            }
        }
    }

    /// A URL a remote service is handed: `https://`, or `http://` on this machine only.
    fn check_url(&mut self, rendered: &str, pointer: &str) -> Option<SecretUrl> {
        let shown = |raw: &str| raw.split(['?', '#']).next().unwrap_or(raw).to_owned();
        let url = match SecretUrl::parse(rendered) {
            Ok(url) => url,
            Err(e) => {
                let message = format!("`{}` is not a valid URL: {e}", shown(rendered));
                self.problem_at(pointer, &message, None);
                return None;
            }
        };
        match url.url().scheme() {
            "https" => Some(url),
            "http" if url.is_loopback() => Some(url),
            _ => {
                let message = format!("`{url}` must use https://");
                self.problem_at(
                    pointer,
                    &message,
                    Some("plain http:// is accepted only for services on this machine (127.0.0.1, localhost)"),
                );
                None
            }
        }
    }

    fn glob_inputs(&mut self, template: &str, pointer: &str) -> Option<Vec<(String, Input)>> {
        let rendered = self.render_or_report(template, pointer)?;
        if let Some(object) = ObjectUrl::parse(&rendered) {
            return self.bucket_glob(&rendered, object, pointer);
        }
        if is_url(&rendered) {
            self.problem_at(
                pointer,
                "`glob` lists local files and buckets (s3://, az://, gs://); give any other URL as `input`",
                None,
            );
            return None;
        }
        let found = match super::glob::find(&self.loaded.dir, &rendered) {
            Ok(found) => found,
            Err(error) => {
                self.problem_at(
                    pointer,
                    &format!("invalid glob `{rendered}`: {}", error.msg),
                    None,
                );
                return None;
            }
        };
        let pos = self.loaded.pos_of_pointer(pointer);
        let skipped_count = found.skipped.len();
        for mut skipped in found.skipped {
            if let Ok(relative) = skipped.path.strip_prefix(&self.loaded.dir) {
                skipped.path = relative.to_owned();
            }
            if !self.warnings.iter().any(|w| w.skipped == skipped) {
                self.warnings.push(Warning { pos, skipped });
            }
        }
        let mut found: Vec<(String, PathBuf)> = found
            .files
            .into_iter()
            .map(|(shown, path)| (normalize_lexically(&shown), path))
            .collect();
        found.sort();
        found.dedup_by(|a, b| a.0 == b.0);
        let found: Vec<(String, Input)> = found
            .into_iter()
            .map(|(source, path)| (source, Input::Local(path)))
            .collect();
        if found.is_empty() && skipped_count > 0 {
            self.problem_at(
                pointer,
                &format!("glob `{rendered}` matches only names that are not UTF-8 ({skipped_count} skipped)"),
                Some("rename them: maskflow's keys, templates and lockfile are text"),
            );
            return None;
        }
        if found.is_empty() {
            self.problem_at(
                pointer,
                &format!("glob `{rendered}` matches no files"),
                Some("globs are relative to the manifest's folder; `**` matches any depth"),
            );
            return None;
        }
        Some(found)
    }

    /// The objects a bucket glob matches, listed from its literal prefix, sorted.
    fn bucket_glob(
        &mut self,
        rendered: &str,
        object: Result<ObjectUrl, crate::storage::ObjectUrlError>,
        pointer: &str,
    ) -> Option<Vec<(String, Input)>> {
        let object = match object {
            Ok(object) => object,
            Err(e) => {
                self.problem_at(pointer, &e.to_string(), None);
                return None;
            }
        };
        let pattern = match super::bucket_glob::KeyPattern::new(object.key()) {
            Ok(pattern) => pattern,
            Err(error) => {
                self.problem_at(
                    pointer,
                    &format!("invalid glob `{rendered}`: {}", error.msg),
                    None,
                );
                return None;
            }
        };
        let listed = match self.storage.list(&object.with_key(pattern.prefix())) {
            Ok(listed) => listed,
            Err(e) => {
                let hint = e.hint();
                self.problem_at(pointer, &e.to_string(), hint.as_deref());
                return None;
            }
        };
        let mut found: Vec<(ObjectUrl, ObjectInfo)> = listed
            .into_iter()
            .filter(|(found, _)| pattern.matches(found.key()))
            .collect();
        if found.is_empty() {
            self.problem_at(
                pointer,
                &format!("glob `{rendered}` matches no objects"),
                Some("`*` matches within one level of the key's `/`s, `**` any depth"),
            );
            return None;
        }
        found.sort_by(|a, b| a.0.key().cmp(b.0.key()));
        found.dedup_by(|a, b| a.0 == b.0);
        Some(
            found
                .into_iter()
                .map(|(object, info)| (object.to_string(), self.cloud_input(object, Some(info))))
                .collect(),
        )
    }

    /// Validates a rendered output and returns its key (the lockfile's) and where it goes.
    fn check_output(
        &mut self,
        rendered: &str,
        template: &str,
        pointer: &str,
        input: &Input,
    ) -> Option<(String, Output)> {
        if let Some(object) = ObjectUrl::parse(rendered) {
            return self.check_cloud_output(object, template, pointer, input);
        }
        // `https://h/m.png` is a valid relative path (a folder named `https:`); a user who
        // wrote it wants it uploaded, which would silently not happen.
        if let Some((scheme, _)) = rendered.split_once("://")
            && !scheme.is_empty()
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        {
            self.problem_at(
                pointer,
                &format!("output `{rendered}` is a URL maskflow cannot write to"),
                Some(
                    "outputs are files inside the manifest's folder or objects in a bucket: \
                     s3://BUCKET/KEY, az://ACCOUNT/CONTAINER/BLOB or gs://BUCKET/KEY",
                ),
            );
            return None;
        }
        let key = match relative_key(rendered) {
            Ok(key) => key,
            Err(why) => {
                self.problem_at(
                    pointer,
                    &format!("output `{rendered}` {why}"),
                    Some("outputs are written inside the manifest's folder"),
                );
                return None;
            }
        };
        if let Err(why) = super::pathlimits::check(&self.loaded.dir, &key) {
            self.problem_at(
                pointer,
                &format!(
                    "output `{}` {why}",
                    shorten(&rendered.escape_debug().to_string())
                ),
                Some("output paths must be names the filesystem can hold"),
            );
            return None;
        }
        if !key.to_ascii_lowercase().ends_with(".png") {
            self.problem_at(
                pointer,
                &format!("output `{rendered}` must end in .png: masks are written as PNG"),
                None,
            );
            return None;
        }
        if let Some(link) = self.symlink_escape(&key) {
            let message = format!(
                "output `{rendered}` leads out of the manifest's folder through the symlink `{}`",
                link.display()
            );
            self.problem_at(pointer, &message, None);
            return None;
        }
        let output = self.loaded.dir.join(&key);
        if input
            .local_path()
            .is_some_and(|input| same_file(&output, input))
        {
            self.problem_at(
                pointer,
                &format!("output `{rendered}` would overwrite its own input"),
                None,
            );
            return None;
        }
        Some((key, Output::File(output)))
    }

    /// An output in a bucket: a normalized key ending in `.png`, not its own input.
    fn check_cloud_output(
        &mut self,
        object: Result<ObjectUrl, crate::storage::ObjectUrlError>,
        template: &str,
        pointer: &str,
        input: &Input,
    ) -> Option<(String, Output)> {
        let object = match object {
            Ok(object) => object,
            Err(e) => {
                self.problem_at(pointer, &e.to_string(), None);
                return None;
            }
        };
        let key = object.to_string();
        if let Err(why) = crate::lock::check_object_key(&object) {
            let why = match why {
                KeyProblem::NotPng => "must end in .png: masks are written as PNG".to_owned(),
                why => why.to_string(),
            };
            let shown = shorten(&key.escape_debug().to_string());
            self.problem_at(pointer, &format!("output `{shown}` {why}"), None);
            return None;
        }
        if matches!(input, Input::Object(cloud) if cloud.object == object) {
            self.problem_at(
                pointer,
                &format!("output `{key}` would overwrite its own input"),
                None,
            );
            return None;
        }
        let root = literal_root(template).unwrap_or_else(|| object.bucket() + "/");
        let output = Output::Object(CloudOutput {
            object,
            root,
            storage: self.storage.clone(),
        });
        Some((key, output))
    }

    /// The first symlink on the way to `key` that resolves outside the manifest's folder.
    fn symlink_escape(&self, key: &str) -> Option<PathBuf> {
        let root = self.canonical_dir.as_ref()?;
        crate::fsutil::symlink_escape(&self.loaded.dir, root, key)
    }

    fn render_or_report(&mut self, template: &str, pointer: &str) -> Option<String> {
        match self.templates.render(template, None) {
            Ok(rendered) => Some(rendered),
            Err(e) => {
                self.template_problem(pointer, &e);
                None
            }
        }
    }

    fn problem_at(&mut self, pointer: &str, message: &str, hint: Option<&str>) {
        let node = self.loaded.node(pointer);
        let pos = self.loaded.pos_of_pointer(pointer);
        let len = match node.map(|n| &n.value) {
            Some(yaml::Node::Str(_)) => value_len(&self.loaded.source.text, pos),
            _ => 1,
        };
        self.problems.push(Diagnostic {
            pos,
            len,
            message: message.to_owned(),
            hint: hint.map(str::to_owned),
        });
    }

    /// Places a template error on the offending characters inside the YAML scalar.
    fn template_problem(&mut self, pointer: &str, error: &TemplateError) {
        let text = &self.loaded.source.text;
        let mut pos = self.loaded.pos_of_pointer(pointer);
        let template = match self.loaded.node(pointer).map(|n| &n.value) {
            Some(yaml::Node::Str(t)) => t.as_str(),
            _ => "",
        };
        if matches!(text.as_bytes().get(pos.byte), Some(b'"' | b'\'')) {
            pos.byte += 1;
            pos.column += 1;
        }
        let start = error.range.start.min(template.len());
        if template.is_char_boundary(start) {
            pos.byte += start;
            pos.column += template[..start].chars().count();
        }
        self.problems.push(Diagnostic {
            pos,
            len: error.range.len().max(1),
            message: error.message.clone(),
            hint: None,
        });
    }

    fn finish(mut self) -> Result<(Vec<Step>, Vec<Warning>), ManifestError> {
        self.problems
            .extend(self.loaded.schema_problems.iter().cloned());
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|d| d.pos.byte);
            return Err(ManifestError::Invalid {
                file: self.loaded.source.clone(),
                diagnostics: self.problems,
            });
        }
        // A broad glob such as `**/*.png` would otherwise pick up the masks it produces.
        let outputs: HashSet<String> = self.steps.iter().map(|s| s.key.clone()).collect();
        let from_glob = self.from_glob;
        self.steps
            .retain(|s| !(from_glob.contains(&s.key) && outputs.contains(&s.input_source)));
        Ok((self.steps, self.warnings))
    }
}

/// At most 80 characters of `text`, for messages about names too long to show whole.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 80 {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(60).collect::<String>())
    }
}

fn value_len(text: &str, pos: Pos) -> usize {
    text[pos.byte.min(text.len())..]
        .lines()
        .next()
        .map_or(1, |l| l.trim_end().len().max(1))
}

/// The part of an output template before its first placeholder, cut back to a whole `/`
/// segment: the folder every mask it makes lands in. `None` if that is not an object URL.
fn literal_root(template: &str) -> Option<String> {
    let literal = template.split("{{").next().unwrap_or_default();
    let literal = literal.split("{%").next().unwrap_or_default();
    let folder = &literal[..literal.rfind('/').map_or(0, |i| i + 1)];
    match ObjectUrl::parse(folder.trim_end_matches('/'))? {
        Ok(object) => Some(format!("{object}/")),
        // `s3://bucket/`: the whole bucket.
        Err(_) => ObjectUrl::parse(&format!("{folder}x"))?
            .ok()
            .map(|object| object.bucket() + "/"),
    }
}

fn is_url(rendered: &str) -> bool {
    let lower = rendered.trim_start().to_ascii_lowercase();
    lower.contains("://") && !lower.starts_with("file:")
}

/// The template of an optional per-image setting and the pointer to report problems at.
fn template_with_pointer(
    own: Option<&String>,
    default: Option<&String>,
    base: &str,
    field: &str,
) -> Option<(String, String)> {
    match (own, default) {
        (Some(t), _) => Some((t.clone(), format!("{base}/{field}"))),
        (None, Some(t)) => Some((t.clone(), format!("/defaults/{field}"))),
        (None, None) => None,
    }
}

fn image_values(source: &str, name: Option<&str>) -> ImageValues {
    // For a URL, the values come from its path: `https://h/a/cat.jpg` has stem `cat`; for
    // an object, from its key: `s3://bucket/a/cat.jpg` has dir `a`.
    let source = match (ObjectUrl::parse(source), url::Url::parse(source)) {
        (Some(Ok(object)), _) => object.key().to_owned(),
        (_, Ok(url)) if url.has_host() => url.path().trim_start_matches('/').to_owned(),
        _ => source.to_owned(),
    };
    let path = Path::new(&source);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent().map(|p| p.to_string_lossy().into_owned()) {
        Some(d) if !d.is_empty() => d,
        _ => ".".to_owned(),
    };
    ImageValues {
        name: name.map_or_else(|| stem.clone(), str::to_owned),
        path: source.clone(),
        dir,
        stem,
        ext: path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// Normalizes a relative output path to a `/`-separated key that stays inside the folder.
pub(crate) fn relative_key(raw: &str) -> Result<String, &'static str> {
    if raw.trim().is_empty() {
        return Err("is empty");
    }
    let path = Path::new(raw);
    if path.is_absolute()
        || raw.starts_with(['/', '\\'])
        || path.components().any(|c| matches!(c, Component::Prefix(_)))
    {
        return Err("is an absolute path");
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("leaves the manifest's folder");
                }
            }
            part => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err("names the manifest's folder itself");
    }
    Ok(parts.join("/"))
}

/// Lexical normalization for inputs, which may live outside the manifest's folder.
fn normalize_lexically(raw: &str) -> String {
    let absolute = raw.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_templates_root_is_its_literal_folder() {
        let root = |t: &str| literal_root(t);
        assert_eq!(
            root("s3://b/masks/{{ stem }}.png").as_deref(),
            Some("s3://b/masks/")
        );
        assert_eq!(
            root("s3://b/masks/sub{{ dir }}/{{ stem }}.png").as_deref(),
            Some("s3://b/masks/")
        );
        assert_eq!(root("gs://b/{{ stem }}.png").as_deref(), Some("gs://b/"));
        assert_eq!(
            root("az://acct/container/{{ stem }}.png").as_deref(),
            Some("az://acct/container/")
        );
        assert_eq!(
            root("az://acct/cont{{ x }}/{{ stem }}.png").as_deref(),
            None,
            "no whole container: the caller falls back to the rendered one"
        );
        assert_eq!(root("{{ vars.bucket }}/masks/{{ stem }}.png"), None);
        assert_eq!(
            root("s3://b/masks/fixed.png").as_deref(),
            Some("s3://b/masks/")
        );
    }

    #[test]
    fn keys_are_normalized_and_kept_inside() {
        assert_eq!(relative_key("./masks//a.png"), Ok("masks/a.png".to_owned()));
        assert_eq!(relative_key("masks/../b.png"), Ok("b.png".to_owned()));
        let leaves = Err("leaves the manifest's folder");
        assert_eq!(relative_key("../b.png"), leaves);
        assert_eq!(relative_key("masks/../../b.png"), leaves);
        assert_eq!(relative_key("..\\b.png"), leaves);
        assert_eq!(relative_key("/etc/b.png"), Err("is an absolute path"));
        assert_eq!(relative_key(""), Err("is empty"));
        assert_eq!(
            relative_key("masks/.."),
            Err("names the manifest's folder itself")
        );
    }

    #[test]
    fn image_values_split_the_path() {
        let v = image_values("photos/cat.jpg", None);
        assert_eq!(
            (
                v.name.as_str(),
                v.dir.as_str(),
                v.stem.as_str(),
                v.ext.as_str()
            ),
            ("cat", "photos", "cat", "jpg")
        );
        let v = image_values("cat.png", Some("kitty"));
        assert_eq!((v.name.as_str(), v.dir.as_str()), ("kitty", "."));
        let v = image_values("https://h.example/in/dog.jpeg", None);
        assert_eq!(
            (v.path.as_str(), v.dir.as_str(), v.stem.as_str()),
            ("in/dog.jpeg", "in", "dog")
        );
    }

    #[test]
    fn inputs_normalize_without_losing_parent_steps() {
        assert_eq!(normalize_lexically("./a/../b.png"), "b.png");
        assert_eq!(normalize_lexically("../shared/x.png"), "../shared/x.png");
    }
}

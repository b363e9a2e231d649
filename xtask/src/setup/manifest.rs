//! The manifest as set-up reads it (core's parser, `liveproof_core::models`), and the list of
//! files the cache must hold, each pinned by sha256.

use super::*;

pub(super) fn load_manifest() -> Result<(Manifest, String)> {
    let path = manifest_path();
    let text = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let manifest = Manifest::parse(&text).with_context(|| format!("parsing {}", path.display()))?;
    if manifest.runtime.source.is_none() {
        bail!("{}: [runtime] names no source", path.display());
    }
    Ok((manifest, text))
}

// ---------------------------------------------------------------------------------------------
// One file the cache must hold, pinned by sha256.

pub(super) struct Item<'a> {
    /// For messages, e.g. "model `scrfd`".
    pub(super) label: String,
    pub(super) dest: PathBuf,
    pub(super) sha256: &'a str,
    pub(super) source: Option<&'a Source>,
    pub(super) convert: Option<&'a str>,
    /// A committed project-made file to copy in (absolute path).
    pub(super) repo_file: Option<PathBuf>,
    /// Pinned size in bytes, when the manifest has it.
    pub(super) bytes: Option<u64>,
    /// Absent source (`registry = "shared"` file not found) is no error: say so and go on.
    pub(super) optional: bool,
    /// For an absent optional item: what happens without it.
    pub(super) fallback: &'static str,
    /// chmod 755 once in place (`[[tool]]`).
    pub(super) executable: bool,
}

impl Item<'_> {
    /// The file of a `registry = "shared"` source, when this item has one.
    pub(super) fn shared_file(&self, paths: &Paths) -> Option<PathBuf> {
        self.source
            .filter(|s| s.registry == "shared")
            .map(|s| paths.shared.join(&s.path))
    }

    /// An optional item whose shared source is absent (one `stat`): nothing to install.
    pub(super) fn optional_absent(&self, paths: &Paths) -> bool {
        self.optional && self.shared_file(paths).is_some_and(|f| !f.is_file())
    }

    pub(super) fn say_optional_absent(&self, paths: &Paths) {
        let file = self.shared_file(paths).unwrap_or_default();
        eprintln!(
            "setup: {}: optional, not installed: {} not found ({})",
            self.label,
            file.display(),
            self.fallback
        );
    }

    /// The file is in place: size (when pinned) and sha256 as pinned.
    pub(super) fn verified(&self) -> bool {
        if let Some(want) = self.bytes {
            if fs::metadata(&self.dest).map(|m| m.len()).ok() != Some(want) {
                return false;
            }
        }
        file_sha256(&self.dest).ok().as_deref() == Some(self.sha256)
    }
}

/// What the pipeline does without an optional model of this role (setup's one-line notice).
pub(super) fn fallback_note(role: &str) -> &'static str {
    match role {
        "texture" => "the texture signal falls back to fr_liveness",
        _ => "the stage that prefers it falls back and says so",
    }
}

pub(super) fn items<'a>(m: &'a Manifest, paths: &Paths) -> Vec<Item<'a>> {
    let mut items = vec![Item {
        label: format!("runtime onnxruntime {}", m.runtime.version),
        dest: paths.ort_lib.clone(),
        sha256: &m.runtime.sha256,
        source: m.runtime.source.as_ref(),
        convert: None,
        repo_file: None,
        bytes: None,
        optional: false,
        fallback: "",
        executable: false,
    }];
    for model in m.models_in_order().filter(|m| !m.user_supplied) {
        items.push(Item {
            label: format!("model `{}`", model.name),
            dest: paths.models.join(&model.file),
            sha256: &model.sha256,
            source: model.source.as_ref(),
            convert: model.convert.as_deref(),
            repo_file: model.repo_file.as_ref().map(|f| workspace_root().join(f)),
            bytes: model.bytes,
            optional: model.optional,
            fallback: fallback_note(&model.role),
            executable: false,
        });
    }
    for fx in &m.fixtures {
        items.push(Item {
            label: format!("fixture `{}`", fx.name),
            dest: paths.fixtures.join(&fx.file),
            sha256: &fx.sha256,
            source: Some(&fx.source),
            convert: None,
            repo_file: None,
            bytes: fx.bytes,
            optional: false,
            fallback: "",
            executable: false,
        });
    }
    for tool in &m.tools {
        items.push(Item {
            label: format!("tool `{}`", tool.name),
            dest: paths.tools.join(&tool.file),
            sha256: &tool.sha256,
            source: Some(&tool.source),
            convert: None,
            repo_file: None,
            bytes: tool.bytes,
            optional: false,
            fallback: "",
            executable: true,
        });
    }
    items
}

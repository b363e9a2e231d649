//! The verifier's configuration file (`serve --config FILE`, JSON): keys, tenants and their
//! policies, clock skew, token lifetime, model allowlist and the minimum SDK version. Relative
//! paths are read from the file's folder.
//!
//! ```json
//! { "keys": "server-keys",
//!   "tenants": { "acme": { "policy": "acme-policy.json", "max_attempts": 5,
//!                          "attempt_window_seconds": 900 } },
//!   "calibrations": ["acme-calibration.json"], "skew_seconds": 30,
//!   "token_ttl_seconds": 180, "min_sdk_version": "0.1.0" }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use liveproof_core::policy::LoadedPolicy;
use liveproof_core::trust::ServerKeySet;
use serde::Deserialize;

use crate::verify::{
    default_calibrations, manifest_models, TenantConfig, VerifierConfig, DEFAULT_ATTEMPT_WINDOW_S,
    MAX_ATTEMPT_WINDOW_S,
};

/// Most sessions per subject and window a tenant may allow.
pub const MAX_ATTEMPTS: u32 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_issuer")]
    issuer: String,
    /// The key directory (`liveproof-verifier keygen --out DIR`).
    keys: PathBuf,
    tenants: BTreeMap<String, TenantFile>,
    #[serde(default)]
    skew_seconds: Option<u64>,
    #[serde(default)]
    token_ttl_seconds: Option<u64>,
    /// sha256 (hex) of models allowed beyond the embedded manifest's.
    #[serde(default)]
    extra_models: Vec<String>,
    #[serde(default)]
    min_sdk_version: Option<String>,
    /// Calibration bundles (files) beyond the shipped one: every tenant policy's
    /// `calibration_sha256` must be among them, so LLRs can be recomputed.
    #[serde(default)]
    calibrations: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TenantFile {
    /// A policy file; default: the shipped models/policy_default.json.
    #[serde(default)]
    policy: Option<PathBuf>,
    /// Sessions per subject within the window (default 5).
    #[serde(default)]
    max_attempts: Option<u32>,
    /// The window attempts are counted over, seconds (default 900, at most a day).
    #[serde(default)]
    attempt_window_seconds: Option<u64>,
}

fn default_issuer() -> String {
    "liveproof-verifier".into()
}

/// Reads a policy file, or the shipped default.
pub fn load_policy(path: Option<&Path>) -> Result<LoadedPolicy> {
    let text = match path {
        Some(p) => {
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?
        }
        None => liveproof_core::defaults::POLICY_JSON.to_string(),
    };
    LoadedPolicy::from_json(&text).with_context(|| match path {
        Some(p) => format!("policy {}", p.display()),
        None => "the shipped policy".into(),
    })
}

/// `"1.2.3"` → `(1, 2, 3)`.
pub fn parse_min_version(v: &str) -> Result<(u64, u64, u64)> {
    crate::verify::parse_version(v)
        .with_context(|| format!("version `{v}`: expected MAJOR.MINOR.PATCH"))
}

/// Loads a configuration file.
pub fn load(path: &Path) -> Result<VerifierConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: File =
        serde_json::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let keys = ServerKeySet::load(&base.join(&file.keys))?;
    if file.tenants.is_empty() {
        bail!("config {}: no tenants", path.display());
    }
    let mut tenants = BTreeMap::new();
    for (name, t) in file.tenants {
        let policy = load_policy(t.policy.as_ref().map(|p| base.join(p)).as_deref())
            .with_context(|| format!("tenant `{name}`"))?;
        let max_attempts = t.max_attempts.unwrap_or(5);
        if max_attempts == 0 || max_attempts > MAX_ATTEMPTS {
            bail!("tenant `{name}`: max_attempts {max_attempts} must be 1 to {MAX_ATTEMPTS}");
        }
        let attempt_window_s = t.attempt_window_seconds.unwrap_or(DEFAULT_ATTEMPT_WINDOW_S);
        if attempt_window_s == 0 || attempt_window_s > MAX_ATTEMPT_WINDOW_S {
            bail!(
                "tenant `{name}`: attempt_window_seconds {attempt_window_s} must be 1 to \
                 {MAX_ATTEMPT_WINDOW_S}"
            );
        }
        tenants.insert(
            name,
            TenantConfig {
                policy,
                max_attempts,
                attempt_window_s,
            },
        );
    }
    let mut allowed_models = manifest_models()?;
    for m in file.extra_models {
        if m.len() != 64 || !m.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("config: extra_models entry `{m}` is not a sha256 (64 hex digits)");
        }
        allowed_models.insert(m.to_ascii_lowercase());
    }
    let mut calibrations = default_calibrations()?;
    for p in &file.calibrations {
        let p = base.join(p);
        let text =
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let bundle = liveproof_core::calibration::CalibrationBundle::from_json(&text)
            .with_context(|| format!("calibration bundle {}", p.display()))?;
        calibrations.insert(bundle.sha256_hex()?, bundle);
    }
    for (name, t) in &tenants {
        let want = &t.policy.policy.calibration_sha256;
        if !calibrations.contains_key(want) {
            bail!(
                "tenant `{name}`: its policy was set on calibration {want}, which no bundle in \
                 `calibrations` (nor the shipped one) has"
            );
        }
    }
    let skew_s = file
        .skew_seconds
        .unwrap_or(liveproof_core::trust::DEFAULT_SKEW_S);
    if skew_s > crate::verify::MAX_SKEW_S {
        bail!(
            "config: skew_seconds {skew_s} exceeds {} s",
            crate::verify::MAX_SKEW_S
        );
    }
    let token_ttl_s = file
        .token_ttl_seconds
        .unwrap_or(liveproof_core::trust::DEFAULT_TOKEN_TTL_S);
    if token_ttl_s == 0 || token_ttl_s > liveproof_core::trust::MAX_TOKEN_TTL_S {
        bail!("config: token_ttl_seconds {token_ttl_s} must be 1 to 600");
    }
    Ok(VerifierConfig {
        issuer: file.issuer,
        keys,
        tenants,
        skew_s,
        token_ttl_s,
        allowed_models,
        calibrations,
        min_sdk_version: parse_min_version(file.min_sdk_version.as_deref().unwrap_or("0.1.0"))?,
        allow_fixed_seed: false,
    })
}

//! The versioned calibration bundle: one calibrator per signal and model version.
//!
//! Plain serde data (`deny_unknown_fields` everywhere). Its identity is the sha256 of its
//! canonical JSON: compact, fields in declaration order, entries sorted by (signal, model),
//! as written by [`CalibrationBundle::to_json`] (`std` feature).
//!
//! Every float is first rounded to 15 significant digits (see [`canonical_f64`]), so that a
//! bundle fitted in code and the same bundle read back from its JSON hash alike; the rounding
//! is ≤ 5e-15 relative. The workspace builds serde_json with `float_roundtrip`, which reads
//! every number exactly, so encode → decode → encode is byte-stable for any input. (Without it,
//! a number of many digits was read one ulp off and the re-encoded bundle hashed differently:
//! found by the `calibration` fuzz target, regression test in `calibration::tests`.)

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::{CalibrationError, Calibrator};

/// The schema this code reads and writes.
pub const BUNDLE_SCHEMA_VERSION: u32 = 1;

/// Calibrators for every signal, keyed by signal name and model version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationBundle {
    /// [`BUNDLE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// What made it, e.g. "liveproof-core 0.1.0 calibration::Calibrator::fit_auto".
    pub created_with: String,
    /// The data it was fitted on, e.g. "SYNTHETIC captures, 29 Solvay faces, persons 1-20".
    pub fitted_on: String,
    /// One entry per (signal, model); sorted in the canonical JSON.
    pub entries: Vec<BundleEntry>,
}

/// One signal's calibrator, for one model version (or none, for model-free signals).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    /// Signal name, e.g. "texture", "parallax".
    pub signal: String,
    /// Model version the raw score comes from, e.g. "minifasnet_v2+minifasnet_v1se"; `None`
    /// for signals without a model (parallax, moiré).
    pub model: Option<String>,
    pub calibrator: Calibrator,
}

/// "`texture` with model `m`" or "`parallax` (no model)", for messages.
fn key(signal: &str, model: Option<&str>) -> String {
    match model {
        Some(m) => alloc::format!("`{signal}` with model `{m}`"),
        None => alloc::format!("`{signal}` (no model)"),
    }
}

fn model_name(model: Option<&str>) -> String {
    match model {
        Some(m) => alloc::format!("`{m}`"),
        None => String::from("none"),
    }
}

impl BundleEntry {
    fn key(&self) -> String {
        key(&self.signal, self.model.as_deref())
    }
}

impl CalibrationBundle {
    /// An empty bundle of the current schema.
    pub fn new(created_with: impl Into<String>, fitted_on: impl Into<String>) -> Self {
        CalibrationBundle {
            schema_version: BUNDLE_SCHEMA_VERSION,
            created_with: created_with.into(),
            fitted_on: fitted_on.into(),
            entries: Vec::new(),
        }
    }

    /// Adds (or replaces, returning the old one) the calibrator of `signal` + `model`, after
    /// validating it.
    pub fn insert(
        &mut self,
        signal: &str,
        model: Option<&str>,
        calibrator: Calibrator,
    ) -> Result<Option<Calibrator>, CalibrationError> {
        #[cfg(feature = "std")]
        let calibrator = {
            let mut c = calibrator;
            c.canonicalize();
            c
        };
        calibrator.validate(&key(signal, model))?;
        if let Some(e) = self
            .entries
            .iter_mut()
            .find(|e| e.signal == signal && e.model.as_deref() == model)
        {
            return Ok(Some(core::mem::replace(&mut e.calibrator, calibrator)));
        }
        self.entries.push(BundleEntry {
            signal: signal.into(),
            model: model.map(Into::into),
            calibrator,
        });
        self.sort();
        Ok(None)
    }

    /// The calibrator of `signal` + `model`, or a typed error naming what the bundle has.
    pub fn get(&self, signal: &str, model: Option<&str>) -> Result<&Calibrator, CalibrationError> {
        let mut same_signal = self
            .entries
            .iter()
            .filter(|e| e.signal == signal)
            .peekable();
        if same_signal.peek().is_none() {
            let mut known: Vec<&str> = self.entries.iter().map(|e| e.signal.as_str()).collect();
            known.dedup();
            return Err(CalibrationError::UnknownSignal {
                signal: signal.into(),
                known: if known.is_empty() {
                    String::from("no signals")
                } else {
                    alloc::format!("signals {}", known.join(", "))
                },
            });
        }
        let mut models = Vec::new();
        for e in same_signal {
            if e.model.as_deref() == model {
                return Ok(&e.calibrator);
            }
            models.push(model_name(e.model.as_deref()));
        }
        Err(CalibrationError::UnknownModel {
            signal: signal.into(),
            model: model_name(model),
            known: alloc::format!("models {}", models.join(", ")),
        })
    }

    /// The calibrated LLR of a raw score (natural log, bona fide vs attack, within ±10).
    pub fn llr(
        &self,
        signal: &str,
        model: Option<&str>,
        raw_score: f64,
    ) -> Result<f64, CalibrationError> {
        self.get(signal, model)?
            .llr_keyed(&key(signal, model), raw_score)
    }

    /// Schema version, one entry per key, every calibrator valid.
    pub fn validate(&self) -> Result<(), CalibrationError> {
        if self.schema_version != BUNDLE_SCHEMA_VERSION {
            return Err(CalibrationError::UnsupportedSchema {
                got: self.schema_version,
                expected: BUNDLE_SCHEMA_VERSION,
            });
        }
        for (i, e) in self.entries.iter().enumerate() {
            if self.entries[..i]
                .iter()
                .any(|o| o.signal == e.signal && o.model == e.model)
            {
                return Err(CalibrationError::DuplicateEntry { key: e.key() });
            }
            e.calibrator.validate(&e.key())?;
        }
        Ok(())
    }

    /// Rounds every float to its canonical value (see the module doc).
    #[cfg(feature = "std")]
    pub fn canonicalize(&mut self) {
        for e in &mut self.entries {
            e.calibrator.canonicalize();
        }
    }

    fn sort(&mut self) {
        self.entries
            .sort_by(|a, b| a.signal.cmp(&b.signal).then_with(|| a.model.cmp(&b.model)));
    }

    /// The canonical JSON (compact, entries sorted): the bytes [`Self::sha256_hex`] hashes.
    #[cfg(feature = "std")]
    pub fn to_json(&self) -> Result<String, CalibrationError> {
        self.validate()?;
        let mut canonical = self.clone();
        canonical.canonicalize();
        canonical.sort();
        canonical.validate()?;
        Ok(serde_json::to_string(&canonical)?)
    }

    /// Indented JSON for people (same content; hash the canonical form, not this).
    #[cfg(feature = "std")]
    pub fn to_json_pretty(&self) -> Result<String, CalibrationError> {
        self.validate()?;
        let mut canonical = self.clone();
        canonical.canonicalize();
        canonical.sort();
        canonical.validate()?;
        Ok(serde_json::to_string_pretty(&canonical)?)
    }

    /// Decodes and validates a bundle (unknown fields, a wrong schema version or bad
    /// parameters are errors); entries are put in canonical order.
    #[cfg(feature = "std")]
    pub fn from_json(json: &str) -> Result<Self, CalibrationError> {
        let mut bundle: CalibrationBundle = serde_json::from_str(json)?;
        bundle.validate()?;
        bundle.canonicalize();
        bundle.sort();
        bundle.validate()?;
        Ok(bundle)
    }

    /// Decodes a bundle and checks that its canonical sha256 is `expected` (hex, any case).
    #[cfg(feature = "std")]
    pub fn from_json_expecting(json: &str, expected: &str) -> Result<Self, CalibrationError> {
        let bundle = Self::from_json(json)?;
        let got = bundle.sha256_hex()?;
        if !got.eq_ignore_ascii_case(expected.trim()) {
            return Err(CalibrationError::HashMismatch {
                got,
                expected: expected.into(),
            });
        }
        Ok(bundle)
    }

    /// sha256 (lower-case hex) of the canonical JSON.
    #[cfg(feature = "std")]
    pub fn sha256_hex(&self) -> Result<String, CalibrationError> {
        use sha2::Digest;
        let json = self.to_json()?;
        Ok(hex::encode(sha2::Sha256::digest(json.as_bytes())))
    }
}

impl Calibrator {
    /// Rounds every float to its canonical value (see the module doc).
    #[cfg(feature = "std")]
    pub fn canonicalize(&mut self) {
        let c = canonical_f64;
        match &mut self.map {
            super::ScoreMap::Platt { a, b } => {
                *a = c(*a);
                *b = c(*b);
            }
            super::ScoreMap::Isotonic { x, p } => {
                x.iter_mut().chain(p.iter_mut()).for_each(|v| *v = c(*v));
            }
        }
        self.score_min = c(self.score_min);
        self.score_max = c(self.score_max);
    }
}

/// `v` rounded to the most significant digits (15 down to 1) that serde_json reads back
/// bit-exactly: 15 with `float_roundtrip`, which the workspace enables; bundles written before
/// it, rounded to 14 or fewer, are fixed points and keep their hash. Non-finite values are left
/// alone (validation rejects them).
#[cfg(feature = "std")]
pub(crate) fn canonical_f64(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    for digits in (1..=15usize).rev() {
        let Ok(w) = format!("{:.*e}", digits - 1, v).parse::<f64>() else {
            continue;
        };
        let text = match serde_json::to_string(&w) {
            Ok(t) => t,
            Err(_) => continue,
        };
        if serde_json::from_str::<f64>(&text).is_ok_and(|back| back.to_bits() == w.to_bits()) {
            return w;
        }
    }
    v
}

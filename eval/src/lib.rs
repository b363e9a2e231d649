//! Calibration, fusion training and evaluation of LiveProof on labelled captures.
//!
//! Everything here runs the real pipeline (BlazeFace + FaceMesh tracking, the passive
//! signals) on captures the synthetic generator makes from public-domain photos, one
//! *person* per face: the three portraits and the largest faces of the Solvay 1927 photo.
//! Fits and reports are person-disjoint: a person is either in the fitting half or in the
//! held-out half, never both. SYNTHETIC throughout; real media are reported apart.
//!
//! - [`sessions`]: whole sessions (the shipped policy and calibration) over the SYNTHETIC
//!   evaluation set, capture folders and the REAL media;
//! - [`outcome`] and [`metrics`]: ISO/IEC 30107-3 figures with 95 % intervals, and the fusion
//!   table CSV;
//! - [`report`]: `report.html` (inline SVG: DET on probit axes, histograms, reliability);
//! - [`fusion`]: `train-fusion`, the person-disjoint logistic meta-model.

pub mod fusion;
pub mod metrics;
pub mod outcome;
pub mod report;
pub mod sessions;

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use liveproof_core::calibration::{CalibrationBundle, Calibrator};
use liveproof_core::engine::{DetectorKind, Engine, EngineConfig, Tracker};
use liveproof_core::evidence::SignalId;
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::geometry::Rect;
use liveproof_core::passive::analyzer::{PassiveConfig, PassiveModels};
use liveproof_core::passive::{texture, SignalReport};
use liveproof_core::session::{PassiveWindow, SessionConfig};
use liveproof_synth::{Generator, Kind, Params, Source, SourceOptions};

/// One synthetic subject.
pub struct Person {
    /// Stable id: `astronaut`, `newton`, `gauss`, `solvay00`, ...
    pub id: String,
    pub source: Source,
}

/// The public-domain subjects: the three portraits, then up to `solvay` of the largest Solvay
/// 1927 faces that the generator accepts, from the set-up cache's fixtures folder.
pub fn persons(engine: &Arc<Engine>, fixtures: &Path, solvay: usize) -> Result<Vec<Person>> {
    let mut out = Vec::new();
    for name in ["astronaut", "newton", "gauss"] {
        let path = fixtures.join(format!("{name}.png"));
        let source = Source::from_file(engine, &path, &SourceOptions::default())
            .with_context(|| format!("source {}", path.display()))?;
        out.push(Person {
            id: name.into(),
            source,
        });
    }
    if solvay > 0 {
        let path = fixtures.join("solvay_conference_1927.jpg");
        let img = liveproof_core::frame::file::load_upright(&path)?.rgb;
        let scrfd = Arc::new(Engine::new(EngineConfig {
            max_faces: 40,
            detector: DetectorKind::Scrfd,
            ..engine.config().clone()
        })?);
        let mut boxes = face_boxes(&scrfd, &img)?;
        boxes.sort_by(|a, b| b.area().total_cmp(&a.area()));
        for (i, b) in boxes.into_iter().enumerate() {
            if out.len() >= 3 + solvay {
                break;
            }
            let opts = SourceOptions { face_box: Some(b) };
            match Source::from_photo(engine, img.clone(), &opts) {
                Ok(source) => out.push(Person {
                    id: format!("solvay{i:02}"),
                    source,
                }),
                Err(e) => log::info!("Solvay face {i} not usable as a source: {e}"),
            }
        }
    }
    Ok(out)
}

fn face_boxes(engine: &Arc<Engine>, img: &RgbImage) -> Result<Vec<Rect>> {
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)?;
    let mut tracker = Tracker::new(engine.clone());
    let a = tracker.analyze_still(&frame)?;
    Ok(a.faces.iter().map(|f| f.detection.bbox).collect())
}

/// The person-disjoint split: even positions fit, odd positions are held out.
pub fn split(persons: &[Person]) -> (Vec<&Person>, Vec<&Person>) {
    let (mut fit, mut held) = (Vec::new(), Vec::new());
    for (i, p) in persons.iter().enumerate() {
        if i % 2 == 0 {
            fit.push(p)
        } else {
            held.push(p)
        }
    }
    (fit, held)
}

/// One signal's raw outcome on one capture.
#[derive(Clone, Debug)]
pub struct RawScore {
    pub signal: SignalId,
    /// The model behind it (empty for model-free signals).
    pub model: String,
    pub raw: Option<f32>,
}

/// Passive signals of one capture, with the texture signal twice: with the preferred models
/// (when installed) and with the fallback alone, so that a bundle covers both.
pub struct PassiveScorer {
    preferred: Arc<PassiveModels>,
    fallback: Arc<PassiveModels>,
    config: PassiveConfig,
    fallback_config: PassiveConfig,
}

impl PassiveScorer {
    pub fn new(engine: &EngineConfig, config: PassiveConfig) -> PassiveScorer {
        let fallback_config = PassiveConfig {
            texture: texture::Config {
                models: Vec::new(),
                ..config.texture.clone()
            },
            ..config.clone()
        };
        PassiveScorer {
            preferred: Arc::new(PassiveModels::load(engine, &config)),
            fallback: Arc::new(PassiveModels::load(engine, &fallback_config)),
            config,
            fallback_config,
        }
    }

    /// Tracks `frames` and scores every passive signal.
    pub fn score(&self, engine: &Arc<Engine>, frames: &[(RgbImage, u64)]) -> Result<Vec<RawScore>> {
        let mut tracker = Tracker::new(engine.clone());
        // The window a session builds (usable frames, its stride, the frames it scores), so
        // the calibration is fitted on the scores sessions will calibrate.
        let window = |models: &Arc<PassiveModels>, passive: &PassiveConfig| {
            let cfg = SessionConfig {
                passive: passive.clone(),
                ..SessionConfig::default()
            };
            PassiveWindow::new(models.clone(), &cfg).map_err(|e| anyhow::anyhow!("{e}"))
        };
        let mut a = window(&self.preferred, &self.config)?;
        let mut b = window(&self.fallback, &self.fallback_config)?;
        for (img, ts) in frames {
            let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)?
                .with_timestamp_ns(*ts);
            tracker.process(&frame)?;
            let analysis = tracker.last_analysis();
            if let Some(f) = analysis.faces.first().filter(|f| f.quality.passed) {
                // The frame is upright packed RGB already: the window reads it as it is.
                let rgb = img;
                a.offer(rgb, &f.landmarks, f.detection.bbox, *ts)?;
                b.offer(rgb, &f.landmarks, f.detection.bbox, *ts)?;
            }
        }
        let (ra, rb) = (a.report(), b.report());
        let raw = |signal: SignalId, r: &SignalReport| RawScore {
            signal,
            model: r.model.clone(),
            raw: r.score.filter(|_| r.available),
        };
        let mut out = vec![
            raw(SignalId::Fft, &ra.fft),
            raw(SignalId::Reflection, &ra.reflection),
            raw(SignalId::Parallax, &ra.parallax),
            raw(SignalId::Depth, &ra.depth),
            raw(SignalId::Texture, &ra.texture),
        ];
        if rb.texture.model != ra.texture.model {
            out.push(raw(SignalId::Texture, &rb.texture));
        }
        Ok(out)
    }
}

/// Renders one synthetic capture.
pub fn render(
    source: &Source,
    kind: Kind,
    seed: u64,
    frames: u32,
    fps: f64,
) -> Result<Vec<(RgbImage, u64)>> {
    Ok(
        Generator::new(source, &Params::new(kind, seed, frames, fps))?
            .map(|f| (f.image, f.timestamp_ns))
            .collect(),
    )
}

/// A labelled raw score.
#[derive(Clone, Debug)]
pub struct Sample {
    pub person: String,
    pub kind: Kind,
    pub score: RawScore,
}

impl Sample {
    pub fn bona_fide(&self) -> bool {
        self.kind == Kind::BonaFide
    }
}

/// Fits one calibrator per (signal, model) with `Calibrator::fit_auto` (Platt below about
/// 1,000 samples). A (signal, model) with only one class is left out, and said.
pub fn fit_bundle(samples: &[Sample], fitted_on: &str) -> Result<(CalibrationBundle, Vec<String>)> {
    let mut bundle = CalibrationBundle::new(
        format!(
            "liveproof-eval {} calibrate (Calibrator::fit_auto)",
            env!("CARGO_PKG_VERSION")
        ),
        fitted_on,
    );
    let mut keys: Vec<(SignalId, String)> = samples
        .iter()
        .filter(|s| s.score.raw.is_some())
        .map(|s| (s.score.signal, s.score.model.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut lines = Vec::new();
    for (signal, model) in keys {
        let of: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.score.signal == signal && s.score.model == model)
            .filter(|s| s.score.raw.is_some())
            .collect();
        let scores: Vec<f64> = of
            .iter()
            .filter_map(|s| s.score.raw)
            .map(f64::from)
            .collect();
        let labels: Vec<bool> = of.iter().map(|s| s.bona_fide()).collect();
        let pos = labels.iter().filter(|l| **l).count();
        let neg = labels.len() - pos;
        let name = if model.is_empty() {
            signal.as_str().to_string()
        } else {
            format!("{} [{model}]", signal.as_str())
        };
        if pos == 0 || neg == 0 {
            lines.push(format!(
                "{name}: {pos} bona fide, {neg} attack: left out (one class)"
            ));
            continue;
        }
        let cal = Calibrator::fit_auto(&scores, &labels)?;
        lines.push(format!(
            "{name}: {pos} bona fide, {neg} attack, method {:?}{}",
            cal.method(),
            if cal.is_flat() {
                " (flat, LLR 0: higher scores were not more bona fide on this set)"
            } else {
                ""
            }
        ));
        bundle.insert(
            signal.as_str(),
            (!model.is_empty()).then_some(model.as_str()),
            cal,
        )?;
    }
    Ok((bundle, lines))
}

/// The persons a calibration bundle was fitted on: the first bracketed list of its
/// `fitted_on` text (`calibrate` writes "... N persons [a, b, c]: ..."); empty if none.
pub fn fitted_persons(fitted_on: &str) -> Vec<String> {
    let Some(open) = fitted_on.find('[') else {
        return Vec::new();
    };
    let Some(len) = fitted_on[open..].find(']') else {
        return Vec::new();
    };
    fitted_on[open + 1..open + len]
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn fitted_persons_reads_the_first_list() {
        let t =
            "SYNTHETIC captures of 2 persons [astronaut, solvay01]: ...; persons [newton] held out";
        assert_eq!(super::fitted_persons(t), vec!["astronaut", "solvay01"]);
        assert!(super::fitted_persons("no list").is_empty());
    }
}

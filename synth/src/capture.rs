//! Captures: frames plus the metadata that labels them SYNTHETIC, and writing them to disk.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use liveproof_core::frame::RgbImage;
use serde::{Deserialize, Serialize};

use crate::camera::{SensorDraw, TimingDraw};
use crate::error::{Result, SynthError};
use crate::face::{FaceDraw, FacePlacement};
use crate::performance::{Performance, RigidMotion};
use crate::print::{PrintDraw, PrintLayout};
use crate::replay::{ReplayDraw, ScreenLayout};
use crate::source::SourceInfo;
use crate::Kind;

/// The sentence every capture carries.
pub const NOTICE: &str = "SYNTHETIC capture made by liveproof-synth from a still photo: not a camera recording of a person or of an attack instrument";

/// One rendered frame.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthFrame {
    pub image: RgbImage,
    /// Capture time on a monotonic clock, ns.
    pub timestamp_ns: u64,
}

/// A whole capture.
#[derive(Clone, Debug)]
pub struct Capture {
    pub frames: Vec<SynthFrame>,
    pub meta: CaptureMeta,
}

/// Name and version of the generator.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    pub name: String,
    pub version: String,
}

/// What each frame shows, by construction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameTruth {
    /// Head pose of the face as rendered, degrees relative to the photo's pose (LiveProof
    /// convention), idle motion included. Print: the sheet's tilt. Replay: the face in the
    /// replayed recording (the device's own tilt is in the draws).
    pub yaw_deg: f64,
    pub pitch_deg: f64,
    pub roll_deg: f64,
    /// Eyelid closure 0..1 and smile 0..1 (0 for a print).
    pub eyes_closed: f64,
    pub smile: f64,
    /// The camera dropped the slot before this frame.
    pub after_drop: bool,
}

/// One frame's entry in `capture.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameMeta {
    pub index: u32,
    pub file: String,
    pub timestamp_ns: u64,
    /// This frame's exposure, relative to nominal (linear light): `1 + N(0, flicker σ)`, drawn
    /// from the seed; exactly 1 for the injected stream.
    pub exposure_gain: f64,
    pub truth: FrameTruth,
}

/// Every parameter drawn from the seed, by purpose (`None` where the kind has no such stage).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Drawn {
    /// Face placement and camera of the bona fide / injection rendering.
    pub face: Option<FaceDraw>,
    /// Idle head motion (bona fide, injection, and the replayed recording): degrees; x/y in
    /// inter-ocular distances; z in fractions of the face's distance.
    pub idle_motion: Option<RigidMotion>,
    pub timing: TimingDraw,
    pub sensor: Option<SensorDraw>,
    pub print: Option<PrintDraw>,
    pub replay: Option<ReplayDraw>,
}

/// Measured geometry of the rendering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    pub face: Option<FacePlacement>,
    pub print: Option<PrintLayout>,
    pub screen: Option<ScreenLayout>,
}

/// `capture.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaptureMeta {
    /// Always true.
    pub synthetic: bool,
    pub notice: String,
    pub generator: GeneratorInfo,
    /// `"bona_fide"` or `"attack"`.
    pub label: String,
    pub kind: Kind,
    /// `null`, `"print"`, `"replay"` or `"injection"`.
    pub attack_species: Option<String>,
    pub seed: u64,
    pub fps: f64,
    pub width: u32,
    pub height: u32,
    pub frames: Vec<FrameMeta>,
    pub source: SourceInfo,
    pub performance: Performance,
    /// Scale applied to the drawn idle head motion (1 = as drawn).
    pub idle_motion_scale: f64,
    pub drawn: Drawn,
    pub layout: Layout,
}

/// File name of frame `k`.
pub fn frame_file(k: u32) -> String {
    format!("frame_{k:04}.png")
}

/// Writes `frame_0000.png …` (each PNG with a SYNTHETIC text chunk) and `capture.json` into
/// `dir` (created if missing). Refuses a non-empty folder that holds no `capture.json` (it is
/// not ours to clutter); in one that does, stale `frame_*.png` files are removed first.
pub fn write_capture(capture: &Capture, dir: &Path) -> Result<Vec<PathBuf>> {
    prepare_dir(dir)?;
    let mut written = Vec::with_capacity(capture.frames.len() + 1);
    for (f, m) in capture.frames.iter().zip(&capture.meta.frames) {
        let p = dir.join(&m.file);
        write_png(&p, &f.image, &capture.meta)?;
        written.push(p);
    }
    written.push(write_meta(&capture.meta, dir)?);
    Ok(written)
}

/// Creates `dir` or checks it may be overwritten (see [`write_capture`]).
pub fn prepare_dir(dir: &Path) -> Result<()> {
    let werr = |e: std::io::Error| SynthError::Write {
        path: dir.to_path_buf(),
        message: e.to_string(),
    };
    if dir.exists() {
        let entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(werr)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        if !entries.is_empty() && !dir.join("capture.json").is_file() {
            return Err(SynthError::Write {
                path: dir.to_path_buf(),
                message: "folder is not empty and holds no capture.json; expected a new or empty folder, or an earlier capture to replace".into(),
            });
        }
        for p in entries {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("frame_") && name.ends_with(".png") {
                std::fs::remove_file(&p).map_err(werr)?;
            }
        }
        Ok(())
    } else {
        std::fs::create_dir_all(dir).map_err(werr)
    }
}

/// Writes `capture.json`.
pub fn write_meta(meta: &CaptureMeta, dir: &Path) -> Result<PathBuf> {
    let p = dir.join("capture.json");
    let json = serde_json::to_string_pretty(meta).map_err(|e| SynthError::Write {
        path: p.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&p, json + "\n").map_err(|e| SynthError::Write {
        path: p.clone(),
        message: e.to_string(),
    })?;
    Ok(p)
}

/// Writes one frame as an RGB PNG with `Software` and `Comment` (SYNTHETIC notice) chunks.
pub fn write_png(path: &Path, img: &RgbImage, meta: &CaptureMeta) -> Result<()> {
    let err = |m: String| SynthError::Write {
        path: path.to_path_buf(),
        message: m,
    };
    let file = std::fs::File::create(path).map_err(|e| err(e.to_string()))?;
    let mut enc = png::Encoder::new(BufWriter::new(file), img.width, img.height);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let comment = format!(
        "{NOTICE}. kind={} label={} seed={}",
        meta.kind.as_str(),
        meta.label,
        meta.seed
    );
    enc.add_text_chunk(
        "Software".into(),
        format!("{} {}", meta.generator.name, meta.generator.version),
    )
    .map_err(|e| err(e.to_string()))?;
    enc.add_text_chunk("Comment".into(), comment)
        .map_err(|e| err(e.to_string()))?;
    let mut w = enc.write_header().map_err(|e| err(e.to_string()))?;
    w.write_image_data(&img.data)
        .map_err(|e| err(e.to_string()))?;
    w.finish().map_err(|e| err(e.to_string()))
}

//! Stream-level injection heuristics, from the frames themselves (CEN/TS 18099 frames data
//! injection: frames that reach the pipeline without coming from the camera). A
//! [`StreamMonitor`] is fed once per frame with what the session already has (the
//! timestamp, the content digest, the buffer's geometry, its upright RGB image) and
//! judges, each with a severity in [0, 1] and its statistic:
//!
//! - **timing**: a sensor's frame clock jitters; a file or a generator stamps frames at an
//!   exact period (`stream.timing.regular`);
//! - **duplicates**: a sensor never delivers the same bytes twice (noise); a virtual camera
//!   that repeats a picture does (`stream.frames.duplicate`);
//! - **sensor noise**: a sensor's noise is independent frame to frame; where the scene is
//!   still, rendered, generated or re-encoded frames repeat their pixels
//!   (`stream.noise.missing`; a grid of small blocks over the frame, differenced with the
//!   previous frame);
//! - **geometry**: the buffer size or pixel format changing mid-stream
//!   (`stream.geometry.change`);
//! - **declared camera**: frames that disagree with what the host configured
//!   (`stream.declared.mismatch`);
//! - **regular and clean**: exact timing *and* no noise together (`stream.injection.regular_clean`).
//!
//! A stream too short to judge reports "not measured" (`None`), never 0. Thresholds and why:
//! docs/device-signals.md; figures on SYNTHETIC streams: tests/tests/security_stream.rs.

use alloc::string::String;
use alloc::vec::Vec;

use crate::frame::{Frame, PixelFormat, Rotation, Upright};

use super::probes::ProbeReport;
use super::{SecurityCategory, SecuritySignal};

/// Blocks of the noise grid per axis, and their side, pixels: 8 × 8 blocks of 8 × 8 pixels
/// (4 096 pixels, the cost of one 64 × 64 patch) spread evenly over the frame, so that some
/// fall on static background and some on the face.
pub const GRID: usize = 8;
pub const BLOCK: usize = 8;
/// Intervals needed to judge timing (≈ 0.7 s at 30 fps).
pub const MIN_INTERVALS: usize = 20;
/// Frames needed to judge duplicates, noise and geometry.
pub const MIN_FRAMES: usize = 10;
/// Median absolute deviation of the frame intervals at or below which timing is exact, µs
/// (10 ns: a timestamp computed as `t0 + k × period`, rounded to ns or to a container's time
/// base, has MAD 0; a sensor clock or an OS arrival stamp jitters by µs to ms).
pub const EXACT_JITTER_US: f64 = 0.01;
/// Temporal residual below which sensor noise is missing, DN (0–255 luma): the mean
/// |frame-to-frame difference − its block mean| in the stillest quarter of the grid's
/// blocks. A sensor's noise is independent frame to frame: luma σ ≥ 0.45 DN (even after a
/// phone's denoising, at video exposure) gives ≥ 0.5 DN; a rendered, generated or
/// re-encoded static region repeats its pixels exactly (0 DN).
pub const NOISE_MIN_DN: f32 = 0.5;
/// Intervals / noise samples kept (the first ones: ≈ 68 s at 30 fps).
const MAX_KEPT: usize = 2048;
/// Values reserved when a monitor starts: 20 s at 30 fps.
const RESERVED: usize = 600;

/// Heuristic ids, all version 1.
pub const TIMING: &str = "stream.timing.regular";
pub const DUPLICATES: &str = "stream.frames.duplicate";
pub const NOISE: &str = "stream.noise.missing";
pub const GEOMETRY: &str = "stream.geometry.change";
pub const DECLARED: &str = "stream.declared.mismatch";
pub const COMBINED: &str = "stream.injection.regular_clean";

/// What the host configured the camera for; a field left `None` is not checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeclaredCamera {
    /// Buffer size, pixels (either orientation matches).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frames per second the camera was set to deliver at most.
    pub fps: Option<f32>,
    pub format: Option<PixelFormat>,
}

/// The noise sample of one frame against the previous one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSample {
    /// The 25th percentile over the grid's unclipped blocks of the mean |d − mean(d)|, d the
    /// frame-to-frame luma difference, DN: the temporal noise where the scene is still
    /// (`None` on the first frame, after a size change, or when every block is clipped).
    pub temporal_dn: Option<f32>,
    /// Standard deviation of the sampled luma, DN (≈ 0: a blank frame, nothing to judge).
    pub texture_dn: f32,
}

/// The luma of the previous frame's grid blocks, to difference the next one against.
#[derive(Clone, Debug, Default)]
pub struct NoiseGrid {
    previous: Vec<f32>,
    /// This frame's samples (its allocation reused: no allocation per frame).
    current: Vec<f32>,
    size: (u32, u32),
}

impl NoiseGrid {
    /// Samples the upright picture (an RGB image, or a frame read in place; at least
    /// 16 × 16) and compares it with the previous frame.
    pub fn sample<'a>(&mut self, rgb: impl Into<Upright<'a>>) -> Option<NoiseSample> {
        let rgb = rgb.into();
        let (uw, uh) = rgb.size();
        let (w, h) = (uw as usize, uh as usize);
        if w < 2 * BLOCK || h < 2 * BLOCK || rgb.check().is_err() {
            self.previous.clear();
            return None;
        }
        let origin = |i: usize, n: usize| (n - BLOCK) * (2 * i + 1) / (2 * GRID);
        let mut current = core::mem::take(&mut self.current);
        current.clear();
        for by in 0..GRID {
            for bx in 0..GRID {
                let (x0, y0) = (origin(bx, w), origin(by, h));
                for y in y0..y0 + BLOCK {
                    for x in x0..x0 + BLOCK {
                        let [r, g, b] = rgb.rgb_clamped(x as i64, y as i64);
                        current.push(0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32);
                    }
                }
            }
        }
        let n = current.len() as f32;
        let mean = current.iter().sum::<f32>() / n;
        let texture_dn = (current.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n).sqrt();
        let same = self.size == (uw, uh) && self.previous.len() == current.len();
        let temporal_dn = if same {
            let mut blocks = [0f32; GRID * GRID];
            let mut kept = 0;
            let px = BLOCK * BLOCK;
            for (cur, prev) in current.chunks_exact(px).zip(self.previous.chunks_exact(px)) {
                let level = cur.iter().sum::<f32>() / px as f32;
                // Clipped blocks hide the noise: skip them.
                if !(10.0..=245.0).contains(&level) {
                    continue;
                }
                // The block's mean difference (exposure flicker, a global gain) is removed.
                let shift = cur.iter().zip(prev).map(|(c, p)| c - p).sum::<f32>() / px as f32;
                let abs = cur
                    .iter()
                    .zip(prev)
                    .map(|(c, p)| (c - p - shift).abs())
                    .sum::<f32>();
                blocks[kept] = abs / px as f32;
                kept += 1;
            }
            let blocks = &mut blocks[..kept];
            blocks.sort_unstable_by(f32::total_cmp);
            blocks.get(blocks.len() / 4).copied()
        } else {
            None
        };
        self.current = core::mem::replace(&mut self.previous, current);
        self.size = (uw, uh);
        Some(NoiseSample {
            temporal_dn,
            texture_dn,
        })
    }
}

/// One heuristic's judgement.
#[derive(Clone, Debug, PartialEq)]
pub struct Heuristic {
    pub probe: &'static str,
    pub version: u32,
    /// In [0, 1]; 0 = measured, nothing found.
    pub severity: f32,
    /// The statistic it judged (units in the field docs of [`StreamAssessment`]).
    pub statistic: f64,
    pub evidence: String,
}

impl Heuristic {
    fn new(probe: &'static str, severity: f32, statistic: f64, evidence: String) -> Heuristic {
        Heuristic {
            probe,
            version: 1,
            severity,
            statistic,
            evidence,
        }
    }
}

/// Every heuristic over the stream so far; `None` = not measured (too short, or no input).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamAssessment {
    pub frames: u32,
    /// Statistic: MAD of the frame intervals, µs.
    pub timing: Option<Heuristic>,
    /// Statistic: share of consecutive textured frame pairs with identical content.
    pub duplicates: Option<Heuristic>,
    /// Statistic: median over frame pairs of the temporal noise ([`NoiseSample`]), DN.
    pub noise: Option<Heuristic>,
    /// Statistic: frames whose size or format differs from the previous frame's.
    pub geometry: Option<Heuristic>,
    /// Statistic: frames that disagree with the declared camera (plus 1 when the frame rate
    /// exceeds the declared one).
    pub declared: Option<Heuristic>,
    /// Statistic: 1 when timing is exact and noise missing, else 0.
    pub combined: Option<Heuristic>,
}

impl StreamAssessment {
    /// The measured heuristics, in a fixed order.
    pub fn all(&self) -> impl Iterator<Item = &Heuristic> {
        [
            &self.timing,
            &self.duplicates,
            &self.noise,
            &self.geometry,
            &self.declared,
            &self.combined,
        ]
        .into_iter()
        .flatten()
    }

    /// Findings (severity > 0) as signals, and `injection` covered when anything was
    /// measured.
    pub fn report(&self) -> ProbeReport {
        let mut r = ProbeReport::default();
        for h in self.all() {
            if h.severity > 0.0 {
                r.signals.push(SecuritySignal::new(
                    h.probe,
                    h.version,
                    SecurityCategory::Injection,
                    h.severity,
                    h.evidence.clone(),
                ));
            }
        }
        if self.all().next().is_some() {
            r.categories_covered.push(SecurityCategory::Injection);
        }
        r
    }
}

/// The per-frame facts the monitor keeps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Geometry {
    width: u32,
    height: u32,
    format: PixelFormat,
    rotation: Rotation,
}

/// Watches a stream frame by frame (O(1) work and memory per frame, bounded).
#[derive(Clone, Debug, Default)]
pub struct StreamMonitor {
    declared: Option<DeclaredCamera>,
    frames: u32,
    last_ts: Option<u64>,
    intervals: Vec<u64>,
    non_increasing: u32,
    last_digest: Option<[u8; 32]>,
    last_textured: bool,
    pairs: u32,
    duplicates: u32,
    noise: Vec<f32>,
    grid: NoiseGrid,
    first: Option<Geometry>,
    last: Option<Geometry>,
    geometry_changes: u32,
    change_note: String,
    declared_mismatches: u32,
    declared_note: String,
}

impl StreamMonitor {
    pub fn new(declared: Option<DeclaredCamera>) -> StreamMonitor {
        // Room for a long capture up front: growing these per frame would allocate on the
        // frame path (MAX_KEPT bounds them either way).
        StreamMonitor {
            declared,
            intervals: Vec::with_capacity(RESERVED),
            noise: Vec::with_capacity(RESERVED),
            ..StreamMonitor::default()
        }
    }

    /// Feeds one frame and its content digest (`Frame::content_sha256`, computed once by the
    /// caller). The noise grid reads the frame in place.
    pub fn observe(&mut self, frame: &Frame<'_>, digest: &[u8; 32]) {
        self.frames = self.frames.saturating_add(1);
        let ts = frame.timestamp_ns();
        if let Some(prev) = self.last_ts {
            if ts > prev {
                if self.intervals.len() < MAX_KEPT {
                    self.intervals.push(ts - prev);
                }
            } else {
                self.non_increasing += 1;
            }
        }
        self.last_ts = Some(ts);
        let noise = self.grid.sample(*frame);
        // Duplicates: only between frames with texture (a covered lens gives identical
        // black frames legitimately).
        let textured = noise.is_some_and(|n| n.texture_dn >= 2.0);
        if let Some(prev) = self.last_digest {
            if textured && self.last_textured {
                self.pairs += 1;
                if prev == *digest {
                    self.duplicates += 1;
                }
            }
        }
        self.last_digest = Some(*digest);
        self.last_textured = textured;
        if let Some(t) = noise.and_then(|n| n.temporal_dn) {
            if self.noise.len() < MAX_KEPT {
                self.noise.push(t);
            }
        }
        let g = Geometry {
            width: frame.width(),
            height: frame.height(),
            format: frame.format(),
            rotation: frame.rotation(),
        };
        if let Some(last) = self.last {
            if (last.width, last.height, last.format) != (g.width, g.height, g.format) {
                self.geometry_changes += 1;
                if self.change_note.is_empty() {
                    self.change_note = alloc::format!(
                        "frame {}: {}×{} {:?} after {}×{} {:?}",
                        self.frames,
                        g.width,
                        g.height,
                        g.format,
                        last.width,
                        last.height,
                        last.format
                    );
                }
            }
        }
        self.first.get_or_insert(g);
        self.last = Some(g);
        if let Some(d) = &self.declared {
            let size_ok = match (d.width, d.height) {
                (Some(dw), Some(dh)) => {
                    (dw, dh) == (g.width, g.height) || (dh, dw) == (g.width, g.height)
                }
                _ => true,
            };
            let format_ok = d.format.is_none_or(|f| f == g.format);
            if !(size_ok && format_ok) {
                self.declared_mismatches += 1;
                if self.declared_note.is_empty() {
                    self.declared_note = alloc::format!(
                        "frame {}: {}×{} {:?}, declared {:?}×{:?} {:?}",
                        self.frames,
                        g.width,
                        g.height,
                        g.format,
                        d.width,
                        d.height,
                        d.format
                    );
                }
            }
        }
    }

    /// Frames observed.
    pub fn frames(&self) -> u32 {
        self.frames
    }

    /// Judges the stream so far.
    pub fn assess(&self) -> StreamAssessment {
        let enough = self.frames as usize >= MIN_FRAMES;
        let timing = self.timing();
        let noise = (enough && self.noise.len() >= MIN_FRAMES - 1).then(|| {
            let mut v = self.noise.clone();
            let med = crate::math::median_in_place(&mut v).unwrap_or(f32::NAN);
            let missing = med < NOISE_MIN_DN;
            Heuristic::new(
                NOISE,
                if missing { 0.6 } else { 0.0 },
                med as f64,
                alloc::format!(
                    "temporal noise {med:.2} DN (median of {} frame pairs; below \
                     {NOISE_MIN_DN} DN = no sensor noise)",
                    self.noise.len()
                ),
            )
        });
        let duplicates = (enough && self.pairs as usize >= MIN_FRAMES - 1).then(|| {
            let share = self.duplicates as f64 / self.pairs as f64;
            let severity = match self.duplicates {
                0 => 0.0,
                d if d >= 3 && share >= 0.1 => 0.9,
                _ => 0.5,
            };
            Heuristic::new(
                DUPLICATES,
                severity,
                share,
                alloc::format!(
                    "{} of {} consecutive textured frames identical",
                    self.duplicates,
                    self.pairs
                ),
            )
        });
        let geometry = enough.then(|| {
            Heuristic::new(
                GEOMETRY,
                if self.geometry_changes > 0 { 0.7 } else { 0.0 },
                self.geometry_changes as f64,
                if self.geometry_changes > 0 {
                    alloc::format!(
                        "{} changes; first at {}",
                        self.geometry_changes,
                        self.change_note
                    )
                } else {
                    alloc::format!("{} frames, one size and format", self.frames)
                },
            )
        });
        let declared = match (&self.declared, enough) {
            (Some(d), true) => {
                let mut severity: f32 = if self.declared_mismatches > 0 {
                    0.9
                } else {
                    0.0
                };
                let mut stat = self.declared_mismatches as f64;
                let mut note = if self.declared_mismatches > 0 {
                    alloc::format!(
                        "{} frames differ; first: {}",
                        self.declared_mismatches,
                        self.declared_note
                    )
                } else {
                    String::from("size and format as declared")
                };
                if let (Some(fps), Some(period)) = (d.fps, self.median_interval_ns()) {
                    let measured = 1e9 / period;
                    if fps > 0.0 && measured > fps as f64 * 1.15 {
                        severity = severity.max(0.6);
                        stat += 1.0;
                        note.push_str(&alloc::format!(
                            "; {measured:.1} fps measured, at most {fps} declared"
                        ));
                    }
                }
                Some(Heuristic::new(DECLARED, severity, stat, note))
            }
            _ => None,
        };
        let combined = match (&timing, &noise) {
            (Some(t), Some(n)) => {
                let both = t.severity > 0.0 && n.severity > 0.0;
                Some(Heuristic::new(
                    COMBINED,
                    if both { 0.95 } else { 0.0 },
                    both as u8 as f64,
                    if both {
                        alloc::format!(
                            "exact timing (interval MAD {:.3} µs) and no sensor noise \
                             (temporal noise {:.2} DN)",
                            t.statistic,
                            n.statistic
                        )
                    } else {
                        String::from("not both exact timing and missing noise")
                    },
                ))
            }
            _ => None,
        };
        StreamAssessment {
            frames: self.frames,
            timing,
            duplicates,
            noise,
            geometry,
            declared,
            combined,
        }
    }

    fn median_interval_ns(&self) -> Option<f64> {
        if self.intervals.len() < MIN_INTERVALS {
            return None;
        }
        let mut v = self.intervals.clone();
        v.sort_unstable();
        Some(v[v.len() / 2] as f64)
    }

    fn timing(&self) -> Option<Heuristic> {
        let median = self.median_interval_ns()?;
        let mut dev: Vec<f64> = self
            .intervals
            .iter()
            .map(|&d| (d as f64 - median).abs())
            .collect();
        dev.sort_by(f64::total_cmp);
        let mad_us = dev[dev.len() / 2] / 1e3;
        let exact = dev.iter().filter(|&&d| d <= 2.0).count() as f64 / dev.len() as f64;
        let regular = mad_us <= EXACT_JITTER_US;
        Some(Heuristic::new(
            TIMING,
            if regular { 0.8 } else { 0.0 },
            mad_us,
            alloc::format!(
                "interval MAD {mad_us:.3} µs over {} intervals (median {:.3} ms), {:.0}% within \
                 ±2 ns of the median{}",
                self.intervals.len(),
                median / 1e6,
                exact * 100.0,
                if self.non_increasing > 0 {
                    alloc::format!(", {} non-increasing timestamps", self.non_increasing)
                } else {
                    String::new()
                }
            ),
        ))
    }
}

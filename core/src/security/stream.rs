//! Stream-level injection heuristics, from the frames themselves (CEN/TS 18099 frames data
//! injection: frames that reach the pipeline without coming from the camera). A
//! [`StreamMonitor`] is fed once per frame with what the session already has (the
//! timestamp, the content digest, the buffer's geometry, a small noise-residual sample) and
//! judges, each with a severity in [0, 1] and its statistic:
//!
//! - **timing**: a sensor's frame clock jitters; a file or a generator stamps frames at an
//!   exact period (`stream.timing.regular`);
//! - **duplicates**: a sensor never delivers the same bytes twice (noise); a virtual camera
//!   that repeats a picture does (`stream.frames.duplicate`);
//! - **sensor noise**: the residual of a small luma patch around the face in its flattest
//!   blocks; rendered or re-encoded frames have none (`stream.noise.missing`);
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

use crate::frame::{Frame, PixelFormat, RgbImage, Rotation};

use super::probes::ProbeReport;
use super::{SecurityCategory, SecuritySignal};

/// Side of the luma patch of the noise sample, pixels.
pub const PATCH: usize = 64;
/// Side of the blocks the patch is cut into, pixels.
const BLOCK: usize = 8;
/// Intervals needed to judge timing (≈ 0.7 s at 30 fps).
pub const MIN_INTERVALS: usize = 20;
/// Frames needed to judge duplicates, noise and geometry.
pub const MIN_FRAMES: usize = 10;
/// Median absolute deviation of the frame intervals at or below which timing is exact, µs
/// (10 ns: a timestamp computed as `t0 + k × period`, rounded to ns or to a container's time
/// base, has MAD 0; a sensor clock or an OS arrival stamp jitters by µs to ms).
pub const EXACT_JITTER_US: f64 = 0.01;
/// Flat-area residual below which sensor noise is missing, DN (0–255): twice the floor
/// that 8-bit rounding alone leaves in a noise-free image (≈ 0.23 DN mean |residual|).
pub const NOISE_MIN_DN: f32 = 0.5;
/// Intervals / noise samples kept (the first ones: ≈ 68 s at 30 fps).
const MAX_KEPT: usize = 2048;

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

/// The noise-residual sample of one frame: a luma patch of at most [`PATCH`]² pixels,
/// residual = pixel − its 3×3 mean, averaged (|·|) per 8×8 block.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSample {
    /// The 25th percentile over the patch's blocks of the mean |residual|, DN: the noise
    /// floor in the flattest quarter of the patch.
    pub residual_dn: f32,
    /// Standard deviation of the patch's luma, DN (≈ 0: a blank patch, nothing to judge).
    pub texture_dn: f32,
}

/// The noise sample of `rgb` around `centre` (pixels; the frame centre when `None`).
/// `None` when the image is smaller than 16×16 or its blocks are all clipped.
pub fn noise_sample(rgb: &RgbImage, centre: Option<[f32; 2]>) -> Option<NoiseSample> {
    let (w, h) = (rgb.width as usize, rgb.height as usize);
    if w < 16 || h < 16 || rgb.data.len() < w * h * 3 {
        return None;
    }
    let side = PATCH.min(w).min(h);
    let [cx, cy] = centre
        .filter(|c| c[0].is_finite() && c[1].is_finite())
        .unwrap_or([w as f32 / 2.0, h as f32 / 2.0]);
    let start = |c: f32, n: usize| -> usize {
        let s = (c - side as f32 / 2.0).round().max(0.0) as usize;
        s.min(n - side)
    };
    let (x0, y0) = (start(cx, w), start(cy, h));
    let mut luma = [0f32; PATCH * PATCH];
    let (mut sum, mut sum2) = (0f64, 0f64);
    for y in 0..side {
        let row = &rgb.data[((y0 + y) * w + x0) * 3..((y0 + y) * w + x0 + side) * 3];
        for (x, px) in row.chunks_exact(3).enumerate() {
            let v = 0.299 * px[0] as f32 + 0.587 * px[1] as f32 + 0.114 * px[2] as f32;
            luma[y * side + x] = v;
            sum += v as f64;
            sum2 += (v as f64) * (v as f64);
        }
    }
    let n = (side * side) as f64;
    let mean = sum / n;
    let texture_dn = (sum2 / n - mean * mean).max(0.0).sqrt() as f32;
    // Blocks over the interior (the 3×3 mean needs a border of one pixel).
    let nb = (side - 2) / BLOCK;
    let mut blocks: Vec<f32> = Vec::with_capacity(nb * nb);
    for by in 0..nb {
        for bx in 0..nb {
            let (mut abs, mut level) = (0f32, 0f32);
            for y in 1 + by * BLOCK..1 + (by + 1) * BLOCK {
                for x in 1 + bx * BLOCK..1 + (bx + 1) * BLOCK {
                    let mut s = 0f32;
                    for r in [y - 1, y, y + 1] {
                        let i = r * side + x;
                        s += luma[i - 1] + luma[i] + luma[i + 1];
                    }
                    let p = luma[y * side + x];
                    abs += (p - s / 9.0).abs();
                    level += p;
                }
            }
            let m = level / (BLOCK * BLOCK) as f32;
            // Clipped blocks hide the noise: skip them.
            if (10.0..=245.0).contains(&m) {
                blocks.push(abs / (BLOCK * BLOCK) as f32);
            }
        }
    }
    if blocks.is_empty() {
        return None;
    }
    blocks.sort_by(f32::total_cmp);
    Some(NoiseSample {
        residual_dn: blocks[blocks.len() / 4],
        texture_dn,
    })
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
    /// Statistic: median over frames of the flat-area residual, DN.
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
    first: Option<Geometry>,
    last: Option<Geometry>,
    geometry_changes: u32,
    change_note: String,
    declared_mismatches: u32,
    declared_note: String,
}

impl StreamMonitor {
    pub fn new(declared: Option<DeclaredCamera>) -> StreamMonitor {
        StreamMonitor {
            declared,
            ..StreamMonitor::default()
        }
    }

    /// Feeds one frame: its content digest (`Frame::content_sha256`, computed once by the
    /// caller) and its noise sample ([`noise_sample`]; `None` when not computed: duplicates are
    /// judged only between frames whose sample shows texture).
    pub fn observe(&mut self, frame: &Frame<'_>, digest: &[u8; 32], noise: Option<NoiseSample>) {
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
        // Duplicates: only between frames whose sample shows texture (a covered lens gives
        // identical black frames legitimately; no sample, no judgement).
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
        if let Some(n) = noise {
            if n.texture_dn >= 2.0 && self.noise.len() < MAX_KEPT {
                self.noise.push(n.residual_dn);
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
        let noise = (enough && self.noise.len() >= MIN_FRAMES).then(|| {
            let mut v = self.noise.clone();
            let med = crate::math::median_in_place(&mut v).unwrap_or(f32::NAN);
            let missing = med < NOISE_MIN_DN;
            Heuristic::new(
                NOISE,
                if missing { 0.6 } else { 0.0 },
                med as f64,
                alloc::format!(
                    "flat-area residual {med:.2} DN (median of {} frames; below {NOISE_MIN_DN} \
                     DN = no sensor noise)",
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
                             (residual {:.2} DN)",
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

//! # liveproof-synth: SYNTHETIC captures for evaluating liveness
//!
//! No real face videos or spoof samples ship with LiveProof, so this crate **synthesises**
//! them, deterministically from a seed, from any roughly frontal face photo. Every output is
//! labelled SYNTHETIC: `capture.json` has `"synthetic": true` and a notice, and every PNG frame
//! carries a `Comment` text chunk saying so. Synthetic data shows whether a signal reacts to
//! the simulated physics; it does not measure performance on real people or real attacks.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use liveproof_synth::{generate, write_capture, Event, Kind, Params, Source, SourceOptions};
//! # let engine: std::sync::Arc<liveproof_core::engine::Engine> = unimplemented!();
//! let source = Source::from_file(&engine, "face.png".as_ref(), &SourceOptions::default())?;
//! let mut params = Params::new(Kind::BonaFide, 7, 60, 30.0);
//! params.performance.events.push(Event::blink(1.0, 0.3));
//! let capture = generate(&source, &params)?;
//! write_capture(&capture, "out/bona_fide_7".as_ref())?;
//! # Ok(()) }
//! ```
//!
//! ## Source
//! [`Source::from_photo`] runs LiveProof's own perception (BlazeFace + FaceMesh, still mode) on
//! the photo and keeps the largest face, or the face in a given box (cropped and enlarged, for
//! group photos). Its 468 landmarks (x, y pixels, z relative depth in the same scale) are the
//! 3D model of the face. Scripted head poses are **relative to the photo's pose**.
//!
//! ## Kinds and what each simulates (ranges are what the seed draws from)
//! **bona_fide** — a person in front of a phone's front camera ([`face`]):
//! - placement: inter-ocular distance (eye centres) 14–22% of the frame width (default frame
//!   480×640 portrait), eyes' midpoint at 45–55% × 38–46% of the frame, diagonal field of
//!   view 70–85° (phone front cameras; 50–62° across a portrait frame), so the face is
//!   ~4.5–8 inter-ocular distances (~28–50 cm) away;
//! - 3D head motion: the landmarks rotate about a pivot 0.6–1.0 inter-ocular distances behind
//!   the face oval, level with the upper lip; idle motion is a sum of 4 sinusoids per axis at
//!   0.08–1.5 Hz with amplitudes yaw 1–3.5°, pitch 0.8–2.5°, roll 0.5–1.5°, x/y 1–4% of the
//!   inter-ocular distance, z 0.3–1% of the distance; scripted keyframes ([`Performance`]) add
//!   yaw/pitch/roll turns;
//! - rendering: pinhole projection, piecewise-affine warp of the photo over a Delaunay mesh of
//!   the landmarks plus anchor rings (hair/neck follow, background static), z-buffered,
//!   bilinear; blink and smile as landmark displacement fields. The blink's lids occlude the
//!   eye (the opening keeps its texture while the lids move over it), and the stretched upper
//!   lid fades to the surrounding skin tone with a lash line at the margin ([`face`]);
//! - camera: photon-transfer noise (full well 1 000–6 000 e⁻ log-uniform, read noise 2–6 e⁻),
//!   exposure flicker 0.2–0.8% per frame, timestamps jittered by 0.7–2 ms RMS with 0.5–3% of
//!   slots dropped ([`camera`]).
//!
//! **print** — the photo printed and held up as a rigid sheet ([`print`]): homography only (no
//! parallax); rest tilt ±8° yaw/pitch, ±5° roll; hand motion 0.5–2.5° and 1–4% IOD at
//! 0.1–0.8 Hz plus 8–12 Hz tremor (0.03–0.15°, 0.1–0.5 px); printed face 20–65 mm between the
//! eyes (small photo print to life size, which sets pixels per mm); sheet edges in view half
//! the time (face-centred crop 1.6–2.6 IOD half-width) with a 3–15 mm white margin; ink black
//! 20–35 DN, paper white 215–235 DN, warm paper, saturation kept 60–85%, dot gain 1.0–1.2;
//! clustered-dot AM halftone at 85–200 lpi (C/M/Y at 15/75/0° + a drawn rotation) or
//! stochastic FM dots at 300–1200 dpi, i.e. 0.03–1.6 camera px; paper formation 1–3% over
//! 1–3 mm; illumination gradient 0–15%; lens blur σ 0.4–0.9 px; a synthetic room behind
//! ([`scene`]); then the camera model above. Optionally ([`Params::print_curved`], off by
//! default) the sheet is bent around a vertical cylinder of radius 60–200 mm of paper, edges
//! away from the camera, rendered by casting each pixel's ray onto it; and
//! [`Params::print_edges`] forces the sheet's edges in or out of view.
//!
//! **replay** — the bona fide sequence shown on a screen ([`replay`]): RGB stripe subpixels
//! with pitch 0.2–2.5 camera px, log-uniform (below about one camera pixel the camera cannot
//! resolve the grid, as with a modern phone or tablet at arm's length; a coarser grid is
//! resolved and may alias into moiré; grid rotated ±4°, tilted ±8°), a recording of at most
//! 720 px across scaled to the panel, stripe fill 60–90%, black-matrix fill 75–95%; display gamma 2.0–2.5, black level 0.2–1.2%, bluish white
//! point (R 0.85–0.95, G 0.95–1), ambient reflection 0.2–2%; a glare anywhere on the screen,
//! for half the seeds a soft veil (σ 8–30% of the screen width, elongation 1–4, 15–60% of
//! white), for the other half the sharp-edged image of a lamp or window (semi-axis 4–20% of
//! the width, edge blur 1–4 px, 0.2–3× white, so it may clip);
//! dark bezel (3–8% of the width, 8–30 DN) and a room beyond; each camera pixel integrates
//! the stripe layout exactly through its aperture convolved with the lens blur (σ 0.35–0.8
//! px), so a coarse grid survives into the face region and a fine one averages away; then the
//! camera model above.
//!
//! **injection** — the bona fide rendering delivered straight into the pipeline: no sensor
//! noise, timestamps exactly `round(1e9 / fps)` ns apart, no drops.
//!
//! ## Determinism
//! Same photo + same parameters + same seed ⇒ byte-identical frames. All randomness comes from
//! this crate's own xoshiro256** streams ([`rng`]), one per purpose, so a new draw in one
//! stage leaves the others unchanged. Rendering is single-threaded `f32`/`f64` arithmetic.
//!
//! ## What LiveProof's perception sees of it (measured by the tests)
//! FaceMesh re-analysis finds a face in every frame of every kind on the bundled photos. A
//! commanded ±15° yaw reads about 16° and a +10° pitch about 11.7°: the head-pose fit is a
//! similarity (orthographic) model, and the rendering's pinhole perspective at selfie
//! distance adds ~1–3° (an orthographic camera reads 15.2°). A full blink lowers FaceMesh's
//! eye aspect ratio by only ~12%: the 468-point model follows closing lids only partly
//! (MediaPipe issues #965, #1538, #1919), whatever the rendering.
//!
//! ## What is not simulated
//! Rolling shutter, motion blur, compression artefacts, Bayer demosaicing, auto-focus and
//! auto-exposure dynamics, hands and fingers holding the instrument, paper bending other than a
//! cylinder, screen
//! refresh/PWM flicker; the face keeps the photo's lighting and texture (it is a warped
//! photo, so large turns stretch it). A real phone screen at arm's length has a pitch well
//! below one camera pixel; the 1.2–2.5 px range here models a close or low-density screen.

pub mod camera;
pub mod capture;
pub mod error;
pub mod face;
pub mod geom;
pub mod imgops;
pub mod performance;
pub mod print;
pub mod replay;
pub mod rng;
pub mod scene;
pub mod source;
pub mod warp;

use serde::{Deserialize, Serialize};

pub use capture::{write_capture, Capture, CaptureMeta, FrameMeta, FrameTruth, SynthFrame, NOTICE};
pub use error::{Result, SynthError};
pub use performance::{perform_plan, Action, Event, Performance, PerformanceState};
pub use source::{Source, SourceInfo, SourceOptions};

use camera::{add_sensor_noise, SensorDraw, TimingDraw};
use capture::{frame_file, Drawn, GeneratorInfo, Layout};
use face::{FaceDraw, FaceRig};
use imgops::ImageF;
use performance::{PoseOffset, RigidMotion};
use print::{PrintDraw, PrintScene};
use replay::{ReplayDraw, ReplayScene};
use rng::{GaussTable, Rng};

/// Generator name written into every capture.
pub const GENERATOR: &str = "liveproof-synth";
/// Generator version (the crate's).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the capture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A live person (3D head motion, sensor noise, jittered timing).
    BonaFide,
    /// A printed photo held up to the camera.
    Print,
    /// The bona fide sequence replayed on a screen.
    Replay,
    /// The bona fide rendering injected without a camera (no noise, regular timing).
    Injection,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::BonaFide, Kind::Print, Kind::Replay, Kind::Injection];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BonaFide => "bona_fide",
            Kind::Print => "print",
            Kind::Replay => "replay",
            Kind::Injection => "injection",
        }
    }

    /// `"bona_fide"` or `"attack"`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::BonaFide => "bona_fide",
            _ => "attack",
        }
    }

    /// The attack's species, `None` for bona fide.
    pub fn attack_species(self) -> Option<&'static str> {
        match self {
            Kind::BonaFide => None,
            k => Some(k.as_str()),
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = SynthError;
    fn from_str(s: &str) -> Result<Kind> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                SynthError::param(
                    "kind",
                    format!("`{s}`; expected bona_fide, print, replay or injection"),
                )
            })
    }
}

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    pub kind: Kind,
    pub seed: u64,
    /// Frames to deliver (dropped slots are not counted); 1..=100 000.
    pub frames: u32,
    /// Nominal frame rate, frames per second; (0, 240].
    pub fps: f64,
    /// Frame size, pixels; 64..=4096 each and at most 8.5 megapixels (default 480×640
    /// portrait).
    pub width: u32,
    pub height: u32,
    /// Scripted events (blinks, smiles, head-pose keyframes).
    pub performance: Performance,
    /// Scale of the drawn idle head motion: 1 = as drawn, 0 = a perfectly still head.
    pub idle_motion: f64,
    /// Replay only: centre the screen glare on the face instead of where the seed puts it
    /// (its size, shape and strength stay as drawn).
    pub glare_on_face: bool,
    /// Print only: bend the sheet around a vertical cylinder of the drawn radius (60–200 mm
    /// of paper, edges away from the camera); off by default (a flat sheet).
    pub print_curved: bool,
    /// Print only: force the sheet's edges in view (`Some(true)`) or out of view
    /// (`Some(false)`, the whole photo printed) instead of the seed's draw.
    pub print_edges: Option<bool>,
}

impl Params {
    /// `frames` frames of `kind` at `fps`, 480×640, no script, idle motion as drawn.
    pub fn new(kind: Kind, seed: u64, frames: u32, fps: f64) -> Params {
        Params {
            kind,
            seed,
            frames,
            fps,
            width: 480,
            height: 640,
            performance: Performance::default(),
            idle_motion: 1.0,
            glare_on_face: false,
            print_curved: false,
            print_edges: None,
        }
    }

    /// Rejects out-of-range values with a message naming the field and the accepted range.
    pub fn validate(&self) -> Result<()> {
        if self.frames == 0 || self.frames > 100_000 {
            return Err(SynthError::param(
                "frames",
                format!("{}; expected 1..=100000", self.frames),
            ));
        }
        if !(self.fps.is_finite() && self.fps > 0.0 && self.fps <= 240.0) {
            return Err(SynthError::param(
                "fps",
                format!("{}; expected a number in (0, 240]", self.fps),
            ));
        }
        for (name, v) in [("width", self.width), ("height", self.height)] {
            if !(64..=4096).contains(&v) {
                return Err(SynthError::param(
                    name,
                    format!("{v} px; expected 64..=4096"),
                ));
            }
        }
        let area = self.width as u64 * self.height as u64;
        if area > 8_500_000 {
            return Err(SynthError::param(
                "width",
                format!(
                    "{}×{} is {area} pixels; expected at most 8 500 000 (4K UHD)",
                    self.width, self.height
                ),
            ));
        }
        if !(self.idle_motion.is_finite() && (0.0..=5.0).contains(&self.idle_motion)) {
            return Err(SynthError::param(
                "idle_motion",
                format!("{}; expected 0..=5", self.idle_motion),
            ));
        }
        self.performance.validate()
    }
}

/// Idle head motion ranges (see the crate docs): 4 sinusoids per axis at 0.08–1.5 Hz.
fn draw_idle(rng: &mut Rng) -> RigidMotion {
    RigidMotion::draw(
        rng,
        [
            (1.0, 3.5),
            (0.8, 2.5),
            (0.5, 1.5),
            (0.01, 0.04),
            (0.01, 0.04),
            (0.003, 0.01),
        ],
        4,
        0.08,
        1.5,
    )
}

/// The kind-specific renderer.
enum Renderer {
    Face(Box<FaceRig>),
    Print(Box<PrintScene>),
    Replay(Box<ReplayScene>),
}

/// Frame-by-frame generation (frames are rendered on demand; [`generate`] collects them).
pub struct Generator {
    params: Params,
    meta: CaptureMeta,
    renderer: Renderer,
    idle: Option<RigidMotion>,
    sensor: Option<(SensorDraw, [f32; 256], GaussTable)>,
    /// Idle translations are in IOD units and z in distance units: scaled with these.
    iod_px: f64,
    focal_px: f64,
    next: usize,
    buf: ImageF,
}

impl Generator {
    /// Draws every parameter and prepares the renderer (the print's sheet, the screen, the
    /// face mesh). Errors on invalid parameters.
    pub fn new(source: &Source, params: &Params) -> Result<Generator> {
        params.validate()?;
        let seed = params.seed;
        let kind = params.kind;
        let (timing, stamps) = TimingDraw::draw(
            &mut Rng::stream(seed, "timing"),
            params.fps,
            params.frames,
            kind == Kind::Injection,
        );
        let sensor = (kind != Kind::Injection).then(|| {
            let s = SensorDraw::draw(&mut Rng::stream(seed, "sensor"));
            let table = s.sigma_table();
            (s, table, GaussTable::new())
        });
        let idle_draw = draw_idle(&mut Rng::stream(seed, "idle"));
        let (mut drawn_face, mut drawn_print, mut drawn_replay) = (None, None, None);
        let mut layout = Layout {
            face: None,
            print: None,
            screen: None,
        };
        let (renderer, iod_px, focal_px) = match kind {
            Kind::BonaFide | Kind::Injection => {
                let d = FaceDraw::draw(&mut Rng::stream(seed, "face"));
                let rig = FaceRig::new(source, params.width, params.height, &d)?;
                layout.face = Some(rig.placement.clone());
                let (i, f) = (rig.placement.interocular_px, rig.placement.focal_px);
                drawn_face = Some(d);
                (Renderer::Face(Box::new(rig)), i, f)
            }
            Kind::Print => {
                let mut d = PrintDraw::draw(&mut Rng::stream(seed, "print"));
                d.curved = params.print_curved;
                if let Some(edges) = params.print_edges {
                    d.edges_in_view = edges;
                }
                let scene = PrintScene::new(source, params.width, params.height, &d)?
                    .with_performance(params.performance.clone());
                layout.print = Some(scene.layout.clone());
                drawn_print = Some(d);
                (Renderer::Print(Box::new(scene)), 0.0, 0.0)
            }
            Kind::Replay => {
                let mut d = ReplayDraw::draw(&mut Rng::stream(seed, "replay"));
                d.glare.on_face = params.glare_on_face;
                let scene = ReplayScene::new(source, params.width, params.height, &d)?;
                layout.screen = Some(scene.layout.clone());
                let iod = scene.layout.interocular_screen_px;
                let [sw, sh] = scene.layout.screen_px;
                let f = geom::Pinhole::with_diagonal_fov(sw, sh, d.content.dfov_deg).f;
                drawn_replay = Some(d);
                (Renderer::Replay(Box::new(scene)), iod, f)
            }
        };
        let idle = (kind != Kind::Print).then_some(idle_draw);
        let mut frames = Vec::with_capacity(params.frames as usize);
        let gen_partial = Generator {
            params: params.clone(),
            meta: CaptureMeta {
                synthetic: true,
                notice: NOTICE.into(),
                generator: GeneratorInfo {
                    name: GENERATOR.into(),
                    version: VERSION.into(),
                },
                label: kind.label().into(),
                kind,
                attack_species: kind.attack_species().map(str::to_string),
                seed,
                fps: params.fps,
                width: params.width,
                height: params.height,
                frames: Vec::new(),
                source: source.info.clone(),
                performance: params.performance.clone(),
                idle_motion_scale: params.idle_motion,
                drawn: Drawn {
                    face: drawn_face,
                    idle_motion: idle.clone(),
                    timing: timing.clone(),
                    sensor: sensor.as_ref().map(|s| s.0.clone()),
                    print: drawn_print,
                    replay: drawn_replay,
                },
                layout,
            },
            renderer,
            idle,
            sensor,
            iod_px,
            focal_px,
            next: 0,
            buf: ImageF::default(),
        };
        for (k, &ts) in stamps.iter().enumerate() {
            let t = gen_partial.time_of(ts);
            let truth = gen_partial.truth_at(t, timing.after_drop.contains(&(k as u32)));
            let exposure_gain = gen_partial
                .sensor
                .as_ref()
                .map_or(1.0, |s| 1.0 + frame_noise(seed, k, &s.0).0);
            frames.push(FrameMeta {
                index: k as u32,
                file: frame_file(k as u32),
                timestamp_ns: ts,
                exposure_gain,
                truth,
            });
        }
        let mut g = gen_partial;
        g.meta.frames = frames;
        Ok(g)
    }

    /// The capture's metadata (complete before any frame is rendered).
    pub fn meta(&self) -> &CaptureMeta {
        &self.meta
    }

    /// Seconds since the first slot.
    fn time_of(&self, ts: u64) -> f64 {
        ts.saturating_sub(self.meta.drawn.timing.t0_ns) as f64 * 1e-9
    }

    /// Time at which the replayed recording's displayed frame was captured.
    fn content_time(&self, t: f64) -> f64 {
        (t * self.params.fps + 1e-9).floor() / self.params.fps
    }

    /// Scripted + idle head pose of the subject at `t` (pixels for the renderer's frame).
    fn subject_pose(&self, t: f64) -> (PoseOffset, PerformanceState) {
        let s = self.params.performance.state_at(t);
        let idle = self
            .idle
            .as_ref()
            .map(|m| m.at(t).scaled(self.params.idle_motion))
            .unwrap_or_default();
        let idle = PoseOffset {
            x_px: idle.x_px * self.iod_px,
            y_px: idle.y_px * self.iod_px,
            z_px: idle.z_px * self.focal_px,
            ..idle
        };
        let scripted = PoseOffset {
            yaw_deg: s.yaw_deg,
            pitch_deg: s.pitch_deg,
            roll_deg: s.roll_deg,
            ..PoseOffset::default()
        };
        (scripted + idle, s)
    }

    fn truth_at(&self, t: f64, after_drop: bool) -> FrameTruth {
        match &self.renderer {
            Renderer::Print(p) => {
                let pose = p.pose_at(t);
                FrameTruth {
                    yaw_deg: pose.yaw_deg,
                    pitch_deg: pose.pitch_deg,
                    roll_deg: pose.roll_deg,
                    eyes_closed: 0.0,
                    smile: 0.0,
                    after_drop,
                }
            }
            r => {
                let tc = if matches!(r, Renderer::Replay(_)) {
                    self.content_time(t)
                } else {
                    t
                };
                let (pose, s) = self.subject_pose(tc);
                FrameTruth {
                    yaw_deg: pose.yaw_deg,
                    pitch_deg: pose.pitch_deg,
                    roll_deg: pose.roll_deg,
                    eyes_closed: s.eyes_closed,
                    smile: s.smile,
                    after_drop,
                }
            }
        }
    }

    /// Renders the next frame, `None` after the last.
    pub fn next_frame(&mut self) -> Option<SynthFrame> {
        let k = self.next;
        let ts = self.meta.frames.get(k)?.timestamp_ns;
        self.next += 1;
        let t = self.time_of(ts);
        let mut buf = std::mem::take(&mut self.buf);
        match &self.renderer {
            Renderer::Face(_) => {
                let (pose, s) = self.subject_pose(t);
                if let Renderer::Face(rig) = &mut self.renderer {
                    rig.render(&pose, s.eyes_closed, s.smile, &mut buf);
                }
            }
            Renderer::Print(p) => p.render(t, &mut buf),
            Renderer::Replay(_) => {
                let (pose, s) = self.subject_pose(self.content_time(t));
                if let Renderer::Replay(r) = &mut self.renderer {
                    r.render(&pose, s.eyes_closed, s.smile, t, &mut buf);
                }
            }
        }
        if let Some((draw, sigma, table)) = &self.sensor {
            let (flicker, mut rng) = frame_noise(self.params.seed, k, draw);
            add_sensor_noise(&mut buf, sigma, flicker, table, &mut rng);
        }
        let image = buf.to_rgb();
        self.buf = buf;
        Some(SynthFrame {
            image,
            timestamp_ns: ts,
        })
    }

    /// Consumes the generator, rendering every remaining frame.
    pub fn finish(mut self) -> Capture {
        let mut frames = Vec::with_capacity(self.meta.frames.len());
        while let Some(f) = self.next_frame() {
            frames.push(f);
        }
        Capture {
            frames,
            meta: self.meta,
        }
    }
}

impl Iterator for Generator {
    type Item = SynthFrame;
    fn next(&mut self) -> Option<SynthFrame> {
        self.next_frame()
    }
}

/// The noise stream of frame `k` and its exposure flicker (the stream's first draw).
fn frame_noise(seed: u64, k: usize, sensor: &SensorDraw) -> (f64, Rng) {
    let mut rng = Rng::stream(seed, &format!("noise/{k}"));
    let flicker = rng.normal() * sensor.flicker_sigma;
    (flicker, rng)
}

/// Generates a whole capture in memory.
pub fn generate(source: &Source, params: &Params) -> Result<Capture> {
    Ok(Generator::new(source, params)?.finish())
}

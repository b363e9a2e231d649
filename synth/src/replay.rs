//! Screen replay attack: a bona fide recording played on a phone or tablet held in front of
//! the camera.
//!
//! - **Content.** The bona fide rendering (3D head motion, the same script), recorded at the
//!   panel's resolution up to [`MAX_RECORDING_PX`] across (a 720p recording), without sensor
//!   noise (a compressed recording), quantised to 8 bits, and scaled to the panel by the
//!   player (nearest neighbour: each recording pixel lights a block of whole or partial
//!   screen pixels). The screen shows the video frame current at the camera's capture time.
//! - **Panel.** Each screen pixel is three vertical R, G, B stripes (each a drawn fraction of
//!   its third of the pixel wide) inside a black matrix (a drawn fraction of the pixel height
//!   lit). The pixel pitch is drawn log-uniform in 0.2–2.5 camera pixels. A real phone or
//!   tablet filling most of a selfie frame has 700–2,500 pixels across it, a pitch of
//!   0.2–0.7 camera pixels: the camera cannot resolve the grid, its pixel and lens blur average
//!   the stripes away and little or no moiré survives (the real tablet replay of
//!   `../shared/data/real-pad/` shows none). A coarse pitch (a low-density or very close
//!   screen, or a high-resolution camera) is re-sampled by the camera, and with the panel
//!   slightly rotated and tilted the stripe grid aliases into moiré.
//! - **Display transfer.** Emitted linear light per channel = white point × (black level +
//!   (1 − black level) × value^γ), γ drawn in 2.0–2.5, a bluish white point, lifted blacks.
//! - **Glass.** Ambient light diffusely reflected (a lifted floor over the whole panel) and a
//!   specular glare, drawn anywhere on the screen (sometimes over the face), shifting as the
//!   device tilts. Half the seeds draw each of two kinds ([`GlareKind`]):
//!   - a **veil**: a large soft Gaussian blob or streak, 15–60 % of the panel's white: the
//!     reflection of a broad, dim source (a light wall, an overcast sky without its frame);
//!   - a **source image**: the mirror image of a lamp or window, an ellipse with sharp edges
//!     (the camera focuses on the screen, the reflected source is metres behind it: with a
//!     ~2 mm phone aperture the blur is a few pixels), 0.2–3× the panel's white, so the
//!     brighter ones clip. Rough figures behind the range: a lamp or bright window of
//!     10³–5·10⁴ cd/m² reflected by 1–4 % (anti-reflective to bare glass) against a screen
//!     white of 300–600 cd/m²; none of this is measured here.
//! - **Device.** A dark bezel around the active area; beyond it a synthetic room.
//! - **Camera.** Each camera pixel collects the panel's light through its kernel: the pixel
//!   aperture (a box one camera pixel wide) convolved with the lens blur (a Gaussian), mapped
//!   onto the panel through the local homography and integrated exactly against the stripe
//!   and black-matrix layout (through the kernel's integral, tabulated per frame). The kernel
//!   has no side lobes, so a grid much finer than a camera pixel averages away, as it does in
//!   a real photograph of a modern screen; a coarse grid is resolved, and aliases where its
//!   harmonics pass the lens. (The box of equal variance used before had side lobes that let
//!   every grid alias.) No colour filter array is simulated.
//!   Then auto-exposure (drawn white level), sRGB encoding, sensor noise and timing jitter.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::face::{FaceDraw, FaceRig};
use crate::geom::{Mat3, Pinhole};
use crate::imgops::{quantise, srgb_to_linear, ImageF, SrgbLut};
use crate::performance::{PoseOffset, RigidMotion};
use crate::rng::Rng;
use crate::scene::SceneDraw;
use crate::source::Source;

/// What the screen's glass reflects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlareKind {
    /// A soft Gaussian veil (`sigma_frac`, `strength`).
    #[default]
    Veil,
    /// The sharp-edged image of a lamp or window (`source_radius_frac`, `source_edge_px`,
    /// `source_level`).
    Source,
}

/// The specular reflection on the screen's glass.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlareDraw {
    /// Veil or the image of a light source (each drawn with probability ½).
    #[serde(default)]
    pub kind: GlareKind,
    /// Centre, fractions of the active area's width / height; [0.1, 0.9] each.
    pub u: f64,
    pub v: f64,
    /// Long-axis σ, fraction of the active width; [0.08, 0.3].
    pub sigma_frac: f64,
    /// Long/short axis ratio; [1, 4] (1 = round blob, 4 = streak).
    pub elongation: f64,
    pub angle_deg: f64,
    /// Peak added light relative to the panel's full white (linear); [0.15, 0.6].
    pub strength: f64,
    /// Colour multipliers, low saturation: R 1, G [0.96, 1], B [0.9, 1].
    pub tint: [f64; 3],
    /// Source only: semi-major axis of the source's image, fraction of the active width;
    /// [0.04, 0.2] (a lamp 5–20° across, seen in a screen spanning about 50°). The semi-minor
    /// axis is this over `elongation`, oriented by `angle_deg`.
    #[serde(default)]
    pub source_radius_frac: f64,
    /// Source only: edge blur σ, camera pixels; [1, 4].
    #[serde(default)]
    pub source_edge_px: f64,
    /// Source only: reflected luminance relative to the panel's full white, log-uniform in
    /// [0.2, 3] (above 1 it clips).
    #[serde(default)]
    pub source_level: f64,
    /// Not drawn: set by [`crate::Params::glare_on_face`]. The glare is then centred on the
    /// face (its landmarks' centroid on the screen) instead of at (`u`, `v`); the centre used
    /// is in the layout.
    #[serde(default)]
    pub on_face: bool,
}

/// Everything the replay attack draws from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplayDraw {
    /// Framing of the replayed recording (its own camera's placement).
    pub content: FaceDraw,
    /// Screen pixel pitch, camera pixels at the rest distance; log-uniform in [0.2, 2.5]
    /// (below about 1 the camera does not resolve the grid).
    pub pitch_px: f64,
    /// Active area width, fraction of the frame width; [0.7, 0.92].
    pub active_width_frac: f64,
    /// Active area centre, fractions of the frame; [0.45, 0.55] each.
    pub centre_x_frac: f64,
    pub centre_y_frac: f64,
    /// Rest pose of the device: yaw/pitch tilt ±8°, in-plane rotation of the grid ±4°.
    pub rest_yaw_deg: f64,
    pub rest_pitch_deg: f64,
    pub grid_roll_deg: f64,
    /// Slow hand motion: rotations 0.5–2° (0.1–0.8 Hz), translations 0.002–0.01 of the width
    /// in x/y and 0.005–0.015 of the distance in z.
    pub motion: RigidMotion,
    /// Tremor (8–12 Hz): rotations 0.03–0.12°, translations 0.1–0.4 px.
    pub tremor: RigidMotion,
    /// Lit fraction of each stripe's third of the pixel width; [0.6, 0.9].
    pub fill_x: f64,
    /// Lit fraction of the pixel height (black matrix rows); [0.75, 0.95].
    pub fill_y: f64,
    /// Display gamma; [2.0, 2.5].
    pub display_gamma: f64,
    /// Black level, linear fraction of white; [0.002, 0.012].
    pub black_level: f64,
    /// Diffuse ambient reflection of the glass, linear output level; [0.002, 0.02].
    pub ambient: f64,
    /// White point multipliers (bluish): R [0.85, 0.95], G [0.95, 1], B 1.
    pub white_point: [f64; 3],
    pub glare: GlareDraw,
    /// Bezel width, fraction of the active width; [0.03, 0.08]; and its output level, DN [8, 30].
    pub bezel_frac: f64,
    pub bezel_dn: f64,
    /// Camera diagonal field of view, degrees; [70, 85].
    pub dfov_deg: f64,
    /// Auto-exposure: linear output level of the panel's full white; [0.75, 0.95].
    pub exposure_white: f64,
    /// Lens blur σ, camera pixels; [0.35, 0.8].
    pub optics_blur_px: f64,
    pub scene: SceneDraw,
}

impl ReplayDraw {
    pub fn draw(rng: &mut Rng) -> ReplayDraw {
        let content = FaceDraw::draw(rng);
        let mut d = ReplayDraw {
            content,
            // One draw, as before (the range changed: the other draws keep their values).
            pitch_px: rng.log_range(MIN_PITCH_PX, 2.5),
            active_width_frac: rng.range(0.7, 0.92),
            centre_x_frac: rng.range(0.45, 0.55),
            centre_y_frac: rng.range(0.45, 0.55),
            rest_yaw_deg: rng.range(-8.0, 8.0),
            rest_pitch_deg: rng.range(-8.0, 8.0),
            grid_roll_deg: rng.range(-4.0, 4.0),
            motion: RigidMotion::draw(
                rng,
                [
                    (0.5, 2.0),
                    (0.5, 2.0),
                    (0.5, 2.0),
                    (0.002, 0.01),
                    (0.002, 0.01),
                    (0.005, 0.015),
                ],
                3,
                0.1,
                0.8,
            ),
            tremor: RigidMotion::draw(
                rng,
                [
                    (0.03, 0.12),
                    (0.03, 0.12),
                    (0.03, 0.12),
                    (0.1, 0.4),
                    (0.1, 0.4),
                    (0.1, 0.4),
                ],
                2,
                8.0,
                12.0,
            ),
            fill_x: rng.range(0.6, 0.9),
            fill_y: rng.range(0.75, 0.95),
            display_gamma: rng.range(2.0, 2.5),
            black_level: rng.range(0.002, 0.012),
            ambient: rng.range(0.002, 0.02),
            white_point: [rng.range(0.85, 0.95), rng.range(0.95, 1.0), 1.0],
            glare: GlareDraw {
                u: rng.range(0.1, 0.9),
                v: rng.range(0.1, 0.9),
                sigma_frac: rng.range(0.08, 0.3),
                elongation: rng.range(1.0, 4.0),
                angle_deg: rng.range(0.0, 180.0),
                strength: rng.range(0.15, 0.6),
                tint: [1.0, rng.range(0.96, 1.0), rng.range(0.9, 1.0)],
                on_face: false,
                kind: GlareKind::Veil,
                source_radius_frac: 0.0,
                source_edge_px: 0.0,
                source_level: 0.0,
            },
            bezel_frac: rng.range(0.03, 0.08),
            bezel_dn: rng.range(8.0, 30.0),
            dfov_deg: rng.range(70.0, 85.0),
            exposure_white: rng.range(0.75, 0.95),
            optics_blur_px: rng.range(0.35, 0.8),
            scene: SceneDraw::draw(rng),
        };
        // Drawn last, so that the other draws keep their values from earlier versions.
        if rng.chance(0.5) {
            d.glare.kind = GlareKind::Source;
        }
        d.glare.source_radius_frac = rng.range(0.04, 0.2);
        d.glare.source_edge_px = rng.range(1.0, 4.0);
        d.glare.source_level = rng.log_range(0.2, 3.0);
        d
    }
}

/// Finest screen pitch drawn, camera pixels: a 2,200-pixel panel across 92 % of a 480-pixel
/// frame.
pub const MIN_PITCH_PX: f64 = 0.2;

/// Width of the replayed recording at most, pixels (a 720p video); a panel with more pixels
/// across shows it scaled up.
pub const MAX_RECORDING_PX: usize = 720;

/// Measured layout of the screen, for the metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScreenLayout {
    /// Panel resolution of the active area, screen pixels.
    pub screen_px: [u32; 2],
    /// Resolution of the replayed recording, pixels (the panel's, up to
    /// [`MAX_RECORDING_PX`] across).
    #[serde(default)]
    pub recording_px: [u32; 2],
    /// Inter-ocular distance of the face on the screen, screen pixels and camera pixels at rest.
    pub interocular_screen_px: f64,
    pub interocular_camera_px: f64,
    /// Whether the glare's centre lies within 1.5 IOD of the face centre at rest.
    pub glare_over_face: bool,
    /// Glare centre used, fractions of the active area (differs from the drawn one when
    /// forced onto the face).
    pub glare_centre: [f64; 2],
}

/// The replay attack's renderer.
pub struct ReplayScene {
    width: usize,
    height: usize,
    cam: Pinhole,
    rig: FaceRig,
    /// Panel size, screen pixels.
    nx: usize,
    ny: usize,
    /// Recording size, pixels, and screen pixels per recording pixel.
    cw: usize,
    ch: usize,
    scale: f64,
    t0: [f64; 3],
    rest: PoseOffset,
    bg_lin: Vec<f32>,
    lut: SrgbLut,
    /// Display transfer per channel and byte: linear emitted light (white point applied).
    display: [[f32; 256]; 3],
    bezel_lin: f32,
    footprint_px: f64,
    draw: ReplayDraw,
    content: ImageF,
    emitted: Vec<f32>,
    pub layout: ScreenLayout,
}

impl ReplayScene {
    pub fn new(source: &Source, width: u32, height: u32, draw: &ReplayDraw) -> Result<ReplayScene> {
        let (w, h) = (width as f64, height as f64);
        let active_w = draw.active_width_frac * w;
        let nx = (active_w / draw.pitch_px).round().max(16.0) as usize;
        // The recording's aspect ratio is the camera frame's.
        let ny = ((nx as f64) * h / w).round().max(16.0) as usize;
        if draw.pitch_px.is_nan() || draw.pitch_px < MIN_PITCH_PX {
            return Err(SynthError::param(
                "replay draw",
                format!(
                    "pitch {} camera px; expected at least {MIN_PITCH_PX}",
                    draw.pitch_px
                ),
            ));
        }
        let cw = nx.min(MAX_RECORDING_PX);
        let ch = ((cw as f64) * h / w).round().max(16.0) as usize;
        let scale = nx as f64 / cw as f64;
        let rig = FaceRig::new(source, cw as u32, ch as u32, &draw.content)?;
        let cam = Pinhole::with_diagonal_fov(width, height, draw.dfov_deg);
        let t0 = cam.unproject(draw.centre_x_frac * w, draw.centre_y_frac * h, cam.f);
        let rest = PoseOffset {
            yaw_deg: draw.rest_yaw_deg,
            pitch_deg: draw.rest_pitch_deg,
            roll_deg: draw.grid_roll_deg,
            ..PoseOffset::default()
        };
        let lut = SrgbLut::new();
        let bg = draw.scene.render(width as usize, height as usize);
        let bg_lin = bg.data.iter().map(|&v| lut.lin(v)).collect();
        let mut display = [[0.0f32; 256]; 3];
        for (c, table) in display.iter_mut().enumerate() {
            for (v, e) in table.iter_mut().enumerate() {
                let x = (v as f64 / 255.0).powf(draw.display_gamma);
                *e = (draw.white_point[c] * (draw.black_level + (1.0 - draw.black_level) * x))
                    as f32;
            }
        }
        // Face centre on the screen vs the glare centre (screen pixels).
        let (fx, fy) = rig.rest_landmarks().fold((0.0, 0.0), |a, p| {
            (a.0 + p.0 * scale / 468.0, a.1 + p.1 * scale / 468.0)
        });
        let iod_s = rig.interocular_px() * scale;
        let mut draw = draw.clone();
        if draw.glare.on_face {
            draw.glare.u = fx / nx as f64;
            draw.glare.v = fy / ny as f64;
        }
        let draw = &draw;
        let (gx, gy) = (draw.glare.u * nx as f64, draw.glare.v * ny as f64);
        let glare_over_face = ((gx - fx).powi(2) + (gy - fy).powi(2)).sqrt() < 1.5 * iod_s;
        if !(draw.fill_x > 0.0 && draw.fill_y > 0.0) {
            return Err(SynthError::param(
                "replay draw",
                "fill factors must be positive",
            ));
        }
        Ok(ReplayScene {
            width: width as usize,
            height: height as usize,
            cam,
            rig,
            nx,
            ny,
            cw,
            ch,
            scale,
            t0,
            rest,
            bg_lin,
            lut,
            display,
            bezel_lin: srgb_to_linear((draw.bezel_dn / 255.0) as f32),
            footprint_px: (1.0 + 12.0 * draw.optics_blur_px.powi(2)).sqrt(),
            draw: draw.clone(),
            content: ImageF::default(),
            emitted: Vec::new(),
            layout: ScreenLayout {
                screen_px: [nx as u32, ny as u32],
                recording_px: [cw as u32, ch as u32],
                interocular_screen_px: iod_s,
                interocular_camera_px: iod_s * draw.pitch_px,
                glare_over_face,
                glare_centre: [draw.glare.u, draw.glare.v],
            },
        })
    }

    /// The recording column the player shows on screen column `i` (nearest neighbour).
    fn recording_col(&self, i: usize) -> usize {
        (((i as f64 + 0.5) / self.scale) as usize).min(self.cw - 1)
    }

    /// The recording row the player shows on screen row `j`.
    fn recording_row(&self, j: usize) -> usize {
        (((j as f64 + 0.5) / self.scale) as usize).min(self.ch - 1)
    }

    /// The device's pose offset at `t` seconds (rest + hand motion + tremor).
    fn pose_at(&self, t: f64) -> PoseOffset {
        let m = self.draw.motion.at(t);
        let m = PoseOffset {
            x_px: m.x_px * self.width as f64,
            y_px: m.y_px * self.width as f64,
            z_px: m.z_px * self.cam.f,
            ..m
        };
        self.rest + m + self.draw.tremor.at(t)
    }

    /// Camera pixels → screen pixel coordinates (pixel `i` spans `[i, i + 1)`).
    fn inverse_map(&self, pose: &PoseOffset) -> Option<Mat3> {
        let h = pose.plane_homography(&self.cam, self.t0);
        let p = self.draw.pitch_px;
        let to_screen = Mat3([
            [1.0 / p, 0.0, 0.5 * self.nx as f64],
            [0.0, 1.0 / p, 0.5 * self.ny as f64],
            [0.0, 0.0, 1.0],
        ]);
        Some(to_screen.mul(&h.inverse()?))
    }

    /// Renders the camera frame at `t` seconds; the screen shows the recording's frame
    /// `⌊content_t × fps⌋` where `content` gives the scripted subject state for that instant.
    /// `content_pose`'s translations are in screen pixels (the layout's units); the recording
    /// is rendered at its own resolution.
    pub fn render(
        &mut self,
        content_pose: &PoseOffset,
        eyes_closed: f64,
        smile: f64,
        t: f64,
        out: &mut ImageF,
    ) {
        let (w, h) = (self.width, self.height);
        *out = ImageF::new(w, h, 3);
        // The recording's frame, quantised to 8 bits, through the display transfer.
        let mut content = std::mem::take(&mut self.content);
        let k = 1.0 / self.scale;
        let recorded_pose = PoseOffset {
            x_px: content_pose.x_px * k,
            y_px: content_pose.y_px * k,
            z_px: content_pose.z_px * k,
            ..*content_pose
        };
        self.rig
            .render(&recorded_pose, eyes_closed, smile, &mut content);
        let (nx, ny) = (self.nx, self.ny);
        let (cw, ch) = (self.cw, self.ch);
        self.emitted.clear();
        self.emitted.resize(cw * ch * 3, 0.0);
        for (i, v) in content.data.iter().enumerate() {
            self.emitted[i] = self.display[i % 3][quantise(*v) as usize];
        }
        self.content = content;

        let pose = self.pose_at(t);
        let Some(m) = self.inverse_map(&pose) else {
            return;
        };
        // Footprint on the panel (screen px), from the local Jacobian at the screen centre.
        let (cx, cy) = match m
            .inverse()
            .and_then(|mi| mi.project(0.5 * nx as f64, 0.5 * ny as f64))
        {
            Some(c) => c,
            None => return,
        };
        let jac = |dx: f64, dy: f64| -> (f64, f64) {
            let a = m.project(cx + dx, cy + dy).unwrap_or((0.0, 0.0));
            let b = m.project(cx - dx, cy - dy).unwrap_or((0.0, 0.0));
            ((a.0 - b.0) * 0.5, (a.1 - b.1) * 0.5)
        };
        let (jx, jy) = (jac(1.0, 0.0), jac(0.0, 1.0));
        let fp = self.footprint_px;
        // Screen pixels per camera pixel along x and y.
        let (sx_per_px, sy_per_px) = (
            (jx.0 * jx.0 + jy.0 * jy.0).sqrt(),
            (jx.1 * jx.1 + jy.1 * jy.1).sqrt(),
        );
        let (wx, wy) = (fp * sx_per_px, fp * sy_per_px);
        let blur = self.draw.optics_blur_px;
        let kx = CameraKernel::new(sx_per_px, blur * sx_per_px);
        let ky = CameraKernel::new(sy_per_px, blur * sy_per_px);
        let d = &self.draw;
        let exposure = (d.exposure_white / (d.fill_x / 3.0 * d.fill_y)) as f32;
        let bezel = d.bezel_frac * nx as f64;
        // Glare on the glass, shifting with the device's tilt (reflection angle doubles).
        let g = &d.glare;
        let dyaw = (pose.yaw_deg - self.rest.yaw_deg).to_radians();
        let dpitch = (pose.pitch_deg - self.rest.pitch_deg).to_radians();
        let screen_w_world = nx as f64 * d.pitch_px;
        let gcx = (g.u - 2.0 * dyaw * self.cam.f / screen_w_world) * nx as f64;
        let gcy = (g.v + 2.0 * dpitch * self.cam.f / screen_w_world) * ny as f64;
        let source = g.kind == GlareKind::Source;
        let s_long = if source {
            g.source_radius_frac
        } else {
            g.sigma_frac
        } * nx as f64;
        let s_short = s_long / g.elongation;
        // Edge blur in screen pixels (the camera sees `pitch_px` camera pixels per screen pixel).
        let edge = (g.source_edge_px / d.pitch_px).max(0.25);
        let (ga_s, ga_c) = g.angle_deg.to_radians().sin_cos();
        let white_lin = d.exposure_white;
        let level = if source { g.source_level } else { g.strength };
        let glare_rgb = [
            level * white_lin * g.tint[0],
            level * white_lin * g.tint[1],
            level * white_lin * g.tint[2],
        ];

        let mask = StripeMask {
            fill_x: d.fill_x,
            fill_y: d.fill_y,
        };
        let mm = m.0;
        // Per camera pixel: the lit stripe area of each recording column (per channel) and
        // row inside the footprint; reused buffers.
        let mut cols: Vec<[f64; 3]> = Vec::new();
        let mut rows: Vec<f64> = Vec::new();
        for y in 0..h {
            let yf = y as f64;
            for x in 0..w {
                let xf = x as f64;
                let i = y * w + x;
                let den = mm[2][0] * xf + mm[2][1] * yf + mm[2][2];
                let bg = [
                    self.bg_lin[3 * i],
                    self.bg_lin[3 * i + 1],
                    self.bg_lin[3 * i + 2],
                ];
                let mut lin = bg;
                if den.abs() > 1e-12 {
                    let sx = (mm[0][0] * xf + mm[0][1] * yf + mm[0][2]) / den;
                    let sy = (mm[1][0] * xf + mm[1][1] * yf + mm[1][2]) / den;
                    let (x0, x1) = (sx - 0.5 * wx, sx + 0.5 * wx);
                    let (y0, y1) = (sy - 0.5 * wy, sy + 0.5 * wy);
                    let cov_dev = overlap(x0, x1, -bezel, nx as f64 + bezel) / wx
                        * overlap(y0, y1, -bezel, ny as f64 + bezel)
                        / wy;
                    if cov_dev > 0.0 {
                        let cov_act = overlap(x0, x1, 0.0, nx as f64) / wx
                            * overlap(y0, y1, 0.0, ny as f64)
                            / wy;
                        let mut e = [0.0f64; 3];
                        if cov_act > 0.0 {
                            // The camera pixel's kernel over the panel, clipped to the active
                            // area: the lit stripe light it collects from each screen pixel,
                            // summed per recording pixel that the player shows there.
                            let i0 = (sx - kx.half_support).floor().max(0.0) as usize;
                            let i1 = ((sx + kx.half_support).ceil() as usize).min(nx);
                            let j0 = (sy - ky.half_support).floor().max(0.0) as usize;
                            let j1 = ((sy + ky.half_support).ceil() as usize).min(ny);
                            let (q0, r0) = (self.recording_col(i0), self.recording_row(j0));
                            let (q1, r1) = (
                                self.recording_col(i1.max(i0 + 1) - 1),
                                self.recording_row(j1.max(j0 + 1) - 1),
                            );
                            cols.clear();
                            cols.resize(q1 + 1 - q0, [0.0; 3]);
                            for i in i0..i1 {
                                let w = mask.stripes_under(&kx, i as f64 - sx);
                                let col = &mut cols[self.recording_col(i) - q0];
                                for c in 0..3 {
                                    col[c] += w[c];
                                }
                            }
                            rows.clear();
                            rows.resize(r1 + 1 - r0, 0.0);
                            for j in j0..j1 {
                                rows[self.recording_row(j) - r0] +=
                                    mask.rows_under(&ky, j as f64 - sy);
                            }
                            for (r, oy) in (r0..=r1).zip(&rows) {
                                if *oy == 0.0 {
                                    continue;
                                }
                                for (q, ox) in (q0..=q1).zip(&cols) {
                                    let p = 3 * (r * cw + q);
                                    for c in 0..3 {
                                        e[c] += self.emitted[p + c] as f64 * ox[c] * oy;
                                    }
                                }
                            }
                            for ec in e.iter_mut() {
                                *ec *= exposure as f64;
                            }
                        }
                        let surface = cov_act * d.ambient + (1.0 - cov_act) * self.bezel_lin as f64;
                        let (dx, dy) = (sx - gcx, sy - gcy);
                        let a = (dx * ga_c + dy * ga_s) / s_long;
                        let b = (-dx * ga_s + dy * ga_c) / s_short;
                        let gl = if source {
                            // Distance to the ellipse's edge, to first order: (ρ − 1) / |∇ρ|,
                            // then a logistic edge of scale `edge`.
                            let rho = (a * a + b * b).sqrt().max(1e-9);
                            let grad = ((a / s_long).powi(2) + (b / s_short).powi(2)).sqrt() / rho;
                            let dist = (rho - 1.0) / grad.max(1e-12);
                            1.0 / (1.0 + (1.7 * dist / edge).exp())
                        } else {
                            (-0.5 * (a * a + b * b)).exp()
                        };
                        for c in 0..3 {
                            let dev = e[c] + surface + gl * glare_rgb[c];
                            lin[c] = (cov_dev * dev + (1.0 - cov_dev) * bg[c] as f64) as f32;
                        }
                    }
                }
                for (c, l) in lin.iter().enumerate() {
                    out.data[3 * i + c] = self.lut.enc(*l);
                }
            }
        }
    }
}

/// The panel's lit layout: in each screen pixel, three vertical stripes (R, G, B), each
/// `fill_x` of its third of the width and centred in it, over the `fill_y` of the height
/// left by the black matrix (centred).
struct StripeMask {
    fill_x: f64,
    fill_y: f64,
}

impl StripeMask {
    /// Start of colour `c`'s stripe within its pixel, and the stripe width (pixel widths).
    fn stripe(&self, c: usize) -> (f64, f64) {
        (
            (c as f64 + 0.5 * (1.0 - self.fill_x)) / 3.0,
            self.fill_x / 3.0,
        )
    }

    /// Start of the lit rows within a pixel, and their height.
    fn lit_rows(&self) -> (f64, f64) {
        (0.5 * (1.0 - self.fill_y), self.fill_y)
    }

    /// Light of each colour's stripe in the screen pixel whose left edge lies `offset` screen
    /// pixels from the kernel's centre, weighted by the kernel.
    fn stripes_under(&self, k: &CameraKernel, offset: f64) -> [f64; 3] {
        [0, 1, 2].map(|c| {
            let (s0, w) = self.stripe(c);
            k.cdf(offset + s0 + w) - k.cdf(offset + s0)
        })
    }

    /// Lit height of the screen pixel row whose top edge lies `offset` from the kernel's
    /// centre, weighted by the kernel.
    fn rows_under(&self, k: &CameraKernel, offset: f64) -> f64 {
        let (t0, h) = self.lit_rows();
        k.cdf(offset + t0 + h) - k.cdf(offset + t0)
    }
}

/// What one camera pixel collects along one axis of the panel, in screen pixels: its
/// aperture (a box one camera pixel wide) convolved with the lens blur (a Gaussian). Unlike
/// a single box of the same variance, this kernel has no side lobes, so a stripe grid much
/// finer than a camera pixel is averaged away as a real camera averages it, while a grid
/// near or above a camera pixel still aliases.
struct CameraKernel {
    /// Beyond this distance from the centre the kernel's weight is below 1e-6.
    half_support: f64,
    /// The kernel's integral sampled at `KERNEL_TABLE` + 1 points over ±`half_support`.
    table: Vec<f64>,
    per_step: f64,
}

/// Intervals of the tabulated kernel integral (linear interpolation between samples: the
/// error is far below one 8-bit level).
const KERNEL_TABLE: usize = 4096;

impl CameraKernel {
    /// A box `width` screen pixels wide convolved with a Gaussian of `sigma` screen pixels.
    fn new(width: f64, sigma: f64) -> CameraKernel {
        let s = sigma.max(1e-9);
        let half_support = 0.5 * width + 5.0 * s;
        // The integral from −∞ to u: (G(u + W/2) − G(u − W/2)) / W with
        // G(v) = v Φ(v/σ) + σ φ(v/σ), the integral of the Gaussian's CDF.
        let g = |v: f64| {
            let z = v / s;
            v * 0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
                + s * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
        };
        let step = 2.0 * half_support / KERNEL_TABLE as f64;
        let table = (0..=KERNEL_TABLE)
            .map(|k| {
                let u = -half_support + k as f64 * step;
                ((g(u + 0.5 * width) - g(u - 0.5 * width)) / width).clamp(0.0, 1.0)
            })
            .collect();
        CameraKernel {
            half_support,
            table,
            per_step: 1.0 / step,
        }
    }

    /// The kernel's integral from −∞ to `u` (screen pixels from its centre).
    fn cdf(&self, u: f64) -> f64 {
        let x = (u + self.half_support) * self.per_step;
        if x <= 0.0 {
            return 0.0;
        }
        if x >= KERNEL_TABLE as f64 {
            return 1.0;
        }
        let k = x as usize;
        let f = x - k as f64;
        self.table[k] + f * (self.table[k + 1] - self.table[k])
    }
}

/// Length of the overlap of `[a0, a1]` and `[b0, b1]`.
#[inline]
fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_kernel_integrates_to_one_and_averages_a_fine_grid() {
        let k = CameraKernel::new(3.0, 2.0);
        assert!(k.cdf(-k.half_support) < 1e-6 && k.cdf(k.half_support) > 1.0 - 1e-6);
        assert!((k.cdf(0.0) - 0.5).abs() < 1e-9);
        // Symmetric, and a box of width 3 alone would put 1/3 within ±0.5 of the centre; the
        // blur spreads it.
        assert!((k.cdf(1.3) + k.cdf(-1.3) - 1.0).abs() < 1e-6);
        let central = k.cdf(0.5) - k.cdf(-0.5);
        assert!(central > 0.1 && central < 1.0 / 3.0, "{central}");
        let mask = StripeMask {
            fill_x: 0.7,
            fill_y: 0.85,
        };
        // Far finer than the kernel: each colour collects its lit fraction wherever the
        // kernel sits (no moiré); rows likewise.
        for centre in [0.0, 0.13, 0.5, 0.77] {
            let mut sum = [0.0; 3];
            let mut rows = 0.0;
            for i in -40..40 {
                let w = mask.stripes_under(&k, i as f64 - centre);
                for c in 0..3 {
                    sum[c] += w[c];
                }
                rows += mask.rows_under(&k, i as f64 - centre);
            }
            for v in sum {
                assert!((v - 0.7 / 3.0).abs() < 1e-6, "{centre}: {sum:?}");
            }
            assert!((rows - 0.85).abs() < 1e-6, "{centre}: {rows}");
        }
        // A kernel narrower than a pixel resolves the stripes: what it collects depends on
        // where it sits.
        let k = CameraKernel::new(0.5, 0.1);
        let at = |centre: f64| -> f64 {
            (-5..5)
                .map(|i| mask.stripes_under(&k, i as f64 - centre)[0])
                .sum()
        };
        assert!(
            (at(0.02) - at(0.5)).abs() > 0.05,
            "{} {}",
            at(0.02),
            at(0.5)
        );
    }
}

//! Print attack: the photo printed on a sheet of paper and held in front of the camera.
//!
//! The sheet is a **rigid plane**: every frame is the printed sheet through one homography
//! (pinhole camera × the sheet's 3D pose), so the face on it has no parallax of its own.
//!
//! Set-up (once per capture) builds the sheet as a texture of linear-light reflectance at
//! [`TEXELS_PER_PX`] texels per camera pixel (at the sheet's rest distance; 1 above 1.3
//! megapixel frames, to bound memory):
//! - **Layout.** The photo (whole, or a face-centred crop when the sheet's edges are to be in
//!   view) printed so that the face has the drawn camera-frame size, inside a white margin.
//! - **Ink.** Saturation reduced; photo tone → ink coverage per channel (C/M/Y against R/G/B)
//!   with a dot-gain exponent; paper white and ink black at the drawn output levels (reduced
//!   dynamic range), paper slightly warm.
//! - **Scale.** The printed face's inter-ocular distance on paper (20–65 mm: a small photo
//!   print up to life size) fixes camera pixels per mm, hence the halftone period and the
//!   margin in pixels. At these scales a halftone is 0.1–1.6 camera pixels: mostly averaged
//!   away by the lens and pixels, as in real recaptures.
//! - **Halftone.** Clustered-dot AM screens (85–200 lpi) at the classic angles (C 15°, M 75°,
//!   Y 0°, plus a drawn rotation), each texel inked by the exact fraction of its area under
//!   the dot (tabulated, so dots and holes smaller than a texel keep their area); or
//!   stochastic FM dots (300–1200 dpi, inkjets), as binomial grain of the dots in each texel.
//! - **Paper.** Fibre texture (noise smeared along a drawn direction) and fine grain, both
//!   multiplicative; a gentle illumination gradient across the sheet.
//! - **Optics.** The texture is blurred by the camera's lens PSF plus its pixel aperture
//!   (σ² = σ_lens² + 1/12 px²), so each frame needs one bilinear sample per pixel and the
//!   halftone is attenuated before sampling, as a real lens and sensor do; what survives
//!   aliases into moiré as it would.
//!
//! Per frame: sheet pose = drawn rest tilt + slow hand motion + 8–12 Hz tremor + the
//! performance's head rotations (an attacker acting out a challenge turns and tilts the sheet
//! about the printed eyes' midpoint: a flat face reaches any yaw or pitch); each pixel is
//! mapped onto the sheet by the inverse homography and composited (alpha at the sheet edge)
//! over a synthetic room ([`crate::scene`]) in linear light; then sensor noise and jitter as
//! for every camera kind.

use liveproof_core::mesh::idx;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::geom::{Mat3, Pinhole};
use crate::imgops::{blur, resize, srgb_to_linear, ImageF, SrgbLut};
use crate::performance::{Performance, PoseOffset, RigidMotion};
use crate::rng::Rng;
use crate::scene::SceneDraw;
use crate::source::{eye_centre, Source};

/// Sheet texels per camera pixel at the sheet's rest distance.
pub const TEXELS_PER_PX: f64 = 2.0;

/// The halftone process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Halftone {
    /// Amplitude-modulated rotated dot screens (laser and offset printers).
    ClusteredDot,
    /// Frequency-modulated random dots (inkjets).
    Stochastic,
}

/// Everything the print attack draws from the seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrintDraw {
    /// Printed face's inter-ocular distance in the camera frame, fraction of the width; [0.14, 0.22].
    pub interocular_frac: f64,
    /// Where the printed eyes' midpoint sits at rest, fractions of width/height; [0.45, 0.55] × [0.38, 0.46].
    pub eyes_x_frac: f64,
    pub eyes_y_frac: f64,
    /// Camera diagonal field of view, degrees; [70, 85].
    pub dfov_deg: f64,
    /// Inter-ocular distance of the face on the paper, mm; [20, 65] (a small photo print up
    /// to life size). Sets the print's physical scale: camera px per mm at rest =
    /// camera IOD / this.
    pub printed_iod_mm: f64,
    /// The sheet's rest tilt, degrees (yaw, pitch ±8, roll ±5).
    pub rest_yaw_deg: f64,
    pub rest_pitch_deg: f64,
    pub rest_roll_deg: f64,
    /// Slow hand motion (0.1–0.8 Hz): rotations 0.5–2.5°, translations 0.01–0.04 IOD in x/y,
    /// 0.005–0.02 of the distance in z.
    pub motion: RigidMotion,
    /// Physiological tremor (8–12 Hz): rotations 0.03–0.15°, translations 0.1–0.5 px.
    pub tremor: RigidMotion,
    /// Whether the layout puts the sheet's edges in view (probability 0.5): a face-centred
    /// crop of half-width 1.6–2.6 IOD (height 1.25–1.45× that); otherwise the whole photo.
    pub edges_in_view: bool,
    pub crop_half_width_iod: f64,
    pub crop_aspect: f64,
    /// White margin around the print, mm; [3, 15].
    pub margin_mm: f64,
    /// Output level of solid ink and of bare paper, DN; [20, 35] and [215, 235].
    pub ink_black_dn: f64,
    pub paper_white_dn: f64,
    /// Paper tint multipliers (R = 1; G 0.985–0.995; B 0.94–0.98: warm).
    pub paper_tint: [f64; 3],
    /// Saturation kept by the inks; [0.6, 0.85].
    pub saturation: f64,
    /// Dot gain: coverage exponent on linear tone; [1.0, 1.2] (> 1 darkens mid-tones).
    pub dot_gain: f64,
    pub halftone: Halftone,
    /// AM screen ruling, lines per inch; [85, 200] (newspaper to magazine).
    pub screen_lpi: f64,
    /// FM (inkjet) addressable resolution, dots per inch; [300, 1200].
    pub dots_dpi: f64,
    /// Rotation of the whole screen set, degrees; [0, 90).
    pub screen_angle_deg: f64,
    /// Paper formation ("cloudiness") amplitude (relative; [0.01, 0.03]), fibre-clump length
    /// (mm; [1, 3]) and direction.
    pub fibre_amp: f64,
    pub fibre_len_mm: f64,
    pub fibre_deg: f64,
    /// Illumination gradient across the sheet, relative; [0, 0.15], and its direction.
    pub light_gradient: f64,
    pub light_gradient_deg: f64,
    /// Lens blur σ, camera pixels; [0.4, 0.9].
    pub optics_blur_px: f64,
    pub scene: SceneDraw,
    /// Hash key of the paper texture and stochastic dots.
    pub texture_key: u64,
    /// Radius of the cylinder a curved sheet is bent around (vertical axis, the sheet's
    /// edges bent away from the camera), mm of paper; [60, 200]. Drawn for every print (last,
    /// so the other draws keep their values) but used only when `curved` is set.
    #[serde(default)]
    pub curve_radius_mm: f64,
    /// Whether the sheet is bent (set by [`crate::Params::print_curved`]; off by default).
    #[serde(default)]
    pub curved: bool,
}

impl PrintDraw {
    pub fn draw(rng: &mut Rng) -> PrintDraw {
        let interocular_frac = rng.range(0.14, 0.22);
        let eyes_x_frac = rng.range(0.45, 0.55);
        let eyes_y_frac = rng.range(0.38, 0.46);
        let dfov_deg = rng.range(70.0, 85.0);
        let rest_yaw_deg = rng.range(-8.0, 8.0);
        let rest_pitch_deg = rng.range(-8.0, 8.0);
        let rest_roll_deg = rng.range(-5.0, 5.0);
        // Slow motion: x/y amplitudes in inter-ocular distances and z in fractions of the
        // sheet's distance (scaled to pixels by `PrintScene::pose_at`).
        let motion = RigidMotion::draw(
            rng,
            [
                (0.5, 2.5),
                (0.5, 2.5),
                (0.5, 2.5),
                (0.01, 0.04),
                (0.01, 0.04),
                (0.005, 0.02),
            ],
            3,
            0.1,
            0.8,
        );
        let tremor = RigidMotion::draw(
            rng,
            [
                (0.03, 0.15),
                (0.03, 0.15),
                (0.03, 0.15),
                (0.1, 0.5),
                (0.1, 0.5),
                (0.1, 0.5),
            ],
            2,
            8.0,
            12.0,
        );
        let edges_in_view = rng.chance(0.5);
        PrintDraw {
            interocular_frac,
            eyes_x_frac,
            eyes_y_frac,
            dfov_deg,
            printed_iod_mm: rng.range(20.0, 65.0),
            rest_yaw_deg,
            rest_pitch_deg,
            rest_roll_deg,
            motion,
            tremor,
            edges_in_view,
            crop_half_width_iod: rng.range(1.6, 2.6),
            crop_aspect: rng.range(1.25, 1.45),
            margin_mm: rng.range(3.0, 15.0),
            ink_black_dn: rng.range(20.0, 35.0),
            paper_white_dn: rng.range(215.0, 235.0),
            paper_tint: [1.0, rng.range(0.985, 0.995), rng.range(0.94, 0.98)],
            saturation: rng.range(0.6, 0.85),
            dot_gain: rng.range(1.0, 1.2),
            halftone: if rng.chance(0.5) {
                Halftone::ClusteredDot
            } else {
                Halftone::Stochastic
            },
            screen_lpi: rng.range(85.0, 200.0),
            dots_dpi: rng.range(300.0, 1200.0),
            screen_angle_deg: rng.range(0.0, 90.0),
            fibre_amp: rng.range(0.01, 0.03),
            fibre_len_mm: rng.range(1.0, 3.0),
            fibre_deg: rng.range(0.0, 180.0),
            light_gradient: rng.range(0.0, 0.15),
            light_gradient_deg: rng.range(0.0, 360.0),
            optics_blur_px: rng.range(0.4, 0.9),
            scene: SceneDraw::draw(rng),
            texture_key: rng.next_u64(),
            // Late additions: drawn after everything above so existing seeds keep their values.
            curve_radius_mm: rng.range(60.0, 200.0),
            curved: false,
        }
    }
}

/// Texels per camera pixel for a frame size: [`TEXELS_PER_PX`], or 1 above 1.3 megapixels.
fn texels_per_px(width: u32, height: u32) -> f64 {
    if width as u64 * height as u64 > 1_300_000 {
        1.0
    } else {
        TEXELS_PER_PX
    }
}

/// Measured layout of the print, for the metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrintLayout {
    /// Printed photo region `[x, y, w, h]` in source-photo pixels.
    pub printed_region: [f64; 4],
    /// Sheet size, camera pixels at the rest distance.
    pub sheet_px: [f64; 2],
    /// Fraction of the first frame covered by the sheet (< 1: its edges are in view).
    pub first_frame_coverage: f64,
    /// Inter-ocular distance of the printed face at rest, camera pixels.
    pub interocular_px: f64,
    /// Camera pixels per mm of paper at rest.
    pub px_per_mm: f64,
    /// Halftone period (AM) or dot pitch (FM), camera pixels at rest.
    pub halftone_period_px: f64,
    /// Curved sheet: cylinder radius in camera pixels at rest (`None`: flat).
    #[serde(default)]
    pub curve_radius_px: Option<f64>,
}

/// The print attack's renderer.
pub struct PrintScene {
    width: usize,
    height: usize,
    cam: Pinhole,
    /// RGBA: linear reflectance × illumination, and coverage.
    tex: ImageF,
    /// Plane coordinate (camera px at rest, relative to the printed eyes' midpoint) of texel (0, 0).
    tex_origin: (f64, f64),
    /// Texels per camera pixel at rest.
    texels_per_px: f64,
    /// Camera-frame position of the eyes' midpoint at rest.
    t0: [f64; 3],
    rest: PoseOffset,
    bg_lin: Vec<f32>,
    lut: SrgbLut,
    iod_px: f64,
    draw: PrintDraw,
    /// Head rotations the attacker acts out by turning the sheet (none by default).
    performance: Performance,
    /// Cylinder radius of a curved sheet, plane units (camera px at rest); `None`: flat.
    curve_radius: Option<f64>,
    pub layout: PrintLayout,
}

impl PrintScene {
    pub fn new(source: &Source, width: u32, height: u32, draw: &PrintDraw) -> Result<PrintScene> {
        let (w, h) = (width as f64, height as f64);
        let lm = &source.landmarks;
        let el = eye_centre(lm, &idx::RIGHT_EYE_CONTOUR);
        let er = eye_centre(lm, &idx::LEFT_EYE_CONTOUR);
        let iod_photo = el.dist(er) as f64;
        let mid = (0.5 * (el.x + er.x) as f64, 0.5 * (el.y + er.y) as f64);
        let iod_px = draw.interocular_frac * w;
        let k = iod_px / iod_photo; // camera px (plane units) per photo px
        let (pw, ph) = (source.photo.width as f64, source.photo.height as f64);
        // Printed photo region, photo pixels (edges of the pixel grid: -0.5 .. w - 0.5).
        let (mut x0, mut y0, mut x1, mut y1) = (-0.5, -0.5, pw - 0.5, ph - 0.5);
        if draw.edges_in_view {
            let hw = draw.crop_half_width_iod * iod_photo;
            let hh = hw * draw.crop_aspect;
            let cy = mid.1 + 0.35 * iod_photo;
            x0 = (mid.0 - hw).max(x0);
            x1 = (mid.0 + hw).min(x1);
            y0 = (cy - hh).max(y0);
            y1 = (cy + hh).min(y1);
        }
        let px_per_mm = iod_px / draw.printed_iod_mm;
        let margin = draw.margin_mm * px_per_mm;
        // Sheet and printed area in plane units relative to the printed eyes' midpoint.
        let printed = (
            (x0 - mid.0) * k,
            (y0 - mid.1) * k,
            (x1 - mid.0) * k,
            (y1 - mid.1) * k,
        );
        let sheet = (
            printed.0 - margin,
            printed.1 - margin,
            printed.2 + margin,
            printed.3 + margin,
        );
        // The window that can ever be seen: the frame around the rest position plus 15%.
        let ex = draw.eyes_x_frac * w;
        let ey = draw.eyes_y_frac * h;
        let win = (
            -ex - 0.15 * w,
            -ey - 0.15 * h,
            w - ex + 0.15 * w,
            h - ey + 0.15 * h,
        );
        let ss = texels_per_px(width, height);
        let pad = 3.0 / ss;
        let vis = (
            (sheet.0 - pad).max(win.0),
            (sheet.1 - pad).max(win.1),
            (sheet.2 + pad).min(win.2),
            (sheet.3 + pad).min(win.3),
        );
        if vis.2 <= vis.0 || vis.3 <= vis.1 {
            return Err(SynthError::param(
                "print layout",
                "the sheet is not in view",
            ));
        }
        let tw = ((vis.2 - vis.0) * ss).ceil() as usize + 1;
        let th = ((vis.3 - vis.1) * ss).ceil() as usize + 1;

        // The photo at about texel resolution (shrunk first when it has more detail).
        let photo_scale = k * ss; // texels per photo px
        let (photo_f, pre) = if photo_scale < 1.0 {
            let nw = ((pw * photo_scale).round() as usize).max(2);
            let pre = nw as f64 / pw;
            let nh = ((ph * pre).round() as usize).max(2);
            (resize(&ImageF::from_rgb(&source.photo), nw, nh), pre)
        } else {
            (ImageF::from_rgb(&source.photo), 1.0)
        };
        let mut tex = ImageF::new(tw, th, 4);
        let lin_w = srgb_to_linear((draw.paper_white_dn / 255.0) as f32) as f64;
        let lin_k = srgb_to_linear((draw.ink_black_dn / 255.0) as f32) as f64;
        let white: [f64; 3] = [
            lin_w * draw.paper_tint[0],
            lin_w * draw.paper_tint[1],
            lin_w * draw.paper_tint[2],
        ];
        let period_px = match draw.halftone {
            Halftone::ClusteredDot => 25.4 / draw.screen_lpi * px_per_mm,
            Halftone::Stochastic => 25.4 / draw.dots_dpi * px_per_mm,
        };
        let period = period_px * ss; // texels
        let lut = HalftoneLut::new(period);
        let mut grain = Rng::stream(draw.texture_key, "fm-dots");
        let angles = [15.0f64, 75.0, 0.0].map(|a| (a + draw.screen_angle_deg).to_radians());
        let fibre = fibre_field(tw, th, draw.fibre_len_mm * px_per_mm * ss, draw);
        let (gx, gy) = (
            draw.light_gradient_deg.to_radians().cos(),
            draw.light_gradient_deg.to_radians().sin(),
        );
        let sheet_diag = ((sheet.2 - sheet.0).powi(2) + (sheet.3 - sheet.1).powi(2))
            .sqrt()
            .max(1.0);
        let scx = 0.5 * (sheet.0 + sheet.2);
        let scy = 0.5 * (sheet.1 + sheet.3);
        let mut px = [0.0f32; 3];
        for j in 0..th {
            for i in 0..tw {
                let (xp, yp) = (vis.0 + i as f64 / ss, vis.1 + j as f64 / ss);
                let t = 4 * (j * tw + i);
                // Sheet coverage with a one-texel soft edge.
                let inside = |lo: f64, hi: f64, v: f64| {
                    ((v - lo) * ss + 0.5)
                        .min((hi - v) * ss + 0.5)
                        .clamp(0.0, 1.0)
                };
                let alpha = inside(sheet.0, sheet.2, xp) * inside(sheet.1, sheet.3, yp);
                if alpha <= 0.0 {
                    continue;
                }
                let in_print = inside(printed.0, printed.2, xp) * inside(printed.1, printed.3, yp);
                let mut refl = white;
                if in_print > 0.0 {
                    // Photo pixel under this texel.
                    let sx = ((mid.0 + xp / k) + 0.5) * pre - 0.5;
                    let sy = ((mid.1 + yp / k) + 0.5) * pre - 0.5;
                    photo_f.sample(sx as f32, sy as f32, &mut px);
                    let v: [f64; 3] = [
                        px[0] as f64 / 255.0,
                        px[1] as f64 / 255.0,
                        px[2] as f64 / 255.0,
                    ];
                    let luma = 0.299 * v[0] + 0.587 * v[1] + 0.114 * v[2];
                    let (xt, yt) = (i as f64, j as f64); // texel grid: the printer's raster
                    for c in 0..3 {
                        let vc = (luma + draw.saturation * (v[c] - luma)).clamp(0.0, 1.0);
                        let tone = (srgb_to_linear(vc as f32) as f64).powf(draw.dot_gain);
                        let coverage = 1.0 - tone;
                        let ink = match draw.halftone {
                            Halftone::ClusteredDot => {
                                am_dot(&lut, coverage, xt, yt, period, angles[c])
                            }
                            Halftone::Stochastic => fm_dots(&mut grain, coverage, period),
                        };
                        let solid = lin_k * draw.paper_tint[c];
                        let r = white[c] + (solid - white[c]) * ink;
                        refl[c] = white[c] + in_print * (r - white[c]);
                    }
                }
                let light = 1.0
                    + draw.light_gradient
                        * (((xp - scx) * gx + (yp - scy) * gy) / sheet_diag)
                        * 2.0;
                let f = (1.0 + draw.fibre_amp * fibre[j * tw + i] as f64) * light;
                for (c, r) in refl.iter().enumerate() {
                    tex.data[t + c] = (r * f * alpha) as f32; // premultiplied
                }
                tex.data[t + 3] = alpha as f32;
            }
        }
        // Lens PSF + pixel aperture, in texels.
        let sigma = ss * (draw.optics_blur_px.powi(2) + 1.0 / 12.0).sqrt();
        blur(&mut tex, sigma as f32);

        let cam = Pinhole::with_diagonal_fov(width, height, draw.dfov_deg);
        let t0 = cam.unproject(ex, ey, cam.f);
        let rest = PoseOffset {
            yaw_deg: draw.rest_yaw_deg,
            pitch_deg: draw.rest_pitch_deg,
            roll_deg: draw.rest_roll_deg,
            ..PoseOffset::default()
        };
        let bg = draw.scene.render(width as usize, height as usize);
        let lut = SrgbLut::new();
        let bg_lin = bg.data.iter().map(|&v| lut.lin(v)).collect();
        let mut scene = PrintScene {
            width: width as usize,
            height: height as usize,
            cam,
            tex,
            tex_origin: (vis.0, vis.1),
            texels_per_px: ss,
            t0,
            rest,
            bg_lin,
            lut,
            iod_px,
            draw: draw.clone(),
            performance: Performance::default(),
            curve_radius: draw.curved.then_some(draw.curve_radius_mm * px_per_mm),
            layout: PrintLayout {
                printed_region: [x0 + 0.5, y0 + 0.5, x1 - x0, y1 - y0],
                sheet_px: [sheet.2 - sheet.0, sheet.3 - sheet.1],
                first_frame_coverage: 0.0,
                interocular_px: iod_px,
                px_per_mm,
                halftone_period_px: period_px,
                curve_radius_px: draw.curved.then_some(draw.curve_radius_mm * px_per_mm),
            },
        };
        scene.layout.first_frame_coverage = scene.coverage(&scene.pose_at(0.0));
        Ok(scene)
    }

    /// The sheet's pose offset at `t` seconds (rest tilt + hand motion + tremor); translations
    /// of the slow motion are in IOD units in the draw and scaled here.
    pub fn pose_at(&self, t: f64) -> PoseOffset {
        let m = self.draw.motion.at(t);
        let m = PoseOffset {
            x_px: m.x_px * self.iod_px,
            y_px: m.y_px * self.iod_px,
            z_px: m.z_px * self.cam.f,
            ..m
        };
        let s = self.performance.state_at(t);
        let acted = PoseOffset {
            yaw_deg: s.yaw_deg,
            pitch_deg: s.pitch_deg,
            roll_deg: s.roll_deg,
            ..PoseOffset::default()
        };
        self.rest + m + self.draw.tremor.at(t) + acted
    }

    /// Acts out `performance`'s head rotations by turning the sheet (blinks and smiles cannot
    /// be acted by a print and are ignored).
    pub fn with_performance(mut self, performance: Performance) -> PrintScene {
        self.performance = performance;
        self
    }

    /// Homography from camera pixels to texel coordinates for a pose.
    fn inverse_map(&self, pose: &PoseOffset) -> Option<Mat3> {
        let h = pose.plane_homography(&self.cam, self.t0);
        let ss = self.texels_per_px;
        // texel = ss × (plane − origin)
        let to_tex = Mat3([
            [ss, 0.0, -ss * self.tex_origin.0],
            [0.0, ss, -ss * self.tex_origin.1],
            [0.0, 0.0, 1.0],
        ]);
        Some(to_tex.mul(&h.inverse()?))
    }

    /// The homography from sheet-plane coordinates (camera px at rest, relative to the printed
    /// eyes' midpoint) to image pixels at `t` seconds: the ground truth the tests fit against.
    pub fn homography_at(&self, t: f64) -> Mat3 {
        self.pose_at(t).plane_homography(&self.cam, self.t0)
    }

    fn coverage(&self, pose: &PoseOffset) -> f64 {
        let Some(map) = self.pixel_map(pose) else {
            return 0.0;
        };
        let mut a = [0.0f32; 4];
        let mut sum = 0.0;
        let step = 4;
        let mut n = 0usize;
        for y in (0..self.height).step_by(step) {
            for x in (0..self.width).step_by(step) {
                if let Some((u, v)) = map.texel(x as f64, y as f64) {
                    self.sample_tex(u, v, &mut a);
                    sum += a[3] as f64;
                }
                n += 1;
            }
        }
        sum / n.max(1) as f64
    }

    /// Camera pixel → texel mapping for a pose: the inverse homography of the flat sheet, or
    /// a ray cast onto the bent sheet's cylinder.
    fn pixel_map(&self, pose: &PoseOffset) -> Option<PixelMap> {
        match self.curve_radius {
            None => Some(PixelMap::Flat(self.inverse_map(pose)?)),
            Some(radius) => {
                let r = Mat3::rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg);
                let t = [
                    self.t0[0] + pose.x_px,
                    self.t0[1] + pose.y_px,
                    self.t0[2] + pose.z_px,
                ];
                let rt = r.transpose();
                let o = rt.apply([-t[0], -t[1], -t[2]]);
                Some(PixelMap::Curved(CurvedMap {
                    rt,
                    o,
                    radius,
                    cam: self.cam,
                    ss: self.texels_per_px,
                    origin: self.tex_origin,
                }))
            }
        }
    }

    /// Where camera pixel `(x, y)` lands on the sheet at `t` seconds, in plane coordinates
    /// (camera px at rest, relative to the printed eyes' midpoint; arc length across a bent
    /// sheet); `None` when the ray misses the sheet's surface. The ground truth the tests use.
    pub fn plane_point_at(&self, t: f64, x: f64, y: f64) -> Option<(f64, f64)> {
        let (u, v) = self.pixel_map(&self.pose_at(t))?.texel(x, y)?;
        let ss = self.texels_per_px;
        Some((u / ss + self.tex_origin.0, v / ss + self.tex_origin.1))
    }

    /// Image position of plane point `(px, py)` (as [`Self::plane_point_at`]) at `t`
    /// seconds: the sheet bent around its cylinder when curved.
    pub fn project_plane_point(&self, t: f64, px: f64, py: f64) -> (f64, f64) {
        let pose = self.pose_at(t);
        let local = match self.curve_radius {
            None => [px, py, 0.0],
            Some(r) => {
                let th = px / r;
                [r * th.sin(), py, r * (1.0 - th.cos())]
            }
        };
        let rot = Mat3::rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg);
        let p = rot.apply(local);
        self.cam.project([
            p[0] + self.t0[0] + pose.x_px,
            p[1] + self.t0[1] + pose.y_px,
            p[2] + self.t0[2] + pose.z_px,
        ])
    }

    #[inline]
    fn sample_tex(&self, u: f64, v: f64, out: &mut [f32; 4]) {
        let (tw, th) = (self.tex.width as f64, self.tex.height as f64);
        if u < -1.0 || v < -1.0 || u > tw || v > th {
            *out = [0.0; 4];
            return;
        }
        self.tex.sample(u as f32, v as f32, out);
    }

    /// Renders the frame at `t` seconds (RGB floats 0..=255, before sensor noise).
    pub fn render(&self, t: f64, out: &mut ImageF) {
        let (w, h) = (self.width, self.height);
        *out = ImageF::new(w, h, 3);
        let Some(map) = self.pixel_map(&self.pose_at(t)) else {
            return;
        };
        let mut a = [0.0f32; 4];
        if let PixelMap::Curved(c) = &map {
            for y in 0..h {
                for x in 0..w {
                    let i = y * w + x;
                    match c.texel(x as f64, y as f64) {
                        Some((u, v)) => self.sample_tex(u, v, &mut a),
                        None => a = [0.0; 4],
                    }
                    let k = 1.0 - a[3];
                    for (ch, ac) in a.iter().take(3).enumerate() {
                        let lin = ac + k * self.bg_lin[3 * i + ch];
                        out.data[3 * i + ch] = self.lut.enc(lin);
                    }
                }
            }
            return;
        }
        let PixelMap::Flat(m) = map else {
            return;
        };
        let mm = m.0;
        for y in 0..h {
            let yf = y as f64;
            for x in 0..w {
                let xf = x as f64;
                let d = mm[2][0] * xf + mm[2][1] * yf + mm[2][2];
                let i = y * w + x;
                if d.abs() > 1e-12 {
                    let u = (mm[0][0] * xf + mm[0][1] * yf + mm[0][2]) / d;
                    let v = (mm[1][0] * xf + mm[1][1] * yf + mm[1][2]) / d;
                    self.sample_tex(u, v, &mut a);
                } else {
                    a = [0.0; 4];
                }
                let k = 1.0 - a[3];
                for (c, ac) in a.iter().take(3).enumerate() {
                    let lin = ac + k * self.bg_lin[3 * i + c];
                    out.data[3 * i + c] = self.lut.enc(lin);
                }
            }
        }
    }
}

/// Camera pixel → sheet texel, for one pose.
enum PixelMap {
    Flat(Mat3),
    Curved(CurvedMap),
}

impl PixelMap {
    fn texel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        match self {
            PixelMap::Flat(m) => m.project(x, y),
            PixelMap::Curved(c) => c.texel(x, y),
        }
    }
}

/// A sheet bent around a vertical cylinder of radius `radius` (plane units) touching the flat
/// sheet's plane along the printed eyes' vertical line, its edges bent away from the camera:
/// plane point `(X, Y)` sits at `(R sin(X/R), Y, R (1 − cos(X/R)))` in the sheet's frame.
struct CurvedMap {
    /// Sheet-frame rotation transposed (camera → sheet) and the camera centre in the sheet frame.
    rt: Mat3,
    o: [f64; 3],
    radius: f64,
    cam: Pinhole,
    ss: f64,
    origin: (f64, f64),
}

impl CurvedMap {
    /// Casts the pixel's ray onto the cylinder's near side (|X/R| < π/2).
    fn texel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let d = self.rt.apply([
            (x - self.cam.cx) / self.cam.f,
            (y - self.cam.cy) / self.cam.f,
            1.0,
        ]);
        let (o, r) = (self.o, self.radius);
        // (o.x + λ d.x)² + (o.z + λ d.z − R)² = R²
        let a = d[0] * d[0] + d[2] * d[2];
        if a < 1e-18 {
            return None;
        }
        let oz = o[2] - r;
        let b = 2.0 * (o[0] * d[0] + oz * d[2]);
        let c = o[0] * o[0] + oz * oz - r * r;
        let disc = b * b - 4.0 * a * c;
        if disc < 0.0 {
            return None;
        }
        let lambda = (-b - disc.sqrt()) / (2.0 * a);
        if lambda <= 0.0 {
            return None;
        }
        let px = o[0] + lambda * d[0];
        let pz = o[2] + lambda * d[2];
        if pz >= r {
            return None; // the far side of the cylinder
        }
        let arc = r * px.atan2(r - pz);
        let py = o[1] + lambda * d[1];
        Some((
            self.ss * (arc - self.origin.0),
            self.ss * (py - self.origin.1),
        ))
    }
}

/// Exact ink fraction of a texel under an AM dot screen, tabulated per capture.
///
/// The screen's spot function over one cell (`u, v` in cell units, 0 at a dot centre) is
/// thresholded at the value that prints the wanted coverage over the whole cell. A texel
/// covers a square of side `1 / period` cells; its ink is the fraction of that square below
/// the threshold. The table holds that fraction for 32 × 32 texel phases within the cell and
/// 65 coverage levels (8 × 8 samples per texel, more when a texel spans several cells), so tiny dots and tiny paper holes keep their
/// true area (a linear anti-aliasing ramp would print them far too big).
struct HalftoneLut {
    table: Vec<f32>,
}

impl HalftoneLut {
    const PHASES: usize = 32;
    const LEVELS: usize = 64;
    const SUB: usize = 8;

    fn new(period_texels: f64) -> HalftoneLut {
        let (np, nl, ns) = (Self::PHASES, Self::LEVELS, Self::SUB);
        // Threshold for each coverage level: quantiles of the spot over one cell.
        let n = 256;
        let mut all: Vec<f64> = (0..n * n)
            .map(|k| {
                spot(
                    (k % n) as f64 / n as f64 + 0.5 / n as f64,
                    (k / n) as f64 / n as f64 + 0.5 / n as f64,
                )
            })
            .collect();
        all.sort_by(|a, b| a.total_cmp(b));
        let thr: Vec<f64> = (0..=nl)
            .map(|l| {
                if l == 0 {
                    f64::NEG_INFINITY
                } else if l == nl {
                    f64::INFINITY
                } else {
                    all[l * (all.len() - 1) / nl]
                }
            })
            .collect();
        let side = 1.0 / period_texels.max(0.1);
        // At least 8 samples per cell along each axis when a texel spans several cells.
        let ns = ns.max((8.0 * side).ceil() as usize).min(40);
        let mut table = vec![0.0f32; np * np * (nl + 1)];
        let mut sp = vec![0.0f64; ns * ns];
        for pv in 0..np {
            for pu in 0..np {
                let (cu, cv) = (pu as f64 / np as f64, pv as f64 / np as f64);
                for j in 0..ns {
                    for i in 0..ns {
                        let du = ((i as f64 + 0.5) / ns as f64 - 0.5) * side;
                        let dv = ((j as f64 + 0.5) / ns as f64 - 0.5) * side;
                        sp[j * ns + i] = spot(cu + du, cv + dv);
                    }
                }
                for (l, th) in thr.iter().enumerate() {
                    let inked = sp.iter().filter(|&&s| s < *th).count();
                    table[(pv * np + pu) * (nl + 1) + l] = inked as f32 / (ns * ns) as f32;
                }
            }
        }
        HalftoneLut { table }
    }

    /// Ink fraction of the texel at cell coordinates `(u, v)` for `coverage` in [0, 1].
    fn ink(&self, coverage: f64, u: f64, v: f64) -> f64 {
        let (np, nl) = (Self::PHASES, Self::LEVELS);
        let c = coverage.clamp(0.0, 1.0) * nl as f64;
        let l0 = (c as usize).min(nl - 1);
        let fl = c - l0 as f64;
        let pu = u.rem_euclid(1.0) * np as f64;
        let pv = v.rem_euclid(1.0) * np as f64;
        let (iu, iv) = (pu as usize % np, pv as usize % np);
        let (fu, fv) = (pu - pu.floor(), pv - pv.floor());
        let at = |a: usize, b: usize, l: usize| {
            self.table[((b % np) * np + (a % np)) * (nl + 1) + l] as f64
        };
        let lev = |l: usize| {
            let top = at(iu, iv, l) + fu * (at(iu + 1, iv, l) - at(iu, iv, l));
            let bot = at(iu, iv + 1, l) + fu * (at(iu + 1, iv + 1, l) - at(iu, iv + 1, l));
            top + fv * (bot - top)
        };
        lev(l0) + fl * (lev(l0 + 1) - lev(l0))
    }
}

/// Round-to-square-to-round dot: 0 at the cell centre, 1 at the corners.
#[inline]
fn spot(u: f64, v: f64) -> f64 {
    let tau = 2.0 * std::f64::consts::PI;
    0.5 - 0.25 * ((tau * u).cos() + (tau * v).cos())
}

/// Ink of an AM-screened texel at texel position `(x, y)`.
fn am_dot(lut: &HalftoneLut, coverage: f64, x: f64, y: f64, period: f64, angle: f64) -> f64 {
    let (s, c) = angle.sin_cos();
    lut.ink(
        coverage,
        (c * x + s * y) / period,
        (-s * x + c * y) / period,
    )
}

/// Ink of an FM (stochastic) texel: `n = (1 / pitch)²` independent dots of pitch `pitch`
/// texels fall in the texel, each inked with probability `coverage`, so the texel's ink
/// fraction is binomial: mean `coverage`, variance `coverage (1 − coverage) / n` (drawn as a
/// clamped normal; one dot per texel or fewer prints all or nothing).
fn fm_dots(rng: &mut Rng, coverage: f64, pitch: f64) -> f64 {
    let n = 1.0 / (pitch * pitch).max(1e-9);
    if n <= 1.0 {
        return if rng.uniform() < coverage { 1.0 } else { 0.0 };
    }
    let sd = (coverage * (1.0 - coverage) / n).sqrt();
    (coverage + sd * rng.normal()).clamp(0.0, 1.0)
}

/// Paper formation: white noise smeared along the fibre direction over `len_texels`, plus
/// fine grain; unit RMS.
fn fibre_field(w: usize, h: usize, len_texels: f64, draw: &PrintDraw) -> Vec<f32> {
    let mut rng = Rng::stream(draw.texture_key, "paper");
    let noise: Vec<f32> = (0..w * h).map(|_| rng.uniform() as f32 - 0.5).collect();
    let len = len_texels.clamp(1.0, 64.0) as i64;
    let (dx, dy) = (
        draw.fibre_deg.to_radians().cos(),
        draw.fibre_deg.to_radians().sin(),
    );
    let mut out = vec![0.0f32; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for k in -len / 2..=len / 2 {
                let sx = (x as f64 + dx * k as f64)
                    .round()
                    .clamp(0.0, w as f64 - 1.0) as usize;
                let sy = (y as f64 + dy * k as f64)
                    .round()
                    .clamp(0.0, h as f64 - 1.0) as usize;
                s += noise[sy * w + sx];
            }
            out[y * w + x] = s / ((len | 1) as f32).sqrt() + 0.5 * noise[y * w + x];
        }
    }
    let n = out.len().max(1) as f32;
    let rms = (out.iter().map(|v| v * v).sum::<f32>() / n)
        .sqrt()
        .max(1e-6);
    out.iter_mut().for_each(|v| *v /= rms);
    out
}

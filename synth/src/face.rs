//! The bona fide renderer: the photo's face as a 3D landmark mesh that turns, nods, tilts,
//! blinks and smiles in front of a pinhole camera.
//!
//! Set-up ([`FaceRig::new`]):
//! 1. **Placement.** The photo is scaled so that the inter-ocular distance (eye-centre to
//!    eye-centre) is the drawn fraction of the frame width, and shifted so that the eyes'
//!    midpoint sits at the drawn frame position. A photo larger than needed is first shrunk
//!    with an area-like filter (no aliasing); a smaller one is enlarged bilinearly. Outside the
//!    photo the border is replicated.
//! 2. **3D points.** Each landmark is back-projected through the camera at depth `Z0 + z`
//!    (`Z0 = f`, so one world unit is one pixel at the face; `z` is FaceMesh's relative depth,
//!    negative = towards the camera). At rest the points re-project exactly onto the photo.
//! 3. **Anchors.** A ring at 1.25× the face oval (hair, ears, neck: moves with the head above
//!    the nose, 30% of it below the chin), a static ring at 1.7×, and static points just
//!    outside the frame border keep the background in place and let the hair and neck stretch
//!    smoothly.
//! 4. **Mesh.** A Delaunay triangulation of the rest positions of all points.
//! 5. **Expressions.** Per-landmark displacement fields at full strength: the blink (upper-lid
//!    contour onto a line 20% of the eye opening above the lower lid, the lower lid up to it,
//!    the skin above the lid following with a fall-off that reaches zero below the brow) and the
//!    smile (mouth corners out by ~18% and up by ~20% of the half mouth width, cheeks lifted,
//!    corners slightly back in depth, fading with distance from the mouth). The triangles
//!    inside each eye opening get their own copies of the contour vertices whose texture
//!    coordinates move with the lids, so a closing lid covers the iris instead of squeezing
//!    it; the stretched upper lid is painted towards the skin around it (`EyeLid`).
//!
//! Per frame ([`FaceRig::render`]): expression fields scaled by the performance, a rigid
//! rotation of the 3D points (yaw/pitch/roll, LiveProof convention) about a pivot behind the
//! face (drawn 0.6–1.0 inter-ocular distances behind the face oval's mean depth, at the level
//! of the upper lip: roughly the upper cervical joints), a translation, a pinhole projection,
//! then a piecewise-affine inverse warp with a z-buffer so the nearer surface wins where the
//! turned face overlaps itself, sampled bilinearly.

use liveproof_core::frame::RgbImage;
use liveproof_core::mesh::{idx, NUM_LANDMARKS};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SynthError};
use crate::geom::{Mat3, Pinhole, Vec3};
use crate::imgops::{blur, resize, sample_rgb, ImageF};
use crate::performance::PoseOffset;
use crate::rng::Rng;
use crate::source::{eye_centre, Source};
use crate::warp::{render_mesh, triangulate, MeshVertex};

/// How the face is placed and articulated; drawn from the seed (see [`FaceDraw::draw`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceDraw {
    /// Inter-ocular distance (eye centres) as a fraction of the frame width; drawn in
    /// [0.14, 0.22].
    pub interocular_frac: f64,
    /// Eyes' midpoint, fractions of the frame width / height; drawn in [0.45, 0.55] ×
    /// [0.38, 0.46].
    pub eyes_x_frac: f64,
    pub eyes_y_frac: f64,
    /// Camera diagonal field of view, degrees; drawn in [70, 85] (phone front cameras; about
    /// 50–62° across a 3:4 portrait frame).
    pub dfov_deg: f64,
    /// Rotation pivot depth behind the face oval's mean depth, inter-ocular distances; drawn in
    /// [0.6, 1.0].
    pub pivot_depth_iod: f64,
}

impl FaceDraw {
    pub fn draw(rng: &mut Rng) -> FaceDraw {
        FaceDraw {
            interocular_frac: rng.range(0.14, 0.22),
            eyes_x_frac: rng.range(0.45, 0.55),
            eyes_y_frac: rng.range(0.38, 0.46),
            dfov_deg: rng.range(70.0, 85.0),
            pivot_depth_iod: rng.range(0.6, 1.0),
        }
    }
}

/// Where the rig ended up, for the metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FacePlacement {
    /// Frame pixels per photo pixel.
    pub scale: f64,
    /// Inter-ocular distance in the frame at rest, pixels.
    pub interocular_px: f64,
    /// Camera focal length, pixels.
    pub focal_px: f64,
    /// Face distance from the camera at rest, in inter-ocular distances (× ~6.3 cm for adults).
    pub distance_iod: f64,
    /// Rotation pivot in the rest frame: image pixels and depth (FaceMesh z scale).
    pub pivot: [f64; 3],
}

/// Points of the rig: 468 landmarks then the anchors.
const RING1: usize = NUM_LANDMARKS;
const RING_LEN: usize = idx::FACE_OVAL.len();
const RING2: usize = RING1 + RING_LEN;
const BORDER: usize = RING2 + RING_LEN;
/// Anchors per frame side (corners included once).
const BORDER_STEPS: usize = 4;

/// The animated face of one source photo at one frame size.
pub struct FaceRig {
    width: usize,
    height: usize,
    cam: Pinhole,
    /// The photo, pre-scaled when it was larger than needed.
    photo: RgbImage,
    /// Photo pixel = (frame pixel − t) / s (the placement's inverse).
    inv_scale: f64,
    offset: (f64, f64),
    /// Rest points: frame pixels x, y and relative depth z (FaceMesh scale, frame pixels).
    rest: Vec<Vec3>,
    /// Source (photo) coordinates of every point.
    uv: Vec<(f32, f32)>,
    /// How much of the head's rigid motion each point follows (1 landmarks, 0 static anchors).
    follow: Vec<f64>,
    tris: Vec<[u32; 3]>,
    /// The landmark each point takes its expression from (points past the landmarks: the eye
    /// opening's vertex copies; anchors map to themselves and have none).
    orig: Vec<usize>,
    /// First vertex copy of the eye openings.
    copies_start: usize,
    blink: Vec<Vec3>,
    smile: Vec<Vec3>,
    eyes: [EyeLid; 2],
    pivot: Vec3,
    pub placement: FacePlacement,
    zbuf: Vec<f32>,
}

impl FaceRig {
    /// Builds the rig of `source` for a `width × height` frame.
    pub fn new(source: &Source, width: u32, height: u32, draw: &FaceDraw) -> Result<FaceRig> {
        let lm = &source.landmarks;
        if lm.len() != NUM_LANDMARKS {
            return Err(SynthError::param(
                "source",
                "the source has no 468 landmarks",
            ));
        }
        let (w, h) = (width as f64, height as f64);
        let el = eye_centre(lm, &idx::RIGHT_EYE_CONTOUR);
        let er = eye_centre(lm, &idx::LEFT_EYE_CONTOUR);
        let iod_photo = el.dist(er) as f64;
        let s0 = draw.interocular_frac * w / iod_photo;
        // Shrink large photos first (area-like filter), so the warp samples near 1:1.
        let (photo, pre) = if s0 < 0.8 {
            let pw = ((source.photo.width as f64 * s0).round() as usize).max(2);
            let pre = pw as f64 / source.photo.width as f64;
            let ph = ((source.photo.height as f64 * pre).round() as usize).max(2);
            (
                resize(&ImageF::from_rgb(&source.photo), pw, ph).to_rgb(),
                pre,
            )
        } else {
            (source.photo.clone(), 1.0)
        };
        // Photo' (pre-scaled) coordinate of an original photo point (pixel centres at integers).
        let to_pre = |x: f64| (x + 0.5) * pre - 0.5;
        let s = s0 / pre;
        let mid = ((el.x + er.x) as f64 * 0.5, (el.y + er.y) as f64 * 0.5);
        let target = (draw.eyes_x_frac * w, draw.eyes_y_frac * h);
        let offset = (target.0 - s * to_pre(mid.0), target.1 - s * to_pre(mid.1));
        let cam = Pinhole::with_diagonal_fov(width, height, draw.dfov_deg);
        let iod = s0 * iod_photo;

        let mut rest: Vec<Vec3> = lm
            .iter()
            .map(|p| {
                [
                    s * to_pre(p.x as f64) + offset.0,
                    s * to_pre(p.y as f64) + offset.1,
                    s0 * p.z as f64,
                ]
            })
            .collect();
        let mut follow = vec![1.0; NUM_LANDMARKS];

        // Anchors.
        let oval: Vec<Vec3> = idx::FACE_OVAL.iter().map(|&i| rest[i]).collect();
        let n = oval.len() as f64;
        let oc = oval.iter().fold([0.0; 3], |a, p| {
            [a[0] + p[0] / n, a[1] + p[1] / n, a[2] + p[2] / n]
        });
        let nose_y = rest[idx::NOSE_TIP][1];
        let chin_y = rest[idx::CHIN][1];
        let far = 10.0 * iod;
        for p in &oval {
            let q = [
                oc[0] + 1.25 * (p[0] - oc[0]),
                oc[1] + 1.25 * (p[1] - oc[1]),
                p[2] + 0.25 * iod,
            ];
            // Head (hair, ears) above the nose follows fully; towards the neck less.
            let k = ((q[1] - nose_y) / (chin_y + 0.2 * iod - nose_y).max(1.0)).clamp(0.0, 1.0);
            rest.push(q);
            follow.push(1.0 - 0.7 * k);
        }
        for p in &oval {
            rest.push([
                oc[0] + 1.7 * (p[0] - oc[0]),
                oc[1] + 1.7 * (p[1] - oc[1]),
                far,
            ]);
            follow.push(0.0);
        }
        let m = 2.0;
        for k in 0..BORDER_STEPS {
            let f = k as f64 / BORDER_STEPS as f64;
            for q in [
                [-m + f * (w + 2.0 * m), -m],
                [w - 1.0 + m, -m + f * (h + 2.0 * m)],
                [w - 1.0 + m - f * (w + 2.0 * m), h - 1.0 + m],
                [-m, h - 1.0 + m - f * (h + 2.0 * m)],
            ] {
                rest.push([q[0], q[1], far]);
                follow.push(0.0);
            }
        }
        debug_assert_eq!(rest.len(), BORDER + 4 * BORDER_STEPS);

        let uv: Vec<(f32, f32)> = rest
            .iter()
            .map(|p| {
                (
                    ((p[0] - offset.0) / s) as f32,
                    ((p[1] - offset.1) / s) as f32,
                )
            })
            .collect();
        let pts: Vec<(f64, f64)> = rest.iter().map(|p| (p[0], p[1])).collect();
        let mut tris = triangulate(&pts);
        if tris.is_empty() {
            return Err(SynthError::param(
                "source",
                "the landmarks could not be triangulated",
            ));
        }
        let mut uv = uv;
        let mut orig: Vec<usize> = (0..rest.len()).collect();
        let copies_start = rest.len();
        let eyes = [
            EyeLid::build(
                &idx::RIGHT_EYE_CONTOUR,
                &mut rest,
                &mut uv,
                &mut follow,
                &mut orig,
                &mut tris,
            ),
            EyeLid::build(
                &idx::LEFT_EYE_CONTOUR,
                &mut rest,
                &mut uv,
                &mut follow,
                &mut orig,
                &mut tris,
            ),
        ];

        let pivot = [
            0.5 * (rest[idx::RIGHT_EYE_OUTER][0] + rest[idx::LEFT_EYE_OUTER][0]),
            0.5 * (rest[idx::UPPER_LIP_OUTER][1] + nose_y),
            oc[2] + draw.pivot_depth_iod * iod,
        ];
        let blink = blink_field(&rest);
        let smile = smile_field(&rest);
        let placement = FacePlacement {
            scale: s0,
            interocular_px: iod,
            focal_px: cam.f,
            distance_iod: cam.f / iod,
            pivot,
        };
        Ok(FaceRig {
            width: width as usize,
            height: height as usize,
            cam,
            photo,
            inv_scale: 1.0 / s,
            offset,
            rest,
            uv,
            follow,
            tris,
            orig,
            copies_start,
            blink,
            smile,
            eyes,
            pivot,
            placement,
            zbuf: Vec::new(),
        })
    }

    /// Frame size, pixels.
    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Inter-ocular distance at rest, frame pixels.
    pub fn interocular_px(&self) -> f64 {
        self.placement.interocular_px
    }

    /// Image position (frame pixels) of every landmark at rest.
    pub fn rest_landmarks(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.rest[..NUM_LANDMARKS].iter().map(|p| (p[0], p[1]))
    }

    /// Projected positions (x, y, depth) of every rig point for a pose and expression.
    pub fn project(&self, pose: &PoseOffset, eyes_closed: f64, smile: f64) -> Vec<Vec3> {
        let z0 = self.cam.f;
        let r = Mat3::rotation(pose.yaw_deg, pose.pitch_deg, pose.roll_deg);
        let pw = self
            .cam
            .unproject(self.pivot[0], self.pivot[1], z0 + self.pivot[2]);
        let t = [pose.x_px, pose.y_px, pose.z_px];
        self.rest
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut q = *p;
                let li = self.orig[i];
                if li < NUM_LANDMARKS {
                    for (k, qk) in q.iter_mut().enumerate() {
                        *qk += eyes_closed * self.blink[li][k] + smile * self.smile[li][k];
                    }
                }
                let a = self.follow[i];
                let world = self.cam.unproject(q[0], q[1], z0 + q[2]);
                if a == 0.0 {
                    return [q[0], q[1], world[2]];
                }
                let d = [world[0] - pw[0], world[1] - pw[1], world[2] - pw[2]];
                let rd = r.apply(d);
                let moved = [
                    pw[0] + rd[0] + t[0],
                    pw[1] + rd[1] + t[1],
                    pw[2] + rd[2] + t[2],
                ];
                let m = [
                    world[0] + a * (moved[0] - world[0]),
                    world[1] + a * (moved[1] - world[1]),
                    world[2] + a * (moved[2] - world[2]),
                ];
                let (x, y) = self.cam.project(m);
                [x, y, m[2]]
            })
            .collect()
    }

    /// Renders one frame (RGB floats 0..=255) into `out`, resized as needed.
    pub fn render(&mut self, pose: &PoseOffset, eyes_closed: f64, smile: f64, out: &mut ImageF) {
        let (w, h) = (self.width, self.height);
        out.width = w;
        out.height = h;
        out.channels = 3;
        out.data.resize(w * h * 3, 0.0);
        self.zbuf.clear();
        self.zbuf.resize(w * h, f32::INFINITY);
        let pts = self.project(pose, eyes_closed, smile);
        let b = eyes_closed as f32;
        let verts: Vec<MeshVertex> = pts
            .iter()
            .zip(&self.uv)
            .enumerate()
            .map(|(i, (p, &(u, v)))| {
                // The opening's copies carry their texture along with the lids, so the lids
                // cover the eye instead of squeezing it.
                let (du, dv) = if i >= self.copies_start {
                    let d = self.blink[self.orig[i]];
                    (
                        (d[0] * self.inv_scale) as f32,
                        (d[1] * self.inv_scale) as f32,
                    )
                } else {
                    (0.0, 0.0)
                };
                MeshVertex {
                    x: p[0] as f32,
                    y: p[1] as f32,
                    z: p[2] as f32,
                    u: u + b * du,
                    v: v + b * dv,
                }
            })
            .collect();
        render_mesh(
            &self.photo,
            &verts,
            &self.tris,
            w,
            h,
            &mut out.data,
            &mut self.zbuf,
        );
        // Pixels no triangle reached (none in practice): the static placement.
        let k = self.inv_scale as f32;
        let (ox, oy) = (self.offset.0 as f32, self.offset.1 as f32);
        for (i, z) in self.zbuf.iter().enumerate() {
            if z.is_infinite() {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let px = sample_rgb(&self.photo, (x - ox) * k, (y - oy) * k);
                out.data[3 * i..3 * i + 3].copy_from_slice(&px);
            }
        }
        if eyes_closed > 0.01 {
            for eye in &self.eyes {
                eye.paint(&verts, eyes_closed as f32, w, h, &mut out.data);
            }
        }
    }
}

/// One eye's closing lid.
///
/// Closing stretches the band between the upper-lid contour and the landmarks above it over
/// the eye; the photo has only a thin strip of folded lid skin there, with lashes and the
/// crease shadow, so the stretched band does not look like a lid. As the eye closes, the band
/// fades to skin: in eye-aligned coordinates (`u` along the corners, `v` up from the current
/// lid margin), weight `b · (1 − smoothstep(0.5 H, 1.2 H, v))` where `H(u)` is the height of
/// the first landmark ring above the lid. The skin comes from a normalised convolution of the
/// frame (Gaussian σ = 15% of the eye width) that ignores the eye, the band and the lashes, so
/// it carries the surrounding skin's tone and shading. A soft dark lash line runs along the
/// margin (σ = 3.5% of the eye width, 50% darker at full closure).
struct EyeLid {
    /// Corners (rig point indices): outer, inner.
    corners: (usize, usize),
    /// Lid margin from the outer to the inner corner (rig point indices).
    line: Vec<usize>,
    /// Lower lid from the outer to the inner corner.
    lower: Vec<usize>,
    /// First ring of landmarks above the upper lid.
    ring: Vec<usize>,
}

impl EyeLid {
    /// Duplicates the eye contour's vertices for the triangles inside the opening (so the
    /// opening keeps its own texture coordinates) and finds the ring above the lid.
    fn build(
        contour: &[usize; 16],
        rest: &mut Vec<Vec3>,
        uv: &mut Vec<(f32, f32)>,
        follow: &mut Vec<f64>,
        orig: &mut Vec<usize>,
        tris: &mut [[u32; 3]],
    ) -> EyeLid {
        use std::collections::{BTreeMap, BTreeSet};
        let poly: Vec<(f64, f64)> = contour.iter().map(|&i| (rest[i][0], rest[i][1])).collect();
        let upper: BTreeSet<u32> = contour[9..].iter().map(|&i| i as u32).collect();
        let in_contour = |v: u32| contour.contains(&(v as usize));
        let mut copy_of = BTreeMap::new();
        for &i in contour.iter() {
            copy_of.insert(i, rest.len());
            rest.push(rest[i]);
            uv.push(uv[i]);
            follow.push(follow[i]);
            orig.push(i);
        }
        let mean = |ids: &[usize], rest: &[Vec3]| {
            let n = ids.len() as f64;
            ids.iter().fold((0.0, 0.0), |a, &v| {
                (a.0 + rest[v][0] / n, a.1 + rest[v][1] / n)
            })
        };
        let (mu, ml) = (mean(&contour[9..], rest), mean(&contour[1..8], rest));
        let (cx, cy) = (0.5 * (mu.0 + ml.0), 0.5 * (mu.1 + ml.1));
        let up = (mu.0 - ml.0, mu.1 - ml.1);
        // Opening triangles get the copies.
        for t in tris.iter_mut() {
            let c = t.iter().fold((0.0, 0.0), |a, &v| {
                (
                    a.0 + rest[v as usize][0] / 3.0,
                    a.1 + rest[v as usize][1] / 3.0,
                )
            });
            if t.iter().all(|&v| in_contour(v)) && inside(&poly, c) {
                for v in t.iter_mut() {
                    *v = copy_of[&(*v as usize)] as u32;
                }
            }
        }
        let mut ring = BTreeSet::new();
        for t in tris.iter() {
            if t.iter().any(|v| upper.contains(v)) {
                for &v in t {
                    let p = rest[v as usize];
                    let above = (p[0] - cx) * up.0 + (p[1] - cy) * up.1 > 0.0;
                    if !in_contour(v) && (v as usize) < NUM_LANDMARKS && above {
                        ring.insert(v as usize);
                    }
                }
            }
        }
        let mut line = vec![contour[0]];
        line.extend(contour[9..].iter().rev());
        line.push(contour[8]);
        EyeLid {
            corners: (contour[0], contour[8]),
            line,
            lower: contour[..=8].to_vec(),
            ring: ring.into_iter().collect(),
        }
    }

    /// Paints the closing lid into `out` for eyelid closure `b` in (0, 1].
    fn paint(&self, verts: &[MeshVertex], b: f32, w: usize, h: usize, out: &mut [f32]) {
        let at = |i: usize| verts.get(i).map(|v| (v.x, v.y));
        let (Some(a), Some(c)) = (at(self.corners.0), at(self.corners.1)) else {
            return;
        };
        let len = ((c.0 - a.0).powi(2) + (c.1 - a.1).powi(2)).sqrt();
        if len.is_nan() || len <= 2.0 {
            return;
        }
        let e = ((c.0 - a.0) / len, (c.1 - a.1) / len);
        // "Up": away from the lower lid.
        let lower: Vec<(f32, f32)> = self.lower.iter().filter_map(|&i| at(i)).collect();
        let lm = lower.iter().fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1));
        let lm = (
            lm.0 / lower.len().max(1) as f32,
            lm.1 / lower.len().max(1) as f32,
        );
        let mut n = (e.1, -e.0);
        if (lm.0 - a.0) * n.0 + (lm.1 - a.1) * n.1 > 0.0 {
            n = (-n.0, -n.1);
        }
        let to_uv = |p: (f32, f32)| {
            (
                ((p.0 - a.0) * e.0 + (p.1 - a.1) * e.1) / len,
                (p.0 - a.0) * n.0 + (p.1 - a.1) * n.1,
            )
        };
        // Curves as (u, v) polylines sorted by u: the lid margin, the lower lid, the ring.
        let curve = |ids: &[usize]| {
            let mut c: Vec<(f32, f32)> = ids.iter().filter_map(|&i| at(i)).map(to_uv).collect();
            c.sort_by(|p, q| p.0.total_cmp(&q.0));
            c
        };
        let lid = curve(&self.line);
        let low = curve(&self.lower);
        let ring = curve(&self.ring);
        if lid.len() < 2 || low.len() < 2 || ring.len() < 2 {
            return;
        }
        let height = |poly: &[(f32, f32)], u: f32| -> f32 {
            let p = interp(
                &poly
                    .iter()
                    .map(|&(u, v)| (u as f64, v as f64, 0.0))
                    .collect::<Vec<_>>(),
                u as f64,
            );
            p.0 as f32
        };
        // Local window: the eye plus room for the blur.
        let sigma = 0.15 * len;
        let pts: Vec<(f32, f32)> = self
            .line
            .iter()
            .chain(&self.lower)
            .chain(&self.ring)
            .filter_map(|&i| at(i))
            .collect();
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &(x, y) in &pts {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let pad = 3.0 * sigma + 2.0;
        let xs = (x0 - pad).floor().max(0.0) as usize;
        let ys = (y0 - pad).floor().max(0.0) as usize;
        let xe = ((x1 + pad).ceil().max(0.0) as usize).min(w.saturating_sub(1));
        let ye = ((y1 + pad).ceil().max(0.0) as usize).min(h.saturating_sub(1));
        if xe <= xs || ye <= ys {
            return;
        }
        let (ww, wh) = (xe - xs + 1, ye - ys + 1);
        // Per pixel of the window: paint weight and "is skin" weight for the convolution.
        let mut alpha = vec![0.0f32; ww * wh];
        let mut skin = ImageF::new(ww, wh, 4);
        for y in 0..wh {
            for x in 0..ww {
                let (u, v) = to_uv(((xs + x) as f32, (ys + y) as f32));
                let uc = u.clamp(0.0, 1.0);
                let v_lid = v - height(&lid, uc);
                let ring_h = (height(&ring, uc) - height(&lid, uc)).max(1.0);
                let v_low = height(&low, uc) - v; // > 0 below the lower lid
                let outside = (-u).max(u - 1.0).max(0.0);
                let end = 1.0 - smooth(0.0, 0.12, outside);
                let k = y * ww + x;
                alpha[k] = b
                    * end
                    * (1.0 - smooth(0.9 * ring_h, 1.8 * ring_h, v_lid))
                    * (v_lid > -0.5) as u8 as f32;
                // Not skin: the eye between the lower lid and 1.3× the ring (lashes, crease).
                let eye = outside < 0.15 && v_low < 1.0 && v_lid < 1.9 * ring_h;
                let wgt = if eye { 0.0 } else { 1.0 };
                let o = 3 * ((ys + y) * w + xs + x);
                let s = &mut skin.data[4 * k..4 * k + 4];
                s[0] = wgt * out[o];
                s[1] = wgt * out[o + 1];
                s[2] = wgt * out[o + 2];
                s[3] = wgt;
            }
        }
        blur(&mut skin, sigma);
        for y in 0..wh {
            for x in 0..ww {
                let k = y * ww + x;
                let al = alpha[k];
                if al <= 0.0 {
                    continue;
                }
                let s = &skin.data[4 * k..4 * k + 4];
                if s[3] < 1e-3 {
                    continue;
                }
                let o = 3 * ((ys + y) * w + xs + x);
                for c in 0..3 {
                    out[o + c] += al * (s[c] / s[3] - out[o + c]);
                }
            }
        }
        // The lash line along the current lid margin.
        let line: Vec<(f32, f32)> = self.line.iter().filter_map(|&i| at(i)).collect();
        let sigma = 0.035 * len;
        let reach = 3.0 * sigma;
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for &(x, y) in &line {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
        let xs = (x0 - reach).floor().max(0.0) as usize;
        let xe = ((x1 + reach).ceil().max(0.0) as usize).min(w.saturating_sub(1));
        let ys = (y0 - reach).floor().max(0.0) as usize;
        let ye = ((y1 + reach).ceil().max(0.0) as usize).min(h.saturating_sub(1));
        for y in ys..=ye {
            for x in xs..=xe {
                let d = dist_to_polyline(&line, x as f32, y as f32);
                if d > reach {
                    continue;
                }
                let k = 1.0 - 0.5 * b * (-0.5 * (d / sigma).powi(2)).exp();
                let i = 3 * (y * w + x);
                for v in &mut out[i..i + 3] {
                    *v *= k;
                }
            }
        }
    }
}

/// Even-odd point-in-polygon test.
fn inside(poly: &[(f64, f64)], p: (f64, f64)) -> bool {
    let mut c = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a.1 > p.1) != (b.1 > p.1) && p.0 < (b.0 - a.0) * (p.1 - a.1) / (b.1 - a.1) + a.0 {
            c = !c;
        }
    }
    c
}

/// Distance from a point to a polyline, pixels.
fn dist_to_polyline(line: &[(f32, f32)], x: f32, y: f32) -> f32 {
    let mut best = f32::INFINITY;
    for s in line.windows(2) {
        let ((ax, ay), (bx, by)) = (s[0], s[1]);
        let (dx, dy) = (bx - ax, by - ay);
        let l2 = dx * dx + dy * dy;
        let t = if l2 > 0.0 {
            (((x - ax) * dx + (y - ay) * dy) / l2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (px, py) = (ax + t * dx - x, ay + t * dy - y);
        best = best.min((px * px + py * py).sqrt());
    }
    best
}

fn smooth(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn smoothstep(e0: f64, e1: f64, x: f64) -> f64 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A lid as a polyline from the outer to the inner corner: `(t, x, y)` with `t` the position
/// along the corner-to-corner axis (0 at `contour[0]`, 1 at `contour[8]`).
fn lid(
    rest: &[Vec3],
    ids: &[usize],
    a: (f64, f64),
    u: (f64, f64),
    len: f64,
) -> Vec<(f64, f64, f64)> {
    let mut v: Vec<(f64, f64, f64)> = ids
        .iter()
        .map(|&i| {
            let (x, y) = (rest[i][0], rest[i][1]);
            (((x - a.0) * u.0 + (y - a.1) * u.1) / len, x, y)
        })
        .collect();
    v.sort_by(|p, q| p.0.total_cmp(&q.0));
    v
}

/// Linear interpolation along a `(t, a, b)` polyline at `t` (clamped to its ends).
fn interp(poly: &[(f64, f64, f64)], t: f64) -> (f64, f64) {
    let first = poly[0];
    let last = poly[poly.len() - 1];
    if t <= first.0 {
        return (first.1, first.2);
    }
    if t >= last.0 {
        return (last.1, last.2);
    }
    for w in poly.windows(2) {
        if t <= w[1].0 {
            let k = if w[1].0 > w[0].0 {
                (t - w[0].0) / (w[1].0 - w[0].0)
            } else {
                0.0
            };
            return (
                w[0].1 + k * (w[1].1 - w[0].1),
                w[0].2 + k * (w[1].2 - w[0].2),
            );
        }
    }
    (last.1, last.2)
}

/// Full-blink displacement of every landmark (frame pixels; zero depth change).
fn blink_field(rest: &[Vec3]) -> Vec<Vec3> {
    /// Where the lids meet, as a fraction of the opening above the lower lid.
    const MEET: f64 = 0.2;
    let mut d = vec![[0.0; 3]; NUM_LANDMARKS];
    for contour in [idx::RIGHT_EYE_CONTOUR, idx::LEFT_EYE_CONTOUR] {
        let a = (rest[contour[0]][0], rest[contour[0]][1]);
        let b = (rest[contour[8]][0], rest[contour[8]][1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt().max(1e-6);
        let u = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let lower_ids: Vec<usize> = contour[..=8].to_vec();
        let mut upper_ids: Vec<usize> = contour[8..].to_vec();
        upper_ids.push(contour[0]);
        let lower = lid(rest, &lower_ids, a, u, len);
        let upper = lid(rest, &upper_ids, a, u, len);
        // "Down" across the eye: from the upper lid towards the lower one.
        let mean = |p: &[(f64, f64, f64)]| {
            let n = p.len() as f64;
            p.iter()
                .fold((0.0, 0.0), |s, q| (s.0 + q.1 / n, s.1 + q.2 / n))
        };
        let (ml, mu) = (mean(&lower), mean(&upper));
        let mut nrm = (-u.1, u.0);
        if (ml.0 - mu.0) * nrm.0 + (ml.1 - mu.1) * nrm.1 < 0.0 {
            nrm = (-nrm.0, -nrm.1);
        }
        let t_of = |x: f64, y: f64| ((x - a.0) * u.0 + (y - a.1) * u.1) / len;
        // Lid displacements as functions of t (zero at the corners).
        let mut up_disp: Vec<(f64, f64, f64)> = Vec::new();
        let mut lo_disp: Vec<(f64, f64, f64)> = Vec::new();
        for &i in &contour[9..] {
            let (x, y) = (rest[i][0], rest[i][1]);
            let t = t_of(x, y);
            let q = interp(&lower, t);
            let meet = (q.0 + MEET * (x - q.0), q.1 + MEET * (y - q.1));
            d[i] = [meet.0 - x, meet.1 - y, 0.0];
            up_disp.push((t, d[i][0], d[i][1]));
        }
        for &i in &contour[1..8] {
            let (x, y) = (rest[i][0], rest[i][1]);
            let t = t_of(x, y);
            let p = interp(&upper, t);
            d[i] = [MEET * (p.0 - x), MEET * (p.1 - y), 0.0];
            lo_disp.push((t, d[i][0], d[i][1]));
        }
        for v in [&mut up_disp, &mut lo_disp] {
            v.push((0.0, 0.0, 0.0));
            v.push((1.0, 0.0, 0.0));
            v.sort_by(|p, q| p.0.total_cmp(&q.0));
        }
        // The skin around the eye follows the lids, fading with distance.
        for (i, di) in d.iter_mut().enumerate() {
            if idx::RIGHT_EYE_CONTOUR.contains(&i) || idx::LEFT_EYE_CONTOUR.contains(&i) {
                continue;
            }
            let (x, y) = (rest[i][0], rest[i][1]);
            let t = t_of(x, y);
            let outside = (-t).max(t - 1.0).max(0.0);
            let fade_t = 1.0 - smoothstep(0.0, 0.25, outside);
            if fade_t <= 0.0 {
                continue;
            }
            let tc = t.clamp(0.0, 1.0);
            let up = interp(&upper, tc);
            let lo = interp(&lower, tc);
            let above = ((up.0 - x) * nrm.0 + (up.1 - y) * nrm.1) / len;
            let below = ((x - lo.0) * nrm.0 + (y - lo.1) * nrm.1) / len;
            let (w, disp) = if above > 0.0 {
                (
                    0.6 * (1.0 - smoothstep(0.0, 0.7, above)),
                    interp(&up_disp, tc),
                )
            } else if below > 0.0 {
                (
                    0.5 * (1.0 - smoothstep(0.0, 0.4, below)),
                    interp(&lo_disp, tc),
                )
            } else {
                continue;
            };
            let w = w * fade_t;
            di[0] += w * disp.0;
            di[1] += w * disp.1;
        }
    }
    d
}

/// Full-smile displacement of every landmark (frame pixels; depth + = away from the camera).
fn smile_field(rest: &[Vec3]) -> Vec<Vec3> {
    let r = rest[idx::MOUTH_RIGHT];
    let l = rest[idx::MOUTH_LEFT];
    let o = (0.5 * (r[0] + l[0]), 0.5 * (r[1] + l[1]));
    let half = (0.5 * ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()).max(1e-6);
    let ex = ((l[0] - r[0]) / (2.0 * half), (l[1] - r[1]) / (2.0 * half));
    let mut ey = (-ex.1, ex.0);
    let chin = rest[idx::CHIN];
    if (chin[0] - o.0) * ey.0 + (chin[1] - o.1) * ey.1 < 0.0 {
        ey = (-ey.0, -ey.1);
    }
    // Outward gain, upward gain (× u²), backward depth gain (× u²), in half mouth widths.
    const OUT: f64 = 0.28;
    const UP: f64 = 0.32;
    const BACK: f64 = 0.10;
    rest[..NUM_LANDMARKS]
        .iter()
        .map(|p| {
            let (dx, dy) = (p[0] - o.0, p[1] - o.1);
            let u = (dx * ex.0 + dy * ex.1) / half;
            let v = (dx * ey.0 + dy * ey.1) / half;
            let sv = if v < 0.0 { 1.3 } else { 0.9 };
            let w = (-(u * u / (1.5 * 1.5) + v * v / (sv * sv))).exp();
            let du = OUT * u * w * half;
            let dv = -UP * u * u * w * half;
            [
                du * ex.0 + dv * ey.0,
                du * ex.1 + dv * ey.1,
                BACK * u * u * w * half,
            ]
        })
        .collect()
}

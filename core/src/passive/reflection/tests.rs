use super::*;
use crate::frame::FrameError;
use crate::geometry::{Point3, Rect};
use crate::mesh::checked;
use crate::mesh::NUM_LANDMARKS;
use crate::passive::inter_ocular_distance;
use alloc::vec;

/// Eye centres sit at (∓`EYE_DX`·a, −`EYE_DY`·a) from the face centre: IOD = 0.9 a.
const EYE_DX: f32 = 0.45;
const EYE_DY: f32 = 0.195;
/// Eye contour semi-axes, × a.
const EYE_RX: f32 = 0.18;
const EYE_RY: f32 = 0.07;
/// Nose tip and inner-mouth centre below the face centre, × a.
const NOSE_DY: f32 = 0.195;
const MOUTH_DY: f32 = 0.65;
/// Face-oval height / width.
const ASPECT: f32 = 1.3;

/// A plausible upright 468-point FaceMesh set for a face whose oval is the ellipse centred
/// at (cx, cy) with semi-axes `a` (horizontal) and 1.3·`a`: the face oval on that ellipse
/// (clockwise from the forehead, as `FACE_OVAL`), both eye contours on small ellipses
/// (corners at `*_EYE_OUTER/INNER`), the inner-lip loop on a flat ellipse, the nose tip, and
/// every other point spread inside the inner 60 % of the face. IOD = 0.9·`a`.
pub(crate) fn synthetic_landmarks(cx: f32, cy: f32, a: f32) -> Vec<Point3> {
    let b = ASPECT * a;
    let golden = core::f32::consts::PI * (3.0 - 5f32.sqrt());
    let mut lm: Vec<Point3> = (0..NUM_LANDMARKS)
        .map(|i| {
            let t = i as f32 * golden;
            let rho = 0.6 * ((i as f32 + 0.5) / NUM_LANDMARKS as f32).sqrt();
            Point3::new(cx + rho * a * t.cos(), cy + rho * b * t.sin(), 0.0)
        })
        .collect();
    let tau = core::f32::consts::TAU;
    for (k, &i) in idx::FACE_OVAL.iter().enumerate() {
        let t = -core::f32::consts::FRAC_PI_2 + k as f32 * tau / 36.0;
        lm[i] = Point3::new(cx + a * t.cos(), cy + b * t.sin(), 0.0);
    }
    let eye = |ex: f32, contour: &[usize; 16], start: f32, dir: f32, lm: &mut Vec<Point3>| {
        for (k, &i) in contour.iter().enumerate() {
            let t = start + dir * k as f32 * tau / 16.0;
            lm[i] = Point3::new(
                cx + ex * a + EYE_RX * a * t.cos(),
                cy - EYE_DY * a + EYE_RY * a * t.sin(),
                0.0,
            );
        }
    };
    // Right eye (image left): outer corner at the left (t = π), lower lid (sin > 0) first.
    eye(
        -EYE_DX,
        &idx::RIGHT_EYE_CONTOUR,
        core::f32::consts::PI,
        -1.0,
        &mut lm,
    );
    // Left eye (image right): outer corner at the right (t = 0), lower lid first.
    eye(EYE_DX, &idx::LEFT_EYE_CONTOUR, 0.0, 1.0, &mut lm);
    for (k, &i) in INNER_LIPS.iter().enumerate() {
        let t = core::f32::consts::PI - k as f32 * tau / 20.0;
        lm[i] = Point3::new(
            cx + 0.2 * a * t.cos(),
            cy + MOUTH_DY * a + 0.03 * a * t.sin(),
            0.0,
        );
    }
    lm[idx::NOSE_TIP] = Point3::new(cx, cy + NOSE_DY * a, 0.0);
    lm
}

pub(crate) fn bbox_of(lm: &[Point3]) -> Rect {
    Rect::bounding(lm.iter().map(|p| p.xy())).unwrap()
}

fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// A glare disc: centre and radius in units of `a` relative to the face centre, soft edge of
/// ±`edge`·radius, additive white of `amp` (0–255).
#[derive(Clone, Copy)]
struct Glare {
    dx: f32,
    dy: f32,
    radius: f32,
    edge: f32,
    amp: f32,
}

/// Forehead glare covering ≈ 11 % of the face area.
const FOREHEAD_GLARE: Glare = Glare {
    dx: -0.15,
    dy: -0.78,
    radius: 0.38,
    edge: 0.15,
    amp: 230.0,
};

/// A skin-coloured shaded ellipse on a grey-green wall, with eyes (sclera + iris), lips, a
/// nose-tip and a forehead highlight; optional glare. `gain` scales the final pixel values
/// (exposure), clipping at 255.
fn render_face(w: u32, h: u32, a: f32, glare: Option<Glare>, gain: f32) -> (RgbImage, Vec<Point3>) {
    render_face_lit(w, h, a, glare, gain, SKIN, 0.0)
}

/// Warm skin under white light: S = 0.38.
const SKIN: [f32; 3] = [225.0, 170.0, 140.0];
/// Pale skin under cool light: S = 0.125.
const PALE_SKIN: [f32; 3] = [200.0, 185.0, 175.0];

/// [`render_face`] with a skin colour and a hard side light: the image-right half of the face
/// is darker by the factor `1 − split` (soft terminator 0.1·a wide).
fn render_face_lit(
    w: u32,
    h: u32,
    a: f32,
    glare: Option<Glare>,
    gain: f32,
    skin: [f32; 3],
    split: f32,
) -> (RgbImage, Vec<Point3>) {
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let b = ASPECT * a;
    let lm = synthetic_landmarks(cx, cy, a);
    let mut data = vec![0u8; (w * h * 3) as usize];
    let gauss = |x: f32, y: f32, gx: f32, gy: f32, s: f32| {
        let d2 = ((x - gx) * (x - gx) + (y - gy) * (y - gy)) / (s * s);
        (-0.5 * d2).exp()
    };
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f32, y as f32);
            let (u, v) = ((fx - cx) / a, (fy - cy) / b);
            let r2 = u * u + v * v;
            let mut c = [90.0f32, 110.0, 100.0];
            if r2 < 1.0 {
                let shade = (0.5 + 0.45 * (1.0 - r2).sqrt() - 0.05 * u)
                    * (1.0 - split * (0.5 + 0.5 * (u / 0.1).tanh()));
                c = skin.map(|k| k * shade);
                // Eyes, drawn at 0.9 × the contour so the landmark polygon covers them.
                for ex in [-EYE_DX, EYE_DX] {
                    let (du, dv) = ((fx - cx) / a - ex, (fy - cy) / a + EYE_DY);
                    let e2 = (du / (0.9 * EYE_RX)).powi(2) + (dv / (0.9 * EYE_RY)).powi(2);
                    if e2 < 1.0 {
                        c = if du * du + dv * dv < 0.06 * 0.06 {
                            [60.0, 40.0, 30.0]
                        } else {
                            [235.0, 235.0, 230.0]
                        };
                    }
                }
                let (du, dv) = ((fx - cx) / a, (fy - cy) / a - MOUTH_DY);
                if (du / 0.3).powi(2) + (dv / 0.09).powi(2) < 1.0 {
                    c = [170.0, 85.0, 85.0];
                }
                let hl = 120.0 * gauss(fx, fy, cx, cy + NOSE_DY * a, 0.035 * a)
                    + 70.0 * gauss(fx, fy, cx + 0.1 * a, cy - 0.55 * b, 0.05 * a);
                for ch in &mut c {
                    *ch += hl;
                }
                if let Some(g) = glare {
                    let (gx, gy) = (cx + g.dx * a, cy + g.dy * a);
                    let d = ((fx - gx).powi(2) + (fy - gy).powi(2)).sqrt() / (g.radius * a);
                    let m = 1.0 - smoothstep(1.0 - g.edge, 1.0 + g.edge, d);
                    for ch in &mut c {
                        *ch += g.amp * m;
                    }
                }
            }
            let i = ((y * w + x) * 3) as usize;
            for k in 0..3 {
                // The scene clips in the camera first; the gain is applied to the capture.
                let v = c[k].clamp(0.0, 255.0).round();
                data[i + k] = (v * gain).clamp(0.0, 255.0).round() as u8;
            }
        }
    }
    (RgbImage::from_raw(w, h, data).unwrap(), lm)
}

/// Expected glare fraction of a disc glare: disc area / (face ellipse − eyes − inner lips).
fn glare_disc_fraction(g: &Glare) -> f32 {
    use core::f32::consts::PI;
    let face = PI * ASPECT - 2.0 * PI * EYE_RX * EYE_RY - PI * 0.2 * 0.03;
    PI * g.radius * g.radius / face
}

fn features(img: &RgbImage, lm: &[Point3], cfg: &Config) -> FrameFeatures {
    let face = FaceGeometry {
        landmarks: &checked(lm),
        bbox: bbox_of(lm),
    };
    frame_features(img, &face, cfg, &mut Scratch::new()).unwrap()
}

fn report(frames: &[FrameFeatures]) -> SignalReport {
    score(frames, &Config::default())
}

#[test]
fn landmark_helper_is_plausible() {
    let lm = synthetic_landmarks(150.0, 180.0, 100.0);
    assert_eq!(lm.len(), NUM_LANDMARKS);
    let iod = inter_ocular_distance(&checked(&lm)).unwrap();
    assert!((iod - 90.0).abs() < 0.5, "iod {iod}");
    // Right eye (subject's right) is image-left; forehead above the chin.
    assert!(lm[idx::RIGHT_EYE_OUTER].x < lm[idx::RIGHT_EYE_INNER].x);
    assert!(lm[idx::LEFT_EYE_INNER].x < lm[idx::LEFT_EYE_OUTER].x);
    assert!(lm[idx::FOREHEAD].y < lm[idx::NOSE_TIP].y && lm[idx::NOSE_TIP].y < lm[idx::CHIN].y);
}

#[test]
fn skin_with_small_highlights_scores_live() {
    let (img, lm) = render_face(300, 360, 100.0, None, 1.0);
    let f = features(&img, &lm, &Config::default());
    println!("live face: {f:?}");
    assert_eq!(f.status, FrameStatus::Measured);
    assert_eq!(f.grid_step, 1);
    assert!(f.largest_blob_fraction < 0.01, "{f:?}");
    assert!(f.glare_fraction < 0.015, "{f:?}");
    assert!(
        f.blob_count >= 1,
        "the nose-tip highlight is glare-like: {f:?}"
    );
    let r = report(&[f.clone(), f.clone(), f]);
    println!("live report: {r:?}");
    assert!(r.score.unwrap() > 0.9, "{r:?}");
}

#[test]
fn large_desaturated_glare_scores_attack_and_is_measured() {
    let (img, lm) = render_face(300, 360, 100.0, Some(FOREHEAD_GLARE), 1.0);
    let f = features(&img, &lm, &Config::default());
    let expected = glare_disc_fraction(&FOREHEAD_GLARE);
    println!(
        "glare face: largest blob {:.4} of the face (disc {:.4}), {:.3} IOD², {f:?}",
        f.largest_blob_fraction, expected, f.largest_blob_iod2
    );
    assert_eq!(f.status, FrameStatus::Measured);
    // The soft edge counts out to where the added white still brings S below 0.2: a few % of
    // the radius beyond the nominal disc.
    let rel = f.largest_blob_fraction / expected;
    assert!((0.9..1.2).contains(&rel), "blob / disc = {rel}");
    let iod = 90.0f32;
    let disc_iod2 = core::f32::consts::PI * (FOREHEAD_GLARE.radius * 100.0).powi(2) / (iod * iod);
    assert!((f.largest_blob_iod2 / disc_iod2 - rel).abs() < 0.05);
    let r = report(&[f.clone(), f.clone(), f]);
    println!("glare report: {r:?}");
    assert!(r.score.unwrap() < 0.05, "{r:?}");
}

#[test]
fn glare_fraction_is_exposure_normalised() {
    let mut fractions = Vec::new();
    for gain in [0.6f32, 0.8, 1.0, 1.1] {
        let (img, lm) = render_face(300, 360, 100.0, Some(FOREHEAD_GLARE), gain);
        let f = features(&img, &lm, &Config::default());
        println!(
            "gain {gain}: median V {:.3}, threshold {:.3}, glare {:.4}, largest {:.4}",
            f.median_v, f.v_threshold, f.glare_fraction, f.largest_blob_fraction
        );
        assert_eq!(f.status, FrameStatus::Measured);
        fractions.push(f.largest_blob_fraction);
    }
    let base = fractions[2];
    for f in &fractions {
        assert!((f / base - 1.0).abs() < 0.1, "{fractions:?}");
    }
    // The live face stays live at every gain.
    for gain in [0.6f32, 1.1] {
        let (img, lm) = render_face(300, 360, 100.0, None, gain);
        let f = features(&img, &lm, &Config::default());
        assert!(f.largest_blob_fraction < 0.01, "gain {gain}: {f:?}");
    }
}

#[test]
fn blob_fraction_does_not_depend_on_face_size() {
    let (img1, lm1) = render_face(300, 360, 100.0, Some(FOREHEAD_GLARE), 1.0);
    let (img2, lm2) = render_face(600, 720, 200.0, Some(FOREHEAD_GLARE), 1.0);
    let f1 = features(&img1, &lm1, &Config::default());
    let f2 = features(&img2, &lm2, &Config::default());
    println!(
        "1x: step {} largest {:.4} glare {:.4}; 2x: step {} largest {:.4} glare {:.4}",
        f1.grid_step,
        f1.largest_blob_fraction,
        f1.glare_fraction,
        f2.grid_step,
        f2.largest_blob_fraction,
        f2.glare_fraction
    );
    assert_eq!(f2.grid_step, 3);
    assert!((f2.largest_blob_fraction / f1.largest_blob_fraction - 1.0).abs() < 0.05);
    assert!((f2.largest_blob_iod2 / f1.largest_blob_iod2 - 1.0).abs() < 0.05);
    assert!((f2.face_area_px / (4.0 * f1.face_area_px) - 1.0).abs() < 0.03);
}

#[test]
fn eyes_and_mouth_are_excluded_from_the_face_region() {
    // Sclera is bright and desaturated: without the exclusion each eye would be a blob of
    // ≈ 0.8 % of the face area. Face area = oval polygon − eye polygons − inner-lip polygon.
    let (img, lm) = render_face(300, 360, 100.0, None, 1.0);
    let f = features(&img, &lm, &Config::default());
    let poly = |ids: &[usize]| -> f32 {
        let p: Vec<(f32, f32)> = ids.iter().map(|&i| (lm[i].x, lm[i].y)).collect();
        polygon_area(&p)
    };
    let expected = poly(&idx::FACE_OVAL)
        - poly(&idx::RIGHT_EYE_CONTOUR)
        - poly(&idx::LEFT_EYE_CONTOUR)
        - poly(&INNER_LIPS);
    println!(
        "face area {:.0} px², polygons say {expected:.0} px² (oval {:.0})",
        f.face_area_px,
        poly(&idx::FACE_OVAL)
    );
    assert!((f.face_area_px / expected - 1.0).abs() < 0.01);
    assert!(f.largest_blob_fraction < 0.01);
}

#[test]
fn over_exposed_face_is_unavailable() {
    let (img, lm) = render_face(300, 360, 100.0, None, 1.6);
    let f = features(&img, &lm, &Config::default());
    println!("over-exposed: median V {:.3}", f.median_v);
    assert_eq!(f.status, FrameStatus::OverExposed);
    let r = report(&[f.clone(), f.clone(), f]);
    assert!(!r.available);
    assert!(r.reason.contains("over-exposed"), "{}", r.reason);
    assert_eq!(r.features["frames_over_exposed"], 3.0);
}

#[test]
fn under_exposed_face_is_unavailable() {
    let (img, lm) = render_face(300, 360, 100.0, None, 0.12);
    let f = features(&img, &lm, &Config::default());
    assert_eq!(f.status, FrameStatus::UnderExposed, "{f:?}");
    let r = report(&[f.clone(), f.clone(), f]);
    assert!(r.reason.contains("under-exposed"), "{}", r.reason);
}

#[test]
fn tiny_face_and_short_windows_are_unavailable() {
    let (img, lm) = render_face(80, 90, 20.0, None, 1.0);
    let f = features(&img, &lm, &Config::default());
    assert_eq!(f.status, FrameStatus::FaceTooSmall);
    assert!((f.face_width_px - 40.0).abs() < 0.5);
    let r = report(&[f.clone(), f.clone(), f]);
    assert!(
        !r.available && r.reason.contains("face too small"),
        "{}",
        r.reason
    );

    let r = report(&[]);
    assert_eq!(r.reason, "no frames in the window");
    let (img, lm) = render_face(300, 360, 100.0, None, 1.0);
    let f = features(&img, &lm, &Config::default());
    let r = report(&[f.clone(), f]);
    assert!(
        !r.available && r.reason.contains("window too short"),
        "{}",
        r.reason
    );
    assert_eq!(r.features["frames"], 2.0);
}

#[test]
fn face_half_outside_the_frame_is_not_measured() {
    let (img, mut lm) = render_face(300, 360, 100.0, None, 1.0);
    for p in &mut lm {
        p.x += 180.0;
    }
    let f = features(&img, &lm, &Config::default());
    assert_eq!(f.status, FrameStatus::FaceOutsideFrame, "{f:?}");
    assert!(f.inside_fraction < 0.5);
}

#[test]
fn bad_input_is_a_typed_error() {
    let (img, lm) = render_face(300, 360, 100.0, None, 1.0);
    let cfg = Config::default();
    let mut s = Scratch::new();
    let face = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: bbox_of(&lm),
    };

    let mut short = img.clone();
    short.data.pop();
    let e = frame_features(&short, &face, &cfg, &mut s).unwrap_err();
    assert!(matches!(
        e,
        ReflectionError::Image(FrameError::ImageLength { .. })
    ));
    assert_eq!(
        e.to_string(),
        "RGB image 300×360 has 323999 bytes; expected 324000 (3 × width × height)"
    );
    let empty = RgbImage::default();
    assert!(matches!(
        frame_features(&empty, &face, &cfg, &mut s),
        Err(ReflectionError::Image(FrameError::ZeroSize { .. }))
    ));

    let outside = Rect::new(400.0, 10.0, 500.0, 100.0);
    let e = frame_features(
        &img,
        &FaceGeometry {
            landmarks: &checked(&lm),
            bbox: outside,
        },
        &cfg,
        &mut s,
    );
    assert!(
        matches!(e, Err(ReflectionError::FaceBoxOutside { .. })),
        "{e:?}"
    );
    let inverted = Rect::new(100.0, 10.0, 50.0, 100.0);
    let e = frame_features(
        &img,
        &FaceGeometry {
            landmarks: &checked(&lm),
            bbox: inverted,
        },
        &cfg,
        &mut s,
    );
    assert!(matches!(e, Err(ReflectionError::InvalidFaceBox { .. })));

    let bad = Config {
        s_max: f32::NAN,
        ..Config::default()
    };
    let e = frame_features(&img, &face, &bad, &mut s).unwrap_err();
    assert!(e.to_string().contains("`s_max`"), "{e}");
    assert!(!score(&[], &bad).available);
    let inverted = Config {
        under_exposed_v: 0.95,
        ..Config::default()
    };
    assert!(inverted.validate().is_err());
    assert!(Config::default().validate().is_ok());
}

#[test]
fn scratch_is_reused_across_frames() {
    let (img, lm) = render_face(300, 360, 100.0, Some(FOREHEAD_GLARE), 1.0);
    let face = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: bbox_of(&lm),
    };
    let cfg = Config::default();
    let mut s = Scratch::new();
    let a = frame_features(&img, &face, &cfg, &mut s).unwrap();
    let ptrs = (s.v.as_ptr(), s.flags.as_ptr(), s.labels.as_ptr());
    let t = std::time::Instant::now();
    let reps = 20;
    for _ in 0..reps {
        let b = frame_features(&img, &face, &cfg, &mut s).unwrap();
        assert_eq!(a, b);
    }
    println!(
        "reflection frame_features: {:.3} ms/frame (this profile; 200×260 px face, step 1)",
        t.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
    assert_eq!(ptrs, (s.v.as_ptr(), s.flags.as_ptr(), s.labels.as_ptr()));
}

#[test]
fn window_uses_median_and_reports_max() {
    let (img, lm) = render_face(300, 360, 100.0, None, 1.0);
    let live = features(&img, &lm, &Config::default());
    let (img, lm) = render_face(300, 360, 100.0, Some(FOREHEAD_GLARE), 1.0);
    let glare = features(&img, &lm, &Config::default());
    // One glare frame among four live ones: the median stays live, the max shows it.
    let frames = [
        live.clone(),
        live.clone(),
        glare.clone(),
        live.clone(),
        live,
    ];
    let r = report(&frames);
    assert!(r.score.unwrap() > 0.9, "{r:?}");
    assert!(
        (r.features["max_largest_blob_fraction"] - glare.largest_blob_fraction as f64).abs() < 1e-6
    );
    let r = report(&[glare.clone(), glare.clone(), glare]);
    let s = r.score.unwrap();
    // logistic((x − 0.015) / −0.004)
    let x = r.features["largest_blob_fraction"] as f32;
    assert!((s - 1.0 / (1.0 + ((x - 0.015) / 0.004).exp())).abs() < 1e-4);
}

#[test]
fn pale_skin_under_side_light_is_not_glare() {
    // Half the face lit 2× harder than the other, skin S = 0.125 < s_max: the median V falls
    // in the shadow, the lit half clears the V threshold, and only the relative-saturation
    // limit keeps it out.
    let (img, lm) = render_face_lit(300, 360, 100.0, None, 1.0, PALE_SKIN, 0.5);
    let f = features(&img, &lm, &Config::default());
    println!("pale, side-lit: {f:?}");
    assert!((f.median_s - 0.125).abs() < 0.02, "{f:?}");
    assert!(f.largest_blob_fraction < 0.01, "{f:?}");
    let without_rel = Config {
        s_rel_max: 1.0,
        ..Config::default()
    };
    let g = features(&img, &lm, &without_rel);
    println!(
        "same without the relative limit: largest blob {:.4}",
        g.largest_blob_fraction
    );
    assert!(g.largest_blob_fraction > 0.2);
    // Real glare on the same pale skin is still found.
    let (img, lm) = render_face_lit(300, 360, 100.0, Some(FOREHEAD_GLARE), 1.0, PALE_SKIN, 0.5);
    let f = features(&img, &lm, &Config::default());
    let rel = f.largest_blob_fraction / glare_disc_fraction(&FOREHEAD_GLARE);
    println!("pale with glare: blob / disc {rel:.3}, {f:?}");
    assert!((0.8..1.2).contains(&rel), "{f:?}");
}

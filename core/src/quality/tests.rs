use super::*;
use crate::geometry::{Point3, Rect};
use crate::math;
use crate::mesh::{checked, Landmarks, NUM_LANDMARKS};
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;

/// MediaPipe's canonical face model, all 468 vertices (Apache-2.0, see the file header).
const CANONICAL_TXT: &str = include_str!("testdata/canonical_face_model.txt");
/// FaceMesh landmarks of a real photo (see the file header).
const ASTRONAUT_TXT: &str = include_str!("testdata/astronaut_landmarks.txt");

fn parse_points(txt: &str) -> Vec<Point3> {
    txt.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f32> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            Point3::new(v[0], v[1], v[2])
        })
        .collect()
}

fn canonical() -> Vec<Point3> {
    let v = parse_points(CANONICAL_TXT);
    assert_eq!(v.len(), NUM_LANDMARKS);
    v
}

fn astronaut() -> Vec<Point3> {
    let v = parse_points(ASTRONAUT_TXT);
    assert_eq!(v.len(), NUM_LANDMARKS);
    v
}

fn mat_vec(r: &[[f32; 3]; 3], p: [f32; 3]) -> [f32; 3] {
    core::array::from_fn(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2])
}

/// The canonical face rotated by `r` (camera frame: x right, y down, z away), `scale` px/cm,
/// centred at (cx, cy): what FaceMesh reports (x, y pixels, z same scale, negative = nearer).
fn face_with_rotation(r: &[[f32; 3]; 3], scale: f32, cx: f32, cy: f32) -> Vec<Point3> {
    canonical()
        .iter()
        .map(|c| {
            let q = mat_vec(r, [c.x, -c.y, -c.z]);
            Point3::new(cx + scale * q[0], cy + scale * q[1], 25.0 + scale * q[2])
        })
        .collect()
}

fn posed_face(yaw: f32, pitch: f32, roll: f32, scale: f32, cx: f32, cy: f32) -> Vec<Point3> {
    face_with_rotation(&rotation_from_angles(yaw, pitch, roll), scale, cx, cy)
}

fn bbox(lm: &[Point3]) -> Rect {
    Rect::bounding(lm.iter().map(|p| p.xy())).unwrap()
}

/// Deterministic pseudo-random luma in 2×2 blocks around `mean` (± `amp`).
fn noise_image(w: u32, h: u32, mean: f32, amp: f32) -> Vec<u8> {
    let mut out = vec![0u8; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let mut k = (x / 2).wrapping_mul(0x9E37_79B1) ^ (y / 2).wrapping_mul(0x85EB_CA77);
            k ^= k >> 15;
            k = k.wrapping_mul(0x2C1B_3C6D);
            k ^= k >> 12;
            let u = (k & 0xFFFF) as f32 / 65535.0 * 2.0 - 1.0;
            out[(y * w + x) as usize] = (mean + amp * u).clamp(0.0, 255.0) as u8;
        }
    }
    out
}

fn plane_from_u8(w: usize, h: usize, f: impl Fn(usize, usize) -> f32) -> Vec<f32> {
    (0..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .map(|(x, y)| f(x, y))
        .collect()
}

const W: u32 = 640;
const H: u32 = 480;

/// A good frontal face: 640×480 textured frame, face ~215 px wide in the middle.
struct Scene {
    luma: Vec<u8>,
    lm: Landmarks,
}

impl Scene {
    fn frontal() -> Scene {
        Scene {
            luma: noise_image(W, H, 128.0, 60.0),
            lm: checked(posed_face(0.0, 0.0, 0.0, 14.0, 320.0, 240.0)),
        }
    }
    fn input<'a>(&'a self, lm: &'a Landmarks) -> QualityInput<'a> {
        QualityInput {
            luma: LumaView::packed(W, H, &self.luma).unwrap(),
            face_box: bbox(lm),
            landmarks: lm,
            presence: 0.95,
            previous: None,
            dt_s: 0.0,
            num_faces: 1,
        }
    }
}

fn run(input: &QualityInput<'_>) -> QualityReport {
    assess(&QualityConfig::default(), input, &mut QualityScratch::new()).unwrap()
}

// ---------------------------------------------------------------------------------------
// Hints, verdicts, config

#[test]
fn hint_priority_is_declaration_order() {
    for (i, h) in Hint::ALL.iter().enumerate() {
        assert_eq!(h.priority() as usize, i);
    }
    assert!(Hint::ALL.windows(2).all(|w| w[0] < w[1]));
    assert!(Hint::NoFace < Hint::MultipleFaces && Hint::MultipleFaces < Hint::FaceOccluded);
    assert!(Hint::FaceOccluded < Hint::TooDark && Hint::TooBright < Hint::MoveCloser);
    assert!(Hint::MoveAway < Hint::CenterFace && Hint::CenterFace < Hint::LookStraight);
    assert!(Hint::LookStraight < Hint::Blurry && Hint::Blurry < Hint::HoldStill);
}

#[cfg(feature = "std")]
#[test]
fn hints_and_verdicts_serialise_screaming_snake_case() {
    for h in Hint::ALL {
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            alloc::format!("\"{}\"", h.as_str())
        );
        let back: Hint = serde_json::from_str(&alloc::format!("\"{}\"", h.as_str())).unwrap();
        assert_eq!(back, h);
    }
    assert_eq!(serde_json::to_string(&Verdict::Pass).unwrap(), "\"PASS\"");
    assert_eq!(
        serde_json::to_string(&Verdict::Fail(Hint::TooDark)).unwrap(),
        "{\"FAIL\":\"TOO_DARK\"}"
    );
    let r = assess_no_face();
    let j = serde_json::to_string(&r).unwrap();
    assert!(j.contains("\"hints\":[\"NO_FACE\"]"), "{j}");
}

#[test]
fn check_bounds() {
    assert_eq!(
        Check::at_least(1.0, 1.0, Hint::Blurry).verdict,
        Verdict::Pass
    );
    assert_eq!(
        Check::at_least(0.9, 1.0, Hint::Blurry).verdict,
        Verdict::Fail(Hint::Blurry)
    );
    assert_eq!(
        Check::at_most(f32::NAN, 1.0, Hint::HoldStill).verdict,
        Verdict::Fail(Hint::HoldStill)
    );
    let c = Check::within(5.0, 1.0, 4.0, Hint::MoveCloser, Hint::MoveAway);
    assert_eq!(c.verdict, Verdict::Fail(Hint::MoveAway));
    assert_eq!(
        Check::within(0.5, 1.0, 4.0, Hint::MoveCloser, Hint::MoveAway)
            .verdict
            .hint(),
        Some(Hint::MoveCloser)
    );
    let s = Check::symmetric(-21.0, 20.0, Hint::LookStraight);
    assert_eq!((s.min, s.max), (Some(-20.0), Some(20.0)));
    assert!(!s.verdict.passed());
}

#[test]
fn default_config_is_valid_and_bad_ones_are_rejected() {
    let ok = QualityConfig::default();
    assert_eq!(ok.validate(), Ok(()));

    let cfg = QualityConfig {
        min_sharpness: f32::NAN,
        ..ok.clone()
    };
    assert!(matches!(
        cfg.validate(),
        Err(QualityError::InvalidThreshold {
            name: "min_sharpness",
            ..
        })
    ));
    let cfg = QualityConfig {
        max_yaw_deg: 0.0,
        ..ok.clone()
    };
    assert!(matches!(
        cfg.validate(),
        Err(QualityError::InvalidThreshold {
            name: "max_yaw_deg",
            ..
        })
    ));
    let cfg = QualityConfig {
        max_dark_fraction: 1.5,
        ..ok.clone()
    };
    assert!(matches!(
        cfg.validate(),
        Err(QualityError::InvalidThreshold {
            name: "max_dark_fraction",
            ..
        })
    ));
    let cfg = QualityConfig {
        motion_window_s: f32::INFINITY,
        ..ok.clone()
    };
    assert!(matches!(
        cfg.validate(),
        Err(QualityError::InvalidThreshold {
            name: "motion_window_s",
            ..
        })
    ));

    let cfg = QualityConfig {
        min_face_ratio: 0.9,
        ..ok.clone()
    };
    let e = cfg.validate().unwrap_err();
    assert!(matches!(
        e,
        QualityError::InvertedThresholds {
            low: "min_face_ratio",
            high: "max_face_ratio",
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "quality config `min_face_ratio` = 0.9 must be < `max_face_ratio` = 0.8"
    );
    let cfg = QualityConfig {
        min_mean_luma: 220.0,
        ..ok.clone()
    };
    assert!(matches!(
        cfg.validate(),
        Err(QualityError::InvertedThresholds {
            low: "min_mean_luma",
            ..
        })
    ));
    let cfg = QualityConfig {
        dark_level: 250,
        ..ok.clone()
    };
    assert!(matches!(
        cfg.validate(),
        Err(QualityError::InvertedThresholds {
            low: "dark_level",
            ..
        })
    ));
    let cfg = QualityConfig {
        crop_size: 8,
        ..ok.clone()
    };
    assert_eq!(cfg.validate(), Err(QualityError::InvalidCropSize(8)));

    // assess refuses an invalid config before looking at the input.
    let scene = Scene::frontal();
    let cfg = QualityConfig {
        max_roll_deg: f32::NAN,
        ..ok
    };
    let r = assess(&cfg, &scene.input(&scene.lm), &mut QualityScratch::new());
    assert!(matches!(
        r,
        Err(QualityError::InvalidThreshold {
            name: "max_roll_deg",
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------
// Luma views and image measures

#[test]
fn luma_view_validation() {
    let buf = [0u8; 100];
    assert_eq!(
        LumaView::new(0, 5, &buf, 10).unwrap_err(),
        QualityError::EmptyImage {
            width: 0,
            height: 5
        }
    );
    assert_eq!(
        LumaView::new(10, 5, &buf, 8).unwrap_err(),
        QualityError::StrideTooSmall {
            stride: 8,
            width: 10
        }
    );
    let e = LumaView::new(10, 10, &buf[..95], 10).unwrap_err();
    assert_eq!(
        e,
        QualityError::BufferTooSmall {
            len: 95,
            expected: 100,
            width: 10,
            height: 10,
            stride: 10
        }
    );
    assert!(e.to_string().contains("95 bytes, expected ≥ 100"));
    // A padded stride: the last row may stop at the width.
    let v = LumaView::new(8, 10, &buf[..(9 * 10 + 8)], 10).unwrap();
    assert_eq!((v.width(), v.height(), v.stride()), (8, 10, 10));
    assert!(LumaView::new(8, 3, &buf, usize::MAX).is_err());
    assert_eq!(
        Plane::new(4, 4, &[0.0; 15]).unwrap_err(),
        QualityError::PlaneSize {
            len: 15,
            width: 4,
            height: 4,
            expected: 16
        }
    );
}

#[test]
fn laplacian_variance_flat_and_checkerboard() {
    let flat = vec![77.0f32; 32 * 32];
    let p = Plane::new(32, 32, &flat).unwrap();
    assert_eq!(laplacian_variance(&p, &Roi::full(&p)), Some(0.0));

    // One-pixel 0/255 checkerboard: the Laplacian is ±4·255 everywhere, variance 1020².
    let cb = plane_from_u8(32, 32, |x, y| if (x + y) % 2 == 0 { 0.0 } else { 255.0 });
    let p = Plane::new(32, 32, &cb).unwrap();
    let v = laplacian_variance(&p, &Roi::full(&p)).unwrap();
    assert!((v - 1_040_400.0).abs() < 1.0, "{v}");

    // Too small a ROI for a 3×3 neighbourhood.
    let roi = Roi {
        x0: 0,
        y0: 0,
        x1: 2,
        y1: 32,
        ellipse: None,
    };
    assert_eq!(laplacian_variance(&p, &roi), None);
}

#[test]
fn blurred_is_less_sharp_than_sharp() {
    let w = 64usize;
    let sharp = plane_from_u8(w, w, |x, y| {
        if (x / 4 + y / 4) % 2 == 0 {
            60.0
        } else {
            200.0
        }
    });
    let blurred: Vec<f32> = (0..w * w)
        .map(|k| {
            let (x, y) = ((k % w) as isize, (k / w) as isize);
            let mut s = 0.0;
            for dy in -2..=2isize {
                for dx in -2..=2isize {
                    let xx = (x + dx).clamp(0, w as isize - 1) as usize;
                    let yy = (y + dy).clamp(0, w as isize - 1) as usize;
                    s += sharp[yy * w + xx];
                }
            }
            s / 25.0
        })
        .collect();
    let ps = Plane::new(w, w, &sharp).unwrap();
    let pb = Plane::new(w, w, &blurred).unwrap();
    let vs = laplacian_variance(&ps, &Roi::full(&ps)).unwrap();
    let vb = laplacian_variance(&pb, &Roi::full(&pb)).unwrap();
    // 4-px squares of contrast 140: edges carry ±140 (and ±280 at corners); a 5×5 box blur
    // spreads them to ±28 ramps, cutting the variance by more than 10×.
    assert!(vb < 0.1 * vs, "blurred {vb} vs sharp {vs}");
}

#[test]
fn luma_stats_exposure_and_contrast() {
    let c = vec![128.0f32; 40 * 40];
    let p = Plane::new(40, 40, &c).unwrap();
    let s = luma_stats(&p, &Roi::full(&p), 16, 250).unwrap();
    assert_eq!(
        (
            s.mean,
            s.std_dev,
            s.dark_fraction,
            s.bright_fraction,
            s.pixels
        ),
        (128.0, 0.0, 0.0, 0.0, 1600)
    );

    let dark = vec![10.0f32; 40 * 40];
    let p = Plane::new(40, 40, &dark).unwrap();
    assert_eq!(
        luma_stats(&p, &Roi::full(&p), 16, 250)
            .unwrap()
            .dark_fraction,
        1.0
    );
    let bright = vec![252.0f32; 40 * 40];
    let p = Plane::new(40, 40, &bright).unwrap();
    assert_eq!(
        luma_stats(&p, &Roi::full(&p), 16, 250)
            .unwrap()
            .bright_fraction,
        1.0
    );

    // Half 100, half 200: mean 150, RMS contrast exactly 50.
    let half = plane_from_u8(40, 40, |x, _| if x < 20 { 100.0 } else { 200.0 });
    let p = Plane::new(40, 40, &half).unwrap();
    let s = luma_stats(&p, &Roi::full(&p), 16, 250).unwrap();
    assert!(
        (s.mean - 150.0).abs() < 1e-4 && (s.std_dev - 50.0).abs() < 1e-3,
        "{s:?}"
    );

    // The inscribed ellipse of a 40×40 plane holds ≈ π·20² pixels.
    let roi = Roi {
        ellipse: Some(Ellipse {
            cx: 20.0,
            cy: 20.0,
            rx: 20.0,
            ry: 20.0,
        }),
        ..Roi::full(&p)
    };
    let n = luma_stats(&p, &roi, 16, 250).unwrap().pixels as f32;
    assert!((n - core::f32::consts::PI * 400.0).abs() < 20.0, "{n}");
    let empty = Roi {
        x0: 5,
        y0: 5,
        x1: 5,
        y1: 9,
        ellipse: None,
    };
    assert_eq!(luma_stats(&p, &empty, 16, 250), None);
}

#[test]
fn resample_identity_downsample_and_outside() {
    let (mut out, mut counts) = (Vec::new(), Vec::new());
    let img: Vec<u8> = (0..128 * 128).map(|k| ((k * 7) % 251) as u8).collect();
    let v = LumaView::packed(128, 128, &img).unwrap();
    let valid = resample_crop(
        &v,
        &Rect::new(0.0, 0.0, 128.0, 128.0),
        128,
        &mut out,
        &mut counts,
    )
    .unwrap();
    assert_eq!(
        valid,
        CropValid {
            x0: 0,
            y0: 0,
            x1: 128,
            y1: 128
        }
    );
    assert!(out.iter().zip(img.iter()).all(|(a, &b)| *a == b as f32));

    // 2× box averaging.
    let img2: Vec<u8> = (0..256 * 256)
        .map(|k| ((k % 256) ^ (k / 256)) as u8)
        .collect();
    let v2 = LumaView::packed(256, 256, &img2).unwrap();
    resample_crop(
        &v2,
        &Rect::new(0.0, 0.0, 256.0, 256.0),
        128,
        &mut out,
        &mut counts,
    )
    .unwrap();
    for (j, i) in [(0usize, 0usize), (5, 77), (127, 127)] {
        let at = |x: usize, y: usize| img2[y * 256 + x] as f32;
        let want = (at(2 * i, 2 * j)
            + at(2 * i + 1, 2 * j)
            + at(2 * i, 2 * j + 1)
            + at(2 * i + 1, 2 * j + 1))
            / 4.0;
        assert!((out[j * 128 + i] - want).abs() < 1e-4);
    }

    // Upsampling (bilinear) a constant stays constant.
    let c = vec![90u8; 50 * 50];
    let vc = LumaView::packed(50, 50, &c).unwrap();
    let valid = resample_crop(
        &vc,
        &Rect::new(10.0, 10.0, 40.0, 40.0),
        64,
        &mut out,
        &mut counts,
    )
    .unwrap();
    assert_eq!(
        valid,
        CropValid {
            x0: 0,
            y0: 0,
            x1: 64,
            y1: 64
        }
    );
    assert!(out.iter().all(|&x| (x - 90.0).abs() < 1e-4));

    // A box half outside the frame (both axes): only the lower-right quarter is valid.
    let valid = resample_crop(
        &v,
        &Rect::new(-64.0, -64.0, 64.0, 64.0),
        128,
        &mut out,
        &mut counts,
    )
    .unwrap();
    assert_eq!(
        valid,
        CropValid {
            x0: 64,
            y0: 64,
            x1: 128,
            y1: 128
        }
    );
    assert_eq!(out[64 * 128 + 64], img[0] as f32);
    // Entirely outside.
    let valid = resample_crop(
        &v,
        &Rect::new(500.0, 0.0, 700.0, 200.0),
        128,
        &mut out,
        &mut counts,
    )
    .unwrap();
    assert!(valid.is_empty());

    assert_eq!(
        resample_crop(
            &v,
            &Rect::new(0.0, 0.0, 1.0, 1.0),
            1000,
            &mut out,
            &mut counts
        ),
        Err(QualityError::InvalidCropSize(1000))
    );
    assert!(matches!(
        resample_crop(
            &v,
            &Rect::new(f32::NAN, 0.0, 1.0, 1.0),
            64,
            &mut out,
            &mut counts
        ),
        Err(QualityError::InvalidFaceBox { .. })
    ));
}

/// The same band-limited "face" texture rendered at 240 and 720 px: on the fixed-size crop the
/// Laplacian variance agrees within 10 %, while on the raw pixels it differs by ~80×.
#[test]
fn sharpness_is_resolution_robust() {
    let render = |side: u32| -> Vec<u8> {
        let s = side as f32;
        (0..side * side)
            .map(|k| {
                let (u, v) = ((k % side) as f32 / s, (k / side) as f32 / s);
                let t = core::f32::consts::TAU;
                let val = 128.0
                    + 50.0 * math::sin(t * 9.0 * u) * math::cos(t * 7.0 * v)
                    + 25.0 * math::sin(t * 17.0 * (u + v));
                val.clamp(0.0, 255.0) as u8
            })
            .collect()
    };
    let (mut out, mut counts) = (Vec::new(), Vec::new());
    let mut crop_var = Vec::new();
    let mut raw_var = Vec::new();
    for side in [240u32, 720] {
        let img = render(side);
        let v = LumaView::packed(side, side, &img).unwrap();
        resample_crop(
            &v,
            &Rect::new(0.0, 0.0, side as f32, side as f32),
            128,
            &mut out,
            &mut counts,
        )
        .unwrap();
        let p = Plane::new(128, 128, &out).unwrap();
        crop_var.push(laplacian_variance(&p, &Roi::full(&p)).unwrap());
        let raw: Vec<f32> = img.iter().map(|&b| b as f32).collect();
        let pr = Plane::new(side as usize, side as usize, &raw).unwrap();
        raw_var.push(laplacian_variance(&pr, &Roi::full(&pr)).unwrap());
    }
    let crop_ratio = crop_var[0] / crop_var[1];
    let raw_ratio = raw_var[0] / raw_var[1];
    assert!((crop_ratio - 1.0).abs() < 0.10, "crop {crop_var:?}");
    assert!(raw_ratio > 20.0, "raw {raw_var:?}");
}

#[test]
fn normalised_sharpness_ignores_gain() {
    // Same detail at half the contrast: raw Laplacian variance ÷4, normalised unchanged.
    assert!((normalised_sharpness(400.0, 40.0) - 400.0).abs() < 1e-3);
    assert!((normalised_sharpness(100.0, 20.0) - 400.0).abs() < 1e-3);
    // Floor at std-dev 10.
    assert!((normalised_sharpness(10.0, 1.0) - 160.0).abs() < 1e-3);
}

// ---------------------------------------------------------------------------------------
// Head pose

#[test]
fn canonical_subset_matches_the_full_model() {
    let c = canonical();
    for (k, &i) in POSE_LANDMARKS.iter().enumerate() {
        let p = CANONICAL_POSE_POINTS[k];
        assert_eq!((c[i].x, c[i].y, c[i].z), (p[0], p[1], p[2]), "landmark {i}");
    }
    let (dx, dy, dz) = (c[33].x - c[263].x, c[33].y - c[263].y, c[33].z - c[263].z);
    let iod = math::sqrt(dx * dx + dy * dy + dz * dz);
    assert!((iod - CANONICAL_INTEROCULAR).abs() < 1e-5);
    // Subject's left eye (263) on the model's +x; forehead (10) up; nose tip (4) out of the face.
    assert!(c[263].x > 0.0 && c[33].x < 0.0 && c[10].y > c[152].y && c[4].z > c[234].z);
}

#[test]
fn pose_recovers_known_angles_scale_and_translation() {
    for (yaw, pitch, roll) in [
        (20.0, -10.0, 5.0),
        (0.0, 0.0, 0.0),
        (-35.0, 25.0, -15.0),
        (8.0, 30.0, 40.0),
    ] {
        let lm = posed_face(yaw, pitch, roll, 11.5, 412.0, 233.0);
        let p = estimate_head_pose(&checked(&lm)).unwrap();
        assert!((p.yaw_deg - yaw).abs() < 0.5, "yaw {} vs {yaw}", p.yaw_deg);
        assert!(
            (p.pitch_deg - pitch).abs() < 0.5,
            "pitch {} vs {pitch}",
            p.pitch_deg
        );
        assert!(
            (p.roll_deg - roll).abs() < 0.5,
            "roll {} vs {roll}",
            p.roll_deg
        );
        assert!((p.scale - 11.5).abs() < 1e-3, "scale {}", p.scale);
        assert!(p.residual < 1e-4, "residual {}", p.residual);
    }
}

#[test]
fn pose_sign_conventions_are_physical() {
    let c = canonical();
    let frontal = face_with_rotation(
        &[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
        10.0,
        0.0,
        0.0,
    );
    // Un-mirrored frame: the subject's left eye (263) appears on the image right.
    assert!(frontal[263].x > frontal[33].x);
    assert!(
        frontal[4].z < frontal[234].z,
        "nose tip is nearer the camera (negative z)"
    );
    let _ = c;
    let th = 15f32.to_radians();
    let (s, co) = (math::sin(th), math::cos(th));

    // Turn about the image vertical so that the nose tip moves to the image right = towards the
    // subject's left: positive yaw.
    let ry = [[co, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, co]];
    let lm = face_with_rotation(&ry, 10.0, 0.0, 0.0);
    let eyes_mid = 0.5 * (lm[33].x + lm[263].x);
    assert!(
        lm[4].x > eyes_mid + 5.0,
        "premise: nose moved to the image right"
    );
    let p = estimate_head_pose(&checked(&lm)).unwrap();
    assert!(
        (p.yaw_deg - 15.0).abs() < 0.5 && p.pitch_deg.abs() < 0.5 && p.roll_deg.abs() < 0.5,
        "{p:?}"
    );

    // Turn about the image horizontal so that the nose tip moves up (y decreases) and the chin
    // comes forward: chin up, positive pitch.
    let rx = [[1.0, 0.0, 0.0], [0.0, co, s], [0.0, -s, co]];
    let lm = face_with_rotation(&rx, 10.0, 0.0, 0.0);
    assert!(lm[4].y < frontal[4].y - 5.0, "premise: nose moved up");
    assert!(lm[152].z < frontal[152].z, "premise: chin came forward");
    let p = estimate_head_pose(&checked(&lm)).unwrap();
    assert!(
        (p.pitch_deg - 15.0).abs() < 0.5 && p.yaw_deg.abs() < 0.5 && p.roll_deg.abs() < 0.5,
        "{p:?}"
    );

    // In-plane turn moving the forehead to the image right (clockwise as displayed): the head
    // tilts towards the subject's left shoulder, positive roll.
    let rz = [[co, -s, 0.0], [s, co, 0.0], [0.0, 0.0, 1.0]];
    let lm = face_with_rotation(&rz, 10.0, 0.0, 0.0);
    assert!(
        lm[10].x > lm[152].x + 5.0,
        "premise: forehead right of chin"
    );
    let p = estimate_head_pose(&checked(&lm)).unwrap();
    assert!(
        (p.roll_deg - 15.0).abs() < 0.5 && p.yaw_deg.abs() < 0.5 && p.pitch_deg.abs() < 0.5,
        "{p:?}"
    );
}

/// FaceMesh output on a real photo: the fit is plausible, and mirroring the photo (x → w − x,
/// with left/right landmark indices swapped as FaceMesh would) flips yaw and roll only.
#[test]
fn pose_on_real_facemesh_landmarks() {
    let lm = astronaut();
    let p = estimate_head_pose(&checked(&lm)).unwrap();
    assert!(
        p.residual > 0.01 && p.residual < 0.1,
        "residual {}",
        p.residual
    );
    assert!(
        p.yaw_deg.abs() < 5.0 && p.pitch_deg.abs() < 15.0 && p.roll_deg.abs() < 8.0,
        "{p:?}"
    );
    let iod = p.scale * CANONICAL_INTEROCULAR;
    // The fitted inter-ocular distance (scale × canonical) is within 15 % of the measured one.
    let measured = lm[33].xy().dist(lm[263].xy());
    assert!(
        (iod - measured).abs() < 0.15 * measured,
        "iod {iod} vs {measured}"
    );

    // Mirror map from the canonical model's x symmetry.
    let c = canonical();
    let mirror: Vec<usize> = c
        .iter()
        .map(|p| {
            c.iter()
                .position(|q| q.x == -p.x && q.y == p.y && q.z == p.z)
                .expect("canonical model is symmetric")
        })
        .collect();
    let mirrored = checked(
        (0..NUM_LANDMARKS)
            .map(|i| lm[mirror[i]])
            .map(|q| Point3::new(512.0 - q.x, q.y, q.z))
            .collect::<Vec<Point3>>(),
    );
    let m = estimate_head_pose(&checked(&mirrored)).unwrap();
    assert!(
        (m.yaw_deg + p.yaw_deg).abs() < 0.5,
        "{} vs {}",
        m.yaw_deg,
        p.yaw_deg
    );
    assert!(
        (m.roll_deg + p.roll_deg).abs() < 0.5,
        "{} vs {}",
        m.roll_deg,
        p.roll_deg
    );
    assert!((m.pitch_deg - p.pitch_deg).abs() < 0.5);
    assert!((m.residual - p.residual).abs() < 1e-3);
}

#[test]
fn pose_of_a_distorted_mesh_has_a_large_residual() {
    let mut lm = posed_face(0.0, 0.0, 0.0, 10.0, 300.0, 200.0);
    // Stretch the lower face 2.2× downwards: no face does that (residual ≈ 0.19).
    let nose_y = lm[4].y;
    for p in lm.iter_mut().filter(|p| p.y > nose_y) {
        p.y = nose_y + 2.2 * (p.y - nose_y);
    }
    let p = estimate_head_pose(&checked(&lm)).unwrap();
    assert!(
        p.residual > QualityConfig::default().max_pose_residual,
        "residual {}",
        p.residual
    );
    assert!((p.residual - 0.186).abs() < 0.01, "residual {}", p.residual);

    // A wide-open jaw on a real mesh barely moves the fit (few lower-face fit points).
    let real = astronaut();
    let base = estimate_head_pose(&checked(&real)).unwrap();
    let mut open = real.clone();
    for (i, f) in [
        (152usize, 1.0f32),
        (58, 0.5),
        (288, 0.5),
        (61, 0.25),
        (291, 0.25),
    ] {
        open[i].y += f * 2.0 * base.scale; // chin 2 cm down
    }
    let p = estimate_head_pose(&checked(&open)).unwrap();
    assert!(
        (p.residual - base.residual).abs() < 0.01 && (p.pitch_deg - base.pitch_deg).abs() < 2.0,
        "{p:?}"
    );
}

#[test]
fn pose_errors() {
    assert!(matches!(
        estimate_head_pose(&checked([Point3::new(5.0, 5.0, 5.0); 468])),
        Err(QualityError::DegenerateLandmarks(_))
    ));
    let line = checked(
        (0..468)
            .map(|i| Point3::new(i as f32, 2.0 * i as f32, 0.0))
            .collect::<Vec<Point3>>(),
    );
    assert!(matches!(
        estimate_head_pose(&checked(&line)),
        Err(QualityError::DegenerateLandmarks(_))
    ));
}

// ---------------------------------------------------------------------------------------
// Framing

#[test]
fn face_size_and_centring_functions() {
    let r = Rect::new(100.0, 100.0, 244.0, 260.0);
    assert!((face_ratio(&r, 640, 480) - 144.0 / 480.0).abs() < 1e-6);
    let (dx, dy) = center_offset(&Rect::new(300.0, 220.0, 340.0, 260.0), 640, 480);
    assert!(dx.abs() < 1e-6 && dy.abs() < 1e-6);
    let (dx, dy) = center_offset(&Rect::new(560.0, 0.0, 640.0, 80.0), 640, 480);
    assert!((dx - 0.875).abs() < 1e-6 && (dy + 5.0 / 6.0).abs() < 1e-6);
    assert_eq!(
        box_outside_fraction(&Rect::new(10.0, 10.0, 50.0, 50.0), 640, 480),
        0.0
    );
    assert!(
        (box_outside_fraction(&Rect::new(-20.0, 0.0, 20.0, 40.0), 640, 480) - 0.5).abs() < 1e-6
    );
    assert_eq!(
        box_outside_fraction(&Rect::new(5.0, 5.0, 5.0, 9.0), 640, 480),
        1.0
    );
    let lm = [
        Point3::new(-1.0, 5.0, 0.0),
        Point3::new(5.0, 5.0, 0.0),
        Point3::new(5.0, 480.0, 0.0),
        Point3::new(639.0, 0.0, 0.0),
    ];
    assert!((landmarks_outside_fraction(&lm, 640, 480) - 0.5).abs() < 1e-6);
}

#[test]
fn a_good_frontal_face_passes() {
    let scene = Scene::frontal();
    let input = scene.input(&scene.lm);
    let r = run(&input);
    assert!(r.passed, "{:?}", r.hints);
    assert_eq!(r.top_hint(), None);
    let c = r.checks.as_ref().unwrap();
    assert!((c.face_ratio.value - input.face_box.width() / 480.0).abs() < 1e-6);
    assert!(c.center_offset.value < 0.05 && c.box_outside.value == 0.0);
    let i = c.image.as_ref().unwrap();
    assert!((i.mean_luma.value - 128.0).abs() < 3.0, "{:?}", i.mean_luma);
    for region in [
        &i.right_eye_contrast,
        &i.left_eye_contrast,
        &i.mouth_contrast,
    ] {
        assert!(region.unwrap().value > 0.5, "{region:?}");
    }
    assert!(c.stability.is_none(), "no previous frame");
    let p = r.pose.unwrap();
    assert!(p.yaw_deg.abs() < 0.5 && p.residual < 1e-4);
}

#[test]
fn face_size_verdicts() {
    let scene = Scene::frontal();
    let small = posed_face(0.0, 0.0, 0.0, 5.0, 320.0, 240.0); // ~77 px of 480: 0.16
    let r = run(&scene.input(&checked(&small)));
    assert_eq!(r.hints, vec![Hint::MoveCloser]);
    let big = posed_face(0.0, 0.0, 0.0, 26.0, 320.0, 240.0); // ~400 px: 0.83
    let r = run(&scene.input(&checked(&big)));
    assert!(r.hints.contains(Hint::MoveAway), "{:?}", r.hints);
    let c = r.checks.unwrap();
    assert!(c.face_ratio.value > 0.8 && c.face_ratio.max == Some(0.8));
}

#[test]
fn centring_and_out_of_frame_verdicts() {
    let scene = Scene::frontal();
    // Inside the frame but off to the right: centre offset ~0.6.
    let off = posed_face(0.0, 0.0, 0.0, 9.0, 520.0, 240.0);
    let r = run(&scene.input(&checked(&off)));
    assert_eq!(r.hints, vec![Hint::CenterFace]);
    let c = r.checks.unwrap();
    assert!(
        (c.center_offset.value - 200.0 / 320.0).abs() < 0.02,
        "{:?}",
        c.center_offset
    );
    assert_eq!(c.box_outside.value, 0.0);

    // Half out of the left border: box and landmarks outside, face still measured.
    let cut = posed_face(0.0, 0.0, 0.0, 12.0, 10.0, 240.0);
    let r = run(&scene.input(&checked(&cut)));
    assert_eq!(r.top_hint(), Some(Hint::CenterFace));
    let c = r.checks.unwrap();
    assert!(
        c.box_outside.value > 0.3 && c.landmarks_outside.value > 0.3,
        "{c:?}"
    );
    assert!(!c.box_outside.verdict.passed() && !c.landmarks_outside.verdict.passed());
}

// ---------------------------------------------------------------------------------------
// Exposure, blur, pose and occlusion through `assess`

#[test]
fn exposure_verdicts() {
    let mut scene = Scene::frontal();
    scene.luma = noise_image(W, H, 30.0, 20.0);
    let r = run(&scene.input(&scene.lm));
    assert_eq!(r.top_hint(), Some(Hint::TooDark));
    let i = r.checks.as_ref().unwrap().image.clone().unwrap();
    assert!(
        (i.mean_luma.value - 30.0).abs() < 2.0
            && i.mean_luma.verdict == Verdict::Fail(Hint::TooDark)
    );

    scene.luma = noise_image(W, H, 253.0, 2.0);
    let r = run(&scene.input(&scene.lm));
    assert_eq!(r.top_hint(), Some(Hint::TooBright));
    let i = r.checks.as_ref().unwrap().image.clone().unwrap();
    assert!(
        i.bright_fraction.value > 0.99
            && i.bright_fraction.verdict == Verdict::Fail(Hint::TooBright)
    );
    assert_eq!(i.contrast.verdict, Verdict::Fail(Hint::TooBright));

    // A flat mid-grey face: no contrast, no detail.
    scene.luma = vec![140u8; (W * H) as usize];
    let r = run(&scene.input(&scene.lm));
    let i = r.checks.as_ref().unwrap().image.clone().unwrap();
    assert_eq!(
        (i.contrast.value, i.contrast.verdict),
        (0.0, Verdict::Fail(Hint::TooBright))
    );
    assert_eq!(i.sharpness.verdict, Verdict::Fail(Hint::Blurry));
}

#[test]
fn blur_verdict() {
    let mut scene = Scene::frontal();
    // Smooth gradient only: in range, some contrast, no fine detail.
    scene.luma = (0..W * H)
        .map(|k| (60 + (k % W) * 120 / W + (k / W) * 60 / H) as u8)
        .collect();
    let r = run(&scene.input(&scene.lm));
    assert_eq!(r.hints, vec![Hint::Blurry]);
    let i = r.checks.unwrap().image.unwrap();
    assert!(i.sharpness.value < 20.0, "{:?}", i.sharpness);
}

#[test]
fn pose_verdict() {
    let scene = Scene::frontal();
    let turned = posed_face(30.0, 0.0, 0.0, 14.0, 320.0, 240.0);
    let r = run(&scene.input(&checked(&turned)));
    assert_eq!(r.hints, vec![Hint::LookStraight]);
    let c = r.checks.unwrap();
    assert!(
        (c.yaw.value - 30.0).abs() < 0.5 && c.pitch.verdict.passed() && c.roll.verdict.passed()
    );
    let tilted = posed_face(0.0, -5.0, -25.0, 14.0, 320.0, 240.0);
    let c = run(&scene.input(&checked(&tilted))).checks.unwrap();
    assert_eq!(c.roll.verdict, Verdict::Fail(Hint::LookStraight));
    assert!((c.roll.value + 25.0).abs() < 0.5 && (c.pitch.value + 5.0).abs() < 0.5);
}

#[test]
fn occlusion_verdicts() {
    let scene = Scene::frontal();
    let mut input = scene.input(&scene.lm);
    input.presence = 0.3;
    let r = run(&input);
    assert_eq!(r.hints, vec![Hint::FaceOccluded]);
    assert_eq!(r.checks.unwrap().presence.min, Some(0.5));

    // A flat patch over the subject's right eye (a hand): only that region fails.
    let mut luma = scene.luma.clone();
    let eye = Rect::bounding([33usize, 133, 159, 145].iter().map(|&i| scene.lm[i].xy())).unwrap();
    for y in (eye.y_min as u32 - 6)..(eye.y_max as u32 + 6) {
        for x in (eye.x_min as u32 - 6)..(eye.x_max as u32 + 6) {
            luma[(y * W + x) as usize] = 150;
        }
    }
    let occluded = Scene {
        luma,
        lm: scene.lm.clone(),
    };
    let r = run(&occluded.input(&occluded.lm));
    assert_eq!(r.hints, vec![Hint::FaceOccluded]);
    let i = r.checks.unwrap().image.unwrap();
    assert!(
        i.right_eye_contrast.unwrap().value < 0.05,
        "{:?}",
        i.right_eye_contrast
    );
    assert!(
        i.left_eye_contrast.unwrap().verdict.passed() && i.mouth_contrast.unwrap().verdict.passed()
    );

    // A distorted mesh: the fit residual flags it.
    let mut lm = scene.lm.to_vec();
    let nose_y = lm[4].y;
    for p in lm.iter_mut().filter(|p| p.y > nose_y) {
        p.y = nose_y + 2.2 * (p.y - nose_y);
    }
    let c = run(&scene.input(&checked(&lm))).checks.unwrap();
    assert_eq!(c.pose_residual.verdict, Verdict::Fail(Hint::FaceOccluded));
}

// ---------------------------------------------------------------------------------------
// Stability

#[test]
fn landmark_motion_of_a_known_shift() {
    let a = posed_face(0.0, 0.0, 0.0, 10.0, 300.0, 200.0);
    let iod = 10.0 * CANONICAL_INTEROCULAR;
    let b = checked(
        a.iter()
            .map(|p| Point3::new(p.x + 0.1 * iod, p.y, p.z + 3.0))
            .collect::<Vec<Point3>>(),
    );
    let a = checked(a);
    let m = landmark_motion(&a, &b, iod).unwrap();
    assert!((m - 0.1).abs() < 1e-4, "{m}");
    assert_eq!(landmark_motion(&a, &a, iod).unwrap(), 0.0);
    assert!(matches!(
        landmark_motion(&a, &b, 0.0),
        Err(QualityError::DegenerateLandmarks(_))
    ));
}

#[test]
fn motion_history_speed_over_window() {
    let mut h = MotionHistory::new();
    assert_eq!(h.speed(0.5), 0.0);
    // 25 fps, 0.01 IOD per frame = 0.25 IOD/s.
    for _ in 0..40 {
        h.push(0.04, 0.01);
    }
    assert!((h.speed(0.5) - 0.25).abs() < 1e-3);
    assert_eq!(h.len(), 32);
    // One fast frame among slow ones is diluted over the window, not over the whole history:
    // the newest 13 frames cover ≥ 0.5 s, (12 × 0.01 + 0.1) / 0.52.
    h.push(0.04, 0.1);
    let s = h.speed(0.5);
    assert!((s - 0.22 / 0.52).abs() < 1e-3, "{s}");
    // A window shorter than one frame still uses the newest frame.
    assert!((h.speed(0.001) - 0.1 / 0.04).abs() < 1e-3);
    h.clear();
    assert!(h.is_empty());
}

#[test]
fn stability_verdicts_through_assess() {
    let scene = Scene::frontal();
    let cfg = QualityConfig::default();
    let mut scratch = QualityScratch::new();
    let iod = 14.0 * CANONICAL_INTEROCULAR;
    let mut prev = scene.lm.clone();
    // Still: 0.002 IOD per frame at 30 fps = 0.06 IOD/s.
    for k in 1..=10 {
        let cur = checked(
            scene
                .lm
                .iter()
                .map(|p| Point3::new(p.x + 0.002 * iod * k as f32, p.y, p.z))
                .collect::<Vec<Point3>>(),
        );
        let mut input = scene.input(&cur);
        input.face_box = bbox(&scene.lm);
        input.previous = Some(&prev);
        input.dt_s = 1.0 / 30.0;
        let r = assess(&cfg, &input, &mut scratch).unwrap();
        let s = r.checks.as_ref().unwrap().stability.clone().unwrap();
        assert!(
            (s.frame_motion.value - 0.002).abs() < 1e-4,
            "{:?}",
            s.frame_motion
        );
        assert!((s.speed.value - 0.06).abs() < 3e-3, "{:?}", s.speed);
        assert!(r.passed, "{:?}", r.hints);
        prev = cur;
    }
    // A jump of 0.2 IOD in one frame fails the per-frame check; over the 11 frames of history
    // (0.37 s) the speed is (10 × 0.002 + 0.2) / (11 / 30) = 0.6 IOD/s, under the 0.75 limit.
    let cur = checked(
        prev.iter()
            .map(|p| Point3::new(p.x, p.y + 0.2 * iod, p.z))
            .collect::<Vec<Point3>>(),
    );
    let mut input = scene.input(&cur);
    input.face_box = bbox(&scene.lm);
    input.previous = Some(&prev);
    input.dt_s = 1.0 / 30.0;
    let r = assess(&cfg, &input, &mut scratch).unwrap();
    assert_eq!(r.hints, vec![Hint::HoldStill]);
    let s = r.checks.unwrap().stability.unwrap();
    assert!((s.frame_motion.value - 0.2).abs() < 1e-3);
    assert!((s.speed.value - 0.6).abs() < 0.01, "{:?}", s.speed);
    assert!(!s.frame_motion.verdict.passed() && s.speed.verdict.passed());

    // Sustained motion of 0.05 IOD per frame (1.5 IOD/s): the speed check fails too.
    let mut prev = cur;
    for _ in 0..5 {
        let cur = checked(
            prev.iter()
                .map(|p| Point3::new(p.x + 0.05 * iod, p.y, p.z))
                .collect::<Vec<Point3>>(),
        );
        let mut input = scene.input(&cur);
        input.face_box = bbox(&scene.lm);
        input.previous = Some(&prev);
        input.dt_s = 1.0 / 30.0;
        let r = assess(&cfg, &input, &mut scratch).unwrap();
        prev = cur;
        if r.checks
            .as_ref()
            .unwrap()
            .stability
            .as_ref()
            .unwrap()
            .speed
            .verdict
            .passed()
        {
            continue;
        }
        assert_eq!(r.hints, vec![Hint::HoldStill]);
    }
    let s = scratch.history.speed(0.5);
    assert!(s > 0.75, "{s}");

    // After a gap longer than max_frame_gap_s the motion is not measured, the history restarts.
    let mut input = scene.input(&prev);
    input.face_box = bbox(&scene.lm);
    input.previous = Some(&prev);
    input.dt_s = 2.0;
    let r = assess(&cfg, &input, &mut scratch).unwrap();
    assert!(r.checks.unwrap().stability.is_none());
    assert!(scratch.history.is_empty());
}

// ---------------------------------------------------------------------------------------
// Faces, ordering, errors, scratch reuse

#[test]
fn face_count_handling() {
    let r = assess_no_face();
    assert_eq!(
        (r.hints.to_vec(), r.passed, r.num_faces),
        (vec![Hint::NoFace], false, 0)
    );
    assert!(r.checks.is_none() && r.pose.is_none());

    let scene = Scene::frontal();
    let mut input = scene.input(&scene.lm);
    input.num_faces = 0;
    assert_eq!(run(&input), assess_no_face());

    let mut input = scene.input(&scene.lm);
    input.num_faces = 3;
    let r = run(&input);
    assert_eq!(r.hints, vec![Hint::MultipleFaces]);
    assert!(!r.passed && r.checks.is_some());
}

#[test]
fn hints_are_sorted_by_priority_and_distinct() {
    let mut scene = Scene::frontal();
    scene.luma = noise_image(W, H, 30.0, 20.0);
    // Small, turned, off-centre, moving, dark, and two faces.
    let lm = checked(posed_face(35.0, 0.0, 0.0, 5.0, 180.0, 240.0));
    let prev = checked(
        lm.iter()
            .map(|p| Point3::new(p.x - 20.0, p.y, p.z))
            .collect::<Vec<Point3>>(),
    );
    let mut input = scene.input(&lm);
    input.previous = Some(&prev);
    input.dt_s = 1.0 / 30.0;
    input.num_faces = 2;
    let r = run(&input);
    assert_eq!(
        r.hints,
        vec![
            Hint::MultipleFaces,
            Hint::TooDark,
            Hint::MoveCloser,
            Hint::CenterFace,
            Hint::LookStraight,
            Hint::HoldStill
        ]
    );
    assert_eq!(r.top_hint(), Some(Hint::MultipleFaces));
}

#[test]
fn input_errors() {
    let scene = Scene::frontal();
    let cfg = QualityConfig::default();
    let mut scratch = QualityScratch::new();
    let mut run_err = |input: &QualityInput<'_>| assess(&cfg, input, &mut scratch).unwrap_err();

    let mut input = scene.input(&scene.lm);
    input.face_box = Rect::new(10.0, 10.0, 5.0, 50.0);
    assert!(matches!(
        run_err(&input),
        QualityError::InvalidFaceBox { .. }
    ));
    input.face_box = Rect::new(10.0, f32::NAN, 50.0, 50.0);
    assert!(matches!(
        run_err(&input),
        QualityError::InvalidFaceBox { .. }
    ));

    for bad in [1.5f32, -0.1, f32::NAN] {
        let mut input = scene.input(&scene.lm);
        input.presence = bad;
        assert!(matches!(run_err(&input), QualityError::InvalidPresence(_)));
    }

    for bad in [0.0f32, -0.03, f32::NAN] {
        let mut input = scene.input(&scene.lm);
        input.previous = Some(&scene.lm);
        input.dt_s = bad;
        let e = run_err(&input);
        assert!(matches!(e, QualityError::InvalidTimeDelta(_)), "{e:?}");
    }
    assert!(QualityError::InvalidTimeDelta(0.0)
        .to_string()
        .contains("expected finite and > 0"));
}

#[test]
fn scratch_buffers_are_reused() {
    let scene = Scene::frontal();
    let cfg = QualityConfig::default();
    let mut scratch = QualityScratch::new();
    assess(&cfg, &scene.input(&scene.lm), &mut scratch).unwrap();
    let ptr = scratch.crop().as_ptr();
    assert_eq!(scratch.crop().len(), 128 * 128);
    let moved = posed_face(5.0, 0.0, 0.0, 13.0, 330.0, 240.0);
    assess(&cfg, &scene.input(&checked(&moved)), &mut scratch).unwrap();
    assert_eq!(scratch.crop().as_ptr(), ptr);
}

#[test]
fn no_face_frames_report_their_exposure() {
    let cfg = QualityConfig::default();
    let (w, h) = (40u32, 30u32);
    let hints = |v: u8| {
        let data = alloc::vec![v; (w * h) as usize];
        assess_no_face_in(&cfg, &LumaView::packed(w, h, &data).unwrap()).hints
    };
    assert_eq!(hints(5), alloc::vec![Hint::NoFace, Hint::TooDark]);
    assert_eq!(hints(252), alloc::vec![Hint::NoFace, Hint::TooBright]);
    assert_eq!(hints(128), alloc::vec![Hint::NoFace]);
    // Only the central half counts: a bright border around a mid-grey centre is fine.
    let mut data = alloc::vec![255u8; (w * h) as usize];
    for y in 8..22 {
        for x in 10..30 {
            data[(y * w + x) as usize] = 128;
        }
    }
    let r = assess_no_face_in(&cfg, &LumaView::packed(w, h, &data).unwrap());
    assert_eq!(r.hints, alloc::vec![Hint::NoFace]);
    assert!(!r.passed);
}

// ---------------------------------------------------------------------------------------
// The gate's loops against plain per-pixel versions of themselves

/// SplitMix64: deterministic inputs for the equivalence tests.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next() >> 40) as f32 / (1u64 << 24) as f32)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Box averaging pixel by pixel: every frame pixel whose centre falls in a cell is added to it.
fn box_resample_per_pixel(luma: &[u8], w: usize, h: usize, rect: &Rect, size: usize) -> Vec<f32> {
    let (sx, sy) = (rect.width() / size as f32, rect.height() / size as f32);
    let cell = |p: usize, start: f32, scale: f32| {
        let u = (p as f32 + 0.5 - start) / scale;
        (u >= 0.0 && u < size as f32).then(|| (u as usize).min(size - 1))
    };
    let (mut sum, mut n) = (vec![0f32; size * size], vec![0u32; size * size]);
    for y in 0..h {
        let Some(j) = cell(y, rect.y_min, sy) else {
            continue;
        };
        for x in 0..w {
            if let Some(i) = cell(x, rect.x_min, sx) {
                sum[j * size + i] += luma[y * w + x] as f32;
                n[j * size + i] += 1;
            }
        }
    }
    sum.iter()
        .zip(&n)
        .map(|(&s, &k)| if k > 0 { s / k as f32 } else { 0.0 })
        .collect()
}

#[test]
fn box_resampling_sums_exactly_as_pixel_by_pixel() {
    let mut rng = Mix(7);
    let (w, h) = (331usize, 257usize);
    let img: Vec<u8> = (0..w * h).map(|_| rng.next() as u8).collect();
    let view = LumaView::packed(w as u32, h as u32, &img).unwrap();
    let (mut out, mut counts) = (Vec::new(), Vec::new());
    for case in 0..300 {
        let size = [32usize, 64, 128][case % 3];
        // Boxes at least `size` on a side (the box path), inside, across edges, or outside.
        let side_x = rng.range(size as f32, 1.6 * w as f32);
        let side_y = rng.range(size as f32, 1.6 * h as f32);
        let x0 = rng.range(-0.8 * side_x, w as f32);
        let y0 = rng.range(-0.8 * side_y, h as f32);
        let rect = Rect::new(x0, y0, x0 + side_x, y0 + side_y);
        resample_crop(&view, &rect, size, &mut out, &mut counts).unwrap();
        let want = box_resample_per_pixel(&img, w, h, &rect, size);
        assert!(
            out.iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "case {case}: {rect:?} at {size}"
        );
    }
}

#[test]
fn an_ellipse_row_span_is_exactly_the_pixels_the_ellipse_test_takes() {
    let mut rng = Mix(11);
    let odd = [0.0, -0.0, 1e-3, -17.0, 1e6, f32::INFINITY, f32::NAN];
    for case in 0..4000 {
        let mut pick = |lo: f32, hi: f32| {
            if rng.below(12) == 0 {
                odd[rng.below(odd.len())]
            } else {
                rng.range(lo, hi)
            }
        };
        let e = Ellipse {
            cx: pick(-30.0, 160.0),
            cy: pick(-30.0, 160.0),
            rx: pick(0.2, 90.0),
            ry: pick(0.2, 90.0),
        };
        let roi = Roi {
            x0: 0,
            y0: 0,
            x1: 128,
            y1: 128,
            ellipse: Some(e),
        };
        let j = rng.below(128);
        let x0 = rng.below(128);
        let x1 = x0 + rng.below(129 - x0);
        let taken: Vec<usize> = (x0..x1).filter(|&i| e.contains(i, j)).collect();
        let (a, b) = roi.row_span(j, x0, x1);
        if taken.is_empty() {
            assert!(
                a >= b,
                "case {case}: {e:?} row {j} [{x0}, {x1}) gave [{a}, {b})"
            );
        } else {
            assert_eq!(
                (a, b),
                (taken[0], taken[taken.len() - 1] + 1),
                "case {case}: {e:?} row {j} [{x0}, {x1})"
            );
            assert_eq!(
                taken.len(),
                b - a,
                "case {case}: the taken pixels are one run"
            );
        }
    }
}

#[test]
fn stats_and_laplacian_over_an_ellipse_equal_the_per_pixel_sums() {
    let mut rng = Mix(13);
    let (w, h) = (96usize, 80usize);
    for case in 0..200 {
        let data: Vec<f32> = (0..w * h).map(|_| rng.range(0.0, 255.0)).collect();
        let plane = Plane::new(w, h, &data).unwrap();
        let x0 = rng.below(w / 2);
        let y0 = rng.below(h / 2);
        let roi = Roi {
            x0,
            y0,
            x1: x0 + rng.below(w - x0 + 8),
            y1: y0 + rng.below(h - y0 + 8),
            ellipse: (case % 4 != 0).then(|| Ellipse {
                cx: rng.range(0.0, w as f32),
                cy: rng.range(0.0, h as f32),
                rx: rng.range(1.0, 60.0),
                ry: rng.range(1.0, 60.0),
            }),
        };
        let takes = |i: usize, j: usize| roi.ellipse.is_none_or(|e| e.contains(i, j));
        let (cx1, cy1) = (roi.x1.min(w), roi.y1.min(h));
        let at = |i: usize, j: usize| data[j * w + i];
        // Per pixel, in the same order as the gate's loops.
        let (mut n, mut s, mut s2, mut nd, mut nb) = (0usize, 0f64, 0f64, 0usize, 0usize);
        for j in roi.y0.min(cy1)..cy1 {
            for i in (roi.x0.min(cx1)..cx1).filter(|&i| takes(i, j)) {
                let v = at(i, j);
                n += 1;
                s += v as f64;
                s2 += (v as f64) * (v as f64);
                nd += (v <= 40.0) as usize;
                nb += (v >= 220.0) as usize;
            }
        }
        let got = luma_stats(&plane, &roi, 40, 220);
        if n == 0 {
            assert_eq!(got, None, "case {case}");
        } else {
            let g = got.unwrap();
            let mean = s / n as f64;
            assert_eq!(g.pixels, n, "case {case}");
            assert_eq!(g.mean.to_bits(), (mean as f32).to_bits(), "case {case}");
            let var = (s2 / n as f64 - mean * mean).max(0.0);
            assert_eq!(g.std_dev.to_bits(), math::sqrt(var as f32).to_bits());
            assert_eq!(
                (g.dark_fraction, g.bright_fraction),
                (nd as f32 / n as f32, nb as f32 / n as f32)
            );
        }
        let (mut n, mut s, mut s2) = (0usize, 0f64, 0f64);
        if cx1 >= roi.x0 + 3 && cy1 >= roi.y0 + 3 {
            for j in roi.y0 + 1..cy1 - 1 {
                for i in (roi.x0 + 1..cx1 - 1).filter(|&i| takes(i, j)) {
                    let l =
                        at(i - 1, j) + at(i + 1, j) + at(i, j - 1) + at(i, j + 1) - 4.0 * at(i, j);
                    n += 1;
                    s += l as f64;
                    s2 += (l as f64) * (l as f64);
                }
            }
        }
        let want = (n > 0).then(|| {
            let mean = s / n as f64;
            (s2 / n as f64 - mean * mean).max(0.0) as f32
        });
        assert_eq!(
            laplacian_variance(&plane, &roi).map(f32::to_bits),
            want.map(f32::to_bits),
            "case {case}"
        );
    }
}

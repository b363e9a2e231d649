use super::*;
use crate::geometry::Point3;
use crate::mesh::{checked, idx};
use crate::quality::rotation_from_angles;

const CANONICAL_TXT: &str = include_str!("../../quality/testdata/canonical_face_model.txt");

fn canonical() -> Vec<[f64; 3]> {
    CANONICAL_TXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let v: Vec<f64> = l.split_whitespace().map(|t| t.parse().unwrap()).collect();
            // Canonical (x right, y up, z towards the viewer, cm) → camera (x right, y down,
            // z away).
            [v[0], -v[1], -v[2]]
        })
        .collect()
}

/// Deterministic gaussian noise (xorshift + Box-Muller).
struct Noise(u64);
impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gauss(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        libm::sqrt(-2.0 * libm::log(u)) * libm::cos(core::f64::consts::TAU * v)
    }
}

/// Projects `model` (camera-frame cm, centred) posed by the angles, with a pinhole camera at
/// `distance_cm` and focal `f` px, plus gaussian pixel noise `sigma`.
fn project(
    model: &[[f64; 3]],
    yaw: f32,
    pitch: f32,
    roll: f32,
    noise: &mut Noise,
    sigma: f64,
) -> Vec<Point3> {
    let r = rotation_from_angles(yaw, pitch, roll);
    let (f, distance) = (600.0, 40.0);
    model
        .iter()
        .map(|c| {
            let mut p = [0.0f64; 3];
            for (k, pk) in p.iter_mut().enumerate() {
                *pk = r[k][0] as f64 * c[0] + r[k][1] as f64 * c[1] + r[k][2] as f64 * c[2];
            }
            let z = distance + p[2];
            Point3 {
                x: (240.0 + f * p[0] / z + sigma * noise.gauss()) as f32,
                y: (320.0 + f * p[1] / z + sigma * noise.gauss()) as f32,
                z: 0.0,
            }
        })
        .collect()
}

fn track(model: &[[f64; 3]], poses: &[(f32, f32, f32)], sigma: f64) -> Vec<ParallaxFrame> {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    poses
        .iter()
        .enumerate()
        .map(|(i, &(y, p, r))| {
            frame_features(
                &checked(project(model, y, p, r, &mut noise, sigma)),
                i as u64 * 33_000_000,
            )
            .unwrap()
        })
        .collect()
}

/// A small natural sway: ±`amp` degrees of yaw and pitch over the window.
fn sway(n: usize, amp: f32) -> Vec<(f32, f32, f32)> {
    (0..n)
        .map(|i| {
            let t = i as f32 / n as f32 * core::f32::consts::TAU;
            (
                amp * libm::sinf(t),
                0.6 * amp * libm::sinf(2.0 * t + 1.0),
                1.0 * libm::cosf(t),
            )
        })
        .collect()
}

#[test]
fn homography_is_recovered_exactly_from_a_known_one() {
    let h = Matrix3::new(1.1, 0.05, 12.0, -0.03, 0.95, -7.0, 2e-4, -1e-4, 1.0);
    let src: Vec<Point2> = (0..30)
        .map(|i| Point2 {
            x: (i % 6) as f32 * 40.0 + 100.0,
            y: (i / 6) as f32 * 35.0 + 80.0 + (i % 3) as f32,
        })
        .collect();
    let dst: Vec<Point2> = src
        .iter()
        .map(|p| {
            let q = h * Vector3::new(p.x as f64, p.y as f64, 1.0);
            Point2 {
                x: (q[0] / q[2]) as f32,
                y: (q[1] / q[2]) as f32,
            }
        })
        .collect();
    let fit = fit_homography(&src, &dst).unwrap();
    let rms = homography_rms(&fit, &src, &dst);
    assert!(rms < 1e-3, "rms {rms} px");
    assert!((fit - h).abs().max() < 1e-4, "{fit} vs {h}");
}

#[test]
fn degenerate_point_sets_give_no_fit() {
    let p = vec![Point2 { x: 5.0, y: 5.0 }; 10];
    assert!(fit_homography(&p, &p).is_none());
    assert!(similarity_rms(&p, &p).is_none());
    assert!(fit_homography(&p[..3], &p[..3]).is_none());
    let line: Vec<Point2> = (0..10)
        .map(|i| Point2 {
            x: i as f32,
            y: 0.0,
        })
        .collect();
    // Collinear points: DLT has a multi-dimensional null space; any answer it gives must be
    // finite (no NaN leaks out).
    if let Some(h) = fit_homography(&line, &line) {
        assert!(h.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn a_flat_face_tilted_in_3d_is_planar_and_a_real_head_is_not() {
    let model = canonical();
    let flat: Vec<[f64; 3]> = model.iter().map(|c| [c[0], c[1], 0.0]).collect();
    let cfg = ParallaxConfig::default();
    // 30 frames, 1 s at 30 fps; ±6° sway; 0.3 px landmark noise at ~80 px IOD.
    let poses = sway(30, 6.0);
    let print = score(&track(&flat, &poses, 0.3), &cfg);
    let head = score(&track(&model, &poses, 0.3), &cfg);
    println!("print: {print:?}\nhead: {head:?}");
    let (ps, hs) = (print.score.unwrap(), head.score.unwrap());
    assert!(ps < 0.1, "flat face scored {ps}");
    assert!(hs > 0.9, "3D head scored {hs}");
    assert!(print.features["parallax_fraction"] < 0.15);
    assert!(head.features["parallax_fraction"] > 0.6);
}

#[test]
fn a_small_turn_is_enough_and_a_still_face_is_not_decisive() {
    let model = canonical();
    let cfg = ParallaxConfig::default();
    // ±3° is already decisive on a head.
    let head = score(&track(&model, &sway(30, 3.0), 0.3), &cfg);
    println!("±3°: {head:?}");
    assert!(head.score.unwrap() > 0.8, "{head:?}");
    // A still face (noise only) cannot tell: not available, with how much motion it needs.
    let still = score(&track(&model, &vec![(0.0, 0.0, 0.0); 30], 0.3), &cfg);
    assert!(!still.available, "{still:?}");
    assert!(
        still.reason.contains("not enough out-of-plane motion"),
        "{}",
        still.reason
    );
    assert!(still.features["max_motion"] < cfg.min_motion as f64);
    // In-plane motion only (roll and translation of a flat face) is not decisive either.
    let flat: Vec<[f64; 3]> = model.iter().map(|c| [c[0], c[1], 0.0]).collect();
    let rolls: Vec<_> = (0..30).map(|i| (0.0, 0.0, i as f32 * 0.5)).collect();
    let rolled = score(&track(&flat, &rolls, 0.3), &cfg);
    assert!(!rolled.available, "{rolled:?}");
}

#[test]
fn short_windows_and_bad_landmarks_are_reported() {
    let model = canonical();
    let cfg = ParallaxConfig::default();
    let r = score(&track(&model, &sway(3, 5.0), 0.3), &cfg);
    assert!(
        !r.available && r.reason.contains("window too short"),
        "{r:?}"
    );
    assert!(!score(&[], &cfg).available);
    let mut lm = project(&model, 0.0, 0.0, 0.0, &mut Noise(1), 0.0);
    for i in [
        idx::RIGHT_EYE_INNER,
        idx::LEFT_EYE_INNER,
        idx::LEFT_EYE_OUTER,
    ] {
        lm[i] = lm[idx::RIGHT_EYE_OUTER];
    }
    assert!(frame_features(&checked(&lm), 0)
        .unwrap_err()
        .to_string()
        .contains("eye landmarks coincide"));
    let bad = ParallaxConfig {
        min_motion: f32::NAN,
        ..ParallaxConfig::default()
    };
    assert!(bad.validate().is_err());
    assert!(!score(&track(&model, &sway(30, 5.0), 0.3), &bad).available);
}

#[test]
fn a_window_with_face_crops_never_falls_back_to_raw_landmarks() {
    let model = canonical();
    let cfg = ParallaxConfig::default();
    let mut frames = track(&model, &sway(30, 6.0), 0.3);
    // Two frames carry a face crop, the others could not take one: the window is scored from
    // the cropped frames only (too few here), not from raw landmarks.
    let patch = track::FacePatch {
        origin: Point2 { x: 0.0, y: 0.0 },
        scale: 1.0,
        width: 16,
        height: 16,
        data: vec![0.0; 256],
        anchors: Vec::new(),
    };
    frames[3].patch = Some(patch.clone());
    frames[9].patch = Some(patch);
    let r = score(&frames, &cfg);
    assert!(!r.available, "{r:?}");
    assert!(
        r.reason.contains("only 2 frames had a usable face crop"),
        "{}",
        r.reason
    );
}

#[test]
fn face_crops_refuse_degenerate_geometry() {
    let rgb = crate::frame::RgbImage::new(64, 48);
    let lm = |s: f32| -> Vec<Point3> {
        (0..NUM_LANDMARKS)
            .map(|i| Point3 {
                x: 32.0 + s * ((i % 7) as f32 - 3.0),
                y: 24.0 + s * ((i % 5) as f32 - 2.0),
                z: 0.0,
            })
            .collect()
    };
    // A sane face gives a crop no larger than the cap.
    let ok = track::FacePatch::crop(&rgb, &lm(3.0), 20.0, 2.4, 48.0).unwrap();
    assert!(ok.width <= track::MAX_SIDE && ok.data.len() == ok.width * ok.height);
    // Absurd inter-ocular distances (finite landmarks far apart) and tiny faces: no crop,
    // no huge allocation, no panic.
    assert!(track::FacePatch::crop(&rgb, &lm(1e30), 3e38, 2.4, 48.0).is_none());
    assert!(track::FacePatch::crop(&rgb, &lm(0.1), 2.0, 2.4, 48.0).is_none());
    let short = crate::frame::RgbImage {
        width: 64,
        height: 48,
        data: vec![0; 5],
    };
    assert!(track::FacePatch::crop(&short, &lm(3.0), 20.0, 2.4, 48.0).is_none());
    // Configuration bounds.
    let big = ParallaxConfig {
        patch_context: 1e4,
        ..ParallaxConfig::default()
    };
    assert!(big.validate().is_err());
}

#[test]
fn a_reservoir_spreads_its_frames_and_scores_as_the_window_it_kept() {
    let model = canonical();
    let cfg = ParallaxConfig::default();
    let frames = track(&model, &sway(100, 6.0), 0.3);
    let mut res = Reservoir::new(cfg.clone(), 24).unwrap();
    let mut kept = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        if res.offer(|_| Ok(f.clone())).unwrap() {
            kept.push(i);
        }
    }
    // 24 kept at most: every stride-th offered frame, every other one dropped (and the
    // stride doubled) when full, so the kept frames still span the whole capture.
    let (mut span, mut stride, mut built) = (Vec::new(), 1, Vec::new());
    for i in 0..frames.len() {
        if i % stride == 0 {
            if span.len() >= 24 {
                span = span.into_iter().step_by(2).collect();
                stride *= 2;
            }
            span.push(i);
            built.push(i);
        }
    }
    assert_eq!(kept, built, "frames built: only those kept");
    assert!(res.len() <= 24 && res.len() >= 12, "{}", res.len());
    let window: Vec<ParallaxFrame> = span.iter().map(|&i| frames[i].clone()).collect();
    assert_eq!(window.len(), res.len());
    assert!(
        *span.last().unwrap() >= 90,
        "last kept frame {:?}",
        span.last()
    );
    // The pairs fitted as frames arrived give the report `score` gives on the kept frames.
    let whole = score(&window, &cfg);
    let incremental = res.score();
    assert_eq!(whole.score, incremental.score);
    assert_eq!(whole.features, incremental.features);
    assert!(incremental.score.unwrap() > 0.9, "{incremental:?}");
    // A second score reuses every pair: same report.
    assert_eq!(res.score().features, incremental.features);
    assert!(Reservoir::new(cfg, 1).is_err());
}

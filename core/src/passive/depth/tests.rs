//! Unit tests of the depth signal: the pure functions, and the estimator on fake runners that
//! return chosen depth maps. The fake runner and the synthetic face are shared with the texture
//! tests.

use std::sync::{Arc, Mutex};

use super::*;
use crate::geometry::Point3;
use crate::mesh::checked;
use crate::models::{validate_inputs, ModelError, ModelSpec, TensorIn, TensorOut};

/// MediaPipe's canonical face (cm; x = subject's left, y up, z out of the face), Apache-2.0.
const CANONICAL_TXT: &str = include_str!("../../quality/testdata/canonical_face_model.txt");

fn canonical() -> Vec<[f32; 3]> {
    let v: Vec<[f32; 3]> = CANONICAL_TXT
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut it = l.split_whitespace().map(|t| t.parse::<f32>().unwrap());
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        })
        .collect();
    assert_eq!(v.len(), NUM_LANDMARKS);
    v
}

/// The canonical face, frontal, `k` pixels per cm, nose-bridge origin at `(cx, cy)`, in
/// FaceMesh conventions: image x = subject's left, y down, z negative towards the camera.
pub(crate) fn synthetic_face(cx: f32, cy: f32, k: f32) -> (Vec<Point3>, Rect) {
    let lm: Vec<Point3> = canonical()
        .iter()
        .map(|p| Point3::new(cx + k * p[0], cy - k * p[1], -k * p[2]))
        .collect();
    let bbox = Rect::bounding(lm.iter().map(|p| p.xy())).unwrap();
    (lm, bbox)
}

/// A runner that checks its inputs against its spec and answers with a fixed output.
pub(crate) struct FakeRunner {
    pub spec: ModelSpec,
    /// `(shape, data)` of the single output; empty shape = return no output at all.
    pub output: Mutex<(Vec<usize>, Vec<f32>)>,
    /// The last input tensor seen.
    pub last_input: Mutex<Vec<f32>>,
}

impl FakeRunner {
    pub fn new(spec: ModelSpec, shape: Vec<usize>, data: Vec<f32>) -> Arc<FakeRunner> {
        Arc::new(FakeRunner {
            spec,
            output: Mutex::new((shape, data)),
            last_input: Mutex::new(Vec::new()),
        })
    }
}

impl ModelRunner for FakeRunner {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }
    fn run(&self, inputs: &[TensorIn<'_>], outputs: &mut Vec<TensorOut>) -> Result<(), ModelError> {
        validate_inputs(&self.spec, inputs)?;
        *self.last_input.lock().unwrap() = inputs[0].data.to_vec();
        let out = self.output.lock().unwrap();
        if out.0.is_empty() {
            outputs.clear();
            return Ok(());
        }
        outputs.resize_with(1, TensorOut::default);
        outputs[0].shape.clone_from(&out.0);
        outputs[0].data.clone_from(&out.1);
        Ok(())
    }
}

/// A manifest entry parsed from TOML (so new `ModelSpec` fields with defaults do not break it).
pub(crate) fn spec_from_toml(text: &str) -> ModelSpec {
    toml::from_str(text).expect("test spec parses")
}

/// The stand-in's manifest entry (as proposed for `models/manifest.toml`).
fn depth_spec() -> ModelSpec {
    spec_from_toml(
        r#"
name = "depth_standin"
version = "liveproof-standin-1"
role = "depth"
file = "depth_anything_v2_standin.onnx"
sha256 = "37be720083c34876d13a4a68533e2a741cff6500068648eb0718bc84b196d3de"
bytes = 1146
licence = "Apache-2.0"
stand_in = true
inputs = [{ name = "pixel_values", shape = [1, 3, -1, -1], dtype = "f32" }]
outputs = [{ name = "predicted_depth", shape = [1, -1, -1], dtype = "f32" }]
preprocess = { layout = "NCHW", colour = "RGB", mean = [123.675, 116.28, 103.53], std = [58.395, 57.12, 57.375] }
"#,
    )
}

fn grey_image(w: u32, h: u32) -> RgbImage {
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let v = ((x + 2 * y) % 200) as u8 + 20;
            data.extend_from_slice(&[v, v, v]);
        }
    }
    RgbImage::from_raw(w, h, data).unwrap()
}

/// A depth map on the `n × n` tensor grid from a function of tensor pixel coordinates.
fn map_from(n: usize, f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
    let mut v = Vec::with_capacity(n * n);
    for j in 0..n {
        for i in 0..n {
            v.push(f(i as f32, j as f32));
        }
    }
    v
}

/// Face-sized Gaussian bump centred on the nose tip, in the tensor of `cfg`'s crop.
fn nose_bump(cfg: &Config, lm: &[Point3], bbox: &Rect) -> Vec<f32> {
    let n = cfg.input_size as usize;
    let m = crop_transform(bbox, cfg).unwrap();
    let inv = m.inverse().unwrap();
    let nose = inv.apply(lm[idx::NOSE_TIP].xy());
    let iod_t = inter_ocular_distance(&checked(lm)).unwrap() / m.m[0];
    let sigma = 0.9 * iod_t;
    map_from(n, |u, v| {
        let r2 = (u - nose.x).powi(2) + (v - nose.y).powi(2);
        2.0 + 3.0 * (-r2 / (2.0 * sigma * sigma)).exp()
    })
}

fn run_frames(runner: Arc<FakeRunner>, cfg: &Config, frames: usize) -> Vec<FrameFeatures> {
    let (lm, bbox) = synthetic_face(160.0, 150.0, 8.0);
    let img = grey_image(320, 320);
    let mut est = DepthEstimator::new(runner, cfg.clone()).unwrap();
    (0..frames)
        .map(|_| {
            est.process(
                &img,
                &FaceGeometry {
                    landmarks: &checked(&lm),
                    bbox,
                },
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn plane_fit_is_exact_on_a_plane() {
    let mut pts = Vec::new();
    for i in 0..10 {
        for j in 0..7 {
            let (x, y) = (i as f64 * 0.3 - 1.0, j as f64 * 0.25 + 2.0);
            pts.push([x, y, 0.3 * x - 0.2 * y + 5.0]);
        }
    }
    let f = fit_plane(&pts).unwrap();
    println!(
        "plane fit on an exact plane: a {} b {} c {} rms {:e}",
        f.a, f.b, f.c, f.rms
    );
    assert!((f.a - 0.3).abs() < 1e-9 && (f.b + 0.2).abs() < 1e-9 && (f.c - 5.0).abs() < 1e-9);
    assert!(f.rms < 1e-9, "rms {}", f.rms);
    // Degenerate: too few points, collinear x-y, non-finite.
    assert!(fit_plane(&pts[..2]).is_none());
    let line: Vec<[f64; 3]> = (0..5).map(|i| [i as f64, 2.0 * i as f64, 1.0]).collect();
    assert!(fit_plane(&line).is_none());
    pts[3][2] = f64::NAN;
    assert!(fit_plane(&pts).is_none());
}

#[test]
fn plane_fit_residual_on_a_sphere_cap() {
    // Unit sphere cap over a symmetric grid: the best plane is z = mean(z) (a = b = 0 by
    // symmetry), so the RMS residual is exactly the standard deviation of z.
    let mut pts = Vec::new();
    for i in -5..=5 {
        for j in -5..=5 {
            let (x, y) = (i as f64 * 0.1, j as f64 * 0.1);
            pts.push([x, y, (1.0 - x * x - y * y).sqrt()]);
        }
    }
    let f = fit_plane(&pts).unwrap();
    let n = pts.len() as f64;
    let mean = pts.iter().map(|p| p[2]).sum::<f64>() / n;
    let std = (pts.iter().map(|p| (p[2] - mean).powi(2)).sum::<f64>() / n).sqrt();
    println!(
        "sphere cap: plane rms {:.6}, std(z) {:.6}, a {:.1e} b {:.1e}",
        f.rms, std, f.a, f.b
    );
    assert!((f.rms - std).abs() < 1e-12 && f.a.abs() < 1e-12 && f.b.abs() < 1e-12);
    // 0.0716: the cap's sag (1 − z ≈ r²/2 + r⁴/8, r ≤ 0.71) around its mean.
    assert!((f.rms - 0.0716).abs() < 0.0005, "rms {}", f.rms);
}

#[test]
fn crop_maps_face_centre_to_tensor_centre() {
    let cfg = Config::default();
    let bbox = Rect::new(100.0, 50.0, 200.0, 170.0);
    let m = crop_transform(&bbox, &cfg).unwrap();
    let n = cfg.input_size as f32;
    let c = m.inverse().unwrap().apply(bbox.center());
    println!("face centre → tensor ({}, {}), N = {n}", c.x, c.y);
    assert!((c.x - (n - 1.0) / 2.0).abs() < 1e-3 && (c.y - (n - 1.0) / 2.0).abs() < 1e-3);
    // Square of side 2 × 120 px: tensor edges −0.5 and N − 0.5 land on centre ± 120 px.
    let lo = m.apply(Point2::new(-0.5, -0.5));
    let hi = m.apply(Point2::new(n - 0.5, n - 0.5));
    assert!(
        (lo.x - 30.0).abs() < 1e-3 && (lo.y + 10.0).abs() < 1e-3,
        "{lo:?}"
    );
    assert!(
        (hi.x - 270.0).abs() < 1e-3 && (hi.y - 230.0).abs() < 1e-3,
        "{hi:?}"
    );
}

#[test]
fn preprocess_normalises_with_imagenet_mean_std() {
    let img = RgbImage::from_raw(4, 4, [255u8, 0, 128].repeat(16)).unwrap();
    let cfg = Config {
        input_size: 28,
        ..Config::default()
    };
    let norm = check_spec(&depth_spec(), &cfg).unwrap();
    let mut t = vec![0.0f32; 3 * 28 * 28];
    preprocess(&img, &Rect::new(1.0, 1.0, 3.0, 3.0), &cfg, &norm, &mut t).unwrap();
    // (1 − 0.485)/0.229, (0 − 0.456)/0.224, (128/255 − 0.406)/0.225: one value per plane.
    let want = [2.248_908, -2.035_714, 0.426_492];
    for (c, w) in want.iter().enumerate() {
        let plane = &t[c * 784..(c + 1) * 784];
        assert!(
            plane.iter().all(|v| (v - w).abs() < 1e-4),
            "channel {c}: {}",
            plane[0]
        );
    }
}

#[test]
fn config_is_validated() {
    assert!(Config::default().validate().is_ok());
    let bad = |cfg: Config, name: &str| match cfg.validate() {
        Err(DepthError::InvalidConfig { name: n, .. }) => assert_eq!(n, name),
        other => panic!("{name}: {other:?}"),
    };
    bad(
        Config {
            input_size: 250,
            ..Config::default()
        },
        "input_size",
    );
    bad(
        Config {
            input_size: 14,
            ..Config::default()
        },
        "input_size",
    );
    bad(
        Config {
            context_scale: f32::NAN,
            ..Config::default()
        },
        "context_scale",
    );
    bad(
        Config {
            relief_scale: 0.0,
            ..Config::default()
        },
        "relief_scale",
    );
    bad(
        Config {
            min_frames: 5,
            max_frames: 4,
            ..Config::default()
        },
        "max_frames",
    );
    let e = Config {
        input_size: 250,
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "depth config `input_size` = 250 is invalid: expected a multiple of 14 in 28..=1036 pixels"
    );
    // The estimator and the crop refuse a bad config too.
    let cfg = Config {
        input_size: 250,
        ..Config::default()
    };
    assert!(matches!(
        crop_transform(&Rect::new(0.0, 0.0, 10.0, 10.0), &cfg),
        Err(DepthError::InvalidConfig { .. })
    ));
    let runner = FakeRunner::new(depth_spec(), vec![1, 250, 250], vec![0.0; 250 * 250]);
    assert!(matches!(
        DepthEstimator::new(runner, cfg),
        Err(DepthError::InvalidConfig { .. })
    ));
    // A bad config makes the window unavailable, with the reason.
    let r = score(
        &[],
        &Config {
            cv_scale: -1.0,
            ..Config::default()
        },
    );
    assert!(
        !r.available && r.reason.contains("cv_scale"),
        "{}",
        r.reason
    );
}

#[test]
fn ideal_depth_gives_canonical_relief() {
    // The model agreeing exactly with the mesh (any scale and shift) gives the canonical face's
    // relief in IOD units; these figures are the reference for the scoring constants.
    let (lm, _) = synthetic_face(200.0, 200.0, 8.0);
    let iod = inter_ocular_distance(&checked(&lm)).unwrap();
    let d: Vec<f64> = lm.iter().map(|p| 7.0 - 0.03 * p.z as f64).collect();
    let f = landmark_features(&d, &checked(&lm), iod).unwrap();
    println!("ideal depth (canonical face, frontal): {f:?}");
    // Directly from the canonical model: IOD 6.3023 cm, nose tip z 7.4756, cheeks mean 3.8363.
    let c = canonical();
    let eye = |a: usize, b: usize| ((c[a][0] + c[b][0]) / 2.0, (c[a][1] + c[b][1]) / 2.0);
    let (r, l) = (eye(33, 133), eye(263, 362));
    let iod_cm = ((l.0 - r.0).powi(2) + (l.1 - r.1).powi(2)).sqrt();
    let cheeks = CHEEKS.iter().map(|&i| c[i][2]).sum::<f32>() / 4.0;
    let want = (c[idx::NOSE_TIP][2] - cheeks) / iod_cm;
    println!("canonical nose − cheeks {want:.4} IOD (IOD {iod_cm:.4} cm)");
    assert!(
        (f.nose_cheek - want).abs() < 1e-4,
        "{} vs {want}",
        f.nose_cheek
    );
    assert!(
        f.mesh_corr > 0.9999 && (f.depth_gain - 1.0 / (0.03 * iod)).abs() < 1e-3 * f.depth_gain
    );
    assert!((f.plane_rms - 0.285).abs() < 0.001, "{}", f.plane_rms);
    assert!((f.nose_border - 1.035).abs() < 0.001, "{}", f.nose_border);
    assert!((f.face_range - 1.046).abs() < 0.001, "{}", f.face_range);
    assert!(f.plane_tilt < 0.2, "{}", f.plane_tilt);
    // Affine invariance: another scale and shift of the same depth gives the same features.
    let d2: Vec<f64> = d.iter().map(|v| 1e-3 * v - 40.0).collect();
    let g = landmark_features(&d2, &checked(&lm), iod).unwrap();
    for (a, b) in [
        (f.plane_rms, g.plane_rms),
        (f.nose_cheek, g.nose_cheek),
        (f.nose_border, g.nose_border),
        (f.face_range, g.face_range),
    ] {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    // An inverted face (hollow mask): the gain is clamped at 0, so the depth is flat.
    let inv: Vec<f64> = d.iter().map(|v| -v).collect();
    let h = landmark_features(&inv, &checked(&lm), iod).unwrap();
    println!("inverted depth: {h:?}");
    assert!(h.mesh_corr < -0.9999 && h.depth_gain == 0.0);
    assert!(h.plane_rms.abs() < 1e-6 && h.nose_border.abs() < 1e-6 && h.face_range.abs() < 1e-6);
}

#[test]
fn bump_at_the_nose_is_relief_and_scores_live() {
    let cfg = Config::default();
    let (lm, bbox) = synthetic_face(160.0, 150.0, 8.0);
    let n = cfg.input_size as usize;
    let runner = FakeRunner::new(depth_spec(), vec![1, n, n], nose_bump(&cfg, &lm, &bbox));
    let frames = run_frames(runner, &cfg, 5);
    println!("nose bump, frame features: {:?}", frames[0]);
    let f = &frames[0];
    assert!(
        f.nose_cheek > 0.1 && f.nose_border > 0.4 && f.plane_rms > 0.1,
        "{f:?}"
    );
    assert!(f.mesh_corr > 0.5, "{f:?}");
    let r = score(&frames, &cfg);
    println!(
        "nose bump, window: score {:?}, features {:?}",
        r.score, r.features
    );
    assert!(r.available && r.score.unwrap() > 0.9, "{r:?}");
    // The same map as [1, 1, H, W] is accepted and gives the same features.
    let runner = FakeRunner::new(depth_spec(), vec![1, 1, n, n], nose_bump(&cfg, &lm, &bbox));
    assert_eq!(run_frames(runner, &cfg, 1)[0], frames[0]);
}

#[test]
fn constant_or_planar_depth_is_flat_and_scores_low() {
    let cfg = Config::default();
    let n = cfg.input_size as usize;
    let constant = FakeRunner::new(depth_spec(), vec![1, n, n], vec![4.2; n * n]);
    let frames = run_frames(constant, &cfg, 4);
    println!("constant depth: {:?}", frames[0]);
    let f = &frames[0];
    assert!(f.depth_gain == 0.0 && f.plane_rms.abs() < 1e-6 && f.nose_border.abs() < 1e-6);
    let r = score(&frames, &cfg);
    println!("constant depth, window: score {:?}", r.score);
    assert!(r.score.unwrap() < 0.05, "{r:?}");
    // A tilted plane (a photo held at an angle): the plane explains all of it.
    let plane = map_from(n, |u, v| 3.0 + 0.01 * u + 0.02 * v);
    let frames = run_frames(FakeRunner::new(depth_spec(), vec![1, n, n], plane), &cfg, 4);
    println!("tilted plane: {:?}", frames[0]);
    let f = &frames[0];
    assert!(
        f.plane_rms < 1e-3 && f.nose_border.abs() < 1e-3 && f.nose_cheek.abs() < 0.02,
        "{f:?}"
    );
    let r = score(&frames, &cfg);
    println!("tilted plane, window: score {:?}", r.score);
    assert!(r.score.unwrap() < 0.05, "{r:?}");
}

#[test]
fn wrong_outputs_and_interfaces_are_errors() {
    let cfg = Config::default();
    let n = cfg.input_size as usize;
    let (lm, bbox) = synthetic_face(160.0, 150.0, 8.0);
    let img = grey_image(320, 320);
    let face = FaceGeometry {
        landmarks: &checked(&lm),
        bbox,
    };
    let run = |shape: Vec<usize>, data: Vec<f32>| {
        let mut est =
            DepthEstimator::new(FakeRunner::new(depth_spec(), shape, data), cfg.clone()).unwrap();
        est.process(&img, &face)
    };
    for shape in [
        vec![1, 3, n, n],
        vec![1, n / 2, n / 2],
        vec![n, n],
        vec![1, n, n + 1],
    ] {
        let len = shape.iter().product();
        let e = run(shape.clone(), vec![1.0; len]).unwrap_err();
        assert!(
            matches!(e, DepthError::OutputShape { .. }),
            "{shape:?}: {e}"
        );
    }
    // Right shape, wrong length.
    let e = run(vec![1, n, n], vec![1.0; n * n - 1]).unwrap_err();
    assert!(matches!(e, DepthError::OutputShape { .. }), "{e}");
    println!("{e}");
    let mut data = vec![1.0; n * n];
    data[777] = f32::NAN;
    let e = run(vec![1, n, n], data).unwrap_err();
    assert!(
        matches!(e, DepthError::NonFiniteOutput { index: 777 }),
        "{e}"
    );
    let e = run(vec![], vec![]).unwrap_err();
    assert!(matches!(e, DepthError::OutputCount { got: 0 }), "{e}");
    // The spec must declare DA-V2's interface.
    let mut spec = depth_spec();
    spec.inputs[0].name = "input".into();
    let e = DepthEstimator::new(FakeRunner::new(spec, vec![], vec![]), cfg.clone()).unwrap_err();
    assert!(matches!(e, DepthError::Interface { .. }), "{e}");
    println!("{e}");
    let mut spec = depth_spec();
    spec.inputs[0].shape = vec![1, 3, 518, 518];
    let e = DepthEstimator::new(FakeRunner::new(spec, vec![], vec![]), cfg.clone()).unwrap_err();
    assert!(matches!(e, DepthError::Interface { .. }), "{e}");
    let mut spec = depth_spec();
    spec.outputs[0].name = "depth".into();
    let e = DepthEstimator::new(FakeRunner::new(spec, vec![], vec![]), cfg.clone()).unwrap_err();
    assert!(matches!(e, DepthError::Interface { .. }), "{e}");
    let mut spec = depth_spec();
    spec.preprocess.as_mut().unwrap().colour = "BGR".into();
    let e = DepthEstimator::new(FakeRunner::new(spec, vec![], vec![]), cfg).unwrap_err();
    assert!(matches!(e, DepthError::Interface { .. }), "{e}");
}

#[test]
fn bad_frames_are_typed_errors() {
    let cfg = Config::default();
    let n = cfg.input_size as usize;
    let (lm, bbox) = synthetic_face(160.0, 150.0, 8.0);
    let img = grey_image(320, 320);
    let mut est = DepthEstimator::new(
        FakeRunner::new(depth_spec(), vec![1, n, n], vec![1.0; n * n]),
        cfg,
    )
    .unwrap();
    let collapsed = vec![Point3::new(5.0, 5.0, 0.0); 468];
    let e = est
        .process(
            &img,
            &FaceGeometry {
                landmarks: &checked(&collapsed),
                bbox,
            },
        )
        .unwrap_err();
    assert!(matches!(e, DepthError::DegenerateLandmarks), "{e}");
    let e = est
        .process(
            &img,
            &FaceGeometry {
                landmarks: &checked(&lm),
                bbox: Rect::new(10.0, 10.0, f32::INFINITY, 50.0),
            },
        )
        .unwrap_err();
    assert!(matches!(e, DepthError::InvalidFaceBox { .. }), "{e}");
    // A face under `min_inter_ocular_px` (24): not run through the model, features NaN.
    let (tiny, tiny_box) = synthetic_face(160.0, 150.0, 3.0);
    let runner = FakeRunner::new(depth_spec(), vec![1, n, n], vec![1.0; n * n]);
    let mut small = DepthEstimator::new(runner.clone(), Config::default()).unwrap();
    let f = small
        .process(
            &img,
            &FaceGeometry {
                landmarks: &checked(&tiny),
                bbox: tiny_box,
            },
        )
        .unwrap();
    println!("tiny face: {f:?}");
    assert!((f.inter_ocular_px - 18.9).abs() < 0.1 && f.plane_rms.is_nan());
    assert!(runner.last_input.lock().unwrap().is_empty());
    let r = score(&vec![f; 3], &Config::default());
    assert!(r.reason.starts_with("face too small"), "{}", r.reason);
    assert!(matches!(e, DepthError::InvalidFaceBox { .. }), "{e}");
    let broken = RgbImage {
        width: 320,
        height: 320,
        data: vec![0; 320 * 320 * 3 - 1],
    };
    let e = est
        .process(
            &broken,
            &FaceGeometry {
                landmarks: &checked(&lm),
                bbox,
            },
        )
        .unwrap_err();
    assert!(
        matches!(e, DepthError::Frame(FrameError::ImageLength { .. })),
        "{e}"
    );
    println!("{e}");
    // A pure-function caller with a singular transform.
    let map = DepthMap {
        data: &[1.0; 4],
        width: 2,
        height: 2,
    };
    let e = frame_features(&map, &Affine2::new([0.0; 6]), &checked(&lm)).unwrap_err();
    assert!(matches!(e, DepthError::Transform(_)), "{e}");
}

fn frame(relief: f32, rms: f32, iod: f32) -> FrameFeatures {
    FrameFeatures {
        inter_ocular_px: iod,
        plane_rms: rms,
        plane_tilt: 0.0,
        nose_cheek: 0.5 * relief,
        nose_border: relief,
        face_range: 1.2 * relief,
        mesh_corr: 0.9,
        depth_gain: 1.0,
    }
}

#[test]
fn window_rules() {
    let cfg = Config::default();
    let r = score(&[], &cfg);
    assert!(!r.available && r.score.is_none() && r.reason == "no frames in the window");
    let r = score(&vec![frame(0.6, 0.2, 50.0); 2], &cfg);
    assert!(
        !r.available && r.reason.starts_with("window too short"),
        "{}",
        r.reason
    );
    let r = score(&vec![frame(0.6, 0.2, 10.0); 5], &cfg);
    assert!(
        !r.available && r.reason.starts_with("face too small"),
        "{}",
        r.reason
    );
    println!("{}", r.reason);
    // Consistent relief vs the same median relief swinging frame to frame.
    let steady = score(&vec![frame(0.6, 0.2, 50.0); 6], &cfg);
    let swings: Vec<FrameFeatures> = [1.2, 0.0, 0.6, 1.2, 0.0, 0.6]
        .iter()
        .map(|&r| frame(r, 0.2, 50.0))
        .collect();
    let swinging = score(&swings, &cfg);
    println!(
        "steady relief 0.6: score {:?}; swinging 0–1.2 (median 0.6): score {:?}, cv {:?}",
        steady.score, swinging.score, swinging.features["nose_border_cv"]
    );
    assert!(steady.score.unwrap() > 0.95 && swinging.score.unwrap() < 0.1);
    // Only the last `max_frames` count: 30 flat frames, then 30 live ones.
    let mut seq = vec![frame(0.0, 0.0, 50.0); 30];
    seq.extend(vec![frame(0.6, 0.2, 50.0); 30]);
    let r = score(&seq, &cfg);
    assert_eq!(r.features["frames"], 30.0);
    assert!(r.score.unwrap() > 0.95);
    // Non-finite features make a frame unusable, not a NaN score.
    let mut bad = vec![frame(0.6, 0.2, 50.0); 3];
    bad[1].plane_rms = f32::NAN;
    let r = score(&bad, &cfg);
    assert!(!r.available && r.features["usable_frames"] == 2.0, "{r:?}");
}

#[test]
fn landmark_features_of_short_depth_samples_is_an_error_not_a_panic() {
    let (lm, _) = synthetic_face(200.0, 200.0, 8.0);
    let lm = checked(&lm);
    let iod = inter_ocular_distance(&lm).unwrap();
    let d: Vec<f64> = lm.iter().map(|p| -(p.z as f64)).collect();
    for n in [0usize, 5, 200, 467] {
        let e = landmark_features(&d[..n], &lm, iod).unwrap_err();
        assert!(
            matches!(e, DepthError::SampleCount { got, expected: 468 } if got == n),
            "{n}: {e}"
        );
    }
}

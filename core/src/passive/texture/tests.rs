//! Unit tests of the texture signal on a fake runner.

use super::*;
use crate::geometry::{Point2, Point3};
use crate::mesh::checked;
use crate::passive::depth::tests::{spec_from_toml, FakeRunner};

/// `fr_liveness`'s manifest entry.
fn texture_spec() -> ModelSpec {
    spec_from_toml(
        r#"
name = "fr_liveness"
version = "faceplugin-0.0.1"
role = "texture"
file = "fr_liveness.onnx"
sha256 = "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d"
bytes = 1886811
licence = "uncertain"
inputs = [{ name = "input", shape = [1, 3, 128, 128], dtype = "f32" }]
outputs = [{ name = "output", shape = [1, 3], dtype = "f32" }]
preprocess = { layout = "NCHW", colour = "RGB", mean = [0.0, 0.0, 0.0], std = [1.0, 1.0, 1.0] }
"#,
    )
}

fn uniform(w: u32, h: u32, px: [u8; 3]) -> RgbImage {
    RgbImage::from_raw(w, h, px.repeat((w * h) as usize)).unwrap()
}

fn close(a: Point2, x: f32, y: f32) -> bool {
    (a.x - x).abs() < 1e-3 && (a.y - y).abs() < 1e-3
}

#[test]
fn softmax_matches_reference() {
    let p = softmax(&[1.0, 2.0, 3.0]);
    // exp(k − 3) / Σ: 0.090031, 0.244728, 0.665241.
    for (a, b) in p.iter().zip([0.090_030_57, 0.244_728_47, 0.665_240_96]) {
        assert!((a - b).abs() < 1e-6, "{p:?}");
    }
    let p = softmax(&[1000.0, 0.0, -1000.0]);
    assert!(p.iter().all(|v| v.is_finite()) && (p[0] - 1.0).abs() < 1e-6 && p[2] == 0.0);
    let p = softmax(&[-5.0, -5.0, -5.0]);
    assert!(p.iter().all(|v| (v - 1.0 / 3.0).abs() < 1e-6));
}

#[test]
fn square_crop_maps_the_2_7x_box_onto_the_whole_tensor() {
    let cfg = Config {
        crop: CropMode::Square,
        ..Config::default()
    };
    // 60 × 80 box centred at (130, 120): square side 2.7 × 80 = 216 px.
    let bbox = Rect::new(100.0, 80.0, 160.0, 160.0);
    let m = crop_transform(&bbox, 640, 480, 128, 2.7, cfg.crop).unwrap();
    let (lo, hi) = (
        m.apply(Point2::new(-0.5, -0.5)),
        m.apply(Point2::new(127.5, 127.5)),
    );
    println!("square crop: tensor edges → {lo:?} .. {hi:?}");
    assert!(close(lo, 130.0 - 108.0, 120.0 - 108.0) && close(hi, 130.0 + 108.0, 120.0 + 108.0));
    assert!(close(m.apply(Point2::new(63.5, 63.5)), 130.0, 120.0));
}

#[test]
fn clamped_crop_follows_minifasnet() {
    let cfg = Config::default();
    assert_eq!(cfg.crop, CropMode::ClampedToImage);
    // Inside the image: 60 × 80 box centred at (330, 240) → 162 × 216, corners (249, 132) and
    // (411, 348), an inclusive 163 × 217 block stretched to 128 × 128.
    let bbox = Rect::new(300.0, 200.0, 360.0, 280.0);
    let m = crop_transform(&bbox, 640, 480, 128, 2.7, cfg.crop).unwrap();
    let (lo, hi) = (
        m.apply(Point2::new(-0.5, -0.5)),
        m.apply(Point2::new(127.5, 127.5)),
    );
    println!("clamped crop inside: {lo:?} .. {hi:?}");
    assert!(close(lo, 248.5, 131.5) && close(hi, 411.5, 348.5));
    // At the right edge: shifted back inside, not padded.
    let bbox = Rect::new(590.0, 200.0, 640.0, 260.0);
    let m = crop_transform(&bbox, 640, 480, 128, 2.7, cfg.crop).unwrap();
    let (lo, hi) = (
        m.apply(Point2::new(-0.5, -0.5)),
        m.apply(Point2::new(127.5, 127.5)),
    );
    println!("clamped crop at the edge: {lo:?} .. {hi:?}");
    assert!(hi.x <= 639.5 + 1e-3 && lo.x >= -0.5 && (hi.x - lo.x - 136.0).abs() < 1.01);
    // A box too big for 2.7×: the scale shrinks to fit the 480-pixel height.
    let bbox = Rect::new(200.0, 100.0, 400.0, 400.0);
    let m = crop_transform(&bbox, 640, 480, 128, 2.7, cfg.crop).unwrap();
    let (lo, hi) = (
        m.apply(Point2::new(-0.5, -0.5)),
        m.apply(Point2::new(127.5, 127.5)),
    );
    assert!(lo.y >= -0.5 && hi.y <= 479.5 + 1e-3, "{lo:?} {hi:?}");
}

#[test]
fn preprocess_reads_colour_and_normalisation_from_the_spec() {
    let img = uniform(64, 64, [10, 20, 30]);
    let cfg = Config {
        crop: CropMode::Square,
        ..Config::default()
    };
    let fmt = check_spec(&texture_spec()).unwrap();
    assert_eq!(fmt.size, 128);
    let mut t = vec![0.0f32; 3 * 128 * 128];
    // Box centred in the image, small enough for the square crop to stay inside.
    let centred = |fmt: &InputFormat, t: &mut [f32]| {
        preprocess(
            &img,
            &Rect::new(24.0, 24.0, 40.0, 40.0),
            2.7,
            cfg.crop,
            fmt,
            t,
        )
        .unwrap()
    };
    centred(&fmt, &mut t);
    let p = 128 * 128;
    assert!(t[..p].iter().all(|&v| v == 10.0) && t[p..2 * p].iter().all(|&v| v == 20.0));
    assert!(t[2 * p..].iter().all(|&v| v == 30.0));
    // BGR with a per-channel mean/std in B, G, R order.
    let mut spec = texture_spec();
    let pre = spec.preprocess.as_mut().unwrap();
    pre.colour = "BGR".into();
    pre.mean = [30.0, 0.0, 0.0];
    pre.std = [2.0, 1.0, 1.0];
    let fmt = check_spec(&spec).unwrap();
    centred(&fmt, &mut t);
    println!("BGR planes: {} {} {}", t[0], t[p], t[2 * p]);
    assert!(t[..p].iter().all(|&v| v == 0.0) && t[p..2 * p].iter().all(|&v| v == 20.0));
    assert!(t[2 * p..].iter().all(|&v| v == 10.0));
    // A face at the corner: the square crop replicates the edge, never pads with black.
    let fmt = check_spec(&texture_spec()).unwrap();
    preprocess(
        &img,
        &Rect::new(0.0, 0.0, 20.0, 20.0),
        2.7,
        cfg.crop,
        &fmt,
        &mut t,
    )
    .unwrap();
    assert!(t[..p].iter().all(|&v| v == 10.0));
}

fn landmarks() -> Vec<Point3> {
    vec![Point3::default(); 468]
}

#[test]
fn classifier_turns_logits_into_probabilities() {
    let runner = FakeRunner::new(texture_spec(), vec![1, 3], vec![0.5, 2.5, -1.0]);
    let mut tc =
        TextureClassifier::new(vec![(live1(), runner.clone())], Config::default()).unwrap();
    let img = uniform(200, 160, [90, 120, 150]);
    let lm = landmarks();
    let face = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: Rect::new(70.0, 50.0, 130.0, 120.0),
    };
    let f = tc.process(&img, &face).unwrap();
    let want = softmax(&[0.5, 2.5, -1.0]);
    println!(
        "live probability {:?}, face {} px",
        f.member_live, f.face_px
    );
    assert_eq!(f.member_live, vec![want[1]]);
    assert!(f.live() == want[1] && f.face_px == 70.0 && tc.model_label() == "fr_liveness");
    // The model saw raw 0–255 RGB, and no padding: the clamped crop stays in the image.
    let input = runner.last_input.lock().unwrap().clone();
    for (c, v) in [90.0, 120.0, 150.0].iter().enumerate() {
        assert!(
            input[c * 16384..(c + 1) * 16384].iter().all(|x| x == v),
            "plane {c}"
        );
    }
    // A face box under `min_face_px` (40) is not run through the model.
    let small = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: Rect::new(70.0, 50.0, 100.0, 80.0),
    };
    runner.last_input.lock().unwrap().clear();
    let s = tc.process(&img, &small).unwrap();
    assert!(s.member_live.iter().all(|p| p.is_nan()) && s.face_px == 30.0);
    assert!(runner.last_input.lock().unwrap().is_empty());
    assert!(score(&[s], &Config::default())
        .reason
        .starts_with("face too small"));
}

#[test]
fn wrong_outputs_and_interfaces_are_errors() {
    let img = uniform(200, 160, [90, 120, 150]);
    let lm = landmarks();
    let face = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: Rect::new(70.0, 50.0, 130.0, 120.0),
    };
    let run = |shape: Vec<usize>, data: Vec<f32>| {
        let r = FakeRunner::new(texture_spec(), shape, data);
        TextureClassifier::new(vec![(live1(), r)], Config::default())
            .unwrap()
            .process(&img, &face)
    };
    for shape in [vec![1, 2], vec![3], vec![1, 3, 1], vec![2, 3]] {
        let len = shape.iter().product();
        let e = run(shape.clone(), vec![0.0; len]).unwrap_err();
        assert!(
            matches!(e, TextureError::OutputShape { .. }),
            "{shape:?}: {e}"
        );
    }
    let e = run(vec![1, 3], vec![0.0, f32::NAN, 0.0]).unwrap_err();
    assert!(
        matches!(e, TextureError::NonFiniteOutput { index: 1 }),
        "{e}"
    );
    let e = run(vec![], vec![]).unwrap_err();
    assert!(matches!(e, TextureError::OutputCount { got: 0 }), "{e}");
    println!("{e}");
    let bad_box = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: Rect::new(70.0, 50.0, 60.0, 120.0),
    };
    let r = FakeRunner::new(texture_spec(), vec![1, 3], vec![0.0; 3]);
    let e = TextureClassifier::new(vec![(live1(), r)], Config::default())
        .unwrap()
        .process(&img, &bad_box)
        .unwrap_err();
    assert!(matches!(e, TextureError::InvalidFaceBox { .. }), "{e}");
    let broken = RgbImage {
        width: 200,
        height: 160,
        data: vec![0; 10],
    };
    let r = FakeRunner::new(texture_spec(), vec![1, 3], vec![0.0; 3]);
    let e = TextureClassifier::new(vec![(live1(), r)], Config::default())
        .unwrap()
        .process(&broken, &face)
        .unwrap_err();
    assert!(
        matches!(e, TextureError::Frame(FrameError::ImageLength { .. })),
        "{e}"
    );
    // Spec checks.
    let reject = |edit: fn(&mut ModelSpec)| {
        let mut s = texture_spec();
        edit(&mut s);
        let e = check_spec(&s).unwrap_err();
        assert!(matches!(e, TextureError::Interface { .. }), "{e}");
        println!("{e}");
    };
    reject(|s| s.inputs[0].shape = vec![1, 3, 112, 128]);
    reject(|s| s.inputs[0].shape = vec![1, 1, 128, 128]);
    reject(|s| s.outputs[0].shape = vec![1, 2]);
    reject(|s| s.preprocess = None);
    reject(|s| s.preprocess.as_mut().unwrap().layout = "NHWC".into());
    reject(|s| s.preprocess.as_mut().unwrap().std = [1.0, 0.0, 1.0]);
    // A dynamic input side falls back to 128.
    let mut s = texture_spec();
    s.inputs[0].shape = vec![1, 3, -1, -1];
    assert_eq!(check_spec(&s).unwrap().size, DEFAULT_INPUT_SIZE);
}

fn frame(live: &[f32], face_px: f32) -> FrameFeatures {
    FrameFeatures {
        member_live: live.to_vec(),
        face_px,
    }
}

/// `fr_liveness`'s settings with class 1 read as live (the fake runner's logits favour it).
fn live1() -> TextureModel {
    TextureModel {
        live_class: 1,
        ..TextureModel::fr_liveness()
    }
}

#[test]
fn window_score_is_the_mean_live_probability() {
    let cfg = Config::default();
    let r = score(&[], &cfg);
    assert!(!r.available && r.score.is_none() && r.reason == "no frames in the window");
    let r = score(&[frame(&[0.8], 20.0)], &cfg);
    assert!(
        !r.available && r.reason.starts_with("face too small"),
        "{}",
        r.reason
    );
    let frames = [
        frame(&[0.8], 100.0),
        frame(&[0.6], 100.0),
        frame(&[0.4], 100.0),
    ];
    let r = score(&frames, &cfg);
    println!("window: score {:?}, features {:?}", r.score, r.features);
    assert!((r.score.unwrap() - 0.6).abs() < 1e-6);
    assert!((r.features["live_min"] - 0.4).abs() < 1e-6);
    // std of 0.8, 0.6, 0.4 (population) = 0.163299.
    assert!((r.features["live_std"] - 0.163_299).abs() < 1e-5);
    assert!(r.features["models"] == 1.0);
    // Only the last `max_frames` frames count.
    let r = score(
        &frames,
        &Config {
            max_frames: 1,
            ..Config::default()
        },
    );
    assert!((r.score.unwrap() - 0.4).abs() < 1e-6);
    // Two models: the frame's live probability is their mean (Silent-Face's fusion), and
    // each model's mean is kept.
    let two = [frame(&[0.9, 0.5], 100.0), frame(&[0.7, 0.3], 100.0)];
    let r = score(&two, &cfg);
    assert!((r.score.unwrap() - 0.6).abs() < 1e-6, "{:?}", r.score);
    assert!((r.features["model0_live_mean"] - 0.8).abs() < 1e-6);
    assert!((r.features["model1_live_mean"] - 0.4).abs() < 1e-6);
}

#[test]
fn two_models_each_get_their_own_crop_and_class() {
    let a = FakeRunner::new(texture_spec(), vec![1, 3], vec![0.0, 2.0, 0.0]);
    let b = FakeRunner::new(texture_spec(), vec![1, 3], vec![3.0, 0.0, 0.0]);
    let wide = TextureModel {
        name: "wide".into(),
        scale: 4.0,
        live_class: 0,
    };
    let mut tc = TextureClassifier::new(
        vec![(live1(), a.clone()), (wide, b.clone())],
        Config::default(),
    )
    .unwrap();
    assert_eq!(tc.model_label(), "fr_liveness+wide");
    // A gradient image, so the 2.7× and 4.0× crops differ.
    let img = RgbImage::from_raw(
        400,
        400,
        (0..400 * 400)
            .flat_map(|i| [(i % 400 / 2) as u8; 3])
            .collect(),
    )
    .unwrap();
    let lm = landmarks();
    let face = FaceGeometry {
        landmarks: &checked(&lm),
        bbox: Rect::new(170.0, 170.0, 230.0, 230.0),
    };
    let f = tc.process(&img, &face).unwrap();
    let (pa, pb) = (softmax(&[0.0, 2.0, 0.0])[1], softmax(&[3.0, 0.0, 0.0])[0]);
    assert_eq!(f.member_live, vec![pa, pb]);
    let (ia, ib) = (
        a.last_input.lock().unwrap().clone(),
        b.last_input.lock().unwrap().clone(),
    );
    let span = |t: &[f32]| t[127] - t[0];
    println!(
        "crop spans: 2.7x {} grey levels, 4.0x {}",
        span(&ia),
        span(&ib)
    );
    // Across the top row, the 4.0× crop spans 4/2.7 as many grey levels (0.5 per pixel).
    assert!((span(&ib) / span(&ia) - 4.0 / 2.7).abs() < 0.05);
}

#[test]
fn config_is_validated() {
    assert!(Config::default().validate().is_ok());
    let bad = |cfg: Config, name: &str| match cfg.validate() {
        Err(TextureError::InvalidConfig { name: n, .. }) => assert_eq!(n, name),
        other => panic!("{name}: {other:?}"),
    };
    bad(
        Config {
            models: vec![TextureModel {
                live_class: 3,
                ..TextureModel::minifasnet_v2()
            }],
            ..Config::default()
        },
        "live_class",
    );
    bad(
        Config {
            fallback: vec![TextureModel {
                scale: f32::NAN,
                ..TextureModel::fr_liveness()
            }],
            ..Config::default()
        },
        "scale",
    );
    bad(
        Config {
            min_frames: 0,
            ..Config::default()
        },
        "min_frames",
    );
    let runner = FakeRunner::new(texture_spec(), vec![1, 3], vec![0.0; 3]);
    let half = TextureModel {
        scale: 0.5,
        ..TextureModel::fr_liveness()
    };
    assert!(matches!(
        TextureClassifier::new(vec![(half, runner.clone())], Config::default()),
        Err(TextureError::InvalidConfig { name: "scale", .. })
    ));
    assert!(matches!(
        TextureClassifier::new(Vec::new(), Config::default()),
        Err(TextureError::Interface { .. })
    ));
}

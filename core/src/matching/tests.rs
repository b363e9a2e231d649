use super::*;
use crate::geometry::Point2;
use alloc::vec::Vec;

fn template_pts() -> Vec<Point2> {
    align::ARCFACE_TEMPLATE
        .iter()
        .map(|&[x, y]| Point2::new(x, y))
        .collect()
}

#[test]
fn umeyama_recovers_a_similarity_and_never_reflects() {
    let (s, a, tx, ty) = (2.7f32, 0.4f32, 120.0f32, -35.0f32);
    let (c, si) = (a.cos(), a.sin());
    let src = template_pts();
    let dst: Vec<Point2> = src
        .iter()
        .map(|p| Point2::new(s * (c * p.x - si * p.y) + tx, s * (si * p.x + c * p.y) + ty))
        .collect();
    let m = umeyama(&src, &dst).unwrap();
    let want = [s * c, -s * si, tx, s * si, s * c, ty];
    for (g, w) in m.m.iter().zip(want) {
        assert!(
            (g - w).abs() < 1e-3 * w.abs().max(1.0),
            "{:?} vs {want:?}",
            m.m
        );
    }
    // A mirrored point set is fitted by a proper rotation (determinant > 0), not a reflection.
    let mirrored: Vec<Point2> = src.iter().map(|p| Point2::new(-p.x, p.y)).collect();
    let m = umeyama(&src, &mirrored).unwrap();
    assert!(m.m[0] * m.m[4] - m.m[1] * m.m[3] > 0.0);
}

#[test]
fn degenerate_points_are_typed_errors() {
    let same = [Point2::new(5.0, 5.0); 5];
    let t = template_pts();
    assert!(matches!(umeyama(&same, &t), Err(MatchError::Degenerate(_))));
    assert!(matches!(umeyama(&t, &same), Err(MatchError::Degenerate(_))));
    let mut nan = t.clone();
    nan[2].x = f32::NAN;
    assert!(matches!(umeyama(&nan, &t), Err(MatchError::Degenerate(_))));
    assert!(umeyama(&t[..3], &t).is_err());
    let blaze = crate::detect::Detection {
        num_keypoints: 6,
        ..Default::default()
    };
    assert!(matches!(
        five_points_from_detection(&blaze),
        Err(MatchError::Keypoints { got: 6 })
    ));
}

#[test]
fn the_template_itself_aligns_to_the_identity_crop() {
    let pts: FivePoints = core::array::from_fn(|i| {
        Point2::new(align::ARCFACE_TEMPLATE[i][0], align::ARCFACE_TEMPLATE[i][1])
    });
    let (from_crop, rms) = align::crop_from_points(&pts).unwrap();
    assert!(rms < 1e-3, "{rms}");
    for (g, w) in from_crop.m.iter().zip([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]) {
        assert!((g - w).abs() < 1e-4, "{:?}", from_crop.m);
    }
}

fn emb(model: &str, v: &[f32]) -> Embedding {
    Embedding {
        vector: embed::normalised(v).unwrap(),
        model: model.into(),
        model_sha256: "ab".repeat(32),
        alignment_rms: 0.5,
    }
}

#[test]
fn enrolment_averages_the_best_frames_and_serialises_stably() {
    let samples = [
        Sample {
            embedding: emb("m", &[1.0, 0.0, 0.0]),
            quality: 0.9,
        },
        Sample {
            embedding: emb("m", &[0.0, 1.0, 0.0]),
            quality: 0.8,
        },
        Sample {
            embedding: emb("m", &[0.0, 0.0, 1.0]),
            quality: 0.1,
        },
    ];
    let t = FaceTemplate::enrol(&samples, 2).unwrap();
    let h = core::f32::consts::FRAC_1_SQRT_2;
    assert!((t.embedding[0] - h).abs() < 1e-6 && (t.embedding[1] - h).abs() < 1e-6);
    assert_eq!(t.embedding[2], 0.0);
    assert_eq!(t.frames, 2);
    assert!((t.quality - 0.85).abs() < 1e-6);
    t.validate().unwrap();
    let json = serde_json::to_string(&t).unwrap();
    assert!(
        json.starts_with(r#"{"format":1,"model":"m","model_sha256":"abab"#),
        "{json}"
    );
    let back: FaceTemplate = serde_json::from_str(&json).unwrap();
    assert_eq!(back, t);
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    // Bad enrolments and templates.
    assert!(matches!(
        FaceTemplate::enrol(&[], 3),
        Err(MatchError::NoSamples)
    ));
    let mut q = samples.clone();
    q[0].quality = f32::NAN;
    assert!(matches!(
        FaceTemplate::enrol(&q, 3),
        Err(MatchError::Quality(_))
    ));
    let mut other = samples.clone();
    other[1].embedding.model = "other".into();
    assert!(matches!(
        FaceTemplate::enrol(&other, 3),
        Err(MatchError::ModelMismatch { .. })
    ));
    let mut bad = t.clone();
    bad.format = 99;
    assert!(bad.validate().is_err());
    bad.format = 1;
    bad.embedding[0] = 3.0;
    assert!(bad.validate().is_err());
    // Regression (fuzz target `face_template`): a quality too large for an f32 became
    // infinity and was written back as `null`. It is now refused when read (serde_json's
    // `float_roundtrip` reads f32s exactly and range-checks them), and `validate` refuses an
    // infinite quality however the template was made, as any quality outside [0, 1] and a
    // template of no frames.
    let huge = json.replace(
        "\"quality\":0.85",
        &alloc::format!("\"quality\":6{}", "0".repeat(60)),
    );
    assert_ne!(huge, json);
    let e = serde_json::from_str::<FaceTemplate>(&huge).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    let mut bad = t.clone();
    bad.quality = f32::INFINITY;
    let e = bad.validate().unwrap_err();
    assert!(e.to_string().contains("quality inf"), "{e}");
    for q in [f32::NAN, -0.1, 1.5] {
        let mut bad = t.clone();
        bad.quality = q;
        assert!(
            matches!(bad.validate(), Err(MatchError::Template(_))),
            "{q}"
        );
    }
    let mut bad = t.clone();
    bad.frames = 0;
    assert!(bad.validate().unwrap_err().to_string().contains("0 frames"));
}

#[test]
fn comparisons_across_models_are_errors_and_bands_follow_thresholds() {
    let t = FaceTemplate::enrol(
        &[Sample {
            embedding: emb("m", &[1.0, 0.0]),
            quality: 1.0,
        }],
        1,
    )
    .unwrap();
    let s = t.similarity(&emb("m", &[1.0, 1.0])).unwrap();
    assert!((s - core::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
    let e = t.similarity(&emb("other", &[1.0, 0.0])).unwrap_err();
    assert!(e.to_string().contains("different models"), "{e}");
    let mut sha = emb("m", &[1.0, 0.0]);
    sha.model_sha256 = "cd".repeat(32);
    assert!(t.similarity(&sha).is_err());
    assert!(t.similarity(&emb("m", &[1.0, 0.0, 0.0])).is_err());

    let th = MatchThresholds::new(0.5, 0.3).unwrap();
    assert_eq!(th.band(0.5), Band::Match);
    assert_eq!(th.band(0.4), Band::Uncertain);
    assert_eq!(th.band(0.29), Band::NoMatch);
    assert_eq!(th.band(f32::NAN), Band::NoMatch);
    assert!(MatchThresholds::new(0.3, 0.5).is_err());
    assert!(MatchThresholds::new(f32::NAN, 0.5).is_err());
    assert!(MatchThresholds::new(1.5, 0.5).is_err());
}

#[test]
fn continuity_reports_another_face() {
    let mut c = FaceContinuity::new(0.4).unwrap();
    assert_eq!(c.check(&emb("m", &[1.0, 0.1])).unwrap(), None);
    assert_eq!(c.check(&emb("m", &[1.0, 0.3])).unwrap(), None);
    let why = c.check(&emb("m", &[0.0, 1.0])).unwrap().unwrap();
    assert!(why.contains("starting face"), "{why}");
    assert!(c.lowest() < 0.2);
    assert!(c.check(&emb("x", &[1.0, 0.0])).is_err());
    assert!(FaceContinuity::new(2.0).is_err());
}

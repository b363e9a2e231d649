//! Face verification on real models and public-domain faces (issue #6, first part).
//!
//! Genuine pairs: each portrait (astronaut, Newton, Gauss) against augmented copies of itself
//! (mirror, scale, rotation, exposure, JPEG, noise) and against SYNTHETIC bona fide frames of it
//! (`liveproof-synth`). Impostor pairs: the portraits and the Solvay 1927 faces (found by SCRFD)
//! against each other. Prints the distributions and the EER; the embedding models of the
//! manifest (512-d `fr_feature`, 192-d MobileFaceNet with its batch fixed at 2, and InsightFace's
//! 512-d buffalo_s `w600k_mbf`: weights for non-commercial research only) are run.

use std::sync::Arc;

use liveproof_core::engine::{DetectorKind, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat, RgbImage};
use liveproof_core::matching::{five_points_from_mesh, Embedder, Embedding, FaceTemplate, Sample};
use liveproof_core::models::{Manifest, ModelRunner};
use liveproof_tests::{engine_config, engine_with, fixture, load_rgb, solvay_face_boxes};

fn runner(name: &str) -> Arc<dyn ModelRunner> {
    liveproof_core::engine::load_runner(&engine_config(DetectorKind::BlazeFaceFront), name).unwrap()
}

fn rgb_of(img: &image::RgbImage) -> RgbImage {
    RgbImage::from_raw(img.width(), img.height(), img.as_raw().clone()).unwrap()
}

/// Embeds the largest face of a still image (FaceMesh five points).
fn embed_still(tracker: &mut Tracker, e: &mut Embedder, img: &RgbImage) -> Option<Embedding> {
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).ok()?;
    let a = tracker.analyze_still(&frame).ok()?;
    let face = a.faces.first()?;
    let pts = five_points_from_mesh(&face.landmarks).ok()?;
    e.embed(img, &pts).ok()
}

/// Augmented copies of a photo, each with its name.
fn augment(src: &image::RgbImage, seed: u64) -> Vec<(&'static str, image::RgbImage)> {
    use image::imageops;
    let (w, h) = src.dimensions();
    let mut out = vec![("mirror", imageops::flip_horizontal(src))];
    out.push((
        "scale 0.6",
        imageops::resize(
            src,
            (w as f32 * 0.6) as u32,
            (h as f32 * 0.6) as u32,
            imageops::FilterType::Triangle,
        ),
    ));
    // Rotation by 10 degrees about the centre (bilinear, black corners).
    let (s, c) = 10f32.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    let rot = image::RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let (sx, sy) = (c * dx + s * dy + cx, -s * dx + c * dy + cy);
        if sx < 0.0 || sy < 0.0 || sx >= (w - 1) as f32 || sy >= (h - 1) as f32 {
            return image::Rgb([0, 0, 0]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
        let p = |x, y| src.get_pixel(x, y).0.map(|v| v as f32);
        let (a, b, cc, d) = (p(x0, y0), p(x0 + 1, y0), p(x0, y0 + 1), p(x0 + 1, y0 + 1));
        image::Rgb(core::array::from_fn(|k| {
            ((a[k] * (1.0 - fx) + b[k] * fx) * (1.0 - fy) + (cc[k] * (1.0 - fx) + d[k] * fx) * fy)
                .round() as u8
        }))
    });
    out.push(("rotate 10°", rot));
    let mut dark = src.clone();
    dark.pixels_mut()
        .for_each(|p| p.0 = p.0.map(|v| (v as f32 * 0.55) as u8));
    out.push(("exposure ×0.55", dark));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 40)
        .encode_image(src)
        .unwrap();
    out.push((
        "JPEG q40",
        image::load_from_memory(&jpeg).unwrap().to_rgb8(),
    ));
    // Gaussian-ish noise σ ≈ 8 levels (sum of uniforms), deterministic.
    let mut state = seed | 1;
    let mut rnd = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let mut noisy = src.clone();
    noisy.pixels_mut().for_each(|p| {
        p.0 = p.0.map(|v| {
            let n = (rnd() + rnd() + rnd() + rnd() - 2.0) * 14.0;
            (v as f32 + n).round().clamp(0.0, 255.0) as u8
        })
    });
    out.push(("noise σ≈8", noisy));
    out
}

/// Equal-error rate: the threshold where the false non-match and false match rates meet.
fn eer(genuine: &[f32], impostor: &[f32]) -> (f64, f32) {
    let mut best = (1.0f64, 0.0f32);
    for &t in genuine.iter().chain(impostor) {
        let fnmr = genuine.iter().filter(|&&g| g < t).count() as f64 / genuine.len() as f64;
        let fmr = impostor.iter().filter(|&&i| i >= t).count() as f64 / impostor.len() as f64;
        let e = fnmr.max(fmr);
        if e < best.0 {
            best = (e, t);
        }
    }
    best
}

fn summary(v: &[f32]) -> String {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    let q = |p: f64| s[((s.len() - 1) as f64 * p).round() as usize];
    format!(
        "n {} min {:.3} p10 {:.3} median {:.3} p90 {:.3} max {:.3}",
        s.len(),
        s[0],
        q(0.1),
        q(0.5),
        q(0.9),
        s[s.len() - 1]
    )
}

#[test]
fn genuine_and_impostor_similarities_on_public_domain_faces() {
    use liveproof_synth::{Generator, Kind, Params, Source, SourceOptions};
    let engine = engine_with(engine_config(DetectorKind::BlazeFaceFront));
    let mut tracker = Tracker::new(engine.clone());
    for model in ["fr_feature", "mobilefacenet", "w600k_mbf"] {
        let mut e = Embedder::new(runner(model)).unwrap();
        let (mut genuine, mut impostor) = (Vec::new(), Vec::new());
        let mut enrolled: Vec<(String, FaceTemplate)> = Vec::new();
        for (k, name) in ["astronaut", "newton", "gauss"].iter().enumerate() {
            let path = fixture(&format!("{name}.png"));
            let photo = load_rgb(&path);
            let base = embed_still(&mut tracker, &mut e, &photo).expect("portrait embeds");
            let t = FaceTemplate::enrol(
                &[Sample {
                    embedding: base.clone(),
                    quality: 1.0,
                }],
                1,
            )
            .unwrap();
            let img =
                image::RgbImage::from_raw(photo.width, photo.height, photo.data.clone()).unwrap();
            for (what, aug) in augment(&img, k as u64 + 1) {
                let emb = embed_still(&mut tracker, &mut e, &rgb_of(&aug))
                    .unwrap_or_else(|| panic!("{name} {what}: no face"));
                let s = t.similarity(&emb).unwrap();
                println!("{model} genuine {name} vs {what}: {s:.3}");
                genuine.push(s);
            }
            // SYNTHETIC bona fide frames of the same face (3D head motion, sensor noise).
            let source = Source::from_file(&engine, &path, &SourceOptions::default()).unwrap();
            let params = Params::new(Kind::BonaFide, 40 + k as u64, 10, 30.0);
            let mut synth = Vec::new();
            for f in Generator::new(&source, &params).unwrap() {
                if let Some(emb) = embed_still(&mut tracker, &mut e, &f.image) {
                    synth.push(t.similarity(&emb).unwrap());
                }
            }
            println!(
                "{model} genuine {name} vs SYNTHETIC bona fide: {}",
                summary(&synth)
            );
            genuine.extend(synth);
            enrolled.push((name.to_string(), t));
        }
        // The Solvay faces (SCRFD boxes; each face cropped with a margin and analysed alone).
        let (solvay, boxes) = solvay_face_boxes(29);
        for (i, b) in boxes.iter().enumerate() {
            let m = 0.6 * b.width().max(b.height());
            let x0 = (b.x_min - m).max(0.0) as u32;
            let y0 = (b.y_min - m).max(0.0) as u32;
            let x1 = ((b.x_max + m) as u32).min(solvay.width);
            let y1 = ((b.y_max + m) as u32).min(solvay.height);
            let img = image::RgbImage::from_raw(solvay.width, solvay.height, solvay.data.clone())
                .unwrap();
            let crop = image::imageops::crop_imm(&img, x0, y0, x1 - x0, y1 - y0).to_image();
            let up = image::imageops::resize(
                &crop,
                crop.width() * 3,
                crop.height() * 3,
                image::imageops::FilterType::CatmullRom,
            );
            if let Some(emb) = embed_still(&mut tracker, &mut e, &rgb_of(&up)) {
                let t = FaceTemplate::enrol(
                    &[Sample {
                        embedding: emb,
                        quality: 1.0,
                    }],
                    1,
                )
                .unwrap();
                enrolled.push((format!("solvay{i}"), t));
            }
        }
        for i in 0..enrolled.len() {
            for j in i + 1..enrolled.len() {
                impostor.push(enrolled[i].1.similarity_to(&enrolled[j].1).unwrap());
            }
        }
        let (rate, at) = eer(&genuine, &impostor);
        let max_imp = impostor.iter().copied().fold(f32::MIN, f32::max);
        let fnmr_at_zero_fm =
            genuine.iter().filter(|&&g| g <= max_imp).count() as f64 / genuine.len() as f64;
        println!(
            "{model}: {} faces enrolled ({} Solvay)\n  genuine  {}\n  impostor {}\n  EER {:.3} at \
             {at:.3}; FNMR at FMR 0 (above the highest impostor {max_imp:.3}): {fnmr_at_zero_fm:.3} \
             ({} impostor pairs: FMR 1e-3 is not resolvable)",
            enrolled.len(),
            enrolled.len() - 3,
            summary(&genuine),
            summary(&impostor),
            rate,
            impostor.len()
        );
        assert!(
            enrolled.len() >= 3 + 15,
            "{model}: too few Solvay faces embedded"
        );
        // A working face model separates these: the same face stays far above different people.
        assert!(rate <= 0.05, "{model}: EER {rate}");
    }
}

#[test]
fn bad_models_are_refused_with_typed_errors() {
    // The texture CNN is not an ArcFace-interface model.
    let e = Embedder::new(runner("fr_liveness")).unwrap_err();
    assert!(e.to_string().contains("input shape"), "{e}");
    let _ = EngineConfig::default();
}

#[test]
fn embeddings_match_the_python_norm_crop_reference() {
    let script = liveproof_tests::ref_script("arcface_ref.py");
    let engine = engine_with(engine_config(DetectorKind::BlazeFaceFront));
    let mut tracker = Tracker::new(engine);
    let cfg = engine_config(DetectorKind::BlazeFaceFront);
    let manifest = Manifest::embedded().unwrap();
    for model in ["fr_feature", "mobilefacenet", "w600k_mbf"] {
        let (spec, path) = liveproof_core::engine::resolve(&manifest, &cfg, model).unwrap();
        let pre = spec.preprocess.clone().unwrap();
        let batch = spec.inputs[0].shape[0].max(1);
        let mut e = Embedder::new(runner(model)).unwrap();
        for name in ["astronaut", "newton", "gauss"] {
            let img_path = fixture(&format!("{name}.png"));
            let img = load_rgb(&img_path);
            let frame =
                Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
            let a = tracker.analyze_still(&frame).unwrap();
            let pts = five_points_from_mesh(&a.faces[0].landmarks).unwrap();
            let ours = e.embed(&img, &pts).unwrap();
            let mut cmd = std::process::Command::new(liveproof_tests::ref_python());
            cmd.arg(&script)
                .arg(&img_path)
                .arg(&path)
                .arg(pre.mean[0].to_string())
                .arg(pre.std[0].to_string())
                .arg(batch.to_string());
            for p in &pts {
                cmd.arg(p.x.to_string()).arg(p.y.to_string());
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "reference failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let theirs: Vec<f32> = v["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            let cos = liveproof_core::matching::cosine(&ours.vector, &theirs);
            println!(
                "{model} {name}: cosine to the Python norm_crop reference {cos:.5} (alignment \
                 RMS {:.2} px)",
                ours.alignment_rms
            );
            assert!(cos >= 0.999, "{model} {name}: {cos}");
        }
    }
}

#[test]
fn alignment_points_facemesh_against_scrfd_keypoints() {
    use liveproof_core::matching::five_points_from_detection;
    // Which five points align better: FaceMesh's (eye-contour centres, nose tip, mouth
    // corners) or SCRFD's keypoints? Measured by how stable the embedding stays under the
    // augmentations (genuine similarity: higher is better) and how far apart the two sets are.
    let engine = engine_with(engine_config(DetectorKind::Scrfd));
    let mut tracker = Tracker::new(engine);
    let mut e = Embedder::new(runner("fr_feature")).unwrap();
    let mut points = |img: &RgbImage| {
        let frame =
            Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data).unwrap();
        let a = tracker.analyze_still(&frame).unwrap();
        let f = &a.faces[0];
        (
            five_points_from_mesh(&f.landmarks).unwrap(),
            five_points_from_detection(&f.detection).unwrap(),
        )
    };
    let (mut sim_mesh, mut sim_det, mut gap) = (Vec::new(), Vec::new(), Vec::new());
    for (k, name) in ["astronaut", "newton", "gauss"].iter().enumerate() {
        let photo = load_rgb(&fixture(&format!("{name}.png")));
        let (m0, d0) = points(&photo);
        let iod = ((m0[0].x - m0[1].x).powi(2) + (m0[0].y - m0[1].y).powi(2)).sqrt();
        let per_point: Vec<f32> = m0
            .iter()
            .zip(&d0)
            .map(|(a, b)| ((a.x - b.x).powi(2) + (a.y - b.y).powi(2)).sqrt() / iod)
            .collect();
        println!("{name}: FaceMesh vs SCRFD point distance / IOD {per_point:.3?}");
        gap.extend(per_point);
        let base_m = e.embed(&photo, &m0).unwrap();
        let base_d = e.embed(&photo, &d0).unwrap();
        let img = image::RgbImage::from_raw(photo.width, photo.height, photo.data.clone()).unwrap();
        for (what, aug) in augment(&img, k as u64 + 7) {
            let aug = rgb_of(&aug);
            let (m, d) = points(&aug);
            let sm = liveproof_core::matching::cosine(
                &base_m.vector,
                &e.embed(&aug, &m).unwrap().vector,
            );
            let sd = liveproof_core::matching::cosine(
                &base_d.vector,
                &e.embed(&aug, &d).unwrap().vector,
            );
            println!("  {name} {what}: genuine similarity FaceMesh {sm:.3}, SCRFD {sd:.3}");
            sim_mesh.push(sm);
            sim_det.push(sd);
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let min = |v: &[f32]| v.iter().copied().fold(f32::MAX, f32::min);
    println!(
        "genuine similarity under augmentation: FaceMesh points mean {:.4} min {:.3}; SCRFD \
         keypoints mean {:.4} min {:.3}; point gap median {:.3} IOD",
        mean(&sim_mesh),
        min(&sim_mesh),
        mean(&sim_det),
        min(&sim_det),
        {
            let mut g = gap.clone();
            g.sort_by(f32::total_cmp);
            g[g.len() / 2]
        }
    );
    // Both are usable five-point sources.
    assert!(min(&sim_mesh) > 0.9 && min(&sim_det) > 0.9);
}

#[test]
fn a_users_insightface_model_drops_in_by_path_and_sha256() {
    use liveproof_core::engine::ModelOverride;
    // The project-made STAND-IN with InsightFace's interface (tensors `input.1` → `683`,
    // dynamic batch): NOT a face model; it exercises the user-supplied path only.
    let standin = liveproof_tests::models_dir().join("arcface_interface_standin.onnx");
    let sha = liveproof_core::models::sha256_file(&standin).unwrap();
    let base = engine_config(DetectorKind::BlazeFaceFront);
    // Without the user's file: a typed "not supplied" error.
    let e = Embedder::load(&base, "arcface_user").unwrap_err();
    assert!(e.to_string().contains("not distributed"), "{e}");
    // With a wrong sha256: refused.
    let mut cfg = base.clone();
    cfg.overrides.push(ModelOverride {
        name: "arcface_user".into(),
        path: standin.clone(),
        sha256: "00".repeat(32),
    });
    let e = Embedder::load(&cfg, "arcface_user").unwrap_err();
    assert!(e.to_string().contains("sha256"), "{e}");
    // With the right one: it loads, its own tensor names are used, and embeddings come out
    // 512-d and unit length.
    let mut cfg = base.clone();
    cfg.overrides.push(ModelOverride {
        name: "arcface_user".into(),
        path: standin,
        sha256: sha,
    });
    let mut e = Embedder::load(&cfg, "arcface_user").unwrap();
    assert_eq!(e.dim(), 512);
    let engine = engine_with(base);
    let mut tracker = Tracker::new(engine);
    let photo = load_rgb(&fixture("astronaut.png"));
    let emb = embed_still(&mut tracker, &mut e, &photo).unwrap();
    let n: f32 = emb.vector.iter().map(|x| x * x).sum();
    assert!((n - 1.0).abs() < 1e-4 && emb.vector.len() == 512);
    assert_eq!(emb.model, "arcface_user");
}

use super::*;
use alloc::vec;
use alloc::vec::Vec;

extern crate std;
use std::println;

const CANONICAL_TXT: &str = include_str!("testdata/canonical_face_model.txt");
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

/// Canonical face posed with the given angles (degrees), `scale` px/cm, centred at (cx, cy),
/// in FaceMesh image convention (x right, y down, z away, same pixel scale).
fn posed_face(yaw: f32, pitch: f32, roll: f32, scale: f32, cx: f32, cy: f32) -> Vec<Point3> {
    let r = rotation_from_angles(yaw, pitch, roll);
    canonical()
        .iter()
        .map(|c| {
            let p = [c.x, -c.y, -c.z];
            let q: [f32; 3] =
                core::array::from_fn(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2]);
            Point3::new(cx + scale * q[0], cy + scale * q[1], 40.0 + scale * q[2])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Calibration on real images (run by hand: `cargo test -p liveproof-core --lib quality::tests::calibrate -- --ignored --nocapture`)

fn read_f32(path: &str) -> Vec<f32> {
    let b = std::fs::read(path).unwrap();
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn box_blur(src: &[u8], w: usize, h: usize, r: usize) -> Vec<u8> {
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let (mut s, mut n) = (0u32, 0u32);
            for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                    s += src[yy * w + xx] as u32;
                    n += 1;
                }
            }
            out[y * w + x] = (s / n) as u8;
        }
    }
    out
}

#[test]
#[ignore]
fn calibrate() {
    let cfg = QualityConfig::default();
    for name in ["astronaut", "newton", "gauss"] {
        let dir = "/tmp/qwork/real/";
        let dim = std::fs::read_to_string(std::format!("{dir}{name}.dim")).unwrap();
        let d: Vec<u32> = dim.split_whitespace().map(|t| t.parse().unwrap()).collect();
        let (w, h) = (d[0], d[1]);
        let luma = std::fs::read(std::format!("{dir}{name}.luma")).unwrap();
        let lmf = read_f32(&std::format!("{dir}{name}.lm"));
        let lm: Vec<Point3> = lmf.chunks(3).map(|c| Point3::new(c[0], c[1], c[2])).collect();
        let bx = read_f32(&std::format!("{dir}{name}.box"));
        let face_box = Rect::new(bx[0], bx[1], bx[2], bx[3]);
        let (wu, hu) = (w as usize, h as usize);
        let lbox = |idx: &[usize], grow: f32| {
            let r = Rect::bounding(idx.iter().map(|&i| lm[i].xy())).unwrap();
            let (gx, gy) = (grow * r.width(), grow * r.height());
            (
                (r.x_min - gx).max(0.0) as usize,
                (r.y_min - gy).max(0.0) as usize,
                ((r.x_max + gx) as usize).min(wu),
                ((r.y_max + gy) as usize).min(hu),
            )
        };
        let fill = |src: &[u8], bx: (usize, usize, usize, usize), v: u8| {
            let mut out = src.to_vec();
            let mut seed = 12345u32;
            for y in bx.1..bx.3 {
                for x in bx.0..bx.2 {
                    seed = seed.wrapping_mul(1664525).wrapping_add(1013904223);
                    out[y * wu + x] = (v as i32 + (seed >> 29) as i32 - 4).clamp(0, 255) as u8;
                }
            }
            out
        };
        let cheek = luma[lm[50].y as usize * wu + lm[50].x as usize];
        let eye_r = lbox(&[33, 133, 159, 145], 0.4);
        let eyes = lbox(&[33, 133, 159, 145, 263, 362, 386, 374], 0.3);
        let mouth = lbox(&[61, 291, 2, 152, 214, 434], 0.05);
        let closed = {
            let mut out = luma.clone();
            for (eye, a, b) in [(&[33usize, 133, 159, 145][..], 33usize, 133usize), (&[263, 362, 386, 374][..], 263, 362)] {
                let bx = lbox(eye, 0.15);
                out = fill(&out, bx, cheek);
                let (x0, x1) = (lm[a].x.min(lm[b].x) as usize, lm[a].x.max(lm[b].x) as usize);
                let ym = (0.5 * (lm[a].y + lm[b].y) + 0.15 * (bx.3 - bx.1) as f32) as usize;
                for x in x0..=x1 {
                    out[ym * wu + x] = (cheek as f32 * 0.35) as u8;
                }
            }
            out
        };
        let variants: Vec<(&str, Vec<u8>)> = vec![
            ("closed", closed),
            ("hand_eye", fill(&luma, eye_r, cheek)),
            ("glasses", fill(&luma, eyes, 25)),
            ("mask", fill(&luma, mouth, 200)),
            ("dmask", fill(&luma, mouth, 30)),
            ("orig", luma.clone()),
            ("blur1", box_blur(&luma, w as usize, h as usize, 1)),
            ("blur2", box_blur(&luma, w as usize, h as usize, 2)),
            ("blur4", box_blur(&luma, w as usize, h as usize, 4)),
            ("dark", luma.iter().map(|&v| (v as f32 * 0.25) as u8).collect()),
            ("bright", luma.iter().map(|&v| (v as f32 * 2.0).min(255.0) as u8).collect()),
        ];
        for (vn, data) in variants {
            let input = QualityInput {
                luma: LumaView::packed(w, h, &data).unwrap(),
                face_box,
                landmarks: &lm,
                presence: 1.0,
                previous: None,
                dt_s: 0.0,
                num_faces: 1,
            };
            let mut scratch = QualityScratch::new();
            let r = assess(&cfg, &input, &mut scratch).unwrap();
            let c = r.checks.as_ref().unwrap();
            let i = c.image.as_ref().unwrap();
            let p = r.pose.unwrap();
            let f = |c: &Option<Check>| c.map(|c| c.value).unwrap_or(f32::NAN);
            println!(
                "{name:9} {vn:6} sharp {:7.1} mean {:5.1} std {:5.1} dark {:.3} bright {:.3} eyeR {:.2} eyeL {:.2} mouth {:.2} | yaw {:6.1} pitch {:6.1} roll {:6.1} res {:.3} ratio {:.2} | {:?}",
                i.sharpness.value, i.mean_luma.value, i.contrast.value, i.dark_fraction.value,
                i.bright_fraction.value, f(&i.right_eye_contrast), f(&i.left_eye_contrast),
                f(&i.mouth_contrast), p.yaw_deg, p.pitch_deg, p.roll_deg, p.residual,
                c.face_ratio.value, r.hints
            );
        }
    }
}

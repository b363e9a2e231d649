//! The device side of the soak with faults (issue #16): many sessions on ONE engine from 8
//! threads, frames of random valid and invalid shapes, sessions cancelled, released and dropped
//! mid-way. No panic, no deadlock, and every session gives the same per-frame feedback as the
//! single-threaded run of the same frames; every finished one, and every one cancelled at one
//! of four points (after 0, ⅓, ⅔ or all of its frames), the same result.
//!
//! Inputs are built once, seeded: four SYNTHETIC captures (Newton bona fide and print,
//! passive-only; Newton bona fide performing a challenge plan, every frame delivered in a
//! random valid shape: pixel format, row padding, rotation, mirroring, record / borrowed planes
//! / `YUV_420_888` views; a capture of tiny and odd-sized frames without a face) and a pool of
//! invalid frames (zero and oversized sides, odd 4:2:0 sides, wrong plane counts, strides too
//! small or overflowing, planes too short, rotations that are not a multiple of 90, missing
//! row strides, bad `YUV_420_888` pixel strides and short chroma), every pixel format. The
//! reference is each capture alone, through the same API, on the test's thread: run to its
//! end, and cancelled at each of the four points.
//!
//! Deterministic fields only: a result's wall-clock timings (`timings` and
//! `audit.latency_ms`: tracking, passive, challenge, matching and finish milliseconds) measure
//! this run's CPU, not the frames, and are left out of the comparison; everything else (band,
//! reasons, fused score, every signal's raw score and LLR, quality, challenge steps, security
//! findings, frame hash, capture time from the frame timestamps) must be identical.
//!
//! Runs `LIVEPROOF_STRESS_SECONDS` of stress after the reference (default 10 s in release, 5 s
//! in the dev profile `cargo xtask test` uses, where the set-up alone takes about 30 s), under
//! a watchdog: workers that have not ended by 3× the expected time fail the test, each named
//! with the call it is in.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use liveproof_core::active::derive_plan;
use liveproof_core::frame::{RgbImage, MAX_SIDE};
use liveproof_core::models::cache;
use liveproof_core::policy::{Band, FlowType, LoadedPolicy, RiskTier};
use liveproof_core::session::Phase;
use liveproof_ffi::uniffi_api::{
    DetectorKind, EngineConfig, Frame, FrameFeedback, LivenessEngine, LivenessSession, Outcome,
    PixelFormat, Plane, PlaneLayout, SessionOptions, Yuv420Layout,
};
use liveproof_ffi::ApiError;
use liveproof_synth::{perform_plan, Generator, Kind, Params, Source, SourceOptions};
use serde_json::Value;

const THREADS: usize = 8;
/// Stress seconds without `LIVEPROOF_STRESS_SECONDS`: the whole test stays under a minute on
/// two busy cores in either profile (core at opt-level 1 in the dev profile: ~3× slower).
const DEFAULT_SECONDS: u64 = if cfg!(debug_assertions) { 5 } else { 10 };
const FPS: f64 = 30.0;
/// Invalid frames in the pool the workers draw from.
const INVALID_POOL: usize = 400;

// ---------------------------------------------------------------------------------------------
// A small seeded generator (SplitMix64): the inputs and each worker's choices are reproducible.

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Frames as the platform API takes them.

const FORMATS: [PixelFormat; 7] = [
    PixelFormat::Rgb888,
    PixelFormat::Rgba8888,
    PixelFormat::Bgra8888,
    PixelFormat::Gray8,
    PixelFormat::Nv21,
    PixelFormat::Nv12,
    PixelFormat::I420,
];

fn is_yuv(f: PixelFormat) -> bool {
    matches!(f, PixelFormat::Nv21 | PixelFormat::Nv12 | PixelFormat::I420)
}

/// The chroma of a `YUV_420_888` push: planar U and V (pixel stride 1), one interleaved
/// buffer the two planes are views of (V first: NV21; U first: NV12), or two separate
/// buffers with a pixel stride of 2 (gathered).
enum Chroma {
    Planar(Vec<u8>, Vec<u8>),
    Vu(Vec<u8>),
    Uv(Vec<u8>),
    Spread(Vec<u8>, Vec<u8>),
}

/// One call that hands the session a frame.
enum Push {
    Record(Frame),
    Planes {
        bufs: [Vec<u8>; 3],
        layout: PlaneLayout,
    },
    Yuv {
        y: Vec<u8>,
        chroma: Chroma,
        layout: Yuv420Layout,
    },
}

impl Push {
    fn push(&self, s: &LivenessSession) -> Result<FrameFeedback, ApiError> {
        match self {
            Push::Record(f) => s.push_frame(f.clone()),
            Push::Planes { bufs, layout } => {
                s.push_planes(&bufs[0], &bufs[1], &bufs[2], layout.clone())
            }
            Push::Yuv { y, chroma, layout } => {
                let l = layout.clone();
                match chroma {
                    Chroma::Planar(u, v) | Chroma::Spread(u, v) => s.push_yuv_420_888(y, u, v, l),
                    // Android's NV21 buffer: V at offset 0, U one byte later.
                    Chroma::Vu(vu) => s.push_yuv_420_888(y, &vu[1..], &vu[..vu.len() - 1], l),
                    Chroma::Uv(uv) => s.push_yuv_420_888(y, &uv[..uv.len() - 1], &uv[1..], l),
                }
            }
        }
    }

    fn describe(&self) -> String {
        match self {
            Push::Record(f) => format!(
                "record {:?} {}x{} planes {} strides {:?} rot {}",
                f.format,
                f.width,
                f.height,
                f.planes.len(),
                f.planes.iter().map(|p| p.row_stride).collect::<Vec<_>>(),
                f.rotation_degrees
            ),
            Push::Planes { layout, bufs } => format!(
                "planes {:?} {}x{} strides {:?} lens {:?} rot {}",
                layout.format,
                layout.width,
                layout.height,
                layout.row_strides,
                bufs.iter().map(Vec::len).collect::<Vec<_>>(),
                layout.rotation_degrees
            ),
            Push::Yuv { layout, .. } => format!(
                "yuv_420_888 {}x{} y stride {} uv stride {} pixel stride {} rot {}",
                layout.width,
                layout.height,
                layout.y_row_stride,
                layout.uv_row_stride,
                layout.uv_pixel_stride,
                layout.rotation_degrees
            ),
        }
    }
}

/// `rows` rows of `row_bytes` from `tight`, each followed by `pad` junk bytes (the last row
/// too when `pad_last`).
fn padded(
    tight: &[u8],
    row_bytes: usize,
    rows: usize,
    pad: usize,
    pad_last: bool,
    rng: &mut Rng,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows * (row_bytes + pad));
    for r in 0..rows {
        out.extend_from_slice(&tight[r * row_bytes..(r + 1) * row_bytes]);
        if r + 1 < rows || pad_last {
            out.extend(rng.bytes(pad));
        }
    }
    out
}

/// Tight planes of `img` in `format` (4:2:0 formats need even sides): `(bytes, row bytes,
/// rows)` per plane.
fn tight_planes(img: &RgbImage, format: PixelFormat) -> Vec<(Vec<u8>, usize, usize)> {
    let (w, h) = (img.width as usize, img.height as usize);
    let px = img.data.chunks_exact(3);
    match format {
        PixelFormat::Rgb888 => vec![(img.data.clone(), 3 * w, h)],
        PixelFormat::Rgba8888 => {
            vec![(px.flat_map(|p| [p[0], p[1], p[2], 255]).collect(), 4 * w, h)]
        }
        PixelFormat::Bgra8888 => {
            vec![(px.flat_map(|p| [p[2], p[1], p[0], 255]).collect(), 4 * w, h)]
        }
        PixelFormat::Gray8 => vec![(
            px.map(|p| ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8)
                .collect(),
            w,
            h,
        )],
        _ => {
            let (y, u, v) = liveproof_tests::rgb_to_yuv420(img);
            let (cw, ch) = (w / 2, h / 2);
            match format {
                PixelFormat::Nv21 => vec![
                    (y, w, h),
                    (
                        v.iter().zip(&u).flat_map(|(v, u)| [*v, *u]).collect(),
                        2 * cw,
                        ch,
                    ),
                ],
                PixelFormat::Nv12 => vec![
                    (y, w, h),
                    (
                        u.iter().zip(&v).flat_map(|(u, v)| [*u, *v]).collect(),
                        2 * cw,
                        ch,
                    ),
                ],
                _ => vec![(y, w, h), (u, cw, ch), (v, cw, ch)],
            }
        }
    }
}

/// The buffer that `rotation_degrees` (clockwise) and then `mirrored` make into `upright`.
fn to_buffer(upright: &RgbImage, rotation_degrees: i32, mirrored: bool) -> RgbImage {
    let (w, h) = (upright.width as usize, upright.height as usize);
    let at = |x: usize, y: usize| {
        let i = 3 * (y * w + x);
        [upright.data[i], upright.data[i + 1], upright.data[i + 2]]
    };
    // Undo the mirror first (it was applied last), then rotate counter-clockwise.
    let m = |x: usize, y: usize| if mirrored { at(w - 1 - x, y) } else { at(x, y) };
    let quarter = rotation_degrees.rem_euclid(360) / 90;
    let (bw, bh) = if quarter % 2 == 1 { (h, w) } else { (w, h) };
    let mut out = RgbImage::new(bw as u32, bh as u32);
    for by in 0..bh {
        for bx in 0..bw {
            // The buffer pixel (bx, by) lands at this upright pixel after the clockwise turn.
            let (x, y) = match quarter {
                0 => (bx, by),
                1 => (bh - 1 - by, bx),
                2 => (bw - 1 - bx, bh - 1 - by),
                _ => (by, bw - 1 - bx),
            };
            let i = 3 * (by * bw + bx);
            out.data[i..i + 3].copy_from_slice(&m(x, y));
        }
    }
    out
}

/// `upright` delivered in a random valid shape: format (`formats`), row padding, rotation,
/// mirroring and one of the three push calls.
fn deliver(upright: &RgbImage, ts: u64, formats: &[PixelFormat], rng: &mut Rng) -> Push {
    let format = rng.pick(formats);
    let rotation = rng.pick(&[0, 90, 180, 270, -90, 450, 360]);
    let mirrored = rng.chance(0.5);
    let buf = to_buffer(upright, rotation, mirrored);
    let (w, h) = (buf.width, buf.height);
    let pad = rng.pick(&[0usize, 0, 1, 3, 16, 64]);
    let pad_last = rng.chance(0.5);
    let tight = tight_planes(&buf, format);
    let planes: Vec<Plane> = tight
        .iter()
        .map(|(bytes, row, rows)| Plane {
            bytes: padded(bytes, *row, *rows, pad, pad_last, rng),
            row_stride: (row + pad) as u32,
        })
        .collect();
    let how = rng.below(if is_yuv(format) { 3 } else { 2 });
    if how == 2 {
        let (cw, ch) = (w as usize / 2, h as usize / 2);
        let (y, u, v) = liveproof_tests::rgb_to_yuv420(&buf);
        let y = padded(&y, w as usize, h as usize, pad, pad_last, rng);
        let interleave = |a: &[u8], b: &[u8]| -> Vec<u8> {
            a.iter().zip(b).flat_map(|(a, b)| [*a, *b]).collect()
        };
        let (chroma, uv_row, uv_pixel) = match rng.below(4) {
            0 => (
                Chroma::Planar(
                    padded(&u, cw, ch, pad, pad_last, rng),
                    padded(&v, cw, ch, pad, pad_last, rng),
                ),
                cw + pad,
                1,
            ),
            1 => (
                Chroma::Vu(padded(&interleave(&v, &u), 2 * cw, ch, pad, true, rng)),
                2 * cw + pad,
                2,
            ),
            2 => (
                Chroma::Uv(padded(&interleave(&u, &v), 2 * cw, ch, pad, true, rng)),
                2 * cw + pad,
                2,
            ),
            _ => {
                let spread = |p: &[u8], rng: &mut Rng| {
                    let s: Vec<u8> = p.iter().flat_map(|x| [*x, 0xA5]).collect();
                    padded(&s, 2 * cw, ch, pad, pad_last, rng)
                };
                (
                    Chroma::Spread(spread(&u, rng), spread(&v, rng)),
                    2 * cw + pad,
                    2,
                )
            }
        };
        return Push::Yuv {
            y,
            chroma,
            layout: Yuv420Layout {
                width: w,
                height: h,
                y_row_stride: w + pad as u32,
                uv_row_stride: uv_row as u32,
                uv_pixel_stride: uv_pixel,
                rotation_degrees: rotation,
                mirrored,
                timestamp_ns: ts,
            },
        };
    }
    if how == 1 {
        let mut bufs: [Vec<u8>; 3] = Default::default();
        let mut row_strides = vec![0u32; 3];
        for (i, p) in planes.into_iter().enumerate() {
            row_strides[i] = p.row_stride;
            bufs[i] = p.bytes;
        }
        return Push::Planes {
            bufs,
            layout: PlaneLayout {
                width: w,
                height: h,
                format,
                row_strides,
                rotation_degrees: rotation,
                mirrored,
                timestamp_ns: ts,
            },
        };
    }
    Push::Record(Frame {
        width: w,
        height: h,
        format,
        planes,
        rotation_degrees: rotation,
        mirrored,
        timestamp_ns: ts,
    })
}

fn noise_image(w: u32, h: u32, rng: &mut Rng) -> RgbImage {
    RgbImage {
        width: w,
        height: h,
        data: rng.bytes(3 * w as usize * h as usize),
    }
}

/// A frame every entry point must refuse with `InvalidArgument`, and what is wrong with it.
fn invalid_frame(rng: &mut Rng) -> (Push, &'static str) {
    let mut format = rng.pick(&FORMATS);
    let (mut w, mut h) = (
        2 * (1 + rng.below(24)) as u32,
        2 * (1 + rng.below(24)) as u32,
    );
    let img = noise_image(w, h, rng);
    let mut planes: Vec<Plane> = tight_planes(&img, format)
        .into_iter()
        .map(|(bytes, row, _)| Plane {
            bytes,
            row_stride: row as u32,
        })
        .collect();
    let mut rotation = rng.pick(&[0, 90, 180, 270]);
    let ts = rng.next();
    let what = match rng.below(11) {
        0 => {
            if rng.chance(0.5) {
                w = 0
            } else {
                h = 0
            }
            "zero side"
        }
        1 => {
            let big = MAX_SIDE + 1 + rng.below(100_000) as u32;
            if rng.chance(0.5) {
                w = big
            } else {
                h = big
            }
            "side over MAX_SIDE"
        }
        2 => {
            format = rng.pick(&[PixelFormat::Nv21, PixelFormat::Nv12, PixelFormat::I420]);
            planes = tight_planes(&img, format)
                .into_iter()
                .map(|(bytes, row, _)| Plane {
                    bytes,
                    row_stride: row as u32,
                })
                .collect();
            if rng.chance(0.5) {
                w -= 1
            } else {
                h -= 1
            }
            "odd side for 4:2:0"
        }
        3 => {
            if planes.len() == 1 || rng.chance(0.3) {
                planes.push(planes[0].clone());
            } else {
                planes.pop();
            }
            "wrong plane count"
        }
        4 => {
            let i = rng.below(planes.len());
            let s = planes[i].row_stride as usize;
            planes[i].row_stride = rng.below(s) as u32;
            "stride below the row bytes"
        }
        5 => {
            let i = rng.below(planes.len());
            let len = planes[i].bytes.len();
            planes[i].bytes.truncate(len - 1 - rng.below(len));
            "plane too short"
        }
        6 => {
            rotation = rng.pick(&[1, 45, 89, -1, 135, 181, 269, i32::MAX, i32::MIN]);
            "rotation not a multiple of 90"
        }
        7 => {
            planes[0].row_stride = u32::MAX - rng.below(16) as u32;
            "stride overflowing the plane"
        }
        8 => {
            let strides: Vec<u32> = planes.iter().skip(1).map(|p| p.row_stride).collect();
            let mut bufs: [Vec<u8>; 3] = Default::default();
            for (i, p) in planes.into_iter().enumerate() {
                bufs[i] = p.bytes;
            }
            return (
                Push::Planes {
                    bufs,
                    layout: PlaneLayout {
                        width: w,
                        height: h,
                        format,
                        row_strides: strides,
                        rotation_degrees: rotation,
                        mirrored: false,
                        timestamp_ns: ts,
                    },
                },
                "fewer row strides than planes",
            );
        }
        n => {
            let (y, u, v) = liveproof_tests::rgb_to_yuv420(&img);
            let cw = w / 2;
            let (chroma, pixel, what) = if n == 9 {
                (
                    Chroma::Planar(u, v),
                    rng.pick(&[0, 3, 4, u32::MAX]),
                    "uv_pixel_stride not 1 or 2",
                )
            } else {
                let mut su: Vec<u8> = u.iter().flat_map(|x| [*x, 0]).collect();
                let mut sv: Vec<u8> = v.iter().flat_map(|x| [*x, 0]).collect();
                // The last sample sits 2 bytes before the end: at least 2 bytes short.
                let cut = 2 + rng.below(su.len() - 1);
                if rng.chance(0.5) {
                    su.truncate(su.len() - cut);
                } else {
                    sv.truncate(sv.len() - cut);
                }
                (
                    Chroma::Spread(su, sv),
                    2,
                    "separate chroma planes too short",
                )
            };
            return (
                Push::Yuv {
                    y,
                    chroma,
                    layout: Yuv420Layout {
                        width: w,
                        height: h,
                        y_row_stride: w,
                        uv_row_stride: if pixel == 1 { cw } else { 2 * cw },
                        uv_pixel_stride: pixel,
                        rotation_degrees: rotation,
                        mirrored: false,
                        timestamp_ns: ts,
                    },
                },
                what,
            );
        }
    };
    let push = if rng.chance(0.5) {
        Push::Record(Frame {
            width: w,
            height: h,
            format,
            planes,
            rotation_degrees: rotation,
            mirrored: rng.chance(0.5),
            timestamp_ns: ts,
        })
    } else {
        let mut bufs: [Vec<u8>; 3] = Default::default();
        let mut row_strides = vec![0u32; 3];
        // A plane the format does not have cannot travel through push_planes: the wrong
        // plane count becomes the record's case only.
        if what == "wrong plane count" {
            return (
                Push::Record(Frame {
                    width: w,
                    height: h,
                    format,
                    planes,
                    rotation_degrees: rotation,
                    mirrored: false,
                    timestamp_ns: ts,
                }),
                what,
            );
        }
        for (i, p) in planes.into_iter().enumerate() {
            row_strides[i] = p.row_stride;
            bufs[i] = p.bytes;
        }
        Push::Planes {
            bufs,
            layout: PlaneLayout {
                width: w,
                height: h,
                format,
                row_strides,
                rotation_degrees: rotation,
                mirrored: false,
                timestamp_ns: ts,
            },
        }
    };
    (push, what)
}

// ---------------------------------------------------------------------------------------------
// Captures and the reference.

struct Capture {
    name: &'static str,
    seed: [u8; 32],
    flow: FlowType,
    tier: RiskTier,
    frames: Vec<Push>,
}

/// What one whole run of a capture gave: every frame's answer and the outcome.
#[derive(Clone, Debug)]
struct Run {
    feedback: Vec<Result<FrameFeedback, ApiError>>,
    outcome: Outcome,
    /// `result_json` without the wall-clock timings.
    result: Value,
}

/// The result JSON without what measures this run's CPU rather than its frames.
fn deterministic(result_json: &str) -> Value {
    let mut v: Value = serde_json::from_str(result_json).expect("result_json parses");
    for path in ["/timings", "/audit/latency_ms"] {
        let t = v
            .pointer_mut(path)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{path} missing from the result"));
        for key in [
            "tracking_ms",
            "passive_ms",
            "challenge_ms",
            "matching_ms",
            "finish_ms",
        ] {
            assert!(t.remove(key).is_some(), "{path}/{key} missing");
        }
    }
    v
}

/// The first JSON path where `a` and `b` differ, with both values.
fn first_difference(a: &Value, b: &Value, path: String) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, format!("{path}/{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}/{k} missing on one side")),
                }
            }
            (x.len() != y.len()).then(|| format!("{path}: keys differ"))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (va, vb))| first_difference(va, vb, format!("{path}/{i}"))),
        _ => (a != b).then(|| format!("{path}: {a} vs {b}")),
    }
}

fn start(engine: &LivenessEngine, c: &Capture) -> Arc<LivenessSession> {
    engine
        .start_local_session(
            c.seed.to_vec(),
            c.flow,
            c.tier,
            None,
            SessionOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{}: session start: {e}", c.name))
}

/// The capture alone on this thread: its first `stop` frames, then `finish()` (`cancel()` when
/// `cancel`).
fn run_alone(engine: &LivenessEngine, c: &Capture, stop: usize, cancel: bool) -> Run {
    let s = start(engine, c);
    let feedback = c.frames[..stop].iter().map(|f| f.push(&s)).collect();
    let outcome = if cancel { s.cancel() } else { s.finish() }
        .unwrap_or_else(|e| panic!("{}: finish / cancel: {e}", c.name));
    let result = deterministic(&outcome.result_json);
    Run {
        feedback,
        outcome,
        result,
    }
}

fn bona_fide_newton(engine: &Arc<liveproof_core::engine::Engine>) -> Source {
    Source::from_file(
        engine,
        &liveproof_tests::fixture("newton.png"),
        &SourceOptions::default(),
    )
    .expect("newton source")
}

fn captures(rng: &mut Rng) -> Vec<Capture> {
    let core = liveproof_tests::default_engine();
    let newton = bona_fide_newton(&core);
    let render = |kind: Kind, seed: u64, frames: u32| -> Vec<(RgbImage, u64)> {
        Generator::new(&newton, &Params::new(kind, seed, frames, FPS))
            .expect("generator")
            .map(|f| (f.image, f.timestamp_ns))
            .collect()
    };
    let rgb_records = |frames: Vec<(RgbImage, u64)>| -> Vec<Push> {
        frames
            .into_iter()
            .map(|(img, ts)| {
                Push::Record(Frame {
                    width: img.width,
                    height: img.height,
                    format: PixelFormat::Rgb888,
                    planes: vec![Plane {
                        row_stride: img.width * 3,
                        bytes: img.data,
                    }],
                    rotation_degrees: 0,
                    mirrored: false,
                    timestamp_ns: ts,
                })
            })
            .collect()
    };
    // The challenge: the shipped policy's plan for this seed, acted out, every frame in a
    // random valid shape (colour formats: the challenge's eye and turn work see colour).
    let seed = [0x3c; 32];
    let policy = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap();
    let plan = derive_plan(&seed, &policy.policy.challenge.plan).unwrap();
    let (script, end_s) = perform_plan(&plan, 21);
    let mut params = Params::new(Kind::BonaFide, 21, ((end_s + 1.0) * FPS) as u32, FPS);
    params.performance = script;
    let colour: Vec<PixelFormat> = FORMATS
        .into_iter()
        .filter(|f| *f != PixelFormat::Gray8)
        .collect();
    let mixed: Vec<Push> = Generator::new(&newton, &params)
        .expect("generator")
        .map(|f| deliver(&f.image, f.timestamp_ns, &colour, rng))
        .collect();
    // Tiny, odd-sized, blank and noise frames: valid, never a face.
    let mut odd = Vec::new();
    for k in 0..16u64 {
        let (w, h) = match k % 4 {
            0 => (1 + rng.below(3) as u32, 1 + rng.below(3) as u32),
            1 => (
                2 * (1 + rng.below(40)) as u32,
                2 * (1 + rng.below(40)) as u32,
            ),
            2 => (320, 240),
            _ => (
                2 * (8 + rng.below(300)) as u32,
                2 * (8 + rng.below(300)) as u32,
            ),
        };
        let img = if k % 4 == 2 {
            RgbImage::new(w, h)
        } else {
            noise_image(w, h, rng)
        };
        let formats: Vec<PixelFormat> = FORMATS
            .into_iter()
            .filter(|f| !is_yuv(*f) || (w % 2 == 0 && h % 2 == 0))
            .collect();
        odd.push(deliver(&img, k * 33_333_333, &formats, rng));
    }
    vec![
        Capture {
            name: "bona fide, passive (RGB)",
            seed: [0x11; 32],
            flow: FlowType::Login,
            tier: RiskTier::Low,
            frames: rgb_records(render(Kind::BonaFide, 31, 45)),
        },
        Capture {
            name: "print, passive (RGB)",
            seed: [0x22; 32],
            flow: FlowType::Login,
            tier: RiskTier::Low,
            frames: rgb_records(render(Kind::Print, 32, 45)),
        },
        Capture {
            name: "bona fide, challenge (mixed shapes)",
            seed,
            flow: FlowType::AccountOpening,
            tier: RiskTier::Medium,
            frames: mixed,
        },
        Capture {
            name: "no face (tiny, odd, blank, noise)",
            seed: [0x44; 32],
            flow: FlowType::AccountOpening,
            tier: RiskTier::High,
            frames: odd,
        },
    ]
}

/// Checks the shape helpers once: a rotated, mirrored, padded colour delivery converts back
/// to the very picture it came from.
fn check_delivery(rng: &mut Rng) {
    let img = noise_image(36, 20, rng);
    for _ in 0..64 {
        let push = deliver(
            &img,
            0,
            &[
                PixelFormat::Rgb888,
                PixelFormat::Rgba8888,
                PixelFormat::Bgra8888,
            ],
            rng,
        );
        if let Push::Record(f) = &push {
            let mut out = RgbImage::default();
            f.to_core()
                .expect("a valid delivery")
                .to_rgb_into(&mut out)
                .expect("converts");
            assert_eq!(
                (out.width, out.height, &out.data),
                (img.width, img.height, &img.data),
                "{}",
                push.describe()
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stress.

/// What a worker is doing, for the watchdog (read when a worker looks stuck).
#[derive(Default)]
struct Status {
    session: AtomicUsize,
    capture: AtomicUsize,
    frame: AtomicUsize,
    /// 0 idle, 1 start, 2 push_frame, 3 invalid push, 4 finish, 5 cancel, 6 release, 7 drop.
    call: AtomicUsize,
    /// Milliseconds after the stress began of the last call's return.
    last_ms: AtomicU64,
}

const CALLS: [&str; 8] = [
    "idle",
    "start_local_session",
    "push (valid frame)",
    "push (invalid frame)",
    "finish",
    "cancel",
    "release",
    "drop",
];

#[derive(Default, Debug)]
struct Tally {
    finished: u64,
    cancelled: u64,
    released: u64,
    dropped: u64,
    frames: u64,
    invalid_rejected: u64,
    per_capture: [u64; 4],
    failures: Vec<String>,
    failure_count: u64,
}

impl Tally {
    fn fail(&mut self, what: String) {
        self.failure_count += 1;
        if self.failures.len() < 12 {
            self.failures.push(what);
        }
    }
}

/// Cancels happen after 0, ⅓, ⅔ or all of a capture's frames: the reference has each.
const CANCEL_POINTS: usize = 4;

/// Compares a session's outcome with the run alone of the same frames.
fn compare(t: &mut Tally, tag: &str, o: &Outcome, reference: &Run) {
    let (a, b) = (o, &reference.outcome);
    if (a.decision, &a.reasons, a.fused_score.map(f64::to_bits))
        != (b.decision, &b.reasons, b.fused_score.map(f64::to_bits))
        || (a.cancelled, &a.session_id, &a.security_signals)
            != (b.cancelled, &b.session_id, &b.security_signals)
    {
        t.fail(format!(
            "{tag}: outcome {:?} {:?} {:?} cancelled {}, alone {:?} {:?} {:?} cancelled {}",
            a.decision,
            a.reasons,
            a.fused_score,
            a.cancelled,
            b.decision,
            b.reasons,
            b.fused_score,
            b.cancelled
        ));
    }
    let r = deterministic(&o.result_json);
    if let Some(d) = first_difference(&r, &reference.result, String::new()) {
        t.fail(format!("{tag}: result differs at {d}"));
    }
}

enum Fate {
    Finish,
    Cancel(usize),
    Release(usize),
    Drop(usize),
}

struct Shared {
    engine: Arc<LivenessEngine>,
    captures: Vec<Capture>,
    reference: Vec<Run>,
    /// Per capture, [`CANCEL_POINTS`] frame counts and each one's run alone, cancelled there.
    cancels: Vec<Vec<(usize, Run)>>,
    invalid: Vec<(Push, &'static str)>,
    began: Instant,
    stop_at: Instant,
}

fn worker(shared: &Shared, status: &Status, index: usize) -> Tally {
    let mut rng = Rng(0x5eed_0000 + index as u64 * 7919);
    let mut t = Tally::default();
    let now_ms = |s: &Shared| s.began.elapsed().as_millis() as u64;
    let mark = |call: usize| {
        status.call.store(call, Ordering::Relaxed);
        status.last_ms.store(now_ms(shared), Ordering::Relaxed);
    };
    let mut n = 0usize;
    while n == 0 || Instant::now() < shared.stop_at {
        let ci = rng.below(shared.captures.len());
        let c = &shared.captures[ci];
        let reference = &shared.reference[ci];
        let len = c.frames.len();
        // Every worker's first session runs to its end, so that each thread compares at least
        // one result with the reference.
        let fate = match if n == 0 { 0 } else { rng.below(20) } {
            0..=11 => Fate::Finish,
            12..=14 => Fate::Cancel(rng.below(CANCEL_POINTS)),
            15..=16 => Fate::Release(rng.below(len)),
            _ => Fate::Drop(rng.below(len)),
        };
        let stop = match fate {
            Fate::Finish => len,
            Fate::Cancel(j) => shared.cancels[ci][j].0,
            Fate::Release(k) | Fate::Drop(k) => k,
        };
        status.session.store(n, Ordering::Relaxed);
        status.capture.store(ci, Ordering::Relaxed);
        status.frame.store(0, Ordering::Relaxed);
        mark(1);
        let s = start(&shared.engine, c);
        let tag = |i: usize| format!("thread {index} session {n} `{}` frame {i}", c.name);
        for (i, frame) in c.frames.iter().take(stop).enumerate() {
            status.frame.store(i, Ordering::Relaxed);
            // Invalid frames between valid ones: refused, the session going on as before.
            if rng.chance(0.2) {
                for _ in 0..1 + rng.below(3) {
                    let (bad, what) = &shared.invalid[rng.below(shared.invalid.len())];
                    mark(3);
                    match bad.push(&s) {
                        Err(ApiError::InvalidArgument { .. }) => t.invalid_rejected += 1,
                        other => t.fail(format!(
                            "{}: invalid frame ({what}: {}) gave {other:?}",
                            tag(i),
                            bad.describe()
                        )),
                    }
                }
            }
            mark(2);
            let got = frame.push(&s);
            t.frames += 1;
            if got != reference.feedback[i] {
                t.fail(format!(
                    "{}: feedback {got:?}, alone {:?}",
                    tag(i),
                    reference.feedback[i]
                ));
            }
        }
        match fate {
            Fate::Finish => {
                mark(4);
                match s.finish() {
                    Ok(o) => {
                        compare(&mut t, &tag(stop), &o, reference);
                        t.finished += 1;
                        t.per_capture[ci] += 1;
                    }
                    Err(e) => t.fail(format!("{}: finish: {e}", tag(stop))),
                }
                // A finished session refuses another finish.
                if !matches!(s.finish(), Err(ApiError::SessionState { .. })) {
                    t.fail(format!(
                        "{}: a second finish was not a state error",
                        tag(stop)
                    ));
                }
            }
            Fate::Cancel(j) => {
                mark(5);
                match s.cancel() {
                    Ok(o) => {
                        compare(&mut t, &tag(stop), &o, &shared.cancels[ci][j].1);
                        t.cancelled += 1;
                    }
                    Err(e) => t.fail(format!("{}: cancel: {e}", tag(stop))),
                }
            }
            Fate::Release(_) => {
                mark(6);
                s.release();
                let after = c.frames[stop].push(&s);
                if !matches!(after, Err(ApiError::SessionState { .. })) {
                    t.fail(format!("{}: push after release gave {after:?}", tag(stop)));
                }
                t.released += 1;
            }
            Fate::Drop(_) => {
                mark(7);
                drop(s);
                t.dropped += 1;
            }
        }
        mark(0);
        n += 1;
    }
    t
}

/// The models, the runtime and the fixtures this test needs; `Some(why)` when one is absent.
fn missing_inputs() -> Option<String> {
    let models = cache::models_dir();
    let runtime = cache::runtime_path();
    let newton = cache::fixtures_dir().join("newton.png");
    if !models.join("face_detection_front_128x128.onnx").is_file() {
        return Some(format!("no models in {}", models.display()));
    }
    if !runtime.is_file() {
        return Some(format!("no ONNX Runtime at {}", runtime.display()));
    }
    if !newton.is_file() {
        return Some(format!("no fixture {}", newton.display()));
    }
    None
}

#[test]
fn many_sessions_on_one_engine_from_eight_threads_match_the_single_threaded_run() {
    if let Some(why) = missing_inputs() {
        println!("skipped: {why} (run `cargo xtask setup`)");
        return;
    }
    let seconds: u64 = match std::env::var("LIVEPROOF_STRESS_SECONDS") {
        Ok(s) => s
            .parse()
            .unwrap_or_else(|_| panic!("LIVEPROOF_STRESS_SECONDS={s}: expected whole seconds")),
        Err(_) => DEFAULT_SECONDS,
    };
    let t0 = Instant::now();
    let mut rng = Rng(0x0516_2026);
    check_delivery(&mut rng);
    let captures = captures(&mut rng);
    let invalid: Vec<(Push, &'static str)> =
        (0..INVALID_POOL).map(|_| invalid_frame(&mut rng)).collect();
    let engine = LivenessEngine::new(EngineConfig {
        models_dir: liveproof_tests::models_dir().to_string_lossy().into_owned(),
        detector: DetectorKind::BlazeFaceFront,
        ort_library_path: Some(liveproof_tests::ort_lib().to_string_lossy().into_owned()),
        intra_op_threads: 1,
    })
    .expect("engine loads");
    // Every invalid frame is refused on a fresh session, which then still takes a frame.
    {
        let s = start(&engine, &captures[0]);
        for (bad, what) in &invalid {
            let r = bad.push(&s);
            assert!(
                matches!(r, Err(ApiError::InvalidArgument { .. })),
                "{what} ({}): {r:?}",
                bad.describe()
            );
        }
        s.cancel().unwrap();
    }
    // The reference: each capture alone, on this thread.
    let mut reference = Vec::new();
    let mut longest = Duration::ZERO;
    for c in &captures {
        let t = Instant::now();
        let run = run_alone(&engine, c, c.frames.len(), false);
        let took = t.elapsed();
        longest = longest.max(took);
        let errors = run.feedback.iter().filter(|r| r.is_err()).count();
        println!(
            "reference `{}`: {} frames ({errors} refused by the pipeline), {:?} {:?} fused {:?}, \
             {} with a face, {:.2} s alone",
            c.name,
            c.frames.len(),
            run.outcome.decision,
            run.outcome.reasons,
            run.outcome.fused_score,
            run.result["quality"]["frames_with_face"],
            took.as_secs_f64()
        );
        reference.push(run);
    }
    // Cancelled after 0, ⅓, ⅔ and all of the frames. Before the evidence is complete (the last
    // frame's phase not `Done`) a cancel is retry, as the API documents.
    let mut cancels = Vec::new();
    for (c, full) in captures.iter().zip(&reference) {
        let len = c.frames.len();
        let mut points = Vec::new();
        for k in [0, len / 3, 2 * len / 3, len] {
            let run = run_alone(&engine, c, k, true);
            let done = k > 0 && matches!(&full.feedback[k - 1], Ok(f) if f.phase == Phase::Done);
            println!(
                "reference `{}` cancelled after {k} frames (evidence complete: {done}): {:?} {:?}",
                c.name, run.outcome.decision, run.outcome.reasons
            );
            assert!(run.outcome.cancelled);
            if !done {
                assert_eq!(run.outcome.decision, Band::Retry, "{}", c.name);
            }
            points.push((k, run));
        }
        assert_eq!(points.len(), CANCEL_POINTS);
        cancels.push(points);
    }
    // The mixed-shape challenge sees the face, the odd frames never do, the passive ones decide
    // on their frames: the captures are what their names say.
    assert!(reference[2].result["quality"]["frames_with_face"].as_u64() > Some(100));
    assert_eq!(reference[3].result["quality"]["frames_with_face"], 0);
    assert_eq!(reference[3].outcome.decision, Band::Retry);
    println!(
        "set-up (captures, {} invalid frames, reference): {:.1} s",
        invalid.len(),
        t0.elapsed().as_secs_f64()
    );

    let began = Instant::now();
    let shared = Arc::new(Shared {
        engine,
        captures,
        reference,
        cancels,
        invalid,
        began,
        stop_at: began + Duration::from_secs(seconds),
    });
    let statuses: Arc<Vec<Status>> = Arc::new((0..THREADS).map(|_| Status::default()).collect());
    // Detached threads, so that a stuck one cannot hang the test: the watchdog fails it.
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let (shared, statuses) = (shared.clone(), statuses.clone());
            std::thread::Builder::new()
                .name(format!("stress-{i}"))
                .spawn(move || worker(&shared, &statuses[i], i))
                .expect("spawn")
        })
        .collect();
    // Expected: the stress time plus, at the end, sessions in flight on every thread at once
    // (the longest capture, THREADS times slower than alone); the watchdog allows 3×.
    let expected = Duration::from_secs(seconds) + longest * THREADS as u32;
    let limit = expected * 3;
    while !handles.iter().all(|h| h.is_finished()) {
        if began.elapsed() > limit {
            let now = began.elapsed().as_millis() as u64;
            let stuck: Vec<String> = statuses
                .iter()
                .enumerate()
                .filter(|(i, _)| !handles[*i].is_finished())
                .map(|(i, s)| {
                    format!(
                        "stress-{i} in {} (session {}, `{}`, frame {}), last progress {:.1} s ago",
                        CALLS[s.call.load(Ordering::Relaxed)],
                        s.session.load(Ordering::Relaxed),
                        shared.captures[s.capture.load(Ordering::Relaxed)].name,
                        s.frame.load(Ordering::Relaxed),
                        (now - s.last_ms.load(Ordering::Relaxed)) as f64 / 1e3
                    )
                })
                .collect();
            panic!(
                "deadlock or stall: {} of {THREADS} workers not done after {:.0} s (limit 3 × \
                 {:.0} s expected):\n  {}",
                stuck.len(),
                began.elapsed().as_secs_f64(),
                expected.as_secs_f64(),
                stuck.join("\n  ")
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let elapsed = began.elapsed();
    let mut total = Tally::default();
    let mut panics = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        match h.join() {
            Ok(t) => {
                println!(
                    "stress-{i}: {} finished, {} cancelled, {} released, {} dropped; {} frames, \
                     {} invalid refused; per capture {:?}; {} failures",
                    t.finished,
                    t.cancelled,
                    t.released,
                    t.dropped,
                    t.frames,
                    t.invalid_rejected,
                    t.per_capture,
                    t.failure_count
                );
                assert!(t.finished >= 1, "stress-{i} finished no session");
                total.finished += t.finished;
                total.cancelled += t.cancelled;
                total.released += t.released;
                total.dropped += t.dropped;
                total.frames += t.frames;
                total.invalid_rejected += t.invalid_rejected;
                for k in 0..4 {
                    total.per_capture[k] += t.per_capture[k];
                }
                total.failure_count += t.failure_count;
                total.failures.extend(t.failures);
            }
            Err(p) => panics.push(format!(
                "stress-{i} panicked: {}",
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        }
    }
    println!(
        "stress: {THREADS} threads on one engine, {:.1} s (asked {seconds} s): {} sessions \
         ({} finished and compared, {} cancelled, {} released, {} dropped), {} valid frames, \
         {} invalid frames refused, finished per capture {:?}; {} mismatches or errors, {} \
         panics",
        elapsed.as_secs_f64(),
        total.finished + total.cancelled + total.released + total.dropped,
        total.finished,
        total.cancelled,
        total.released,
        total.dropped,
        total.frames,
        total.invalid_rejected,
        total.per_capture,
        total.failure_count,
        panics.len()
    );
    assert!(panics.is_empty(), "{}", panics.join("\n"));
    assert_eq!(
        total.failure_count,
        0,
        "first failures:\n{}",
        total.failures.join("\n")
    );
    assert!(total.invalid_rejected > 0 && total.frames > 0);
}

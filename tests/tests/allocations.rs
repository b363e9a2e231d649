//! Steady-state tracking reuses its buffers: after warm-up, a frame allocates only a few small
//! objects (ONNX Runtime's Rust wrapper builds its input/output handles per run), never a
//! frame-, tensor- or landmark-sized buffer. Measured with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use liveproof_core::engine::{DetectorKind, EngineConfig, Tracker};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_tests::{engine_config, engine_with, fixture, load_rgb};

struct Counting;
static ON: AtomicBool = AtomicBool::new(false);
static COUNT: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(l.size(), Ordering::Relaxed);
            LARGEST.fetch_max(l.size(), Ordering::Relaxed);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if ON.load(Ordering::Relaxed) {
            COUNT.fetch_add(1, Ordering::Relaxed);
            BYTES.fetch_add(n, Ordering::Relaxed);
            LARGEST.fetch_max(n, Ordering::Relaxed);
        }
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn steady_state_tracking_allocates_no_buffers() {
    // Only the tracking path: no periodic detector run inside the measured frames.
    let eng = engine_with(EngineConfig {
        recount_faces_every: 0,
        ..engine_config(DetectorKind::BlazeFaceFront)
    });
    let img = load_rgb(&fixture("astronaut.png"));
    // NV21 would be the phone's format; RGB keeps the test about the pipeline's own buffers.
    let mut tracker = Tracker::new(eng);
    let frames = 20u64;
    for i in 0..5u64 {
        let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(i * 33_000_000);
        assert_eq!(tracker.process(&f).unwrap().faces.len(), 1);
    }
    ON.store(true, Ordering::SeqCst);
    for i in 5..5 + frames {
        let f = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
            .unwrap()
            .with_timestamp_ns(i * 33_000_000);
        let a = tracker.process(&f).unwrap();
        assert!(!a.detector_ran);
    }
    ON.store(false, Ordering::SeqCst);
    let (count, bytes, largest) = (
        COUNT.load(Ordering::SeqCst),
        BYTES.load(Ordering::SeqCst),
        LARGEST.load(Ordering::SeqCst),
    );
    println!(
        "steady-state tracking: {:.1} allocations, {:.0} bytes per frame; largest single allocation {largest} bytes",
        count as f64 / frames as f64,
        bytes as f64 / frames as f64
    );
    // The smallest reusable buffer is the 468-landmark array (5,616 bytes); the frame is 786 KB
    // and the FaceMesh tensor 442 KB. Nothing that size may be allocated per frame.
    assert!(
        largest < 4096,
        "a {largest}-byte allocation per frame: a buffer is not being reused"
    );
    assert!(
        bytes / (frames as usize) < 16 * 1024,
        "{} bytes per frame",
        bytes / frames as usize
    );
}

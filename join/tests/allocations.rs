//! `Helper::join` allocates nothing per call (a global counting allocator, alone in this test
//! binary so that no other test's allocations count).
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use liveproof_join::Helper;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn join_allocates_nothing_per_call() {
    let mut h = Helper::start("lp-test-helper").unwrap();
    let frame = vec![7u8; 640 * 480 * 3];
    let sum = |s: &[u8]| s.iter().map(|&x| x as u64).sum::<u64>();
    // Warm-up (lazy thread-locals, the first futex wait).
    for _ in 0..10 {
        let _ = h.join(|| sum(&frame[..1000]), || sum(&frame[1000..]));
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..1000 {
        let (a, b) = h.join(|| sum(&frame[..1000]), || sum(&frame[1000..]));
        assert_eq!(a + b.unwrap(), 7 * frame.len() as u64);
    }
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst) - before, 0);
}

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::*;

#[test]
fn b_runs_on_the_helper_thread_over_borrowed_data() {
    let mut h = Helper::start("lp-test-helper").unwrap();
    let data: Vec<u8> = (0..=255).collect();
    let (ra, rb) = h.join(
        || data.iter().map(|&x| x as u32).sum::<u32>(),
        || {
            let name = std::thread::current().name().map(str::to_owned);
            (data.iter().rev().map(|&x| x as u32).sum::<u32>(), name)
        },
    );
    let (sum, name) = rb.unwrap();
    assert_eq!((ra, sum), (32640, 32640));
    assert_eq!(name.as_deref(), Some("lp-test-helper"));
}

#[test]
fn many_calls_in_a_row_each_see_their_own_data() {
    let mut h = Helper::start("lp-test-helper").unwrap();
    for i in 0..5000u64 {
        let mut out = 0u64;
        let (ra, rb) = h.join(|| i * 2, || out = i * 3);
        rb.unwrap();
        assert_eq!((ra, out), (i * 2, i * 3));
    }
}

#[test]
fn a_panic_in_b_is_returned_and_the_helper_goes_on() {
    let mut h = Helper::start("lp-test-helper").unwrap();
    let (ra, rb) = h.join(|| 7, || -> u8 { panic!("b fails (expected in this test)") });
    assert_eq!((ra, rb), (7, Err(Panicked)));
    assert_eq!(Panicked.to_string(), "the helper thread's closure panicked");
    let (_, rb) = h.join(|| (), || 5);
    assert_eq!(rb, Ok(5));
}

#[test]
fn a_panic_in_a_waits_for_b_before_unwinding() {
    let mut h = Helper::start("lp-test-helper").unwrap();
    let finished = AtomicBool::new(false);
    let r = catch_unwind(AssertUnwindSafe(|| {
        h.join(
            || panic!("a fails (expected in this test)"),
            || {
                std::thread::sleep(Duration::from_millis(50));
                finished.store(true, Ordering::SeqCst);
            },
        )
    }));
    assert!(r.is_err());
    // `b` had finished when the panic left `join`.
    assert!(finished.load(Ordering::SeqCst));
    let (_, rb) = h.join(|| (), || 1);
    assert_eq!(rb, Ok(1));
}

#[test]
fn both_sides_run_at_once() {
    // Each side waits for the other to have started: only concurrent execution finishes.
    let mut h = Helper::start("lp-test-helper").unwrap();
    let (a_in, b_in) = (AtomicBool::new(false), AtomicBool::new(false));
    let meet = |me: &AtomicBool, other: &AtomicBool| {
        me.store(true, Ordering::SeqCst);
        let t = std::time::Instant::now();
        while !other.load(Ordering::SeqCst) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the other side never started"
            );
            std::thread::yield_now();
        }
    };
    let (_, rb) = h.join(|| meet(&a_in, &b_in), || meet(&b_in, &a_in));
    rb.unwrap();
}

#[test]
fn dropping_the_helper_stops_its_thread() {
    let h = Helper::start("lp-test-helper").unwrap();
    let shared = h.shared.clone();
    drop(h);
    // The thread ended and released its reference.
    assert_eq!(Arc::strong_count(&shared), 1);
}

/// The helper narrows its affinity to the allowed CPUs minus one (the caller's) when more
/// than one is allowed, and keeps them all otherwise.
#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
#[test]
fn the_helper_keeps_off_one_cpu_when_it_can() {
    fn allowed() -> u32 {
        // SAFETY: all zeroes is the empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        let size = core::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: pid 0 is the calling thread; size and pointer are `set`'s.
        assert_eq!(unsafe { libc::sched_getaffinity(0, size, &mut set) }, 0);
        // SAFETY: counts the bits of a valid set.
        unsafe { libc::CPU_COUNT(&set) as u32 }
    }
    let mut h = Helper::start("lp-test-helper").unwrap();
    let before = h.join(|| (), allowed).1.unwrap();
    let after = h.join(|| (), allowed).1.unwrap();
    let caller = allowed();
    assert!(current_cpu().is_some());
    if caller > 1 {
        // The first job already ran under the narrowed set.
        assert_eq!((before, after), (caller - 1, caller - 1));
    } else {
        assert_eq!((before, after), (caller, caller));
    }
}

/// A panic with a payload of the caller's own type (dropped on the helper thread): returned
/// as `Panicked`, the payload dropped once, and the helper goes on.
#[test]
fn a_panic_with_a_custom_payload_is_dropped_on_the_helper() {
    use std::sync::atomic::AtomicUsize;
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct Payload;
    impl Drop for Payload {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Ordering::SeqCst);
        }
    }
    let mut h = Helper::start("lp-test-helper").unwrap();
    let (_, rb) = h.join(|| (), || -> u8 { std::panic::panic_any(Payload) });
    assert_eq!(rb, Err(Panicked));
    assert_eq!(DROPS.load(Ordering::SeqCst), 1);
    assert_eq!(h.join(|| (), || 3).1, Ok(3));
}

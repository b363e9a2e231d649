//! The floating-point mode around model runs: denormal (subnormal) floats flushed to zero.
//!
//! A CPU computes with denormals (magnitudes below `f32::MIN_POSITIVE`, about 1.2e-38) far
//! more slowly than with normal floats: on x86-64 each operation that meets one takes a
//! microcode assist. A network whose activations decay towards zero can spend most of its time
//! there. `fr_feature`, the default face embedder, took 55 ms per embedding on this host's ONNX
//! Runtime and 4.2 ms with denormals flushed (`docs/performance.md`, issue #15's ninth pass).
//! ONNX Runtime's own setting (`session.set_denormal_as_zero`) applies to its thread pool's
//! threads only; with one intra-op thread the model runs on the caller's thread, whose mode
//! ONNX Runtime leaves alone.
//!
//! [`DenormalsFlushed`] sets the mode on the current thread and restores the previous one when
//! dropped, so a host app's threads are left as they were (a thread started meanwhile would
//! inherit it: start none under the guard). Hold it only around a call into
//! foreign code (the inference runtime): Rust's compiler assumes the default mode, so Rust
//! float arithmetic inside the guard is not what this is for.

/// While alive, the current thread flushes denormal floats to zero (inputs and results);
/// the previous mode comes back when it is dropped. x86-64: MXCSR's FTZ and DAZ bits;
/// AArch64: FPCR's FZ bit. Elsewhere it changes nothing ([`DenormalsFlushed::active`] says
/// which).
#[must_use = "the mode lasts only while the guard is alive"]
pub struct DenormalsFlushed {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    saved: Word,
    /// Not `Send`: the mode belongs to the thread that set it.
    _thread: core::marker::PhantomData<*const ()>,
}

#[cfg(target_arch = "x86_64")]
type Word = u32;
#[cfg(target_arch = "aarch64")]
type Word = u64;

/// MXCSR: flush to zero (bit 15) and denormals are zero (bit 6).
#[cfg(target_arch = "x86_64")]
const FLUSH: Word = (1 << 15) | (1 << 6);
/// FPCR: flush to zero (bit 24), for inputs and results in AArch64 state.
#[cfg(target_arch = "aarch64")]
const FLUSH: Word = 1 << 24;

#[cfg(target_arch = "x86_64")]
fn read() -> Word {
    let mut csr: Word = 0;
    // SAFETY: `stmxcsr` stores the 32-bit MXCSR to the address given, which is `csr`, a live
    // and aligned local. SSE is in x86-64's baseline.
    unsafe {
        core::arch::asm!("stmxcsr [{}]", in(reg) &mut csr as *mut Word, options(nostack, preserves_flags));
    }
    csr
}

#[cfg(target_arch = "x86_64")]
fn write(csr: Word) {
    // SAFETY: `ldmxcsr` loads MXCSR from `csr`, a live local, with a value read from MXCSR and
    // at most the FTZ and DAZ bits changed (both valid on every x86-64 CPU). Not `nomem`, so
    // the compiler keeps memory accesses and calls on their side of it.
    unsafe {
        core::arch::asm!("ldmxcsr [{}]", in(reg) &csr as *const Word, options(nostack, preserves_flags));
    }
}

#[cfg(target_arch = "aarch64")]
fn read() -> Word {
    let fpcr: Word;
    // SAFETY: reading FPCR has no side effect; it is accessible at EL0.
    unsafe {
        core::arch::asm!("mrs {}, fpcr", out(reg) fpcr, options(nostack, preserves_flags));
    }
    fpcr
}

#[cfg(target_arch = "aarch64")]
fn write(fpcr: Word) {
    // SAFETY: writes FPCR (accessible at EL0) with a value read from it and at most the FZ bit
    // changed. Not `nomem`, so the compiler keeps memory accesses and calls on their side.
    unsafe {
        core::arch::asm!("msr fpcr, {}", in(reg) fpcr, options(nostack, preserves_flags));
    }
}

impl DenormalsFlushed {
    /// Flushes denormals on this thread until the guard is dropped.
    #[inline]
    pub fn new() -> DenormalsFlushed {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        {
            let saved = read();
            if saved & FLUSH != FLUSH {
                write(saved | FLUSH);
            }
            DenormalsFlushed {
                saved,
                _thread: core::marker::PhantomData,
            }
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        DenormalsFlushed {
            _thread: core::marker::PhantomData,
        }
    }

    /// Whether this target flushes denormals under the guard (x86-64 and AArch64).
    pub const fn active() -> bool {
        cfg!(any(target_arch = "x86_64", target_arch = "aarch64"))
    }
}

impl Default for DenormalsFlushed {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for DenormalsFlushed {
    #[inline]
    fn drop(&mut self) {
        #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
        if self.saved & FLUSH != FLUSH {
            write(self.saved);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Half the smallest normal f32, computed at run time: a denormal unless flushed.
    fn half_min() -> f32 {
        core::hint::black_box(f32::MIN_POSITIVE) * core::hint::black_box(0.5)
    }

    #[test]
    fn the_guard_flushes_and_restores_and_nests() {
        assert!(half_min() > 0.0, "denormals are kept by default");
        {
            let _outer = DenormalsFlushed::new();
            assert_eq!(half_min() == 0.0, DenormalsFlushed::active());
            {
                let _inner = DenormalsFlushed::new();
                assert_eq!(half_min() == 0.0, DenormalsFlushed::active());
            }
            // The inner guard found the mode set and leaves it set.
            assert_eq!(half_min() == 0.0, DenormalsFlushed::active());
        }
        assert!(half_min() > 0.0, "the previous mode is back");
        // Another running thread's mode is its own. (A thread started while a guard is alive
        // inherits the mode, as POSIX threads inherit the floating-point environment.)
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || {
            wait.recv().unwrap();
            half_min() > 0.0
        });
        let _g = DenormalsFlushed::new();
        go.send(()).unwrap();
        assert!(other.join().unwrap());
    }
}

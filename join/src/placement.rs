//! Keeps the helper thread off the caller's CPU (Linux and Android; elsewhere a no-op).
//!
//! A helper meant to run *beside* its caller only helps on another CPU. Linux may wake a
//! thread on the waker's own CPU (wake-affine placement) even while another CPU is idle, and
//! the woken helper then preempts the caller, so that the two halves run one after the other.
//! This project's 2-vCPU host did that to a caller paced like a camera (a frame every 33 ms) in
//! 78 of 100 calls; back to back it did not (1 in 100). `docs/performance.md` (issue #15) has
//! the measurements. So each job carries the CPU its caller was on, and the helper, whenever
//! that CPU changes, narrows its own affinity to the CPUs it was allowed at start minus that
//! one (never to none: with a single allowed CPU it keeps it).
//!
//! Best effort: a refused affinity call changes only where the helper runs, never a result.
//! Under Miri, which has no `sched_getcpu`, placement is off.

#[cfg(all(any(target_os = "linux", target_os = "android"), not(miri)))]
mod imp {
    use core::mem::{size_of, zeroed};

    /// The CPU the calling thread is running on.
    pub fn current_cpu() -> Option<usize> {
        // SAFETY: no arguments; returns a CPU number or -1.
        usize::try_from(unsafe { libc::sched_getcpu() }).ok()
    }

    /// The helper thread's allowed CPUs at start, and the CPU it currently stays off.
    pub struct Placement {
        allowed: libc::cpu_set_t,
        avoiding: Option<usize>,
    }

    impl Placement {
        /// The calling thread's allowed CPUs (`None` if they cannot be read).
        pub fn of_current_thread() -> Option<Placement> {
            // SAFETY: `cpu_set_t` is a plain bit array; all zeroes is the empty set.
            let mut allowed: libc::cpu_set_t = unsafe { zeroed() };
            // SAFETY: pid 0 is the calling thread; size and pointer are `allowed`'s.
            let r =
                unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut allowed) };
            (r == 0).then_some(Placement {
                allowed,
                avoiding: None,
            })
        }

        /// Lets the calling thread run on its allowed CPUs except `cpu` (on all of them when
        /// `cpu` is the only one). Does nothing when already so.
        pub fn avoid(&mut self, cpu: usize) {
            if self.avoiding == Some(cpu) {
                return;
            }
            self.avoiding = Some(cpu);
            let mut set = self.allowed;
            // `CPU_CLR` indexes its bit array: only for a CPU number inside it.
            if cpu < 8 * size_of::<libc::cpu_set_t>() {
                // SAFETY: `cpu` is inside the set's bit array (checked above).
                unsafe { libc::CPU_CLR(cpu, &mut set) };
            }
            // SAFETY: counts the bits of a valid set.
            if unsafe { libc::CPU_COUNT(&set) } == 0 {
                set = self.allowed;
            }
            // SAFETY: pid 0 is the calling thread; size and pointer are `set`'s. A refusal
            // (e.g. a cpuset that changed) only leaves the placement as it was.
            let _ = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
        }
    }
}

// Miri (which checks the hand-off under `cargo +nightly miri test`) has no `sched_getcpu`.
#[cfg(not(all(any(target_os = "linux", target_os = "android"), not(miri))))]
mod imp {
    pub fn current_cpu() -> Option<usize> {
        None
    }

    pub struct Placement;

    impl Placement {
        pub fn of_current_thread() -> Option<Placement> {
            None
        }

        pub fn avoid(&mut self, _cpu: usize) {}
    }
}

pub(crate) use imp::{current_cpu, Placement};

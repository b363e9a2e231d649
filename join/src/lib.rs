//! A persistent helper thread that runs one **borrowed** closure beside the caller's work.
//!
//! [`Helper::join`]`(a, b)` runs `b` on the helper thread while the caller runs `a`, and
//! returns once both are done, like `rayon::join` with one dedicated thread, or
//! `std::thread::scope` without starting a thread. `b` may borrow the caller's data (a camera
//! frame the caller lent for one call), so nothing has to be copied to hand the work over, and
//! a call allocates nothing: the job lives on the caller's stack and the hand-off is a mutex
//! and two condition variables (futexes on Linux and Android).
//!
//! LiveProof's session uses it to hash each frame in the caller's buffer while the frame
//! thread tracks the face (issue #15: before, each frame was copied for a background thread).
//!
//! # Soundness
//!
//! The one `unsafe` step is the helper thread calling a closure through a raw pointer to the
//! caller's stack. It is sound because `join` does not return, **not even by unwinding**, until
//! the helper has reported that job done: the wait is in a guard's `Drop`, so a panic in `a`
//! still waits for `b` before the stack frame (and everything `b` borrows) goes. A panic in
//! `b` is caught on the helper thread and returned as [`Panicked`]; the helper survives it.
//! Nothing unwinds out of the helper's loop (a panic payload whose own `Drop` panics aborts the
//! process, as std does for scoped threads), so `join` never waits on a thread that is gone.
//! `join` takes `&mut self`, so a helper holds at most one job. `b: Send` and its result
//! `Send` are the bounds `std::thread::scope` asks of the same work.
//!
//! # Placement
//!
//! On Linux and Android the helper keeps off the CPU its caller is on (`placement`): the
//! scheduler may otherwise stack it on the caller's CPU, and the two halves then run one after
//! the other.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

mod placement;
use placement::{current_cpu, Placement};

/// `b` panicked on the helper thread (the panic was caught there; the helper is still usable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Panicked;

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the helper thread's closure panicked")
    }
}

impl std::error::Error for Panicked {}

/// A type-erased pointer to a job on the caller's stack, and the function that runs it.
#[derive(Clone, Copy)]
struct JobRef {
    packet: *mut (),
    run: unsafe fn(*mut ()),
    /// The CPU the caller was on when it posted the job (`placement`).
    caller_cpu: Option<usize>,
}

// SAFETY: a `JobRef` only travels to the helper thread inside `Helper::join`, whose bounds make
// what it points to sendable (`B: Send`, `R: Send`), and `join` keeps it alive until the helper
// is done with it (module docs).
unsafe impl Send for JobRef {}

enum Slot {
    Idle,
    /// Posted by `join`, not yet taken.
    Posted(JobRef),
    /// Taken by the helper thread.
    Running,
    /// Done: `true` when the closure returned, `false` when it panicked.
    Done(bool),
    /// The `Helper` is being dropped.
    Exit,
}

struct Shared {
    slot: Mutex<Slot>,
    /// Signals the helper: a job was posted, or exit.
    posted: Condvar,
    /// Signals `join`: the job is done.
    done: Condvar,
}

impl Shared {
    /// Never poisoned in practice (nothing panics while holding it); a poisoned lock's state is
    /// still consistent, so it is used as is.
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The closure and its result, on `join`'s stack frame.
struct Packet<B, R> {
    f: Option<B>,
    result: Option<R>,
}

/// Runs the packet at `p`.
///
/// # Safety
/// `p` points to a live `Packet<B, R>` that nothing else touches until this returns.
unsafe fn run_packet<B: FnOnce() -> R, R>(p: *mut ()) {
    // SAFETY: the caller's contract.
    let packet = unsafe { &mut *p.cast::<Packet<B, R>>() };
    if let Some(f) = packet.f.take() {
        packet.result = Some(f());
    }
}

/// A helper thread (see the crate docs). Dropping it stops and joins the thread.
pub struct Helper {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Helper").finish_non_exhaustive()
    }
}

impl Helper {
    /// Starts the helper thread, named `name`. Fails only when the OS cannot start a thread.
    pub fn start(name: &str) -> std::io::Result<Helper> {
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::Idle),
            posted: Condvar::new(),
            done: Condvar::new(),
        });
        let theirs = shared.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || serve(&theirs))?;
        Ok(Helper {
            shared,
            thread: Some(thread),
        })
    }

    /// Runs `b` on the helper thread and `a` on this one; returns `a`'s result and `b`'s, or
    /// [`Panicked`] if `b` panicked. A panic in `a` propagates after `b` finished.
    pub fn join<A, RA, B, RB>(&mut self, a: A, b: B) -> (RA, Result<RB, Panicked>)
    where
        A: FnOnce() -> RA,
        B: FnOnce() -> RB + Send,
        RB: Send,
    {
        let mut packet = Packet {
            f: Some(b),
            result: None,
        };
        let job = JobRef {
            packet: (&mut packet as *mut Packet<B, RB>).cast(),
            run: run_packet::<B, RB>,
            caller_cpu: current_cpu(),
        };
        // The guard exists before the job is posted: from the post until the wait below ends,
        // the helper may use `packet`, and this frame neither touches it nor returns or unwinds
        // before the wait (the guard's `Drop`; before the post it finds nothing to wait for).
        let wait = WaitDone(&self.shared);
        {
            let mut slot = self.shared.lock();
            *slot = Slot::Posted(job);
        }
        self.shared.posted.notify_one();
        let ra = a();
        let ok = wait.wait();
        // The helper is done with `packet`.
        let rb = match (ok, packet.result.take()) {
            (true, Some(r)) => Ok(r),
            _ => Err(Panicked),
        };
        (ra, rb)
    }
}

/// Waits for the posted job to be done, in `wait` or, if the caller's closure unwinds, in
/// `Drop`: either way before `join`'s frame goes.
struct WaitDone<'a>(&'a Shared);

impl WaitDone<'_> {
    /// Whether the job returned (`false`: it panicked).
    fn wait(self) -> bool {
        let ok = self.block();
        core::mem::forget(self);
        ok
    }

    fn block(&self) -> bool {
        let mut slot = self.0.lock();
        loop {
            match *slot {
                Slot::Done(ok) => {
                    *slot = Slot::Idle;
                    return ok;
                }
                // `Idle`: nothing was posted (the guard is made just before the post). `Exit`:
                // only `Drop for Helper` writes it, which needs the `&mut Helper` the running
                // `join` holds, so it cannot be seen here.
                Slot::Idle | Slot::Exit => return false,
                Slot::Posted(_) | Slot::Running => {
                    slot = self
                        .0
                        .done
                        .wait(slot)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }
}

impl Drop for WaitDone<'_> {
    fn drop(&mut self) {
        self.block();
    }
}

/// The helper thread's loop.
fn serve(shared: &Shared) {
    let mut placement = Placement::of_current_thread();
    let mut slot = shared.lock();
    loop {
        match *slot {
            Slot::Posted(job) => {
                *slot = Slot::Running;
                drop(slot);
                // Nothing may unwind out of here: `join` waits for `Done`, and a helper thread
                // ended by a panic would leave it waiting forever.
                let ran = catch_unwind(AssertUnwindSafe(|| {
                    if let (Some(p), Some(cpu)) = (placement.as_mut(), job.caller_cpu) {
                        p.avoid(cpu);
                    }
                    // SAFETY: `join` posted `job` for a packet on its stack, and waits for
                    // `Done` before that frame goes (module docs); nothing else touches it.
                    unsafe { (job.run)(job.packet) }
                }));
                let ok = match ran {
                    Ok(()) => true,
                    Err(payload) => {
                        drop_panic_payload(payload);
                        false
                    }
                };
                slot = shared.lock();
                *slot = Slot::Done(ok);
                shared.done.notify_one();
            }
            Slot::Exit => return,
            Slot::Idle | Slot::Running | Slot::Done(_) => {
                slot = shared
                    .posted
                    .wait(slot)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }
}

/// Drops a caught panic's payload. A payload whose own `Drop` panics would end the helper
/// thread with `join` still waiting for it: the process aborts instead, as std does when a
/// scoped thread's result panics on drop.
fn drop_panic_payload(payload: Box<dyn std::any::Any + Send>) {
    if let Err(again) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        core::mem::forget(again);
        std::process::abort();
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        *self.shared.lock() = Slot::Exit;
        self.shared.posted.notify_one();
        if let Some(t) = self.thread.take() {
            // The thread only returns (its jobs' panics are caught).
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests;

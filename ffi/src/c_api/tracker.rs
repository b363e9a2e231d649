//! `lp_tracker`: one camera stream in tracking mode.

use super::*;

/// One camera stream's tracking state. Use from one thread at a time (it may move between
/// threads between calls).
pub struct lp_tracker {
    pub(super) tracker: Tracker,
}

/// Creates a tracker for one camera stream on `engine`; free it with `lp_tracker_free`. The
/// tracker keeps the engine's models alive, so the engine may be freed first.
///
/// Errors: `LP_NULL_ARGUMENT` (engine, out_tracker).
///
/// Thread-safety: any thread, concurrently with other calls on the same engine.
///
/// # Safety
/// `engine` is NULL or a live engine; `out_tracker` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_new(
    engine: *const lp_engine,
    out_tracker: *mut *mut lp_tracker,
) -> lp_result {
    const F: &str = "lp_tracker_new";
    boundary(|| {
        // SAFETY: the caller's contract on `engine`.
        let engine = unsafe { arg_ref(engine, F, "engine") }?;
        out_ptr(out_tracker, F, "out_tracker")?;
        // Only analyses leave this handle: frames are read in place, never converted whole.
        let tracker = Tracker::new(engine.engine.clone());
        let handle = Box::into_raw(Box::new(lp_tracker { tracker }));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_tracker, handle) };
        Ok(())
    })
}

/// Processes the next frame of the tracker's stream: FaceMesh follows the face from the
/// previous frame's landmarks while its presence stays above `min_presence`; the detector
/// runs when the track is lost (on the same frame) and every `recount_faces_every` frames.
/// Stability (`LP_HINT_HOLD_STILL`) uses the timestamps: a repeated timestamp (or none, 0 on
/// every frame) skips stability on that frame, one going backwards restarts the track; neither
/// fails the frame. After a failed frame the track restarts. Writes a new analysis to `*out_analysis` (free it with `lp_analysis_free`).
///
/// Errors: as `lp_engine_analyze_frame`.
///
/// Thread-safety: one thread at a time per tracker (it may move between threads between
/// calls); different trackers run concurrently.
///
/// # Safety
/// `tracker` is NULL or a live tracker used by no other thread during the call; `frame` and
/// `out_analysis` as for `lp_engine_analyze_frame`.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_process(
    tracker: *mut lp_tracker,
    frame: *const lp_frame,
    out_analysis: *mut *mut lp_analysis,
) -> lp_result {
    const F: &str = "lp_tracker_process";
    boundary(|| {
        // SAFETY: the caller's contract on `tracker` (exclusive) and `frame`.
        let tracker = unsafe { arg_mut(tracker, F, "tracker") }?;
        let frame = unsafe { arg_ref(frame, F, "frame") }?;
        out_ptr(out_analysis, F, "out_analysis")?;
        // SAFETY: the caller's contract on the planes.
        let frame = unsafe { frame_from_c(frame, F) }?;
        let analysis = tracker
            .tracker
            .process(&frame)
            .cloned()
            .map_err(ApiError::from)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_analysis, new_analysis(analysis)) };
        Ok(())
    })
}

/// Forgets the tracked face (e.g. when the camera restarts): the next frame runs the
/// detector. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: as `lp_tracker_process`.
///
/// # Safety
/// `tracker` is NULL or a live tracker used by no other thread during the call.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_reset(tracker: *mut lp_tracker) -> lp_result {
    boundary(|| {
        // SAFETY: the caller's contract on `tracker` (exclusive).
        let tracker = unsafe { arg_mut(tracker, "lp_tracker_reset", "tracker") }?;
        tracker.tracker.reset();
        Ok(())
    })
}

/// Frees a tracker. NULL is a no-op.
///
/// Thread-safety: no other call may use `tracker` during or after this one.
///
/// # Safety
/// `tracker` is NULL or a handle from `lp_tracker_new` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_tracker_free(tracker: *mut lp_tracker) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in
    // `lp_tracker_new`, not yet freed and used by no other call.
    unsafe { free_handle(tracker, None) };
}

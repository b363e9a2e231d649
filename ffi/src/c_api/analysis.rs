//! `lp_analysis`: one frame's immutable analysis and its accessors.

use super::*;

/// The immutable result of analysing one frame. Any number of threads may read it at once.
pub struct lp_analysis {
    pub(super) analysis: FrameAnalysis,
    /// `FrameAnalysis::to_json`, rendered on first use.
    pub(super) json: OnceLock<String>,
}

pub(super) fn new_analysis(analysis: FrameAnalysis) -> *mut lp_analysis {
    Box::into_raw(Box::new(lp_analysis {
        analysis,
        json: OnceLock::new(),
    }))
}

impl lp_analysis {
    fn json(&self) -> &str {
        self.json
            .get_or_init(|| self.analysis.to_json().to_string())
    }

    fn face(
        &self,
        index: usize,
        func: &str,
    ) -> Result<&liveproof_core::engine::FaceAnalysis, Failure> {
        self.analysis.faces.get(index).ok_or_else(|| Failure {
            code: lp_result::LP_INDEX_OUT_OF_RANGE,
            message: format!(
                "index out of range: {func} face index {index} is not below the face count {}",
                self.analysis.faces.len()
            ),
        })
    }
}

/// Copies the frame-level figures (size, timestamp, face counts, hints bitmask, time) into
/// `*out_info`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_info` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_get_info(
    analysis: *const lp_analysis,
    out_info: *mut lp_analysis_info,
) -> lp_result {
    const F: &str = "lp_analysis_get_info";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_info, F, "out_info")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_info, info_of(&a.analysis)) };
        Ok(())
    })
}

/// Writes the number of analysed faces (valid `lp_analysis_face` indices are
/// `0..*out_count`) to `*out_count`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_count` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_face_count(
    analysis: *const lp_analysis,
    out_count: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_face_count";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_count, F, "out_count")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_count, a.analysis.faces.len()) };
        Ok(())
    })
}

/// Copies face `face_index` (0 = the primary face, the one quality and tracking follow) into
/// `*out_face`. Errors: `LP_NULL_ARGUMENT`, `LP_INDEX_OUT_OF_RANGE`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_face` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_face(
    analysis: *const lp_analysis,
    face_index: usize,
    out_face: *mut lp_face,
) -> lp_result {
    const F: &str = "lp_analysis_face";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_face, F, "out_face")?;
        let face = face_to_c(a.face(face_index, F)?);
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_face, face) };
        Ok(())
    })
}

/// Copies face `face_index`'s landmarks into `xyz` as `x0, y0, z0, x1, …`: x, y in upright
/// image pixels, z in the same scale (negative = towards the camera), MediaPipe's order.
/// `len` is the capacity of `xyz` in floats and must be at least 3 × the face's
/// `landmark_count` (`3 * LP_LANDMARK_COUNT`); `*out_n` receives the floats written.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_INDEX_OUT_OF_RANGE`, `LP_BUFFER_TOO_SMALL` (nothing
/// written).
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `xyz` is NULL or writable for `len` floats;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_landmarks(
    analysis: *const lp_analysis,
    face_index: usize,
    xyz: *mut f32,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_landmarks";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        if xyz.is_null() {
            return Err(null(F, "xyz"));
        }
        out_ptr(out_n, F, "out_n")?;
        let face = a.face(face_index, F)?;
        let needed = 3 * face.landmarks.len();
        if len < needed {
            return Err(buffer_too_small(F, "xyz", len, needed));
        }
        // SAFETY: non-NULL and writable for `len ≥ needed` floats (aligned) by the caller's
        // contract; it cannot alias our own landmarks.
        let dst = unsafe { std::slice::from_raw_parts_mut(xyz, needed) };
        for (d, p) in dst.chunks_exact_mut(3).zip(&face.landmarks) {
            d.copy_from_slice(&[p.x, p.y, p.z]);
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, needed) };
        Ok(())
    })
}

/// Copies the frame-level hints, most important first (show `hints[0]`), into `hints`;
/// `*out_n` receives how many. `len` is the capacity of `hints`: `LP_HINT_COUNT` always
/// suffices; a smaller array that cannot hold them all gives `LP_BUFFER_TOO_SMALL` (nothing
/// written). No hint (`*out_n == 0`) means the frame is good to use. `hints` may be NULL
/// when `len` is 0.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `hints` is NULL or writable for `len` values;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_hints(
    analysis: *const lp_analysis,
    hints: *mut lp_hint,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_hints";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        if hints.is_null() && len > 0 {
            return Err(null(F, "hints"));
        }
        out_ptr(out_n, F, "out_n")?;
        let n = a.analysis.hints.len();
        if len < n {
            return Err(buffer_too_small(F, "hints", len, n));
        }
        for (i, h) in a.analysis.hints.iter().enumerate() {
            // SAFETY: `i < n ≤ len`, so non-NULL and writable by the caller's contract.
            unsafe { hints.add(i).write(hint_to_c(h)) };
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Copies the frame notes (what the pipeline skipped on this frame and why: a repeated or
/// backwards timestamp) into `notes`; `*out_n` receives how many. `len` is the capacity of
/// `notes`: `LP_FRAME_NOTE_COUNT` always suffices; a smaller array that cannot hold them all
/// gives `LP_BUFFER_TOO_SMALL` (nothing written). No note (`*out_n == 0`) is a normal frame.
/// `notes` may be NULL when `len` is 0.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `notes` is NULL or writable for `len` values;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_notes(
    analysis: *const lp_analysis,
    notes: *mut lp_frame_note,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_notes";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        if notes.is_null() && len > 0 {
            return Err(null(F, "notes"));
        }
        out_ptr(out_n, F, "out_n")?;
        let n = a.analysis.notes.len();
        if len < n {
            return Err(buffer_too_small(F, "notes", len, n));
        }
        for (i, &note) in a.analysis.notes.iter().enumerate() {
            // SAFETY: `i < n ≤ len`, so non-NULL and writable by the caller's contract.
            unsafe { notes.add(i).write(note_to_c(note)) };
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Writes the buffer size `lp_analysis_json` needs, in bytes *including* the NUL, to
/// `*out_size`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; analyses are immutable (the JSON is rendered once, on first
/// use).
///
/// # Safety
/// `analysis` is NULL or a live analysis; `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_json_size(
    analysis: *const lp_analysis,
    out_size: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_json_size";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_size, F, "out_size")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_size, a.json().len() + 1) };
        Ok(())
    })
}

/// Copies the analysis as JSON (UTF-8, NUL-terminated; the CLI's `--json` form: per face
/// `box`, `score`, `keypoints`, 468 `landmarks`, `presence`, `quality` with every check,
/// plus frame `hints` and `timings_ms`) into `buf`. `len` must be at least the size from
/// `lp_analysis_json_size`, else `LP_BUFFER_TOO_SMALL` and nothing is written. `*out_n`
/// receives the bytes written without the NUL.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; analyses are immutable.
///
/// # Safety
/// `analysis` is NULL or a live analysis; `buf` is NULL or writable for `len` bytes;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_json(
    analysis: *const lp_analysis,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_analysis_json";
    boundary(|| {
        // SAFETY: the caller's contract on `analysis`.
        let a = unsafe { arg_ref(analysis, F, "analysis") }?;
        out_ptr(out_n, F, "out_n")?;
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(a.json().as_bytes(), buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Frees an analysis. NULL is a no-op.
///
/// Thread-safety: no other call may use `analysis` during or after this one.
///
/// # Safety
/// `analysis` is NULL or a handle from `lp_engine_analyze_frame` / `lp_tracker_process`
/// not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_analysis_free(analysis: *mut lp_analysis) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in `new_analysis`,
    // not yet freed and used by no other call.
    unsafe { free_handle(analysis, None) };
}

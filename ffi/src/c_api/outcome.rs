//! `lp_outcome`: what a finished (or cancelled) session decided, and its signed result.

use super::*;

/// A session's outcome: the decision, its reasons, the full result and, for a token session,
/// the signed result to send to the server. Immutable: any number of threads may read it at
/// once. It stays valid after its session is freed.
pub struct lp_outcome {
    pub(super) outcome: Outcome,
    /// The result as JSON, rendered on first use.
    pub(super) json: OnceLock<Result<String, String>>,
}

pub(super) fn new_outcome(outcome: Outcome) -> *mut lp_outcome {
    Box::into_raw(Box::new(lp_outcome {
        outcome,
        json: OnceLock::new(),
    }))
}

impl lp_outcome {
    fn json(&self) -> Result<&str, Failure> {
        self.json
            .get_or_init(|| serde_json::to_string(&self.outcome.result).map_err(|e| e.to_string()))
            .as_deref()
            .map_err(|e| {
                ApiError::Invariant {
                    message: format!("the session result does not serialise: {e}"),
                }
                .into()
            })
    }
}

/// Writes the band (an `lp_band` value: pass, retry or fail) to `*out_band`.
/// Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `out_band` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_band(
    outcome: *const lp_outcome,
    out_band: *mut lp_band,
) -> lp_result {
    const F: &str = "lp_outcome_band";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_band, F, "out_band")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_band, lp_band::from_core(o.outcome.result.band)) };
        Ok(())
    })
}

/// Writes whether the decision has a fused score to `*out_has_fused` and the score (the
/// fused log-likelihood ratio, natural log, bona fide vs attack; NaN when there is none) to
/// `*out_fused`. There is none when a veto (no face, injection, a failed challenge, …)
/// decided first. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `out_has_fused` and `out_fused` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_fused(
    outcome: *const lp_outcome,
    out_has_fused: *mut bool,
    out_fused: *mut f64,
) -> lp_result {
    const F: &str = "lp_outcome_fused";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_has_fused, F, "out_has_fused")?;
        out_ptr(out_fused, F, "out_fused")?;
        let fused = o.outcome.result.fused;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe {
            write_out(out_has_fused, fused.is_some());
            write_out(out_fused, fused.unwrap_or(f64::NAN));
        }
        Ok(())
    })
}

/// Writes whether the session was cancelled (`lp_session_cancel`) to `*out_cancelled`.
/// Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `out_cancelled` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_cancelled(
    outcome: *const lp_outcome,
    out_cancelled: *mut bool,
) -> lp_result {
    const F: &str = "lp_outcome_cancelled";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_cancelled, F, "out_cancelled")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_cancelled, o.outcome.cancelled) };
        Ok(())
    })
}

/// Copies the reasons for the band, most decisive first, into `reasons`; `*out_n` receives
/// how many. `len` is the capacity of `reasons`: `LP_REASON_COUNT` always suffices; a smaller
/// array that cannot hold them all gives `LP_BUFFER_TOO_SMALL` (nothing written; the message
/// gives the count needed). `reasons` may be NULL when `len` is 0. `lp_reason_name` spells
/// each as the JSON does.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `reasons` is NULL or writable for `len` values;
/// `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_reasons(
    outcome: *const lp_outcome,
    reasons: *mut lp_reason,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_outcome_reasons";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        if reasons.is_null() && len > 0 {
            return Err(null(F, "reasons"));
        }
        out_ptr(out_n, F, "out_n")?;
        let all = &o.outcome.result.reasons;
        if len < all.len() {
            return Err(buffer_too_small(F, "reasons", len, all.len()));
        }
        for (i, &r) in all.iter().enumerate() {
            // SAFETY: `i < all.len() ≤ len`, so non-NULL and writable by the caller's
            // contract.
            unsafe { reasons.add(i).write(lp_reason::from_core(r)) };
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, all.len()) };
        Ok(())
    })
}

/// Copies the session id (32 hex digits: the token's for a token session) and a NUL into
/// `buf`; `len` must be at least `LP_SESSION_ID_SIZE` (33), else `LP_BUFFER_TOO_SMALL` and
/// nothing is written. `*out_n` receives 32.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `buf` is NULL or writable for `len` bytes; `out_n`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_session_id(
    outcome: *const lp_outcome,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_outcome_session_id";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_n, F, "out_n")?;
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(o.outcome.session_id.as_bytes(), buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Writes the buffer size `lp_outcome_json` needs, in bytes *including* the NUL, to
/// `*out_size`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; outcomes are immutable (the JSON is rendered once, on first
/// use).
///
/// # Safety
/// `outcome` is NULL or a live outcome; `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_json_size(
    outcome: *const lp_outcome,
    out_size: *mut usize,
) -> lp_result {
    const F: &str = "lp_outcome_json_size";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_size, F, "out_size")?;
        let n = o.json()?.len() + 1;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_size, n) };
        Ok(())
    })
}

/// Copies the full session result as JSON (UTF-8, NUL-terminated: band, fused, reasons,
/// every signal, quality, challenge steps, match, security, timings, audit record; the
/// shape `liveproof analyze --json` prints as `result`) into `buf`. `len` must be at least
/// the size from `lp_outcome_json_size`, else `LP_BUFFER_TOO_SMALL` and nothing is written.
/// `*out_n` receives the bytes written without the NUL.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `buf` is NULL or writable for `len` bytes; `out_n`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_json(
    outcome: *const lp_outcome,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_outcome_json";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_n, F, "out_n")?;
        let json = o.json()?;
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(json.as_bytes(), buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Writes the length of the signed result (bytes; no NUL: it is binary) to `*out_size`: 0 for
/// a local session, whose outcome is never signed. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_signed_size(
    outcome: *const lp_outcome,
    out_size: *mut usize,
) -> lp_result {
    const F: &str = "lp_outcome_signed_size";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        out_ptr(out_size, F, "out_size")?;
        let n = o.outcome.signed.as_ref().map_or(0, Vec::len);
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_size, n) };
        Ok(())
    })
}

/// Copies the signed result (a COSE_Sign1 EAT; send these bytes to the server, which checks
/// them with `liveproof-verifier`) into `buf`. `len` must be at least the size from
/// `lp_outcome_signed_size`, else `LP_BUFFER_TOO_SMALL` and nothing is written. `*out_n`
/// receives the bytes written (0 for a local session; `buf` may then be NULL with `len` 0).
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; outcomes are immutable.
///
/// # Safety
/// `outcome` is NULL or a live outcome; `buf` is NULL or writable for `len` bytes; `out_n`
/// is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_signed(
    outcome: *const lp_outcome,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_outcome_signed";
    boundary(|| {
        // SAFETY: the caller's contract on `outcome`.
        let o = unsafe { arg_ref(outcome, F, "outcome") }?;
        if buf.is_null() && len > 0 {
            return Err(null(F, "buf"));
        }
        out_ptr(out_n, F, "out_n")?;
        let signed = o.outcome.signed.as_deref().unwrap_or_default();
        if len < signed.len() {
            return Err(buffer_too_small(F, "signed", len, signed.len()));
        }
        if !signed.is_empty() {
            // SAFETY: `buf` is non-NULL (len ≥ signed.len() > 0) and writable for `len`
            // bytes by the caller's contract; the source is our own vector.
            unsafe { std::ptr::copy_nonoverlapping(signed.as_ptr(), buf, signed.len()) };
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, signed.len()) };
        Ok(())
    })
}

/// Frees an outcome. NULL is a no-op.
///
/// Thread-safety: no other call may use `outcome` during or after this one.
///
/// # Safety
/// `outcome` is NULL or a handle from `lp_session_finish` / `lp_session_cancel` not yet
/// freed.
#[no_mangle]
pub unsafe extern "C" fn lp_outcome_free(outcome: *mut lp_outcome) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in `new_outcome`,
    // not yet freed and used by no other call.
    unsafe { free_handle(outcome, None) };
}

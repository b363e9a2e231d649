//! Errors, the last-error message, the panic boundary, and the pointer and buffer helpers
//! every function body uses.

use super::*;

/// A failed call: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Failure {
    pub(super) code: lp_result,
    pub(super) message: String,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure {
            code: result_of(&e),
            message: e.to_string(),
        }
    }
}

/// The one mapping from the crate's public error to C codes.
pub(super) fn result_of(e: &ApiError) -> lp_result {
    match e {
        ApiError::InvalidArgument { .. } => lp_result::LP_INVALID_ARGUMENT,
        ApiError::RuntimeUnavailable { .. } => lp_result::LP_RUNTIME_UNAVAILABLE,
        ApiError::ModelMissing { .. } => lp_result::LP_MODEL_MISSING,
        ApiError::ModelIntegrity { .. } => lp_result::LP_MODEL_INTEGRITY,
        ApiError::ModelInvalid { .. } => lp_result::LP_MODEL_INVALID,
        ApiError::Processing { .. } => lp_result::LP_PROCESSING,
        ApiError::ModelOutput { .. } => lp_result::LP_MODEL_OUTPUT,
        ApiError::TokenRejected { .. } => lp_result::LP_TOKEN_REJECTED,
        ApiError::Signer { .. } => lp_result::LP_SIGNER_FAILED,
        ApiError::SessionState { .. } => lp_result::LP_SESSION_STATE,
        ApiError::Internal { .. } => lp_result::LP_PANIC,
        ApiError::Invariant { .. } => lp_result::LP_INTERNAL,
    }
}

pub(super) fn null(func: &str, arg: &str) -> Failure {
    Failure {
        code: lp_result::LP_NULL_ARGUMENT,
        message: format!("NULL argument: `{arg}` of {func} is NULL; expected a valid pointer"),
    }
}

pub(super) fn invalid(message: String) -> Failure {
    ApiError::invalid(message).into()
}

thread_local! {
    pub(super) static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

pub(super) fn set_last_error(message: String) {
    // `try_with`: during thread teardown there is no message to keep.
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            *e = message;
        }
    });
}

pub(super) fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|e| {
        if let Ok(mut e) = e.try_borrow_mut() {
            e.clear();
        }
    });
}

/// Runs one `extern "C"` body: a panic becomes `LP_PANIC` (via the crate's `catch_panic`);
/// the thread's last-error message is set on failure and cleared on success.
pub(super) fn boundary(f: impl FnOnce() -> Result<(), Failure>) -> lp_result {
    let r = match catch_panic(|| Ok(f())) {
        Ok(inner) => inner,
        Err(panic) => Err(Failure::from(panic)),
    };
    match r {
        Ok(()) => {
            clear_last_error();
            lp_result::LP_OK
        }
        Err(failure) => {
            set_last_error(failure.message);
            failure.code
        }
    }
}

/// For the infallible functions (`_free`, name look-ups): a panic is contained and dropped.
pub(super) fn boundary_void(f: impl FnOnce()) {
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
}

/// `&*p`, or `LP_NULL_ARGUMENT` naming `arg`.
///
/// # Safety
/// `p` is NULL or points to a valid, aligned `T` that is not mutated during the call.
pub(super) unsafe fn arg_ref<'a, T>(p: *const T, func: &str, arg: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract (documented on each extern function) for non-NULL `p`.
    unsafe { p.as_ref() }.ok_or_else(|| null(func, arg))
}

/// `&mut *p`, or `LP_NULL_ARGUMENT` naming `arg`.
///
/// # Safety
/// `p` is NULL or points to a valid, aligned `T` with no other reference during the call.
pub(super) unsafe fn arg_mut<'a, T>(
    p: *mut T,
    func: &str,
    arg: &str,
) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller's contract for non-NULL `p`.
    unsafe { p.as_mut() }.ok_or_else(|| null(func, arg))
}

/// Checks that an output pointer is not NULL (before any work, so a failure writes nothing).
pub(super) fn out_ptr<T>(p: *mut T, func: &str, arg: &str) -> Result<(), Failure> {
    if p.is_null() {
        Err(null(func, arg))
    } else {
        Ok(())
    }
}

/// Writes `value` through a checked, non-NULL output pointer.
///
/// # Safety
/// `p` was checked by [`out_ptr`] and points to writable, aligned memory for a `T`.
pub(super) unsafe fn write_out<T>(p: *mut T, value: T) {
    // SAFETY: non-NULL (checked), writable and aligned by the caller's contract; `write`
    // does not read or drop the old (possibly uninitialised) value.
    unsafe { p.write(value) }
}

/// A NUL-terminated C string as a path (bytes as-is on Unix).
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string readable during the call.
pub(super) unsafe fn path_arg(p: *const c_char, func: &str, arg: &str) -> Result<PathBuf, Failure> {
    if p.is_null() {
        return Err(null(func, arg));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(s.to_bytes())))
    }
    #[cfg(not(unix))]
    {
        s.to_str()
            .map(PathBuf::from)
            .map_err(|_| invalid(format!("`{arg}` of {func} is not UTF-8")))
    }
}

pub(super) fn buffer_too_small(func: &str, what: &str, len: usize, needed: usize) -> Failure {
    Failure {
        code: lp_result::LP_BUFFER_TOO_SMALL,
        message: format!(
            "buffer too small: {func} {what} buffer has length {len}; expected at least {needed}"
        ),
    }
}

/// Copies `bytes` and a NUL into `buf[..len]`, `LP_BUFFER_TOO_SMALL` (nothing written) when
/// `len < bytes.len() + 1`. Returns the bytes written without the NUL.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes.
pub(super) unsafe fn copy_c_string(
    bytes: &[u8],
    buf: *mut c_char,
    len: usize,
    func: &str,
) -> Result<usize, Failure> {
    if buf.is_null() {
        return Err(null(func, "buf"));
    }
    let needed = bytes.len() + 1;
    if len < needed {
        return Err(buffer_too_small(func, "text", len, needed));
    }
    // SAFETY: `buf` is non-NULL and writable for `len ≥ bytes.len() + 1` bytes by the caller's
    // contract; the source is our own allocation, so the ranges do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len());
        buf.add(bytes.len()).write(0);
    }
    Ok(bytes.len())
}

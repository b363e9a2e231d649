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

/// The body of every `lp_*_free`: NULL is a no-op; otherwise `finalise` (if any) runs on the
/// handle, then it is dropped, a panic in either contained as in [`boundary_void`].
///
/// # Safety
/// `p` is NULL or a live handle from `Box::into_raw(Box<T>)`, not yet freed, that no other
/// call uses during or after this one.
pub(super) unsafe fn free_handle<T>(p: *mut T, finalise: Option<fn(&T)>) {
    boundary_void(|| {
        if !p.is_null() {
            // SAFETY: the caller's contract: a live handle from `Box::into_raw`, freed once.
            let handle = unsafe { Box::from_raw(p) };
            if let Some(finalise) = finalise {
                finalise(&handle);
            }
        }
    });
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

/// A `#[repr(C)]` struct whose first field is `size_t struct_size` and which grows only by
/// appending fields (`lp_engine_config`, `lp_session_config`, `lp_feedback`).
///
/// # Safety
/// The implementor is `#[repr(C)]`, starts with `struct_size: usize`, and `SIZES` lists the
/// sizes of its versions, oldest first, each a prefix of the next, the last
/// `size_of::<Self>()`.
pub(super) unsafe trait Versioned: Copy {
    /// The C type name, for messages.
    const NAME: &'static str;
    /// Every version's `sizeof`, oldest first.
    const SIZES: &'static [usize];
}

/// A [`Versioned`] struct that the caller fills and the library reads.
///
/// # Safety
/// Every bit pattern is a valid value of every field (integers, floats, raw pointers and
/// arrays of them: no `bool`, enum or reference), so bytes copied from C memory are a valid
/// value.
pub(super) unsafe trait VersionedInput: Versioned {}

/// `LP_INVALID_ARGUMENT` unless `size` is one of `T`'s versions.
pub(super) fn check_struct_size<T: Versioned>(size: usize, func: &str) -> Result<(), Failure> {
    if T::SIZES.contains(&size) {
        return Ok(());
    }
    let sizes: Vec<String> = T::SIZES.iter().map(|s| s.to_string()).collect();
    Err(invalid(format!(
        "{func}: {name} struct_size is {size}; expected one of {sizes} (sizeof({name}) of \
         liveproof {version} is {current}, the others are earlier versions): set it to \
         sizeof({name}) or fill the struct with {name}_init(sizeof({name}), &c)",
        name = T::NAME,
        sizes = sizes.join(", "),
        version = crate::VERSION,
        current = std::mem::size_of::<T>(),
    )))
}

/// Reads the caller's `struct_size` through the raw pointer, before any reference to the
/// caller's struct exists.
///
/// # Safety
/// `p` is non-NULL, aligned, and readable for at least a `usize` (every version of `T`
/// starts with `struct_size`).
unsafe fn read_struct_size<T: Versioned>(p: *const T) -> usize {
    // SAFETY: by the caller's contract; `struct_size` is the first field of every version.
    unsafe { p.cast::<usize>().read() }
}

/// Copies the caller's versioned input struct over `defaults`: reads `struct_size` first,
/// rejects an unknown size, then copies exactly `struct_size` bytes (an older, shorter
/// version leaves the later fields at their defaults; nothing past its end is read).
///
/// # Safety
/// `p` is NULL or points to a readable, aligned struct of at least the `struct_size` it
/// declares.
pub(super) unsafe fn read_versioned<T: VersionedInput>(
    p: *const T,
    defaults: T,
    func: &str,
    arg: &str,
) -> Result<T, Failure> {
    if p.is_null() {
        return Err(null(func, arg));
    }
    // SAFETY: non-NULL; the caller's contract.
    let size = unsafe { read_struct_size(p) };
    check_struct_size::<T>(size, func)?;
    let mut out = defaults;
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: the source is readable for `size ≥ n` bytes (the caller's contract, the size
    // checked to be a known version); the destination is our own `T`, `n ≤ size_of::<T>()`;
    // every bit pattern is a valid field value (`VersionedInput`), and the copy cannot
    // overlap our local.
    unsafe {
        std::ptr::copy_nonoverlapping(p.cast::<u8>(), std::ptr::addr_of_mut!(out).cast::<u8>(), n)
    };
    Ok(out)
}

/// Checks a versioned output struct before any work: not NULL, and its `struct_size` (set
/// by the caller) a known version. Returns that size.
///
/// # Safety
/// `p` is NULL or points to an aligned struct readable and writable for the `struct_size` it
/// declares.
pub(super) unsafe fn check_versioned_out<T: Versioned>(
    p: *mut T,
    func: &str,
    arg: &str,
) -> Result<usize, Failure> {
    if p.is_null() {
        return Err(null(func, arg));
    }
    // SAFETY: non-NULL; the caller's contract.
    let size = unsafe { read_struct_size(p.cast_const()) };
    check_struct_size::<T>(size, func)?;
    Ok(size)
}

/// Writes the first `size` bytes of `value` (a size [`check_versioned_out`] or
/// [`check_struct_size`] accepted) to `p`, with `struct_size = size`: nothing past the
/// caller's version of the struct is written.
///
/// # Safety
/// `p` is non-NULL, aligned and writable for `size` bytes; `size` is one of `T::SIZES`.
pub(super) unsafe fn write_versioned<T: Versioned>(p: *mut T, value: T, size: usize) {
    let value = std::mem::MaybeUninit::new(value);
    let n = size.min(std::mem::size_of::<T>());
    // SAFETY: `p` is writable for `size ≥ n` bytes by the caller's contract; the source is
    // our own `T` of `size_of::<T>() ≥ n` bytes. Padding bytes copied this way are
    // unspecified in the caller's struct, as in C.
    unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr().cast::<u8>(), p.cast::<u8>(), n);
        p.cast::<usize>().write(size);
    }
}

/// `p[..len]` as a byte slice; `p` may be NULL only when `len` is 0.
///
/// # Safety
/// `p` is NULL or readable for `len` bytes, unchanged during `'a`.
pub(super) unsafe fn byte_slice<'a>(
    p: *const u8,
    len: usize,
    func: &str,
    arg: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(null(func, arg));
    }
    if len > isize::MAX as usize {
        return Err(invalid(format!(
            "{func}: `{arg}` length {len} exceeds isize::MAX"
        )));
    }
    // SAFETY: non-NULL, `len` ≤ isize::MAX, readable and unchanged for `'a` by the caller's
    // contract; u8 needs no alignment.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A NUL-terminated UTF-8 C string, copied.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string readable during the call.
pub(super) unsafe fn utf8_arg(p: *const c_char, func: &str, arg: &str) -> Result<String, Failure> {
    if p.is_null() {
        return Err(null(func, arg));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| invalid(format!("{func}: `{arg}` is not UTF-8")))
}

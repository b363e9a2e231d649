//! Library-wide functions: the version, the names of every C enum, the last error message,
//! logging, the shipped default policy.

use super::*;

/// The library version as a static NUL-terminated string, e.g. `"0.1.0"`: the Cargo
/// workspace version, equal to the `LIVEPROOF_VERSION` of the header generated with it.
/// Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    let mut out = VERSION.as_ptr().cast::<c_char>();
    boundary_void(|| out = VERSION.as_ptr().cast::<c_char>());
    out
}

/// The name of an `lp_result` value, e.g. `"LP_MODEL_MISSING"`, as a static NUL-terminated
/// string; `"LP_UNKNOWN_RESULT"` for a value that is not one. Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_result_name(result: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, result, result_names, c"LP_UNKNOWN_RESULT")
}

/// The name of an `lp_hint` value as the JSON spells it, e.g. `"TOO_DARK"`, as a static
/// NUL-terminated string; `"UNKNOWN"` for a value that is not a hint. Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_hint_name(hint: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, hint, hint_names, c"UNKNOWN")
}

/// The name of an `lp_reason` value as the JSON spells it, e.g. `"injection_detected"`, as a
/// static NUL-terminated string; `"unknown"` for a value that is not a reason code. Never
/// NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_reason_name(reason: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, reason, reason_names, c"unknown")
}

/// The name of an `lp_band` value as the JSON spells it (`"pass"`, `"retry"`, `"fail"`), as a
/// static NUL-terminated string; `"unknown"` for a value that is not a band. Never NULL; do
/// not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_band_name(band: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, band, band_names, c"unknown")
}

/// The name of an `lp_phase` value as the JSON spells it (`"positioning"`, `"passive"`,
/// `"challenge"`, `"done"`), as a static NUL-terminated string; `"unknown"` otherwise. Never
/// NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_phase_name(phase: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, phase, phase_names, c"unknown")
}

/// The name of an `lp_prompt` value as the JSON spells it (`"none"`, `"hold_still"`,
/// `"blink"`, `"turn_left"`, …), as a static NUL-terminated string; `"unknown"` otherwise.
/// Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_prompt_name(prompt: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, prompt, prompt_names, c"unknown")
}

/// The name of an `lp_flow` value as the JSON and the policy spell it (`"account_opening"`,
/// `"login"`, `"transaction"`, `"recovery"`), as a static NUL-terminated string; `"unknown"`
/// otherwise. Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_flow_name(flow: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, flow, flow_names, c"unknown")
}

/// The name of an `lp_tier` value as the JSON and the policy spell it (`"low"`, `"medium"`,
/// `"high"`), as a static NUL-terminated string; `"unknown"` otherwise. Never NULL; do not
/// free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_tier_name(tier: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, tier, tier_names, c"unknown")
}

/// A name look-up inside the panic boundary (a panic gives `unknown`).
fn name_of(
    table: &'static NameTable,
    value: u32,
    build: fn() -> Vec<(u32, String)>,
    unknown: &'static CStr,
) -> *const c_char {
    let mut out = unknown.as_ptr();
    boundary_void(|| out = table.lookup(value, build, unknown));
    out
}

/// Writes the buffer size `lp_policy_default_json` needs, in bytes *including* the NUL, to
/// `*out_size`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread, any time.
///
/// # Safety
/// `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_policy_default_json_size(out_size: *mut usize) -> lp_result {
    boundary(|| {
        out_ptr(out_size, "lp_policy_default_json_size", "out_size")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_size, liveproof_core::defaults::POLICY_JSON.len() + 1) };
        Ok(())
    })
}

/// Copies the shipped default policy (`models/policy_default.json`, the policy a local
/// session without its own policy JSON decides under) into `buf`, NUL-terminated. `len` must
/// be at least the size from `lp_policy_default_json_size`, else `LP_BUFFER_TOO_SMALL` and
/// nothing is written. `*out_n` receives the bytes written without the NUL. A token session
/// decides under the policy its token carries (`lp_token_policy_json`).
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread, any time.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_policy_default_json(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_policy_default_json";
    boundary(|| {
        out_ptr(out_n, F, "out_n")?;
        let json = liveproof_core::defaults::POLICY_JSON.as_bytes();
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(json, buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// The name of an `lp_frame_note` value as the JSON's `notes` spells it, e.g.
/// `"repeated_timestamp"`, as a static NUL-terminated string; `"unknown"` for a value that is
/// not a note. Never NULL; do not free.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_frame_note_name(note: u32) -> *const c_char {
    static NAMES: NameTable = NameTable::new();
    name_of(&NAMES, note, frame_note_names, c"unknown")
}

/// Copies the calling thread's last error message into `buf`: the message of the last
/// `lp_` call on this thread that returned an error (each call returning `LP_OK` clears it;
/// this function itself neither sets nor clears it). The text is UTF-8, e.g.
/// `"invalid argument: frame plane 0 stride 100 < width 64 × 4 bytes"`.
///
/// Writes at most `len - 1` bytes of the message, cut at a UTF-8 character boundary, then a
/// NUL (nothing when `len` is 0). `*out_n` receives the length of the *whole* message in
/// bytes without the NUL, as `snprintf` returns it: `*out_n >= len` means the text was
/// truncated, and `buf = NULL, len = 0` asks only for the length. An empty message (no error)
/// writes `""` and `*out_n = 0`.
///
/// Returns `LP_NULL_ARGUMENT` (writing nothing) when `out_n` is NULL, or `buf` is NULL with
/// `len > 0`.
///
/// Thread-safety: any thread; reads only that thread's message.
///
/// # Safety
/// `buf` is NULL or writable for `len` bytes; `out_n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    let r = catch_panic(|| {
        if out_n.is_null() || (buf.is_null() && len > 0) {
            return Ok(lp_result::LP_NULL_ARGUMENT);
        }
        let message = LAST_ERROR
            .try_with(|e| e.try_borrow().map(|s| s.clone()).unwrap_or_default())
            .unwrap_or_default();
        if len > 0 {
            let mut n = message.len().min(len - 1);
            while !message.is_char_boundary(n) {
                n -= 1;
            }
            // SAFETY: `buf` is non-NULL (len > 0) and writable for `len > n` bytes by the
            // caller's contract; the source is our own copy.
            unsafe {
                std::ptr::copy_nonoverlapping(message.as_ptr(), buf.cast::<u8>(), n);
                buf.add(n).write(0);
            }
        }
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, message.len()) };
        Ok(lp_result::LP_OK)
    });
    r.unwrap_or(lp_result::LP_PANIC)
}

/// Routes the library's log records to stderr (Android: logcat; Apple with the `oslog`
/// feature: unified logging) at `level`: 0 off, 1 error, 2 warn, 3 info, 4 debug, 5 trace.
/// `RUST_LOG` refines it on desktop. Only the first call has an effect; later ones return
/// `LP_OK` and change nothing. `LP_INVALID_ARGUMENT` for a level above 5.
///
/// Thread-safety: any thread, any time.
#[no_mangle]
pub extern "C" fn lp_log_init(level: u32) -> lp_result {
    boundary(|| {
        let filter = match level {
            0 => log::LevelFilter::Off,
            1 => log::LevelFilter::Error,
            2 => log::LevelFilter::Warn,
            3 => log::LevelFilter::Info,
            4 => log::LevelFilter::Debug,
            5 => log::LevelFilter::Trace,
            other => {
                return Err(invalid(format!(
                    "log level {other} is out of range; expected 0 (off) ..= 5 (trace)"
                )))
            }
        };
        crate::logging::init_logging(filter);
        Ok(())
    })
}

//! `lp_token`: the server's session token, checked on the device.

use super::*;

/// A session token that passed every check on the device (signature by a pinned server key,
/// algorithm, lifetime ±30 s, claims, the policy against its hash). Immutable: any number of
/// threads may use it at once, and sessions keep their own reference, so it may be freed
/// while they run.
pub struct lp_token {
    pub(super) token: Arc<DeviceToken>,
    /// The policy in force as canonical JSON (the text its hash is taken over).
    pub(super) policy_json: String,
}

/// Checks the server's session token `token[0..token_len]` against the pinned server public
/// keys (`server_keys_pem[0..key_count]`: NUL-terminated SPKI PEM texts, the
/// `<kid>.pub.pem` files `liveproof-verifier keygen` writes) at the current time, and writes
/// the verified token to `*out_token`; free it with `lp_token_free`. `policy_json` (NULL when
/// not needed) is the policy's JSON for a token that names its policy by hash only.
///
/// Errors: `LP_NULL_ARGUMENT` (token with `token_len > 0`, server_keys_pem, a key, out_token),
/// `LP_INVALID_ARGUMENT` (`token_len` or `key_count` 0, a key that is not a P-256 SPKI PEM,
/// text that is not UTF-8, a policy JSON that does not parse, a by-hash token without it),
/// `LP_TOKEN_REJECTED` (the token fails a check: the message names it, e.g. "signature",
/// "unknown key id", "expired"; ask the server for a new token).
///
/// Thread-safety: any thread, any time.
///
/// # Safety
/// `token` is NULL or readable for `token_len` bytes; `server_keys_pem` is NULL or points to
/// `key_count` pointers, each NULL or a NUL-terminated string; `policy_json` is NULL or
/// NUL-terminated; `out_token` is NULL or writable. All are only read during the call.
#[no_mangle]
pub unsafe extern "C" fn lp_token_verify(
    token: *const u8,
    token_len: usize,
    server_keys_pem: *const *const c_char,
    key_count: usize,
    policy_json: *const c_char,
    out_token: *mut *mut lp_token,
) -> lp_result {
    const F: &str = "lp_token_verify";
    boundary(|| {
        // SAFETY: the caller's contract on `token`.
        let bytes = unsafe { byte_slice(token, token_len, F, "token") }?;
        if bytes.is_empty() {
            return Err(invalid(format!(
                "{F}: token_len is 0; expected the token's bytes"
            )));
        }
        if server_keys_pem.is_null() {
            return Err(null(F, "server_keys_pem"));
        }
        out_ptr(out_token, F, "out_token")?;
        let mut keys = Vec::with_capacity(key_count);
        for i in 0..key_count {
            // SAFETY: `server_keys_pem` is readable for `key_count` pointers (the caller's
            // contract) and `i < key_count`.
            let p = unsafe { server_keys_pem.add(i).read() };
            // SAFETY: the caller's contract on each key.
            keys.push(unsafe { utf8_arg(p, F, &format!("server_keys_pem[{i}]")) }?);
        }
        let policy = if policy_json.is_null() {
            None
        } else {
            // SAFETY: the caller's contract on `policy_json`; non-NULL here.
            Some(unsafe { utf8_arg(policy_json, F, "policy_json") }?)
        };
        let verified = DeviceToken::verify(
            bytes,
            &keys,
            policy.as_deref(),
            liveproof_core::trust::now_unix(),
        )?;
        let policy_json =
            serde_json::to_string(&verified.policy.policy).map_err(|e| ApiError::Invariant {
                message: format!("the token's policy does not serialise: {e}"),
            })?;
        let handle = Box::into_raw(Box::new(lp_token {
            token: Arc::new(verified),
            policy_json,
        }));
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_token, handle) };
        Ok(())
    })
}

/// Copies the token's session id (32 hex digits, the id the server looks the result up by)
/// and a NUL into `buf`; `len` must be at least `LP_SESSION_ID_SIZE` (33), else
/// `LP_BUFFER_TOO_SMALL` and nothing is written. `*out_n` receives 32.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; tokens are immutable.
///
/// # Safety
/// `token` is NULL or a live token; `buf` is NULL or writable for `len` bytes; `out_n` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_token_session_id(
    token: *const lp_token,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_token_session_id";
    boundary(|| {
        // SAFETY: the caller's contract on `token`.
        let t = unsafe { arg_ref(token, F, "token") }?;
        out_ptr(out_n, F, "out_n")?;
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(t.token.session_id().as_bytes(), buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Writes the token's expiry (`exp`, Unix seconds) to `*out_unix_s`. A session should start
/// before it; the device allows 30 s of clock skew, as the verifier does. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; tokens are immutable.
///
/// # Safety
/// `token` is NULL or a live token; `out_unix_s` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_token_expires_at(
    token: *const lp_token,
    out_unix_s: *mut u64,
) -> lp_result {
    const F: &str = "lp_token_expires_at";
    boundary(|| {
        // SAFETY: the caller's contract on `token`.
        let t = unsafe { arg_ref(token, F, "token") }?;
        out_ptr(out_unix_s, F, "out_unix_s")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_unix_s, t.token.verified.claims.expires_at) };
        Ok(())
    })
}

/// Writes the token's flow and risk tier (which decide the challenge and the bands) to
/// `*out_flow` and `*out_tier`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; tokens are immutable.
///
/// # Safety
/// `token` is NULL or a live token; `out_flow` and `out_tier` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_token_flow_tier(
    token: *const lp_token,
    out_flow: *mut lp_flow,
    out_tier: *mut lp_tier,
) -> lp_result {
    const F: &str = "lp_token_flow_tier";
    boundary(|| {
        // SAFETY: the caller's contract on `token`.
        let t = unsafe { arg_ref(token, F, "token") }?;
        out_ptr(out_flow, F, "out_flow")?;
        out_ptr(out_tier, F, "out_tier")?;
        let claims = &t.token.verified.claims;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe {
            write_out(out_flow, lp_flow::from_core(claims.flow));
            write_out(out_tier, lp_tier::from_core(claims.tier));
        }
        Ok(())
    })
}

/// Writes the buffer size `lp_token_policy_json` needs, in bytes *including* the NUL, to
/// `*out_size`. Errors: `LP_NULL_ARGUMENT`.
///
/// Thread-safety: any thread; tokens are immutable.
///
/// # Safety
/// `token` is NULL or a live token; `out_size` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_token_policy_json_size(
    token: *const lp_token,
    out_size: *mut usize,
) -> lp_result {
    const F: &str = "lp_token_policy_json_size";
    boundary(|| {
        // SAFETY: the caller's contract on `token`.
        let t = unsafe { arg_ref(token, F, "token") }?;
        out_ptr(out_size, F, "out_size")?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_size, t.policy_json.len() + 1) };
        Ok(())
    })
}

/// Copies the policy in force for the token's session (as canonical JSON: the text whose
/// SHA-256 the token and the signed result name) into `buf`, NUL-terminated. `len` must be at
/// least the size from `lp_token_policy_json_size`, else `LP_BUFFER_TOO_SMALL` and nothing is
/// written. `*out_n` receives the bytes written without the NUL.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; tokens are immutable.
///
/// # Safety
/// `token` is NULL or a live token; `buf` is NULL or writable for `len` bytes; `out_n` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_token_policy_json(
    token: *const lp_token,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_token_policy_json";
    boundary(|| {
        // SAFETY: the caller's contract on `token`.
        let t = unsafe { arg_ref(token, F, "token") }?;
        out_ptr(out_n, F, "out_n")?;
        // SAFETY: the caller's contract on `buf`.
        let n = unsafe { copy_c_string(t.policy_json.as_bytes(), buf, len, F) }?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, n) };
        Ok(())
    })
}

/// Frees a token. NULL is a no-op. Sessions started on it keep their own reference.
///
/// Thread-safety: no other call may use `token` during or after this one.
///
/// # Safety
/// `token` is NULL or a handle from `lp_token_verify` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_token_free(token: *mut lp_token) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in
    // `lp_token_verify`, not yet freed and used by no other call.
    unsafe { free_handle(token, None) };
}

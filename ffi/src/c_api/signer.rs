//! `lp_signer`: the device key a token session signs its result with: a software key, or the
//! host's hardware key behind a callback.

use std::ffi::c_void;

use liveproof_core::trust::{DevicePublicKey, SignatureBytes, SoftwareSigner, TrustError};

use super::*;

/// Signs one message with the host's key (Android Keystore / StrongBox, the Secure Enclave,
/// an HSM): ECDSA P-256 over **SHA-256 of** `message[0..message_len]` (ES256; the platform
/// APIs `SHA256withECDSA` and `ecdsaSignatureMessageX962SHA256` hash for you). `message` is
/// the COSE `Sig_structure` of the result. Write the signature into
/// `out_sig[0..sig_capacity]` (`sig_capacity` is `LP_SIGNATURE_MAX_SIZE`), its length to
/// `*out_sig_len` and its encoding (an `lp_signature_format` value) to `*out_format`, and
/// return 0. Any other return value is a failure (the user dismissed the prompt, the key is
/// gone): `lp_session_finish` then returns `LP_SIGNER_FAILED` with the value in the message,
/// and the session keeps its decision so that `lp_session_finish` can be called again.
///
/// Called on the thread that calls `lp_session_finish` or `lp_session_cancel`, possibly
/// from several threads at once when several sessions share the signer; the pointers are
/// valid only during the call. It must not call back into the session being finished, and
/// must return (no `longjmp`, no C++ exception).
pub type lp_sign_callback = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        message: *const u8,
        message_len: usize,
        out_sig: *mut u8,
        sig_capacity: usize,
        out_sig_len: *mut usize,
        out_format: *mut u32,
    ) -> i32,
>;

/// Releases a signer callback's `user_data`, called once when the last reference to the
/// signer goes (its `lp_signer_free`, or the last session using it being freed), on that
/// thread.
pub type lp_free_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A device key. Immutable and thread-safe: any number of sessions, on any threads, may
/// share one; each keeps its own reference, so it may be freed while they run.
pub struct lp_signer {
    pub(super) signer: Arc<dyn Signer>,
}

/// The host's key behind C callbacks.
struct CallbackSigner {
    key: DevicePublicKey,
    sign: unsafe extern "C" fn(
        *mut c_void,
        *const u8,
        usize,
        *mut u8,
        usize,
        *mut usize,
        *mut u32,
    ) -> i32,
    user_data: *mut c_void,
    free: lp_free_callback,
}

// SAFETY: `lp_signer_new_callback`'s contract: the callback and `user_data` may be used from
// any thread, concurrently.
unsafe impl Send for CallbackSigner {}
// SAFETY: as above; the Rust side holds no state besides the immutable fields.
unsafe impl Sync for CallbackSigner {}

impl Drop for CallbackSigner {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the contract of `lp_signer_new_callback`: `free` accepts this
            // `user_data`, called once (this is the signer's one drop).
            unsafe { free(self.user_data) };
        }
    }
}

impl Signer for CallbackSigner {
    fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
        Ok(self.key.clone())
    }

    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
        let mut sig = [0u8; LP_SIGNATURE_MAX_SIZE];
        let mut n = 0usize;
        let mut format = 0u32;
        // SAFETY: the callback's contract; every pointer is valid for the call: `message`
        // for its length, `sig` for `sig.len()` bytes, `n` and `format` writable locals.
        let rc = unsafe {
            (self.sign)(
                self.user_data,
                message.as_ptr(),
                message.len(),
                sig.as_mut_ptr(),
                sig.len(),
                &mut n,
                &mut format,
            )
        };
        if rc != 0 {
            return Err(TrustError::Signer(format!(
                "the signer callback returned {rc}"
            )));
        }
        if n > sig.len() {
            return Err(TrustError::Signer(format!(
                "the signer callback declared a {n}-byte signature; the buffer holds {}",
                sig.len()
            )));
        }
        let bytes = match lp_signature_format::from_u32(format) {
            Some(lp_signature_format::LP_SIGNATURE_RAW) if n == 64 => {
                let mut raw = [0u8; 64];
                raw.copy_from_slice(&sig[..64]);
                SignatureBytes::Raw(raw)
            }
            Some(lp_signature_format::LP_SIGNATURE_RAW) => {
                return Err(TrustError::Signer(format!(
                    "the signer callback declared a raw signature of {n} bytes; expected 64 (r ‖ s)"
                )))
            }
            Some(lp_signature_format::LP_SIGNATURE_DER) => SignatureBytes::Der(sig[..n].to_vec()),
            None => {
                return Err(TrustError::Signer(format!(
                    "the signer callback declared format {format}; expected \
                     LP_SIGNATURE_RAW (1) or LP_SIGNATURE_DER (2)"
                )))
            }
        };
        // The format only: core checks the signature under `key` before sealing (a wrong key
        // or hash is `LP_SIGNER_FAILED` there, the decision kept).
        Ok(bytes)
    }
}

fn new_signer(signer: Arc<dyn Signer>) -> *mut lp_signer {
    Box::into_raw(Box::new(lp_signer { signer }))
}

/// A signer around the host's own key: `public_key[0..public_key_len]` is its public half,
/// SEC1 uncompressed (`LP_PUBLIC_KEY_SIZE` = 65 bytes, `0x04 ‖ x ‖ y`; checked to be on
/// P-256), `sign` signs (see `lp_sign_callback`), `user_data` is passed to it, and
/// `free_user_data` (may be NULL) releases `user_data` when the last reference to the signer
/// goes. Each signature is checked against the public key before it is used. Free the signer
/// with `lp_signer_free`.
///
/// On failure nothing is kept: `free_user_data` is *not* called, `user_data` stays the
/// caller's.
///
/// Errors: `LP_NULL_ARGUMENT` (public_key, sign, out_signer), `LP_INVALID_ARGUMENT` (not a
/// P-256 SEC1 point).
///
/// Thread-safety: any thread. `sign` and `free_user_data` may be called on any thread, and
/// `sign` concurrently when several sessions finish at once: `user_data` must allow it.
///
/// # Safety
/// `public_key` is NULL or readable for `public_key_len` bytes; `sign` and `free_user_data`
/// follow their contracts for `user_data` until `free_user_data` is called (or, without it,
/// until the last session using the signer is freed); `out_signer` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_signer_new_callback(
    public_key: *const u8,
    public_key_len: usize,
    sign: lp_sign_callback,
    user_data: *mut c_void,
    free_user_data: lp_free_callback,
    out_signer: *mut *mut lp_signer,
) -> lp_result {
    const F: &str = "lp_signer_new_callback";
    boundary(|| {
        if public_key.is_null() {
            return Err(null(F, "public_key"));
        }
        // SAFETY: the caller's contract on `public_key`.
        let sec1 = unsafe { byte_slice(public_key, public_key_len, F, "public_key") }?;
        let sign = sign.ok_or_else(|| null(F, "sign"))?;
        out_ptr(out_signer, F, "out_signer")?;
        if sec1.len() != LP_PUBLIC_KEY_SIZE {
            return Err(invalid(format!(
                "{F}: public_key_len is {}; expected {LP_PUBLIC_KEY_SIZE} (SEC1 uncompressed: \
                 0x04 ‖ x ‖ y)",
                sec1.len()
            )));
        }
        let key = DevicePublicKey::from_sec1(sec1)
            .map_err(|e| invalid(format!("{F}: public_key: {e}")))?;
        let signer = CallbackSigner {
            key,
            sign,
            user_data,
            free: free_user_data,
        };
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_signer, new_signer(Arc::new(signer))) };
        Ok(())
    })
}

/// A signer with a software P-256 key from its PKCS#8 PEM text (`-----BEGIN PRIVATE
/// KEY-----`, as `liveproof keygen` writes it): for development, tests and hosts without a
/// hardware key. The text is only read during the call. Free it with `lp_signer_free`.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_INVALID_ARGUMENT` (not UTF-8, not a PKCS#8 P-256 key).
///
/// Thread-safety: any thread, any time.
///
/// # Safety
/// `pkcs8_pem` is NULL or NUL-terminated; `out_signer` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_signer_new_software(
    pkcs8_pem: *const c_char,
    out_signer: *mut *mut lp_signer,
) -> lp_result {
    const F: &str = "lp_signer_new_software";
    boundary(|| {
        // SAFETY: the caller's contract on `pkcs8_pem`.
        let pem = unsafe { utf8_arg(pkcs8_pem, F, "pkcs8_pem") }?;
        out_ptr(out_signer, F, "out_signer")?;
        let key = SoftwareSigner::from_pkcs8_pem(&pem)
            .map_err(|e| invalid(format!("{F}: pkcs8_pem: {e}")))?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_signer, new_signer(Arc::new(key))) };
        Ok(())
    })
}

/// Copies the signer's public key, SEC1 uncompressed (65 bytes), into `buf`; `len` must be
/// at least `LP_PUBLIC_KEY_SIZE`, else `LP_BUFFER_TOO_SMALL` and nothing is written.
/// `*out_n` receives 65. Register this key with the verifier for the tenant.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_BUFFER_TOO_SMALL`.
///
/// Thread-safety: any thread; signers are immutable.
///
/// # Safety
/// `signer` is NULL or a live signer; `buf` is NULL or writable for `len` bytes; `out_n` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_signer_public_key(
    signer: *const lp_signer,
    buf: *mut u8,
    len: usize,
    out_n: *mut usize,
) -> lp_result {
    const F: &str = "lp_signer_public_key";
    boundary(|| {
        // SAFETY: the caller's contract on `signer`.
        let s = unsafe { arg_ref(signer, F, "signer") }?;
        if buf.is_null() {
            return Err(null(F, "buf"));
        }
        out_ptr(out_n, F, "out_n")?;
        let sec1 = s
            .signer
            .public_key()
            .map_err(|e| ApiError::Signer {
                message: e.to_string(),
            })?
            .sec1();
        if len < sec1.len() {
            return Err(buffer_too_small(F, "buf", len, sec1.len()));
        }
        // SAFETY: `buf` is non-NULL and writable for `len ≥ sec1.len()` bytes by the
        // caller's contract; the source is our own vector.
        unsafe { std::ptr::copy_nonoverlapping(sec1.as_ptr(), buf, sec1.len()) };
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_n, sec1.len()) };
        Ok(())
    })
}

/// Frees a signer. NULL is a no-op. Sessions started with it keep their own reference; a
/// callback signer's `free_user_data` runs when the last reference goes.
///
/// Thread-safety: no other call may use `signer` during or after this one.
///
/// # Safety
/// `signer` is NULL or a handle from `lp_signer_new_*` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_signer_free(signer: *mut lp_signer) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in `new_signer`,
    // not yet freed and used by no other call.
    unsafe { free_handle(signer, None) };
}

//! `lp_session`: one capture, from the first frame to the (signed) outcome.

use super::*;

/// One capture: one attempt. Calls on it are serialised by a lock inside, so it may be used
/// from any thread (one call at a time is the intended use: frames arrive in order).
pub struct lp_session {
    pub(super) session: LiveSession,
}

/// Fills `*out_config` with the defaults: `capture_device = NULL`, `off_path = 1`,
/// `live_capture = 1`, core's target oval, no template, no camera name, nothing declared;
/// `struct_size` = the given size. Exactly `struct_size` bytes are written; a size this
/// library does not know (it knows `LP_SESSION_CONFIG_SIZE_V1` and `_V2`) is
/// `LP_INVALID_ARGUMENT` and nothing is written. Call it as `lp_session_config_init(sizeof(lp_session_config), &c)`.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_INVALID_ARGUMENT`.
///
/// Thread-safety: any thread.
///
/// # Safety
/// `out_config` is NULL or writable for `struct_size` bytes.
#[no_mangle]
pub unsafe extern "C" fn lp_session_config_init(
    struct_size: usize,
    out_config: *mut lp_session_config,
) -> lp_result {
    const F: &str = "lp_session_config_init";
    boundary(|| {
        check_struct_size::<lp_session_config>(struct_size, F)?;
        out_ptr(out_config, F, "out_config")?;
        // SAFETY: checked non-NULL; writable for `struct_size` bytes (a known version's
        // size) by the caller's contract.
        unsafe { write_versioned(out_config, session_config_defaults(), struct_size) };
        Ok(())
    })
}

/// Starts a production capture on `engine` for a verified `token`: the token fixes the
/// challenge seed, flow, tier, attempt and policy, the device probes run, and the outcome is
/// signed with `signer` for the verifier. `config` may be NULL (defaults; a token session is
/// always a live capture whatever `live_capture` says). Writes the session to
/// `*out_session`; free it with `lp_session_free`.
///
/// The first session on an engine also loads the session's models, calibration and policy
/// (about 0.5 s, once per engine) unless the engine was made with `preload_session = 1`.
/// The engine, token and signer may be freed while the session runs: it keeps its own
/// references.
///
/// Errors: `LP_NULL_ARGUMENT` (engine, token, signer, out_session), `LP_INVALID_ARGUMENT`
/// (config: struct_size, a flag not 0/1, a non-finite oval, text not UTF-8; a policy that
/// does not fit the engine's calibration), `LP_MODEL_MISSING`, `LP_MODEL_INTEGRITY`,
/// `LP_MODEL_INVALID` (loading the session's models).
///
/// Thread-safety: any thread, concurrently with other calls on the same engine, token and
/// signer.
///
/// # Safety
/// `engine`, `token` and `signer` are NULL or live handles; `config` is NULL or a readable
/// `lp_session_config` of the size it declares; `out_session` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_session_new(
    engine: *const lp_engine,
    token: *const lp_token,
    signer: *const lp_signer,
    config: *const lp_session_config,
    out_session: *mut *mut lp_session,
) -> lp_result {
    const F: &str = "lp_session_new";
    boundary(|| {
        // SAFETY: the caller's contract on each handle.
        let engine = unsafe { arg_ref(engine, F, "engine") }?;
        let token = unsafe { arg_ref(token, F, "token") }?;
        let signer = unsafe { arg_ref(signer, F, "signer") }?;
        out_ptr(out_session, F, "out_session")?;
        // SAFETY: the caller's contract on `config`.
        let (config, options) = unsafe { session_config_from_c(config, F) }?;
        let kind = SessionKind::Token {
            token: token.token.clone(),
            signer: signer.signer.clone(),
        };
        let handle = start(engine, kind, config, options)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_session, handle) };
        Ok(())
    })
}

/// Starts a local capture without a server (development, kiosks without a backend): decided
/// on the device and **never signed**. `seed[0..seed_len]` (`LP_SEED_SIZE` = 32 bytes) fixes
/// the challenge; `flow` and `tier` are `lp_flow` and `lp_tier` values; `policy_json` is the
/// policy to decide under (NULL: the shipped default, `lp_policy_default_json`); `config` may
/// be NULL. Writes the session to `*out_session`; free it with `lp_session_free`. As
/// `lp_session_new`, the first session on an engine loads the session's models once.
///
/// Errors: `LP_NULL_ARGUMENT` (engine, seed, out_session), `LP_INVALID_ARGUMENT` (seed_len,
/// flow, tier, a policy that does not parse or validate, config), `LP_MODEL_MISSING`,
/// `LP_MODEL_INTEGRITY`, `LP_MODEL_INVALID`.
///
/// Thread-safety: any thread, concurrently with other calls on the same engine.
///
/// # Safety
/// `engine` is NULL or a live engine; `seed` is NULL or readable for `seed_len` bytes;
/// `policy_json` is NULL or NUL-terminated; `config` as for `lp_session_new`; `out_session` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_session_new_local(
    engine: *const lp_engine,
    seed: *const u8,
    seed_len: usize,
    flow: u32,
    tier: u32,
    policy_json: *const c_char,
    config: *const lp_session_config,
    out_session: *mut *mut lp_session,
) -> lp_result {
    const F: &str = "lp_session_new_local";
    boundary(|| {
        // SAFETY: the caller's contract on `engine`.
        let engine = unsafe { arg_ref(engine, F, "engine") }?;
        if seed.is_null() {
            return Err(null(F, "seed"));
        }
        // SAFETY: the caller's contract on `seed`.
        let seed = unsafe { byte_slice(seed, seed_len, F, "seed") }?;
        out_ptr(out_session, F, "out_session")?;
        let seed: [u8; LP_SEED_SIZE] = seed.try_into().map_err(|_| {
            invalid(format!(
                "{F}: seed_len is {seed_len}; expected {LP_SEED_SIZE} bytes"
            ))
        })?;
        let flow = lp_flow::from_u32(flow).ok_or_else(|| {
            invalid(format!(
                "{F}: flow {flow} is not an lp_flow; expected 1..=4 \
                 (LP_FLOW_ACCOUNT_OPENING .. LP_FLOW_RECOVERY)"
            ))
        })?;
        let tier = lp_tier::from_u32(tier).ok_or_else(|| {
            invalid(format!(
                "{F}: tier {tier} is not an lp_tier; expected 1..=3 (LP_TIER_LOW .. LP_TIER_HIGH)"
            ))
        })?;
        let policy = if policy_json.is_null() {
            None
        } else {
            // SAFETY: the caller's contract on `policy_json`; non-NULL here.
            let json = unsafe { utf8_arg(policy_json, F, "policy_json") }?;
            let policy = LoadedPolicy::from_json(&json)
                .map_err(|e| invalid(format!("{F}: policy_json: {e}")))?;
            Some(Arc::new(policy))
        };
        // SAFETY: the caller's contract on `config`.
        let (config, options) = unsafe { session_config_from_c(config, F) }?;
        let kind = SessionKind::Local {
            seed,
            flow: flow.to_core(),
            tier: tier.to_core(),
            policy,
        };
        let handle = start(engine, kind, config, options)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_session, handle) };
        Ok(())
    })
}

fn start(
    engine: &lp_engine,
    kind: SessionKind,
    config: SessionConfig,
    options: SessionOptions,
) -> Result<*mut lp_session, Failure> {
    let session_engine = engine.session_engine()?;
    let session = LiveSession::start(&session_engine, kind, options, config)?;
    Ok(Box::into_raw(Box::new(lp_session { session })))
}

/// Consumes the next camera frame and writes what the UI should show into `*out_feedback`,
/// a struct the caller owns: set `out_feedback->struct_size = sizeof(lp_feedback)` once and
/// pass the same struct for every frame (no allocation per frame). Exactly `struct_size`
/// bytes are written, and only on success. The frame's planes are only read during the call.
/// Frames must come in capture order with increasing `timestamp_ns` (the stream heuristics
/// use them). When `phase` becomes `LP_PHASE_DONE`, call `lp_session_finish`.
///
/// A bad frame (`LP_INVALID_ARGUMENT`) or a failure on one frame (`LP_PROCESSING`) leaves the
/// session open for the next frame.
///
/// Errors: `LP_NULL_ARGUMENT` (session, frame, a used plane's data, out_feedback),
/// `LP_INVALID_ARGUMENT` (the frame as for `lp_engine_analyze_frame`; an unknown
/// `out_feedback->struct_size`), `LP_PROCESSING`, `LP_SESSION_STATE` (the session finished,
/// was cancelled or owes its signature: the message says which).
///
/// Thread-safety: any thread; calls on one session are serialised (send frames from one
/// thread). Different sessions run concurrently.
///
/// # Safety
/// `session` is NULL or a live session; `frame` as for `lp_engine_analyze_frame`;
/// `out_feedback` is NULL or an aligned `lp_feedback` readable and writable for the
/// `struct_size` it declares.
#[no_mangle]
pub unsafe extern "C" fn lp_session_push_frame(
    session: *mut lp_session,
    frame: *const lp_frame,
    out_feedback: *mut lp_feedback,
) -> lp_result {
    const F: &str = "lp_session_push_frame";
    boundary(|| {
        // SAFETY: the caller's contract on `session` and `frame`.
        let s = unsafe { arg_ref(session.cast_const(), F, "session") }?;
        let frame = unsafe { arg_ref(frame, F, "frame") }?;
        // SAFETY: the caller's contract on `out_feedback`; its size is read through the raw
        // pointer.
        let size = unsafe { check_versioned_out(out_feedback, F, "out_feedback") }?;
        // SAFETY: the caller's contract on the planes.
        let frame = unsafe { frame_from_c(frame, F) }?;
        let feedback = s.session.push_frame(&frame)?;
        // SAFETY: checked non-NULL and writable for `size` bytes, a known version's size.
        unsafe { write_versioned(out_feedback, feedback_to_c(&feedback), size) };
        Ok(())
    })
}

/// Decides and, for a token session, signs: writes the outcome to `*out_outcome` (free it
/// with `lp_outcome_free`). A spoof, a timeout or too few frames is an outcome (band fail or
/// retry with its reasons), not an error.
///
/// When the signer fails (`LP_SIGNER_FAILED`: a callback returned non-zero, or its signature
/// did not verify under the signer's public key), nothing is written and the session keeps
/// its decision, its signature owed: call `lp_session_finish` again (after the user confirms
/// the prompt) to sign it; the capture is not repeated. After a successful finish (or
/// cancel) the session is over: another finish, cancel or frame is `LP_SESSION_STATE`.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_SIGNER_FAILED`, `LP_SESSION_STATE`.
///
/// Thread-safety: as `lp_session_push_frame`. A callback signer is called on this thread.
///
/// # Safety
/// `session` is NULL or a live session; `out_outcome` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_session_finish(
    session: *mut lp_session,
    out_outcome: *mut *mut lp_outcome,
) -> lp_result {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        conclude(
            session,
            out_outcome,
            "lp_session_finish",
            LiveSession::finish,
        )
    }
}

/// Ends the capture early (the user left, the app went to the background) and writes the
/// outcome to `*out_outcome` (free it with `lp_outcome_free`). What happens depends on the
/// session's state:
///
/// - Open (not yet decided): the session decides on what it has so far, with
///   `lp_outcome_cancelled` true (a capture cancelled before it completed is retry, its
///   reasons saying what was missing: `capture_incomplete`, or `no_face` when no face was
///   seen), and a token session signs it so that the server can count the attempt. A
///   signer failure is as for `lp_session_finish`: `LP_SIGNER_FAILED`, nothing written, the
///   cancelled decision kept with its signature owed.
/// - Its signature owed (an earlier `lp_session_finish` or `lp_session_cancel` returned
///   `LP_SIGNER_FAILED`): nothing is decided again and the kept decision is not turned into a
///   cancelled one; it is signed exactly as `lp_session_finish` would (`lp_outcome_cancelled`
///   says which call made the decision). The signer may fail again, and the decision stays
///   owed.
/// - Finished (a finish or cancel succeeded), or broken by an earlier `LP_PANIC`:
///   `LP_SESSION_STATE`, nothing written.
///
/// Errors: `LP_NULL_ARGUMENT`, `LP_SIGNER_FAILED` (see above), `LP_SESSION_STATE` (the session
/// already finished, or an earlier call on it panicked).
///
/// Thread-safety: as `lp_session_push_frame`. A callback signer is called on this thread.
///
/// # Safety
/// `session` is NULL or a live session; `out_outcome` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn lp_session_cancel(
    session: *mut lp_session,
    out_outcome: *mut *mut lp_outcome,
) -> lp_result {
    // SAFETY: the caller's contract, passed on.
    unsafe {
        conclude(
            session,
            out_outcome,
            "lp_session_cancel",
            LiveSession::cancel,
        )
    }
}

/// The body of `lp_session_finish` and `lp_session_cancel`: `end` concludes the session, the
/// outcome goes to `*out_outcome`.
///
/// # Safety
/// `session` is NULL or a live session; `out_outcome` is NULL or writable.
unsafe fn conclude(
    session: *mut lp_session,
    out_outcome: *mut *mut lp_outcome,
    func: &str,
    end: fn(&LiveSession) -> Result<Outcome, ApiError>,
) -> lp_result {
    boundary(|| {
        // SAFETY: the caller's contract on `session`.
        let s = unsafe { arg_ref(session.cast_const(), func, "session") }?;
        out_ptr(out_outcome, func, "out_outcome")?;
        let outcome = end(&s.session)?;
        // SAFETY: checked non-NULL; writable by the caller's contract.
        unsafe { write_out(out_outcome, new_outcome(outcome)) };
        Ok(())
    })
}

/// Frees a session (and its worker thread). NULL is a no-op. An unfinished session is
/// dropped without an outcome; outcomes already made stay valid.
///
/// Thread-safety: no other call may use `session` during or after this one.
///
/// # Safety
/// `session` is NULL or a handle from `lp_session_new*` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn lp_session_free(session: *mut lp_session) {
    // SAFETY: the caller's contract: NULL or a live handle from `Box::into_raw` in `start`,
    // not yet freed and used by no other call.
    unsafe { free_handle(session, Some(|s: &lp_session| s.session.close())) };
}

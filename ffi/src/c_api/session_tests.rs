//! The session half of the C ABI called from Rust: every enum's one list (values, core
//! conversions and names round-trip), versioned structs read and written within the
//! caller's size, tokens (valid, expired, tampered, another server's), callback signers
//! (raw, DER, failing, wrong key), and (with the set-up's environment, as under
//! `cargo xtask test`) a token session on synthetic frames whose signed result verifies.

use std::ffi::{c_void, CStr, CString};
use std::ptr;

use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::policy::{Band, FlowType, ReasonCode, RiskTier};
use liveproof_core::session::{Phase, UserPrompt};
use liveproof_core::trust::testkit::synthetic_result;
use liveproof_core::trust::{
    issue_token, now_unix, sign_result, verify_token, ServerKeySet, SignatureBytes, SoftwareSigner,
    TokenClaims,
};

use super::tests::last_error;
use super::*;

fn cstr(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the library returns static NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned()
}

#[test]
fn every_enum_round_trips_through_its_one_list() {
    for r in lp_result::ALL {
        assert_eq!(lp_result::from_u32(*r as u32), Some(*r));
        assert_eq!(cstr(lp_result_name(*r as u32)), format!("{r:?}"));
    }
    for h in lp_hint::ALL {
        assert_eq!(lp_hint::from_core(h.to_core()), *h);
        assert_eq!(cstr(lp_hint_name(*h as u32)), h.to_core().as_str());
    }
    assert_eq!(lp_hint::ALL.len(), Hint::ALL.len());
    assert_eq!(lp_frame_note::ALL.len(), LP_FRAME_NOTE_COUNT);
    for n in lp_frame_note::ALL {
        assert_eq!(lp_frame_note::from_core(n.to_core()), *n);
        assert_eq!(cstr(lp_frame_note_name(*n as u32)), serde_name(n.to_core()));
    }
    for b in Band::ALL {
        let c = lp_band::from_core(b);
        assert_eq!(c.to_core(), b);
        assert_eq!(lp_band::from_u32(c as u32), Some(c));
        assert_eq!(cstr(lp_band_name(c as u32)), b.as_str());
    }
    assert_eq!(lp_band::ALL.len(), Band::ALL.len());
    assert_eq!(LP_REASON_COUNT, ReasonCode::ALL.len());
    assert_eq!(lp_reason::ALL.len(), ReasonCode::ALL.len());
    for r in ReasonCode::ALL {
        let c = lp_reason::from_core(*r);
        assert_eq!(
            c as u32,
            u32::from(r.code()),
            "{r:?}: the C value is core's number"
        );
        assert_eq!(c.to_core(), *r);
        assert_eq!(cstr(lp_reason_name(c as u32)), r.as_str());
    }
    let phases = [
        Phase::Positioning,
        Phase::Passive,
        Phase::Challenge,
        Phase::Done,
    ];
    assert_eq!(lp_phase::ALL.len(), phases.len());
    for p in phases {
        let c = lp_phase::from_core(p);
        assert_eq!(c.to_core(), p);
        assert_eq!(cstr(lp_phase_name(c as u32)), serde_name(p));
    }
    for c in lp_prompt::ALL {
        let p: UserPrompt = c.to_core();
        assert_eq!(lp_prompt::from_core(p), *c);
        assert_eq!(cstr(lp_prompt_name(*c as u32)), serde_name(p));
    }
    assert_eq!(cstr(lp_prompt_name(3)), "turn_left");
    for c in lp_flow::ALL {
        let f: FlowType = c.to_core();
        assert_eq!(cstr(lp_flow_name(*c as u32)), serde_name(f));
        assert_eq!(serde_name(f).parse::<FlowType>().unwrap(), f);
    }
    for c in lp_tier::ALL {
        let t: RiskTier = c.to_core();
        assert_eq!(cstr(lp_tier_name(*c as u32)), serde_name(t));
        assert_eq!(serde_name(t).parse::<RiskTier>().unwrap(), t);
    }
    // Values that are none: the documented fallbacks.
    assert_eq!(cstr(lp_result_name(6)), "LP_UNKNOWN_RESULT");
    assert_eq!(cstr(lp_hint_name(11)), "UNKNOWN");
    for name in [
        lp_frame_note_name(2),
        lp_reason_name(0),
        lp_reason_name(22),
        lp_band_name(0),
        lp_band_name(4),
        lp_phase_name(4),
        lp_prompt_name(7),
        lp_flow_name(0),
        lp_tier_name(4),
    ] {
        assert_eq!(cstr(name), "unknown");
    }
    // The same static pointer every time (the table is built once).
    assert_eq!(lp_band_name(1), lp_band_name(1));
}

/// An 8-aligned byte block standing in for the caller's memory.
#[repr(C, align(8))]
struct Block([u8; 96]);

#[test]
fn an_older_shorter_engine_config_is_read_and_written_within_its_size() {
    let mut block = Block([0xA5; 96]);
    let p = block.0.as_mut_ptr().cast::<lp_engine_config>();
    // SAFETY: the block is aligned and writable for 96 ≥ 48 bytes.
    let r = unsafe { lp_engine_config_init(LP_ENGINE_CONFIG_SIZE_V1, p) };
    assert_eq!(r, lp_result::LP_OK);
    assert!(
        block.0[LP_ENGINE_CONFIG_SIZE_V1..]
            .iter()
            .all(|&b| b == 0xA5),
        "written past the version-1 size"
    );
    assert_eq!(
        usize::from_ne_bytes(block.0[..8].try_into().unwrap()),
        LP_ENGINE_CONFIG_SIZE_V1
    );
    // Reading it: `preload_session` (bytes 48..52, still 0xA5) is not read but defaulted.
    // SAFETY: the block is readable for its declared 48 bytes.
    let c = unsafe { read_versioned(p.cast_const(), config_defaults(), "t", "config") }.unwrap();
    assert_eq!(c.preload_session, 0);
    assert_eq!(c.struct_size, LP_ENGINE_CONFIG_SIZE_V1);
    assert_eq!((c.max_faces, c.intra_op_threads), (4, 1));
    // The current size reads the 0xA5 bytes, which `lp_engine_new` then refuses.
    block.0[..8].copy_from_slice(&LP_ENGINE_CONFIG_SIZE_V2.to_ne_bytes());
    // SAFETY: as above, 56 bytes.
    let c = unsafe { read_versioned(p.cast_const(), config_defaults(), "t", "config") }.unwrap();
    assert_eq!(c.preload_session, 0xA5A5_A5A5);
    assert_eq!(
        flag(c.preload_session.into(), "config->preload_session")
            .unwrap_err()
            .message,
        "invalid argument: config->preload_session is 2779096485; expected 0 or 1"
    );
    // Unknown sizes: refused, naming the known ones.
    for size in [0, 8, 47, 52, 64] {
        block.0[..8].copy_from_slice(&usize::to_ne_bytes(size));
        // SAFETY: as above.
        let e = unsafe { read_versioned(p.cast_const(), config_defaults(), "f", "config") }
            .unwrap_err();
        assert_eq!(e.code, lp_result::LP_INVALID_ARGUMENT);
        assert!(
            e.message.contains(&format!(
                "lp_engine_config struct_size is {size}; expected one of 48, 56"
            )),
            "{}",
            e.message
        );
    }
}

#[test]
fn feedback_is_written_within_the_callers_size_and_only_when_known() {
    let mut block = Block([0x3C; 96]);
    let p = block.0.as_mut_ptr().cast::<lp_feedback>();
    block.0[..8].copy_from_slice(&LP_FEEDBACK_SIZE_V1.to_ne_bytes());
    // SAFETY: aligned, readable and writable for 96 ≥ 72 bytes.
    let size = unsafe { check_versioned_out(p, "f", "out_feedback") }.unwrap();
    let fb = feedback_to_c(&FrameFeedback {
        phase: Phase::Challenge,
        prompt: UserPrompt::TurnLeft,
        hints: [Hint::TooDark, Hint::Blurry].into_iter().collect(),
        progress: 0.5,
        step_index: 1,
        step_count: 3,
        face_box: None,
        target_oval: [0.5, 0.45, 0.3, 0.4],
        used: true,
    });
    // SAFETY: checked above.
    unsafe { write_versioned(p, fb, size) };
    assert!(block.0[LP_FEEDBACK_SIZE_V1..].iter().all(|&b| b == 0x3C));
    // SAFETY: fully written, a valid lp_feedback.
    let got = unsafe { p.read() };
    assert_eq!(got.phase, lp_phase::LP_PHASE_CHALLENGE);
    assert_eq!(got.prompt, lp_prompt::LP_PROMPT_TURN_LEFT);
    assert_eq!(got.hints, (1 << 3) | (1 << 9));
    assert_eq!((got.step_index, got.step_count, got.used), (1, 3, true));
    assert!(!got.has_face_box && got.face_box == [0.0; 4]);
    // An unknown size is refused before anything is written.
    let mut block = Block([0x3C; 96]);
    block.0[..8].copy_from_slice(&64usize.to_ne_bytes());
    let p = block.0.as_mut_ptr().cast::<lp_feedback>();
    // SAFETY: as above.
    let e = unsafe { check_versioned_out(p, "f", "out_feedback") }.unwrap_err();
    assert_eq!(e.code, lp_result::LP_INVALID_ARGUMENT);
    assert!(block.0[8..].iter().all(|&b| b == 0x3C));
}

// ---- tokens and signers, no models needed ---------------------------------------------------

/// A server key set in a fresh temporary folder, its public PEM, and a token issuer.
struct Server {
    keys: ServerKeySet,
    pub_pem: CString,
    dir: std::path::PathBuf,
}

impl Server {
    fn new(name: &str) -> Server {
        let dir = std::env::temp_dir().join(format!(
            "liveproof-capi-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let kid = ServerKeySet::generate(&dir).unwrap();
        let pem = std::fs::read_to_string(dir.join(format!("{kid}.pub.pem"))).unwrap();
        Server {
            keys: ServerKeySet::load(&dir).unwrap(),
            pub_pem: CString::new(pem).unwrap(),
            dir,
        }
    }

    fn token(&self, issued_at: u64, expires_at: u64) -> Vec<u8> {
        let policy = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap();
        let mut sha = [0u8; 32];
        for (i, b) in sha.iter_mut().enumerate() {
            *b = u8::from_str_radix(&policy.sha256[2 * i..2 * i + 2], 16).unwrap();
        }
        let claims = TokenClaims {
            issuer: "liveproof-verifier".into(),
            issued_at,
            expires_at,
            session_id: [0xAB; 16],
            nonce: vec![7; 16],
            tenant: "capi".into(),
            seed: [3; 32],
            flow: FlowType::Login,
            tier: RiskTier::High,
            policy_sha256: sha,
            policy_json: Some(liveproof_core::defaults::POLICY_JSON.into()),
            attempt: 1,
            max_attempts: 3,
            consecutive_failures: 0,
        };
        issue_token(&claims, &self.keys).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn verify(bytes: &[u8], keys: &[&CString]) -> (lp_result, *mut lp_token, String) {
    let ptrs: Vec<*const c_char> = keys.iter().map(|k| k.as_ptr()).collect();
    let sentinel = 0x5EED as *mut lp_token;
    let mut t = sentinel;
    // SAFETY: valid buffers for the stated lengths, NUL-terminated keys, a valid out pointer.
    let r = unsafe {
        lp_token_verify(
            bytes.as_ptr(),
            bytes.len(),
            ptrs.as_ptr(),
            ptrs.len(),
            ptr::null(),
            &mut t,
        )
    };
    if r != lp_result::LP_OK {
        assert_eq!(t, sentinel, "written on failure");
        return (r, ptr::null_mut(), last_error());
    }
    (r, t, String::new())
}

#[test]
fn tokens_valid_expired_tampered_and_of_another_server() {
    let server = Server::new("tokens");
    let other = Server::new("other");
    let now = now_unix();
    let good = server.token(now, now + 300);
    let (r, t, _) = verify(&good, &[&server.pub_pem]);
    assert_eq!(r, lp_result::LP_OK);
    let mut id = [0 as c_char; LP_SESSION_ID_SIZE];
    let mut n = 0usize;
    let mut exp = 0u64;
    let mut flow = lp_flow::LP_FLOW_ACCOUNT_OPENING;
    let mut tier = lp_tier::LP_TIER_LOW;
    let mut size = 0usize;
    // SAFETY: a live token and valid out pointers throughout.
    unsafe {
        assert_eq!(
            lp_token_session_id(t, id.as_mut_ptr(), id.len(), &mut n),
            lp_result::LP_OK
        );
        assert_eq!(lp_token_expires_at(t, &mut exp), lp_result::LP_OK);
        assert_eq!(
            lp_token_flow_tier(t, &mut flow, &mut tier),
            lp_result::LP_OK
        );
        assert_eq!(lp_token_policy_json_size(t, &mut size), lp_result::LP_OK);
    }
    assert_eq!(cstr(id.as_ptr()), "ab".repeat(16));
    assert_eq!(n, 32);
    assert_eq!(exp, now + 300);
    assert_eq!(
        (flow, tier),
        (lp_flow::LP_FLOW_LOGIN, lp_tier::LP_TIER_HIGH)
    );
    let mut json = vec![0 as c_char; size];
    // SAFETY: as above; the buffer holds `size` bytes.
    assert_eq!(
        unsafe { lp_token_policy_json(t, json.as_mut_ptr(), size, &mut n) },
        lp_result::LP_OK
    );
    let json = cstr(json.as_ptr());
    // The canonical form: its hash is the one the token names.
    let policy = LoadedPolicy::from_json(&json).unwrap();
    let shipped = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap();
    assert_eq!(policy.sha256, shipped.sha256);
    // SAFETY: a live token, freed once.
    unsafe { lp_token_free(t) };

    // Expired beyond the 30 s skew.
    let expired = server.token(now - 500, now - 120);
    let (r, _, m) = verify(&expired, &[&server.pub_pem]);
    assert_eq!(r, lp_result::LP_TOKEN_REJECTED, "{m}");
    assert!(m.starts_with("token rejected: token expired at"), "{m}");
    // Issued in the future.
    let future = server.token(now + 1000, now + 1300);
    let (r, _, m) = verify(&future, &[&server.pub_pem]);
    assert_eq!(r, lp_result::LP_TOKEN_REJECTED, "{m}");
    assert!(m.contains("issued in the future"), "{m}");
    // Another server's key.
    let (r, _, m) = verify(&good, &[&other.pub_pem]);
    assert_eq!(r, lp_result::LP_TOKEN_REJECTED, "{m}");
    assert!(m.contains("unknown key id"), "{m}");
    // Among the pinned keys, the right one is found. (This handle was once dropped without
    // `lp_token_free`: LeakSanitizer, running these tests, found it.)
    let (r, t, m) = verify(&good, &[&other.pub_pem, &server.pub_pem]);
    assert_eq!(r, lp_result::LP_OK, "{m}");
    // SAFETY: a live token, freed once.
    unsafe { lp_token_free(t) };
    // A flipped signature byte.
    let mut tampered = good.clone();
    let last = tampered.len() - 3;
    tampered[last] ^= 0x80;
    let (r, _, m) = verify(&tampered, &[&server.pub_pem]);
    assert_eq!(r, lp_result::LP_TOKEN_REJECTED, "{m}");
    assert!(m.contains("signature does not verify"), "{m}");
}

/// user_data of the test callback: the key, how to answer, and the call counts.
struct CallbackState {
    key: SoftwareSigner,
    mode: u32,
    calls: u32,
    frees: u32,
}

const MODE_RAW: u32 = 0;
const MODE_DER: u32 = 1;
const MODE_FAIL: u32 = 2;
const MODE_OVERLONG: u32 = 3;

unsafe extern "C" fn sign_cb(
    user_data: *mut c_void,
    message: *const u8,
    message_len: usize,
    out_sig: *mut u8,
    sig_capacity: usize,
    out_sig_len: *mut usize,
    out_format: *mut u32,
) -> i32 {
    // SAFETY: the test passes a live `CallbackState` and uses it from this thread only.
    let st = unsafe { &mut *user_data.cast::<CallbackState>() };
    st.calls += 1;
    // SAFETY: the library's contract: `message` is readable for `message_len` bytes.
    let message = unsafe { std::slice::from_raw_parts(message, message_len) };
    let raw = match st.key.sign(message) {
        Ok(SignatureBytes::Raw(r)) => r,
        _ => return -2,
    };
    let (bytes, format): (Vec<u8>, u32) = match st.mode {
        MODE_RAW => (raw.to_vec(), lp_signature_format::LP_SIGNATURE_RAW as u32),
        MODE_DER => (der(&raw), lp_signature_format::LP_SIGNATURE_DER as u32),
        MODE_OVERLONG => {
            // SAFETY: the out pointers are valid for the call.
            unsafe {
                *out_sig_len = sig_capacity + 1;
                *out_format = lp_signature_format::LP_SIGNATURE_DER as u32;
            }
            return 0;
        }
        _ => return 42,
    };
    assert!(bytes.len() <= sig_capacity);
    // SAFETY: `out_sig` is writable for `sig_capacity ≥ bytes.len()` bytes; the out pointers
    // are valid for the call.
    unsafe {
        ptr::copy_nonoverlapping(bytes.as_ptr(), out_sig, bytes.len());
        *out_sig_len = bytes.len();
        *out_format = format;
    }
    0
}

/// `r ‖ s` as an ASN.1 DER `ECDSA-Sig-Value`: SEQUENCE of two unsigned INTEGERs.
fn der(raw: &[u8; 64]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x = &x[x.iter().take_while(|&&b| b == 0).count().min(31)..];
        let mut v = vec![0x02];
        if x[0] & 0x80 != 0 {
            v.push(x.len() as u8 + 1);
            v.push(0);
        } else {
            v.push(x.len() as u8);
        }
        v.extend_from_slice(x);
        v
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

unsafe extern "C" fn free_cb(user_data: *mut c_void) {
    // SAFETY: as in `sign_cb`.
    unsafe { (*user_data.cast::<CallbackState>()).frees += 1 };
}

#[test]
fn callback_signers_raw_der_failing_and_freed_once() {
    let key = SoftwareSigner::generate();
    let sec1 = key.public().unwrap().sec1();
    let mut st = Box::new(CallbackState {
        key,
        mode: MODE_RAW,
        calls: 0,
        frees: 0,
    });
    let user_data = ptr::addr_of_mut!(*st).cast::<c_void>();
    let mut s: *mut lp_signer = ptr::null_mut();
    // SAFETY: a 65-byte key, live callbacks and user_data (outliving the signer), valid out.
    let r = unsafe {
        lp_signer_new_callback(
            sec1.as_ptr(),
            sec1.len(),
            Some(sign_cb),
            user_data,
            Some(free_cb),
            &mut s,
        )
    };
    assert_eq!(r, lp_result::LP_OK);
    // SAFETY: a live signer.
    let signer = unsafe { &*s }.signer.clone();
    let public = signer.public_key().unwrap();
    let message = b"Sig_structure stand-in";
    for mode in [MODE_RAW, MODE_DER] {
        st.mode = mode;
        let sig = signer.sign(message).unwrap();
        assert_eq!(
            matches!(sig, SignatureBytes::Der(_)),
            mode == MODE_DER,
            "the format as declared"
        );
        // Core converts (and checks the signature) when it seals.
        let raw = sig.into_raw().unwrap();
        assert!(public.verifies(message, &raw), "mode {mode}");
    }
    st.mode = MODE_FAIL;
    assert_eq!(
        signer.sign(message).unwrap_err().to_string(),
        "signer failed: the signer callback returned 42"
    );
    st.mode = MODE_OVERLONG;
    assert!(signer
        .sign(message)
        .unwrap_err()
        .to_string()
        .contains("declared a 73-byte signature; the buffer holds 72"));
    assert_eq!(st.calls, 4);
    // The handle and the clone share the signer: user_data is freed when the last goes.
    // SAFETY: a live handle, freed once.
    unsafe { lp_signer_free(s) };
    assert_eq!(st.frees, 0);
    drop(signer);
    assert_eq!(st.frees, 1);

    // A signature by another key than the one given is refused when core seals the result:
    // the callback signer only converts formats, the check is core's, once for every signer.
    let other = SoftwareSigner::generate().public().unwrap().sec1();
    let mut s: *mut lp_signer = ptr::null_mut();
    st.mode = MODE_RAW;
    // SAFETY: as above.
    let r = unsafe {
        lp_signer_new_callback(
            other.as_ptr(),
            other.len(),
            Some(sign_cb),
            user_data,
            None,
            &mut s,
        )
    };
    assert_eq!(r, lp_result::LP_OK);
    // SAFETY: a live signer.
    let wrong = unsafe { &*s }.signer.clone();
    let server = Server::new("wrong-key");
    let now = now_unix();
    let token = verify_token(&server.token(now, now + 300), &server.keys, now, 30).unwrap();
    let result = synthetic_result(
        &token.policy().unwrap().unwrap(),
        &CalibrationBundle::from_json(liveproof_core::defaults::CALIBRATION_JSON).unwrap(),
        &token.claims,
        0.9,
    );
    let e = sign_result(&token, &result, &*wrong, Vec::new(), now)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not verify under the signer's public key"),
        "{e}"
    );
    drop(wrong);
    // SAFETY: a live handle, freed once; no free callback this time.
    unsafe { lp_signer_free(s) };
    assert_eq!(st.frees, 1);
}

// ---- a real token session, with the set-up's environment ---------------------------------------

#[test]
fn a_token_session_on_synthetic_frames_signs_a_result_that_verifies() {
    let (models, _ort) = super::tests::setup_env();
    let mut config = config_defaults();
    config.models_dir = models.as_ptr();
    config.preload_session = 1;
    let mut engine: *mut lp_engine = ptr::null_mut();
    // SAFETY: a valid config (the strings live for the call) and out pointer.
    assert_eq!(
        unsafe { lp_engine_new(&config, &mut engine) },
        lp_result::LP_OK,
        "{}",
        last_error()
    );
    let server = Server::new("session");
    let now = now_unix();
    let (r, token, m) = verify(&server.token(now, now + 300), &[&server.pub_pem]);
    assert_eq!(r, lp_result::LP_OK, "{m}");
    let pem = CString::new(SoftwareSigner::generate().to_pkcs8_pem().unwrap()).unwrap();
    let mut signer: *mut lp_signer = ptr::null_mut();
    // SAFETY: a NUL-terminated PEM, a valid out pointer.
    assert_eq!(
        unsafe { lp_signer_new_software(pem.as_ptr(), &mut signer) },
        lp_result::LP_OK
    );
    let mut session: *mut lp_session = ptr::null_mut();
    // SAFETY: live handles; NULL config means the defaults.
    let r = unsafe { lp_session_new(engine, token, signer, ptr::null(), &mut session) };
    assert_eq!(r, lp_result::LP_OK, "{}", last_error());
    // The handles may go before the session: it holds its own references.
    // SAFETY: live handles, each freed once.
    unsafe {
        lp_token_free(token);
        lp_signer_free(signer);
        lp_engine_free(engine);
    }
    // Grey frames without a face: positioning, NO_FACE, nothing used.
    let data = vec![96u8; 64 * 48 * 4];
    let mut fb = lp_feedback {
        struct_size: std::mem::size_of::<lp_feedback>(),
        ..feedback_to_c(&FrameFeedback {
            phase: Phase::Done,
            prompt: UserPrompt::Smile,
            hints: Default::default(),
            progress: 1.0,
            step_index: 9,
            step_count: 9,
            face_box: Some([0.0; 4]),
            target_oval: [0.0; 4],
            used: true,
        })
    };
    for i in 0..3u64 {
        let plane = lp_plane {
            data: data.as_ptr(),
            len: data.len(),
            row_stride: 64 * 4,
        };
        let none = lp_plane {
            data: ptr::null(),
            len: 0,
            row_stride: 0,
        };
        let frame = lp_frame {
            planes: [plane, none, none],
            format: lp_pixel_format::LP_PIXEL_FORMAT_RGBA8888 as u32,
            width: 64,
            height: 48,
            rotation_degrees: 0,
            mirrored: 0,
            timestamp_ns: 1_000_000_000 + i * 33_333_333,
        };
        // SAFETY: a live session, a frame over live data, a full-size feedback struct.
        let r = unsafe { lp_session_push_frame(session, &frame, &mut fb) };
        assert_eq!(r, lp_result::LP_OK, "{}", last_error());
    }
    assert_eq!(fb.phase, lp_phase::LP_PHASE_POSITIONING);
    assert_eq!(fb.hints & 1, 1, "NO_FACE");
    assert!(!fb.used && !fb.has_face_box);
    let mut outcome: *mut lp_outcome = ptr::null_mut();
    // SAFETY: a live session and a valid out pointer.
    assert_eq!(
        unsafe { lp_session_finish(session, &mut outcome) },
        lp_result::LP_OK
    );
    let mut band = lp_band::LP_BAND_PASS;
    let mut reasons = [lp_reason::LP_REASON_QUALITY_OK; LP_REASON_COUNT];
    let mut n = 0usize;
    let mut signed_size = 0usize;
    // SAFETY: a live outcome and valid out pointers.
    unsafe {
        assert_eq!(lp_outcome_band(outcome, &mut band), lp_result::LP_OK);
        assert_eq!(
            lp_outcome_reasons(outcome, reasons.as_mut_ptr(), reasons.len(), &mut n),
            lp_result::LP_OK
        );
        assert_eq!(
            lp_outcome_signed_size(outcome, &mut signed_size),
            lp_result::LP_OK
        );
    }
    assert_eq!(band, lp_band::LP_BAND_RETRY);
    assert_eq!(&reasons[..n], &[lp_reason::LP_REASON_NO_FACE]);
    let mut signed = vec![0u8; signed_size];
    // SAFETY: as above; the buffer holds `signed_size` bytes.
    assert_eq!(
        unsafe { lp_outcome_signed(outcome, signed.as_mut_ptr(), signed.len(), &mut n) },
        lp_result::LP_OK
    );
    // The signed result opens and its device signature verifies.
    let opened = liveproof_core::trust::SignedResult::parse(&signed).unwrap();
    opened.verify_device_signature().unwrap();
    // SAFETY: live handles, each freed once.
    unsafe {
        lp_outcome_free(outcome);
        lp_session_free(session);
    }
}

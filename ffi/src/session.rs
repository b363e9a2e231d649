//! The capture session as every platform sees it, written once: the C ABI (`c_api`) and the
//! UniFFI objects (`uniffi_api`) are thin wrappers over these types, so a rule here (when a
//! result is signed, what a second `finish()` does, which misuse is an error) holds in C,
//! Kotlin and Swift alike.
//!
//! - [`SessionEngine`]: the engine and the session models, loaded once, shared by threads.
//! - [`DeviceToken`]: the server's session token, checked on the device against the pinned
//!   server keys.
//! - [`LiveSession`]: one capture. `push_frame` → [`FrameFeedback`]; `finish` / `cancel` →
//!   [`Outcome`] (the decision and, for a token session, the signed result). A spoof, a
//!   timeout or a cancel is an outcome; only misuse and infrastructure failures are errors.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::engine::{Engine, EngineConfig};
use liveproof_core::frame::Frame;
use liveproof_core::matching::FaceTemplate;
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, LoadedPolicy, RiskTier};
use liveproof_core::result::SessionResult;
use liveproof_core::security::{probe_this_device, DeclaredCamera, ProcessFacts};
use liveproof_core::session::{
    FrameFeedback, LoadedCalibration, Session, SessionConfig, SessionError, SessionModels,
    SessionParams,
};
use liveproof_core::trust::{
    kid_of, now_unix, sign_result, verify_token, DevicePublicKey, KeyStatus, ServerKeySet, Signer,
    TrustError, VerifiedToken,
};

use crate::ApiError;

/// Clock skew the device allows on a token's `iat` / `exp`, seconds: the verifier's default
/// (core's `DEFAULT_SKEW_S`, 30 s). The verifier checks the result's `iat`, stamped by this
/// device's clock, with its own skew, so a device that allowed more would start sessions whose
/// results the verifier then refuses as `binding_mismatch`, which is not retryable
/// (docs/trust.md, "Clock skew").
pub const TOKEN_SKEW_S: u64 = liveproof_core::trust::DEFAULT_SKEW_S;

/// The embedding model the engine loads for face continuity and template matches.
pub const EMBEDDING_MODEL: &str = "fr_feature";

/// The engine and everything a session needs beside the frames, loaded once and shared by
/// every thread and session.
pub struct SessionEngine {
    pub engine: Arc<Engine>,
    pub models: Arc<SessionModels>,
    pub calibration: Arc<LoadedCalibration>,
    /// The shipped default policy (`models/policy_default.json`), for local sessions.
    pub default_policy: Arc<LoadedPolicy>,
}

impl std::fmt::Debug for SessionEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionEngine")
            .field("models", &self.models)
            .field("calibration", &self.calibration.sha256)
            .finish()
    }
}

impl SessionEngine {
    /// Loads ONNX Runtime, the detector and FaceMesh (required), then the session's optional
    /// models (passive signals, eye state, embedding: a missing one is logged and its signal
    /// reports "not available"), and the shipped calibration and policy.
    pub fn load(config: &EngineConfig) -> Result<SessionEngine, ApiError> {
        let engine = Arc::new(Engine::new(config.clone())?);
        SessionEngine::with_engine(engine, config)
    }

    /// As [`SessionEngine::load`] around an engine already loaded with `config`.
    pub fn with_engine(
        engine: Arc<Engine>,
        config: &EngineConfig,
    ) -> Result<SessionEngine, ApiError> {
        let models = Arc::new(SessionModels::load(
            config,
            &PassiveConfig::default(),
            EMBEDDING_MODEL,
        ));
        let bundle = CalibrationBundle::from_json(liveproof_core::defaults::CALIBRATION_JSON)
            .map_err(|e| ApiError::Invariant {
                message: format!("the shipped calibration bundle: {e}"),
            })?;
        let calibration = Arc::new(LoadedCalibration::new(bundle).map_err(session_error)?);
        let default_policy = Arc::new(
            LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).map_err(|e| {
                ApiError::Invariant {
                    message: format!("the shipped policy: {e}"),
                }
            })?,
        );
        Ok(SessionEngine {
            engine,
            models,
            calibration,
            default_policy,
        })
    }
}

/// The server's session token, checked on the device: signature by a pinned server key,
/// algorithm, lifetime (±[`TOKEN_SKEW_S`]), claims, and the policy it carries against its
/// hash. Immutable; share it freely.
#[derive(Clone, Debug)]
pub struct DeviceToken {
    pub verified: VerifiedToken,
    pub policy: Arc<LoadedPolicy>,
}

impl DeviceToken {
    /// Checks `bytes` against the pinned server public keys (`server_keys_pem`: SPKI PEM
    /// texts; each key's `kid` is derived from the key). `policy_json` is needed only when
    /// the token names its policy by hash without carrying it. Errors: a malformed key
    /// (`InvalidArgument`), a token that fails any check (`TokenRejected`, naming the check).
    pub fn verify(
        bytes: &[u8],
        server_keys_pem: &[String],
        policy_json: Option<&str>,
        now_unix_s: u64,
    ) -> Result<DeviceToken, ApiError> {
        if server_keys_pem.is_empty() {
            return Err(ApiError::invalid(
                "no server public key is pinned: pass the PEM of at least one of the \
                 verifier's keys (`liveproof-verifier keygen` writes <kid>.pub.pem)",
            ));
        }
        let mut keys = Vec::with_capacity(server_keys_pem.len());
        for (i, pem) in server_keys_pem.iter().enumerate() {
            let key = DevicePublicKey::from_pem(pem).map_err(|e| {
                ApiError::invalid(format!("server key {i} is not a P-256 SPKI PEM: {e}"))
            })?;
            keys.push((kid_of(&key), KeyStatus::VerifyOnly, key));
        }
        let keys = ServerKeySet::from_public(keys);
        let verified =
            verify_token(bytes, &keys, now_unix_s, TOKEN_SKEW_S).map_err(token_rejected)?;
        let policy =
            match (verified.policy().map_err(token_rejected)?, policy_json) {
                (Some(p), _) => p,
                (None, Some(json)) => {
                    let p = LoadedPolicy::from_json(json)
                        .map_err(|e| ApiError::invalid(format!("the policy JSON: {e}")))?;
                    verified.check_policy(&p).map_err(token_rejected)?;
                    p
                }
                (None, None) => return Err(ApiError::invalid(
                    "the token names its policy by hash only; pass that policy's JSON beside it",
                )),
            };
        Ok(DeviceToken {
            verified,
            policy: Arc::new(policy),
        })
    }

    /// The session id (hex) the server will look the result up by.
    pub fn session_id(&self) -> String {
        self.verified.claims.session_id_hex()
    }
}

fn token_rejected(e: TrustError) -> ApiError {
    ApiError::TokenRejected {
        message: e.to_string(),
    }
}

fn session_error(e: SessionError) -> ApiError {
    match e {
        SessionError::Pipeline(e) => ApiError::from(e),
        SessionError::Finished => ApiError::SessionState {
            message: e.to_string(),
        },
        SessionError::Policy(_) | SessionError::InvalidParams(_) => {
            ApiError::invalid(e.to_string())
        }
    }
}

/// Whose session this is.
pub enum SessionKind {
    /// The server's (production): seed, flow, tier, attempt and policy come from the verified
    /// token, and the result is signed with `signer` for the verifier.
    Token {
        token: Arc<DeviceToken>,
        signer: Arc<dyn Signer>,
    },
    /// A local capture without a server (development, kiosks without a backend): decided on
    /// the device under `policy` (`None`: the shipped default), never signed.
    Local {
        seed: [u8; 32],
        flow: FlowType,
        tier: RiskTier,
        policy: Option<Arc<LoadedPolicy>>,
    },
}

/// Options every kind of session takes.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// The enrolled template to compare against (face match), if any.
    pub template: Option<FaceTemplate>,
    /// Free text about the camera, for the audit record (e.g. "front, 640x480 NV21").
    pub capture_device: String,
    /// The camera configuration the frames should match (stream injection heuristics).
    pub declared_camera: Option<DeclaredCamera>,
    /// Facts only the host can read (loaded images, tracing, simulator, camera name). The
    /// device probes run on every token session; these complete them.
    pub process_facts: ProcessFacts,
}

/// What a finished (or cancelled) session decided.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The decision, reasons, signals, quality, challenge, match and audit record.
    pub result: SessionResult,
    /// The signed result (COSE_Sign1 EAT) to send to the server; `None` for a local session.
    pub signed: Option<Vec<u8>>,
    /// The app cancelled the capture (the result is then retry, `capture_incomplete`).
    pub cancelled: bool,
    /// The session id: the token's for a token session.
    pub session_id: String,
}

enum State {
    Open(Box<Session>),
    /// Decided, the signature still owed (a signer failed: `finish()` tries again).
    Decided {
        result: Box<SessionResult>,
        cancelled: bool,
    },
    Finished,
    Closed,
    /// A call panicked inside the pipeline (a bug): the session is unusable.
    Broken,
}

/// One capture: one attempt, one thread at a time (calls are serialised by a lock, so a
/// misuse from two threads is safe, only slower).
pub struct LiveSession {
    state: Mutex<State>,
    /// `close()` came while a call held the session (a signer waiting for the user): the
    /// session closes when that call ends, and `close()` never waits for it.
    close_requested: AtomicBool,
    kind: SessionKind,
    session_id: String,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("session_id", &self.session_id)
            .finish()
    }
}

impl LiveSession {
    /// Starts a capture. Errors: bad options (`InvalidArgument`); a token session whose
    /// policy was set on another calibration than the engine's (`InvalidArgument`).
    pub fn start(
        engine: &SessionEngine,
        kind: SessionKind,
        options: SessionOptions,
        config: SessionConfig,
    ) -> Result<LiveSession, ApiError> {
        if let Some(t) = &options.template {
            t.validate()
                .map_err(|e| ApiError::invalid(format!("the face template: {e}")))?;
        }
        let (params, policy, probe) = match &kind {
            SessionKind::Token { token, .. } => (
                token
                    .verified
                    .session_params(options.template.clone(), &options.capture_device),
                token.policy.clone(),
                true,
            ),
            SessionKind::Local {
                seed,
                flow,
                tier,
                policy,
            } => (
                SessionParams {
                    seed: *seed,
                    flow: *flow,
                    tier: *tier,
                    attempt: 1,
                    consecutive_failures: 0,
                    request_id: String::new(),
                    session_id: hex_id(seed),
                    template: options.template.clone(),
                    capture_device: options.capture_device.clone(),
                },
                policy
                    .clone()
                    .unwrap_or_else(|| engine.default_policy.clone()),
                false,
            ),
        };
        let live = match &kind {
            // A token session is a device's live capture: always.
            SessionKind::Token { .. } => SessionConfig {
                live_capture: true,
                ..config
            },
            SessionKind::Local { .. } => config,
        };
        let session_id = params.session_id.clone();
        let session = Session::new(
            engine.engine.clone(),
            engine.models.clone(),
            policy,
            engine.calibration.clone(),
            params,
            live,
        )
        .map_err(session_error)?;
        let session = if probe || options.declared_camera.is_some() {
            let report = probe_this_device(&options.process_facts);
            session.with_security(report, options.declared_camera)
        } else {
            session
        };
        log::info!(
            "session started: {} session {}",
            match kind {
                SessionKind::Token { .. } => "token",
                SessionKind::Local { .. } => "local",
            },
            session_id
        );
        Ok(LiveSession {
            state: Mutex::new(State::Open(Box::new(session))),
            close_requested: AtomicBool::new(false),
            kind,
            session_id,
        })
    }

    /// The session id (the token's for a token session).
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        let mut guard = match self.state.lock() {
            Ok(g) => g,
            // A panic inside a call (reported to that caller as an internal error) may have
            // left the pipeline's state half-updated: nothing more is decided or signed on it.
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                *g = State::Broken;
                self.state.clear_poison();
                g
            }
        };
        if self.close_requested.load(Ordering::Acquire) {
            *guard = State::Closed;
        }
        guard
    }

    /// Consumes one camera frame. Errors: a malformed frame or a pipeline failure on it (the
    /// session goes on with the next frame); a finished, cancelled or closed session
    /// (`SessionState`).
    pub fn push_frame(&self, frame: &Frame<'_>) -> Result<FrameFeedback, ApiError> {
        match &mut *self.lock() {
            State::Open(session) => session.push_frame(frame).map_err(session_error),
            other => Err(state_error(other, "push_frame")),
        }
    }

    /// Decides and, for a token session, signs. After a signer failure (the user dismissed a
    /// biometric prompt, a keystore error) the decision is kept and the next `finish()` signs
    /// it again; the capture need not be repeated.
    pub fn finish(&self) -> Result<Outcome, ApiError> {
        self.conclude(false)
    }

    /// Ends the capture early: the outcome is retry (its reasons say what was missing:
    /// `capture_incomplete`, `no_face`, `quality_poor_retry`), signed for a token session so
    /// the server can count the attempt.
    pub fn cancel(&self) -> Result<Outcome, ApiError> {
        self.conclude(true)
    }

    fn conclude(&self, cancel: bool) -> Result<Outcome, ApiError> {
        let mut state = self.lock();
        let (result, cancelled) = match std::mem::replace(&mut *state, State::Finished) {
            State::Open(session) => {
                let r = if cancel {
                    session.cancel()
                } else {
                    session.finish()
                };
                log::info!(
                    "session {} {}: {} ({})",
                    self.session_id,
                    if cancel { "cancelled" } else { "finished" },
                    r.band.as_str(),
                    r.reasons
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (Box::new(r), cancel)
            }
            State::Decided { result, cancelled } => (result, cancelled),
            other => {
                let e = state_error(&other, if cancel { "cancel" } else { "finish" });
                *state = other;
                return Err(e);
            }
        };
        let signed = match &self.kind {
            SessionKind::Local { .. } => None,
            SessionKind::Token { token, signer } => {
                // The signer is the host's code (a keystore, a callback across an FFI): even a
                // panic in it must leave the decision in place for the next `finish()`.
                let signed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    sign_result(
                        &token.verified,
                        &result,
                        signer.as_ref(),
                        Vec::new(),
                        now_unix(),
                    )
                }))
                .unwrap_or_else(|panic| {
                    Err(TrustError::Signer(format!(
                        "the signer panicked: {}",
                        crate::error::panic_message(panic.as_ref())
                    )))
                });
                match signed {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        *state = State::Decided { result, cancelled };
                        return Err(signer_error(e));
                    }
                }
            }
        };
        Ok(Outcome {
            result: *result,
            signed,
            cancelled,
            session_id: self.session_id.clone(),
        })
    }

    /// Releases the session's models and worker; every later call is a `SessionState` error.
    /// Idempotent, and never waits: during a running call (a signer waiting for the user)
    /// the session is released when that call ends.
    pub fn close(&self) {
        self.close_requested.store(true, Ordering::Release);
        // Free it now when no call holds the session; otherwise the running call's end (or the
        // next call) does, so a `close()` on the UI thread never waits for a signer.
        if let Ok(mut state) = self.state.try_lock() {
            *state = State::Closed;
        }
    }
}

fn signer_error(e: TrustError) -> ApiError {
    match e {
        TrustError::Signer(message) => ApiError::Signer { message },
        // The signer's public key does not parse, or the claims were refused: the signer's
        // (host's) fault as well.
        other => ApiError::Signer {
            message: other.to_string(),
        },
    }
}

fn state_error(state: &State, call: &str) -> ApiError {
    let message = match state {
        State::Open(_) => format!("{call}: the session is open"),
        State::Decided { .. } => format!(
            "{call}: the session is decided and its signature is owed: call finish() again \
             to sign it"
        ),
        State::Finished => format!(
            "{call}: the session already finished; start a new session for the next attempt"
        ),
        State::Closed => format!("{call}: the session was closed"),
        State::Broken => format!(
            "{call}: an earlier call on this session failed with an internal error; start a new \
             session"
        ),
    };
    ApiError::SessionState { message }
}

fn hex_id(seed: &[u8; 32]) -> String {
    use std::fmt::Write;
    seed[..16]
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

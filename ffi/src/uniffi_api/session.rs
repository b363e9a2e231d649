//! The capture session for Kotlin and Swift: [`LivenessEngine`] → [`LivenessSession`]
//! (`push_frame` → [`FrameFeedback`], `finish` / `cancel` → [`Outcome`]), the server's
//! [`SessionToken`], and the host's [`Signer`] (a foreign trait: Android Keystore, Secure
//! Enclave). The rules live once in `crate::session`; this file converts.
//!
//! Frames come either as a [`Frame`] record (bytes copied across the boundary, simplest) or as
//! borrowed planes: [`LivenessSession::push_planes`] and [`LivenessSession::push_yuv_420_888`]
//! take `&[u8]`, which UniFFI passes as direct `java.nio.ByteBuffer`s (Kotlin) without a copy;
//! the latter takes the planes exactly as CameraX's `ImageProxy` exposes them.

use std::sync::{Arc, Mutex};

use liveproof_core::frame::{self as core_frame, Rotation};
use liveproof_core::matching::FaceTemplate;
use liveproof_core::policy::{Band, FlowType, ReasonCode, RiskTier};
use liveproof_core::security::{DeclaredCamera, ProcessFacts, SecurityCategory};
use liveproof_core::session::{FrameFeedback as CoreFeedback, Phase, SessionConfig, UserPrompt};
use liveproof_core::trust::{
    der_to_raw, DevicePublicKey, SignatureBytes, Signer as CoreSigner, TrustError,
};

use super::{BoundingBox, Frame, Hint, PixelFormat};
use crate::error::catch_panic;
use crate::error::CallbackError;
use crate::session::{self as live, LiveSession, SessionEngine, SessionKind};
use crate::ApiError;

// ---------------------------------------------------------------------------------------------
// Core enums, mirrored (UniFFI checks the variant lists against core's at compile time).

/// What the capture is for (the server's token names it).
#[uniffi::remote(Enum)]
pub enum FlowType {
    AccountOpening,
    Login,
    Transaction,
    Recovery,
}

/// The tenant's risk tier for this capture.
#[uniffi::remote(Enum)]
pub enum RiskTier {
    Low,
    Medium,
    High,
}

/// The decision: pass, retry (capture again: quality, incomplete, uncertain) or fail.
#[uniffi::remote(Enum)]
pub enum Band {
    Pass,
    Retry,
    Fail,
}

/// Why a capture got its decision; stable (docs/decision.md has the catalogue).
#[uniffi::remote(Enum)]
pub enum ReasonCode {
    PassiveScoreHigh,
    PassiveScoreUncertain,
    PassiveScoreLow,
    ChallengePassed,
    ChallengeFailed,
    ChallengeTimeout,
    FaceChanged,
    QualityOk,
    QualityPoorRetry,
    NoFace,
    SignalUnavailable,
    MatchPassed,
    MatchFailed,
    MatchUncertain,
    VirtualCameraDetected,
    InjectionDetected,
    DeviceRiskDetected,
    PassiveOnly,
    CaptureIncomplete,
    MaxAttemptsReached,
    ClientDecisionMismatch,
}

/// Where the capture is.
#[uniffi::remote(Enum)]
pub enum Phase {
    Positioning,
    Passive,
    Challenge,
    Done,
}

/// What the capture UI asks of the user now (text and localisation are the app's; English
/// defaults ship as a resource).
#[uniffi::remote(Enum)]
pub enum UserPrompt {
    None,
    HoldStill,
    Blink,
    TurnLeft,
    TurnRight,
    Nod,
    Smile,
}

/// What a device or stream finding indicates.
#[uniffi::remote(Enum)]
pub enum SecurityCategory {
    RootOrJailbreak,
    Emulator,
    Hooking,
    Debugger,
    VirtualCamera,
    Injection,
    Vm,
    Environment,
}

/// The stable number of a reason code (C ABI, logs, the server's records).
#[uniffi::export]
pub fn reason_code_number(code: ReasonCode) -> u16 {
    code.code()
}

/// The stable snake_case name of a reason code (as the result JSON spells it).
#[uniffi::export]
pub fn reason_code_name(code: ReasonCode) -> String {
    code.as_str().to_string()
}

// ---------------------------------------------------------------------------------------------
// Records.

/// A point in normalised image coordinates (0..1 of the upright frame).
#[derive(Clone, Copy, Debug, PartialEq, uniffi::Record)]
pub struct Oval {
    pub center_x: f32,
    pub center_y: f32,
    /// Half width and half height, normalised.
    pub radius_x: f32,
    pub radius_y: f32,
}

/// The per-frame feedback: codes, never text.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct FrameFeedback {
    pub phase: Phase,
    pub prompt: UserPrompt,
    /// Quality hints for this frame, most important first.
    pub hints: Vec<Hint>,
    /// Progress of the whole capture, 0..1.
    pub progress: f32,
    /// The challenge step under way, 0-based (= `step_count` once all ran; 0 without one).
    pub step_index: u32,
    pub step_count: u32,
    /// The face box, normalised to the upright frame; `None` without a face.
    pub face_box: Option<BoundingBox>,
    /// Where the face should be, normalised.
    pub target_oval: Oval,
    /// Whether the frame was used as evidence.
    pub used: bool,
}

impl From<CoreFeedback> for FrameFeedback {
    fn from(f: CoreFeedback) -> Self {
        let [cx, cy, rx, ry] = f.target_oval;
        FrameFeedback {
            phase: f.phase,
            prompt: f.prompt,
            hints: f.hints.to_vec(),
            progress: f.progress,
            step_index: f.step_index,
            step_count: f.step_count,
            face_box: f.face_box.map(|[x_min, y_min, x_max, y_max]| BoundingBox {
                x_min,
                y_min,
                x_max,
                y_max,
            }),
            target_oval: Oval {
                center_x: cx,
                center_y: cy,
                radius_x: rx,
                radius_y: ry,
            },
            used: f.used,
        }
    }
}

/// One device or stream finding (evidence is never personal data).
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct SecuritySignal {
    /// Stable probe id, e.g. `android.root.su_binary`, `stream.timing.regular`.
    pub probe: String,
    pub version: u32,
    pub category: SecurityCategory,
    /// 0..1.
    pub severity: f32,
    pub evidence: String,
}

/// An enrolled face template (made by `liveproof enroll` or the server); compares only with
/// the embedding model it names. Core's type, mirrored.
#[uniffi::remote(Record)]
pub struct FaceTemplate {
    pub format: u32,
    pub model: String,
    pub model_sha256: String,
    pub embedding: Vec<f32>,
    pub quality: f32,
    pub frames: u32,
}

/// The camera configuration the frames should match (stream injection heuristics); unknown
/// fields `None`.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct DeclaredCameraConfig {
    #[uniffi(default = None)]
    pub width: Option<u32>,
    #[uniffi(default = None)]
    pub height: Option<u32>,
    #[uniffi(default = None)]
    pub fps: Option<f32>,
    #[uniffi(default = None)]
    pub format: Option<PixelFormat>,
}

/// Facts only the host can read, for the device probes (each `None` when not measured).
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct HostFacts {
    /// Images loaded in the process (iOS `_dyld_get_image_name`).
    #[uniffi(default = None)]
    pub loaded_images: Option<Vec<String>>,
    /// A debugger or tracer is attached (iOS `P_TRACED`).
    #[uniffi(default = None)]
    pub traced: Option<bool>,
    #[uniffi(default = None)]
    pub simulator: Option<bool>,
    /// The host tried a write outside its sandbox and it succeeded.
    #[uniffi(default = None)]
    pub sandbox_write_succeeded: Option<bool>,
    /// The camera's name as the OS reports it.
    #[uniffi(default = None)]
    pub camera_name: Option<String>,
}

/// Options of a session.
#[derive(Clone, Debug, Default, PartialEq, uniffi::Record)]
pub struct SessionOptions {
    /// The enrolled template to compare against (face match), if any.
    #[uniffi(default = None)]
    pub template: Option<FaceTemplate>,
    /// Free text about the camera, for the audit record.
    #[uniffi(default = "")]
    pub capture_device: String,
    #[uniffi(default = None)]
    pub declared_camera: Option<DeclaredCameraConfig>,
    #[uniffi(default = None)]
    pub host_facts: Option<HostFacts>,
}

impl SessionOptions {
    fn into_live(self) -> live::SessionOptions {
        let facts = self.host_facts.unwrap_or_default();
        live::SessionOptions {
            template: self.template,
            capture_device: self.capture_device,
            declared_camera: self.declared_camera.map(|d| DeclaredCamera {
                width: d.width,
                height: d.height,
                fps: d.fps,
                format: d.format,
            }),
            process_facts: ProcessFacts {
                loaded_images: facts.loaded_images,
                traced: facts.traced,
                simulator: facts.simulator,
                sandbox_write_succeeded: facts.sandbox_write_succeeded,
                camera_name: facts.camera_name,
            },
        }
    }
}

/// What a finished (or cancelled) session decided. A spoof, a timeout or a cancel is an
/// outcome, never an exception.
#[derive(Clone, Debug, PartialEq, uniffi::Record)]
pub struct Outcome {
    pub decision: Band,
    /// Most decisive first.
    pub reasons: Vec<ReasonCode>,
    /// The fused log-likelihood ratio; `None` when a veto decided first.
    pub fused_score: Option<f64>,
    /// The signed result (COSE_Sign1 EAT) to send to the server; `None` for a local session.
    pub signed_result: Option<Vec<u8>>,
    pub cancelled: bool,
    pub session_id: String,
    /// Device and stream findings that went into the decision.
    pub security_signals: Vec<SecuritySignal>,
    /// The whole result (signals, quality, challenge steps, audit record) as JSON.
    pub result_json: String,
}

impl TryFrom<live::Outcome> for Outcome {
    type Error = ApiError;
    fn try_from(o: live::Outcome) -> Result<Self, ApiError> {
        let r = &o.result;
        let result_json = serde_json::to_string(r).map_err(|e| ApiError::Invariant {
            message: format!("the session result does not serialise: {e}"),
        })?;
        Ok(Outcome {
            decision: r.band,
            reasons: r.reasons.clone(),
            fused_score: r.fused,
            signed_result: o.signed,
            cancelled: o.cancelled,
            session_id: o.session_id,
            security_signals: r
                .security
                .signals
                .iter()
                .map(|s| SecuritySignal {
                    probe: s.probe.clone(),
                    version: s.version,
                    category: s.category,
                    severity: s.severity,
                    evidence: s.evidence.clone(),
                })
                .collect(),
            result_json,
        })
    }
}

/// How borrowed planes are laid out ([`LivenessSession::push_planes`]).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct PlaneLayout {
    /// Buffer size before rotation, pixels.
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    /// Row stride of each plane the format uses, bytes (unused planes: 0).
    pub row_strides: Vec<u32>,
    #[uniffi(default = 0)]
    pub rotation_degrees: i32,
    #[uniffi(default = false)]
    pub mirrored: bool,
    #[uniffi(default = 0)]
    pub timestamp_ns: u64,
}

/// Android's `YUV_420_888` as CameraX's `ImageProxy` exposes it: three planes, each with a row
/// stride; U and V share a pixel stride (1: planar; 2: interleaved, the usual case).
#[derive(Clone, Debug, PartialEq, Eq, uniffi::Record)]
pub struct Yuv420Layout {
    pub width: u32,
    pub height: u32,
    pub y_row_stride: u32,
    pub uv_row_stride: u32,
    pub uv_pixel_stride: u32,
    /// `ImageInfo.rotationDegrees`.
    #[uniffi(default = 0)]
    pub rotation_degrees: i32,
    #[uniffi(default = false)]
    pub mirrored: bool,
    /// `ImageInfo.timestamp` (nanoseconds, monotonic).
    #[uniffi(default = 0)]
    pub timestamp_ns: u64,
}

// ---------------------------------------------------------------------------------------------
// Foreign traits.

/// The host's signing key: ECDSA P-256 over SHA-256 (ES256). Android: an `AndroidKeyStore`
/// key (StrongBox when available) with `SHA256withECDSA`; iOS: a Secure Enclave key with
/// `ecdsaSignatureMessageX962SHA256`. `sign` may be slow or wait for the user. A failure is
/// thrown as `CallbackError.Failed(reason)` (Kotlin `CallbackException.Failed`); `finish()`
/// then fails with `ApiError.Signer` carrying that message, and keeps the decision for the
/// next `finish()`.
#[uniffi::export(with_foreign)]
pub trait Signer: Send + Sync {
    /// The public key, SEC1 uncompressed (65 bytes, `0x04‖x‖y`).
    fn public_key(&self) -> Result<Vec<u8>, CallbackError>;
    /// Signs `message` (hash it with SHA-256 and sign: the platform APIs do both). Returns
    /// the raw `r‖s` form (64 bytes); convert a DER signature with `signature_from_der`.
    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, CallbackError>;
}

/// A DER `ECDSA-Sig-Value` (what JCA and `SecKeyCreateSignature` return) as raw `r‖s` with a
/// low `s` (64 bytes): the one conversion, shared by every platform.
#[uniffi::export]
pub fn signature_from_der(der: Vec<u8>) -> Result<Vec<u8>, ApiError> {
    catch_panic(|| {
        der_to_raw(&der)
            .map(|r| r.to_vec())
            .map_err(|e| ApiError::invalid(e.to_string()))
    })
}

/// A software P-256 signer from a PKCS#8 PEM (tests, servers, desktop apps; on phones prefer
/// the platform keystore). Its `public_key` and `sign` follow the [`Signer`] contract.
#[derive(uniffi::Object)]
pub struct SoftwareSigner {
    inner: liveproof_core::trust::SoftwareSigner,
}

#[uniffi::export]
impl SoftwareSigner {
    /// Loads a PKCS#8 PEM private key (as `liveproof keygen` writes).
    #[uniffi::constructor]
    pub fn from_pem(pem: String) -> Result<Arc<Self>, ApiError> {
        catch_panic(|| {
            liveproof_core::trust::SoftwareSigner::from_pkcs8_pem(&pem)
                .map(|inner| Arc::new(SoftwareSigner { inner }))
                .map_err(|e| ApiError::invalid(format!("the signing key: {e}")))
        })
    }

    /// A new random key.
    #[uniffi::constructor]
    pub fn generate() -> Arc<Self> {
        Arc::new(SoftwareSigner {
            inner: liveproof_core::trust::SoftwareSigner::generate(),
        })
    }

    /// The key as PKCS#8 PEM, to persist.
    pub fn to_pem(&self) -> Result<String, ApiError> {
        self.inner
            .to_pkcs8_pem()
            .map_err(|e| ApiError::invalid(e.to_string()))
    }
}

impl std::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SoftwareSigner")
    }
}

#[uniffi::export]
impl Signer for SoftwareSigner {
    fn public_key(&self) -> Result<Vec<u8>, CallbackError> {
        self.inner.public().map(|k| k.sec1()).map_err(failed)
    }

    fn sign(&self, message: Vec<u8>) -> Result<Vec<u8>, CallbackError> {
        CoreSigner::sign(&self.inner, &message)
            .and_then(SignatureBytes::into_raw)
            .map(|r| r.to_vec())
            .map_err(failed)
    }
}

fn failed(e: TrustError) -> CallbackError {
    CallbackError::Failed {
        reason: e.to_string(),
    }
}

/// A foreign [`Signer`] as core's: the one place a callback's answer is converted (the raw
/// form's length; core checks the signature itself before sealing) and its error mapped (any other exception a host throws arrives through UniFFI's unexpected-error path
/// as a [`CallbackError`] too, see `error.rs`).
struct ForeignSigner(Arc<dyn Signer>);

impl CoreSigner for ForeignSigner {
    fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
        let sec1 = self.0.public_key().map_err(callback_error)?;
        DevicePublicKey::from_sec1(&sec1)
    }

    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
        let sig = self.0.sign(message.to_vec()).map_err(callback_error)?;
        let raw: [u8; 64] = sig.as_slice().try_into().map_err(|_| {
            TrustError::Signer(format!(
                "the signer returned {} bytes; expected the raw r‖s form (64 bytes): convert \
                 DER with signature_from_der",
                sig.len()
            ))
        })?;
        // The format only: core checks the signature under public_key() before sealing (a
        // key from another alias, another hash is a signer error there, the decision owed).
        Ok(SignatureBytes::Raw(raw))
    }
}

fn callback_error(e: CallbackError) -> TrustError {
    TrustError::Signer(e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Objects.

/// The server's session token, checked on this device. Immutable.
#[derive(Debug, uniffi::Object)]
pub struct SessionToken {
    token: Arc<live::DeviceToken>,
}

#[uniffi::export]
impl SessionToken {
    /// The session id (hex) the server looks the result up by.
    pub fn session_id(&self) -> String {
        self.token.session_id()
    }

    /// Expiry, Unix seconds.
    pub fn expires_at(&self) -> u64 {
        self.token.verified.claims.expires_at
    }

    pub fn flow(&self) -> FlowType {
        self.token.verified.claims.flow
    }

    pub fn tier(&self) -> RiskTier {
        self.token.verified.claims.tier
    }

    /// The attempt number this token is for (1 = first).
    pub fn attempt(&self) -> u32 {
        self.token.verified.claims.attempt
    }

    /// The tenant policy in force (JSON).
    pub fn policy_json(&self) -> Result<String, ApiError> {
        serde_json::to_string(&self.token.policy.policy).map_err(|e| ApiError::Invariant {
            message: format!("the policy does not serialise: {e}"),
        })
    }
}

/// The engine for whole sessions: models loaded once (sha256-checked), shared by every thread
/// and session.
#[derive(Debug, uniffi::Object)]
pub struct LivenessEngine {
    inner: SessionEngine,
}

#[uniffi::export]
impl LivenessEngine {
    /// Loads ONNX Runtime, the detector and FaceMesh (required), and the session's optional
    /// models (passive signals, eye state, embedding; a missing one is logged and its signal
    /// reports "not available").
    #[uniffi::constructor]
    pub fn new(config: super::EngineConfig) -> Result<Arc<Self>, ApiError> {
        catch_panic(|| {
            Ok(Arc::new(LivenessEngine {
                inner: SessionEngine::load(&config.to_config())?,
            }))
        })
    }

    /// Checks the server's token against the pinned server public keys (SPKI PEM texts).
    /// `policy_json` only when the token carries its policy's hash alone. Errors:
    /// `TokenRejected` (naming the failed check), `InvalidArgument` (a malformed key).
    pub fn verify_token(
        &self,
        token: Vec<u8>,
        server_keys_pem: Vec<String>,
        policy_json: Option<String>,
    ) -> Result<Arc<SessionToken>, ApiError> {
        catch_panic(|| {
            let t = live::DeviceToken::verify(
                &token,
                &server_keys_pem,
                policy_json.as_deref(),
                liveproof_core::trust::now_unix(),
            )?;
            Ok(Arc::new(SessionToken { token: Arc::new(t) }))
        })
    }

    /// Starts the server's session: the token's seed, flow, tier and policy; the result is
    /// signed with `signer` at `finish()`.
    pub fn start_session(
        &self,
        token: Arc<SessionToken>,
        signer: Arc<dyn Signer>,
        options: SessionOptions,
    ) -> Result<Arc<LivenessSession>, ApiError> {
        catch_panic(|| {
            let kind = SessionKind::Token {
                token: token.token.clone(),
                signer: Arc::new(ForeignSigner(signer)),
            };
            self.start(kind, options)
        })
    }

    /// Starts a local session without a server (development, offline kiosks): decided on the
    /// device under `policy_json` (`None`: the shipped default), never signed. `seed`: 32
    /// bytes that pick the challenge.
    pub fn start_local_session(
        &self,
        seed: Vec<u8>,
        flow: FlowType,
        tier: RiskTier,
        policy_json: Option<String>,
        options: SessionOptions,
    ) -> Result<Arc<LivenessSession>, ApiError> {
        catch_panic(|| {
            let seed: [u8; 32] = seed.as_slice().try_into().map_err(|_| {
                ApiError::invalid(format!("seed has {} bytes; expected 32", seed.len()))
            })?;
            let policy = policy_json
                .map(|j| {
                    liveproof_core::policy::LoadedPolicy::from_json(&j)
                        .map(Arc::new)
                        .map_err(|e| ApiError::invalid(format!("the policy JSON: {e}")))
                })
                .transpose()?;
            self.start(
                SessionKind::Local {
                    seed,
                    flow,
                    tier,
                    policy,
                },
                options,
            )
        })
    }
}

impl LivenessEngine {
    fn start(
        &self,
        kind: SessionKind,
        options: SessionOptions,
    ) -> Result<Arc<LivenessSession>, ApiError> {
        let session = LiveSession::start(
            &self.inner,
            kind,
            options.into_live(),
            SessionConfig::default(),
        )?;
        Ok(Arc::new(LivenessSession {
            session,
            scratch: Mutex::new(Vec::new()),
        }))
    }
}

/// One capture (one attempt). Calls are serialised; use it from the camera's analyzer thread.
/// `finish()` may block on the signer (user presence): call it off the UI thread.
#[derive(Debug, uniffi::Object)]
pub struct LivenessSession {
    session: LiveSession,
    /// Chroma gathered for `push_yuv_420_888` when U and V are neither planar nor one
    /// interleaved buffer (reused between frames).
    scratch: Mutex<Vec<u8>>,
}

#[uniffi::export]
impl LivenessSession {
    /// The session id (the token's for a server session).
    pub fn session_id(&self) -> String {
        self.session.session_id().to_string()
    }

    /// Consumes one frame given as a record (its bytes cross the boundary as a copy). Errors:
    /// a malformed frame (`InvalidArgument`; the session goes on), a finished or closed
    /// session (`SessionState`).
    pub fn push_frame(&self, frame: Frame) -> Result<FrameFeedback, ApiError> {
        catch_panic(|| {
            let core = frame.to_core()?;
            self.session.push_frame(&core).map(FrameFeedback::from)
        })
    }

    /// Consumes one frame from borrowed planes, without copying them (Kotlin: direct
    /// `ByteBuffer`s; pass an empty buffer for a plane the format does not use).
    pub fn push_planes(
        &self,
        plane0: &[u8],
        plane1: &[u8],
        plane2: &[u8],
        layout: PlaneLayout,
    ) -> Result<FrameFeedback, ApiError> {
        catch_panic(|| {
            let format = layout.format;
            let n = format.plane_count();
            if layout.row_strides.len() < n {
                return Err(ApiError::invalid(format!(
                    "{} row strides for a {n}-plane format",
                    layout.row_strides.len()
                )));
            }
            let planes = [plane0, plane1, plane2];
            let planes: Vec<core_frame::Plane<'_>> = planes
                .iter()
                .zip(&layout.row_strides)
                .take(n)
                .map(|(p, &s)| core_frame::Plane::new(p, s as usize))
                .collect();
            let frame = core_frame::Frame::new(layout.width, layout.height, format, &planes)?
                .with_rotation(Rotation::from_degrees(layout.rotation_degrees)?)
                .with_mirrored(layout.mirrored)
                .with_timestamp_ns(layout.timestamp_ns);
            self.session.push_frame(&frame).map(FrameFeedback::from)
        })
    }

    /// Consumes one `YUV_420_888` frame as CameraX's `ImageProxy` exposes it: the Y, U and V
    /// plane buffers with their strides. No copy when U and V are planar (pixel stride 1) or
    /// one interleaved buffer (pixel stride 2, V one byte before U as Android delivers NV21,
    /// or U before V); otherwise the chroma is gathered once into a reused buffer.
    pub fn push_yuv_420_888(
        &self,
        y: &[u8],
        u: &[u8],
        v: &[u8],
        layout: Yuv420Layout,
    ) -> Result<FrameFeedback, ApiError> {
        catch_panic(|| {
            let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
            let frame = yuv_420_888_frame(y, u, v, &layout, &mut scratch)?
                .with_rotation(Rotation::from_degrees(layout.rotation_degrees)?)
                .with_mirrored(layout.mirrored)
                .with_timestamp_ns(layout.timestamp_ns);
            self.session.push_frame(&frame).map(FrameFeedback::from)
        })
    }

    /// Decides and, for a server session, signs (may wait for the signer). After a signer
    /// failure the decision is kept: call `finish()` again to sign it.
    pub fn finish(&self) -> Result<Outcome, ApiError> {
        catch_panic(|| self.session.finish().and_then(Outcome::try_from))
    }

    /// Ends the capture early (the user cancelled): retry (`CaptureIncomplete`, or `NoFace` before any face), signed for
    /// a server session so the server counts the attempt.
    pub fn cancel(&self) -> Result<Outcome, ApiError> {
        catch_panic(|| self.session.cancel().and_then(Outcome::try_from))
    }

    /// Releases the models' session state and the worker (idempotent); later calls fail with
    /// `SessionState`. Never waits: during a running call (a signer waiting for the user) the
    /// session is released when that call ends. Dropping the object does the same.
    pub fn release(&self) {
        let _ = catch_panic(|| {
            self.session.close();
            Ok(())
        });
    }
}

/// The core frame for a `YUV_420_888` image (see [`LivenessSession::push_yuv_420_888`]).
fn yuv_420_888_frame<'a>(
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    l: &Yuv420Layout,
    scratch: &'a mut Vec<u8>,
) -> Result<core_frame::Frame<'a>, ApiError> {
    use core_frame::{Frame as F, PixelFormat as P, Plane};
    let y_plane = Plane::new(y, l.y_row_stride as usize);
    let uv_stride = l.uv_row_stride as usize;
    match l.uv_pixel_stride {
        1 => Ok(F::new(
            l.width,
            l.height,
            P::I420,
            &[y_plane, Plane::new(u, uv_stride), Plane::new(v, uv_stride)],
        )?),
        2 => {
            if let Some(vu) = interleaved(v, u) {
                return Ok(F::new(
                    l.width,
                    l.height,
                    P::Nv21,
                    &[y_plane, Plane::new(vu, uv_stride)],
                )?);
            }
            if let Some(uv) = interleaved(u, v) {
                return Ok(F::new(
                    l.width,
                    l.height,
                    P::Nv12,
                    &[y_plane, Plane::new(uv, uv_stride)],
                )?);
            }
            // Separate buffers with a pixel stride of 2: gather into planar U, V.
            let (cw, ch) = (l.width.div_ceil(2) as usize, l.height.div_ceil(2) as usize);
            let at = |row: usize, col: usize| row * uv_stride + 2 * col;
            let last = at(ch.saturating_sub(1), cw.saturating_sub(1));
            if ch == 0 || cw == 0 || u.len() <= last || v.len() <= last {
                return Err(ApiError::invalid(format!(
                    "chroma planes of {} and {} bytes are too short for {cw}×{ch} samples \
                     with row stride {uv_stride} and pixel stride 2",
                    u.len(),
                    v.len()
                )));
            }
            scratch.clear();
            scratch.reserve(2 * cw * ch);
            for plane in [u, v] {
                for row in 0..ch {
                    scratch.extend((0..cw).map(|col| plane[at(row, col)]));
                }
            }
            let (pu, pv) = scratch.split_at(cw * ch);
            Ok(F::new(
                l.width,
                l.height,
                P::I420,
                &[y_plane, Plane::new(pu, cw), Plane::new(pv, cw)],
            )?)
        }
        other => Err(ApiError::invalid(format!(
            "uv_pixel_stride is {other}; YUV_420_888 has 1 (planar) or 2 (interleaved)"
        ))),
    }
}

/// `first` and `second` as one interleaved chroma buffer when `second` starts one byte after
/// `first` (Android's NV21: V then U in one buffer, each plane a view of it).
fn interleaved<'a>(first: &'a [u8], second: &'a [u8]) -> Option<&'a [u8]> {
    if first.len() < 2 || second.as_ptr() != first.as_ptr().wrapping_add(1) {
        return None;
    }
    let len = first.len().max(second.len() + 1);
    // SAFETY: `second` begins inside `first` (one byte after its start, and `first` has at
    // least two bytes), so the two slices overlap and are views of one allocation; the union of two
    // readable ranges of one allocation, from `first`'s start to the later end, is readable
    // for the call (both borrows live for `'a`), and u8 needs no alignment. The buffers are
    // only read.
    Some(unsafe { std::slice::from_raw_parts(first.as_ptr(), len) })
}

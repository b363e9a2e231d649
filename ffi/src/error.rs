//! The public error that crosses the FFI, mapped from core's rich errors at this one point.
//! Kotlin sees `ApiException` subclasses, Swift an `ApiError` enum, C an `lp_result` code; all
//! three come from [`ApiError`], so a new core error needs exactly one new line here.

use liveproof_core::calibration::CalibrationError;
use liveproof_core::models::ModelError;
use liveproof_core::Error;

/// What went wrong, in a form each platform can branch on; `message` is core's full sentence
/// (what was wrong and what was expected).
///
/// Flat for UniFFI: Kotlin's `ApiException` subclasses and Swift's `ApiError` cases carry the
/// `Display` text ("invalid argument: frame plane 0 stride 100 < width 64 × 3 bytes"), the same
/// text C gets from `lp_last_error_message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum ApiError {
    /// An argument is wrong: a frame with bad sizes or strides, a bad configuration value,
    /// a NULL or dangling handle.
    #[error("invalid argument: {message}")]
    InvalidArgument { message: String },
    /// The ONNX Runtime shared library is missing or cannot be loaded.
    #[error("runtime unavailable: {message}")]
    RuntimeUnavailable { message: String },
    /// A model file is missing.
    #[error("model missing: {message}")]
    ModelMissing { message: String },
    /// A model file does not match its pinned sha256 (or size).
    #[error("model integrity: {message}")]
    ModelIntegrity { message: String },
    /// A model file is corrupt or has another interface than the manifest declares.
    #[error("model invalid: {message}")]
    ModelInvalid { message: String },
    /// Inference or processing failed at run time.
    #[error("processing failed: {message}")]
    Processing { message: String },
    /// A model answered out of its contract at run time (a broken or mismatched model file).
    #[error("model output: {message}")]
    ModelOutput { message: String },
    /// The server's session token failed a check on the device (signature, unknown or
    /// retired key, expired, malformed, policy hash); the message names the check. Ask the
    /// server for a new token.
    #[error("token rejected: {message}")]
    TokenRejected { message: String },
    /// The host's signer failed (a hardware key refused, the user dismissed the prompt); the
    /// session keeps its decision and `finish()` may be called again to sign it.
    #[error("signer failed: {message}")]
    Signer { message: String },
    /// A call the object's state does not allow: a finished, cancelled or closed session.
    #[error("session state: {message}")]
    SessionState { message: String },
    /// A bug: a panic was caught at the boundary. Please report it.
    #[error("internal error: {message}")]
    Internal { message: String },
    /// A bug: an internal invariant did not hold (no panic). Please report it.
    #[error("internal invariant: {message}")]
    Invariant { message: String },
}

impl ApiError {
    /// The message without the kind prefix.
    pub fn message(&self) -> &str {
        match self {
            ApiError::InvalidArgument { message }
            | ApiError::RuntimeUnavailable { message }
            | ApiError::ModelMissing { message }
            | ApiError::ModelIntegrity { message }
            | ApiError::ModelInvalid { message }
            | ApiError::Processing { message }
            | ApiError::ModelOutput { message }
            | ApiError::TokenRejected { message }
            | ApiError::Signer { message }
            | ApiError::SessionState { message }
            | ApiError::Internal { message }
            | ApiError::Invariant { message } => message,
        }
    }

    /// An invalid-argument error.
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::InvalidArgument {
            message: message.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let message = e.to_string();
        match e {
            Error::Frame(_) | Error::Config(_) | Error::InvalidInput(_) | Error::Quality(_) => {
                ApiError::InvalidArgument { message }
            }
            Error::ModelOutput(_) => ApiError::ModelOutput { message },
            Error::Internal(_) => ApiError::Invariant { message },
            Error::Detect(_) | Error::Mesh(_) => ApiError::Processing { message },
            // Passive signals: malformed per-frame input is the caller's; a depth or texture
            // model answering out of contract is a processing failure.
            Error::Passive(_) => ApiError::InvalidArgument { message },
            Error::Depth(_) | Error::Texture(_) => ApiError::Processing { message },
            // Face matching: a model answering out of contract is a processing failure; the
            // runtime's own errors keep their meaning; everything else is the caller's input.
            Error::Matching(m) => match m {
                liveproof_core::matching::MatchError::Model { .. } => {
                    ApiError::Processing { message }
                }
                liveproof_core::matching::MatchError::Runtime(r) => ApiError::from(Error::Model(r)),
                _ => ApiError::InvalidArgument { message },
            },
            // Calibration: a bundle or score the caller supplied is the caller's; a fit that
            // did not converge is a processing failure.
            Error::Calibration(c) => match c {
                CalibrationError::NotConverged { .. } => ApiError::Processing { message },
                _ => ApiError::InvalidArgument { message },
            },
            Error::Model(m) => match m {
                ModelError::RuntimeMissing { .. } | ModelError::RuntimeLoad { .. } => {
                    ApiError::RuntimeUnavailable { message }
                }
                ModelError::ModelMissing { .. } | ModelError::NotSupplied { .. } => {
                    ApiError::ModelMissing { message }
                }
                ModelError::ModelTruncated { .. } | ModelError::HashMismatch { .. } => {
                    ApiError::ModelIntegrity { message }
                }
                ModelError::ModelCorrupt { .. }
                | ModelError::NameMismatch { .. }
                | ModelError::ShapeMismatch { .. }
                | ModelError::ArityMismatch { .. }
                | ModelError::UnknownModel(_)
                | ModelError::Manifest(_) => ApiError::ModelInvalid { message },
                ModelError::InputLength { .. } | ModelError::NonFiniteInput { .. } => {
                    ApiError::InvalidArgument { message }
                }
                ModelError::Inference { .. } | ModelError::Io { .. } => {
                    ApiError::Processing { message }
                }
            },
        }
    }
}

impl From<liveproof_core::frame::FrameError> for ApiError {
    fn from(e: liveproof_core::frame::FrameError) -> Self {
        ApiError::from(Error::from(e))
    }
}

/// What a host's callback (a Kotlin or Swift `Signer`) throws: one case with the host's
/// message. Not flat, so UniFFI can carry it from the host back into Rust (a flat error only
/// travels the other way). It becomes [`ApiError::Signer`] at one point, the `From` below.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CallbackError {
    /// The callback could not do its work (a keystore refused, the user dismissed a prompt).
    /// (`reason`, not `message`: Kotlin exceptions already have a `message`.)
    #[error("{reason}")]
    Failed { reason: String },
}

/// Anything else a callback threw (an unchecked exception, a Swift error of another type).
impl From<uniffi::UnexpectedUniFFICallbackError> for CallbackError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        CallbackError::Failed {
            reason: format!("the host's callback threw: {}", e.reason),
        }
    }
}

impl From<CallbackError> for ApiError {
    fn from(e: CallbackError) -> Self {
        ApiError::Signer {
            message: e.to_string(),
        }
    }
}

/// A panic's message (`&str` or `String` payloads; anything else is "unknown panic").
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Runs `f`, turning a panic into [`ApiError::Internal`] (never an unwind across the FFI).
pub fn catch_panic<T>(f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(ApiError::Internal {
            message: format!(
                "panic caught at the FFI boundary: {}",
                panic_message(payload.as_ref())
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_their_kind_with_the_full_message() {
        let e = ApiError::from(Error::Model(ModelError::HashMismatch {
            name: "m".into(),
            path: "/x".into(),
            expected: "aa".into(),
            got: "bb".into(),
        }));
        assert!(matches!(e, ApiError::ModelIntegrity { .. }));
        assert!(e.message().contains("expected aa"), "{e}");
        let e = ApiError::from(Error::Config(
            "min_presence must be in [0, 1], got 2".into(),
        ));
        assert!(matches!(e, ApiError::InvalidArgument { .. }));
        let e = ApiError::from(Error::Model(ModelError::RuntimeMissing {
            path: "/nope".into(),
            hint: "h".into(),
        }));
        assert!(matches!(e, ApiError::RuntimeUnavailable { .. }));
    }

    #[test]
    fn input_model_output_and_invariant_errors_get_distinct_kinds() {
        let input = ApiError::from(Error::InvalidInput(
            "parallax needs 468 landmarks, got 3".into(),
        ));
        assert!(matches!(input, ApiError::InvalidArgument { .. }));
        let output = ApiError::from(Error::ModelOutput(
            "eye state: model output [], expected 2 finite logits".into(),
        ));
        assert!(matches!(output, ApiError::ModelOutput { .. }));
        assert!(output.message().contains("2 finite logits"), "{output}");
        let bug = ApiError::from(Error::Internal(
            "4 output groups; at most 3 are supported".into(),
        ));
        assert!(matches!(bug, ApiError::Invariant { .. }));
        let config = ApiError::from(Error::Config("max_faces must be at least 1".into()));
        assert!(matches!(config, ApiError::InvalidArgument { .. }));
    }

    #[test]
    fn calibration_errors_keep_their_message() {
        let e = ApiError::from(Error::from(CalibrationError::HashMismatch {
            got: "aa".into(),
            expected: "bb".into(),
        }));
        assert_eq!(
            e,
            ApiError::InvalidArgument {
                message: "calibration bundle sha256 aa: expected bb".into()
            }
        );
        let e = ApiError::from(Error::from(CalibrationError::NotConverged {
            iterations: 100,
            a: 1.0,
            b: 0.0,
            gradient: 1e-3,
        }));
        assert!(matches!(e, ApiError::Processing { .. }), "{e:?}");
        assert!(e.message().starts_with("Platt fit did not converge"), "{e}");
    }

    #[test]
    fn panics_become_internal_errors() {
        let r: Result<(), ApiError> = catch_panic(|| panic!("boom"));
        assert_eq!(
            r.unwrap_err(),
            ApiError::Internal {
                message: "panic caught at the FFI boundary: boom".into()
            }
        );
    }
}

//! The C enums' value lists, their conversions to and from core, and their names, each from
//! one list.
//!
//! cbindgen reads the enums as written in `types.rs` (it does not expand macros), so the
//! enums stay literal there. The macros below take one list per enum and derive everything
//! else from it; both conversions are exhaustive `match`es, so a variant added to the C enum
//! or to core's enum without a line here does not compile. Names are never written twice:
//! `lp_result`'s are its variant names, the others are core's own spelling (`as_str`, or the
//! serde name the JSON uses), made NUL-terminated once.

use std::ffi::CString;

use liveproof_core::policy::{Band, FlowType, ReasonCode, RiskTier};
use liveproof_core::session::{Phase, UserPrompt};

use super::*;

/// `ALL` and `from_u32` for a C enum, with a compile-time check that the list is complete.
macro_rules! c_enum_values {
    ($t:ident { $($v:ident),* $(,)? }) => {
        impl $t {
            /// Every value, in declaration order.
            pub(super) const ALL: &'static [$t] = &[$($t::$v),*];

            /// The value of a C integer, if it is one.
            #[allow(dead_code)] // Not every enum is read from C.
            pub(super) fn from_u32(n: u32) -> Option<$t> {
                Self::ALL.iter().copied().find(|v| *v as u32 == n)
            }
        }
        const _: () = {
            // Fails to compile when the list above misses a variant.
            #[allow(dead_code)]
            fn complete(v: $t) {
                match v {
                    $($t::$v)|* => {}
                }
            }
        };
    };
}

/// As `c_enum_values`, plus the exhaustive conversions to and from core's enum `$core`.
macro_rules! c_enum_core {
    ($t:ident <=> $core:ident { $($v:ident = $cv:ident),* $(,)? }) => {
        c_enum_values!($t { $($v),* });
        impl $t {
            /// Core's value.
            pub(super) fn to_core(self) -> $core {
                match self {
                    $($t::$v => $core::$cv),*
                }
            }

            /// The C value of core's.
            pub(super) fn from_core(c: $core) -> $t {
                match c {
                    $($core::$cv => $t::$v),*
                }
            }
        }
    };
}

c_enum_values!(lp_result {
    LP_OK,
    LP_NULL_ARGUMENT,
    LP_INVALID_ARGUMENT,
    LP_BUFFER_TOO_SMALL,
    LP_INDEX_OUT_OF_RANGE,
    LP_SESSION_STATE,
    LP_RUNTIME_UNAVAILABLE,
    LP_MODEL_MISSING,
    LP_MODEL_INTEGRITY,
    LP_MODEL_INVALID,
    LP_TOKEN_REJECTED,
    LP_PROCESSING,
    LP_MODEL_OUTPUT,
    LP_SIGNER_FAILED,
    LP_PANIC,
    LP_INTERNAL,
});

c_enum_core!(lp_hint <=> Hint {
    LP_HINT_NO_FACE = NoFace,
    LP_HINT_MULTIPLE_FACES = MultipleFaces,
    LP_HINT_FACE_OCCLUDED = FaceOccluded,
    LP_HINT_TOO_DARK = TooDark,
    LP_HINT_TOO_BRIGHT = TooBright,
    LP_HINT_MOVE_CLOSER = MoveCloser,
    LP_HINT_MOVE_AWAY = MoveAway,
    LP_HINT_CENTER_FACE = CenterFace,
    LP_HINT_LOOK_STRAIGHT = LookStraight,
    LP_HINT_BLURRY = Blurry,
    LP_HINT_HOLD_STILL = HoldStill,
});

c_enum_core!(lp_frame_note <=> FrameNote {
    LP_FRAME_NOTE_REPEATED_TIMESTAMP = RepeatedTimestamp,
    LP_FRAME_NOTE_CLOCK_WENT_BACKWARDS = ClockWentBackwards,
});

c_enum_core!(lp_band <=> Band {
    LP_BAND_PASS = Pass,
    LP_BAND_RETRY = Retry,
    LP_BAND_FAIL = Fail,
});

c_enum_core!(lp_phase <=> Phase {
    LP_PHASE_POSITIONING = Positioning,
    LP_PHASE_PASSIVE = Passive,
    LP_PHASE_CHALLENGE = Challenge,
    LP_PHASE_DONE = Done,
});

c_enum_core!(lp_prompt <=> UserPrompt {
    LP_PROMPT_NONE = None,
    LP_PROMPT_HOLD_STILL = HoldStill,
    LP_PROMPT_BLINK = Blink,
    LP_PROMPT_TURN_LEFT = TurnLeft,
    LP_PROMPT_TURN_RIGHT = TurnRight,
    LP_PROMPT_NOD = Nod,
    LP_PROMPT_SMILE = Smile,
});

c_enum_core!(lp_flow <=> FlowType {
    LP_FLOW_ACCOUNT_OPENING = AccountOpening,
    LP_FLOW_LOGIN = Login,
    LP_FLOW_TRANSACTION = Transaction,
    LP_FLOW_RECOVERY = Recovery,
});

c_enum_core!(lp_tier <=> RiskTier {
    LP_TIER_LOW = Low,
    LP_TIER_MEDIUM = Medium,
    LP_TIER_HIGH = High,
});

c_enum_core!(lp_reason <=> ReasonCode {
    LP_REASON_PASSIVE_SCORE_HIGH = PassiveScoreHigh,
    LP_REASON_PASSIVE_SCORE_UNCERTAIN = PassiveScoreUncertain,
    LP_REASON_PASSIVE_SCORE_LOW = PassiveScoreLow,
    LP_REASON_CHALLENGE_PASSED = ChallengePassed,
    LP_REASON_CHALLENGE_FAILED = ChallengeFailed,
    LP_REASON_CHALLENGE_TIMEOUT = ChallengeTimeout,
    LP_REASON_FACE_CHANGED = FaceChanged,
    LP_REASON_QUALITY_OK = QualityOk,
    LP_REASON_QUALITY_POOR_RETRY = QualityPoorRetry,
    LP_REASON_NO_FACE = NoFace,
    LP_REASON_SIGNAL_UNAVAILABLE = SignalUnavailable,
    LP_REASON_MATCH_PASSED = MatchPassed,
    LP_REASON_MATCH_FAILED = MatchFailed,
    LP_REASON_MATCH_UNCERTAIN = MatchUncertain,
    LP_REASON_VIRTUAL_CAMERA_DETECTED = VirtualCameraDetected,
    LP_REASON_INJECTION_DETECTED = InjectionDetected,
    LP_REASON_DEVICE_RISK_DETECTED = DeviceRiskDetected,
    LP_REASON_PASSIVE_ONLY = PassiveOnly,
    LP_REASON_CAPTURE_INCOMPLETE = CaptureIncomplete,
    LP_REASON_MAX_ATTEMPTS_REACHED = MaxAttemptsReached,
    LP_REASON_CLIENT_DECISION_MISMATCH = ClientDecisionMismatch,
});

c_enum_values!(lp_signature_format {
    LP_SIGNATURE_RAW,
    LP_SIGNATURE_DER,
});

/// The name serde gives a unit variant (the JSON's spelling).
pub(super) fn serde_name<T: serde::Serialize>(v: T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

/// Names as static NUL-terminated strings, built once from one list of (value, name).
pub(super) struct NameTable(OnceLock<Vec<(u32, CString)>>);

impl NameTable {
    pub(super) const fn new() -> NameTable {
        NameTable(OnceLock::new())
    }

    /// The name of `value`, or `unknown`. The pointer is valid for the process's lifetime
    /// (the table lives in a static and is never changed once built).
    pub(super) fn lookup(
        &'static self,
        value: u32,
        build: impl FnOnce() -> Vec<(u32, String)>,
        unknown: &'static CStr,
    ) -> *const c_char {
        let table = self.0.get_or_init(|| {
            build()
                .into_iter()
                // Names are identifiers: never a NUL inside.
                .filter_map(|(v, name)| CString::new(name).ok().map(|c| (v, c)))
                .collect()
        });
        table
            .iter()
            .find(|(v, _)| *v == value)
            .map_or(unknown.as_ptr(), |(_, name)| name.as_ptr())
    }
}

pub(super) fn result_names() -> Vec<(u32, String)> {
    lp_result::ALL
        .iter()
        .map(|r| (*r as u32, format!("{r:?}")))
        .collect()
}

pub(super) fn hint_names() -> Vec<(u32, String)> {
    lp_hint::ALL
        .iter()
        .map(|h| (*h as u32, h.to_core().as_str().to_owned()))
        .collect()
}

pub(super) fn frame_note_names() -> Vec<(u32, String)> {
    lp_frame_note::ALL
        .iter()
        .map(|n| (*n as u32, serde_name(n.to_core())))
        .collect()
}

pub(super) fn band_names() -> Vec<(u32, String)> {
    lp_band::ALL
        .iter()
        .map(|b| (*b as u32, b.to_core().as_str().to_owned()))
        .collect()
}

pub(super) fn reason_names() -> Vec<(u32, String)> {
    lp_reason::ALL
        .iter()
        .map(|r| (*r as u32, r.to_core().as_str().to_owned()))
        .collect()
}

pub(super) fn phase_names() -> Vec<(u32, String)> {
    lp_phase::ALL
        .iter()
        .map(|p| (*p as u32, serde_name(p.to_core())))
        .collect()
}

pub(super) fn prompt_names() -> Vec<(u32, String)> {
    lp_prompt::ALL
        .iter()
        .map(|p| (*p as u32, serde_name(p.to_core())))
        .collect()
}

pub(super) fn flow_names() -> Vec<(u32, String)> {
    lp_flow::ALL
        .iter()
        .map(|f| (*f as u32, serde_name(f.to_core())))
        .collect()
}

pub(super) fn tier_names() -> Vec<(u32, String)> {
    lp_tier::ALL
        .iter()
        .map(|t| (*t as u32, serde_name(t.to_core())))
        .collect()
}

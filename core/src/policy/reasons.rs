//! The reason-code catalogue: a stable enum whose numeric codes are never reused. A retired
//! code stays in the catalogue, marked retired; a new reason gets the next free number.

use serde::{Deserialize, Serialize};

macro_rules! reason_codes {
    ($( $(#[$doc:meta])* $variant:ident = $code:literal, $name:literal; )*) => {
        /// Why a capture got its band. Serialised as its stable snake_case name; [`Self::code`]
        /// is its stable number (C ABI, logs).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum ReasonCode {
            $( $(#[$doc])* $variant, )*
        }

        impl ReasonCode {
            /// Every code, in catalogue order.
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant),*];

            /// The stable number (never reused).
            pub const fn code(self) -> u16 {
                match self { $(ReasonCode::$variant => $code,)* }
            }

            /// The stable name (as serialised).
            pub const fn as_str(self) -> &'static str {
                match self { $(ReasonCode::$variant => $name,)* }
            }

            /// The code of a stable number.
            pub fn from_code(code: u16) -> Option<ReasonCode> {
                Self::ALL.iter().copied().find(|r| r.code() == code)
            }
        }
    };
}

reason_codes! {
    /// The fused passive evidence was at or above the pass threshold.
    PassiveScoreHigh = 1, "passive_score_high";
    /// The fused passive evidence was between the bands.
    PassiveScoreUncertain = 2, "passive_score_uncertain";
    /// The fused passive evidence was at or below the fail threshold.
    PassiveScoreLow = 3, "passive_score_low";
    /// Every challenge step was performed.
    ChallengePassed = 4, "challenge_passed";
    /// A challenge step was performed wrongly, or moved like a flat surface.
    ChallengeFailed = 5, "challenge_failed";
    /// A challenge step was not performed in time (retry: the user may not have understood).
    ChallengeTimeout = 6, "challenge_timeout";
    /// The face changed, or was lost too long, during the capture.
    FaceChanged = 7, "face_changed";
    /// The capture quality was good enough to decide.
    QualityOk = 8, "quality_ok";
    /// The capture quality was too poor to decide: retry (never read as a spoof).
    QualityPoorRetry = 9, "quality_poor_retry";
    /// No usable face was seen.
    NoFace = 10, "no_face";
    /// A signal the policy requires, or the minimum number of signals, was not available.
    SignalUnavailable = 11, "signal_unavailable";
    /// The face matched the enrolled template.
    MatchPassed = 12, "match_passed";
    /// The face did not match the enrolled template.
    MatchFailed = 13, "match_failed";
    /// The match was uncertain: retry.
    MatchUncertain = 14, "match_uncertain";
    /// The frames came from a virtual camera.
    VirtualCameraDetected = 15, "virtual_camera_detected";
    /// The frames were injected into the capture pipeline.
    InjectionDetected = 16, "injection_detected";
    /// The device reported a severe risk (rooted, emulated, tampered).
    DeviceRiskDetected = 17, "device_risk_detected";
    /// The policy asked for passive liveness only on this flow and risk tier.
    PassiveOnly = 18, "passive_only";
    /// The capture was cancelled or ended before the challenge could finish.
    CaptureIncomplete = 19, "capture_incomplete";
    /// This failure reached the policy's limit of consecutive failures: the app should
    /// stop offering retries for a while (NIST SP 800-63B-4 throttling, AWS's guidance).
    MaxAttemptsReached = 20, "max_attempts_reached";
    /// The server re-applied the tenant policy to the reported scores and signals and reached
    /// another band than the device reported (the verifier's verdict; never a device's).
    ClientDecisionMismatch = 21, "client_decision_mismatch";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_names_are_unique_and_stable() {
        let mut codes: alloc::vec::Vec<u16> = ReasonCode::ALL.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), ReasonCode::ALL.len(), "a code is used twice");
        for r in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_code(r.code()), Some(*r));
            let json = serde_json::to_string(r).unwrap();
            assert_eq!(json, alloc::format!("\"{}\"", r.as_str()));
        }
        // Pinned: these numbers are a public contract (docs/decision.md).
        assert_eq!(ReasonCode::PassiveScoreHigh.code(), 1);
        assert_eq!(ReasonCode::QualityPoorRetry.code(), 9);
        assert_eq!(ReasonCode::MaxAttemptsReached.code(), 20);
    }
}

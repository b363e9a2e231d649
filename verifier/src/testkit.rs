//! SYNTHETIC signed results for tests and the load bench: a token from a [`Verifier`], checked
//! as a device would, and a result assembled by core's pure decision code from made-up
//! evidence (`core::trust::testkit`), signed by a software device key. Never a capture.

use std::time::SystemTime;

use anyhow::{Context, Result};
use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::result::SessionResult;
use liveproof_core::trust::{
    sign_result, testkit::synthetic_result, verify_token, AttestationEvidence, Signer,
};

use crate::verify::{IssueRequest, IssuedToken, Verifier};

/// Raw score that the shipped calibration and policy turn into a pass (SYNTHETIC).
pub const PASSING_RAW: f32 = 0.9;

/// Issues an uncounted token for `tenant` ([`Verifier::issue_uncounted`]) and returns it with
/// a SYNTHETIC result of raw score `raw`, signed by `device`.
pub fn signed_sample(
    verifier: &Verifier,
    tenant: &str,
    device: &dyn Signer,
    raw: f32,
    now: SystemTime,
) -> Result<(IssuedToken, Vec<u8>)> {
    signed_sample_with(
        verifier,
        &IssueRequest {
            tenant: tenant.into(),
            ..IssueRequest::default()
        },
        device,
        raw,
        now,
        Vec::new(),
        |_| {},
    )
}

/// As [`signed_sample`], with the request given, attestation evidence attached, and `edit`
/// applied to the result before it is signed (to forge what a tampered device would send).
pub fn signed_sample_with(
    verifier: &Verifier,
    request: &IssueRequest,
    device: &dyn Signer,
    raw: f32,
    now: SystemTime,
    attestation: Vec<AttestationEvidence>,
    edit: impl FnOnce(&mut SessionResult),
) -> Result<(IssuedToken, Vec<u8>)> {
    let issued = verifier
        .issue_uncounted(request, now)
        .context("issuing the token")?;
    let signed = sign_issued(verifier, &issued, device, raw, now, attestation, edit)?;
    Ok((issued, signed))
}

/// A SYNTHETIC result of raw score `raw` for a token already issued (counted or not), checked
/// as a device would at `now`, edited by `edit` and signed by `device` at `now`.
pub fn sign_issued(
    verifier: &Verifier,
    issued: &IssuedToken,
    device: &dyn Signer,
    raw: f32,
    now: SystemTime,
    attestation: Vec<AttestationEvidence>,
    edit: impl FnOnce(&mut SessionResult),
) -> Result<Vec<u8>> {
    let now_s = liveproof_core::trust::unix_seconds(now);
    let cfg = verifier.config();
    let token = verify_token(&issued.token, &cfg.keys, now_s, cfg.skew_s)?;
    let policy = token.policy()?.context("the token carries no policy")?;
    let calibration = CalibrationBundle::from_json(liveproof_core::defaults::CALIBRATION_JSON)?;
    let mut result = synthetic_result(&policy, &calibration, &token.claims, raw);
    edit(&mut result);
    Ok(sign_result(&token, &result, device, attestation, now_s)?)
}

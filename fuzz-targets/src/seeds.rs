//! The seed corpora of `fuzz/corpus/<target>/`, made here from SYNTHETIC values only: tiny
//! frames of a byte gradient, a token and a result signed with the fixed test keys, and the
//! repository's own default policy, calibration and manifest. `tests/corpus.rs` checks that
//! the committed files are these, and writes them with `LIVEPROOF_WRITE_FUZZ_SEEDS=1`.

use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::policy::{DeviceKeyTrust, FlowType, LoadedPolicy, RiskTier};
use liveproof_core::trust::{
    issue_token, sign_result, testkit::synthetic_result, verify_token, SoftwareSigner, TokenClaims,
};

use crate::{hex, DEVICE_SECRET, NOW_UNIX_S, TENANT};

/// The shipped policy with device keys trusted unverified (lab mode): the trust targets'
/// tenant policy.
pub fn lab_policy() -> LoadedPolicy {
    let mut p = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON)
        .expect("the shipped policy")
        .policy;
    p.security.device_key = DeviceKeyTrust::AllowUnverified;
    LoadedPolicy::new(p).expect("the lab policy")
}

/// The SYNTHETIC token claims of the seeds: the verifier's issuer, [`TENANT`], issued at
/// [`NOW_UNIX_S`] for 180 s, session id `5e` × 16, carrying `policy`.
pub fn token_claims(policy: &LoadedPolicy) -> TokenClaims {
    let mut policy_sha256 = [0u8; 32];
    for (i, o) in policy_sha256.iter_mut().enumerate() {
        *o = u8::from_str_radix(&policy.sha256[2 * i..2 * i + 2], 16).expect("policy hash hex");
    }
    TokenClaims {
        issuer: "liveproof-verifier".into(),
        issued_at: NOW_UNIX_S,
        expires_at: NOW_UNIX_S + 180,
        session_id: [0x5e; 16],
        nonce: vec![0x4e; 32],
        tenant: TENANT.into(),
        seed: [7; 32],
        flow: FlowType::Login,
        tier: RiskTier::Medium,
        policy_sha256,
        policy_json: Some(serde_json::to_string(&policy.policy).expect("policy JSON")),
        attempt: 1,
        max_attempts: 5,
        consecutive_failures: 0,
    }
}

/// A token for the lab policy signed by the SYNTHETIC server key; with `carry_policy` false
/// it names the policy by hash only.
pub fn token(carry_policy: bool) -> Vec<u8> {
    let mut claims = token_claims(&lab_policy());
    if !carry_policy {
        claims.policy_json = None;
    }
    issue_token(&claims, &crate::trust::server_keys()).expect("issue the seed token")
}

/// A SYNTHETIC result for [`token`] (every signal at raw score `raw`), signed by the
/// SYNTHETIC device key at [`NOW_UNIX_S`].
pub fn signed_result(raw: f32) -> Vec<u8> {
    let keys = crate::trust::server_keys();
    let token = verify_token(&token(true), &keys, NOW_UNIX_S, 30).expect("the seed token");
    let policy = token.policy().expect("its policy").expect("carried");
    let calibration = CalibrationBundle::from_json(liveproof_core::defaults::CALIBRATION_JSON)
        .expect("the shipped calibration");
    let result = synthetic_result(&policy, &calibration, &token.claims, raw);
    let device = SoftwareSigner::from_secret_bytes(&DEVICE_SECRET).expect("device key");
    sign_result(&token, &result, &device, Vec::new(), NOW_UNIX_S).expect("sign the seed")
}

/// A frame input (layout in `frame.rs`): `format_code` (1..=7), an 8×8 buffer (or 8×6),
/// `orient` (rotation index | mirrored << 3), `pad` bytes of stride padding per plane,
/// `contiguous`, then the check bytes and a 64-byte gradient of pixels.
fn frame_seed(format_code: u8, orient: u8, pad: u8, contiguous: bool, tall: bool) -> Vec<u8> {
    // A contiguous buffer has no row padding and no extra bytes.
    let (pad, extra) = if contiguous {
        (0, [0; 3])
    } else {
        (pad, [0, 1, 2])
    };
    let mut v = vec![
        format_code,
        7,
        if tall { 7 } else { 5 },
        orient,
        pad,
        pad,
        pad,
        extra[0],
        extra[1],
        extra[2],
        u8::from(contiguous),
        0x10,
        0x00,
    ];
    // Checks: picks, region, affine (scale 1.5, angle, translation), tensor 6×5, border, layout
    // and normalisation, crop origin.
    v.extend_from_slice(&[3, 4, 1, 2, 5, 4, 3, 20, 2, 254, 0, 5, 4, 9, 2, 1, 1]);
    v.extend((0..64u8).map(|i| i.wrapping_mul(37).wrapping_add(16)));
    v
}

/// Every target's seeds: `(target, file name, bytes)`.
pub fn seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    let names = ["rgba", "bgra", "rgb", "nv21", "nv12", "i420", "gray"];
    for (i, name) in names.iter().enumerate() {
        let code = i as u8 + 1;
        // Rotation and mirroring vary with the format; every third one is contiguous.
        let orient = (i as u8 % 4) | (u8::from(i % 2 == 1) << 3);
        let bytes = frame_seed(code, orient, (i as u8 * 5) % 17, i % 3 == 2, i % 2 == 0);
        let file = format!("{name}-8x{}.bin", if i % 2 == 0 { 8 } else { 6 });
        out.push(("frame", file.clone(), bytes.clone()));
        out.push(("capi_frame", file, bytes));
    }
    // The C target also starts from a NULL chroma plane and an unknown format value.
    let mut null_plane = frame_seed(4, 0, 0, false, true);
    null_plane[10] = 2 << 1;
    out.push(("capi_frame", "nv21-null-plane.bin".into(), null_plane));
    out.push((
        "capi_frame",
        "format-8.bin".into(),
        frame_seed(8, 0, 0, false, true),
    ));

    out.push(("token_device", "token.cbor".into(), token(true)));
    out.push((
        "token_device",
        "token-policy-by-hash.cbor".into(),
        token(false),
    ));
    let passing = signed_result(0.9);
    out.push((
        "result_verifier",
        "result-pass.cose".into(),
        passing.clone(),
    ));
    out.push((
        "result_verifier",
        "result-fail.cose".into(),
        signed_result(0.05),
    ));

    out.push((
        "policy_json",
        "policy-default.json".into(),
        liveproof_core::defaults::POLICY_JSON.as_bytes().to_vec(),
    ));
    out.push((
        "calibration",
        "calibration-default.json".into(),
        liveproof_core::defaults::CALIBRATION_JSON
            .as_bytes()
            .to_vec(),
    ));
    let template = serde_json::json!({
        "format": 1,
        "model": "w600k_mbf",
        "model_sha256": "00".repeat(32),
        "embedding": [0.5, -0.5, 0.5, -0.5],
        "quality": 0.8,
        "frames": 3
    });
    out.push((
        "face_template",
        "template-4d.json".into(),
        template.to_string().into_bytes(),
    ));
    out.push((
        "model_manifest",
        "manifest-two-models.toml".into(),
        manifest_excerpt(),
    ));

    let issue = serde_json::json!({
        "tenant": TENANT,
        "subject": "user-1",
        "flow": "login",
        "tier": "high",
        "ttl_seconds": 120,
    });
    out.push((
        "verifier_http",
        "issue.json".into(),
        issue.to_string().into_bytes(),
    ));
    out.push(("verifier_http", "result.cose".into(), passing.clone()));
    let verify = serde_json::json!({
        "result_b64": liveproof_verifier::base64_encode(&passing),
        "session_id": hex(&[0x5e; 16]),
        "tenant": TENANT,
    });
    out.push((
        "verifier_http",
        "verify.json".into(),
        verify.to_string().into_bytes(),
    ));
    let device = SoftwareSigner::from_secret_bytes(&DEVICE_SECRET)
        .and_then(|s| s.public())
        .expect("device key");
    let register = serde_json::json!({
        "tenant": TENANT,
        "public_key_b64": liveproof_verifier::base64_encode(&device.sec1()),
        "label": "fuzz",
    });
    out.push((
        "verifier_http",
        "device-key.json".into(),
        register.to_string().into_bytes(),
    ));
    out
}

/// The embedded manifest's `[runtime]` table and its first two `[[model]]` entries, comment
/// lines dropped.
fn manifest_excerpt() -> Vec<u8> {
    let mut text = String::new();
    let mut models = 0;
    for line in liveproof_core::models::EMBEDDED_MANIFEST.lines() {
        let t = line.trim_start();
        if t.starts_with("[[model]]") {
            models += 1;
        }
        if models > 2 || t.starts_with("[[fixture]]") {
            break;
        }
        if t.starts_with('#') || t.is_empty() {
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text.into_bytes()
}

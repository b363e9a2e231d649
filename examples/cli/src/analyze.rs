//! `liveproof analyze FRAMES_DIR`: one whole session over a folder of frames, with the
//! shipped (or a given) policy and calibration bundle; prints the `SessionResult` and its
//! audit record. With `--token`, the session is the server's: its seed, flow, tier, attempt
//! and policy come from the verified token, and the signed result goes to `--out`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use liveproof_core::calibration::CalibrationBundle;
use liveproof_core::engine::{Engine, EngineConfig};
use liveproof_core::frame::{Frame, PixelFormat};
use liveproof_core::matching::FaceTemplate;
use liveproof_core::passive::analyzer::PassiveConfig;
use liveproof_core::policy::{FlowType, LoadedPolicy, RiskTier};
use liveproof_core::session::{
    LoadedCalibration, Session, SessionConfig, SessionModels, SessionParams,
};

use liveproof_core::defaults::{
    CALIBRATION_JSON as DEFAULT_CALIBRATION, POLICY_JSON as DEFAULT_POLICY,
};
use liveproof_core::trust::{
    now_unix, sign_result, verify_token, ServerKeySet, SoftwareSigner, VerifiedToken,
    DEFAULT_SKEW_S,
};

/// The trust chain's part of `analyze`: the server's token and keys, the device key, the output.
pub struct TrustArgs<'a> {
    pub token: &'a Path,
    pub server_key: &'a Path,
    pub sign_key: &'a Path,
    pub out: &'a Path,
}

/// What `analyze` was asked.
pub struct AnalyzeArgs<'a> {
    pub frames: &'a Path,
    pub policy: Option<&'a Path>,
    pub calibration: Option<&'a Path>,
    pub seed: Option<&'a str>,
    pub template: Option<&'a Path>,
    pub flow: FlowType,
    pub tier: RiskTier,
    pub json: bool,
    /// Recorded media (files, a decoded video): the stream injection heuristics are not run
    /// (`SessionConfig::live_capture`). Never with a token: a token session is live.
    pub offline: bool,
    pub trust: Option<TrustArgs<'a>>,
}

/// Reads and checks the server's token against its pinned public keys (signature, `kid`,
/// lifetime with the default skew, claims, the policy against its hash).
fn load_token(t: &TrustArgs<'_>) -> Result<(VerifiedToken, LoadedPolicy)> {
    let bytes = std::fs::read(t.token).with_context(|| format!("reading {}", t.token.display()))?;
    let keys = ServerKeySet::load(t.server_key)?;
    let token = verify_token(&bytes, &keys, now_unix(), DEFAULT_SKEW_S)
        .with_context(|| format!("the session token {}", t.token.display()))?;
    let policy = token
        .policy()?
        .context("the token carries no policy (only its hash); this CLI needs it in the token")?;
    Ok((token, policy))
}

fn read(path: Option<&Path>, default: &str) -> Result<String> {
    match path {
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display())),
        None => Ok(default.to_string()),
    }
}

fn parse_seed(hex_seed: Option<&str>) -> Result<[u8; 32]> {
    let mut seed = [0u8; 32];
    match hex_seed {
        Some(h) => {
            let bytes = hex::decode(h.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .context("--seed wants 64 hex digits (a 32-byte seed)")?;
            seed.copy_from_slice(&bytes);
        }
        None => {
            // No server here: a seed from the clock, said in the output.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            seed[..16].copy_from_slice(&t.to_le_bytes());
        }
    }
    Ok(seed)
}

pub fn analyze(
    engine: &Arc<Engine>,
    config: &EngineConfig,
    args: &AnalyzeArgs<'_>,
    frame_paths: &[PathBuf],
    stamps: &[u64],
) -> Result<()> {
    let token = args.trust.as_ref().map(load_token).transpose()?;
    let policy = match &token {
        Some((_, p)) => p.clone(),
        None => {
            LoadedPolicy::from_json(&read(args.policy, DEFAULT_POLICY)?).context("the policy")?
        }
    };
    let bundle: CalibrationBundle =
        CalibrationBundle::from_json(&read(args.calibration, DEFAULT_CALIBRATION)?)
            .context("the calibration bundle")?;
    let calibration = LoadedCalibration::new(bundle)?;
    let template: Option<FaceTemplate> = match args.template {
        Some(p) => {
            let t: FaceTemplate = serde_json::from_str(
                &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("{} is not a LiveProof face template", p.display()))?;
            t.validate()?;
            Some(t)
        }
        None => None,
    };
    let embedding = template
        .as_ref()
        .map(|t| t.model.clone())
        .unwrap_or_else(|| "fr_feature".into());
    let passive = PassiveConfig::default();
    let models = Arc::new(SessionModels::load(config, &passive, &embedding));
    let params = match &token {
        Some((t, _)) => t.session_params(template, ""),
        None => SessionParams {
            template,
            ..SessionParams::first_attempt(
                parse_seed(args.seed)?,
                args.flow,
                args.tier,
                args.frames.display().to_string(),
            )
        },
    };
    let seed = params.seed;
    let session = Session::new(
        engine.clone(),
        models,
        Arc::new(policy),
        Arc::new(calibration),
        params,
        SessionConfig {
            passive,
            live_capture: !args.offline,
            ..SessionConfig::default()
        },
    )?;
    // A token session is a device's: probe this host as an app would (docs/device-signals.md);
    // the findings go into the signed result's security submodule.
    let mut session = if token.is_some() {
        let report = liveproof_core::security::probe_this_device(
            &liveproof_core::security::ProcessFacts::default(),
        );
        session.with_security(report, None)
    } else {
        session
    };
    let mut size: Option<(u32, u32)> = None;
    for (path, &ts) in frame_paths.iter().zip(stamps) {
        let d = crate::decode_frame(path, &mut size)?;
        let frame = Frame::contiguous(d.width, d.height, PixelFormat::Rgb888, &d.rgb)?
            .with_timestamp_ns(ts);
        session
            .push_frame(&frame)
            .with_context(|| format!("frame {}", path.display()))?;
    }
    let r = session.finish();
    if let (Some((token, _)), Some(t)) = (&token, &args.trust) {
        let signer = SoftwareSigner::load(t.sign_key)?;
        let signed = sign_result(token, &r, &signer, Vec::new(), now_unix())?;
        std::fs::write(t.out, &signed).with_context(|| format!("writing {}", t.out.display()))?;
        eprintln!(
            "signed result for session {} ({} bytes) written to {}",
            token.claims.session_id_hex(),
            signed.len(),
            t.out.display()
        );
    }
    if args.json {
        let out = serde_json::json!({
            "seed": hex::encode(seed),
            "result": r,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{}: {:?} (fused LLR {}), {} frames, {} usable",
            args.frames.display(),
            r.band,
            r.fused
                .map(|f| format!("{f:.2}"))
                .unwrap_or_else(|| "-".into()),
            r.quality.frames,
            r.quality.usable_frames
        );
        let reasons: Vec<&str> = r.reasons.iter().map(|c| c.as_str()).collect();
        println!("  reasons: {}", reasons.join(", "));
        for (s, c) in &r.top_contributions {
            println!("  {:<10} contributes {c:+.2}", s.as_str());
        }
        for s in r.signals.iter().filter(|s| !s.available) {
            println!("  {:<10} not available: {}", s.signal.as_str(), s.reason);
        }
        println!(
            "  latency: tracking {:.0} ms, passive {:.0} ms, challenge {:.0} ms, finish {:.0} ms \
             over {} frames",
            r.timings.tracking_ms,
            r.timings.passive_ms,
            r.timings.challenge_ms,
            r.timings.finish_ms,
            r.timings.frames
        );
        println!(
            "  policy {} / calibration {}",
            &r.policy_sha256[..12],
            &r.calibration_sha256[..12]
        );
    }
    Ok(())
}

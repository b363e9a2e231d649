//! The trust chain end to end with the real binaries: `liveproof-verifier keygen` and
//! `issue` → `liveproof keygen` → a SYNTHETIC bona fide capture acting out the token's seed →
//! `liveproof analyze --token --server-key --sign-key --out` → `liveproof-verifier verify`
//! accepts; a flipped byte and a replay are rejected.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use liveproof_tests::{models_dir, ort_lib};
use serde_json::Value;

/// `liveproof-verifier`, built beside `liveproof` by `cargo test --workspace`.
fn verifier_bin() -> PathBuf {
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_liveproof"));
    let p = cli.with_file_name(format!(
        "liveproof-verifier{}",
        std::env::consts::EXE_SUFFIX
    ));
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build -p liveproof-verifier` (cargo test \
         --workspace does)",
        p.display()
    );
    p
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("running a binary");
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn verify(result: &Path, keys: &Path, device_pub: &Path) -> (Option<i32>, Value) {
    let out = run(Command::new(verifier_bin()).args([
        "verify",
        result.to_str().unwrap(),
        "--key",
        keys.to_str().unwrap(),
        "--device-key",
        device_pub.to_str().unwrap(),
        "--json",
    ]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), v)
}

#[test]
fn issue_analyze_sign_verify_and_tamper() {
    use liveproof_core::policy::LoadedPolicy;

    let dir = std::env::temp_dir().join(format!("lp-trust-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("server-keys");
    let device_key = dir.join("device.key");
    let token = dir.join("token.cose");
    let result = dir.join("result.cose");

    ok(&run(Command::new(verifier_bin()).args([
        "keygen",
        "--out",
        keys.to_str().unwrap(),
    ])));
    ok(&run(Command::new(env!("CARGO_BIN_EXE_liveproof")).args([
        "keygen",
        "--out",
        device_key.to_str().unwrap(),
    ])));
    let policy = LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap();
    let (seed, plan) = common::seed_without_blink(&policy.policy.challenge.plan);
    let seed_hex = hex::encode(seed);
    ok(&run(Command::new(verifier_bin()).args([
        "issue",
        "--key",
        keys.to_str().unwrap(),
        "--tenant",
        "acme",
        "--flow",
        "account_opening",
        "--tier",
        "high",
        "--seed",
        &seed_hex,
        "--out",
        token.to_str().unwrap(),
    ])));
    // The SYNTHETIC capture acts out the seed's plan.
    let frames = dir.join("frames");
    common::performed_capture(&plan, 1.5, &frames);

    let out = run(Command::new(env!("CARGO_BIN_EXE_liveproof")).args([
        "--models-dir",
        models_dir().to_str().unwrap(),
        "--ort-lib",
        ort_lib().to_str().unwrap(),
        "analyze",
        frames.to_str().unwrap(),
        "--token",
        token.to_str().unwrap(),
        "--server-key",
        keys.to_str().unwrap(),
        "--sign-key",
        device_key.to_str().unwrap(),
        "--out",
        result.to_str().unwrap(),
        "--json",
    ]));
    let analysis: Value = serde_json::from_str(&ok(&out)).unwrap();
    let device_band = analysis["result"]["band"].clone();
    println!(
        "SYNTHETIC capture: device band {device_band}, reasons {}",
        analysis["result"]["reasons"]
    );

    let device_pub = dir.join("device.key.pub");
    let (code, v) = verify(&result, &keys, &device_pub);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["accepted"], true, "{v:#}");
    assert_eq!(
        v["band"], device_band,
        "the server stands behind the device's band"
    );
    assert_eq!(v["tenant"], "acme");
    assert_eq!(v["device_key_trust"], "registered");

    // The same file again in a new process: the in-memory store of one process cannot see the
    // first claim, which is why several instances need Redis (verifier tests); here a flipped
    // byte is the point.
    let mut bytes = std::fs::read(&result).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let tampered = dir.join("tampered.cose");
    std::fs::write(&tampered, &bytes).unwrap();
    let (code, v) = verify(&tampered, &keys, &device_pub);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["accepted"], false);
    assert!(v["failed_check"].is_string(), "{v:#}");
    println!(
        "tampered: rejected at {} ({})",
        v["failed_check"], v["reject_reason"]
    );

    // Without the device key registered, the shipped policy does not trust it.
    let out = run(Command::new(verifier_bin()).args([
        "verify",
        result.to_str().unwrap(),
        "--key",
        keys.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reject_reason"], "device_key_untrusted", "{v:#}");
    std::fs::remove_dir_all(&dir).ok();
}

//! Two `liveproof-verifier verify --redis` processes on one SYNTHETIC signed result, sharing one
//! private loopback Redis: exactly one accepts, the other rejects it as replayed.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::SystemTime;

use liveproof_core::policy::LoadedPolicy;
use liveproof_core::trust::{ServerKeySet, SoftwareSigner};
use liveproof_verifier::registry::MemoryDeviceKeyRegistry;
use liveproof_verifier::store::MemoryReplayStore;
use liveproof_verifier::testkit::{signed_sample, PASSING_RAW};
use liveproof_verifier::{Verifier, VerifierConfig};
use support::TestRedis;

#[test]
fn two_verifier_processes_sharing_redis_accept_a_result_once() {
    let redis = TestRedis::start();
    let dir = std::env::temp_dir().join(format!("lp-cli-redis-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keys = dir.join("keys");
    ServerKeySet::generate(&keys).unwrap();
    let device = SoftwareSigner::generate();
    let device_key = dir.join("device.key");
    let device_pub = device.save(&device_key).unwrap();
    // Issue and sign in-process with the same key directory the processes load.
    let issuer = Verifier::new(
        VerifierConfig::single_tenant(
            ServerKeySet::load(&keys).unwrap(),
            "acme",
            LoadedPolicy::from_json(liveproof_core::defaults::POLICY_JSON).unwrap(),
        )
        .unwrap(),
        Arc::new(MemoryReplayStore::new()),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    );
    let (_, bytes) =
        signed_sample(&issuer, "acme", &device, PASSING_RAW, SystemTime::now()).unwrap();
    let result = dir.join("result.cose");
    std::fs::write(&result, &bytes).unwrap();
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_liveproof-verifier"))
            .arg("verify")
            .arg(&result)
            .arg("--key")
            .arg(&keys)
            .arg("--device-key")
            .arg(&device_pub)
            .args(["--redis", &redis.url(), "--json"])
            .output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let mut codes = [a.status.code(), b.status.code()];
    codes.sort();
    assert_eq!(
        codes,
        [Some(0), Some(1)],
        "{}\n{}\n{}\n{}",
        String::from_utf8_lossy(&a.stdout),
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stdout),
        String::from_utf8_lossy(&b.stderr)
    );
    let loser = if a.status.code() == Some(1) { &a } else { &b };
    let v: serde_json::Value = serde_json::from_slice(&loser.stdout).unwrap();
    assert_eq!(v["reject_reason"], "replayed", "{v:#}");
    // A third process, later: still replayed (the claim lives in Redis, not in a process).
    let c = spawn().unwrap();
    assert_eq!(c.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

//! Replays every committed corpus file (`fuzz/corpus/<target>/`: the seeds and any input that
//! once crashed a target) through its target as an ordinary test, so `cargo xtask test` keeps
//! found crashes fixed; and checks that the seed generator's inputs reach past each parser.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use liveproof_fuzz_targets::{seeds, TARGETS};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
        .join("corpus")
}

#[test]
fn every_corpus_file_replays_without_a_crash() {
    let mut failures = Vec::new();
    let mut total = 0;
    for &(name, target) in TARGETS {
        let dir = corpus_dir().join(name);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .map(|e| e.expect("corpus entry").path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "corpus {} is empty", dir.display());
        for file in &files {
            let bytes = std::fs::read(file).expect("read corpus file");
            total += 1;
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(&bytes))) {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{name}: {}: {message}", file.display()));
            }
        }
        eprintln!("{name}: {} corpus files replayed", files.len());
    }
    assert!(
        failures.is_empty(),
        "{} of {total} inputs crashed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The generated seeds are what the targets need to go deep: frames `Frame::new` accepts, a
/// token the device accepts, a result the verifier accepts (and one it decides against), and
/// parseable policy, calibration, template and manifest.
#[test]
fn seeds_reach_past_the_parsers() {
    let all = seeds::seeds();
    for &(name, _) in TARGETS {
        assert!(all.iter().any(|(t, _, _)| *t == name), "no seed for {name}");
    }
    for (target, file, bytes) in &all {
        assert!(
            bytes.len() <= 8 * 1024,
            "{target}/{file}: {} bytes",
            bytes.len()
        );
        let text = || std::str::from_utf8(bytes).expect("UTF-8 seed");
        match *target {
            "token_device" => {
                let pem = liveproof_core::trust::SoftwareSigner::from_secret_bytes(
                    &liveproof_fuzz_targets::SERVER_SECRET,
                )
                .and_then(|s| s.public())
                .and_then(|k| k.to_pem())
                .unwrap();
                let r = liveproof_ffi::session::DeviceToken::verify(
                    bytes,
                    &[pem],
                    None,
                    liveproof_fuzz_targets::NOW_UNIX_S,
                );
                if file.contains("by-hash") {
                    let e = r.expect_err("a token naming its policy by hash needs the policy");
                    assert!(e.to_string().contains("policy"), "{e}");
                } else {
                    let t = r.unwrap_or_else(|e| panic!("{file}: {e}"));
                    assert_eq!(t.session_id(), "5e".repeat(16));
                }
            }
            "policy_json" => {
                liveproof_core::policy::LoadedPolicy::from_json(text()).unwrap();
            }
            "calibration" => {
                liveproof_core::calibration::CalibrationBundle::from_json(text()).unwrap();
            }
            "face_template" => {
                let t: liveproof_core::matching::FaceTemplate =
                    serde_json::from_str(text()).unwrap();
                t.validate().unwrap();
            }
            "model_manifest" => {
                let m = liveproof_core::models::Manifest::parse(text()).unwrap();
                assert_eq!(m.models.len(), 2, "{file}");
            }
            _ => {}
        }
    }
}

/// The frame seeds decode to frames core accepts, for each of the 7 formats.
#[test]
fn frame_seeds_are_valid_frames() {
    let all = seeds::seeds();
    let frames: Vec<_> = all.iter().filter(|(t, _, _)| *t == "frame").collect();
    assert_eq!(frames.len(), 7);
    for (_, file, bytes) in frames {
        assert!(
            liveproof_fuzz_targets::frame_accepted(bytes),
            "{file}: the seed frame is refused"
        );
    }
}

/// Both result seeds pass every check of the verifier; the passing one is decided a pass,
/// the other not (so the fuzzer starts from both sides of the decision).
#[test]
fn result_seeds_are_verified() {
    use liveproof_core::policy::Band;
    let all = seeds::seeds();
    let get = |f: &str| &all.iter().find(|(_, n, _)| n == f).expect(f).2;
    let pass = liveproof_fuzz_targets::verify_once(get("result-pass.cose"));
    assert!(pass.accepted && pass.band == Some(Band::Pass), "{pass:?}");
    let fail = liveproof_fuzz_targets::verify_once(get("result-fail.cose"));
    assert!(fail.accepted && fail.band != Some(Band::Pass), "{fail:?}");
}

/// Over HTTP, at the seeds' clock, each seed is answered by the route it was made for: a session
/// issued, the signed result accepted (raw COSE and JSON), a device key registered. So the
/// fuzzer starts past the expiry check, on the signature, binding and replay checks.
#[test]
fn http_seeds_are_answered_by_their_routes() {
    let all = seeds::seeds();
    let get = |f: &str| {
        &all.iter()
            .find(|(t, n, _)| *t == "verifier_http" && n == f)
            .expect(f)
            .2
    };
    let ok = |file: &str, route: &str| {
        let answers = liveproof_fuzz_targets::http_answers(get(file));
        let (uri, status, body) = answers
            .iter()
            .find(|(uri, _, _)| uri == route || (route.ends_with('?') && uri.starts_with(route)))
            .unwrap_or_else(|| panic!("no route {route}"));
        assert!(status.is_success(), "{file} on {uri}: {status} {body}");
        body.clone()
    };
    ok("issue.json", "/v1/sessions");
    for (file, route) in [
        ("result.cose", "/v1/verify?"),
        ("verify.json", "/v1/verify"),
    ] {
        let body = ok(file, route);
        assert_eq!(body["accepted"], true, "{file}: {body}");
    }
    ok("device-key.json", "/v1/device-keys");
}

/// Writes the seeds into `fuzz/corpus/` (refreshing them after a format change).
#[test]
#[ignore = "writes fuzz/corpus: run with --ignored to refresh the committed seeds"]
fn write_seeds() {
    for (target, file, bytes) in seeds::seeds() {
        let dir = corpus_dir().join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&file), &bytes).unwrap();
        eprintln!("wrote {target}/{file} ({} bytes)", bytes.len());
    }
}

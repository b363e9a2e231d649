//! `cargo xtask demo`: whole sessions on SYNTHETIC captures it makes from the Newton portrait (a bona fide capture, a
//! print and a screen replay, each acting out the challenge of one seed), decided with the
//! shipped policy and calibration bundle, through the trust chain: the verifier serves on
//! loopback, issues a token per capture over HTTP, each session runs on its token and signs
//! its result with a device key, and the verifier checks it over HTTP; then one tampered and
//! one replayed result are shown rejected. Printed as a table. `calibrate` refits the bundle.

use std::ffi::OsString;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{cargo, os, setup, step};

/// A fixed demo seed (any 32 bytes: the server draws a fresh one per session).
const SEED: &str = "6c6976656f726f6f662064656d6f2073656564202d2066697865642062797465";

pub fn demo() -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    let out = paths.cache.join("demo");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // Newton is held out of the shipped calibration (models/calibration_default.json says
    // which persons it was fitted on).
    let face = paths.fixtures.join("newton.png");
    let mut rows = Vec::new();
    // The trust chain: binaries, keys, and the verifier on loopback.
    step(
        "demo: build",
        &paths,
        cargo(),
        &os(&[
            "build",
            "--release",
            "-q",
            "-p",
            "liveproof-cli",
            "-p",
            "liveproof-verifier",
        ]),
    )?;
    let bin = setup::target_dir().join("release");
    let liveproof = bin.join("liveproof");
    let verifier_bin = bin.join("liveproof-verifier");
    let keys = out.join("server-keys");
    let device_key = out.join("device.key");
    run_ok(
        Command::new(&verifier_bin)
            .arg("keygen")
            .arg("--out")
            .arg(&keys),
    )?;
    run_ok(
        Command::new(&liveproof)
            .arg("keygen")
            .arg("--out")
            .arg(&device_key),
    )?;
    let server = Server::start(&verifier_bin, &keys, &out)?;
    let device_pub = liveproof_core::trust::DevicePublicKey::load(&out.join("device.key.pub"))?;
    server.post_json(
        "/v1/device-keys",
        &serde_json::json!({
            "tenant": TENANT,
            "public_key_b64": b64(&device_pub.sec1()),
            "label": "demo device",
        }),
        201,
    )?;
    let mut bona_fide_result = None;
    for kind in ["bona_fide", "print", "replay"] {
        let dir = out.join(kind);
        let mut args = os(&[
            "run",
            "--release",
            "-q",
            "-p",
            "liveproof-synth",
            "--",
            "--image",
        ]);
        args.push(face.clone().into_os_string());
        args.extend(os(&[
            "--kind",
            kind,
            "--seed",
            "7",
            "--fps",
            "30",
            "--perform",
            SEED,
            "--out",
        ]));
        args.push(dir.clone().into_os_string());
        step(&format!("demo: synth {kind}"), &paths, cargo(), &args)?;
        // A token per capture, over HTTP (the seed fixed so the capture can act it out).
        let issued = server.post_json(
            "/v1/sessions",
            &serde_json::json!({
                "tenant": TENANT,
                "flow": "account_opening",
                "tier": "medium",
                "seed_hex": SEED,
            }),
            200,
        )?;
        let token = unb64(issued["token_b64"].as_str().unwrap_or_default())?;
        let token_path = out.join(format!("{kind}.token"));
        let result_path = out.join(format!("{kind}.result.cose"));
        std::fs::write(&token_path, token)?;
        let analysis = analyze(
            &paths,
            &liveproof,
            &dir,
            &token_path,
            &keys,
            &device_key,
            &result_path,
        )?;
        let signed = std::fs::read(&result_path)?;
        // The backend verifies the result of the session it issued (never just any result).
        let verify_path = format!(
            "/v1/verify?session_id={}",
            issued["session_id"].as_str().unwrap_or_default()
        );
        let verdict = server.post_bytes(&verify_path, &signed)?;
        if kind == "bona_fide" {
            bona_fide_result = Some((verify_path, signed));
        }
        rows.push((kind, analysis, verdict));
    }
    // Tampering and replay, over HTTP too.
    let mut attempts = Vec::new();
    if let Some((path, signed)) = bona_fide_result {
        let mut tampered = signed.clone();
        let mid = tampered.len() / 2;
        tampered[mid] ^= 0x01;
        attempts.push((
            "bona_fide, one bit flipped",
            server.post_bytes(&path, &tampered)?,
        ));
        attempts.push(("bona_fide, sent again", server.post_bytes(&path, &signed)?));
    }
    server.stop()?;
    println!(
        "\nSYNTHETIC captures of the Newton portrait acting out seed {}..: whole sessions with \
         models/policy_default.json",
        &SEED[..8]
    );
    println!(
        "{:<10} {:<6} {:>7}  {:<60} {:>6} {:>9}  {:<8} {:<6}",
        "capture", "band", "fused", "top reasons", "frames", "CPU", "verifier", "band"
    );
    for (kind, v, verdict) in rows {
        let r = &v["result"];
        let reasons: Vec<String> = r["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(3)
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let t = &r["timings"];
        let ms = [
            "tracking_ms",
            "passive_ms",
            "challenge_ms",
            "matching_ms",
            "finish_ms",
        ]
        .iter()
        .map(|k| t[k].as_f64().unwrap_or(0.0))
        .sum::<f64>();
        println!(
            "{:<10} {:<6} {:>7}  {:<60} {:>6} {:>6.0} ms  {:<8} {:<6}",
            kind,
            r["band"].as_str().unwrap_or("?"),
            r["fused"]
                .as_f64()
                .map(|f| format!("{f:.2}"))
                .unwrap_or_else(|| "-".into()),
            reasons.join(", "),
            t["frames"].as_u64().unwrap_or(0),
            ms,
            if verdict["accepted"] == true {
                "accepted"
            } else {
                "REJECTED"
            },
            verdict["band"].as_str().unwrap_or("-"),
        );
    }
    for (what, verdict) in attempts {
        println!(
            "{:<28} verifier: {} at {} ({})",
            what,
            if verdict["accepted"] == true {
                "accepted"
            } else {
                "rejected"
            },
            verdict["failed_check"].as_str().unwrap_or("-"),
            verdict["reject_reason"].as_str().unwrap_or("-"),
        );
    }
    println!(
        "(CPU: the session's stages summed over all its frames, this machine; SYNTHETIC \
         captures: they show the wiring, not a rate on real people. verifier: the signed \
         result checked over HTTP on loopback, its band the one the server stands behind; \
         audit records in {})",
        out.join("audit.jsonl").display()
    );
    Ok(())
}

/// `liveproof analyze` on the token: the session signs its result to `result`.
fn analyze(
    paths: &setup::Paths,
    liveproof: &Path,
    dir: &Path,
    token: &Path,
    keys: &Path,
    device_key: &Path,
    result: &Path,
) -> Result<serde_json::Value> {
    eprintln!("\n==> demo: analyze {}", dir.display());
    let out = Command::new(liveproof)
        .arg("analyze")
        .arg(dir)
        .arg("--token")
        .arg(token)
        .arg("--server-key")
        .arg(keys)
        .arg("--sign-key")
        .arg(device_key)
        .arg("--out")
        .arg(result)
        .arg("--json")
        .envs(paths.env())
        .output()
        .context("running liveproof analyze")?;
    if !out.status.success() {
        bail!(
            "liveproof analyze {} failed: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("reading liveproof analyze's JSON")
}

/// The demo's tenant.
const TENANT: &str = "demo";

fn run_ok(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .context("the verifier's base64")
}

/// `liveproof-verifier serve` on a free loopback port, for the demo's length.
struct Server {
    child: std::process::Child,
    addr: String,
}

impl Server {
    fn start(bin: &Path, keys: &Path, out: &Path) -> Result<Server> {
        let addr_file = out.join("verifier.addr");
        let _ = std::fs::remove_file(&addr_file);
        let child = Command::new(bin)
            .arg("serve")
            .args([
                "--listen",
                "127.0.0.1:0",
                "--tenant",
                TENANT,
                "--allow-fixed-seed",
            ])
            .arg("--key")
            .arg(keys)
            .arg("--audit")
            .arg(out.join("audit.jsonl"))
            .arg("--addr-file")
            .arg(&addr_file)
            .stderr(std::fs::File::create(out.join("verifier.log"))?)
            .spawn()
            .context("starting liveproof-verifier serve")?;
        let mut server = Server {
            child,
            addr: String::new(),
        };
        for _ in 0..200 {
            if let Ok(a) = std::fs::read_to_string(&addr_file) {
                if !a.is_empty() {
                    server.addr = a;
                    eprintln!("==> demo: verifier listening on {}", server.addr);
                    return Ok(server);
                }
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "liveproof-verifier serve exited: {status} (see {})",
                    out.join("verifier.log").display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        bail!("liveproof-verifier serve did not start within 10 s")
    }

    /// One HTTP/1.1 request on loopback: (status, body).
    fn request(&self, path: &str, content_type: &str, body: &[u8]) -> Result<(u16, Vec<u8>)> {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&self.addr)?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        )?;
        s.write_all(body)?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw)?;
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .context("no HTTP header end in the verifier's answer")?;
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .context("no HTTP status in the verifier's answer")?;
        if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            bail!("the verifier answered chunked; the demo client reads Content-Length bodies");
        }
        Ok((status, raw[split + 4..].to_vec()))
    }

    fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
        expect: u16,
    ) -> Result<serde_json::Value> {
        let (status, body) = self.request(path, "application/json", body.to_string().as_bytes())?;
        if status != expect {
            bail!(
                "POST {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        serde_json::from_slice(&body).with_context(|| format!("POST {path}: not JSON"))
    }

    /// Posts a signed result; the verdict JSON (HTTP 200 whether accepted or not).
    fn post_bytes(&self, path: &str, body: &[u8]) -> Result<serde_json::Value> {
        let (status, body) = self.request(path, "application/cose", body)?;
        if status != 200 {
            bail!(
                "POST {path}: HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        serde_json::from_slice(&body).with_context(|| format!("POST {path}: not JSON"))
    }

    /// SIGTERM (graceful shutdown) and wait.
    fn stop(mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait()?;
        eprintln!("==> demo: verifier stopped ({status})");
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// `cargo xtask calibrate [ARGS]`: refits models/calibration_default.json and
/// models/policy_default.json (`liveproof-eval calibrate`).
pub fn calibrate(rest: &[String]) -> Result<()> {
    let paths = setup::ensure_setup(false)?;
    let mut args = os(&[
        "run",
        "--release",
        "-q",
        "-p",
        "liveproof-eval",
        "--",
        "calibrate",
    ]);
    if !rest.iter().any(|a| a == "--out") {
        args.push(OsString::from("--out"));
        args.push(setup::workspace_root().join("models").into_os_string());
    }
    args.extend(rest.iter().map(OsString::from));
    step("calibrate", &paths, cargo(), &args)
}

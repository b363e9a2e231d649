//! `cargo xtask demo`: whole liveness sessions on SYNTHETIC captures of the Newton portrait (a
//! bona fide capture, a print and a screen replay acting out the token's challenge, and a screen
//! replay that does not; rendered once, then cached), decided with the shipped policy and
//! calibration bundle, through the trust chain and every platform path: the verifier serves on
//! loopback and issues a token per session over HTTP; each capture runs through the Rust API
//! (`liveproof analyze`), the C ABI (`examples/c/session`) and the Kotlin layer on the JVM (when
//! Java and Maven are there), each session signs its result with the device key, and the
//! verifier checks it over HTTP; then one tampered and one replayed result are shown rejected.
//! Printed as a table.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::{cargo, os, setup, step};

/// A fixed demo seed (any 32 bytes: the server draws a fresh one per session).
const SEED: &str = "6c6976656f726f6f662064656d6f2073656564202d2066697865642062797465";

/// One SYNTHETIC capture of the demo.
struct DemoCapture {
    name: &'static str,
    kind: &'static str,
    /// Acts out the challenge plan of [`SEED`] (the one the server's tokens carry).
    perform: bool,
}

const CAPTURES: [DemoCapture; 4] = [
    DemoCapture {
        name: "bona_fide",
        kind: "bona_fide",
        perform: true,
    },
    DemoCapture {
        name: "print",
        kind: "print",
        perform: true,
    },
    DemoCapture {
        name: "replay",
        kind: "replay",
        perform: false,
    },
    DemoCapture {
        name: "replay_seed",
        kind: "replay",
        perform: true,
    },
];

/// What one session through one platform path gave.
struct PathRun {
    /// The `SessionResult` as JSON.
    result: serde_json::Value,
    /// The signed result the device sent.
    signed: Vec<u8>,
    /// Wall time of the path's run: engine load, every frame, finish and signature.
    wall_ms: f64,
}

/// The platform paths a session runs through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lane {
    /// The Rust API (`liveproof analyze`, the CLI on `liveproof-core`).
    Rust,
    /// `examples/c/session` against `include/liveproof.h` and the cdylib.
    C,
    /// The Kotlin layer on the JVM (JNA), when a JDK and maven are present.
    Kotlin,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Rust => "Rust",
            Lane::C => "C",
            Lane::Kotlin => "Kotlin",
        }
    }
}

pub fn demo() -> Result<()> {
    let t0 = std::time::Instant::now();
    let paths = setup::ensure_setup(false)?;
    let out = paths.cache.join("demo");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    eprintln!(
        "demo: whole liveness sessions on SYNTHETIC captures, each on a token from the \
         verifier (loopback HTTP), through the Rust API, the C ABI and the Kotlin layer; each \
         signed result is checked by the verifier over HTTP"
    );
    // The binaries and the C example (release builds).
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
            "-p",
            "liveproof-synth",
            "-p",
            "liveproof-ffi",
        ]),
    )?;
    let bin = setup::target_dir().join("release");
    let liveproof = bin.join("liveproof");
    let verifier_bin = bin.join("liveproof-verifier");
    // The C path always runs (its toolchain is installed like the tests'); the Kotlin path
    // needs Java and Maven, and says so when they cannot be had.
    let c_example = c_example(&paths).context("the C path: building examples/c/session")?;
    let mut lanes = vec![Lane::Rust, Lane::C];
    let kotlin_skipped = match crate::bindings::kotlin_ready() {
        Ok(()) => {
            lanes.push(Lane::Kotlin);
            None
        }
        Err(e) => {
            eprintln!("demo: skipped: the Kotlin path: {e:#}");
            Some(format!("{e:#}"))
        }
    };
    // Keys: the server's (tokens) and this device's (signed results).
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
    let captures: Vec<(&DemoCapture, PathBuf)> = CAPTURES
        .iter()
        .map(|c| Ok((c, synth_capture(&paths, &bin, c)?)))
        .collect::<Result<_>>()?;
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
    let server_pub = single_public_pem(&keys)?;
    let mut rows = Vec::new();
    let mut bona_fide_result = None;
    for &lane in &lanes {
        // Each session gets its own token over HTTP (the seed fixed so that a capture can act
        // it out); the Kotlin path runs its sessions in one JVM, so its tokens come first.
        let sessions: Vec<_> = captures
            .iter()
            .map(|(capture, dir)| {
                let issued = server.post_json(
                    "/v1/sessions",
                    &serde_json::json!({
                        "tenant": TENANT,
                        // The backend's own id of the user; the verifier counts attempts per
                        // subject (one session each here).
                        "subject": format!("demo-{}-{}", capture.name, lane.name()),
                        "flow": "account_opening",
                        "tier": "medium",
                        "seed_hex": SEED,
                    }),
                    200,
                )?;
                let stem = format!("{}.{}", capture.name, lane.name().to_lowercase());
                let token = out.join(format!("{stem}.token"));
                std::fs::write(
                    &token,
                    unb64(issued["token_b64"].as_str().unwrap_or_default())?,
                )?;
                let session_id = issued["session_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                Ok((
                    *capture,
                    dir.as_path(),
                    token,
                    out.join(format!("{stem}.result.cose")),
                    session_id,
                ))
            })
            .collect::<Result<_>>()?;
        let files: Vec<SessionFiles<'_>> = sessions
            .iter()
            .map(|(_, frames, token, result, _)| SessionFiles {
                frames,
                token,
                server_keys: &keys,
                server_pub: &server_pub,
                device_key: &device_key,
                result,
            })
            .collect();
        let runs: Vec<PathRun> = match lane {
            Lane::Rust => files
                .iter()
                .map(|f| analyze(&paths, &liveproof, f))
                .collect::<Result<_>>()?,
            Lane::C => files
                .iter()
                .map(|f| c_session(&paths, &c_example, f))
                .collect::<Result<_>>()?,
            Lane::Kotlin => kotlin_sessions(&paths, &out, &files)?,
        };
        for ((capture, _, _, _, session_id), run) in sessions.iter().zip(runs) {
            // The backend verifies the result of the session it issued (never just any).
            let verify_path = format!("/v1/verify?session_id={session_id}");
            let verdict = server.post_bytes(&verify_path, &run.signed)?;
            if capture.name == "bona_fide" && lane == Lane::Rust {
                bona_fide_result = Some((verify_path, run.signed.clone()));
            }
            rows.push((capture.name, lane, run, verdict));
        }
    }
    // By capture, then path.
    rows.sort_by_key(|(name, lane, _, _)| {
        (
            CAPTURES.iter().position(|c| c.name == *name),
            lanes.iter().position(|l| l == lane),
        )
    });
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
        "\nSYNTHETIC captures of the Newton portrait (replay_seed: a screen replay acting out \
         the token's seed {}..; replay: one that does not), whole sessions with \
         models/policy_default.json",
        &SEED[..8]
    );
    println!(
        "{:<12} {:<7} {:<6} {:<58} {:<9} {:<6} {:>8} {:>8}",
        "capture", "path", "band", "top reasons", "verifier", "band", "finish", "wall"
    );
    for (capture, lane, run, verdict) in &rows {
        let r = &run.result;
        let reasons: Vec<String> = r["reasons"]
            .as_array()
            .map(|a| {
                a.iter()
                    .take(3)
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        println!(
            "{:<12} {:<7} {:<6} {:<58} {:<9} {:<6} {:>5.0} ms {:>6.1} s",
            capture,
            lane.name(),
            r["band"].as_str().unwrap_or("?"),
            reasons.join(", "),
            if verdict["accepted"] == true {
                "accepted"
            } else {
                "REJECTED"
            },
            verdict["band"].as_str().unwrap_or("-"),
            r["timings"]["finish_ms"].as_f64().unwrap_or(f64::NAN),
            run.wall_ms / 1e3,
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
        "(finish: last frame to decision, the session's own timing; wall: Rust and C, the \
         program's whole run with engine and model load, every frame, finish and signature; \
         Kotlin, token check to signature in a JVM whose engine is loaded. SYNTHETIC captures: they \
         show the wiring, not a rate on real people. verifier: the signed result checked over \
         HTTP on loopback, its band the one the server stands behind; audit records in {}. \
         Demo took {:.0} s.)",
        out.join("audit.jsonl").display(),
        t0.elapsed().as_secs_f64()
    );
    if let Some(why) = kotlin_skipped {
        println!("skipped: the Kotlin path ({why})");
    }
    let rejected = rows.iter().filter(|r| r.3["accepted"] != true).count();
    if rejected > 0 {
        bail!("the verifier rejected {rejected} of the demo's signed results");
    }
    Ok(())
}

/// The files of one demo session, as every path takes them.
pub(crate) struct SessionFiles<'a> {
    /// A capture folder (`capture.json` + frames).
    pub frames: &'a Path,
    pub token: &'a Path,
    /// The verifier's key folder (`keys.json`, `<kid>.pub.pem`).
    pub server_keys: &'a Path,
    /// The active server public key (SPKI PEM file): what an app pins.
    pub server_pub: &'a Path,
    /// The device's PKCS#8 PEM key (`liveproof keygen`).
    pub device_key: &'a Path,
    /// Where the signed result goes.
    pub result: &'a Path,
}

/// The one public key in a fresh key folder.
fn single_public_pem(keys: &Path) -> Result<PathBuf> {
    let mut pems: Vec<PathBuf> = std::fs::read_dir(keys)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".pub.pem"))
        .collect();
    match pems.len() {
        1 => Ok(pems.remove(0)),
        n => bail!("{} holds {n} public keys; expected 1", keys.display()),
    }
}

/// The capture, rendered once and kept in the cache (deterministic: same generator version,
/// face, kind, seed and plan give the same frames).
fn synth_capture(paths: &setup::Paths, bin: &Path, c: &DemoCapture) -> Result<PathBuf> {
    let key = format!(
        "{}-{}-seed7-{}",
        c.name,
        env!("CARGO_PKG_VERSION"),
        if c.perform { &SEED[..16] } else { "still" }
    );
    let dir = paths.cache.join("captures").join("demo").join(key);
    if dir.join("capture.json").is_file() {
        eprintln!("==> demo: capture {}: cached ({})", c.name, dir.display());
        return Ok(dir);
    }
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    let mut cmd = Command::new(bin.join("liveproof-synth"));
    cmd.arg("--image")
        .arg(paths.fixtures.join("newton.png"))
        .args(["--kind", c.kind, "--seed", "7", "--fps", "30"]);
    if c.perform {
        cmd.args(["--perform", SEED]);
    }
    cmd.arg("--out").arg(&tmp);
    eprintln!(
        "==> demo: capture {}: rendering (SYNTHETIC, once; cached afterwards)",
        c.name
    );
    run_ok(&mut cmd)?;
    std::fs::rename(&tmp, &dir)
        .with_context(|| format!("moving {} to {}", tmp.display(), dir.display()))?;
    Ok(dir)
}

/// The Rust path: `liveproof analyze` on the token; the session signs its result.
fn analyze(paths: &setup::Paths, liveproof: &Path, f: &SessionFiles<'_>) -> Result<PathRun> {
    let t = std::time::Instant::now();
    let out = Command::new(liveproof)
        .arg("analyze")
        .arg(f.frames)
        .arg("--token")
        .arg(f.token)
        .arg("--server-key")
        .arg(f.server_keys)
        .arg("--sign-key")
        .arg(f.device_key)
        .arg("--out")
        .arg(f.result)
        .arg("--json")
        .envs(paths.env())
        .output()
        .context("running liveproof analyze")?;
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        bail!(
            "liveproof analyze {} failed: {}",
            f.frames.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("reading liveproof analyze's JSON")?;
    Ok(PathRun {
        result: v["result"].clone(),
        signed: std::fs::read(f.result)
            .with_context(|| format!("reading {}", f.result.display()))?,
        wall_ms,
    })
}

/// Builds `examples/c/session` against the release library, outside the repository.
fn c_example(paths: &setup::Paths) -> Result<PathBuf> {
    crate::capi::ensure_c_toolchain()?;
    let build = paths.cache.join("demo-c");
    let exe = build.join("session");
    let mut args = os(&["-s", "-C"]);
    args.push(setup::workspace_root().join("examples/c").into_os_string());
    args.push(OsString::from("PROFILE=release"));
    args.push(OsString::from(format!(
        "LIB_DIR={}",
        setup::target_dir().join("release").display()
    )));
    args.push(OsString::from(format!("BUILD={}", build.display())));
    args.push(exe.clone().into_os_string());
    step("demo: make examples/c/session", paths, "make", &args)?;
    Ok(exe)
}

/// The C path: `examples/c/session` over the capture, signing with the device key.
fn c_session(paths: &setup::Paths, exe: &Path, f: &SessionFiles<'_>) -> Result<PathRun> {
    let t = std::time::Instant::now();
    let out = Command::new(exe)
        .arg(f.frames)
        .arg("--token")
        .arg(f.token)
        .arg("--server-key")
        .arg(f.server_pub)
        .arg("--device-key")
        .arg(f.device_key)
        .arg("--out")
        .arg(f.result)
        .envs(paths.env())
        .output()
        .context("running examples/c/session")?;
    let wall_ms = t.elapsed().as_secs_f64() * 1e3;
    if !out.status.success() {
        bail!(
            "examples/c/session {} failed ({}): {}",
            f.frames.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    signed_run(f.result, wall_ms)
}

/// The Kotlin path: every session in one JVM (`DemoSessions`), each timed from its token check
/// to its signature (the JVM's and the engine's start-up are not in it).
fn kotlin_sessions(
    paths: &setup::Paths,
    out: &Path,
    sessions: &[SessionFiles<'_>],
) -> Result<Vec<PathRun>> {
    let Some(first) = sessions.first() else {
        return Ok(Vec::new());
    };
    let plan = out.join("kotlin-plan.tsv");
    let lines: Vec<String> = sessions
        .iter()
        .map(|f| {
            format!(
                "{}\t{}\t{}",
                f.frames.display(),
                f.token.display(),
                f.result.display()
            )
        })
        .collect();
    std::fs::write(&plan, lines.join("\n") + "\n")?;
    crate::bindings::kotlin_demo(paths, &plan, first.server_pub, first.device_key)?;
    sessions
        .iter()
        .map(|f| {
            let ms_file = PathBuf::from(format!("{}.ms", f.result.display()));
            let wall_ms: f64 = std::fs::read_to_string(&ms_file)
                .with_context(|| format!("reading {}", ms_file.display()))?
                .trim()
                .parse()
                .with_context(|| format!("{} is not a number", ms_file.display()))?;
            signed_run(f.result, wall_ms)
        })
        .collect()
}

/// A path's run from the signed result it wrote: the result is the one the device signed.
fn signed_run(result: &Path, wall_ms: f64) -> Result<PathRun> {
    let signed = std::fs::read(result).with_context(|| format!("reading {}", result.display()))?;
    let claims = liveproof_core::trust::SignedResult::parse(&signed)
        .with_context(|| format!("{} is not a signed result", result.display()))?
        .claims;
    Ok(PathRun {
        result: serde_json::to_value(&claims.result)?,
        signed,
        wall_ms,
    })
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

//! The UniFFI surface: Kotlin and Swift sources generated from the built library by the
//! workspace's pinned `uniffi-bindgen`, the Kotlin tests on the JVM (Maven, JNA, JUnit 5), and
//! the cross-target checks (Android, iOS).
//!
//! - `gen`: builds `liveproof-ffi` (debug), runs `uniffi-bindgen generate --library` for Kotlin
//!   and Swift into a scratch folder with `uniffi-bindgen/uniffi.toml`, and copies each file to
//!   its checked-in place ([`GENERATED`]); `--check` fails naming the first stale file instead.
//! - `test`: builds the library, the CLI, the verifier and the synthetic capture generator,
//!   makes the session tests' inputs once under `<cache>/kotlin-test` (a SYNTHETIC capture
//!   acting out [`TEST_SEED`]'s challenge, a server key folder), runs `mvn -B test` in
//!   `bindings-kotlin/` (the JUnit counts are read from surefire's XML reports), checks the
//!   AAR (`crate::aar`), then `cargo check` of core + ffi for `aarch64-linux-android` and
//!   `aarch64-apple-ios` (see `docs/platforms.md`).
//! - `bench`: the JVM boundary benchmark (`cargo xtask bench --kotlin`).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::setup::{find_on_path, workspace_root, Paths};
use crate::TestCounts;

/// Generated file (relative to the generator's output folder for its language) → checked-in
/// path (relative to the workspace root). The generator must produce exactly these files.
const GENERATED: &[(&str, &str, &str)] = &[
    (
        "kotlin",
        "org/liveproof/ffi/liveproof_ffi.kt",
        "bindings-kotlin/src/main/kotlin/org/liveproof/ffi/liveproof_ffi.kt",
    ),
    (
        "swift",
        "LiveProof.swift",
        "bindings-swift/Sources/LiveProof/LiveProof.swift",
    ),
    (
        "swift",
        "LiveProofFFI.h",
        "bindings-swift/Sources/LiveProofFFI/LiveProofFFI.h",
    ),
    (
        "swift",
        "LiveProofFFI.modulemap",
        "bindings-swift/Sources/LiveProofFFI/module.modulemap",
    ),
];

/// The targets `test` checks core + ffi for (rustup std only: no NDK, no Xcode here).
const ANDROID_TARGET: &str = "aarch64-linux-android";
/// The AAR's one 32-bit ABI (armeabi-v7a).
const ANDROID_TARGET_32: &str = "armv7-linux-androideabi";
const IOS_TARGET: &str = "aarch64-apple-ios";

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Regenerates the Kotlin and Swift sources; with `check`, fails if a checked-in file differs.
pub fn gen(paths: &Paths, check: bool) -> Result<()> {
    let root = workspace_root();
    // One package per build: built together, cargo would unify uniffi's `cli` feature into
    // the library and rebuild it again for every other step.
    for package in ["liveproof-ffi", "uniffi-bindgen"] {
        crate::step(
            &format!("bindings: build {package}"),
            paths,
            crate::cargo(),
            &os(&["build", "-q", "-p", package]),
        )?;
    }
    let debug = crate::setup::target_dir().join("debug");
    let lib = debug.join("libliveproof_ffi.so");
    let bindgen = debug.join("uniffi-bindgen");
    let scratch = crate::setup::target_dir()
        .join("tmp")
        .join(format!("uniffi-gen-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let result = (|| -> Result<()> {
        for lang in ["kotlin", "swift"] {
            let out = scratch.join(lang);
            fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            // --no-format: ktlint / swift-format may or may not be installed; the checked-in
            // bytes must not depend on it.
            let mut cmd = Command::new(&bindgen);
            cmd.arg("generate")
                .arg("--no-format")
                .arg("--config")
                .arg(root.join("uniffi-bindgen").join("uniffi.toml"))
                .arg("--language")
                .arg(lang)
                .arg("--out-dir")
                .arg(&out)
                .arg(&lib)
                .current_dir(&root);
            let o = cmd
                .output()
                .with_context(|| format!("running {}", bindgen.display()))?;
            if !o.status.success() {
                bail!(
                    "uniffi-bindgen ({lang}) failed ({}):\n{}{}",
                    o.status,
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
        }
        let produced = list_files(&scratch)?;
        let expected: Vec<PathBuf> = GENERATED
            .iter()
            .map(|(lang, file, _)| Path::new(lang).join(file))
            .collect();
        if let Some(extra) = produced.iter().find(|p| !expected.contains(p)) {
            bail!(
                "uniffi-bindgen produced {} which xtask/src/bindings.rs does not place; add it to GENERATED",
                extra.display()
            );
        }
        let mut changed = 0;
        for (lang, file, dest) in GENERATED {
            let src = scratch.join(lang).join(file);
            let new = fs::read(&src).with_context(|| {
                format!(
                    "uniffi-bindgen did not produce {lang}/{file} (reading {})",
                    src.display()
                )
            })?;
            check_portable(dest, &new)?;
            let dest_path = root.join(dest);
            let old = fs::read(&dest_path).ok();
            if old.as_deref() == Some(new.as_slice()) {
                continue;
            }
            if check {
                let why = match &old {
                    None => "is missing".to_string(),
                    Some(old) => format!(
                        "differs from the generated file at line {}",
                        first_diff_line(old, &new)
                    ),
                };
                bail!("{dest} {why}: the UniFFI bindings are stale; run `cargo xtask gen` and commit the result");
            }
            if let Some(dir) = dest_path.parent() {
                fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            fs::write(&dest_path, &new)
                .with_context(|| format!("writing {}", dest_path.display()))?;
            eprintln!("  bindings: wrote {dest}");
            changed += 1;
        }
        if check {
            eprintln!(
                "  bindings: {} generated files are current",
                GENERATED.len()
            );
        } else if changed == 0 {
            eprintln!("  bindings: {} generated files unchanged", GENERATED.len());
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&scratch);
    result
}

/// Files under `dir`, relative to it, sorted.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_path_buf());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// 1-based line of the first difference between two texts.
fn first_diff_line(a: &[u8], b: &[u8]) -> usize {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    1 + a[..at].iter().filter(|&&c| c == b'\n').count()
}

/// Generated files are checked in: they must not carry this machine's paths.
fn check_portable(name: &str, text: &[u8]) -> Result<()> {
    let text = String::from_utf8_lossy(text);
    let mut local: Vec<String> = vec![workspace_root().display().to_string()];
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
        local.push(PathBuf::from(home).display().to_string());
    }
    for l in local {
        if text.contains(&l) {
            bail!("generated {name} contains the local path {l}: the output must be portable");
        }
    }
    Ok(())
}

/// Runs the JVM tests and the cross-target checks; returns the JUnit counts.
pub fn test(paths: &Paths) -> Result<TestCounts> {
    let t0 = Instant::now();
    let counts = kotlin_tests(paths)?;
    eprintln!(
        "==> bindings: JUnit {} passed, {} failed, {} skipped ({:.1} s)",
        counts.passed,
        counts.failed,
        counts.ignored,
        t0.elapsed().as_secs_f64()
    );
    // The cross checks first: they install the aarch64-linux-android target the AAR's NDK
    // plumbing probe links for.
    cross_checks(paths)?;
    let mut counts = counts;
    counts.add(crate::aar::test(paths)?);
    Ok(counts)
}

/// Java and Maven, installed from apt when missing (root with apt-get), else a clear error.
fn ensure_jvm_tools() -> Result<()> {
    let missing: Vec<&str> = [("java", "openjdk-17-jdk-headless"), ("mvn", "maven")]
        .iter()
        .filter(|(tool, _)| find_on_path(tool).is_none())
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    crate::tools::apt_install("the Kotlin tests", &missing)?;
    if find_on_path("java").is_some() && find_on_path("mvn").is_some() {
        return Ok(());
    }
    bail!(
        "the Kotlin tests need Java 17 and Maven on the PATH (missing: {}); install them, e.g. \
         `apt-get install {}`",
        missing.join(", "),
        missing.join(" ")
    )
}

/// The session tests' seed (any 32 bytes; the capture acts out its challenge plan).
pub(crate) const TEST_SEED: &str =
    "6c6976656f726f6f662064656d6f2073656564202d2066697865642062797465";

/// What the JVM session tests read (`LIVEPROOF_TEST_*`): a SYNTHETIC bona fide capture acting
/// out [`TEST_SEED`]'s challenge and a server key folder, made once under the cache.
struct SessionInputs {
    capture: PathBuf,
    server_keys: PathBuf,
}

/// Builds the Rust side the JVM tests call: the library, the CLI, the verifier and the
/// synthetic capture generator (debug; one package per build, see [`gen`]).
fn build_for_jvm(paths: &Paths) -> Result<PathBuf> {
    for package in [
        "liveproof-ffi",
        "liveproof-cli",
        "liveproof-verifier",
        "liveproof-synth",
    ] {
        crate::step(
            &format!("bindings: build {package}"),
            paths,
            crate::cargo(),
            &os(&["build", "-q", "-p", package]),
        )?;
    }
    Ok(crate::setup::target_dir().join("debug"))
}

/// Makes the session tests' inputs under `<cache>/kotlin-test` when missing (reused after).
fn session_inputs(paths: &Paths, bin: &Path) -> Result<SessionInputs> {
    let dir = paths.cache.join("kotlin-test");
    let capture = dir.join("capture");
    let server_keys = dir.join("server-keys");
    if !capture.join("capture.json").is_file() {
        let _ = fs::remove_dir_all(&capture);
        let mut args = os(&["--image"]);
        args.push(paths.fixtures.join("newton.png").into_os_string());
        args.extend(os(&[
            "--kind",
            "bona_fide",
            "--seed",
            "7",
            "--fps",
            "30",
            "--perform",
            TEST_SEED,
            "--out",
        ]));
        args.push(capture.clone().into_os_string());
        crate::step(
            "bindings: synthetic capture for the session tests",
            paths,
            bin.join("liveproof-synth"),
            &args,
        )?;
    }
    if !server_keys.join("keys.json").is_file() {
        let mut args = os(&["keygen", "--out"]);
        args.push(server_keys.clone().into_os_string());
        crate::step(
            "bindings: server key for the session tests",
            paths,
            bin.join("liveproof-verifier"),
            &args,
        )?;
    }
    Ok(SessionInputs {
        capture,
        server_keys,
    })
}

/// `mvn -B -ntp <goals>` in `bindings-kotlin/` with the library folder (the debug build, or
/// with `release` the release build of `liveproof-ffi`), the cache environment and the session
/// inputs.
fn mvn(
    paths: &Paths,
    goals: &[&str],
    extra: &[String],
    release: bool,
    env: &[(&str, &std::ffi::OsStr)],
) -> Result<std::process::ExitStatus> {
    ensure_jvm_tools()?;
    let bin = build_for_jvm(paths)?;
    let inputs = session_inputs(paths, &bin)?;
    let lib_dir = if release {
        crate::step(
            "bindings: build liveproof-ffi (release)",
            paths,
            crate::cargo(),
            &os(&["build", "--release", "-q", "-p", "liveproof-ffi"]),
        )?;
        crate::setup::target_dir().join("release")
    } else {
        bin.clone()
    };
    let project = workspace_root().join("bindings-kotlin");
    let mut args = os(&["-B", "-ntp"]);
    args.extend(goals.iter().map(OsString::from));
    args.push(OsString::from(format!(
        "-Dliveproof.library.dir={}",
        lib_dir.display()
    )));
    args.extend(extra.iter().map(OsString::from));
    eprintln!("\n==> bindings: mvn {}", crate::join(&args));
    Command::new("mvn")
        .args(&args)
        .envs(paths.env())
        .env("LIVEPROOF_CLI", bin.join("liveproof"))
        .env("LIVEPROOF_VERIFIER", bin.join("liveproof-verifier"))
        .env("LIVEPROOF_TEST_CAPTURE", &inputs.capture)
        .env("LIVEPROOF_TEST_KEYS", &inputs.server_keys)
        .env("LIVEPROOF_TEST_SEED", TEST_SEED)
        .envs(env.iter().copied())
        .current_dir(&project)
        .status()
        .context("starting mvn")
}

fn kotlin_tests(paths: &Paths) -> Result<TestCounts> {
    let reports = workspace_root()
        .join("bindings-kotlin")
        .join("target")
        .join("surefire-reports");
    let _ = fs::remove_dir_all(&reports);
    let t0 = Instant::now();
    let status = mvn(paths, &["test"], &[], false, &[])?;
    let counts = surefire_counts(&reports).unwrap_or_default();
    if !status.success() {
        bail!(
            "the Kotlin tests failed ({status}): {} passed, {} failed, {} skipped; reports in {}",
            counts.passed,
            counts.failed,
            counts.ignored,
            reports.display()
        );
    }
    if counts.passed == 0 {
        bail!(
            "mvn test passed but ran no tests (no reports in {})",
            reports.display()
        );
    }
    eprintln!(
        "==> bindings: mvn: ok ({:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    Ok(counts)
}

/// `cargo xtask bench --kotlin`: the JVM boundary benchmark (`BoundaryBench`, JUnit tag
/// `bench`, left out of `mvn test`) against the release library; it prints its table.
pub fn bench(paths: &Paths) -> Result<()> {
    let _ = fs::remove_dir_all(workspace_root().join("bindings-kotlin/target/surefire-reports"));
    let status = mvn(
        paths,
        &["test"],
        &[
            "-Dliveproof.excludedGroups=none".to_string(),
            "-Dliveproof.groups=bench".to_string(),
            // Not a `*Test` class: Surefire's default includes leave it out.
            "-Dtest=BoundaryBench".to_string(),
        ],
        true,
        &[],
    )?;
    if !status.success() {
        bail!("the Kotlin boundary benchmark failed ({status})");
    }
    let reports = workspace_root().join("bindings-kotlin/target/surefire-reports");
    if surefire_counts(&reports).unwrap_or_default().passed == 0 {
        bail!(
            "the Kotlin boundary benchmark did not run (no passed test in {})",
            reports.display()
        );
    }
    Ok(())
}

/// Sums the `<testsuite tests= failures= errors= skipped=>` attributes of surefire's
/// `TEST-*.xml` reports.
fn surefire_counts(dir: &Path) -> Result<TestCounts> {
    let mut counts = TestCounts::default();
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !(name.starts_with("TEST-") && name.ends_with(".xml")) {
            continue;
        }
        let xml = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
        let c = suite_counts(&xml)
            .with_context(|| format!("no <testsuite> counts in {}", p.display()))?;
        counts.add(c);
    }
    Ok(counts)
}

/// Counts of the first `<testsuite ...>` element of one report.
fn suite_counts(xml: &str) -> Option<TestCounts> {
    let start = xml.find("<testsuite ")?;
    let tag = &xml[start..start + xml[start..].find('>')?];
    let attr = |name: &str| -> u64 {
        let key = format!(" {name}=\"");
        tag.find(&key)
            .and_then(|i| {
                let rest = &tag[i + key.len()..];
                rest[..rest.find('"')?].parse().ok()
            })
            .unwrap_or(0)
    };
    let (tests, failures, errors, skipped) = (
        attr("tests"),
        attr("failures"),
        attr("errors"),
        attr("skipped"),
    );
    let failed = failures + errors;
    Some(TestCounts {
        passed: tests.saturating_sub(failed + skipped),
        failed,
        ignored: skipped,
    })
}

/// `cargo check` of core + ffi for Android and iOS (default features: `oslog` needs Xcode's
/// `xcrun`, see docs/platforms.md), adding the rustup targets when missing.
fn cross_checks(paths: &Paths) -> Result<()> {
    crate::tools::rustup_targets(
        paths,
        "bindings",
        &[ANDROID_TARGET, ANDROID_TARGET_32, IOS_TARGET],
    )?;
    // armeabi-v7a too: the one 32-bit ABI the AAR ships (pointer-sized fields in the C structs).
    for target in [ANDROID_TARGET, ANDROID_TARGET_32, IOS_TARGET] {
        crate::step(
            &format!("cross check {target}"),
            paths,
            crate::cargo(),
            &os(&[
                "check",
                "-q",
                "-p",
                "liveproof-core",
                "-p",
                "liveproof-ffi",
                "--target",
                target,
            ]),
        )?;
    }
    ios_staticlib_symbols(paths)?;
    let summary = crate::xcframework::check_swift_sources(&workspace_root())?;
    eprintln!("  bindings: swift: {summary}");
    Ok(())
}

/// Builds the iOS static library (what the Swift package links; a staticlib needs no Apple
/// linker) and checks that it defines every function the generated Swift header declares.
fn ios_staticlib_symbols(paths: &Paths) -> Result<()> {
    crate::step(
        &format!("cross build {IOS_TARGET} staticlib"),
        paths,
        crate::cargo(),
        // Without debug info: with it the cross objects take ~600 MB more of `target/`, and
        // the symbol check does not need it.
        &os(&[
            "rustc",
            "-q",
            "--config",
            "profile.dev.debug=false",
            "-p",
            "liveproof-ffi",
            "--lib",
            "--target",
            IOS_TARGET,
            "--crate-type",
            "staticlib",
        ]),
    )?;
    let lib = crate::setup::target_dir()
        .join(IOS_TARGET)
        .join("debug")
        .join("libliveproof_ffi.a");
    let header_path = workspace_root().join("bindings-swift/Sources/LiveProofFFI/LiveProofFFI.h");
    let header = fs::read_to_string(&header_path)
        .with_context(|| format!("reading {}", header_path.display()))?;
    let archive = fs::read(&lib).with_context(|| format!("reading {}", lib.display()))?;
    let declared = header_functions(&header);
    if declared.is_empty() {
        bail!("{} declares no UniFFI functions", header_path.display());
    }
    // Mach-O symbol names carry a leading underscore; the archive's symbol and string tables
    // hold each NUL-terminated.
    let missing: Vec<&String> = declared
        .iter()
        .filter(|name| {
            let needle = format!("_{name}\0");
            !archive
                .windows(needle.len())
                .any(|w| w == needle.as_bytes())
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} lacks {} of the {} functions LiveProofFFI.h declares, e.g. {}",
            lib.display(),
            missing.len(),
            declared.len(),
            missing[0]
        );
    }
    eprintln!(
        "  bindings: {IOS_TARGET} staticlib defines all {} functions of LiveProofFFI.h",
        declared.len()
    );
    Ok(())
}

/// Names of the functions a UniFFI header declares (`ffi_…` / `uniffi_…` followed by `(`).
fn header_functions(header: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in header.lines() {
        let line = line.trim_start();
        if line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        for (i, _) in line.match_indices("ffi_liveproof_ffi_") {
            let start = if line[..i].ends_with("uni") { i - 3 } else { i };
            let rest = &line[start..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if rest[end..].starts_with('(') && !out.iter().any(|n| n == &rest[..end]) {
                out.push(rest[..end].to_string());
            }
        }
    }
    out
}

/// The Kotlin path of `cargo xtask demo`: `DemoSessions` (JUnit tag `demo`, left out of
/// `mvn test`) runs the sessions `plan` lists (capture folder, token, result file per line)
/// through the idiomatic layer against the release library, signing with `device_key`.
pub(crate) fn kotlin_demo(
    paths: &Paths,
    plan: &Path,
    server_key: &Path,
    device_key: &Path,
) -> Result<()> {
    let status = mvn(
        paths,
        &["test", "-q"],
        &[
            "-Dliveproof.excludedGroups=none".to_string(),
            "-Dliveproof.groups=demo".to_string(),
            "-Dtest=DemoSessions".to_string(),
        ],
        true,
        &[
            ("LIVEPROOF_DEMO_PLAN", plan.as_os_str()),
            ("LIVEPROOF_DEMO_SERVER_KEY", server_key.as_os_str()),
            ("LIVEPROOF_DEMO_DEVICE_KEY", device_key.as_os_str()),
        ],
    )?;
    if !status.success() {
        bail!("the Kotlin demo sessions failed ({status})");
    }
    Ok(())
}

/// Whether the Kotlin path can run: Java 17 and Maven (installed from apt when missing).
pub(crate) fn kotlin_ready() -> Result<()> {
    ensure_jvm_tools()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surefire_suite_counts_parse() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="x" name="org.liveproof.LiveProofTest" time="3.2" tests="9" errors="1" skipped="2" failures="1">
<testcase name="a"/></testsuite>"#;
        let c = suite_counts(xml).unwrap();
        assert_eq!((c.passed, c.failed, c.ignored), (5, 2, 2));
        assert!(suite_counts("<testsuites/>").is_none());
    }

    #[test]
    fn first_diff_line_counts_from_one() {
        assert_eq!(first_diff_line(b"a\nb\nc", b"a\nb\nX"), 3);
        assert_eq!(first_diff_line(b"a\n", b"a\nmore"), 2);
        assert_eq!(first_diff_line(b"x", b"y"), 1);
    }

    #[test]
    fn header_functions_are_the_declared_uniffi_symbols() {
        let h = "#ifndef UNIFFI_FFIDEF_UNIFFI_LIVEPROOF_FFI_FN_FUNC_VERSION\n\
                 #define UNIFFI_FFIDEF_UNIFFI_LIVEPROOF_FFI_FN_FUNC_VERSION\n\
                 RustBuffer uniffi_liveproof_ffi_fn_func_version(RustCallStatus *_Nonnull s\n\
                 void ffi_liveproof_ffi_rustbuffer_free(RustBuffer buf, RustCallStatus *s\n\
                 uint32_t ffi_liveproof_ffi_uniffi_contract_version(void\n\
                 // uniffi_liveproof_ffi_fn_commented(\n\
                 typedef void (*UniffiCallbackInterfaceFree)(uint64_t);\n";
        assert_eq!(
            header_functions(h),
            vec![
                "uniffi_liveproof_ffi_fn_func_version",
                "ffi_liveproof_ffi_rustbuffer_free",
                "ffi_liveproof_ffi_uniffi_contract_version",
            ]
        );
    }

    #[test]
    fn every_generated_file_has_a_distinct_destination() {
        let mut dests: Vec<&str> = GENERATED.iter().map(|g| g.2).collect();
        dests.sort();
        dests.dedup();
        assert_eq!(dests.len(), GENERATED.len());
    }
}

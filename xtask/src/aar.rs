//! `cargo xtask aar`: the Android library archive (AAR) of the Kotlin bindings.
//!
//! Entries: `classes.jar` (the `org.liveproof` layer, the generated `org.liveproof.ffi` sources
//! and the English texts, from `mvn package`), `jni/<abi>/libliveproof_ffi.so`,
//! `AndroidManifest.xml` (package `org.liveproof`, minSdk 24), `proguard.txt` (the consumer
//! rules, `bindings-kotlin/consumer-rules.pro`), an empty `R.txt`, and
//! `META-INF/maven/org.liveproof/liveproof-android/pom.xml`; the same POM is written beside the
//! `.aar`. It declares ONNX Runtime's own Android artifact (which carries `libonnxruntime.so`
//! per ABI) and JNA's AAR (which carries `libjnidispatch.so`) for the app's build to resolve,
//! rather than bundling either.
//!
//! - With `ANDROID_NDK_HOME` set: `cargo build --release -p liveproof-ffi` for
//!   `aarch64-linux-android`, `armv7-linux-androideabi` and `x86_64-linux-android` with the
//!   NDK's clang (API [`MIN_SDK`]) as linker and `-Wl,-z,max-page-size=16384` (16 KB pages,
//!   required by Google Play for Android 15+) → `jni/arm64-v8a`, `jni/armeabi-v7a`,
//!   `jni/x86_64`. **Untested here** (no NDK is obtainable on these machines).
//! - Without it (these machines): the HOST library (Linux glibc x86_64) under `jni/x86_64`, the
//!   archive named `…-HOST-linux-x86_64.aar` and a `HOST-BUILD.txt` entry saying it will not
//!   load on Android: it exercises the packaging, not a device.
//!
//! Zipping and listing use the JDK's `jar` (a JDK is needed for `classes.jar` anyway).

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::setup::{workspace_root, Paths};
use crate::TestCounts;

/// Maven coordinates of the AAR.
pub const GROUP: &str = "org.liveproof";
pub const ARTIFACT: &str = "liveproof-android";

/// Android API level the AAR's manifest and the NDK linker target.
pub const MIN_SDK: u32 = 24;

/// ONNX Runtime's Android artifact. The same version as the host runtime the library is
/// tested against (`models/manifest.toml` `[runtime]`): `ort` is built with `api-31`, so the
/// runtime must be ≥ 1.31. Maven Central's `onnxruntime-android` is not served to these
/// machines, so the version's presence there is not checked here (see docs/platforms.md).
pub const ORT_ANDROID: (&str, &str, &str) =
    ("com.microsoft.onnxruntime", "onnxruntime-android", "1.31.1");

/// JNA, as `bindings-kotlin/pom.xml` pins it; on Android its `aar` type (with
/// `libjnidispatch.so` per ABI).
pub const JNA: (&str, &str, &str) = ("net.java.dev.jna", "jna", "5.19.1");

/// The Kotlin runtime libraries the layer needs (as in `bindings-kotlin/pom.xml`).
pub const KOTLIN_STDLIB: (&str, &str, &str) = ("org.jetbrains.kotlin", "kotlin-stdlib", "2.4.20");
pub const COROUTINES: (&str, &str, &str) =
    ("org.jetbrains.kotlinx", "kotlinx-coroutines-core", "1.11.0");

/// Android ABI → Rust target → the NDK clang's target prefix.
pub const ANDROID_ABIS: &[(&str, &str, &str)] = &[
    (
        "arm64-v8a",
        "aarch64-linux-android",
        "aarch64-linux-android",
    ),
    (
        "armeabi-v7a",
        "armv7-linux-androideabi",
        "armv7a-linux-androideabi",
    ),
    ("x86_64", "x86_64-linux-android", "x86_64-linux-android"),
];

/// The 16 KB page alignment linker flag.
pub const PAGE_SIZE_FLAG: &str = "-Wl,-z,max-page-size=16384";

/// `cargo xtask aar [--out DIR] [--check]`: builds the AAR (and with `check`, runs
/// [`check_aar`] on it); returns its path.
///
/// `release: false` packs the debug host library the JVM tests already built (what
/// `cargo xtask test` checks: the packaging, quickly); the NDK path always builds release.
pub fn aar(paths: &Paths, out_dir: Option<&Path>, release: bool) -> Result<PathBuf> {
    let version = workspace_version()?;
    let out_dir = out_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(|| crate::setup::target_dir().join("aar"));
    let staging = out_dir.join("staging");
    let _ = fs::remove_dir_all(&staging);
    fs::create_dir_all(&staging).with_context(|| format!("creating {}", staging.display()))?;

    // classes.jar: the compiled layer + generated sources + resources.
    let jar = kotlin_jar()?;
    fs::copy(&jar, staging.join("classes.jar"))
        .with_context(|| format!("copying {}", jar.display()))?;

    // jni/<abi>/libliveproof_ffi.so
    let ndk = std::env::var_os("ANDROID_NDK_HOME").filter(|v| !v.is_empty());
    let host = ndk.is_none();
    let libs = match &ndk {
        Some(ndk) => ndk_libraries(paths, Path::new(ndk))?,
        None => vec![("x86_64", host_library(paths, release)?)],
    };
    for (abi, lib) in &libs {
        let dir = staging.join("jni").join(abi);
        fs::create_dir_all(&dir)?;
        fs::copy(lib, dir.join("libliveproof_ffi.so"))
            .with_context(|| format!("copying {}", lib.display()))?;
    }
    if host {
        fs::write(staging.join("HOST-BUILD.txt"), HOST_NOTE)?;
    }

    fs::write(staging.join("AndroidManifest.xml"), manifest())?;
    let rules = workspace_root()
        .join("bindings-kotlin")
        .join("consumer-rules.pro");
    fs::copy(&rules, staging.join("proguard.txt"))
        .with_context(|| format!("copying {}", rules.display()))?;
    fs::write(staging.join("R.txt"), "")?;
    let pom = pom(&version);
    let meta = staging.join("META-INF/maven").join(GROUP).join(ARTIFACT);
    fs::create_dir_all(&meta)?;
    fs::write(meta.join("pom.xml"), &pom)?;

    let stem = if host {
        format!("{ARTIFACT}-{version}-HOST-linux-x86_64")
    } else {
        format!("{ARTIFACT}-{version}")
    };
    let aar = out_dir.join(format!("{stem}.aar"));
    let _ = fs::remove_file(&aar);
    run(
        Command::new("jar")
            .arg("--create")
            .arg("--no-manifest")
            .arg("--file")
            .arg(&aar)
            .arg("-C")
            .arg(&staging)
            .arg("."),
        "jar --create (the AAR)",
    )?;
    fs::write(out_dir.join(format!("{stem}.pom")), &pom)?;
    let _ = fs::remove_dir_all(&staging);
    eprintln!(
        "  aar: {} ({}; {} bytes)",
        aar.display(),
        if host {
            "HOST library only: packaging check, not loadable on Android"
        } else {
            "arm64-v8a, armeabi-v7a, x86_64"
        },
        fs::metadata(&aar).map(|m| m.len()).unwrap_or(0)
    );
    Ok(aar)
}

const HOST_NOTE: &str = "\
HOST BUILD: jni/x86_64/libliveproof_ffi.so in this archive is the Linux (glibc) x86_64 library
of the machine that ran `cargo xtask aar` without ANDROID_NDK_HOME. It is NOT an Android library
and will not load on a device or emulator. It shows the archive's layout only. Build with
ANDROID_NDK_HOME set (docs/platforms.md, \"Android packaging\") for arm64-v8a, armeabi-v7a
and x86_64.
";

/// The workspace version (`[workspace.package] version`).
fn workspace_version() -> Result<String> {
    let text = fs::read_to_string(workspace_root().join("Cargo.toml"))?;
    let doc: toml::Value = text.parse().context("parsing Cargo.toml")?;
    doc.get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .context("no [workspace.package] version in Cargo.toml")
}

/// `mvn package` (tests skipped: `cargo xtask test` runs them) → the jar.
fn kotlin_jar() -> Result<PathBuf> {
    let project = workspace_root().join("bindings-kotlin");
    eprintln!("\n==> aar: mvn -B -ntp -q -DskipTests package (bindings-kotlin)");
    run(
        Command::new("mvn")
            .args(["-B", "-ntp", "-q", "-DskipTests", "package"])
            .current_dir(&project),
        "mvn package",
    )?;
    // The Maven project's own version, not the workspace's; find the one jar it made.
    let target = project.join("target");
    let jar = fs::read_dir(&target)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("liveproof-kotlin-") && n.ends_with(".jar"))
        })
        .with_context(|| {
            format!(
                "mvn package made no liveproof-kotlin jar in {}",
                target.display()
            )
        })?;
    Ok(jar)
}

/// The host's `libliveproof_ffi.so` (release or debug).
fn host_library(paths: &Paths, release: bool) -> Result<PathBuf> {
    let (profile, args) = if release {
        (
            "release",
            &["build", "--release", "-q", "-p", "liveproof-ffi"][..],
        )
    } else {
        ("debug", &["build", "-q", "-p", "liveproof-ffi"][..])
    };
    crate::step(
        &format!("aar: build liveproof-ffi (host, {profile})"),
        paths,
        crate::cargo(),
        &crate::os(args),
    )?;
    Ok(crate::setup::target_dir()
        .join(profile)
        .join("libliveproof_ffi.so"))
}

/// The NDK's prebuilt LLVM folder for this host (`linux-x86_64`, `darwin-x86_64`).
pub fn ndk_bin(ndk: &Path) -> PathBuf {
    let host = if cfg!(target_os = "macos") {
        "darwin-x86_64"
    } else if cfg!(target_os = "windows") {
        "windows-x86_64"
    } else {
        "linux-x86_64"
    };
    ndk.join("toolchains/llvm/prebuilt").join(host).join("bin")
}

/// The environment that makes cargo link `target` with the NDK's clang at [`MIN_SDK`] and 16 KB
/// pages: `CARGO_TARGET_<T>_LINKER`, `CARGO_TARGET_<T>_RUSTFLAGS`, and `CC_`/`AR_<target>` for
/// crates with C parts.
pub fn ndk_env(ndk: &Path, target: &str, clang_prefix: &str) -> Vec<(String, OsString)> {
    let bin = ndk_bin(ndk);
    let clang = bin.join(format!("{clang_prefix}{MIN_SDK}-clang"));
    let upper = target.to_uppercase().replace('-', "_");
    let under = target.replace('-', "_");
    vec![
        (
            format!("CARGO_TARGET_{upper}_LINKER"),
            clang.clone().into_os_string(),
        ),
        (
            format!("CARGO_TARGET_{upper}_RUSTFLAGS"),
            OsString::from(format!("-C link-arg={PAGE_SIZE_FLAG}")),
        ),
        (format!("CC_{under}"), clang.into_os_string()),
        (format!("AR_{under}"), bin.join("llvm-ar").into_os_string()),
    ]
}

/// Cross-builds the library for every ABI with the NDK (untested here: no NDK).
fn ndk_libraries(paths: &Paths, ndk: &Path) -> Result<Vec<(&'static str, PathBuf)>> {
    if !ndk_bin(ndk).is_dir() {
        bail!(
            "ANDROID_NDK_HOME={} has no {}: point it at an NDK (r27 or later)",
            ndk.display(),
            ndk_bin(ndk).display()
        );
    }
    let targets: Vec<&str> = ANDROID_ABIS.iter().map(|a| a.1).collect();
    crate::tools::rustup_targets(paths, "aar", &targets)?;
    let mut out = Vec::new();
    for (abi, target, prefix) in ANDROID_ABIS {
        eprintln!("\n==> aar: cargo build --release -p liveproof-ffi --target {target} ({abi})");
        let status = Command::new(crate::cargo())
            .args([
                "build",
                "--release",
                "-q",
                "-p",
                "liveproof-ffi",
                "--target",
                target,
            ])
            .envs(paths.env())
            .envs(ndk_env(ndk, target, prefix))
            .current_dir(workspace_root())
            .status()
            .context("starting cargo")?;
        if !status.success() {
            bail!("building liveproof-ffi for {target} failed ({status})");
        }
        out.push((
            *abi,
            crate::setup::target_dir()
                .join(target)
                .join("release")
                .join("libliveproof_ffi.so"),
        ));
    }
    Ok(out)
}

/// `AndroidManifest.xml` of the library.
pub fn manifest() -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="{GROUP}">
    <!-- LiveProof asks for no permission: the host app owns the camera. -->
    <uses-sdk android:minSdkVersion="{MIN_SDK}" />
</manifest>
"#
    )
}

/// The AAR's POM: the runtime dependencies the app's build resolves.
pub fn pom(version: &str) -> String {
    // Compile scope for what the layer's public API exposes (Kotlin, coroutines, JNA's types
    // in the generated code); runtime for ONNX Runtime, which only the native library loads.
    let dep = |(g, a, v): (&str, &str, &str), typ: Option<&str>, scope: &str, why: &str| {
        let typ = typ
            .map(|t| format!("\n      <type>{t}</type>"))
            .unwrap_or_default();
        format!(
            "    <!-- {why} -->\n    <dependency>\n      <groupId>{g}</groupId>\n      <artifactId>{a}</artifactId>\n      <version>{v}</version>{typ}\n      <scope>{scope}</scope>\n    </dependency>\n"
        )
    };
    let mut deps = String::new();
    deps += &dep(
        ORT_ANDROID,
        Some("aar"),
        "runtime",
        "ONNX Runtime's own Android library: libonnxruntime.so per ABI",
    );
    deps += &dep(
        JNA,
        Some("aar"),
        "compile",
        "JNA for Android: libjnidispatch.so per ABI",
    );
    deps += &dep(KOTLIN_STDLIB, None, "compile", "the Kotlin layer");
    deps += &dep(COROUTINES, None, "compile", "suspend finish() / cancel()");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>{GROUP}</groupId>
  <artifactId>{ARTIFACT}</artifactId>
  <version>{version}</version>
  <packaging>aar</packaging>
  <name>LiveProof for Android</name>
  <description>On-device face liveness: the Kotlin bindings and the native library.</description>
  <licenses>
    <license>
      <name>Apache-2.0</name>
    </license>
  </licenses>
  <dependencies>
{deps}  </dependencies>
</project>
"#
    )
}

fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The checks `cargo xtask test` runs on a freshly built AAR; returns one passed count per
/// check.
pub fn test(paths: &Paths) -> Result<TestCounts> {
    let out = crate::setup::target_dir().join("tmp").join("aar-test");
    let _ = fs::remove_dir_all(&out);
    let aar = aar(paths, Some(&out), false)?;
    let mut checks = check_aar(&aar)?;
    let mut ignored = 0;
    match ndk_probe(&out.join("ndk-probe"))? {
        Some(c) => checks.push(c),
        None => {
            ignored = 1;
            eprintln!(
                "  aar check: skipped the NDK plumbing probe ({} or rust-lld not installed)",
                ANDROID_ABIS[0].1
            );
        }
    }
    for c in &checks {
        eprintln!("  aar check: {c}");
    }
    let _ = fs::remove_dir_all(&out);
    Ok(TestCounts {
        passed: checks.len() as u64,
        failed: 0,
        ignored,
    })
}

/// The NDK path's plumbing, without an NDK: a stand-in NDK folder whose
/// `aarch64-linux-android24-clang` logs its arguments and links with the toolchain's
/// `rust-lld` (no sysroot: `-l` libraries are dropped), used through [`ndk_env`] to build a
/// one-function cdylib for `aarch64-linux-android`. Checks that cargo called that linker with
/// [`PAGE_SIZE_FLAG`] and that the result is an AArch64 ELF whose `LOAD` segments are aligned
/// to 16 KB. `Ok(None)` (skipped) when the target or `rust-lld` is not installed.
pub fn ndk_probe(work: &Path) -> Result<Option<String>> {
    let (abi, target, prefix) = ANDROID_ABIS[0];
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let host = crate::tools::host_triple()?;
    let lld = sysroot.join("lib/rustlib").join(&host).join("bin/rust-lld");
    let std = sysroot.join("lib/rustlib").join(target);
    if !lld.is_file() || !std.is_dir() {
        return Ok(None);
    }
    let _ = fs::remove_dir_all(work);
    let ndk = work.join("ndk");
    let bin = ndk_bin(&ndk);
    fs::create_dir_all(&bin)?;
    let log = bin.join("last-link-args.txt");
    let clang = bin.join(format!("{prefix}{MIN_SDK}-clang"));
    fs::write(
        &clang,
        format!(
            r#"#!/bin/sh
# Stand-in for the NDK's clang as a linker (xtask aar's probe): logs the arguments, links
# with rust-lld; -l libraries are dropped (no sysroot), their symbols stay undefined.
printf '%s
' "$@" > '{log}'
args=""
for a in "$@"; do
  case "$a" in
    -Wl,*) args="$args $(printf '%s' "${{a#-Wl,}}" | tr ',' ' ')";;
    -l*|-m*|-f*|-nodefaultlibs|-nostartfiles|--target=*) ;;
    *) args="$args $a";;
  esac
done
exec '{lld}' -flavor gnu $args
"#,
            log = log.display(),
            lld = lld.display()
        ),
    )?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&clang, fs::Permissions::from_mode(0o755))?;
    }
    let krate = work.join("probe");
    fs::create_dir_all(krate.join("src"))?;
    fs::write(
        krate.join("Cargo.toml"),
        "[package]\nname = \"lp-ndk-probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\ncrate-type = [\"cdylib\"]\n\n[workspace]\n",
    )?;
    fs::write(
        krate.join("src/lib.rs"),
        "#[no_mangle]\npub extern \"C\" fn lp_probe_add(a: u32, b: u32) -> u32 {\n    a.wrapping_add(b)\n}\n",
    )?;
    let out = Command::new(crate::cargo())
        .args(["build", "--release", "-q", "--target", target])
        .env("CARGO_TARGET_DIR", work.join("target"))
        .env_remove("RUSTFLAGS")
        .envs(ndk_env(&ndk, target, prefix))
        .current_dir(&krate)
        .output()
        .context("starting cargo for the NDK probe")?;
    if !out.status.success() {
        bail!(
            "the NDK probe did not build ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let args = fs::read_to_string(&log).context("the stand-in linker was not called")?;
    if !args.lines().any(|a| a == PAGE_SIZE_FLAG) {
        bail!("the linker was called without {PAGE_SIZE_FLAG}: {args}");
    }
    let so = work
        .join("target")
        .join(target)
        .join("release/liblp_ndk_probe.so");
    let elf = Elf::parse(&fs::read(&so)?).context("the probe is not an ELF shared object")?;
    if Some(elf.machine) != abi_machine(abi) || elf.min_load_align < 16384 {
        bail!("the probe is {elf:?}; expected {abi} with 16 KB LOAD alignment");
    }
    let _ = fs::remove_dir_all(work);
    Ok(Some(format!(
        "NDK plumbing (stand-in clang → rust-lld): cargo linked {target} with {} and {PAGE_SIZE_FLAG}; {abi} ELF, LOAD aligned to {} bytes",
        clang.file_name().unwrap_or_default().to_string_lossy(),
        elf.min_load_align
    )))
}

/// Unzips `aar` (with `jar`) and checks its entries, the manifest, the rules, the library and
/// the POM beside it; returns what was checked, or the first failure.
pub fn check_aar(aar: &Path) -> Result<Vec<String>> {
    let dir = aar.with_extension("unzipped");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir)?;
    run(
        Command::new("jar")
            .arg("--extract")
            .arg("--file")
            .arg(aar)
            .current_dir(&dir),
        "jar --extract (the AAR)",
    )?;
    let mut done = Vec::new();
    for entry in [
        "classes.jar",
        "AndroidManifest.xml",
        "proguard.txt",
        "R.txt",
        "jni/x86_64/libliveproof_ffi.so",
    ] {
        if !dir.join(entry).is_file() {
            bail!("{} lacks {entry}", aar.display());
        }
    }
    done.push("entries: classes.jar, AndroidManifest.xml, proguard.txt, R.txt, jni/x86_64/libliveproof_ffi.so".to_string());

    // classes.jar holds both packages and the texts.
    let listing = Command::new("jar")
        .arg("--list")
        .arg("--file")
        .arg(dir.join("classes.jar"))
        .output()
        .context("jar --list")?;
    let listing = String::from_utf8_lossy(&listing.stdout);
    for class in [
        "org/liveproof/LivenessEngine.class",
        "org/liveproof/LivenessSession.class",
        "org/liveproof/Feedback$Challenge.class",
        "org/liveproof/CameraFrame.class",
        "org/liveproof/JcaSigner.class",
        "org/liveproof/LiveProofTexts.properties",
        "org/liveproof/ffi/LivenessSession.class",
        "org/liveproof/ffi/UniffiLib.class",
    ] {
        if !listing.lines().any(|l| l.trim() == class) {
            bail!("classes.jar lacks {class}");
        }
    }
    if listing.lines().any(|l| l.contains("Test")) {
        bail!("classes.jar holds test classes");
    }
    done.push("classes.jar: org.liveproof layer, org.liveproof.ffi, texts; no tests".to_string());

    let manifest = fs::read_to_string(dir.join("AndroidManifest.xml"))?;
    if manifest_min_sdk(&manifest) != Some(MIN_SDK) {
        bail!("AndroidManifest.xml: minSdkVersion is not {MIN_SDK}:\n{manifest}");
    }
    if !manifest.contains(&format!("package=\"{GROUP}\"")) {
        bail!("AndroidManifest.xml: package is not {GROUP}");
    }
    done.push(format!(
        "AndroidManifest.xml: package {GROUP}, minSdkVersion {MIN_SDK}"
    ));

    let rules = fs::read_to_string(dir.join("proguard.txt"))?;
    let ours = fs::read_to_string(workspace_root().join("bindings-kotlin/consumer-rules.pro"))?;
    if rules != ours {
        bail!("proguard.txt differs from bindings-kotlin/consumer-rules.pro");
    }
    for keep in [
        "-keep class com.sun.jna.* { *; }",
        "-keep class org.liveproof.ffi.** { *; }",
    ] {
        if !rules.contains(keep) {
            bail!("proguard.txt lacks `{keep}`");
        }
    }
    done.push("proguard.txt: the consumer rules, keeping JNA and org.liveproof.ffi".to_string());

    if fs::metadata(dir.join("R.txt"))?.len() != 0 {
        bail!("R.txt is not empty");
    }
    done.push("R.txt: empty".to_string());

    let host = dir.join("HOST-BUILD.txt").is_file();
    if host != aar.to_string_lossy().contains("-HOST-") {
        bail!("a host build must be named -HOST- and carry HOST-BUILD.txt (and only a host build)");
    }
    // Each ABI's library: the right machine; an Android build also every ABI and 16 KB pages.
    let abis: &[&str] = if host {
        &["x86_64"]
    } else {
        &["arm64-v8a", "armeabi-v7a", "x86_64"]
    };
    for abi in abis {
        let path = format!("jni/{abi}/libliveproof_ffi.so");
        let lib =
            fs::read(dir.join(&path)).with_context(|| format!("{} lacks {path}", aar.display()))?;
        let elf =
            Elf::parse(&lib).with_context(|| format!("{path} is not an ELF shared object"))?;
        if Some(elf.machine) != abi_machine(abi) {
            bail!("{path} is for ELF machine {:#x}, not {abi}", elf.machine);
        }
        if !host && elf.min_load_align < 16384 {
            bail!(
                "{path}: a LOAD segment is aligned to {} bytes; Google Play needs 16 KB pages ({PAGE_SIZE_FLAG})",
                elf.min_load_align
            );
        }
        done.push(format!(
            "{path}: ELF for {abi}, LOAD segments aligned to {} bytes ({})",
            elf.min_load_align,
            if host {
                "HOST build, labelled"
            } else {
                "Android"
            }
        ));
    }

    let pom_path = aar.with_extension("pom");
    let pom =
        fs::read_to_string(&pom_path).with_context(|| format!("reading {}", pom_path.display()))?;
    let inner = fs::read_to_string(
        dir.join("META-INF/maven")
            .join(GROUP)
            .join(ARTIFACT)
            .join("pom.xml"),
    )?;
    if pom != inner {
        bail!("the POM beside the AAR differs from the one inside it");
    }
    let deps = pom_dependencies(&pom);
    for (want, typ) in [
        (ORT_ANDROID, Some("aar")),
        (JNA, Some("aar")),
        (KOTLIN_STDLIB, None),
        (COROUTINES, None),
    ] {
        let found = deps.iter().find(|d| d.0 == want.0 && d.1 == want.1);
        match found {
            Some(d) if d.2 == want.2 && d.3.as_deref() == typ => {}
            Some(d) => bail!(
                "POM: {}:{} is {}/{:?}; expected {}/{typ:?}",
                d.0,
                d.1,
                d.2,
                d.3,
                want.2
            ),
            None => bail!("POM lacks {}:{}", want.0, want.1),
        }
    }
    if !pom.contains("<packaging>aar</packaging>") {
        bail!("POM packaging is not aar");
    }
    done.push(format!(
        "POM: {}:{}:{}@aar, {}:{}:{}@aar, kotlin-stdlib, kotlinx-coroutines-core",
        ORT_ANDROID.0, ORT_ANDROID.1, ORT_ANDROID.2, JNA.0, JNA.1, JNA.2
    ));
    let _ = fs::remove_dir_all(&dir);
    Ok(done)
}

/// `android:minSdkVersion="N"` of a manifest.
pub fn manifest_min_sdk(manifest: &str) -> Option<u32> {
    let key = "android:minSdkVersion=\"";
    let at = manifest.find(key)? + key.len();
    manifest[at..].split('"').next()?.parse().ok()
}

/// `(groupId, artifactId, version, type)` of each `<dependency>` of a POM.
pub fn pom_dependencies(pom: &str) -> Vec<(String, String, String, Option<String>)> {
    let tag = |block: &str, name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let s = block.find(&open)? + open.len();
        let e = block[s..].find(&close)? + s;
        Some(block[s..e].trim().to_string())
    };
    pom.split("<dependency>")
        .skip(1)
        .filter_map(|b| {
            let b = &b[..b.find("</dependency>")?];
            Some((
                tag(b, "groupId")?,
                tag(b, "artifactId")?,
                tag(b, "version")?,
                tag(b, "type"),
            ))
        })
        .collect()
}

/// The ELF `e_machine` an Android ABI's libraries carry.
pub fn abi_machine(abi: &str) -> Option<u16> {
    match abi {
        "arm64-v8a" => Some(0xB7),
        "armeabi-v7a" => Some(0x28),
        "x86_64" => Some(0x3E),
        "x86" => Some(0x03),
        _ => None,
    }
}

/// What the AAR check reads of a little-endian ELF shared object (32- or 64-bit).
#[derive(Debug, PartialEq, Eq)]
pub struct Elf {
    pub machine: u16,
    /// The smallest `p_align` of the `PT_LOAD` segments (the page size it was linked for).
    pub min_load_align: u64,
}

impl Elf {
    /// None unless `bytes` is a little-endian `ET_DYN` ELF with its program headers inside.
    pub fn parse(bytes: &[u8]) -> Option<Elf> {
        let u16_at = |o: usize| Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?));
        let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
        let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
        if bytes.get(..4)? != b"\x7fELF" || bytes.get(5)? != &1 || u16_at(16)? != 3 {
            return None;
        }
        let wide = match bytes.get(4)? {
            1 => false,
            2 => true,
            _ => return None,
        };
        let machine = u16_at(18)?;
        // e_phoff, e_phentsize, e_phnum; then per header p_type and p_align.
        let (phoff, phentsize, phnum) = if wide {
            (
                u64_at(32)? as usize,
                u16_at(54)? as usize,
                u16_at(56)? as usize,
            )
        } else {
            (
                u32_at(28)? as usize,
                u16_at(42)? as usize,
                u16_at(44)? as usize,
            )
        };
        let mut min_load_align = u64::MAX;
        for i in 0..phnum {
            let h = phoff.checked_add(i.checked_mul(phentsize)?)?;
            if u32_at(h)? != 1 {
                continue; // not PT_LOAD
            }
            let align = if wide {
                u64_at(h + 48)?
            } else {
                u64::from(u32_at(h + 28)?)
            };
            min_load_align = min_load_align.min(align);
        }
        (min_load_align != u64::MAX).then_some(Elf {
            machine,
            min_load_align,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_declares_min_sdk_24_and_the_package() {
        let m = manifest();
        assert_eq!(manifest_min_sdk(&m), Some(24));
        assert!(m.contains("package=\"org.liveproof\""));
        assert_eq!(manifest_min_sdk("<uses-sdk/>"), None);
    }

    #[test]
    fn pom_declares_onnxruntime_android_and_jna_aar() {
        let deps = pom_dependencies(&pom("1.2.3"));
        let find = |a: &str| deps.iter().find(|d| d.1 == a).cloned().unwrap();
        assert_eq!(
            find("onnxruntime-android"),
            (
                "com.microsoft.onnxruntime".into(),
                "onnxruntime-android".into(),
                "1.31.1".into(),
                Some("aar".into())
            )
        );
        assert_eq!(find("jna").3.as_deref(), Some("aar"));
        assert_eq!(find("kotlin-stdlib").3, None);
        let text = pom("1.2.3");
        let ort_block = &text[text.find("onnxruntime-android").unwrap()..];
        assert!(ort_block[..ort_block.find("</dependency>").unwrap()]
            .contains("<scope>runtime</scope>"));
        assert_eq!(deps.len(), 4);
        assert!(pom("1.2.3").contains("<version>1.2.3</version>"));
    }

    #[test]
    fn ndk_env_uses_clang_at_min_sdk_with_16k_pages() {
        let env = ndk_env(
            Path::new("/ndk"),
            "armv7-linux-androideabi",
            "armv7a-linux-androideabi",
        );
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
                .unwrap()
        };
        assert!(
            get("CARGO_TARGET_ARMV7_LINUX_ANDROIDEABI_LINKER").ends_with(
                "/toolchains/llvm/prebuilt/linux-x86_64/bin/armv7a-linux-androideabi24-clang"
            )
        );
        assert_eq!(
            get("CARGO_TARGET_ARMV7_LINUX_ANDROIDEABI_RUSTFLAGS"),
            "-C link-arg=-Wl,-z,max-page-size=16384"
        );
        assert!(get("AR_armv7_linux_androideabi").ends_with("/bin/llvm-ar"));
        assert_eq!(ANDROID_ABIS.len(), 3);
    }

    /// A minimal ELF shared object: header + `loads` PT_LOAD program headers with `align`.
    fn elf(wide: bool, machine: u16, aligns: &[u64]) -> Vec<u8> {
        let (ehsize, phentsize) = if wide { (64, 56) } else { (52, 32) };
        let mut b = vec![0u8; ehsize + phentsize * aligns.len()];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = if wide { 2 } else { 1 };
        b[5] = 1;
        b[16] = 3;
        b[18..20].copy_from_slice(&machine.to_le_bytes());
        if wide {
            b[32..40].copy_from_slice(&(ehsize as u64).to_le_bytes());
            b[54..56].copy_from_slice(&(phentsize as u16).to_le_bytes());
            b[56..58].copy_from_slice(&(aligns.len() as u16).to_le_bytes());
        } else {
            b[28..32].copy_from_slice(&(ehsize as u32).to_le_bytes());
            b[42..44].copy_from_slice(&(phentsize as u16).to_le_bytes());
            b[44..46].copy_from_slice(&(aligns.len() as u16).to_le_bytes());
        }
        for (i, a) in aligns.iter().enumerate() {
            let h = ehsize + i * phentsize;
            b[h..h + 4].copy_from_slice(&1u32.to_le_bytes());
            if wide {
                b[h + 48..h + 56].copy_from_slice(&a.to_le_bytes());
            } else {
                b[h + 28..h + 32].copy_from_slice(&(*a as u32).to_le_bytes());
            }
        }
        b
    }

    #[test]
    fn elf_parse_reads_machine_and_load_alignment() {
        assert_eq!(
            Elf::parse(&elf(true, 0xB7, &[16384, 65536])),
            Some(Elf {
                machine: 0xB7,
                min_load_align: 16384
            })
        );
        assert_eq!(
            Elf::parse(&elf(false, 0x28, &[4096, 16384])),
            Some(Elf {
                machine: 0x28,
                min_load_align: 4096
            })
        );
        let mut exec = elf(true, 0x3E, &[4096]);
        exec[16] = 2; // ET_EXEC
        assert_eq!(Elf::parse(&exec), None);
        assert_eq!(Elf::parse(b"PK\x03\x04"), None);
        assert_eq!(abi_machine("armeabi-v7a"), Some(0x28));
        for (abi, _, _) in ANDROID_ABIS {
            assert!(abi_machine(abi).is_some(), "{abi}");
        }
    }

    #[test]
    fn the_host_library_parses() {
        // The library this build just made (if present): x86-64, LOAD segments page-aligned.
        let lib = crate::setup::target_dir()
            .join("debug")
            .join("libliveproof_ffi.so");
        if let Ok(bytes) = fs::read(&lib) {
            let e = Elf::parse(&bytes).expect("the host library parses");
            assert_eq!(e.machine, 0x3E);
            assert!(e.min_load_align >= 4096, "{e:?}");
        }
    }
}

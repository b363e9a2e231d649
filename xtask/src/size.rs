//! `cargo xtask size`: the native payload an app ships, per variant and target: our stripped
//! `libliveproof_ffi.so` with the ONNX Runtime backend (ORT itself loaded at run time, so the
//! app also ships `libonnxruntime.so`), and with the tract backend linked in (no runtime
//! library), plus what takes the space, by crate, from the unstripped library's symbol table
//! (`nm --size-sort -S`).
//!
//! The tract variant is built as a small probe cdylib outside the workspace that links
//! `liveproof-ffi` (all its exports) and calls the tract loader and runner from one exported
//! function, so the linker keeps exactly what an FFI with a tract switch would keep. Release
//! settings can be varied without editing the workspace profile: `--lto`, `--codegen-units`,
//! `--opt-level` set `CARGO_PROFILE_RELEASE_*` for the builds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

const USAGE: &str = "\
usage: cargo xtask size [--target TRIPLE] [--variant ort|tract|both] [--lto off|thin|fat]
                        [--codegen-units N] [--opt-level 0|1|2|3|s|z] [--ort-lib PATH] [--top N]";

/// One variant's measurement.
#[derive(Debug)]
pub struct SizeReport {
    pub variant: &'static str,
    pub target: String,
    /// The built library (unstripped) and its stripped size in bytes.
    pub library: PathBuf,
    pub stripped_bytes: u64,
    /// Bytes of symbols per crate, largest first.
    pub by_crate: Vec<(String, u64)>,
    /// The largest symbols: (bytes, demangled name).
    pub top_symbols: Vec<(u64, String)>,
}

struct Options {
    target: Option<String>,
    variants: Vec<&'static str>,
    profile_env: Vec<(String, String)>,
    ort_lib: Option<PathBuf>,
    top: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        target: None,
        variants: vec!["ort", "tract"],
        profile_env: Vec::new(),
        ort_lib: None,
        top: 15,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("`size`: {a} needs a value\n\n{USAGE}"))
        };
        match a.as_str() {
            "--target" => o.target = Some(value()?),
            "--variant" => {
                o.variants = match value()?.as_str() {
                    "ort" => vec!["ort"],
                    "tract" => vec!["tract"],
                    "both" => vec!["ort", "tract"],
                    v => bail!("`size`: unknown variant `{v}`\n\n{USAGE}"),
                }
            }
            "--lto" => o
                .profile_env
                .push(("CARGO_PROFILE_RELEASE_LTO".into(), value()?)),
            "--codegen-units" => o
                .profile_env
                .push(("CARGO_PROFILE_RELEASE_CODEGEN_UNITS".into(), value()?)),
            "--opt-level" => o
                .profile_env
                .push(("CARGO_PROFILE_RELEASE_OPT_LEVEL".into(), value()?)),
            "--ort-lib" => o.ort_lib = Some(PathBuf::from(value()?)),
            "--top" => o.top = value()?.parse().context("`size`: --top N")?,
            _ => bail!("`size`: unknown argument `{a}`\n\n{USAGE}"),
        }
    }
    Ok(o)
}

/// Builds each variant in release, strips a copy, attributes the space and prints a table.
/// `root` is the workspace; builds go to `$CARGO_TARGET_DIR` (else `<root>/target`) under
/// `size/`, so they never invalidate the ordinary build.
pub fn run(root: &Path, args: &[String]) -> Result<Vec<SizeReport>> {
    let o = parse(args)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("size");
    let mut reports = Vec::new();
    for variant in &o.variants {
        let lib = match *variant {
            "ort" => build_ffi(root, &target_dir, &o)?,
            _ => build_tract_probe(root, &target_dir, &o)?,
        };
        reports.push(measure(variant, &lib, &o)?);
    }
    print(&reports, &o)?;
    Ok(reports)
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo build --release` with the size options and, for a cross target, the GNU cross
/// toolchain (`<triple>-gcc`) as linker and C compiler (tract-linalg assembles its kernels).
fn build_command(dir: &Path, target_dir: &Path, o: &Options) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(dir)
        .args(["build", "--release", "--lib"])
        .env("CARGO_TARGET_DIR", target_dir)
        .envs(o.profile_env.iter().map(|(k, v)| (k, v)));
    if let Some(t) = &o.target {
        cmd.args(["--target", t]);
        let gcc = format!("{}-gcc", gnu_prefix(t));
        let key = t.to_uppercase().replace('-', "_");
        cmd.env(format!("CARGO_TARGET_{key}_LINKER"), &gcc)
            .env(format!("CC_{}", t.replace('-', "_")), &gcc);
    }
    cmd
}

/// `aarch64-unknown-linux-gnu` → `aarch64-linux-gnu` (Debian's cross toolchain names).
fn gnu_prefix(triple: &str) -> String {
    triple.replace("-unknown-", "-")
}

fn artifact(target_dir: &Path, o: &Options, name: &str) -> PathBuf {
    let mut p = target_dir.to_path_buf();
    if let Some(t) = &o.target {
        p.push(t);
    }
    p.join("release").join(name)
}

fn checked(mut cmd: Command, what: &str) -> Result<()> {
    eprintln!("==> size: {what}: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("starting the build of {what}"))?;
    if !status.success() {
        bail!("building {what} failed ({status})");
    }
    Ok(())
}

fn build_ffi(root: &Path, target_dir: &Path, o: &Options) -> Result<PathBuf> {
    let mut cmd = build_command(root, target_dir, o);
    cmd.args(["-p", "liveproof-ffi"]);
    checked(cmd, "liveproof-ffi (ONNX Runtime backend)")?;
    Ok(artifact(target_dir, o, "libliveproof_ffi.so"))
}

const PROBE_LIB: &str = r#"//! Size probe (generated by `cargo xtask size`): liveproof-ffi's exports, plus the tract
//! backend reachable from one exported function, as an FFI tract switch would make it.
extern crate liveproof_ffi;

use liveproof_core::models::{Backend, ModelStore, StoreConfig, TensorOut};

/// Loads `face_landmark` from `dir` with tract and runs it once on zeros.
#[no_mangle]
pub extern "C" fn lp_size_probe_tract(dir: *const std::ffi::c_char) -> i32 {
    if dir.is_null() {
        return -1;
    }
    // SAFETY: the caller passes a NUL-terminated string (never called: a size probe).
    let dir = unsafe { std::ffi::CStr::from_ptr(dir) }.to_string_lossy().into_owned();
    let config = StoreConfig {
        models_dir: dir.into(),
        runtime_path: None,
        intra_op_threads: 1,
        overrides: Vec::new(),
    };
    let Ok(store) = ModelStore::with_backend(config, Backend::Tract) else { return -2 };
    let Ok(r) = store.get("face_landmark") else { return -3 };
    let input = vec![0f32; 3 * 192 * 192];
    let mut out: Vec<TensorOut> = Vec::new();
    match r.run_one(&input, &[1, 3, 192, 192], &mut out) {
        Ok(()) => out.len() as i32,
        Err(_) => -4,
    }
}
"#;

fn build_tract_probe(root: &Path, target_dir: &Path, o: &Options) -> Result<PathBuf> {
    let dir = target_dir.join("tract-probe");
    std::fs::create_dir_all(dir.join("src"))
        .with_context(|| format!("creating {}", dir.display()))?;
    let manifest = format!(
        r#"[package]
name = "liveproof-size-probe"
version = "0.0.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]
name = "liveproof_size_probe"
path = "src/lib.rs"

[dependencies]
liveproof-ffi = {{ path = "{ffi}" }}
liveproof-core = {{ path = "{core}", features = ["std", "ort", "fft", "trust", "tract"] }}

[profile.release]
panic = "unwind"
debug = 1

[workspace]
"#,
        ffi = root.join("ffi").display(),
        core = root.join("core").display()
    );
    std::fs::write(dir.join("Cargo.toml"), manifest)?;
    std::fs::write(dir.join("src/lib.rs"), PROBE_LIB)?;
    // The workspace's lock file: the probe builds the very versions the SDK does.
    std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))
        .context("copying Cargo.lock into the probe")?;
    let cmd = build_command(&dir, target_dir, o);
    checked(cmd, "liveproof-ffi + tract backend (probe)")?;
    Ok(artifact(target_dir, o, "libliveproof_size_probe.so"))
}

fn tool(o: &Options, name: &str) -> String {
    match &o.target {
        Some(t) => format!("{}-{name}", gnu_prefix(t)),
        None => name.to_string(),
    }
}

fn measure(variant: &'static str, lib: &Path, o: &Options) -> Result<SizeReport> {
    if !lib.is_file() {
        bail!("{} was not built", lib.display());
    }
    let stripped = lib.with_extension("stripped.so");
    let status = Command::new(tool(o, "strip"))
        .arg("-o")
        .arg(&stripped)
        .arg(lib)
        .status()
        .context("running strip")?;
    if !status.success() {
        bail!("strip {} failed", lib.display());
    }
    let stripped_bytes = std::fs::metadata(&stripped)?.len();
    let out = Command::new(tool(o, "nm"))
        .args(["--size-sort", "-S", "-C"])
        .arg(lib)
        .output()
        .context("running nm")?;
    if !out.status.success() {
        bail!("nm {} failed", lib.display());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut by_crate: BTreeMap<String, u64> = BTreeMap::new();
    let mut symbols = Vec::new();
    for line in text.lines() {
        // `address size type name`
        let mut f = line.splitn(4, ' ');
        let (_, Some(size), Some(_), Some(name)) = (f.next(), f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(size) = u64::from_str_radix(size, 16) else {
            continue;
        };
        *by_crate.entry(crate_of(name)).or_default() += size;
        symbols.push((size, name.to_string()));
    }
    let mut by_crate: Vec<(String, u64)> = by_crate.into_iter().collect();
    by_crate.sort_by_key(|c| std::cmp::Reverse(c.1));
    symbols.sort_by_key(|s| std::cmp::Reverse(s.0));
    symbols.truncate(o.top);
    Ok(SizeReport {
        variant,
        target: o.target.clone().unwrap_or_else(|| "host".into()),
        library: lib.to_path_buf(),
        stripped_bytes,
        by_crate,
        top_symbols: symbols,
    })
}

/// The crate a demangled symbol belongs to: the first path segment, looking through `<impl
/// Trait for Type>` and `<Type as Trait>` to the type; C and assembly symbols are `[C/asm]`.
fn crate_of(name: &str) -> String {
    let mut s = name.trim_start_matches(['<', '&', '*', '(']);
    for prefix in ["impl ", "dyn ", "mut ", "const "] {
        s = s
            .strip_prefix(prefix)
            .unwrap_or(s)
            .trim_start_matches(['<', '&', '*']);
    }
    match s.find("::") {
        Some(i) if !s[..i].contains([' ', '<', '(']) => s[..i].to_string(),
        _ => "[C/asm]".to_string(),
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

fn print(reports: &[SizeReport], o: &Options) -> Result<()> {
    let settings = if o.profile_env.is_empty() {
        "workspace release profile".to_string()
    } else {
        o.profile_env
            .iter()
            .map(|(k, v)| format!("{}={v}", k.trim_start_matches("CARGO_PROFILE_RELEASE_")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let ort_lib = o.ort_lib.clone().or_else(|| {
        if o.target.is_none() {
            std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from)
        } else {
            None
        }
    });
    let ort_bytes = match &ort_lib {
        Some(p) => Some(
            std::fs::metadata(p)
                .with_context(|| format!("ONNX Runtime library {}", p.display()))?
                .len(),
        ),
        None => None,
    };
    println!("\nsize ({settings})\n");
    println!("| variant | target | our library, stripped | inference runtime | native payload |");
    println!("|---|---|---|---|---|");
    for r in reports {
        let (runtime, total) = match (r.variant, ort_bytes) {
            ("ort", Some(b)) => (
                format!("libonnxruntime.so {}", mb(b)),
                mb(r.stripped_bytes + b),
            ),
            ("ort", None) => (
                "libonnxruntime.so (size unknown: --ort-lib)".into(),
                "?".into(),
            ),
            _ => ("linked in".into(), mb(r.stripped_bytes)),
        };
        println!(
            "| {} | {} | {} | {runtime} | {total} |",
            r.variant,
            r.target,
            mb(r.stripped_bytes)
        );
    }
    for r in reports {
        let total: u64 = r.by_crate.iter().map(|(_, b)| b).sum();
        println!(
            "\n{} ({}): symbol bytes by crate (nm, {} in all)",
            r.variant,
            r.library.display(),
            mb(total)
        );
        for (c, b) in r.by_crate.iter().take(o.top) {
            println!("  {:>10}  {c}", mb(*b));
        }
        println!("  largest symbols:");
        for (b, name) in &r.top_symbols {
            let short: String = name.chars().take(110).collect();
            println!("  {:>10}  {short}", mb(*b));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_attributed_to_their_crate() {
        assert_eq!(crate_of("tract_linalg::frame::mmm::foo"), "tract_linalg");
        assert_eq!(
            crate_of("<tract_core::ops::cnn::Conv as tract_core::ops::Op>::name"),
            "tract_core"
        );
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "[C/asm]");
        assert_eq!(crate_of("fma_mmm_f32_16x6_0_1_5"), "[C/asm]");
        assert_eq!(crate_of("<impl liveproof_ffi::Foo>::bar"), "liveproof_ffi");
    }

    #[test]
    fn options_parse_and_reject_unknown_ones() {
        let o = parse(&[
            "--lto".into(),
            "fat".into(),
            "--variant".into(),
            "tract".into(),
        ])
        .unwrap();
        assert_eq!(o.variants, vec!["tract"]);
        assert_eq!(
            o.profile_env,
            vec![("CARGO_PROFILE_RELEASE_LTO".to_string(), "fat".to_string())]
        );
        assert!(parse(&["--nope".into()]).is_err());
        assert_eq!(gnu_prefix("aarch64-unknown-linux-gnu"), "aarch64-linux-gnu");
    }
}

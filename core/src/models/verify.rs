//! File verification: a model file's size and sha256 against its manifest entry.
//!
//! The backends load through [`copy_verified_model`]: the bytes that were hashed are the bytes
//! handed to the runtime (in memory, [`read_verified_model`], read once; or streamed, after a
//! [`verify_model_file`] pass), so a file changed or swapped between the check and the load is
//! caught (no hash-then-reopen window).

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ModelError, ModelSpec};

/// Streams a file through sha256; lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    stream_into(&mut f, &mut h).map_err(io)?;
    Ok(hex::encode(h.finalize()))
}

/// Reads `path` once and returns its bytes when they have the pinned size (when known) and the
/// pinned sha256: what was hashed is what the caller loads.
///
/// Memory: one buffer of the file's size, allocated up front (never grown). The checks are
/// [`copy_verified_model`]'s.
pub fn read_verified_model(spec: &ModelSpec, path: &Path) -> Result<Vec<u8>, ModelError> {
    let mut bytes = Vec::new();
    copy_verified_model(spec, path, |size| {
        bytes = Vec::with_capacity(size);
        &mut bytes
    })?;
    Ok(bytes)
}

/// Reads `path` once, writing its bytes to the sink `open(size)` returns as they are hashed,
/// and succeeds only when they had the pinned size (when known) and the pinned sha256.
///
/// The sink sees every byte before the verdict, so on an error the caller discards what it
/// wrote. The sink gets exactly the bytes that were hashed: the file is never opened twice.
/// With a pinned size a longer file is refused before anything is written (its sha256,
/// streamed, goes into the `HashMismatch`); a shorter one is `ModelTruncated`. Without a pinned
/// size (a model override) the size the file has when opened bounds the read. A file that grows
/// while it is read is refused.
pub fn copy_verified_model<W: Write>(
    spec: &ModelSpec,
    path: &Path,
    open: impl FnOnce(usize) -> W,
) -> Result<(), ModelError> {
    let missing = || ModelError::ModelMissing {
        name: spec.name.clone(),
        path: path.to_path_buf(),
    };
    let io = |source: std::io::Error| ModelError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => missing(),
        _ => io(e),
    })?;
    // The size of the file that was opened, not of whatever the path names later.
    let meta = f.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(missing());
    }
    let len = meta.len();
    if let Some(expected) = spec.bytes {
        if len < expected {
            return Err(ModelError::ModelTruncated {
                name: spec.name.clone(),
                path: path.to_path_buf(),
                expected,
                got: len,
            });
        }
    }
    if spec.sha256 == "TO-BE-PINNED" {
        return Err(ModelError::Manifest(format!(
            "model `{}` has no pinned sha256",
            spec.name
        )));
    }
    let mismatch = |got: String| ModelError::HashMismatch {
        name: spec.name.clone(),
        path: path.to_path_buf(),
        expected: spec.sha256.clone(),
        got,
    };
    let want = spec.bytes.unwrap_or(len);
    let mut h = Sha256::new();
    if len > want {
        // Longer than pinned: cannot have the pinned sha256; hashed as a stream for the message.
        stream_into(&mut f, &mut h).map_err(io)?;
        return Err(mismatch(hex::encode(h.finalize())));
    }
    let size = usize::try_from(want).map_err(|_| {
        io(std::io::Error::new(
            ErrorKind::OutOfMemory,
            format!("{want} bytes do not fit in memory on this target"),
        ))
    })?;
    let mut sink = open(size);
    let mut buf = vec![0u8; CHUNK.min(size.max(1))];
    let mut filled = 0;
    while filled < size {
        let n = (size - filled).min(buf.len());
        match f.read(&mut buf[..n]) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
                sink.write_all(&buf[..n]).map_err(io)?;
                filled += n;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    if filled < size {
        // Shortened after it was opened.
        return Err(ModelError::ModelTruncated {
            name: spec.name.clone(),
            path: path.to_path_buf(),
            expected: want,
            got: filled as u64,
        });
    }
    let mut probe = [0u8; 1];
    let grew = loop {
        match f.read(&mut probe) {
            Ok(n) => break n > 0,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    };
    if grew {
        // Longer than when it was opened: whatever it is now, it is not what was sized.
        drop(sink);
        h.update(probe);
        stream_into(&mut f, &mut h).map_err(io)?;
        let got = hex::encode(h.finalize());
        if got != spec.sha256 {
            return Err(mismatch(got));
        }
        return Err(io(std::io::Error::other(format!(
            "the file grew while it was read (from {len} bytes); load it again"
        ))));
    }
    let got = hex::encode(h.finalize());
    if got != spec.sha256 {
        return Err(mismatch(got));
    }
    Ok(())
}

/// The read size of the streaming copies and hashes.
const CHUNK: usize = 1 << 16;

/// Feeds the rest of `f` into `h` in 64 KiB chunks.
fn stream_into(f: &mut File, h: &mut Sha256) -> std::io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Checks that `path` exists, has the pinned size (when known) and the pinned sha256, reading
/// it once as a stream and holding nothing: [`copy_verified_model`]'s checks and errors.
///
/// A check only: the file is opened again by whoever loads it. The backends load through
/// [`copy_verified_model`] instead, which hands on the bytes it checked (the streamed load runs
/// this check first, so a file that is not the pinned one never reaches the runtime).
pub fn verify_model_file(spec: &ModelSpec, path: &Path) -> Result<(), ModelError> {
    copy_verified_model(spec, path, |_| std::io::sink())
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

    /// The loaders' read: the bytes returned are the bytes hashed; a shorter, longer, changed,
    /// missing or unpinned file is the same typed error as `verify_model_file` gives.
    #[test]
    fn read_verified_model_returns_the_bytes_it_hashed() {
        let dir = std::env::temp_dir().join(format!("lp-models-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.onnx");
        std::fs::write(&path, b"hello").unwrap();
        let sha = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let mut spec = ModelSpec {
            bytes: Some(5),
            ..ModelSpec::for_test(sha)
        };
        let bytes = read_verified_model(&spec, &path).unwrap();
        assert_eq!(bytes, b"hello");
        // Changing the file afterwards changes nothing in what was returned.
        std::fs::write(&path, b"jello").unwrap();
        assert_eq!(bytes, b"hello");
        let e = read_verified_model(&spec, &path).unwrap_err();
        match &e {
            ModelError::HashMismatch {
                expected,
                got,
                path: p,
                ..
            } => {
                assert_eq!(expected, sha);
                assert_eq!(got, &sha256_file(&path).unwrap());
                assert_eq!(p, &path);
            }
            other => panic!("expected HashMismatch, got {other:?}"),
        }
        // Shorter than pinned.
        std::fs::write(&path, b"hell").unwrap();
        assert!(matches!(
            read_verified_model(&spec, &path),
            Err(ModelError::ModelTruncated {
                expected: 5,
                got: 4,
                ..
            })
        ));
        // Longer than pinned: refused with the file's real sha256, streamed.
        std::fs::write(&path, b"hello!").unwrap();
        let e = read_verified_model(&spec, &path).unwrap_err();
        assert!(
            matches!(&e, ModelError::HashMismatch { got, .. } if got == &sha256_file(&path).unwrap()),
            "{e}"
        );
        // Without a pinned size (an override), the size at open bounds the read.
        std::fs::write(&path, b"hello").unwrap();
        spec.bytes = None;
        assert_eq!(read_verified_model(&spec, &path).unwrap(), b"hello");
        assert!(matches!(
            read_verified_model(&spec, &dir.join("missing.onnx")),
            Err(ModelError::ModelMissing { .. })
        ));
        assert!(matches!(
            read_verified_model(&spec, &dir),
            Err(ModelError::ModelMissing { .. })
        ));
        spec.sha256 = "TO-BE-PINNED".into();
        assert!(matches!(
            read_verified_model(&spec, &path),
            Err(ModelError::Manifest(_))
        ));
        std::fs::remove_dir_all(&dir).ok();
    }
}

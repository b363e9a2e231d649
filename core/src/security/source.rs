//! What the device probes read, behind small traits so that tests simulate a device on Linux:
//! a filesystem under a root ([`RootedFs`]), Android system properties ([`BuildPropFiles`],
//! [`MapProperties`]) and environment variables ([`ProcessEnv`], [`MapEnv`]). Facts only an
//! OS API can tell (iOS loaded images, `P_TRACED`) come as plain data in
//! [`ProcessFacts`](super::probes::ProcessFacts), filled by the Swift / Kotlin layer.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Reads of probe inputs: a file may be missing, unreadable (sandbox, SELinux) or not UTF-8;
/// none of these is a finding.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: not found")]
    NotFound { path: String },
    #[error("{path}: permission denied")]
    Denied { path: String },
    #[error("{path}: {message}")]
    Io { path: String, message: String },
    #[error("{path}: not an absolute device path without `..` (expected e.g. /proc/self/maps)")]
    BadPath { path: String },
}

impl SourceError {
    fn from_io(path: &str, e: std::io::Error) -> SourceError {
        match e.kind() {
            std::io::ErrorKind::NotFound => SourceError::NotFound { path: path.into() },
            std::io::ErrorKind::PermissionDenied => SourceError::Denied { path: path.into() },
            _ => SourceError::Io {
                path: path.into(),
                message: e.to_string(),
            },
        }
    }
}

/// Read access to device files by their absolute device path (`/proc/self/maps`).
pub trait FileSource {
    /// Whether `path` exists (false when it is missing or the sandbox hides it).
    fn exists(&self, path: &str) -> bool;
    /// At most `max_bytes` of `path`, invalid UTF-8 replaced (U+FFFD).
    fn read_to_string(&self, path: &str, max_bytes: usize) -> Result<String, SourceError>;
    /// The entry names of directory `path`, sorted.
    fn list_dir(&self, path: &str) -> Result<Vec<String>, SourceError>;
    /// The last component of the target of symlink `path` (e.g. a driver's name), if it is
    /// a symlink.
    fn link_name(&self, path: &str) -> Option<String>;
}

/// The device's files resolved under `root`: `RootedFs::new("/")` on a device, a temporary
/// tree in tests.
#[derive(Clone, Debug)]
pub struct RootedFs {
    root: PathBuf,
}

impl RootedFs {
    pub fn new(root: impl Into<PathBuf>) -> RootedFs {
        RootedFs { root: root.into() }
    }

    /// `path` under the root; refuses relative paths and `..`.
    fn resolve(&self, path: &str) -> Result<PathBuf, SourceError> {
        let p = Path::new(path);
        let mut out = self.root.clone();
        let mut absolute = false;
        for c in p.components() {
            match c {
                Component::RootDir => absolute = true,
                Component::Normal(n) => out.push(n),
                Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(SourceError::BadPath { path: path.into() })
                }
            }
        }
        if !absolute {
            return Err(SourceError::BadPath { path: path.into() });
        }
        Ok(out)
    }
}

impl FileSource for RootedFs {
    fn exists(&self, path: &str) -> bool {
        self.resolve(path)
            .is_ok_and(|p| std::fs::symlink_metadata(p).is_ok())
    }

    fn read_to_string(&self, path: &str, max_bytes: usize) -> Result<String, SourceError> {
        let p = self.resolve(path)?;
        let file = std::fs::File::open(&p).map_err(|e| SourceError::from_io(path, e))?;
        // /proc files report size 0: read, capped, rather than trusting the metadata.
        let mut buf = Vec::with_capacity(max_bytes.min(64 * 1024));
        file.take(max_bytes as u64)
            .read_to_end(&mut buf)
            .map_err(|e| SourceError::from_io(path, e))?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn list_dir(&self, path: &str) -> Result<Vec<String>, SourceError> {
        let p = self.resolve(path)?;
        let mut out = Vec::new();
        for e in std::fs::read_dir(&p).map_err(|e| SourceError::from_io(path, e))? {
            let e = e.map_err(|e| SourceError::from_io(path, e))?;
            out.push(e.file_name().to_string_lossy().into_owned());
            // A directory of millions of entries is not a device directory we read.
            if out.len() >= 4096 {
                break;
            }
        }
        out.sort();
        Ok(out)
    }

    fn link_name(&self, path: &str) -> Option<String> {
        let target = std::fs::read_link(self.resolve(path).ok()?).ok()?;
        Some(target.file_name()?.to_string_lossy().into_owned())
    }
}

/// Android system properties (`ro.build.tags`, ...).
pub trait PropertySource {
    /// The value of `name`, if known.
    fn get(&self, name: &str) -> Option<String>;
    /// Whether the source knows any property at all (an empty source measures nothing).
    fn available(&self) -> bool;
}

/// `(name, value)` pairs as an owned map (later pairs win), for [`MapProperties`] and
/// [`MapEnv`].
fn owned_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Properties the host app filled, from `android.os.Build` / `getprop` (core forbids
/// `unsafe`, so it cannot call `__system_property_get` itself).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapProperties(pub BTreeMap<String, String>);

impl MapProperties {
    /// From `(name, value)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> MapProperties {
        MapProperties(owned_map(pairs))
    }
}

impl PropertySource for MapProperties {
    fn get(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
    fn available(&self) -> bool {
        !self.0.is_empty()
    }
}

/// The property files an app can read (`/system/build.prop`, `/vendor/build.prop`,
/// `/default.prop`, ...), parsed once; earlier files win, as in Android's own load order for
/// `ro.` properties.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BuildPropFiles {
    props: BTreeMap<String, String>,
    /// The files that were read.
    pub read: Vec<String>,
}

impl BuildPropFiles {
    /// The files, in priority order.
    pub const FILES: [&'static str; 6] = [
        "/default.prop",
        "/system/build.prop",
        "/system/etc/prop.default",
        "/vendor/build.prop",
        "/vendor/default.prop",
        "/product/build.prop",
    ];

    /// Reads and parses every readable file of [`Self::FILES`] (each capped at 1 MiB).
    pub fn load(fs: &dyn FileSource) -> BuildPropFiles {
        let mut out = BuildPropFiles::default();
        for f in Self::FILES {
            let Ok(text) = fs.read_to_string(f, super::probes::READ_CAP) else {
                continue;
            };
            out.read.push(f.to_string());
            for line in text.lines() {
                let line = line.trim();
                if line.starts_with('#') {
                    continue;
                }
                if let Some((k, v)) = line.split_once('=') {
                    out.props
                        .entry(k.trim().to_string())
                        .or_insert_with(|| v.trim().to_string());
                }
            }
        }
        out
    }
}

impl PropertySource for BuildPropFiles {
    fn get(&self, name: &str) -> Option<String> {
        self.props.get(name).cloned()
    }
    fn available(&self) -> bool {
        !self.props.is_empty()
    }
}

/// Environment variables.
pub trait EnvSource {
    fn var(&self, name: &str) -> Option<String>;
}

/// This process's environment (non-UTF-8 values decoded lossily).
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
    }
}

/// A fixed environment, for tests.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapEnv(pub BTreeMap<String, String>);

impl MapEnv {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> MapEnv {
        MapEnv(owned_map(pairs))
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

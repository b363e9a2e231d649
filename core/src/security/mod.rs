//! Device security and stream injection signals: **evidence, not verdicts**. Each finding is
//! a [`SecuritySignal`] with a stable probe id, the probe's version, a category, a severity
//! in [0, 1] (how strongly the finding indicates its category) and what was seen; the
//! tenant's policy (`core::policy`) decides what they mean. docs/device-signals.md lists every
//! probe, its severity and why, and its known false positives.
//!
//! - Device probes ([`probes`]) read through small abstractions ([`FileSource`],
//!   [`PropertySource`], [`EnvSource`], [`ProcessFacts`]), so tests simulate a rooted phone,
//!   an emulator, a hooked process or a virtual camera on Linux.
//! - Stream heuristics ([`stream`]) judge the frames themselves (timing, duplicates, sensor
//!   noise, geometry changes, declared camera metadata), framed by CEN/TS 18099.
//!
//! The types here build without `std` (the signed result and the verifier carry them); the
//! probes and the stream monitor need `std`.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

#[cfg(feature = "std")]
pub mod probes;
#[cfg(feature = "std")]
pub mod source;
#[cfg(feature = "std")]
pub mod stream;
#[cfg(all(test, feature = "std"))]
mod tests;

#[cfg(feature = "std")]
pub use probes::{
    probe_device, probe_this_device, NotMeasured, Probe, ProbeReport, ProbeSet, ProcessFacts,
};
#[cfg(feature = "std")]
pub use source::{
    BuildPropFiles, EnvSource, FileSource, MapEnv, MapProperties, ProcessEnv, PropertySource,
    RootedFs, SourceError,
};
#[cfg(feature = "std")]
pub use stream::{DeclaredCamera, StreamAssessment, StreamMonitor};

/// What a signal indicates. Kept small: a tenant policy reasons about these, not about
/// individual probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityCategory {
    /// Root (Android) or jailbreak (iOS): the app's sandbox cannot be relied on.
    RootOrJailbreak,
    /// An Android emulator or the iOS simulator.
    Emulator,
    /// A hooking framework in the process (Frida, Xposed / LSPosed, MobileSubstrate).
    Hooking,
    /// A debugger or tracer attached to the process.
    Debugger,
    /// A virtual camera device (v4l2loopback, OBS, ManyCam, ...).
    VirtualCamera,
    /// The frames themselves look injected (stream heuristics, CEN/TS 18099).
    Injection,
    /// A hypervisor (weak: servers and developer machines are VMs).
    Vm,
    /// The process environment (e.g. `LD_PRELOAD`).
    Environment,
}

impl SecurityCategory {
    /// Every category, in a fixed order.
    pub const ALL: [SecurityCategory; 8] = [
        SecurityCategory::RootOrJailbreak,
        SecurityCategory::Emulator,
        SecurityCategory::Hooking,
        SecurityCategory::Debugger,
        SecurityCategory::VirtualCamera,
        SecurityCategory::Injection,
        SecurityCategory::Vm,
        SecurityCategory::Environment,
    ];

    /// The categories that make up `SecurityEvidence::device_risk`.
    pub const DEVICE: [SecurityCategory; 6] = [
        SecurityCategory::RootOrJailbreak,
        SecurityCategory::Emulator,
        SecurityCategory::Hooking,
        SecurityCategory::Debugger,
        SecurityCategory::Vm,
        SecurityCategory::Environment,
    ];

    /// The stable name (`root_or_jailbreak`, `emulator`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityCategory::RootOrJailbreak => "root_or_jailbreak",
            SecurityCategory::Emulator => "emulator",
            SecurityCategory::Hooking => "hooking",
            SecurityCategory::Debugger => "debugger",
            SecurityCategory::VirtualCamera => "virtual_camera",
            SecurityCategory::Injection => "injection",
            SecurityCategory::Vm => "vm",
            SecurityCategory::Environment => "environment",
        }
    }
}

/// One finding of one probe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecuritySignal {
    /// Stable probe id, e.g. `android.root.su_binary`, `stream.timing.regular`.
    pub probe: String,
    /// The probe's version: bumped whenever what it reads or how it scores changes.
    pub version: u32,
    pub category: SecurityCategory,
    /// How strongly the finding indicates `category`, in [0, 1] (docs/device-signals.md).
    pub severity: f32,
    /// What was seen (a path, a property value, a statistic); never personal data.
    pub evidence: String,
}

impl SecuritySignal {
    /// A signal with its severity clamped to [0, 1] (NaN reads as 0).
    pub fn new(
        probe: &str,
        version: u32,
        category: SecurityCategory,
        severity: f32,
        evidence: String,
    ) -> SecuritySignal {
        let severity = if severity.is_nan() {
            0.0
        } else {
            severity.clamp(0.0, 1.0)
        };
        SecuritySignal {
            probe: probe.into(),
            version,
            category,
            severity,
            evidence,
        }
    }
}

/// Adds `c` to the sorted set `set`.
pub(crate) fn cover(set: &mut Vec<SecurityCategory>, c: SecurityCategory) {
    if let Err(i) = set.binary_search(&c) {
        set.insert(i, c);
    }
}

//! Device probes: root / jailbreak, emulator, hooking, debugger, virtual cameras, VM hints
//! and the process environment, each with a stable id, a version and a documented severity
//! (docs/device-signals.md). The logic of every platform compiles everywhere, so Linux tests
//! run the Android and iOS probes on simulated trees; [`ProbeSet::for_this_platform`] picks
//! the set by `target_os`. Probes never panic and never write: an unreadable input is "not
//! measured", never a finding.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use super::source::{EnvSource, FileSource, PropertySource, SourceError};
use super::{cover, SecurityCategory, SecuritySignal};

/// Cap on one probe read, bytes (1 MiB): device files are small, a huge one is cut.
pub const READ_CAP: usize = 1 << 20;
/// Cap on `/proc/self/maps`, bytes (8 MiB: a large Android app maps thousands of files).
pub const MAPS_CAP: usize = 8 << 20;

/// Facts about the process that only an OS API can tell (iOS `_dyld_get_image_name`,
/// `sysctl` `P_TRACED`, the simulator flag, the capture device's name), filled by the
/// Swift / Kotlin / desktop layer. `None` = not reported (the probe is not measured).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessFacts {
    /// Names (or paths) of the images loaded in the process (iOS: `_dyld_image_count`).
    #[serde(default)]
    pub loaded_images: Option<Vec<String>>,
    /// `P_TRACED` is set (iOS `sysctl(KERN_PROC_PID)`).
    #[serde(default)]
    pub traced: Option<bool>,
    /// The app runs in the iOS simulator.
    #[serde(default)]
    pub simulator: Option<bool>,
    /// The host tried to write a file outside its sandbox (e.g. `/private/jailbreak.txt`)
    /// and it succeeded. Core never writes outside the sandbox itself.
    #[serde(default)]
    pub sandbox_write_succeeded: Option<bool>,
    /// The capture device's name as the OS reports it (AVCaptureDevice.localizedName,
    /// the V4L2 card name, the DirectShow friendly name).
    #[serde(default)]
    pub camera_name: Option<String>,
}

/// Every device probe. Ids and versions are stable: results, policies and the signed
/// result name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Probe {
    AndroidSuBinary,
    AndroidMagisk,
    AndroidTestKeys,
    AndroidDebuggable,
    AndroidInsecure,
    AndroidSelinuxPermissive,
    AndroidQemuProperty,
    AndroidEmulatorHardware,
    AndroidGenericBuild,
    AndroidQemuDevices,
    AndroidFridaMaps,
    AndroidXposedMaps,
    AndroidFridaPort,
    AndroidTracerPid,
    IosJailbreakPaths,
    IosSandboxWrite,
    IosInjectedDylib,
    IosTraced,
    IosSimulator,
    LinuxV4l2Name,
    LinuxV4l2Driver,
    LinuxVmDmi,
    LinuxVmCpuinfo,
    LinuxTracerPid,
    EnvPreload,
    CameraVirtualName,
}

impl Probe {
    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Probe::AndroidSuBinary => "android.root.su_binary",
            Probe::AndroidMagisk => "android.root.magisk",
            Probe::AndroidTestKeys => "android.root.test_keys",
            Probe::AndroidDebuggable => "android.root.debuggable",
            Probe::AndroidInsecure => "android.root.ro_secure_0",
            Probe::AndroidSelinuxPermissive => "android.root.selinux_permissive",
            Probe::AndroidQemuProperty => "android.emulator.qemu_property",
            Probe::AndroidEmulatorHardware => "android.emulator.hardware",
            Probe::AndroidGenericBuild => "android.emulator.generic_build",
            Probe::AndroidQemuDevices => "android.emulator.qemu_devices",
            Probe::AndroidFridaMaps => "android.hook.frida_maps",
            Probe::AndroidXposedMaps => "android.hook.xposed_maps",
            Probe::AndroidFridaPort => "android.hook.frida_port",
            Probe::AndroidTracerPid => "android.debug.tracer_pid",
            Probe::IosJailbreakPaths => "ios.jailbreak.paths",
            Probe::IosSandboxWrite => "ios.jailbreak.sandbox_write",
            Probe::IosInjectedDylib => "ios.hook.injected_dylib",
            Probe::IosTraced => "ios.debug.p_traced",
            Probe::IosSimulator => "ios.emulator.simulator",
            Probe::LinuxV4l2Name => "linux.vcam.v4l2_name",
            Probe::LinuxV4l2Driver => "linux.vcam.v4l2_driver",
            Probe::LinuxVmDmi => "linux.vm.dmi",
            Probe::LinuxVmCpuinfo => "linux.vm.cpuinfo_hypervisor",
            Probe::LinuxTracerPid => "linux.debug.tracer_pid",
            Probe::EnvPreload => "env.preload",
            Probe::CameraVirtualName => "camera.virtual_name",
        }
    }

    /// The probe's version (1 for all at first).
    pub fn version(self) -> u32 {
        1
    }

    pub fn category(self) -> SecurityCategory {
        use SecurityCategory as C;
        match self {
            Probe::AndroidSuBinary
            | Probe::AndroidMagisk
            | Probe::AndroidTestKeys
            | Probe::AndroidDebuggable
            | Probe::AndroidInsecure
            | Probe::AndroidSelinuxPermissive
            | Probe::IosJailbreakPaths
            | Probe::IosSandboxWrite => C::RootOrJailbreak,
            Probe::AndroidQemuProperty
            | Probe::AndroidEmulatorHardware
            | Probe::AndroidGenericBuild
            | Probe::AndroidQemuDevices
            | Probe::IosSimulator => C::Emulator,
            Probe::AndroidFridaMaps
            | Probe::AndroidXposedMaps
            | Probe::AndroidFridaPort
            | Probe::IosInjectedDylib => C::Hooking,
            Probe::AndroidTracerPid | Probe::IosTraced | Probe::LinuxTracerPid => C::Debugger,
            Probe::LinuxV4l2Name | Probe::LinuxV4l2Driver | Probe::CameraVirtualName => {
                C::VirtualCamera
            }
            Probe::LinuxVmDmi | Probe::LinuxVmCpuinfo => C::Vm,
            Probe::EnvPreload => C::Environment,
        }
    }

    /// The severity of a finding: how strongly it indicates the category (the reasons are in
    /// docs/device-signals.md).
    pub fn severity(self) -> f32 {
        match self {
            Probe::AndroidSuBinary | Probe::AndroidMagisk => 0.95,
            Probe::AndroidTestKeys => 0.6,
            Probe::AndroidDebuggable => 0.5,
            Probe::AndroidInsecure | Probe::AndroidSelinuxPermissive => 0.7,
            Probe::AndroidQemuProperty
            | Probe::AndroidEmulatorHardware
            | Probe::AndroidQemuDevices => 0.9,
            Probe::AndroidGenericBuild => 0.7,
            Probe::AndroidFridaMaps => 0.95,
            Probe::AndroidXposedMaps => 0.9,
            Probe::AndroidFridaPort => 0.8,
            Probe::AndroidTracerPid => 0.7,
            Probe::IosJailbreakPaths => 0.9,
            Probe::IosSandboxWrite | Probe::IosInjectedDylib => 0.95,
            Probe::IosTraced => 0.7,
            Probe::IosSimulator => 0.9,
            Probe::LinuxV4l2Name | Probe::LinuxV4l2Driver => 0.6,
            Probe::LinuxVmDmi => 0.3,
            Probe::LinuxVmCpuinfo => 0.2,
            Probe::LinuxTracerPid => 0.6,
            Probe::EnvPreload => 0.5,
            Probe::CameraVirtualName => 0.95,
        }
    }
}

/// Which probes run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeSet {
    pub probes: Vec<Probe>,
}

impl ProbeSet {
    /// Root, emulator, hooking and debugger probes of an Android app.
    pub fn android() -> ProbeSet {
        use Probe::*;
        ProbeSet {
            probes: alloc::vec![
                AndroidSuBinary,
                AndroidMagisk,
                AndroidTestKeys,
                AndroidDebuggable,
                AndroidInsecure,
                AndroidSelinuxPermissive,
                AndroidQemuProperty,
                AndroidEmulatorHardware,
                AndroidGenericBuild,
                AndroidQemuDevices,
                AndroidFridaMaps,
                AndroidXposedMaps,
                AndroidFridaPort,
                AndroidTracerPid,
                CameraVirtualName,
            ],
        }
    }

    /// Jailbreak, injected-dylib, debugger and simulator probes of an iOS app.
    pub fn ios() -> ProbeSet {
        use Probe::*;
        ProbeSet {
            probes: alloc::vec![
                IosJailbreakPaths,
                IosSandboxWrite,
                IosInjectedDylib,
                IosTraced,
                IosSimulator,
                CameraVirtualName,
            ],
        }
    }

    /// Virtual cameras, VM hints, debugger and `LD_PRELOAD` on a Linux desktop or server.
    pub fn linux() -> ProbeSet {
        use Probe::*;
        ProbeSet {
            probes: alloc::vec![
                LinuxV4l2Name,
                LinuxV4l2Driver,
                LinuxVmDmi,
                LinuxVmCpuinfo,
                LinuxTracerPid,
                EnvPreload,
                CameraVirtualName,
            ],
        }
    }

    /// Other desktops (macOS, Windows): the environment and the capture device's name.
    pub fn desktop() -> ProbeSet {
        ProbeSet {
            probes: alloc::vec![Probe::EnvPreload, Probe::CameraVirtualName],
        }
    }

    /// The set of the platform this is compiled for.
    pub fn for_this_platform() -> ProbeSet {
        if cfg!(target_os = "android") {
            ProbeSet::android()
        } else if cfg!(target_os = "ios") {
            ProbeSet::ios()
        } else if cfg!(target_os = "linux") {
            ProbeSet::linux()
        } else {
            ProbeSet::desktop()
        }
    }
}

/// A probe that could not read its inputs (no finding, and its category is not covered by
/// it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotMeasured {
    pub probe: String,
    pub reason: String,
}

/// What a probe set found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// Findings only, in probe order.
    pub signals: Vec<SecuritySignal>,
    /// Categories at least one probe measured (sorted).
    pub categories_covered: Vec<SecurityCategory>,
    /// Probes that could not read their inputs, and why.
    #[serde(default)]
    pub not_measured: Vec<NotMeasured>,
}

impl ProbeReport {
    /// Both reports' signals and coverage.
    pub fn merged(&self, other: &ProbeReport) -> ProbeReport {
        let mut out = self.clone();
        out.signals.extend(other.signals.iter().cloned());
        for &c in &other.categories_covered {
            cover(&mut out.categories_covered, c);
        }
        out.not_measured.extend(other.not_measured.iter().cloned());
        out
    }
}

/// One probe's outcome.
enum Outcome {
    /// Found: what was seen.
    Found(String),
    Clean,
    NotMeasured(String),
}

struct Inputs<'a> {
    fs: &'a dyn FileSource,
    props: &'a dyn PropertySource,
    env: &'a dyn EnvSource,
    facts: &'a ProcessFacts,
}

/// This platform's probes over this process and its file system (`/`, the build properties,
/// the environment) and the facts only the host can read: what an app runs at the start of a
/// session. Never panics.
pub fn probe_this_device(facts: &ProcessFacts) -> ProbeReport {
    let fs = super::source::RootedFs::new("/");
    let props = super::source::BuildPropFiles::load(&fs);
    probe_device(
        &ProbeSet::for_this_platform(),
        &fs,
        &props,
        &super::source::ProcessEnv,
        facts,
    )
}

/// Runs every probe of `set`. Never panics; unreadable inputs are reported in
/// `not_measured`.
pub fn probe_device(
    set: &ProbeSet,
    fs: &dyn FileSource,
    props: &dyn PropertySource,
    env: &dyn EnvSource,
    facts: &ProcessFacts,
) -> ProbeReport {
    let inputs = Inputs {
        fs,
        props,
        env,
        facts,
    };
    let mut report = ProbeReport::default();
    for &p in &set.probes {
        match run(p, &inputs) {
            Outcome::Found(evidence) => {
                cover(&mut report.categories_covered, p.category());
                report.signals.push(SecuritySignal::new(
                    p.id(),
                    p.version(),
                    p.category(),
                    p.severity(),
                    evidence,
                ));
            }
            Outcome::Clean => cover(&mut report.categories_covered, p.category()),
            Outcome::NotMeasured(reason) => report.not_measured.push(NotMeasured {
                probe: p.id().into(),
                reason,
            }),
        }
    }
    report
}

// What the probes look for. Sources: RootBeer (Const.java), IOSSecuritySuite
// (JailbreakChecker.swift), Android emulator (goldfish / ranchu), v4l2loopback.
const SU_PATHS: &[&str] = &[
    "/system/bin/su",
    "/system/xbin/su",
    "/sbin/su",
    "/su/bin/su",
    "/system/sd/xbin/su",
    "/system/bin/failsafe/su",
    "/system/bin/.ext/su",
    "/system/usr/we-need-root/su",
    "/data/local/su",
    "/data/local/bin/su",
    "/data/local/xbin/su",
    "/vendor/bin/su",
    "/cache/su",
    "/data/su",
    "/dev/su",
    "/system/app/Superuser.apk",
];
const MAGISK_PATHS: &[&str] = &[
    "/sbin/.magisk",
    "/sbin/magisk",
    "/system/bin/magisk",
    "/debug_ramdisk/magisk",
    "/data/adb/magisk",
    "/data/adb/magisk.db",
    "/data/adb/modules",
    "/data/adb/ksu",
    "/data/adb/ap",
    "/cache/.disable_magisk",
    "/dev/.magisk.unblock",
];
const EMULATOR_HARDWARE: &[&str] = &["goldfish", "ranchu", "vbox86", "cutf_cvm"];
const QEMU_DEVICES: &[&str] = &[
    "/dev/qemu_pipe",
    "/dev/goldfish_pipe",
    "/dev/socket/qemud",
    "/dev/socket/genyd",
    "/sys/qemu_trace",
    "/system/bin/qemu-props",
    "/system/lib/libc_malloc_debug_qemu.so",
];
const FRIDA_MAPS: &[&str] = &["frida-agent", "frida-gadget", "libfrida", "frida-helper"];
const XPOSED_MAPS: &[&str] = &[
    "xposedbridge",
    "libxposed",
    "edxposed",
    "lsposed",
    "liblspd",
    "/lspd/",
    "libriru",
    "libsandhook",
];
/// Frida's default listening port, 27042 = 0x69A2.
const FRIDA_PORT: u16 = 27042;
const IOS_JAILBREAK_PATHS: &[&str] = &[
    "/Applications/Cydia.app",
    "/Applications/Sileo.app",
    "/Applications/Zebra.app",
    "/Library/MobileSubstrate/MobileSubstrate.dylib",
    "/usr/lib/TweakInject",
    "/bin/bash",
    "/usr/sbin/sshd",
    "/usr/bin/ssh",
    "/usr/libexec/cydia",
    "/etc/apt",
    "/private/var/lib/apt",
    "/private/var/lib/cydia",
    "/var/jb",
    "/private/var/jb",
];
const IOS_INJECTED: &[&str] = &[
    "mobilesubstrate",
    "substrateloader",
    "substrateinserter",
    "substratebootstrap",
    "tweakinject",
    "libhooker",
    "libsubstitute",
    "libellekit",
    "fridagadget",
    "frida",
    "cynject",
    "libcycript",
    "sslkillswitch",
];
/// Virtual camera names (lower case, matched as substrings).
pub const VIRTUAL_CAMERA_NAMES: &[&str] = &[
    "dummy video device",
    "v4l2loopback",
    "obs virtual camera",
    "obs-camera",
    "manycam",
    "snap camera",
    "xsplit",
    "droidcam",
    "iriun",
    "akvcam",
    "e2esoft",
    "camtwist",
    "virtual camera",
    "fake webcam",
];
const VIRTUAL_DRIVERS: &[&str] = &["v4l2loopback", "akvcam", "v4l2_loopback"];
const VM_DMI: &[&str] = &[
    "qemu",
    "kvm",
    "virtualbox",
    "vmware",
    "xen",
    "hyper-v",
    "virtual machine",
    "bochs",
    "parallels",
];

fn existing(fs: &dyn FileSource, paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .filter(|p| fs.exists(p))
        .map(|p| p.to_string())
        .collect()
}

fn found_paths(found: Vec<String>) -> Outcome {
    if found.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Found(found.join(", "))
    }
}

/// The first of `needles` in `haystack` (lower case).
fn first_match<'n>(haystack: &str, needles: &[&'n str]) -> Option<&'n str> {
    let h = haystack.to_ascii_lowercase();
    needles.iter().copied().find(|n| h.contains(n))
}

fn not_measured(e: SourceError) -> Outcome {
    Outcome::NotMeasured(e.to_string())
}

/// A property probe: not measured without properties, found when `test` says so.
fn property(inputs: &Inputs, names: &[&str], test: impl Fn(&str) -> bool) -> Outcome {
    if !inputs.props.available() {
        return Outcome::NotMeasured("no system properties available".into());
    }
    let hits: Vec<String> = names
        .iter()
        .filter_map(|n| {
            let v = inputs.props.get(n)?;
            test(v.trim()).then(|| alloc::format!("{n}={}", v.trim()))
        })
        .collect();
    if hits.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Found(hits.join(", "))
    }
}

/// `/proc/self/maps` lines naming one of `needles`: the matched library file names.
fn maps(inputs: &Inputs, needles: &[&str]) -> Outcome {
    let text = match inputs.fs.read_to_string("/proc/self/maps", MAPS_CAP) {
        Ok(t) => t,
        Err(e) => return not_measured(e),
    };
    let mut hits: Vec<String> = Vec::new();
    for line in text.lines() {
        if first_match(line, needles).is_some() {
            let file = line
                .split_whitespace()
                .nth(5)
                .and_then(|p| p.rsplit('/').next())
                .unwrap_or("")
                .to_string();
            if !hits.contains(&file) {
                hits.push(file);
            }
            if hits.len() >= 8 {
                break;
            }
        }
    }
    if hits.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Found(alloc::format!("mapped: {}", hits.join(", ")))
    }
}

/// `TracerPid` of `/proc/self/status`.
fn tracer_pid(inputs: &Inputs) -> Outcome {
    let text = match inputs.fs.read_to_string("/proc/self/status", READ_CAP) {
        Ok(t) => t,
        Err(e) => return not_measured(e),
    };
    let Some(value) = text
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .map(str::trim)
    else {
        return Outcome::NotMeasured("/proc/self/status has no TracerPid line".into());
    };
    match value.parse::<u64>() {
        Ok(0) => Outcome::Clean,
        Ok(pid) => Outcome::Found(alloc::format!("TracerPid {pid}")),
        Err(_) => Outcome::NotMeasured(alloc::format!("TracerPid `{value}` is not a number")),
    }
}

/// A LISTEN socket on `port` in `/proc/net/tcp` or `tcp6`.
fn listening(inputs: &Inputs, port: u16) -> Outcome {
    let mut read_any = false;
    let mut last_err = None;
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = match inputs.fs.read_to_string(file, READ_CAP) {
            Ok(t) => t,
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        read_any = true;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let p = local
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            // State 0A = TCP_LISTEN.
            if p == Some(port) && state.eq_ignore_ascii_case("0A") {
                return Outcome::Found(alloc::format!("{file}: LISTEN on {local}"));
            }
        }
    }
    match (read_any, last_err) {
        (true, _) => Outcome::Clean,
        (false, Some(e)) => not_measured(e),
        (false, None) => Outcome::NotMeasured("no socket table".into()),
    }
}

fn fact(v: Option<bool>, what: &str) -> Outcome {
    match v {
        None => Outcome::NotMeasured(alloc::format!("the host did not report {what}")),
        Some(false) => Outcome::Clean,
        Some(true) => Outcome::Found(what.into()),
    }
}

fn v4l2_devices(inputs: &Inputs) -> Result<Vec<String>, Outcome> {
    match inputs.fs.list_dir("/sys/class/video4linux") {
        Ok(v) => Ok(v),
        // No V4L2 class at all: no video device, nothing virtual.
        Err(SourceError::NotFound { .. }) if inputs.fs.exists("/sys/class") => Ok(Vec::new()),
        Err(e) => Err(not_measured(e)),
    }
}

fn run(p: Probe, inputs: &Inputs) -> Outcome {
    let fs = inputs.fs;
    match p {
        Probe::AndroidSuBinary => {
            let mut found = existing(fs, SU_PATHS);
            if let Some(path) = inputs.env.var("PATH") {
                for dir in path.split(':').filter(|d| d.starts_with('/')).take(32) {
                    let su = alloc::format!("{}/su", dir.trim_end_matches('/'));
                    if !found.contains(&su) && fs.exists(&su) {
                        found.push(su);
                    }
                }
            }
            found_paths(found)
        }
        Probe::AndroidMagisk => found_paths(existing(fs, MAGISK_PATHS)),
        Probe::AndroidTestKeys => property(inputs, &["ro.build.tags"], |v| v.contains("test-keys")),
        Probe::AndroidDebuggable => property(inputs, &["ro.debuggable"], |v| v == "1"),
        Probe::AndroidInsecure => property(inputs, &["ro.secure"], |v| v == "0"),
        Probe::AndroidSelinuxPermissive => match fs.read_to_string("/sys/fs/selinux/enforce", 16) {
            Ok(t) => match t.trim() {
                "0" => Outcome::Found("/sys/fs/selinux/enforce = 0 (permissive)".into()),
                "1" => Outcome::Clean,
                other => Outcome::NotMeasured(alloc::format!(
                    "/sys/fs/selinux/enforce reads `{}`, expected 0 or 1",
                    other.chars().take(16).collect::<String>()
                )),
            },
            Err(e) => not_measured(e),
        },
        Probe::AndroidQemuProperty => {
            property(inputs, &["ro.kernel.qemu", "ro.boot.qemu"], |v| v == "1")
        }
        Probe::AndroidEmulatorHardware => property(
            inputs,
            &[
                "ro.hardware",
                "ro.boot.hardware",
                "ro.product.board",
                "ro.board.platform",
            ],
            |v| first_match(v, EMULATOR_HARDWARE).is_some(),
        ),
        Probe::AndroidGenericBuild => property(
            inputs,
            &[
                "ro.build.fingerprint",
                "ro.product.model",
                "ro.product.name",
            ],
            |v| {
                let l = v.to_ascii_lowercase();
                l.starts_with("generic")
                    || l.contains("sdk_gphone")
                    || l.contains("/sdk_")
                    || l.contains("android sdk built for")
                    || l.contains("emulator")
            },
        ),
        Probe::AndroidQemuDevices => found_paths(existing(fs, QEMU_DEVICES)),
        Probe::AndroidFridaMaps => maps(inputs, FRIDA_MAPS),
        Probe::AndroidXposedMaps => maps(inputs, XPOSED_MAPS),
        Probe::AndroidFridaPort => listening(inputs, FRIDA_PORT),
        Probe::AndroidTracerPid | Probe::LinuxTracerPid => tracer_pid(inputs),
        Probe::IosJailbreakPaths => found_paths(existing(fs, IOS_JAILBREAK_PATHS)),
        Probe::IosSandboxWrite => fact(
            inputs.facts.sandbox_write_succeeded,
            "a write outside the sandbox succeeded",
        ),
        Probe::IosInjectedDylib => match &inputs.facts.loaded_images {
            None => Outcome::NotMeasured("the host did not report the loaded images".into()),
            Some(images) => {
                let hits: Vec<&str> = images
                    .iter()
                    .filter(|i| first_match(i, IOS_INJECTED).is_some())
                    .map(|i| i.rsplit('/').next().unwrap_or(i))
                    .take(8)
                    .collect();
                if hits.is_empty() {
                    Outcome::Clean
                } else {
                    Outcome::Found(alloc::format!("loaded: {}", hits.join(", ")))
                }
            }
        },
        Probe::IosTraced => fact(inputs.facts.traced, "P_TRACED set"),
        Probe::IosSimulator => fact(inputs.facts.simulator, "running in the simulator"),
        Probe::LinuxV4l2Name => {
            let devices = match v4l2_devices(inputs) {
                Ok(d) => d,
                Err(o) => return o,
            };
            let hits: Vec<String> = devices
                .iter()
                .filter_map(|d| {
                    let name = fs
                        .read_to_string(&alloc::format!("/sys/class/video4linux/{d}/name"), 256)
                        .ok()?;
                    let name = name.trim();
                    first_match(name, VIRTUAL_CAMERA_NAMES)
                        .map(|_| alloc::format!("{d}: \"{name}\""))
                })
                .collect();
            found_paths(hits)
        }
        Probe::LinuxV4l2Driver => {
            let devices = match v4l2_devices(inputs) {
                Ok(d) => d,
                Err(o) => return o,
            };
            let mut hits: Vec<String> = devices
                .iter()
                .filter_map(|d| {
                    let driver =
                        fs.link_name(&alloc::format!("/sys/class/video4linux/{d}/device/driver"))?;
                    VIRTUAL_DRIVERS
                        .contains(&driver.as_str())
                        .then(|| alloc::format!("{d}: driver {driver}"))
                })
                .collect();
            for m in ["v4l2loopback", "akvcam"] {
                let module = alloc::format!("/sys/module/{m}");
                if fs.exists(&module) {
                    hits.push(alloc::format!("module {m} loaded"));
                }
            }
            found_paths(hits)
        }
        Probe::LinuxVmDmi => {
            let mut read_any = None;
            let mut hits = Vec::new();
            for f in [
                "/sys/class/dmi/id/product_name",
                "/sys/class/dmi/id/sys_vendor",
            ] {
                match fs.read_to_string(f, 256) {
                    Ok(v) => {
                        read_any = Some(Ok(()));
                        let v = v.trim();
                        if first_match(v, VM_DMI).is_some() {
                            hits.push(alloc::format!("{f} = \"{v}\""));
                        }
                    }
                    Err(e) => {
                        if read_any.is_none() {
                            read_any = Some(Err(e));
                        }
                    }
                }
            }
            match read_any {
                Some(Err(e)) => not_measured(e),
                None => Outcome::NotMeasured("no DMI file".into()),
                Some(Ok(())) => found_paths(hits),
            }
        }
        Probe::LinuxVmCpuinfo => match fs.read_to_string("/proc/cpuinfo", READ_CAP) {
            Ok(t) => {
                let flagged = t
                    .lines()
                    .filter(|l| l.starts_with("flags"))
                    .any(|l| l.split_whitespace().any(|w| w == "hypervisor"));
                if flagged {
                    Outcome::Found("/proc/cpuinfo flags: hypervisor".into())
                } else {
                    Outcome::Clean
                }
            }
            Err(e) => not_measured(e),
        },
        Probe::EnvPreload => {
            let hits: Vec<String> = ["LD_PRELOAD", "DYLD_INSERT_LIBRARIES"]
                .into_iter()
                .filter_map(|k| {
                    let v = inputs.env.var(k)?;
                    // File names only: a full path may hold a user name.
                    let libs: Vec<&str> = v
                        .split([':', ' '])
                        .filter(|s| !s.is_empty())
                        .map(|s| s.rsplit('/').next().unwrap_or(s))
                        .take(8)
                        .collect();
                    (!libs.is_empty()).then(|| alloc::format!("{k}={}", libs.join(":")))
                })
                .collect();
            found_paths(hits)
        }
        Probe::CameraVirtualName => match &inputs.facts.camera_name {
            None => Outcome::NotMeasured("the host did not report the camera's name".into()),
            Some(name) => match first_match(name, VIRTUAL_CAMERA_NAMES) {
                Some(_) => Outcome::Found(alloc::format!(
                    "capture device \"{}\"",
                    name.chars().take(64).collect::<String>()
                )),
                None => Outcome::Clean,
            },
        },
    }
}

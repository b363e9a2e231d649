//! Device probes on simulated trees (temporary folders under `std::env::temp_dir()`, removed
//! afterwards) and the stream heuristics on constructed streams.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::probes::ProcessFacts;
use super::stream::NoiseGrid;
use super::*;
use crate::evidence::SecurityEvidence;
use crate::frame::{Frame, PixelFormat, RgbImage};

/// A fake device tree, removed on drop.
struct Tree {
    root: PathBuf,
}

impl Tree {
    fn new(name: &str) -> Tree {
        static N: AtomicUsize = AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "liveproof-security-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&root).unwrap();
        Tree { root }
    }
    fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }
    fn file(&self, p: &str, content: impl AsRef<[u8]>) -> &Tree {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }
    fn dir(&self, p: &str) -> &Tree {
        std::fs::create_dir_all(self.path(p)).unwrap();
        self
    }
    fn link(&self, p: &str, target: &str) -> &Tree {
        let path = self.path(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, path).unwrap();
        self
    }
    fn fs(&self) -> RootedFs {
        RootedFs::new(&self.root)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

const CLEAN_MAPS: &str = "\
7f0000000000-7f0000021000 r-xp 00000000 fd:00 123 /system/lib64/libc.so
7f0000100000-7f0000200000 r--p 00000000 fd:00 124 /apex/com.android.art/lib64/libart.so
7f0000300000-7f0000301000 r-xp 00000000 fd:00 125 /data/app/com.example/lib/arm64/libliveproof_ffi.so
";
const TCP_HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

fn clean_android(t: &Tree) {
    t.file("/proc/self/maps", CLEAN_MAPS)
        .file("/proc/self/status", "Name:\tapp\nState:\tS\nTracerPid:\t0\n")
        .file(
            "/proc/net/tcp",
            format!("{TCP_HEADER}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10123 0 1 1\n"),
        )
        .file("/sys/fs/selinux/enforce", "1")
        .file(
            "/system/build.prop",
            "# begin build properties\nro.build.tags=release-keys\nro.debuggable=0\nro.secure=1\n\
             ro.hardware=qcom\nro.product.model=Pixel 6\n\
             ro.build.fingerprint=google/oriole/oriole:14/AP1A.240305.019/11:user/release-keys\n",
        )
        .dir("/system/bin")
        .file("/system/bin/sh", "");
}

fn run(set: ProbeSet, t: &Tree, env: &MapEnv, facts: &ProcessFacts) -> ProbeReport {
    let fs = t.fs();
    let props = BuildPropFiles::load(&fs);
    probe_device(&set, &fs, &props, env, facts)
}

/// [`run`] with an empty environment and no facts from the host.
fn run_bare(set: ProbeSet, t: &Tree) -> ProbeReport {
    run(set, t, &MapEnv::default(), &ProcessFacts::default())
}

/// `(probe id, severity)` of each finding, in order.
fn found(r: &ProbeReport) -> Vec<(&str, f32)> {
    r.signals
        .iter()
        .map(|s| (s.probe.as_str(), s.severity))
        .collect()
}

fn evidence_of<'r>(r: &'r ProbeReport, probe: &str) -> &'r str {
    &r.signals
        .iter()
        .find(|s| s.probe == probe)
        .unwrap_or_else(|| panic!("{probe} not found in {:?}", r.signals))
        .evidence
}

/// Asserts the `(probe id, evidence)` of each listed finding.
fn assert_evidence(r: &ProbeReport, expected: &[(&str, &str)]) {
    for (probe, evidence) in expected {
        assert_eq!(evidence_of(r, probe), *evidence, "{probe}");
    }
}

/// The ids of the probes that could not read their inputs, in order.
fn unmeasured(r: &ProbeReport) -> Vec<&str> {
    r.not_measured.iter().map(|n| n.probe.as_str()).collect()
}

/// The summary of a report's findings and covered categories.
fn summary(r: &ProbeReport) -> SecurityEvidence {
    SecurityEvidence::from_probes(&r.signals, &r.categories_covered)
}

use SecurityCategory as C;

#[test]
fn clean_android_raises_nothing_and_covers_its_categories() {
    let t = Tree::new("android-clean");
    clean_android(&t);
    let r = run_bare(ProbeSet::android(), &t);
    assert_eq!(found(&r), [], "{:?}", r.signals);
    assert_eq!(
        r.categories_covered,
        [C::RootOrJailbreak, C::Emulator, C::Hooking, C::Debugger]
    );
    // Only the capture device's name (not reported) is unmeasured.
    assert_eq!(unmeasured(&r), ["camera.virtual_name"]);
    let e = summary(&r);
    assert_eq!(e.device_risk, Some(0.0));
    assert_eq!((e.virtual_camera, e.injection), (None, None));
}

#[test]
fn rooted_android_su_magisk_test_keys() {
    let t = Tree::new("android-rooted");
    clean_android(&t);
    t.file("/system/xbin/su", "")
        .file("/opt/tools/su", "")
        .dir("/data/adb/magisk")
        .dir("/data/adb/modules")
        .file(
            "/system/build.prop",
            "ro.build.tags=test-keys\nro.debuggable=1\nro.secure=0\nro.hardware=qcom\n",
        )
        .file("/sys/fs/selinux/enforce", "0\n");
    let env = MapEnv::from_pairs([("PATH", "/sbin:/system/bin:/opt/tools")]);
    let r = run(ProbeSet::android(), &t, &env, &ProcessFacts::default());
    assert_eq!(
        found(&r),
        [
            ("android.root.su_binary", 0.95),
            ("android.root.magisk", 0.95),
            ("android.root.test_keys", 0.6),
            ("android.root.debuggable", 0.5),
            ("android.root.ro_secure_0", 0.7),
            ("android.root.selinux_permissive", 0.7),
        ]
    );
    assert_evidence(
        &r,
        &[
            ("android.root.su_binary", "/system/xbin/su, /opt/tools/su"),
            ("android.root.magisk", "/data/adb/magisk, /data/adb/modules"),
            ("android.root.test_keys", "ro.build.tags=test-keys"),
        ],
    );
    assert!(r
        .signals
        .iter()
        .all(|s| s.version == 1 && s.category == C::RootOrJailbreak));
    let e = summary(&r);
    assert_eq!(e.device_risk, Some(0.95));
}

#[test]
fn android_emulator_from_properties_and_devices() {
    let t = Tree::new("android-emulator");
    clean_android(&t);
    std::fs::remove_file(t.path("/system/build.prop")).unwrap();
    t.file("/dev/qemu_pipe", "");
    // The host filled the properties from `getprop`.
    let props = MapProperties::from_pairs([
        ("ro.kernel.qemu", "1"),
        ("ro.hardware", "ranchu"),
        (
            "ro.build.fingerprint",
            "google/sdk_gphone64_x86_64/emu64xa:14/UE1A.230829.036/1:userdebug/dev-keys",
        ),
        ("ro.build.tags", "dev-keys"),
        ("ro.debuggable", "0"),
        ("ro.secure", "1"),
    ]);
    let fs = t.fs();
    let r = probe_device(
        &ProbeSet::android(),
        &fs,
        &props,
        &MapEnv::default(),
        &ProcessFacts::default(),
    );
    assert_eq!(
        found(&r),
        [
            ("android.emulator.qemu_property", 0.9),
            ("android.emulator.hardware", 0.9),
            ("android.emulator.generic_build", 0.7),
            ("android.emulator.qemu_devices", 0.9),
        ]
    );
    assert_evidence(
        &r,
        &[
            ("android.emulator.hardware", "ro.hardware=ranchu"),
            ("android.emulator.qemu_devices", "/dev/qemu_pipe"),
        ],
    );
}

#[test]
fn hooked_process_frida_and_lsposed() {
    let t = Tree::new("android-hooked");
    clean_android(&t);
    t.file(
        "/proc/self/maps",
        format!(
            "{CLEAN_MAPS}7f1000000000-7f1000400000 r-xp 00000000 fd:00 900 \
             /data/local/tmp/re.frida.server/frida-agent-64.so\n\
             7f2000000000-7f2000010000 r--p 00000000 fd:00 901 /data/adb/lspd/bin/liblspd.so\n"
        ),
    )
    .file(
        "/proc/net/tcp",
        format!(
            "{TCP_HEADER}   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 10123 0 1 1\n   \
             1: 00000000:69A2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0 0 2 1\n"
        ),
    );
    let r = run_bare(ProbeSet::android(), &t);
    assert_eq!(
        found(&r),
        [
            ("android.hook.frida_maps", 0.95),
            ("android.hook.xposed_maps", 0.9),
            ("android.hook.frida_port", 0.8),
        ]
    );
    assert_evidence(
        &r,
        &[
            ("android.hook.frida_maps", "mapped: frida-agent-64.so"),
            ("android.hook.xposed_maps", "mapped: liblspd.so"),
            (
                "android.hook.frida_port",
                "/proc/net/tcp: LISTEN on 00000000:69A2",
            ),
        ],
    );
    // A connection (not LISTEN) to 27042 is not a listener.
    t.file(
        "/proc/net/tcp",
        format!("{TCP_HEADER}   0: 0100007F:8000 0100007F:69A2 01 00000000:00000000 00:00000000 00000000 10123 0 1 1\n"),
    );
    let r = run_bare(ProbeSet::android(), &t);
    assert!(!found(&r)
        .iter()
        .any(|(p, _)| *p == "android.hook.frida_port"));
}

#[test]
fn traced_process() {
    let t = Tree::new("android-traced");
    clean_android(&t);
    t.file(
        "/proc/self/status",
        "Name:\tapp\nTracerPid:\t4242\nUid:\t10123\n",
    );
    let r = run_bare(ProbeSet::android(), &t);
    assert_eq!(found(&r), [("android.debug.tracer_pid", 0.7)]);
    assert_eq!(
        evidence_of(&r, "android.debug.tracer_pid"),
        "TracerPid 4242"
    );
    let r = run_bare(ProbeSet::linux(), &t);
    assert!(found(&r).contains(&("linux.debug.tracer_pid", 0.6)));
}

fn clean_linux(t: &Tree) {
    t.file(
        "/sys/class/video4linux/video0/name",
        "Integrated Camera: Integrated C\n",
    )
    .dir("/sys/bus/usb/drivers/uvcvideo")
    .link(
        "/sys/class/video4linux/video0/device/driver",
        "../../../../bus/usb/drivers/uvcvideo",
    )
    .file("/sys/class/dmi/id/product_name", "20XW0055GE\n")
    .file("/sys/class/dmi/id/sys_vendor", "LENOVO\n")
    .file(
        "/proc/cpuinfo",
        "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr pae mce sse sse2 avx2\n",
    )
    .file("/proc/self/status", "Name:\tapp\nTracerPid:\t0\n");
}

#[test]
fn clean_linux_raises_nothing() {
    let t = Tree::new("linux-clean");
    clean_linux(&t);
    let facts = ProcessFacts {
        camera_name: Some("Integrated Camera: Integrated C".into()),
        ..ProcessFacts::default()
    };
    let r = run(
        ProbeSet::linux(),
        &t,
        &MapEnv::from_pairs([("HOME", "/home/a")]),
        &facts,
    );
    assert_eq!(found(&r), [], "{:?}", r.signals);
    assert_eq!(
        r.categories_covered,
        [C::Debugger, C::VirtualCamera, C::Vm, C::Environment]
    );
    assert!(r.not_measured.is_empty(), "{:?}", r.not_measured);
    let e = summary(&r);
    assert_eq!(
        (e.virtual_camera, e.device_risk, e.injection),
        (Some(0.0), Some(0.0), None)
    );
}

#[test]
fn v4l2loopback_and_obs_virtual_cameras() {
    let t = Tree::new("linux-vcam");
    clean_linux(&t);
    t.file(
        "/sys/class/video4linux/video2/name",
        "Dummy video device (0x0000)\n",
    )
    .dir("/sys/bus/platform/drivers/v4l2loopback")
    .link(
        "/sys/class/video4linux/video2/device/driver",
        "../../../bus/platform/drivers/v4l2loopback",
    )
    .file("/sys/class/video4linux/video3/name", "OBS Virtual Camera\n")
    .dir("/sys/module/v4l2loopback")
    .file(
        "/sys/class/dmi/id/product_name",
        "Standard PC (Q35 + ICH9, 2009)\n",
    )
    .file("/sys/class/dmi/id/sys_vendor", "QEMU\n")
    .file(
        "/proc/cpuinfo",
        "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor avx2\n",
    );
    let facts = ProcessFacts {
        camera_name: Some("OBS Virtual Camera".into()),
        ..ProcessFacts::default()
    };
    let env = MapEnv::from_pairs([("LD_PRELOAD", "/home/alice/hooks/libcamhook.so")]);
    let r = run(ProbeSet::linux(), &t, &env, &facts);
    assert_eq!(
        found(&r),
        [
            ("linux.vcam.v4l2_name", 0.6),
            ("linux.vcam.v4l2_driver", 0.6),
            ("linux.vm.dmi", 0.3),
            ("linux.vm.cpuinfo_hypervisor", 0.2),
            ("env.preload", 0.5),
            ("camera.virtual_name", 0.95),
        ]
    );
    assert_evidence(
        &r,
        &[
            (
                "linux.vcam.v4l2_name",
                "video2: \"Dummy video device (0x0000)\", video3: \"OBS Virtual Camera\"",
            ),
            (
                "linux.vcam.v4l2_driver",
                "video2: driver v4l2loopback, module v4l2loopback loaded",
            ),
            ("linux.vm.dmi", "/sys/class/dmi/id/sys_vendor = \"QEMU\""),
            // The preloaded library's file name only: its path holds a user name.
            ("env.preload", "LD_PRELOAD=libcamhook.so"),
        ],
    );
    let e = summary(&r);
    assert_eq!(e.virtual_camera, Some(0.95));
    // VM hints and LD_PRELOAD stay below the default veto (0.9).
    assert_eq!(e.device_risk, Some(0.5));
}

#[test]
fn ios_jailbreak_tree_and_injected_dylibs() {
    let t = Tree::new("ios-jailbroken");
    t.dir("/Applications/Cydia.app")
        .file("/bin/bash", "")
        .dir("/etc/apt")
        .dir("/var/jb");
    let facts = ProcessFacts {
        loaded_images: Some(vec![
            "/usr/lib/libSystem.B.dylib".into(),
            "/Library/MobileSubstrate/MobileSubstrate.dylib".into(),
            "/usr/lib/FridaGadget.dylib".into(),
            "/var/containers/Bundle/Application/X/App.app/Frameworks/LiveProof.framework/LiveProof"
                .into(),
        ]),
        traced: Some(true),
        simulator: Some(false),
        sandbox_write_succeeded: Some(true),
        camera_name: Some("Front Camera".into()),
    };
    let r = run(ProbeSet::ios(), &t, &MapEnv::default(), &facts);
    assert_eq!(
        found(&r),
        [
            ("ios.jailbreak.paths", 0.9),
            ("ios.jailbreak.sandbox_write", 0.95),
            ("ios.hook.injected_dylib", 0.95),
            ("ios.debug.p_traced", 0.7),
        ]
    );
    assert_evidence(
        &r,
        &[
            (
                "ios.jailbreak.paths",
                "/Applications/Cydia.app, /bin/bash, /etc/apt, /var/jb",
            ),
            (
                "ios.hook.injected_dylib",
                "loaded: MobileSubstrate.dylib, FridaGadget.dylib",
            ),
        ],
    );
}

#[test]
fn clean_ios_and_the_simulator() {
    let t = Tree::new("ios-clean");
    t.dir("/usr/lib").dir("/Applications");
    let mut facts = ProcessFacts {
        loaded_images: Some(vec![
            "/usr/lib/libSystem.B.dylib".into(),
            "/System/Library/Frameworks/AVFoundation.framework/AVFoundation".into(),
        ]),
        traced: Some(false),
        simulator: Some(false),
        sandbox_write_succeeded: Some(false),
        camera_name: Some("Front Camera".into()),
    };
    let r = run(ProbeSet::ios(), &t, &MapEnv::default(), &facts);
    assert_eq!(found(&r), []);
    assert_eq!(
        r.categories_covered,
        [
            C::RootOrJailbreak,
            C::Emulator,
            C::Hooking,
            C::Debugger,
            C::VirtualCamera
        ]
    );
    facts.simulator = Some(true);
    let r = run(ProbeSet::ios(), &t, &MapEnv::default(), &facts);
    assert_eq!(found(&r), [("ios.emulator.simulator", 0.9)]);
    // Nothing reported by the host: the fact probes are not measured, not clean.
    let r = run_bare(ProbeSet::ios(), &t);
    assert_eq!(r.categories_covered, [C::RootOrJailbreak]);
    assert_eq!(r.not_measured.len(), 5);
}

#[test]
fn unreadable_huge_and_binary_inputs_never_panic() {
    let t = Tree::new("android-hostile");
    // 9 MiB of maps with frida past the 8 MiB cap; non-UTF-8 status; a 2 MiB build.prop.
    let mut maps = vec![b'x'; 9 << 20];
    maps.extend_from_slice(b"\n7f00-7f01 r-xp 0 0:0 1 /tmp/frida-agent.so\n");
    t.file("/proc/self/maps", maps)
        .file(
            "/proc/self/status",
            b"Name:\t\xff\xfe\nTracerPid:\t7\n".as_slice(),
        )
        .file("/system/build.prop", {
            let mut v = b"ro.build.tags=test-keys\n".to_vec();
            v.extend(std::iter::repeat_n(0xffu8, 2 << 20));
            v
        })
        .file("/sys/fs/selinux/enforce", b"\xff\x00garbage".as_slice())
        .file("/proc/net/tcp", "not a socket table\n\n  0: zz:zz 0A\n");
    let r = run_bare(ProbeSet::android(), &t);
    assert_eq!(
        found(&r),
        [
            ("android.root.test_keys", 0.6),
            ("android.debug.tracer_pid", 0.7)
        ]
    );
    assert_eq!(
        unmeasured(&r),
        ["android.root.selinux_permissive", "camera.virtual_name"]
    );
    // A path outside the root is refused, never read.
    let fs = t.fs();
    assert!(matches!(
        fs.read_to_string("/proc/../../etc/passwd", 10),
        Err(SourceError::BadPath { .. })
    ));
    assert!(!fs.exists("relative/path"));
    // An empty root: file probes clean, everything else not measured.
    let empty = Tree::new("empty");
    let r = run_bare(ProbeSet::android(), &empty);
    assert_eq!(found(&r), []);
    assert_eq!(r.categories_covered, [C::RootOrJailbreak, C::Emulator]);
}

#[test]
fn evidence_summary_keeps_not_measured_apart_from_clean() {
    let none = SecurityEvidence::from_signals(&[]);
    assert_eq!(
        (none.virtual_camera, none.injection, none.device_risk),
        (None, None, None)
    );
    let sig = |c, s| SecuritySignal::new("x", 1, c, s, String::new());
    let e = SecurityEvidence::from_probes(
        &[
            sig(C::Vm, 0.3),
            sig(C::Hooking, 0.95),
            sig(C::Injection, 0.8),
        ],
        &[C::VirtualCamera],
    );
    assert_eq!(
        (e.virtual_camera, e.injection, e.device_risk),
        (Some(0.0), Some(0.8), Some(0.95))
    );
    assert_eq!(
        e.covered,
        [C::Hooking, C::VirtualCamera, C::Injection, C::Vm]
    );
    // Severities are clamped; NaN reads as 0.
    assert_eq!(sig(C::Vm, 7.0).severity, 1.0);
    assert_eq!(sig(C::Vm, f32::NAN).severity, 0.0);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["signals"][0]["category"], "vm");
    assert_eq!(json["covered"][0], "hooking");
    // Older records without signals still parse.
    let old: SecurityEvidence = serde_json::from_str(r#"{"injection":0.5}"#).unwrap();
    assert_eq!((old.injection, old.signals.len()), (Some(0.5), 0));
}

// --- Stream heuristics on constructed streams ---

/// A textured 320×240 image: a static background (gradients and a checkerboard) and a
/// "face" square that moves one pixel per `seed`, with optional Gaussian-like noise of
/// `sigma` DN per channel (sum of four uniforms from a small xorshift).
fn image(seed: u64, sigma: f32) -> RgbImage {
    let (w, h) = (320u32, 240u32);
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32
    };
    let mut img = RgbImage::new(w, h);
    let fx = 100 + seed as u32;
    for y in 0..h {
        for x in 0..w {
            let face = (fx..fx + 100).contains(&x) && (60..180).contains(&y);
            let base = if face {
                150.0 + 0.3 * (x - fx) as f32
            } else {
                90.0 + 0.2 * x as f32
                    + 0.1 * y as f32
                    + if (x / 40 + y / 40).is_multiple_of(2) {
                        20.0
                    } else {
                        0.0
                    }
            };
            for c in 0..3 {
                // Sum of 4 uniforms: variance 4/12, scaled to sigma.
                let n = (rnd() + rnd() + rnd() + rnd() - 2.0) * sigma * 1.732;
                let v = (base + 10.0 * c as f32 + n).round().clamp(0.0, 255.0) as u8;
                img.data[((y * w + x) * 3 + c) as usize] = v;
            }
        }
    }
    img
}

fn feed(m: &mut StreamMonitor, img: &RgbImage, ts: u64) {
    let frame = Frame::contiguous(img.width, img.height, PixelFormat::Rgb888, &img.data)
        .unwrap()
        .with_timestamp_ns(ts);
    m.observe(&frame, &frame.content_sha256());
}

#[test]
fn temporal_noise_measures_added_noise() {
    let temporal = |sigma: f32| {
        let mut g = NoiseGrid::default();
        let first = g.sample(&image(1, sigma)).unwrap();
        assert_eq!(
            first.temporal_dn, None,
            "nothing to compare the first frame with"
        );
        g.sample(&image(2, sigma)).unwrap()
    };
    let (clean, noisy) = (temporal(0.0), temporal(2.0));
    println!("temporal noise: clean {clean:?}, σ 2 DN per channel {noisy:?}");
    // Noise-free: the still background repeats exactly.
    assert_eq!(clean.temporal_dn, Some(0.0));
    // σ 2 DN per channel → luma σ 1.34 DN → difference σ 1.89 DN → mean |·| 1.51 DN; the
    // 25th-percentile block sits ≈ 0.1 DN lower: 1.42 ± 0.15.
    let t = noisy.temporal_dn.unwrap();
    assert!((t - 1.42).abs() < 0.15, "{t}");
    assert!(clean.texture_dn > 10.0);
    // A blank image has no texture; a tiny one gives no sample; a size change restarts.
    let mut g = NoiseGrid::default();
    assert_eq!(g.sample(&RgbImage::new(320, 240)).unwrap().texture_dn, 0.0);
    assert!(g.sample(&RgbImage::new(8, 8)).is_none());
    g.sample(&image(1, 2.0));
    assert_eq!(
        g.sample(&RgbImage::new(160, 120)).unwrap().temporal_dn,
        None
    );
}

#[test]
fn regular_noise_free_stream_is_flagged_and_a_jittered_noisy_one_is_not() {
    let mut injected = StreamMonitor::new(None);
    let mut camera = StreamMonitor::new(None);
    let mut t = 1_000_000_000u64;
    for k in 0..30u64 {
        feed(&mut injected, &image(k, 0.0), 5_000 + k * 33_333_333);
        // ±1.5 ms of jitter around the period.
        t += 33_333_333 + (k * 7919 % 3001) * 1_000 - 1_500_000;
        feed(&mut camera, &image(k, 2.0), t);
    }
    let a = injected.assess();
    let b = camera.assess();
    println!(
        "injected: {:#?}\ncamera: {:#?}",
        a.report().signals,
        b.report().signals
    );
    let sev = |h: &Option<stream::Heuristic>| h.as_ref().map(|h| h.severity);
    assert_eq!(sev(&a.timing), Some(0.8));
    assert_eq!(a.timing.as_ref().unwrap().statistic, 0.0);
    assert_eq!(sev(&a.noise), Some(0.6));
    assert_eq!(sev(&a.combined), Some(0.95));
    assert_eq!(sev(&a.duplicates), Some(0.0));
    assert_eq!(sev(&a.geometry), Some(0.0));
    assert_eq!(a.declared, None);
    let e = summary(&a.report());
    assert_eq!(e.injection, Some(0.95));
    for h in [&b.timing, &b.noise, &b.combined, &b.duplicates, &b.geometry] {
        assert_eq!(sev(h), Some(0.0), "{h:?}");
    }
    let jitter = b.timing.as_ref().unwrap().statistic;
    assert!(jitter > 300.0, "MAD {jitter} µs");
    let e = summary(&b.report());
    assert_eq!(e.injection, Some(0.0));
}

#[test]
fn short_streams_are_not_measured() {
    let mut m = StreamMonitor::new(Some(DeclaredCamera::default()));
    for k in 0..9u64 {
        feed(&mut m, &image(k, 0.0), k * 33_333_333);
    }
    let a = m.assess();
    assert_eq!(a.all().count(), 0, "{a:?}");
    assert!(a.report().categories_covered.is_empty());
    assert_eq!(
        SecurityEvidence::from_signals(&a.report().signals).injection,
        None
    );
    // 10 frames judge duplicates, noise and geometry, not timing (20 intervals).
    feed(&mut m, &image(9, 0.0), 9 * 33_333_333);
    let a = m.assess();
    assert!(a.timing.is_none() && a.combined.is_none());
    assert!(a.noise.is_some() && a.duplicates.is_some() && a.geometry.is_some());
}

#[test]
fn duplicates_geometry_and_declared_camera() {
    // Every frame twice (a 15 fps source delivered at 30 fps), jittered timing.
    let mut m = StreamMonitor::new(None);
    let mut t = 0u64;
    for k in 0..20u64 {
        t += 33_000_000 + (k % 5) * 400_000;
        feed(&mut m, &image(k / 2, 2.0), t);
    }
    let d = m.assess().duplicates.unwrap();
    assert_eq!(
        (d.severity, d.evidence.as_str()),
        (0.9, "10 of 19 consecutive textured frames identical")
    );
    // One repeated frame in 20: weak.
    let mut m = StreamMonitor::new(None);
    for k in 0..20u64 {
        feed(
            &mut m,
            &image(k.min(18), 2.0),
            k * 33_000_000 + (k % 3) * 1_000_000,
        );
    }
    assert_eq!(m.assess().duplicates.unwrap().severity, 0.5);
    // Blank frames (a covered lens) are identical but not judged.
    let mut m = StreamMonitor::new(None);
    let blank = RgbImage::new(320, 240);
    for k in 0..20u64 {
        feed(&mut m, &blank, k * 33_000_000 + (k % 3) * 1_000_000);
    }
    assert_eq!(m.assess().duplicates, None);

    // A size change mid-stream, and a declared camera the frames disagree with.
    let declared = DeclaredCamera {
        width: Some(240),
        height: Some(320),
        fps: Some(15.0),
        format: Some(PixelFormat::Rgb888),
    };
    let mut m = StreamMonitor::new(Some(declared));
    for k in 0..25u64 {
        let img = if k < 20 {
            image(k, 2.0)
        } else {
            RgbImage::new(160, 120)
        };
        let ts = k * 33_000_000 + (k % 4) * 700_000;
        feed(&mut m, &img, ts);
    }
    let a = m.assess();
    let g = a.geometry.unwrap();
    assert_eq!((g.severity, g.statistic), (0.7, 1.0));
    assert_eq!(
        g.evidence,
        "1 changes; first at frame 21: 160×120 Rgb888 after 320×240 Rgb888"
    );
    let d = a.declared.unwrap();
    // 5 frames of another size (320×240 is the declared 240×320 turned) + 30 fps > 15 declared.
    assert_eq!((d.severity, d.statistic), (0.9, 6.0), "{}", d.evidence);
}

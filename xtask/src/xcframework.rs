//! The Apple packaging and what can be checked of the Swift package without a Swift compiler.
//!
//! - `cargo xtask xcframework [--no-oslog]` (macOS with Xcode): builds `liveproof-ffi` in
//!   release for the device (`aarch64-apple-ios`), the simulator (`aarch64-apple-ios-sim` +
//!   `x86_64-apple-ios`, lipo'd) and macOS (`aarch64-apple-darwin` + `x86_64-apple-darwin`,
//!   lipo'd, for `swift test` on the Mac), puts the generated header and module map in
//!   `Headers/LiveProofFFI/` of every slice (a folder named after the module: several
//!   XCFrameworks in one app each bring a `module.modulemap`, and at the top of `Headers/` they
//!   would collide), runs `xcodebuild -create-xcframework` into
//!   `bindings-swift/LiveProofFFI.xcframework` (the package's local binary target), zips it
//!   and prints `swift package compute-checksum` of the zip (for a released `url:` binary
//!   target). On any other host it prints every step and fails: it needs macOS and Xcode.
//! - [`check_swift_sources`]: what `cargo xtask test` can check here. The hand-written Swift
//!   names only what exists (the generated API, its own declarations, or the Apple and Swift
//!   symbols listed in [`APPLE_AND_SWIFT`]); the generated declarations it calls keep their
//!   exact signatures ([`GENERATED_SIGNATURES`]); every string key it reads is in
//!   `Localizable.strings` and the other way round; `PrivacyInfo.xcprivacy` parses (Python's
//!   `plistlib`) and declares no tracking and no collected data; `Package.swift` is balanced
//!   and names the binary target and resources that exist. With the Python packages
//!   `tree-sitter` and `tree-sitter-swift` installed it also parses the hand-written Swift.
//!   None of this type-checks Swift.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::setup::{find_on_path, target_dir, workspace_root};

/// The XCFramework, relative to `bindings-swift/` (Package.swift's `binaryTarget` path).
pub const XCFRAMEWORK: &str = "LiveProofFFI.xcframework";
/// The C module the generated Swift imports.
const MODULE: &str = "LiveProofFFI";
const LIB: &str = "libliveproof_ffi.a";

/// One library of the XCFramework and the Rust targets that make it (two: lipo'd).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub name: &'static str,
    pub targets: &'static [&'static str],
    /// The deployment-target variable and value, matching Package.swift's `platforms`.
    pub deployment: (&'static str, &'static str),
}

pub const SLICES: &[Slice] = &[
    Slice {
        name: "ios-arm64",
        targets: &["aarch64-apple-ios"],
        deployment: ("IPHONEOS_DEPLOYMENT_TARGET", "15.0"),
    },
    Slice {
        name: "ios-arm64_x86_64-simulator",
        targets: &["aarch64-apple-ios-sim", "x86_64-apple-ios"],
        deployment: ("IPHONEOS_DEPLOYMENT_TARGET", "15.0"),
    },
    Slice {
        name: "macos-arm64_x86_64",
        targets: &["aarch64-apple-darwin", "x86_64-apple-darwin"],
        deployment: ("MACOSX_DEPLOYMENT_TARGET", "12.0"),
    },
];

/// One step of the build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Run {
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        cwd: PathBuf,
    },
    RemoveDir(PathBuf),
    MakeDir(PathBuf),
    Copy {
        from: PathBuf,
        to: PathBuf,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Run {
                program,
                args,
                env,
                cwd,
            } => {
                write!(f, "(cd {} && ", cwd.display())?;
                for (k, v) in env {
                    write!(f, "{k}={v} ")?;
                }
                write!(f, "{program}")?;
                for a in args {
                    write!(f, " {a}")?;
                }
                write!(f, ")")
            }
            Step::RemoveDir(p) => write!(f, "rm -rf {}", p.display()),
            Step::MakeDir(p) => write!(f, "mkdir -p {}", p.display()),
            Step::Copy { from, to } => write!(f, "cp {} {}", from.display(), to.display()),
        }
    }
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)], cwd: &Path) -> Step {
    Step::Run {
        program: program.to_string(),
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        cwd: cwd.to_path_buf(),
    }
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Every step of `cargo xtask xcframework`, for the workspace at `root` and cargo's target
/// directory `target`.
pub fn plan(root: &Path, target: &Path, oslog: bool) -> Vec<Step> {
    let package = root.join("bindings-swift");
    let work = target.join("xcframework");
    let include = work.join("include");
    let headers = include.join(MODULE);
    let output = package.join(XCFRAMEWORK);
    let zip = work.join(format!("{XCFRAMEWORK}.zip"));
    let mut steps = Vec::new();

    let mut add = vec!["target", "add"];
    add.extend(SLICES.iter().flat_map(|s| s.targets.iter().copied()));
    steps.push(run("rustup", &add, &[], root));
    for slice in SLICES {
        for t in slice.targets {
            let mut args = vec![
                "build",
                "--release",
                "-p",
                "liveproof-ffi",
                "--lib",
                "--target",
                t,
            ];
            if oslog {
                args.extend(["--features", "oslog"]);
            }
            steps.push(run("cargo", &args, &[slice.deployment], root));
        }
    }

    steps.push(Step::RemoveDir(work.clone()));
    steps.push(Step::MakeDir(headers.clone()));
    let generated = package.join("Sources").join(MODULE);
    steps.push(Step::Copy {
        from: generated.join(format!("{MODULE}.h")),
        to: headers.join(format!("{MODULE}.h")),
    });
    steps.push(Step::Copy {
        from: generated.join("module.modulemap"),
        to: headers.join("module.modulemap"),
    });

    let mut create = vec!["-create-xcframework".to_string()];
    for slice in SLICES {
        let built = |t: &str| target.join(t).join("release").join(LIB);
        let lib = match slice.targets {
            [one] => built(one),
            many => {
                let dir = work.join(slice.name);
                let fat = dir.join(LIB);
                steps.push(Step::MakeDir(dir));
                let mut args = vec!["-create".to_string()];
                args.extend(many.iter().map(|t| path_str(&built(t))));
                args.extend(["-output".to_string(), path_str(&fat)]);
                steps.push(Step::Run {
                    program: "lipo".into(),
                    args,
                    env: Vec::new(),
                    cwd: root.to_path_buf(),
                });
                fat
            }
        };
        create.extend([
            "-library".to_string(),
            path_str(&lib),
            "-headers".to_string(),
            path_str(&include),
        ]);
    }
    create.extend(["-output".to_string(), path_str(&output)]);
    steps.push(Step::RemoveDir(output.clone()));
    steps.push(Step::Run {
        program: "xcodebuild".into(),
        args: create,
        env: Vec::new(),
        cwd: root.to_path_buf(),
    });
    // The zip holds the .xcframework folder at its top, as SwiftPM expects of a `url:` target.
    steps.push(run(
        "ditto",
        &[
            "-c",
            "-k",
            "--sequesterRsrc",
            "--keepParent",
            &path_str(&output),
            &path_str(&zip),
        ],
        &[],
        root,
    ));
    steps.push(run(
        "swift",
        &["package", "compute-checksum", &path_str(&zip)],
        &[],
        &package,
    ));
    steps
}

/// `cargo xtask xcframework [--no-oslog]`.
pub fn xcframework(args: &[String]) -> Result<()> {
    let mut oslog = true;
    for a in args {
        match a.as_str() {
            "--no-oslog" => oslog = false,
            other => bail!("`xcframework`: unknown argument `{other}` (known: --no-oslog)"),
        }
    }
    // The package's sources first: what can be checked without Xcode fails fast here too.
    let summary = check_swift_sources(&workspace_root())?;
    eprintln!("  swift: {summary}");
    let steps = plan(&workspace_root(), &target_dir(), oslog);
    let tools = ["rustup", "cargo", "lipo", "xcodebuild", "ditto", "swift"];
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| find_on_path(t).is_none())
        .collect();
    if !cfg!(target_os = "macos") || !missing.is_empty() {
        eprintln!("xcframework: on macOS with Xcode this runs:");
        for s in &steps {
            eprintln!("  {s}");
        }
        if !cfg!(target_os = "macos") {
            bail!(
                "`cargo xtask xcframework` needs macOS with Xcode (xcodebuild, lipo, ditto, swift); \
                 this host is {}: nothing was built",
                std::env::consts::OS
            );
        }
        bail!(
            "`cargo xtask xcframework` needs Xcode's command-line tools: {} not on the PATH \
             (install Xcode, then `xcode-select -s /Applications/Xcode.app`); nothing was built",
            missing.join(", ")
        );
    }
    for s in &steps {
        eprintln!("==> xcframework: {s}");
        execute(s)?;
    }
    eprintln!(
        "==> xcframework: bindings-swift/{XCFRAMEWORK} (the local binary target of Package.swift) \
         and {}; the line above is the checksum for a released `url:` binary target",
        target_dir()
            .join("xcframework")
            .join(format!("{XCFRAMEWORK}.zip"))
            .display()
    );
    Ok(())
}

fn execute(step: &Step) -> Result<()> {
    match step {
        Step::Run {
            program,
            args,
            env,
            cwd,
        } => {
            let status = Command::new(program)
                .args(args)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .current_dir(cwd)
                .status()
                .with_context(|| format!("starting {program}"))?;
            if !status.success() {
                bail!("`{step}` failed ({status})");
            }
        }
        Step::RemoveDir(p) => {
            if p.exists() {
                fs::remove_dir_all(p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
        Step::MakeDir(p) => {
            fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
        }
        Step::Copy { from, to } => {
            fs::copy(from, to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// What can be checked here.

/// Generated declarations the hand-written layer calls, exactly as UniFFI writes them
/// (whitespace aside): a renamed method or parameter in Rust fails here, not on a Mac.
pub const GENERATED_SIGNATURES: &[&str] = &[
    "open class LivenessEngine: LivenessEngineProtocol, @unchecked Sendable",
    "open class LivenessSession: LivenessSessionProtocol, @unchecked Sendable",
    "public convenience init(config: EngineConfig)throws",
    "open func startSession(token: SessionToken, signer: Signer, options: SessionOptions)throws  -> LivenessSession",
    "open func startLocalSession(seed: Data, flow: FlowType, tier: RiskTier, policyJson: String?, options: SessionOptions)throws  -> LivenessSession",
    "open func verifyToken(token: Data, serverKeysPem: [String], policyJson: String?)throws  -> SessionToken",
    "open func pushFrame(frame: Frame)throws  -> FrameFeedback",
    "open func pushPlanes(plane0: Data, plane1: Data, plane2: Data, layout: PlaneLayout)throws  -> FrameFeedback",
    "open func finish()throws  -> Outcome",
    "open func cancel()throws  -> Outcome",
    "open func release()",
    "open func sessionId() -> String",
    "public protocol Signer: AnyObject, Sendable",
    "func publicKey() throws  -> Data",
    "func sign(message: Data) throws  -> Data",
    "public func signatureFromDer(der: Data)throws  -> Data",
    "case InvalidArgument(message: String)",
    "case TokenRejected(message: String)",
    "case Signer(message: String)",
    "case SessionState(message: String)",
    "rowStrides: [UInt32], rotationDegrees: Int32 = 0, mirrored: Bool = false, timestampNs: UInt64 = UInt64(0)",
    "public static func generate() -> SoftwareSigner",
];

/// Apple SDK, Foundation, XCTest and Swift standard-library names the hand-written Swift uses
/// (and Swift keywords). Reviewed by hand against Apple's documentation; nothing here checks
/// them: a name added to the Swift layer must be added here, which is the point.
#[rustfmt::skip]
pub const APPLE_AND_SWIFT: &[&str] = &[
    // Swift keywords and literals that may precede `(` or follow `.`.
    "init", "self", "Self", "super", "if", "guard", "switch", "while", "for", "return", "try",
    "await", "catch", "throw", "do", "in", "is", "as", "some", "any", "nil", "true", "false",
    "case", "let", "var", "func", "else", "defer", "where", "default", "unknown", "repeat", "Type",
    "public", "private", "fileprivate", "internal", "open", "static", "final", "class", "struct",
    "enum", "protocol", "extension", "import", "typealias", "throws", "rethrows", "async",
    "escaping", "Sendable", "unchecked", "discardableResult", "testable", "canImport",
    "targetEnvironment", "simulator", "os", "macOS", "Any",
    // Modules imported.
    "Foundation", "CoreVideo", "CoreMedia", "CoreGraphics", "ImageIO", "Security", "CryptoKit",
    "XCTest", "LiveProof",
    // Swift standard library.
    "Int", "Int32", "UInt8", "UInt32", "UInt64", "Float", "Double", "Bool", "String", "Substring",
    "Array", "Result", "Error", "Never", "Equatable", "CustomStringConvertible", "Decodable",
    "UTF8", "UnsafeRawPointer", "UnsafeMutableRawPointer", "CheckedContinuation",
    "withCheckedThrowingContinuation", "withThrowingTaskGroup", "min", "max", "print", "String",
    "map", "filter", "sorted", "first", "prefix", "dropFirst", "dropLast", "allSatisfy", "isEmpty",
    "contains", "count", "append", "joined", "hasSuffix", "rounded", "resume", "get", "addTask",
    "assumingMemoryBound", "withUnsafeBytes", "baseAddress", "rawValue", "truncatingIfNeeded",
    "decoding", "radix", "catching", "utf8", "self",
    // Foundation.
    "Data", "URL", "UUID", "Bundle", "module", "main", "localizedString", "forKey", "value",
    "table", "format", "ProcessInfo", "processInfo", "environment", "FileManager", "default",
    "contentsOfDirectory", "atPath", "appendingPathComponent", "contentsOf", "encoding",
    "temporaryDirectory", "createDirectory", "removeItem", "write", "path", "uuidString",
    "JSONDecoder", "decode", "keyDecodingStrategy", "convertFromSnakeCase", "base64EncodedString",
    "NSLock", "lock", "unlock", "Process", "executableURL", "arguments", "run", "waitUntilExit",
    "terminationStatus", "DispatchQueue", "global", "async", "userInitiated",
    "localizedDescription", "capacity", "fileURLWithPath", "isDirectory",
    "withIntermediateDirectories", "atomically", "bytesNoCopy", "deallocator", "none",
    "takeRetainedValue", "Unmanaged",
    // Core Foundation and Security.
    "CFError", "CFTypeRef", "CFDictionary", "CFData", "CFURL", "kCFAllocatorDefault", "SecKey",
    "SecAccessControlCreateFlags", "SecAccessControlCreateWithFlags", "SecItemCopyMatching",
    "SecItemDelete", "SecKeyCopyAttributes", "SecKeyCreateRandomKey", "SecKeyCopyPublicKey",
    "SecKeyCopyExternalRepresentation", "SecKeyCreateSignature", "ecdsaSignatureMessageX962SHA256",
    "privateKeyUsage", "errSecSuccess", "errSecItemNotFound", "kSecClass", "kSecClassKey",
    "kSecAttrApplicationTag", "kSecAttrKeyType", "kSecAttrKeyTypeECSECPrimeRandom",
    "kSecReturnRef", "kSecUseDataProtectionKeychain", "kSecAttrTokenID",
    "kSecAttrTokenIDSecureEnclave", "kSecAttrAccessibleWhenUnlockedThisDeviceOnly",
    "kSecAttrIsPermanent", "kSecAttrAccessControl", "kSecAttrKeySizeInBits", "kSecPrivateKeyAttrs",
    // CryptoKit.
    "SecureEnclave", "isAvailable", "P256", "Signing", "PublicKey", "ECDSASignature",
    "x963Representation", "rawRepresentation", "isValidSignature",
    // Core Video, Core Media, Core Graphics, ImageIO.
    "CVPixelBuffer", "OSType", "CVPixelBufferGetPixelFormatType", "CVPixelBufferLockBaseAddress",
    "CVPixelBufferUnlockBaseAddress", "kCVReturnSuccess", "readOnly", "CVPixelBufferIsPlanar",
    "CVPixelBufferGetPlaneCount", "CVPixelBufferGetBytesPerRowOfPlane",
    "CVPixelBufferGetHeightOfPlane", "CVPixelBufferGetBaseAddressOfPlane",
    "CVPixelBufferGetBytesPerRow", "CVPixelBufferGetHeight", "CVPixelBufferGetWidth",
    "CVPixelBufferGetBaseAddress", "CVPixelBufferCreate",
    "kCVPixelFormatType_420YpCbCr8BiPlanarFullRange",
    "kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange", "kCVPixelFormatType_32BGRA",
    "kCVPixelBufferCGImageCompatibilityKey", "kCVPixelBufferCGBitmapContextCompatibilityKey",
    "CMSampleBuffer", "CMSampleBufferGetImageBuffer", "CMSampleBufferGetPresentationTimeStamp",
    "CMTimeConvertScale", "isNumeric", "timescale", "method", "roundHalfAwayFromZero",
    "CGImagePropertyOrientation", "up", "upMirrored", "down", "downMirrored", "left", "right",
    "leftMirrored", "rightMirrored", "CGImage", "CGImageSourceCreateWithURL",
    "CGImageSourceCreateImageAtIndex", "CGColorSpace", "CGColorSpaceCreateDeviceRGB", "colorSpace",
    "model", "rgb", "CGContext", "CGRect", "CGImageAlphaInfo", "noneSkipFirst", "CGBitmapInfo",
    "byteOrder32Little", "draw", "width", "height", "data", "bitsPerComponent", "bytesPerRow",
    "space", "bitmapInfo",
    // XCTest.
    "XCTestCase", "XCTAssertEqual", "XCTAssertTrue", "XCTAssertFalse", "XCTAssertNil",
    "XCTAssertNotNil", "XCTAssertThrowsError", "XCTAssertNoThrow", "XCTFail", "XCTUnwrap",
];

/// A Swift source reduced to its tokens: comments and string literals removed. Each
/// identifier with the characters around it (`.` before: a member; `(` after: a call).
struct Token {
    name: String,
    after_dot: bool,
    before_paren: bool,
    before_colon: bool,
    after_keyword: bool,
}

/// Removes comments and string literals (their interpolations included), keeping line breaks.
fn strip_swift(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == b'\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if b[i..].starts_with(b"\"\"\"") {
            i += 3;
            while i < b.len() && !b[i..].starts_with(b"\"\"\"") {
                if b[i] == b'\n' {
                    out.push('\n');
                }
                i += 1;
            }
            i += 3;
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            // Interpolations `\( … )` may hold strings: count parentheses inside them.
            let mut depth = 0usize;
            while i < b.len() {
                match b[i] {
                    b'\\' if b.get(i + 1) == Some(&b'(') => {
                        depth += 1;
                        i += 2;
                        continue;
                    }
                    b'\\' => i += 1,
                    b'(' if depth > 0 => depth += 1,
                    b')' if depth > 0 => depth -= 1,
                    b'"' if depth == 0 => break,
                    b'\n' if depth == 0 => break,
                    _ => {}
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            // Copy one UTF-8 character.
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8().max(1);
        }
    }
    out
}

const DECLARING: &[&str] = &[
    "func",
    "var",
    "let",
    "case",
    "class",
    "struct",
    "enum",
    "protocol",
    "typealias",
    "for",
];

fn tokens(src: &str) -> Vec<Token> {
    let s = strip_swift(src);
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut prev_word: Option<String> = None;
    while i < chars.len() {
        let c = chars[i];
        let start_ok = c.is_ascii_alphabetic() || c == '_';
        let prev_char = if i > 0 { chars[i - 1] } else { ' ' };
        let part_of_word = prev_char.is_ascii_alphanumeric() || prev_char == '_';
        if start_ok && !part_of_word && prev_char != '$' && prev_char != '#' && prev_char != '@' {
            let begin = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let name: String = chars[begin..i].iter().collect();
            let after_dot = begin > 0 && chars[begin - 1] == '.';
            let next = chars[i..].iter().find(|c| !c.is_whitespace()).copied();
            let after_keyword = prev_word.as_deref().is_some_and(|w| DECLARING.contains(&w))
                && chars[..begin]
                    .iter()
                    .rev()
                    .find(|c| !c.is_whitespace())
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_');
            out.push(Token {
                name: name.clone(),
                after_dot,
                before_paren: chars.get(i) == Some(&'('),
                before_colon: next == Some(':'),
                after_keyword,
            });
            prev_word = Some(name);
        } else {
            if !c.is_whitespace() {
                prev_word = None;
            }
            i += 1;
        }
    }
    out
}

/// The checks of the Swift package that need no Swift compiler; a one-line summary.
pub fn check_swift_sources(root: &Path) -> Result<String> {
    let pkg = root.join("bindings-swift");
    let sources = pkg.join("Sources").join("LiveProof");
    let generated_path = sources.join("LiveProof.swift");
    let generated = fs::read_to_string(&generated_path)
        .with_context(|| format!("reading {}", generated_path.display()))?;

    // 1. The generated signatures the layer relies on.
    let squeeze = |s: &str| s.split_whitespace().collect::<String>();
    let generated_squeezed = squeeze(&generated);
    for sig in GENERATED_SIGNATURES {
        if !generated_squeezed.contains(&squeeze(sig)) {
            bail!(
                "the Swift layer calls `{sig}`, which LiveProof.swift no longer declares: update \
                 bindings-swift/Sources/LiveProof and GENERATED_SIGNATURES in xtask/src/xcframework.rs"
            );
        }
    }

    // 2. Every name the hand-written Swift uses exists somewhere it can come from.
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in [sources.clone(), pkg.join("Tests").join("LiveProofTests")] {
        for e in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let p = e?.path();
            if p.extension().is_some_and(|x| x == "swift") && p != generated_path {
                files.push(p);
            }
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no hand-written Swift in {}", sources.display());
    }
    let known_generated: BTreeSet<String> =
        tokens(&generated).into_iter().map(|t| t.name).collect();
    let texts: Vec<(PathBuf, String)> = files
        .iter()
        .map(|p| {
            Ok((
                p.clone(),
                fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            ))
        })
        .collect::<Result<_>>()?;
    let declared: BTreeSet<String> = texts
        .iter()
        .flat_map(|(_, t)| tokens(t))
        .filter(|t| t.after_keyword || (t.before_colon && !t.after_dot))
        .map(|t| t.name)
        .collect();
    let allowed: BTreeSet<&str> = APPLE_AND_SWIFT.iter().copied().collect();
    let mut references = 0usize;
    let mut unknown: Vec<String> = Vec::new();
    for (path, text) in &texts {
        let mut seen = BTreeSet::new();
        for t in tokens(text) {
            let checked = t.after_dot
                || t.before_paren
                || t.name.starts_with(|c: char| c.is_ascii_uppercase());
            if !checked || !seen.insert(t.name.clone()) {
                continue;
            }
            references += 1;
            if !(known_generated.contains(&t.name)
                || declared.contains(&t.name)
                || allowed.contains(t.name.as_str()))
            {
                let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
                unknown.push(format!("{}: {}", file.unwrap_or_default(), t.name));
            }
        }
    }
    if !unknown.is_empty() {
        bail!(
            "the hand-written Swift names {} symbol(s) that neither LiveProof.swift, the layer \
             itself nor xcframework.rs's APPLE_AND_SWIFT list declares (a typo, a renamed \
             generated symbol, or an Apple API to review and list): {}",
            unknown.len(),
            unknown.join(", ")
        );
    }

    // 3. String keys: every key the layer reads is in Localizable.strings, and back.
    let strings_path = sources.join("Resources/en.lproj/Localizable.strings");
    let strings = fs::read_to_string(&strings_path)
        .with_context(|| format!("reading {}", strings_path.display()))?;
    let defined = strings_keys(&strings)?;
    let layer = fs::read_to_string(sources.join("CaptureSession.swift"))
        .context("reading CaptureSession.swift")?;
    let used = quoted_with_prefix(&layer, "liveproof.");
    if let Some(k) = used.difference(&defined).next() {
        bail!("CaptureSession.swift reads the string key `{k}`, which Localizable.strings lacks");
    }
    if let Some(k) = defined.difference(&used).next() {
        bail!("Localizable.strings defines `{k}`, which CaptureSession.swift never reads");
    }

    // 4. The privacy manifest.
    let privacy = sources.join("PrivacyInfo.xcprivacy");
    let plist =
        fs::read_to_string(&privacy).with_context(|| format!("reading {}", privacy.display()))?;
    let squeezed = squeeze(&plist);
    for must in [
        "<key>NSPrivacyTracking</key><false/>",
        "<key>NSPrivacyTrackingDomains</key><array/>",
        "<key>NSPrivacyCollectedDataTypes</key><array/>",
    ] {
        if !squeezed.contains(must) {
            bail!("{} lacks `{must}`", privacy.display());
        }
    }
    let plist_parse = match find_on_path("python3") {
        Some(py) => {
            let o = Command::new(py)
                .args([
                    "-c",
                    "import plistlib,sys\n\
                     d=plistlib.load(open(sys.argv[1],'rb'))\n\
                     assert d['NSPrivacyTracking'] is False and d['NSPrivacyTrackingDomains']==[] \
                     and d['NSPrivacyCollectedDataTypes']==[], d\n\
                     for t in d.get('NSPrivacyAccessedAPITypes',[]):\n \
                     assert t['NSPrivacyAccessedAPIType'].startswith('NSPrivacyAccessedAPICategory') \
                     and t['NSPrivacyAccessedAPITypeReasons'], t\n",
                ])
                .arg(&privacy)
                .output()
                .context("running python3 (plistlib)")?;
            if !o.status.success() {
                bail!(
                    "{} does not parse as the privacy manifest: {}",
                    privacy.display(),
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            "parses (plistlib)"
        }
        None => "not parsed (no python3)",
    };

    // 5. Package.swift: balanced, and what it names exists.
    let manifest_path = pkg.join("Package.swift");
    let manifest = fs::read_to_string(&manifest_path).context("reading Package.swift")?;
    if !manifest.starts_with("// swift-tools-version:5.9") {
        bail!("Package.swift must start with `// swift-tools-version:5.9`");
    }
    check_balanced(&strip_swift(&manifest)).context("Package.swift")?;
    let manifest_squeezed = squeeze(&strip_swift_keep_strings(&manifest));
    let binary = format!(".binaryTarget(name:\"{MODULE}\",path:\"{XCFRAMEWORK}\")");
    if !manifest_squeezed.contains(&binary) {
        bail!("Package.swift lacks `{binary}`");
    }
    for resource in quoted_after(&manifest, &[".process(\"", ".copy(\""]) {
        if !sources.join(&resource).exists() {
            bail!("Package.swift names the resource {resource}, which Sources/LiveProof lacks");
        }
    }
    for tests in quoted_after(&manifest, &["path: \""]) {
        if !tests.ends_with(".xcframework") && !pkg.join(&tests).is_dir() {
            bail!("Package.swift names the folder {tests}, which bindings-swift lacks");
        }
    }

    // 6. A syntax parse, when tree-sitter's Swift grammar is installed for python3.
    let syntax = swift_syntax(&files, &manifest_path)?;

    Ok(format!(
        "{} hand-written Swift files: {} distinct names each found in the generated API, the \
         layer or the {}-name Apple/Swift list; {} generated signatures present; {} string \
         keys both ways; PrivacyInfo.xcprivacy {plist_parse}; Package.swift consistent; {syntax} \
         (no Swift compiler: nothing type-checked)",
        files.len(),
        references,
        APPLE_AND_SWIFT.len(),
        GENERATED_SIGNATURES.len(),
        defined.len()
    ))
}

/// Removes comments only (string literals kept), for matching the manifest's declarations.
fn strip_swift_keep_strings(src: &str) -> String {
    src.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check_balanced(code: &str) -> Result<()> {
    let mut stack = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for c in line.chars() {
            match c {
                '(' | '[' | '{' => stack.push((c, n + 1)),
                ')' | ']' | '}' => {
                    let want = match c {
                        ')' => '(',
                        ']' => '[',
                        _ => '{',
                    };
                    match stack.pop() {
                        Some((open, _)) if open == want => {}
                        Some((open, at)) => {
                            bail!("`{c}` on line {} closes `{open}` of line {at}", n + 1)
                        }
                        None => bail!("unmatched `{c}` on line {}", n + 1),
                    }
                }
                _ => {}
            }
        }
    }
    if let Some((open, at)) = stack.pop() {
        bail!("`{open}` of line {at} is never closed");
    }
    Ok(())
}

/// The keys of a `.strings` file (`"key" = "value";` lines).
fn strings_keys(text: &str) -> Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    for (n, line) in strip_block_comments(text).lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let ok = line.starts_with('"') && line.ends_with("\";") && line.contains("\" = \"");
        if !ok {
            bail!(
                "Localizable.strings line {}: expected `\"key\" = \"value\";`, found `{line}`",
                n + 1
            );
        }
        let key = &line[1..line.find("\" = \"").unwrap_or(1)];
        if !keys.insert(key.to_string()) {
            bail!("Localizable.strings defines `{key}` twice");
        }
    }
    Ok(keys)
}

fn strip_block_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find("*/")
            .map(|j| i + j + 2)
            .unwrap_or(rest.len());
        out.extend(rest[i..end].chars().filter(|&c| c == '\n'));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// String literals of `text` that start with `prefix`.
fn quoted_with_prefix(text: &str, prefix: &str) -> BTreeSet<String> {
    let needle = format!("\"{prefix}");
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find(&needle) {
        let body = &rest[i + 1..];
        let end = body.find('"').unwrap_or(body.len());
        out.insert(body[..end].to_string());
        rest = &body[end..];
    }
    out
}

/// The string literal right after each of `openers` (e.g. `.copy("`).
fn quoted_after(text: &str, openers: &[&str]) -> Vec<String> {
    let code = strip_swift_keep_strings(text);
    let mut out = Vec::new();
    for opener in openers {
        let mut rest = code.as_str();
        while let Some(i) = rest.find(opener) {
            let body = &rest[i + opener.len()..];
            let end = body.find('"').unwrap_or(body.len());
            out.push(body[..end].to_string());
            rest = &body[end..];
        }
    }
    out
}

/// Parses the files with tree-sitter's Swift grammar when python3 has it; what it did.
fn swift_syntax(files: &[PathBuf], manifest: &Path) -> Result<String> {
    let Some(py) = find_on_path("python3") else {
        return Ok("Swift syntax not parsed (no python3)".into());
    };
    const SCRIPT: &str = "import sys\n\
        try:\n import tree_sitter, tree_sitter_swift\n\
        except ImportError:\n print('absent'); sys.exit(0)\n\
        p = tree_sitter.Parser(tree_sitter.Language(tree_sitter_swift.language()))\n\
        bad = []\n\
        for f in sys.argv[1:]:\n\
        \x20src = open(f, 'rb').read()\n\
        \x20stack = [p.parse(src).root_node]\n\
        \x20while stack:\n\
        \x20\x20n = stack.pop()\n\
        \x20\x20if n.type == 'ERROR' or n.is_missing:\n\
        \x20\x20\x20bad.append('%s:%d' % (f, n.start_point[0] + 1))\n\
        \x20\x20else:\n\
        \x20\x20\x20stack.extend(n.children)\n\
        print('bad ' + ' '.join(bad) if bad else 'ok')\n";
    let o = Command::new(py)
        .arg("-c")
        .arg(SCRIPT)
        .args(files)
        .arg(manifest)
        .output()
        .context("running python3 (tree-sitter)")?;
    let out = String::from_utf8_lossy(&o.stdout).trim().to_string();
    if !o.status.success() {
        bail!(
            "the tree-sitter parse failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    match out.as_str() {
        "ok" => Ok(format!(
            "{} files parse (tree-sitter-swift)",
            files.len() + 1
        )),
        "absent" => Ok(
            "Swift syntax not parsed (pip install tree-sitter tree-sitter-swift to add it)".into(),
        ),
        bad => bail!(
            "Swift syntax errors (tree-sitter-swift) at {}",
            bad.trim_start_matches("bad ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(steps: &[Step]) -> Vec<(String, Vec<String>)> {
        steps
            .iter()
            .filter_map(|s| match s {
                Step::Run { program, args, .. } => Some((program.clone(), args.clone())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn plan_builds_every_slice_and_one_xcframework() {
        let root = Path::new("/w");
        let target = Path::new("/t");
        let steps = plan(root, target, true);
        let runs = runs(&steps);
        // rustup adds the five targets.
        assert_eq!(runs[0].0, "rustup");
        assert_eq!(
            runs[0].1,
            [
                "target",
                "add",
                "aarch64-apple-ios",
                "aarch64-apple-ios-sim",
                "x86_64-apple-ios",
                "aarch64-apple-darwin",
                "x86_64-apple-darwin"
            ]
        );
        // One release build per target, with oslog, and the deployment target.
        let builds: Vec<&Step> = steps
            .iter()
            .filter(|s| matches!(s, Step::Run { program, .. } if program == "cargo"))
            .collect();
        assert_eq!(builds.len(), 5);
        match builds[1] {
            Step::Run { args, env, cwd, .. } => {
                assert_eq!(
                    args.join(" "),
                    "build --release -p liveproof-ffi --lib --target aarch64-apple-ios-sim --features oslog"
                );
                assert_eq!(
                    env,
                    &[("IPHONEOS_DEPLOYMENT_TARGET".to_string(), "15.0".to_string())]
                );
                assert_eq!(cwd, root);
            }
            _ => unreachable!(),
        }
        // The two simulator slices and the two macOS ones are lipo'd.
        let lipos: Vec<&Vec<String>> = runs
            .iter()
            .filter(|(p, _)| p == "lipo")
            .map(|(_, a)| a)
            .collect();
        assert_eq!(lipos.len(), 2);
        assert_eq!(
            lipos[0].join(" "),
            "-create /t/aarch64-apple-ios-sim/release/libliveproof_ffi.a \
             /t/x86_64-apple-ios/release/libliveproof_ffi.a \
             -output /t/xcframework/ios-arm64_x86_64-simulator/libliveproof_ffi.a"
        );
        // xcodebuild gets three libraries, each with the headers folder holding LiveProofFFI/.
        let (_, xc) = runs.iter().find(|(p, _)| p == "xcodebuild").unwrap();
        assert_eq!(
            xc.join(" "),
            "-create-xcframework \
             -library /t/aarch64-apple-ios/release/libliveproof_ffi.a -headers /t/xcframework/include \
             -library /t/xcframework/ios-arm64_x86_64-simulator/libliveproof_ffi.a -headers /t/xcframework/include \
             -library /t/xcframework/macos-arm64_x86_64/libliveproof_ffi.a -headers /t/xcframework/include \
             -output /w/bindings-swift/LiveProofFFI.xcframework"
        );
        // The header and module map go under Headers/LiveProofFFI/, copied before xcodebuild.
        let xc_at = steps
            .iter()
            .position(|s| matches!(s, Step::Run { program, .. } if program == "xcodebuild"))
            .unwrap();
        let copies: Vec<(usize, &PathBuf)> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Step::Copy { to, .. } => Some((i, to)),
                _ => None,
            })
            .collect();
        assert_eq!(copies.len(), 2);
        assert!(copies.iter().all(|(i, _)| *i < xc_at));
        assert_eq!(
            copies[1].1,
            Path::new("/t/xcframework/include/LiveProofFFI/module.modulemap")
        );
        assert!(steps.contains(&Step::RemoveDir(PathBuf::from(
            "/w/bindings-swift/LiveProofFFI.xcframework"
        ))));
        // Then the zip and its checksum, last.
        let n = runs.len();
        assert_eq!(runs[n - 2].0, "ditto");
        assert_eq!(
            runs[n - 2].1.last().unwrap(),
            "/t/xcframework/LiveProofFFI.xcframework.zip"
        );
        assert_eq!(
            runs[n - 1],
            (
                "swift".to_string(),
                vec![
                    "package".to_string(),
                    "compute-checksum".to_string(),
                    "/t/xcframework/LiveProofFFI.xcframework.zip".to_string()
                ]
            )
        );
        assert!(
            matches!(steps.last(), Some(Step::Run { cwd, .. }) if cwd == Path::new("/w/bindings-swift"))
        );
    }

    #[test]
    fn plan_without_oslog_drops_the_feature() {
        let steps = plan(Path::new("/w"), Path::new("/t"), false);
        assert!(runs(&steps)
            .iter()
            .filter(|(p, _)| p == "cargo")
            .all(|(_, a)| !a.iter().any(|x| x == "oslog")));
    }

    #[test]
    fn steps_print_as_shell_lines() {
        let s = run(
            "cargo",
            &["build", "--release"],
            &[("MACOSX_DEPLOYMENT_TARGET", "12.0")],
            Path::new("/w"),
        );
        assert_eq!(
            s.to_string(),
            "(cd /w && MACOSX_DEPLOYMENT_TARGET=12.0 cargo build --release)"
        );
        assert_eq!(Step::RemoveDir("/x".into()).to_string(), "rm -rf /x");
    }

    #[test]
    fn tokens_skip_comments_and_strings() {
        let src =
            "// foo(\n/* bar( /* nested */ baz( */ let x = \"qux(\\(y.z(\"w\"))\" + a.b(c: d)\n";
        let t = tokens(src);
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["let", "x", "a", "b", "c", "d"]);
        assert!(t[1].after_keyword);
        assert!(t[3].after_dot && t[3].before_paren);
        assert!(t[4].before_colon);
    }

    #[test]
    fn strings_files_and_balance() {
        let keys = strings_keys("/* c */\n\"a.b\" = \"A\";\n\n\"c\" = \"%1$ld\";\n").unwrap();
        assert_eq!(keys.into_iter().collect::<Vec<_>>(), ["a.b", "c"]);
        assert!(strings_keys("\"a\" = \"A\"\n").is_err());
        assert!(check_balanced("f(a: [1, 2]) { }").is_ok());
        assert!(check_balanced("f(a: [1, 2)").is_err());
        assert!(check_balanced("f(").is_err());
    }

    /// The checked-in Swift package passes what can be checked here.
    #[test]
    fn checked_in_swift_package_is_consistent() {
        let summary = check_swift_sources(&workspace_root()).unwrap();
        assert!(
            summary.contains("generated signatures present"),
            "{summary}"
        );
    }
}

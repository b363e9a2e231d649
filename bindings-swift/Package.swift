// swift-tools-version:5.9
//
// LiveProof's Swift package.
//
// - `LiveProofFFI`: the Rust library `libliveproof_ffi.a` with its C header and module map, as
//   the XCFramework `cargo xtask xcframework` builds on a Mac (device arm64, simulator
//   arm64 + x86_64, macOS arm64 + x86_64). The header and module map are the generated
//   Sources/LiveProofFFI/ files (`cargo xtask gen`), copied into each slice.
// - `LiveProof`: the UniFFI-generated API (Sources/LiveProof/LiveProof.swift, generated: never
//   edit it) and the hand-written layer beside it (CaptureSession, the CVPixelBuffer adapter,
//   SecureEnclaveSigner), with the English strings and the privacy manifest as resources.
// - `LiveProofTests`: XCTest over a synthetic capture (see Tests/LiveProofTests and
//   docs/platforms.md, "iOS").
//
// NOT BUILT HERE: the machines that build LiveProof have no Swift compiler and no Xcode.
//
// Released builds: replace the local binary target by the released archive, e.g.
//   .binaryTarget(
//       name: "LiveProofFFI",
//       url: "https://<your release host>/LiveProofFFI.xcframework.zip",
//       checksum: "<the sha256 `cargo xtask xcframework` prints (swift package compute-checksum)>"
//   ),
// Never commit a placeholder url or checksum: SwiftPM refuses a wrong checksum, and the local
// `path:` form below is what a checkout builds.

import PackageDescription

let package = Package(
    name: "LiveProof",
    defaultLocalization: "en",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "LiveProof", targets: ["LiveProof"]),
    ],
    targets: [
        // Made by `cargo xtask xcframework` (macOS with Xcode); not checked in.
        .binaryTarget(name: "LiveProofFFI", path: "LiveProofFFI.xcframework"),
        .target(
            name: "LiveProof",
            dependencies: ["LiveProofFFI"],
            path: "Sources/LiveProof",
            resources: [
                .process("Resources"),
                .copy("PrivacyInfo.xcprivacy"),
            ],
            linkerSettings: [
                // `rustc --print native-static-libs` for aarch64-apple-ios (checked here):
                // -liconv -lSystem -lc -lm; the last three are linked by default on Apple.
                // Security, CoreVideo and CoreMedia come with the layer's imports (autolinking).
                .linkedLibrary("iconv"),
            ]
        ),
        .testTarget(
            name: "LiveProofTests",
            dependencies: ["LiveProof"],
            path: "Tests/LiveProofTests"
        ),
    ]
)

// swift-tools-version:5.9
//
// LiveProof's Swift package: the UniFFI-generated `LiveProof` module (Sources/LiveProof) over
// the C module `LiveProofFFI` (Sources/LiveProofFFI: header + module.modulemap), both written by
// `cargo xtask gen` and checked for freshness by `cargo xtask test`.
//
// NOT BUILT HERE: no Swift compiler or Apple SDK exists on the machines that build LiveProof
// (see docs/platforms.md). To use it on a Mac, build the Rust static library for the target,
//   cargo build --release -p liveproof-ffi --target aarch64-apple-ios
// and put target/aarch64-apple-ios/release on the linker search path
// (`swift build -Xlinker -L<that folder>`, or an Xcode "Library Search Paths" entry);
// a later milestone packages it as an XCFramework binary target instead.

import PackageDescription

let package = Package(
    name: "LiveProof",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "LiveProof", targets: ["LiveProof"]),
    ],
    targets: [
        // The C declarations of the Rust library's UniFFI symbols (generated header + modulemap).
        .systemLibrary(name: "LiveProofFFI", path: "Sources/LiveProofFFI"),
        // The generated Swift API, linked against libliveproof_ffi.a.
        .target(
            name: "LiveProof",
            dependencies: ["LiveProofFFI"],
            path: "Sources/LiveProof",
            linkerSettings: [.linkedLibrary("liveproof_ffi")]
        ),
    ]
)

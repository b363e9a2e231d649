// XCTest for the Swift layer, mirroring the Kotlin tests (bindings-kotlin/src/test): a whole
// session over a synthetic capture, signed; a signer failure then a second finish(); error
// mapping; closing twice; a push after finish; one engine from several tasks; the CVPixelBuffer
// adapter against the bytes path.
//
// NEVER COMPILED OR RUN where LiveProof is built (no Swift compiler there). On a Mac, after
// `cargo xtask xcframework`, run them with the environment the Kotlin tests get from
// `cargo xtask test` (docs/platforms.md, "iOS"):
//   LIVEPROOF_MODELS_DIR    the models folder (`cargo xtask env` prints it)
//   ORT_DYLIB_PATH          ONNX Runtime for this platform (libonnxruntime.dylib on macOS)
//   LIVEPROOF_TEST_CAPTURE  a SYNTHETIC bona fide capture acting out LIVEPROOF_TEST_SEED's
//                           challenge (`liveproof-synth --kind bona_fide --perform <seed> ...`)
//   LIVEPROOF_TEST_SEED     that 32-byte challenge seed, 64 hex digits
//   LIVEPROOF_TEST_KEYS     a server key folder (`liveproof-verifier keygen --out DIR`)
//   LIVEPROOF_VERIFIER      macOS: the verifier binary; the tests issue tokens with it and have
//                           it verify the signed result
//   LIVEPROOF_TEST_TOKEN    instead, where no process can be started (the iOS simulator): a
//                           token file issued for the seed right before the run (valid 180 s)
// For the iOS simulator, pass each as TEST_RUNNER_<NAME> to `xcodebuild test`.

import CoreGraphics
import CoreVideo
import Foundation
import ImageIO
import XCTest

#if canImport(CryptoKit)
import CryptoKit
#endif

@testable import LiveProof

// MARK: - Environment and fixtures

struct MissingEnvironment: Error, CustomStringConvertible {
    let name: String
    var description: String {
        "\(name) is not set: see the header of LiveProofTests.swift and docs/platforms.md (iOS)"
    }
}

func env(_ name: String) throws -> String {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
        throw MissingEnvironment(name: name)
    }
    return value
}

func hexBytes(_ hex: String) throws -> Data {
    let chars = Array(hex.utf8)
    guard chars.count % 2 == 0 else {
        throw MissingEnvironment(name: "an even number of hex digits in \(hex)")
    }
    var out = Data(capacity: chars.count / 2)
    var i = 0
    while i < chars.count {
        guard let byte = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else {
            throw MissingEnvironment(name: "hex digits in \(hex)")
        }
        out.append(byte)
        i += 2
    }
    return out
}

/// `capture.json` of a synthetic capture (the fields the tests read).
struct CaptureMeta: Decodable {
    struct FrameMeta: Decodable {
        let file: String
        let timestampNs: UInt64
    }
    let width: Int
    let height: Int
    let frames: [FrameMeta]
}

/// One frame of the capture as the camera would give it: a BGRA pixel buffer and its time.
struct CapturedFrame {
    let pixelBuffer: CVPixelBuffer
    let timestampNs: UInt64
}

enum Fixture {
    static func engineConfig() throws -> EngineConfig {
        EngineConfig(
            modelsDir: try env("LIVEPROOF_MODELS_DIR"),
            detector: .blazeFaceFront,
            ortLibraryPath: try env("ORT_DYLIB_PATH"),
            intraOpThreads: 1)
    }

    /// Loaded once for every test (model loading takes a while); shared, as apps should.
    static let engine: Result<LivenessEngine, Error> = Result {
        try LivenessEngine(config: try engineConfig())
    }

    static func sharedEngine() throws -> LivenessEngine {
        try engine.get()
    }

    static func seed() throws -> Data {
        let seed = try hexBytes(try env("LIVEPROOF_TEST_SEED"))
        XCTAssertEqual(seed.count, 32, "LIVEPROOF_TEST_SEED must be 64 hex digits")
        return seed
    }

    /// A fresh server token for the seed: LIVEPROOF_TEST_TOKEN's file, else (macOS) one the
    /// verifier issues now.
    static func token() throws -> Data {
        if let path = ProcessInfo.processInfo.environment["LIVEPROOF_TEST_TOKEN"], !path.isEmpty {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        #if os(macOS)
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("liveproof-swift-\(UUID().uuidString).token")
        defer { try? FileManager.default.removeItem(at: out) }
        let verifier = try env("LIVEPROOF_VERIFIER")
        let keys = try serverKeysDir().path
        let seedHex = try env("LIVEPROOF_TEST_SEED")
        let status = try runProcess(verifier, [
            "issue", "--key", keys, "--tenant", "swift-tests", "--seed", seedHex,
            "--flow", "account_opening", "--tier", "medium", "--out", out.path,
        ])
        guard status == 0 else {
            throw FixtureError(description: "liveproof-verifier issue failed (\(status))")
        }
        return try Data(contentsOf: out)
        #else
        throw MissingEnvironment(name: "LIVEPROOF_TEST_TOKEN")
        #endif
    }

    static func serverKeysDir() throws -> URL {
        URL(fileURLWithPath: try env("LIVEPROOF_TEST_KEYS"), isDirectory: true)
    }

    /// The server's public keys (SPKI PEM texts), as an app pins them.
    static func serverKeys() throws -> [String] {
        let dir = try serverKeysDir()
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter { $0.hasSuffix(".pub.pem") }
            .sorted()
        XCTAssertFalse(names.isEmpty, "no *.pub.pem in \(dir.path)")
        return try names.map {
            try String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8)
        }
    }

    /// The capture's frames, decoded (PNG → CGImage → BGRA CVPixelBuffer); `limit` first ones.
    static func frames(limit: Int = .max) throws -> [CapturedFrame] {
        let dir = URL(fileURLWithPath: try env("LIVEPROOF_TEST_CAPTURE"), isDirectory: true)
        let json = try Data(contentsOf: dir.appendingPathComponent("capture.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let meta = try decoder.decode(CaptureMeta.self, from: json)
        XCTAssertFalse(meta.frames.isEmpty, "capture.json lists no frames")
        return try meta.frames.prefix(limit).map { frame in
            let image = try loadImage(dir.appendingPathComponent(frame.file))
            XCTAssertEqual(image.width, meta.width)
            XCTAssertEqual(image.height, meta.height)
            return CapturedFrame(pixelBuffer: try bgraPixelBuffer(image), timestampNs: frame.timestampNs)
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

#if os(macOS)
/// Runs a program to its end (its output goes to the test log); its exit status.
func runProcess(_ executable: String, _ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}
#endif

func loadImage(_ url: URL) throws -> CGImage {
    guard let source = CGImageSourceCreateWithURL(url as CFURL, nil),
        let image = CGImageSourceCreateImageAtIndex(source, 0, nil)
    else {
        throw FixtureError(description: "cannot decode \(url.path)")
    }
    return image
}

/// A BGRA pixel buffer holding `image` (drawn in the image's own RGB colour space, so the
/// bytes are the PNG's).
func bgraPixelBuffer(_ image: CGImage) throws -> CVPixelBuffer {
    var created: CVPixelBuffer?
    let attributes: [String: Any] = [
        kCVPixelBufferCGImageCompatibilityKey as String: true,
        kCVPixelBufferCGBitmapContextCompatibilityKey as String: true,
    ]
    let status = CVPixelBufferCreate(
        kCFAllocatorDefault, image.width, image.height, kCVPixelFormatType_32BGRA,
        attributes as CFDictionary, &created)
    guard status == kCVReturnSuccess, let buffer = created else {
        throw FixtureError(description: "CVPixelBufferCreate failed (\(status))")
    }
    CVPixelBufferLockBaseAddress(buffer, [])
    defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
    let space: CGColorSpace
    if let own = image.colorSpace, own.model == .rgb {
        space = own
    } else {
        space = CGColorSpaceCreateDeviceRGB()
    }
    guard
        let context = CGContext(
            data: CVPixelBufferGetBaseAddress(buffer),
            width: image.width, height: image.height, bitsPerComponent: 8,
            bytesPerRow: CVPixelBufferGetBytesPerRow(buffer), space: space,
            bitmapInfo: CGImageAlphaInfo.noneSkipFirst.rawValue
                | CGBitmapInfo.byteOrder32Little.rawValue)
    else {
        throw FixtureError(description: "CGContext over the pixel buffer failed")
    }
    context.draw(image, in: CGRect(x: 0, y: 0, width: image.width, height: image.height))
    return buffer
}

/// The same picture as a 420f (NV12, full range, BT.601) pixel buffer, converted here.
func nv12PixelBuffer(from bgra: CVPixelBuffer) throws -> CVPixelBuffer {
    let (w, h) = (CVPixelBufferGetWidth(bgra), CVPixelBufferGetHeight(bgra))
    var created: CVPixelBuffer?
    let status = CVPixelBufferCreate(
        kCFAllocatorDefault, w, h, kCVPixelFormatType_420YpCbCr8BiPlanarFullRange, nil, &created)
    guard status == kCVReturnSuccess, let out = created else {
        throw FixtureError(description: "CVPixelBufferCreate (420f) failed (\(status))")
    }
    CVPixelBufferLockBaseAddress(bgra, .readOnly)
    CVPixelBufferLockBaseAddress(out, [])
    defer {
        CVPixelBufferUnlockBaseAddress(out, [])
        CVPixelBufferUnlockBaseAddress(bgra, .readOnly)
    }
    let src = CVPixelBufferGetBaseAddress(bgra)!.assumingMemoryBound(to: UInt8.self)
    let srcStride = CVPixelBufferGetBytesPerRow(bgra)
    let y = CVPixelBufferGetBaseAddressOfPlane(out, 0)!.assumingMemoryBound(to: UInt8.self)
    let yStride = CVPixelBufferGetBytesPerRowOfPlane(out, 0)
    let uv = CVPixelBufferGetBaseAddressOfPlane(out, 1)!.assumingMemoryBound(to: UInt8.self)
    let uvStride = CVPixelBufferGetBytesPerRowOfPlane(out, 1)
    func clamp(_ v: Double) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
    func rgb(_ x: Int, _ row: Int) -> (Double, Double, Double) {
        let p = src + row * srcStride + x * 4
        return (Double(p[2]), Double(p[1]), Double(p[0]))
    }
    for row in 0..<h {
        for x in 0..<w {
            let (r, g, b) = rgb(x, row)
            y[row * yStride + x] = clamp(0.299 * r + 0.587 * g + 0.114 * b)
        }
    }
    for row in 0..<(h + 1) / 2 {
        for x in 0..<(w + 1) / 2 {
            let (r, g, b) = rgb(min(2 * x, w - 1), min(2 * row, h - 1))
            uv[row * uvStride + 2 * x] = clamp(128 - 0.168736 * r - 0.331264 * g + 0.5 * b)
            uv[row * uvStride + 2 * x + 1] = clamp(128 + 0.5 * r - 0.418688 * g - 0.081312 * b)
        }
    }
    return out
}

/// The pixel buffer's planes copied into a `Frame` record: the bytes path.
func frameRecord(_ buffer: CVPixelBuffer, timestampNs: UInt64, orientation: FrameOrientation = .up)
    throws -> Frame
{
    try LiveProofFrames.withPlanes(of: buffer) { plane0, plane1, layout in
        // [UInt8](_:) copies out of the locked buffer; the record owns its bytes.
        var planes = [Plane(bytes: Data([UInt8](plane0)), rowStride: layout.rowStrides[0])]
        if layout.format == .nv12 {
            planes.append(Plane(bytes: Data([UInt8](plane1)), rowStride: layout.rowStrides[1]))
        }
        return Frame(
            width: layout.width, height: layout.height, format: layout.format, planes: planes,
            rotationDegrees: orientation.rotationDegrees, mirrored: orientation.mirrored,
            timestampNs: timestampNs)
    }
}

/// SPKI PEM of a SEC1 P-256 public key (what `liveproof-verifier --device-key` reads).
func spkiPem(sec1: Data) -> String {
    // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }
    let prefix: [UInt8] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ]
    let b64 = (Data(prefix) + sec1).base64EncodedString()
    var lines: [String] = []
    var rest = Substring(b64)
    while !rest.isEmpty {
        lines.append(String(rest.prefix(64)))
        rest = rest.dropFirst(64)
    }
    return "-----BEGIN PUBLIC KEY-----\n" + lines.joined(separator: "\n")
        + "\n-----END PUBLIC KEY-----\n"
}

/// The Secure Enclave signer where a key can be made there (a device; a Mac with one when the
/// test runner may use it), else the same class over a software key (the simulator; unsigned
/// test runners on a Mac). Says which.
func testSigner() throws -> SecureEnclaveSigner {
    if SecureEnclaveSigner.secureEnclaveAvailable,
        let hardware = try? SecureEnclaveSigner.ephemeral(secureEnclave: true)
    {
        print("liveproof-figure: signer: Secure Enclave key")
        return hardware
    }
    print("liveproof-figure: signer: software key (no usable Secure Enclave here)")
    return try SecureEnclaveSigner.ephemeral(secureEnclave: false)
}

/// A signer that fails its first `failures` signatures, then signs with a software key.
/// `@unchecked Sendable`: its one mutable counter is only touched under `lock`.
final class FlakySigner: Signer, @unchecked Sendable {
    private let inner = SoftwareSigner.generate()
    private let lock = NSLock()
    private var failuresLeft: Int
    private(set) var calls = 0

    init(failures: Int) {
        failuresLeft = failures
    }

    func publicKey() throws -> Data {
        try inner.publicKey()
    }

    func sign(message: Data) throws -> Data {
        lock.lock()
        calls += 1
        let fail = failuresLeft > 0
        if fail {
            failuresLeft -= 1
        }
        lock.unlock()
        if fail {
            throw CallbackError.Failed(reason: "the user dismissed the prompt")
        }
        return try inner.sign(message: message)
    }
}

// MARK: - Tests

final class LiveProofTests: XCTestCase {
    /// A whole server session over the synthetic bona fide capture, frames through the
    /// CVPixelBuffer adapter, signed by the device key; the verifier accepts it (macOS, when
    /// LIVEPROOF_VERIFIER is set).
    func testFullSessionIsSignedAndAccepted() async throws {
        let engine = try Fixture.sharedEngine()
        let token = try engine.verifyToken(
            token: try Fixture.token(), serverKeysPem: try Fixture.serverKeys(), policyJson: nil)
        let signer = try testSigner()
        let session = try engine.startCapture(token: token, signer: signer)
        XCTAssertEqual(session.id, token.sessionId())
        var sawDone = false
        var last: CaptureFeedback?
        for frame in try Fixture.frames() {
            let feedback = try session.push(frame.pixelBuffer, timestampNs: frame.timestampNs)
            sawDone = sawDone || feedback.state == .done
            last = feedback
        }
        XCTAssertTrue(sawDone, "the capture never reached .done; last feedback \(String(describing: last))")
        let outcome = try await session.finish()
        session.close()
        print("liveproof-figure: Swift session: \(outcome.decision), reasons \(outcome.reasons)")
        XCTAssertEqual(outcome.decision, .pass, "reasons \(outcome.reasons)")
        XCTAssertFalse(outcome.cancelled)
        XCTAssertEqual(outcome.sessionId, token.sessionId())
        let signed = try XCTUnwrap(outcome.signedResult, "a server session's outcome is signed")
        XCTAssertFalse(signed.isEmpty)

        #if os(macOS)
        if let verifier = ProcessInfo.processInfo.environment["LIVEPROOF_VERIFIER"], !verifier.isEmpty {
            let dir = FileManager.default.temporaryDirectory
                .appendingPathComponent("liveproof-swift-\(UUID().uuidString)", isDirectory: true)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let result = dir.appendingPathComponent("result.cose")
            let deviceKey = dir.appendingPathComponent("device.pub.pem")
            try signed.write(to: result)
            try spkiPem(sec1: try signer.publicKey()).write(to: deviceKey, atomically: true, encoding: .utf8)
            let keys = try Fixture.serverKeysDir().path
            let status = try runProcess(verifier, [
                "verify", result.path, "--key", keys, "--device-key", deviceKey.path,
                "--session", token.sessionId(),
            ])
            XCTAssertEqual(status, 0, "the verifier refused the Swift session's result")
        }
        #endif
    }

    /// A signer failure is `ApiError.Signer`; the decision is kept and a second `finish()` signs it.
    func testSignerFailureThenFinishAgain() async throws {
        let engine = try Fixture.sharedEngine()
        let token = try engine.verifyToken(
            token: try Fixture.token(), serverKeysPem: try Fixture.serverKeys(), policyJson: nil)
        let signer = FlakySigner(failures: 1)
        let session = try engine.startCapture(token: token, signer: signer)
        defer { session.close() }
        for frame in try Fixture.frames(limit: 10) {
            try session.push(frame.pixelBuffer, timestampNs: frame.timestampNs)
        }
        do {
            _ = try await session.finish()
            XCTFail("expected ApiError.Signer")
        } catch ApiError.Signer(let message) {
            XCTAssertTrue(message.contains("the user dismissed the prompt"), message)
        }
        // The decision waits for its signature: frames are refused until finish() signs it.
        let frame = try Fixture.frames(limit: 1)[0]
        do {
            try session.push(frame.pixelBuffer, timestampNs: frame.timestampNs + 1)
            XCTFail("expected ApiError.SessionState")
        } catch ApiError.SessionState(let message) {
            XCTAssertTrue(message.contains("call finish() again to sign it"), message)
        }
        let outcome = try await session.finish()
        XCTAssertNotNil(outcome.signedResult)
        XCTAssertEqual(signer.calls, 2)
    }

    /// A malformed frame is `ApiError.InvalidArgument` with the Rust sentence; the session goes on.
    func testBadFrameThrowsInvalidArgument() throws {
        let engine = try Fixture.sharedEngine()
        let session = try engine.startLocalCapture(seed: try Fixture.seed(), flow: .login, tier: .medium)
        defer { session.close() }
        let (w, h): (UInt32, UInt32) = (64, 48)
        let bad = Frame(
            width: w, height: h, format: .rgb888,
            planes: [Plane(bytes: Data(count: Int(w * h * 3)), rowStride: 100)])
        do {
            try session.push(bad)
            XCTFail("expected ApiError.InvalidArgument")
        } catch ApiError.InvalidArgument(let message) {
            // A flat UniFFI error: the case carries Rust's Display text, kind first (as C gets it).
            XCTAssertEqual(message, "invalid argument: frame plane 0 stride 100 < width 64 × 3 bytes")
        }
        let empty = Frame(width: 0, height: h, format: .rgb888, planes: [Plane(bytes: Data(), rowStride: 0)])
        XCTAssertThrowsError(try session.push(empty)) { error in
            guard case ApiError.InvalidArgument = error else {
                return XCTFail("expected InvalidArgument, got \(error)")
            }
        }
        // The session goes on.
        let good = Frame(width: w, height: h, format: .rgb888, planes: [Plane(bytes: Data(count: Int(w * h * 3)), rowStride: w * 3)])
        XCTAssertNoThrow(try session.push(good))
    }

    /// A token that fails the device's checks is `ApiError.TokenRejected`.
    func testBadTokenThrowsTokenRejected() throws {
        let engine = try Fixture.sharedEngine()
        let keys = try Fixture.serverKeys()
        var tampered = try Fixture.token()
        tampered[tampered.count - 1] ^= 0x01 // the signature's last byte
        for token in [Data([0x01, 0x02, 0x03]), tampered] {
            XCTAssertThrowsError(try engine.verifyToken(token: token, serverKeysPem: keys, policyJson: nil)) { error in
                guard case ApiError.TokenRejected = error else {
                    return XCTFail("expected TokenRejected, got \(error)")
                }
            }
        }
    }

    /// `close()` twice is fine; a closed session refuses frames with `ApiError.SessionState`.
    func testCloseTwice() throws {
        let engine = try Fixture.sharedEngine()
        let session = try engine.startLocalCapture(seed: try Fixture.seed(), flow: .login, tier: .medium)
        session.close()
        session.close()
        let frame = try Fixture.frames(limit: 1)[0]
        XCTAssertThrowsError(try session.push(frame.pixelBuffer, timestampNs: frame.timestampNs)) { error in
            guard case ApiError.SessionState = error else {
                return XCTFail("expected SessionState, got \(error)")
            }
        }
    }

    /// A frame pushed after `finish()` is `ApiError.SessionState`.
    func testPushAfterFinishThrowsSessionState() async throws {
        let engine = try Fixture.sharedEngine()
        let session = try engine.startLocalCapture(seed: try Fixture.seed(), flow: .login, tier: .medium)
        defer { session.close() }
        let frames = try Fixture.frames(limit: 3)
        for frame in frames {
            try session.push(frame.pixelBuffer, timestampNs: frame.timestampNs)
        }
        let outcome = try await session.finish()
        XCTAssertNil(outcome.signedResult, "a local session is never signed")
        XCTAssertThrowsError(try session.push(frames[0].pixelBuffer, timestampNs: frames[0].timestampNs + 1)) { error in
            guard case ApiError.SessionState = error else {
                return XCTFail("expected SessionState, got \(error)")
            }
        }
    }

    /// One engine, sessions on several tasks at once: the same frames give the same outcome.
    func testEngineFromSeveralTasks() async throws {
        let engine = try Fixture.sharedEngine()
        let seed = try Fixture.seed()
        // Records (Sendable), not pixel buffers, cross into the tasks.
        let frames = try Fixture.frames(limit: 30).map {
            try frameRecord($0.pixelBuffer, timestampNs: $0.timestampNs)
        }
        let outcomes = try await withThrowingTaskGroup(of: Outcome.self) { group -> [Outcome] in
            for _ in 0..<4 {
                group.addTask {
                    let session = try engine.startLocalCapture(seed: seed, flow: .login, tier: .medium)
                    defer { session.close() }
                    for frame in frames {
                        try session.push(frame)
                    }
                    return try await session.finish()
                }
            }
            var all: [Outcome] = []
            for try await outcome in group {
                all.append(outcome)
            }
            return all
        }
        XCTAssertEqual(outcomes.count, 4)
        for outcome in outcomes.dropFirst() {
            XCTAssertEqual(outcome.decision, outcomes[0].decision)
            XCTAssertEqual(outcome.reasons, outcomes[0].reasons)
            XCTAssertEqual(outcome.fusedScore, outcomes[0].fusedScore)
        }
    }

    /// The CVPixelBuffer adapter (no copy) and the bytes path (a copied `Frame`) give the same
    /// feedback, frame by frame, for BGRA and for 420f, rotated and mirrored.
    func testPixelBufferAdapterEqualsBytesPath() throws {
        let engine = try Fixture.sharedEngine()
        let seed = try Fixture.seed()
        let frames = try Fixture.frames(limit: 20)
        let orientation = FrameOrientation(.leftMirrored)
        for nv12 in [false, true] {
            let adapter = try engine.startLocalCapture(seed: seed, flow: .login, tier: .medium)
            let bytes = try engine.startLocalCapture(seed: seed, flow: .login, tier: .medium)
            defer {
                adapter.close()
                bytes.close()
            }
            for frame in frames {
                let buffer = try nv12 ? nv12PixelBuffer(from: frame.pixelBuffer) : frame.pixelBuffer
                let a = try adapter.push(buffer, orientation: orientation, timestampNs: frame.timestampNs)
                let b = try bytes.push(
                    try frameRecord(buffer, timestampNs: frame.timestampNs, orientation: orientation))
                XCTAssertEqual(a, b, nv12 ? "420f" : "BGRA")
            }
        }
    }

    /// The adapter hands Rust the pixel buffer's own memory: no copy.
    func testAdapterDoesNotCopy() throws {
        let frame = try Fixture.frames(limit: 1)[0]
        let nv12 = try nv12PixelBuffer(from: frame.pixelBuffer)
        for buffer in [frame.pixelBuffer, nv12] {
            try LiveProofFrames.withPlanes(of: buffer) { plane0, plane1, layout in
                let planar = CVPixelBufferIsPlanar(buffer)
                let base0 = planar
                    ? CVPixelBufferGetBaseAddressOfPlane(buffer, 0) : CVPixelBufferGetBaseAddress(buffer)
                plane0.withUnsafeBytes { XCTAssertEqual($0.baseAddress, UnsafeRawPointer(base0)) }
                if planar {
                    let base1 = CVPixelBufferGetBaseAddressOfPlane(buffer, 1)
                    plane1.withUnsafeBytes { XCTAssertEqual($0.baseAddress, UnsafeRawPointer(base1)) }
                    XCTAssertEqual(layout.format, .nv12)
                    XCTAssertEqual(layout.rowStrides.count, 2)
                } else {
                    XCTAssertTrue(plane1.isEmpty)
                    XCTAssertEqual(layout.format, .bgra8888)
                }
            }
        }
    }

    /// The Secure Enclave signer (a software key on the simulator) signs verifiably: SEC1
    /// public key, raw r‖s over SHA-256.
    func testSecureEnclaveSignerSignsVerifiably() throws {
        let signer = try testSigner()
        let publicKey = try signer.publicKey()
        XCTAssertEqual(publicKey.count, 65)
        XCTAssertEqual(publicKey.first, 0x04)
        let message = Data("LiveProof".utf8)
        let signature = try signer.sign(message: message)
        XCTAssertEqual(signature.count, 64)
        #if canImport(CryptoKit)
        let key = try P256.Signing.PublicKey(x963Representation: publicKey)
        let ecdsa = try P256.Signing.ECDSASignature(rawRepresentation: signature)
        XCTAssertTrue(key.isValidSignature(ecdsa, for: message))
        #endif
    }

    /// Feedback codes map to the enum and to the English defaults of the resource.
    func testFeedbackStatesAndDefaultText() {
        let oval = Oval(centerX: 0.5, centerY: 0.45, radiusX: 0.3, radiusY: 0.4)
        func feedback(_ phase: Phase, _ prompt: UserPrompt, _ hints: [Hint], _ step: UInt32, _ of: UInt32)
            -> CaptureFeedback
        {
            CaptureFeedback(
                FrameFeedback(
                    phase: phase, prompt: prompt, hints: hints, progress: 0.5, stepIndex: step,
                    stepCount: of, faceBox: nil, targetOval: oval, used: false))
        }
        let dark = feedback(.positioning, .none, [.tooDark, .blurry], 0, 0)
        XCTAssertEqual(dark.state, .positioning(hints: [.tooDark, .blurry]))
        XCTAssertEqual(dark.message, "Find more light")
        XCTAssertNil(dark.stepText)
        XCTAssertEqual(feedback(.passive, .holdStill, [], 0, 2).state, .holdStill)
        let turn = feedback(.challenge, .turnLeft, [], 1, 3)
        XCTAssertEqual(turn.state, .challenge(prompt: .turnLeft, step: 2, of: 3))
        XCTAssertEqual(turn.message, "Turn your head to the left")
        XCTAssertEqual(turn.stepText, "Step 2 of 3")
        XCTAssertEqual(feedback(.done, .none, [], 3, 3).state, .done)
        XCTAssertEqual(turn.targetOval, oval)
    }

    /// EXIF orientations map to a clockwise rotation then a horizontal flip.
    func testOrientations() {
        let cases: [(CGImagePropertyOrientation, Int32, Bool)] = [
            (.up, 0, false), (.upMirrored, 0, true), (.down, 180, false), (.downMirrored, 180, true),
            (.right, 90, false), (.left, 270, false), (.leftMirrored, 90, true), (.rightMirrored, 270, true),
        ]
        for (exif, degrees, mirrored) in cases {
            XCTAssertEqual(FrameOrientation(exif), FrameOrientation(rotationDegrees: degrees, mirrored: mirrored), "\(exif.rawValue)")
        }
    }
}

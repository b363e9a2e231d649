// Camera frames from Core Video without copying: the locked planes of a `CVPixelBuffer` are
// wrapped as `Data` that does not own them and handed to `LivenessSession.pushPlanes`, which
// borrows the bytes for the duration of the call (UniFFI `&[u8]`). Hand-written; not compiled
// here (no Swift compiler on the machines that build LiveProof; see docs/platforms.md).

#if canImport(CoreVideo)
import CoreVideo
import Foundation
#if canImport(CoreMedia)
import CoreMedia
#endif
#if canImport(ImageIO)
import ImageIO
#endif

/// How to make a camera buffer upright: a clockwise rotation (a multiple of 90°), then a
/// horizontal flip (the selfie view). Rust's `Frame.rotation_degrees` and `mirrored`.
public struct FrameOrientation: Sendable, Equatable {
    public var rotationDegrees: Int32
    public var mirrored: Bool

    public init(rotationDegrees: Int32 = 0, mirrored: Bool = false) {
        self.rotationDegrees = rotationDegrees
        self.mirrored = mirrored
    }

    /// The buffer is upright already (e.g. the `AVCaptureConnection` rotates it: you set
    /// `videoRotationAngle`, and `isVideoMirrored` for the front camera).
    public static let up = FrameOrientation()
}

#if canImport(ImageIO)
extension FrameOrientation {
    /// From the EXIF orientation Vision takes for the same buffer: e.g. `.right` for the back
    /// camera and `.leftMirrored` for the front camera, in portrait, when the connection does
    /// not rotate the buffers (the default: they arrive in the sensor's landscape).
    public init(_ orientation: CGImagePropertyOrientation) {
        switch orientation {
        case .up: self.init(rotationDegrees: 0, mirrored: false)
        case .upMirrored: self.init(rotationDegrees: 0, mirrored: true)
        case .down: self.init(rotationDegrees: 180, mirrored: false)
        // A vertical flip is a 180° turn then a horizontal flip.
        case .downMirrored: self.init(rotationDegrees: 180, mirrored: true)
        // EXIF 6: the stored image is the upright one turned 90° counter-clockwise.
        case .right: self.init(rotationDegrees: 90, mirrored: false)
        case .left: self.init(rotationDegrees: 270, mirrored: false)
        // EXIF 5, a transpose: 90° clockwise then a horizontal flip.
        case .leftMirrored: self.init(rotationDegrees: 90, mirrored: true)
        // EXIF 7, a transverse: 270° clockwise then a horizontal flip.
        case .rightMirrored: self.init(rotationDegrees: 270, mirrored: true)
        @unknown default: self.init(rotationDegrees: 0, mirrored: false)
        }
    }
}
#endif

/// The `CVPixelBuffer` adapter: which formats it takes and how it lays them out.
public enum LiveProofFrames {
    /// The pixel format a Core Video format type maps to: bi-planar 4:2:0 (full or video
    /// range, `420f` / `420v`) → NV12, `BGRA` → BGRA; `nil` for anything else (ask the
    /// `AVCaptureVideoDataOutput` for one of these in `videoSettings`).
    public static func pixelFormat(of type: OSType) -> PixelFormat? {
        switch type {
        case kCVPixelFormatType_420YpCbCr8BiPlanarFullRange,
            kCVPixelFormatType_420YpCbCr8BiPlanarVideoRange:
            return .nv12
        case kCVPixelFormatType_32BGRA:
            return .bgra8888
        default:
            return nil
        }
    }

    /// Locks `pixelBuffer` read-only, calls `body` with its planes wrapped without a copy (the
    /// chroma plane is `Data()` for BGRA) and the layout, and unlocks when `body` returns or
    /// throws. The `Data` values point into the locked buffer: they must not escape `body`.
    public static func withPlanes<R>(
        of pixelBuffer: CVPixelBuffer,
        orientation: FrameOrientation = .up,
        timestampNs: UInt64 = 0,
        _ body: (_ plane0: Data, _ plane1: Data, _ layout: PlaneLayout) throws -> R
    ) throws -> R {
        let type = CVPixelBufferGetPixelFormatType(pixelBuffer)
        guard let format = pixelFormat(of: type) else {
            throw ApiError.InvalidArgument(
                message: "pixel buffer format \(fourCC(type)) is not supported; expected 420f, "
                    + "420v or BGRA")
        }
        let locked = CVPixelBufferLockBaseAddress(pixelBuffer, .readOnly)
        guard locked == kCVReturnSuccess else {
            throw ApiError.InvalidArgument(
                message: "CVPixelBufferLockBaseAddress failed (CVReturn \(locked))")
        }
        defer { CVPixelBufferUnlockBaseAddress(pixelBuffer, .readOnly) }

        var planes: [Data] = []
        var strides: [UInt32] = []
        if format == .nv12 {
            guard CVPixelBufferIsPlanar(pixelBuffer), CVPixelBufferGetPlaneCount(pixelBuffer) == 2
            else {
                throw ApiError.InvalidArgument(message: "a 4:2:0 bi-planar buffer without 2 planes")
            }
            for plane in 0..<2 {
                let rowBytes = CVPixelBufferGetBytesPerRowOfPlane(pixelBuffer, plane)
                let rows = CVPixelBufferGetHeightOfPlane(pixelBuffer, plane)
                planes.append(
                    try borrowed(
                        CVPixelBufferGetBaseAddressOfPlane(pixelBuffer, plane),
                        count: rowBytes * rows, plane: plane))
                strides.append(UInt32(rowBytes))
            }
        } else {
            let rowBytes = CVPixelBufferGetBytesPerRow(pixelBuffer)
            let rows = CVPixelBufferGetHeight(pixelBuffer)
            planes.append(
                try borrowed(CVPixelBufferGetBaseAddress(pixelBuffer), count: rowBytes * rows, plane: 0))
            planes.append(Data())
            strides.append(UInt32(rowBytes))
        }
        let layout = PlaneLayout(
            width: UInt32(CVPixelBufferGetWidth(pixelBuffer)),
            height: UInt32(CVPixelBufferGetHeight(pixelBuffer)),
            format: format,
            rowStrides: strides,
            rotationDegrees: orientation.rotationDegrees,
            mirrored: orientation.mirrored,
            timestampNs: timestampNs
        )
        return try body(planes[0], planes[1], layout)
    }

    /// `count` bytes at `base` as `Data` that neither copies nor frees them. (Foundation copies
    /// only tiny buffers, at most 14 bytes, into its inline form; a camera plane never is one.)
    private static func borrowed(_ base: UnsafeMutableRawPointer?, count: Int, plane: Int) throws -> Data {
        guard let base = base, count > 0 else {
            throw ApiError.InvalidArgument(message: "pixel buffer plane \(plane) has no base address")
        }
        return Data(bytesNoCopy: base, count: count, deallocator: .none)
    }

    /// A four-character code as text (`420f`), or its number when not printable.
    static func fourCC(_ code: OSType) -> String {
        let bytes = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: code >> $0) }
        guard bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
            return String(code)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    #if canImport(CoreMedia)
    /// The sample buffer's presentation time in nanoseconds (the capture clock: monotonic), or
    /// 0 when it has none.
    public static func timestampNs(of sampleBuffer: CMSampleBuffer) -> UInt64 {
        let time = CMSampleBufferGetPresentationTimeStamp(sampleBuffer)
        guard time.isNumeric else {
            return 0
        }
        let ns = CMTimeConvertScale(time, timescale: 1_000_000_000, method: .roundHalfAwayFromZero)
        return ns.value > 0 ? UInt64(ns.value) : 0
    }
    #endif
}

extension CaptureSession {
    /// Consumes one camera frame without copying it: 420f / 420v (NV12) or BGRA, locked
    /// read-only for the call. `timestampNs`: capture time on a monotonic clock.
    @discardableResult
    public func push(
        _ pixelBuffer: CVPixelBuffer,
        orientation: FrameOrientation = .up,
        timestampNs: UInt64 = 0
    ) throws -> CaptureFeedback {
        let session = self.session
        return try LiveProofFrames.withPlanes(
            of: pixelBuffer, orientation: orientation, timestampNs: timestampNs
        ) { plane0, plane1, layout in
            CaptureFeedback(
                try session.pushPlanes(plane0: plane0, plane1: plane1, plane2: Data(), layout: layout))
        }
    }

    #if canImport(CoreMedia)
    /// Consumes the frame of an `AVCaptureVideoDataOutput` sample buffer, without copying it,
    /// with its presentation timestamp. Call it from `captureOutput(_:didOutput:from:)`.
    @discardableResult
    public func push(
        _ sampleBuffer: CMSampleBuffer,
        orientation: FrameOrientation = .up
    ) throws -> CaptureFeedback {
        guard let pixelBuffer = CMSampleBufferGetImageBuffer(sampleBuffer) else {
            throw ApiError.InvalidArgument(message: "the sample buffer holds no image buffer")
        }
        return try push(
            pixelBuffer, orientation: orientation,
            timestampNs: LiveProofFrames.timestampNs(of: sampleBuffer))
    }
    #endif
}
#endif

// LiveProof's idiomatic Kotlin layer over the generated bindings (org.liveproof.ffi).
// Hand-written; `cargo xtask gen` never touches this file.

package org.liveproof

import java.io.Closeable
import java.io.File
import org.liveproof.ffi.ApiException
import org.liveproof.ffi.DetectorKind
import org.liveproof.ffi.EngineConfig
import org.liveproof.ffi.Frame
import org.liveproof.ffi.FrameAnalysis
import org.liveproof.ffi.Hint
import org.liveproof.ffi.PixelFormat
import org.liveproof.ffi.Plane
import org.liveproof.ffi.Engine as FfiEngine
import org.liveproof.ffi.Tracker as FfiTracker

/**
 * The SDK's entry point: the models loaded once (sha256-checked), shared by every thread and
 * tracker. Close it when done (or use `use { }`); closing twice is safe, and trackers opened from
 * it stay usable until they are closed themselves.
 *
 * Failures throw [ApiException] subclasses; [ApiException.reason] is the Rust library's sentence
 * saying what was wrong and what was expected.
 */
class Engine private constructor(private val engine: FfiEngine) : Closeable {
    companion object {
        /**
         * Loads the engine from [modelsDir] (the model files named in the manifest) and the ONNX
         * Runtime library [ortLibrary] (`null` = `$ORT_DYLIB_PATH`). [threads] is ONNX Runtime's
         * intra-op thread count per model (1..64; 1 leaves the app its other cores).
         */
        @JvmStatic
        @JvmOverloads
        @Throws(ApiException::class)
        fun open(
            modelsDir: File,
            ortLibrary: File? = null,
            detector: DetectorKind = DetectorKind.BLAZE_FACE_FRONT,
            threads: Int = 1,
        ): Engine {
            return Engine(FfiEngine(engineConfig(modelsDir, ortLibrary?.path, detector, threads)))
        }

        /** The native library's version, e.g. "0.1.0". */
        @JvmStatic
        val version: String
            get() = org.liveproof.ffi.version()
    }

    /** True once [close] has run. */
    val isClosed: Boolean
        get() = engine.uniffiIsDestroyed

    /**
     * Analyses a still image: every face gets a box, keypoints, 468 landmarks and a quality
     * report with hints. Thread-safe: concurrent calls run in parallel.
     */
    @Throws(ApiException::class)
    fun analyze(frame: Frame): FrameAnalysis = engine.analyzeFrame(frame)

    /** A tracker for one camera stream (one per camera; close it when the camera stops). */
    fun openTracker(): Tracker = Tracker(engine.newTracker())

    override fun close() = engine.close()
}

/**
 * One camera stream in tracking mode: the face found on one frame seeds the next frame's
 * landmarks. Frames are processed one at a time, in timestamp order.
 */
class Tracker internal constructor(private val tracker: FfiTracker) : Closeable {
    /** Processes the next frame; give frames increasing [Frame.timestampNs]. */
    @Throws(ApiException::class)
    fun process(frame: Frame): FrameAnalysis = tracker.process(frame)

    /** Forgets the tracked face (e.g. when the camera restarts). */
    fun reset() = tracker.reset()

    /** True once [close] has run. */
    val isClosed: Boolean
        get() = tracker.uniffiIsDestroyed

    override fun close() = tracker.close()
}

/**
 * The Rust library's sentence (what was wrong and what was expected), without the kind prefix
 * that [ApiException.message] starts with ("invalid argument: ", "model missing: ", ...).
 */
val ApiException.reason: String
    get() = message?.substringAfter(": ") ?: ""

/**
 * What to show the user for this hint, from [LiveProofTexts.default] (English, replaceable: see
 * [LiveProofTexts]).
 */
val Hint.userMessage: String
    get() = LiveProofTexts.default.hint(this)

/** The hint to show now (highest priority first), or null when the frame is good. */
val FrameAnalysis.topHint: Hint?
    get() = hints.firstOrNull()

/**
 * Builders for [Frame] from common buffers. Sizes are in pixels of the buffer as
 * delivered (before [rotationDegrees], the clockwise rotation that makes it upright); a row
 * stride of 0 means tightly packed rows. The Rust library validates every size and stride.
 */
object Frames {
    /** Packed R, G, B bytes. */
    @JvmStatic
    @JvmOverloads
    fun rgb(
        bytes: ByteArray, width: Int, height: Int, rowStride: Int = 0,
        rotationDegrees: Int = 0, mirrored: Boolean = false, timestampNs: Long = 0,
    ): Frame = packed(PixelFormat.RGB888, 3, bytes, width, height, rowStride, rotationDegrees, mirrored, timestampNs)

    /** Packed R, G, B, A bytes (Android `Bitmap.Config.ARGB_8888` memory order). */
    @JvmStatic
    @JvmOverloads
    fun rgba(
        bytes: ByteArray, width: Int, height: Int, rowStride: Int = 0,
        rotationDegrees: Int = 0, mirrored: Boolean = false, timestampNs: Long = 0,
    ): Frame = packed(PixelFormat.RGBA8888, 4, bytes, width, height, rowStride, rotationDegrees, mirrored, timestampNs)

    /** Packed B, G, R, A bytes. */
    @JvmStatic
    @JvmOverloads
    fun bgra(
        bytes: ByteArray, width: Int, height: Int, rowStride: Int = 0,
        rotationDegrees: Int = 0, mirrored: Boolean = false, timestampNs: Long = 0,
    ): Frame = packed(PixelFormat.BGRA8888, 4, bytes, width, height, rowStride, rotationDegrees, mirrored, timestampNs)

    /** One luma byte per pixel. */
    @JvmStatic
    @JvmOverloads
    fun gray(
        bytes: ByteArray, width: Int, height: Int, rowStride: Int = 0,
        rotationDegrees: Int = 0, mirrored: Boolean = false, timestampNs: Long = 0,
    ): Frame = packed(PixelFormat.GRAY8, 1, bytes, width, height, rowStride, rotationDegrees, mirrored, timestampNs)

    /**
     * NV21 as one tightly packed buffer (Y plane, then interleaved V,U at half resolution), as
     * Android's legacy camera API delivers it. Even width and height.
     */
    @JvmStatic
    @JvmOverloads
    fun nv21(
        bytes: ByteArray, width: Int, height: Int,
        rotationDegrees: Int = 0, mirrored: Boolean = false, timestampNs: Long = 0,
    ): Frame {
        checkSize(width, height)
        val ySize = width * height
        val y = bytes.copyOfRange(0, minOf(ySize, bytes.size))
        val vu = if (bytes.size > ySize) bytes.copyOfRange(ySize, bytes.size) else ByteArray(0)
        return Frame(
            width = width.toUInt(),
            height = height.toUInt(),
            format = PixelFormat.NV21,
            planes = listOf(Plane(y, width.toUInt()), Plane(vu, width.toUInt())),
            rotationDegrees = rotationDegrees,
            mirrored = mirrored,
            timestampNs = timestampNs.toULong(),
        )
    }

    private fun packed(
        format: PixelFormat, bytesPerPixel: Int, bytes: ByteArray, width: Int, height: Int,
        rowStride: Int, rotationDegrees: Int, mirrored: Boolean, timestampNs: Long,
    ): Frame {
        checkSize(width, height)
        require(rowStride >= 0) { "row stride must be ≥ 0 (0 = packed), got $rowStride" }
        require(timestampNs >= 0) { "timestamp must be ≥ 0 ns, got $timestampNs" }
        val stride = if (rowStride == 0) width * bytesPerPixel else rowStride
        return Frame(
            width = width.toUInt(),
            height = height.toUInt(),
            format = format,
            planes = listOf(Plane(bytes, stride.toUInt())),
            rotationDegrees = rotationDegrees,
            mirrored = mirrored,
            timestampNs = timestampNs.toULong(),
        )
    }

    private fun checkSize(width: Int, height: Int) {
        require(width >= 0 && height >= 0) { "frame size ${width}×$height is negative" }
    }
}

/** The engine settings both entry points ([Engine.open], [LivenessEngine.open]) build. */
internal fun engineConfig(modelsDir: File, ortLibrary: String?, detector: DetectorKind, threads: Int): EngineConfig {
    require(threads >= 0) { "threads must be 1..64, got $threads" }
    return EngineConfig(
        modelsDir = modelsDir.path,
        detector = detector,
        ortLibraryPath = ortLibrary,
        intraOpThreads = threads.toUInt(),
    )
}

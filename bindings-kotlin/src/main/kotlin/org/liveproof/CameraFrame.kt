// The CameraX-shaped frame adapter: planes exactly as `ImageProxy` exposes them, without
// depending on androidx. Hand-written.

package org.liveproof

import java.nio.ByteBuffer

/**
 * One plane of a camera image, as `ImageProxy.PlaneProxy` (and `android.media.Image.Plane`)
 * exposes it: the plane's [buffer] (direct on Android; not copied, not moved: LiveProof reads
 * it from its position during the push only), the bytes between rows ([rowStride]) and between
 * neighbouring samples of a row ([pixelStride]: 1 planar, 2 interleaved chroma).
 */
class CameraPlane(val buffer: ByteBuffer, val rowStride: Int, val pixelStride: Int) {
    init {
        require(rowStride > 0) { "row stride must be > 0, got $rowStride" }
        require(pixelStride > 0) { "pixel stride must be > 0, got $pixelStride" }
    }
}

/**
 * A `YUV_420_888` camera image as CameraX's `ImageProxy` exposes it: the buffer size
 * ([width] × [height], before rotation), the Y, U and V [planes], `imageInfo.rotationDegrees`
 * (clockwise rotation that makes the image upright), `imageInfo.timestamp` (monotonic
 * nanoseconds) and whether the preview is [mirrored] (front camera). Push it with
 * [LivenessSession.push]; the planes are passed to the library without a copy.
 *
 * CameraX (`androidx.camera.core.ImageProxy`, `ImageAnalysis` with the default
 * `OUTPUT_IMAGE_FORMAT_YUV_420_888`) — the one extension an app adds:
 * ```
 * fun ImageProxy.toLiveProofFrame() = CameraFrame(width, height,
 *     planes.map { CameraPlane(it.buffer, it.rowStride, it.pixelStride) },
 *     imageInfo.rotationDegrees, imageInfo.timestamp)
 * ```
 * and in the analyzer: `session.push(image.toLiveProofFrame())`, then `image.close()`.
 */
class CameraFrame @JvmOverloads constructor(
    val width: Int,
    val height: Int,
    val planes: List<CameraPlane>,
    val rotationDegrees: Int = 0,
    val timestampNs: Long = 0,
    val mirrored: Boolean = false,
) {
    init {
        require(width > 0 && height > 0) { "frame size ${width}×$height: both sides must be ≥ 1" }
        require(planes.size == 3) { "YUV_420_888 has 3 planes (Y, U, V), got ${planes.size}" }
        require(timestampNs >= 0) { "timestamp must be ≥ 0 ns, got $timestampNs" }
        require(planes[1].pixelStride == planes[2].pixelStride && planes[1].rowStride == planes[2].rowStride) {
            "U and V must share row and pixel strides (got ${planes[1].rowStride}/${planes[1].pixelStride} " +
                "and ${planes[2].rowStride}/${planes[2].pixelStride})"
        }
    }

    companion object {
        /**
         * An NV21 buffer (Y plane, then interleaved V,U rows; tightly packed unless
         * [rowStride] says otherwise) as the three views Android's camera gives for it: U is a
         * view of the chroma starting one byte after V, both with pixel stride 2. No copy.
         */
        @JvmStatic
        @JvmOverloads
        fun nv21(
            buffer: ByteBuffer, width: Int, height: Int, rowStride: Int = width,
            rotationDegrees: Int = 0, timestampNs: Long = 0, mirrored: Boolean = false,
        ): CameraFrame {
            val chromaRows = (height + 1) / 2
            val chromaBytes = (chromaRows - 1) * rowStride + 2 * ((width + 1) / 2)
            val base = buffer.position()
            val yLen = (height - 1) * rowStride + width
            val chromaStart = base + height * rowStride
            require(buffer.limit() >= chromaStart + chromaBytes) {
                "NV21 ${width}×$height with row stride $rowStride needs ${height * rowStride + chromaBytes} bytes, " +
                    "got ${buffer.limit() - base}"
            }
            val y = view(buffer, base, yLen)
            val v = view(buffer, chromaStart, chromaBytes - 1)
            val u = view(buffer, chromaStart + 1, chromaBytes - 1)
            return CameraFrame(
                width, height,
                listOf(CameraPlane(y, rowStride, 1), CameraPlane(u, rowStride, 2), CameraPlane(v, rowStride, 2)),
                rotationDegrees, timestampNs, mirrored,
            )
        }

        /** I420 (Y, then U, then V, each tightly packed): three planar views of one buffer. */
        @JvmStatic
        @JvmOverloads
        fun i420(
            buffer: ByteBuffer, width: Int, height: Int,
            rotationDegrees: Int = 0, timestampNs: Long = 0, mirrored: Boolean = false,
        ): CameraFrame {
            val (cw, ch) = (width + 1) / 2 to (height + 1) / 2
            val base = buffer.position()
            require(buffer.limit() - base >= width * height + 2 * cw * ch) {
                "I420 ${width}×$height needs ${width * height + 2 * cw * ch} bytes, got ${buffer.limit() - base}"
            }
            return CameraFrame(
                width, height,
                listOf(
                    CameraPlane(view(buffer, base, width * height), width, 1),
                    CameraPlane(view(buffer, base + width * height, cw * ch), cw, 1),
                    CameraPlane(view(buffer, base + width * height + cw * ch, cw * ch), cw, 1),
                ),
                rotationDegrees, timestampNs, mirrored,
            )
        }

        private fun view(buffer: ByteBuffer, start: Int, len: Int): ByteBuffer =
            buffer.duplicate().apply {
                limit(start + len)
                position(start)
            }.slice()
    }
}

package org.liveproof

import java.awt.Color
import java.awt.RenderingHints
import java.awt.image.BufferedImage
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test
import org.liveproof.ffi.ApiException
import org.liveproof.ffi.Frame

/**
 * The per-frame cost of the Kotlin → Rust boundary for NV21 camera frames, beside the
 * pipeline's own cost: `push(Frame)` (a record whose planes are `ByteArray`s: copied into a
 * RustBuffer by Kotlin, then into `Vec`s by Rust) against `push(CameraFrame)` (direct
 * `ByteBuffer`s: `pushYuv420888`, read in place).
 *
 * (a) the boundary alone: the call on a finished session, which converts the frame and is
 * then refused (`SessionState`) before any image work; a 2×2 frame on the same path gives the
 * call + refusal overhead alone. (b) a real frame's whole push (the SYNTHETIC capture's first
 * frame scaled onto the canvas) on a live local session.
 *
 * Medians and p95 over N calls (1000 for (a), 200 for (b)) after a warm-up of every path. Run by `cargo xtask bench --kotlin` (JUnit tag
 * `bench`, left out of `mvn test`); it prints `liveproof-bench:` lines and asserts nothing
 * about speed.
 */
@Tag("bench")
class BoundaryBench {
    private val warmup = 100
    private val nBoundary = 1000
    private val nFull = 200

    private fun canvas(w: Int, h: Int): TestCapture.RgbFrame {
        val src = TestCapture.frames[0]
        val img = BufferedImage(src.width, src.height, BufferedImage.TYPE_INT_RGB)
        var k = 0
        for (y in 0 until src.height) for (x in 0 until src.width) {
            val r = src.rgb[k++].toInt() and 0xFF
            val g = src.rgb[k++].toInt() and 0xFF
            val b = src.rgb[k++].toInt() and 0xFF
            img.setRGB(x, y, (r shl 16) or (g shl 8) or b)
        }
        val out = BufferedImage(w, h, BufferedImage.TYPE_INT_RGB)
        val g = out.createGraphics()
        g.color = Color(96, 96, 96)
        g.fillRect(0, 0, w, h)
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR)
        val sw = src.width * h / src.height
        g.drawImage(img, (w - sw) / 2, 0, sw, h, null)
        g.dispose()
        val rgb = ByteArray(w * h * 3)
        k = 0
        for (y in 0 until h) for (x in 0 until w) {
            val p = out.getRGB(x, y)
            rgb[k++] = (p shr 16).toByte()
            rgb[k++] = (p shr 8).toByte()
            rgb[k++] = p.toByte()
        }
        return TestCapture.RgbFrame(w, h, rgb, 0)
    }

    private class Stats(samples: LongArray) {
        val median: Double
        val p95: Double
        init {
            samples.sort()
            median = samples[samples.size / 2] / 1000.0
            p95 = samples[(samples.size * 95) / 100] / 1000.0
        }
        override fun toString() = "median %.1f µs, p95 %.1f µs".format(median, p95)
    }

    private inline fun time(n: Int, call: (Int) -> Unit): Stats {
        for (i in 0 until warmup) call(i)
        val t = LongArray(n)
        for (i in 0 until n) {
            val t0 = System.nanoTime()
            call(warmup + i)
            t[i] = System.nanoTime() - t0
        }
        return Stats(t)
    }

    @Test
    fun nv21Boundary() {
        LivenessEngine.open(TestCapture.modelsDir, TestCapture.ortLib.path).use { engine ->
            println("liveproof-bench: JVM ${System.getProperty("java.version")}, library ${System.getProperty("jna.library.path")}")
            for ((w, h) in listOf(640 to 480, 1280 to 720)) {
                val nv21 = canvas(w, h).nv21()
                val record: Frame = Frames.nv21(nv21, w, h)
                val buffer = TestCapture.direct(nv21)
                val camera = CameraFrame.nv21(buffer, w, h)
                val tiny = Frames.nv21(ByteArray(6), 2, 2)

                // (a) The boundary: a finished session converts the frame, then refuses it.
                val done = engine.startLocalSession(TestCapture.seed)
                done.finishBlocking()
                fun refused(push: () -> Unit) = try {
                    push()
                    error("a finished session took a frame")
                } catch (e: ApiException.SessionState) {
                }
                // Warm every path first (JIT), so that the order of the runs does not count.
                repeat(3) {
                    time(warmup) { refused { done.push(tiny) } }
                    time(warmup) { refused { done.push(record) } }
                    time(warmup) { refused { done.push(camera) } }
                }
                val baseline = time(nBoundary) { refused { done.push(tiny) } }
                val recordA = time(nBoundary) { refused { done.push(record) } }
                val directA = time(nBoundary) { refused { done.push(camera) } }
                // The record's Kotlin half alone: lowering into a RustBuffer (alloc + copy), freed.
                val lowerOnly = time(nBoundary) {
                    org.liveproof.ffi.RustBuffer.free(org.liveproof.ffi.FfiConverterTypeFrame.lower(record))
                }
                done.close()

                // (b) A real frame's whole push on a live session.
                fun full(push: (LivenessSession, Long) -> Unit): Stats {
                    var s = engine.startLocalSession(TestCapture.seed)
                    val st = time(nFull) { i ->
                        try {
                            push(s, i * 33_333_333L)
                        } catch (e: ApiException.SessionState) {
                            s.close()
                            s = engine.startLocalSession(TestCapture.seed)
                        }
                    }
                    s.close()
                    return st
                }
                val recordB = full { s, ts ->
                    record.timestampNs = ts.toULong()
                    s.push(record)
                }
                val directB = full { s, ts -> s.push(CameraFrame.nv21(buffer, w, h, timestampNs = ts)) }

                println("liveproof-bench: NV21 ${w}x$h (${nv21.size} bytes)")
                println("liveproof-bench:   call + refusal only (2x2 frame)      : $baseline")
                println("liveproof-bench:   (a) boundary, pushFrame(ByteArray)   : $recordA")
                println("liveproof-bench:   (a) boundary, pushYuv420888(direct)  : $directA")
                println("liveproof-bench:       of which the record's Kotlin lowering: $lowerOnly")
                println("liveproof-bench:   (b) whole push, pushFrame(ByteArray) : $recordB")
                println("liveproof-bench:   (b) whole push, pushYuv420888(direct): $directB")
                println(
                    "liveproof-bench:   copy cost (a record - a direct) = %.1f µs = %.1f%% of the whole push; record/direct boundary ratio %.1f×"
                        .format(recordA.median - directA.median, 100 * (recordA.median - directA.median) / directB.median, recordA.median / directA.median)
                )
            }
        }
    }
}

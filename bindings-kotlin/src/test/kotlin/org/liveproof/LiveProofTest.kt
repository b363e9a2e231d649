package org.liveproof

import java.io.File
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO
import kotlin.math.abs
import kotlin.math.max
import org.json.JSONArray
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.liveproof.ffi.ApiException
import org.liveproof.ffi.FaceAnalysis
import org.liveproof.ffi.Frame
import org.liveproof.ffi.FrameAnalysis
import org.liveproof.ffi.FrameNote
import org.liveproof.ffi.Hint
import org.liveproof.ffi.PixelFormat
import org.liveproof.ffi.Plane

/**
 * The Kotlin surface on the JVM, against the host-built libliveproof_ffi.so (found through
 * -Djna.library.path) and the real models. `cargo xtask test` sets the environment:
 * LIVEPROOF_MODELS_DIR, ORT_DYLIB_PATH, LIVEPROOF_FIXTURES_DIR and LIVEPROOF_CLI (the Rust CLI
 * whose JSON the Kotlin results are compared with).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LiveProofTest {
    private lateinit var engine: Engine
    private lateinit var astronaut: Rgb

    /** A decoded image: packed R, G, B bytes. */
    class Rgb(val width: Int, val height: Int, val bytes: ByteArray)

    private fun env(name: String): String =
        System.getenv(name)?.takeIf { it.isNotEmpty() }
            ?: throw IllegalStateException("$name is not set: run the tests through `cargo xtask test`")

    private val modelsDir get() = File(env("LIVEPROOF_MODELS_DIR"))
    private val ortLib get() = File(env("ORT_DYLIB_PATH"))
    private val astronautPath get() = File(env("LIVEPROOF_FIXTURES_DIR"), "astronaut.png")

    private fun decodeRgb(file: File): Rgb {
        val img = ImageIO.read(file) ?: throw IllegalStateException("cannot decode $file")
        val out = ByteArray(img.width * img.height * 3)
        var i = 0
        for (y in 0 until img.height) {
            for (x in 0 until img.width) {
                val argb = img.getRGB(x, y)
                out[i++] = (argb shr 16).toByte()
                out[i++] = (argb shr 8).toByte()
                out[i++] = argb.toByte()
            }
        }
        return Rgb(img.width, img.height, out)
    }

    private fun Rgb.frame(): Frame = Frames.rgb(bytes, width, height)

    @BeforeAll
    fun load() {
        engine = Engine.open(modelsDir, ortLib)
        astronaut = decodeRgb(astronautPath)
    }

    @AfterAll
    fun unload() = engine.close()

    /** Largest per-coordinate difference between two faces' landmarks, pixels. */
    private fun maxLandmarkDiff(a: FaceAnalysis, b: FaceAnalysis): Double {
        assertEquals(a.landmarks.size, b.landmarks.size)
        var d = 0.0
        for ((p, q) in a.landmarks.zip(b.landmarks)) {
            d = max(d, abs(p.x - q.x).toDouble())
            d = max(d, abs(p.y - q.y).toDouble())
            d = max(d, abs(p.z - q.z).toDouble())
        }
        return d
    }

    private fun cliJson(image: File): JSONObject {
        val cli = env("LIVEPROOF_CLI")
        val proc = ProcessBuilder(
            cli, "--models-dir", modelsDir.path, "--ort-lib", ortLib.path,
            "inspect", image.path, "--json",
        ).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val text = proc.inputStream.bufferedReader().readText()
        assertTrue(proc.waitFor(120, TimeUnit.SECONDS), "the CLI did not finish")
        assertEquals(0, proc.exitValue(), "the CLI failed: $cli")
        return JSONObject(text)
    }

    /**
     * (a) astronaut.png decoded by javax.imageio gives one face with 468 landmarks, equal to the
     * Rust CLI's JSON (decoded by the `image` crate) within 1e-3 px. Both run the same code on
     * the same bytes with one ONNX Runtime thread, so the only slack needed is the JSON's decimal
     * form (the shortest that round-trips an f32: exact after parsing); 1e-3 px leaves room for
     * a different kernel path in the runtime without hiding a real divergence (a ROI off by a
     * pixel moves landmarks by ~0.1–1 px).
     */
    @Test
    fun realImageMatchesTheRustCli() {
        val r = engine.analyze(astronaut.frame())
        assertEquals(astronaut.width.toUInt(), r.width)
        assertEquals(astronaut.height.toUInt(), r.height)
        assertEquals(1, r.faces.size, "faces: ${r.faces.size}")
        val face = r.faces[0]
        assertEquals(468, face.landmarks.size)
        assertTrue(face.presence > 0.5f, "presence ${face.presence}")
        assertEquals(6, face.keypoints.size, "BlazeFace keypoints")

        val cli = cliJson(astronautPath).getJSONArray("images").getJSONObject(0)
        val cliFaces = cli.getJSONArray("faces")
        assertEquals(1, cliFaces.length())
        val cf = cliFaces.getJSONObject(0)
        val box = cf.getJSONArray("box")
        val b = face.boundingBox
        val boxDiff = listOf(b.xMin, b.yMin, b.xMax, b.yMax)
            .mapIndexed { i, v -> abs(v - box.getDouble(i)) }.maxOrNull()!!
        val lms: JSONArray = cf.getJSONArray("landmarks")
        assertEquals(468, lms.length())
        var lmDiff = 0.0
        for (i in 0 until 468) {
            val p = lms.getJSONArray(i)
            val q = face.landmarks[i]
            lmDiff = max(lmDiff, abs(q.x - p.getDouble(0)))
            lmDiff = max(lmDiff, abs(q.y - p.getDouble(1)))
            lmDiff = max(lmDiff, abs(q.z - p.getDouble(2)))
        }
        val scoreDiff = abs(face.score - cf.getDouble("score"))
        val presenceDiff = abs(face.presence - cf.getDouble("presence"))
        val cliHints = (0 until cli.getJSONArray("hints").length()).map { cli.getJSONArray("hints").getString(it) }
        println(
            "liveproof-figure: astronaut vs CLI: max |box diff| = %.3g px, max |landmark diff| = %.3g px (tolerance 1e-3), score diff %.3g, presence diff %.3g; hints %s"
                .format(boxDiff, lmDiff, scoreDiff, presenceDiff, r.hints)
        )
        assertTrue(boxDiff <= 1e-3, "box differs from the CLI by $boxDiff px")
        assertTrue(lmDiff <= 1e-3, "landmarks differ from the CLI by $lmDiff px")
        assertTrue(scoreDiff <= 1e-5 && presenceDiff <= 1e-5, "score/presence differ")
        assertEquals(cliHints, r.hints.map { it.name }, "hints")
        // Quality plumbing: pose and the named checks are there and consistent.
        val q = face.quality
        val yaw = q.checks.first { it.name == "yaw" }
        assertEquals(q.yawDeg, yaw.value)
        val cliYaw = cf.getJSONObject("quality").getJSONObject("checks").getJSONObject("yaw").getDouble("value")
        assertTrue(abs(q.yawDeg - cliYaw) <= 1e-3, "yaw ${q.yawDeg} vs CLI $cliYaw")
        assertNotNull(q.sharpness)
    }

    /**
     * The same picture as a BGRA buffer with padded rows, stored rotated (needs 90° clockwise to
     * be upright) and mirrored, then un-mirrored by the frame flags: the upright RGB is
     * bit-identical, so the landmarks must be too (tolerance 0).
     */
    @Test
    fun rotatedPaddedBgraGivesIdenticalLandmarks() {
        val (w, h) = astronaut.width to astronaut.height
        // Stored buffer: size h × w (before rotation); stored(x, y) = upright(y, h - 1 - x)
        // for a 90° clockwise rotation, then mirrored horizontally after rotating: the frame's
        // mirrored flag flips it back.
        val bw = h
        val bh = w
        val stride = bw * 4 + 16
        val buf = ByteArray(stride * bh)
        for (y in 0 until bh) {
            for (x in 0 until bw) {
                // Upright pixel after rotating stored (x, y) by 90° clockwise: (bh - 1 - y, x).
                val ux = w - 1 - (bh - 1 - y) // mirrored
                val uy = x
                val s = (uy * w + ux) * 3
                val d = y * stride + x * 4
                buf[d] = astronaut.bytes[s + 2]
                buf[d + 1] = astronaut.bytes[s + 1]
                buf[d + 2] = astronaut.bytes[s]
                buf[d + 3] = 0xFF.toByte()
            }
        }
        val frame = Frames.bgra(buf, bw, bh, rowStride = stride, rotationDegrees = 90, mirrored = true)
        val r = engine.analyze(frame)
        val ref = engine.analyze(astronaut.frame())
        assertEquals(ref.width, r.width)
        assertEquals(1, r.faces.size)
        val d = maxLandmarkDiff(ref.faces[0], r.faces[0])
        println("liveproof-figure: rotated+mirrored padded BGRA vs RGB: max |landmark diff| = $d px (tolerance 0)")
        assertEquals(0.0, d)
    }

    /**
     * (b) Dark input gives TOO_DARK: the astronaut at 10% brightness (face mean luma below the
     * gate's 50), and a uniformly dark frame (no face: the frame-level exposure hint).
     */
    @Test
    fun darkImagesGiveTooDark() {
        val dim = ByteArray(astronaut.bytes.size) { ((astronaut.bytes[it].toInt() and 0xFF) / 10).toByte() }
        val r = engine.analyze(Frames.rgb(dim, astronaut.width, astronaut.height))
        val meanLuma = r.faces.firstOrNull()?.quality?.meanLuma
        println("liveproof-figure: astronaut at 10% brightness: ${r.faces.size} face(s), face mean luma $meanLuma, hints ${r.hints}")
        assertTrue(Hint.TOO_DARK in r.hints, "hints ${r.hints}")
        if (meanLuma != null) assertTrue(meanLuma < 50f, "mean luma $meanLuma")
        assertEquals(Hint.TOO_DARK.userMessage, "Find more light")

        val (w, h) = 320 to 240
        val black = engine.analyze(Frames.gray(ByteArray(w * h) { 8 }, w, h))
        assertEquals(listOf(Hint.NO_FACE, Hint.TOO_DARK), black.hints)
        assertEquals(Hint.NO_FACE, black.topHint)
        assertEquals(0, black.faces.size)
    }

    /** (c) Bad frames throw ApiException.InvalidArgument carrying the Rust library's sentence. */
    @Test
    fun badFramesThrowInvalidArgumentWithCoresMessage() {
        val (w, h) = 64 to 48
        fun invalid(frame: Frame): String =
            assertThrows(ApiException.InvalidArgument::class.java) { engine.analyze(frame) }.reason

        assertEquals(
            "frame plane 0 stride 100 < width 64 × 3 bytes",
            invalid(Frames.rgb(ByteArray(w * h * 3), w, h, rowStride = 100)),
        )
        // The exception's own message is the plain sentence with its kind, as C gets it.
        assertEquals(
            "invalid argument: frame plane 0 stride 100 < width 64 × 3 bytes",
            assertThrows(ApiException.InvalidArgument::class.java) {
                engine.analyze(Frames.rgb(ByteArray(w * h * 3), w, h, rowStride = 100))
            }.message,
        )
        assertEquals(
            "frame plane 0 has 9215 bytes; expected at least 9216 = (48 - 1) rows × stride 192 + 192 bytes of the last row",
            invalid(Frames.rgb(ByteArray(w * h * 3 - 1), w, h)),
        )
        assertEquals(
            "rotation 45° is not supported; expected a multiple of 90° (0, 90, 180, 270)",
            invalid(Frames.rgb(ByteArray(w * h * 3), w, h, rotationDegrees = 45)),
        )
        assertEquals(
            "Nv21 frame has 1 planes; expected 2",
            invalid(Frame(w.toUInt(), h.toUInt(), PixelFormat.NV21, listOf(Plane(ByteArray(w * h), w.toUInt())))),
        )
        assertEquals(
            "frame size 0×48 has a zero side; expected both sides ≥ 1",
            invalid(Frames.rgb(ByteArray(0), 0, h)),
        )
        // The message also reaches Throwable.message (UniFFI's "field=value" form).
        val e = assertThrows(ApiException::class.java) {
            engine.analyze(Frames.rgb(ByteArray(w * h * 3), w, h, rowStride = 100))
        }
        assertTrue(e.message!!.contains("stride 100 < width 64"), e.message)
    }

    /** Set-up errors map to their kinds: a missing runtime, a models folder without the models. */
    @Test
    fun setupErrorsMapToTheirKinds() {
        val noRuntime = assertThrows(ApiException.RuntimeUnavailable::class.java) {
            Engine.open(modelsDir, File("/nonexistent/libonnxruntime.so"))
        }
        assertTrue(noRuntime.reason.contains("/nonexistent/libonnxruntime.so"), noRuntime.reason)
        val empty = createTempDir()
        try {
            val noModels = assertThrows(ApiException.ModelMissing::class.java) { Engine.open(empty, ortLib) }
            assertTrue(noModels.reason.contains(empty.path), noModels.reason)
        } finally {
            empty.delete()
        }
        val badThreads = assertThrows(ApiException.InvalidArgument::class.java) {
            Engine.open(modelsDir, ortLib, threads = 0)
        }
        assertTrue(badThreads.reason.contains("intra_op_threads must be 1..=64, got 0"), badThreads.reason)
    }

    private fun createTempDir(): File =
        java.nio.file.Files.createTempDirectory("liveproof-empty-models").toFile()

    /** (d) close() twice is safe, on the engine and on a tracker; a closed engine says so. */
    @Test
    fun closeTwiceIsSafe() {
        val lp = Engine.open(modelsDir, ortLib)
        val tracker = lp.openTracker()
        lp.close()
        lp.close()
        assertTrue(lp.isClosed)
        val e = assertThrows(IllegalStateException::class.java) { lp.analyze(astronaut.frame()) }
        assertTrue(e.message!!.contains("destroyed"), e.message)
        // A tracker keeps the engine's models alive after the engine is closed.
        val r = tracker.process(astronaut.frame())
        assertEquals(1, r.faces.size)
        tracker.close()
        tracker.close()
        assertTrue(tracker.isClosed)
        Engine.open(modelsDir, ortLib).use { assertFalse(it.isClosed) }
    }

    /** Tracking: the second frame of a tracker is carried by the first one's landmarks. */
    @Test
    fun trackerTracksAcrossFrames() {
        engine.openTracker().use { s ->
            val first = s.process(Frames.rgb(astronaut.bytes, astronaut.width, astronaut.height, timestampNs = 0))
            val second = s.process(Frames.rgb(astronaut.bytes, astronaut.width, astronaut.height, timestampNs = 33_000_000))
            assertTrue(first.detectorRan)
            assertFalse(second.detectorRan, "the track should carry the second frame")
            assertEquals(1, second.faces.size)
            assertEquals(468, second.faces[0].landmarks.size)
            val still = engine.analyze(astronaut.frame()).faces[0]
            val d = maxLandmarkDiff(still, second.faces[0])
            println("liveproof-figure: tracked frame 2 vs still: max |landmark diff| = %.3g px".format(d))
            // A re-placed ROI moves FaceMesh's output by a fraction of a pixel on this 512 px image.
            assertTrue(d < 5.0, "tracked landmarks moved by $d px")
        }
    }

    /**
     * Frame notes: a repeated timestamp skips stability, one going backwards restarts the
     * track; each frame says so in [FrameAnalysis.notes] and still succeeds.
     */
    @Test
    fun trackerReportsRepeatedAndBackwardsTimestamps() {
        engine.openTracker().use { t ->
            fun at(ms: Long) = t.process(Frames.rgb(astronaut.bytes, astronaut.width, astronaut.height, timestampNs = ms * 1_000_000))
            val notes = listOf(100L, 133L, 133L, 50L).map { at(it) }.map { it.notes }
            println("liveproof-figure: notes at 100, 133, 133, 50 ms: $notes")
            assertEquals(
                listOf(emptyList(), emptyList(), listOf(FrameNote.REPEATED_TIMESTAMP), listOf(FrameNote.CLOCK_WENT_BACKWARDS)),
                notes,
            )
        }
    }

    /** (e) Two threads share one engine: every result equals the single-threaded one exactly. */
    @Test
    fun twoThreadsShareOneEngine() {
        val reference = engine.analyze(astronaut.frame()).faces.single()
        val threads = 2
        val rounds = 3
        val pool = Executors.newFixedThreadPool(threads)
        val barrier = CyclicBarrier(threads)
        try {
            val futures = (0 until threads).map {
                pool.submit<List<FrameAnalysis>> {
                    barrier.await()
                    (0 until rounds).map { engine.analyze(astronaut.frame()) }
                }
            }
            val results = futures.flatMap { it.get(300, TimeUnit.SECONDS) }
            assertEquals(threads * rounds, results.size)
            var worst = 0.0
            for (r in results) {
                assertEquals(1, r.faces.size)
                worst = max(worst, maxLandmarkDiff(reference, r.faces[0]))
            }
            println("liveproof-figure: $threads threads × $rounds frames on one engine: max |landmark diff| vs single-threaded = $worst px (tolerance 0)")
            assertEquals(0.0, worst)
        } finally {
            pool.shutdownNow()
        }
    }

    @Test
    fun versionIsTheWorkspaceVersion() {
        assertTrue(Regex("""\d+\.\d+\.\d+.*""").matches(Engine.version), Engine.version)
    }
}

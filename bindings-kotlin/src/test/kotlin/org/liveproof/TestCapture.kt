package org.liveproof

import java.io.File
import java.nio.ByteBuffer
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO
import org.json.JSONObject
import org.liveproof.ffi.Frame
import org.liveproof.ffi.PixelFormat
import org.liveproof.ffi.Plane

/**
 * The inputs `cargo xtask test` prepares for the session tests (LIVEPROOF_TEST_* variables): a
 * SYNTHETIC bona fide capture acting out the challenge of [seedHex], the verifier binary and a
 * server key folder for it, and the Rust CLI.
 */
object TestCapture {
    fun env(name: String): String =
        System.getenv(name)?.takeIf { it.isNotEmpty() }
            ?: throw IllegalStateException("$name is not set: run the tests through `cargo xtask test`")

    val modelsDir: File get() = File(env("LIVEPROOF_MODELS_DIR"))
    val ortLib: File get() = File(env("ORT_DYLIB_PATH"))
    val captureDir: File get() = File(env("LIVEPROOF_TEST_CAPTURE"))
    val serverKeys: File get() = File(env("LIVEPROOF_TEST_KEYS"))
    val verifier: String get() = env("LIVEPROOF_VERIFIER")
    val cli: String get() = env("LIVEPROOF_CLI")
    val seedHex: String get() = env("LIVEPROOF_TEST_SEED")
    val seed: ByteArray get() = seedHex.chunked(2).map { it.toInt(16).toByte() }.toByteArray()

    /** One decoded frame: packed RGB and its capture timestamp. */
    class RgbFrame(val width: Int, val height: Int, val rgb: ByteArray, val timestampNs: Long) {
        fun frame(): Frame = Frames.rgb(rgb, width, height, timestampNs = timestampNs)

        /** NV21 (BT.601 limited range), tightly packed. */
        fun nv21(): ByteArray {
            val out = ByteArray(width * height * 3 / 2)
            yuv { x, y, yy, u, v ->
                out[y * width + x] = yy
                if (x % 2 == 0 && y % 2 == 0) {
                    val c = width * height + (y / 2) * width + x
                    out[c] = v
                    out[c + 1] = u
                }
            }
            return out
        }

        /** I420 (Y, U, V planes), tightly packed. */
        fun i420(): ByteArray {
            val (cw, ch) = width / 2 to height / 2
            val out = ByteArray(width * height + 2 * cw * ch)
            yuv { x, y, yy, u, v ->
                out[y * width + x] = yy
                if (x % 2 == 0 && y % 2 == 0) {
                    out[width * height + (y / 2) * cw + x / 2] = u
                    out[width * height + cw * ch + (y / 2) * cw + x / 2] = v
                }
            }
            return out
        }

        private inline fun yuv(put: (x: Int, y: Int, yy: Byte, u: Byte, v: Byte) -> Unit) {
            for (y in 0 until height) {
                for (x in 0 until width) {
                    val i = (y * width + x) * 3
                    val r = rgb[i].toInt() and 0xFF
                    val g = rgb[i + 1].toInt() and 0xFF
                    val b = rgb[i + 2].toInt() and 0xFF
                    val yy = ((66 * r + 129 * g + 25 * b + 128) shr 8) + 16
                    val u = ((-38 * r - 74 * g + 112 * b + 128) shr 8) + 128
                    val v = ((112 * r - 94 * g - 18 * b + 128) shr 8) + 128
                    put(x, y, yy.coerceIn(0, 255).toByte(), u.coerceIn(0, 255).toByte(), v.coerceIn(0, 255).toByte())
                }
            }
        }
    }

    /** Every frame of the capture, decoded once by javax.imageio. */
    val frames: List<RgbFrame> by lazy { load(captureDir) }

    /** Every frame of a capture folder (`capture.json` + frame files), decoded by javax.imageio. */
    fun load(dir: File): List<RgbFrame> {
        val meta = JSONObject(File(dir, "capture.json").readText())
        val list = meta.getJSONArray("frames")
        return (0 until list.length()).map { i ->
            val f = list.getJSONObject(i)
            val img = ImageIO.read(File(dir, f.getString("file")))
            val rgb = ByteArray(img.width * img.height * 3)
            var k = 0
            for (y in 0 until img.height) for (x in 0 until img.width) {
                val p = img.getRGB(x, y)
                rgb[k++] = (p shr 16).toByte()
                rgb[k++] = (p shr 8).toByte()
                rgb[k++] = p.toByte()
            }
            RgbFrame(img.width, img.height, rgb, f.getLong("timestamp_ns"))
        }
    }

    fun nv21Record(bytes: ByteArray, w: Int, h: Int, ts: Long): Frame = Frames.nv21(bytes, w, h, timestampNs = ts)

    fun i420Record(bytes: ByteArray, w: Int, h: Int, ts: Long): Frame {
        val (cw, ch) = w / 2 to h / 2
        return Frame(
            w.toUInt(), h.toUInt(), PixelFormat.I420,
            listOf(
                Plane(bytes.copyOfRange(0, w * h), w.toUInt()),
                Plane(bytes.copyOfRange(w * h, w * h + cw * ch), cw.toUInt()),
                Plane(bytes.copyOfRange(w * h + cw * ch, w * h + 2 * cw * ch), cw.toUInt()),
            ),
            rotationDegrees = 0, mirrored = false, timestampNs = ts.toULong(),
        )
    }

    /** [bytes] in a new direct buffer, starting at position [offset] (to catch a slice() missed). */
    fun direct(bytes: ByteArray, offset: Int = 0): ByteBuffer {
        val b = ByteBuffer.allocateDirect(offset + bytes.size)
        b.position(offset)
        b.put(bytes)
        b.position(offset)
        return b
    }

    /** Runs a program; returns its exit code and standard output (stderr goes to ours). */
    fun run(vararg args: String): Pair<Int, String> {
        val proc = ProcessBuilder(*args).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val out = proc.inputStream.bufferedReader().readText()
        check(proc.waitFor(120, TimeUnit.SECONDS)) { "${args[0]} did not finish" }
        return proc.exitValue() to out
    }

    /** The server's public keys (SPKI PEM) from the key folder. */
    fun serverKeysPem(): List<String> =
        serverKeys.listFiles { f -> f.name.endsWith(".pub.pem") }!!.sortedBy { it.name }.map { it.readText() }

    /** A fresh token for [seedHex] from the verifier CLI (`issue`), and its session id. */
    fun issueToken(dir: File, tenant: String = "kotlin-tests"): ByteArray {
        val out = File(dir, "token-${System.nanoTime()}.cose")
        val (code, text) = run(
            verifier, "issue", "--key", serverKeys.path, "--tenant", tenant, "--seed", seedHex,
            "--flow", "account_opening", "--tier", "medium", "--out", out.path,
        )
        check(code == 0) { "verifier issue failed ($code): $text" }
        return out.readBytes()
    }

    /** SPKI PEM for a SEC1 uncompressed P-256 public key. */
    fun sec1ToPem(sec1: ByteArray): String {
        require(sec1.size == 65)
        val header = "3059301306072a8648ce3d020106082a8648ce3d030107034200".chunked(2).map { it.toInt(16).toByte() }.toByteArray()
        val b64 = java.util.Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(header + sec1)
        return "-----BEGIN PUBLIC KEY-----\n$b64\n-----END PUBLIC KEY-----\n"
    }

    /**
     * `liveproof-verifier verify` on [signed] with the device key [devicePem]: exit code and
     * its JSON verdict.
     */
    fun verify(dir: File, signed: ByteArray, devicePem: String, sessionId: String): Pair<Int, JSONObject> {
        val result = File(dir, "result-${System.nanoTime()}.cose").apply { writeBytes(signed) }
        val key = File(dir, "device-${System.nanoTime()}.pub.pem").apply { writeText(devicePem) }
        val (code, text) = run(
            verifier, "verify", result.path, "--key", serverKeys.path, "--device-key", key.path,
            "--session", sessionId, "--json",
        )
        return code to JSONObject(text)
    }
}

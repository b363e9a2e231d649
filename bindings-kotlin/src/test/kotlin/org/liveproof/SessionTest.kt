package org.liveproof

import java.io.File
import java.nio.ByteBuffer
import java.nio.file.Files
import java.security.KeyStore
import java.security.KeyStoreException
import java.util.Collections
import java.util.Locale
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.liveproof.TestCapture.direct
import org.liveproof.ffi.ApiException
import org.liveproof.ffi.CallbackException
import org.liveproof.ffi.Hint
import org.liveproof.ffi.LogLevel
import org.liveproof.ffi.Signer
import org.liveproof.ffi.SoftwareSigner
import org.liveproof.ffi.UserPrompt

/**
 * Whole sessions through the idiomatic layer on the JVM, against the host library, the real
 * models and a SYNTHETIC capture acting out the token seed's challenge (prepared by
 * `cargo xtask test`); signed results are checked by the Rust verifier binary.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SessionTest {
    private lateinit var engine: LivenessEngine
    private lateinit var tmp: File

    @BeforeAll
    fun load() {
        engine = LivenessEngine.open(TestCapture.modelsDir, TestCapture.ortLib.path)
        tmp = Files.createTempDirectory("liveproof-kotlin").toFile()
        TestCapture.frames // decode once
    }

    @AfterAll
    fun unload() {
        engine.close()
        tmp.deleteRecursively()
    }

    /** What a session gave: every frame's feedback and the outcome. */
    private class Run(val feedback: List<Feedback>, val outcome: Outcome) {
        val result: JSONObject get() = JSONObject(outcome.resultJson)
        val framesSha256: String get() = result.getString("frames_sha256")
    }

    private fun runSession(session: LivenessSession, frames: Int = TestCapture.frames.size, push: (LivenessSession, Int) -> Feedback): Run =
        session.use { s ->
            val fb = (0 until frames).map { push(s, it) }
            Run(fb, runBlocking { s.finish() })
        }

    private fun pushRgb(s: LivenessSession, i: Int) = s.push(TestCapture.frames[i].frame())

    private fun localSession() = engine.startLocalSession(TestCapture.seed)

    /** The Rust CLI's whole session on the same capture and seed (token + device key). */
    private fun cliResult(): JSONObject {
        val token = File(tmp, "cli.token").apply { writeBytes(TestCapture.issueToken(tmp)) }
        val key = File(tmp, "cli-device.key")
        if (!key.exists()) assertEquals(0, TestCapture.run(TestCapture.cli, "keygen", "--out", key.path).first)
        val (code, text) = TestCapture.run(
            TestCapture.cli, "--models-dir", TestCapture.modelsDir.path, "--ort-lib", TestCapture.ortLib.path,
            "analyze", TestCapture.captureDir.path, "--token", token.path, "--server-key", TestCapture.serverKeys.path,
            "--sign-key", key.path, "--out", File(tmp, "cli.result.cose").path, "--json",
        )
        assertEquals(0, code, "liveproof analyze failed")
        return JSONObject(text).getJSONObject("result")
    }

    /**
     * A token session over the whole capture: the feedback walks Positioning → HoldStill →
     * the seed's challenge (SMILE then TURN_LEFT, steps 1 and 2 of 2) → Done; the decision,
     * reasons and frame hash equal the Rust CLI's on the same frames; the signed result is
     * accepted by the verifier binary with the same band.
     */
    @Test
    fun tokenSessionIsDecidedLikeTheCliAndAcceptedByTheVerifier() {
        val token = engine.verifyToken(TestCapture.issueToken(tmp), TestCapture.serverKeysPem())
        val signer = SoftwareSigner.generate()
        val run = runSession(engine.startSession(token, signer), push = ::pushRgb)
        val o = run.outcome
        val kinds = run.feedback.map { it.javaClass.simpleName }.distinct()
        val prompts = run.feedback.filterIsInstance<Feedback.Challenge>().map { Triple(it.prompt, it.step, it.of) }.distinct()
        println("liveproof-figure: token session: ${o.decision} ${o.reasons} fused ${o.fusedScore}; feedback phases $kinds; challenge $prompts")
        assertEquals(listOf("HoldStill", "Challenge", "Done"), kinds.filter { it != "Positioning" })
        assertEquals(listOf(Triple(UserPrompt.SMILE, 1, 2), Triple(UserPrompt.TURN_LEFT, 2, 2)), prompts)
        assertEquals(1.0f, run.feedback.last().progress)
        assertFalse(o.cancelled)
        assertEquals(token.sessionId(), o.sessionId)
        val signed = requireNotNull(o.signedResult) { "a token session is signed" }

        val cli = cliResult()
        assertEquals(cli.getString("band"), o.decision.name.lowercase(Locale.ROOT))
        assertEquals(
            (0 until cli.getJSONArray("reasons").length()).map { cli.getJSONArray("reasons").getString(it) },
            o.reasons.map { reasonCodeName(it) },
        )
        assertEquals(cli.getString("frames_sha256"), run.framesSha256)

        val (code, verdict) = TestCapture.verify(tmp, signed, TestCapture.sec1ToPem(signer.publicKey()), o.sessionId)
        assertEquals(0, code, "verifier: $verdict")
        assertTrue(verdict.getBoolean("accepted"))
        assertEquals(cli.getString("band"), verdict.getString("band"))
        assertEquals(o.sessionId, verdict.getString("session_id"))
    }

    private fun reasonCodeName(c: ReasonCode) = org.liveproof.ffi.reasonCodeName(c)

    /** A JCA signer (default provider, SHA256withECDSA, DER → r‖s) signs a result the verifier accepts. */
    @Test
    fun jcaSignerResultIsAccepted() {
        val signer = JcaSigner.generate()
        assertEquals(65, signer.publicKey().size)
        assertEquals(signer.publicKeyPem, TestCapture.sec1ToPem(signer.publicKey()), "SPKI PEM vs SEC1")
        val token = engine.verifyToken(TestCapture.issueToken(tmp), TestCapture.serverKeysPem())
        val run = runSession(engine.startSession(token, signer), push = ::pushRgb)
        val (code, verdict) = TestCapture.verify(tmp, run.outcome.signedResult!!, signer.publicKeyPem, run.outcome.sessionId)
        println("liveproof-figure: JCA signer: verifier exit $code, accepted ${verdict.getBoolean("accepted")}, band ${verdict.getString("band")}")
        assertEquals(0, code, "verifier: $verdict")
        assertTrue(verdict.getBoolean("accepted"))
        // The same key from another signer: a tampered public key is refused by the verifier.
        val other = JcaSigner.generate()
        val (code2, verdict2) = TestCapture.verify(tmp, run.outcome.signedResult!!, other.publicKeyPem, run.outcome.sessionId)
        assertEquals(1, code2)
        assertFalse(verdict2.getBoolean("accepted"))
    }

    /** The keystore paths: a key store without the alias gives null; the AndroidKeyStore is absent on the JVM. */
    @Test
    fun keyStoreSignerPaths() {
        val ks = KeyStore.getInstance("PKCS12").apply { load(null) }
        assertNull(JcaSigner.fromKeyStore(ks, "liveproof-device"))
        val e = assertThrows(KeyStoreException::class.java) { JcaSigner.androidKeyStore("liveproof-device") }
        assertTrue(e.message!!.contains("AndroidKeyStore"), e.message)
    }

    /**
     * The signer fails (the user dismissed the prompt): finish() throws ApiException.Signer with
     * the signer's words, the decision is kept, pushing is refused as owed a signature, and a
     * second finish() signs a result the verifier accepts.
     */
    @Test
    fun failingSignerThenFinishAgainSigns() {
        val inner = JcaSigner.generate()
        val calls = AtomicInteger()
        val flaky = object : Signer {
            override fun publicKey() = inner.publicKey()
            override fun sign(message: ByteArray): ByteArray {
                if (calls.incrementAndGet() == 1) throw CallbackException.Failed("user dismissed the biometric prompt")
                return inner.sign(message)
            }
        }
        val token = engine.verifyToken(TestCapture.issueToken(tmp), TestCapture.serverKeysPem())
        engine.startSession(token, flaky).use { s ->
            for (i in 0 until 40) pushRgb(s, i)
            val e = assertThrows(ApiException.Signer::class.java) { runBlocking { s.finish() } }
            assertTrue(e.message!!.contains("user dismissed the biometric prompt"), e.message)
            val owed = assertThrows(ApiException.SessionState::class.java) { pushRgb(s, 40) }
            assertTrue(owed.message!!.contains("call finish() again to sign it"), owed.message)
            val o = runBlocking { s.finish() }
            assertEquals(2, calls.get())
            val (code, verdict) = TestCapture.verify(tmp, o.signedResult!!, inner.publicKeyPem, o.sessionId)
            println("liveproof-figure: after a failed signature, finish() again: ${o.decision} ${o.reasons}, verifier exit $code")
            assertEquals(0, code, "verifier: $verdict")
            assertEquals(o.decision.name.lowercase(Locale.ROOT), verdict.getString("band"))
        }
    }

    /**
     * A JCA failure (an RSA private key behind an EC public key: `initSign` refuses it) reaches
     * the app as ApiException.Signer naming the JCA exception; the decision stays owed.
     */
    @Test
    fun jcaFailureIsASignerError() {
        val ec = JcaSigner.generate()
        val rsa = java.security.KeyPairGenerator.getInstance("RSA").apply { initialize(2048) }.generateKeyPair()
        val broken = JcaSigner(rsa.private, ec.publicKey)
        val token = engine.verifyToken(TestCapture.issueToken(tmp), TestCapture.serverKeysPem())
        engine.startSession(token, broken).use { s ->
            for (i in 0 until 10) pushRgb(s, i)
            val e = assertThrows(ApiException.Signer::class.java) { s.finishBlocking() }
            println("liveproof-figure: JCA failure: ${e.message}")
            assertTrue(e.message!!.contains("SHA256withECDSA failed: InvalidKeyException"), e.message)
            assertThrows(ApiException.Signer::class.java) { s.finishBlocking() }
        }
    }

    /** A token that fails verification: a flipped byte, and the right token under another server key. */
    @Test
    fun badTokensAreRejected() {
        val token = TestCapture.issueToken(tmp)
        val flipped = token.copyOf().also { it[it.size - 10] = (it[it.size - 10].toInt() xor 1).toByte() }
        val e1 = assertThrows(ApiException.TokenRejected::class.java) { engine.verifyToken(flipped, TestCapture.serverKeysPem()) }
        val otherKeys = File(tmp, "other-keys")
        assertEquals(0, TestCapture.run(TestCapture.verifier, "keygen", "--out", otherKeys.path).first)
        val pem = otherKeys.listFiles { f -> f.name.endsWith(".pub.pem") }!!.map { it.readText() }
        val e2 = assertThrows(ApiException.TokenRejected::class.java) { engine.verifyToken(token, pem) }
        println("liveproof-figure: flipped token: ${e1.message}; other server key: ${e2.message}")
        assertTrue(e1.message!!.startsWith("token rejected"), e1.message)
        assertTrue(e2.message!!.startsWith("token rejected: unknown key id"), e2.message)
        assertThrows(ApiException.InvalidArgument::class.java) { engine.verifyToken(token, listOf("not a pem")) }
    }

    /** Bad frames map to InvalidArgument with core's sentence; the session goes on afterwards. */
    @Test
    fun badFramesMapToInvalidArgument() {
        localSession().use { s ->
            val (w, h) = 64 to 48
            val stride = assertThrows(ApiException.InvalidArgument::class.java) {
                s.push(Frames.rgb(ByteArray(w * h * 3), w, h, rowStride = 100))
            }
            assertEquals("frame plane 0 stride 100 < width 64 × 3 bytes", stride.reason)
            val rotation = assertThrows(ApiException.InvalidArgument::class.java) {
                s.push(Frames.rgb(ByteArray(w * h * 3), w, h, rotationDegrees = 45))
            }
            assertEquals("rotation 45° is not supported; expected a multiple of 90° (0, 90, 180, 270)", rotation.reason)
            val y = direct(ByteArray(w * h))
            val c = direct(ByteArray(w * h / 2))
            val pixel3 = assertThrows(ApiException.InvalidArgument::class.java) {
                s.push(CameraFrame(w, h, listOf(CameraPlane(y, w, 1), CameraPlane(c, w, 3), CameraPlane(c, w, 3))))
            }
            assertEquals("uv_pixel_stride is 3; YUV_420_888 has 1 (planar) or 2 (interleaved)", pixel3.reason)
            val short = assertThrows(ApiException.InvalidArgument::class.java) {
                s.push(CameraFrame(w, h, listOf(CameraPlane(direct(ByteArray(10)), w, 1), CameraPlane(c, w / 2, 1), CameraPlane(c, w / 2, 1))))
            }
            assertTrue(short.reason.contains("frame plane 0 has 10 bytes"), short.reason)
            // Kotlin-side checks before any call.
            assertThrows(IllegalArgumentException::class.java) { CameraFrame(w, h, listOf(CameraPlane(y, w, 1))) }
            assertThrows(IllegalArgumentException::class.java) { s.pushPlanes(listOf(ByteBuffer.allocate(4)), org.liveproof.ffi.PlaneLayout(2u, 2u, org.liveproof.ffi.PixelFormat.GRAY8, listOf(2u))) }
            // The session is still usable.
            val f = pushRgb(s, 0)
            assertTrue(f is Feedback.HoldStill && f.faceBox != null, "$f")
        }
    }

    /** close() twice is safe; a finished session refuses frames and a second finish with SessionState. */
    @Test
    fun closeTwiceAndPushAfterFinish() {
        val s = localSession()
        pushRgb(s, 0)
        val o = s.finishBlocking()
        assertNull(o.signedResult, "a local session is never signed")
        val e = assertThrows(ApiException.SessionState::class.java) { pushRgb(s, 1) }
        assertEquals("session state: push_frame: the session already finished; start a new session for the next attempt", e.message)
        assertThrows(ApiException.SessionState::class.java) { s.finishBlocking() }
        s.close()
        s.close()
        assertTrue(s.isClosed)
        assertThrows(IllegalStateException::class.java) { pushRgb(s, 1) }

        val c = localSession()
        for (i in 0 until 10) pushRgb(c, i)
        val cancelled = runBlocking { c.cancel() }
        println("liveproof-figure: cancelled after 10 frames: ${cancelled.decision} ${cancelled.reasons}")
        assertTrue(cancelled.cancelled)
        assertEquals(Band.RETRY, cancelled.decision)
        // Ten frames are too few for the quality gate, which decides before the cancel does.
        assertEquals(listOf(ReasonCode.QUALITY_POOR_RETRY), cancelled.reasons)
        c.close()

        val e2 = LivenessEngine.open(TestCapture.modelsDir, TestCapture.ortLib.path)
        val left = e2.startLocalSession(TestCapture.seed)
        e2.close()
        e2.close()
        assertTrue(e2.isClosed)
        // A session outlives its engine's handle.
        assertTrue(pushRgb(left, 0) is Feedback.HoldStill)
        left.close()
    }

    /** One engine, 4 sessions on 4 threads at once: each equals the single-threaded run exactly. */
    @Test
    fun oneEngineFourConcurrentSessions() {
        val n = 60
        fun one(): Run = runSession(localSession(), n, ::pushRgb)
        val ref = one()
        val threads = 4
        val pool = Executors.newFixedThreadPool(threads)
        val barrier = CyclicBarrier(threads)
        try {
            val runs = (0 until threads).map { pool.submit<Run> { barrier.await(); one() } }.map { it.get(300, TimeUnit.SECONDS) }
            for (r in runs) {
                assertEquals(ref.feedback, r.feedback)
                assertEquals(ref.framesSha256, r.framesSha256)
                assertEquals(ref.outcome.decision, r.outcome.decision)
                assertEquals(ref.outcome.reasons, r.outcome.reasons)
                assertEquals(ref.outcome.fusedScore, r.outcome.fusedScore)
            }
            println("liveproof-figure: $threads concurrent sessions × $n frames: identical to the single-threaded run (${ref.outcome.decision} ${ref.outcome.reasons})")
        } finally {
            pool.shutdownNow()
        }
    }

    private val adapterFrames = 45

    /**
     * NV21 through the CameraX-shaped adapter (one direct buffer, padded rows, at a non-zero
     * position; U and V the interleaved views) equals NV21 as a byte record: the same feedback
     * per frame and the same frame hash (which names the pixel format: a chroma gathered into
     * planar I420 instead of read in place would change it). A heap buffer gives the same.
     */
    @Test
    fun cameraXAdapterEqualsBytesNv21() {
        val frames = TestCapture.frames.take(adapterFrames)
        val nv21 = frames.map { it.nv21() }
        val (w, h) = frames[0].width to frames[0].height
        val byRecord = runSession(localSession(), adapterFrames) { s, i -> s.push(TestCapture.nv21Record(nv21[i], w, h, frames[i].timestampNs)) }
        val stride = w + 64
        fun padded(i: Int): ByteArray {
            val out = ByteArray(stride * (h + h / 2))
            for (row in 0 until h + h / 2) System.arraycopy(nv21[i], row * w, out, row * stride, w)
            return out
        }
        val byAdapter = runSession(localSession(), adapterFrames) { s, i ->
            s.push(CameraFrame.nv21(direct(padded(i), offset = 13), w, h, rowStride = stride, timestampNs = frames[i].timestampNs))
        }
        val byHeap = runSession(localSession(), adapterFrames) { s, i ->
            s.push(CameraFrame.nv21(ByteBuffer.wrap(nv21[i]), w, h, timestampNs = frames[i].timestampNs))
        }
        println("liveproof-figure: NV21 record vs CameraX adapter vs heap buffer, $adapterFrames frames: frames_sha256 ${byRecord.framesSha256.take(12)} / ${byAdapter.framesSha256.take(12)} / ${byHeap.framesSha256.take(12)}")
        assertEquals(byRecord.feedback, byAdapter.feedback)
        assertEquals(byRecord.framesSha256, byAdapter.framesSha256)
        assertEquals(byRecord.outcome.reasons, byAdapter.outcome.reasons)
        assertEquals(byRecord.feedback, byHeap.feedback)
        assertEquals(byRecord.framesSha256, byHeap.framesSha256)
        assertTrue(byRecord.feedback.any { it.faceBox != null }, "the frames have a face")
    }

    /**
     * Planar I420 through the adapter (pixel stride 1) equals I420 as a byte record, and as
     * three borrowed direct planes through `pushPlanes`.
     */
    @Test
    fun cameraXAdapterEqualsBytesI420() {
        val frames = TestCapture.frames.take(adapterFrames)
        val i420 = frames.map { it.i420() }
        val (w, h) = frames[0].width to frames[0].height
        val byRecord = runSession(localSession(), adapterFrames) { s, i -> s.push(TestCapture.i420Record(i420[i], w, h, frames[i].timestampNs)) }
        val byAdapter = runSession(localSession(), adapterFrames) { s, i ->
            s.push(CameraFrame.i420(direct(i420[i], offset = 7), w, h, timestampNs = frames[i].timestampNs))
        }
        val (cw, ch) = w / 2 to h / 2
        val byPlanes = runSession(localSession(), adapterFrames) { s, i ->
            val b = i420[i]
            s.pushPlanes(
                listOf(direct(b.copyOfRange(0, w * h), 3), direct(b.copyOfRange(w * h, w * h + cw * ch), 5), direct(b.copyOfRange(w * h + cw * ch, b.size))),
                org.liveproof.ffi.PlaneLayout(
                    w.toUInt(), h.toUInt(), org.liveproof.ffi.PixelFormat.I420, listOf(w.toUInt(), cw.toUInt(), cw.toUInt()),
                    timestampNs = frames[i].timestampNs.toULong(),
                ),
            )
        }
        assertEquals(byRecord.feedback, byAdapter.feedback)
        assertEquals(byRecord.framesSha256, byAdapter.framesSha256)
        assertEquals(byRecord.feedback, byPlanes.feedback)
        assertEquals(byRecord.framesSha256, byPlanes.framesSha256)
        assertTrue(byRecord.feedback.any { it.faceBox != null }, "the frames have a face")
    }

    /**
     * initLogging(INFO) with a sink over a whole session: the start and finish lines, and no
     * face data or scores (no decimal number in any line logged during the session).
     */
    @Test
    fun infoLogHasSessionLinesOnly() {
        val lines = Collections.synchronizedList(mutableListOf<String>())
        LiveProofLog.init(LogLevel.INFO) { level, target, message -> lines += "$level $target: $message" }
        try {
            val run = runSession(localSession(), 60, ::pushRgb)
            val id = run.outcome.sessionId
            val snapshot = lines.toList()
            println("liveproof-figure: INFO log of a whole session (${snapshot.size} lines):\n  " + snapshot.joinToString("\n  "))
            val band = run.outcome.decision.name.lowercase(Locale.ROOT)
            val reasons = run.outcome.reasons.joinToString(", ") { org.liveproof.ffi.reasonCodeName(it) }
            assertEquals(
                listOf(
                    "INFO liveproof_ffi::session: session started: local session $id",
                    "INFO liveproof_ffi::session: session $id finished: $band ($reasons)",
                ),
                snapshot,
            )
            val decimal = Regex("""\d\.\d""")
            assertEquals(emptyList<String>(), snapshot.filter { decimal.containsMatchIn(it) }, "lines with a decimal number")
            assertTrue(snapshot.all { it.startsWith("INFO ") || it.startsWith("WARN ") || it.startsWith("ERROR ") }, "$snapshot")
        } finally {
            LiveProofLog.init(LogLevel.WARN)
            LiveProofLog.removeSink()
        }
    }

    /** Feedback is a sealed class over the phases; the texts are a replaceable resource bundle. */
    @Test
    fun feedbackTextsAreAReplaceableResource() {
        val en = LiveProofTexts.default
        for (hint in Hint.values()) assertTrue(en.hint(hint).isNotBlank(), "no text for $hint")
        for (p in UserPrompt.values().filter { it != UserPrompt.NONE }) assertTrue(en.prompt(p).isNotBlank(), "no text for $p")
        assertEquals("Find more light", Hint.TOO_DARK.userMessage)
        assertEquals("Turn your head to the left", en.prompt(UserPrompt.TURN_LEFT))
        // An app's own words: one key replaced, the rest English.
        val own = LiveProofTexts.fromProperties("prompt.smile=Show us a smile\n".byteInputStream())
        assertEquals("Show us a smile", own.prompt(UserPrompt.SMILE))
        assertEquals("Blink", own.prompt(UserPrompt.BLINK))
        // A translation shipped as org/liveproof/LiveProofTexts_de.properties (test resources).
        val de = LiveProofTexts.forLocale(Locale.GERMAN)
        assertEquals("Mehr Licht, bitte", de.hint(Hint.TOO_DARK))
        assertEquals("Move closer", de.hint(Hint.MOVE_CLOSER), "missing keys fall back to English")
        assertEquals("Find more light", LiveProofTexts.forLocale(Locale.JAPANESE).hint(Hint.TOO_DARK))
        localSession().use { s ->
            val f = pushRgb(s, 0)
            assertTrue(f is Feedback.HoldStill, "$f")
            assertEquals(emptyList<Hint>(), f.hints)
            assertEquals("Hold still", en.message(f))
        }
    }
}

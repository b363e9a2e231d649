// LiveProof's idiomatic Kotlin layer for whole capture sessions: LivenessEngine →
// LivenessSession (push frames, get Feedback; finish → Outcome). Hand-written; `cargo xtask gen`
// never touches this file.

package org.liveproof

import java.io.File
import java.nio.ByteBuffer
import java.util.concurrent.atomic.AtomicBoolean
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import org.liveproof.ffi.ApiException
import org.liveproof.ffi.DetectorKind
import org.liveproof.ffi.FlowType
import org.liveproof.ffi.Frame
import org.liveproof.ffi.PlaneLayout
import org.liveproof.ffi.RiskTier
import org.liveproof.ffi.SessionOptions
import org.liveproof.ffi.SessionToken
import org.liveproof.ffi.Signer
import org.liveproof.ffi.Yuv420Layout
import org.liveproof.ffi.LivenessEngine as FfiLivenessEngine
import org.liveproof.ffi.LivenessSession as FfiLivenessSession

/** What a finished or cancelled session decided (the generated record, re-exported). */
typealias Outcome = org.liveproof.ffi.Outcome

/** Pass, retry or fail. */
typealias Band = org.liveproof.ffi.Band

/** Why a capture got its decision (stable; `docs/decision.md` has the catalogue). */
typealias ReasonCode = org.liveproof.ffi.ReasonCode

/**
 * The engine for whole liveness sessions: ONNX Runtime and the models loaded once
 * (sha256-checked) and shared by every thread and session. Thread-safe; open one per process
 * and keep it for the app's lifetime. [close] it when done (or `use { }`); closing twice is safe,
 * and sessions started from it stay usable until they are closed themselves.
 *
 * ```
 * val engine = LivenessEngine.open(modelsDir, ortLibrary = "/path/to/libonnxruntime.so")
 * val token = engine.verifyToken(tokenBytes, listOf(serverKeyPem))
 * engine.startSession(token, JcaSigner.generate()).use { session ->
 *     // camera analyzer: session.push(image.toLiveProofFrame())
 *     val outcome = session.finish()   // suspend, runs on Dispatchers.IO
 *     upload(outcome.signedResult!!)
 * }
 * ```
 *
 * Failures throw [ApiException] subclasses (misuse and infrastructure only; a spoof, a timeout
 * or a user cancel is an [Outcome]).
 */
class LivenessEngine private constructor(private val engine: FfiLivenessEngine) : AutoCloseable {
    companion object {
        /**
         * On Android, ONNX Runtime comes from `com.microsoft.onnxruntime:onnxruntime-android`,
         * whose `libonnxruntime.so` lands in the app's native library folder: pass
         * `"${context.applicationInfo.nativeLibraryDir}/$ANDROID_ORT_LIBRARY"` as `ortLibrary`
         * (see docs/platforms.md).
         */
        const val ANDROID_ORT_LIBRARY: String = "libonnxruntime.so"

        /**
         * Loads the engine from [modelsDir] and the ONNX Runtime library at [ortLibrary]
         * (`null` = `$ORT_DYLIB_PATH`). [threads] is ONNX Runtime's intra-op thread count per
         * model (1..64; 1 leaves the app its other cores).
         *
         * @throws ApiException.RuntimeUnavailable the runtime library is missing or unloadable.
         * @throws ApiException.ModelMissing a required model file is missing.
         */
        @JvmStatic
        @JvmOverloads
        @Throws(ApiException::class)
        fun open(
            modelsDir: File,
            ortLibrary: String? = null,
            detector: DetectorKind = DetectorKind.BLAZE_FACE_FRONT,
            threads: Int = 1,
        ): LivenessEngine {
            return LivenessEngine(FfiLivenessEngine(engineConfig(modelsDir, ortLibrary, detector, threads)))
        }
    }

    /** True once [close] has run. */
    val isClosed: Boolean
        get() = engine.uniffiIsDestroyed

    /**
     * Checks the server's session token (COSE bytes) against the pinned server public keys
     * (SPKI PEM texts). [policyJson] only when the token carries its policy's hash alone.
     *
     * @throws ApiException.TokenRejected naming the failed check (signature, expiry, ...).
     */
    @JvmOverloads
    @Throws(ApiException::class)
    fun verifyToken(token: ByteArray, serverKeysPem: List<String>, policyJson: String? = null): SessionToken =
        engine.verifyToken(token, serverKeysPem, policyJson)

    /**
     * Starts the server's session for [token]; the result is signed with [signer] at
     * [LivenessSession.finish] (see [JcaSigner]). A signer reports failure by throwing
     * `CallbackException.Failed(message)` (any other exception arrives too, as its class and
     * message); `finish()` then throws [ApiException.Signer] and keeps the decision.
     */
    @JvmOverloads
    @Throws(ApiException::class)
    fun startSession(
        token: SessionToken,
        signer: Signer,
        options: SessionOptions = SessionOptions(),
    ): LivenessSession = LivenessSession(engine.startSession(token, signer, options))

    /**
     * Starts a local session without a server (development, offline kiosks): decided on the
     * device under [policyJson] (`null`: the shipped default), never signed. [seed] (32 bytes)
     * picks the challenge.
     */
    @JvmOverloads
    @Throws(ApiException::class)
    fun startLocalSession(
        seed: ByteArray,
        flow: FlowType = FlowType.ACCOUNT_OPENING,
        tier: RiskTier = RiskTier.MEDIUM,
        policyJson: String? = null,
        options: SessionOptions = SessionOptions(),
    ): LivenessSession = LivenessSession(engine.startLocalSession(seed, flow, tier, policyJson, options))

    override fun close() = engine.close()
}

/**
 * One capture (one attempt), fed from the camera's analyzer thread. Calls are serialised by the
 * library, so one session is used from one thread at a time; [finish] and [cancel] may wait for
 * the signer (a biometric prompt) and run on [Dispatchers.IO].
 *
 * With CameraX (`ImageAnalysis.Analyzer`):
 * ```
 * override fun analyze(image: ImageProxy) = image.use {
 *     val feedback = session.push(image.toLiveProofFrame())
 *     ui.show(feedback)
 * }
 * ```
 * where `toLiveProofFrame()` is the two-line extension documented on [CameraFrame].
 *
 * [close] releases the session's models and worker (idempotent; `use { }` does it). After
 * [finish] or [cancel], pushing throws [ApiException.SessionState].
 */
class LivenessSession internal constructor(private val session: FfiLivenessSession) : AutoCloseable {
    private val closed = AtomicBoolean(false)

    /** Direct copies of heap (non-direct) planes, reused from frame to frame. */
    private val scratch = arrayOfNulls<ByteBuffer>(3)

    /** The session id the server looks the result up by (hex). */
    val sessionId: String by lazy { session.sessionId() }

    /** True once [close] has run. */
    val isClosed: Boolean
        get() = closed.get()

    /**
     * Consumes one frame given as a record (its bytes are copied across the boundary: simplest,
     * for stills and tests; camera frames go through [push] with a [CameraFrame]).
     *
     * @throws ApiException.InvalidArgument a malformed frame (the session goes on).
     * @throws ApiException.SessionState the session is finished or closed.
     */
    @Throws(ApiException::class)
    fun push(frame: Frame): Feedback = Feedback.of(session.pushFrame(frame))

    /**
     * Consumes one `YUV_420_888` camera frame without copying its planes (direct buffers; a
     * heap buffer is copied once into a buffer this session reuses). An NV21-ordered chroma
     * pair (V one byte before U in one buffer, as Android delivers it) and planar chroma go
     * straight through.
     *
     * @throws ApiException.InvalidArgument a malformed frame (the session goes on).
     * @throws ApiException.SessionState the session is finished or closed.
     */
    @Throws(ApiException::class)
    fun push(frame: CameraFrame): Feedback {
        val (y, u, v) = frame.planes
        val layout = Yuv420Layout(
            width = frame.width.toUInt(),
            height = frame.height.toUInt(),
            yRowStride = y.rowStride.toUInt(),
            uvRowStride = u.rowStride.toUInt(),
            uvPixelStride = u.pixelStride.toUInt(),
            rotationDegrees = frame.rotationDegrees,
            mirrored = frame.mirrored,
            timestampNs = frame.timestampNs.toULong(),
        )
        return synchronized(scratch) {
            if (u.buffer.isDirect && v.buffer.isDirect && y.buffer.isDirect) {
                Feedback.of(session.pushYuv420888(y.buffer.slice(), u.buffer.slice(), v.buffer.slice(), layout))
            } else {
                pushCopied(y.buffer, u.buffer, v.buffer, layout)
            }
        }
    }

    /**
     * Heap buffers: copied into direct ones. The U/V views of one interleaved buffer stay views
     * of one copy (V one byte before U), so the library still sees the NV21 layout.
     */
    private fun pushCopied(y: ByteBuffer, u: ByteBuffer, v: ByteBuffer, layout: Yuv420Layout): Feedback {
        val dy = direct(0, y)
        val sameArray = u.hasArray() && v.hasArray() && u.array() === v.array() &&
            u.arrayOffset() + u.position() == v.arrayOffset() + v.position() + 1
        return if (sameArray) {
            val start = v.arrayOffset() + v.position()
            val len = maxOf(v.remaining(), u.remaining() + 1)
            val dvu = direct(1, ByteBuffer.wrap(v.array(), start, len))
            val dv = dvu.duplicate().apply { limit(v.remaining()) }.slice()
            val du = dvu.duplicate().apply { position(1); limit(1 + u.remaining()) }.slice()
            Feedback.of(session.pushYuv420888(dy, du, dv, layout))
        } else {
            Feedback.of(session.pushYuv420888(dy, direct(1, u), direct(2, v), layout))
        }
    }

    private fun direct(slot: Int, src: ByteBuffer): ByteBuffer {
        val n = src.remaining()
        val buf = scratch[slot]?.takeIf { it.capacity() >= n } ?: ByteBuffer.allocateDirect(n).also { scratch[slot] = it }
        buf.clear()
        buf.put(src.duplicate())
        buf.flip()
        return buf.slice()
    }

    /**
     * Consumes one frame from borrowed planes of any [org.liveproof.ffi.PixelFormat] without
     * copying (direct buffers only; pass fewer buffers than three for formats with fewer
     * planes). [layout] gives the size, format, each plane's row stride, rotation and timestamp.
     */
    @Throws(ApiException::class)
    fun pushPlanes(planes: List<ByteBuffer>, layout: PlaneLayout): Feedback {
        require(planes.size in 1..3) { "1 to 3 planes, got ${planes.size}" }
        require(planes.all { it.isDirect }) { "pushPlanes takes direct ByteBuffers (allocateDirect)" }
        val p = List(3) { planes.getOrNull(it)?.slice() ?: EMPTY }
        return Feedback.of(session.pushPlanes(p[0], p[1], p[2], layout))
    }

    /**
     * Decides and, for a server session, signs, on [Dispatchers.IO] (the signer may wait for
     * the user). After an [ApiException.Signer] failure the decision is kept: call [finish]
     * again to sign it; the capture need not be repeated.
     */
    @Throws(ApiException::class)
    suspend fun finish(): Outcome = concludeOnIo(this::finishBlocking)

    /** [finish] on the calling thread (not the UI thread: it may block on the signer). */
    @Throws(ApiException::class)
    fun finishBlocking(): Outcome = session.finish()

    /**
     * Ends the capture early (the user cancelled): a retry with `CAPTURE_INCOMPLETE`, signed
     * for a server session so the server counts the attempt. Runs on [Dispatchers.IO].
     */
    @Throws(ApiException::class)
    suspend fun cancel(): Outcome = concludeOnIo(this::cancelBlocking)

    /** [cancel] on the calling thread. */
    @Throws(ApiException::class)
    fun cancelBlocking(): Outcome = session.cancel()

    /**
     * An outcome the library returned to a [finish] or [cancel] whose caller was cancelled
     * meanwhile (`withContext` then throws instead of returning it): the next [finish] or
     * [cancel] hands it over, so a signed result is never lost to a screen rotation.
     */
    private val unclaimed = java.util.concurrent.atomic.AtomicReference<Outcome?>(null)

    /**
     * The body of [finish] and [cancel]: an [unclaimed] outcome if there is one, else [end] on
     * [Dispatchers.IO], its outcome parked in [unclaimed] until this caller has received it.
     */
    private suspend fun concludeOnIo(end: () -> Outcome): Outcome =
        unclaimed.getAndSet(null) ?: withContext(Dispatchers.IO) { end().also { unclaimed.set(it) } }
            .also { unclaimed.set(null) }

    /** Releases the session now; later calls throw. Safe to call twice. */
    override fun close() {
        if (closed.compareAndSet(false, true)) {
            session.release()
            session.close()
        }
    }

    private companion object {
        val EMPTY: ByteBuffer = ByteBuffer.allocateDirect(0)
    }
}

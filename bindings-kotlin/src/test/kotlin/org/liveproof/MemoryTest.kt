package org.liveproof

import java.io.File
import java.nio.file.Files
import java.util.Locale
import org.json.JSONObject
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertFalse
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.liveproof.ffi.Frame

/**
 * Native memory over many whole sessions on one engine (issue #16): each session verifies a
 * server token, starts a token session with a Kotlin [JcaSigner] (a foreign callback), pushes
 * the first [FRAMES] frames of the SYNTHETIC test capture, finishes (decided and signed), reads
 * the outcome and closes the session and the token. The process RSS (VmRSS) is sampled along
 * the way and printed; from the end of warm-up (session 200) to the last session it may grow
 * by less than [GROWTH_BOUND_MB].
 *
 * `LIVEPROOF_MEMORY_SESSIONS` sets the number of sessions (default 1,000).
 */
class MemoryTest {
    private companion object {
        /**
         * Frames per session: the capture's first 5 (too few to decide: a retry, after the
         * detector, the tracker and the decision at finish have run). The session's fixed cost
         * (start, decide, sign) dominates; 5 frames keep 1,000 sessions near 100 s of CPU.
         */
        const val FRAMES = 5

        /** Sessions by default. */
        const val SESSIONS = 1000

        /**
         * RSS growth allowed from the end of warm-up to the last session, MB. A leak of one
         * 640×480 NV21 frame (460 KB) per session would add about 370 MB over 800 sessions;
         * this tolerates allocator and JVM noise (see the figures in docs/security.md).
         */
        const val GROWTH_BOUND_MB = 24.0

        /** Token lifetime asked of the verifier, s; a new token is issued when under a minute is left. */
        const val TOKEN_TTL_S = 600L
    }

    /** The process's resident set, KB (VmRSS in /proc/self/status). */
    private fun rssKb(): Long =
        File("/proc/self/status").readLines().first { it.startsWith("VmRSS:") }
            .removePrefix("VmRSS:").trim().removeSuffix("kB").trim().toLong()

    /**
     * RSS after a full GC and finalisation: JVM wrapper objects that are unreachable but not yet
     * collected (and their Cleaner actions) must not look like native growth. Every native
     * object here is closed explicitly; this only settles the JVM side.
     */
    private fun settledRssKb(): Long {
        repeat(2) {
            System.gc()
            @Suppress("DEPRECATION")
            System.runFinalization()
            Thread.sleep(50)
        }
        return rssKb()
    }

    /** A token from the verifier CLI for the capture's seed, living [TOKEN_TTL_S]. */
    private fun issueToken(dir: File): ByteArray {
        val out = File(dir, "token-${System.nanoTime()}.cose")
        val (code, text) = TestCapture.run(
            TestCapture.verifier, "issue", "--key", TestCapture.serverKeys.path, "--tenant", "kotlin-memory",
            "--seed", TestCapture.seedHex, "--flow", "account_opening", "--tier", "medium",
            "--ttl", TOKEN_TTL_S.toString(), "--out", out.path,
        )
        check(code == 0) { "verifier issue failed ($code): $text" }
        return out.readBytes()
    }

    /** What one session gave, less what differs by design (session id, signature). */
    private data class Decided(
        val feedback: List<Feedback>,
        val decision: Band,
        val reasons: List<ReasonCode>,
        val fusedScore: Double?,
        val framesSha256: String,
    )

    /** The names of the inputs that are missing, with why. */
    private fun missingInputs(): List<String> {
        val why = mutableListOf<String>()
        if (!File("/proc/self/status").isFile) why += "/proc/self/status (RSS is read on Linux only)"
        for (name in listOf(
            "LIVEPROOF_MODELS_DIR", "ORT_DYLIB_PATH", "LIVEPROOF_TEST_CAPTURE", "LIVEPROOF_TEST_KEYS",
            "LIVEPROOF_VERIFIER", "LIVEPROOF_TEST_SEED",
        )) {
            val v = System.getenv(name)
            if (v.isNullOrEmpty()) why += "$name is not set (cargo xtask test sets it)"
            else if (name != "LIVEPROOF_TEST_SEED" && !File(v).exists()) why += "$name=$v does not exist"
        }
        return why
    }

    @Test
    fun thousandSessionsOnOneEngineDoNotGrowNativeMemory() {
        val missing = missingInputs()
        if (missing.isNotEmpty()) println("skipped: MemoryTest needs ${missing.joinToString("; ")}")
        assumeTrue(missing.isEmpty(), "skipped: MemoryTest needs ${missing.joinToString("; ")}")

        val sessions = System.getenv("LIVEPROOF_MEMORY_SESSIONS")?.takeIf { it.isNotBlank() }?.toInt() ?: SESSIONS
        require(sessions >= 2) { "LIVEPROOF_MEMORY_SESSIONS must be at least 2, got $sessions" }
        val warmUp = minOf(200, sessions / 2)
        val samplesAt = (listOf(1, 50, 100, warmUp, sessions) + (100..sessions step 100)).filter { it in 1..sessions }.toSortedSet()

        val tmp = Files.createTempDirectory("liveproof-memory").toFile()
        // Built once: each push lowers the record into a fresh native buffer that Rust frees.
        val frames: List<Frame> = TestCapture.frames.take(FRAMES).map { it.frame() }
        assertEquals(FRAMES, frames.size, "the test capture has at least $FRAMES frames")
        val serverKeys = TestCapture.serverKeysPem()
        val signer = JcaSigner.generate()
        var tokenBytes = issueToken(tmp)
        val rss = sortedMapOf<Int, Long>()
        val heap = sortedMapOf<Int, Long>()
        val nonHeap = sortedMapOf<Int, Long>()
        val os = java.lang.management.ManagementFactory.getOperatingSystemMXBean() as com.sun.management.OperatingSystemMXBean
        val memory = java.lang.management.ManagementFactory.getMemoryMXBean()
        var first: Decided? = null
        var lastSigned: Pair<ByteArray, String>? = null
        /** The Rust verifier accepts [signed] with the band of session 1 (while its token lives). */
        fun assertAccepted(label: String, signed: ByteArray, sessionId: String) {
            val (code, verdict) = TestCapture.verify(tmp, signed, signer.publicKeyPem, sessionId)
            assertEquals(0, code, "verifier on the $label result: $verdict")
            assertTrue(verdict.getBoolean("accepted"))
            assertEquals(first!!.decision.name.lowercase(Locale.ROOT), verdict.getString("band"))
        }
        val t0 = System.nanoTime()
        val cpu0 = os.processCpuTime
        try {
            LivenessEngine.open(TestCapture.modelsDir, TestCapture.ortLib.path).use { engine ->
                for (n in 1..sessions) {
                    // A token per session, as an app gets from its server; re-issued (same seed,
                    // same challenge) when under a minute of its lifetime is left.
                    val (decided, outcome) = engine.verifyToken(tokenBytes, serverKeys).use { t ->
                        if (t.expiresAt().toLong() - System.currentTimeMillis() / 1000 < 60) tokenBytes = issueToken(tmp)
                        engine.startSession(t, signer).use { s ->
                            val feedback = frames.map { s.push(it) }
                            val o = s.finishBlocking()
                            assertEquals(t.sessionId(), o.sessionId)
                            Decided(feedback, o.decision, o.reasons, o.fusedScore, JSONObject(o.resultJson).getString("frames_sha256")) to o
                        }
                    }
                    // A well-formed result every time: a decision with its reasons, the result
                    // JSON naming this session, a signature; the same decision for the same frames.
                    assertFalse(outcome.cancelled)
                    assertTrue(decided.reasons.isNotEmpty(), "session $n: no reasons")
                    val json = JSONObject(outcome.resultJson)
                    assertEquals(outcome.sessionId, json.getJSONObject("audit").getString("session_id"), "session $n")
                    assertEquals(decided.decision.name.lowercase(Locale.ROOT), json.getString("band"), "session $n")
                    assertEquals(FRAMES, json.getJSONObject("timings").getInt("frames"), "session $n: frames counted")
                    val signed = requireNotNull(outcome.signedResult) { "session $n: a token session is signed" }
                    assertTrue(signed.size > 64, "session $n: signed result of ${signed.size} bytes")
                    if (first == null) {
                        first = decided
                        assertAccepted("first", signed, outcome.sessionId)
                    } else {
                        assertEquals(first, decided, "session $n decided differently from session 1 on the same frames")
                    }
                    lastSigned = signed to outcome.sessionId
                    if (n in samplesAt) {
                        rss[n] = settledRssKb()
                        heap[n] = memory.heapMemoryUsage.committed / 1024
                        nonHeap[n] = memory.nonHeapMemoryUsage.committed / 1024
                        println("memory: after session $n: VmRSS ${rss[n]} kB, JVM heap ${heap[n]} kB, non-heap ${nonHeap[n]} kB")
                    }
                }
            }
            val seconds = (System.nanoTime() - t0) / 1e9
            val cpuSeconds = (os.processCpuTime - cpu0) / 1e9
            val ref = first!!

            val mb = { kb: Long -> kb / 1024.0 }
            val series = rss.entries.joinToString(", ") { (n, kb) -> "$n: %.1f".format(Locale.ROOT, mb(kb)) }
            val heapSeries = heap.entries.joinToString(", ") { (n, kb) -> "$n: %.0f / %.1f".format(Locale.ROOT, mb(kb), mb(nonHeap.getValue(n))) }
            val growth = mb(rss.getValue(sessions) - rss.getValue(warmUp))
            val peak = mb(rss.filterKeys { it >= warmUp }.values.maxOrNull()!! - rss.getValue(warmUp))
            println(
                "liveproof-figure: memory: $sessions token sessions × $FRAMES frames on one engine in %.1f s (%.0f ms per session; process CPU %.0f ms per session), each ${ref.decision} ${ref.reasons}"
                    .format(Locale.ROOT, seconds, seconds * 1000 / sessions, cpuSeconds * 1000 / sessions),
            )
            println("liveproof-figure: memory: VmRSS MB after session n (GC + finalisation first): $series")
            // The JVM's own share of the RSS, to tell its growth (JIT code, class metadata) from ours.
            println("liveproof-figure: memory: JVM heap / non-heap (code cache, metaspace) committed MB at the same points: $heapSeries")
            println(
                "liveproof-figure: memory: sessions $warmUp → $sessions: %+.1f MB (highest %+.1f MB; bound %.0f MB)"
                    .format(Locale.ROOT, growth, peak, GROWTH_BOUND_MB),
            )
            // The last signed result is accepted too (the first was checked after session 1).
            assertAccepted("last", lastSigned!!.first, lastSigned!!.second)
            assertTrue(
                growth < GROWTH_BOUND_MB,
                "RSS grew %.1f MB from session $warmUp to $sessions (bound %.0f MB): $series".format(Locale.ROOT, growth, GROWTH_BOUND_MB),
            )
        } finally {
            tmp.deleteRecursively()
        }
    }
}

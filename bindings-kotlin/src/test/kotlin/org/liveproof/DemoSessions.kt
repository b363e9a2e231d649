package org.liveproof

import java.io.File
import java.security.KeyFactory
import java.security.interfaces.ECPublicKey
import java.security.spec.PKCS8EncodedKeySpec
import java.security.spec.X509EncodedKeySpec
import java.util.Base64
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Tag
import org.junit.jupiter.api.Test

/**
 * The Kotlin path of `cargo xtask demo` (JUnit tag `demo`, left out of `mvn test`): whole token
 * sessions through the idiomatic layer, one engine for all, a [JcaSigner] over the demo's
 * device key. `LIVEPROOF_DEMO_PLAN` lists one session per line: capture folder, token file,
 * where to write the signed result (tab-separated); the wall time of each session (token check
 * to signature) goes to `<result>.ms`.
 */
@Tag("demo")
class DemoSessions {
    @Test
    fun runThePlan() {
        val plan = System.getenv("LIVEPROOF_DEMO_PLAN")
        assumeTrue(plan != null, "skipped: LIVEPROOF_DEMO_PLAN is not set (cargo xtask demo sets it)")
        val serverKey = File(TestCapture.env("LIVEPROOF_DEMO_SERVER_KEY")).readText()
        val deviceKey = File(TestCapture.env("LIVEPROOF_DEMO_DEVICE_KEY"))
        val signer = JcaSigner(
            KeyFactory.getInstance("EC").generatePrivate(PKCS8EncodedKeySpec(pem(deviceKey))),
            KeyFactory.getInstance("EC").generatePublic(X509EncodedKeySpec(pem(File("${deviceKey.path}.pub")))) as ECPublicKey,
        )
        LivenessEngine.open(TestCapture.modelsDir, ortLibrary = TestCapture.ortLib.path).use { engine ->
            for (line in File(plan!!).readLines().filter { it.isNotBlank() }) {
                val (capture, tokenFile, out) = line.split('\t')
                val frames = TestCapture.load(File(capture))
                val t0 = System.nanoTime()
                val token = engine.verifyToken(File(tokenFile).readBytes(), listOf(serverKey))
                val outcome = engine.startSession(token, signer).use { session ->
                    for (f in frames) {
                        if (session.push(f.frame()) is Feedback.Done) break
                    }
                    runBlocking { session.finish() }
                }
                val ms = (System.nanoTime() - t0) / 1e6
                File(out).writeBytes(outcome.signedResult!!)
                File("$out.ms").writeText("%.1f".format(java.util.Locale.ROOT, ms))
                println("kotlin: ${File(capture).name}: ${outcome.decision} ${outcome.reasons} (%.0f ms)".format(java.util.Locale.ROOT, ms))
            }
        }
    }

    /** The DER inside a PEM file. */
    private fun pem(file: File): ByteArray =
        Base64.getMimeDecoder().decode(file.readLines().filter { !it.startsWith("-----") }.joinToString(""))
}

// A Signer over the Java Cryptography Architecture: the JVM's default provider here, the
// AndroidKeyStore (StrongBox when available) on Android. Hand-written.

package org.liveproof

import java.math.BigInteger
import java.security.GeneralSecurityException
import java.security.KeyPair
import java.security.KeyPairGenerator
import java.security.KeyStore
import java.security.PrivateKey
import java.security.Signature
import java.security.interfaces.ECPublicKey
import java.security.spec.AlgorithmParameterSpec
import java.security.spec.ECGenParameterSpec
import java.util.Base64
import org.liveproof.ffi.ApiException
import org.liveproof.ffi.CallbackException
import org.liveproof.ffi.Signer
import org.liveproof.ffi.signatureFromDer

/**
 * Signs the session result with an EC P-256 key through JCA (`SHA256withECDSA`): the DER
 * signature JCA returns is converted to the raw `r‖s` form by the library's one conversion
 * ([signatureFromDer]). Any JCA key works: a generated one ([generate]), one from any
 * [KeyStore] ([fromKeyStore]), or on Android a hardware-backed key from the `AndroidKeyStore`
 * ([androidKeyStore], StrongBox when the device has it).
 *
 * [signatureProvider] names the JCA provider for `Signature.getInstance` (`null`: the first
 * provider that accepts the key, which is right for AndroidKeyStore keys too).
 *
 * Failures throw [CallbackException.Failed] and reach the app as [ApiException.Signer] from
 * `finish()` with that message; the decision is kept and `finish()` can be called again.
 */
class JcaSigner @JvmOverloads constructor(
    private val privateKey: PrivateKey,
    /** The public half; register [publicKeyPem] with the server for this device. */
    val publicKey: ECPublicKey,
    private val signatureProvider: String? = null,
) : Signer {
    init {
        val bits = publicKey.params.curve.field.fieldSize
        require(bits == 256) { "a P-256 key is needed, got a $bits-bit curve" }
    }

    /** The public key, SEC1 uncompressed (65 bytes: `0x04‖x‖y`). */
    override fun publicKey(): ByteArray {
        val out = ByteArray(65)
        out[0] = 4
        unsigned32(publicKey.w.affineX).copyInto(out, 1)
        unsigned32(publicKey.w.affineY).copyInto(out, 33)
        return out
    }

    /** ECDSA P-256 over SHA-256 of [message], as raw `r‖s` (64 bytes). */
    @Throws(CallbackException::class)
    override fun sign(message: ByteArray): ByteArray {
        val der = try {
            val s = if (signatureProvider == null) {
                Signature.getInstance(ALGORITHM)
            } else {
                Signature.getInstance(ALGORITHM, signatureProvider)
            }
            s.initSign(privateKey)
            s.update(message)
            s.sign()
        } catch (e: GeneralSecurityException) {
            throw CallbackException.Failed("$ALGORITHM failed: ${e.javaClass.simpleName}: ${e.message}")
        }
        return try {
            signatureFromDer(der)
        } catch (e: ApiException) {
            throw CallbackException.Failed("the $ALGORITHM signature from JCA: ${e.message}")
        }
    }

    /** The public key as an SPKI PEM text (what the verifier's device-key registry takes). */
    val publicKeyPem: String
        get() = "-----BEGIN PUBLIC KEY-----\n" +
            Base64.getMimeEncoder(64, "\n".toByteArray()).encodeToString(publicKey.encoded) +
            "\n-----END PUBLIC KEY-----\n"

    companion object {
        /** JCA's name for ES256. */
        const val ALGORITHM: String = "SHA256withECDSA"

        /** A new P-256 key pair from the default provider (held in memory only). */
        @JvmStatic
        fun generate(): JcaSigner {
            val kpg = KeyPairGenerator.getInstance("EC")
            kpg.initialize(ECGenParameterSpec("secp256r1"))
            return of(kpg.generateKeyPair())
        }

        /** A signer over an EC P-256 [keyPair]. */
        @JvmStatic
        fun of(keyPair: KeyPair): JcaSigner =
            JcaSigner(keyPair.private, keyPair.public as? ECPublicKey ?: throw IllegalArgumentException("not an EC key pair"))

        /**
         * The P-256 key under [alias] in a loaded [keyStore] (its certificate carries the public
         * key), or null when there is none.
         */
        @JvmStatic
        @JvmOverloads
        fun fromKeyStore(keyStore: KeyStore, alias: String, password: CharArray? = null): JcaSigner? {
            val key = keyStore.getKey(alias, password) as? PrivateKey ?: return null
            val cert = keyStore.getCertificate(alias) ?: return null
            val pub = cert.publicKey as? ECPublicKey ?: throw IllegalArgumentException("$alias is not an EC key")
            return JcaSigner(key, pub)
        }

        /**
         * Android only: the P-256 signing key [alias] of the `AndroidKeyStore`, created on first
         * use with `KeyGenParameterSpec` (purpose SIGN, digest SHA-256, secp256r1) and
         * `setIsStrongBoxBacked(true)` when [strongBox] is asked and the device has StrongBox
         * (API 28+; without it, or on `StrongBoxUnavailableException`, a TEE-backed key).
         *
         * The Android classes are reached by reflection so that this compiles and runs its
         * JVM-side checks without the Android SDK; on the JVM the provider is missing and this
         * throws [java.security.KeyStoreException]. **Untested here**: no Android device or
         * emulator is available to these tests (see docs/platforms.md).
         */
        @JvmStatic
        @JvmOverloads
        fun androidKeyStore(alias: String, strongBox: Boolean = true): JcaSigner {
            val ks = KeyStore.getInstance(ANDROID_KEYSTORE)
            ks.load(null)
            fromKeyStore(ks, alias)?.let { return it }
            val pair = try {
                generateAndroidKey(alias, strongBox)
            } catch (e: java.security.ProviderException) {
                // StrongBoxUnavailableException is a ProviderException (a RuntimeException), not
                // a GeneralSecurityException: most devices have no StrongBox.
                if (strongBox && e.javaClass.name == "android.security.keystore.StrongBoxUnavailableException") {
                    generateAndroidKey(alias, false)
                } else {
                    throw e
                }
            }
            return of(pair)
        }

        /** The AndroidKeyStore's JCA provider and key store name. */
        const val ANDROID_KEYSTORE: String = "AndroidKeyStore"

        private fun generateAndroidKey(alias: String, strongBox: Boolean): KeyPair {
            val props = Class.forName("android.security.keystore.KeyProperties")
            val purposeSign = props.getField("PURPOSE_SIGN").getInt(null)
            val digestSha256 = props.getField("DIGEST_SHA256").get(null) as String
            val builderClass = Class.forName("android.security.keystore.KeyGenParameterSpec\$Builder")
            val builder = builderClass.getConstructor(String::class.java, Int::class.javaPrimitiveType)
                .newInstance(alias, purposeSign)
            builderClass.getMethod("setAlgorithmParameterSpec", AlgorithmParameterSpec::class.java)
                .invoke(builder, ECGenParameterSpec("secp256r1"))
            builderClass.getMethod("setDigests", Array<String>::class.java)
                .invoke(builder, arrayOf(digestSha256))
            if (strongBox) {
                // API 28+; older devices have no StrongBox.
                runCatching { builderClass.getMethod("setIsStrongBoxBacked", Boolean::class.javaPrimitiveType) }
                    .getOrNull()?.invoke(builder, true)
            }
            val spec = builderClass.getMethod("build").invoke(builder) as AlgorithmParameterSpec
            val kpg = KeyPairGenerator.getInstance("EC", ANDROID_KEYSTORE)
            try {
                kpg.initialize(spec)
                return kpg.generateKeyPair()
            } catch (e: java.lang.reflect.InvocationTargetException) {
                throw (e.cause as? GeneralSecurityException) ?: e
            }
        }

        /** A non-negative coordinate as exactly 32 big-endian bytes. */
        private fun unsigned32(v: BigInteger): ByteArray {
            val b = v.toByteArray()
            return when {
                b.size == 32 -> b
                b.size == 33 && b[0] == 0.toByte() -> b.copyOfRange(1, 33)
                b.size < 32 -> ByteArray(32 - b.size) + b
                else -> throw IllegalArgumentException("coordinate wider than 256 bits")
            }
        }
    }
}

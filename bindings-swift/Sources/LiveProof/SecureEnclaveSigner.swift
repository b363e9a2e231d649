// The device key for the signed result: an EC P-256 key in the Secure Enclave (or, where there
// is none, e.g. the simulator, a software key in the keychain), implementing the generated
// `Signer` protocol. Hand-written; not compiled here (see docs/platforms.md, "iOS").

#if canImport(Security)
import Foundation
import Security
#if canImport(CryptoKit)
import CryptoKit
#endif

/// A `Signer` backed by a `SecKey`: `publicKey()` is `SecKeyCopyExternalRepresentation` of the
/// public key (already SEC1 uncompressed, 65 bytes); `sign(message:)` is `SecKeyCreateSignature`
/// with `.ecdsaSignatureMessageX962SHA256` (hashes with SHA-256 and signs; DER out), converted
/// to the raw `r‖s` the core wants by the generated `signatureFromDer(der:)`. Failures inside
/// `publicKey()` and `sign(message:)` are thrown as `CallbackError.Failed`; `finish()` reports
/// them as `ApiError.Signer`, the session keeps its decision and `finish()` may be called again.
///
/// `@unchecked Sendable`: the only stored property is an immutable `SecKey` reference, and the
/// Security framework's key operations may be called from any thread (the session calls `sign`
/// from the thread running `finish()`).
public final class SecureEnclaveSigner: Signer, @unchecked Sendable {
    /// The private key (in the Secure Enclave when `isHardwareBacked`).
    public let privateKey: SecKey
    /// Whether the key lives in the Secure Enclave (false: a software key).
    public let isHardwareBacked: Bool

    /// Wraps an existing P-256 private key (e.g. one your app manages).
    public init(privateKey: SecKey, isHardwareBacked: Bool) {
        self.privateKey = privateKey
        self.isHardwareBacked = isHardwareBacked
    }

    /// Whether this device has a Secure Enclave (false on the simulator and on Macs without one).
    public static var secureEnclaveAvailable: Bool {
        #if targetEnvironment(simulator)
        return false
        #elseif canImport(CryptoKit)
        return SecureEnclave.isAvailable
        #else
        return false
        #endif
    }

    /// The app's device key under `tag`, created on first use: in the Secure Enclave when there
    /// is one, else (the simulator) a software key in the keychain, and
    /// `isHardwareBacked` says which. `flags` guard the Secure Enclave key's use: the default
    /// `.privateKeyUsage` signs without a prompt; add `.userPresence` or `.biometryCurrentSet`
    /// to make each signature wait for Face ID / Touch ID / the passcode (then call `finish()`
    /// off the main thread, as `CaptureSession.finish()` does). Register the public key with
    /// your server once (`publicKey()`).
    public static func loadOrCreate(
        tag: String = "org.liveproof.device-key",
        flags: SecAccessControlCreateFlags = [.privateKeyUsage]
    ) throws -> SecureEnclaveSigner {
        let tagData = Data(tag.utf8)
        var query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: tagData,
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecReturnRef as String: true,
        ]
        #if os(macOS)
        query[kSecUseDataProtectionKeychain as String] = true
        #endif
        var item: CFTypeRef?
        let found = SecItemCopyMatching(query as CFDictionary, &item)
        if found == errSecSuccess, let item = item {
            // A keychain key reference is a SecKey; the CF cast cannot fail.
            let key = item as! SecKey
            let attributes = SecKeyCopyAttributes(key) as? [String: Any]
            let token = attributes?[kSecAttrTokenID as String] as? String
            return SecureEnclaveSigner(
                privateKey: key,
                isHardwareBacked: token == (kSecAttrTokenIDSecureEnclave as String))
        }
        guard found == errSecItemNotFound else {
            throw ApiError.Signer(message: "looking up the device key \(tag): OSStatus \(found)")
        }
        return try create(tag: tagData, permanent: true, secureEnclave: secureEnclaveAvailable, flags: flags)
    }

    /// A new key that is not stored (tests, one-off sessions): in the Secure Enclave when
    /// `secureEnclave` and one is available, else in software.
    public static func ephemeral(
        secureEnclave: Bool = SecureEnclaveSigner.secureEnclaveAvailable
    ) throws -> SecureEnclaveSigner {
        try create(
            tag: nil, permanent: false, secureEnclave: secureEnclave && secureEnclaveAvailable,
            flags: [.privateKeyUsage])
    }

    /// Deletes the stored device key under `tag` (a key rotation; register the new one).
    public static func delete(tag: String = "org.liveproof.device-key") {
        var query: [String: Any] = [
            kSecClass as String: kSecClassKey,
            kSecAttrApplicationTag as String: Data(tag.utf8),
        ]
        #if os(macOS)
        query[kSecUseDataProtectionKeychain as String] = true
        #endif
        SecItemDelete(query as CFDictionary)
    }

    private static func create(
        tag: Data?, permanent: Bool, secureEnclave: Bool, flags: SecAccessControlCreateFlags
    ) throws -> SecureEnclaveSigner {
        var error: Unmanaged<CFError>?
        // `.privateKeyUsage` is for Secure Enclave keys only; a software key gets no flags.
        guard
            let access = SecAccessControlCreateWithFlags(
                kCFAllocatorDefault, kSecAttrAccessibleWhenUnlockedThisDeviceOnly,
                secureEnclave ? flags : [], &error)
        else {
            throw failure("SecAccessControlCreateWithFlags", error)
        }
        var privateAttributes: [String: Any] = [
            kSecAttrIsPermanent as String: permanent,
            kSecAttrAccessControl as String: access,
        ]
        if let tag = tag {
            privateAttributes[kSecAttrApplicationTag as String] = tag
        }
        var attributes: [String: Any] = [
            kSecAttrKeyType as String: kSecAttrKeyTypeECSECPrimeRandom,
            kSecAttrKeySizeInBits as String: 256,
            kSecPrivateKeyAttrs as String: privateAttributes,
        ]
        if secureEnclave {
            attributes[kSecAttrTokenID as String] = kSecAttrTokenIDSecureEnclave
        }
        #if os(macOS)
        if permanent {
            attributes[kSecUseDataProtectionKeychain as String] = true
        }
        #endif
        guard let key = SecKeyCreateRandomKey(attributes as CFDictionary, &error) else {
            throw failure("SecKeyCreateRandomKey", error)
        }
        return SecureEnclaveSigner(privateKey: key, isHardwareBacked: secureEnclave)
    }

    /// The public key, SEC1 uncompressed (`0x04‖x‖y`, 65 bytes).
    public func publicKey() throws -> Data {
        guard let publicKey = SecKeyCopyPublicKey(privateKey) else {
            throw CallbackError.Failed(reason: "SecKeyCopyPublicKey returned no public key")
        }
        var error: Unmanaged<CFError>?
        guard let sec1 = SecKeyCopyExternalRepresentation(publicKey, &error) as Data? else {
            throw Self.failure("SecKeyCopyExternalRepresentation", error)
        }
        guard sec1.count == 65, sec1.first == 0x04 else {
            throw CallbackError.Failed(
                reason: "the public key is \(sec1.count) bytes; expected SEC1 uncompressed P-256 (65)")
        }
        return sec1
    }

    /// ECDSA P-256 over SHA-256 of `message`, as raw `r‖s` (64 bytes, low `s`). With a
    /// user-presence key this waits for Face ID / Touch ID / the passcode.
    public func sign(message: Data) throws -> Data {
        var error: Unmanaged<CFError>?
        guard
            let der = SecKeyCreateSignature(
                privateKey, .ecdsaSignatureMessageX962SHA256, message as CFData, &error) as Data?
        else {
            throw Self.failure("SecKeyCreateSignature", error)
        }
        do {
            return try signatureFromDer(der: der)
        } catch {
            throw CallbackError.Failed(reason: "the signature SecKeyCreateSignature returned: \(error)")
        }
    }

    /// A failure inside the callback: `CallbackError` is what UniFFI carries back into Rust
    /// (the library then reports `ApiError.Signer` with this message from `finish()`).
    private static func failure(_ call: String, _ error: Unmanaged<CFError>?) -> CallbackError {
        let detail = error.map { ($0.takeRetainedValue() as Error).localizedDescription }
        return CallbackError.Failed(reason: "\(call) failed: \(detail ?? "no detail")")
    }
}
#endif

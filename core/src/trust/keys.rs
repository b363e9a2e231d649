//! Keys: the [`Signer`] trait, software P-256 keys, device public keys, and the server's key
//! set with rotation by `kid`.
//!
//! A platform signer (Android Keystore / StrongBox, the Secure Enclave) returns an ASN.1 DER
//! `ECDSA-Sig-Value`; COSE needs the fixed 64-byte `r‖s` (RFC 9053 §2.1). [`der_to_raw`] is
//! the one place that converts.

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::TrustError;

/// A signature as a signer hands it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureBytes {
    /// COSE's form: `r‖s`, 32 bytes each.
    Raw([u8; 64]),
    /// ASN.1 DER `ECDSA-Sig-Value` (Android Keystore, `SecKeyCreateSignature`).
    Der(Vec<u8>),
}

impl SignatureBytes {
    /// The raw `r‖s` form with a low `s` (the one conversion point): DER is converted, and a
    /// high `s` (which some platform signers return) becomes `n − s`, the same signature's
    /// other form, so that each signed message has exactly one signature form on the wire.
    pub fn into_raw(self) -> Result<[u8; 64], TrustError> {
        let sig = match self {
            SignatureBytes::Raw(r) => Signature::from_slice(&r).map_err(|e| {
                TrustError::Signer(alloc::format!("not a P-256 ECDSA signature: {e}"))
            })?,
            SignatureBytes::Der(d) => Signature::from_der(&d).map_err(|e| {
                TrustError::Signer(alloc::format!("not a DER P-256 ECDSA signature: {e}"))
            })?,
        };
        let sig = sig.normalize_s().unwrap_or(sig);
        Ok(sig.to_bytes().into())
    }
}

/// DER `ECDSA-Sig-Value` → raw `r‖s` with a low `s` (RFC 9053 §2.1). Errors name what was
/// wrong.
pub fn der_to_raw(der: &[u8]) -> Result<[u8; 64], TrustError> {
    SignatureBytes::Der(der.to_vec()).into_raw()
}

/// Signs with ECDSA P-256 over SHA-256 of the message (ES256). The core hands over the COSE
/// `Sig_structure` bytes; the signer hashes and signs them, as the platform APIs do
/// (`SHA256withECDSA`, `ecdsaSignatureMessageX962SHA256`). May be slow or need the user.
pub trait Signer: Send + Sync {
    /// The public key, SEC1 uncompressed (65 bytes, `0x04‖x‖y`).
    fn public_key(&self) -> Result<DevicePublicKey, TrustError>;
    /// Signs `message` (ES256).
    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError>;
}

impl<S: Signer + ?Sized> Signer for Box<S> {
    fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
        (**self).public_key()
    }
    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
        (**self).sign(message)
    }
}

/// A software P-256 key (the default signer; the host app persists its PKCS#8 PEM).
#[derive(Clone)]
pub struct SoftwareSigner {
    key: SigningKey,
}

impl core::fmt::Debug for SoftwareSigner {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SoftwareSigner")
            .field(
                "kid",
                &kid_of(&DevicePublicKey::from_verifying(self.key.verifying_key())),
            )
            .finish_non_exhaustive()
    }
}

impl SoftwareSigner {
    /// A new random key from the operating system's generator.
    pub fn generate() -> SoftwareSigner {
        SoftwareSigner {
            key: SigningKey::random(&mut rand_core::OsRng),
        }
    }

    /// A key from its 32-byte secret scalar (test vectors).
    pub fn from_secret_bytes(secret: &[u8; 32]) -> Result<SoftwareSigner, TrustError> {
        SigningKey::from_bytes(secret.into())
            .map(|key| SoftwareSigner { key })
            .map_err(|e| TrustError::Key(alloc::format!("not a P-256 secret scalar: {e}")))
    }

    /// A key from PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<SoftwareSigner, TrustError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(|key| SoftwareSigner { key })
            .map_err(|e| TrustError::Key(alloc::format!("not a PKCS#8 P-256 private key: {e}")))
    }

    /// The key as PKCS#8 PEM (secret: store it like a password).
    pub fn to_pkcs8_pem(&self) -> Result<String, TrustError> {
        self.key
            .to_pkcs8_pem(LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| TrustError::Key(e.to_string()))
    }

    /// Reads a PKCS#8 PEM key file.
    pub fn load(path: &Path) -> Result<SoftwareSigner, TrustError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrustError::Key(alloc::format!("reading {}: {e}", path.display())))?;
        Self::from_pkcs8_pem(&text)
            .map_err(|e| TrustError::Key(alloc::format!("{}: {e}", path.display())))
    }

    /// Writes the key to `path` (PKCS#8 PEM, mode 0600 on Unix) and its public key to
    /// `path.pub` (SPKI PEM). Refuses to overwrite an existing key.
    pub fn save(&self, path: &Path) -> Result<PathBuf, TrustError> {
        let pub_path = append_ext(path, "pub");
        write_new(path, self.to_pkcs8_pem()?.as_bytes(), true)?;
        write_new(&pub_path, self.public()?.to_pem()?.as_bytes(), false)?;
        Ok(pub_path)
    }

    /// The public key.
    pub fn public(&self) -> Result<DevicePublicKey, TrustError> {
        Ok(DevicePublicKey::from_verifying(self.key.verifying_key()))
    }
}

impl Signer for SoftwareSigner {
    fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
        self.public()
    }
    fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
        let sig: Signature = self.key.sign(message);
        Ok(SignatureBytes::Raw(sig.to_bytes().into()))
    }
}

/// A P-256 public key (a device's or the server's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePublicKey {
    key: VerifyingKey,
}

impl DevicePublicKey {
    fn from_verifying(key: &VerifyingKey) -> DevicePublicKey {
        DevicePublicKey { key: *key }
    }

    /// From SEC1 bytes (65-byte uncompressed or 33-byte compressed); the point is checked to
    /// be on the curve.
    pub fn from_sec1(bytes: &[u8]) -> Result<DevicePublicKey, TrustError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(|key| DevicePublicKey { key })
            .map_err(|_| {
                TrustError::Key(alloc::format!(
                    "not a P-256 public key ({} bytes; expected a 65-byte SEC1 point on the curve)",
                    bytes.len()
                ))
            })
    }

    /// From affine coordinates (a COSE_Key's `x` and `y`, 32 bytes each).
    pub fn from_xy(x: &[u8], y: &[u8]) -> Result<DevicePublicKey, TrustError> {
        if x.len() != 32 || y.len() != 32 {
            return Err(TrustError::Key(alloc::format!(
                "COSE_Key coordinates of {} and {} bytes; expected 32 each",
                x.len(),
                y.len()
            )));
        }
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        Self::from_sec1(&sec1)
    }

    /// SEC1 uncompressed, 65 bytes.
    pub fn sec1(&self) -> Vec<u8> {
        self.key.to_encoded_point(false).as_bytes().to_vec()
    }

    /// From SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<DevicePublicKey, TrustError> {
        VerifyingKey::from_public_key_pem(pem)
            .map(|key| DevicePublicKey { key })
            .map_err(|e| TrustError::Key(alloc::format!("not an SPKI P-256 public key: {e}")))
    }

    /// As SPKI PEM.
    pub fn to_pem(&self) -> Result<String, TrustError> {
        self.key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| TrustError::Key(e.to_string()))
    }

    /// Reads an SPKI PEM file.
    pub fn load(path: &Path) -> Result<DevicePublicKey, TrustError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TrustError::Key(alloc::format!("reading {}: {e}", path.display())))?;
        Self::from_pem(&text)
            .map_err(|e| TrustError::Key(alloc::format!("{}: {e}", path.display())))
    }

    /// The COSE_Key (RFC 9052 §7; EC2, P-256, ES256) of this key.
    pub fn to_cose_key(&self) -> coset::CoseKey {
        let point = self.key.to_encoded_point(false);
        // An uncompressed point always has both coordinates.
        let x = point.x().map(|x| x.to_vec()).unwrap_or_default();
        let y = point.y().map(|y| y.to_vec()).unwrap_or_default();
        coset::CoseKeyBuilder::new_ec2_pub_key(coset::iana::EllipticCurve::P_256, x, y)
            .algorithm(coset::iana::Algorithm::ES256)
            .build()
    }

    /// Reads a COSE_Key: EC2, P-256, with `x` and `y`.
    pub fn from_cose_key(key: &coset::CoseKey) -> Result<DevicePublicKey, TrustError> {
        use coset::iana::{Ec2KeyParameter, EllipticCurve, KeyType};
        use coset::{Label, RegisteredLabel};
        if key.kty != RegisteredLabel::Assigned(KeyType::EC2) {
            return Err(TrustError::Key("COSE_Key is not EC2".into()));
        }
        let param = |p: Ec2KeyParameter| {
            key.params
                .iter()
                .find(|(l, _)| *l == Label::Int(p as i64))
                .map(|(_, v)| v)
        };
        let crv = param(Ec2KeyParameter::Crv).and_then(|v| v.as_integer());
        if crv != Some((EllipticCurve::P_256 as i64).into()) {
            return Err(TrustError::Key("COSE_Key curve is not P-256".into()));
        }
        let x = param(Ec2KeyParameter::X).and_then(|v| v.as_bytes());
        let y = param(Ec2KeyParameter::Y).and_then(|v| v.as_bytes());
        match (x, y) {
            (Some(x), Some(y)) => Self::from_xy(x, y),
            _ => Err(TrustError::Key("COSE_Key lacks x or y".into())),
        }
    }

    /// Whether `signature` (raw `r‖s`, 64 bytes, low `s`) is a valid ES256 signature of
    /// `message`. A high `s` is refused: every signer here emits the low form, so a high one
    /// is a malleated copy.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature)
            .is_ok_and(|sig| sig.normalize_s().is_none() && self.key.verify(message, &sig).is_ok())
    }
}

/// A key id: the first 8 bytes of SHA-256 of the SEC1 public key, as 16 hex digits.
pub fn kid_of(key: &DevicePublicKey) -> String {
    hex::encode(&Sha256::digest(key.sec1())[..8])
}

/// Where a server key stands in its rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    /// Signs new tokens and verifies (exactly one key is active).
    Active,
    /// Verifies tokens already issued; signs nothing (the previous key during a rotation).
    VerifyOnly,
    /// Rotated out: a token that names it is refused.
    Retired,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    kid: String,
    status: KeyStatus,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysFile {
    keys: Vec<KeyEntry>,
}

/// The server's keys, by `kid`: in a directory as `keys.json` (each kid and its status),
/// `<kid>.pub.pem` (SPKI) and, where this process signs, `<kid>.key.pem` (PKCS#8). The device
/// pins the public half (a directory without private keys works).
#[derive(Clone, Debug)]
pub struct ServerKeySet {
    keys: Vec<(String, KeyStatus, DevicePublicKey)>,
    signing: Option<(String, SoftwareSigner)>,
}

impl ServerKeySet {
    /// Pinned public keys, without a signing key (a device's config).
    pub fn from_public(keys: Vec<(String, KeyStatus, DevicePublicKey)>) -> ServerKeySet {
        ServerKeySet {
            keys,
            signing: None,
        }
    }

    /// Creates `dir` if needed and adds a new active key; an existing active key becomes
    /// verify-only (a rotation). Returns the new kid.
    pub fn generate(dir: &Path) -> Result<String, TrustError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| TrustError::Key(alloc::format!("creating {}: {e}", dir.display())))?;
        let mut file = read_keys_file(dir)?.unwrap_or_default();
        let signer = SoftwareSigner::generate();
        let public = signer.public()?;
        let kid = kid_of(&public);
        write_new(
            &dir.join(alloc::format!("{kid}.key.pem")),
            signer.to_pkcs8_pem()?.as_bytes(),
            true,
        )?;
        write_new(
            &dir.join(alloc::format!("{kid}.pub.pem")),
            public.to_pem()?.as_bytes(),
            false,
        )?;
        for k in &mut file.keys {
            if k.status == KeyStatus::Active {
                k.status = KeyStatus::VerifyOnly;
            }
        }
        file.keys.push(KeyEntry {
            kid: kid.clone(),
            status: KeyStatus::Active,
        });
        write_keys_file(dir, &file)?;
        Ok(kid)
    }

    /// Sets a key's status in `dir` (e.g. retire a rotated-out key).
    pub fn set_status(dir: &Path, kid: &str, status: KeyStatus) -> Result<(), TrustError> {
        let mut file = read_keys_file(dir)?
            .ok_or_else(|| TrustError::Key(alloc::format!("no keys.json in {}", dir.display())))?;
        let entry = file
            .keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .ok_or_else(|| TrustError::UnknownKid(kid.to_string()))?;
        entry.status = status;
        if file
            .keys
            .iter()
            .filter(|k| k.status == KeyStatus::Active)
            .count()
            > 1
        {
            return Err(TrustError::Key("only one key can be active".into()));
        }
        write_keys_file(dir, &file)
    }

    /// Loads the key set from `dir`; the active key's private half when present.
    pub fn load(dir: &Path) -> Result<ServerKeySet, TrustError> {
        let file = read_keys_file(dir)?.ok_or_else(|| {
            TrustError::Key(alloc::format!(
                "no keys.json in {} (make one with `liveproof-verifier keygen --out DIR`)",
                dir.display()
            ))
        })?;
        let mut keys = Vec::new();
        let mut signing = None;
        for entry in &file.keys {
            if entry.kid.len() != 16 || !entry.kid.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(TrustError::Key(alloc::format!(
                    "keys.json: kid `{}` is not 16 hex digits",
                    entry.kid
                )));
            }
            let public = DevicePublicKey::load(&dir.join(alloc::format!("{}.pub.pem", entry.kid)))?;
            if kid_of(&public) != entry.kid {
                return Err(TrustError::Key(alloc::format!(
                    "{}.pub.pem holds the key of kid {}",
                    entry.kid,
                    kid_of(&public)
                )));
            }
            if entry.status == KeyStatus::Active {
                let private = dir.join(alloc::format!("{}.key.pem", entry.kid));
                if private.exists() {
                    let signer = SoftwareSigner::load(&private)?;
                    if signer.public()? != public {
                        return Err(TrustError::Key(alloc::format!(
                            "{} does not match {}.pub.pem",
                            private.display(),
                            entry.kid
                        )));
                    }
                    signing = Some((entry.kid.clone(), signer));
                }
            }
            keys.push((entry.kid.clone(), entry.status, public));
        }
        if keys.is_empty() {
            return Err(TrustError::Key(alloc::format!(
                "{}/keys.json lists no key",
                dir.display()
            )));
        }
        Ok(ServerKeySet { keys, signing })
    }

    /// The key named `kid` for verifying: unknown and retired kids are refused.
    pub fn verifying_key(&self, kid: &str) -> Result<&DevicePublicKey, TrustError> {
        match self.keys.iter().find(|(k, _, _)| k == kid) {
            None => Err(TrustError::UnknownKid(kid.to_string())),
            Some((_, KeyStatus::Retired, _)) => Err(TrustError::RetiredKid(kid.to_string())),
            Some((_, _, key)) => Ok(key),
        }
    }

    /// The active signing key and its kid (a server that issues tokens).
    pub fn signer(&self) -> Result<(&str, &SoftwareSigner), TrustError> {
        self.signing
            .as_ref()
            .map(|(k, s)| (k.as_str(), s))
            .ok_or_else(|| TrustError::Key("no active private key in the key set".into()))
    }

    /// A set holding one signing key (tests, golden vectors).
    pub fn with_signer(signer: SoftwareSigner) -> Result<ServerKeySet, TrustError> {
        let public = signer.public()?;
        let kid = kid_of(&public);
        Ok(ServerKeySet {
            keys: alloc::vec![(kid.clone(), KeyStatus::Active, public)],
            signing: Some((kid, signer)),
        })
    }

    /// Each kid with its status.
    pub fn kids(&self) -> Vec<(String, KeyStatus)> {
        self.keys.iter().map(|(k, s, _)| (k.clone(), *s)).collect()
    }
}

fn read_keys_file(dir: &Path) -> Result<Option<KeysFile>, TrustError> {
    let path = dir.join("keys.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TrustError::Key(alloc::format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TrustError::Key(alloc::format!(
            "reading {}: {e}",
            path.display()
        ))),
    }
}

fn write_keys_file(dir: &Path, file: &KeysFile) -> Result<(), TrustError> {
    let path = dir.join("keys.json");
    let text = serde_json::to_string_pretty(file).map_err(|e| TrustError::Key(e.to_string()))?;
    let tmp = dir.join("keys.json.tmp");
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| TrustError::Key(alloc::format!("writing {}: {e}", path.display())))
}

fn append_ext(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// Writes a new file (never overwrites a key); `secret` files get mode 0600 on Unix.
fn write_new(path: &Path, bytes: &[u8], secret: bool) -> Result<(), TrustError> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(if secret { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts
        .open(path)
        .map_err(|e| TrustError::Key(alloc::format!("creating {}: {e}", path.display())))?;
    f.write_all(bytes)
        .map_err(|e| TrustError::Key(alloc::format!("writing {}: {e}", path.display())))
}

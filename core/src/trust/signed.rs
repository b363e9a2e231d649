//! The signed result: an EAT (RFC 9711) in CWT form inside a tagged `COSE_Sign1`, ES256, signed
//! by the device key it names in `cnf`, with SHA-256 of the session token as the COSE
//! `external_aad` (a result cannot be moved to another session).
//!
//! Claims (docs/trust.md has the table): `iat` 6 (signing time, device clock), `cnf` 8 (the
//! device public key as a COSE_Key), `eat_nonce` 10 (the token's, echoed), `eat_profile` 265,
//! `submods` 266 (`security`: the device and stream signals), `swname` 270, `swversion` 271,
//! `measurements` 273 (model sha256s, calibration, policy and fusion), and private claims: the
//! token (so the verifier is stateless), the session result (band, fused score, reason codes,
//! per-signal raw scores and LLRs, quality, challenge steps with timings, match band and
//! similarity — never an embedding —, the running frame hash, timings) and the host's
//! attestation evidence, carried opaque.
//!
//! `measurements` and `submods` are derived from the session result; [`SignedResult::parse`]
//! refuses a result where they disagree, so there is one source of truth.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use ciborium::value::Value;
use coset::{AsCborValue, CoseSign1};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::cbor::{self, key, text, Claims};
use super::keys::{kid_of, DevicePublicKey, Signer};
use super::token::{self, VerifiedToken, CNF, EAT_NONCE, IAT};
use super::TrustError;
use crate::evidence::SecurityEvidence;
use crate::result::{ModelUsed, SessionResult};

/// Our EAT profile (RFC 9711 §6): this document's claims and their meaning, version 1.
pub const EAT_PROFILE: &str = "tag:liveproof.invalid,2026:signed-result/1";

/// The software name in `swname`.
pub const SWNAME: &str = "liveproof-core";

const EAT_PROFILE_KEY: i64 = 265;
const SUBMODS: i64 = 266;
const SWNAME_KEY: i64 = 270;
const SWVERSION: i64 = 271;
const MEASUREMENTS: i64 = 273;
const TOKEN: i64 = -65537;
const RESULT: i64 = -65538;
const ATTESTATION: i64 = -65539;
const KNOWN: [i64; 11] = [
    IAT,
    CNF,
    EAT_NONCE,
    EAT_PROFILE_KEY,
    SUBMODS,
    SWNAME_KEY,
    SWVERSION,
    MEASUREMENTS,
    TOKEN,
    RESULT,
    ATTESTATION,
];
/// CoAP content-format of `application/cbor`: how a measurement's bytes are to be read.
const CONTENT_FORMAT_CBOR: u64 = 60;

/// What software decided: model digests and the decision's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurements {
    pub models: Vec<ModelUsed>,
    pub calibration_sha256: String,
    pub policy_sha256: String,
    /// `rules`, `weighted` or `logistic`.
    pub fusion_method: String,
}

impl Measurements {
    /// The measurements of a session result.
    pub fn of(result: &SessionResult) -> Measurements {
        Measurements {
            models: result.audit.models.clone(),
            calibration_sha256: result.calibration_sha256.clone(),
            policy_sha256: result.policy_sha256.clone(),
            fusion_method: result.audit.fusion_method.clone(),
        }
    }
}

/// Attestation evidence the host app supplies (Android key attestation chain, Play Integrity
/// token, App Attest assertion over the hash of the signed structure), carried opaque for the
/// verifier's `AttestationVerifier`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationEvidence {
    /// e.g. `android_key_attestation`, `play_integrity`, `app_attest_assertion`.
    pub format: String,
    #[serde(with = "serde_bytes_vec")]
    pub data: Vec<u8>,
}

/// `Vec<u8>` as a CBOR byte string (serde's default would write an array of integers).
mod serde_bytes_vec {
    use alloc::vec::Vec;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let b: ciborium::value::Value = Deserialize::deserialize(d)?;
        match b {
            ciborium::value::Value::Bytes(b) => Ok(b),
            _ => Err(serde::de::Error::custom("expected a byte string")),
        }
    }
}

/// The claims of a signed result.
#[derive(Clone, Debug, PartialEq)]
pub struct ResultClaims {
    /// The token's `eat_nonce`, echoed.
    pub nonce: Vec<u8>,
    /// Signing time, Unix seconds on the device's clock.
    pub issued_at: u64,
    pub swname: String,
    pub swversion: String,
    pub measurements: Measurements,
    /// The key that signed (`cnf`).
    pub device_key: DevicePublicKey,
    /// The session token as the device received it.
    pub token: Vec<u8>,
    pub result: SessionResult,
    pub attestation: Vec<AttestationEvidence>,
}

impl ResultClaims {
    /// The claims the device signs for `result` under `token`.
    pub fn new(
        token: &VerifiedToken,
        result: &SessionResult,
        device_key: DevicePublicKey,
        attestation: Vec<AttestationEvidence>,
        now: u64,
    ) -> Result<ResultClaims, TrustError> {
        if result.audit.session_id != token.claims.session_id_hex() {
            return Err(TrustError::Claim {
                claim: "cti",
                why: alloc::format!(
                    "the result is of session `{}`, the token of `{}`",
                    result.audit.session_id,
                    token.claims.session_id_hex()
                ),
            });
        }
        if result.policy_sha256 != hex::encode(token.claims.policy_sha256) {
            return Err(TrustError::Claim {
                claim: "policy_sha256",
                why: "the session ran another policy than the token names".into(),
            });
        }
        Ok(ResultClaims {
            nonce: token.claims.nonce.clone(),
            issued_at: now,
            swname: SWNAME.to_string(),
            swversion: env!("CARGO_PKG_VERSION").to_string(),
            measurements: Measurements::of(result),
            device_key,
            token: token.bytes.clone(),
            result: result.clone(),
            attestation,
        })
    }

    /// What the host's attestation evidence must be bound to (App Attest's `clientDataHash`,
    /// a key attestation challenge): SHA-256 of a domain tag, SHA-256 of the token, and these
    /// claims' encoding **without** the attestation claim (evidence cannot cover itself). The
    /// host computes it from [`ResultClaims::new`] before it asks the platform, the verifier
    /// from the claims it received.
    pub fn attestation_binding(&self) -> Result<[u8; 32], TrustError> {
        let bare = ResultClaims {
            attestation: Vec::new(),
            ..self.clone()
        };
        let mut h = Sha256::new();
        h.update(b"liveproof-attestation-binding/1");
        h.update(Sha256::digest(&self.token));
        h.update(cbor::to_vec(&bare.to_value()?)?);
        Ok(h.finalize().into())
    }

    fn to_value(&self) -> Result<Value, TrustError> {
        let cose_key = self
            .device_key
            .to_cose_key()
            .to_cbor_value()
            .map_err(|e| TrustError::Key(e.to_string()))?;
        let measurements = cbor::to_vec(&cbor::from_serde("measurements", &self.measurements)?)?;
        let mut m = alloc::vec![
            (key(IAT), Value::from(self.issued_at)),
            (key(CNF), Value::Map(alloc::vec![(key(1), cose_key)])),
            (key(EAT_NONCE), Value::Bytes(self.nonce.clone())),
            (key(EAT_PROFILE_KEY), text(EAT_PROFILE)),
            (
                key(SUBMODS),
                Value::Map(alloc::vec![(
                    text("security"),
                    cbor::from_serde("security", &self.result.security)?,
                )]),
            ),
            (key(SWNAME_KEY), text(&self.swname)),
            (key(SWVERSION), text(&self.swversion)),
            (
                key(MEASUREMENTS),
                Value::Array(alloc::vec![Value::Array(alloc::vec![
                    Value::from(CONTENT_FORMAT_CBOR),
                    Value::Bytes(measurements),
                ])]),
            ),
            (key(TOKEN), Value::Bytes(self.token.clone())),
            (key(RESULT), cbor::from_serde("result", &self.result)?),
        ];
        if !self.attestation.is_empty() {
            m.push((
                key(ATTESTATION),
                cbor::from_serde("attestation", &self.attestation)?,
            ));
        }
        cbor::canonical(Value::Map(m))
    }

    fn from_value(v: &Value) -> Result<ResultClaims, TrustError> {
        let c = Claims::new(v, "signed result claims")?;
        c.only(&KNOWN, "signed result claims")?;
        let profile = c.text(EAT_PROFILE_KEY, "eat_profile")?;
        if profile != EAT_PROFILE {
            return Err(TrustError::Claim {
                claim: "eat_profile",
                why: alloc::format!("`{profile}`; expected `{EAT_PROFILE}`"),
            });
        }
        let device_key = match c.require(CNF, "cnf")? {
            Value::Map(m) if m.len() == 1 => {
                let inner = m
                    .iter()
                    .find(|(k, _)| *k == key(1))
                    .map(|(_, v)| v.clone())
                    .ok_or(TrustError::Claim {
                        claim: "cnf",
                        why: "no COSE_Key (label 1)".into(),
                    })?;
                let cose_key =
                    coset::CoseKey::from_cbor_value(inner).map_err(|e| TrustError::Claim {
                        claim: "cnf",
                        why: e.to_string(),
                    })?;
                DevicePublicKey::from_cose_key(&cose_key)?
            }
            _ => {
                return Err(TrustError::Claim {
                    claim: "cnf",
                    why: "expected a map with one COSE_Key".into(),
                })
            }
        };
        let result: SessionResult = cbor::to_serde("result", c.require(RESULT, "result")?)?;
        let measurements = match c.require(MEASUREMENTS, "measurements")? {
            Value::Array(items) => match items.as_slice() {
                [Value::Array(pair)] => match pair.as_slice() {
                    [Value::Integer(fmt), Value::Bytes(b)]
                        if u64::try_from(*fmt) == Ok(CONTENT_FORMAT_CBOR) =>
                    {
                        let v: Value = ciborium::de::from_reader(b.as_slice()).map_err(|e| {
                            TrustError::Claim {
                                claim: "measurements",
                                why: e.to_string(),
                            }
                        })?;
                        cbor::to_serde::<Measurements>("measurements", &v)?
                    }
                    _ => return Err(measurements_shape()),
                },
                _ => return Err(measurements_shape()),
            },
            _ => return Err(measurements_shape()),
        };
        if measurements != Measurements::of(&result) {
            return Err(TrustError::Claim {
                claim: "measurements",
                why: "disagree with the session result".into(),
            });
        }
        let security = match c.require(SUBMODS, "submods")? {
            Value::Map(m) if m.len() == 1 && m[0].0 == text("security") => {
                cbor::to_serde::<SecurityEvidence>("submods", &m[0].1)?
            }
            _ => {
                return Err(TrustError::Claim {
                    claim: "submods",
                    why: "expected exactly the `security` submodule".into(),
                })
            }
        };
        if security != result.security {
            return Err(TrustError::Claim {
                claim: "submods",
                why: "the security submodule disagrees with the session result".into(),
            });
        }
        let attestation = match c.get(ATTESTATION) {
            None => Vec::new(),
            Some(v) => cbor::to_serde("attestation", v)?,
        };
        Ok(ResultClaims {
            nonce: c.bytes(EAT_NONCE, "eat_nonce")?.to_vec(),
            issued_at: c.uint(IAT, "iat")?,
            swname: c.text(SWNAME_KEY, "swname")?.to_string(),
            swversion: c.text(SWVERSION, "swversion")?.to_string(),
            measurements,
            device_key,
            token: c.bytes(TOKEN, "token")?.to_vec(),
            result,
            attestation,
        })
    }
}

fn measurements_shape() -> TrustError {
    TrustError::Claim {
        claim: "measurements",
        why: "expected [[60, bstr]] (application/cbor)".into(),
    }
}

/// Signs a session's result for the server: the EAT with the token's nonce, `external_aad` =
/// SHA-256 of the token. Refuses a result that is not this token's session (another session
/// id or policy). With attestation, build the claims with [`ResultClaims::new`], bind the
/// evidence to [`ResultClaims::attestation_binding`], then [`sign_claims`].
pub fn sign_result(
    token: &VerifiedToken,
    result: &SessionResult,
    signer: &dyn Signer,
    attestation: Vec<AttestationEvidence>,
    now: u64,
) -> Result<Vec<u8>, TrustError> {
    let claims = ResultClaims::new(token, result, signer.public_key()?, attestation, now)?;
    sign_claims(token, &claims, signer)
}

/// Signs prepared claims (their `cnf` must be the signer's key).
pub fn sign_claims(
    token: &VerifiedToken,
    claims: &ResultClaims,
    signer: &dyn Signer,
) -> Result<Vec<u8>, TrustError> {
    let device_key = signer.public_key()?;
    if device_key != claims.device_key {
        return Err(TrustError::Key(
            "the claims name another device key than the signer's".into(),
        ));
    }
    let payload = cbor::to_vec(&claims.to_value()?)?;
    token::seal(
        payload,
        kid_of(&device_key).as_bytes(),
        &token.sha256,
        signer,
        &claims.device_key,
    )
}

/// A signed result as received, structure and claims decoded; its signature is checked by
/// [`SignedResult::verify_device_signature`] (the verifier first checks the token it carries).
#[derive(Clone, Debug)]
pub struct SignedResult {
    sign1: CoseSign1,
    pub claims: ResultClaims,
    /// The `kid` of the COSE header (derived from the device key).
    pub kid: String,
}

impl SignedResult {
    /// Parses the bytes: tagged COSE_Sign1, ES256, deterministic encoding, known claims, a
    /// `kid` that is the `cnf` key's, measurements and submodules consistent with the result.
    pub fn parse(bytes: &[u8]) -> Result<SignedResult, TrustError> {
        let (sign1, kid) = token::open("signed result", bytes)?;
        let claims = ResultClaims::from_value(&token::payload_value("signed result", &sign1)?)?;
        if kid != kid_of(&claims.device_key) {
            return Err(TrustError::Claim {
                claim: "cnf",
                why: alloc::format!(
                    "the header's kid {kid} is not the cnf key's ({})",
                    kid_of(&claims.device_key)
                ),
            });
        }
        Ok(SignedResult { sign1, claims, kid })
    }

    /// Checks the signature with the `cnf` key over the bytes as received, with `external_aad`
    /// = SHA-256 of the carried token.
    pub fn verify_device_signature(&self) -> Result<(), TrustError> {
        let aad: [u8; 32] = Sha256::digest(&self.claims.token).into();
        let key = &self.claims.device_key;
        self.sign1.verify_signature(&aad, |sig, data| {
            if key.verifies(data, sig) {
                Ok(())
            } else {
                Err(TrustError::BadSignature {
                    what: "signed result",
                })
            }
        })
    }
}

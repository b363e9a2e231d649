//! The session token: a CWT (RFC 8392) in a tagged `COSE_Sign1`, ES256, signed by the server's
//! active key and named by its `kid`.
//!
//! Claims (integer keys; private ones below −65536, docs/trust.md has the table): `iss` 1,
//! `exp` 4, `iat` 6, `cti` 7 (the 128-bit session id), `eat_nonce` 10 (16–64 random bytes),
//! then the tenant, the 32-byte challenge seed, flow, risk tier, the policy's sha256, the
//! policy itself (so thresholds change with no app release), the attempt number, the retry
//! budget and the failures so far.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use ciborium::value::Value;
use coset::{CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use sha2::{Digest, Sha256};

use super::cbor::{self, key, text, Claims};
use super::keys::{DevicePublicKey, ServerKeySet, Signer};
use super::{TrustError, MAX_MESSAGE_BYTES, MAX_TOKEN_TTL_S};
use crate::policy::{FlowType, LoadedPolicy, RiskTier};

pub(crate) const ISS: i64 = 1;
pub(crate) const EXP: i64 = 4;
pub(crate) const IAT: i64 = 6;
pub(crate) const CTI: i64 = 7;
pub(crate) const CNF: i64 = 8;
pub(crate) const EAT_NONCE: i64 = 10;
const TENANT: i64 = -65537;
const SEED: i64 = -65538;
const FLOW: i64 = -65539;
const TIER: i64 = -65540;
const POLICY_SHA256: i64 = -65541;
const POLICY: i64 = -65542;
const ATTEMPT: i64 = -65543;
const MAX_ATTEMPTS: i64 = -65544;
const FAILURES: i64 = -65545;
const KNOWN: [i64; 14] = [
    ISS,
    EXP,
    IAT,
    CTI,
    EAT_NONCE,
    TENANT,
    SEED,
    FLOW,
    TIER,
    POLICY_SHA256,
    POLICY,
    ATTEMPT,
    MAX_ATTEMPTS,
    FAILURES,
];

/// What the server tells the device about one capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub issuer: String,
    /// Unix seconds.
    pub issued_at: u64,
    pub expires_at: u64,
    /// The 128-bit session id (`cti`).
    pub session_id: [u8; 16],
    /// 16–64 random bytes the signed result echoes.
    pub nonce: Vec<u8>,
    pub tenant: String,
    /// The challenge seed (#5): the plan is derived from it on both sides.
    pub seed: [u8; 32],
    pub flow: FlowType,
    pub tier: RiskTier,
    /// sha256 of the tenant policy (`LoadedPolicy::sha256`, raw bytes).
    pub policy_sha256: [u8; 32],
    /// The policy itself (JSON), when the server delivers it in the token.
    pub policy_json: Option<String>,
    /// 1 for the first attempt of the transaction.
    pub attempt: u32,
    /// Attempts the server allows for this transaction (the retry budget).
    pub max_attempts: u32,
    /// Failures in a row before this attempt.
    pub consecutive_failures: u32,
}

impl TokenClaims {
    /// The session id as 32 hex digits (the form results, audit records and stores use).
    pub fn session_id_hex(&self) -> String {
        hex::encode(self.session_id)
    }

    /// Checks ranges that do not depend on the clock.
    pub fn validate(&self) -> Result<(), TrustError> {
        let claim = |claim: &'static str, why: String| Err(TrustError::Claim { claim, why });
        if !(16..=64).contains(&self.nonce.len()) {
            return claim(
                "eat_nonce",
                alloc::format!("{} bytes; expected 16 to 64", self.nonce.len()),
            );
        }
        if self.expires_at <= self.issued_at {
            return claim("exp", "not after iat".into());
        }
        if self.expires_at - self.issued_at > MAX_TOKEN_TTL_S {
            return claim(
                "exp",
                alloc::format!(
                    "lifetime {} s exceeds {MAX_TOKEN_TTL_S} s",
                    self.expires_at - self.issued_at
                ),
            );
        }
        if self.tenant.is_empty()
            || self.tenant.len() > 128
            || self.tenant.chars().any(char::is_control)
        {
            return claim(
                "tenant",
                "empty, longer than 128 bytes or with control characters".into(),
            );
        }
        if self.attempt == 0 || self.max_attempts == 0 || self.attempt > self.max_attempts {
            return claim(
                "attempt",
                alloc::format!(
                    "attempt {} of {}: expected 1 ≤ attempt ≤ max_attempts",
                    self.attempt,
                    self.max_attempts
                ),
            );
        }
        Ok(())
    }

    fn to_value(&self) -> Result<Value, TrustError> {
        let mut m = alloc::vec![
            (key(ISS), text(&self.issuer)),
            (key(EXP), Value::from(self.expires_at)),
            (key(IAT), Value::from(self.issued_at)),
            (key(CTI), Value::Bytes(self.session_id.to_vec())),
            (key(EAT_NONCE), Value::Bytes(self.nonce.clone())),
            (key(TENANT), text(&self.tenant)),
            (key(SEED), Value::Bytes(self.seed.to_vec())),
            (key(FLOW), cbor::from_serde("flow", &self.flow)?),
            (key(TIER), cbor::from_serde("tier", &self.tier)?),
            (
                key(POLICY_SHA256),
                Value::Bytes(self.policy_sha256.to_vec())
            ),
            (key(ATTEMPT), Value::from(self.attempt)),
            (key(MAX_ATTEMPTS), Value::from(self.max_attempts)),
            (key(FAILURES), Value::from(self.consecutive_failures)),
        ];
        if let Some(p) = &self.policy_json {
            m.push((key(POLICY), text(p)));
        }
        cbor::canonical(Value::Map(m))
    }

    fn from_value(v: &Value) -> Result<TokenClaims, TrustError> {
        let c = Claims::new(v, "token claims")?;
        c.only(&KNOWN, "token claims")?;
        let fixed = |claim: &'static str, b: &[u8], n: usize| {
            if b.len() == n {
                Ok(())
            } else {
                Err(TrustError::Claim {
                    claim,
                    why: alloc::format!("{} bytes; expected {n}", b.len()),
                })
            }
        };
        let cti = c.bytes(CTI, "cti")?;
        fixed("cti", cti, 16)?;
        let seed = c.bytes(SEED, "seed")?;
        fixed("seed", seed, 32)?;
        let policy_sha256 = c.bytes(POLICY_SHA256, "policy_sha256")?;
        fixed("policy_sha256", policy_sha256, 32)?;
        let u32_claim = |k: i64, claim: &'static str| -> Result<u32, TrustError> {
            u32::try_from(c.uint(k, claim)?).map_err(|_| TrustError::Claim {
                claim,
                why: "too large".into(),
            })
        };
        let claims = TokenClaims {
            issuer: c.text(ISS, "iss")?.to_string(),
            issued_at: c.uint(IAT, "iat")?,
            expires_at: c.uint(EXP, "exp")?,
            session_id: cti.try_into().unwrap_or([0; 16]),
            nonce: c.bytes(EAT_NONCE, "eat_nonce")?.to_vec(),
            tenant: c.text(TENANT, "tenant")?.to_string(),
            seed: seed.try_into().unwrap_or([0; 32]),
            flow: cbor::to_serde("flow", c.require(FLOW, "flow")?)?,
            tier: cbor::to_serde("tier", c.require(TIER, "tier")?)?,
            policy_sha256: policy_sha256.try_into().unwrap_or([0; 32]),
            policy_json: match c.get(POLICY) {
                None => None,
                Some(Value::Text(t)) => Some(t.clone()),
                Some(_) => {
                    return Err(TrustError::Claim {
                        claim: "policy",
                        why: "expected a text string".into(),
                    })
                }
            },
            attempt: u32_claim(ATTEMPT, "attempt")?,
            max_attempts: u32_claim(MAX_ATTEMPTS, "max_attempts")?,
            consecutive_failures: u32_claim(FAILURES, "consecutive_failures")?,
        };
        claims.validate()?;
        Ok(claims)
    }
}

/// A token whose signature, lifetime and claims checked out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedToken {
    pub claims: TokenClaims,
    /// The server key that signed it.
    pub kid: String,
    /// SHA-256 of the token bytes: the signed result's COSE `external_aad`.
    pub sha256: [u8; 32],
    /// The token as received (the signed result carries it to the verifier).
    pub bytes: Vec<u8>,
}

impl VerifiedToken {
    /// The session parameters this token asks for: its seed, flow, tier, attempt, failures
    /// so far and session id (hex), so that every host builds them the same way (a drift in
    /// any of them shows up at the verifier as a binding or decision mismatch).
    pub fn session_params(
        &self,
        template: Option<crate::matching::FaceTemplate>,
        capture_device: &str,
    ) -> crate::session::SessionParams {
        let c = &self.claims;
        crate::session::SessionParams {
            seed: c.seed,
            flow: c.flow,
            tier: c.tier,
            attempt: c.attempt,
            consecutive_failures: c.consecutive_failures,
            request_id: String::new(),
            session_id: c.session_id_hex(),
            template,
            capture_device: capture_device.into(),
        }
    }

    /// The policy the token carries, parsed, validated and checked against its hash. `None`
    /// when the server sent only the hash (the app then supplies the policy beside it).
    pub fn policy(&self) -> Result<Option<LoadedPolicy>, TrustError> {
        let Some(json) = &self.claims.policy_json else {
            return Ok(None);
        };
        let loaded = LoadedPolicy::from_json(json).map_err(|e| TrustError::Claim {
            claim: "policy",
            why: e.to_string(),
        })?;
        self.check_policy(&loaded)?;
        Ok(Some(loaded))
    }

    /// Checks that `policy` is the one the token names by hash.
    pub fn check_policy(&self, policy: &LoadedPolicy) -> Result<(), TrustError> {
        if policy.sha256 != hex::encode(self.claims.policy_sha256) {
            return Err(TrustError::Claim {
                claim: "policy_sha256",
                why: alloc::format!(
                    "the token names policy {}, the policy given hashes to {}",
                    hex::encode(self.claims.policy_sha256),
                    policy.sha256
                ),
            });
        }
        Ok(())
    }
}

/// A token's claims **without** checking its signature or lifetime: only to route (which
/// tenant's configuration will check it). Never act on them before [`verify_token`].
pub fn peek_claims(bytes: &[u8]) -> Result<TokenClaims, TrustError> {
    let (sign1, _) = open("session token", bytes)?;
    TokenClaims::from_value(&payload_value("session token", &sign1)?)
}

/// Signs `claims` with the key set's active key: the token's bytes.
pub fn issue_token(claims: &TokenClaims, keys: &ServerKeySet) -> Result<Vec<u8>, TrustError> {
    claims.validate()?;
    let (kid, signer) = keys.signer()?;
    let key = keys.verifying_key(kid)?;
    let payload = cbor::to_vec(&claims.to_value()?)?;
    seal(payload, kid.as_bytes(), &[], signer, key)
}

/// Checks a token's structure, algorithm, `kid`, signature, lifetime (with `skew_s` seconds of
/// clock skew either way) and claims, in that order; the first failure is the error.
pub fn verify_token(
    bytes: &[u8],
    keys: &ServerKeySet,
    now: u64,
    skew_s: u64,
) -> Result<VerifiedToken, TrustError> {
    let (sign1, kid) = open("session token", bytes)?;
    let key = keys.verifying_key(&kid)?;
    sign1.verify_signature(&[], |sig, data| {
        if key.verifies(data, sig) {
            Ok(())
        } else {
            Err(TrustError::BadSignature {
                what: "session token",
            })
        }
    })?;
    let claims = TokenClaims::from_value(&payload_value("session token", &sign1)?)?;
    if claims.issued_at > now.saturating_add(skew_s) {
        return Err(TrustError::NotYetValid {
            iat: claims.issued_at,
            now,
            skew: skew_s,
        });
    }
    if claims.expires_at.saturating_add(skew_s) <= now {
        return Err(TrustError::Expired {
            exp: claims.expires_at,
            now,
            skew: skew_s,
        });
    }
    Ok(VerifiedToken {
        claims,
        kid,
        sha256: Sha256::digest(bytes).into(),
        bytes: bytes.to_vec(),
    })
}

/// A tagged COSE_Sign1 over `payload`: protected header `{alg: ES256, kid}`, empty
/// unprotected header, `aad` as the external AAD, signed by `signer`.
///
/// `key` is the public key the message names (the token's `kid`, the result's `cnf`): the
/// signature is checked under it before anything is sealed, the one check for every signer
/// (software, a host's hardware key behind the C ABI or UniFFI). A signature that does not
/// verify (another key, another hash) would be refused by the receiver after the session had
/// ended; here it is [`TrustError::Signer`], so that the caller can sign again.
pub(crate) fn seal(
    payload: Vec<u8>,
    kid: &[u8],
    aad: &[u8],
    signer: &dyn Signer,
    key: &DevicePublicKey,
) -> Result<Vec<u8>, TrustError> {
    let protected = HeaderBuilder::new()
        .algorithm(coset::iana::Algorithm::ES256)
        .key_id(kid.to_vec())
        .build();
    let sign1 = CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .try_create_signature(aad, |tbs| {
            // Low `s` (into_raw), the one form `verifies` and the receivers accept.
            let raw = signer.sign(tbs)?.into_raw()?;
            if !key.verifies(tbs, &raw) {
                return Err(TrustError::Signer(
                    "the signature does not verify under the signer's public key (expected \
                     ECDSA P-256 over SHA-256 of the COSE Sig_structure, by the key whose \
                     public half the signer gives)"
                        .into(),
                ));
            }
            Ok(raw.to_vec())
        })?
        .build();
    sign1.to_tagged_vec().map_err(|e| TrustError::Malformed {
        what: "COSE_Sign1",
        why: e.to_string(),
    })
}

/// Parses a tagged COSE_Sign1 as received and checks what does not need a key: the size, the
/// tag, ES256 in the protected header, a `kid`, an empty unprotected header (nothing may ride
/// outside the signature), a payload. Returns the structure (with the protected header's and
/// the payload's original bytes: the signature is checked on them, never on a re-encoding)
/// and the kid as text.
pub(crate) fn open(what: &'static str, bytes: &[u8]) -> Result<(CoseSign1, String), TrustError> {
    let malformed = |why: String| TrustError::Malformed { what, why };
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(malformed(alloc::format!(
            "{} bytes; at most {MAX_MESSAGE_BYTES}",
            bytes.len()
        )));
    }
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .map_err(|e| malformed(alloc::format!("not a tagged COSE_Sign1: {e}")))?;
    let alg = &sign1.protected.header.alg;
    if *alg
        != Some(coset::RegisteredLabelWithPrivate::Assigned(
            coset::iana::Algorithm::ES256,
        ))
    {
        return Err(TrustError::Algorithm(alloc::format!("{alg:?}")));
    }
    if !sign1.unprotected.is_empty() {
        return Err(malformed("the unprotected header is not empty".into()));
    }
    let h = &sign1.protected.header;
    if !h.crit.is_empty()
        || h.content_type.is_some()
        || !h.iv.is_empty()
        || !h.partial_iv.is_empty()
        || !h.counter_signatures.is_empty()
        || !h.rest.is_empty()
    {
        return Err(malformed(
            "the protected header holds more than alg and kid".into(),
        ));
    }
    let kid = String::from_utf8(h.key_id.clone())
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 64)
        .ok_or_else(|| malformed("missing or non-text kid".into()))?;
    if sign1.payload.is_none() {
        return Err(malformed("no payload".into()));
    }
    // Re-encoding is only compared, never verified: bytes that parse to the same structure
    // but encode differently (non-shortest lengths, indefinite lengths) are refused, so one
    // result has exactly one byte form.
    let again = sign1
        .clone()
        .to_tagged_vec()
        .map_err(|e| malformed(e.to_string()))?;
    if again != bytes {
        return Err(malformed("not in deterministic encoding".into()));
    }
    Ok((sign1, kid))
}

/// The payload as a CBOR value (after the signature checked out).
pub(crate) fn payload_value(what: &'static str, sign1: &CoseSign1) -> Result<Value, TrustError> {
    let payload = sign1.payload.as_deref().unwrap_or_default();
    let v: Value = ciborium::de::from_reader(payload).map_err(|e| TrustError::Malformed {
        what,
        why: alloc::format!("payload is not CBOR: {e}"),
    })?;
    // One byte form per claims set, as for the envelope.
    if cbor::to_vec(&cbor::canonical(v.clone())?)? != payload {
        return Err(TrustError::Malformed {
            what,
            why: "payload not in deterministic encoding".into(),
        });
    }
    Ok(v)
}

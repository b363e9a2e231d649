//! Trust-chain format tests: keys, the token's checks, the signed result's tamper resistance,
//! and the golden vectors (docs/vectors/, docs/trust.md).

use alloc::string::String;
use alloc::vec::Vec;

use super::keys::SignatureBytes;
use super::testkit::synthetic_result;
use super::*;
use crate::policy::{FlowType, LoadedPolicy, RiskTier};

const NOW: u64 = 1_796_000_000;

fn policy() -> LoadedPolicy {
    LoadedPolicy::from_json(crate::defaults::POLICY_JSON).unwrap()
}

fn calibration() -> crate::calibration::CalibrationBundle {
    crate::calibration::CalibrationBundle::from_json(crate::defaults::CALIBRATION_JSON).unwrap()
}

fn server() -> ServerKeySet {
    ServerKeySet::with_signer(SoftwareSigner::from_secret_bytes(&[0x11; 32]).unwrap()).unwrap()
}

fn device() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[0x22; 32]).unwrap()
}

fn claims(policy: &LoadedPolicy) -> TokenClaims {
    TokenClaims {
        issuer: "liveproof-verifier".into(),
        issued_at: NOW,
        expires_at: NOW + DEFAULT_TOKEN_TTL_S,
        session_id: [0x5a; 16],
        nonce: (0u8..32).collect(),
        tenant: "acme".into(),
        seed: [7; 32],
        flow: FlowType::Login,
        tier: RiskTier::Medium,
        policy_sha256: hex::decode(&policy.sha256).unwrap().try_into().unwrap(),
        policy_json: None,
        attempt: 1,
        max_attempts: 5,
        consecutive_failures: 0,
    }
}

fn token_and_result() -> (Vec<u8>, Vec<u8>) {
    let policy = policy();
    let keys = server();
    let token = issue_token(&claims(&policy), &keys).unwrap();
    let verified = verify_token(&token, &keys, NOW + 5, DEFAULT_SKEW_S).unwrap();
    let result = synthetic_result(&policy, &calibration(), &verified.claims, 0.9);
    let signed = sign_result(&verified, &result, &device(), Vec::new(), NOW + 20).unwrap();
    (token, signed)
}

#[test]
fn der_and_raw_signatures_are_the_same_signature() {
    use p256::ecdsa::signature::Signer as _;
    let key = p256::ecdsa::SigningKey::from_bytes((&[0x33u8; 32]).into()).unwrap();
    let sig: p256::ecdsa::Signature = key.sign(b"message");
    let der = sig.to_der().as_bytes().to_vec();
    assert!(
        der.len() >= 8 && der.len() <= 72,
        "DER length {}",
        der.len()
    );
    let low = sig.normalize_s().unwrap_or(sig);
    let raw: [u8; 64] = low.to_bytes().into();
    assert_eq!(der_to_raw(&der).unwrap(), raw);
    assert_eq!(SignatureBytes::Der(der).into_raw().unwrap(), raw);
    // The high-s form of the same signature: normalised on the way out, refused on the way in.
    let (r, s) = low.split_scalars();
    let high = p256::ecdsa::Signature::from_scalars(r, -*s).unwrap();
    assert!(high.normalize_s().is_some(), "the other form is high");
    let high_raw: [u8; 64] = high.to_bytes().into();
    assert_eq!(SignatureBytes::Raw(high_raw).into_raw().unwrap(), raw);
    let public =
        DevicePublicKey::from_sec1(key.verifying_key().to_encoded_point(false).as_bytes()).unwrap();
    assert!(public.verifies(b"message", &raw));
    assert!(
        !public.verifies(b"message", &high_raw),
        "a malleated high-s copy verified"
    );
    let e = der_to_raw(&[0x30, 0x02, 0x02, 0x00]).unwrap_err();
    assert!(e.to_string().contains("not a DER"), "{e}");
}

#[test]
fn a_der_signer_signs_results_the_verifier_accepts() {
    /// A signer that answers in DER, as Android Keystore and the Secure Enclave do.
    struct DerSigner(p256::ecdsa::SigningKey);
    impl Signer for DerSigner {
        fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
            DevicePublicKey::from_sec1(self.0.verifying_key().to_encoded_point(false).as_bytes())
        }
        fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
            use p256::ecdsa::signature::Signer as _;
            let sig: p256::ecdsa::Signature = self.0.sign(message);
            Ok(SignatureBytes::Der(sig.to_der().as_bytes().to_vec()))
        }
    }
    let policy = policy();
    let keys = server();
    let token = issue_token(&claims(&policy), &keys).unwrap();
    let verified = verify_token(&token, &keys, NOW, DEFAULT_SKEW_S).unwrap();
    let result = synthetic_result(&policy, &calibration(), &verified.claims, 0.9);
    let signer = DerSigner(p256::ecdsa::SigningKey::from_bytes((&[0x44u8; 32]).into()).unwrap());
    let bytes = sign_result(&verified, &result, &signer, Vec::new(), NOW).unwrap();
    let parsed = SignedResult::parse(&bytes).unwrap();
    parsed.verify_device_signature().unwrap();
    assert_eq!(parsed.claims.result, result);
}

#[test]
fn a_signature_by_another_key_than_the_signers_is_never_sealed() {
    /// Names one key and signs with another (a key from another alias, a host bug).
    struct WrongKey {
        claimed: SoftwareSigner,
        actual: SoftwareSigner,
    }
    impl Signer for WrongKey {
        fn public_key(&self) -> Result<DevicePublicKey, TrustError> {
            self.claimed.public()
        }
        fn sign(&self, message: &[u8]) -> Result<SignatureBytes, TrustError> {
            self.actual.sign(message)
        }
    }
    let policy = policy();
    let keys = server();
    let token = issue_token(&claims(&policy), &keys).unwrap();
    let verified = verify_token(&token, &keys, NOW, DEFAULT_SKEW_S).unwrap();
    let result = synthetic_result(&policy, &calibration(), &verified.claims, 0.9);
    let wrong = WrongKey {
        claimed: device(),
        actual: SoftwareSigner::from_secret_bytes(&[0x23; 32]).unwrap(),
    };
    let e = sign_result(&verified, &result, &wrong, Vec::new(), NOW).unwrap_err();
    let refused = "does not verify under the signer's public key";
    assert!(
        matches!(&e, TrustError::Signer(m) if m.contains(refused)),
        "{e:?}"
    );
    // The same claims by the key it names seal (the refusal is the signature's, nothing else).
    let honest = WrongKey {
        claimed: device(),
        actual: device(),
    };
    let bytes = sign_result(&verified, &result, &honest, Vec::new(), NOW).unwrap();
    SignedResult::parse(&bytes)
        .unwrap()
        .verify_device_signature()
        .unwrap();
}

#[test]
fn keys_round_trip_through_pem_files_and_never_overwrite() {
    let dir = std::env::temp_dir().join(alloc::format!("lp-trust-keys-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let signer = device();
    let file = dir.join("device.key");
    let pub_path = signer.save(&file).unwrap();
    assert_eq!(
        SoftwareSigner::load(&file).unwrap().public().unwrap(),
        signer.public().unwrap()
    );
    assert_eq!(
        DevicePublicKey::load(&pub_path).unwrap(),
        signer.public().unwrap()
    );
    assert!(signer.save(&file).is_err(), "a key file was overwritten");
    // The server set: generate, rotate, retire.
    let sdir = dir.join("server");
    let k1 = ServerKeySet::generate(&sdir).unwrap();
    let k2 = ServerKeySet::generate(&sdir).unwrap();
    let set = ServerKeySet::load(&sdir).unwrap();
    assert_eq!(set.signer().unwrap().0, k2);
    assert_eq!(
        set.kids(),
        alloc::vec![
            (k1.clone(), KeyStatus::VerifyOnly),
            (k2.clone(), KeyStatus::Active)
        ]
    );
    ServerKeySet::set_status(&sdir, &k1, KeyStatus::Retired).unwrap();
    let set = ServerKeySet::load(&sdir).unwrap();
    assert_eq!(
        set.verifying_key(&k1).unwrap_err(),
        TrustError::RetiredKid(k1.clone())
    );
    assert!(set.verifying_key(&k2).is_ok());
    assert_eq!(
        set.verifying_key("0011223344556677").unwrap_err(),
        TrustError::UnknownKid("0011223344556677".into())
    );
    // A garbage public key file is a typed error naming the file.
    std::fs::write(sdir.join(alloc::format!("{k2}.pub.pem")), "garbage").unwrap();
    let e = ServerKeySet::load(&sdir).unwrap_err();
    assert!(e.to_string().contains(".pub.pem"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_token_is_checked_for_signature_lifetime_and_claims() {
    let policy = policy();
    let keys = server();
    let c = claims(&policy);
    let token = issue_token(&c, &keys).unwrap();
    let v = verify_token(&token, &keys, NOW + 10, 30).unwrap();
    assert_eq!(v.claims, c);
    assert_eq!(v.claims.session_id_hex(), "5a".repeat(16));
    // Expired: exp = NOW + 180; with 30 s skew it is refused from NOW + 210 on.
    assert!(verify_token(&token, &keys, NOW + 209, 30).is_ok());
    assert!(matches!(
        verify_token(&token, &keys, NOW + 210, 30),
        Err(TrustError::Expired { .. })
    ));
    // Future-dated beyond the skew.
    assert!(verify_token(&token, &keys, NOW - 30, 30).is_ok());
    assert!(matches!(
        verify_token(&token, &keys, NOW - 31, 30),
        Err(TrustError::NotYetValid { .. })
    ));
    // Another server's key: unknown kid.
    let other =
        ServerKeySet::with_signer(SoftwareSigner::from_secret_bytes(&[0x12; 32]).unwrap()).unwrap();
    assert!(matches!(
        verify_token(&token, &other, NOW, 30),
        Err(TrustError::UnknownKid(_))
    ));
    // Lifetime over 600 s and a short nonce are refused at issue.
    let mut long = c.clone();
    long.expires_at = NOW + 601;
    assert!(matches!(
        issue_token(&long, &keys),
        Err(TrustError::Claim { claim: "exp", .. })
    ));
    let mut short = c.clone();
    short.nonce = alloc::vec![1; 15];
    assert!(matches!(
        issue_token(&short, &keys),
        Err(TrustError::Claim {
            claim: "eat_nonce",
            ..
        })
    ));
    // Malformed input of every kind is a typed error, never a panic.
    for bad in [
        &b""[..],
        &b"\xd2"[..],
        &b"\xd2\x84"[..],
        &[0xff; 100][..],
        &token[..token.len() - 1],
    ] {
        assert!(matches!(
            verify_token(bad, &keys, NOW, 30),
            Err(TrustError::Malformed { .. })
        ));
    }
}

#[test]
fn a_policy_in_the_token_is_checked_against_its_hash() {
    let policy = policy();
    let keys = server();
    let mut c = claims(&policy);
    c.policy_json = Some(crate::defaults::POLICY_JSON.into());
    let token = issue_token(&c, &keys).unwrap();
    let v = verify_token(&token, &keys, NOW, 30).unwrap();
    assert_eq!(v.policy().unwrap().unwrap().sha256, policy.sha256);
    c.policy_sha256 = [0; 32];
    let token = issue_token(&c, &keys).unwrap();
    let v = verify_token(&token, &keys, NOW, 30).unwrap();
    assert!(matches!(
        v.policy(),
        Err(TrustError::Claim {
            claim: "policy_sha256",
            ..
        })
    ));
}

#[test]
fn a_signed_result_round_trips_and_carries_the_session() {
    let (token, signed) = token_and_result();
    let parsed = SignedResult::parse(&signed).unwrap();
    parsed.verify_device_signature().unwrap();
    let c = &parsed.claims;
    assert_eq!(c.token, token);
    assert_eq!(c.nonce, (0u8..32).collect::<Vec<u8>>());
    assert_eq!(c.device_key, device().public().unwrap());
    assert_eq!(c.swname, "liveproof-core");
    assert_eq!(c.result.audit.session_id, "5a".repeat(16));
    assert_eq!(c.measurements.policy_sha256, policy().sha256);
    assert_eq!(c.issued_at, NOW + 20);
    // The steps of seed [7; 32] under the default plan, in order.
    assert!(!c.result.challenge_steps.is_empty());
    assert!(
        signed.len() < MAX_MESSAGE_BYTES / 4,
        "{} bytes",
        signed.len()
    );
}

#[test]
fn every_single_byte_flip_truncation_and_append_is_rejected() {
    let (_, signed) = token_and_result();
    let check = |bytes: &[u8]| -> bool {
        SignedResult::parse(bytes).is_ok_and(|p| p.verify_device_signature().is_ok())
    };
    assert!(check(&signed));
    let mut accepted = Vec::new();
    for i in 0..signed.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = signed.clone();
            b[i] ^= flip;
            if check(&b) {
                accepted.push((i, flip));
            }
        }
    }
    assert!(accepted.is_empty(), "accepted after a flip at {accepted:?}");
    for n in [0, 1, signed.len() / 2, signed.len() - 1] {
        assert!(!check(&signed[..n]), "accepted truncated to {n} bytes");
    }
    let mut longer = signed.clone();
    longer.push(0);
    assert!(!check(&longer), "accepted with a byte appended");
}

#[test]
fn a_result_cannot_be_moved_to_another_token() {
    let policy = policy();
    let keys = server();
    let (token_a, signed_a) = token_and_result();
    let mut cb = claims(&policy);
    cb.session_id = [0x5b; 16];
    let token_b = issue_token(&cb, &keys).unwrap();
    assert_ne!(token_a, token_b);
    // Splice token B's bytes into A's payload where token A sits: the payload no longer
    // matches its signature (and the AAD is B's hash).
    let pos = signed_a
        .windows(token_a.len())
        .position(|w| w == token_a.as_slice())
        .unwrap();
    assert_eq!(token_a.len(), token_b.len());
    let mut swapped = signed_a.clone();
    swapped[pos..pos + token_a.len()].copy_from_slice(&token_b);
    let parsed = SignedResult::parse(&swapped).unwrap();
    assert_eq!(
        parsed.verify_device_signature().unwrap_err(),
        TrustError::BadSignature {
            what: "signed result"
        }
    );
    // A device cannot sign a result of another session under this token.
    let vb = verify_token(&token_b, &keys, NOW, 30).unwrap();
    let va = verify_token(&token_a, &keys, NOW, 30).unwrap();
    let result_a = synthetic_result(&policy, &calibration(), &va.claims, 0.9);
    assert!(matches!(
        sign_result(&vb, &result_a, &device(), Vec::new(), NOW),
        Err(TrustError::Claim { claim: "cti", .. })
    ));
}

#[test]
fn encoding_is_deterministic_with_sorted_keys() {
    use ciborium::value::Value;
    let (t1, r1) = token_and_result();
    let (t2, r2) = token_and_result();
    assert_eq!(t1, t2);
    assert_eq!(
        r1, r2,
        "ES256 here is RFC 6979 deterministic: same inputs, same bytes"
    );
    // Map keys sorted bytewise by encoding (RFC 8949 §4.2.1): 10 (0x0a) before -65537
    // (0x3a...) before 265 (0x19...)? No: bytewise, 0x0a < 0x19 < 0x3a.
    let v = cbor::canonical(Value::Map(alloc::vec![
        (cbor::key(-65537), Value::from(1)),
        (cbor::key(265), Value::from(2)),
        (cbor::key(10), Value::from(3)),
        (cbor::text("a"), Value::from(4)),
    ]))
    .unwrap();
    let Value::Map(m) = v else { unreachable!() };
    let order: Vec<Value> = m.into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        order,
        alloc::vec![
            cbor::key(10),
            cbor::key(265),
            cbor::key(-65537),
            cbor::text("a")
        ]
    );
    assert!(cbor::canonical(Value::Float(f64::NAN)).is_err());
}

/// The golden vectors: fixed keys (secret scalars 0x11×32 for the server, 0x22×32 for the
/// device), fixed claims, RFC 6979 signatures. `LIVEPROOF_WRITE_VECTORS=1` rewrites them after
/// a deliberate format change.
#[test]
fn golden_vectors_are_byte_stable_and_verify() {
    let (token, signed) = token_and_result();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/vectors");
    if std::env::var_os("LIVEPROOF_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token.hex"), hex::encode(&token) + "\n").unwrap();
        std::fs::write(dir.join("result.hex"), hex::encode(&signed) + "\n").unwrap();
    }
    let read = |name: &str| -> Vec<u8> {
        let text: String = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("docs/vectors/{name}: {e}"));
        hex::decode(text.trim()).unwrap()
    };
    let golden_token = read("token.hex");
    let golden_result = read("result.hex");
    // The pinned bytes verify as they are (what another language checks)...
    let v = verify_token(&golden_token, &server(), NOW, 30).unwrap();
    assert_eq!(v.claims, claims(&policy()));
    let parsed = SignedResult::parse(&golden_result).unwrap();
    parsed.verify_device_signature().unwrap();
    // docs/trust.md shows them (the result on lines of 128 hex digits).
    let page = std::fs::read_to_string(dir.join("../trust.md"))
        .unwrap()
        .replace('\n', "");
    assert!(
        page.contains(&hex::encode(&golden_token)),
        "docs/trust.md lacks the token"
    );
    assert!(
        page.contains(&hex::encode(&golden_result)),
        "docs/trust.md lacks the result"
    );
    // ...and this build still makes exactly them.
    assert_eq!(
        hex::encode(&token),
        hex::encode(&golden_token),
        "token bytes changed"
    );
    assert_eq!(
        signed.len(),
        golden_result.len(),
        "signed result length changed"
    );
    assert!(signed == golden_result, "signed result bytes changed");
}

//! The golden trust-chain vectors (docs/vectors) checked by an independent implementation:
//! Python's `cbor2` and `cryptography` (OpenSSL) in the reference venv rebuild each COSE
//! Sig_structure from the received bytes and verify ES256 (xtask/py/check_trust_vectors.py).

use std::process::Command;

use liveproof_tests::{ref_python, ref_script};

#[test]
fn golden_vectors_verify_in_python_with_openssl() {
    let vectors = ref_script("check_trust_vectors.py")
        .parent()
        .and_then(|p| p.parent())
        .and_then(|p| p.parent())
        .map(|root| root.join("docs").join("vectors"))
        .unwrap();
    let out = Command::new(ref_python())
        .arg(ref_script("check_trust_vectors.py"))
        .arg(&vectors)
        .output()
        .expect("running the reference python");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(text.contains("token 308 B and result"), "{text}");
    assert!(text.contains("band pass"), "{text}");
}

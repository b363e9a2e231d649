"""Checks LiveProof's golden trust-chain vectors (docs/vectors/*.hex) with an independent COSE
reading: Python's `cbor2` and `cryptography` (OpenSSL), no LiveProof code. It rebuilds each
COSE Sig_structure (RFC 9052 §4.4) from the received bytes, verifies ES256 with the public keys
of the documented secret scalars (server 0x11 x 32, device 0x22 x 32), checks the result's
external_aad = SHA-256(token), the echoed nonce and the cnf key.

Usage: python check_trust_vectors.py DOCS_VECTORS_DIR
"""
import hashlib
import sys
from pathlib import Path

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def key(scalar: int) -> ec.EllipticCurvePublicKey:
    return ec.derive_private_key(scalar, ec.SECP256R1()).public_key()


def verify_sign1(raw: bytes, public: ec.EllipticCurvePublicKey, aad: bytes) -> dict:
    tag = cbor2.loads(raw)
    assert isinstance(tag, cbor2.CBORTag) and tag.tag == 18, "not a tagged COSE_Sign1"
    protected, unprotected, payload, signature = tag.value
    header = cbor2.loads(protected)
    assert header[1] == -7, f"alg {header[1]} is not ES256"
    assert unprotected == {}, "unprotected header not empty"
    tbs = cbor2.dumps(["Signature1", protected, aad, payload])
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    public.verify(encode_dss_signature(r, s), tbs, ec.ECDSA(hashes.SHA256()))
    return cbor2.loads(payload)


def main() -> None:
    d = Path(sys.argv[1])
    token = bytes.fromhex((d / "token.hex").read_text().strip())
    result = bytes.fromhex((d / "result.hex").read_text().strip())
    server = key(int.from_bytes(b"\x11" * 32, "big"))
    device = key(int.from_bytes(b"\x22" * 32, "big"))
    claims = verify_sign1(token, server, b"")
    assert claims[-65537] == "acme" and claims[7] == b"\x5a" * 16, claims
    eat = verify_sign1(result, device, hashlib.sha256(token).digest())
    assert eat[10] == claims[10], "nonce not echoed"
    assert eat[-65537] == token, "token not carried"
    cose_key = eat[8][1]
    nums = device.public_numbers()
    assert cose_key[-2] == nums.x.to_bytes(32, "big") and cose_key[-3] == nums.y.to_bytes(32, "big")
    assert eat[265] == "tag:liveproof.invalid,2026:signed-result/1"
    # Another AAD (another session's token) must fail.
    try:
        verify_sign1(result, device, hashlib.sha256(token + b"x").digest())
        raise SystemExit("a wrong external_aad verified")
    except Exception as e:  # InvalidSignature
        if isinstance(e, SystemExit):
            raise
    print(f"independent check (cbor2 + cryptography/OpenSSL): token {len(token)} B and result "
          f"{len(result)} B verify; nonce echoed; cnf is the device key; band {eat[-65538]['band']}")


if __name__ == "__main__":
    main()

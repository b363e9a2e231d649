//! Deterministic CBOR (RFC 8949 §4.2.1) and typed reads of claims maps.
//!
//! ciborium writes integers and floats in their shortest form and definite lengths; what it
//! does not do is sort map keys, and its own canonical module is length-first (§4.2.3). Here
//! [`canonical`] sorts every map's entries bytewise by the key's encoding, recursively.

use alloc::string::ToString;
use alloc::vec::Vec;

use ciborium::value::{Integer, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::TrustError;

/// The value's encoding (ciborium: shortest integer and float forms, definite lengths).
pub fn to_vec(value: &Value) -> Result<Vec<u8>, TrustError> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(value, &mut out).map_err(|e| TrustError::Malformed {
        what: "CBOR value",
        why: e.to_string(),
    })?;
    Ok(out)
}

/// Sorts every map in `value` by the bytewise order of its keys' encodings (RFC 8949
/// §4.2.1), recursively. Duplicate keys are an error (they would make the order ambiguous).
pub fn canonical(value: Value) -> Result<Value, TrustError> {
    Ok(match value {
        Value::Map(entries) => {
            let mut keyed = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let k = canonical(k)?;
                let enc = to_vec(&k)?;
                keyed.push((enc, k, canonical(v)?));
            }
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            if keyed.windows(2).any(|w| w[0].0 == w[1].0) {
                return Err(TrustError::Malformed {
                    what: "CBOR map",
                    why: "duplicate key".into(),
                });
            }
            Value::Map(keyed.into_iter().map(|(_, k, v)| (k, v)).collect())
        }
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(canonical)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Value::Tag(t, inner) => Value::Tag(t, alloc::boxed::Box::new(canonical(*inner)?)),
        // NaN and infinities have no place in a claim (scores are finite); refuse them rather
        // than sign something a verifier cannot compare.
        Value::Float(f) if !f.is_finite() => {
            return Err(TrustError::Malformed {
                what: "CBOR value",
                why: alloc::format!("non-finite number {f}"),
            })
        }
        other => other,
    })
}

/// A serde value as a canonical CBOR value.
pub fn from_serde<T: Serialize>(what: &'static str, value: &T) -> Result<Value, TrustError> {
    let v = Value::serialized(value).map_err(|e| TrustError::Malformed {
        what,
        why: e.to_string(),
    })?;
    canonical(v)
}

/// A CBOR value read back into a serde type.
pub fn to_serde<T: DeserializeOwned>(claim: &'static str, value: &Value) -> Result<T, TrustError> {
    value.deserialized().map_err(|e| TrustError::Claim {
        claim,
        why: e.to_string(),
    })
}

/// Typed reads of a claims map (integer keys); every miss names the claim.
pub struct Claims<'a> {
    entries: &'a [(Value, Value)],
}

impl<'a> Claims<'a> {
    pub fn new(value: &'a Value, what: &'static str) -> Result<Claims<'a>, TrustError> {
        match value {
            Value::Map(entries) => Ok(Claims { entries }),
            _ => Err(TrustError::Malformed {
                what,
                why: "the payload is not a CBOR map".into(),
            }),
        }
    }

    /// The value of integer key `key`, if present.
    pub fn get(&self, key: i64) -> Option<&'a Value> {
        self.entries.iter().find_map(|(k, v)| match k {
            Value::Integer(i) if i128::from(*i) == key as i128 => Some(v),
            _ => None,
        })
    }

    pub fn require(&self, key: i64, claim: &'static str) -> Result<&'a Value, TrustError> {
        self.get(key).ok_or(TrustError::Claim {
            claim,
            why: "missing".into(),
        })
    }

    pub fn bytes(&self, key: i64, claim: &'static str) -> Result<&'a [u8], TrustError> {
        match self.require(key, claim)? {
            Value::Bytes(b) => Ok(b),
            _ => Err(wrong_type(claim, "a byte string")),
        }
    }

    pub fn text(&self, key: i64, claim: &'static str) -> Result<&'a str, TrustError> {
        match self.require(key, claim)? {
            Value::Text(t) => Ok(t),
            _ => Err(wrong_type(claim, "a text string")),
        }
    }

    pub fn uint(&self, key: i64, claim: &'static str) -> Result<u64, TrustError> {
        match self.require(key, claim)? {
            Value::Integer(i) => u64::try_from(*i).map_err(|_| TrustError::Claim {
                claim,
                why: "negative or too large".into(),
            }),
            _ => Err(wrong_type(claim, "an unsigned integer")),
        }
    }

    /// Rejects keys outside `allowed` (a claim we do not know is a claim we cannot check).
    pub fn only(&self, allowed: &[i64], what: &'static str) -> Result<(), TrustError> {
        for (k, _) in self.entries {
            let known = matches!(k, Value::Integer(i) if allowed.iter().any(|a| i128::from(*i) == *a as i128));
            if !known {
                return Err(TrustError::Malformed {
                    what,
                    why: alloc::format!("unexpected claim key {k:?}"),
                });
            }
        }
        Ok(())
    }
}

fn wrong_type(claim: &'static str, expected: &str) -> TrustError {
    TrustError::Claim {
        claim,
        why: alloc::format!("expected {expected}"),
    }
}

/// An integer key.
pub fn key(k: i64) -> Value {
    Value::Integer(Integer::from(k))
}

/// A text value.
pub fn text(s: &str) -> Value {
    Value::Text(s.to_string())
}

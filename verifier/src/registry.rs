//! The device-key registry: which device public keys (P-256, SEC1 uncompressed) a tenant has
//! enrolled, so the verifier can require that a result was signed by a known device.
//!
//! [`MemoryDeviceKeyRegistry`] lives in this process (one instance, lost on restart);
//! [`RedisDeviceKeyRegistry`] keeps `{prefix}devkey:{tenant}:{hex(sha256(key))}` → label in a
//! shared Redis, without expiry. Errors are [`StoreError`]s: `Invalid` for a bad key, tenant or
//! label, `Unavailable` when Redis cannot answer (the caller fails closed), `Conflict` when a
//! revoked key is registered without [`DeviceKeyRegistry::reinstate`].
//!
//! **Revocation** leaves a marker (`{prefix}devkey-revoked:{tenant}:{hex(sha256(key))}` → the
//! Unix time of the revocation, no expiry) and removes the registration, in one atomic step. The
//! verifier then rejects the key's results as `device_key_revoked` whatever the trust mode, even
//! when attested. A plain `register` of a revoked key is refused, so a stolen key does not come
//! back through a routine enrolment; only `reinstate` (an explicit re-register) lifts the marker.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::store::{eval, validate_key, RedisConn, StoreError};

/// Length of a SEC1 uncompressed P-256 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
pub const SEC1_UNCOMPRESSED_LEN: usize = 65;

/// What a registry knows of one device key for one tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyState {
    /// Never registered (or the registry forgot it).
    Unknown,
    /// Registered and not revoked.
    Registered,
    /// Revoked: its results are rejected whatever else vouches for it.
    Revoked,
}

/// Registered and revoked device public keys, per tenant.
#[async_trait::async_trait]
pub trait DeviceKeyRegistry: Send + Sync {
    /// Registers a device public key (SEC1 uncompressed P-256 point, 65 bytes) for `tenant`.
    /// Idempotent. A revoked key is refused with [`StoreError::Conflict`]: see [`Self::reinstate`].
    async fn register(&self, tenant: &str, key_sec1: &[u8], label: &str) -> Result<(), StoreError>;
    /// Registers a key again, lifting a revocation (the backend's explicit decision that the
    /// key is trusted again). Also registers a key that was never revoked.
    async fn reinstate(&self, tenant: &str, key_sec1: &[u8], label: &str)
        -> Result<(), StoreError>;
    /// Revokes a key for `tenant` (registered or not: a key known to be stolen can be revoked
    /// before anyone registers it). Returns whether it was registered. Idempotent.
    async fn revoke(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError>;
    /// The key's state for `tenant`.
    async fn state(&self, tenant: &str, key_sec1: &[u8]) -> Result<KeyState, StoreError>;
    /// Whether the key is registered (and not revoked) for `tenant`.
    async fn is_registered(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError> {
        Ok(self.state(tenant, key_sec1).await? == KeyState::Registered)
    }
    /// "memory" or "redis" (for logs and metrics).
    fn kind(&self) -> &'static str;
}

/// The error for a plain registration of a revoked key.
fn revoked_conflict(tenant: &str) -> StoreError {
    StoreError::Conflict(format!(
        "this device key was revoked for tenant `{tenant}`; register it again only on purpose, \
         with reinstate"
    ))
}

/// Checks `key_sec1` is a SEC1 uncompressed point (65 bytes, 0x04 first) on P-256 and returns
/// it as an array.
pub fn validate_device_key(key_sec1: &[u8]) -> Result<[u8; SEC1_UNCOMPRESSED_LEN], StoreError> {
    let key: [u8; SEC1_UNCOMPRESSED_LEN] = key_sec1.try_into().map_err(|_| {
        StoreError::Invalid(format!(
            "device key is {} bytes, expected {SEC1_UNCOMPRESSED_LEN} (SEC1 uncompressed P-256)",
            key_sec1.len()
        ))
    })?;
    if key[0] != 0x04 {
        return Err(StoreError::Invalid(format!(
            "device key starts with 0x{:02x}, expected 0x04 (SEC1 uncompressed)",
            key[0]
        )));
    }
    p256::PublicKey::from_sec1_bytes(&key)
        .map_err(|_| StoreError::Invalid("device key is not a point on P-256".into()))?;
    Ok(key)
}

/// Checks a label: at most [`crate::store::MAX_KEY_BYTES`] bytes, no control characters (empty is allowed).
fn validate_label(label: &str) -> Result<(), StoreError> {
    if label.is_empty() {
        return Ok(());
    }
    validate_key("device key label", label)
}

/// Checks tenant, key and label together; returns the key as an array.
fn validate_registration(
    tenant: &str,
    key_sec1: &[u8],
) -> Result<[u8; SEC1_UNCOMPRESSED_LEN], StoreError> {
    validate_key("tenant", tenant)?;
    validate_device_key(key_sec1)
}

/// One entry of a [`MemoryDeviceKeyRegistry`].
enum MemoryEntry {
    /// Registered, with its label.
    Registered(String),
    Revoked,
}

type MemoryKeys = HashMap<(String, [u8; SEC1_UNCOMPRESSED_LEN]), MemoryEntry>;

/// An in-process registry. One verifier instance only; lost on restart.
#[derive(Default)]
pub struct MemoryDeviceKeyRegistry {
    keys: Mutex<MemoryKeys>,
}

impl MemoryDeviceKeyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registered (not revoked) keys, all tenants together.
    pub fn len(&self) -> usize {
        self.lock()
            .values()
            .filter(|e| matches!(e, MemoryEntry::Registered(_)))
            .count()
    }

    /// Whether no key is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryKeys> {
        self.keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait::async_trait]
impl DeviceKeyRegistry for MemoryDeviceKeyRegistry {
    async fn register(&self, tenant: &str, key_sec1: &[u8], label: &str) -> Result<(), StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        validate_label(label)?;
        let mut keys = self.lock();
        let entry = keys
            .entry((tenant.to_owned(), key))
            .or_insert(MemoryEntry::Registered(String::new()));
        match entry {
            MemoryEntry::Revoked => Err(revoked_conflict(tenant)),
            MemoryEntry::Registered(l) => {
                *l = label.to_owned();
                Ok(())
            }
        }
    }

    async fn reinstate(
        &self,
        tenant: &str,
        key_sec1: &[u8],
        label: &str,
    ) -> Result<(), StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        validate_label(label)?;
        self.lock().insert(
            (tenant.to_owned(), key),
            MemoryEntry::Registered(label.to_owned()),
        );
        Ok(())
    }

    async fn revoke(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        let previous = self
            .lock()
            .insert((tenant.to_owned(), key), MemoryEntry::Revoked);
        Ok(matches!(previous, Some(MemoryEntry::Registered(_))))
    }

    async fn state(&self, tenant: &str, key_sec1: &[u8]) -> Result<KeyState, StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        Ok(match self.lock().get(&(tenant.to_owned(), key)) {
            None => KeyState::Unknown,
            Some(MemoryEntry::Registered(_)) => KeyState::Registered,
            Some(MemoryEntry::Revoked) => KeyState::Revoked,
        })
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

/// A registry on a shared Redis: `{prefix}devkey:{tenant}:{hex(sha256(key))}` → label and
/// `{prefix}devkey-revoked:{tenant}:{hex(sha256(key))}` → Unix seconds of the revocation, no
/// expiry. Register and revoke are each one Lua script (atomic). Commands are bounded by
/// [`crate::store::REDIS_COMMAND_TIMEOUT`].
#[derive(Clone)]
pub struct RedisDeviceKeyRegistry {
    conn: RedisConn,
}

impl RedisDeviceKeyRegistry {
    /// Connects to `url` and checks it answers PING; keys are written under `prefix`.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            conn: RedisConn::open(url, prefix, true).await?,
        })
    }

    fn redis_key(&self, tenant: &str, key: &[u8; SEC1_UNCOMPRESSED_LEN]) -> String {
        let digest = Sha256::digest(key);
        self.conn
            .key(&format!("devkey:{tenant}:{}", hex::encode(digest)))
    }

    fn revoked_key(&self, tenant: &str, key: &[u8; SEC1_UNCOMPRESSED_LEN]) -> String {
        let digest = Sha256::digest(key);
        self.conn
            .key(&format!("devkey-revoked:{tenant}:{}", hex::encode(digest)))
    }
}

/// KEYS: registration, revocation marker; ARGV: label. Registers unless revoked: 1, or 0 when
/// the key is revoked (nothing written).
const REGISTER_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
return 1
";

/// KEYS: registration, revocation marker; ARGV: label. Lifts the marker and registers.
const REINSTATE_SCRIPT: &str = r"
redis.call('DEL', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1])
return 1
";

/// KEYS: registration, revocation marker; ARGV: Unix seconds. Removes the registration and
/// sets the marker; returns how many registrations were removed (0 or 1).
const REVOKE_SCRIPT: &str = r"
local removed = redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1])
return removed
";

/// KEYS: registration, revocation marker. 2 revoked, 1 registered, 0 unknown.
const STATE_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then return 2 end
return redis.call('EXISTS', KEYS[1])
";

#[async_trait::async_trait]
impl DeviceKeyRegistry for RedisDeviceKeyRegistry {
    async fn register(&self, tenant: &str, key_sec1: &[u8], label: &str) -> Result<(), StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        validate_label(label)?;
        let keys = [self.redis_key(tenant, &key), self.revoked_key(tenant, &key)];
        let written: i64 = self
            .conn
            .run(eval(REGISTER_SCRIPT, &keys, &[label.to_owned()]))
            .await?;
        match written {
            1 => Ok(()),
            _ => Err(revoked_conflict(tenant)),
        }
    }

    async fn reinstate(
        &self,
        tenant: &str,
        key_sec1: &[u8],
        label: &str,
    ) -> Result<(), StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        validate_label(label)?;
        let keys = [self.redis_key(tenant, &key), self.revoked_key(tenant, &key)];
        let _: i64 = self
            .conn
            .run(eval(REINSTATE_SCRIPT, &keys, &[label.to_owned()]))
            .await?;
        Ok(())
    }

    async fn revoke(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        let keys = [self.redis_key(tenant, &key), self.revoked_key(tenant, &key)];
        let now = liveproof_core::trust::unix_seconds(std::time::SystemTime::now());
        let removed: i64 = self
            .conn
            .run(eval(REVOKE_SCRIPT, &keys, &[now.to_string()]))
            .await?;
        Ok(removed == 1)
    }

    async fn state(&self, tenant: &str, key_sec1: &[u8]) -> Result<KeyState, StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        let keys = [self.redis_key(tenant, &key), self.revoked_key(tenant, &key)];
        let state: i64 = self.conn.run(eval(STATE_SCRIPT, &keys, &[])).await?;
        Ok(match state {
            2 => KeyState::Revoked,
            1 => KeyState::Registered,
            _ => KeyState::Unknown,
        })
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MAX_KEY_BYTES;

    #[test]
    fn device_keys_are_validated() {
        // The P-256 generator: a valid point.
        let g = hex::decode(
            "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
             4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
        )
        .unwrap();
        assert_eq!(validate_device_key(&g).unwrap().to_vec(), g);
        assert!(matches!(
            validate_device_key(&g[..64]),
            Err(StoreError::Invalid(_))
        ));
        let mut compressed_tag = g.clone();
        compressed_tag[0] = 0x02;
        assert!(matches!(
            validate_device_key(&compressed_tag),
            Err(StoreError::Invalid(_))
        ));
        let mut off_curve = g.clone();
        off_curve[64] ^= 1;
        assert!(matches!(
            validate_device_key(&off_curve),
            Err(StoreError::Invalid(_))
        ));
        assert!(validate_label("").is_ok());
        assert!(validate_label("line\nbreak").is_err());
        assert!(validate_label(&"l".repeat(MAX_KEY_BYTES + 1)).is_err());
    }
}

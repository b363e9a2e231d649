//! The device-key registry: which device public keys (P-256, SEC1 uncompressed) a tenant has
//! enrolled, so the verifier can require that a result was signed by a known device.
//!
//! [`MemoryDeviceKeyRegistry`] lives in this process (one instance, lost on restart);
//! [`RedisDeviceKeyRegistry`] keeps `{prefix}devkey:{tenant}:{hex(sha256(key))}` → label in a
//! shared Redis, without expiry. Errors are [`StoreError`]s: `Invalid` for a bad key, tenant or
//! label, `Unavailable` when Redis cannot answer (the caller fails closed).

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::store::{validate_key, RedisConn, StoreError};

/// Length of a SEC1 uncompressed P-256 point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
pub const SEC1_UNCOMPRESSED_LEN: usize = 65;

/// Registered device public keys, per tenant.
#[async_trait::async_trait]
pub trait DeviceKeyRegistry: Send + Sync {
    /// Registers a device public key (SEC1 uncompressed P-256 point, 65 bytes) for `tenant`.
    async fn register(&self, tenant: &str, key_sec1: &[u8], label: &str) -> Result<(), StoreError>;
    /// Whether the key was registered for `tenant`.
    async fn is_registered(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError>;
    /// "memory" or "redis" (for logs and metrics).
    fn kind(&self) -> &'static str;
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

/// An in-process registry. One verifier instance only; lost on restart.
#[derive(Default)]
pub struct MemoryDeviceKeyRegistry {
    keys: Mutex<HashMap<(String, [u8; SEC1_UNCOMPRESSED_LEN]), String>>,
}

impl MemoryDeviceKeyRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registered keys, all tenants together.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no key is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, [u8; SEC1_UNCOMPRESSED_LEN]), String>> {
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
        self.lock()
            .insert((tenant.to_owned(), key), label.to_owned());
        Ok(())
    }

    async fn is_registered(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        Ok(self.lock().contains_key(&(tenant.to_owned(), key)))
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

/// A registry on a shared Redis: `{prefix}devkey:{tenant}:{hex(sha256(key))}` → label, no
/// expiry. Commands are bounded by [`crate::store::REDIS_COMMAND_TIMEOUT`].
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
}

#[async_trait::async_trait]
impl DeviceKeyRegistry for RedisDeviceKeyRegistry {
    async fn register(&self, tenant: &str, key_sec1: &[u8], label: &str) -> Result<(), StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        validate_label(label)?;
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.redis_key(tenant, &key)).arg(label);
        let reply: String = self.conn.run(cmd).await?;
        if reply == "OK" {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "redis answered {reply:?} to SET"
            )))
        }
    }

    async fn is_registered(&self, tenant: &str, key_sec1: &[u8]) -> Result<bool, StoreError> {
        let key = validate_registration(tenant, key_sec1)?;
        let mut cmd = redis::cmd("EXISTS");
        cmd.arg(self.redis_key(tenant, &key));
        let count: u64 = self.conn.run(cmd).await?;
        Ok(count == 1)
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

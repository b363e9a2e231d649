//! The device-key registry, in memory and on Redis: registered keys are found for their tenant
//! only, bad keys, tenants and labels are `Invalid` without writing anything, and a revoked key
//! stays revoked (per tenant) until it is explicitly reinstated.

mod support;

use liveproof_verifier::registry::{
    DeviceKeyRegistry, KeyState, MemoryDeviceKeyRegistry, RedisDeviceKeyRegistry,
};
use liveproof_verifier::store::StoreError;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use sha2::{Digest, Sha256};
use support::TestRedis;

/// The SEC1 uncompressed public key of the fixed secret scalar `seed` repeated (not random:
/// the tests need distinct valid points, not secrecy).
fn device_key(seed: u8) -> Vec<u8> {
    let secret = p256::SecretKey::from_slice(&[seed; 32]).expect("scalar in range");
    secret
        .public_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec()
}

/// Registers 3 keys under 2 tenants and checks every (tenant, key) pair.
async fn registers_per_tenant(registry: &dyn DeviceKeyRegistry) {
    let (k1, k2, k3) = (device_key(1), device_key(2), device_key(3));
    assert_eq!(k1.len(), 65);
    registry.register("acme", &k1, "pixel 8").await.unwrap();
    registry.register("acme", &k2, "").await.unwrap();
    registry.register("globex", &k3, "iphone").await.unwrap();
    // Registering again is idempotent.
    registry.register("acme", &k1, "pixel 8").await.unwrap();

    let mut found = 0;
    for tenant in ["acme", "globex", "initech"] {
        for key in [&k1, &k2, &k3] {
            if registry.is_registered(tenant, key).await.unwrap() {
                found += 1;
            }
        }
    }
    assert_eq!(found, 3);
    assert!(registry.is_registered("acme", &k1).await.unwrap());
    assert!(!registry.is_registered("globex", &k1).await.unwrap());
    assert!(registry.is_registered("globex", &k3).await.unwrap());
}

/// Bad keys, tenants and labels: `Invalid`, for register and for lookup.
async fn rejects_invalid(registry: &dyn DeviceKeyRegistry) {
    let good = device_key(7);
    let mut wrong_tag = good.clone();
    wrong_tag[0] = 0x03;
    let mut off_curve = good.clone();
    off_curve[64] ^= 0x01;
    let mut bad_keys = vec![
        Vec::new(),
        good[..33].to_vec(),
        good[..64].to_vec(),
        [good.as_slice(), &[0]].concat(),
        wrong_tag,
        off_curve,
        vec![0x04; 65],
    ];
    // The compressed form of a valid point is refused too: only uncompressed is accepted.
    let secret = p256::SecretKey::from_slice(&[7; 32]).unwrap();
    bad_keys.push(
        secret
            .public_key()
            .to_encoded_point(true)
            .as_bytes()
            .to_vec(),
    );
    for key in &bad_keys {
        assert!(
            matches!(
                registry.register("acme", key, "x").await,
                Err(StoreError::Invalid(_))
            ),
            "key of {} bytes accepted",
            key.len()
        );
        assert!(matches!(
            registry.is_registered("acme", key).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let long_tenant = "t".repeat(257);
    for tenant in ["", "ac\nme", "tab\t", long_tenant.as_str()] {
        assert!(
            matches!(
                registry.register(tenant, &good, "x").await,
                Err(StoreError::Invalid(_))
            ),
            "tenant {tenant:?} accepted"
        );
        assert!(matches!(
            registry.is_registered(tenant, &good).await,
            Err(StoreError::Invalid(_))
        ));
    }
    assert!(matches!(
        registry.register("acme", &good, "bad\rlabel").await,
        Err(StoreError::Invalid(_))
    ));
    // Nothing above was registered.
    assert!(!registry.is_registered("acme", &good).await.unwrap());
}

#[tokio::test]
async fn memory_registry_registers_per_tenant() {
    let registry = MemoryDeviceKeyRegistry::new();
    assert_eq!(registry.kind(), "memory");
    registers_per_tenant(&registry).await;
    assert_eq!(registry.len(), 3);
}

#[tokio::test]
async fn memory_registry_rejects_invalid() {
    let registry = MemoryDeviceKeyRegistry::new();
    rejects_invalid(&registry).await;
    assert_eq!(registry.len(), 0);
}

/// A fresh Redis and a registry on it under the prefix `lp:`.
async fn redis_registry() -> (TestRedis, RedisDeviceKeyRegistry) {
    let redis = TestRedis::start();
    let registry = RedisDeviceKeyRegistry::connect(&redis.url(), "lp:")
        .await
        .unwrap();
    (redis, registry)
}

#[tokio::test]
async fn redis_registry_registers_per_tenant() {
    let (redis, registry) = redis_registry().await;
    assert_eq!(registry.kind(), "redis");
    registers_per_tenant(&registry).await;
    assert_eq!(redis.integer(&["DBSIZE"]), 3);
    // Layout: {prefix}devkey:{tenant}:{hex(sha256(key))} -> label, without expiry.
    let key = format!(
        "lp:devkey:acme:{}",
        hex::encode(Sha256::digest(device_key(1)))
    );
    assert_eq!(redis.command(&["GET", &key]), "$7\r\npixel 8\r\n");
    assert_eq!(redis.integer(&["TTL", &key]), -1);
}

#[tokio::test]
async fn redis_registry_rejects_invalid() {
    let (redis, registry) = redis_registry().await;
    rejects_invalid(&registry).await;
    assert_eq!(redis.integer(&["DBSIZE"]), 0);
}

/// Revocation is per tenant, survives a plain re-registration, and only `reinstate` lifts it.
async fn revokes_per_tenant(registry: &dyn DeviceKeyRegistry) {
    let (k1, k2) = (device_key(1), device_key(2));
    registry.register("acme", &k1, "pixel 8").await.unwrap();
    registry.register("globex", &k1, "pixel 8").await.unwrap();
    assert!(
        registry.revoke("acme", &k1).await.unwrap(),
        "was registered"
    );
    assert_eq!(
        registry.state("acme", &k1).await.unwrap(),
        KeyState::Revoked
    );
    assert!(!registry.is_registered("acme", &k1).await.unwrap());
    // The other tenant's registration of the same key is untouched.
    assert_eq!(
        registry.state("globex", &k1).await.unwrap(),
        KeyState::Registered
    );
    // Revoking again is idempotent and says it was no longer registered.
    assert!(!registry.revoke("acme", &k1).await.unwrap());
    // A routine registration does not bring it back...
    let again = registry.register("acme", &k1, "pixel 8").await;
    assert!(
        matches!(&again, Err(StoreError::Conflict(why)) if why.contains("revoked")),
        "{again:?}"
    );
    assert_eq!(
        registry.state("acme", &k1).await.unwrap(),
        KeyState::Revoked
    );
    // ...an explicit reinstate does.
    registry.reinstate("acme", &k1, "found").await.unwrap();
    assert!(registry.is_registered("acme", &k1).await.unwrap());
    registry.register("acme", &k1, "pixel 8").await.unwrap();
    // A key never registered can be revoked ahead of anyone registering it.
    assert_eq!(
        registry.state("acme", &k2).await.unwrap(),
        KeyState::Unknown
    );
    assert!(!registry.revoke("acme", &k2).await.unwrap());
    assert!(matches!(
        registry.register("acme", &k2, "").await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        registry.state("globex", &k2).await.unwrap(),
        KeyState::Unknown
    );
    // Bad input is Invalid for revoke and state too.
    assert!(matches!(
        registry.revoke("acme", &k2[..64]).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        registry.revoke("", &k2).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        registry.state("ac\nme", &k2).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        registry.reinstate("acme", &k2, "bad\rlabel").await,
        Err(StoreError::Invalid(_))
    ));
}

#[tokio::test]
async fn memory_registry_revokes_per_tenant() {
    let registry = MemoryDeviceKeyRegistry::new();
    revokes_per_tenant(&registry).await;
    // acme: k1 (reinstated); globex: k1. k2 is revoked, not registered.
    assert_eq!(registry.len(), 2);
}

#[tokio::test]
async fn redis_registry_revokes_per_tenant() {
    let (redis, registry) = redis_registry().await;
    revokes_per_tenant(&registry).await;
    // Layout: a revocation marker without expiry beside the registrations.
    let k2 = hex::encode(Sha256::digest(device_key(2)));
    let marker = format!("lp:devkey-revoked:acme:{k2}");
    assert_eq!(redis.integer(&["EXISTS", &marker]), 1);
    assert_eq!(redis.integer(&["TTL", &marker]), -1);
    assert_eq!(
        redis.integer(&["EXISTS", &format!("lp:devkey:acme:{k2}")]),
        0
    );
    // k1 was reinstated: its marker is gone. Keys: 2 registrations + k2's marker.
    let k1 = hex::encode(Sha256::digest(device_key(1)));
    assert_eq!(
        redis.integer(&["EXISTS", &format!("lp:devkey-revoked:acme:{k1}")]),
        0
    );
    assert_eq!(redis.integer(&["DBSIZE"]), 3);
    // A second registry on the same Redis (another verifier process) sees the revocation.
    let other = RedisDeviceKeyRegistry::connect(&redis.url(), "lp:")
        .await
        .unwrap();
    assert_eq!(
        other.state("acme", &device_key(2)).await.unwrap(),
        KeyState::Revoked
    );
}

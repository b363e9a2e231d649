//! The replay store: one atomic "claim" per session binding, so a signed result is accepted at
//! most once before its session token expires (docs/trust.md, "Replay protection").
//!
//! Two implementations:
//! - [`MemoryReplayStore`]: a map in this process. Correct for **one verifier instance only**:
//!   behind a load balancer every instance has its own map, so a result could be replayed once
//!   per instance.
//! - [`RedisReplayStore`]: `SET {prefix}replay:{key} 1 NX PX {ttl_ms}` on a shared Redis, atomic
//!   across instances and processes. Run Redis with `maxmemory-policy noeviction` (any other
//!   policy may evict unexpired claims) and, for claims that survive a Redis restart,
//!   `appendonly yes` with `appendfsync always` (`everysec` may lose about one second of claims).
//!
//! Every store error is returned to the caller, which must reject (fail closed): a claim that
//! cannot be recorded is never treated as fresh.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::metrics::REPLAY_CLAIM_SECONDS;

/// Longest accepted claim lifetime: a session token lives minutes, so a day is a bug.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Longest accepted key (and tenant) in bytes.
pub const MAX_KEY_BYTES: usize = 256;

/// Bound on one Redis command, including a reconnect it waits for: a dead Redis gives
/// [`StoreError::Unavailable`] after this long instead of hanging the request.
pub const REDIS_COMMAND_TIMEOUT: Duration = Duration::from_secs(2);

/// Default bound on the claims a [`MemoryReplayStore`] holds at once (about 100 MB at most);
/// a full store refuses new claims (fail closed) rather than evict unexpired ones.
pub const DEFAULT_MEMORY_CAPACITY: usize = 1_000_000;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or answered an error: the caller must fail closed.
    #[error("replay store unavailable: {0}")]
    Unavailable(String),
    /// The request itself is wrong (key, tenant, device key or ttl): retrying will not help.
    #[error("invalid replay-store request: {0}")]
    Invalid(String),
}

/// An atomic, expiring set of claimed keys.
#[async_trait::async_trait]
pub trait ReplayStore: Send + Sync {
    /// Atomically claims `key` for `ttl`: Ok(true) if this call made the claim, Ok(false) if an
    /// unexpired claim exists. Never evicts an unexpired claim. Err: the caller rejects.
    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// "memory" or "redis" (for logs, metrics and the verdict).
    fn kind(&self) -> &'static str;
}

/// Checks a store key or tenant: non-empty, at most [`MAX_KEY_BYTES`] bytes, no control
/// characters (they would corrupt logs and Redis key listings). `what` names it in the error.
pub fn validate_key(what: &str, key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(StoreError::Invalid(format!("{what} is empty")));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::Invalid(format!(
            "{what} is {} bytes, more than {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Err(StoreError::Invalid(format!(
            "{what} contains the control character U+{:04X}",
            c as u32
        )));
    }
    Ok(())
}

/// Checks a claim lifetime: more than zero and at most [`MAX_TTL`].
pub fn validate_ttl(ttl: Duration) -> Result<(), StoreError> {
    if ttl.is_zero() {
        return Err(StoreError::Invalid("ttl is zero".into()));
    }
    if ttl > MAX_TTL {
        return Err(StoreError::Invalid(format!(
            "ttl {} s is more than {} s",
            ttl.as_secs(),
            MAX_TTL.as_secs()
        )));
    }
    Ok(())
}

/// The claims of a [`MemoryReplayStore`]: by key, and by expiry so expired ones are dropped
/// in order without scanning the map.
#[derive(Default)]
struct MemoryClaims {
    by_key: HashMap<String, Instant>,
    by_expiry: BTreeSet<(Instant, String)>,
}

impl MemoryClaims {
    /// Drops every claim that expired at or before `now`.
    fn purge(&mut self, now: Instant) {
        while let Some((expiry, _)) = self.by_expiry.first() {
            if *expiry > now {
                break;
            }
            if let Some((_, key)) = self.by_expiry.pop_first() {
                self.by_key.remove(&key);
            }
        }
    }
}

/// An in-process replay store. **One verifier instance only**: claims are not shared with
/// other processes. Memory is bounded by expiry (expired claims are purged on every call) and
/// by a capacity: a full store answers [`StoreError::Unavailable`] rather than evict.
pub struct MemoryReplayStore {
    claims: Mutex<MemoryClaims>,
    capacity: usize,
}

impl Default for MemoryReplayStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryReplayStore {
    /// A store holding at most [`DEFAULT_MEMORY_CAPACITY`] unexpired claims.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    /// A store holding at most `capacity` unexpired claims.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            claims: Mutex::new(MemoryClaims::default()),
            capacity,
        }
    }

    /// Unexpired claims held now (after purging the expired ones).
    pub fn len(&self) -> usize {
        let mut claims = self.lock();
        claims.purge(Instant::now());
        claims.by_key.len()
    }

    /// Whether no unexpired claim is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The map, even if another thread panicked while holding it: every update below leaves
    /// both indexes consistent before it can panic.
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryClaims> {
        self.claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn claim_at(&self, key: &str, ttl: Duration, now: Instant) -> Result<bool, StoreError> {
        validate_key("replay key", key)?;
        validate_ttl(ttl)?;
        let expiry = now
            .checked_add(ttl)
            .ok_or_else(|| StoreError::Invalid("ttl overflows the clock".into()))?;
        let mut claims = self.lock();
        claims.purge(now);
        if claims.by_key.contains_key(key) {
            return Ok(false);
        }
        if claims.by_key.len() >= self.capacity {
            return Err(StoreError::Unavailable(format!(
                "memory replay store is full ({} unexpired claims)",
                self.capacity
            )));
        }
        claims.by_key.insert(key.to_owned(), expiry);
        claims.by_expiry.insert((expiry, key.to_owned()));
        Ok(true)
    }
}

#[async_trait::async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let started = Instant::now();
        let claimed = self.claim_at(key, ttl, started);
        REPLAY_CLAIM_SECONDS.observe(started.elapsed());
        claimed
    }

    fn kind(&self) -> &'static str {
        "memory"
    }
}

/// A Redis connection shared by the Redis-backed stores: a multiplexed
/// [`ConnectionManager`] that reconnects by itself, every command bounded by
/// [`REDIS_COMMAND_TIMEOUT`].
#[derive(Clone)]
pub(crate) struct RedisConn {
    manager: ConnectionManager,
    prefix: String,
}

impl RedisConn {
    /// Opens `url` and, when `eager`, waits (at most [`REDIS_COMMAND_TIMEOUT`]) for a first
    /// connection; a lazy one connects on its first command.
    pub(crate) async fn open(url: &str, prefix: &str, eager: bool) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::Invalid(format!("redis url does not parse ({:?})", e.kind()))
        })?;
        if prefix.len() > MAX_KEY_BYTES || prefix.chars().any(char::is_control) {
            return Err(StoreError::Invalid(
                "redis key prefix is longer than 256 bytes or contains a control character".into(),
            ));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(REDIS_COMMAND_TIMEOUT))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| StoreError::Unavailable(format!("redis: {e}")))?;
        let conn = Self {
            manager,
            prefix: prefix.to_owned(),
        };
        if eager {
            let pong: String = conn.run(redis::cmd("PING")).await?;
            if pong != "PONG" {
                return Err(StoreError::Unavailable(format!(
                    "redis answered {pong:?} to PING"
                )));
            }
        }
        Ok(conn)
    }

    pub(crate) fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    /// Runs one command within [`REDIS_COMMAND_TIMEOUT`]; any failure is `Unavailable`.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: redis::Cmd,
    ) -> Result<T, StoreError> {
        let mut manager = self.manager.clone();
        match tokio::time::timeout(REDIS_COMMAND_TIMEOUT, cmd.query_async::<T>(&mut manager)).await
        {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("redis: {e}"))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "redis did not answer within {} ms",
                REDIS_COMMAND_TIMEOUT.as_millis()
            ))),
        }
    }
}

/// A replay store on a shared Redis: correct across verifier instances and processes.
/// Claims are `SET {prefix}replay:{key} 1 NX PX {ttl_ms}`. A Redis error or a command that takes
/// longer than [`REDIS_COMMAND_TIMEOUT`] is [`StoreError::Unavailable`]; the connection
/// reconnects by itself, so a later call works again once Redis is back.
#[derive(Clone)]
pub struct RedisReplayStore {
    conn: RedisConn,
}

impl RedisReplayStore {
    /// Connects to `url` (`redis://host:port/db`) and checks it answers PING within
    /// [`REDIS_COMMAND_TIMEOUT`]; keys are written under `prefix` (e.g. `"liveproof:"`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            conn: RedisConn::open(url, prefix, true).await?,
        })
    }

    /// Like [`Self::connect`] but does not wait for Redis: the first claim connects. For a
    /// service that must start while Redis is still coming up (claims fail closed until then).
    pub async fn connect_lazy(url: &str, prefix: &str) -> Result<Self, StoreError> {
        Ok(Self {
            conn: RedisConn::open(url, prefix, false).await?,
        })
    }
}

#[async_trait::async_trait]
impl ReplayStore for RedisReplayStore {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        validate_key("replay key", key)?;
        validate_ttl(ttl)?;
        // Round a sub-millisecond ttl up: PX 0 is an error in Redis.
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.conn.key(&format!("replay:{key}")))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms);
        // OK when the key was set, nil when it already exists.
        let started = Instant::now();
        let reply = self.conn.run::<Option<String>>(cmd).await;
        REPLAY_CLAIM_SECONDS.observe(started.elapsed());
        match reply?.as_deref() {
            Some("OK") => Ok(true),
            None => Ok(false),
            Some(other) => Err(StoreError::Unavailable(format!(
                "redis answered {other:?} to SET NX"
            ))),
        }
    }

    fn kind(&self) -> &'static str {
        "redis"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_claims_expire_by_the_given_clock_and_are_purged() {
        let store = MemoryReplayStore::new();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        assert!(store.claim_at("a", ttl, t0).unwrap());
        assert!(!store
            .claim_at("a", ttl, t0 + Duration::from_secs(9))
            .unwrap());
        assert!(store
            .claim_at("b", ttl, t0 + Duration::from_secs(5))
            .unwrap());
        // At t0 + 10 s "a" has expired (expiry is exclusive), "b" has not.
        assert!(store
            .claim_at("a", ttl, t0 + Duration::from_secs(10))
            .unwrap());
        assert!(!store
            .claim_at("b", ttl, t0 + Duration::from_secs(14))
            .unwrap());
        let claims = store.lock();
        assert_eq!(claims.by_key.len(), 2);
        assert_eq!(claims.by_expiry.len(), 2);
    }

    #[test]
    fn memory_store_refuses_when_full_instead_of_evicting() {
        let store = MemoryReplayStore::with_capacity(2);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        assert!(store.claim_at("a", ttl, t0).unwrap());
        assert!(store.claim_at("b", ttl, t0).unwrap());
        assert!(matches!(
            store.claim_at("c", ttl, t0),
            Err(StoreError::Unavailable(_))
        ));
        // "a" is still claimed, and once both expire there is room again.
        assert!(!store.claim_at("a", ttl, t0).unwrap());
        assert!(store.claim_at("c", ttl, t0 + ttl).unwrap());
    }

    #[test]
    fn keys_and_ttls_are_validated() {
        let store = MemoryReplayStore::new();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(1);
        for bad in ["", "a\nb", "tab\there", "\u{7f}"] {
            assert!(matches!(
                store.claim_at(bad, ttl, t0),
                Err(StoreError::Invalid(_))
            ));
        }
        let long = "k".repeat(MAX_KEY_BYTES + 1);
        assert!(matches!(
            store.claim_at(&long, ttl, t0),
            Err(StoreError::Invalid(_))
        ));
        assert!(store.claim_at(&"k".repeat(MAX_KEY_BYTES), ttl, t0).unwrap());
        assert!(matches!(
            store.claim_at("x", Duration::ZERO, t0),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            store.claim_at("x", MAX_TTL + Duration::from_millis(1), t0),
            Err(StoreError::Invalid(_))
        ));
        assert!(store.claim_at("x", MAX_TTL, t0).unwrap());
        assert_eq!(store.lock().by_key.len(), 2);
    }
}

//! The replay store: one atomic "claim" per session binding, so a signed result is accepted at
//! most once before its session token expires (docs/trust.md, "Replay protection").
//!
//! Two implementations:
//! - [`MemoryReplayStore`]: a map in this process. Correct for **one verifier instance only**:
//!   behind a load balancer every instance has its own map, so a result could be replayed once
//!   per instance.
//! - [`RedisReplayStore`]: `SET {prefix}replay:{key} {value} NX PX {ttl_ms}` on a shared Redis,
//!   atomic across instances and processes. Run Redis with `maxmemory-policy noeviction` (any
//!   other policy may evict unexpired claims) and, for claims that survive a Redis restart,
//!   `appendonly yes` with `appendfsync always` (`everysec` may lose about one second of claims).
//!
//! Every store error is returned to the caller, which must reject (fail closed): a claim that
//! cannot be recorded is never treated as fresh.
//!
//! A result's claim ([`ReplayStore::claim_and_record`]) holds the sha256 of the result's bytes
//! as received, so a later claim of the same session can tell the identical result sent again
//! (a resend after a lost answer, or a captured copy) from different bytes
//! ([`Claim::Held`]). Plain [`ReplayStore::claim`]s hold no hash (`1` in Redis).
//!
//! The same store counts attempts (docs/trust.md, "Attempts"): per tenant and subject, the
//! sessions issued and the consecutive failures within a window. Redis keeps them in the hash
//! `{prefix}attempts:{tenant}:{hex(sha256(subject))}` (fields `issued`, `failures`, expiring
//! at the window's end) and maps each counted session to it with
//! `{prefix}attempt-session:{session_id}` until the token expires; both updates are Lua
//! scripts, so they are atomic across verifier processes.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::Digest as _;

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
    /// The request conflicts with what the store holds (a revoked device key registered
    /// without an explicit reinstate).
    #[error("{0}")]
    Conflict(String),
}

/// What an accepted result does to its subject's attempt count ([`ReplayStore::claim_and_record`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A pass ends the transaction: the subject's counts are reset.
    Pass,
    /// A fail adds one consecutive failure.
    Fail,
    /// Anything else (a retry) changes nothing: the session was counted when issued.
    Neutral,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Neutral => "neutral",
        }
    }
}

/// The attempt limit of one tenant: at most `max_attempts` sessions per subject within
/// `window` (counted from the window's first session; a pass resets it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttemptLimit {
    pub max_attempts: u32,
    pub window: Duration,
}

/// The answer to [`ReplayStore::begin_attempt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptGrant {
    /// Issue the session: it is attempt `attempt` (1-based) in the window, after
    /// `consecutive_failures` fails in a row.
    Granted {
        attempt: u32,
        consecutive_failures: u32,
    },
    /// `max_attempts` sessions were already issued in the window; it ends in `retry_after`.
    Refused { issued: u32, retry_after: Duration },
}

/// The answer to [`ReplayStore::claim_and_record`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This call made the claim (and counted the outcome).
    Claimed,
    /// An unexpired claim exists; `same_result` when it was made for a result with the same
    /// sha256 as this one (the identical bytes), false for other bytes or a claim without a
    /// hash. Nothing was changed.
    Held { same_result: bool },
}

impl Claim {
    /// Whether this call made the claim.
    pub fn claimed(self) -> bool {
        self == Claim::Claimed
    }
}

/// An atomic, expiring set of claimed keys, and the attempt counts per tenant and subject that
/// session issuance and accepted results update (in the same store, so one Redis serves both).
#[async_trait::async_trait]
pub trait ReplayStore: Send + Sync {
    /// Atomically claims `key` for `ttl`: Ok(true) if this call made the claim, Ok(false) if an
    /// unexpired claim exists. Never evicts an unexpired claim. Err: the caller rejects.
    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;
    /// As [`Self::claim`], storing `result_sha256` (the sha256 of the result's bytes as
    /// received) as the claim's value, and when this call made the claim, applies `outcome` to
    /// the subject that session `key` was issued to by [`Self::begin_attempt`] (if any), in the
    /// same atomic step: a result is counted exactly when it is accepted. `window` is the
    /// tenant's, for a fail whose window has ended meanwhile (it starts a new one). When a claim
    /// exists, answers [`Claim::Held`] saying whether it holds the same hash.
    async fn claim_and_record(
        &self,
        key: &str,
        ttl: Duration,
        outcome: Outcome,
        window: Duration,
        result_sha256: &[u8; 32],
    ) -> Result<Claim, StoreError>;
    /// Counts one session for `(tenant, subject)` unless `limit.max_attempts` were already
    /// issued in the window, and remembers for `session_ttl` that session `session_key` belongs
    /// to that subject. Atomic. Err: the caller refuses to issue (fail closed).
    async fn begin_attempt(
        &self,
        tenant: &str,
        subject: &str,
        session_key: &str,
        limit: AttemptLimit,
        session_ttl: Duration,
    ) -> Result<AttemptGrant, StoreError>;
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

/// Checks an attempt limit: at least one attempt, a window of 1 s to [`MAX_TTL`].
pub fn validate_limit(limit: AttemptLimit) -> Result<(), StoreError> {
    if limit.max_attempts == 0 {
        return Err(StoreError::Invalid("max_attempts is zero".into()));
    }
    if limit.window < Duration::from_secs(1) {
        return Err(StoreError::Invalid(format!(
            "attempt window {} ms is shorter than 1 s",
            limit.window.as_millis()
        )));
    }
    validate_ttl(limit.window)
}

/// Checks `begin_attempt`'s arguments, the same for every store.
fn validate_attempt(
    tenant: &str,
    subject: &str,
    session_key: &str,
    limit: AttemptLimit,
    session_ttl: Duration,
) -> Result<(), StoreError> {
    validate_key("tenant", tenant)?;
    validate_key("subject", subject)?;
    validate_key("session key", session_key)?;
    validate_limit(limit)?;
    validate_ttl(session_ttl)
}

/// One subject's counts in a [`MemoryReplayStore`].
struct MemoryCounter {
    issued: u32,
    failures: u32,
    /// The end of the window.
    expires: Instant,
}

/// The claims of a [`MemoryReplayStore`]: by key, and by expiry so expired ones are dropped
/// in order without scanning the map; the attempt counters, and which subject each counted
/// session belongs to (until its expiry).
#[derive(Default)]
struct MemoryClaims {
    /// Expiry, and the result's sha256 for a result's claim.
    by_key: HashMap<String, (Instant, Option<[u8; 32]>)>,
    by_expiry: BTreeSet<(Instant, String)>,
    counters: HashMap<(String, String), MemoryCounter>,
    sessions: HashMap<String, ((String, String), Instant)>,
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
        Ok(self
            .claim_and_record_at(key, ttl, None, None, now)?
            .claimed())
    }

    /// Claims `key`, holding `result_sha256`; when claimed and `outcome` is given, applies it to
    /// the session's subject.
    fn claim_and_record_at(
        &self,
        key: &str,
        ttl: Duration,
        outcome: Option<(Outcome, Duration)>,
        result_sha256: Option<&[u8; 32]>,
        now: Instant,
    ) -> Result<Claim, StoreError> {
        validate_key("replay key", key)?;
        validate_ttl(ttl)?;
        if let Some((_, window)) = outcome {
            validate_ttl(window)?;
        }
        let expiry = later(now, ttl)?;
        let mut claims = self.lock();
        claims.purge(now);
        if let Some((_, held)) = claims.by_key.get(key) {
            let same_result = matches!((held, result_sha256), (Some(a), Some(b)) if a == b);
            return Ok(Claim::Held { same_result });
        }
        if claims.by_key.len() >= self.capacity {
            return Err(StoreError::Unavailable(format!(
                "memory replay store is full ({} unexpired claims)",
                self.capacity
            )));
        }
        claims
            .by_key
            .insert(key.to_owned(), (expiry, result_sha256.copied()));
        claims.by_expiry.insert((expiry, key.to_owned()));
        let Some((outcome, window)) = outcome else {
            return Ok(Claim::Claimed);
        };
        let Some((subject, until)) = claims.sessions.remove(key) else {
            return Ok(Claim::Claimed);
        };
        if until <= now {
            return Ok(Claim::Claimed);
        }
        match outcome {
            Outcome::Pass => {
                claims.counters.remove(&subject);
            }
            Outcome::Fail => {
                let counter = claims
                    .counters
                    .entry(subject)
                    .or_insert_with(|| MemoryCounter {
                        issued: 0,
                        failures: 0,
                        expires: now,
                    });
                if counter.expires <= now {
                    *counter = MemoryCounter {
                        issued: 0,
                        failures: 0,
                        expires: later(now, window)?,
                    };
                }
                counter.failures = counter.failures.saturating_add(1);
            }
            Outcome::Neutral => {}
        }
        Ok(Claim::Claimed)
    }

    fn begin_attempt_at(
        &self,
        tenant: &str,
        subject: &str,
        session_key: &str,
        limit: AttemptLimit,
        session_ttl: Duration,
        now: Instant,
    ) -> Result<AttemptGrant, StoreError> {
        validate_attempt(tenant, subject, session_key, limit, session_ttl)?;
        let session_until = later(now, session_ttl)?;
        let window_end = later(now, limit.window)?;
        let mut claims = self.lock();
        let id = (tenant.to_owned(), subject.to_owned());
        if !claims.counters.contains_key(&id) && claims.counters.len() >= self.capacity {
            claims.counters.retain(|_, c| c.expires > now);
        }
        if !claims.sessions.contains_key(session_key) && claims.sessions.len() >= self.capacity {
            claims.sessions.retain(|_, (_, until)| *until > now);
        }
        if claims.counters.len() >= self.capacity || claims.sessions.len() >= self.capacity {
            return Err(StoreError::Unavailable(format!(
                "memory attempt store is full ({} subjects or sessions)",
                self.capacity
            )));
        }
        let counter = claims
            .counters
            .entry(id.clone())
            .or_insert_with(|| MemoryCounter {
                issued: 0,
                failures: 0,
                expires: window_end,
            });
        if counter.expires <= now {
            *counter = MemoryCounter {
                issued: 0,
                failures: 0,
                expires: window_end,
            };
        }
        if counter.issued >= limit.max_attempts {
            return Ok(AttemptGrant::Refused {
                issued: counter.issued,
                retry_after: counter.expires.saturating_duration_since(now),
            });
        }
        counter.issued += 1;
        let grant = AttemptGrant::Granted {
            attempt: counter.issued,
            consecutive_failures: counter.failures,
        };
        claims
            .sessions
            .insert(session_key.to_owned(), (id, session_until));
        Ok(grant)
    }
}

/// `now + span`, or `Invalid` when that overflows the clock.
fn later(now: Instant, span: Duration) -> Result<Instant, StoreError> {
    now.checked_add(span)
        .ok_or_else(|| StoreError::Invalid("duration overflows the clock".into()))
}

#[async_trait::async_trait]
impl ReplayStore for MemoryReplayStore {
    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let started = Instant::now();
        let claimed = self.claim_at(key, ttl, started);
        REPLAY_CLAIM_SECONDS.observe(started.elapsed());
        claimed
    }

    async fn claim_and_record(
        &self,
        key: &str,
        ttl: Duration,
        outcome: Outcome,
        window: Duration,
        result_sha256: &[u8; 32],
    ) -> Result<Claim, StoreError> {
        let started = Instant::now();
        let claimed = self.claim_and_record_at(
            key,
            ttl,
            Some((outcome, window)),
            Some(result_sha256),
            started,
        );
        REPLAY_CLAIM_SECONDS.observe(started.elapsed());
        claimed
    }

    async fn begin_attempt(
        &self,
        tenant: &str,
        subject: &str,
        session_key: &str,
        limit: AttemptLimit,
        session_ttl: Duration,
    ) -> Result<AttemptGrant, StoreError> {
        self.begin_attempt_at(
            tenant,
            subject,
            session_key,
            limit,
            session_ttl,
            Instant::now(),
        )
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

/// `EVAL script numkeys keys.. args..`: one atomic Lua script. The scripts touch only keys of
/// one verifier prefix on one Redis (the claim script reads a counter key named by a value),
/// so Redis Cluster is not supported.
pub(crate) fn eval(script: &str, keys: &[String], args: &[String]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len());
    for k in keys {
        cmd.arg(k);
    }
    for a in args {
        cmd.arg(a);
    }
    cmd
}

/// Milliseconds of `d`, at least 1 (PX 0 is an error in Redis).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// KEYS: replay claim, session → counter; ARGV: claim ttl ms, outcome, window ms, the result's
/// sha256 (hex). Claims like `SET NX PX` with the hash as the value; when claimed, applies the
/// outcome to the session's counter and forgets the session. 1 when claimed; when already
/// claimed, 2 if the claim holds the same hash, else 0.
const CLAIM_SCRIPT: &str = r"
if not redis.call('SET', KEYS[1], ARGV[4], 'NX', 'PX', ARGV[1]) then
  if redis.call('GET', KEYS[1]) == ARGV[4] then return 2 end
  return 0
end
local counter = redis.call('GET', KEYS[2])
if counter then
  redis.call('DEL', KEYS[2])
  if ARGV[2] == 'pass' then
    redis.call('DEL', counter)
  elseif ARGV[2] == 'fail' then
    redis.call('HINCRBY', counter, 'failures', 1)
    if redis.call('PTTL', counter) < 0 then redis.call('PEXPIRE', counter, ARGV[3]) end
  end
end
return 1
";

/// KEYS: counter, session → counter; ARGV: max attempts, window ms, session ttl ms.
/// `{1, attempt, failures, pttl}` when granted, `{0, issued, failures, pttl}` when refused.
const ATTEMPT_SCRIPT: &str = r"
local issued = tonumber(redis.call('HGET', KEYS[1], 'issued') or '0')
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if issued >= tonumber(ARGV[1]) then
  return {0, issued, failures, redis.call('PTTL', KEYS[1])}
end
issued = redis.call('HINCRBY', KEYS[1], 'issued', 1)
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
redis.call('SET', KEYS[2], KEYS[1], 'PX', ARGV[3])
return {1, issued, failures, redis.call('PTTL', KEYS[1])}
";

/// A replay store on a shared Redis: correct across verifier instances and processes.
/// Claims are `SET {prefix}replay:{key} {value} NX PX {ttl_ms}`, the value the result's sha256
/// in hex for a result's claim ([`ReplayStore::claim_and_record`], a Lua script), `1` for a
/// plain [`ReplayStore::claim`]. A Redis error or a command that takes longer than
/// [`REDIS_COMMAND_TIMEOUT`] is [`StoreError::Unavailable`]; the connection reconnects by
/// itself, so a later call works again once Redis is back.
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

    async fn claim_and_record(
        &self,
        key: &str,
        ttl: Duration,
        outcome: Outcome,
        window: Duration,
        result_sha256: &[u8; 32],
    ) -> Result<Claim, StoreError> {
        validate_key("replay key", key)?;
        validate_ttl(ttl)?;
        validate_ttl(window)?;
        let keys = [
            self.conn.key(&format!("replay:{key}")),
            self.conn.key(&format!("attempt-session:{key}")),
        ];
        let args = [
            millis(ttl).to_string(),
            outcome.as_str().to_owned(),
            millis(window).to_string(),
            hex::encode(result_sha256),
        ];
        let started = Instant::now();
        let reply = self.conn.run::<i64>(eval(CLAIM_SCRIPT, &keys, &args)).await;
        REPLAY_CLAIM_SECONDS.observe(started.elapsed());
        match reply? {
            1 => Ok(Claim::Claimed),
            2 => Ok(Claim::Held { same_result: true }),
            0 => Ok(Claim::Held { same_result: false }),
            other => Err(StoreError::Unavailable(format!(
                "redis answered {other} to the claim script"
            ))),
        }
    }

    async fn begin_attempt(
        &self,
        tenant: &str,
        subject: &str,
        session_key: &str,
        limit: AttemptLimit,
        session_ttl: Duration,
    ) -> Result<AttemptGrant, StoreError> {
        validate_attempt(tenant, subject, session_key, limit, session_ttl)?;
        // The subject is hashed: fixed length (no ambiguity with `:` in the tenant), and the
        // caller's user id is not kept in clear.
        let subject_sha256 = hex::encode(sha2::Sha256::digest(subject.as_bytes()));
        let keys = [
            self.conn
                .key(&format!("attempts:{tenant}:{subject_sha256}")),
            self.conn.key(&format!("attempt-session:{session_key}")),
        ];
        let args = [
            limit.max_attempts.to_string(),
            millis(limit.window).to_string(),
            millis(session_ttl).to_string(),
        ];
        let reply: Vec<i64> = self.conn.run(eval(ATTEMPT_SCRIPT, &keys, &args)).await?;
        let [granted, count, failures, pttl] = reply[..] else {
            return Err(StoreError::Unavailable(format!(
                "redis answered {reply:?} to the attempt script"
            )));
        };
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        Ok(if granted == 1 {
            AttemptGrant::Granted {
                attempt: count,
                consecutive_failures: failures,
            }
        } else {
            AttemptGrant::Refused {
                issued: count,
                retry_after: Duration::from_millis(u64::try_from(pttl).unwrap_or(0)),
            }
        })
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

    #[test]
    fn memory_attempts_reset_when_the_window_ends() {
        let store = MemoryReplayStore::new();
        let t0 = Instant::now();
        let limit = AttemptLimit {
            max_attempts: 2,
            window: Duration::from_secs(60),
        };
        let ttl = Duration::from_secs(200);
        let at = |session: &str, t: Instant| {
            store
                .begin_attempt_at("acme", "alice", session, limit, ttl, t)
                .unwrap()
        };
        assert!(matches!(
            at("s1", t0),
            AttemptGrant::Granted { attempt: 1, .. }
        ));
        // A fail 10 s in.
        let fail = Some((Outcome::Fail, limit.window));
        let t10 = t0 + Duration::from_secs(10);
        assert!(store
            .claim_and_record_at("s1", ttl, fail, Some(&[1; 32]), t10)
            .unwrap()
            .claimed());
        assert_eq!(
            at("s2", t10),
            AttemptGrant::Granted {
                attempt: 2,
                consecutive_failures: 1
            }
        );
        assert_eq!(
            at("s3", t0 + Duration::from_secs(59)),
            AttemptGrant::Refused {
                issued: 2,
                retry_after: Duration::from_secs(1)
            }
        );
        // The window (from the first session) ends at t0 + 60 s: both counts start again.
        assert_eq!(
            at("s4", t0 + Duration::from_secs(60)),
            AttemptGrant::Granted {
                attempt: 1,
                consecutive_failures: 0
            }
        );
    }
}

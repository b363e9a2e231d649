//! The replay stores: a claim is made once until it expires, also under concurrency, across two
//! OS processes sharing one Redis, across a Redis restart (AOF, `appendfsync always`), and a
//! Redis outage fails closed (`Unavailable`) and recovers by itself. A result's claim holds the
//! result's sha256: the same hash again is told from other bytes (also across a Redis restart),
//! and neither makes a second claim. The attempt counts in the
//! same stores: per tenant and subject, refused beyond the limit, a fail counts and a pass
//! resets, shared by two stores on one Redis.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use liveproof_verifier::store::{
    AttemptGrant, AttemptLimit, Claim, MemoryReplayStore, Outcome, RedisReplayStore, ReplayStore,
    StoreError, MAX_TTL, REDIS_COMMAND_TIMEOUT,
};
use sha2::Digest as _;
use support::TestRedis;

/// Claims in the multi-process test, per process.
const SHARED_KEYS: usize = 200;
/// Tasks racing for one key.
const RACERS: usize = 16;
/// Keys raced for in the concurrency tests (16 racers each).
const RACED_KEYS: usize = 25;

const CHILD_URL_ENV: &str = "LIVEPROOF_TEST_REDIS_CHILD_URL";
const CHILD_START_ENV: &str = "LIVEPROOF_TEST_REDIS_CHILD_START_MS";
const CHILD_PREFIX: &str = "twoproc:";

/// claim → true, again → false, after the ttl → true again.
async fn claim_expire_reclaim(store: &dyn ReplayStore) {
    let ttl = Duration::from_millis(300);
    assert!(store.claim("session-a", ttl).await.unwrap());
    assert!(!store.claim("session-a", ttl).await.unwrap());
    assert!(store.claim("session-b", ttl).await.unwrap());
    // Sleeping longer than the ttl only makes the expiry more certain.
    tokio::time::sleep(ttl * 3).await;
    assert!(store.claim("session-a", ttl).await.unwrap());
    assert!(!store.claim("session-a", ttl).await.unwrap());
}

/// For each of [`RACED_KEYS`] keys, [`RACERS`] tasks claim it at once: exactly one wins each.
async fn race(store: Arc<dyn ReplayStore>) {
    let mut wins_total = 0;
    for k in 0..RACED_KEYS {
        let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|_| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .claim(&format!("raced-{k}"), Duration::from_secs(60))
                        .await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            if task.await.expect("task").expect("claim") {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "key raced-{k}: {wins} of {RACERS} racers won");
        wins_total += wins;
    }
    assert_eq!(wins_total, RACED_KEYS);
}

async fn rejects_invalid(store: &dyn ReplayStore) {
    let ttl = Duration::from_secs(1);
    for key in ["", "new\nline", "nul\0", &"k".repeat(257)] {
        assert!(
            matches!(store.claim(key, ttl).await, Err(StoreError::Invalid(_))),
            "key {key:?} accepted"
        );
    }
    for ttl in [Duration::ZERO, MAX_TTL + Duration::from_secs(1)] {
        assert!(matches!(
            store.claim("fine", ttl).await,
            Err(StoreError::Invalid(_))
        ));
    }
    // None of the rejected requests claimed anything.
    assert!(store.claim("fine", ttl).await.unwrap());
}

#[tokio::test]
async fn memory_claims_once_until_expiry() {
    let store = MemoryReplayStore::new();
    claim_expire_reclaim(&store).await;
    assert_eq!(store.kind(), "memory");
    // session-a (reclaimed) is the only unexpired claim left after purging.
    assert_eq!(store.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_sixteen_concurrent_claims_one_wins() {
    let store = Arc::new(MemoryReplayStore::new());
    race(store.clone()).await;
    assert_eq!(store.len(), RACED_KEYS);
}

#[tokio::test]
async fn memory_rejects_invalid_keys_and_ttls() {
    rejects_invalid(&MemoryReplayStore::new()).await;
}

#[tokio::test]
async fn redis_claims_once_until_expiry() {
    let redis = TestRedis::start();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    assert_eq!(store.kind(), "redis");
    claim_expire_reclaim(&store).await;
    // The key layout: {prefix}replay:{key} with a TTL in ms.
    assert_eq!(redis.integer(&["EXISTS", "t:replay:session-a"]), 1);
    let pttl = redis.integer(&["PTTL", "t:replay:session-a"]);
    assert!((1..=300).contains(&pttl), "PTTL {pttl} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_sixteen_concurrent_claims_one_wins() {
    let redis = TestRedis::start();
    let store = Arc::new(RedisReplayStore::connect(&redis.url(), "t:").await.unwrap());
    race(store).await;
    assert_eq!(redis.integer(&["DBSIZE"]), RACED_KEYS as i64);
}

#[tokio::test]
async fn redis_rejects_invalid_keys_and_ttls() {
    let redis = TestRedis::start();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    rejects_invalid(&store).await;
    assert_eq!(redis.integer(&["DBSIZE"]), 1);
}

/// Tasks per process in the multi-process test.
const CLAIMERS: usize = 4;

/// Claims the shared keys with [`CLAIMERS`] concurrent tasks, in ascending order (`reverse`
/// false) or descending, pausing 1 ms between claims so the two processes' claims interleave
/// for a few hundred ms whatever their start skew; returns the indexes this process won.
async fn claim_shared_keys(store: Arc<RedisReplayStore>, reverse: bool) -> BTreeSet<usize> {
    let tasks: Vec<_> = (0..CLAIMERS)
        .map(|t| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut won = Vec::new();
                for n in (t..SHARED_KEYS).step_by(CLAIMERS) {
                    let i = if reverse { SHARED_KEYS - 1 - n } else { n };
                    let claimed = store
                        .claim(&format!("shared-{i}"), Duration::from_secs(60))
                        .await
                        .expect("claim");
                    if claimed {
                        won.push(i);
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                won
            })
        })
        .collect();
    let mut won = BTreeSet::new();
    for task in tasks {
        won.extend(task.await.expect("task"));
    }
    won
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Sleeps until the wall-clock instant `start_ms`, so both processes start claiming together.
async fn sleep_until_unix_ms(start_ms: u64) {
    let now = unix_ms();
    if start_ms > now {
        tokio::time::sleep(Duration::from_millis(start_ms - now)).await;
    }
}

/// The child half of [`redis_two_processes_claim_each_key_once`]: a no-op unless the parent
/// set [`CHILD_URL_ENV`]. Prints `CHILD_CLAIMED i,j,...` with the keys it won.
#[test]
fn redis_two_processes_child() {
    let Ok(url) = std::env::var(CHILD_URL_ENV) else {
        return;
    };
    let start_ms: u64 = std::env::var(CHILD_START_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("start time");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let won = runtime.block_on(async {
        let store = Arc::new(
            RedisReplayStore::connect(&url, CHILD_PREFIX)
                .await
                .expect("child connects"),
        );
        sleep_until_unix_ms(start_ms).await;
        claim_shared_keys(store, true).await
    });
    let list: Vec<String> = won.iter().map(usize::to_string).collect();
    // On its own line: the harness prints "test ... " before the test's output.
    println!("\nCHILD_CLAIMED {}", list.join(","));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_two_processes_claim_each_key_once() {
    let redis = TestRedis::start();
    let store = Arc::new(
        RedisReplayStore::connect(&redis.url(), CHILD_PREFIX)
            .await
            .unwrap(),
    );
    // Both processes start claiming at the same wall-clock instant, after the child has
    // had time to start and connect.
    let start_ms = unix_ms() + 1500;
    let exe = std::env::current_exe().expect("test binary");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "redis_two_processes_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_URL_ENV, redis.url())
        .env(CHILD_START_ENV, start_ms.to_string());
    // `output` blocks: run it on a thread while this process claims.
    let child = tokio::task::spawn_blocking(move || command.output());
    sleep_until_unix_ms(start_ms).await;
    let parent_won = claim_shared_keys(store, false).await;
    let output = child.await.expect("join").expect("run child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "child failed: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CHILD_CLAIMED "))
        .unwrap_or_else(|| panic!("no CHILD_CLAIMED line in the child's output:\n{stdout}"));
    let child_won: BTreeSet<usize> = line
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().parse().expect("index"))
        .collect();
    eprintln!(
        "two processes: parent won {}, child won {} of {SHARED_KEYS} keys",
        parent_won.len(),
        child_won.len()
    );
    assert_eq!(parent_won.len() + child_won.len(), SHARED_KEYS);
    assert!(parent_won.is_disjoint(&child_won));
    let all: BTreeSet<usize> = parent_won.union(&child_won).copied().collect();
    assert_eq!(all, (0..SHARED_KEYS).collect());
    assert_eq!(redis.integer(&["DBSIZE"]), SHARED_KEYS as i64);
}

#[tokio::test]
async fn redis_claim_survives_a_restart_with_aof() {
    let mut redis = TestRedis::start();
    let ttl = Duration::from_secs(600);
    {
        let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
        for i in 0..10 {
            assert!(store.claim(&format!("durable-{i}"), ttl).await.unwrap());
        }
    }
    // SIGKILL: no shutdown save; `appendfsync always` already wrote every acknowledged claim.
    redis.kill();
    redis.restart();
    assert_eq!(redis.integer(&["DBSIZE"]), 10);
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    for i in 0..10 {
        assert!(!store.claim(&format!("durable-{i}"), ttl).await.unwrap());
    }
    // The expiry survived too (no claim became permanent).
    let pttl = redis.integer(&["PTTL", "t:replay:durable-0"]);
    assert!(pttl > 0 && pttl <= 600_000, "PTTL {pttl} ms");
}

/// Two results' sha256 (any two distinct values).
const HASH_A: [u8; 32] = [0xa1; 32];
const HASH_B: [u8; 32] = [0xb2; 32];

/// A result's claim holds its hash: the same hash again is `Held { same_result: true }`,
/// another hash (different bytes for the same session) or a plain claim's key is
/// `Held { same_result: false }`; neither claims again nor counts, and the claim still expires.
async fn result_claims_tell_the_same_bytes(store: &dyn ReplayStore) {
    let ttl = Duration::from_secs(1);
    let window = LIMIT.window;
    let claim = |key: &'static str, hash: &'static [u8; 32]| async move {
        store
            .claim_and_record(key, ttl, Outcome::Fail, window, hash)
            .await
            .unwrap()
    };
    assert_eq!(claim("r1", &HASH_A).await, Claim::Claimed);
    assert_eq!(
        claim("r1", &HASH_A).await,
        Claim::Held { same_result: true }
    );
    assert_eq!(
        claim("r1", &HASH_B).await,
        Claim::Held { same_result: false }
    );
    // The first claim's hash stays: a different result did not replace it.
    assert_eq!(
        claim("r1", &HASH_A).await,
        Claim::Held { same_result: true }
    );
    // Another session with the same hash is its own claim.
    assert_eq!(claim("r2", &HASH_A).await, Claim::Claimed);
    // A plain claim holds no hash: never `same_result`.
    assert!(store.claim("plain", ttl).await.unwrap());
    assert_eq!(
        claim("plain", &HASH_A).await,
        Claim::Held { same_result: false }
    );
    // A claim made with one attempt counted: the resend of the same bytes counts nothing.
    assert_eq!(attempt(store, "acme", "erin", "e1").await, granted(1, 0));
    assert_eq!(claim("e1", &HASH_B).await, Claim::Claimed);
    assert_eq!(
        claim("e1", &HASH_B).await,
        Claim::Held { same_result: true }
    );
    assert_eq!(attempt(store, "acme", "erin", "e2").await, granted(2, 1));
    // After the ttl the session can be claimed again (by any bytes).
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(claim("r1", &HASH_B).await, Claim::Claimed);
}

#[tokio::test]
async fn memory_result_claims_tell_the_same_bytes() {
    result_claims_tell_the_same_bytes(&MemoryReplayStore::new()).await;
}

#[tokio::test]
async fn redis_result_claims_tell_the_same_bytes_also_after_a_restart() {
    let mut redis = TestRedis::start();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    result_claims_tell_the_same_bytes(&store).await;
    // The claim's value is the result's sha256 in hex.
    let ttl = Duration::from_secs(600);
    assert!(store
        .claim_and_record("kept", ttl, Outcome::Pass, LIMIT.window, &HASH_A)
        .await
        .unwrap()
        .claimed());
    let hex_a = hex::encode(HASH_A);
    assert_eq!(
        redis.command(&["GET", "t:replay:kept"]),
        format!("$64\r\n{hex_a}\r\n")
    );
    // The soak's lost answer: Redis persisted the claim and died. After the restart the
    // identical result is told apart from other bytes.
    redis.kill();
    redis.restart();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    assert_eq!(
        store
            .claim_and_record("kept", ttl, Outcome::Pass, LIMIT.window, &HASH_A)
            .await
            .unwrap(),
        Claim::Held { same_result: true }
    );
    assert_eq!(
        store
            .claim_and_record("kept", ttl, Outcome::Pass, LIMIT.window, &HASH_B)
            .await
            .unwrap(),
        Claim::Held { same_result: false }
    );
}

/// Claims until one answers Ok (Redis is back and the connection re-established), at most
/// `limit`; returns that answer and how many calls failed before it.
async fn claim_until_ok(store: &RedisReplayStore, key: &str, limit: Duration) -> (bool, usize) {
    let deadline = Instant::now() + limit;
    let mut failures = 0;
    loop {
        match store.claim(key, Duration::from_secs(60)).await {
            Ok(won) => return (won, failures),
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                failures += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no recovery within {} s: {e}", limit.as_secs()),
        }
    }
}

/// A claim against a dead Redis, bounded so a hang fails the test instead of blocking it.
async fn claim_while_down(store: &RedisReplayStore, key: &str) -> Result<bool, StoreError> {
    let started = Instant::now();
    let result = tokio::time::timeout(
        REDIS_COMMAND_TIMEOUT * 10,
        store.claim(key, Duration::from_secs(60)),
    )
    .await
    .expect("claim against a dead redis hung");
    eprintln!(
        "claim with redis down answered in {} ms: {result:?}",
        started.elapsed().as_millis()
    );
    result
}

/// With `redis` down: a claim of each of `down_keys` fails closed; then Redis restarts and a
/// claim of `key` is won within 20 s (`what` names the recovery in the log) and a second one
/// of it is lost.
async fn fails_closed_then_recovers(
    redis: &mut TestRedis,
    store: &RedisReplayStore,
    down_keys: &[&str],
    key: &str,
    what: &str,
) {
    for down_key in down_keys {
        assert!(matches!(
            claim_while_down(store, down_key).await,
            Err(StoreError::Unavailable(_))
        ));
    }
    redis.restart();
    let (won, failures) = claim_until_ok(store, key, Duration::from_secs(20)).await;
    eprintln!("{what} after {failures} failed claims");
    assert!(won);
    assert!(!store.claim(key, Duration::from_secs(60)).await.unwrap());
}

#[tokio::test]
async fn redis_outage_fails_closed_and_recovers_by_itself() {
    let mut redis = TestRedis::start();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    assert!(store
        .claim("before", Duration::from_secs(60))
        .await
        .unwrap());

    redis.kill();
    fails_closed_then_recovers(
        &mut redis,
        &store,
        &["during-1", "during-2", "before"],
        "after",
        "recovered",
    )
    .await;
    // The same store object works again, and the claim made before the outage held (AOF).
    assert!(!store
        .claim("before", Duration::from_secs(60))
        .await
        .unwrap());
    assert!(store
        .claim("during-1", Duration::from_secs(60))
        .await
        .unwrap());
}

#[tokio::test]
async fn redis_down_at_start_fails_closed_then_works() {
    let mut redis = TestRedis::stopped();
    // An eager connect reports the outage.
    assert!(matches!(
        RedisReplayStore::connect(&redis.url(), "t:").await,
        Err(StoreError::Unavailable(_))
    ));
    // A lazy one starts anyway and fails closed until Redis is up.
    let store = RedisReplayStore::connect_lazy(&redis.url(), "t:")
        .await
        .unwrap();
    fails_closed_then_recovers(&mut redis, &store, &["k"], "k", "lazy store recovered").await;
    assert_eq!(redis.integer(&["DBSIZE"]), 1);
}

#[tokio::test]
async fn redis_bad_url_or_prefix_is_invalid() {
    for (url, prefix) in [
        ("not a url", "t:"),
        ("http://127.0.0.1:1/", "t:"),
        ("redis://127.0.0.1:1/", "bad\nprefix"),
    ] {
        assert!(
            matches!(
                RedisReplayStore::connect_lazy(url, prefix).await,
                Err(StoreError::Invalid(_))
            ),
            "{url} {prefix:?}"
        );
    }
}

/// 3 attempts per 60 s window in the attempt tests.
const LIMIT: AttemptLimit = AttemptLimit {
    max_attempts: 3,
    window: Duration::from_secs(60),
};
/// How long a counted session maps to its subject.
const SESSION_TTL: Duration = Duration::from_secs(210);

/// Counts one session of `subject` at `tenant` as session `session`.
async fn attempt(
    store: &dyn ReplayStore,
    tenant: &str,
    subject: &str,
    session: &str,
) -> AttemptGrant {
    store
        .begin_attempt(tenant, subject, session, LIMIT, SESSION_TTL)
        .await
        .unwrap()
}

fn granted(attempt: u32, consecutive_failures: u32) -> AttemptGrant {
    AttemptGrant::Granted {
        attempt,
        consecutive_failures,
    }
}

/// The (max + 1)-th session of one subject in the window is refused while other subjects and
/// tenants are unaffected; a fail counts, a pass resets; a replayed claim counts nothing.
async fn attempts_are_counted(store: &dyn ReplayStore) {
    for i in 1..=3 {
        assert_eq!(
            attempt(store, "acme", "alice", &format!("a{i}")).await,
            granted(i, 0)
        );
    }
    match attempt(store, "acme", "alice", "a4").await {
        AttemptGrant::Refused {
            issued,
            retry_after,
        } => {
            assert_eq!(issued, 3);
            assert!(
                retry_after > Duration::from_secs(50) && retry_after <= LIMIT.window,
                "retry after {retry_after:?}"
            );
        }
        other => panic!("the 4th attempt was {other:?}"),
    }
    assert_eq!(attempt(store, "acme", "bob", "b1").await, granted(1, 0));
    assert_eq!(attempt(store, "globex", "alice", "g1").await, granted(1, 0));
    // A fail, then a pass.
    let window = LIMIT.window;
    let ttl = Duration::from_secs(60);
    assert_eq!(attempt(store, "acme", "carol", "c1").await, granted(1, 0));
    assert!(store
        .claim_and_record("c1", ttl, Outcome::Fail, window, &HASH_A)
        .await
        .unwrap()
        .claimed());
    // The same result again: a replay, which counts nothing.
    assert_eq!(
        store
            .claim_and_record("c1", ttl, Outcome::Fail, window, &HASH_A)
            .await
            .unwrap(),
        Claim::Held { same_result: true }
    );
    assert_eq!(attempt(store, "acme", "carol", "c2").await, granted(2, 1));
    assert!(store
        .claim_and_record("c2", ttl, Outcome::Neutral, window, &HASH_A)
        .await
        .unwrap()
        .claimed());
    assert_eq!(attempt(store, "acme", "carol", "c3").await, granted(3, 1));
    assert!(store
        .claim_and_record("c3", ttl, Outcome::Pass, window, &HASH_A)
        .await
        .unwrap()
        .claimed());
    assert_eq!(attempt(store, "acme", "carol", "c4").await, granted(1, 0));
    // A claim of a session no one counted (an uncounted token) is a plain claim.
    assert!(store
        .claim_and_record("uncounted", ttl, Outcome::Fail, window, &HASH_A)
        .await
        .unwrap()
        .claimed());
    // Bad subjects, tenants, limits: Invalid, nothing counted.
    for (tenant, subject) in [("acme", ""), ("acme", "a\nb"), ("", "alice")] {
        assert!(matches!(
            store
                .begin_attempt(tenant, subject, "x1", LIMIT, SESSION_TTL)
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
    let zero = AttemptLimit {
        max_attempts: 0,
        ..LIMIT
    };
    assert!(matches!(
        store
            .begin_attempt("acme", "dave", "d1", zero, SESSION_TTL)
            .await,
        Err(StoreError::Invalid(_))
    ));
    let long = AttemptLimit {
        window: MAX_TTL + Duration::from_secs(1),
        ..LIMIT
    };
    assert!(matches!(
        store
            .begin_attempt("acme", "dave", "d1", long, SESSION_TTL)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(attempt(store, "acme", "dave", "d1").await, granted(1, 0));
}

#[tokio::test]
async fn memory_attempts_are_counted_per_subject_and_reset_by_a_pass() {
    attempts_are_counted(&MemoryReplayStore::new()).await;
}

#[tokio::test]
async fn redis_attempts_are_counted_per_subject_and_reset_by_a_pass() {
    let redis = TestRedis::start();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    attempts_are_counted(&store).await;
    // Layout: a hash per tenant and hashed subject, expiring with the window.
    let alice = format!(
        "t:attempts:acme:{}",
        hex::encode(sha2::Sha256::digest(b"alice"))
    );
    assert_eq!(redis.command(&["HGET", &alice, "issued"]), "$1\r\n3\r\n");
    let pttl = redis.integer(&["PTTL", &alice]);
    assert!((50_000..=60_000).contains(&pttl), "PTTL {pttl} ms");
    // A counted session maps to its subject until the token expires; a claimed one is gone.
    assert_eq!(redis.integer(&["EXISTS", "t:attempt-session:a1"]), 1);
    assert_eq!(redis.integer(&["EXISTS", "t:attempt-session:c1"]), 0);
    // A second store (another verifier process) on the same Redis sees the same counts.
    let other = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    assert!(matches!(
        attempt(&other, "acme", "alice", "a5").await,
        AttemptGrant::Refused { issued: 3, .. }
    ));
    assert_eq!(attempt(&other, "acme", "bob", "b2").await, granted(2, 0));
}

#[tokio::test]
async fn redis_attempt_store_outage_fails_closed() {
    let mut redis = TestRedis::start();
    let store = RedisReplayStore::connect(&redis.url(), "t:").await.unwrap();
    assert_eq!(attempt(&store, "acme", "alice", "a1").await, granted(1, 0));
    redis.kill();
    let down = store
        .begin_attempt("acme", "alice", "a2", LIMIT, SESSION_TTL)
        .await;
    assert!(matches!(down, Err(StoreError::Unavailable(_))), "{down:?}");
    let claim = store
        .claim_and_record(
            "a1",
            Duration::from_secs(60),
            Outcome::Fail,
            LIMIT.window,
            &HASH_A,
        )
        .await;
    assert!(
        matches!(claim, Err(StoreError::Unavailable(_))),
        "{claim:?}"
    );
    // Back (AOF kept the count): the next session is attempt 2.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    let grant = loop {
        match store
            .begin_attempt("acme", "alice", "a2", LIMIT, SESSION_TTL)
            .await
        {
            Err(StoreError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(grant, granted(2, 0));
}

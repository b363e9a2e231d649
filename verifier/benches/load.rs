//! Load test of the verifier service on loopback (`cargo bench -p liveproof-verifier --bench
//! load`): the server in-process on 127.0.0.1:0, first with the memory replay store, then with
//! a private `redis-server`; [`RESULTS`] distinct signed results pre-generated, posted by
//! [`CLIENTS`] concurrent keep-alive clients. Prints throughput (verifications/s), p50/p99
//! latency and the error count per store, next to this machine's raw ES256 verify rate (p256,
//! one thread, ~2 s) and the ratio between them. Bounded: [`RESULTS`] requests per store and
//! at most [`TIME_LIMIT`] each.

#[path = "../tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use liveproof_core::trust::{ServerKeySet, SoftwareSigner};
use liveproof_verifier::registry::MemoryDeviceKeyRegistry;
use liveproof_verifier::server::{self, AuditSink};
use liveproof_verifier::store::{MemoryReplayStore, RedisReplayStore, ReplayStore};
use liveproof_verifier::{config, testkit, Verifier, VerifierConfig};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use support::http::KeepAlive;

/// Signed results posted per store.
const RESULTS: usize = 4000;
/// The tenant the results are for.
const TENANT: &str = "acme";
/// Concurrent client connections.
const CLIENTS: usize = 32;
/// Longest one store's run may take; clients stop taking new results after it.
const TIME_LIMIT: Duration = Duration::from_secs(30);
/// How long the raw ES256 loop runs.
const RAW_DURATION: Duration = Duration::from_secs(2);

/// One store's figures.
struct Row {
    store: &'static str,
    done: usize,
    errors: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Row {
    fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }
}

/// ES256 verifications per second on one thread: `VerifyingKey::verify` of a 32-byte message
/// (a hash's size), for about [`RAW_DURATION`].
fn raw_es256_per_second() -> f64 {
    let signing = SigningKey::from_slice(&[7u8; 32]).expect("scalar in range");
    let verifying = VerifyingKey::from(&signing);
    let message = [0x5au8; 32];
    let signature: Signature = signing.sign(&message);
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < RAW_DURATION {
        for _ in 0..64 {
            verifying
                .verify(&message, &signature)
                .expect("signature verifies");
        }
        n += 64;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// A verifier on `replay` serving one tenant on the shipped policy, the device key
/// registered, and [`RESULTS`] distinct SYNTHETIC signed results it accepts
/// (`testkit::signed_sample`).
async fn verifier_and_results(
    replay: Arc<dyn ReplayStore>,
) -> anyhow::Result<(Verifier, Vec<(String, Vec<u8>)>)> {
    let keys = ServerKeySet::with_signer(SoftwareSigner::from_secret_bytes(&[0x11; 32])?)?;
    let policy = config::load_policy(None)?;
    let config = VerifierConfig::single_tenant(keys, TENANT, policy)?;
    let verifier = Verifier::new(config, replay, Arc::new(MemoryDeviceKeyRegistry::new()));
    let device = SoftwareSigner::from_secret_bytes(&[0x22; 32])?;
    verifier
        .registry()
        .register(TENANT, &device.public()?.sec1(), "load")
        .await?;
    let now = SystemTime::now();
    let results = (0..RESULTS)
        .map(|_| {
            testkit::signed_sample(&verifier, TENANT, &device, testkit::PASSING_RAW, now).map(
                |(issued, signed)| {
                    (
                        format!("/v1/verify?session_id={}", issued.session_id),
                        signed,
                    )
                },
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((verifier, results))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Posts every result once with [`CLIENTS`] concurrent connections.
async fn post_all(
    addr: SocketAddr,
    results: Arc<Vec<(String, Vec<u8>)>>,
) -> (usize, usize, Vec<Duration>) {
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + TIME_LIMIT;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let next = Arc::clone(&next);
            let results = Arc::clone(&results);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0usize;
                let mut conn = KeepAlive::connect(addr).await.ok();
                while Instant::now() < deadline {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, body)) = results.get(i) else {
                        break;
                    };
                    let started = Instant::now();
                    let answer = match conn.as_mut() {
                        Some(c) => c.post(path, "application/cose", body).await,
                        None => Err(std::io::Error::other("not connected")),
                    };
                    latencies.push(started.elapsed());
                    let accepted = answer.as_ref().is_ok_and(|r| {
                        r.status == 200
                            && serde_json::from_slice::<serde_json::Value>(&r.body)
                                .is_ok_and(|v| v["accepted"] == true)
                    });
                    if !accepted {
                        errors += 1;
                        if answer.is_err() {
                            conn = KeepAlive::connect(addr).await.ok();
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(results.len());
    let mut errors = 0;
    for client in clients {
        if let Ok((l, e)) = client.await {
            latencies.extend(l);
            errors += e;
        }
    }
    (latencies.len(), errors, latencies)
}

async fn run(store: &'static str, replay: Arc<dyn ReplayStore>) -> anyhow::Result<Row> {
    let (verifier, results) = verifier_and_results(replay).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let audit_dir = support::temp_dir("load-audit");
    let audit = AuditSink::file(&audit_dir.join("audit.jsonl"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(
        Arc::new(verifier),
        listener,
        audit,
        async move {
            let _ = stopped.await;
        },
    ));
    let started = Instant::now();
    let (done, errors, mut latencies) = post_all(addr, Arc::new(results)).await;
    let elapsed = started.elapsed();
    let _ = stop.send(());
    server.await??;
    let _ = std::fs::remove_dir_all(&audit_dir);
    latencies.sort_unstable();
    Ok(Row {
        store,
        done,
        errors,
        elapsed,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
    })
}

fn main() -> anyhow::Result<()> {
    // Request logs would be one line per request: only warnings and errors here (the server
    // keeps a subscriber that is already installed).
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::stderr)
        .try_init();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "raw ES256 verify (p256, one thread, {} s)...",
        RAW_DURATION.as_secs()
    );
    let raw = raw_es256_per_second();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    println!("memory store: {RESULTS} results, {CLIENTS} clients...");
    rows.push(runtime.block_on(run("memory", Arc::new(MemoryReplayStore::new())))?);
    println!("redis store (private redis-server, appendfsync always)...");
    let redis = support::TestRedis::start();
    let replay = runtime.block_on(RedisReplayStore::connect(&redis.url(), "load:"))?;
    rows.push(runtime.block_on(run("redis", Arc::new(replay)))?);
    drop(redis);

    println!();
    println!(
        "machine: {cores} cores; raw ES256 verify: {raw:.0}/s on one thread; a verification \
         checks 2 ES256 signatures (token, device) besides decoding and the policy"
    );
    println!(
        "{:<8} {:>8} {:>7} {:>9} {:>10} {:>9} {:>9} {:>12}",
        "store", "requests", "errors", "time s", "verify/s", "p50 ms", "p99 ms", "vs raw ES256"
    );
    for row in &rows {
        println!(
            "{:<8} {:>8} {:>7} {:>9.2} {:>10.0} {:>9.2} {:>9.2} {:>11.1}%",
            row.store,
            row.done,
            row.errors,
            row.elapsed.as_secs_f64(),
            row.per_second(),
            row.p50.as_secs_f64() * 1e3,
            row.p99.as_secs_f64() * 1e3,
            100.0 * row.per_second() / raw
        );
    }
    Ok(())
}

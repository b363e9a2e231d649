//! The HTTP service in-process on 127.0.0.1:0, driven by a hand-written HTTP/1.1 client:
//! routes, status codes, JSON errors for every bad body, metrics, audit records, the Redis
//! outage answers (503), device-key revocation, attempts counted per subject (429), the
//! request timeout (408), a server that cannot sign (500), non-canonical CBOR, and SIGTERM
//! shutdown of the real binary.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use liveproof_core::trust::{ServerKeySet, Signer as _, SoftwareSigner};
use sha2::Digest as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use liveproof_verifier::registry::{
    DeviceKeyRegistry, MemoryDeviceKeyRegistry, RedisDeviceKeyRegistry,
};
use liveproof_verifier::server::{self, AuditSink};
use liveproof_verifier::store::{MemoryReplayStore, RedisReplayStore, ReplayStore};
use liveproof_verifier::testkit::{sign_issued, signed_sample, PASSING_RAW};
use liveproof_verifier::{config, Verifier, VerifierConfig};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use support::http::{request, request_framed, Framing, HttpResponse};

/// A running in-process service; stops (gracefully) on drop.
struct TestServer {
    addr: SocketAddr,
    verifier: Arc<Verifier>,
    audit_path: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    async fn start(verifier: Verifier) -> Self {
        Self::start_with_audit(verifier, support::temp_dir("audit").join("audit.jsonl")).await
    }

    /// A server appending its audit records to `audit_path`.
    async fn start_with_audit(verifier: Verifier, audit_path: PathBuf) -> Self {
        let verifier = Arc::new(verifier);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("addr");
        let audit = AuditSink::file(&audit_path).expect("audit file");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(
            Arc::clone(&verifier),
            listener,
            audit,
            async move {
                let _ = stopped.await;
            },
        ));
        Self {
            addr,
            verifier,
            audit_path,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn post(&self, path: &str, content_type: &str, body: &[u8]) -> HttpResponse {
        request(self.addr, "POST", path, Some(content_type), body)
            .await
            .expect("request")
    }

    /// Resends a COSE result until the answer is not a 503 (a store coming back up), for at
    /// most 20 s; the last answer.
    async fn post_cose_until_up(&self, path: &str, body: &[u8]) -> HttpResponse {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let answer = self.post(path, "application/cose", body).await;
            if answer.status != 503 || Instant::now() > deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, path: &str) -> HttpResponse {
        request(self.addr, "GET", path, None, b"")
            .await
            .expect("request")
    }

    /// POSTs each `(content type, body)` to `path` and asserts the JSON error's status and
    /// code.
    async fn assert_errors(&self, path: &str, cases: &[(&str, &[u8], u16, &str)]) {
        for &(content_type, body, status, code) in cases {
            let answer = self.post(path, content_type, body).await;
            assert_eq!(error_code(&answer, status), code, "{content_type} {body:?}");
        }
    }

    /// The `/metrics` page.
    async fn metrics(&self) -> String {
        self.get("/metrics").await.text()
    }

    /// The `/metrics` page, asserted to contain `line`.
    async fn metrics_containing(&self, line: &str) -> String {
        let metrics = self.metrics().await;
        assert!(metrics.contains(line), "{metrics}");
        metrics
    }

    /// The audit records written so far, parsed.
    fn audit_records(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }

    /// Stops the server and waits for it to finish.
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("serve");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Only the temporary directories this file makes (never /dev for /dev/full).
        if let Some(dir) = self.audit_path.parent() {
            if dir.starts_with(std::env::temp_dir()) {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

/// The test tenant.
const TENANT: &str = "acme";

/// A verifier on the given stores serving [`TENANT`] on the shipped policy, with a fixed server
/// key (SYNTHETIC, tests only).
fn verifier_with(replay: Arc<dyn ReplayStore>, registry: Arc<dyn DeviceKeyRegistry>) -> Verifier {
    let server_key = SoftwareSigner::from_secret_bytes(&[0x11; 32]).expect("server key");
    let keys = ServerKeySet::with_signer(server_key).expect("key set");
    let policy = config::load_policy(None).expect("shipped policy");
    let config = VerifierConfig::single_tenant(keys, TENANT, policy).expect("config");
    Verifier::new(config, replay, registry)
}

fn memory_verifier() -> Verifier {
    verifier_with(
        Arc::new(MemoryReplayStore::new()),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    )
}

/// Asserts the JSON error shape and returns its code.
fn error_code(response: &HttpResponse, status: u16) -> String {
    assert_eq!(response.status, status, "body: {}", response.text());
    assert!(
        response
            .header("content-type")
            .is_some_and(|v| v.starts_with("application/json")),
        "content type {:?}",
        response.header("content-type")
    );
    let body = response.json();
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    body["code"].as_str().expect("code").to_owned()
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn healthz_and_unknown_routes() {
    let server = TestServer::start(memory_verifier()).await;
    let health = server.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(
        health.json(),
        serde_json::json!({"status": "ok", "replay_store": "memory"})
    );
    assert_eq!(error_code(&server.get("/nope").await, 404), "not_found");
    assert_eq!(
        error_code(&server.get("/v1/verify").await, 405),
        "method_not_allowed"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn sessions_issue_and_reject_bad_requests() {
    let server = TestServer::start(memory_verifier()).await;
    let ok = server
        .post(
            "/v1/sessions",
            "application/json",
            br#"{"tenant":"acme","subject":"user-1","flow":"login","tier":"high"}"#,
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let token = ok.json();
    for field in ["token_b64", "session_id", "policy_sha256", "policy_json"] {
        assert!(
            token[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field} in {token}"
        );
    }
    assert!(token["expires_at"].as_u64().is_some());

    let fixed_seed = format!(
        r#"{{"tenant":"acme","subject":"u","seed_hex":"{}"}}"#,
        "00".repeat(32)
    );
    server
        .assert_errors(
            "/v1/sessions",
            &[
                (
                    "application/json",
                    br#"{"tenant":"initech"}"#,
                    404,
                    "unknown_tenant",
                ),
                ("application/json", br#"{"tenant":"#, 400, "malformed_json"),
                (
                    "application/json",
                    br#"{"tenant":"acme","admin":true}"#,
                    400,
                    "malformed_json",
                ),
                (
                    "application/json",
                    fixed_seed.as_bytes(),
                    400,
                    "seed_not_allowed",
                ),
                (
                    "application/json",
                    br#"{"tenant":"acme","subject":"u","ttl_seconds":100000}"#,
                    400,
                    "invalid_request",
                ),
                (
                    "application/json",
                    br#"{"tenant":"acme","subject":"u\u0007"}"#,
                    400,
                    "invalid_request",
                ),
                (
                    "application/json",
                    br#"{"tenant":"acme"}"#,
                    400,
                    "subject_required",
                ),
                // The attempt counts are the verifier's, never the caller's.
                (
                    "application/json",
                    br#"{"tenant":"acme","subject":"u","attempt":1}"#,
                    400,
                    "counted_by_server",
                ),
                (
                    "application/json",
                    br#"{"tenant":"acme","subject":"u","consecutive_failures":0}"#,
                    400,
                    "counted_by_server",
                ),
                (
                    "text/plain",
                    br#"{"tenant":"acme"}"#,
                    415,
                    "unsupported_media_type",
                ),
            ],
        )
        .await;

    server
        .metrics_containing("\nliveproof_sessions_issued_total 1\n")
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn verify_garbage_is_a_rejection_not_an_error() {
    let server = TestServer::start(memory_verifier()).await;
    let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
    let mut answers = Vec::new();
    answers.push(
        server
            .post(
                "/v1/verify?session_id=00000000000000000000000000000000",
                "application/cose",
                &garbage,
            )
            .await,
    );
    answers.push(
        server
            .post(
                "/v1/verify?session_id=00000000000000000000000000000000",
                "application/octet-stream",
                b"\xd2\x84",
            )
            .await,
    );
    let json_body = serde_json::json!({
        "result_b64": b64(&garbage),
        "session_id": "00000000000000000000000000000000",
    })
    .to_string();
    answers.push(
        server
            .post("/v1/verify", "application/json", json_body.as_bytes())
            .await,
    );
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.text());
        let verdict = answer.json();
        assert_eq!(verdict["accepted"], false, "{verdict}");
        assert!(verdict["failed_check"].is_string(), "{verdict}");
    }
    // One audit record per verification, each a JSON object.
    let records = server.audit_records();
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(serde_json::Value::is_object));

    let metrics = server
        .metrics_containing("liveproof_verify_seconds_count 3\n")
        .await;
    let rejected: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("liveproof_verify_total{outcome=\"rejected\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(rejected, 3, "{metrics}");
    assert!(metrics.contains("# TYPE liveproof_replay_claim_seconds histogram\n"));
    server.shutdown().await;
}

#[tokio::test]
async fn verify_bad_bodies_are_json_4xx() {
    let server = TestServer::start(memory_verifier()).await;
    let big = vec![0xa5u8; 70 * 1024];
    let too_large = server.post("/v1/verify", "application/cose", &big).await;
    assert_eq!(error_code(&too_large, 413), "body_too_large");
    // Without a Content-Length the limit still holds (the body is cut while read).
    let chunked = request_framed(
        server.addr,
        "POST",
        "/v1/verify",
        Some("application/cose"),
        &big,
        Framing::Chunked,
    )
    .await
    .expect("request");
    assert_eq!(error_code(&chunked, 413), "body_too_large");
    let json_too_large = serde_json::json!({ "result_b64": b64(&big) }).to_string();
    let answer = server
        .post("/v1/verify", "application/json", json_too_large.as_bytes())
        .await;
    assert_eq!(error_code(&answer, 413), "body_too_large");

    let cases: [(&str, &[u8], u16, &str); 6] = [
        ("application/json", b"{not json", 400, "malformed_json"),
        (
            "application/json",
            br#"{"result_b64":"!!!!"}"#,
            400,
            "bad_base64",
        ),
        (
            "application/json",
            br#"{"result_b64":"AA","x":1}"#,
            400,
            "malformed_json",
        ),
        ("text/plain", b"hello", 415, "unsupported_media_type"),
        ("application/cose", b"", 400, "empty_result"),
        (
            "application/json",
            br#"{"result_b64":""}"#,
            400,
            "empty_result",
        ),
    ];
    server.assert_errors("/v1/verify", &cases).await;
    // A result without the session it must belong to.
    let unbound = server
        .post("/v1/verify", "application/cose", b"\xd2\x84\x40")
        .await;
    assert_eq!(error_code(&unbound, 400), "session_id_required");
    // None of them reached the verifier: no audit record, no verification counted.
    assert_eq!(server.audit_records().len(), 0);
    server
        .metrics_containing("liveproof_verify_seconds_count 0\n")
        .await;
    server.shutdown().await;
}

#[tokio::test]
async fn device_keys_register_and_reject_bad_keys() {
    let server = TestServer::start(memory_verifier()).await;
    let secret = p256::SecretKey::from_slice(&[9u8; 32]).expect("scalar");
    let key = secret
        .public_key()
        .to_encoded_point(false)
        .as_bytes()
        .to_vec();
    let body = serde_json::json!({"tenant": "acme", "public_key_b64": b64(&key), "label": "pixel"});
    let created = server
        .post(
            "/v1/device-keys",
            "application/json",
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    assert_eq!(created.json()["tenant"], "acme");
    assert!(server
        .verifier
        .registry()
        .is_registered("acme", &key)
        .await
        .unwrap());

    let short = serde_json::json!({"tenant": "acme", "public_key_b64": b64(&key[..64])});
    let off_curve = {
        let mut k = key.clone();
        k[64] ^= 1;
        serde_json::json!({"tenant": "acme", "public_key_b64": b64(&k)})
    };
    let bad_tenant = serde_json::json!({"tenant": "", "public_key_b64": b64(&key)});
    for body in [short, off_curve, bad_tenant] {
        let answer = server
            .post(
                "/v1/device-keys",
                "application/json",
                body.to_string().as_bytes(),
            )
            .await;
        assert_eq!(error_code(&answer, 400), "invalid_device_key", "{body}");
    }
    let bad_b64 = server
        .post(
            "/v1/device-keys",
            "application/json",
            br#"{"tenant":"acme","public_key_b64":"%%%"}"#,
        )
        .await;
    assert_eq!(error_code(&bad_b64, 400), "bad_base64");
    // A well-formed tenant this verifier does not serve.
    let stranger = serde_json::json!({"tenant": "globex", "public_key_b64": b64(&key)});
    let answer = server
        .post(
            "/v1/device-keys",
            "application/json",
            stranger.to_string().as_bytes(),
        )
        .await;
    assert_eq!(error_code(&answer, 404), "unknown_tenant");
    server.shutdown().await;
}

/// The SYNTHETIC device key of the accepted-path tests.
fn device() -> SoftwareSigner {
    SoftwareSigner::from_secret_bytes(&[0x22; 32]).expect("device key")
}

/// Registers [`device`]'s key for [`TENANT`] over HTTP (the shipped policy wants registered or
/// attested keys).
async fn register_device(server: &TestServer) {
    let key = device().public().expect("public key").sec1();
    let body = serde_json::json!({"tenant": TENANT, "public_key_b64": b64(&key), "label": "t"});
    let answer = server
        .post(
            "/v1/device-keys",
            "application/json",
            body.to_string().as_bytes(),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.text());
}

/// The value of the series line starting with `prefix` (labels included), 0 when absent.
fn series(metrics: &str, prefix: &str) -> f64 {
    metrics
        .lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_signed_result_is_accepted_once_then_replayed() {
    let server = TestServer::start(memory_verifier()).await;
    register_device(&server).await;
    let claims_before = series(
        &server.metrics().await,
        "liveproof_replay_claim_seconds_count",
    );
    let (issued, signed) = signed_sample(
        &server.verifier,
        TENANT,
        &device(),
        PASSING_RAW,
        SystemTime::now(),
    )
    .expect("signed sample");

    let path = format!("/v1/verify?session_id={}", issued.session_id);
    let first = server.post(&path, "application/cose", &signed).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let verdict = first.json();
    assert_eq!(verdict["accepted"], true, "{verdict}");
    assert_eq!(verdict["band"], "pass");
    assert_eq!(verdict["session_id"], issued.session_id.as_str());
    assert_eq!(verdict["tenant"], TENANT);

    // The same bytes again, as JSON this time: a replay.
    let json_body = serde_json::json!({
        "result_b64": b64(&signed),
        "session_id": issued.session_id,
        "tenant": TENANT,
    })
    .to_string();
    let again = server
        .post("/v1/verify", "application/json", json_body.as_bytes())
        .await;
    assert_eq!(again.status, 200, "{}", again.text());
    let replayed = again.json();
    assert_eq!(replayed["accepted"], false);
    assert_eq!(replayed["reject_reason"], "replayed", "{replayed}");
    assert_eq!(replayed["retryable"], false);
    // The identical bytes claimed the session: `same_result`, and still no band.
    assert_eq!(replayed["same_result"], true, "{replayed}");
    assert_eq!(replayed["band"], serde_json::Value::Null);
    assert_eq!(replayed["claimed_band"], "pass", "{replayed}");
    assert!(
        replayed["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "replay"
                && c["detail"]
                    .as_str()
                    .unwrap()
                    .contains("this identical result")),
        "{replayed}"
    );
    assert_eq!(verdict["same_result"], false);

    let records = server.audit_records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["verdict"]["accepted"], true, "{}", records[0]);
    assert_eq!(records[1]["verdict"]["accepted"], false);
    let metrics = server.metrics().await;
    assert_eq!(
        series(&metrics, "liveproof_verify_total{outcome=\"accepted\""),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            "liveproof_verify_total{outcome=\"rejected\",reason=\"replayed\"}"
        ),
        1.0
    );
    // Both verifications reached the replay claim (the counter is process-wide: at least 2).
    let claims = series(&metrics, "liveproof_replay_claim_seconds_count") - claims_before;
    assert!(claims >= 2.0, "{claims} claims recorded");
    assert_eq!(records[1]["verdict"]["same_result"], true, "{}", records[1]);

    // A second valid result for the same session, signed again a second later (other bytes):
    // replayed, and not the same result.
    let other = sign_issued(
        &server.verifier,
        &issued,
        &device(),
        PASSING_RAW,
        SystemTime::now() + Duration::from_secs(1),
        Vec::new(),
        |_| {},
    )
    .expect("sign again");
    assert_ne!(other, signed);
    let different = server.post(&path, "application/cose", &other).await;
    assert_eq!(different.status, 200, "{}", different.text());
    let different = different.json();
    assert_eq!(different["accepted"], false);
    assert_eq!(different["reject_reason"], "replayed", "{different}");
    assert_eq!(different["same_result"], false, "{different}");
    assert!(different.get("claimed_band").is_none(), "{different}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_replay_store_outage_is_503_with_the_verdict() {
    let mut redis = support::TestRedis::start();
    let replay = RedisReplayStore::connect(&redis.url(), "http:")
        .await
        .expect("redis");
    let server = TestServer::start(verifier_with(
        Arc::new(replay),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    ))
    .await;
    register_device(&server).await;
    let health = server.get("/healthz").await.json();
    assert_eq!(health["replay_store"], "redis");
    let now = SystemTime::now();
    let (first_issued, first) =
        signed_sample(&server.verifier, TENANT, &device(), PASSING_RAW, now)
            .expect("signed sample");
    let (second_issued, second) =
        signed_sample(&server.verifier, TENANT, &device(), PASSING_RAW, now)
            .expect("signed sample");
    let first_path = format!("/v1/verify?session_id={}", first_issued.session_id);
    let second_path = format!("/v1/verify?session_id={}", second_issued.session_id);
    let ok = server.post(&first_path, "application/cose", &first).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["accepted"], true, "{}", ok.text());

    redis.kill();
    let down = server.post(&second_path, "application/cose", &second).await;
    assert_eq!(down.status, 503, "{}", down.text());
    let verdict = down.json();
    assert_eq!(verdict["accepted"], false);
    assert_eq!(verdict["reject_reason"], "replay_store_unavailable");
    assert_eq!(verdict["failed_check"], "replay");
    assert_eq!(verdict["retryable"], true);

    // Redis back (AOF kept the first claim): the second result is accepted on a retry, the
    // first is still a replay.
    redis.restart();
    let retried = server.post_cose_until_up(&second_path, &second).await;
    assert_eq!(retried.status, 200, "{}", retried.text());
    assert_eq!(retried.json()["accepted"], true);
    let replay = server.post(&first_path, "application/cose", &first).await;
    assert_eq!(replay.json()["reject_reason"], "replayed");
    assert_eq!(replay.json()["same_result"], true, "{}", replay.text());
    let metrics = server.metrics().await;
    assert!(
        series(
            &metrics,
            "liveproof_verify_total{outcome=\"unavailable\",reason=\"replay_store_unavailable\"}"
        ) >= 1.0,
        "{metrics}"
    );
    server.shutdown().await;
}

/// Runs the CLI and returns its stdout; panics with stderr on failure.
fn cli(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_liveproof-verifier"))
        .args(args)
        .output()
        .expect("run liveproof-verifier");
    assert!(
        out.status.success(),
        "liveproof-verifier {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn serve_stops_gracefully_on_sigterm() {
    let dir = support::temp_dir("serve");
    let keys = dir.join("keys");
    let addr_file = dir.join("addr");
    let audit = dir.join("audit.jsonl");
    let kid = cli(&["keygen", "--out", keys.to_str().expect("utf-8 path")]);
    assert!(!kid.trim().is_empty());
    let mut child = Command::new(env!("CARGO_BIN_EXE_liveproof-verifier"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tenant",
            TENANT,
            "--key",
        ])
        .arg(&keys)
        .arg("--addr-file")
        .arg(&addr_file)
        .arg("--audit")
        .arg(&audit)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    // The address file appears once the listener is bound.
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr: SocketAddr = loop {
        if let Some(addr) = std::fs::read_to_string(&addr_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            break addr;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "serve did not bind within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let health = request(addr, "GET", "/healthz", None, b"")
        .await
        .expect("healthz");
    assert_eq!(health.status, 200);
    assert_eq!(health.json()["replay_store"], "memory");
    let garbage = request(
        addr,
        "POST",
        "/v1/verify?session_id=00000000000000000000000000000000",
        Some("application/cose"),
        b"\x01\x02",
    )
    .await
    .expect("verify");
    assert_eq!(garbage.status, 200);

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(killed.success());
    let status = tokio::task::spawn_blocking(move || {
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status, stderr)
    });
    let (status, stderr) = tokio::time::timeout(Duration::from_secs(30), status)
        .await
        .expect("serve did not stop within 30 s of SIGTERM")
        .expect("join");
    assert!(status.success(), "exit {status}; stderr:\n{stderr}");
    // JSON log lines: one per request (2), the signal, the stop.
    let logs: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let requests: Vec<_> = logs
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 2, "stderr:\n{stderr}");
    assert_eq!(requests[0]["fields"]["path"], "/healthz");
    assert_eq!(requests[1]["fields"]["status"], 200);
    assert!(
        logs.iter().any(|l| l["fields"]["signal"] == "sigterm"),
        "{stderr}"
    );
    assert!(logs
        .iter()
        .any(|l| l["fields"]["message"] == "liveproof-verifier stopped"));
    // One audit record for the one verification.
    let audit_lines = std::fs::read_to_string(&audit).expect("audit file");
    assert_eq!(audit_lines.lines().count(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An audit sink that cannot write (`/dev/full`: every write fails with ENOSPC) does not
/// change the answer; the failure is counted and logged.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn an_audit_write_failure_is_counted_not_fatal() {
    let server = TestServer::start_with_audit(memory_verifier(), PathBuf::from("/dev/full")).await;
    for _ in 0..2 {
        let answer = server
            .post(
                "/v1/verify?session_id=00000000000000000000000000000000",
                "application/cose",
                b"\xd2\x84\x40",
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        assert_eq!(answer.json()["accepted"], false);
    }
    let metrics = server.metrics().await;
    assert_eq!(
        series(&metrics, "liveproof_audit_write_errors_total"),
        2.0,
        "{metrics}"
    );
    server.shutdown().await;
}

/// POSTs a JSON value.
async fn post_json(server: &TestServer, path: &str, body: &serde_json::Value) -> HttpResponse {
    server
        .post(path, "application/json", body.to_string().as_bytes())
        .await
}

/// [`device`]'s public key as the JSON body of the device-key routes.
fn device_key_body(extra: serde_json::Value) -> serde_json::Value {
    let key = device().public().expect("public key").sec1();
    let mut body = serde_json::json!({"tenant": TENANT, "public_key_b64": b64(&key)});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// Verifies a fresh SYNTHETIC passing result of [`device`] and returns the verdict.
async fn verify_fresh(server: &TestServer) -> serde_json::Value {
    let (issued, signed) = signed_sample(
        &server.verifier,
        TENANT,
        &device(),
        PASSING_RAW,
        SystemTime::now(),
    )
    .expect("signed sample");
    let path = format!("/v1/verify?session_id={}", issued.session_id);
    let answer = server.post(&path, "application/cose", &signed).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

#[tokio::test]
async fn a_revoked_device_key_is_rejected_after_it_verified_before() {
    let server = TestServer::start(memory_verifier()).await;
    register_device(&server).await;
    let before = verify_fresh(&server).await;
    assert_eq!(before["accepted"], true, "{before}");
    assert_eq!(before["device_key_trust"], "registered");

    let revoked = post_json(
        &server,
        "/v1/device-keys/revoke",
        &device_key_body(serde_json::json!({})),
    )
    .await;
    assert_eq!(revoked.status, 200, "{}", revoked.text());
    let answer = revoked.json();
    assert_eq!(answer["revoked"], true);
    assert_eq!(answer["was_registered"], true);
    assert_eq!(answer["registry"], "memory");

    // A fresh session (results are single-use) signed by the same key: rejected, named.
    let after = verify_fresh(&server).await;
    assert_eq!(after["accepted"], false, "{after}");
    assert_eq!(after["reject_reason"], "device_key_revoked");
    assert_eq!(after["failed_check"], "device_key_trust");
    assert_eq!(after["retryable"], false);
    // A routine registration does not bring it back; an explicit reinstate does.
    let again = post_json(
        &server,
        "/v1/device-keys",
        &device_key_body(serde_json::json!({"label": "t"})),
    )
    .await;
    assert_eq!(error_code(&again, 409), "device_key_revoked");
    assert_eq!(verify_fresh(&server).await["accepted"], false);
    let reinstated = post_json(
        &server,
        "/v1/device-keys",
        &device_key_body(serde_json::json!({"reinstate": true})),
    )
    .await;
    assert_eq!(reinstated.status, 201, "{}", reinstated.text());
    assert_eq!(verify_fresh(&server).await["accepted"], true);

    // Bad revocations: the same shapes as registration's.
    let key = device().public().expect("public key").sec1();
    for (body, status, code) in [
        (
            serde_json::json!({"tenant": "globex", "public_key_b64": b64(&key)}),
            404,
            "unknown_tenant",
        ),
        (
            serde_json::json!({"tenant": TENANT, "public_key_b64": "%%%"}),
            400,
            "bad_base64",
        ),
        (
            serde_json::json!({"tenant": TENANT, "public_key_b64": b64(&key[..64])}),
            400,
            "invalid_device_key",
        ),
        (
            serde_json::json!({"tenant": TENANT, "public_key_b64": b64(&key), "x": 1}),
            400,
            "malformed_json",
        ),
    ] {
        let answer = post_json(&server, "/v1/device-keys/revoke", &body).await;
        assert_eq!(error_code(&answer, status), code, "{body}");
    }
    let metrics = server.metrics().await;
    assert_eq!(
        series(
            &metrics,
            "liveproof_verify_total{outcome=\"rejected\",reason=\"device_key_revoked\"}"
        ),
        2.0,
        "{metrics}"
    );
    server.shutdown().await;
}

/// Issues a counted session over HTTP for `subject`; the whole answer.
async fn issue(server: &TestServer, subject: &str) -> HttpResponse {
    post_json(
        server,
        "/v1/sessions",
        &serde_json::json!({"tenant": TENANT, "subject": subject}),
    )
    .await
}

/// The issued token of a 200 answer, with its (attempt, consecutive failures) as the device
/// reads them.
fn issued_token(
    server: &TestServer,
    answer: &HttpResponse,
) -> (liveproof_verifier::IssuedToken, (u32, u32)) {
    assert_eq!(answer.status, 200, "{}", answer.text());
    let json = answer.json();
    let text = |f: &str| json[f].as_str().expect(f).to_owned();
    let token =
        liveproof_verifier::server::decode_base64(&text("token_b64")).expect("token base64");
    let keys = &server.verifier.config().keys;
    let now = liveproof_core::trust::unix_seconds(SystemTime::now());
    let claims = liveproof_core::trust::verify_token(&token, keys, now, 30)
        .expect("the device accepts the token")
        .claims;
    assert_eq!(claims.max_attempts, 5);
    let issued = liveproof_verifier::IssuedToken {
        token_b64: text("token_b64"),
        token,
        session_id: text("session_id"),
        expires_at: json["expires_at"].as_u64().expect("expires_at"),
        policy_sha256: text("policy_sha256"),
        policy_json: text("policy_json"),
    };
    (issued, (claims.attempt, claims.consecutive_failures))
}

/// Signs a SYNTHETIC result of raw score `raw` for `issued` and verifies it over HTTP; the
/// verdict.
async fn sign_and_verify(
    server: &TestServer,
    issued: &liveproof_verifier::IssuedToken,
    raw: f32,
) -> serde_json::Value {
    let signed = liveproof_verifier::testkit::sign_issued(
        &server.verifier,
        issued,
        &device(),
        raw,
        SystemTime::now(),
        Vec::new(),
        |_| {},
    )
    .expect("sign");
    let path = format!("/v1/verify?session_id={}", issued.session_id);
    let answer = server.post(&path, "application/cose", &signed).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.json()
}

/// Asserts a 429 `too_many_attempts` with a retry-after within the 900 s window; returns it.
fn too_many(answer: &HttpResponse) -> u64 {
    assert_eq!(error_code(answer, 429), "too_many_attempts");
    let retry_after = answer.json()["retry_after_s"]
        .as_u64()
        .expect("retry_after_s");
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(
        answer.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    retry_after
}

#[tokio::test]
async fn the_verifier_counts_attempts_per_subject_and_a_pass_resets_them() {
    let server = TestServer::start(memory_verifier()).await;
    register_device(&server).await;
    // 5 sessions for alice in the window (the shipped tenant's max_attempts), then 429.
    for n in 1..=5 {
        let (_, counts) = issued_token(&server, &issue(&server, "alice").await);
        assert_eq!(counts, (n, 0));
    }
    too_many(&issue(&server, "alice").await);
    // Another subject is unaffected.
    let (_, counts) = issued_token(&server, &issue(&server, "bob").await);
    assert_eq!(counts, (1, 0));
    // A fail counts; a pass resets the attempts and the failures.
    let (first, counts) = issued_token(&server, &issue(&server, "carol").await);
    assert_eq!(counts, (1, 0));
    let failed = sign_and_verify(&server, &first, 0.05).await;
    assert_eq!(
        (&failed["accepted"], &failed["band"]),
        (&true.into(), &"fail".into())
    );
    let (second, counts) = issued_token(&server, &issue(&server, "carol").await);
    assert_eq!(counts, (2, 1), "the token says one failure so far");
    let passed = sign_and_verify(&server, &second, PASSING_RAW).await;
    assert_eq!(passed["band"], "pass", "{passed}");
    assert_eq!(passed["attempt"], 2);
    let (_, counts) = issued_token(&server, &issue(&server, "carol").await);
    assert_eq!(counts, (1, 0), "a pass starts a new transaction");
    // Refused sessions are not counted as issued.
    let metrics = server
        .metrics_containing("\nliveproof_sessions_issued_total 9\n")
        .await;
    assert_eq!(
        series(
            &metrics,
            "liveproof_sessions_refused_total{reason=\"too_many_attempts\"}"
        ),
        1.0,
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn attempts_are_shared_by_two_servers_on_one_redis_and_an_outage_is_503() {
    let mut redis = support::TestRedis::start();
    let on_redis = || async {
        verifier_with(
            Arc::new(
                RedisReplayStore::connect(&redis.url(), "lp:")
                    .await
                    .expect("redis"),
            ),
            Arc::new(
                RedisDeviceKeyRegistry::connect(&redis.url(), "lp:")
                    .await
                    .expect("redis"),
            ),
        )
    };
    let a = TestServer::start(on_redis().await).await;
    let b = TestServer::start(on_redis().await).await;
    register_device(&a).await;
    // Alternate between the two servers: one count.
    for n in 1..=5 {
        let server = if n % 2 == 1 { &a } else { &b };
        let (_, counts) = issued_token(server, &issue(server, "alice").await);
        assert_eq!(counts, (n, 0));
    }
    too_many(&issue(&a, "alice").await);
    too_many(&issue(&b, "alice").await);
    // A fail verified on b counts for the next session issued on a; a pass on a resets it for b.
    let (first, _) = issued_token(&a, &issue(&a, "carol").await);
    assert_eq!(sign_and_verify(&b, &first, 0.05).await["band"], "fail");
    let (second, counts) = issued_token(&a, &issue(&a, "carol").await);
    assert_eq!(counts, (2, 1));
    assert_eq!(
        sign_and_verify(&a, &second, PASSING_RAW).await["accepted"],
        true
    );
    let (_, counts) = issued_token(&b, &issue(&b, "carol").await);
    assert_eq!(counts, (1, 0));
    // Redis down: issuing fails closed (nothing is issued uncounted).
    redis.kill();
    let down = issue(&b, "dave").await;
    assert_eq!(error_code(&down, 503), "store_unavailable");
    let metrics = b.metrics().await;
    assert_eq!(
        series(
            &metrics,
            "liveproof_sessions_refused_total{reason=\"store_unavailable\"}"
        ),
        1.0,
        "{metrics}"
    );
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start(memory_verifier()).await;
    // Announce 100 bytes, send 10, then stall: the body never completes.
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /v1/verify?session_id=00 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/cose\r\nContent-Length: 100\r\n\r\n0123456789",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut raw = Vec::new();
    tokio::time::timeout(
        server::REQUEST_TIMEOUT + Duration::from_secs(10),
        stream.read_to_end(&mut raw),
    )
    .await
    .expect("an answer within the timeout plus 10 s")
    .expect("read");
    let waited = started.elapsed();
    let answer = support::http::parse_response(&raw).expect("a response");
    assert_eq!(error_code(&answer, 408), "timeout");
    assert!(
        waited >= server::REQUEST_TIMEOUT - Duration::from_millis(100),
        "answered after {waited:?}"
    );
    // Nothing reached the verifier.
    assert_eq!(server.audit_records().len(), 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_key_set_without_a_private_key_is_500_signing_failed() {
    // A verify-only deployment: the public half of the key, no `<kid>.key.pem`.
    let signer = SoftwareSigner::from_secret_bytes(&[0x11; 32]).expect("server key");
    let public = signer.public().expect("public key");
    let kid = liveproof_core::trust::kid_of(&public);
    let keys = ServerKeySet::from_public(vec![(
        kid,
        liveproof_core::trust::KeyStatus::Active,
        public,
    )]);
    let policy = config::load_policy(None).expect("shipped policy");
    let verifier = Verifier::new(
        VerifierConfig::single_tenant(keys, TENANT, policy).expect("config"),
        Arc::new(MemoryReplayStore::new()),
        Arc::new(MemoryDeviceKeyRegistry::new()),
    );
    let server = TestServer::start(verifier).await;
    let answer = issue(&server, "alice").await;
    assert_eq!(error_code(&answer, 500), "signing_failed");
    // The message names no key material or internal detail.
    assert_eq!(
        answer.json()["error"],
        "the session token could not be signed"
    );
    server
        .metrics_containing("\nliveproof_sessions_issued_total 0\n")
        .await;
    // The service still verifies: a token from the signing half is checked as usual.
    let signing = memory_verifier();
    let (issued, signed) =
        signed_sample(&signing, TENANT, &device(), PASSING_RAW, SystemTime::now())
            .expect("signed sample");
    let path = format!("/v1/verify?session_id={}", issued.session_id);
    let verdict = server.post(&path, "application/cose", &signed).await.json();
    assert_eq!(
        verdict["reject_reason"], "device_key_untrusted",
        "{verdict}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_registry_outage_is_503_on_every_route_that_needs_it() {
    let mut redis = support::TestRedis::start();
    let registry = RedisDeviceKeyRegistry::connect(&redis.url(), "reg:")
        .await
        .expect("redis");
    let server = TestServer::start(verifier_with(
        Arc::new(MemoryReplayStore::new()),
        Arc::new(registry),
    ))
    .await;
    register_device(&server).await;
    assert_eq!(verify_fresh(&server).await["accepted"], true);
    redis.kill();
    for path in ["/v1/device-keys", "/v1/device-keys/revoke"] {
        let answer = post_json(&server, path, &device_key_body(serde_json::json!({}))).await;
        assert_eq!(error_code(&answer, 503), "registry_unavailable", "{path}");
    }
    // Verification fails closed: 503 with the verdict, retryable, named for the registry.
    let (issued, signed) = signed_sample(
        &server.verifier,
        TENANT,
        &device(),
        PASSING_RAW,
        SystemTime::now(),
    )
    .expect("signed sample");
    let path = format!("/v1/verify?session_id={}", issued.session_id);
    let down = server.post(&path, "application/cose", &signed).await;
    assert_eq!(down.status, 503, "{}", down.text());
    let verdict = down.json();
    assert_eq!(verdict["accepted"], false);
    assert_eq!(verdict["reject_reason"], "registry_unavailable");
    assert_eq!(verdict["failed_check"], "device_key_trust");
    assert_eq!(verdict["retryable"], true);
    // Back up: the same result is accepted (nothing was claimed while the registry was down).
    redis.restart();
    let retried = server.post_cose_until_up(&path, &signed).await;
    assert_eq!(retried.json()["accepted"], true, "{}", retried.text());
    server.shutdown().await;
}

/// The length of the CBOR byte string header at `bytes[at]` and its content length.
fn bstr_header(bytes: &[u8], at: usize) -> (usize, usize) {
    match bytes[at] {
        b @ 0x40..=0x57 => (1, usize::from(b - 0x40)),
        0x58 => (2, usize::from(bytes[at + 1])),
        0x59 => (
            3,
            usize::from(u16::from_be_bytes([bytes[at + 1], bytes[at + 2]])),
        ),
        other => panic!("not a short byte string header: 0x{other:02x}"),
    }
}

/// A CBOR byte string header for `len` bytes, in its shortest form.
fn bstr_head(len: usize) -> Vec<u8> {
    match len {
        0..=23 => vec![0x40 + len as u8],
        24..=255 => vec![0x58, len as u8],
        _ => {
            let mut h = vec![0x59];
            h.extend_from_slice(&u16::try_from(len).expect("short payload").to_be_bytes());
            h
        }
    }
}

#[tokio::test]
async fn a_validly_signed_result_in_non_canonical_cbor_is_rejected() {
    let server = TestServer::start(memory_verifier()).await;
    register_device(&server).await;
    let now = SystemTime::now();
    // COSE_Sign1: d2 84 <protected bstr> a0 <payload bstr> 58 40 <signature>.
    let (issued, signed) = signed_sample(&server.verifier, TENANT, &device(), PASSING_RAW, now)
        .expect("signed sample");
    assert_eq!(signed[..2], [0xd2, 0x84]);
    let (ph, plen) = bstr_header(&signed, 2);
    let protected = signed[2 + ph..2 + ph + plen].to_vec();
    let at = 2 + ph + plen;
    assert_eq!(signed[at], 0xa0, "empty unprotected header");
    let (yh, ylen) = bstr_header(&signed, at + 1);
    let payload = signed[at + 1 + yh..at + 1 + yh + ylen].to_vec();
    let signature = &signed[signed.len() - 64..];

    // 1. The envelope: the protected header's length in a longer form than needed (0x58 0x15
    //    for 0x55). The signature covers the header's content, so it still verifies.
    let mut envelope = vec![0xd2, 0x84, 0x58, protected.len() as u8];
    envelope.extend_from_slice(&signed[2 + ph..]);
    // 2. The payload: its first map key (6, `iat`) as 0x18 0x06 instead of 0x06, signed again
    //    by the device over the new bytes: a valid signature over non-canonical claims.
    assert_eq!(payload[1], 0x06, "the first claim is iat");
    let mut loose = payload.clone();
    loose.splice(1..2, [0x18, 0x06]);
    let token_sha256 = sha2::Sha256::digest(&issued.token);
    let mut tbs = vec![0x84, 0x6a];
    tbs.extend_from_slice(b"Signature1");
    tbs.extend(bstr_head(protected.len()));
    tbs.extend_from_slice(&protected);
    tbs.extend([0x58, 0x20]);
    tbs.extend_from_slice(&token_sha256);
    tbs.extend(bstr_head(loose.len()));
    tbs.extend_from_slice(&loose);
    let resigned = device().sign(&tbs).expect("sign").into_raw().expect("raw");
    assert!(device().public().expect("public").verifies(&tbs, &resigned));
    let mut claims = vec![0xd2, 0x84];
    claims.extend(bstr_head(protected.len()));
    claims.extend_from_slice(&protected);
    claims.push(0xa0);
    claims.extend(bstr_head(loose.len()));
    claims.extend_from_slice(&loose);
    claims.extend([0x58, 0x40]);
    claims.extend_from_slice(&resigned);
    // Control: the same re-assembly of the original payload and signature is the original.
    let mut same = vec![0xd2, 0x84];
    same.extend(bstr_head(protected.len()));
    same.extend_from_slice(&protected);
    same.push(0xa0);
    same.extend(bstr_head(payload.len()));
    same.extend_from_slice(&payload);
    same.extend([0x58, 0x40]);
    same.extend_from_slice(signature);
    assert_eq!(same, signed);

    let path = format!("/v1/verify?session_id={}", issued.session_id);
    for (bytes, why) in [
        (&envelope, "not in deterministic encoding"),
        (&claims, "payload not in deterministic encoding"),
    ] {
        let answer = server.post(&path, "application/cose", bytes).await;
        assert_eq!(answer.status, 200, "{}", answer.text());
        let verdict = answer.json();
        assert_eq!(verdict["accepted"], false, "{verdict}");
        assert_eq!(verdict["reject_reason"], "malformed");
        assert_eq!(verdict["failed_check"], "cose_structure");
        let detail = verdict["checks"][0]["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(why), "{detail}");
    }
    // The canonical original is still accepted: nothing above claimed the session.
    let answer = server.post(&path, "application/cose", &signed).await;
    assert_eq!(answer.json()["accepted"], true, "{}", answer.text());
    server.shutdown().await;
}

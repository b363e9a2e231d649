//! The HTTP service in-process on 127.0.0.1:0, driven by a hand-written HTTP/1.1 client:
//! routes, status codes, JSON errors for every bad body, metrics, audit records, the Redis
//! outage answer (503), and SIGTERM shutdown of the real binary.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use liveproof_core::trust::{ServerKeySet, SoftwareSigner};
use liveproof_verifier::registry::{DeviceKeyRegistry, MemoryDeviceKeyRegistry};
use liveproof_verifier::server::{self, AuditSink};
use liveproof_verifier::store::{MemoryReplayStore, ReplayStore};
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
        let verifier = Arc::new(verifier);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("addr");
        let audit_path = support::temp_dir("audit").join("audit.jsonl");
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

    async fn get(&self, path: &str) -> HttpResponse {
        request(self.addr, "GET", path, None, b"")
            .await
            .expect("request")
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
        if let Some(dir) = self.audit_path.parent() {
            let _ = std::fs::remove_dir_all(dir);
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
            br#"{"tenant":"acme","flow":"login","tier":"high"}"#,
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

    let unknown = server
        .post(
            "/v1/sessions",
            "application/json",
            br#"{"tenant":"initech"}"#,
        )
        .await;
    assert_eq!(error_code(&unknown, 404), "unknown_tenant");
    let malformed = server
        .post("/v1/sessions", "application/json", br#"{"tenant":"#)
        .await;
    assert_eq!(error_code(&malformed, 400), "malformed_json");
    let unknown_field = server
        .post(
            "/v1/sessions",
            "application/json",
            br#"{"tenant":"acme","admin":true}"#,
        )
        .await;
    assert_eq!(error_code(&unknown_field, 400), "malformed_json");
    let wrong_type = server
        .post("/v1/sessions", "text/plain", br#"{"tenant":"acme"}"#)
        .await;
    assert_eq!(error_code(&wrong_type, 415), "unsupported_media_type");

    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("\nliveproof_sessions_issued_total 1\n"),
        "{metrics}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn verify_garbage_is_a_rejection_not_an_error() {
    let server = TestServer::start(memory_verifier()).await;
    let garbage: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
    let mut answers = Vec::new();
    answers.push(
        server
            .post("/v1/verify", "application/cose", &garbage)
            .await,
    );
    answers.push(
        server
            .post("/v1/verify", "application/octet-stream", b"\xd2\x84")
            .await,
    );
    let json_body = serde_json::json!({ "result_b64": b64(&garbage) }).to_string();
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

    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("liveproof_verify_seconds_count 3\n"),
        "{metrics}"
    );
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
    for (content_type, body, status, code) in cases {
        let answer = server.post("/v1/verify", content_type, body).await;
        assert_eq!(error_code(&answer, status), code, "{content_type} {body:?}");
    }
    // None of them reached the verifier: no audit record, no verification counted.
    assert_eq!(server.audit_records().len(), 0);
    let metrics = server.get("/metrics").await.text();
    assert!(
        metrics.contains("liveproof_verify_seconds_count 0\n"),
        "{metrics}"
    );
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
    server.shutdown().await;
}

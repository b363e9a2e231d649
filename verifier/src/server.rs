//! The verifier's HTTP service (axum 0.8), JSON in and out:
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `POST /v1/sessions` | JSON [`IssueRequest`] with `subject` (required; `seed_hex` only where the verifier allows fixed seeds: tests and demos; `attempt` and `consecutive_failures` refused, 400 `counted_by_server`) | 200 [`crate::IssuedToken`]; 404 unknown tenant; 400 invalid; 429 `too_many_attempts` with `retry_after_s` and `Retry-After`; 503 `store_unavailable` |
//! | `POST /v1/verify?session_id=..[&tenant=..]` | the signed result's bytes (`application/cose` or `application/octet-stream`), or JSON `{"result_b64", "session_id", "tenant"}`; `session_id` required (400 `session_id_required`) | 200 with the verdict, accepted or not (`replayed` carries `same_result`: true, with `claimed_band`, when this identical result claimed the session before; docs/trust.md says what a backend does with it); 503 with the verdict when the replay store is down (fail closed, retryable) |
//! | `POST /v1/device-keys` | JSON `{"tenant", "public_key_b64" (SEC1, 65 bytes), "label", "reinstate"?}` | 201; 400 bad key; 404 unknown tenant; 409 `device_key_revoked` (a revoked key without `"reinstate": true`); 503 `registry_unavailable` |
//! | `POST /v1/device-keys/revoke` | JSON `{"tenant", "public_key_b64"}` | 200 `{"revoked": true, "was_registered"}`; 400, 404, 503 as registration |
//! | `GET /healthz` | | 200 `{"status":"ok","replay_store":"memory"\|"redis"}` |
//! | `GET /metrics` | | Prometheus text ([`crate::metrics`]) |
//!
//! Every error is JSON `{"error": "...", "code": "..."}` with a 4xx (or 503) status: malformed
//! JSON, a wrong content type, a body over [`MAX_BODY_BYTES`] (413), bad base64, an unknown
//! route (404) or method (405), a request over [`REQUEST_TIMEOUT`] (408). A handler never
//! panics on input.
//!
//! Logs are JSON lines on stderr (tracing-subscriber), one per request (method, path, status,
//! latency) plus one per verification or issued session with its session id and reason codes;
//! tokens, results and keys are never logged. Each verification also appends one audit record
//! (a JSON line) to the [`AuditSink`].
//!
//! The service does not authenticate its callers: deploy it behind something that does (the
//! tenant's backend issues sessions and registers device keys, not the device).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::metrics::Metrics;
use crate::store::StoreError;
use crate::{Expected, IssueError, IssueRequest, RejectReason, Verifier};

/// Largest request body, bytes: a signed result is a few KiB; 64 KiB leaves room and bounds
/// the memory an attacker can make us buffer.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Longest a request may take end to end (a Redis claim is bounded by 2 s inside it).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where audit records go: one JSON object per line, flushed per line. Cheap to clone.
#[derive(Clone)]
pub struct AuditSink {
    target: Arc<Mutex<AuditTarget>>,
}

enum AuditTarget {
    Stdout,
    File(File),
}

impl AuditSink {
    /// Audit records to standard output (the default when no `--audit FILE` is given).
    pub fn stdout() -> Self {
        Self {
            target: Arc::new(Mutex::new(AuditTarget::Stdout)),
        }
    }

    /// Audit records appended to `path` (created if missing).
    pub fn file(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self {
            target: Arc::new(Mutex::new(AuditTarget::File(file))),
        })
    }

    /// Appends `record` as one line and flushes. One write per line, under a lock, so
    /// concurrent records never interleave.
    pub fn write(&self, record: &serde_json::Value) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut target = self
            .target
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &mut *target {
            AuditTarget::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(&line)?;
                out.flush()
            }
            AuditTarget::File(file) => {
                file.write_all(&line)?;
                file.flush()
            }
        }
    }
}

/// What the handlers share.
#[derive(Clone)]
struct AppState {
    verifier: Arc<Verifier>,
    audit: AuditSink,
    metrics: Arc<Metrics>,
    /// The time a request is checked at: `SystemTime::now`, or a fixed clock in tests.
    clock: fn() -> SystemTime,
}

/// An error answer: `{"error": message, "code": code}` with `status`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Seconds, as `"retry_after_s"` in the body and a `Retry-After` header (429).
    retry_after_s: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
        }
    }

    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let Some(retry_after_s) = self.retry_after_s else {
            let body = Json(json!({ "error": self.message, "code": self.code }));
            return (self.status, body).into_response();
        };
        let body = Json(json!({
            "error": self.message,
            "code": self.code,
            "retry_after_s": retry_after_s,
        }));
        (
            self.status,
            [(header::RETRY_AFTER, HeaderValue::from(retry_after_s))],
            body,
        )
            .into_response()
    }
}

/// The service's routes and layers, for [`serve`] or for driving in-process.
pub fn router(verifier: Arc<Verifier>, audit: AuditSink) -> Router {
    router_with(verifier, audit, Arc::new(Metrics::new()), SystemTime::now)
}

/// [`router`] whose requests are checked at `clock()` instead of the system time: for tests
/// and fuzzing, where tokens and results signed at a fixed time must stay fresh.
pub fn router_at(verifier: Arc<Verifier>, audit: AuditSink, clock: fn() -> SystemTime) -> Router {
    router_with(verifier, audit, Arc::new(Metrics::new()), clock)
}

fn router_with(
    verifier: Arc<Verifier>,
    audit: AuditSink,
    metrics: Arc<Metrics>,
    clock: fn() -> SystemTime,
) -> Router {
    let state = AppState {
        verifier,
        audit,
        metrics,
        clock,
    };
    Router::new()
        .route("/v1/sessions", post(issue_session))
        .route("/v1/verify", post(verify))
        .route("/v1/device-keys", post(register_device_key))
        .route("/v1/device-keys/revoke", post(revoke_device_key))
        .route("/healthz", get(healthz))
        .route("/metrics", get(render_metrics))
        .fallback(not_found)
        .with_state(state)
        // Layers run outside-in from the last added: log, then JSON-ify errors, then the
        // timeout and the body limits.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn(log_request))
}

/// Serves `verifier` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight. Sets up JSON logs on stderr first (unless a subscriber is already installed).
pub async fn serve(
    verifier: Arc<Verifier>,
    listener: tokio::net::TcpListener,
    audit: AuditSink,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    init_json_logs();
    let addr = listener.local_addr()?;
    tracing::info!(
        address = %addr,
        replay_store = verifier.replay_kind(),
        "liveproof-verifier listening"
    );
    let app = router(verifier, audit);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!(address = %addr, "liveproof-verifier stopped");
    Ok(())
}

/// Installs the JSON log subscriber on stderr (level from `RUST_LOG`, default `info`); a no-op
/// if one is already installed.
pub fn init_json_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}

/// Resolves on SIGTERM (Kubernetes, systemd) or Ctrl-C, whichever comes first.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "ctrl_c", "shutting down"),
        () = terminate => tracing::info!(signal = "sigterm", "shutting down"),
    }
}

/// One log line per request: method, path (no query string; cut to 128 bytes), status and
/// latency in ms. The service's paths carry no ids or secrets.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    tracing::info!(
        method = %method,
        path = %truncate(&path, 128),
        status,
        latency_ms,
        "request"
    );
    response
}

/// Gives every error answer made outside the handlers (body-limit layer, timeout, method not
/// allowed) the JSON error shape; handler errors already have it.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "body_too_large",
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
        ),
        StatusCode::REQUEST_TIMEOUT => (
            "timeout",
            format!("request took longer than {} s", REQUEST_TIMEOUT.as_secs()),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "method not allowed on this route".into(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "unsupported content type".into())
        }
        s if s.is_client_error() => ("bad_request", "bad request".into()),
        _ => ("internal", "internal error".into()),
    };
    let mut fixed = ApiError::new(status, code, message).into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fixed
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn healthz(State(state): State<AppState>) -> Response {
    Json(json!({ "status": "ok", "replay_store": state.verifier.replay_kind() })).into_response()
}

async fn render_metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The media type of a request, lower-cased, without parameters (`""` when absent).
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Requires a JSON content type, then parses `body` as `T` (unknown fields rejected where `T`
/// says so).
fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let media = media_type(headers);
    if media != "application/json" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "expected Content-Type application/json, got {:?}",
                truncate(&media, 64)
            ),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("malformed JSON: {e}")))
}

/// The JSON body of `POST /v1/sessions`: an [`IssueRequest`], plus the two fields callers
/// used to send, only to refuse them with a message that says why.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueJson {
    tenant: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    flow: Option<liveproof_core::policy::FlowType>,
    #[serde(default)]
    tier: Option<liveproof_core::policy::RiskTier>,
    #[serde(default)]
    ttl_seconds: Option<u64>,
    #[serde(default)]
    seed_hex: Option<String>,
    #[serde(default)]
    attempt: Option<serde_json::Value>,
    #[serde(default)]
    consecutive_failures: Option<serde_json::Value>,
}

async fn issue_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let json: IssueJson = parse_json(&headers, &body)?;
    for (field, sent) in [
        ("attempt", json.attempt.is_some()),
        ("consecutive_failures", json.consecutive_failures.is_some()),
    ] {
        if sent {
            return Err(ApiError::bad_request(
                "counted_by_server",
                format!(
                    "`{field}` is counted by the verifier per tenant and subject; remove it \
                     from the request and send `subject`"
                ),
            ));
        }
    }
    let request = IssueRequest {
        tenant: json.tenant,
        subject: json.subject,
        flow: json.flow,
        tier: json.tier,
        ttl_seconds: json.ttl_seconds,
        seed_hex: json.seed_hex,
    };
    match state
        .verifier
        .issue_session(&request, (state.clock)())
        .await
    {
        Ok(token) => {
            state.metrics.session_issued();
            tracing::info!(
                session_id = %token.session_id,
                tenant = %truncate(&request.tenant, 64),
                expires_at = token.expires_at,
                "session issued"
            );
            Ok(Json(token).into_response())
        }
        Err(e) => {
            let message = e.to_string();
            Err(match e {
                IssueError::UnknownTenant(_) => {
                    ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", message)
                }
                IssueError::Invalid(_) => ApiError::bad_request("invalid_request", message),
                IssueError::SeedNotAllowed => ApiError::bad_request("seed_not_allowed", message),
                IssueError::SubjectRequired => ApiError::bad_request("subject_required", message),
                IssueError::TooManyAttempts { retry_after_s, .. } => {
                    state.metrics.session_refused("too_many_attempts");
                    tracing::info!(
                        tenant = %truncate(&request.tenant, 64),
                        retry_after_s,
                        "session refused: too many attempts"
                    );
                    ApiError {
                        retry_after_s: Some(retry_after_s),
                        ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message)
                    }
                }
                IssueError::StoreUnavailable(why) => {
                    state.metrics.session_refused("store_unavailable");
                    tracing::error!(error = %why, "attempt store unavailable: no session issued");
                    ApiError::new(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "store_unavailable",
                        "the attempt store is unavailable, so no session can be counted; retry \
                         later",
                    )
                }
                IssueError::Signing(_) => {
                    tracing::error!(error = %message, "cannot sign a session token");
                    ApiError::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "signing_failed",
                        "the session token could not be signed",
                    )
                }
            })
        }
    }
}

/// The JSON form of a verify request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyJson {
    result_b64: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
}

/// The signed result's bytes and what the caller expects of it: raw bytes
/// (`application/cose`, `application/octet-stream`) with `?session_id=..&tenant=..`, or JSON
/// `{"result_b64", "session_id", "tenant"}`. The session id is required: a backend verifies
/// the result of the session it issued to this user, else an attacker's own valid result of
/// another session would pass.
fn verify_request(
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: Bytes,
) -> Result<(Bytes, Expected), ApiError> {
    let media = media_type(headers);
    let mut expected = Expected {
        session_id: query.get("session_id").cloned(),
        tenant: query.get("tenant").cloned(),
    };
    let bytes =
        match media.as_str() {
            "application/cose" | "application/octet-stream" => body,
            "application/json" => {
                let request: VerifyJson = parse_json(headers, &body)?;
                expected.session_id = request.session_id.or(expected.session_id);
                expected.tenant = request.tenant.or(expected.tenant);
                Bytes::from(decode_base64(&request.result_b64).ok_or_else(|| {
                    ApiError::bad_request("bad_base64", "result_b64 is not base64")
                })?)
            }
            other => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!(
                        "expected Content-Type application/cose, application/octet-stream or \
                     application/json, got {:?}",
                        truncate(other, 64)
                    ),
                ))
            }
        };
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "empty_result",
            "the signed result is empty",
        ));
    }
    if expected.session_id.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::bad_request(
            "session_id_required",
            "say which session this result must belong to: ?session_id=.. (or \"session_id\" \
             in JSON), the session_id POST /v1/sessions returned",
        ));
    }
    Ok((bytes, expected))
}

/// Whether a verdict is a rejection because the replay store or the device-key registry could
/// not answer (the request may be retried; the answer is 503).
fn replay_store_outage(verdict: &crate::Verdict) -> bool {
    !verdict.accepted
        && matches!(
            verdict.reject_reason,
            Some(RejectReason::ReplayStoreUnavailable | RejectReason::RegistryUnavailable)
        )
}

/// The `reason` label of a verification: the reject reason's stable name when rejected, else
/// the first reason code, else the band.
fn reason_label(verdict: &crate::Verdict) -> String {
    let named = |value: serde_json::Result<serde_json::Value>| {
        value.ok().and_then(|v| v.as_str().map(str::to_owned))
    };
    if let Some(reason) = verdict.reject_reason {
        return named(serde_json::to_value(reason)).unwrap_or_else(|| "unknown".into());
    }
    if let Some(first) = verdict.reasons.first() {
        return first.as_str().to_owned();
    }
    verdict
        .band
        .and_then(|band| named(serde_json::to_value(band)))
        .unwrap_or_else(|| "none".into())
}

async fn verify(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (bytes, expected) = verify_request(&headers, &query, body)?;
    let started = Instant::now();
    let verification = state
        .verifier
        .verify_for(&bytes, (state.clock)(), &expected)
        .await;
    let elapsed = started.elapsed();
    let verdict = &verification.verdict;
    let outage = replay_store_outage(verdict);
    let outcome = if verdict.accepted {
        "accepted"
    } else if outage {
        "unavailable"
    } else {
        "rejected"
    };
    let reason = reason_label(verdict);
    state.metrics.verification(outcome, &reason, elapsed);
    let reasons: Vec<&str> = verdict.reasons.iter().map(|r| r.as_str()).collect();
    tracing::info!(
        session_id = verdict.session_id.as_deref().unwrap_or("-"),
        tenant = verdict.tenant.as_deref().unwrap_or("-"),
        accepted = verdict.accepted,
        failed_check = verdict.failed_check.unwrap_or("-"),
        reject_reason = %reason,
        reasons = %reasons.join(","),
        verify_ms = elapsed.as_secs_f64() * 1e3,
        "verification"
    );
    let verdict_json = serde_json::to_value(verdict).map_err(|e| {
        tracing::error!(error = %e, "cannot serialise a verdict");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    })?;
    if let Err(e) = state.audit.write(&verification.audit) {
        state.metrics.audit_write_error();
        tracing::error!(
            error = %e,
            session_id = verdict.session_id.as_deref().unwrap_or("-"),
            "cannot write the audit record"
        );
    }
    let status = if outage {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    Ok((status, Json(verdict_json)).into_response())
}

/// A device-key registration.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeviceKeyRequest {
    tenant: String,
    public_key_b64: String,
    #[serde(default)]
    label: String,
    /// Registers a revoked key again (an explicit decision); without it a revoked key is 409.
    #[serde(default)]
    reinstate: bool,
}

/// A device-key revocation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeRequest {
    tenant: String,
    public_key_b64: String,
}

/// Checks the tenant (well formed, served here) and decodes the key's base64; the registry
/// checks the key itself.
fn device_key_target(
    state: &AppState,
    tenant: &str,
    public_key_b64: &str,
) -> Result<Vec<u8>, ApiError> {
    crate::store::validate_key("tenant", tenant)
        .map_err(|e| ApiError::bad_request("invalid_device_key", e.to_string()))?;
    if !state.verifier.config().tenants.contains_key(tenant) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("unknown tenant `{}`", truncate(tenant, 64)),
        ));
    }
    decode_base64(public_key_b64)
        .ok_or_else(|| ApiError::bad_request("bad_base64", "public_key_b64 is not base64"))
}

/// A registry error as an answer: 400 bad key, 409 revoked, 503 unavailable.
fn registry_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(why) => ApiError::bad_request("invalid_device_key", why),
        StoreError::Conflict(why) => ApiError::new(StatusCode::CONFLICT, "device_key_revoked", why),
        StoreError::Unavailable(why) => {
            tracing::error!(error = %why, "device-key registry unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "registry_unavailable",
                "the device-key registry is unavailable; retry later",
            )
        }
    }
}

async fn register_device_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: DeviceKeyRequest = parse_json(&headers, &body)?;
    let key = device_key_target(&state, &request.tenant, &request.public_key_b64)?;
    let registry = state.verifier.registry();
    let registered = if request.reinstate {
        registry
            .reinstate(&request.tenant, &key, &request.label)
            .await
    } else {
        registry
            .register(&request.tenant, &key, &request.label)
            .await
    };
    registered.map_err(registry_error)?;
    let key_sha256 = hex::encode(Sha256::digest(&key));
    tracing::info!(
        tenant = %truncate(&request.tenant, 64),
        key_sha256 = %key_sha256,
        reinstated = request.reinstate,
        "device key registered"
    );
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "tenant": request.tenant,
            "key_sha256": key_sha256,
            "label": request.label,
            "registry": registry.kind(),
        })),
    )
        .into_response())
}

async fn revoke_device_key(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: RevokeRequest = parse_json(&headers, &body)?;
    let key = device_key_target(&state, &request.tenant, &request.public_key_b64)?;
    let registry = state.verifier.registry();
    let was_registered = registry
        .revoke(&request.tenant, &key)
        .await
        .map_err(registry_error)?;
    let key_sha256 = hex::encode(Sha256::digest(&key));
    tracing::info!(
        tenant = %truncate(&request.tenant, 64),
        key_sha256 = %key_sha256,
        was_registered,
        "device key revoked"
    );
    Ok(Json(json!({
        "tenant": request.tenant,
        "key_sha256": key_sha256,
        "revoked": true,
        "was_registered": was_registered,
        "registry": registry.kind(),
    }))
    .into_response())
}

/// At most `max` bytes of `s`, cut on a character boundary (for log fields and messages).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Decodes base64 in the standard (`+/`) or URL-safe (`-_`) alphabet, padding optional, no
/// whitespace; `None` on anything else (bad character, length or trailing bits).
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::alphabet::{STANDARD, URL_SAFE};
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const CONFIG: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD_ANY: GeneralPurpose = GeneralPurpose::new(&STANDARD, CONFIG);
    const URL_SAFE_ANY: GeneralPurpose = GeneralPurpose::new(&URL_SAFE, CONFIG);
    if text.contains(['-', '_']) {
        URL_SAFE_ANY.decode(text).ok()
    } else {
        STANDARD_ANY.decode(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_both_alphabets_with_and_without_padding() {
        let ok: [(&str, &[u8]); 8] = [
            ("", b""),
            ("Zg==", b"f"),
            ("Zg", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYmFy", b"foobar"),
            ("+/8=", &[0xfb, 0xff]),
            ("-_8", &[0xfb, 0xff]),
        ];
        for (text, bytes) in ok {
            assert_eq!(decode_base64(text).as_deref(), Some(bytes), "{text}");
        }
        for bad in ["Zm9v YmFy", "Z", "Zg===", "Zh==", "Z=g=", "+-==", "Zm9v\n"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }

    #[test]
    fn truncate_cuts_on_a_character_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
    }
}

//! `verifier_http`: the fuzzer's bytes as the body of each POST route of the verifier's HTTP
//! service, driven in-process (`tower::ServiceExt::oneshot` on the router, a current-thread
//! runtime), with in-memory stores, at the seeds' fixed clock.
//!
//! A 500 fails the target, as does a 503 (the documented fail-closed answer when the replay
//! store is down, which an in-memory store never is) and any answer that is not JSON (the
//! service promises JSON in and out).

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use liveproof_verifier::server::{router_at, AuditSink};
use tower::ServiceExt;

use crate::trust::{fresh_verifier, now, runtime};

/// The session id the raw-body verify route names (the seed result's session).
const SESSION_ID: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// `(path, content type)` of every POST route, each given the same body.
const ROUTES: &[(&str, &str)] = &[
    ("/v1/sessions", "application/json"),
    ("/v1/verify?tenant=acme&session_id=", "application/cose"),
    ("/v1/verify", "application/json"),
    ("/v1/device-keys", "application/json"),
];

/// Fuzz target `verifier_http` (module docs).
pub fn verifier_http(data: &[u8]) {
    answers(data);
}

/// Posts `data` to every route of [`ROUTES`] on a fresh service and returns each route's
/// status and JSON body, checking the target's rules on the way (no 500, no 503, JSON only).
pub fn answers(data: &[u8]) -> Vec<(String, StatusCode, serde_json::Value)> {
    // A fresh service per input: no replay claims or device keys carried over. The seeds'
    // clock: their token and result are fresh, so a valid body gets past the expiry check to
    // the signature, binding and replay checks.
    let audit = AuditSink::file(Path::new("/dev/null")).expect("audit sink /dev/null");
    let app = router_at(Arc::new(fresh_verifier()), audit, now);
    runtime().block_on(async {
        let mut out = Vec::with_capacity(ROUTES.len());
        for &(path, content_type) in ROUTES {
            let uri = if path.ends_with('=') {
                format!("{path}{SESSION_ID}")
            } else {
                path.to_owned()
            };
            let request = Request::post(&uri)
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(data.to_vec()))
                .expect("request");
            let response = app
                .clone()
                .oneshot(request)
                .await
                .expect("infallible router");
            let status = response.status();
            let json = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json"));
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("response body");
            let text = String::from_utf8_lossy(&body);
            assert!(
                status != StatusCode::INTERNAL_SERVER_ERROR
                    && status != StatusCode::SERVICE_UNAVAILABLE,
                "POST {uri} ({content_type}) answered {status}: {text}"
            );
            assert!(json, "POST {uri} answered {status} without JSON: {text}");
            let value = serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_else(|e| {
                panic!("POST {uri} answered {status}, body not JSON ({e}): {text}")
            });
            out.push((uri, status, value));
        }
        out
    })
}

//! The verifier's HTTP service (axum): issue sessions, verify signed results, register device
//! keys, health and Prometheus metrics. Filled in with the verification pipeline.

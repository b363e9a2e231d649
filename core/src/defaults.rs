//! The shipped defaults, embedded so every front end (CLI, bindings, verifier) starts from the
//! same files: the tenant policy and the calibration bundle it was set on.

/// `models/policy_default.json`.
pub const POLICY_JSON: &str = include_str!("../../models/policy_default.json");

/// `models/calibration_default.json`.
pub const CALIBRATION_JSON: &str = include_str!("../../models/calibration_default.json");

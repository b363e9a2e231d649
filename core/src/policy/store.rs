//! Policies as loaded at run time: parsed, validated, hashed, and swapped atomically.

use std::string::String;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use super::{Policy, PolicyError};

/// A validated policy and its content hash.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedPolicy {
    pub policy: Policy,
    /// sha256 (hex) of the policy's canonical JSON (fields in schema order, maps sorted):
    /// two files that say the same thing have the same hash.
    pub sha256: String,
}

impl LoadedPolicy {
    /// Parses (`deny_unknown_fields`), validates and hashes a policy.
    pub fn from_json(text: &str) -> Result<LoadedPolicy, PolicyError> {
        let policy: Policy =
            serde_json::from_str(text).map_err(|e| PolicyError::Parse(e.to_string()))?;
        LoadedPolicy::new(policy)
    }

    /// Validates and hashes a policy built in code.
    pub fn new(policy: Policy) -> Result<LoadedPolicy, PolicyError> {
        policy.validate()?;
        let canonical =
            serde_json::to_vec(&policy).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let sha256 = hex::encode(Sha256::digest(&canonical));
        Ok(LoadedPolicy { policy, sha256 })
    }
}

/// The policy in force, swapped atomically at run time: a session takes the current one when
/// it starts and keeps it; the next session gets whatever is current then. No restart.
#[derive(Debug)]
pub struct PolicyStore {
    current: RwLock<Arc<LoadedPolicy>>,
}

impl PolicyStore {
    pub fn new(policy: LoadedPolicy) -> PolicyStore {
        PolicyStore {
            current: RwLock::new(Arc::new(policy)),
        }
    }

    /// The policy in force now (a cheap shared handle; it never changes under the holder).
    pub fn current(&self) -> Arc<LoadedPolicy> {
        match self.current.read() {
            Ok(g) => g.clone(),
            // A writer cannot panic while holding the lock (it only swaps an Arc), but a
            // poisoned lock still holds a valid policy.
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Puts `policy` in force for the sessions that start from now on; returns the one it
    /// replaced.
    pub fn replace(&self, policy: LoadedPolicy) -> Arc<LoadedPolicy> {
        let new = Arc::new(policy);
        let mut g = match self.current.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        std::mem::replace(&mut *g, new)
    }

    /// Parses, validates and puts a policy in force; a bad one changes nothing. Returns the
    /// new policy's hash.
    pub fn replace_json(&self, text: &str) -> Result<String, PolicyError> {
        let loaded = LoadedPolicy::from_json(text)?;
        let hash = loaded.sha256.clone();
        self.replace(loaded);
        Ok(hash)
    }
}

//! Challenge plan: which actions, in which order, with which time limits.
//!
//! **Derivation (stable, version 1).** A byte stream is made by SHA-256 in counter mode:
//! block `i` = `SHA-256("liveproof/challenge-plan/v1" ‖ seed ‖ u32_le(i))`, for i = 0, 1, ….
//! Numbers are drawn from it as little-endian `u64`s (8 bytes at a time). A uniform integer
//! in `[0, n)` uses rejection sampling: draw `x`, reject while `x ≥ n · ⌊2⁶⁴ / n⌋`, answer
//! `x mod n` (no modulo bias). Then:
//! 1. the step count is `min_steps + uniform(max_steps − min_steps + 1)`;
//! 2. each step's action is uniform over the allowed actions, leaving out the previous
//!    step's action (no consecutive duplicates), in the policy's listed order.
//!
//! Any language with SHA-256 can recompute a plan from these lines; the known-answer test in
//! `plan/tests.rs` pins two plans so the derivation can never drift silently.

use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Result;

/// Domain separation tag of derivation version 1.
pub const DOMAIN_V1: &[u8] = b"liveproof/challenge-plan/v1";

pub use crate::evidence::{Action, PlanPolicy};

/// One step of a plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub action: Action,
    /// Time limit, milliseconds (quality pauses do not count against it).
    pub timeout_ms: u32,
}

/// The plan derived from a seed under a policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengePlan {
    /// Derivation version (1).
    pub version: u32,
    pub steps: Vec<PlanStep>,
}

/// SHA-256 counter-mode stream (see the module docs).
struct Stream<'a> {
    seed: &'a [u8; 32],
    counter: u32,
    block: [u8; 32],
    used: usize,
}

impl<'a> Stream<'a> {
    fn new(seed: &'a [u8; 32]) -> Self {
        Stream {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }

    fn next_u64(&mut self) -> u64 {
        if self.used + 8 > 32 {
            let mut h = Sha256::new();
            h.update(DOMAIN_V1);
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.block.copy_from_slice(&h.finalize());
            self.counter = self.counter.wrapping_add(1);
            self.used = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        u64::from_le_bytes(b)
    }

    /// Uniform in `[0, n)`, `n ≥ 1`, by rejection sampling.
    fn uniform(&mut self, n: u64) -> u64 {
        let zone = n.wrapping_mul(u64::MAX / n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

/// Derives the plan for `seed` under `policy` (derivation version 1, module docs).
pub fn derive_plan(seed: &[u8; 32], policy: &PlanPolicy) -> Result<ChallengePlan> {
    policy.validate()?;
    let actions = policy.actions();
    let mut s = Stream::new(seed);
    let span = (policy.max_steps - policy.min_steps) as u64 + 1;
    let count = policy.min_steps as usize + s.uniform(span) as usize;
    let mut steps: Vec<PlanStep> = Vec::with_capacity(count);
    for _ in 0..count {
        let previous = steps.last().map(|p| p.action);
        let choices: Vec<Action> = actions
            .iter()
            .copied()
            .filter(|&a| Some(a) != previous)
            .collect();
        let action = choices[s.uniform(choices.len() as u64) as usize];
        steps.push(PlanStep {
            action,
            timeout_ms: policy.step_timeout_ms,
        });
    }
    Ok(ChallengePlan { version: 1, steps })
}

#[cfg(test)]
mod tests;

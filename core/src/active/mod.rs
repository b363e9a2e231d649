//! Active liveness: a random challenge the user performs (blink, head turn, nod, smile),
//! checked from FaceMesh geometry.
//!
//! - [`plan`]: the challenge plan, derived deterministically from a 32-byte seed that arrives
//!   with the server's session token, with a documented, stable generator (the server
//!   recomputes the same plan; the order is unpredictable without the seed).
//! - [`observe`]: per-frame geometry from the 468 landmarks (eye aspect ratio, head pose,
//!   mouth width and corner lift), in inter-ocular distances.
//! - [`eyes`]: the eye-state classifier (open / closed) for blinks, where FaceMesh's lids lag.
//! - [`iris`]: eye openness from MediaPipe Iris's eye contour, the alternative for blinks.
//! - [`runner`]: the state machine that runs a plan over timestamped observations.
//! - [`session`]: the runner over real frames, scoring each turn's planar parallax so that
//!   a flat photo turned on its axis fails.

pub mod eyes;
pub mod iris;
pub mod observe;
pub mod plan;
pub mod runner;
pub mod session;

pub use eyes::{EyeScratch, EyeState, EyeStateModel};
pub use iris::{EyeOpenness, IrisEyeModel};
pub use observe::{observation_from, observe, FaceObservation};
pub use plan::{derive_plan, Action, ChallengePlan, PlanPolicy, PlanStep};
pub use runner::{
    ChallengeOutcome, ChallengeRunner, Observation, Prompt, RunnerConfig, StepOutcome, Update,
};
pub use session::ChallengeCapture;

use super::*;
use crate::active::{ChallengeOutcome, StepOutcome};
use alloc::collections::BTreeMap;

fn step(action: Action, passed: bool, started_ns: u64, ended_ns: u64) -> StepOutcome {
    StepOutcome {
        action,
        passed,
        started_ns,
        ended_ns,
        active_ms: (ended_ns - started_ns) as f64 / 1e6,
        failure: String::new(),
        evidence: BTreeMap::new(),
    }
}

#[test]
fn challenge_outcomes_become_typed_evidence() {
    let passed = ChallengeOutcome {
        passed: true,
        failure: None,
        reason: "ok".into(),
        steps: alloc::vec![
            step(Action::Blink, true, 1_000_000_000, 2_000_000_000),
            step(Action::TurnLeft, true, 2_000_000_000, 3_500_000_000),
        ],
    };
    assert_eq!(
        challenge_evidence(&passed),
        ChallengeEvidence::Passed {
            steps: alloc::vec!["BLINK".into(), "TURN_LEFT".into()],
            duration_ms: 2500,
        }
    );
    let failed = ChallengeOutcome {
        passed: false,
        failure: Some(ChallengeFailure::FlatMotion),
        reason: "step 2 (TURN_LEFT) moved like a flat surface".into(),
        steps: alloc::vec![
            step(Action::Blink, true, 0, 1),
            step(Action::TurnLeft, false, 1, 2)
        ],
    };
    assert_eq!(
        challenge_evidence(&failed),
        ChallengeEvidence::Failed {
            failure: ChallengeFailure::FlatMotion,
            detail: "step 2 (TURN_LEFT) moved like a flat surface".into(),
            completed: 1,
        }
    );
}

#[test]
fn prompts_follow_the_actions() {
    assert_eq!(UserPrompt::from(Action::Nod), UserPrompt::Nod);
    assert_eq!(
        serde_json::to_string(&UserPrompt::TurnLeft).unwrap(),
        "\"turn_left\""
    );
    assert_eq!(serde_json::to_string(&Phase::Done).unwrap(), "\"done\"");
}

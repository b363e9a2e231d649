use super::*;
use alloc::collections::BTreeMap;

fn names(p: &ChallengePlan) -> Vec<&'static str> {
    p.steps.iter().map(|s| s.action.as_str()).collect()
}

#[test]
fn known_answers_match_the_independent_python_reference() {
    // Printed by xtask/py/challenge_plan_ref.py (hashlib), an independent implementation.
    let zeros = [0u8; 32];
    let counting: [u8; 32] = core::array::from_fn(|i| i as u8);
    let p = derive_plan(&zeros, &PlanPolicy::default()).unwrap();
    assert_eq!(names(&p), ["BLINK", "NOD", "SMILE"]);
    assert_eq!(p.version, 1);
    assert!(p.steps.iter().all(|s| s.timeout_ms == 5_000));
    let p = derive_plan(&counting, &PlanPolicy::default()).unwrap();
    assert_eq!(names(&p), ["TURN_LEFT", "SMILE"]);
    let four = PlanPolicy {
        min_steps: 4,
        max_steps: 4,
        ..PlanPolicy::default()
    };
    let p = derive_plan(&counting, &four).unwrap();
    assert_eq!(names(&p), ["TURN_LEFT", "SMILE", "BLINK", "TURN_RIGHT"]);
    let two = PlanPolicy {
        allowed: vec![Action::Blink, Action::Smile],
        min_steps: 1,
        max_steps: 4,
        ..PlanPolicy::default()
    };
    let p = derive_plan(&[0xab; 32], &two).unwrap();
    assert_eq!(names(&p), ["BLINK"]);
}

#[test]
fn plans_are_uniform_respect_the_policy_and_never_repeat_a_step() {
    let policy = PlanPolicy {
        min_steps: 1,
        max_steps: 4,
        ..PlanPolicy::default()
    };
    let mut counts: BTreeMap<Action, u32> = BTreeMap::new();
    let mut lengths = [0u32; 5];
    let mut firsts: BTreeMap<Action, u32> = BTreeMap::new();
    let n = 4000u32;
    for i in 0..n {
        let mut seed = [0u8; 32];
        seed[..4].copy_from_slice(&i.to_le_bytes());
        seed[31] = 0x5a;
        let p = derive_plan(&seed, &policy).unwrap();
        lengths[p.steps.len()] += 1;
        *firsts.entry(p.steps[0].action).or_default() += 1;
        for w in p.steps.windows(2) {
            assert_ne!(
                w[0].action, w[1].action,
                "consecutive duplicate for seed {i}"
            );
        }
        for s in &p.steps {
            *counts.entry(s.action).or_default() += 1;
        }
        // Deterministic: the same seed gives the same plan.
        assert_eq!(p, derive_plan(&seed, &policy).unwrap());
    }
    println!("lengths {lengths:?}, first actions {firsts:?}, all actions {counts:?}");
    // Each length 1..=4 is drawn with probability 1/4 (± 5 standard deviations).
    let sd = ((n as f64) * 0.25 * 0.75).sqrt();
    for len in 1..=4 {
        assert!(
            (lengths[len] as f64 - n as f64 / 4.0).abs() < 5.0 * sd,
            "{lengths:?}"
        );
    }
    // The first action is uniform over the 5 (± 5 sd); every action is used.
    let sd = ((n as f64) * 0.2 * 0.8).sqrt();
    for a in Action::ALL {
        let c = *firsts.get(&a).unwrap_or(&0) as f64;
        assert!((c - n as f64 / 5.0).abs() < 5.0 * sd, "{a:?}: {firsts:?}");
        assert!(counts[&a] > 0);
    }
}

#[test]
fn policies_that_cannot_work_are_refused() {
    let seed = [7u8; 32];
    let cases = [
        (
            PlanPolicy {
                allowed: vec![],
                ..PlanPolicy::default()
            },
            "allows no action",
        ),
        (
            PlanPolicy {
                allowed: vec![Action::Nod, Action::Nod],
                ..PlanPolicy::default()
            },
            "would repeat",
        ),
        (
            PlanPolicy {
                min_steps: 0,
                ..PlanPolicy::default()
            },
            "1..=4",
        ),
        (
            PlanPolicy {
                max_steps: 5,
                ..PlanPolicy::default()
            },
            "1..=4",
        ),
        (
            PlanPolicy {
                min_steps: 3,
                max_steps: 2,
                ..PlanPolicy::default()
            },
            "min_steps 3 > max_steps 2",
        ),
        (
            PlanPolicy {
                step_timeout_ms: 10,
                ..PlanPolicy::default()
            },
            "step_timeout_ms",
        ),
    ];
    for (policy, needle) in cases {
        let e = derive_plan(&seed, &policy).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    // One action and one step is fine.
    let one = PlanPolicy {
        allowed: vec![Action::Smile],
        min_steps: 1,
        max_steps: 1,
        ..PlanPolicy::default()
    };
    assert_eq!(names(&derive_plan(&seed, &one).unwrap()), ["SMILE"]);
}

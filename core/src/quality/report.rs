//! What the gate reports: [`Hint`]s for the capture UI, one [`Check`] per measure with its
//! [`Verdict`], and the per-face and per-frame records ([`FaceChecks`], [`QualityReport`]).

use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use super::HeadPose;

/// What the capture UI should tell the user. Serialised as `NO_FACE`, `MULTIPLE_FACES`, ...
///
/// **Declaration order is the priority order** (stable; `Ord` follows it): show the first one.
/// The reasoning: first what makes every other measurement meaningless (no face, several faces,
/// something covering the face), then the lighting (it also drives detection and sharpness),
/// then distance and framing (they set the face resolution), then head pose, then blur (often
/// fixed by the steps above), and last the transient `HoldStill`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Hint {
    NoFace,
    MultipleFaces,
    FaceOccluded,
    TooDark,
    TooBright,
    MoveCloser,
    MoveAway,
    CenterFace,
    LookStraight,
    Blurry,
    HoldStill,
}

impl Hint {
    /// Every hint, highest priority first.
    pub const ALL: [Hint; 11] = [
        Hint::NoFace,
        Hint::MultipleFaces,
        Hint::FaceOccluded,
        Hint::TooDark,
        Hint::TooBright,
        Hint::MoveCloser,
        Hint::MoveAway,
        Hint::CenterFace,
        Hint::LookStraight,
        Hint::Blurry,
        Hint::HoldStill,
    ];

    /// Priority rank, 0 = show first.
    pub fn priority(self) -> u8 {
        self as u8
    }

    /// The serialised name, e.g. `"NO_FACE"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Hint::NoFace => "NO_FACE",
            Hint::MultipleFaces => "MULTIPLE_FACES",
            Hint::FaceOccluded => "FACE_OCCLUDED",
            Hint::TooDark => "TOO_DARK",
            Hint::TooBright => "TOO_BRIGHT",
            Hint::MoveCloser => "MOVE_CLOSER",
            Hint::MoveAway => "MOVE_AWAY",
            Hint::CenterFace => "CENTER_FACE",
            Hint::LookStraight => "LOOK_STRAIGHT",
            Hint::Blurry => "BLURRY",
            Hint::HoldStill => "HOLD_STILL",
        }
    }
}

/// A set of distinct [`Hint`]s, iterated highest priority first: one bit per hint, so a frame's
/// hints cost no heap (the session's frame path allocates nothing in its steady state).
/// Serialised as the list of hint names, e.g. `["TOO_DARK", "BLURRY"]`.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HintSet(u16);

// One bit per hint, by priority rank.
const _: () = assert!(Hint::ALL.len() <= 16, "HintSet holds 16 hints");

impl HintSet {
    /// No hints.
    pub const EMPTY: HintSet = HintSet(0);

    /// Adds `hint` (once: a set).
    pub fn insert(&mut self, hint: Hint) {
        self.0 |= 1 << hint.priority();
    }

    pub fn contains(self, hint: Hint) -> bool {
        self.0 & (1 << hint.priority()) != 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The hint to show first, if any.
    pub fn first(self) -> Option<Hint> {
        self.iter().next()
    }

    /// The hints, highest priority first.
    pub fn iter(self) -> impl Iterator<Item = Hint> {
        Hint::ALL.into_iter().filter(move |h| self.contains(*h))
    }

    pub fn to_vec(self) -> Vec<Hint> {
        self.iter().collect()
    }
}

impl FromIterator<Hint> for HintSet {
    fn from_iter<I: IntoIterator<Item = Hint>>(hints: I) -> Self {
        let mut set = HintSet::EMPTY;
        set.extend(hints);
        set
    }
}

impl Extend<Hint> for HintSet {
    fn extend<I: IntoIterator<Item = Hint>>(&mut self, hints: I) {
        for h in hints {
            self.insert(h);
        }
    }
}

/// Equal when the list holds exactly these hints in priority order.
impl PartialEq<Vec<Hint>> for HintSet {
    fn eq(&self, other: &Vec<Hint>) -> bool {
        self.iter().eq(other.iter().copied())
    }
}

impl core::fmt::Debug for HintSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for HintSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for HintSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<Hint>::deserialize(d)?.into_iter().collect())
    }
}

/// Outcome of one check. Serialised as `"PASS"` or `{"FAIL": "TOO_DARK"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Pass,
    Fail(Hint),
}

impl Verdict {
    pub fn passed(self) -> bool {
        self == Verdict::Pass
    }
    pub fn hint(self) -> Option<Hint> {
        match self {
            Verdict::Pass => None,
            Verdict::Fail(h) => Some(h),
        }
    }
}

/// One measured value against its thresholds: it passes when `min ≤ value ≤ max` (a missing
/// bound is not checked). A NaN value fails on every bound it has.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub value: f32,
    pub min: Option<f32>,
    pub max: Option<f32>,
    pub verdict: Verdict,
}

impl Check {
    /// `value ≥ min`, else `hint`.
    pub fn at_least(value: f32, min: f32, hint: Hint) -> Check {
        let verdict = if value >= min {
            Verdict::Pass
        } else {
            Verdict::Fail(hint)
        };
        Check {
            value,
            min: Some(min),
            max: None,
            verdict,
        }
    }
    /// `value ≤ max`, else `hint`.
    pub fn at_most(value: f32, max: f32, hint: Hint) -> Check {
        let verdict = if value <= max {
            Verdict::Pass
        } else {
            Verdict::Fail(hint)
        };
        Check {
            value,
            min: None,
            max: Some(max),
            verdict,
        }
    }
    /// `min ≤ value ≤ max`; below gives `low`, above (or NaN) gives `high`.
    pub fn within(value: f32, min: f32, max: f32, low: Hint, high: Hint) -> Check {
        let verdict = if value < min {
            Verdict::Fail(low)
        } else if value <= max {
            Verdict::Pass
        } else {
            Verdict::Fail(high)
        };
        Check {
            value,
            min: Some(min),
            max: Some(max),
            verdict,
        }
    }
    /// `|value| ≤ max`, reported with bounds `[-max, max]`.
    pub fn symmetric(value: f32, max: f32, hint: Hint) -> Check {
        Check::within(value, -max, max, hint, hint)
    }
}

/// Measures taken on the resampled face crop, over the ellipse inscribed in it (intersected
/// with the part of the crop inside the frame).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageChecks {
    /// Laplacian variance on the crop, luma² → `Blurry`.
    pub sharpness: Check,
    /// Mean luma of the face ellipse, 0–255 → `TooDark` / `TooBright`.
    pub mean_luma: Check,
    /// Fraction of face pixels ≤ `dark_level` → `TooDark`.
    pub dark_fraction: Check,
    /// Fraction of face pixels ≥ `bright_level` → `TooBright`.
    pub bright_fraction: Check,
    /// Std-dev of luma in the face ellipse → `TooDark` / `TooBright` (by the mean).
    pub contrast: Check,
    /// Luma std-dev of the subject's right eye box / of the face → `FaceOccluded`; `None` when
    /// the box is too small or outside the frame.
    pub right_eye_contrast: Option<Check>,
    /// Luma std-dev of the subject's left eye box / of the face → `FaceOccluded`.
    pub left_eye_contrast: Option<Check>,
    /// Luma std-dev of the mouth box / of the face → `FaceOccluded`.
    pub mouth_contrast: Option<Check>,
}

/// Landmark motion against the previous frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityChecks {
    /// Median displacement of the pose landmarks since the previous frame, inter-ocular
    /// distances → `HoldStill`.
    pub frame_motion: Check,
    /// Motion over the last `motion_window_s`, inter-ocular distances per second → `HoldStill`.
    pub speed: Check,
}

/// Every check of one face.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceChecks {
    /// Image checks; `None` when too little of the face box lies inside the frame to measure.
    pub image: Option<ImageChecks>,
    /// Face box width / frame short side → `MoveCloser` / `MoveAway`.
    pub face_ratio: Check,
    /// Face-box centre offset from the frame centre, max over x and y of |offset| / half frame
    /// size → `CenterFace`.
    pub center_offset: Check,
    /// Fraction of the face box area outside the frame → `CenterFace`.
    pub box_outside: Check,
    /// Fraction of landmarks outside the frame → `CenterFace`.
    pub landmarks_outside: Check,
    /// Degrees, positive = the subject turns to their left → `LookStraight`.
    pub yaw: Check,
    /// Degrees, positive = chin up → `LookStraight`.
    pub pitch: Check,
    /// Degrees, positive = head tilts towards the subject's left shoulder → `LookStraight`.
    pub roll: Check,
    /// FaceMesh presence → `FaceOccluded`.
    pub presence: Check,
    /// RMS residual of the canonical-face fit, inter-ocular distances → `FaceOccluded`.
    pub pose_residual: Check,
    /// `None` without previous landmarks, or after a gap longer than `max_frame_gap_s`.
    pub stability: Option<StabilityChecks>,
}

impl FaceChecks {
    /// Every check, for collecting verdicts.
    pub fn iter(&self) -> impl Iterator<Item = &Check> {
        self.named().map(|(_, c)| c)
    }

    /// Every check with its name as the JSON form spells it (the field name), in a fixed
    /// order; the one list every binding and the CLI use.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, &Check)> {
        let image = self.image.as_ref().into_iter().flat_map(|i| {
            [
                ("sharpness", Some(&i.sharpness)),
                ("mean_luma", Some(&i.mean_luma)),
                ("dark_fraction", Some(&i.dark_fraction)),
                ("bright_fraction", Some(&i.bright_fraction)),
                ("contrast", Some(&i.contrast)),
                ("right_eye_contrast", i.right_eye_contrast.as_ref()),
                ("left_eye_contrast", i.left_eye_contrast.as_ref()),
                ("mouth_contrast", i.mouth_contrast.as_ref()),
            ]
            .into_iter()
            .filter_map(|(n, c)| c.map(|c| (n, c)))
        });
        let stab = self
            .stability
            .as_ref()
            .into_iter()
            .flat_map(|s| [("frame_motion", &s.frame_motion), ("speed", &s.speed)]);
        [
            ("face_ratio", &self.face_ratio),
            ("center_offset", &self.center_offset),
            ("box_outside", &self.box_outside),
            ("landmarks_outside", &self.landmarks_outside),
            ("yaw", &self.yaw),
            ("pitch", &self.pitch),
            ("roll", &self.roll),
            ("presence", &self.presence),
            ("pose_residual", &self.pose_residual),
        ]
        .into_iter()
        .chain(image)
        .chain(stab)
    }
}

/// The gate's answer for one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Faces in the frame, as given.
    pub num_faces: usize,
    /// Checks of the primary face; `None` when there is no face.
    pub checks: Option<FaceChecks>,
    /// Head pose of the primary face; `None` when there is no face.
    pub pose: Option<HeadPose>,
    /// Distinct hints of every failed check, highest priority first (see [`Hint`]).
    pub hints: HintSet,
    /// True when no check failed and exactly one face is present.
    pub passed: bool,
}

impl QualityReport {
    /// The hint a capture UI should show now, if any.
    pub fn top_hint(&self) -> Option<Hint> {
        self.hints.first()
    }

    /// Weight of this face as an enrolment sample, in (0, 1]: 1 when the gate passed, else
    /// 1 / (1 + number of hints), so a sample with more capture problems counts less.
    pub fn enrolment_weight(&self) -> f32 {
        if self.passed {
            1.0
        } else {
            1.0 / (1.0 + self.hints.len() as f32)
        }
    }
}

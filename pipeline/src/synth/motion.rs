//! From a class's text feature to its motion, and from a motion to the joint
//! angles of every frame.
//!
//! **The class-to-motion function** (fixed; part of the generator's contract):
//!
//! 1. `f~ = (f - o) / |f - o|`: the class's CLIP ViT-B/32 label feature `f`
//!    (512-d), centred on the mean `o` of the 120 NTU-120 label features and
//!    scaled to unit length.
//! 2. `z = W f~`, `W` a `(2 x PARAMS, 512)` matrix of independent standard
//!    normals drawn from [`Rng`] with the fixed seed [`PROJECTION_SEED`]
//!    (so every `z_i` is about N(0, 1) over classes).
//! 3. `p_i = tanh(z_i)` in (-1, 1), then `value_i = lo_i + (hi_i - lo_i) (p_i + 1) / 2`
//!    with the ranges of [`RANGES`]. Rows `0..PARAMS` drive actor 1,
//!    rows `PARAMS..2 PARAMS` actor 2 of mutual actions.
//!
//! The map is smooth, so classes close in text space move alike. Ranges below
//! zero on "gates" (arm activity, squat, jump, walk) clamp to 0: some classes
//! use one arm, some none, most do not jump.
//!
//! **Angles over time**: with `u` in [0, 1] the progress through the action and
//! `b(u)` a bell envelope (smoothstep rise and fall over `rise` of the action),
//! every angle is `rest + s(u) offset + b(u) amp sin(2 pi cycles u + phase)`,
//! where `s(u)` is `b(u)` for ordinary actions, a smoothstep ramp up (end in
//! the pose: sit down) or down (start in it: stand up) for transitions.

use crate::rng::Rng;

/// Seed of the fixed projection `W`.
pub const PROJECTION_SEED: u64 = 0x005E_ED0F_C11F_0001;

/// Motion parameters per actor, in the order of [`RANGES`].
pub const PARAMS: usize = 40;

/// `(name, lo, hi)` of every parameter; angles in degrees, lengths in metres.
pub const RANGES: [(&str, f64, f64); PARAMS] = [
    ("mean_frames", 30.0, 110.0),
    ("rise", 0.08, 0.35),
    ("transition", -2.0, 2.0), // < -1: start in the pose; > 1: end in it
    ("torso_pitch", -8.0, 40.0),
    ("torso_pitch_amp", 0.0, 18.0),
    ("torso_twist_amp", 0.0, 25.0),
    ("torso_roll_amp", 0.0, 10.0),
    ("head_pitch", -15.0, 30.0),
    ("head_pitch_amp", 0.0, 20.0),
    ("head_yaw_amp", 0.0, 35.0),
    ("arm_l_active", -0.6, 1.6),
    ("arm_l_elev", 5.0, 140.0),
    ("arm_l_elev_amp", 0.0, 55.0),
    ("arm_l_azim", -25.0, 75.0),
    ("arm_l_azim_amp", 0.0, 35.0),
    ("arm_l_elbow", 5.0, 140.0),
    ("arm_l_elbow_amp", 0.0, 60.0),
    ("arm_l_roll", -60.0, 60.0),
    ("arm_r_active", -0.6, 1.6),
    ("arm_r_elev", 5.0, 140.0),
    ("arm_r_elev_amp", 0.0, 55.0),
    ("arm_r_azim", -25.0, 75.0),
    ("arm_r_azim_amp", 0.0, 35.0),
    ("arm_r_elbow", 5.0, 140.0),
    ("arm_r_elbow_amp", 0.0, 60.0),
    ("arm_r_roll", -60.0, 60.0),
    ("leg_hip", -5.0, 30.0),
    ("leg_hip_amp", 0.0, 35.0),
    ("leg_abd_amp", 0.0, 12.0),
    ("leg_knee", 0.0, 40.0),
    ("leg_knee_amp", 0.0, 50.0),
    ("leg_alternate", -1.0, 1.0), // > 0: legs in anti-phase (walk), else one leg (kick)
    ("squat", -45.0, 55.0),       // extra hip flexion; knees flex twice as much
    ("jump", -0.2, 0.22),
    ("walk", -0.9, 0.9), // forward displacement over the action
    ("arm_cycles", 0.5, 4.0),
    ("leg_cycles", 0.5, 3.0),
    ("arm_phase", -180.0, 180.0),
    ("arm_lr_phase", -180.0, 180.0),
    ("leg_phase", -180.0, 180.0),
];

/// The motion of one actor of one class: [`RANGES`] values, angles in radians.
#[derive(Debug, Clone, PartialEq)]
pub struct ActorMotion {
    pub values: [f64; PARAMS],
}

/// Both actors' motions of a class (actor 2 used by mutual actions only).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMotion {
    pub actors: [ActorMotion; 2],
    /// Two people: A050-A060 and A106-A120 (or their PKU-MMD counterparts).
    pub mutual: bool,
}

/// The joint angles of one actor at one instant, in the subject frame
/// (x right, y up, z forward); radians and metres.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pose {
    /// Torso forward bend, side bend, twist.
    pub torso: [f64; 3],
    /// Head pitch (forward), yaw.
    pub head: [f64; 2],
    /// Per arm (left, right): elevation from hanging (0) to overhead (pi),
    /// azimuth (0 forward, pi/2 sideways out), elbow flexion, forearm roll.
    pub arms: [[f64; 4]; 2],
    /// Per leg (left, right): hip flexion forward, abduction, knee flexion.
    pub legs: [[f64; 3]; 2],
    /// Height of the feet above their resting contact (jumps), metres.
    pub lift: f64,
    /// Forward displacement of the whole body, metres.
    pub walk: f64,
}

/// Builds the motions of every class from its feature rows `(classes, 512)`
/// and the text-space origin `(512)`; see the module doc for the function.
pub fn class_motions(features: &[f32], origin: &[f32], mutual: &[bool]) -> Vec<ClassMotion> {
    let dim = origin.len();
    let mut rng = Rng::new(PROJECTION_SEED);
    let w: Vec<f64> = (0..2 * PARAMS * dim).map(|_| rng.normal()).collect();
    features
        .chunks_exact(dim)
        .zip(mutual)
        .map(|(f, &mutual)| {
            let centred: Vec<f64> = f
                .iter()
                .zip(origin)
                .map(|(a, b)| f64::from(a - b))
                .collect();
            let norm = centred.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
            let actor = |k: usize| {
                let mut values = [0.0; PARAMS];
                for (i, v) in values.iter_mut().enumerate() {
                    let row = &w[(k * PARAMS + i) * dim..(k * PARAMS + i + 1) * dim];
                    let z: f64 = row.iter().zip(&centred).map(|(a, b)| a * b).sum::<f64>() / norm;
                    let (_, lo, hi) = RANGES[i];
                    *v = lo + (hi - lo) * (z.tanh() + 1.0) / 2.0;
                }
                ActorMotion { values }
            };
            ClassMotion {
                actors: [actor(0), actor(1)],
                mutual,
            }
        })
        .collect()
}

/// Index of a parameter by name, evaluated at compile time.
const fn idx(name: &str) -> usize {
    let mut i = 0;
    while i < PARAMS {
        let a = RANGES[i].0.as_bytes();
        let b = name.as_bytes();
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("unknown motion parameter")
}

/// The value of a named parameter (`idx` is checked at compile time).
macro_rules! val {
    ($m:expr, $name:literal) => {
        $m.values[const { idx($name) }]
    };
}

/// Parameters per arm, from `arm_l_active` (left) or `arm_r_active` (right).
const ARM_PARAMS: usize = 8;

/// Parameters of standing at rest: every range's value that means "no
/// movement" (arms inactive, no bend, no squat, jump or walk).
pub fn rest_values() -> [f64; PARAMS] {
    let mut v = [0.0; PARAMS];
    for (i, (name, lo, hi)) in RANGES.iter().enumerate() {
        v[i] = match *name {
            "mean_frames" | "arm_cycles" | "leg_cycles" => *lo,
            "rise" => 0.2,
            "arm_l_active" | "arm_r_active" | "squat" | "jump" => *lo,
            _ => 0.0f64.clamp(*lo, *hi),
        };
    }
    v
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

impl ActorMotion {
    /// Mean length of the action itself in frames at 30 fps.
    pub fn mean_frames(&self) -> f64 {
        self.values[0]
    }

    /// A copy with every amplitude and offset scaled by `k` (used to keep a
    /// pose inside what the reference denoiser accepts as a person).
    pub fn scaled(&self, k: f64) -> Self {
        let mut out = self.clone();
        for (v, (name, _, _)) in out.values.iter_mut().zip(RANGES) {
            let angle_like =
                name.starts_with("arm_") && !name.ends_with("active") || name.ends_with("_amp");
            if angle_like && !name.ends_with("roll") {
                *v *= k;
            }
        }
        out
    }

    /// The pose at progress `u` in [0, 1]; `var` is a per-performance
    /// variation (amplitude factor, phase shift in radians).
    pub fn pose(&self, u: f64, var: (f64, f64)) -> Pose {
        let d = f64::to_radians;
        let rise = val!(self, "rise");
        let bell = smoothstep(u / rise) * smoothstep((1.0 - u) / rise);
        let tr = val!(self, "transition");
        let hold = if tr > 1.0 {
            smoothstep(u)
        } else if tr < -1.0 {
            1.0 - smoothstep(u)
        } else {
            bell
        };
        let (kamp, dphase) = var;
        let tau = std::f64::consts::TAU;
        let arm_w = tau * val!(self, "arm_cycles") * u + d(val!(self, "arm_phase")) + dphase;
        let leg_w = tau * val!(self, "leg_cycles") * u + d(val!(self, "leg_phase")) + dphase;
        let wave = |amp: f64, w: f64| bell * kamp * d(amp) * w.sin();
        let mut p = Pose {
            torso: [
                hold * d(val!(self, "torso_pitch"))
                    + wave(val!(self, "torso_pitch_amp"), arm_w * 0.5),
                wave(val!(self, "torso_roll_amp"), arm_w + 1.0),
                wave(val!(self, "torso_twist_amp"), arm_w + 2.0),
            ],
            head: [
                hold * d(val!(self, "head_pitch"))
                    + wave(val!(self, "head_pitch_amp"), arm_w + 0.5),
                wave(val!(self, "head_yaw_amp"), arm_w * 0.7 + 1.5),
            ],
            ..Pose::default()
        };
        for k in 0..2 {
            let base = const { idx("arm_l_active") } + k * ARM_PARAMS;
            let a = |offset: usize| self.values[base + offset];
            let act = a(0).clamp(0.0, 1.0);
            let w = arm_w
                + if k == 1 {
                    d(val!(self, "arm_lr_phase"))
                } else {
                    0.0
                };
            p.arms[k] = [
                d(8.0) + act * (hold * d(a(1) - 8.0) + wave(a(2), w)),
                act * (hold * d(a(3)) + wave(a(4), w + 0.8)),
                d(12.0) + act * (hold * d(a(5) - 12.0) + wave(a(6), w + 1.6)),
                act * hold * d(a(7)),
            ];
        }
        let squat = hold * d(val!(self, "squat").max(0.0));
        p.torso[0] += 0.6 * squat;
        let alternate = val!(self, "leg_alternate") > 0.0;
        for k in 0..2 {
            let active = alternate || k == 1;
            let w = leg_w
                + if k == 1 && alternate {
                    std::f64::consts::PI
                } else {
                    0.0
                };
            let swing = if active { 1.0 } else { 0.15 };
            p.legs[k] = [
                squat
                    + hold * d(val!(self, "leg_hip")) * swing
                    + swing * wave(val!(self, "leg_hip_amp"), w),
                swing * wave(val!(self, "leg_abd_amp"), w + 0.4).abs(),
                2.0 * squat
                    + hold * d(val!(self, "leg_knee")) * swing
                    + swing * wave(val!(self, "leg_knee_amp"), w - 0.9).abs(),
            ];
        }
        let jump = val!(self, "jump").max(0.0);
        p.lift = bell * kamp * jump * (leg_w.sin().max(0.0)).powi(2);
        p.walk = smoothstep(u) * val!(self, "walk").clamp(-0.4, 0.4);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_features_give_close_motions() {
        let origin = vec![0f32; 8];
        let a = [1f32, 0.5, 0.0, 0.2, 0.0, 0.0, 0.3, 0.0];
        let mut b = a;
        b[1] += 0.01;
        let c = [0f32, 0.0, 1.0, 0.0, -0.4, 0.2, 0.0, 0.9];
        let feats: Vec<f32> = [a, b, c].concat();
        let m = class_motions(&feats, &origin, &[false; 3]);
        let dist = |x: &ClassMotion, y: &ClassMotion| -> f64 {
            (0..PARAMS)
                .map(|i| {
                    let span = RANGES[i].2 - RANGES[i].1;
                    ((x.actors[0].values[i] - y.actors[0].values[i]) / span).powi(2)
                })
                .sum::<f64>()
                .sqrt()
        };
        assert!(dist(&m[0], &m[1]) < 0.1 * dist(&m[0], &m[2]));
        for (i, (_, lo, hi)) in RANGES.iter().enumerate() {
            assert!((*lo..=*hi).contains(&m[2].actors[1].values[i]));
        }
    }

    #[test]
    fn actions_start_and_end_at_rest() {
        let origin = vec![0f32; 4];
        let m = class_motions(&[0.3, -1.0, 0.2, 0.8], &origin, &[false]);
        let mut bell = m[0].actors[0].clone();
        bell.values[idx("transition")] = 0.0;
        bell.values[idx("walk")] = 0.0;
        let (p0, p1) = (bell.pose(0.0, (1.0, 0.0)), bell.pose(1.0, (1.0, 0.0)));
        assert_eq!(p0, p1);
        assert_eq!(p0.lift, 0.0);
        let mid = bell.pose(0.5, (1.0, 0.0));
        assert_ne!(mid, p0);
    }
}

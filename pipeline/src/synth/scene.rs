//! One NTU recording: who is in front of which camera, doing what, and what
//! the sensor adds (jitter, noise bodies, lost tracks, empty frames).
//!
//! Randomness comes from two streams. The *performance* stream is seeded by
//! (seed, setup, subject, replication, action): the three cameras of one
//! performance see the same motion, length and timing. The *sensor* stream is
//! seeded by (seed, file name): jitter, body IDs, hand states and the noise
//! events differ per camera.

use super::body::{body_info, kinect_joints, Skeleton, Subject, View};
use super::motion::{ActorMotion, ClassMotion, Pose};
use super::{SampleTruth, TrackKind, TrackTruth};
use crate::ntu::{NtuBody, NtuName, NtuSkeleton};
use crate::rng::{hash_str, Rng};

/// Sensor jitter (standard deviation per coordinate), metres.
pub const JITTER_M: f64 = 0.004;
/// Longest take, frames.
const MAX_FRAMES: usize = 300;
/// Yaw of cameras 1, 2, 3 around the subject, degrees.
const CAMERA_YAW: [f64; 3] = [-45.0, 0.0, 45.0];

/// One person of a performance, placed in the scene frame (the subject frame
/// of a person facing camera 2).
#[derive(Debug, Clone)]
pub struct Actor {
    pub subject: Subject,
    pub motion: ActorMotion,
    /// Turn of the subject frame about y, radians (+pi/2: facing +x).
    pub heading: f64,
    pub offset: [f64; 3],
    /// Per-performance amplitude factor and phase shift.
    pub var: (f64, f64),
    /// Idle sway: amplitudes (rad) and phases.
    sway: [f64; 4],
    /// Upper bound of the forward walk (keeps two actors apart).
    max_walk: f64,
}

impl Actor {
    pub fn new(
        subject: Subject,
        motion: ActorMotion,
        heading: f64,
        offset: [f64; 3],
        rng: &mut Rng,
    ) -> Self {
        Self {
            subject,
            motion,
            heading,
            offset,
            var: (rng.range(0.85, 1.15), rng.range(-0.3, 0.3)),
            sway: [
                rng.range(0.005, 0.02),
                rng.range(0.01, 0.04),
                rng.range(0.0, 6.3),
                rng.range(0.0, 6.3),
            ],
            max_walk: f64::INFINITY,
        }
    }

    /// The joints at progress `u` of the action and time `t` (seconds), in
    /// the scene frame.
    pub fn skeleton(&self, u: f64, t: f64) -> Skeleton {
        let mut p: Pose = self.motion.pose(u.clamp(0.0, 1.0), self.var);
        let s = (t * 1.3 + self.sway[2]).sin();
        let c = (t * 0.9 + self.sway[3]).sin();
        p.torso[0] += self.sway[0] * s;
        p.torso[1] += self.sway[0] * c;
        for arm in &mut p.arms {
            arm[0] += self.sway[1] * c;
            arm[2] += self.sway[1] * s;
        }
        p.walk = p.walk.min(self.max_walk);
        let (sn, cs) = self.heading.sin_cos();
        self.subject.skeleton(&p).map(|[x, y, z]| {
            [
                self.offset[0] + cs * x + sn * z,
                self.offset[1] + y,
                self.offset[2] - sn * x + cs * z,
            ]
        })
    }

    /// The resting pose (arms hanging, idle sway) at time `t`, scene frame.
    pub fn rest_skeleton(&self, t: f64) -> Skeleton {
        let mut rest = self.clone();
        rest.motion.values = super::motion::rest_values();
        rest.heading = 0.0;
        rest.offset = [0.0; 3];
        rest.skeleton(0.0, t)
    }

    /// The subject's forward direction in the scene frame.
    pub fn forward(&self) -> [f64; 3] {
        [self.heading.sin(), 0.0, self.heading.cos()]
    }
}

/// The actors of a class performed by `subject` (actor 2 of mutual actions
/// is the subject's fixed partner), facing each other 0.9-1.4 m apart.
pub fn cast(seed: u64, class: &ClassMotion, subject: u64, rng: &mut Rng) -> Vec<Actor> {
    let me = Subject::new(seed, subject);
    if !class.mutual {
        return vec![Actor::new(me, class.actors[0].clone(), 0.0, [0.0; 3], rng)];
    }
    let gap = rng.range(0.9, 1.4);
    let partner = Subject::new(seed, 10_000 + subject);
    let half = std::f64::consts::FRAC_PI_2;
    let mut a = Actor::new(
        me,
        class.actors[0].clone(),
        half,
        [-gap / 2.0, 0.0, 0.0],
        rng,
    );
    let mut b = Actor::new(
        partner,
        class.actors[1].clone(),
        -half,
        [gap / 2.0, 0.0, 0.0],
        rng,
    );
    a.max_walk = (gap - 0.55) / 2.0;
    b.max_walk = a.max_walk;
    vec![a, b]
}

/// Timing of a performance: idle frames, action frames, idle frames.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub lead: usize,
    pub action: usize,
    pub total: usize,
}

impl Timing {
    /// Speed within 30 % of the class's mean, 3-15 idle frames either side
    /// (about 85 frames on average, as NTU RGB+D).
    pub fn new(motion: &ActorMotion, rng: &mut Rng) -> Self {
        let action = (motion.mean_frames() * rng.range(0.7, 1.3))
            .round()
            .clamp(20.0, 260.0) as usize;
        let lead = rng.int(3, 15) as usize;
        let tail = rng.int(3, 15) as usize;
        Self {
            lead,
            action,
            total: (lead + action + tail).min(MAX_FRAMES),
        }
    }

    pub fn progress(&self, t: usize) -> f64 {
        (t as f64 - self.lead as f64) / self.action as f64
    }
}

/// Share of frames whose x-spread exceeds 0.8 x the y-spread (the CTR-GCN
/// noise test) for a skeleton seen with `view`.
fn flat_share(frames: &[Skeleton], view: &View) -> f64 {
    let flat = frames
        .iter()
        .filter(|s| {
            let cam = s.map(|p| view.to_camera(p));
            let spread = |a: usize| {
                let (lo, hi) = cam
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(l, h), p| (l.min(p[a]), h.max(p[a])));
                hi - lo
            };
            spread(0) > 0.8 * spread(1)
        })
        .count();
    flat as f64 / frames.len().max(1) as f64
}

/// Shrinks an actor's motion until every camera sees it as a person under
/// the CTR-GCN spread test (flat share below 0.5, the reference drops 0.69754).
fn keep_human(actor: &mut Actor, timing: &Timing, facing: f64) {
    let base = actor.motion.clone();
    for k in [1.0, 0.8, 0.6, 0.4, 0.2] {
        actor.motion = base.scaled(k);
        let frames: Vec<Skeleton> = (0..timing.total)
            .step_by(3)
            .map(|t| actor.skeleton(timing.progress(t), t as f64 / 30.0))
            .collect();
        let worst = CAMERA_YAW
            .iter()
            .map(|y| {
                flat_share(
                    &frames,
                    &View {
                        origin: [0.0, -1.0, 3.0],
                        yaw: (y + facing).to_radians(),
                        tilt: 0.0,
                    },
                )
            })
            .fold(0.0, f64::max);
        if worst < 0.5 {
            return;
        }
    }
}

/// The frames of one NTU file and its ground truth. `noise` selects the
/// sensor noise events of this file (`Some(i)`: a short ghost for even `i`,
/// a flat object for odd `i`, plus empty frames and, for one actor, a lost
/// track: the reference denoiser keeps both pieces as actor 1);
/// `missing` makes it like the officially broken files: a few frames with a
/// body and every other frame empty.
pub fn ntu_take(
    seed: u64,
    class: &ClassMotion,
    class_index: u16,
    name: &NtuName,
    noise: Option<usize>,
    missing: bool,
) -> (NtuSkeleton, SampleTruth) {
    let n = name;
    let mut perf = Rng::from_parts(&[
        seed,
        0x9E5F,
        n.setup.into(),
        n.subject.into(),
        n.replication.into(),
        n.action.into(),
    ]);
    let mut sensor = Rng::from_parts(&[seed, 0x5E25, hash_str(&n.to_string())]);
    let mut place = Rng::from_parts(&[seed, 0x5E7, n.setup.into(), n.camera.into()]);

    let mut actors = cast(seed, class, n.subject.into(), &mut perf);
    let timing = Timing::new(&actors[0].motion, &mut perf);
    let facing = if n.replication == 1 { -10.0 } else { 10.0 } + perf.range(-5.0, 5.0);
    for a in &mut actors {
        keep_human(a, &timing, facing);
    }
    let view = View {
        origin: [
            place.range(-0.3, 0.3),
            -place.range(0.6, 1.1),
            place.range(2.9, 3.4),
        ],
        yaw: (CAMERA_YAW[usize::from(n.camera.clamp(1, 3)) - 1] + facing).to_radians(),
        tilt: place.range(0.0, 0.12),
    };

    // Track layout: (kind, first frame, frames, actor index).
    let mut layout: Vec<(TrackKind, usize, usize, Option<usize>)> = Vec::new();
    let (mut lead_empty, mut tail_empty) = (0, 0);
    if noise.is_some() {
        lead_empty = if sensor.chance(0.5) {
            sensor.int(1, 6) as usize
        } else {
            0
        };
        tail_empty = if sensor.chance(0.5) {
            sensor.int(1, 6) as usize
        } else {
            0
        };
    }
    let span = timing.total - lead_empty - tail_empty;
    let total = timing.total;
    for (k, _) in actors.iter().enumerate() {
        let kind = TrackKind::Actor(k as u8 + 1);
        if missing {
            layout.push((kind, timing.lead, sensor.int(1, 8) as usize, Some(k)));
        } else if noise.is_some() && actors.len() == 1 && span >= 40 && sensor.chance(0.5) {
            let gap_at = lead_empty + 15 + sensor.below((span - 35) as u64) as usize;
            let gap = sensor.int(2, 5) as usize;
            layout.push((kind, lead_empty, gap_at - lead_empty, Some(k)));
            layout.push((
                kind,
                gap_at + gap,
                total - tail_empty - gap_at - gap,
                Some(k),
            ));
        } else {
            layout.push((kind, lead_empty, span, Some(k)));
        }
    }
    if let (Some(i), false) = (noise, missing) {
        if i % 2 == 0 {
            let len = sensor.int(2, 11) as usize;
            layout.push((
                TrackKind::ShortGhost,
                lead_empty + sensor.below((span - len) as u64) as usize,
                len,
                None,
            ));
        } else {
            let len = sensor.int(20, span as i64) as usize;
            layout.push((
                TrackKind::FlatObject,
                lead_empty + sensor.below((span - len + 1) as u64) as usize,
                len,
                None,
            ));
        }
    }

    let first_id = (1u64 << 56) + 20_000 + sensor.below(3_000_000);
    let facings: Vec<[f64; 3]> = actors
        .iter()
        .map(|a| view.dir_to_camera(a.forward()))
        .collect();
    let ghost = Subject::new(seed, 20_000 + sensor.below(1000));
    let ghost_at = [sensor.range(-1.2, 1.2), 0.0, sensor.range(-1.5, -0.5)];
    let flat: Skeleton = {
        let (len, height) = (sensor.range(1.2, 2.0), sensor.range(0.1, 0.35));
        let at = [
            sensor.range(-1.0, 1.0),
            sensor.range(0.3, 0.8),
            sensor.range(-1.5, -0.6),
        ];
        std::array::from_fn(|j| {
            let f = j as f64 / 24.0;
            [
                at[0] + len * (f - 0.5),
                at[1] + height * ((j * 7 % 25) as f64 / 24.0),
                at[2] + 0.1 * (j % 3) as f64,
            ]
        })
    };
    let mut tracks: Vec<(TrackTruth, Vec<NtuBody>)> = Vec::with_capacity(layout.len());
    for (i, &(kind, first, len, actor)) in layout.iter().enumerate() {
        let id = first_id + i as u64;
        let mut hands = [2u8, 2u8];
        let bodies = (first..first + len)
            .map(|t| {
                if t % 20 == 0 || t == first {
                    hands = [hand_state(&mut sensor), hand_state(&mut sensor)];
                }
                let (scene, forward, jitter) = match (kind, actor) {
                    (_, Some(k)) => (
                        actors[k].skeleton(timing.progress(t), t as f64 / 30.0),
                        facings[k],
                        JITTER_M,
                    ),
                    (TrackKind::ShortGhost, _) => (
                        ghost
                            .skeleton(&Pose::default())
                            .map(|p| [p[0] + ghost_at[0], p[1], p[2] + ghost_at[2]]),
                        view.dir_to_camera([0.0, 0.0, 1.0]),
                        0.03,
                    ),
                    _ => (flat, [0.0, 0.0, -1.0], 0.01),
                };
                let cam = scene.map(|p| view.to_camera(p));
                let joints = kinect_joints(&cam, forward, jitter, &mut sensor);
                NtuBody {
                    info: body_info(id, &joints, hands),
                    joints,
                }
            })
            .collect();
        tracks.push((
            TrackTruth {
                body_id: id,
                kind,
                first_frame: first as u32,
                frames: len as u32,
            },
            bodies,
        ));
    }

    let mut out = NtuSkeleton::with_capacity(total, total * layout.len());
    for t in 0..total {
        for (truth, bodies) in &tracks {
            let first = truth.first_frame as usize;
            if (first..first + bodies.len()).contains(&t) {
                out.push(bodies[t - first].clone());
            }
        }
        out.end_frame();
    }
    let truth = SampleTruth {
        file: format!("{name}.skeleton"),
        classes: vec![class_index],
        frames: total as u32,
        actors: actors.len() as u8,
        tracks: tracks.into_iter().map(|(t, _)| t).collect(),
        missing_listed: missing,
    };
    (out, truth)
}

/// Kinect hand states: 0 unknown, 1 not tracked, 2 open, 3 closed, 4 lasso.
fn hand_state(rng: &mut Rng) -> u8 {
    match rng.below(20) {
        0..=6 => 2,
        7..=11 => 3,
        12..=15 => 1,
        16..=17 => 0,
        _ => 4,
    }
}

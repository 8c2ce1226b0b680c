//! Skeleton geometry: a subject's proportions, forward kinematics of the 25
//! Kinect v2 joints from a [`Pose`], the camera view, and the Kinect fields of
//! a tracked body (depth/colour pixels, joint orientations, tracking states).
//!
//! Frames: the *subject frame* has x to the subject's right, y up, z forward
//! (the way the subject faces), origin on the floor under the spine base;
//! the *camera frame* is Kinect camera space: x to the sensor's left (the
//! right of a subject facing it), y up, z away from the camera, metres.

use super::motion::Pose;
use crate::ntu::{BodyInfo, Joint};
use crate::rng::Rng;

/// A joint position, metres.
pub type Vec3 = [f64; 3];

/// The 25 joints of a body, 0-based Kinect v2 order.
pub type Skeleton = [Vec3; 25];

/// The child each joint's orientation points at (0-based); `None` for the
/// leaves, whose orientation Kinect reports as `0 0 0 0`.
const CHILD: [Option<usize>; 25] = [
    Some(1),
    Some(20),
    Some(3),
    None,
    Some(5),
    Some(6),
    Some(7),
    Some(21),
    Some(9),
    Some(10),
    Some(11),
    Some(23),
    Some(13),
    Some(14),
    Some(15),
    None,
    Some(17),
    Some(18),
    Some(19),
    None,
    Some(2),
    None,
    None,
    None,
    None,
];

/// Kinect v2 depth camera: 512 x 424 pixels.
const DEPTH: (f64, f64, f64, f64) = (365.0, 256.0, 208.0, 512.0);
/// Colour camera: 1920 x 1080, about 5 cm beside the depth camera.
const COLOR: (f64, f64, f64, f64) = (1060.0, 960.0, 566.0, 0.052);

fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn scale(a: Vec3, k: f64) -> Vec3 {
    [a[0] * k, a[1] * k, a[2] * k]
}
fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn unit(a: Vec3) -> Vec3 {
    let n = dot(a, a).sqrt();
    if n < 1e-12 {
        [0.0, 1.0, 0.0]
    } else {
        scale(a, 1.0 / n)
    }
}

/// A 3x3 rotation, row-major.
#[derive(Debug, Clone, Copy)]
struct Rot([[f64; 3]; 3]);

impl Rot {
    fn x(a: f64) -> Self {
        let (s, c) = a.sin_cos();
        Self([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    }
    fn y(a: f64) -> Self {
        let (s, c) = a.sin_cos();
        Self([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    }
    fn z(a: f64) -> Self {
        let (s, c) = a.sin_cos();
        Self([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    }
    fn mul(&self, o: &Rot) -> Rot {
        Rot(std::array::from_fn(|i| {
            std::array::from_fn(|j| (0..3).map(|k| self.0[i][k] * o.0[k][j]).sum())
        }))
    }
    fn apply(&self, v: Vec3) -> Vec3 {
        std::array::from_fn(|i| dot(self.0[i], v))
    }
}

/// Body proportions of one subject, metres.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    pub height: f64,
    seg: [f64; 14],
}

// Segment indices into `Subject::seg` and their shares of the height.
const SEGMENTS: [f64; 14] = [
    0.045, // 0 hip half-width
    0.17,  // 1 spine base -> spine mid
    0.13,  // 2 spine mid -> spine shoulder
    0.04,  // 3 spine shoulder -> neck
    0.08,  // 4 neck -> head
    0.09,  // 5 shoulder half-width
    0.186, // 6 upper arm
    0.146, // 7 forearm
    0.05,  // 8 wrist -> hand
    0.05,  // 9 hand -> hand tip
    0.245, // 10 thigh
    0.246, // 11 shank
    0.039, // 12 ankle height
    0.08,  // 13 foot
];

impl Subject {
    /// The subject `id` of a generation `seed`: height uniform in 1.5-1.9 m,
    /// each segment within 4 % of the standard share.
    pub fn new(seed: u64, id: u64) -> Self {
        let mut rng = Rng::from_parts(&[seed, 0x005B_1EC7, id]);
        let height = rng.range(1.5, 1.9);
        let seg = SEGMENTS.map(|s| s * height * rng.range(0.96, 1.04));
        Self { height, seg }
    }

    /// Forward kinematics: the joints in the subject frame, feet on the floor
    /// (y = 0) unless the pose lifts them.
    pub fn skeleton(&self, p: &Pose) -> Skeleton {
        let s = &self.seg;
        let mut j = [[0.0; 3]; 25];
        let torso = Rot::y(p.torso[2])
            .mul(&Rot::x(p.torso[0]))
            .mul(&Rot::z(p.torso[1]));
        let half = Rot::y(p.torso[2] / 2.0)
            .mul(&Rot::x(p.torso[0] / 2.0))
            .mul(&Rot::z(p.torso[1] / 2.0));
        let base = [0.0, 0.0, p.walk];
        j[0] = base;
        j[1] = add(base, half.apply([0.0, s[1], 0.0]));
        j[20] = add(j[1], torso.apply([0.0, s[2], 0.0]));
        j[2] = add(j[20], torso.apply([0.0, s[3], 0.0]));
        let head = torso.mul(&Rot::y(p.head[1])).mul(&Rot::x(p.head[0]));
        j[3] = add(j[2], head.apply([0.0, s[4], 0.01]));
        let forward = torso.apply([0.0, 0.0, 1.0]);
        for (k, side) in [-1.0f64, 1.0].into_iter().enumerate() {
            let [elev, azim, elbow, roll] = p.arms[k];
            let sh = add(j[20], torso.apply([side * s[5], -0.01 * self.height, 0.0]));
            let upper = torso.apply([
                side * elev.sin() * azim.sin(),
                -elev.cos(),
                elev.sin() * azim.cos(),
            ]);
            let mut n0 = add(forward, scale(upper, -dot(forward, upper)));
            if dot(n0, n0) < 1e-4 {
                let up = torso.apply([0.0, 1.0, 0.0]);
                n0 = add(up, scale(upper, -dot(up, upper)));
            }
            let n0 = unit(n0);
            let r = side * roll;
            let n = add(scale(n0, r.cos()), scale(cross(upper, n0), r.sin()));
            let fore = add(scale(upper, elbow.cos()), scale(n, elbow.sin()));
            let el = add(sh, scale(upper, s[6]));
            let wr = add(el, scale(fore, s[7]));
            let hand = add(wr, scale(fore, s[8]));
            let thumb_dir = unit(add(scale(fore, 0.5), scale(cross(fore, n), -side * 0.8)));
            let base_idx = 4 + 4 * k;
            j[base_idx] = sh;
            j[base_idx + 1] = el;
            j[base_idx + 2] = wr;
            j[base_idx + 3] = hand;
            j[21 + 2 * k] = add(hand, scale(fore, s[9]));
            j[22 + 2 * k] = add(hand, scale(thumb_dir, 0.7 * s[9]));
        }
        for (k, side) in [-1.0f64, 1.0].into_iter().enumerate() {
            let [hip_flex, abd, knee] = p.legs[k];
            let hip = add(base, [side * s[0], -0.01 * self.height, 0.0]);
            let out = Rot::z(side * abd);
            let thigh = out.mul(&Rot::x(-hip_flex));
            let shank = out.mul(&Rot::x(-hip_flex + knee));
            let kn = add(hip, thigh.apply([0.0, -s[10], 0.0]));
            let an = add(kn, shank.apply([0.0, -s[11], 0.0]));
            let foot = add(an, shank.apply(scale(unit([0.0, -0.3, 1.0]), s[13])));
            let b = 12 + 4 * k;
            j[b] = hip;
            j[b + 1] = kn;
            j[b + 2] = an;
            j[b + 3] = foot;
        }
        // Stand on the lowest of ankles (minus the ankle height) and feet.
        let low = [14, 15, 18, 19]
            .iter()
            .map(|&i| j[i][1] - if i % 2 == 0 { s[12] } else { 0.02 })
            .fold(f64::INFINITY, f64::min);
        let dy = p.lift - low;
        for v in &mut j {
            v[1] += dy;
        }
        j
    }
}

/// Where a camera sees a subject from: the subject's floor origin in camera
/// coordinates, the subject's facing (0 = towards the camera) and the
/// camera's downward tilt, radians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    pub origin: Vec3,
    pub yaw: f64,
    pub tilt: f64,
}

impl View {
    /// A subject-frame point in camera coordinates.
    pub fn to_camera(&self, p: Vec3) -> Vec3 {
        let turned = Rot::y(self.yaw).apply([p[0], p[1], -p[2]]);
        Rot::x(self.tilt).apply(add(self.origin, turned))
    }

    /// A subject-frame direction in camera coordinates.
    pub fn dir_to_camera(&self, d: Vec3) -> Vec3 {
        Rot::x(self.tilt).apply(Rot::y(self.yaw).apply([d[0], d[1], -d[2]]))
    }
}

/// Unit quaternion (w, x, y, z) of the frame whose y axis is `bone` and whose
/// z axis is as close to `facing` as the bone allows (Kinect's convention).
pub fn bone_quaternion(bone: Vec3, facing: Vec3) -> [f64; 4] {
    let y = unit(bone);
    let mut z = add(facing, scale(y, -dot(facing, y)));
    if dot(z, z) < 1e-6 {
        z = add([0.0, 1.0, 0.0], scale(y, -y[1]));
    }
    let z = unit(z);
    let x = cross(y, z);
    let (m00, m01, m02) = (x[0], y[0], z[0]);
    let (m10, m11, m12) = (x[1], y[1], z[1]);
    let (m20, m21, m22) = (x[2], y[2], z[2]);
    let tr = m00 + m11 + m22;
    let q = if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        [0.25 * s, (m21 - m12) / s, (m02 - m20) / s, (m10 - m01) / s]
    } else if m00 > m11 && m00 > m22 {
        let s = (1.0 + m00 - m11 - m22).sqrt() * 2.0;
        [(m21 - m12) / s, 0.25 * s, (m01 + m10) / s, (m02 + m20) / s]
    } else if m11 > m22 {
        let s = (1.0 + m11 - m00 - m22).sqrt() * 2.0;
        [(m02 - m20) / s, (m01 + m10) / s, 0.25 * s, (m12 + m21) / s]
    } else {
        let s = (1.0 + m22 - m00 - m11).sqrt() * 2.0;
        [(m10 - m01) / s, (m02 + m20) / s, (m12 + m21) / s, 0.25 * s]
    };
    let n = q.iter().map(|v| v * v).sum::<f64>().sqrt();
    q.map(|v| v / n)
}

/// Whether a limb joint is hidden behind the torso from the camera.
fn occluded(cam: &Skeleton, j: usize) -> bool {
    if matches!(j, 0..=3 | 20) {
        return false;
    }
    let c = cam[1];
    cam[j][2] > c[2] + 0.08
        && (cam[j][0] - c[0]).abs() < 0.16
        && cam[j][1] > cam[0][1] - 0.15
        && cam[j][1] < cam[20][1] + 0.1
}

/// The Kinect joint lines of a body seen in camera coordinates `cam` with
/// `facing` (the subject's forward direction in camera coordinates): sensor
/// jitter of `jitter` metres (2.5 x for inferred joints), pixels of both
/// cameras, orientations and tracking states (2 tracked, 1 inferred).
pub fn kinect_joints(cam: &Skeleton, facing: Vec3, jitter: f64, rng: &mut Rng) -> [Joint; 25] {
    let orient: [[f64; 4]; 25] = std::array::from_fn(|j| match CHILD[j] {
        Some(c) => bone_quaternion(add(cam[c], scale(cam[j], -1.0)), facing),
        None => [0.0; 4],
    });
    std::array::from_fn(|j| {
        let inferred = occluded(cam, j) || (matches!(j, 7 | 11 | 21..=24) && rng.chance(0.02));
        let k = if inferred { 2.5 * jitter } else { jitter };
        let p: Vec3 = std::array::from_fn(|a| cam[j][a] + k * rng.normal());
        let z = p[2].max(0.3);
        Joint {
            xyz: p.map(|v| v as f32),
            depth: [
                (DEPTH.1 + DEPTH.0 * p[0] / z) as f32,
                (DEPTH.2 - DEPTH.0 * p[1] / z) as f32,
            ],
            color: [
                (COLOR.1 + COLOR.0 * (p[0] + COLOR.3) / z) as f32,
                (COLOR.2 - COLOR.0 * p[1] / z) as f32,
            ],
            orientation: orient[j].map(|v| v as f32),
            tracking_state: if inferred { 1 } else { 2 },
        }
    })
}

/// The body line of a tracked body: lean from the spine, clipped edges from
/// the depth pixels (Kinect `FrameEdges`: right 1, left 2, top 4, bottom 8).
pub fn body_info(body_id: u64, joints: &[Joint; 25], hands: [u8; 2]) -> BodyInfo {
    let (b, s) = (joints[0].xyz, joints[20].xyz);
    let len = ((s[0] - b[0]).powi(2) + (s[1] - b[1]).powi(2) + (s[2] - b[2]).powi(2))
        .sqrt()
        .max(1e-3);
    let mut edges = 0u8;
    for j in joints {
        let [u, v] = j.depth;
        edges |= u8::from(u >= DEPTH.3 as f32)
            | u8::from(u < 0.0) << 1
            | u8::from(v < 0.0) << 2
            | u8::from(v >= 424.0) << 3;
    }
    let conf = |state: u8| u8::from(state >= 2);
    BodyInfo {
        body_id,
        clipped_edges: edges,
        hand_left_confidence: conf(hands[0]),
        hand_left_state: hands[0],
        hand_right_confidence: conf(hands[1]),
        hand_right_state: hands[1],
        is_restricted: 0,
        lean: [
            ((s[0] - b[0]) / len * 1.5).clamp(-1.0, 1.0),
            ((b[2] - s[2]) / len * 1.5).clamp(-1.0, 1.0),
        ],
        tracking_state: 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(a: Vec3, b: Vec3) -> f64 {
        let d = add(a, scale(b, -1.0));
        dot(d, d).sqrt()
    }

    #[test]
    fn rest_pose_is_human() {
        let s = Subject::new(1, 7);
        assert!((1.5..1.9).contains(&s.height));
        let j = s.skeleton(&Pose::default());
        let feet = j[15][1].min(j[19][1]);
        assert!(feet.abs() < 0.05, "{feet}");
        assert!(
            (j[3][1] - 0.9 * s.height).abs() < 0.12 * s.height,
            "head {}",
            j[3][1]
        );
        assert!(j[8][0] > j[4][0], "right shoulder at +x");
        // bone lengths do not change with the pose
        let mut p = Pose::default();
        p.arms[1] = [1.2, 0.5, 1.0, 0.3];
        p.torso = [0.3, 0.1, 0.2];
        let k = s.skeleton(&p);
        for (a, b) in [(8, 9), (9, 10), (4, 5), (13, 14), (1, 20)] {
            assert!((dist(j[a], j[b]) - dist(k[a], k[b])).abs() < 1e-9);
        }
    }

    #[test]
    fn quaternions_rotate_y_onto_the_bone() {
        let bone = [0.3, -0.8, 0.2];
        let q = bone_quaternion(bone, [0.0, 0.0, -1.0]);
        let [w, x, y, z] = q;
        // R(q) * (0, 1, 0)
        let v = [
            2.0 * (x * y - w * z),
            1.0 - 2.0 * (x * x + z * z),
            2.0 * (y * z + w * x),
        ];
        let u = unit(bone);
        assert!(dist(v, u) < 1e-9, "{v:?} vs {u:?}");
        assert!((q.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn camera_view_turns_the_subject() {
        let j = Subject::new(1, 1).skeleton(&Pose::default());
        let front = View {
            origin: [0.0, -0.9, 3.0],
            yaw: 0.0,
            tilt: 0.0,
        };
        let side = View { yaw: 0.8, ..front };
        let (a, b) = (front.to_camera(j[8]), side.to_camera(j[8]));
        assert!(dist(a, b) > 0.05);
        assert!(front.to_camera(j[8])[0] > front.to_camera(j[4])[0]);
        let mut rng = Rng::new(1);
        let cam: Skeleton = j.map(|p| front.to_camera(p));
        let k = kinect_joints(&cam, front.dir_to_camera([0.0, 0.0, 1.0]), 0.0, &mut rng);
        assert!(k.iter().all(|x| (0.0..512.0).contains(&x.depth[0])));
        assert_eq!(k[3].orientation, [0.0; 4]);
    }
}

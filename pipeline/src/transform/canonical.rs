//! Pose canonicalisation after Holden et al. 2016 (the paper's supplement C.1).

use nalgebra::{Rotation3, Vector3};
use skel_schemas::{Joint, Reference, TransformSpec};

use super::{first_lead_frame, joint, lead, map_present_joints};
use crate::clean::Cleaned;

/// Rotates about the vertical axis through actor 1's SpineBase so that the
/// body's forward direction, `up x ((L shoulder - R shoulder) + (L hip - R hip))`,
/// points along +z; measured in the first valid frame (`Sequence`, one
/// rotation for the whole sample) or in every frame (`Frame`).
#[derive(Debug, Clone, Copy)]
pub struct Canonicalize {
    pub reference: Reference,
}

/// The rotation about +y (and its pivot) that turns `pose` to face +z.
fn facing(pose: &[f32]) -> Option<(Rotation3<f64>, Vector3<f64>)> {
    let forward = unnormalised_forward(pose);
    if forward.x.hypot(forward.z) < 1e-9 {
        return None;
    }
    let angle = (-forward.x).atan2(forward.z);
    let pivot = joint(pose, Joint::SpineBase.index());
    Some((Rotation3::from_axis_angle(&Vector3::y_axis(), angle), pivot))
}

fn rotate_frame(sample: &mut Cleaned, t: usize, rotation: &Rotation3<f64>, pivot: &Vector3<f64>) {
    map_present_joints(sample, t, &|p| {
        let v = Vector3::new(f64::from(p[0]), f64::from(p[1]), f64::from(p[2])) - pivot;
        let r = rotation * v + pivot;
        [r.x as f32, r.y as f32, r.z as f32]
    });
}

impl super::Transform for Canonicalize {
    fn spec(&self) -> TransformSpec {
        TransformSpec::Canonicalize {
            reference: self.reference,
        }
    }

    fn apply(&self, mut sample: Cleaned) -> Cleaned {
        match self.reference {
            Reference::Sequence => {
                let Some(first) = first_lead_frame(&sample) else {
                    return sample;
                };
                let Some((rotation, pivot)) = lead(&sample, first).and_then(facing) else {
                    return sample;
                };
                for t in 0..sample.valid_frames {
                    rotate_frame(&mut sample, t, &rotation, &pivot);
                }
            }
            Reference::Frame => {
                for t in 0..sample.valid_frames {
                    if let Some((rotation, pivot)) = lead(&sample, t).and_then(facing) {
                        rotate_frame(&mut sample, t, &rotation, &pivot);
                    }
                }
            }
        }
        sample
    }
}

/// `up x across`: horizontal, pointing where the body faces.
fn unnormalised_forward(pose: &[f32]) -> Vector3<f64> {
    let across = (joint(pose, Joint::ShoulderLeft.index())
        - joint(pose, Joint::ShoulderRight.index()))
        + (joint(pose, Joint::HipLeft.index()) - joint(pose, Joint::HipRight.index()));
    Vector3::y().cross(&across)
}

/// The unit direction a pose (75 values) faces, in the horizontal plane.
pub fn forward(pose: &[f32]) -> Vector3<f64> {
    unnormalised_forward(pose).normalize()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::testing::{max_abs_diff, sample};
    use crate::transform::Transform as _;

    fn bone_lengths(s: &Cleaned, t: usize) -> Vec<f64> {
        let pose = lead(s, t).unwrap();
        [(0, 1), (1, 20), (4, 5), (5, 6), (12, 13), (13, 14)]
            .iter()
            .map(|&(a, b)| (joint(pose, a) - joint(pose, b)).norm())
            .collect()
    }

    #[test]
    fn any_yaw_ends_facing_plus_z_with_bones_kept() {
        for reference in [Reference::Sequence, Reference::Frame] {
            for yaw in [-2.5, -0.8, 0.0, 0.7, 1.9, 3.1] {
                let input = sample(20, yaw);
                let out = Canonicalize { reference }.apply(input.clone());
                let checked = if reference == Reference::Frame {
                    0..20
                } else {
                    0..1
                };
                for t in checked {
                    let f = forward(lead(&out, t).unwrap());
                    assert!(
                        (f - Vector3::z()).norm() < 1e-4,
                        "{reference:?} yaw {yaw} t {t}: {f:?}"
                    );
                }
                for t in 0..20 {
                    for (a, b) in bone_lengths(&input, t).iter().zip(bone_lengths(&out, t)) {
                        assert!((a - b).abs() < 1e-5);
                    }
                }
                // The empty second actor stays empty.
                assert!(out.pose(3, 1).iter().all(|&v| v == 0.0));
                // Idempotent.
                let again = Canonicalize { reference }.apply(out.clone());
                let diff = max_abs_diff(&again.joints, &out.joints);
                assert!(diff < 1e-5, "{diff}");
            }
        }
    }
}

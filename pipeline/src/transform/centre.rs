//! Centring on a joint and body-size scaling.

use skel_schemas::{Joint, Reference, TransformSpec};

use super::{first_lead_frame, joint, lead, map_present_joints, Transform};
use crate::clean::Cleaned;

/// Subtracts actor 1's `joint` (of the first valid frame, or of each frame)
/// from every joint of every present pose.
#[derive(Debug, Clone, Copy)]
pub struct Centre {
    pub joint: Joint,
    pub reference: Reference,
}

impl Transform for Centre {
    fn spec(&self) -> TransformSpec {
        TransformSpec::Centre {
            joint: self.joint,
            reference: self.reference,
        }
    }

    fn apply(&self, mut sample: Cleaned) -> Cleaned {
        let j = self.joint.index();
        let shift = |sample: &mut Cleaned, t: usize, c: [f32; 3]| {
            map_present_joints(sample, t, &|p| [p[0] - c[0], p[1] - c[1], p[2] - c[2]]);
        };
        let centre_of = |sample: &Cleaned, t: usize| {
            lead(sample, t).map(|pose| [pose[3 * j], pose[3 * j + 1], pose[3 * j + 2]])
        };
        match self.reference {
            Reference::Sequence => {
                if let Some(c) = first_lead_frame(&sample).and_then(|t| centre_of(&sample, t)) {
                    for t in 0..sample.valid_frames {
                        shift(&mut sample, t, c);
                    }
                }
            }
            Reference::Frame => {
                for t in 0..sample.valid_frames {
                    if let Some(c) = centre_of(&sample, t) {
                        shift(&mut sample, t, c);
                    }
                }
            }
        }
        sample
    }
}

/// Divides every coordinate by actor 1's mean SpineBase-SpineShoulder length
/// over the valid frames, so bodies of every size have a unit torso.
#[derive(Debug, Clone, Copy)]
pub struct ScaleBody;

impl Transform for ScaleBody {
    fn spec(&self) -> TransformSpec {
        TransformSpec::ScaleBody
    }

    fn apply(&self, mut sample: Cleaned) -> Cleaned {
        if sample.actors == 0 {
            return sample;
        }
        let lengths: Vec<f64> = (0..sample.valid_frames)
            .filter_map(|t| lead(&sample, t))
            .map(|pose| {
                (joint(pose, Joint::SpineShoulder.index()) - joint(pose, Joint::SpineBase.index()))
                    .norm()
            })
            .collect();
        if lengths.is_empty() {
            return sample;
        }
        let torso = lengths.iter().sum::<f64>() / lengths.len() as f64;
        if torso < 1e-6 {
            return sample;
        }
        let scale = (1.0 / torso) as f32;
        for t in 0..sample.valid_frames {
            map_present_joints(&mut sample, t, &|p| p.map(|v| v * scale));
        }
        sample
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::testing::{max_abs_diff, sample};

    #[test]
    fn centre_joint_is_zero_and_centring_is_idempotent() {
        for reference in [Reference::Sequence, Reference::Frame] {
            let centre = Centre {
                joint: Joint::SpineMid,
                reference,
            };
            let out = centre.apply(sample(10, 0.3));
            let frames = if reference == Reference::Frame { 10 } else { 1 };
            for t in 0..frames {
                assert_eq!(
                    &lead(&out, t).unwrap()[3..6],
                    &[0.0, 0.0, 0.0],
                    "{reference:?} t {t}"
                );
            }
            assert!(
                out.pose(4, 1).iter().all(|&v| v == 0.0),
                "absent actor stays zero"
            );
            assert_eq!(centre.apply(out.clone()).joints, out.joints);
        }
    }

    #[test]
    fn scaled_torso_is_unit_and_scaling_is_idempotent() {
        let out = ScaleBody.apply(sample(10, 0.0));
        let pose = lead(&out, 0).unwrap();
        let torso = (joint(pose, 20) - joint(pose, 0)).norm();
        assert!((torso - 1.0).abs() < 1e-5, "{torso}");
        let again = ScaleBody.apply(out.clone());
        let diff = max_abs_diff(&again.joints, &out.joints);
        assert!(diff < 1e-5);
    }
}

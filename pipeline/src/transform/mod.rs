//! The transform chain: optional, composable steps applied to a cleaned
//! sample, in order, each recorded with its parameters in the manifest.
//!
//! Every transform reads and writes the `[t][m][v][xyz]` joints of a
//! [`Cleaned`] sample. An actor's pose in a frame is *present* when any of its
//! 75 values is non-zero; absent poses (zeros) stay zero, and only the first
//! `valid_frames` frames are data (the rest is padding and stays as it is,
//! unless a temporal transform rewrites the length).

mod canonical;
mod centre;
mod temporal;

use std::fmt;

use skel_schemas::TransformSpec;

use crate::clean::Cleaned;

pub use canonical::{forward, Canonicalize};
pub use centre::{Centre, ScaleBody};
pub use temporal::Frames;

/// One step of the chain.
pub trait Transform: fmt::Debug + Send + Sync {
    /// The spec this transform was built from (what the manifest records).
    fn spec(&self) -> TransformSpec;
    /// Transforms one sample.
    fn apply(&self, sample: Cleaned) -> Cleaned;
}

/// Transforms applied in order; its `Debug` prints the whole chain.
#[derive(Default)]
pub struct Chain {
    steps: Vec<Box<dyn Transform>>,
}

impl Chain {
    /// Builds the chain of `specs`, checking each.
    pub fn new(specs: &[TransformSpec]) -> Result<Self, String> {
        let mut steps: Vec<Box<dyn Transform>> = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            spec.validate()
                .map_err(|e| format!("transform {} ({}): {e}", i + 1, spec.name()))?;
            steps.push(match *spec {
                TransformSpec::Canonicalize { reference } => Box::new(Canonicalize { reference }),
                TransformSpec::Centre { joint, reference } => Box::new(Centre { joint, reference }),
                TransformSpec::ScaleBody => Box::new(ScaleBody),
                TransformSpec::Frames { frames, method } => Box::new(Frames { frames, method }),
            });
        }
        Ok(Self { steps })
    }

    pub fn specs(&self) -> Vec<TransformSpec> {
        self.steps.iter().map(|s| s.spec()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn apply(&self, sample: Cleaned) -> Cleaned {
        self.steps.iter().fold(sample, |s, step| step.apply(s))
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return f.write_str("Chain(none)");
        }
        let names: Vec<String> = self.steps.iter().map(|s| s.spec().to_string()).collect();
        write!(f, "Chain({})", names.join(" -> "))
    }
}

/// Values per pose.
const POSE: usize = 75;

/// Whether a pose holds data.
fn present(pose: &[f32]) -> bool {
    pose.iter().any(|&v| v != 0.0)
}

/// The poses of frame `t` (all actors), mutable.
fn frame_mut(sample: &mut Cleaned, t: usize) -> &mut [f32] {
    let width = sample.actors * POSE;
    &mut sample.joints[t * width..(t + 1) * width]
}

/// Actor 0's pose in frame `t`, if present: a sample may have no actor at
/// all (the raw preset on a file whose frames are all empty).
fn lead(sample: &Cleaned, t: usize) -> Option<&[f32]> {
    if sample.actors == 0 {
        return None;
    }
    let at = t * sample.actors * POSE;
    Some(&sample.joints[at..at + POSE]).filter(|pose| present(pose))
}

/// First valid frame in which actor 0 is present.
fn first_lead_frame(sample: &Cleaned) -> Option<usize> {
    (0..sample.valid_frames).find(|&t| lead(sample, t).is_some())
}

/// Joint `j` of a pose as a vector.
fn joint(pose: &[f32], j: usize) -> nalgebra::Vector3<f64> {
    nalgebra::Vector3::new(
        f64::from(pose[3 * j]),
        f64::from(pose[3 * j + 1]),
        f64::from(pose[3 * j + 2]),
    )
}

/// Applies `f` to every joint of every present pose of frame `t`.
fn map_present_joints(sample: &mut Cleaned, t: usize, f: &impl Fn([f32; 3]) -> [f32; 3]) {
    for pose in frame_mut(sample, t).chunks_exact_mut(POSE) {
        if !present(pose) {
            continue;
        }
        for xyz in pose.chunks_exact_mut(3) {
            let out = f([xyz[0], xyz[1], xyz[2]]);
            xyz.copy_from_slice(&out);
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use crate::clean::Cleaned;

    /// A T-pose-like skeleton of plausible proportions facing +z, rotated by
    /// `yaw` about y and placed at `offset`.
    pub fn pose(yaw: f64, offset: [f32; 3]) -> Vec<f32> {
        // x to the body's left, y up, z forward.
        let body: [[f64; 3]; 25] = [
            [0.0, 0.0, 0.0],
            [0.0, 0.30, 0.0],
            [0.0, 0.55, 0.0],
            [0.0, 0.70, 0.02],
            [0.18, 0.50, 0.0],
            [0.30, 0.25, 0.0],
            [0.32, 0.02, 0.05],
            [0.32, -0.05, 0.06],
            [-0.18, 0.50, 0.0],
            [-0.30, 0.25, 0.0],
            [-0.32, 0.02, 0.05],
            [-0.32, -0.05, 0.06],
            [0.09, -0.05, 0.0],
            [0.10, -0.45, 0.02],
            [0.10, -0.85, 0.0],
            [0.10, -0.90, 0.10],
            [-0.09, -0.05, 0.0],
            [-0.10, -0.45, 0.02],
            [-0.10, -0.85, 0.0],
            [-0.10, -0.90, 0.10],
            [0.0, 0.48, 0.0],
            [0.32, -0.12, 0.07],
            [0.30, -0.04, 0.09],
            [-0.32, -0.12, 0.07],
            [-0.30, -0.04, 0.09],
        ];
        let (s, c) = yaw.sin_cos();
        body.iter()
            .flat_map(|&[x, y, z]| {
                [
                    (c * x + s * z) as f32 + offset[0],
                    y as f32 + offset[1],
                    (-s * x + c * z) as f32 + offset[2],
                ]
            })
            .collect()
    }

    /// Largest absolute difference of two equally long value lists.
    pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A sample of `frames` frames of one walking actor plus an empty slot.
    pub fn sample(frames: usize, yaw: f64) -> Cleaned {
        let mut joints = Vec::new();
        for t in 0..frames {
            joints.extend(pose(yaw + 0.01 * t as f64, [0.1 * t as f32, 0.2, 3.0]));
            joints.extend([0.0; 75]);
        }
        Cleaned {
            frames,
            actors: 2,
            valid_frames: frames,
            joints,
            bodies: 1,
            dropped: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skel_schemas::{Joint, Reference, Temporal};

    /// Found by fuzzing (`ntu_skeleton`): the raw preset keeps a file whose
    /// frames are all empty as a sample with no actor, and canonicalising it
    /// per frame indexed actor 1's pose anyway.
    #[test]
    fn a_sample_with_no_actor_goes_through_every_transform_unchanged() {
        let empty = Cleaned {
            frames: 3,
            actors: 0,
            valid_frames: 3,
            joints: Vec::new(),
            bodies: 0,
            dropped: Vec::new(),
        };
        for reference in [Reference::Sequence, Reference::Frame] {
            let chain = Chain::new(&[
                TransformSpec::Canonicalize { reference },
                TransformSpec::Centre {
                    joint: Joint::SpineMid,
                    reference,
                },
                TransformSpec::ScaleBody,
            ])
            .unwrap();
            assert_eq!(chain.apply(empty.clone()), empty);
        }
        let resampled = Chain::new(&[TransformSpec::Frames {
            frames: 5,
            method: Temporal::Linear,
        }])
        .unwrap()
        .apply(empty);
        assert_eq!((resampled.frames, resampled.joints.len()), (5, 0));
    }
}

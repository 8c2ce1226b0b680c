//! Temporal normalisation to a fixed number of frames.

use skel_schemas::{Temporal, TransformSpec};

use super::{present, Transform, POSE};
use crate::clean::Cleaned;

/// Brings the valid frames of a sample to exactly `frames` frames.
#[derive(Debug, Clone, Copy)]
pub struct Frames {
    pub frames: usize,
    pub method: Temporal,
}

impl Transform for Frames {
    fn spec(&self) -> TransformSpec {
        TransformSpec::Frames {
            frames: self.frames,
            method: self.method,
        }
    }

    fn apply(&self, sample: Cleaned) -> Cleaned {
        let n = self.frames;
        let t_in = sample.valid_frames;
        let width = sample.actors * POSE;
        let src = |t: usize| &sample.joints[t * width..(t + 1) * width];
        let mut joints = vec![0.0f32; n * width];
        let mut valid = n;
        if t_in == 0 {
            valid = 0;
        } else {
            match self.method {
                Temporal::Uniform => {
                    for i in 0..n {
                        let t = ((i as f64 + 0.5) * t_in as f64 / n as f64) as usize;
                        joints[i * width..(i + 1) * width].copy_from_slice(src(t.min(t_in - 1)));
                    }
                }
                Temporal::Linear => {
                    for i in 0..n {
                        let pos = if n == 1 {
                            0.0
                        } else {
                            i as f64 * (t_in - 1) as f64 / (n - 1) as f64
                        };
                        let lo = (pos.floor() as usize).min(t_in - 1);
                        let hi = (lo + 1).min(t_in - 1);
                        let w = (pos - lo as f64) as f32;
                        let out = &mut joints[i * width..(i + 1) * width];
                        for ((o, a), b) in out
                            .chunks_exact_mut(POSE)
                            .zip(src(lo).chunks_exact(POSE))
                            .zip(src(hi).chunks_exact(POSE))
                        {
                            // A pose absent on one side is not blended: take the nearer present one.
                            match (present(a), present(b)) {
                                (true, true) => {
                                    for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
                                        *o = a + w * (b - a);
                                    }
                                }
                                (true, false) if w < 0.5 => o.copy_from_slice(a),
                                (false, true) if w >= 0.5 => o.copy_from_slice(b),
                                _ => {}
                            }
                        }
                    }
                }
                Temporal::PadZeros | Temporal::PadRepeat => {
                    let keep = t_in.min(n);
                    joints[..keep * width].copy_from_slice(&sample.joints[..keep * width]);
                    if self.method == Temporal::PadRepeat {
                        for t in keep..n {
                            let from = (t % keep) * width;
                            joints.copy_within(from..from + width, t * width);
                        }
                    }
                    valid = keep;
                }
            }
        }
        Cleaned {
            frames: n,
            valid_frames: valid,
            joints,
            ..sample
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One actor whose every coordinate moves at constant speed: value = base + t.
    fn linear_motion(frames: usize) -> Cleaned {
        let joints = (0..frames)
            .flat_map(|t| (0..POSE).map(move |k| 1.0 + k as f32 * 0.01 + t as f32))
            .collect();
        Cleaned {
            frames,
            actors: 1,
            valid_frames: frames,
            joints,
            bodies: 1,
            dropped: Vec::new(),
        }
    }

    #[test]
    fn linear_resampling_of_constant_speed_is_exact() {
        let out = Frames {
            frames: 13,
            method: Temporal::Linear,
        }
        .apply(linear_motion(49));
        assert_eq!((out.frames, out.valid_frames), (13, 13));
        for i in 0..13 {
            let t = i as f32 * 4.0; // 48 / 12 source frames per output step
            for k in 0..POSE {
                let want = 1.0 + k as f32 * 0.01 + t;
                assert!((out.joints[i * POSE + k] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn resampling_to_the_same_length_is_identity() {
        for method in [
            Temporal::Uniform,
            Temporal::Linear,
            Temporal::PadZeros,
            Temporal::PadRepeat,
        ] {
            let s = linear_motion(30);
            let out = Frames { frames: 30, method }.apply(s.clone());
            assert_eq!(out.joints, s.joints, "{method:?}");
        }
    }

    #[test]
    fn padding_zeros_repeats_and_cuts() {
        let s = linear_motion(4);
        let zeros = Frames {
            frames: 6,
            method: Temporal::PadZeros,
        }
        .apply(s.clone());
        assert_eq!((zeros.frames, zeros.valid_frames), (6, 4));
        assert!(zeros.joints[4 * POSE..].iter().all(|&v| v == 0.0));
        let repeat = Frames {
            frames: 10,
            method: Temporal::PadRepeat,
        }
        .apply(s.clone());
        assert_eq!(&repeat.joints[4 * POSE..5 * POSE], &s.joints[..POSE]);
        assert_eq!(&repeat.joints[9 * POSE..], &s.joints[POSE..2 * POSE]);
        let cut = Frames {
            frames: 2,
            method: Temporal::PadZeros,
        }
        .apply(s.clone());
        assert_eq!(cut.joints, s.joints[..2 * POSE]);
        let uniform = Frames {
            frames: 2,
            method: Temporal::Uniform,
        }
        .apply(s);
        assert_eq!(uniform.joints[0], 1.0 + 1.0); // centre of bin 0 of 2 over 4 frames is frame 1
    }
}

//! `agcn`: 2s-AGCN `data_gen/ntu_gendata.py` + `preprocess.py`
//! (`pre_normalization`), which MS-G3D reuses unchanged.
//!
//! 1. Up to four bodies per frame fill slots by listing order (IDs ignored).
//! 2. Each slot's energy is `std(x) + std(y) + std(z)` over its non-zero
//!    frames; the two slots of most energy are kept.
//! 3. Padding: a slot whose first frame is empty has its non-empty frames
//!    moved to the front; the empty tail is filled by repeating the sequence.
//! 4. Centring on slot 0's joint 1 (SpineMid) per frame, masked per joint.
//! 5. Rotation so that slot 0's frame-0 spine (joint 0 -> 1) is parallel to
//!    +z, then its shoulders (joint 4 -> 8) parallel to +x.
//!
//! Quirks reproduced:
//! - the slot order is numpy's `energy.argsort()[::-1]`: for four values
//!   numpy sorts stably, so among equal energies the *later* slot wins;
//! - a zero frame in the middle stays zero and is copied into the repeats;
//! - the centre of a frame where slot 0 is empty is the origin;
//! - `unit(v)` is float32 while the rotation is built and applied in float64
//!   and stored back as float32;
//! - more than 300 frames makes the reference fail: [`CleanError::TooLong`].
//!
//! The energies are computed from the float32-rounded coordinates (the
//! reference uses the float64 text values); only exact ties could differ.

use super::{dropped_except, too_long, CleanError, Cleaned, DropReason, MAX_FRAMES, POSE_LEN};
use crate::frames::Sequence;

const KINECT_SLOTS: usize = 4;
const KEPT: usize = 2;

/// One body slot: `MAX_FRAMES` frames of 75 values.
type Slot = Vec<f32>;

pub fn clean(seq: &Sequence) -> Result<Cleaned, CleanError> {
    too_long(seq, "agcn")?;
    let frames = seq.num_frames();
    let mut slots: Vec<Slot> = vec![vec![0.0; MAX_FRAMES * POSE_LEN]; KINECT_SLOTS];
    let mut slot_ids: Vec<Vec<u64>> = vec![Vec::new(); KINECT_SLOTS];
    for (t, bodies) in seq.iter().enumerate() {
        for (m, body) in bodies.iter().take(KINECT_SLOTS).enumerate() {
            slots[m][t * POSE_LEN..(t + 1) * POSE_LEN].copy_from_slice(body.pose.as_flattened());
            if !slot_ids[m].contains(&body.id) {
                slot_ids[m].push(body.id);
            }
        }
    }
    let energy: Vec<f64> = slots
        .iter()
        .map(|s| nonzero_std(&s[..frames * POSE_LEN]))
        .collect();
    // numpy argsort of 4 values is an insertion sort (stable), then reversed.
    let mut order: Vec<usize> = (0..KINECT_SLOTS).collect();
    order.sort_by(|&a, &b| energy[a].total_cmp(&energy[b]));
    order.reverse();
    let keep = &order[..KEPT];
    let mut s: Vec<Slot> = keep
        .iter()
        .map(|&m| std::mem::take(&mut slots[m]))
        .collect();
    let kept_ids: Vec<u64> = keep
        .iter()
        .flat_map(|&m| slot_ids[m].iter().copied())
        .collect();

    pre_normalization(&mut s);

    let mut out = Cleaned::zeros(MAX_FRAMES, KEPT);
    out.valid_frames = frames;
    for t in 0..MAX_FRAMES {
        for (m, slot) in s.iter().enumerate() {
            out.pose_mut(t, m).copy_from_slice(frame(slot, t));
        }
    }
    out.dropped = dropped_except(seq, &kept_ids, DropReason::NotSelected);
    Ok(out)
}

fn frame(slot: &[f32], t: usize) -> &[f32] {
    &slot[t * POSE_LEN..(t + 1) * POSE_LEN]
}

fn is_zero(values: &[f32]) -> bool {
    values.iter().all(|&v| v == 0.0)
}

/// `get_nonzero_std`: population std of x, y and z over the non-zero frames, summed.
fn nonzero_std(slot: &[f32]) -> f64 {
    let frames: Vec<&[f32]> = slot
        .chunks_exact(POSE_LEN)
        .filter(|f| !is_zero(f))
        .collect();
    if frames.is_empty() {
        return 0.0;
    }
    (0..3)
        .map(|c| {
            let values = frames
                .iter()
                .flat_map(|f| f.iter().skip(c).step_by(3))
                .map(|&v| f64::from(v));
            let n = (frames.len() * 25) as f64;
            let mean = values.clone().sum::<f64>() / n;
            (values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
        })
        .sum()
}

/// `pre_normalization(data, zaxis=[0, 1], xaxis=[8, 4])` on the kept slots.
fn pre_normalization(s: &mut [Slot]) {
    for slot in s.iter_mut() {
        pad_slot(slot);
    }
    if s.iter().all(|slot| is_zero(slot)) {
        return;
    }
    centre(s);
    let z = s[0][3..6]
        .iter()
        .zip(&s[0][0..3])
        .map(|(top, bottom)| top - bottom);
    let spine: [f32; 3] = array3(z);
    rotate_all(s, &align_matrix(spine, [0.0, 0.0, 1.0]));
    let x = s[0][8 * 3..9 * 3]
        .iter()
        .zip(&s[0][4 * 3..5 * 3])
        .map(|(r, l)| r - l);
    let shoulders: [f32; 3] = array3(x);
    rotate_all(s, &align_matrix(shoulders, [1.0, 0.0, 0.0]));
}

fn array3(mut it: impl Iterator<Item = f32>) -> [f32; 3] {
    std::array::from_fn(|_| it.next().unwrap_or(0.0))
}

/// Moves non-empty frames to the front if frame 0 is empty, then fills the
/// empty tail with repeats of the frames before it.
fn pad_slot(slot: &mut Slot) {
    if is_zero(slot) {
        return;
    }
    if is_zero(frame(slot, 0)) {
        let kept: Vec<f32> = slot
            .chunks_exact(POSE_LEN)
            .filter(|f| !is_zero(f))
            .flatten()
            .copied()
            .collect();
        slot.fill(0.0);
        slot[..kept.len()].copy_from_slice(&kept);
    }
    for f in 0..MAX_FRAMES {
        if is_zero(frame(slot, f)) && is_zero(&slot[f * POSE_LEN..]) {
            for t in f..MAX_FRAMES {
                let src = (t - f) % f;
                slot.copy_within(src * POSE_LEN..(src + 1) * POSE_LEN, t * POSE_LEN);
            }
            break;
        }
    }
}

/// Subtracts slot 0's SpineMid of each frame from every non-zero joint.
fn centre(s: &mut [Slot]) {
    let centres: Vec<[f32; 3]> = (0..MAX_FRAMES)
        .map(|t| {
            let j = t * POSE_LEN + 3;
            [s[0][j], s[0][j + 1], s[0][j + 2]]
        })
        .collect();
    for slot in s.iter_mut() {
        if is_zero(slot) {
            continue;
        }
        for (t, c) in centres.iter().enumerate() {
            for joint in slot[t * POSE_LEN..(t + 1) * POSE_LEN].chunks_exact_mut(3) {
                let mask = if joint[0] + joint[1] + joint[2] != 0.0 {
                    1.0
                } else {
                    0.0
                };
                for (v, c) in joint.iter_mut().zip(c) {
                    *v = (*v - c) * mask;
                }
            }
        }
    }
}

/// The rotation `rotation_matrix(cross(v, target), angle_between(v, target))`
/// that maps `v` onto the unit axis `target`.
fn align_matrix(v: [f32; 3], target: [f64; 3]) -> [[f64; 3]; 3] {
    let vd = v.map(f64::from);
    let axis = [
        vd[1] * target[2] - vd[2] * target[1],
        vd[2] * target[0] - vd[0] * target[2],
        vd[0] * target[1] - vd[1] * target[0],
    ];
    let angle = if v.iter().map(|c| c.abs()).sum::<f32>() < 1e-6 {
        0.0
    } else {
        let norm = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        let unit = v.map(|c| c / norm);
        let dot: f64 = unit
            .iter()
            .zip(target)
            .map(|(u, t)| f64::from(*u) * t)
            .sum();
        dot.clamp(-1.0, 1.0).acos()
    };
    rotation_matrix(axis, angle)
}

/// Euler-Rodrigues: counter-clockwise rotation by `theta` about `axis`.
fn rotation_matrix(axis: [f64; 3], theta: f64) -> [[f64; 3]; 3] {
    if axis.iter().map(|c| c.abs()).sum::<f64>() < 1e-6 || theta.abs() < 1e-6 {
        return [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    }
    let norm = axis.iter().map(|c| c * c).sum::<f64>().sqrt();
    let a = (theta / 2.0).cos();
    let sin = (theta / 2.0).sin();
    let [b, c, d] = axis.map(|x| -x / norm * sin);
    let (aa, bb, cc, dd) = (a * a, b * b, c * c, d * d);
    let (bc, ad, ac, ab, bd, cd) = (b * c, a * d, a * c, a * b, b * d, c * d);
    [
        [aa + bb - cc - dd, 2.0 * (bc + ad), 2.0 * (bd - ac)],
        [2.0 * (bc - ad), aa + cc - bb - dd, 2.0 * (cd + ab)],
        [2.0 * (bd + ac), 2.0 * (cd - ab), aa + dd - bb - cc],
    ]
}

/// Applies `r` to every joint of every non-empty frame of every non-empty slot.
fn rotate_all(s: &mut [Slot], r: &[[f64; 3]; 3]) {
    for slot in s.iter_mut() {
        if is_zero(slot) {
            continue;
        }
        for f in slot.chunks_exact_mut(POSE_LEN) {
            if is_zero(f) {
                continue;
            }
            for joint in f.chunks_exact_mut(3) {
                let p = [
                    f64::from(joint[0]),
                    f64::from(joint[1]),
                    f64::from(joint[2]),
                ];
                for (out, row) in joint.iter_mut().zip(r) {
                    *out = (row[0] * p[0] + row[1] * p[1] + row[2] * p[2]) as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_maps_vector_onto_target() {
        let v = [0.3f32, -0.2, 0.9];
        let r = align_matrix(v, [0.0, 0.0, 1.0]);
        let p: Vec<f64> = (0..3)
            .map(|i| (0..3).map(|k| r[i][k] * f64::from(v[k])).sum())
            .collect();
        let n = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt();
        assert!(
            p[0].abs() < 1e-6 && p[1].abs() < 1e-6 && (p[2] - n).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn padding_repeats_the_sequence() {
        let mut slot = vec![0.0; MAX_FRAMES * POSE_LEN];
        for t in 1..4 {
            slot[t * POSE_LEN] = t as f32;
        }
        pad_slot(&mut slot);
        // frames 1..4 moved to 0..3, then repeated
        let firsts: Vec<f32> = (0..7).map(|t| slot[t * POSE_LEN]).collect();
        assert_eq!(firsts, vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]);
        assert_eq!(slot[299 * POSE_LEN], [1.0, 2.0, 3.0][299 % 3]);
    }
}

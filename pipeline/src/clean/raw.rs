//! `raw`: every body track unmodified, for users who clean later.
//!
//! One actor slot per distinct body ID (first appearance order), every raw
//! frame (0-body frames included, as zeros); a body absent from a frame is
//! zeros there. Nothing is centred, padded or dropped.

use super::{distinct_ids, CleanError, Cleaned, POSE_LEN};
use crate::frames::Sequence;

/// Slots the raw preset holds (the `actors` column is a u8).
const MAX_ACTORS: usize = 255;
/// Values one raw sample may hold (64 MiB of floats): the output is frames x
/// body tracks, so a file of a few megabytes (a million empty frames and a
/// few hundred bodies) would otherwise ask for tens of gigabytes. The real
/// data's largest is below 2 million (about 700 frames of a handful of tracks).
pub const MAX_RAW_VALUES: usize = 1 << 24;

pub fn clean(seq: &Sequence) -> Result<Cleaned, CleanError> {
    let ids = distinct_ids(seq);
    if ids.len() > MAX_ACTORS {
        return Err(CleanError::TooManyBodies {
            bodies: ids.len(),
            max: MAX_ACTORS,
        });
    }
    let values = seq
        .num_frames()
        .saturating_mul(ids.len())
        .saturating_mul(POSE_LEN);
    if values > MAX_RAW_VALUES {
        return Err(CleanError::TooLarge {
            frames: seq.num_frames(),
            bodies: ids.len(),
            max: MAX_RAW_VALUES,
        });
    }
    let mut out = Cleaned::zeros(seq.num_frames(), ids.len());
    for (t, bodies) in seq.iter().enumerate() {
        for body in bodies {
            let m = ids
                .iter()
                .position(|&id| id == body.id)
                .expect("id collected above");
            if out.pose(t, m).iter().any(|&v| v != 0.0) {
                return Err(CleanError::DuplicateBody { id: body.id });
            }
            out.set_pose(t, m, &body.pose);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ntu;

    /// A 1.3 MB file (200 distinct bodies over its first 4 frames, then
    /// 600,000 empty frames) asked the raw preset for 600,000 x 200 x 75
    /// floats (36 GB).
    #[test]
    fn a_huge_frame_count_with_many_bodies_is_refused_not_allocated() {
        let frames = 600_000;
        let mut text = format!("{frames}\n");
        for first in [0, 50, 100, 150] {
            text += "50\n";
            for id in first..first + 50 {
                text += &format!("{id} 0 0 0 0 0 0 0 0 0\n25\n");
                text += &"0.1 0.2 3 0 0 0 0 0 0 0 0 2\n".repeat(25);
            }
        }
        text += &"0\n".repeat(frames - 4);
        assert!(text.len() < 2_000_000);
        let seq = ntu::to_sequence(&ntu::parse(text.as_bytes()).unwrap());
        let err = clean(&seq).unwrap_err();
        assert!(
            matches!(
                err,
                CleanError::TooLarge {
                    frames: 600_000,
                    bodies: 200,
                    ..
                }
            ),
            "{err}"
        );
    }
}

//! `raw`: every body track unmodified, for users who clean later.
//!
//! One actor slot per distinct body ID (first appearance order), every raw
//! frame (0-body frames included, as zeros); a body absent from a frame is
//! zeros there. Nothing is centred, padded or dropped.

use super::{distinct_ids, CleanError, Cleaned};
use crate::frames::Sequence;

/// Slots the raw preset holds (the `actors` column is a u8).
const MAX_ACTORS: usize = 255;

pub fn clean(seq: &Sequence) -> Result<Cleaned, CleanError> {
    let ids = distinct_ids(seq);
    if ids.len() > MAX_ACTORS {
        return Err(CleanError::TooManyBodies {
            bodies: ids.len(),
            max: MAX_ACTORS,
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

//! `stgcn`: yysijie/st-gcn `tools/ntu_gendata.py` + `read_xyz`.
//!
//! Per frame, the first two bodies in listing order fill actor slots 0 and 1
//! (body IDs are ignored, so a body may change slot between frames); frames
//! keep their index (0-body frames stay zero), the output is zero-padded to
//! 300 frames and nothing is normalised.
//!
//! Quirks reproduced: st-gcn parses the bodyID as a float, which merges IDs
//! above 2^53; that is harmless here because IDs are never used. A file of
//! more than 300 frames makes the reference fail (`could not broadcast`), so
//! it is rejected with [`CleanError::TooLong`].

use super::{dropped_except, too_long, CleanError, Cleaned, DropReason, MAX_FRAMES};
use crate::frames::Sequence;

pub fn clean(seq: &Sequence) -> Result<Cleaned, CleanError> {
    too_long(seq, "stgcn")?;
    let mut out = Cleaned::zeros(MAX_FRAMES, 2);
    out.valid_frames = seq.num_frames();
    let mut kept = Vec::new();
    for (t, bodies) in seq.iter().enumerate() {
        for (m, body) in bodies.iter().take(2).enumerate() {
            out.set_pose(t, m, &body.pose);
            if !kept.contains(&body.id) {
                kept.push(body.id);
            }
        }
    }
    out.dropped = dropped_except(seq, &kept, DropReason::NotSelected);
    Ok(out)
}

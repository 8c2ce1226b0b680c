//! Body cleaning: from the bodies of a raw sequence to at most two actors.
//!
//! Each preset reproduces one reference preprocessor, quirks included (each
//! quirk is named where it is reproduced); `../../tests/golden/` holds the
//! references' outputs and the tests compare against every one of them.

mod agcn;
pub mod ctrgcn;
mod raw;
mod stgcn;

use std::fmt;

use skel_schemas::{Dataset, Preset, COORDS, JOINTS};

use crate::frames::{Pose, Sequence};

/// Frames the reference presets pad to.
pub const MAX_FRAMES: usize = 300;

/// Values per actor per frame.
const POSE_LEN: usize = JOINTS * COORDS;

/// Why a preset could not produce a sample.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CleanError {
    #[error(
        "{frames} frames do not fit the {max} frames of the {preset} preset (the reference \
         fails on this file too); use the ctrgcn or raw preset to keep it"
    )]
    TooLong {
        preset: &'static str,
        frames: usize,
        max: usize,
    },
    #[error("all {frames} frames have 0 bodies: there is no skeleton to keep")]
    AllFramesEmpty { frames: usize },
    #[error(
        "no body is left after denoising (every body ID lasts {max_len} frames or fewer, \
         the reference's threshold is 11); use the raw or stgcn preset to keep it"
    )]
    NoBodyLeft { max_len: usize },
    #[error("body ID {id} is listed more than once in one frame")]
    DuplicateBody { id: u64 },
    #[error("the main actor has only zero coordinates")]
    ZeroActor,
    #[error("{bodies} distinct body IDs are more than the {max} actor slots the raw preset holds")]
    TooManyBodies { bodies: usize, max: usize },
    #[error(
        "{frames} frames x {bodies} body tracks are more than the {max} values the raw preset \
         holds in one sample (a damaged frame count?); use another preset to keep it"
    )]
    TooLarge {
        frames: usize,
        bodies: usize,
        max: usize,
    },
}

/// Why a body of the raw file is not in the output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DropReason {
    /// Present in this many frames only (ctrgcn: 11 or fewer).
    Length(usize),
    /// Share of frames whose x-spread exceeds 0.8 of the y-spread (ctrgcn: >= 0.69754).
    Spread(f64),
    /// Overlaps both actors in time (ctrgcn).
    Overlap,
    /// Never among the bodies the preset keeps (stgcn: first two listed; agcn: two most energetic).
    NotSelected,
}

/// A body of the raw file that the preset dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropped {
    pub id: u64,
    pub reason: DropReason,
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            DropReason::Length(n) => write!(f, "{}:length({n})", self.id),
            DropReason::Spread(r) => write!(f, "{}:spread({r:.3})", self.id),
            DropReason::Overlap => write!(f, "{}:overlap", self.id),
            DropReason::NotSelected => write!(f, "{}:not-selected", self.id),
        }
    }
}

/// The cleaned sample: `frames x actors x 25 x 3` values in `[t][m][v][xyz]` order.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    pub frames: usize,
    pub actors: usize,
    /// Frames that hold data; the rest (up to `frames`) is the preset's padding.
    pub valid_frames: usize,
    pub joints: Vec<f32>,
    /// Distinct body IDs in the raw sequence.
    pub bodies: usize,
    pub dropped: Vec<Dropped>,
}

impl Cleaned {
    fn zeros(frames: usize, actors: usize) -> Self {
        Self {
            frames,
            actors,
            valid_frames: frames,
            joints: vec![0.0; frames * actors * POSE_LEN],
            bodies: 0,
            dropped: Vec::new(),
        }
    }

    /// The 75 values of actor `m` in frame `t`.
    pub fn pose(&self, t: usize, m: usize) -> &[f32] {
        let at = (t * self.actors + m) * POSE_LEN;
        &self.joints[at..at + POSE_LEN]
    }

    fn pose_mut(&mut self, t: usize, m: usize) -> &mut [f32] {
        let at = (t * self.actors + m) * POSE_LEN;
        &mut self.joints[at..at + POSE_LEN]
    }

    fn set_pose(&mut self, t: usize, m: usize, pose: &Pose) {
        self.pose_mut(t, m).copy_from_slice(pose.as_flattened());
    }

    /// `drop_reasons` column text: `id:reason` joined by `;`.
    pub fn drop_reasons(&self) -> String {
        let mut s = String::new();
        for (i, d) in self.dropped.iter().enumerate() {
            if i > 0 {
                s.push(';');
            }
            s += &d.to_string();
        }
        s
    }
}

/// The reference implementation a preset reproduces for a dataset.
pub fn variant(preset: Preset, dataset: Dataset) -> &'static str {
    match (preset, dataset) {
        (Preset::Raw, _) => "raw",
        (Preset::Stgcn, _) => "stgcn",
        (Preset::Agcn, _) => "agcn",
        (Preset::Ctrgcn, Dataset::Ntu120) => "ctrgcn120",
        (Preset::Ctrgcn, _) => "ctrgcn60",
    }
}

/// Cleans a raw sequence with a preset.
pub fn clean(seq: &Sequence, preset: Preset, dataset: Dataset) -> Result<Cleaned, CleanError> {
    let mut out = match preset {
        Preset::Raw => raw::clean(seq)?,
        Preset::Stgcn => stgcn::clean(seq)?,
        Preset::Agcn => agcn::clean(seq)?,
        Preset::Ctrgcn => {
            let pad = if dataset == Dataset::Ntu120 {
                ctrgcn::LonePad::Duplicate
            } else {
                ctrgcn::LonePad::Zeros
            };
            ctrgcn::clean(seq, pad)?
        }
    };
    out.bodies = distinct_ids(seq).len();
    Ok(out)
}

/// Body IDs in order of first appearance.
pub fn distinct_ids(seq: &Sequence) -> Vec<u64> {
    let mut ids: Vec<u64> = Vec::new();
    for body in seq.bodies() {
        if !ids.contains(&body.id) {
            ids.push(body.id);
        }
    }
    ids
}

/// The IDs of `seq` not in `kept`, each dropped for `reason`.
fn dropped_except(seq: &Sequence, kept: &[u64], reason: DropReason) -> Vec<Dropped> {
    distinct_ids(seq)
        .into_iter()
        .filter(|id| !kept.contains(id))
        .map(|id| Dropped { id, reason })
        .collect()
}

fn too_long(seq: &Sequence, preset: &'static str) -> Result<(), CleanError> {
    if seq.num_frames() > MAX_FRAMES {
        return Err(CleanError::TooLong {
            preset,
            frames: seq.num_frames(),
            max: MAX_FRAMES,
        });
    }
    Ok(())
}

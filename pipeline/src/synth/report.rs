//! What a generation reports: files and bytes written, the damaged files,
//! the injected noise bodies and the ground truth of every file.

use super::DamageKind;

/// What a body track of an NTU file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// A person (1 or 2).
    Actor(u8),
    /// Noise: a body present in at most 11 frames.
    ShortGhost,
    /// Noise: a wide, flat object (x-spread > 0.8 x y-spread in every frame).
    FlatObject,
}

/// One body ID of an NTU file.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackTruth {
    pub body_id: u64,
    pub kind: TrackKind,
    /// 0-based frame of its first appearance; it is present in `frames`
    /// consecutive frames.
    pub first_frame: u32,
    pub frames: u32,
}

/// Ground truth of one written file.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleTruth {
    /// Path relative to the output directory.
    pub file: String,
    /// 0-based classes: one for NTU, one per action instance for PKU-MMD.
    pub classes: Vec<u16>,
    pub frames: u32,
    /// People in the scene (at most at once for PKU-MMD).
    pub actors: u8,
    /// Body tracks (NTU only).
    pub tracks: Vec<TrackTruth>,
    /// The name is on the official missing-skeleton list.
    pub missing_listed: bool,
}

/// A file written damaged.
#[derive(Debug, Clone, PartialEq)]
pub struct DamagedFile {
    pub file: String,
    pub kind: DamageKind,
}

/// A noise body injected into an NTU file.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseBody {
    pub file: String,
    pub body_id: u64,
    pub kind: TrackKind,
}

/// What a generation wrote; every list is sorted by file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SynthReport {
    pub files_written: u64,
    pub bytes_written: u64,
    pub damaged: Vec<DamagedFile>,
    pub noise_bodies: Vec<NoiseBody>,
    pub samples: Vec<SampleTruth>,
}

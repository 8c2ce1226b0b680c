//! `ctrgcn`: the microsoft/SGN pipeline as reused by CTR-GCN
//! (`get_raw_skes_data.py`, `get_raw_denoised_data.py`, `seq_transformation.py`).
//!
//! The stages are public so that tests can compare each with the reference:
//! [`read_tracks`] -> [`denoise`] -> [`translate`] -> [`align`].
//!
//! Quirks reproduced (each marked `QUIRK` where it happens):
//! - 0-body frames are dropped before anything else and do not count;
//! - a body's interval is its first valid frame plus one per appearance, so a
//!   body that skips frames is laid out as if it were contiguous;
//! - a file with a single body ID is never filtered (even an 8-frame body);
//! - bodies sharing exactly one frame with an actor count as not overlapping
//!   (`<= 0`), and the later write wins on that frame;
//! - actor 2's interval starts as `[0, 0]`, so its start never moves past 0;
//! - rows removed as missing are only removed in the several-bodies path;
//! - a lone actor's second slot is zeros for NTU-60 and a copy for NTU-120;
//! - sequences longer than 300 frames are not cut.
//!
//! The motion (sum of per-axis variances) is computed in float64 from the
//! float32 coordinates; the reference computes it in float32. It only orders
//! bodies, so only near-exact ties could differ.

use super::{CleanError, Cleaned, DropReason, Dropped, MAX_FRAMES, POSE_LEN};
use crate::frames::{Pose, Sequence};

/// `noise_len_thres`: bodies present in this many frames or fewer are noise.
pub const NOISE_LEN_THRES: usize = 11;
/// `noise_spr_thres1`: a frame is noisy when x-spread > this x y-spread.
pub const NOISE_SPR_THRES1: f64 = 0.8;
/// `noise_spr_thres2`: a body with this share of noisy frames or more is noise.
pub const NOISE_SPR_THRES2: f64 = 0.69754;

/// What fills the second slot when only one actor is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LonePad {
    /// NTU-60 `align_frames`: `[x, zeros]`.
    Zeros,
    /// NTU-120 `align_frames`: `[x, x]`.
    Duplicate,
}

/// All appearances of one body ID (`bodies_data[bodyID]` of the reference).
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    pub id: u64,
    /// First valid-frame index.
    pub start: usize,
    pub poses: Vec<Pose>,
    /// Sum of the per-axis variances of all joints of all frames (several-ID files only).
    pub motion: f64,
}

impl Track {
    /// Last row of the (compressed) interval.
    pub fn end(&self) -> usize {
        self.start + self.poses.len() - 1
    }
}

/// The tracks of a file and its number of valid (non-empty) frames.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracks {
    pub tracks: Vec<Track>,
    pub valid_frames: usize,
}

/// `get_raw_bodies_data`: groups bodies by ID in first-appearance order.
pub fn read_tracks(seq: &Sequence) -> Result<Tracks, CleanError> {
    let mut tracks: Vec<Track> = Vec::new();
    let mut valid = 0;
    for bodies in seq.iter() {
        // QUIRK: a 0-body frame is dropped and does not advance the valid-frame index.
        if bodies.is_empty() {
            continue;
        }
        for body in bodies {
            match tracks.iter_mut().find(|t| t.id == body.id) {
                // QUIRK: the interval grows by one per appearance, whatever frame it is in.
                Some(track) => track.poses.push(body.pose),
                None => tracks.push(Track {
                    id: body.id,
                    start: valid,
                    poses: vec![body.pose],
                    motion: 0.0,
                }),
            }
        }
        valid += 1;
    }
    if valid == 0 {
        return Err(CleanError::AllFramesEmpty {
            frames: seq.num_frames(),
        });
    }
    if tracks.len() > 1 {
        for track in &mut tracks {
            track.motion = motion(track.poses.iter());
        }
    }
    Ok(Tracks {
        tracks,
        valid_frames: valid,
    })
}

/// `np.sum(np.var(joints.reshape(-1, 3), axis=0))`.
fn motion<'a>(poses: impl Iterator<Item = &'a Pose> + Clone) -> f64 {
    let mut n = 0usize;
    let mut sum = [0f64; 3];
    for pose in poses.clone() {
        for joint in pose {
            for c in 0..3 {
                sum[c] += f64::from(joint[c]);
            }
            n += 1;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let mean = sum.map(|s| s / n as f64);
    let mut var = [0f64; 3];
    for pose in poses {
        for joint in pose {
            for c in 0..3 {
                let d = f64::from(joint[c]) - mean[c];
                var[c] += d * d;
            }
        }
    }
    var.iter().sum::<f64>() / n as f64
}

/// The denoised sequence: `rows` of 1 or 2 actors (75 or 150 values).
#[derive(Debug, Clone, PartialEq)]
pub struct Denoised {
    pub actors: usize,
    pub rows: Vec<f32>,
    pub dropped: Vec<Dropped>,
}

impl Denoised {
    pub fn width(&self) -> usize {
        self.actors * POSE_LEN
    }

    pub fn num_rows(&self) -> usize {
        self.rows.len() / self.width()
    }

    fn zeros(actors: usize, rows: usize) -> Self {
        Self {
            actors,
            rows: vec![0.0; actors * POSE_LEN * rows],
            dropped: Vec::new(),
        }
    }

    /// Writes a track into actor `m` at rows `start..=end` of its interval.
    fn write(&mut self, track: &Track, m: usize) -> Result<(), CleanError> {
        let width = self.width();
        if track.end() >= self.num_rows() {
            // The reference fails with a broadcast error here.
            return Err(CleanError::DuplicateBody { id: track.id });
        }
        for (i, pose) in track.poses.iter().enumerate() {
            let at = (track.start + i) * width + m * POSE_LEN;
            self.rows[at..at + POSE_LEN].copy_from_slice(pose.as_flattened());
        }
        Ok(())
    }

    /// `remove_missing_frames`: drops rows whose values are all zero.
    fn remove_missing_rows(&mut self) {
        let width = self.width();
        let rows = std::mem::take(&mut self.rows);
        self.rows = rows
            .chunks_exact(width)
            .filter(|r| r.iter().any(|&v| v != 0.0))
            .flatten()
            .copied()
            .collect();
    }
}

/// `get_raw_denoised_data`: at most two actors from the tracks.
pub fn denoise(tracks: Tracks) -> Result<Denoised, CleanError> {
    let Tracks {
        mut tracks,
        valid_frames,
    } = tracks;
    if tracks.len() == 1 {
        // QUIRK: a single body ID is the actor whatever its length or shape.
        let mut out = Denoised::zeros(1, valid_frames);
        out.write(&tracks[0], 0)?;
        return Ok(out);
    }
    let mut dropped = Vec::new();
    let max_len = tracks.iter().map(|t| t.poses.len()).max().unwrap_or(0);
    tracks.retain(|t| {
        let keep = t.poses.len() > NOISE_LEN_THRES;
        if !keep {
            dropped.push(Dropped {
                id: t.id,
                reason: DropReason::Length(t.poses.len()),
            });
        }
        keep
    });
    if tracks.len() > 1 {
        denoise_by_spread(&mut tracks, &mut dropped);
    }
    let mut out = match tracks.len() {
        // The reference fails with `IndexError: list index out of range`.
        0 => return Err(CleanError::NoBodyLeft { max_len }),
        1 => {
            let mut out = Denoised::zeros(1, valid_frames);
            out.write(&tracks[0], 0)?;
            out
        }
        _ => two_actors(tracks, valid_frames, &mut dropped)?,
    };
    out.remove_missing_rows();
    out.dropped = dropped;
    Ok(out)
}

/// `denoising_by_spread`, in first-appearance order, stopping at one body.
fn denoise_by_spread(tracks: &mut Vec<Track>, dropped: &mut Vec<Dropped>) {
    let mut i = 0;
    while i < tracks.len() && tracks.len() > 1 {
        let track = &mut tracks[i];
        let valid: Vec<&Pose> = track.poses.iter().filter(|p| !is_noisy_frame(p)).collect();
        let noise = track.poses.len() - valid.len();
        if noise == 0 {
            i += 1;
            continue;
        }
        let ratio = noise as f64 / track.poses.len() as f64;
        if ratio >= NOISE_SPR_THRES2 {
            dropped.push(Dropped {
                id: track.id,
                reason: DropReason::Spread(ratio),
            });
            tracks.remove(i);
        } else {
            track.motion = track.motion.min(motion(valid.into_iter()));
            i += 1;
        }
    }
}

/// A frame whose x-spread exceeds 0.8 of its y-spread (float32 spreads,
/// float64 product, as in the reference).
fn is_noisy_frame(pose: &Pose) -> bool {
    let spread = |c: usize| {
        let (lo, hi) = pose
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), j| {
                (lo.min(j[c]), hi.max(j[c]))
            });
        hi - lo
    };
    f64::from(spread(0)) > NOISE_SPR_THRES1 * f64::from(spread(1))
}

/// `get_two_actors_points` for two or more bodies.
fn two_actors(
    mut tracks: Vec<Track>,
    rows: usize,
    dropped: &mut Vec<Dropped>,
) -> Result<Denoised, CleanError> {
    // Python's sort with reverse=True is stable: equal motions keep file order.
    tracks.sort_by(|a, b| b.motion.total_cmp(&a.motion));
    let mut out = Denoised::zeros(2, rows);
    let first = &tracks[0];
    out.write(first, 0)?;
    let (mut start1, mut end1) = (first.start, first.end());
    // QUIRK: actor 2's interval starts as [0, 0].
    let (mut start2, mut end2) = (0usize, 0usize);
    let overlap = |s1: usize, e1: usize, s: usize, e: usize| e1.min(e) as i64 - s1.max(s) as i64;
    for track in &tracks[1..] {
        let (start, end) = (track.start, track.end());
        // QUIRK: `<= 0`, so one shared frame is no overlap and the later write wins.
        if overlap(start1, end1, start, end) <= 0 {
            out.write(track, 0)?;
            start1 = start1.min(start);
            end1 = end1.max(end);
        } else if overlap(start2, end2, start, end) <= 0 {
            out.write(track, 1)?;
            start2 = start2.min(start);
            end2 = end2.max(end);
        } else {
            dropped.push(Dropped {
                id: track.id,
                reason: DropReason::Overlap,
            });
        }
    }
    Ok(out)
}

/// `seq_translation`: subtracts actor 1's SpineMid of its first non-zero row
/// from every row; rows where an actor was all zero stay zero (150 wide only).
pub fn translate(denoised: &mut Denoised) -> Result<(), CleanError> {
    let width = denoised.width();
    let first = denoised
        .rows
        .chunks_exact(width)
        .position(|r| r[..POSE_LEN].iter().any(|&v| v != 0.0))
        .ok_or(CleanError::ZeroActor)?;
    let origin: [f32; 3] = std::array::from_fn(|c| denoised.rows[first * width + 3 + c]);
    for row in denoised.rows.chunks_exact_mut(width) {
        let missing: Vec<bool> = row
            .chunks_exact(POSE_LEN)
            .map(|a| a.iter().all(|&v| v == 0.0))
            .collect();
        for (i, v) in row.iter_mut().enumerate() {
            *v -= origin[i % 3];
        }
        // QUIRK: the reset happens for two-actor rows only.
        if missing.len() == 2 {
            for (actor, gone) in row.chunks_exact_mut(POSE_LEN).zip(missing) {
                if gone {
                    actor.fill(0.0);
                }
            }
        }
    }
    Ok(())
}

/// `align_frames`: two actor slots, zero-padded to 300 frames (longer kept).
pub fn align(denoised: &Denoised, pad: LonePad) -> Cleaned {
    let rows = denoised.num_rows();
    let mut out = Cleaned::zeros(rows.max(MAX_FRAMES), 2);
    out.valid_frames = rows;
    let width = denoised.width();
    for (t, row) in denoised.rows.chunks_exact(width).enumerate() {
        out.pose_mut(t, 0).copy_from_slice(&row[..POSE_LEN]);
        if denoised.actors == 2 {
            out.pose_mut(t, 1).copy_from_slice(&row[POSE_LEN..]);
        } else if pad == LonePad::Duplicate {
            out.pose_mut(t, 1).copy_from_slice(row);
        }
    }
    out
}

/// The whole preset.
pub fn clean(seq: &Sequence, pad: LonePad) -> Result<Cleaned, CleanError> {
    let mut denoised = denoise(read_tracks(seq)?)?;
    translate(&mut denoised)?;
    let mut out = align(&denoised, pad);
    out.dropped = denoised.dropped;
    Ok(out)
}

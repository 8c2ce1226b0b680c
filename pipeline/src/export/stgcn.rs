//! st-gcn's `tools/ntu_gendata.py` and 2s-AGCN's / MS-G3D's
//! `data_gen/ntu_gendata.py` (+ `gen_bone_data.py`, `gen_motion_data.py`):
//! per protocol a folder (`xsub`, `xview`; `xsub`, `xset` for NTU-120) with
//! `{train,val}_data.npy` (`_data_joint.npy` for 2s-AGCN) float32
//! `(N, C=3, T=300, V=25, M=2)` and `{train,val}_label.pkl`, the pickled
//! tuple `(sample_names, labels)` with names as the raw file names
//! (`S001C001P001R001A001.skeleton`) and 0-based labels. Samples are in
//! name order (st-gcn takes `os.listdir` order, which the file system
//! decides; MS-G3D sorts).

use std::io::{BufWriter, Write};

use skel_schemas::{BONES, JOINTS};

use super::pickle::Pickler;
use super::rows::RowReader;
use super::{Format, Job, Partition, Stream, TempFile, Written};
use crate::error::PipelineError;
use crate::npy;

/// Frames every sample is padded to (`max_frame`).
const FRAMES: usize = 300;
const ACTORS: usize = 2;
/// 2s-AGCN's NTU bone pairs (1-based, `gen_bone_data.py`): bone of joint
/// `a` = joint `a` - joint `b`; the skeleton's bones and the root (21)
/// paired with itself, so its bone is zero.
fn bone_pairs() -> impl Iterator<Item = &'static (usize, usize)> {
    BONES.iter().chain(&[(21, 21)])
}

/// The data files of one part (`train` or `val`), each with the streams it holds.
fn data_files(format: Format, streams: &[Stream], part: &str) -> Vec<(String, Vec<Stream>)> {
    if format == Format::Stgcn {
        return vec![(format!("{part}_data.npy"), vec![Stream::Joint])];
    }
    let mut bases: Vec<Stream> = streams
        .iter()
        .copied()
        .filter(|&s| s != Stream::Motion)
        .collect();
    if bases.is_empty() {
        bases.push(Stream::Joint);
    }
    bases.sort();
    bases.dedup();
    let name = |s: Stream| if s == Stream::Joint { "joint" } else { "bone" };
    let mut files: Vec<(String, Vec<Stream>)> = bases
        .iter()
        .map(|&s| (format!("{part}_data_{}.npy", name(s)), vec![s]))
        .collect();
    if streams.contains(&Stream::Motion) {
        for &s in &bases {
            files.push((
                format!("{part}_data_{}_motion.npy", name(s)),
                vec![s, Stream::Motion],
            ));
        }
    }
    files
}

pub fn write(
    job: &Job,
    reader: &mut RowReader,
    partitions: &[Partition],
    format: Format,
    streams: &[Stream],
) -> Result<Vec<Written>, PipelineError> {
    let mut targets = Vec::new();
    for partition in partitions {
        for part in ["train", "val"] {
            let dir = job.out.join(partition.label());
            targets.push(dir.join(format!("{part}_label.pkl")));
            for (file, _) in data_files(format, streams, part) {
                targets.push(dir.join(file));
            }
        }
    }
    job.check_targets(&targets)?;
    let mut written = Vec::new();
    for partition in partitions {
        let dir = job.out.join(partition.label());
        let (train, val) = partition.sets(job)?;
        for (part, chosen) in [("train", train), ("val", val)] {
            let label_path = dir.join(format!("{part}_label.pkl"));
            let (temp, file) = TempFile::create(&label_path)?;
            let io = super::io_error(temp.tmp());
            let mut pickle = Pickler::new(BufWriter::new(file)).map_err(io)?;
            let names: Vec<String> = chosen
                .iter()
                .map(|s| format!("{}.skeleton", s.record.sample))
                .collect();
            pickle
                .str_list(names.iter().map(String::as_str))
                .map_err(io)?;
            pickle
                .int_list(chosen.iter().map(|s| i64::from(s.record.label)))
                .map_err(io)?;
            pickle.tuple2().map_err(io)?;
            let file = pickle
                .finish()
                .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
                .map_err(io)?;
            let bytes = temp.commit(file)?;
            written.push(Written {
                path: label_path,
                rows: chosen.len() as u64,
                bytes,
            });

            let files = data_files(format, streams, part);
            let mut outs = Vec::new();
            for (name, kind) in &files {
                let path = dir.join(name);
                let (temp, file) = TempFile::create(&path)?;
                let mut out = BufWriter::with_capacity(1 << 20, file);
                out.write_all(&npy::header(
                    "<f4",
                    &[chosen.len(), 3, FRAMES, JOINTS, ACTORS],
                ))
                .map_err(super::io_error(temp.tmp()))?;
                outs.push((path, temp, out, kind.clone()));
            }
            let mut ctvm = vec![0f32; 3 * FRAMES * JOINTS * ACTORS];
            let mut derived = ctvm.clone();
            let mut bytes = Vec::new();
            reader.for_each(&chosen, |record| {
                super::check_row(record, ACTORS as u8)?;
                if record.frames as usize != FRAMES {
                    return Err(PipelineError::Usage(format!(
                        "sample {}: {} frames, where the {} preset pads every sample to {FRAMES}",
                        record.sample, record.frames, job.manifest.preset
                    )));
                }
                to_ctvm(&record.joints, &mut ctvm);
                for (_, temp, out, kind) in outs.iter_mut() {
                    derived.copy_from_slice(&ctvm);
                    if kind.contains(&Stream::Bone) {
                        bones(&ctvm, &mut derived);
                    }
                    if kind.contains(&Stream::Motion) {
                        motion(&mut derived);
                    }
                    bytes.clear();
                    for v in &derived {
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                    out.write_all(&bytes).map_err(super::io_error(temp.tmp()))?;
                }
                job.progress.rows_done(1);
                Ok(())
            })?;
            for (path, temp, out, _) in outs {
                let file = out
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .map_err(super::io_error(temp.tmp()))?;
                let bytes = temp.commit(file)?;
                written.push(Written {
                    path,
                    rows: chosen.len() as u64,
                    bytes,
                });
            }
        }
    }
    Ok(written)
}

fn at(c: usize, t: usize, v: usize, m: usize) -> usize {
    ((c * FRAMES + t) * JOINTS + v) * ACTORS + m
}

/// `[t][m][v][c]` to `(C, T, V, M)`.
fn to_ctvm(joints: &[f32], out: &mut [f32]) {
    for t in 0..FRAMES {
        for m in 0..ACTORS {
            for v in 0..JOINTS {
                for c in 0..3 {
                    out[at(c, t, v, m)] = joints[((t * ACTORS + m) * JOINTS + v) * 3 + c];
                }
            }
        }
    }
}

/// `gen_bone_data.py`: `bone[:, :, a] = joint[:, :, a] - joint[:, :, b]`.
fn bones(joints: &[f32], out: &mut [f32]) {
    for c in 0..3 {
        for t in 0..FRAMES {
            for &(a, b) in bone_pairs() {
                for m in 0..ACTORS {
                    out[at(c, t, a - 1, m)] =
                        joints[at(c, t, a - 1, m)] - joints[at(c, t, b - 1, m)];
                }
            }
        }
    }
}

/// `gen_motion_data.py`: frame `t` becomes frame `t+1` minus frame `t`; the
/// last frame is zero.
fn motion(data: &mut [f32]) {
    for c in 0..3 {
        for t in 0..FRAMES {
            for v in 0..JOINTS {
                for m in 0..ACTORS {
                    data[at(c, t, v, m)] = if t + 1 < FRAMES {
                        data[at(c, t + 1, v, m)] - data[at(c, t, v, m)]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

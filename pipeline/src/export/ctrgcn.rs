//! CTR-GCN's `NTU60_CS.npz`, `NTU60_CV.npz`, `NTU120_CSub.npz`,
//! `NTU120_CSet.npz`, as `data/ntu*/seq_transformation.py` writes them:
//! `x_train` / `x_test` float32 `(N, T, 150)`, `y_train` / `y_test`
//! one-hot float64 `(N, classes)`.
//!
//! - T is the longest sample of the whole dataset (`align_frames`:
//!   `frames_cnt.max()`, 300 on the real datasets), rows zero-padded to it.
//! - Order (`get_indices`): for each id of the training (test) list in the
//!   list's order, that id's samples in name order (`skes_available_name`).
//!   A sample whose id is on neither list is in neither set.
//! - A one-actor sample's second slot is already in the shard: zeros for
//!   NTU-60, a copy of actor 1 for NTU-120 (the `ctrgcn` preset's variants).

use std::io::Write;

use skel_schemas::{Dataset, Protocol, SampleRecord};

use super::npz::NpzWriter;
use super::rows::{RowReader, SampleInfo};
use super::{Job, Partition, TempFile, Written};
use crate::error::PipelineError;
use crate::npy;
use crate::split::protocol::{NTU120_EXTRA_TRAIN_SUBJECTS, NTU60_TRAIN_SUBJECTS};

/// Values per frame: 2 actors x 25 joints x xyz.
const FRAME_LEN: usize = 150;

/// Which id a protocol groups by, and its training and test ids in the
/// order of `get_indices`.
struct Lists {
    file: &'static str,
    id: fn(&SampleRecord) -> Option<u16>,
    train: Vec<u16>,
    test: Vec<u16>,
}

fn lists(dataset: Dataset, protocol: Protocol) -> Lists {
    let subject = |r: &SampleRecord| r.subject;
    let odd_even = |parity| (1..=32).filter(move |s| s % 2 == parity);
    match (dataset, protocol) {
        (Dataset::Ntu60, Protocol::CrossView) => Lists {
            file: "NTU60_CV.npz",
            id: |r| r.camera,
            train: vec![2, 3],
            test: vec![1],
        },
        (Dataset::Ntu60, _) => Lists {
            file: "NTU60_CS.npz",
            id: subject,
            train: NTU60_TRAIN_SUBJECTS.to_vec(),
            test: (1..=40)
                .filter(|s| !NTU60_TRAIN_SUBJECTS.contains(s))
                .collect(),
        },
        (_, Protocol::CrossSetup) => Lists {
            file: "NTU120_CSet.npz",
            id: |r| r.setup,
            train: odd_even(0).collect(),
            test: odd_even(1).collect(),
        },
        _ => {
            let train: Vec<u16> = NTU60_TRAIN_SUBJECTS
                .iter()
                .chain(&NTU120_EXTRA_TRAIN_SUBJECTS)
                .copied()
                .collect();
            Lists {
                file: "NTU120_CSub.npz",
                id: subject,
                test: (1..=106).filter(|s| !train.contains(s)).collect(),
                train,
            }
        }
    }
}

/// The samples of `ids`, id by id, each id's in name order.
fn ordered<'a>(samples: &'a [SampleInfo], lists: &Lists, ids: &[u16]) -> Vec<&'a SampleInfo> {
    ids.iter()
        .flat_map(|&id| {
            samples
                .iter()
                .filter(move |s| (lists.id)(&s.record) == Some(id))
        })
        .collect()
}

/// One npz to write: its file name, training and test samples in order.
struct Plan<'a> {
    file: String,
    train: Vec<&'a SampleInfo>,
    test: Vec<&'a SampleInfo>,
}

fn plan<'a>(job: &Job<'a>, partition: &Partition<'a>) -> Plan<'a> {
    match partition {
        Partition::Protocol(p) => {
            let lists = lists(job.manifest.dataset, *p);
            Plan {
                file: lists.file.to_owned(),
                train: ordered(job.samples, &lists, &lists.train),
                test: ordered(job.samples, &lists, &lists.test),
            }
        }
        Partition::Split { name, train, test } => Plan {
            file: format!("{name}.npz"),
            train: train.clone(),
            test: test.clone(),
        },
    }
}

pub fn write(
    job: &Job,
    reader: &mut RowReader,
    partitions: &[Partition],
) -> Result<Vec<Written>, PipelineError> {
    let plans: Vec<Plan> = partitions.iter().map(|p| plan(job, p)).collect();
    job.check_targets(
        &plans
            .iter()
            .map(|p| job.out.join(&p.file))
            .collect::<Vec<_>>(),
    )?;
    let frames = job
        .samples
        .iter()
        .map(|s| s.record.valid_frames as usize)
        .max()
        .unwrap_or(0);
    let classes = job.manifest.classes.len();
    let mut written = Vec::new();
    for Plan { file, train, test } in &plans {
        let path = job.out.join(file);
        let (temp, file) = TempFile::create(&path)?;
        let io = super::io_error(temp.tmp());
        let mut npz = NpzWriter::new(file);
        for (x, y, part) in [("x_train", "y_train", train), ("x_test", "y_test", test)] {
            npz.start(&format!("{x}.npy")).map_err(io)?;
            npz.write(&npy::header("<f4", &[part.len(), frames, FRAME_LEN]))
                .map_err(io)?;
            let mut bytes = Vec::with_capacity(frames * FRAME_LEN * 4);
            reader.for_each(part, |record| {
                super::check_row(record, 2)?;
                x_row(record, frames, &mut bytes);
                npz.write(&bytes).map_err(io)?;
                job.progress.rows_done(1);
                Ok(())
            })?;
            npz.finish_member().map_err(io)?;
            npz.start(&format!("{y}.npy")).map_err(io)?;
            npz.write(&npy::header("<f8", &[part.len(), classes]))
                .map_err(io)?;
            for sample in part.iter() {
                let label = usize::from(sample.record.label);
                let row: Vec<u8> = (0..classes)
                    .flat_map(|c| f64::from(u8::from(c == label)).to_le_bytes())
                    .collect();
                npz.write(&row).map_err(io)?;
            }
            npz.finish_member().map_err(io)?;
        }
        let mut file = npz.finish().map_err(io)?;
        file.flush().map_err(io)?;
        let bytes = temp.commit(file)?;
        written.push(Written {
            path,
            rows: (train.len() + test.len()) as u64,
            bytes,
        });
    }
    Ok(written)
}

/// One `x` row: the sample's first `frames` frames (already `[t][m][v][c]`,
/// two actor slots), zero frames after its own.
fn x_row(record: &SampleRecord, frames: usize, out: &mut Vec<u8>) {
    out.clear();
    let have = (record.frames as usize).min(frames) * FRAME_LEN;
    for v in &record.joints[..have] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.resize(frames * FRAME_LEN * 4, 0);
}

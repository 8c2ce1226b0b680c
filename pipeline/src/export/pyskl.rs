//! PySKL's 3D-skeleton annotation file (`ntu60_3danno.pkl`,
//! `ntu120_3danno.pkl`, as `tools/data/ntu_preproc.py` writes it): a pickled
//! dict of `split` (`xsub_train`, `xsub_val`, `xview_train`, ... : lists of
//! sample names) and `annotations`, one dict per sample in name order with
//! `frame_dir` (the sample name), `label` (0-based), `keypoint` float32
//! `(M, T, 25, 3)` and `total_frames` (T).
//!
//! T is the sample's `valid_frames` (the preset's padding is left out, as
//! `ntu_preproc.py` trims empty frames); M runs to the last actor slot that
//! holds data (1 when the second slot holds only zeros, else 2). Where this differs from `ntu_preproc.py`: that
//! script stores `keypoint` as float16 and applies its own variant of the
//! SGN denoising without centring; here the values are the dataset's preset
//! (`ctrgcn` is the closest), in float32.

use std::io::BufWriter;

use skel_schemas::Dataset;

use super::pickle::{Pickler, BATCH};
use super::rows::{RowReader, SampleInfo};
use super::{Job, Partition, TempFile, Written};
use crate::error::PipelineError;

/// Values of one actor in one frame.
const POSE: usize = 75;

pub fn write(
    job: &Job,
    reader: &mut RowReader,
    partitions: &[Partition],
) -> Result<Vec<Written>, PipelineError> {
    let dataset = job.manifest.dataset;
    let file_name = if dataset == Dataset::Ntu60 {
        "ntu60_3danno.pkl"
    } else {
        "ntu120_3danno.pkl"
    };
    let path = job.out.join(file_name);
    job.check_targets(std::slice::from_ref(&path))?;
    let (temp, file) = TempFile::create(&path)?;
    let io = super::io_error(temp.tmp());
    let mut p = Pickler::new(BufWriter::with_capacity(1 << 20, file)).map_err(io)?;
    p.start_dict().map_err(io)?;
    p.str("split").map_err(io)?;
    p.start_dict().map_err(io)?;
    for partition in partitions {
        let (train, val) = partition.sets(job)?;
        for (part, samples) in [("train", train), ("val", val)] {
            p.str(&format!("{}_{part}", partition.label()))
                .map_err(io)?;
            p.str_list(samples.iter().map(|s| s.record.sample.as_str()))
                .map_err(io)?;
        }
    }
    p.end_dict().map_err(io)?;
    p.str("annotations").map_err(io)?;
    p.start_list().map_err(io)?;
    let mut keypoint = Vec::new();
    let order: Vec<&SampleInfo> = job.samples.iter().collect();
    let mut done = 0;
    reader.for_each(&order, |record| {
        if done > 0 && done % BATCH == 0 {
            p.list_batch().map_err(io)?;
        }
        done += 1;
        super::check_row(record, record.actors)?;
        let frames = record.valid_frames as usize;
        let slots = usize::from(record.actors);
        let slot = |t: usize, m: usize| {
            let start = (t * slots + m) * POSE;
            &record.joints[start..start + POSE]
        };
        // Up to the last slot holding data (at least one).
        let actors = (1..slots)
            .rev()
            .find(|&m| (0..frames).any(|t| slot(t, m).iter().any(|&v| v != 0.0)))
            .map_or(1, |m| m + 1);
        keypoint.clear();
        for m in 0..actors {
            for t in 0..frames {
                keypoint.extend_from_slice(slot(t, m));
            }
        }
        p.start_dict().map_err(io)?;
        p.str("frame_dir").map_err(io)?;
        p.str(&record.sample).map_err(io)?;
        p.str("label").map_err(io)?;
        p.int(i64::from(record.label)).map_err(io)?;
        p.str("keypoint").map_err(io)?;
        p.f32_array(&[actors, frames, 25, 3], &keypoint)
            .map_err(io)?;
        p.str("total_frames").map_err(io)?;
        p.int(frames as i64).map_err(io)?;
        p.end_dict().map_err(io)?;
        job.progress.rows_done(1);
        Ok(())
    })?;
    p.end_list().map_err(io)?;
    p.end_dict().map_err(io)?;
    let file = p
        .finish()
        .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
        .map_err(io)?;
    let bytes = temp.commit(file)?;
    Ok(vec![Written {
        path,
        rows: job.samples.len() as u64,
        bytes,
    }])
}

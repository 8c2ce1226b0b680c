//! The samples of a converted dataset, indexed once from their metadata
//! and then read back one Parquet row group at a time in any order.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use skel_schemas::{from_record_batch, Manifest, SampleRecord};

use crate::error::PipelineError;
use crate::shard::read_shard;

/// Where a sample's row is, and what the export formats need to place it.
#[derive(Debug, Clone)]
pub struct SampleInfo {
    /// The row without its joints.
    pub record: SampleRecord,
    shard: usize,
    row_group: usize,
    row: usize,
}

/// Every sample of a dataset, sorted by sample name.
pub fn index(dir: &Path, manifest: &Manifest) -> Result<Vec<SampleInfo>, PipelineError> {
    let mut samples = Vec::new();
    for (shard, entry) in manifest.shards.iter().enumerate() {
        let path = Manifest::shard_path(dir, entry);
        let groups = open_metadata(&path)?
            .metadata()
            .row_groups()
            .iter()
            .map(|g| g.num_rows() as usize)
            .collect::<Vec<_>>();
        let rows = read_shard(&path, false)?;
        let mut locations = groups
            .iter()
            .enumerate()
            .flat_map(|(g, &n)| (0..n).map(move |r| (g, r)));
        for record in rows {
            let (row_group, row) = locations.next().ok_or_else(|| {
                PipelineError::Usage(format!(
                    "{}: more rows than its row groups hold (a damaged shard; run `skel-pipeline verify`)",
                    path.display()
                ))
            })?;
            samples.push(SampleInfo {
                record,
                shard,
                row_group,
                row,
            });
        }
    }
    samples.sort_by(|a, b| a.record.sample.cmp(&b.record.sample));
    Ok(samples)
}

fn open_metadata(path: &Path) -> Result<ArrowReaderMetadata, PipelineError> {
    let file = File::open(path).map_err(PipelineError::io(path))?;
    ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|source| {
        PipelineError::Parquet {
            path: path.to_owned(),
            source,
        }
    })
}

/// Row groups decoded ahead of the writer and waiting for it.
const AHEAD: usize = 2;

/// Reads rows with their joints in a given order, decoding each row group
/// once while consecutive samples stay inside it.
pub struct RowReader {
    paths: Vec<PathBuf>,
    /// Each shard's footer, read on first use.
    metadata: Vec<Option<ArrowReaderMetadata>>,
}

impl RowReader {
    pub fn new(dir: &Path, manifest: &Manifest) -> Self {
        Self {
            paths: manifest
                .shards
                .iter()
                .map(|s| Manifest::shard_path(dir, s))
                .collect(),
            metadata: vec![None; manifest.shards.len()],
        }
    }

    /// Calls `f` with each sample of `order` and its record, joints
    /// included, in that order. A second thread decodes the row groups the
    /// order needs ahead of `f` (at most `AHEAD` waiting), so decoding
    /// overlaps writing and memory holds a few row groups, whatever the
    /// dataset's size.
    pub fn for_each(
        &mut self,
        order: &[&SampleInfo],
        mut f: impl FnMut(&SampleRecord) -> Result<(), PipelineError>,
    ) -> Result<(), PipelineError> {
        let mut groups: Vec<(usize, usize)> =
            order.iter().map(|s| (s.shard, s.row_group)).collect();
        groups.dedup();
        for &(shard, _) in &groups {
            if self.metadata[shard].is_none() {
                self.metadata[shard] = Some(open_metadata(&self.paths[shard])?);
            }
        }
        let (paths, metadata) = (&self.paths, &self.metadata);
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel(AHEAD);
            scope.spawn(move || {
                for (shard, group) in groups {
                    let footer = metadata[shard].clone().expect("loaded above");
                    let rows = decode(&paths[shard], footer, group);
                    let failed = rows.is_err();
                    // A closed channel: the writer stopped on an error.
                    if tx.send(rows).is_err() || failed {
                        break;
                    }
                }
            });
            let mut current: Option<((usize, usize), Vec<SampleRecord>)> = None;
            for sample in order {
                let key = (sample.shard, sample.row_group);
                if current.as_ref().map(|(k, _)| *k) != Some(key) {
                    let rows = rx.recv().expect("one decoded row group per group change")?;
                    current = Some((key, rows));
                }
                let (_, rows) = current.as_ref().expect("just filled");
                let record = &rows[sample.row];
                if record.sample != sample.record.sample {
                    return Err(PipelineError::Usage(format!(
                        "{}: row {} of row group {} is {}, not {} (the shard changed since it was indexed)",
                        paths[sample.shard].display(),
                        sample.row,
                        sample.row_group,
                        record.sample,
                        sample.record.sample
                    )));
                }
                f(record)?;
            }
            Ok(())
        })
    }
}

/// Every row of one row group, joints included.
fn decode(
    path: &Path,
    metadata: ArrowReaderMetadata,
    group: usize,
) -> Result<Vec<SampleRecord>, PipelineError> {
    let parquet_err = |source| PipelineError::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(PipelineError::io(path))?;
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
        .with_row_groups(vec![group])
        .with_batch_size(crate::shard::ROW_GROUP_ROWS)
        .build()
        .map_err(parquet_err)?;
    let mut rows = Vec::new();
    for batch in reader {
        let arrow_err = |source| PipelineError::Arrow {
            path: path.to_owned(),
            source,
        };
        let batch = batch.map_err(arrow_err)?;
        rows.extend(from_record_batch(&batch).map_err(arrow_err)?);
    }
    Ok(rows)
}

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

/// Reads rows with their joints, decoding each row group once while
/// consecutive requests stay inside it (one row group in memory).
pub struct RowReader {
    paths: Vec<PathBuf>,
    /// Each shard's footer, read on first use.
    metadata: Vec<Option<ArrowReaderMetadata>>,
    cached: Option<((usize, usize), Vec<SampleRecord>)>,
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
            cached: None,
        }
    }

    /// The record of `sample`, joints included.
    pub fn get(&mut self, sample: &SampleInfo) -> Result<&SampleRecord, PipelineError> {
        let key = (sample.shard, sample.row_group);
        if self.cached.as_ref().map(|(k, _)| *k) != Some(key) {
            self.cached = None;
            let rows = self.decode(sample.shard, sample.row_group)?;
            self.cached = Some((key, rows));
        }
        let (_, rows) = self.cached.as_ref().expect("just filled");
        let record = &rows[sample.row];
        if record.sample != sample.record.sample {
            return Err(PipelineError::Usage(format!(
                "{}: row {} of row group {} is {}, not {} (the shard changed since it was indexed)",
                self.paths[sample.shard].display(),
                sample.row,
                sample.row_group,
                record.sample,
                sample.record.sample
            )));
        }
        Ok(record)
    }

    fn decode(&mut self, shard: usize, group: usize) -> Result<Vec<SampleRecord>, PipelineError> {
        let path = &self.paths[shard];
        let metadata = match &self.metadata[shard] {
            Some(m) => m.clone(),
            None => self.metadata[shard].insert(open_metadata(path)?).clone(),
        };
        let parquet_err = |source| PipelineError::Parquet {
            path: path.clone(),
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
                path: path.clone(),
                source,
            };
            let batch = batch.map_err(arrow_err)?;
            rows.extend(from_record_batch(&batch).map_err(arrow_err)?);
        }
        Ok(rows)
    }
}

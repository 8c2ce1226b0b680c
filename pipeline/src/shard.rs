//! Parquet shards: written under a temporary name with their SHA-256 computed
//! on the fly, renamed when complete; read back whole or column-projected.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};
use skel_schemas::{
    col, from_record_batch, sample_schema, to_record_batch, SampleRecord, ShardEntry,
};

use crate::error::PipelineError;

/// Rows per Parquet row group: small enough to stream (a 300-frame,
/// two-actor row is 180 kB of floats), large enough to compress well.
pub const ROW_GROUP_ROWS: usize = 64;
/// Rows handed to the Parquet writer at once (a row group takes several).
const WRITE_BATCH_ROWS: usize = 8;
/// Identifies the writer inside each file; fixed so output is reproducible.
const CREATED_BY: &str = concat!("skel-pipeline ", env!("CARGO_PKG_VERSION"));

/// A `Write` that hashes and counts what passes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn properties() -> WriterProperties {
    let joints = ColumnPath::new(vec![col::JOINTS.into(), "list".into(), "item".into()]);
    WriterProperties::builder()
        .set_created_by(CREATED_BY.into())
        // Level 1 rather than 3: on byte-split floats it compresses as well
        // (596 generated NTU-60 files: 14.23 MB against 14.30 MB), costs a
        // tenth less conversion CPU, and reads as fast (pyarrow, one thread).
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // Float coordinates compress far better split by byte than dictionary-coded.
        .set_column_dictionary_enabled(joints.clone(), false)
        // Min/max of coordinates help no reader; computing them costs time.
        .set_column_statistics_enabled(joints.clone(), EnabledStatistics::None)
        .set_column_encoding(joints, Encoding::BYTE_STREAM_SPLIT)
        .build()
}

/// Writes one shard under a temporary name; [`finish`](Self::finish) renames
/// it into place, and a writer dropped before that removes its temporary file.
pub struct ShardWriter {
    tmp: PathBuf,
    path: PathBuf,
    writer: Option<ArrowWriter<HashingWriter<BufWriter<File>>>>,
    rows: u64,
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        if self.writer.is_some() {
            // Unfinished (an error on the way): leave nothing partial behind.
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

impl ShardWriter {
    /// Starts `dir/file` as `dir/.file.tmp`.
    pub fn create(dir: &Path, file: &str) -> Result<Self, PipelineError> {
        let path = dir.join(file);
        let tmp = dir.join(format!(".{file}.tmp"));
        let out = File::create(&tmp).map_err(PipelineError::io(&tmp))?;
        let sink = HashingWriter {
            inner: BufWriter::with_capacity(1 << 20, out),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let writer =
            ArrowWriter::try_new(sink, sample_schema(), Some(properties())).map_err(|source| {
                PipelineError::Parquet {
                    path: tmp.clone(),
                    source,
                }
            })?;
        Ok(Self {
            tmp,
            path,
            writer: Some(writer),
            rows: 0,
        })
    }

    fn parquet_error(&self) -> impl FnOnce(parquet::errors::ParquetError) -> PipelineError + '_ {
        |source| PipelineError::Parquet {
            path: self.tmp.clone(),
            source,
        }
    }

    /// Appends rows (written as one row group).
    pub fn write(&mut self, records: &[SampleRecord]) -> Result<(), PipelineError> {
        let mut writer = self.writer.take().expect("open until finished");
        let written = self.write_batches(&mut writer, records);
        self.writer = Some(writer);
        written?;
        self.rows += records.len() as u64;
        Ok(())
    }

    /// Hands the rows to the Parquet writer a few at a time, then closes the
    /// row group: the writer's working copies of a batch (the joints, their
    /// levels and value indices, several bytes per value) then stay a few
    /// megabytes, reused from batch to batch, rather than growing with the
    /// row group (half the page faults of a conversion, `perf`).
    fn write_batches(
        &self,
        writer: &mut ArrowWriter<HashingWriter<BufWriter<File>>>,
        records: &[SampleRecord],
    ) -> Result<(), PipelineError> {
        for chunk in records.chunks(WRITE_BATCH_ROWS) {
            let batch = to_record_batch(chunk).map_err(|source| PipelineError::Arrow {
                path: self.tmp.clone(),
                source,
            })?;
            writer.write(&batch).map_err(self.parquet_error())?;
        }
        writer.flush().map_err(self.parquet_error())
    }

    /// Closes, syncs and renames the shard into place.
    pub fn finish(mut self) -> Result<ShardEntry, PipelineError> {
        let writer = self.writer.take().expect("open until finished");
        let tmp = self.tmp.clone();
        let cleanup = |source: std::io::Error| {
            let _ = std::fs::remove_file(&tmp);
            PipelineError::Io {
                path: tmp.clone(),
                source,
            }
        };
        let sink = match writer.into_inner() {
            Ok(sink) => sink,
            Err(source) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(PipelineError::Parquet {
                    path: tmp.clone(),
                    source,
                });
            }
        };
        let HashingWriter {
            inner,
            hasher,
            bytes,
        } = sink;
        let file = inner.into_inner().map_err(|e| cleanup(e.into_error()))?;
        file.sync_all().map_err(cleanup)?;
        std::fs::rename(&tmp, &self.path).map_err(cleanup)?;
        Ok(ShardEntry {
            file: self
                .path
                .file_name()
                .expect("shard has a file name")
                .to_string_lossy()
                .into_owned(),
            rows: self.rows,
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    }
}

/// Reads every row of a shard; `with_joints: false` skips the joint data.
pub fn read_shard(path: &Path, with_joints: bool) -> Result<Vec<SampleRecord>, PipelineError> {
    let parquet_err = |source| PipelineError::Parquet {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(PipelineError::io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet_err)?;
    let builder = if with_joints {
        builder
    } else {
        let schema = builder.parquet_schema();
        let leaves: Vec<usize> = (0..schema.num_columns())
            .filter(|&i| schema.column(i).path().parts()[0] != col::JOINTS)
            .collect();
        let mask = ProjectionMask::leaves(schema, leaves);
        builder.with_projection(mask)
    };
    let reader = builder
        .with_batch_size(ROW_GROUP_ROWS)
        .build()
        .map_err(parquet_err)?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|source| PipelineError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        rows.extend(
            from_record_batch(&batch).map_err(|source| PipelineError::Arrow {
                path: path.to_owned(),
                source,
            })?,
        );
    }
    Ok(rows)
}

/// SHA-256 (hex) and size of a file, streamed.
pub fn hash_file(path: &Path) -> Result<(String, u64), PipelineError> {
    let mut file = File::open(path).map_err(PipelineError::io(path))?;
    let mut hasher = HashingWriter {
        inner: std::io::sink(),
        hasher: Sha256::new(),
        bytes: 0,
    };
    std::io::copy(&mut file, &mut hasher).map_err(PipelineError::io(path))?;
    Ok((hex::encode(hasher.hasher.finalize()), hasher.bytes))
}

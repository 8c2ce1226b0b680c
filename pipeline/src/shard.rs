//! Parquet shards: written under a temporary name with their SHA-256 computed
//! on the fly, renamed when complete; read back whole or column-projected.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::arrow_writer::{compute_leaves, ArrowRowGroupWriterFactory};
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::data_type::FloatType;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;
use sha2::{Digest, Sha256};
use skel_schemas::{
    col, from_record_batch, metadata_columns, sample_schema, SampleRecord, ShardEntry,
};

use crate::error::PipelineError;

/// Rows per Parquet row group: small enough to stream (a 300-frame,
/// two-actor row is 180 kB of floats), large enough to compress well.
pub const ROW_GROUP_ROWS: usize = 64;
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

/// The file under a shard being written: hashed and counted on the way.
type Sink = HashingWriter<BufWriter<File>>;

/// Writes one shard under a temporary name; [`finish`](Self::finish) renames
/// it into place, and a writer dropped before that removes its temporary file.
///
/// The file is laid out by Arrow's Parquet writer (schema, Arrow metadata,
/// properties), and the metadata columns go through it; the `joints` column
/// is written straight to Parquet's column writer, one sample at a time, with
/// repetition and definition levels made once. Arrow's path would copy the
/// batch's joints into one array, build their levels and an index of every
/// value (eight bytes per value), and copy the values again through that
/// index: a tenth of a conversion (`perf`). The bytes written are the same
/// (tested).
pub struct ShardWriter {
    tmp: PathBuf,
    path: PathBuf,
    writer: Option<SerializedFileWriter<Sink>>,
    columns: ArrowRowGroupWriterFactory,
    row_groups: usize,
    rows: u64,
    /// Repetition levels of one sample's joints: 0 (a new row), then 1s.
    repetition: Vec<i16>,
    /// Definition levels of one sample's joints: all 1 (a value is there).
    definition: Vec<i16>,
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
        let parquet_error = |source| PipelineError::Parquet {
            path: tmp.clone(),
            source,
        };
        let (writer, columns) = ArrowWriter::try_new(sink, sample_schema(), Some(properties()))
            .and_then(ArrowWriter::into_serialized_writer)
            .map_err(parquet_error)?;
        Ok(Self {
            tmp,
            path,
            writer: Some(writer),
            columns,
            row_groups: 0,
            rows: 0,
            repetition: Vec::new(),
            definition: Vec::new(),
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
        let longest = records.iter().map(|r| r.joints.len()).max().unwrap_or(0);
        if self.definition.len() < longest {
            self.definition.resize(longest, 1);
            self.repetition.resize(longest, 1);
            self.repetition[0] = 0;
        }
        let mut writer = self.writer.take().expect("open until finished");
        let written = self.write_row_group(&mut writer, records);
        self.writer = Some(writer);
        written.map_err(self.parquet_error())?;
        self.row_groups += 1;
        self.rows += records.len() as u64;
        Ok(())
    }

    fn write_row_group(
        &self,
        writer: &mut SerializedFileWriter<Sink>,
        records: &[SampleRecord],
    ) -> parquet::errors::Result<()> {
        let schema = sample_schema();
        let mut leaves = self.columns.create_column_writers(self.row_groups)?;
        // The last leaf is the joints', written below.
        leaves.pop();
        for ((field, array), leaf) in schema
            .fields()
            .iter()
            .zip(metadata_columns(records))
            .zip(&mut leaves)
        {
            for column in compute_leaves(field, &array)? {
                leaf.write(&column)?;
            }
        }
        let mut group = writer.next_row_group()?;
        for leaf in leaves {
            leaf.close()?.append_to_row_group(&mut group)?;
        }
        let mut joints = group.next_column()?.expect("the joints column comes last");
        let values = joints.typed::<FloatType>();
        for record in records {
            let n = record.joints.len();
            if n == 0 {
                // An empty list: one level saying so, no value.
                values.write_batch(&[], Some(&[0]), Some(&[0]))?;
            } else {
                values.write_batch(
                    &record.joints,
                    Some(&self.definition[..n]),
                    Some(&self.repetition[..n]),
                )?;
            }
        }
        joints.close()?;
        group.close()?;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use skel_schemas::to_record_batch;

    /// Rows of every shape: optional columns set and unset, joints of
    /// different lengths, an empty list.
    fn records() -> Vec<SampleRecord> {
        (0..150u16)
            .map(|i| SampleRecord {
                sample: format!("S001C001P{i:03}R001A001"),
                dataset: "ntu60".into(),
                source: format!("raw/{i}.skeleton"),
                setup: (i % 3 != 0).then_some(i),
                start_frame: (i % 5 == 0).then_some(u32::from(i)),
                action: i % 60 + 1,
                label: i % 60,
                frames: u32::from(i % 7),
                drop_reasons: if i % 4 == 0 {
                    "noise".into()
                } else {
                    String::new()
                },
                joints: (0..usize::from(i % 7) * 150)
                    .map(|k| (k as f32 * 0.37 + f32::from(i)).sin())
                    .collect(),
                ..SampleRecord::default()
            })
            .collect()
    }

    /// The shard writer's bytes are Arrow's Parquet writer's, fed the same
    /// rows as record batches, one row group per write.
    #[test]
    fn shards_are_byte_for_byte_what_arrows_writer_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let rows = records();
        let mut ours = ShardWriter::create(dir, "ours.parquet").unwrap();
        for group in rows.chunks(ROW_GROUP_ROWS) {
            ours.write(group).unwrap();
        }
        let entry = ours.finish().unwrap();
        assert_eq!(entry.rows, rows.len() as u64);

        let mut arrow = ArrowWriter::try_new(
            File::create(dir.join("arrow.parquet")).unwrap(),
            sample_schema(),
            Some(properties()),
        )
        .unwrap();
        for group in rows.chunks(ROW_GROUP_ROWS) {
            arrow.write(&to_record_batch(group).unwrap()).unwrap();
            arrow.flush().unwrap();
        }
        arrow.close().unwrap();

        let ours = std::fs::read(dir.join("ours.parquet")).unwrap();
        let theirs = std::fs::read(dir.join("arrow.parquet")).unwrap();
        assert_eq!(ours.len() as u64, entry.bytes);
        assert!(
            ours == theirs,
            "{} against {} bytes",
            ours.len(),
            theirs.len()
        );
        assert_eq!(read_shard(&dir.join("ours.parquet"), true).unwrap(), rows);
    }
}

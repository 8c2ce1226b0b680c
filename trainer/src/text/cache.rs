//! The class features of one (dataset, encoder, mode, weights) as a Parquet
//! file: one row per class (`class`, `name`, `mode`, `feature`), the cache
//! key in the file's metadata. Written under a temporary name, then renamed.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder, UInt16Builder};
use arrow_array::{Array, Float32Array, ListArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// The metadata entry holding the cache key.
const KEY: &str = "skel.text_features.key";

pub fn schema() -> SchemaRef {
    let list = DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
    Arc::new(Schema::new(vec![
        Field::new("class", DataType::UInt16, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("mode", DataType::Utf8, false),
        Field::new("feature", list, false),
    ]))
}

/// Writes one row per class (`names[i]`, `rows[i]`) with `key` in the metadata.
pub fn write(
    path: &Path,
    key: &str,
    mode: &str,
    names: &[String],
    rows: &[Vec<f32>],
) -> anyhow::Result<()> {
    let mut class = UInt16Builder::new();
    let mut name = StringBuilder::new();
    let mut modes = StringBuilder::new();
    let mut feature = ListBuilder::new(Float32Builder::new());
    for (i, (n, row)) in names.iter().zip(rows).enumerate() {
        class.append_value(u16::try_from(i).context("more than 65,535 classes")?);
        name.append_value(n);
        modes.append_value(mode);
        feature.values().append_slice(row);
        feature.append(true);
    }
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(class.finish()),
            Arc::new(name.finish()),
            Arc::new(modes.finish()),
            Arc::new(feature.finish()),
        ],
    )?;
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(KEY.into(), key.to_owned())]))
        .build();
    let tmp = path.with_extension("parquet.tmp");
    let write = || -> anyhow::Result<()> {
        let mut writer = ArrowWriter::try_new(File::create(&tmp)?, schema(), Some(props))?;
        writer.write(&batch)?;
        writer.close()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    };
    write().with_context(|| format!("cannot write text features {}", path.display()))
}

/// The feature rows of a cache file, if it was written for `key`.
pub fn read(path: &Path, key: &str) -> anyhow::Result<Vec<Vec<f32>>> {
    let read = || -> anyhow::Result<Vec<Vec<f32>>> {
        let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?;
        let found = builder
            .metadata()
            .file_metadata()
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|e| e.key == KEY))
            .and_then(|e| e.value.clone());
        if found.as_deref() != Some(key) {
            bail!("written for key {found:?}, not {key}");
        }
        let mut rows = Vec::new();
        for batch in builder.build()? {
            let batch = batch?;
            let list = batch
                .column_by_name("feature")
                .and_then(|c| c.as_any().downcast_ref::<ListArray>())
                .context("no list column `feature`")?;
            for i in 0..list.len() {
                let values = list.value(i);
                let values = values
                    .as_any()
                    .downcast_ref::<Float32Array>()
                    .context("`feature` is not a list of float32")?;
                rows.push(values.values().to_vec());
            }
        }
        let width = rows.first().map_or(0, Vec::len);
        if let Some(i) = rows.iter().position(|r| r.is_empty() || r.len() != width) {
            bail!(
                "row {i} has {} values, row 0 has {width}: the file is damaged",
                rows[i].len()
            );
        }
        Ok(rows)
    };
    read().with_context(|| format!("text features cache {}", path.display()))
}

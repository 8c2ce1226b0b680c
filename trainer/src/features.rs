//! The extracted features of a run: one Parquet row per (sample, split part)
//! with the pooled skeleton feature f_x and the seen-class logits.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder, UInt16Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;

/// One row of `features.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureRow {
    pub sample: String,
    /// 0-based class index of the dataset.
    pub label: u16,
    /// The split part: `train_seen`, `test_seen`, `test_unseen`, `validation_*`.
    pub part: String,
    pub feature: Vec<f32>,
    pub seen_logits: Vec<f32>,
}

pub fn schema() -> SchemaRef {
    let list = || DataType::List(Arc::new(Field::new("item", DataType::Float32, true)));
    Arc::new(Schema::new(vec![
        Field::new("sample", DataType::Utf8, false),
        Field::new("label", DataType::UInt16, false),
        Field::new("part", DataType::Utf8, false),
        Field::new("feature", list(), false),
        Field::new("seen_logits", list(), false),
    ]))
}

/// Writes the rows to `path` (temporary name, then rename).
pub fn write(path: &Path, rows: &[FeatureRow]) -> anyhow::Result<()> {
    let mut sample = StringBuilder::new();
    let mut label = UInt16Builder::new();
    let mut part = StringBuilder::new();
    let mut feature = ListBuilder::new(Float32Builder::new());
    let mut logits = ListBuilder::new(Float32Builder::new());
    for r in rows {
        sample.append_value(&r.sample);
        label.append_value(r.label);
        part.append_value(&r.part);
        feature.values().append_slice(&r.feature);
        feature.append(true);
        logits.values().append_slice(&r.seen_logits);
        logits.append(true);
    }
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(sample.finish()),
            Arc::new(label.finish()),
            Arc::new(part.finish()),
            Arc::new(feature.finish()),
            Arc::new(logits.finish()),
        ],
    )?;
    let tmp = path.with_extension("parquet.tmp");
    let mut writer = ArrowWriter::try_new(File::create(&tmp)?, schema(), None)?;
    writer.write(&batch)?;
    writer.close()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Reads the rows written by [`write`].
pub fn read(path: &Path) -> anyhow::Result<Vec<FeatureRow>> {
    let file = File::open(path).with_context(|| {
        format!(
            "cannot open {}: run `skel-trainer extract` for this split first",
            path.display()
        )
    })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .with_context(|| format!("{} is not a Parquet file", path.display()))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.with_context(|| format!("reading {}", path.display()))?;
        if batch.schema().fields() != schema().fields() {
            anyhow::bail!(
                "{} does not have the columns of a features file (sample, label, part, feature, seen_logits)",
                path.display()
            );
        }
        let sample = batch.column(0).as_string::<i32>();
        let label = batch.column(1).as_primitive::<UInt16Type>();
        let part = batch.column(2).as_string::<i32>();
        let feature = batch.column(3).as_list::<i32>();
        let logits = batch.column(4).as_list::<i32>();
        let floats = |list: &arrow_array::ListArray, i: usize| -> Vec<f32> {
            list.value(i)
                .as_primitive::<Float32Type>()
                .values()
                .to_vec()
        };
        for i in 0..batch.num_rows() {
            rows.push(FeatureRow {
                sample: sample.value(i).to_owned(),
                label: label.value(i),
                part: part.value(i).to_owned(),
                feature: floats(feature, i),
                seen_logits: floats(logits, i),
            });
        }
    }
    // One extractor wrote the file: every feature and every logit row as wide
    // as the first (imported training rows carry no logits).
    if let Some(first) = rows.first() {
        let width = first.feature.len();
        let logits = rows
            .iter()
            .map(|r| r.seen_logits.len())
            .find(|&n| n > 0)
            .unwrap_or(0);
        if let Some(r) = rows.iter().find(|r| {
            r.feature.len() != width || (r.seen_logits.len() != logits && !r.seen_logits.is_empty())
        }) {
            anyhow::bail!(
                "{}: sample {} has a {}-d feature and {} seen logits, sample {} has {width} and {logits}: \
                 the file is damaged or mixes extractors; remove it and extract again",
                path.display(),
                r.sample,
                r.feature.len(),
                r.seen_logits.len(),
                first.sample
            );
        }
    }
    Ok(rows)
}

//! The extracted features of a run: one Parquet row per (sample, split part)
//! with the pooled skeleton feature f_x and the seen-class logits.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder, StringBuilder, UInt16Builder};
use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
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

//! One sample row in memory, and its conversion to and from Arrow batches of
//! [`sample_schema`](crate::sample_schema).

use std::sync::Arc;

use arrow_array::builder::{StringBuilder, UInt16Builder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{Array, ArrayRef, Float32Array, ListArray, RecordBatch, UInt64Array, UInt8Array};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{ArrowError, DataType};

use crate::sample::{col, sample_schema};

/// A sample as stored in a shard; see `schemas/README.md` for each column.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SampleRecord {
    pub sample: String,
    pub dataset: String,
    pub source: String,
    pub setup: Option<u16>,
    pub camera: Option<u16>,
    pub subject: Option<u16>,
    pub replication: Option<u16>,
    pub action: u16,
    pub label: u16,
    pub frames: u32,
    pub valid_frames: u32,
    pub raw_frames: u32,
    pub start_frame: Option<u32>,
    pub empty_frames: u32,
    pub actors: u8,
    pub bodies: u16,
    pub bodies_dropped: u16,
    pub drop_reasons: String,
    pub raw_bytes: u64,
    /// `frames x actors x 25 x 3` values, `[t][m][v][xyz]`; empty when the
    /// column was not read.
    pub joints: Vec<f32>,
}

/// Builds one Arrow batch of the sample schema.
pub fn to_record_batch(records: &[SampleRecord]) -> Result<RecordBatch, ArrowError> {
    let mut columns = metadata_columns(records);
    columns.push(joints_column(records)?);
    RecordBatch::try_new(sample_schema(), columns)
}

/// Every column of the sample schema but the last, `joints`, in schema
/// order (for writers that write the joints themselves).
pub fn metadata_columns(records: &[SampleRecord]) -> Vec<ArrayRef> {
    let strings = |f: fn(&SampleRecord) -> &str| -> ArrayRef {
        let mut b = StringBuilder::with_capacity(records.len(), records.len() * 24);
        records.iter().for_each(|r| b.append_value(f(r)));
        Arc::new(b.finish())
    };
    let u16s = |f: fn(&SampleRecord) -> Option<u16>| -> ArrayRef {
        let mut b = UInt16Builder::with_capacity(records.len());
        records.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    };
    let u32s = |f: fn(&SampleRecord) -> Option<u32>| -> ArrayRef {
        let mut b = UInt32Builder::with_capacity(records.len());
        records.iter().for_each(|r| b.append_option(f(r)));
        Arc::new(b.finish())
    };
    vec![
        strings(|r| &r.sample),
        strings(|r| &r.dataset),
        strings(|r| &r.source),
        u16s(|r| r.setup),
        u16s(|r| r.camera),
        u16s(|r| r.subject),
        u16s(|r| r.replication),
        u16s(|r| Some(r.action)),
        u16s(|r| Some(r.label)),
        u32s(|r| Some(r.frames)),
        u32s(|r| Some(r.valid_frames)),
        u32s(|r| Some(r.raw_frames)),
        u32s(|r| r.start_frame),
        u32s(|r| Some(r.empty_frames)),
        Arc::new(UInt8Array::from_iter_values(
            records.iter().map(|r| r.actors),
        )),
        u16s(|r| Some(r.bodies)),
        u16s(|r| Some(r.bodies_dropped)),
        strings(|r| &r.drop_reasons),
        Arc::new(UInt64Array::from_iter_values(
            records.iter().map(|r| r.raw_bytes),
        )),
    ]
}

/// The `joints` column of the records.
fn joints_column(records: &[SampleRecord]) -> Result<ArrayRef, ArrowError> {
    let total: usize = records.iter().map(|r| r.joints.len()).sum();
    let mut values = Vec::with_capacity(total);
    let mut lengths = Vec::with_capacity(records.len());
    for r in records {
        values.extend_from_slice(&r.joints);
        lengths.push(r.joints.len());
    }
    let schema = sample_schema();
    let DataType::List(item) = schema.field_with_name(col::JOINTS)?.data_type().clone() else {
        unreachable!("joints is a list column");
    };
    Ok(Arc::new(ListArray::try_new(
        item,
        OffsetBuffer::from_lengths(lengths),
        Arc::new(Float32Array::from(values)),
        None,
    )?))
}

/// Reads the rows of a batch; columns left out of the batch (a projection)
/// keep their default, so `joints` may be skipped for metadata-only reads.
pub fn from_record_batch(batch: &RecordBatch) -> Result<Vec<SampleRecord>, ArrowError> {
    let n = batch.num_rows();
    let mut rows = vec![SampleRecord::default(); n];
    let column = |name: &str| batch.column_by_name(name);
    let typed = |name: &str, array: &ArrayRef, want: DataType| -> Result<(), ArrowError> {
        if array.data_type() == &want {
            Ok(())
        } else {
            Err(ArrowError::SchemaError(format!(
                "column {name} is {}, expected {want}",
                array.data_type()
            )))
        }
    };
    for name in [col::SAMPLE, col::DATASET, col::SOURCE, col::DROP_REASONS] {
        let Some(a) = column(name) else { continue };
        typed(name, a, DataType::Utf8)?;
        let a = a.as_string::<i32>();
        for (row, value) in rows.iter_mut().zip(a.iter()) {
            let value = value.unwrap_or_default().to_owned();
            match name {
                col::SAMPLE => row.sample = value,
                col::DATASET => row.dataset = value,
                col::SOURCE => row.source = value,
                _ => row.drop_reasons = value,
            }
        }
    }
    type U16Field = fn(&mut SampleRecord, Option<u16>);
    let u16_fields: [(&str, U16Field); 8] = [
        (col::SETUP, |r, v| r.setup = v),
        (col::CAMERA, |r, v| r.camera = v),
        (col::SUBJECT, |r, v| r.subject = v),
        (col::REPLICATION, |r, v| r.replication = v),
        (col::ACTION, |r, v| r.action = v.unwrap_or_default()),
        (col::LABEL, |r, v| r.label = v.unwrap_or_default()),
        (col::BODIES, |r, v| r.bodies = v.unwrap_or_default()),
        (col::BODIES_DROPPED, |r, v| {
            r.bodies_dropped = v.unwrap_or_default()
        }),
    ];
    for (name, set) in u16_fields {
        let Some(a) = column(name) else { continue };
        typed(name, a, DataType::UInt16)?;
        for (row, v) in rows.iter_mut().zip(a.as_primitive::<UInt16Type>().iter()) {
            set(row, v);
        }
    }
    type U32Field = fn(&mut SampleRecord, Option<u32>);
    let u32_fields: [(&str, U32Field); 5] = [
        (col::FRAMES, |r, v| r.frames = v.unwrap_or_default()),
        (col::VALID_FRAMES, |r, v| {
            r.valid_frames = v.unwrap_or_default()
        }),
        (col::RAW_FRAMES, |r, v| r.raw_frames = v.unwrap_or_default()),
        (col::START_FRAME, |r, v| r.start_frame = v),
        (col::EMPTY_FRAMES, |r, v| {
            r.empty_frames = v.unwrap_or_default()
        }),
    ];
    for (name, set) in u32_fields {
        let Some(a) = column(name) else { continue };
        typed(name, a, DataType::UInt32)?;
        for (row, v) in rows.iter_mut().zip(a.as_primitive::<UInt32Type>().iter()) {
            set(row, v);
        }
    }
    if let Some(a) = column(col::ACTORS) {
        typed(col::ACTORS, a, DataType::UInt8)?;
        for (row, v) in rows.iter_mut().zip(a.as_primitive::<UInt8Type>().values()) {
            row.actors = *v;
        }
    }
    if let Some(a) = column(col::RAW_BYTES) {
        typed(col::RAW_BYTES, a, DataType::UInt64)?;
        for (row, v) in rows.iter_mut().zip(a.as_primitive::<UInt64Type>().values()) {
            row.raw_bytes = *v;
        }
    }
    if let Some(a) = column(col::JOINTS) {
        let list = a.as_list_opt::<i32>().ok_or_else(|| {
            ArrowError::SchemaError(format!(
                "column joints is {}, expected a list",
                a.data_type()
            ))
        })?;
        let values = list
            .values()
            .as_primitive_opt::<Float32Type>()
            .ok_or_else(|| ArrowError::SchemaError("joints items are not float32".into()))?;
        let offsets = list.value_offsets();
        for (i, row) in rows.iter_mut().enumerate() {
            let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
            row.joints = values.values()[start..end].to_vec();
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: u16) -> SampleRecord {
        SampleRecord {
            sample: format!("S001C001P001R001A{i:03}"),
            dataset: "ntu60".into(),
            source: format!("S001C001P001R001A{i:03}.skeleton"),
            setup: Some(1),
            camera: Some(1),
            subject: None,
            replication: Some(2),
            action: i,
            label: i - 1,
            frames: 2,
            valid_frames: 1,
            raw_frames: 3,
            start_frame: None,
            empty_frames: 1,
            actors: 1,
            bodies: 2,
            bodies_dropped: 1,
            drop_reasons: "7:length(3)".into(),
            raw_bytes: 1234,
            joints: (0..150).map(|v| v as f32 * f32::from(i)).collect(),
        }
    }

    #[test]
    fn batch_round_trip() {
        let records: Vec<_> = (1..4).map(record).collect();
        let batch = to_record_batch(&records).unwrap();
        assert_eq!(batch.num_rows(), 3);
        assert_eq!(from_record_batch(&batch).unwrap(), records);
        let no_joints = batch
            .project(&(0..batch.num_columns() - 1).collect::<Vec<_>>())
            .unwrap();
        let meta = from_record_batch(&no_joints).unwrap();
        assert!(meta[0].joints.is_empty());
        assert_eq!(meta[2].drop_reasons, "7:length(3)");
    }
}

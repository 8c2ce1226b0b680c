//! The Arrow schema of one sample row in a Parquet shard.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef};

/// Joints per body (Kinect v2).
pub const JOINTS: usize = 25;
/// Coordinates per joint (x, y, z).
pub const COORDS: usize = 3;

/// The Kinect v2 skeleton's 24 bones, 1-based joint numbers (SPEC section
/// 2): the skeleton graph of ST-GCN and the bone pairs of 2s-AGCN's
/// `gen_bone_data.py` (which adds the root, 21, paired with itself).
pub const BONES: [(usize, usize); 24] = [
    (1, 2),
    (2, 21),
    (3, 21),
    (4, 3),
    (5, 21),
    (6, 5),
    (7, 6),
    (8, 7),
    (9, 21),
    (10, 9),
    (11, 10),
    (12, 11),
    (13, 1),
    (14, 13),
    (15, 14),
    (16, 15),
    (17, 1),
    (18, 17),
    (19, 18),
    (20, 19),
    (22, 23),
    (23, 8),
    (24, 25),
    (25, 12),
];

/// Column names, so that readers never spell them twice.
pub mod col {
    pub const SAMPLE: &str = "sample";
    pub const DATASET: &str = "dataset";
    pub const SOURCE: &str = "source";
    pub const SETUP: &str = "setup";
    pub const CAMERA: &str = "camera";
    pub const SUBJECT: &str = "subject";
    pub const REPLICATION: &str = "replication";
    pub const ACTION: &str = "action";
    pub const LABEL: &str = "label";
    pub const FRAMES: &str = "frames";
    pub const VALID_FRAMES: &str = "valid_frames";
    pub const RAW_FRAMES: &str = "raw_frames";
    pub const START_FRAME: &str = "start_frame";
    pub const EMPTY_FRAMES: &str = "empty_frames";
    pub const ACTORS: &str = "actors";
    pub const BODIES: &str = "bodies";
    pub const BODIES_DROPPED: &str = "bodies_dropped";
    pub const DROP_REASONS: &str = "drop_reasons";
    pub const RAW_BYTES: &str = "raw_bytes";
    pub const JOINTS: &str = "joints";
}

/// The schema of every shard (documented column by column in `schemas/README.md`).
///
/// `joints` holds `frames x actors x 25 x 3` float32 values in `[t][m][v][xyz]` order.
pub fn sample_schema() -> SchemaRef {
    let u16_col = |name: &str, nullable| Field::new(name, DataType::UInt16, nullable);
    let u32_col = |name: &str, nullable| Field::new(name, DataType::UInt32, nullable);
    Arc::new(Schema::new(vec![
        Field::new(col::SAMPLE, DataType::Utf8, false),
        Field::new(col::DATASET, DataType::Utf8, false),
        Field::new(col::SOURCE, DataType::Utf8, false),
        u16_col(col::SETUP, true),
        u16_col(col::CAMERA, true),
        u16_col(col::SUBJECT, true),
        u16_col(col::REPLICATION, true),
        u16_col(col::ACTION, false),
        u16_col(col::LABEL, false),
        u32_col(col::FRAMES, false),
        u32_col(col::VALID_FRAMES, false),
        u32_col(col::RAW_FRAMES, false),
        u32_col(col::START_FRAME, true),
        u32_col(col::EMPTY_FRAMES, false),
        Field::new(col::ACTORS, DataType::UInt8, false),
        u16_col(col::BODIES, false),
        u16_col(col::BODIES_DROPPED, false),
        Field::new(col::DROP_REASONS, DataType::Utf8, false),
        Field::new(col::RAW_BYTES, DataType::UInt64, false),
        Field::new(
            col::JOINTS,
            DataType::List(Arc::new(Field::new("item", DataType::Float32, false))),
            false,
        ),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_names_are_unique() {
        let schema = sample_schema();
        let mut names: Vec<_> = schema.fields().iter().map(|f| f.name().clone()).collect();
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n);
        assert!(schema.index_of(col::JOINTS).is_ok());
    }
}

//! What the skeleton pipeline and the trainer agree on: the Arrow schema of
//! the sample shards, the dataset manifest and the class tables.
//!
//! Neither side re-declares any of this; see `schemas/README.md` for the
//! contract in prose.

mod classes;
mod dataset;
mod manifest;
mod record;
mod sample;
mod split;
mod transform;
mod yaml;

pub use classes::{ClassEntry, ClassTable};
pub use dataset::{Dataset, Preset};
pub use manifest::{
    Counts, Manifest, ManifestError, Part, QuarantineEntry, ShardEntry, ToolInfo, MANIFEST_FILE,
    SCHEMA_VERSION, SHARD_DIR,
};
pub use record::{from_record_batch, metadata_columns, to_record_batch, SampleRecord};
pub use sample::{col, sample_schema, BONES, COORDS, JOINTS};
pub use split::{
    Protocol, SplitClasses, SplitCounts, SplitError, SplitFile, SplitParts, SPLIT_SCHEMA_VERSION,
};
pub use transform::{
    Joint, Reference, Temporal, TransformConfig, TransformError, TransformSpec,
    MAX_TRANSFORM_FRAMES,
};
pub use yaml::{is_plain_name, YamlError};

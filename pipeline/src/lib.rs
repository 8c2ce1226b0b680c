//! Conversion of raw NTU RGB+D 60/120 and PKU-MMD skeleton files into Parquet
//! shards with a manifest. No libtorch here: data engineers build it in a minute.

pub mod bench;
pub mod classes;
pub mod clean;
pub mod cli_docs;
pub mod convert;
pub mod discover;
pub mod error;
pub mod export;
pub mod frames;
pub mod inspect;
pub mod lock;
pub mod merge;
pub mod npy;
pub mod ntu;
pub mod pku;
pub mod resume;
pub mod rng;
pub mod scan;
pub mod shard;
pub mod split;
pub mod synth;
pub mod text;
pub mod transform;
pub mod verify;

pub use error::{ParseError, PipelineError, SampleError};

pub use convert::{convert, ConvertOptions, ConvertReport, NoProgress, Progress};
pub use inspect::inspect;
pub use verify::verify;

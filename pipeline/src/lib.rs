//! Conversion of raw NTU RGB+D 60/120 and PKU-MMD skeleton files into Parquet
//! shards with a manifest. No libtorch here: data engineers build it in a minute.

pub mod clean;
pub mod error;
pub mod frames;
pub mod npy;
pub mod ntu;
pub mod pku;
pub mod synth;
pub mod text;

pub use error::{ParseError, PipelineError, SampleError};

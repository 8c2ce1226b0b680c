//! Training side of the workspace, on libtorch (tch): skeleton feature
//! extractors, class-text features, SA-DVAE, the gate, evaluation, and the
//! experiments that run them over three splits.

pub mod allocator;
pub mod bench;
pub mod classifier;
pub mod config;
pub mod cpu;
pub mod cuda;
pub mod data;
pub mod experiment;
pub mod export;
pub mod extract;
pub mod features;
pub mod fit;
pub mod gate;
pub mod import;
pub mod metrics;
pub mod model;
pub mod numerics;
pub mod optim;
pub mod precision;
pub mod run_dir;
pub mod sadvae;
pub mod text;

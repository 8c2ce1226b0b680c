//! Training side of the workspace, on libtorch (tch): skeleton feature
//! extractors and the jobs that train them and extract features from a
//! converted dataset and a split file; class text features.

pub mod allocator;
pub mod config;
pub mod data;
pub mod extract;
pub mod features;
pub mod model;
pub mod optim;
pub mod run_dir;
pub mod text;

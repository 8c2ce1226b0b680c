//! Experiments: for each run (split file), extract features in the main and
//! validation phases, embed the class texts, and for each SA-DVAE variant fit
//! the validation-phase model (choosing the epoch on validation ZSL), fit the
//! gate, fit the main-phase model and evaluate; then average over runs.
//!
//! Layout of `out_dir`:
//! ```text
//! config.yaml                      the resolved experiment config
//! text/                            cached class-text features
//! runN/extract-{main,validation}/  extract run folders (features.parquet)
//! runN/VARIANT/fit-validation/     checkpoints, fit_log.csv, selection.yaml
//! runN/VARIANT/gate.yaml           the fitted gate
//! runN/VARIANT/fit-main/           checkpoints, fit_log.csv
//! runN/VARIANT/metrics.json        ZSL/GZSL metrics, per-class accuracy, confusion
//! results.json, results.md, plots/ the averaged tables and figures
//! ```
//! Each stage reuses its output when its inputs are unchanged (the stage
//! folder records a key of its inputs) and resumes from its last checkpoint.

mod config;
pub mod report;
pub mod search;
mod stages;

pub use config::{ExperimentConfig, ExtractorSettings, ReportConfig};
pub use report::{write_report, Summary};
pub use stages::{
    eval, export_sa_dvae, extract, fit_main, fit_validation, gate, run_all, validation_gzsl,
    Experiment, RunOutcome, Selection,
};

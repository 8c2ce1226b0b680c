//! Shared helpers: a small converted synthetic dataset with a split, made
//! once per test; running the `skel-trainer` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skel_pipeline::split::{split, ClassChoice, SplitRequest};
use skel_pipeline::synth::{generate, Scale, SynthConfig};
use skel_pipeline::{convert, ConvertOptions, NoProgress};
use skel_schemas::{Dataset, Preset, Protocol, Reference, Temporal, TransformSpec};
use skel_trainer::config::{
    DataConfig, DeviceChoice, ExtractConfig, Optimizer, Phase, Schedule, TrainConfig,
};
use skel_trainer::model::{Arch, BackboneConfig};

/// Generates `per_class` NTU-60 files per class, converts them (canonicalised,
/// 32 frames) and writes one random 5-unseen split; returns (dataset, split).
pub fn dataset(dir: &Path, per_class: u32) -> (PathBuf, PathBuf) {
    let raw = dir.join("raw");
    generate(
        &SynthConfig::new(Dataset::Ntu60, Scale::PerClass(per_class), 5),
        &raw,
        &|_| {},
    )
    .unwrap();
    let out = dir.join("ntu60");
    let opts = ConvertOptions {
        dataset: Dataset::Ntu60,
        raw,
        labels: None,
        out: out.clone(),
        preset: Preset::Ctrgcn,
        threads: None,
        files_per_shard: 1000,
        overwrite: false,
        transforms: vec![
            TransformSpec::Canonicalize {
                reference: Reference::Sequence,
            },
            TransformSpec::Frames {
                frames: 32,
                method: Temporal::Linear,
            },
        ],
        part: None,
    };
    convert(&opts, &NoProgress).unwrap();
    let req = SplitRequest {
        protocol: Protocol::CrossSubject,
        classes: ClassChoice::Random { unseen: 5, runs: 1 },
        seed: 1,
        validation_fraction: 0.2,
    };
    let files = split(&out, &out.join("splits"), &req).unwrap();
    (out, files[0].0.clone())
}

/// A tiny ST-GCN job.
pub fn config(dataset: &Path, split: &Path, run_dir: &Path, epochs: usize) -> ExtractConfig {
    ExtractConfig {
        dataset: dataset.to_owned(),
        split: split.to_owned(),
        run_dir: run_dir.to_owned(),
        device: DeviceChoice::Cpu,
        seed: 3,
        phase: Phase::Main,
        backbone: BackboneConfig {
            arch: Arch::Stgcn,
            widths: vec![8, 16],
            strides: vec![1, 2],
            temporal_kernel: 9,
            dropout: 0.2,
            edge_importance: true,
        },
        data: DataConfig {
            frames: 16,
            batch_size: 8,
            min_crop: 0.8,
            rotation_degrees: 10.0,
        },
        train: TrainConfig {
            epochs,
            optimizer: Optimizer::Sgd { momentum: 0.9 },
            lr: 0.05,
            weight_decay: 1e-4,
            schedule: Schedule::Step { epochs: vec![2] },
        },
    }
}

/// Serialises the tests that seed libtorch's global random generator, so
/// that concurrent tests do not draw from each other's streams.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `skel-trainer ARGS` (quiet) and returns its output.
pub fn run_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_skel-trainer"))
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap()
}

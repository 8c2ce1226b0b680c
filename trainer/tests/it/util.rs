//! Shared helpers: a small converted synthetic dataset with a split, made
//! once per test; running the `skel-trainer` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use skel_pipeline::split::{split, ClassChoice, SplitRequest};
use skel_pipeline::synth::{generate, Scale, SynthConfig};
use skel_pipeline::{convert, ConvertOptions, NoProgress};
use skel_schemas::{Dataset, Preset, Protocol, Reference, Temporal, TransformSpec};
use skel_trainer::classifier::ClassifierConfig;
use skel_trainer::config::{
    DataConfig, DeviceChoice, ExtractConfig, Optimizer, Phase, Schedule, TrainConfig,
};
use skel_trainer::experiment::{ExperimentConfig, ExtractorSettings, ReportConfig};
use skel_trainer::gate::GateConfig;
use skel_trainer::model::{Arch, BackboneConfig};
use skel_trainer::sadvae::{SadvaeConfig, ScheduleKind, Variant};
use skel_trainer::text::{TextConfig, TextEncoder};

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
            temporal_shift: Default::default(),
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
            precision: Default::default(),
            cudnn_benchmark: false,
        },
        init_weights: None,
    }
}

/// SA-DVAE with 8-d latents (4-d style) for 3 epochs, batches of 8.
pub fn sadvae_config() -> SadvaeConfig {
    SadvaeConfig {
        latent: 8,
        style_latent: 4,
        epochs: 3,
        batch_size: 8,
        lr: 1e-3,
        beta_x: 0.023,
        beta_y: 0.011,
        lambda_tc: 0.011,
        n_d: 2,
        schedule: Some(ScheduleKind::Paper),
        compat: Default::default(),
        device: Default::default(),
    }
}

/// A small experiment on `dataset(tmp, 8)`: see [`experiment_on`].
pub fn experiment_config(tmp: &Path) -> ExperimentConfig {
    let (data, split) = dataset(tmp, 8);
    experiment_on(&data, &split, tmp)
}

/// A small experiment on a dataset and split: the tiny ST-GCN of [`config`]
/// for 2 epochs, SA-DVAE naive and fd_tc with 8-d latents for 3 epochs,
/// out_dir `tmp/exp`.
pub fn experiment_on(data: &Path, split: &Path, tmp: &Path) -> ExperimentConfig {
    let extract = config(data, split, &tmp.join("unused"), 2);
    ExperimentConfig {
        name: "test".into(),
        dataset: data.to_owned(),
        splits: vec![split.to_owned()],
        out_dir: tmp.join("exp"),
        device: Default::default(),
        seed: 5,
        features: Vec::new(),
        extractor: Some(ExtractorSettings {
            seed: extract.seed,
            backbone: extract.backbone,
            data: extract.data,
            train: extract.train,
        }),
        text: TextConfig {
            encoder: TextEncoder::ClipVitB32,
            mode: "lb".into(),
            weights: None,
        },
        variants: vec![Variant::Naive, Variant::FdTc],
        sadvae: sadvae_config(),
        classifier: ClassifierConfig {
            samples_per_class: 50,
            steps: 50,
            lr: 1e-3,
        },
        gate: GateConfig::default(),
        report: ReportConfig {
            tsne: true,
            tsne_samples: 40,
        },
    }
}

/// Every tensor of a checkpoint file as (name, values), sorted by name, for
/// bit-for-bit comparisons.
pub fn tensors(path: &Path) -> Vec<(String, Vec<f32>)> {
    let mut named: Vec<(String, Vec<f32>)> = tch::Tensor::load_multi(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .map(|(n, t)| {
            (
                n,
                Vec::<f32>::try_from(t.flatten(0, -1).to_kind(tch::Kind::Float)).unwrap(),
            )
        })
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named
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

//! The typed YAML config of an `extract` job, parsed once and validated into
//! a resolved config; nothing downstream re-checks it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{Arch, BackboneConfig, TemporalShift};
use crate::precision::Precision;

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceChoice {
    /// The CPU.
    #[default]
    Cpu,
    /// The first CUDA device; an error if there is none (never a silent CPU fallback).
    Cuda,
}

impl DeviceChoice {
    /// The libtorch device; for `cuda`, loads libtorch's CUDA library first
    /// ([`crate::cuda::load`]) and says what is missing, and the fix, where
    /// CUDA cannot work.
    pub fn device(self) -> Result<tch::Device, String> {
        match self {
            Self::Cpu => Ok(tch::Device::Cpu),
            Self::Cuda => {
                crate::cuda::load();
                match crate::cuda::device_error() {
                    None => Ok(tch::Device::Cuda(0)),
                    Some(e) => Err(e),
                }
            }
        }
    }

    pub fn is_cpu(&self) -> bool {
        *self == Self::Cpu
    }
}

/// How samples become batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// T of every batch: each sample's valid frames are resampled to it.
    pub frames: usize,
    pub batch_size: usize,
    /// Training only: a random window of at least this share of the valid
    /// frames (1.0 = no crop).
    #[serde(default = "one")]
    pub min_crop: f64,
    /// Training only: random rotation about the vertical axis within
    /// +-this many degrees (0 = none).
    #[serde(default)]
    pub rotation_degrees: f64,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Optimizer {
    /// SGD with Nesterov momentum 0.9 (ST-GCN's recipe).
    Sgd {
        momentum: f64,
    },
    Adam {
        beta1: f64,
        beta2: f64,
    },
}

/// The learning-rate schedule over epochs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Schedule {
    Constant,
    /// Multiply by 0.1 at each listed epoch (0-based).
    Step {
        epochs: Vec<usize>,
    },
    Cosine,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub optimizer: Optimizer,
    pub lr: f64,
    #[serde(default)]
    pub weight_decay: f64,
    pub schedule: Schedule,
    /// `fp32` (default) or `bf16`: autocast the extractor's forward passes to
    /// bf16 (convolutions and matrix products), weights and losses in f32.
    #[serde(default, skip_serializing_if = "Precision::is_default")]
    pub precision: Precision,
    /// CUDA only: let cuDNN time its convolution algorithms on the first
    /// batches and keep the fastest (faster; results may differ in the last
    /// bits from run to run). Default false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cudnn_benchmark: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Which classes and parts an extractor trains and extracts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Train on `train_seen` (all seen classes); extract `train_seen`,
    /// `test_seen` and `test_unseen`.
    #[default]
    Main,
    /// The gate's validation phase: train on `validation_train` (the seen
    /// classes less the pseudo-unseen ones), so that the pseudo-unseen classes
    /// are as new to the extractor as the unseen ones are in the main phase;
    /// extract `validation_train`, `validation_seen` and `validation_unseen`.
    Validation,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Validation => "validation",
        }
    }

    /// The parts of a split this phase trains on, tests seen accuracy on, and
    /// holds unseen samples in: (train, test-seen, unseen).
    pub fn parts(self) -> [&'static str; 3] {
        match self {
            Self::Main => ["train_seen", "test_seen", "test_unseen"],
            Self::Validation => ["validation_train", "validation_seen", "validation_unseen"],
        }
    }

    /// The seen and unseen classes of this phase, in split order.
    pub fn classes(
        self,
        split: &skel_schemas::SplitFile,
    ) -> (Vec<skel_schemas::ClassEntry>, Vec<skel_schemas::ClassEntry>) {
        match self {
            Self::Main => (split.classes.seen.clone(), split.classes.unseen.clone()),
            Self::Validation => {
                let held: std::collections::BTreeSet<u16> = split
                    .classes
                    .validation_unseen
                    .iter()
                    .map(|c| c.index)
                    .collect();
                let seen = split
                    .classes
                    .seen
                    .iter()
                    .filter(|c| !held.contains(&c.index))
                    .cloned()
                    .collect();
                (seen, split.classes.validation_unseen.clone())
            }
        }
    }
}

/// An `extract` job: train the extractor on the seen classes, extract features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractConfig {
    /// Converted dataset folder (manifest.yaml + shards/).
    pub dataset: PathBuf,
    /// Split file made from that dataset (`skel-pipeline split`).
    pub split: PathBuf,
    /// Output folder of the run (checkpoints, log, features).
    pub run_dir: PathBuf,
    #[serde(default)]
    pub device: DeviceChoice,
    #[serde(default)]
    pub seed: u64,
    /// `main` (default) or `validation` (the gate's phase, see [`Phase`]).
    #[serde(default)]
    pub phase: Phase,
    pub backbone: BackboneConfig,
    pub data: DataConfig,
    pub train: TrainConfig,
    /// Weights to start from instead of the seeded initialisation: a state
    /// dict of the official Shift-GCN `Model` (`backbone.arch: shiftgcn`,
    /// `temporal_shift: adaptive`, this config's widths, strides and seen
    /// classes), a `.safetensors` file or a `torch.save` zip of a plain dict
    /// (`model::weights::load_state_dict`). Trained on this split's seen
    /// classes only: the public full-class checkpoints leak the unseen
    /// classes. With `train.epochs: 0` the run only extracts features.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_weights: Option<PathBuf>,
}

impl ExtractConfig {
    /// Reads a config; relative paths are taken from the current directory.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and validates the text of the config file `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let cfg: Self =
            serde_saphyr::from_str(text).map_err(|e| format!("config {}: {e}", path.display()))?;
        cfg.validate()
            .map_err(|e| format!("config {}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// Cross-field rules, checked once.
    pub fn validate(&self) -> Result<(), String> {
        self.backbone
            .validate()
            .map_err(|e| format!("backbone: {e}"))?;
        if self.data.frames < 4 {
            return Err(format!(
                "data.frames: {} is too short (at least 4)",
                self.data.frames
            ));
        }
        if self.data.batch_size == 0 {
            return Err("data.batch_size: must be at least 1".into());
        }
        if !(0.05..=1.0).contains(&self.data.min_crop) {
            return Err(format!(
                "data.min_crop: {} must be in [0.05, 1]",
                self.data.min_crop
            ));
        }
        if self.train.epochs == 0 && self.init_weights.is_none() {
            return Err("train.epochs: must be at least 1 (0 only with init_weights)".into());
        }
        if self.init_weights.is_some()
            && (self.backbone.arch != Arch::Shiftgcn
                || self.backbone.temporal_shift != TemporalShift::Adaptive)
        {
            return Err(
                "init_weights: official Shift-GCN state dicts need backbone.arch shiftgcn \
                 and temporal_shift adaptive"
                    .into(),
            );
        }
        if !(self.train.lr > 0.0 && self.train.lr.is_finite()) {
            return Err(format!(
                "train.lr: {} must be a positive number",
                self.train.lr
            ));
        }
        if !(self.train.weight_decay >= 0.0 && self.train.weight_decay.is_finite()) {
            return Err(format!(
                "train.weight_decay: {} must be a non-negative number",
                self.train.weight_decay
            ));
        }
        if !self.data.rotation_degrees.is_finite() {
            return Err(format!(
                "data.rotation_degrees: {} must be a number",
                self.data.rotation_degrees
            ));
        }
        let coefficients: &[(&str, f64)] = match &self.train.optimizer {
            Optimizer::Sgd { momentum } => &[("sgd.momentum", *momentum)],
            Optimizer::Adam { beta1, beta2 } => &[("adam.beta1", *beta1), ("adam.beta2", *beta2)],
        };
        for (key, v) in coefficients {
            if !(0.0..1.0).contains(v) {
                return Err(format!("train.optimizer.{key}: {v} must be in [0, 1)"));
            }
        }
        Ok(())
    }

    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("configs serialise")
    }
}

//! The typed YAML of an experiment (`configs/experiments/`): the dataset, one
//! split file per run, and the settings of every stage.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classifier::ClassifierConfig;
use crate::config::{DataConfig, DeviceChoice, ExtractConfig, Phase, TrainConfig};
use crate::gate::GateConfig;
use crate::import::ImportSource;
use crate::model::BackboneConfig;
use crate::sadvae::{SadvaeConfig, Variant};
use crate::text::TextConfig;

/// The feature extractor's settings (its dataset, split, phase and run
/// folder come from the experiment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractorSettings {
    #[serde(default)]
    pub seed: u64,
    pub backbone: BackboneConfig,
    pub data: DataConfig,
    pub train: TrainConfig,
}

/// What the report draws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Draw the t-SNE of z_x^r and z_x^v (paper Fig. 4) for the first run.
    #[serde(default = "yes")]
    pub tsne: bool,
    /// At most this many test samples in the t-SNE.
    #[serde(default = "tsne_samples")]
    pub tsne_samples: usize,
}

fn yes() -> bool {
    true
}
fn tsne_samples() -> usize {
    1000
}

impl Default for ReportConfig {
    fn default() -> Self {
        Self {
            tsne: true,
            tsne_samples: tsne_samples(),
        }
    }
}

fn full_model() -> Vec<Variant> {
    vec![Variant::FdTc]
}

/// One experiment: every stage for each run (split file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Shown in the report.
    pub name: String,
    /// Converted dataset folder (manifest.yaml + shards/); with `features`,
    /// the dataset's name (`ntu60`, `ntu120`, `pku-v1`, `pku-v2`).
    pub dataset: PathBuf,
    /// One split file per run (the three published or generated splits).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<PathBuf>,
    /// Instead of `splits` and `extractor`: one folder of features per run,
    /// in the official SA-DVAE code's layout (`trainer/src/import.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<ImportSource>,
    /// Where every stage writes (run0/, run1/, ..., text/, report files).
    pub out_dir: PathBuf,
    #[serde(default)]
    pub device: DeviceChoice,
    /// Seed of SA-DVAE, C_u and the gate.
    #[serde(default)]
    pub seed: u64,
    /// The feature extractor (absent with `features`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractor: Option<ExtractorSettings>,
    pub text: TextConfig,
    /// The SA-DVAE variants to train (ablations), each reported.
    #[serde(default = "full_model")]
    pub variants: Vec<Variant>,
    pub sadvae: SadvaeConfig,
    #[serde(default)]
    pub classifier: ClassifierConfig,
    #[serde(default)]
    pub gate: GateConfig,
    #[serde(default)]
    pub report: ReportConfig,
}

impl ExperimentConfig {
    /// Reads and validates a config; relative paths are taken from the
    /// current directory.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and validates the text of the config file `path` (named in errors).
    pub fn parse(text: &str, path: &Path) -> Result<Self, String> {
        let cfg: Self = serde_saphyr::from_str(text).map_err(|e| {
            format!(
                "config {}: {e} (see configs/README.md for the keys)",
                path.display()
            )
        })?;
        cfg.validate()
            .map_err(|e| format!("config {}: {e}", path.display()))?;
        Ok(cfg)
    }

    /// Cross-field rules, checked once.
    pub fn validate(&self) -> Result<(), String> {
        if self.features.is_empty() {
            if self.splits.is_empty() {
                return Err("splits: list at least one split file (one per run)".into());
            }
            if self.extractor.is_none() {
                return Err(
                    "extractor: missing; give the feature extractor's settings, or import \
                     features with `features:` (see configs/README.md)"
                        .into(),
                );
            }
        } else {
            if !self.splits.is_empty() || self.extractor.is_some() {
                return Err(
                    "features: imported features replace `splits` and `extractor`; remove them \
                     (the label_splits folders give the classes)"
                        .into(),
                );
            }
            self.imported_dataset()?;
        }
        if self.variants.is_empty() {
            return Err("variants: list at least one of naive, fd, fd_tc".into());
        }
        let mut seen = self.variants.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != self.variants.len() {
            return Err("variants: a variant is listed twice".into());
        }
        self.sadvae.validate()?;
        self.gate.validate()?;
        if self.classifier.samples_per_class < 1 || self.classifier.steps == 0 {
            return Err("classifier: samples_per_class and steps must be at least 1".into());
        }
        if !(self.classifier.lr > 0.0 && self.classifier.lr.is_finite()) {
            return Err(format!(
                "classifier.lr: {} must be a positive number",
                self.classifier.lr
            ));
        }
        if self.extractor.is_some() {
            self.extract_config(0, Phase::Main)
                .validate()
                .map_err(|e| format!("extractor: {e}"))?;
        }
        Ok(())
    }

    /// Whether the runs' features are imported (`features`) rather than extracted.
    pub fn imports(&self) -> bool {
        !self.features.is_empty()
    }

    /// The runs: one per split file or imported folder.
    pub fn runs(&self) -> usize {
        self.splits.len().max(self.features.len())
    }

    /// The dataset named by `dataset` in an experiment that imports features.
    pub fn imported_dataset(&self) -> Result<skel_schemas::Dataset, String> {
        use skel_schemas::Dataset;
        let name = self.dataset.to_string_lossy();
        [
            Dataset::Ntu60,
            Dataset::Ntu120,
            Dataset::PkuV1,
            Dataset::PkuV2,
        ]
        .into_iter()
        .find(|d| d.name() == name)
        .ok_or_else(|| {
            format!(
                "dataset: {name:?}; with imported features it names the dataset: ntu60, \
                     ntu120, pku-v1 or pku-v2"
            )
        })
    }

    /// The extract job of run `run` in `phase`; only for experiments with an
    /// `extractor` (validated: every experiment without `features`).
    pub fn extract_config(&self, run: usize, phase: Phase) -> ExtractConfig {
        let extractor = self
            .extractor
            .as_ref()
            .expect("an experiment that extracts has an extractor (validated)");
        ExtractConfig {
            dataset: self.dataset.clone(),
            split: self.splits[run].clone(),
            run_dir: self
                .out_dir
                .join(format!("run{run}"))
                .join(format!("extract-{}", phase.name())),
            device: self.device,
            seed: extractor.seed,
            phase,
            backbone: extractor.backbone.clone(),
            data: extractor.data.clone(),
            train: extractor.train.clone(),
            init_weights: None,
        }
    }

    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("configs serialise")
    }
}

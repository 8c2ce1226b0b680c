//! The stages of an experiment run, each reading its inputs from the
//! experiment folder and writing its outputs there.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use skel_pipeline::lock::{WriterLock, LOCK_FILE};
use skel_pipeline::shard::hash_file;
use skel_schemas::{ClassEntry, SplitFile};
use tch::{Device, Kind, Tensor};

use super::ExperimentConfig;
use crate::config::Phase;
use crate::extract::{self, ExtractOptions};
use crate::features::{self, FeatureRow};
use crate::fit::{self, FitData, FitDir, FitOptions};
use crate::gate::{Gate, GateSample};
use crate::metrics::{accuracy, harmonic, Confusion, Metrics};
use crate::run_dir::write_atomic;
use crate::sadvae::Variant;
use crate::text::{class_features, ClassFeatures};

/// An opened experiment: its config, device and dataset.
pub struct Experiment {
    pub cfg: ExperimentConfig,
    /// Where the SA-DVAE stages of each run write (`runN/VARIANT/` below it):
    /// the out_dir, or a search trial's folder.
    pub stage_root: PathBuf,
    /// The extractors' and text encoder's device (`device`).
    pub device: Device,
    /// SA-DVAE's, the gate's and the evaluation's device (`sadvae.device`).
    pub sadvae_device: Device,
    pub progress: bool,
    pub dataset: skel_schemas::Dataset,
    /// With `features`: each run's split as its label_splits imply.
    imported: Vec<SplitFile>,
    /// The single-writer lock of `out_dir`, held while the experiment is open.
    _lock: WriterLock,
}

impl Experiment {
    /// Checks the inputs and writes the resolved config to the experiment folder.
    pub fn open(cfg: ExperimentConfig, progress: bool) -> anyhow::Result<Self> {
        let device = cfg.device.device().map_err(anyhow::Error::msg)?;
        let sadvae_device = cfg.sadvae.device.device().map_err(anyhow::Error::msg)?;
        // One writer per experiment folder: its stages all live in it.
        let lock = WriterLock::acquire(&cfg.out_dir, LOCK_FILE)?;
        if cfg.imports() {
            return Self::open_imported(cfg, device, sadvae_device, progress, lock);
        }
        let manifest_path = cfg.dataset.join(skel_schemas::MANIFEST_FILE);
        let manifest = skel_schemas::Manifest::read(&manifest_path)?;
        let manifest_sha = hash_file(&manifest_path)?.0;
        for (run, path) in cfg.splits.iter().enumerate() {
            let split = SplitFile::read(path)?;
            split.check_manifest(path, &manifest_sha)?;
            split.check_classes(path, &manifest.classes)?;
            if split.classes.validation_unseen.is_empty() {
                bail!(
                    "split {} (run {run}) has no validation classes: the gate needs them; \
                     make the split with `skel-pipeline split` (it always draws them)",
                    path.display()
                );
            }
        }
        std::fs::create_dir_all(&cfg.out_dir)
            .with_context(|| format!("creating {}", cfg.out_dir.display()))?;
        write_atomic(&cfg.out_dir.join("config.yaml"), cfg.to_yaml().as_bytes())?;
        Ok(Self {
            dataset: manifest.dataset,
            stage_root: cfg.out_dir.clone(),
            cfg,
            device,
            sadvae_device,
            progress,
            imported: Vec::new(),
            _lock: lock,
        })
    }

    /// Opens an experiment on imported features: reads and checks each run's
    /// folders and writes their rows to `runN/import-{main,validation}/`
    /// (rewritten only when the files read change).
    fn open_imported(
        cfg: ExperimentConfig,
        device: Device,
        sadvae_device: Device,
        progress: bool,
        lock: WriterLock,
    ) -> anyhow::Result<Self> {
        let dataset = cfg.imported_dataset().map_err(anyhow::Error::msg)?;
        std::fs::create_dir_all(&cfg.out_dir)
            .with_context(|| format!("creating {}", cfg.out_dir.display()))?;
        let mut imported = Vec::new();
        for (run, src) in cfg.features.iter().enumerate() {
            let data = crate::import::read(src, dataset, run)
                .with_context(|| format!("features[{run}] (run {run})"))?;
            for (phase, rows) in [
                (Phase::Main, &data.main),
                (Phase::Validation, &data.validation),
            ] {
                let path = imported_features(&cfg, run, phase);
                let dir = path.parent().expect("a folder");
                stage_dir(dir, &key(&["import", &data.sha256, phase.name()]))?;
                if !path.exists() {
                    features::write(&path, rows)?;
                }
            }
            tracing::info!(
                "run {run}: imported {} main and {} validation rows from {} and {}",
                data.main.len(),
                data.validation.len(),
                src.main.display(),
                src.validation.display()
            );
            imported.push(data.split);
        }
        write_atomic(&cfg.out_dir.join("config.yaml"), cfg.to_yaml().as_bytes())?;
        Ok(Self {
            dataset,
            stage_root: cfg.out_dir.clone(),
            cfg,
            device,
            sadvae_device,
            progress,
            imported,
            _lock: lock,
        })
    }

    /// Where run `run`'s classes and parts come from: its split file, or its
    /// imported label_splits folder.
    pub fn split_path(&self, run: usize) -> PathBuf {
        match self.cfg.features.get(run) {
            Some(src) => src.label_splits.clone(),
            None => self.cfg.splits[run].clone(),
        }
    }

    pub fn runs(&self) -> usize {
        self.cfg.runs()
    }

    fn check_run(&self, run: usize) -> anyhow::Result<()> {
        if run >= self.runs() {
            bail!(
                "run {run} does not exist: the config lists {} split files (runs 0-{})",
                self.runs(),
                self.runs() - 1
            );
        }
        Ok(())
    }

    pub fn split(&self, run: usize) -> anyhow::Result<SplitFile> {
        match self.imported.get(run) {
            Some(split) => Ok(split.clone()),
            None => Ok(SplitFile::read(&self.cfg.splits[run])?),
        }
    }

    pub fn variant_dir(&self, run: usize, variant: Variant) -> PathBuf {
        self.stage_root
            .join(format!("run{run}"))
            .join(variant.name())
    }

    fn features_path(&self, run: usize, phase: Phase) -> PathBuf {
        if self.cfg.imports() {
            return imported_features(&self.cfg, run, phase);
        }
        self.cfg
            .extract_config(run, phase)
            .run_dir
            .join("features.parquet")
    }

    fn text(&self) -> anyhow::Result<ClassFeatures> {
        let cache = self.cfg.out_dir.join("text");
        std::fs::create_dir_all(&cache)?;
        class_features(&self.cfg.text, self.dataset, &cache, self.device)
    }

    fn fit_options(&self, variant: Variant, epochs: usize) -> FitOptions<'_> {
        FitOptions {
            variant,
            cfg: &self.cfg.sadvae,
            classifier: &self.cfg.classifier,
            epochs,
            seed: self.cfg.seed,
            device: self.sadvae_device,
            progress: self.progress,
            stop_after: None,
        }
    }
}

/// The features file of an imported run's phase.
fn imported_features(cfg: &ExperimentConfig, run: usize, phase: Phase) -> PathBuf {
    cfg.out_dir
        .join(format!("run{run}"))
        .join(format!("import-{}", phase.name()))
        .join("features.parquet")
}

/// Hex SHA-256 of the parts.
fn key(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Makes `dir` hold a stage of `key`: an existing folder of another key is
/// stale (its inputs changed) and is removed.
fn stage_dir(dir: &Path, key: &str) -> anyhow::Result<()> {
    let key_file = dir.join("inputs.sha256");
    if dir.exists() {
        let old = std::fs::read_to_string(&key_file).unwrap_or_default();
        if old.trim() == key {
            return Ok(());
        }
        tracing::info!(
            "{}: inputs changed, starting the stage afresh",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(&key_file, key.as_bytes())?;
    Ok(())
}

/// Runs (or reuses, or resumes) the extract job of a run's phase; returns its
/// features file.
pub fn extract(exp: &Experiment, run: usize, phase: Phase) -> anyhow::Result<PathBuf> {
    exp.check_run(run)?;
    if exp.cfg.imports() {
        // Imported when the experiment was opened.
        return Ok(exp.features_path(run, phase));
    }
    let cfg = exp.cfg.extract_config(run, phase);
    let features = cfg.run_dir.join("features.parquet");
    let config_file = cfg.run_dir.join("config.yaml");
    if config_file.exists() {
        let old = std::fs::read_to_string(&config_file)?;
        if old != cfg.to_yaml() {
            bail!(
                "{} holds an extract run made with other settings (extractor, split path or device); \
                 remove that folder to train again, or choose another out_dir",
                cfg.run_dir.display()
            );
        }
        let info_path = cfg.run_dir.join("run.yaml");
        let info: crate::run_dir::RunInfo = std::fs::read_to_string(&info_path)
            .map_err(anyhow::Error::from)
            .and_then(|text| Ok(serde_saphyr::from_str(&text)?))
            .with_context(|| {
                format!(
                    "reading {}; remove {} to extract again",
                    info_path.display(),
                    cfg.run_dir.display()
                )
            })?;
        if info.split_sha256 != hash_file(&cfg.split)?.0 {
            bail!(
                "{} was made from another version of {}; remove the folder to extract again",
                cfg.run_dir.display(),
                cfg.split.display()
            );
        }
        if features.exists() {
            tracing::info!(
                "run {run}: reusing the {} extractor in {}",
                phase.name(),
                cfg.run_dir.display()
            );
            return Ok(features);
        }
    }
    tracing::info!("run {run}: training the {} feature extractor", phase.name());
    let opts = ExtractOptions {
        resume: config_file.exists(),
        progress: exp.progress,
        stop_after: None,
    };
    let report = extract::run(&cfg, &opts)?;
    tracing::info!(
        "run {run}: {} extractor trained in {:.0} s, test-seen accuracy {:.1} %",
        phase.name(),
        report.seconds,
        100.0 * report.test_seen_accuracy
    );
    Ok(features)
}

/// The rows of a run's features file by part, checked against what this
/// experiment's extractor makes: features as wide as the last backbone
/// width, one logit per seen class of the phase, labels of the dataset.
fn parts(
    exp: &Experiment,
    run: usize,
    phase: Phase,
) -> anyhow::Result<BTreeMap<String, Vec<FeatureRow>>> {
    let path = exp.features_path(run, phase);
    // Imported features take their width from the files (checked on import).
    let width = exp
        .cfg
        .extractor
        .as_ref()
        .map(|e| e.backbone.feature_dim() as usize);
    let seen = phase.classes(&exp.split(run)?).0.len();
    let training = phase.parts()[0];
    let classes = exp.dataset.num_classes();
    let problem = |row: &FeatureRow| {
        if width.is_some_and(|w| row.feature.len() != w) {
            Some(format!(
                "a {}-d feature, but the config's extractor.backbone.widths ends in {}",
                row.feature.len(),
                width.unwrap_or_default()
            ))
        } else if row.seen_logits.len() != seen
            // The training rows of imported features have no logits.
            && !(exp.cfg.imports() && row.part == training && row.seen_logits.is_empty())
        {
            Some(format!(
                "{} seen-class logits, but the {} phase of split {} has {seen} seen classes",
                row.seen_logits.len(),
                phase.name(),
                exp.split_path(run).display()
            ))
        } else if usize::from(row.label) >= classes {
            Some(format!(
                "label {}, but {} has {classes} classes",
                row.label,
                exp.dataset.name()
            ))
        } else {
            None
        }
    };
    let mut out: BTreeMap<String, Vec<FeatureRow>> = BTreeMap::new();
    for row in features::read(&path)? {
        if let Some(problem) = problem(&row) {
            bail!(
                "{}: sample {} has {problem}: the file is not this experiment's extractor output; \
                 remove {} to extract again",
                path.display(),
                row.sample,
                path.parent().unwrap_or(&path).display()
            );
        }
        out.entry(row.part.clone()).or_default().push(row);
    }
    Ok(out)
}

fn take(
    parts: &BTreeMap<String, Vec<FeatureRow>>,
    name: &str,
    path: &Path,
) -> anyhow::Result<Vec<FeatureRow>> {
    match parts.get(name) {
        Some(rows) if !rows.is_empty() => Ok(rows.clone()),
        _ => bail!("{} has no rows of part {name}", path.display()),
    }
}

/// The fit's data of a phase: the training part, the unseen classes and the
/// samples that score epochs.
fn fit_data(
    exp: &Experiment,
    text: &ClassFeatures,
    train: &[FeatureRow],
    unseen: &[ClassEntry],
    eval: &[FeatureRow],
) -> anyhow::Result<FitData> {
    let device = exp.sadvae_device;
    let feature_dim = train[0].feature.len();
    if text.rows.len() != exp.dataset.num_classes() {
        bail!(
            "the text features have {} rows, {} has {} classes",
            text.rows.len(),
            exp.dataset.name(),
            exp.dataset.num_classes()
        );
    }
    let position: BTreeMap<u16, i64> = unseen
        .iter()
        .enumerate()
        .map(|(i, c)| (c.index, i as i64))
        .collect();
    let eval_targets = eval
        .iter()
        .map(|r| {
            position.get(&r.label).copied().with_context(|| {
                format!(
                    "sample {} (class {}) is not of an unseen class",
                    r.sample, r.label
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let rows =
        |rows: &[FeatureRow]| -> Vec<Vec<f32>> { rows.iter().map(|r| r.feature.clone()).collect() };
    let eval_x = if eval.is_empty() {
        Tensor::zeros([0, feature_dim as i64], (Kind::Float, device))
    } else {
        fit::to_tensor(&rows(eval), device)
    };
    Ok(FitData {
        train_x: fit::to_tensor(&rows(train), device),
        train_rows: Tensor::from_slice(&train.iter().map(|r| r.label as i64).collect::<Vec<_>>())
            .to_device(device),
        text: fit::to_tensor(&text.rows, device),
        unseen_rows: unseen.iter().map(|c| c.index as i64).collect(),
        eval_x,
        eval_targets,
    })
}

/// The epoch chosen on validation data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Selection {
    /// ZSL accuracy on the validation-unseen samples after each epoch.
    pub validation_zsl: Vec<(usize, f64)>,
    /// Mean log-probability of the true class of the validation-unseen
    /// samples after each epoch (the tie-break).
    #[serde(default)]
    pub validation_log_prob: Vec<(usize, f64)>,
    pub chosen_epoch: usize,
    pub criterion: String,
}

/// The selection rule, as `selection.yaml` records it; a file with another
/// rule is chosen again from the checkpoints.
pub const CRITERION: &str = "highest ZSL accuracy of the validation-phase model on the \
validation-unseen (pseudo-unseen) samples; among epochs of equal accuracy, the highest mean \
log-probability of those samples' true classes; then the earliest epoch. The test partition \
is never used for selection";

/// The epoch `scores` (epoch, ZSL, mean log-probability) choose by
/// [`CRITERION`]; 0 when there are none.
pub fn choose_epoch(scores: &[(usize, f64, f64)]) -> usize {
    let mut best: Option<(usize, f64, f64)> = None;
    for &(epoch, zsl, log_prob) in scores {
        let better = match best {
            None => true,
            Some((_, z, l)) => zsl > z || (zsl == z && log_prob > l),
        };
        if better {
            best = Some((epoch, zsl, log_prob));
        }
    }
    best.map_or(0, |b| b.0)
}

fn fit_dir(exp: &Experiment, run: usize, variant: Variant, phase: Phase) -> FitDir {
    FitDir::new(
        &exp.variant_dir(run, variant)
            .join(format!("fit-{}", phase.name())),
    )
}

/// Fits the validation-phase SA-DVAE and chooses the epoch.
pub fn fit_validation(exp: &Experiment, run: usize, variant: Variant) -> anyhow::Result<Selection> {
    exp.check_run(run)?;
    let features_path = extract(exp, run, Phase::Validation)?;
    let split = exp.split(run)?;
    let (_, unseen) = Phase::Validation.classes(&split);
    let text = exp.text()?;
    let dir = fit_dir(exp, run, variant, Phase::Validation);
    let k = key(&[
        "fit-validation",
        &serde_saphyr::to_string(&exp.cfg.sadvae)?,
        &serde_saphyr::to_string(&exp.cfg.classifier)?,
        variant.name(),
        &exp.cfg.seed.to_string(),
        &hash_file(&features_path)?.0,
        &text.key,
    ]);
    stage_dir(&dir.root, &k)?;
    let selection_path = dir.root.join("selection.yaml");
    if let Ok(text) = std::fs::read_to_string(&selection_path) {
        let old: Selection = serde_saphyr::from_str(&text)
            .with_context(|| format!("reading {}", selection_path.display()))?;
        if old.criterion == CRITERION {
            return Ok(old);
        }
        tracing::info!(
            "run {run} {}: {} was chosen by an older rule; choosing again from the checkpoints",
            variant.name(),
            selection_path.display()
        );
    }
    let parts = parts(exp, run, Phase::Validation)?;
    let data = fit_data(
        exp,
        &text,
        &take(&parts, "validation_train", &features_path)?,
        &unseen,
        &take(&parts, "validation_unseen", &features_path)?,
    )?;
    tracing::info!(
        "run {run} {}: fitting the validation-phase SA-DVAE",
        variant.name()
    );
    let opts = exp.fit_options(variant, exp.cfg.sadvae.epochs);
    fit::fit(&dir, &data, &opts)?;
    // Scores of every epoch, from the checkpoints (a resumed fit scored only some).
    let mut scores = Vec::new();
    for epoch in 1..=exp.cfg.sadvae.epochs {
        let trainer = fit::load(&dir, epoch, &opts, &data)?;
        let score = fit::score(
            &trainer,
            &data,
            &opts,
            fit::classifier_seed(opts.seed, epoch),
        );
        scores.push((epoch, score.zsl, score.log_prob));
    }
    let chosen_epoch = choose_epoch(&scores);
    let validation_zsl = scores.iter().map(|&(e, z, _)| (e, z)).collect();
    let validation_log_prob = scores.iter().map(|&(e, _, l)| (e, l)).collect();
    let selection = Selection {
        validation_zsl,
        validation_log_prob,
        chosen_epoch,
        criterion: CRITERION.into(),
    };
    write_atomic(
        &selection_path,
        serde_saphyr::to_string(&selection)?.as_bytes(),
    )?;
    tracing::info!(
        "run {run} {}: epoch {chosen_epoch} chosen on validation data",
        variant.name()
    );
    Ok(selection)
}

/// Fits the gate on the validation phase's outputs.
pub fn gate(exp: &Experiment, run: usize, variant: Variant) -> anyhow::Result<Gate> {
    let selection = fit_validation(exp, run, variant)?;
    let path = exp.variant_dir(run, variant).join("gate.yaml");
    let features_path = exp.features_path(run, Phase::Validation);
    let k = key(&[
        "gate",
        &std::fs::read_to_string(
            fit_dir(exp, run, variant, Phase::Validation)
                .root
                .join("inputs.sha256"),
        )?,
        &serde_saphyr::to_string(&selection)?,
        &serde_saphyr::to_string(&exp.cfg.gate)?,
    ]);
    #[derive(Serialize, Deserialize)]
    struct Stored {
        inputs_sha256: String,
        gate: Gate,
    }
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(stored) = serde_saphyr::from_str::<Stored>(&text) {
            if stored.inputs_sha256 == k {
                return Ok(stored.gate);
            }
        }
    }
    let split = exp.split(run)?;
    let (_, unseen) = Phase::Validation.classes(&split);
    let text = exp.text()?;
    let parts = parts(exp, run, Phase::Validation)?;
    let val_unseen = take(&parts, "validation_unseen", &features_path)?;
    let val_seen = take(&parts, "validation_seen", &features_path)?;
    let data = fit_data(
        exp,
        &text,
        &take(&parts, "validation_train", &features_path)?,
        &unseen,
        &[],
    )?;
    let opts = exp.fit_options(variant, exp.cfg.sadvae.epochs);
    let dir = fit_dir(exp, run, variant, Phase::Validation);
    let trainer = fit::load(&dir, selection.chosen_epoch, &opts, &data)?;
    let rows: Vec<&FeatureRow> = val_unseen.iter().chain(&val_seen).collect();
    let x = fit::to_tensor(
        &rows.iter().map(|r| r.feature.clone()).collect::<Vec<_>>(),
        exp.sadvae_device,
    );
    let probs = fit::unseen_probabilities(
        &trainer,
        &data,
        &x,
        &opts,
        fit::classifier_seed(opts.seed, selection.chosen_epoch),
    );
    let probs = Vec::<Vec<f64>>::try_from(probs.to_kind(Kind::Double).to_device(Device::Cpu))?;
    let samples: Vec<GateSample> = rows
        .iter()
        .zip(&probs)
        .enumerate()
        .map(|(i, (r, p))| GateSample {
            seen_logits: &r.seen_logits,
            unseen_probs: p,
            unseen: i < val_unseen.len(),
        })
        .collect();
    let top_k = split.classes.unseen.len();
    let gate = Gate::fit(
        &samples,
        top_k,
        &exp.cfg.gate,
        exp.cfg.seed,
        exp.cfg.sadvae.compat,
    )
    .map_err(anyhow::Error::msg)?;
    tracing::info!(
        "run {run} {}: gate T = {}, threshold {:.2}, held-out accuracy {:.1} %",
        variant.name(),
        gate.temperature,
        gate.threshold,
        100.0 * gate.held_out_accuracy
    );
    let stored = Stored {
        inputs_sha256: k,
        gate: gate.clone(),
    };
    write_atomic(&path, serde_saphyr::to_string(&stored)?.as_bytes())?;
    Ok(gate)
}

/// GZSL on the gate's held-out validation samples (the search's score):
/// (Acc_s, Acc_u, H) with the validation phase's models.
pub fn validation_gzsl(
    exp: &Experiment,
    run: usize,
    variant: Variant,
) -> anyhow::Result<(f64, f64, f64)> {
    let gate = gate(exp, run, variant)?;
    let selection = fit_validation(exp, run, variant)?;
    let features_path = exp.features_path(run, Phase::Validation);
    let split = exp.split(run)?;
    let (seen, unseen) = Phase::Validation.classes(&split);
    let text = exp.text()?;
    let parts = parts(exp, run, Phase::Validation)?;
    let val_unseen = take(&parts, "validation_unseen", &features_path)?;
    let val_seen = take(&parts, "validation_seen", &features_path)?;
    let data = fit_data(
        exp,
        &text,
        &take(&parts, "validation_train", &features_path)?,
        &unseen,
        &[],
    )?;
    let opts = exp.fit_options(variant, exp.cfg.sadvae.epochs);
    let trainer = fit::load(
        &fit_dir(exp, run, variant, Phase::Validation),
        selection.chosen_epoch,
        &opts,
        &data,
    )?;
    let rows: Vec<&FeatureRow> = val_unseen.iter().chain(&val_seen).collect();
    let held: Vec<&FeatureRow> = gate.held_out.iter().map(|&i| rows[i]).collect();
    let x = fit::to_tensor(
        &held.iter().map(|r| r.feature.clone()).collect::<Vec<_>>(),
        exp.sadvae_device,
    );
    let probs = fit::unseen_probabilities(
        &trainer,
        &data,
        &x,
        &opts,
        fit::classifier_seed(opts.seed, selection.chosen_epoch),
    );
    let probs = Vec::<Vec<f64>>::try_from(probs.to_kind(Kind::Double).to_device(Device::Cpu))?;
    let unseen_ids: std::collections::BTreeSet<u16> = unseen.iter().map(|c| c.index).collect();
    let (mut ts, mut ps, mut tu, mut pu) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (r, p) in held.iter().zip(&probs) {
        let pred = if gate.is_unseen(&r.seen_logits, p) {
            unseen[argmax(p)].index
        } else {
            let logits: Vec<f64> = r.seen_logits.iter().map(|&v| v as f64).collect();
            seen[argmax(&logits)].index
        };
        if unseen_ids.contains(&r.label) {
            tu.push(r.label);
            pu.push(pred);
        } else {
            ts.push(r.label);
            ps.push(pred);
        }
    }
    let (acc_s, acc_u) = (accuracy(&ts, &ps), accuracy(&tu, &pu));
    Ok((acc_s, acc_u, harmonic(acc_s, acc_u)))
}

fn argmax(v: &[f64]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map_or(0, |(i, _)| i)
}

/// Fits the main-phase SA-DVAE for the chosen number of epochs.
pub fn fit_main(exp: &Experiment, run: usize, variant: Variant) -> anyhow::Result<FitDir> {
    let selection = fit_validation(exp, run, variant)?;
    let features_path = extract(exp, run, Phase::Main)?;
    let split = exp.split(run)?;
    let text = exp.text()?;
    let dir = fit_dir(exp, run, variant, Phase::Main);
    let k = key(&[
        "fit-main",
        &serde_saphyr::to_string(&exp.cfg.sadvae)?,
        &serde_saphyr::to_string(&exp.cfg.classifier)?,
        variant.name(),
        &exp.cfg.seed.to_string(),
        &hash_file(&features_path)?.0,
        &text.key,
        &selection.chosen_epoch.to_string(),
    ]);
    stage_dir(&dir.root, &k)?;
    if dir.checkpoint(selection.chosen_epoch).exists() {
        return Ok(dir);
    }
    let parts = parts(exp, run, Phase::Main)?;
    let data = fit_data(
        exp,
        &text,
        &take(&parts, "train_seen", &features_path)?,
        &split.classes.unseen,
        &[],
    )?;
    tracing::info!(
        "run {run} {}: fitting the main-phase SA-DVAE for {} epochs",
        variant.name(),
        selection.chosen_epoch
    );
    fit::fit(
        &dir,
        &data,
        &exp.fit_options(variant, selection.chosen_epoch),
    )?;
    Ok(dir)
}

/// The outcome of evaluating one run of one variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOutcome {
    pub run: usize,
    pub variant: Variant,
    pub split: PathBuf,
    pub selection: Selection,
    pub gate_temperature: f64,
    pub gate_threshold: f64,
    pub metrics: Metrics,
}

/// Evaluates the main-phase model with the gate on the test partition.
pub fn eval(exp: &Experiment, run: usize, variant: Variant) -> anyhow::Result<RunOutcome> {
    let gate = gate(exp, run, variant)?;
    let dir = fit_main(exp, run, variant)?;
    let selection = fit_validation(exp, run, variant)?;
    let features_path = exp.features_path(run, Phase::Main);
    let split = exp.split(run)?;
    let text = exp.text()?;
    let parts = parts(exp, run, Phase::Main)?;
    let test_unseen = take(&parts, "test_unseen", &features_path)?;
    let test_seen = take(&parts, "test_seen", &features_path)?;
    let unseen = &split.classes.unseen;
    let seen = &split.classes.seen;
    let data = fit_data(
        exp,
        &text,
        &take(&parts, "train_seen", &features_path)?,
        unseen,
        &[],
    )?;
    let opts = exp.fit_options(variant, selection.chosen_epoch);
    let trainer = fit::load(&dir, selection.chosen_epoch, &opts, &data)?;
    let rows: Vec<&FeatureRow> = test_unseen.iter().chain(&test_seen).collect();
    let x = fit::to_tensor(
        &rows.iter().map(|r| r.feature.clone()).collect::<Vec<_>>(),
        exp.sadvae_device,
    );
    let probs = fit::unseen_probabilities(
        &trainer,
        &data,
        &x,
        &opts,
        fit::classifier_seed(opts.seed, selection.chosen_epoch),
    );
    let probs = Vec::<Vec<f64>>::try_from(probs.to_kind(Kind::Double).to_device(Device::Cpu))?;
    let (mut zsl_truth, mut zsl_pred) = (Vec::new(), Vec::new());
    let (mut truth_s, mut pred_s, mut truth_u, mut pred_u) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut gate_s, mut gate_u) = (0usize, 0usize);
    for (i, (r, p)) in rows.iter().zip(&probs).enumerate() {
        let is_unseen_sample = i < test_unseen.len();
        let unseen_pred = unseen[argmax(p)].index;
        if is_unseen_sample {
            zsl_truth.push(r.label);
            zsl_pred.push(unseen_pred);
        }
        let routed_unseen = gate.is_unseen(&r.seen_logits, p);
        let logits: Vec<f64> = r.seen_logits.iter().map(|&v| v as f64).collect();
        let pred = if routed_unseen {
            unseen_pred
        } else {
            seen[argmax(&logits)].index
        };
        if is_unseen_sample {
            truth_u.push(r.label);
            pred_u.push(pred);
            gate_u += routed_unseen as usize;
        } else {
            truth_s.push(r.label);
            pred_s.push(pred);
            gate_s += !routed_unseen as usize;
        }
    }
    let (acc_s, acc_u) = (accuracy(&truth_s, &pred_s), accuracy(&truth_u, &pred_u));
    let unseen_ids: Vec<u16> = unseen.iter().map(|c| c.index).collect();
    let mut all_ids: Vec<u16> = seen.iter().chain(unseen).map(|c| c.index).collect();
    all_ids.sort_unstable();
    let all_truth: Vec<u16> = truth_s.iter().chain(&truth_u).copied().collect();
    let all_pred: Vec<u16> = pred_s.iter().chain(&pred_u).copied().collect();
    let metrics = Metrics {
        zsl: accuracy(&zsl_truth, &zsl_pred),
        acc_s,
        acc_u,
        h: harmonic(acc_s, acc_u),
        gate_seen_recall: gate_s as f64 / truth_s.len() as f64,
        gate_unseen_recall: gate_u as f64 / truth_u.len() as f64,
        zsl_confusion: Confusion::new(&unseen_ids, &zsl_truth, &zsl_pred),
        gzsl_confusion: Confusion::new(&all_ids, &all_truth, &all_pred),
    };
    let outcome = RunOutcome {
        run,
        variant,
        split: exp.split_path(run),
        selection,
        gate_temperature: gate.temperature,
        gate_threshold: gate.threshold,
        metrics,
    };
    let vdir = exp.variant_dir(run, variant);
    write_atomic(
        &vdir.join("metrics.json"),
        serde_json::to_string_pretty(&outcome)?.as_bytes(),
    )?;
    if exp.cfg.report.tsne && run == 0 {
        save_latents(exp, &trainer, &test_unseen, &vdir)?;
    }
    tracing::info!(
        "run {run} {}: ZSL {:.1} %, GZSL Acc_s {:.1} %, Acc_u {:.1} %, H {:.1} %",
        variant.name(),
        100.0 * outcome.metrics.zsl,
        100.0 * acc_s,
        100.0 * acc_u,
        100.0 * outcome.metrics.h
    );
    Ok(outcome)
}

/// Saves the means of z_x^r and z_x^v of (up to `report.tsne_samples`)
/// unseen test samples for the t-SNE figure.
fn save_latents(
    exp: &Experiment,
    trainer: &crate::sadvae::Trainer,
    rows: &[FeatureRow],
    dir: &Path,
) -> anyhow::Result<()> {
    let step = rows
        .len()
        .div_ceil(exp.cfg.report.tsne_samples.max(1))
        .max(1);
    let picked: Vec<&FeatureRow> = rows.iter().step_by(step).collect();
    let x = fit::to_tensor(
        &picked.iter().map(|r| r.feature.clone()).collect::<Vec<_>>(),
        exp.sadvae_device,
    );
    let [mu_r, _, mu_v, _] = tch::no_grad(|| trainer.model.encode_skeleton(&x));
    let save = |t: &Tensor, name: &str| -> anyhow::Result<()> {
        let t = t.to_device(Device::Cpu).contiguous();
        let shape: Vec<usize> = t.size().iter().map(|&d| d as usize).collect();
        let data = Vec::<f32>::try_from(t.flatten(0, -1))?;
        skel_pipeline::npy::write_f32(&dir.join(name), &shape, &data)?;
        Ok(())
    };
    save(&mu_r, "z_r.npy")?;
    save(&mu_v, "z_v.npy")?;
    let labels: Vec<f32> = picked.iter().map(|r| r.label as f32).collect();
    skel_pipeline::npy::write_f32(&dir.join("z_labels.npy"), &[labels.len()], &labels)?;
    Ok(())
}

/// Every stage of every run and variant, then the report.
pub fn run_all(exp: &Experiment) -> anyhow::Result<super::Summary> {
    let mut outcomes = Vec::new();
    for run in 0..exp.runs() {
        extract(exp, run, Phase::Main)?;
        extract(exp, run, Phase::Validation)?;
        for &variant in &exp.cfg.variants {
            outcomes.push(eval(exp, run, variant)?);
        }
    }
    super::write_report(exp, &outcomes)
}

/// Exports run `run`'s features (extracting first if needed) in the official
/// SA-DVAE code's `resources/` layout under `out`, named `name` (default
/// `{dataset}_run{run}`); returns the main and validation feature folders.
pub fn export_sa_dvae(
    exp: &Experiment,
    run: usize,
    name: Option<&str>,
    out: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let main = extract(exp, run, Phase::Main)?;
    let validation = extract(exp, run, Phase::Validation)?;
    let split = exp.split(run)?;
    let text = exp.text()?;
    let mode = &exp.cfg.text.mode;
    let names = crate::export::OfficialNames {
        name: name.map_or_else(|| format!("{}_run{run}", exp.dataset.name()), str::to_owned),
        visual: match exp.cfg.extractor.as_ref().map(|e| e.backbone.arch) {
            Some(crate::model::Arch::Shiftgcn) => "shift",
            _ => "stgcn",
        },
        // The official code reads one file per text kind and joins them; a
        // joined mode's features are written only as one (`lb` of `lb_ad`, ...)
        // when it is a single kind.
        text: (!mode.contains('_')).then(|| {
            (
                exp.cfg.text.encoder.name().to_owned(),
                mode.clone(),
                text.rows.clone(),
            )
        }),
    };
    crate::export::sa_dvae(
        &split,
        &main,
        &validation,
        exp.dataset.num_classes(),
        &names,
        out,
    )?;
    Ok(crate::export::feature_dirs(
        out,
        &names,
        split.classes.unseen.len(),
    ))
}

#[cfg(test)]
mod tests {
    use super::choose_epoch;

    #[test]
    fn ties_in_accuracy_go_to_the_higher_log_probability() {
        // The demo's run 1 tied epochs 4 to 10 at one accuracy: the earliest
        // epoch then flipped with one sample. The log-probability decides.
        let scores = [
            (1, 0.30, -1.9),
            (2, 0.40, -1.5),
            (3, 0.40, -1.2),
            (4, 0.40, -1.4),
            (5, 0.35, -1.0),
        ];
        assert_eq!(choose_epoch(&scores), 3);
    }

    #[test]
    fn accuracy_comes_first_and_full_ties_go_to_the_earliest_epoch() {
        assert_eq!(choose_epoch(&[(1, 0.2, -0.1), (2, 0.3, -5.0)]), 2);
        assert_eq!(choose_epoch(&[(1, 0.3, -1.0), (2, 0.3, -1.0)]), 1);
        assert_eq!(choose_epoch(&[]), 0);
    }
}

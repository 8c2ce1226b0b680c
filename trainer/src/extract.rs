//! `extract`: trains the skeleton feature extractor on the seen classes of a
//! split's training part, checkpointing every epoch (`--resume` continues from
//! the last one), then writes every sample's feature f_x and seen-class logits.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skel_pipeline::shard::hash_file;
use skel_schemas::MANIFEST_FILE;
use tch::{nn, Device, Kind, Tensor};

use crate::config::{DeviceChoice, ExtractConfig, Schedule};
use crate::data::{batches, Augment, Sample, SampleStore, RENDER_THREADS};
use crate::features::{self, FeatureRow};
use crate::model::{self, Backbone};
use crate::optim::Optim;
use crate::precision::autocast;
use crate::run_dir::{open_epoch_log, write_atomic, RunDir, RunInfo};

/// How to run the job.
#[derive(Debug, Clone, Default)]
pub struct ExtractOptions {
    /// Continue from the last checkpoint of the run directory.
    pub resume: bool,
    /// Show progress bars.
    pub progress: bool,
    /// Stop after this many finished epochs, as if interrupted (tests).
    pub stop_after: Option<usize>,
}

/// What a job did.
#[derive(Debug, Clone)]
pub struct ExtractReport {
    pub resumed_from: Option<usize>,
    pub epochs_done: usize,
    /// Per finished epoch of this process: (epoch, train loss, train acc, test-seen acc).
    pub log: Vec<(usize, f64, f64, f64)>,
    pub test_seen_accuracy: f64,
    pub feature_rows: usize,
    pub seconds: f64,
}

fn learning_rate(cfg: &ExtractConfig, epoch: usize) -> f64 {
    let base = cfg.train.lr;
    match &cfg.train.schedule {
        Schedule::Constant => base,
        Schedule::Step { epochs } => {
            base * 0.1f64.powi(epochs.iter().filter(|&&e| e <= epoch).count() as i32)
        }
        Schedule::Cosine => {
            base * 0.5
                * (1.0 + (std::f64::consts::PI * epoch as f64 / cfg.train.epochs as f64).cos())
        }
    }
}

fn bar(show: bool, len: u64, prefix: String) -> ProgressBar {
    let target = if show {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let pb = ProgressBar::with_draw_target(Some(len), target);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} samples ({per_sec}) {msg}",
        )
        .expect("valid template"),
    );
    pb.set_prefix(prefix);
    pb
}

/// Accuracy of `model` on samples with targets, in eval mode.
fn accuracy(
    model: &dyn Backbone,
    samples: &[std::sync::Arc<Sample>],
    targets: &[i64],
    cfg: &ExtractConfig,
    device: Device,
) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    let mut correct = 0i64;
    for batch in batches(
        samples.to_vec(),
        targets.to_vec(),
        cfg.data.batch_size,
        cfg.data.frames,
        None,
        Augment::NONE,
        RENDER_THREADS,
        device,
    ) {
        let (_, logits) = tch::no_grad(|| {
            autocast(cfg.train.precision, device, || {
                model.forward_t(&batch.input(device), false)
            })
        });
        correct += logits
            .argmax(-1, false)
            .eq_tensor(&batch.targets(device))
            .sum(Kind::Int64)
            .int64_value(&[]);
    }
    correct as f64 / samples.len() as f64
}

/// Runs an extract job.
pub fn run(cfg: &ExtractConfig, opts: &ExtractOptions) -> anyhow::Result<ExtractReport> {
    let started = Instant::now();
    let device = cfg.device.device().map_err(anyhow::Error::msg)?;
    let store = SampleStore::load(&cfg.dataset, &cfg.split)?;
    let split = &store.split;
    let (seen_classes, _) = cfg.phase.classes(split);
    if seen_classes.is_empty() {
        anyhow::bail!(
            "split {}: the {} phase has no seen classes to train on",
            cfg.split.display(),
            cfg.phase.name()
        );
    }
    let seen: Vec<u16> = seen_classes.iter().map(|c| c.index).collect();
    let [train_part, test_part, _] = cfg.phase.parts();
    let target_of: BTreeMap<u16, i64> = seen
        .iter()
        .enumerate()
        .map(|(i, &c)| (c, i as i64))
        .collect();

    let run = RunDir::create(&cfg.run_dir)
        .with_context(|| format!("creating run directory {}", cfg.run_dir.display()))?;
    // One writer per run directory.
    let _lock =
        skel_pipeline::lock::WriterLock::acquire(&cfg.run_dir, skel_pipeline::lock::LOCK_FILE)?;
    let config_text = cfg.to_yaml();
    let latest = run.latest();
    if run.config().exists() {
        let old = std::fs::read_to_string(run.config())?;
        if !opts.resume {
            anyhow::bail!(
                "{} already holds a run: pass --resume to continue it, or choose another run_dir",
                cfg.run_dir.display()
            );
        }
        if old != config_text && !same_as_before_adaptive(&old, cfg) {
            anyhow::bail!(
                "--resume: the config differs from the one {} was started with ({}); resume with the same config",
                cfg.run_dir.display(),
                run.config().display()
            );
        }
    }
    let info = RunInfo {
        tool: "skel-trainer".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        dataset: cfg.dataset.clone(),
        manifest_sha256: hash_file(&cfg.dataset.join(MANIFEST_FILE))?.0,
        split: cfg.split.clone(),
        split_sha256: hash_file(&cfg.split)?.0,
        split_name: split.name.clone(),
        split_run: split.run,
        device: match device {
            Device::Cuda(i) => format!("cuda:{i}"),
            _ => "cpu".to_owned(),
        },
        numerics: Some(crate::numerics::Numerics::now()),
    };
    if opts.resume && latest.is_some() {
        check_same_inputs(&run, &info)?;
    }
    // run.yaml before config.yaml: a run directory with a config always has both.
    write_atomic(&run.info(), serde_saphyr::to_string(&info)?.as_bytes())?;
    write_atomic(&run.config(), config_text.as_bytes())?;

    let (vs, model) = build_model(cfg, seen.len() as i64, device)?;
    if let Some(path) = &cfg.init_weights {
        model::weights::load_state_dict(&vs, path)
            .with_context(|| format!("init_weights of {}", cfg.run_dir.display()))?;
    }
    if device != Device::Cpu {
        tch::Cuda::cudnn_set_benchmark(cfg.train.cudnn_benchmark);
    }
    let mut optim = Optim::new(
        cfg.train.optimizer,
        cfg.train.weight_decay,
        vs.trainable_variables(),
    );

    let mut start_epoch = 0;
    let resumed_from = if opts.resume { latest } else { None };
    if let Some(epoch) = resumed_from {
        load_checkpoint(&vs, &run.checkpoint(epoch))?;
        let path = run.optimiser(epoch);
        let state = Tensor::load_multi_with_device(&path, device)
            .with_context(|| format!("reading optimiser state {}", path.display()))?;
        optim.load_state(&state).map_err(|e| {
            anyhow::anyhow!(
                "optimiser state {}: {e}; {}",
                path.display(),
                CHECKPOINT_FIX
            )
        })?;
        start_epoch = epoch;
        tracing::info!("resuming after epoch {epoch}");
    }
    let mut log_file = open_epoch_log(
        &run.log(),
        "epoch,lr,train_loss,train_accuracy,test_seen_accuracy,samples_per_second",
        start_epoch,
    )
    .with_context(|| format!("opening {}", run.log().display()))?;

    let part = |name: &str| {
        let names = split
            .parts
            .named()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, names)| names.clone())
            .unwrap_or_default();
        store.part(&names)
    };
    let train = part(train_part);
    if train.is_empty() {
        anyhow::bail!(
            "split {}: part {train_part} is empty, nothing to train on",
            cfg.split.display()
        );
    }
    let train_targets: Vec<i64> = train.iter().map(|s| target_of[&s.class]).collect();
    let test = part(test_part);
    let test_targets: Vec<i64> = test.iter().map(|s| target_of[&s.class]).collect();
    let augment = Augment {
        min_crop: cfg.data.min_crop,
        rotation_degrees: cfg.data.rotation_degrees,
    };
    let mut log = Vec::new();
    let mut epochs_done = start_epoch;
    for epoch in start_epoch..cfg.train.epochs {
        // Dropout and every other random op of the epoch depend on (seed, epoch) only.
        tch::manual_seed(
            (cfg.seed as i64)
                .wrapping_mul(1_000_003)
                .wrapping_add(epoch as i64 + 1),
        );
        let lr = learning_rate(cfg, epoch);
        let pb = bar(
            opts.progress,
            train.len() as u64,
            format!("epoch {}/{}", epoch + 1, cfg.train.epochs),
        );
        let epoch_start = Instant::now();
        // Sums kept on the device, read at the end of the epoch (and every
        // few batches for the progress bar), so that a GPU is not stopped to
        // report every step. The loss sum is f64, as it was summed on the host.
        let mut loss_sum = Tensor::zeros([], (Kind::Double, device));
        let mut correct = Tensor::zeros([], (Kind::Int64, device));
        let mut seen_n = 0usize;
        for (step, batch) in batches(
            train.clone(),
            train_targets.clone(),
            cfg.data.batch_size,
            cfg.data.frames,
            Some((cfg.seed, epoch)),
            augment,
            RENDER_THREADS,
            device,
        )
        .into_iter()
        .enumerate()
        {
            let targets = batch.targets(device);
            let (logits, loss) = autocast(cfg.train.precision, device, || {
                let (_, logits) = model.forward_t(&batch.input(device), true);
                let loss = logits.cross_entropy_for_logits(&targets);
                (logits, loss)
            });
            optim.zero_grad();
            loss.backward();
            model.apply_gradient_rules();
            optim.step(lr);
            tch::no_grad(|| {
                let _ = loss_sum.g_add_(&(loss.to_kind(Kind::Double) * batch.size as f64));
                let _ = correct.g_add_(
                    &logits
                        .argmax(-1, false)
                        .eq_tensor(&targets)
                        .sum(Kind::Int64),
                );
            });
            seen_n += batch.size;
            pb.inc(batch.size as u64);
            if step % PROGRESS_EVERY == 0 && opts.progress {
                pb.set_message(format!(
                    "loss {:.3}",
                    loss_sum.double_value(&[]) / seen_n as f64
                ));
            }
        }
        let (loss_sum, correct) = (loss_sum.double_value(&[]), correct.int64_value(&[]));
        if !loss_sum.is_finite() {
            anyhow::bail!(
                "epoch {}: the loss became {loss_sum}; the last good checkpoint is kept in {} (lower train.lr?)",
                epoch + 1,
                run.root.join("checkpoints").display()
            );
        }
        pb.finish_and_clear();
        let rate = seen_n as f64 / epoch_start.elapsed().as_secs_f64().max(1e-9);
        let test_acc = accuracy(model.as_ref(), &test, &test_targets, cfg, device);
        let (loss, acc) = (
            loss_sum / seen_n.max(1) as f64,
            correct as f64 / seen_n.max(1) as f64,
        );
        tracing::info!("epoch {}: loss {loss:.4}, train acc {acc:.3}, test-seen acc {test_acc:.3}, {rate:.0} samples/s", epoch + 1);
        log.push((epoch + 1, loss, acc, test_acc));
        // Weights first, then the optimiser state that marks the checkpoint complete.
        let (ckpt, optim_path) = (run.checkpoint(epoch + 1), run.optimiser(epoch + 1));
        let tmp = ckpt.with_extension("ot.tmp");
        vs.save(&tmp)?;
        std::fs::rename(&tmp, &ckpt)?;
        let tmp = optim_path.with_extension("ot.tmp");
        Tensor::save_multi(&optim.state(), &tmp)?;
        std::fs::rename(&tmp, &optim_path)?;
        // The log line follows the checkpoint (one write, so never torn by a
        // kill), and a resumed run keeps only the lines of its checkpoints.
        log_file.write_all(
            format!(
                "{},{lr},{loss:.6},{acc:.4},{test_acc:.4},{rate:.1}\n",
                epoch + 1
            )
            .as_bytes(),
        )?;
        epochs_done = epoch + 1;
        if opts.stop_after == Some(epochs_done) {
            return Ok(ExtractReport {
                resumed_from,
                epochs_done,
                log,
                test_seen_accuracy: test_acc,
                feature_rows: 0,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
    }

    let test_seen_accuracy = accuracy(model.as_ref(), &test, &test_targets, cfg, device);
    let rows = extract_features(model.as_ref(), &store, cfg, device, opts.progress)?;
    features::write(&run.features(), &rows)?;
    Ok(ExtractReport {
        resumed_from,
        epochs_done,
        log,
        test_seen_accuracy,
        feature_rows: rows.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Batches between two progress-bar loss readings (each waits for the device).
const PROGRESS_EVERY: usize = 8;

/// Builds the extractor of `cfg` on `device` with the weights that seed
/// `cfg.seed` gives on the CPU: a CUDA run starts from the same weights as a
/// CPU run (libtorch's CUDA generator draws other numbers).
fn build_model(
    cfg: &ExtractConfig,
    classes: i64,
    device: Device,
) -> anyhow::Result<(nn::VarStore, Box<dyn Backbone>)> {
    tch::manual_seed(cfg.seed as i64);
    let mut vs = nn::VarStore::new(device);
    let model = model::build(&vs.root(), &cfg.backbone, 3, classes);
    if device != Device::Cpu {
        tch::manual_seed(cfg.seed as i64);
        let cpu = nn::VarStore::new(Device::Cpu);
        let _ = model::build(&cpu.root(), &cfg.backbone, 3, classes);
        vs.copy(&cpu)?;
    }
    Ok((vs, model))
}

const CHECKPOINT_FIX: &str = "it was written for another model (backbone.arch, backbone.widths, \
     backbone.temporal_shift (Shift-GCN checkpoints made before `adaptive` need `temporal_shift: fixed`), \
     or the number of seen classes): resume with the config it was trained with, or start a new run_dir";

/// Loads a checkpoint into `vs`, naming the first tensor that is missing or
/// has another shape.
fn load_checkpoint(vs: &nn::VarStore, path: &Path) -> anyhow::Result<()> {
    let named: BTreeMap<String, Tensor> = Tensor::load_multi_with_device(path, vs.device())
        .with_context(|| format!("reading checkpoint {}", path.display()))?
        .into_iter()
        .collect();
    let mut variables: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut var) in variables {
        match named.get(&name) {
            None => anyhow::bail!(
                "checkpoint {} has no tensor `{name}` (the model needs shape {:?}): {CHECKPOINT_FIX}",
                path.display(),
                var.size()
            ),
            Some(t) if t.size() != var.size() => anyhow::bail!(
                "checkpoint {}: tensor `{name}` has shape {:?}, the model needs {:?}: {CHECKPOINT_FIX}",
                path.display(),
                t.size(),
                var.size()
            ),
            Some(t) => tch::no_grad(|| var.copy_(t)),
        }
    }
    Ok(())
}

/// Whether `old`, the config of a run directory, was written before
/// `backbone.temporal_shift` existed for the Shift-GCN run that `cfg`, with
/// `temporal_shift: fixed` (the only temporal unit then), resumes. Its
/// config.yaml is rewritten with the key when the run starts.
fn same_as_before_adaptive(old: &str, cfg: &ExtractConfig) -> bool {
    let Ok(mut earlier) = serde_saphyr::from_str::<ExtractConfig>(old) else {
        return false;
    };
    if old.contains("temporal_shift:") || earlier.backbone.arch != model::Arch::Shiftgcn {
        return false;
    }
    earlier.backbone.temporal_shift = model::TemporalShift::Fixed;
    earlier == *cfg
}

/// A resumed run must read the same split and dataset as its checkpoints.
fn check_same_inputs(run: &RunDir, now: &RunInfo) -> anyhow::Result<()> {
    let path = run.info();
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("--resume: cannot read {}", path.display()))?;
    let old: RunInfo = serde_saphyr::from_str(&text)
        .with_context(|| format!("--resume: {} is not a run.yaml", path.display()))?;
    for (what, file, before, after) in [
        ("split", &now.split, &old.split_sha256, &now.split_sha256),
        (
            "dataset manifest",
            &now.dataset.join(MANIFEST_FILE),
            &old.manifest_sha256,
            &now.manifest_sha256,
        ),
    ] {
        if before != after {
            anyhow::bail!(
                "--resume: the {what} {} changed since {} was started (SHA-256 {before} in {}, now {after}); \
                 the checkpoints were trained on the old one: start a new run_dir instead of resuming",
                file.display(),
                run.root.display(),
                path.display()
            );
        }
    }
    Ok(())
}

/// Features and seen logits of every sample of the phase's parts.
fn extract_features(
    model: &dyn Backbone,
    store: &SampleStore,
    cfg: &ExtractConfig,
    device: Device,
    progress: bool,
) -> anyhow::Result<Vec<FeatureRow>> {
    let parts = cfg.phase.parts();
    let mut names: Vec<String> = store
        .split
        .parts
        .named()
        .iter()
        .filter(|(part, _)| parts.contains(part))
        .flat_map(|(_, n)| n.iter().cloned())
        .collect();
    names.sort();
    names.dedup();
    let samples = store.part(&names);
    let pb = bar(progress, samples.len() as u64, "extracting".into());
    let mut out: BTreeMap<String, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
    let zeros = vec![0i64; samples.len()];
    for batch in batches(
        samples.clone(),
        zeros,
        cfg.data.batch_size,
        cfg.data.frames,
        None,
        Augment::NONE,
        RENDER_THREADS,
        device,
    ) {
        let (features, logits) = tch::no_grad(|| {
            autocast(cfg.train.precision, device, || {
                model.forward_t(&batch.input(device), false)
            })
        });
        let features =
            Vec::<Vec<f32>>::try_from(features.to_device(Device::Cpu).to_kind(Kind::Float))?;
        let logits = Vec::<Vec<f32>>::try_from(logits.to_device(Device::Cpu).to_kind(Kind::Float))?;
        for ((name, f), l) in batch.names.into_iter().zip(features).zip(logits) {
            out.insert(name, (f, l));
        }
        pb.inc(batch.size as u64);
    }
    pb.finish_and_clear();
    let class_of: BTreeMap<&str, u16> =
        samples.iter().map(|s| (s.name.as_str(), s.class)).collect();
    let mut rows = Vec::new();
    for (part, part_names) in store.split.parts.named() {
        if !parts.contains(&part) {
            continue;
        }
        for name in part_names {
            let (feature, seen_logits) = &out[name];
            rows.push(FeatureRow {
                sample: name.clone(),
                label: class_of[name.as_str()],
                part: part.to_owned(),
                feature: feature.clone(),
                seen_logits: seen_logits.clone(),
            });
        }
    }
    Ok(rows)
}

/// Reads a config file, applies a device override, and runs it (the CLI's entry point).
pub fn run_file(
    path: &Path,
    device: Option<DeviceChoice>,
    opts: &ExtractOptions,
) -> anyhow::Result<ExtractReport> {
    let mut cfg = ExtractConfig::read(path).map_err(anyhow::Error::msg)?;
    if let Some(device) = device {
        cfg.device = device;
    }
    run(&cfg, opts)
}

//! The `fit` stage: trains SA-DVAE on the skeleton features of a phase's
//! training part paired with their classes' text features, checkpointing every
//! epoch (a rerun resumes from the last one), and scores every epoch by ZSL
//! accuracy on the phase's evaluation samples when it has them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use skel_pipeline::rng::Rng;
use tch::{Device, Kind, Tensor};

use crate::classifier::{ClassifierConfig, UnseenClassifier};
use crate::run_dir::{open_epoch_log, write_atomic};
use crate::sadvae::{
    factors, Compat, DiscNoise, Noise, SadvaeConfig, ScheduleKind, Trainer, Variant,
};

/// What one fit trains on and is scored with.
pub struct FitData {
    /// N x S skeleton features of the training samples.
    pub train_x: Tensor,
    /// Row of `text` of each training sample (int64, N).
    pub train_rows: Tensor,
    /// C x D text features, one L2-normalised row per class of the dataset.
    pub text: Tensor,
    /// Rows of `text` of the unseen classes, in C_u's output order.
    pub unseen_rows: Vec<i64>,
    /// M x S features and the C_u output index of each, to score epochs
    /// (empty: no per-epoch scoring).
    pub eval_x: Tensor,
    pub eval_targets: Vec<i64>,
}

/// The options of a fit.
pub struct FitOptions<'a> {
    pub variant: Variant,
    pub cfg: &'a SadvaeConfig,
    pub classifier: &'a ClassifierConfig,
    /// Train this many epochs (at most `cfg.epochs`).
    pub epochs: usize,
    pub seed: u64,
    pub device: Device,
    pub progress: bool,
    /// Stop after this many finished epochs, as if interrupted (tests).
    pub stop_after: Option<usize>,
}

/// What a fit did.
#[derive(Debug, Clone)]
pub struct FitReport {
    pub epochs_done: usize,
    pub resumed_from: Option<usize>,
    /// ZSL accuracy on the evaluation samples after each epoch (1-based), when scored.
    pub epoch_zsl: Vec<(usize, f64)>,
    pub samples_per_second: f64,
}

/// A fit's folder: `checkpoints/epoch-NNNN.ot`, `fit_log.csv`.
pub struct FitDir {
    pub root: PathBuf,
}

impl FitDir {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
        }
    }

    pub fn checkpoint(&self, epoch: usize) -> PathBuf {
        self.root
            .join("checkpoints")
            .join(format!("epoch-{epoch:04}.ot"))
    }

    pub fn log(&self) -> PathBuf {
        self.root.join("fit_log.csv")
    }

    /// The last complete checkpoint at or before `max`.
    pub fn latest(&self, max: usize) -> Option<usize> {
        (1..=max).rev().find(|&e| self.checkpoint(e).exists())
    }
}

/// Runs libtorch on one thread while alive. SA-DVAE's layers are small: one
/// thread runs them fastest, and on a loaded machine threads that spin-wait
/// for each other run a hundred times slower (measured: 80 against 7,000
/// samples/s).
pub struct OneThread(i32);

impl OneThread {
    pub fn new() -> Self {
        let n = tch::get_num_threads();
        tch::set_num_threads(1);
        Self(n)
    }
}

impl Default for OneThread {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for OneThread {
    fn drop(&mut self) {
        tch::set_num_threads(self.0);
    }
}

fn seed_for(seed: u64, epoch: usize, salt: u64) -> i64 {
    (Rng::from_parts(&[seed, epoch as u64, salt]).next_u64() >> 1) as i64
}

/// Builds a trainer of the fit's variant with the weights of `seed`.
pub fn new_trainer(opts: &FitOptions, data: &FitData) -> Trainer {
    tch::manual_seed(seed_for(opts.seed, 0, 1));
    let dims = opts
        .cfg
        .dims(opts.variant, data.train_x.size()[1], data.text.size()[1]);
    Trainer::new(opts.variant, dims, opts.device)
}

/// Loads the checkpoint of `epoch` into a fresh trainer.
pub fn load(
    dir: &FitDir,
    epoch: usize,
    opts: &FitOptions,
    data: &FitData,
) -> anyhow::Result<Trainer> {
    let mut trainer = new_trainer(opts, data);
    let path = dir.checkpoint(epoch);
    let state = Tensor::load_multi_with_device(&path, opts.device)
        .with_context(|| format!("reading checkpoint {}", path.display()))?;
    trainer.load_state(state).map_err(|e| {
        anyhow::anyhow!(
            "checkpoint {}: {e}; it was fitted with other features, text features or sadvae \
                 settings: remove {} to fit again",
            path.display(),
            dir.root.display()
        )
    })?;
    Ok(trainer)
}

/// How well a model classifies the evaluation samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// ZSL accuracy.
    pub zsl: f64,
    /// Mean natural log of C_u's probability of each sample's true class
    /// (each probability floored at 1e-30): moves continuously where the
    /// accuracy moves in steps of one sample, so it orders epochs of equal
    /// accuracy.
    pub log_prob: f64,
}

/// The score of the trainer's model on the evaluation samples, with a C_u
/// trained for it (seeded by `seed`); NaN without evaluation samples.
pub fn score(trainer: &Trainer, data: &FitData, opts: &FitOptions, seed: i64) -> Score {
    if data.eval_targets.is_empty() {
        return Score {
            zsl: f64::NAN,
            log_prob: f64::NAN,
        };
    }
    let probs = unseen_probabilities(trainer, data, &data.eval_x, opts, seed);
    let pred = Vec::<i64>::try_from(probs.argmax(-1, false)).expect("int64 predictions");
    let targets = Tensor::from_slice(&data.eval_targets).to_device(probs.device());
    let true_probs = Vec::<f64>::try_from(
        probs
            .gather(1, &targets.unsqueeze(1), false)
            .squeeze_dim(1)
            .to_kind(Kind::Double),
    )
    .expect("f64 probabilities");
    let n = data.eval_targets.len() as f64;
    let correct = pred
        .iter()
        .zip(&data.eval_targets)
        .filter(|(p, t)| p == t)
        .count();
    Score {
        zsl: correct as f64 / n,
        log_prob: true_probs.iter().map(|p| p.max(1e-30).ln()).sum::<f64>() / n,
    }
}

/// C_u's softmax (N x U) for skeleton features `x`, with a C_u trained for the
/// trainer's model with seed `seed`.
pub fn unseen_probabilities(
    trainer: &Trainer,
    data: &FitData,
    x: &Tensor,
    opts: &FitOptions,
    seed: i64,
) -> Tensor {
    let _one = OneThread::new();
    tch::manual_seed(seed);
    let rows = Tensor::from_slice(&data.unseen_rows).to_device(opts.device);
    let unseen_text = data.text.index_select(0, &rows);
    let shared = opts.cfg.schedule() == ScheduleKind::Official;
    let clf = UnseenClassifier::train(
        &trainer.model,
        &unseen_text,
        opts.classifier,
        shared,
        opts.cfg.compat == Compat::Official,
        opts.device,
    );
    clf.probabilities(&trainer.model, x)
}

/// The seed of the C_u trained after `epoch`.
pub fn classifier_seed(seed: u64, epoch: usize) -> i64 {
    seed_for(seed, epoch, 2)
}

/// Trains (or resumes) a fit in `dir`.
pub fn fit(dir: &FitDir, data: &FitData, opts: &FitOptions) -> anyhow::Result<FitReport> {
    let _one = OneThread::new();
    std::fs::create_dir_all(dir.root.join("checkpoints"))
        .with_context(|| format!("creating {}", dir.root.display()))?;
    let n = data.train_x.size()[0];
    if n == 0 {
        anyhow::bail!("no training samples for the fit in {}", dir.root.display());
    }
    let epochs = opts.epochs.min(opts.cfg.epochs);
    let resumed_from = dir.latest(epochs);
    let mut trainer = match resumed_from {
        Some(e) => load(dir, e, opts, data)?,
        None => new_trainer(opts, data),
    };
    let start = resumed_from.unwrap_or(0);
    let mut log = open_epoch_log(
        &dir.log(),
        "epoch,loss,rec_x,rec_y,kl_r,kl_v,kl_y,cross_x,cross_y,tc,disc,eval_zsl,samples_per_second",
        start,
    )
    .with_context(|| format!("opening {}", dir.log().display()))?;
    let batch = opts.cfg.batch_size as i64;
    let steps = ((n + batch - 1) / batch) as usize;
    let shared = opts.cfg.schedule() == ScheduleKind::Official;
    let dims = trainer.model.dims;
    let mut epoch_zsl = Vec::new();
    let mut rate = 0.0;
    for epoch in start..epochs {
        tch::manual_seed(seed_for(opts.seed, epoch + 1, 3));
        let mut order: Vec<i64> = (0..n).collect();
        Rng::from_parts(&[opts.seed, epoch as u64, 4]).shuffle(&mut order);
        let order = Tensor::from_slice(&order).to_device(opts.device);
        let pb = bar(
            opts.progress,
            n as u64,
            format!("SA-DVAE epoch {}/{epochs}", epoch + 1),
        );
        let began = Instant::now();
        let mut sums = [0.0f64; 10];
        let mut disc_steps = 0usize;
        for step in 0..steps {
            let lo = step as i64 * batch;
            let len = batch.min(n - lo);
            let idx = order.narrow(0, lo, len);
            let fx = data.train_x.index_select(0, &idx);
            let fy = data
                .text
                .index_select(0, &data.train_rows.index_select(0, &idx));
            let f = factors(opts.cfg, opts.variant, epoch, step, steps);
            let noise = Noise::sample(len, dims, shared, opts.device);
            let disc_noise = (opts.variant.has_discriminator() && (step + 1) % opts.cfg.n_d == 0)
                .then(|| DiscNoise::sample(len, dims, shared, opts.device));
            let r = trainer.step(&fx, &fy, f, &noise, disc_noise.as_ref(), opts.cfg.lr);
            if !r.total.is_finite() {
                anyhow::bail!(
                    "epoch {} step {}: the SA-DVAE loss became {}; the last good checkpoint is kept in {} (lower sadvae.lr?)",
                    epoch + 1,
                    step + 1,
                    r.total,
                    dir.root.join("checkpoints").display()
                );
            }
            let w = len as f64;
            for (s, v) in sums.iter_mut().zip([
                r.total, r.rec_x, r.rec_y, r.kl_r, r.kl_v, r.kl_y, r.cross_x, r.cross_y, r.tc,
            ]) {
                *s += v * w;
            }
            if let Some(d) = r.disc {
                sums[9] += d;
                disc_steps += 1;
            }
            pb.inc(len as u64);
        }
        pb.finish_and_clear();
        rate = n as f64 / began.elapsed().as_secs_f64().max(1e-9);
        let zsl = score(&trainer, data, opts, classifier_seed(opts.seed, epoch + 1)).zsl;
        let mean = |i: usize| sums[i] / n as f64;
        let disc = if disc_steps > 0 {
            format!("{:.6}", sums[9] / disc_steps as f64)
        } else {
            String::new()
        };
        tracing::debug!(
            "SA-DVAE epoch {}: loss {:.4}, eval ZSL {zsl:.3}",
            epoch + 1,
            mean(0)
        );
        epoch_zsl.push((epoch + 1, zsl));
        let path = dir.checkpoint(epoch + 1);
        let tmp = path.with_extension("ot.tmp");
        Tensor::save_multi(&trainer.state(), &tmp)?;
        std::fs::rename(&tmp, &path)?;
        // The log line follows the checkpoint (one write, so never torn by a
        // kill), and a resumed run keeps only the lines of its checkpoints.
        let line = format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{disc},{},{rate:.0}\n",
            epoch + 1,
            mean(0),
            mean(1),
            mean(2),
            mean(3),
            mean(4),
            mean(5),
            mean(6),
            mean(7),
            mean(8),
            if zsl.is_nan() {
                String::new()
            } else {
                format!("{zsl:.4}")
            },
        );
        log.write_all(line.as_bytes())?;
        if opts.stop_after == Some(epoch + 1) {
            return Ok(FitReport {
                epochs_done: epoch + 1,
                resumed_from,
                epoch_zsl,
                samples_per_second: rate,
            });
        }
    }
    Ok(FitReport {
        epochs_done: epochs,
        resumed_from,
        epoch_zsl,
        samples_per_second: rate,
    })
}

/// Writes `rows` as CSV through a temporary file.
pub fn write_csv(path: &Path, header: &str, rows: &[String]) -> std::io::Result<()> {
    let mut text = String::from(header);
    text.push('\n');
    for r in rows {
        text.push_str(r);
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
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
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec})",
        )
        .expect("valid template"),
    );
    pb.set_prefix(prefix);
    pb
}

/// Gathers the rows of a C x D tensor as float32 on `device`.
pub fn to_tensor(rows: &[Vec<f32>], device: Device) -> Tensor {
    let width = rows.first().map_or(0, Vec::len) as i64;
    let flat: Vec<f32> = rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat)
        .reshape([rows.len() as i64, width])
        .to_kind(Kind::Float)
        .to_device(device)
}

//! `skel-trainer bench`: throughput on seeded data, for comparison with the
//! PyTorch references in `bench/` on the same batches.
//!
//! - [`loader`]: the batch loader alone (render, crop, resample, rotate, the
//!   input tensor; no model), on a converted dataset;
//! - [`stgcn`]: standard-width ST-GCN or Shift-GCN training steps (forward,
//!   cross-entropy, backward, SGD) on the batches of a folder, which
//!   `bench/stgcn_train_throughput.py` reads too;
//! - [`sadvae`]: the full SA-DVAE `fd_tc` step at the Table 5 NTU-60 sizes,
//!   against `bench/sadvae_train_throughput.py`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use skel_pipeline::npy;
use skel_pipeline::rng::Rng;
use tch::{nn, Device, Kind, Tensor};

use crate::config::{DeviceChoice, Optimizer};
use crate::data::{batches, to_device, Augment, SampleStore};
use crate::model::{build, Arch, BackboneConfig, TemporalShift};
use crate::optim::Optim;
use crate::precision::{autocast, Precision};
use crate::sadvae::{factors, DiscNoise, Noise, SadvaeConfig, ScheduleKind, Trainer, Variant};

/// Waits for the device's queued work (a no-op on the CPU).
pub fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// The loader benchmark's settings.
#[derive(Debug, Clone)]
pub struct LoaderBench {
    pub dataset: PathBuf,
    pub split: PathBuf,
    pub frames: usize,
    pub batch_size: usize,
    pub epochs: usize,
    pub workers: usize,
    pub device: DeviceChoice,
}

/// Renders the split's `train_seen` part into training batches (crop 0.5-1,
/// rotation +-10 degrees) for `epochs` epochs and builds each batch's input
/// tensor (pinned, when the device is CUDA), as `extract` does; returns
/// (samples, seconds).
pub fn loader(b: &LoaderBench) -> anyhow::Result<(usize, f64)> {
    let device = b.device.device().map_err(anyhow::Error::msg)?;
    let store = SampleStore::load(&b.dataset, &b.split)?;
    let train = store.part(&store.split.parts.train_seen);
    anyhow::ensure!(
        !train.is_empty(),
        "split {} has no train_seen samples",
        b.split.display()
    );
    let targets = vec![0i64; train.len()];
    let augment = Augment {
        min_crop: 0.5,
        rotation_degrees: 10.0,
    };
    let started = Instant::now();
    let mut n = 0;
    for epoch in 0..b.epochs {
        for batch in batches(
            train.clone(),
            targets.clone(),
            b.batch_size,
            b.frames,
            Some((0, epoch)),
            augment,
            b.workers,
            device,
        ) {
            n += batch.size;
            std::hint::black_box(&batch.values);
        }
    }
    Ok((n, started.elapsed().as_secs_f64()))
}

/// The backbone training benchmark's settings.
#[derive(Debug, Clone)]
pub struct StgcnBench {
    /// Holds inputs.npy (steps x N x C x T x V x M) and targets.npy (steps x
    /// N); written (seeded) when absent.
    pub folder: PathBuf,
    pub device: DeviceChoice,
    pub batch_size: usize,
    pub frames: usize,
    pub steps: usize,
    pub warmup: usize,
    pub classes: usize,
    pub precision: Precision,
    pub cudnn_benchmark: bool,
    /// `standard` (10 blocks, 64-256 channels) or a tiny 2-block model (tests).
    pub tiny: bool,
    /// ST-GCN (dropout 0.5, as published) or Shift-GCN (no dropout, as published).
    pub arch: Arch,
    /// Shift-GCN's temporal unit.
    pub temporal_shift: TemporalShift,
}

/// Writes the seeded batches of `b` into its folder unless they are there;
/// refuses a folder of batches of another shape.
pub fn stgcn_batches(b: &StgcnBench) -> anyhow::Result<()> {
    std::fs::create_dir_all(&b.folder)
        .with_context(|| format!("creating {}", b.folder.display()))?;
    let (inputs, targets) = (b.folder.join("inputs.npy"), b.folder.join("targets.npy"));
    let shape = [b.steps, b.batch_size, 3, b.frames, 25, 2];
    if inputs.exists() {
        let have = npy::read::<f32>(&inputs)?.shape;
        anyhow::ensure!(
            have == shape,
            "{} holds batches of shape {have:?}, not {shape:?} (--steps, --batch-size, --frames): \
             use another folder, or delete it",
            inputs.display()
        );
        return Ok(());
    }
    let mut rng = Rng::new(0);
    let values: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| rng.normal() as f32)
        .collect();
    npy::write_f32(&inputs, &shape, &values)?;
    let t: Vec<f32> = (0..b.steps * b.batch_size)
        .map(|i| (i % b.classes) as f32)
        .collect();
    npy::write_f32(&targets, &[b.steps, b.batch_size], &t)?;
    Ok(())
}

/// Trains on the folder's batches; returns (samples, seconds) of the steps
/// after the warm-up.
pub fn stgcn(b: &StgcnBench) -> anyhow::Result<(usize, f64)> {
    let device = b.device.device().map_err(anyhow::Error::msg)?;
    anyhow::ensure!(b.steps > b.warmup, "--steps must exceed --warmup");
    stgcn_batches(b)?;
    let inputs = npy::read::<f32>(&b.folder.join("inputs.npy"))?;
    let targets = npy::read::<f32>(&b.folder.join("targets.npy"))?;
    if device != Device::Cpu {
        tch::Cuda::cudnn_set_benchmark(b.cudnn_benchmark);
    }
    tch::manual_seed(0);
    let vs = nn::VarStore::new(device);
    let standard = BackboneConfig {
        dropout: if b.arch == Arch::Stgcn { 0.5 } else { 0.0 },
        temporal_shift: b.temporal_shift,
        ..BackboneConfig::standard(b.arch)
    };
    let backbone = if b.tiny {
        BackboneConfig {
            widths: vec![8, 16],
            strides: vec![1, 2],
            ..standard
        }
    } else {
        standard
    };
    let model = build(&vs.root(), &backbone, 3, b.classes as i64);
    let mut optim = Optim::new(
        Optimizer::Sgd { momentum: 0.9 },
        1e-4,
        vs.trainable_variables(),
    );
    let n = b.batch_size;
    let per_step = n * 3 * b.frames * 25 * 2;
    let mut started = Instant::now();
    for step in 0..b.steps {
        if step == b.warmup {
            synchronize(device);
            started = Instant::now();
        }
        let x = to_device(
            &Tensor::from_slice(&inputs.data[step * per_step..(step + 1) * per_step]).view([
                n as i64,
                3,
                b.frames as i64,
                25,
                2,
            ]),
            device,
        );
        let y: Vec<i64> = targets.data[step * n..(step + 1) * n]
            .iter()
            .map(|&v| v as i64)
            .collect();
        let y = to_device(&Tensor::from_slice(&y), device);
        let loss = autocast(b.precision, device, || {
            let (_, logits) = model.forward_t(&x, true);
            logits.cross_entropy_for_logits(&y)
        });
        optim.zero_grad();
        loss.backward();
        model.apply_gradient_rules();
        optim.step(0.01);
    }
    synchronize(device);
    Ok(((b.steps - b.warmup) * n, started.elapsed().as_secs_f64()))
}

/// The SA-DVAE benchmark's settings.
#[derive(Debug, Clone)]
pub struct SadvaeBench {
    /// Holds fx.npy, labels.npy and text.npy; written (seeded) when absent.
    pub folder: PathBuf,
    pub device: DeviceChoice,
    /// Steps in all (256 make a pass over the 8,192 samples); the first
    /// quarter, at most 20, warms up untimed.
    pub steps: usize,
}

const SADVAE_SAMPLES: usize = 8192;
const SADVAE_CLASSES: usize = 60;
const SADVAE_S: usize = 256;
const SADVAE_D: usize = 512;

fn write_sadvae_data(folder: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    if folder.join("fx.npy").exists() {
        return Ok(());
    }
    let mut rng = Rng::new(0);
    let fx: Vec<f32> = (0..SADVAE_SAMPLES * SADVAE_S)
        .map(|_| rng.f64() as f32)
        .collect();
    npy::write_f32(&folder.join("fx.npy"), &[SADVAE_SAMPLES, SADVAE_S], &fx)?;
    let labels: Vec<f32> = (0..SADVAE_SAMPLES)
        .map(|i| (i % SADVAE_CLASSES) as f32)
        .collect();
    npy::write_f32(&folder.join("labels.npy"), &[SADVAE_SAMPLES], &labels)?;
    let text: Vec<f32> = (0..SADVAE_CLASSES * SADVAE_D)
        .map(|_| rng.normal() as f32)
        .collect();
    npy::write_f32(&folder.join("text.npy"), &[SADVAE_CLASSES, SADVAE_D], &text)?;
    Ok(())
}

/// The full `fd_tc` step (a discriminator step every 7 steps, the VAE step,
/// both Adam) with the Table 5 NTU-60 sizes, batch 32: the fused step on the
/// CPU, autograd on CUDA; returns (samples, seconds) after the warm-up.
pub fn sadvae(b: &SadvaeBench) -> anyhow::Result<(usize, f64)> {
    let device = b.device.device().map_err(anyhow::Error::msg)?;
    write_sadvae_data(&b.folder)?;
    let load = |name: &str| -> anyhow::Result<Tensor> {
        let a = npy::read::<f32>(&b.folder.join(name))?;
        let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
        Ok(Tensor::from_slice(&a.data)
            .view(shape.as_slice())
            .to_device(device))
    };
    let fx = load("fx.npy")?;
    let labels = load("labels.npy")?.to_kind(Kind::Int64);
    let text = load("text.npy")?;
    let text = &text / text.norm_scalaropt_dim(2, [1], true);
    let cfg = SadvaeConfig {
        latent: 224,
        style_latent: 16,
        epochs: 1,
        batch_size: 32,
        lr: 3.6e-5,
        beta_x: 0.023,
        beta_y: 0.011,
        lambda_tc: 0.011,
        n_d: 7,
        schedule: Some(ScheduleKind::Paper),
        compat: Default::default(),
        device: b.device,
    };
    tch::manual_seed(0);
    let dims = cfg.dims(Variant::FdTc, SADVAE_S as i64, SADVAE_D as i64);
    let mut trainer = Trainer::new(Variant::FdTc, dims, device);
    let batch = cfg.batch_size as i64;
    let steps = SADVAE_SAMPLES / cfg.batch_size;
    let total = b.steps.max(2);
    let warmup = (total / 4).clamp(1, 20);
    let mut started = Instant::now();
    for global in 0..total {
        if global == warmup {
            synchronize(device);
            started = Instant::now();
        }
        let step = global % steps;
        let lo = step as i64 * batch;
        let x = fx.narrow(0, lo, batch);
        let y = text.index_select(0, &labels.narrow(0, lo, batch));
        // Epoch 1 of the schedule: every loss term is on.
        let f = factors(&cfg, Variant::FdTc, 1, step, steps);
        let noise = Noise::sample(batch, dims, false, device);
        let disc = (step + 1)
            .is_multiple_of(cfg.n_d)
            .then(|| DiscNoise::sample(batch, dims, false, device));
        trainer.step(&x, &y, f, &noise, disc.as_ref(), cfg.lr);
    }
    synchronize(device);
    Ok((
        (total - warmup) * cfg.batch_size,
        started.elapsed().as_secs_f64(),
    ))
}

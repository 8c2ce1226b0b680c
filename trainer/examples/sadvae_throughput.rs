//! SA-DVAE training throughput on CPU: the full `fd_tc` step (discriminator
//! step every n_d steps, VAE step, both Adam) with the Table 5 NTU-60 sizes
//! (256-d skeleton features, 512-d text, latent 224 + 16, batch 32, n_d 7),
//! on the features in FOLDER/fx.npy and class rows FOLDER/labels.npy, which it
//! writes (seeded) if absent. `bench/README.md` runs it against the PyTorch
//! reference `bench/sadvae_train_throughput.py` on the same data.
//!
//!     cargo run --release -p skel-trainer --example sadvae_throughput -- /tmp/sadvae-bench

use std::path::PathBuf;
use std::time::Instant;

use skel_pipeline::npy;
use skel_pipeline::rng::Rng;
use skel_trainer::sadvae::{
    factors, DiscNoise, Noise, SadvaeConfig, ScheduleKind, Trainer, Variant,
};
use tch::{Device, Kind, Tensor};

const SAMPLES: usize = 8192;
const CLASSES: usize = 60;
const S: usize = 256;
const D: usize = 512;

fn main() -> anyhow::Result<()> {
    skel_trainer::allocator::tune();
    // As `fit` runs it (see fit::OneThread); THREADS overrides.
    tch::set_num_threads(
        std::env::var("THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(1),
    );
    let folder = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/sadvae-bench".into()),
    );
    std::fs::create_dir_all(&folder)?;
    let (fx_path, labels_path, text_path) = (
        folder.join("fx.npy"),
        folder.join("labels.npy"),
        folder.join("text.npy"),
    );
    if !fx_path.exists() {
        let mut rng = Rng::new(0);
        let fx: Vec<f32> = (0..SAMPLES * S).map(|_| rng.f64() as f32).collect();
        npy::write_f32(&fx_path, &[SAMPLES, S], &fx)?;
        let labels: Vec<f32> = (0..SAMPLES).map(|i| (i % CLASSES) as f32).collect();
        npy::write_f32(&labels_path, &[SAMPLES], &labels)?;
        let text: Vec<f32> = (0..CLASSES * D).map(|_| rng.normal() as f32).collect();
        npy::write_f32(&text_path, &[CLASSES, D], &text)?;
    }
    let load = |p: &PathBuf| -> anyhow::Result<Tensor> {
        let a = npy::read::<f32>(p)?;
        let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
        Ok(Tensor::from_slice(&a.data).view(shape.as_slice()))
    };
    let fx = load(&fx_path)?;
    let labels = load(&labels_path)?.to_kind(Kind::Int64);
    let text = load(&text_path)?;
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
        schedule: ScheduleKind::Paper,
    };
    tch::manual_seed(0);
    let dims = cfg.dims(Variant::FdTc, S as i64, D as i64);
    let mut trainer = Trainer::new(Variant::FdTc, dims, Device::Cpu);
    let batch = cfg.batch_size as i64;
    let steps = SAMPLES / cfg.batch_size;
    // PASSES over the data (4 by default), for a stable figure.
    let passes: usize = std::env::var("PASSES")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(4);
    let total = steps * passes;
    let warmup = 20;
    let mut started = Instant::now();
    for global in 0..total {
        if global == warmup {
            started = Instant::now();
        }
        let step = global % steps;
        let lo = step as i64 * batch;
        let x = fx.narrow(0, lo, batch);
        let y = text.index_select(0, &labels.narrow(0, lo, batch));
        // Epoch 1 of the schedule: every loss term is on.
        let f = factors(&cfg, Variant::FdTc, 1, step, steps);
        let noise = Noise::sample(batch, dims, false, Device::Cpu);
        let disc = (step + 1)
            .is_multiple_of(cfg.n_d)
            .then(|| DiscNoise::sample(batch, dims, false, Device::Cpu));
        trainer.step(&x, &y, f, &noise, disc.as_ref(), cfg.lr);
    }
    let measured = (total - warmup) * cfg.batch_size;
    let rate = measured as f64 / started.elapsed().as_secs_f64();
    println!(
        "skel-trainer SA-DVAE fd_tc: {rate:.0} samples/s ({} steps of batch {}, {} threads)",
        total - warmup,
        cfg.batch_size,
        tch::get_num_threads()
    );
    Ok(())
}

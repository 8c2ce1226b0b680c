//! Training throughput of the standard-width ST-GCN on CPU: forward,
//! cross-entropy, backward and an SGD step per batch, on the batches in
//! FOLDER/inputs.npy (steps x N x C x T x V x M) and FOLDER/targets.npy,
//! writing them first (seeded) if absent. `bench/README.md` runs it against
//! the PyTorch eager reference on the same batches.
//!
//!     cargo run --release -p skel-trainer --example train_throughput -- /tmp/stgcn-bench

use std::path::PathBuf;
use std::time::Instant;

use skel_pipeline::npy;
use skel_pipeline::rng::Rng;
use skel_trainer::config::Optimizer;
use skel_trainer::model::{build, Arch, BackboneConfig};
use skel_trainer::optim::Optim;
use tch::{nn, Device, Tensor};

const STEPS: usize = 12;
const WARMUP: usize = 2;
const N: usize = 16;
const T: usize = 64;
const CLASSES: usize = 55;

fn main() -> anyhow::Result<()> {
    skel_trainer::allocator::tune();
    let folder = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/stgcn-bench".into()),
    );
    std::fs::create_dir_all(&folder)?;
    let (inputs_path, targets_path) = (folder.join("inputs.npy"), folder.join("targets.npy"));
    if !inputs_path.exists() {
        let mut rng = Rng::new(0);
        let values: Vec<f32> = (0..STEPS * N * 3 * T * 25 * 2)
            .map(|_| rng.normal() as f32)
            .collect();
        npy::write_f32(&inputs_path, &[STEPS, N, 3, T, 25, 2], &values)?;
        let targets: Vec<f32> = (0..STEPS * N).map(|i| (i % CLASSES) as f32).collect();
        npy::write_f32(&targets_path, &[STEPS, N], &targets)?;
    }
    let inputs = npy::read::<f32>(&inputs_path)?;
    let targets = npy::read::<f32>(&targets_path)?;
    tch::set_num_threads(2);
    tch::manual_seed(0);
    let vs = nn::VarStore::new(Device::Cpu);
    let model = build(
        &vs.root(),
        &BackboneConfig::standard(Arch::Stgcn),
        3,
        CLASSES as i64,
    );
    let mut optim = Optim::new(
        Optimizer::Sgd { momentum: 0.9 },
        1e-4,
        vs.trainable_variables(),
    );
    let per_step = N * 3 * T * 25 * 2;
    let mut started = Instant::now();
    for step in 0..STEPS {
        if step == WARMUP {
            started = Instant::now();
        }
        let x = Tensor::from_slice(&inputs.data[step * per_step..(step + 1) * per_step])
            .view([N as i64, 3, T as i64, 25, 2]);
        let y: Vec<i64> = targets.data[step * N..(step + 1) * N]
            .iter()
            .map(|&v| v as i64)
            .collect();
        let (_, logits) = model.forward_t(&x, true);
        let loss = logits.cross_entropy_for_logits(&Tensor::from_slice(&y));
        optim.zero_grad();
        loss.backward();
        optim.step(0.01);
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "skel-trainer (tch): {:.2} samples/s ({} steps of {N}, T={T}, 2 threads)",
        ((STEPS - WARMUP) * N) as f64 / seconds,
        STEPS - WARMUP
    );
    Ok(())
}

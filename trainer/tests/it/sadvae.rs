//! SA-DVAE and the gate against PyTorch and scikit-learn references
//! (fixtures from trainer/scripts/gen_sadvae_fixtures.py).

use std::path::{Path, PathBuf};

use skel_pipeline::npy;
use skel_trainer::gate::Logistic;
use skel_trainer::sadvae::{fused, Dims, DiscNoise, Factors, Noise, Trainer, Variant};
use tch::{Device, Tensor};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sadvae")
}

fn f32_tensor(path: &Path) -> Tensor {
    let a = npy::read::<f32>(path).unwrap();
    let shape: Vec<i64> = a.shape.iter().map(|&d| d as i64).collect();
    Tensor::from_slice(&a.data).view(shape.as_slice())
}

fn i64_tensor(path: &Path) -> Tensor {
    Tensor::from_slice(&npy::read::<i64>(path).unwrap().data)
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.size(), b.size());
    (a - b).abs().max().double_value(&[])
}

/// Loads `prefix<name>.npy` into every variable of `vs`.
fn load(vs: &tch::nn::VarStore, dir: &Path, prefix: &str) {
    for (name, mut var) in vs.variables() {
        let t = f32_tensor(&dir.join(format!("{prefix}{name}.npy")));
        tch::no_grad(|| var.copy_(&t));
    }
}

fn check(vs: &tch::nn::VarStore, dir: &Path, prefix: &str, tol: f64) {
    for (name, var) in vs.variables() {
        let want = f32_tensor(&dir.join(format!("{prefix}{name}.npy")));
        let d = max_diff(&var, &want);
        assert!(d < tol, "{prefix}{name}: max abs difference {d:e}");
    }
}

#[test]
fn one_training_step_equals_pytorch() {
    let _rng = crate::util::rng_lock();
    // The fused CPU step (the default) and the autograd step (as on CUDA).
    golden_step(true);
    golden_step(false);
}

fn golden_step(fused: bool) {
    let dir = fixtures().join("step");
    let dims = Dims {
        skeleton: 16,
        text: 12,
        latent: 6,
        style: 2,
    };
    let mut trainer = Trainer::new(Variant::FdTc, dims, Device::Cpu);
    trainer.fused = fused;
    load(&trainer.vs, &dir, "vae.");
    load(trainer.disc_vs.as_ref().unwrap(), &dir, "disc.");
    let t = |name: &str| f32_tensor(&dir.join(format!("{name}.npy")));
    let p = |name: &str| i64_tensor(&dir.join(format!("{name}.npy")));
    let noise = Noise {
        r: t("eps_r"),
        v: t("eps_v"),
        y: t("eps_y"),
    };
    let disc_noise = DiscNoise {
        r: t("d_eps_r"),
        v_skeleton: t("d_eps_v_skeleton"),
        y: t("d_eps_y"),
        v_text: t("d_eps_v_text"),
        perm_r: p("perm_r"),
        perm_v_skeleton: p("perm_v_skeleton"),
        perm_y: p("perm_y"),
        perm_v_text: p("perm_v_text"),
    };
    let factors = Factors {
        beta_x: 0.3,
        beta_y: 0.2,
        cross: 1.0,
        tc: 0.5,
    };
    let r = trainer.step(&t("fx"), &t("fy"), factors, &noise, Some(&disc_noise), 1e-3);

    let names = std::fs::read_to_string(dir.join("losses.txt")).unwrap();
    let want = npy::read::<f64>(&dir.join("losses.npy")).unwrap().data;
    for (name, want) in names.lines().zip(want) {
        let got = match name {
            "cross_x" => r.cross_x,
            "cross_y" => r.cross_y,
            "disc" => r.disc.unwrap(),
            "kl_r" => r.kl_r,
            "kl_v" => r.kl_v,
            "kl_y" => r.kl_y,
            "rec_x" => r.rec_x,
            "rec_y" => r.rec_y,
            "tc" => r.tc,
            "total" => r.total,
            other => panic!("unknown loss {other}"),
        };
        assert!(
            (got - want).abs() < 1e-5,
            "loss {name}: {got} vs PyTorch {want} (fused: {fused})"
        );
    }
    // The discriminator's Adam step, then the VAE's.
    check(trainer.disc_vs.as_ref().unwrap(), &dir, "after.disc.", 1e-5);
    check(&trainer.vs, &dir, "after.vae.", 1e-5);
}

#[test]
fn checkpoint_state_round_trips_and_names_a_mismatch() {
    let _rng = crate::util::rng_lock();
    let dims = Dims {
        skeleton: 16,
        text: 12,
        latent: 6,
        style: 2,
    };
    tch::manual_seed(1);
    let a = Trainer::new(Variant::FdTc, dims, Device::Cpu);
    tch::manual_seed(2);
    let mut b = Trainer::new(Variant::FdTc, dims, Device::Cpu);
    b.load_state(a.state()).unwrap();
    for ((na, ta), (nb, tb)) in a.state().iter().zip(b.state().iter()) {
        assert_eq!(na, nb);
        assert_eq!(max_diff(ta, tb), 0.0, "{na}");
    }
    let other = Dims { latent: 8, ..dims };
    let mut c = Trainer::new(Variant::FdTc, other, Device::Cpu);
    let err = c.load_state(a.state()).unwrap_err();
    assert!(
        err.contains("tensor dec_x.layer.weight has shape [16, 8]"),
        "{err}"
    );
    let mut d = Trainer::new(Variant::FdTc, dims, Device::Cpu);
    let naive = Trainer::new(Variant::Naive, Dims { style: 0, ..dims }, Device::Cpu);
    let err = d.load_state(naive.state()).unwrap_err();
    assert!(err.contains("disc") || err.contains("shape"), "{err}");
}

/// The official gate's model: two-class multinomial logistic regression, C = 1.
#[test]
fn gate_probabilities_equal_the_official_multinomial_model() {
    let _rng = crate::util::rng_lock();
    let dir = fixtures().join("gate");
    let x = npy::read::<f64>(&dir.join("x.npy")).unwrap();
    let y = npy::read::<i64>(&dir.join("y.npy")).unwrap().data;
    let want = npy::read::<f64>(&dir.join("p_unseen.npy")).unwrap().data;
    let rows: Vec<Vec<f64>> = x.data.chunks(x.shape[1]).map(<[f64]>::to_vec).collect();
    let unseen: Vec<bool> = y.iter().map(|&v| v == 1).collect();
    let model = Logistic::fit(&rows, &unseen, 1.0).unwrap();
    let worst = rows
        .iter()
        .zip(&want)
        .map(|(r, w)| (model.p_unseen(r) - w).abs())
        .fold(0.0f64, f64::max);
    assert!(worst < 1e-4, "max |p - sklearn p| = {worst:e}");
}

/// Max |a - b| relative to max(1, max |b|).
fn rel_diff(a: &Tensor, b: &Tensor) -> f64 {
    let scale = b.abs().max().double_value(&[]).max(1.0);
    max_diff(a, b) / scale
}

/// The hand-derived gradients of the fused step equal autograd's, for every
/// variant, both kinds of noise, and a schedule with every term on; so do
/// the weights after several whole steps.
#[test]
fn fused_step_equals_autograd() {
    let _rng = crate::util::rng_lock();
    let n = 9;
    for variant in [Variant::Naive, Variant::Fd, Variant::FdTc] {
        for shared in [false, true] {
            let dims = Dims {
                skeleton: 20,
                text: 12,
                latent: 6,
                style: if variant.has_style() { 3 } else { 0 },
            };
            let what = format!("{variant:?}, shared noise {shared}");
            tch::manual_seed(7);
            let trainer = Trainer::new(variant, dims, Device::Cpu);
            let fx = Tensor::rand([n, dims.skeleton], (tch::Kind::Float, Device::Cpu));
            let fy = Tensor::randn([n, dims.text], (tch::Kind::Float, Device::Cpu));
            let factors = Factors {
                beta_x: 0.7,
                beta_y: 0.4,
                cross: 1.3,
                tc: 0.9,
            };
            let noise = Noise::sample(n, dims, shared, Device::Cpu);
            let disc_noise = DiscNoise::sample(n, dims, shared, Device::Cpu);

            // The VAE's gradients.
            let params = fused::vae_params(&trainer.model);
            let losses = trainer
                .model
                .loss(&fx, &fy, factors, &noise, trainer.disc.as_ref());
            let want = Tensor::run_backward(&[&losses.total], &params, false, false);
            let enc = fused::encode(&trainer.model, &fx, &fy);
            assert!(
                fused::applies(&trainer.model, &fx, &fy),
                "{what}: the fused step must apply to f32 CPU inputs"
            );
            let (values, got) =
                fused::vae_grads(&trainer.model, trainer.disc.as_ref(), &enc, factors, &noise);
            assert_eq!(
                got.len(),
                want.len(),
                "{what}: one VAE gradient per parameter"
            );
            let want_values = [
                &losses.total,
                &losses.rec_x,
                &losses.rec_y,
                &losses.kl_r,
                &losses.kl_v,
                &losses.kl_y,
                &losses.cross_x,
                &losses.cross_y,
                &losses.tc,
            ];
            for (k, (g, w)) in values.iter().zip(want_values).enumerate() {
                let w = w.double_value(&[]);
                assert!(
                    (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "{what}: loss term {k}: fused {g}, autograd {w}"
                );
            }
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                let d = rel_diff(g, w);
                assert!(
                    d < 1e-5,
                    "{what}: VAE gradient {k}: relative difference {d:e}"
                );
            }

            // The discriminator's.
            if let Some(disc) = &trainer.disc {
                let params = fused::disc_params(disc);
                let loss = trainer.model.disc_loss(disc, &fx, &fy, &disc_noise);
                let want = Tensor::run_backward(&[&loss * factors.tc], &params, false, false);
                let (value, got) =
                    fused::disc_grads(&trainer.model, disc, &enc, &disc_noise, factors.tc);
                assert_eq!(
                    got.len(),
                    want.len(),
                    "{what}: one D gradient per parameter"
                );
                let w = loss.double_value(&[]);
                assert!((value - w).abs() < 1e-5, "{what}: D loss {value} vs {w}");
                for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                    let d = rel_diff(g, w);
                    assert!(
                        d < 1e-5,
                        "{what}: D gradient {k}: relative difference {d:e}"
                    );
                }
            }

            // Five whole steps (a discriminator step every second one) from
            // the same weights with the same noise.
            let mut runs = [true, false].map(|fused_step| {
                tch::manual_seed(7);
                let mut t = Trainer::new(variant, dims, Device::Cpu);
                t.fused = fused_step;
                t
            });
            for step in 0..5 {
                let noise = Noise::sample(n, dims, shared, Device::Cpu);
                let dn = (step % 2 == 1).then(|| DiscNoise::sample(n, dims, shared, Device::Cpu));
                let reports = runs
                    .each_mut()
                    .map(|t| t.step(&fx, &fy, factors, &noise, dn.as_ref(), 1e-2));
                assert!(
                    (reports[0].total - reports[1].total).abs()
                        < 1e-4 * reports[1].total.abs().max(1.0),
                    "{what}: step {step}: total {} vs {}",
                    reports[0].total,
                    reports[1].total
                );
                assert_eq!(reports[0].disc.is_some(), reports[1].disc.is_some());
            }
            let [a, b] = runs.map(|t| t.state());
            for ((name, x), (_, y)) in a.iter().zip(&b) {
                if x.kind() == tch::Kind::Float {
                    let d = rel_diff(x, y);
                    assert!(
                        d < 1e-4,
                        "{what}: {name} after 5 steps: relative difference {d:e}"
                    );
                }
            }
        }
    }
}

/// `schedule: official` equals the official code's expressions at every step
/// of a 3-epoch run, bit for bit (`trainer/scripts/gen_schedule_fixture.py`
/// evaluates them in Python for 21, 7 and 1,129 steps per epoch).
#[test]
fn official_schedule_equals_the_official_expressions_at_every_step() {
    use skel_trainer::sadvae::{factors, ScheduleKind, Variant};
    let cfg = skel_trainer::sadvae::SadvaeConfig {
        schedule: Some(ScheduleKind::Official),
        ..crate::util::sadvae_config()
    };
    let text = std::fs::read_to_string(fixtures().join("official_schedule.csv")).unwrap();
    let mut rows = 0;
    for line in text.lines().skip(1) {
        let v: Vec<&str> = line.split(',').collect();
        let (steps, epoch, step): (usize, usize, usize) = (
            v[0].parse().unwrap(),
            v[1].parse().unwrap(),
            v[2].parse().unwrap(),
        );
        let (kl_x, kl_y, cross): (f64, f64, f64) = (
            v[3].parse().unwrap(),
            v[4].parse().unwrap(),
            v[5].parse().unwrap(),
        );
        let f = factors(&cfg, Variant::FdTc, epoch, step, steps);
        assert_eq!(
            (f.beta_x, f.beta_y, f.tc, f.cross),
            (kl_x, kl_y, kl_y, cross),
            "{steps} steps per epoch, epoch {epoch}, step {step}"
        );
        rows += 1;
    }
    assert_eq!(rows, 3 * (21 + 7 + 1129));
}

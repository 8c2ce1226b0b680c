//! `search`: the paper's random hyperparameter search (Table A). Each trial
//! draws SA-DVAE settings, fits the validation phase and the gate of the
//! chosen runs, and is scored by GZSL H on the gate's held-out validation
//! samples: the test partition is never touched.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use skel_pipeline::rng::Rng;

use super::{validation_gzsl, Experiment};
use crate::run_dir::write_atomic;
use crate::sadvae::{SadvaeConfig, Variant};

/// One trial's settings and score.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Trial {
    pub trial: usize,
    pub sadvae: SadvaeConfig,
    /// Mean over the searched runs of validation (Acc_s, Acc_u, H).
    pub validation_acc_s: f64,
    pub validation_acc_u: f64,
    pub validation_h: f64,
}

/// Draws the settings of trial `trial` from the Table A space: beta_x,
/// beta_y, lambda_tc in (0, 1); log10 lr in (-6, -3); batch in {32, 64, 128,
/// 256}; n_d in 1..16; latent 128..256 step 16; style latent 8..32 step 4.
pub fn draw(base: &SadvaeConfig, seed: u64, trial: usize) -> SadvaeConfig {
    let mut rng = Rng::from_parts(&[seed, trial as u64, 0x5ea7c4]);
    SadvaeConfig {
        beta_x: rng.range(0.0, 1.0),
        beta_y: rng.range(0.0, 1.0),
        lambda_tc: rng.range(0.0, 1.0),
        lr: 10f64.powf(rng.range(-6.0, -3.0)),
        batch_size: [32, 64, 128, 256][rng.below(4) as usize],
        n_d: 1 + rng.below(16) as usize,
        latent: 128 + 16 * rng.below(9) as i64,
        style_latent: 8 + 4 * rng.below(7) as i64,
        ..base.clone()
    }
}

/// Runs `trials` trials on `runs` with `variant`; writes search.json and
/// search.md (best first) under out_dir/search/.
pub fn search(
    exp: &mut Experiment,
    runs: &[usize],
    variant: Variant,
    trials: usize,
    seed: u64,
) -> anyhow::Result<Vec<Trial>> {
    let root = exp.cfg.out_dir.join("search");
    let base = exp.cfg.sadvae.clone();
    let mut done = Vec::new();
    for trial in 0..trials {
        exp.cfg.sadvae = draw(&base, seed, trial);
        exp.stage_root = root.join(format!("trial-{trial:03}"));
        let mut scores = Vec::new();
        for &run in runs {
            scores.push(validation_gzsl(exp, run, variant)?);
        }
        let mean = |f: fn(&(f64, f64, f64)) -> f64| {
            scores.iter().map(f).sum::<f64>() / scores.len() as f64
        };
        let t = Trial {
            trial,
            sadvae: exp.cfg.sadvae.clone(),
            validation_acc_s: mean(|s| s.0),
            validation_acc_u: mean(|s| s.1),
            validation_h: mean(|s| s.2),
        };
        tracing::info!(
            "trial {trial}: validation H {:.1} %",
            100.0 * t.validation_h
        );
        done.push(t);
    }
    exp.cfg.sadvae = base;
    exp.stage_root = exp.cfg.out_dir.clone();
    done.sort_by(|a, b| b.validation_h.total_cmp(&a.validation_h));
    write_atomic(
        &root.join("search.json"),
        serde_json::to_string_pretty(&done)?.as_bytes(),
    )?;
    let mut md = String::from(
        "# Random search (validation GZSL H, %)\n\n| trial | H | Acc_s | Acc_u | lr | batch | beta_x | beta_y | lambda_tc | n_d | latent | style |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for t in &done {
        let s = &t.sadvae;
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.2} | {:.2} | {:.2e} | {} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
            t.trial,
            100.0 * t.validation_h,
            100.0 * t.validation_acc_s,
            100.0 * t.validation_acc_u,
            s.lr,
            s.batch_size,
            s.beta_x,
            s.beta_y,
            s.lambda_tc,
            s.n_d,
            s.latent,
            s.style_latent
        );
    }
    write_atomic(&root.join("search.md"), md.as_bytes())?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_stay_in_the_table_a_space_and_depend_on_the_seed_only() {
        let base = SadvaeConfig {
            latent: 8,
            style_latent: 4,
            epochs: 10,
            batch_size: 32,
            lr: 1e-4,
            beta_x: 0.1,
            beta_y: 0.1,
            lambda_tc: 0.1,
            n_d: 2,
            schedule: Default::default(),
            compat: Default::default(),
            device: Default::default(),
        };
        for t in 0..200 {
            let c = draw(&base, 1, t);
            assert!((0.0..1.0).contains(&c.beta_x) && (0.0..1.0).contains(&c.lambda_tc));
            assert!((1e-6..1e-3).contains(&c.lr));
            assert!([32, 64, 128, 256].contains(&c.batch_size));
            assert!((1..=16).contains(&c.n_d));
            assert!((128..=256).contains(&c.latent) && c.latent % 16 == 0);
            assert!((8..=32).contains(&c.style_latent) && c.style_latent % 4 == 0);
            assert_eq!(c.epochs, 10);
        }
        assert_eq!(draw(&base, 1, 3), draw(&base, 1, 3));
        assert_ne!(draw(&base, 1, 3), draw(&base, 2, 3));
    }
}
